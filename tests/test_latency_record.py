import json

import pytest

from assistant.core.clock import FakeClock
from assistant.core.latency import MARKS, Mark, TurnTrace, build_record, percentile, summarize


def test_stage_durations_are_exact_with_a_fake_clock() -> None:
    clock = FakeClock(start_ns=10_000_000_000)
    trace = TurnTrace(clock)
    steps = {
        "speech_end": 0,
        "endpoint": 300,
        "asr_final": 610.5,
        "route": 0.5,
        "llm_first_token": 79,
        "first_clause": 60,
        "tts_first_audio": 120,
        "first_sample": 2,
    }
    for name in MARKS:
        clock.advance_ms(steps[name])
        trace.mark(name)
    clock.advance_ms(1500)
    trace.mark(Mark.DONE)
    rec = build_record(
        trace,
        turn=1,
        origin="voice",
        transcript="hi",
        reply="hello",
        route="fast",
        reason="default",
        outcome="ok",
    )
    assert rec.ms == {
        "endpoint": 300.0,
        "asr": 610.5,
        "route": 0.5,
        "llm": 79.0,
        "clause": 60.0,
        "tts": 120.0,
        "playout": 2.0,
    }
    assert rec.first_audio_ms == 1172.0
    assert rec.first_audio_ms == sum(rec.ms.values())
    assert rec.total_ms == 2672.0


def test_marks_are_first_write_wins_and_audio_time_can_be_given() -> None:
    clock = FakeClock()
    trace = TurnTrace(clock)
    trace.mark(Mark.SPEECH_END, at_ns=5_000_000)  # audio time, earlier than now
    clock.advance_ms(100)
    trace.mark(Mark.ENDPOINT)
    clock.advance_ms(50)
    trace.mark(Mark.ENDPOINT)  # ignored
    assert trace.stage_ms() == {"endpoint": 95.0}


def test_skipped_stages_still_add_up() -> None:
    clock = FakeClock()
    trace = TurnTrace(clock)
    trace.mark(Mark.SPEECH_END)
    clock.advance_ms(1)
    trace.mark(Mark.ROUTE)
    clock.advance_ms(130)
    trace.mark(Mark.TTS_FIRST_AUDIO)
    clock.advance_ms(3)
    trace.mark(Mark.FIRST_SAMPLE)
    rec = build_record(
        trace,
        turn=2,
        origin="text",
        transcript="what time is it",
        reply="It is 4 PM.",
        route="intent",
        reason="time",
        outcome="ok",
    )
    assert rec.ms == {"route": 1.0, "tts": 130.0, "playout": 3.0}
    assert rec.first_audio_ms == 134.0
    line = json.loads(rec.to_json())
    assert line["route"] == "intent" and line["ms"]["tts"] == 130.0
    assert "error" not in line  # None fields are left out


def test_unknown_mark_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown latency mark"):
        TurnTrace(FakeClock()).mark("llm_fisrt_token")  # type: ignore[arg-type]


def test_percentiles_and_summary() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile(list(range(1, 21)), 95) == pytest.approx(19.05)
    recs = [{"ms": {"asr": float(v)}, "first_audio_ms": float(v) * 2} for v in range(1, 21)]
    s = summarize(recs)
    assert s["asr"] == {"p50": 10.5, "p95": 19.1, "n": 20}  # rounded to 0.1 ms
    assert s["first_audio"]["p50"] == 21.0


def _record(trace: TurnTrace) -> dict[str, object]:
    return build_record(
        trace, turn=1, origin="voice", transcript="", reply="", route="", reason="", outcome="ok"
    ).to_dict()


def test_commit_and_hold_are_derived_from_the_marks() -> None:
    clock = FakeClock()
    trace = TurnTrace(clock)
    trace.mark(Mark.SPEECH_END)
    clock.advance_ms(300)
    trace.mark(Mark.TTS_FIRST_AUDIO)  # the reply was ready...
    clock.advance_ms(200)
    trace.mark(Mark.COMMIT)  # ...and held until the end-pointer committed
    assert (_record(trace)["commit_ms"], _record(trace)["held_ms"]) == (500.0, 200.0)
    late = TurnTrace(clock)
    late.mark(Mark.SPEECH_END)
    clock.advance_ms(500)
    late.mark(Mark.COMMIT)
    clock.advance_ms(100)
    late.mark(Mark.TTS_FIRST_AUDIO)  # ready after the commit: nothing held
    assert (_record(late)["commit_ms"], _record(late)["held_ms"]) == (500.0, 0.0)
    typed = TurnTrace(clock)
    typed.mark(Mark.SPEECH_END)  # no end-pointer, no commit: neither field
    assert "commit_ms" not in _record(typed) and "held_ms" not in _record(typed)
