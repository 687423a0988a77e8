"""Turns with the real bundled models: Whisper tiny.en, SmolLM2-135M, Piper joe-medium."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import wave
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.app import Settings, open_assistant
from assistant.audio.devices import DeviceSpeaker
from assistant.audio.wav import WavSpeaker, read_wav
from assistant.commands.bench import run_bench, sample_files
from assistant.commands.compare import apply_variant
from assistant.core.clauses import runaway_number
from assistant.core.levels import audible_start
from tests.conftest import BenchRun, Pulse, espeak_wav, utterance_from_file

pytestmark = pytest.mark.models


def wav_seconds_and_peak(path: Path) -> tuple[float, int]:
    with wave.open(str(path), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getnframes() / w.getframerate(), int(np.abs(pcm).max(initial=0))


def spy_on_eval(llama: Any) -> list[int]:
    """Record how many tokens each of llama.cpp's evaluations gets."""
    evaluated: list[int] = []
    real_eval = llama.eval

    def spy(tokens: list[int]) -> None:
        evaluated.append(len(tokens))
        real_eval(tokens)

    llama.eval = spy
    return evaluated


def sample(name: str) -> Path:
    return next(p for p in sample_files() if p.stem == name)


async def test_capital_of_france_from_a_wav(settings: Settings, tmp_path: Path) -> None:
    async with open_assistant(settings) as a:
        utt = await utterance_from_file(read_wav(sample("capital_of_france")), a.clock)
        assert utt is not None
        out = tmp_path / "reply.wav"
        rec = await a.runner.run(utt, WavSpeaker(out, a.reply_rate_hz, a.clock))
    assert rec.outcome == "ok"
    assert rec.transcript.lower().rstrip("?.") == "what is the capital of france"
    assert rec.route == "large" and rec.reply  # a fact (issue 21)
    seconds, peak = wav_seconds_and_peak(out)
    assert seconds > 0.5 and peak > 3000
    assert_heard_from_the_first_sample(out)
    assert set(rec.ms) >= {"endpoint", "asr", "llm", "clause", "tts", "playout"}
    assert rec.first_audio_ms is not None and rec.first_audio_ms > rec.ms["asr"]


async def test_what_time_is_it_says_the_current_hour(settings: Settings, tmp_path: Path) -> None:
    async with open_assistant(settings) as a:
        utt = await utterance_from_file(read_wav(sample("what_time")), a.clock)
        assert utt is not None
        rec = await a.runner.run(utt, WavSpeaker(tmp_path / "t.wav", a.reply_rate_hz, a.clock))
        typed = await a.runner.run(
            "What day is it?", WavSpeaker(tmp_path / "d.wav", a.reply_rate_hz, a.clock)
        )
    now = datetime.now()
    hours = {str(h % 12 or 12) for h in (now.hour, (now.hour - 1) % 24)}  # a turn may span :00
    assert rec.route == "intent"
    assert any(f"{h}:" in rec.reply for h in hours) or rec.reply in (
        "It is noon.",
        "It is midnight.",
    )
    assert now.strftime("%A") in typed.reply and now.strftime("%B") in typed.reply
    assert wav_seconds_and_peak(tmp_path / "t.wav")[1] > 3000
    assert_heard_from_the_first_sample(tmp_path / "t.wav")


def assert_heard_from_the_first_sample(path: Path) -> None:
    """Piper starts a render with ~30 ms of silence; a reply must not make us wait for it:
    its first sample is the first of the sound."""
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    assert audible_start(x) == 0, audible_start(x)


async def test_a_real_reply_that_begins_to_repeat_itself_is_cut_there(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # SmolLM2-135M, greedy, with every turn sent to it (the fast-only configuration). Which
    # conversation makes it loop depends on the CPU (its SIMD kernels round differently), so
    # two that did, each in a fresh session: on an Intel reference machine, after "What time
    # is it?" it answered "Turn on the kitchen lights" with one sentence said twice; on an
    # AMD EPYC (Zen 2) it lists the days of the week as "Tuesday is Tuesday, ..." on and on.
    replies = []
    conversations = [
        ["What time is it?", "Turn on the kitchen lights"],
        ["List the days of the week."],
    ]
    with (
        caplog.at_level(logging.INFO, logger="assistant.turn"),
        caplog.at_level(logging.INFO, logger="assistant.pipeline"),
    ):
        for n, conversation in enumerate(conversations):
            async with open_assistant(apply_variant(settings, "fast-only")) as a:
                for i, text in enumerate(conversation):
                    speaker = WavSpeaker(tmp_path / f"{n}-{i}.wav", a.reply_rate_hz, a.clock)
                    replies.append((await a.runner.run(text, speaker)).reply)
    assert any("began to repeat" in r.message for r in caplog.records), replies
    for reply in replies:
        parts = [p.strip(" ,.!?").lower() for p in re.split(r"[,.!?;:]\s+", reply)]
        long_parts = [p for p in parts if len(p.split()) >= 3]
        assert len(long_parts) == len(set(long_parts)), reply


async def test_a_real_answer_whose_number_runs_away_is_not_said(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The default pipeline, the probe's two questions in this order: the large model
    # explains the sky, then SmolLM2-135M, greedy, put the moon "221,072,072,072,072 miles"
    # away on an Intel reference machine, in a first clause that took 0.7 s longer to write
    # and render than the others (on an AMD EPYC its kernels round otherwise: "2,172,500").
    # Asked to repeat that number, it writes it on any CPU, digit group by digit group.
    questions = [
        "Why is the sky blue?",
        "How far away is the moon?",
        "Repeat after me: the moon is 221,072,072,072,072 miles away.",
    ]
    replies = []
    with (
        caplog.at_level(logging.INFO, logger="assistant.turn"),
        caplog.at_level(logging.INFO, logger="assistant.pipeline"),
    ):
        async with open_assistant(settings) as a:
            for i, text in enumerate(questions):
                speaker = WavSpeaker(tmp_path / f"{i}.wav", a.reply_rate_hz, a.clock)
                replies.append((await a.runner.run(text, speaker)).reply)
            remembered = " ".join(e.assistant for e in a.runner.memory.history())
    assert any("a number ran away" in r.message for r in caplog.records), replies
    # Said beside the turn records, not among them (a daemon test read it as one).
    records = [r for r in caplog.records if r.name == "assistant.turn"]
    assert len(records) == 3 and all(json.loads(r.getMessage())["turn"] for r in records)
    assert replies[1] and replies[2] and not any(runaway_number(r) for r in replies), replies
    assert not runaway_number(remembered), remembered


async def test_system_prompt_is_cached_so_a_turn_prefills_only_new_words(
    settings: Settings,
) -> None:
    # The fast model alone: in the default pipeline questions of fact go to the large one.
    async with open_assistant(apply_variant(settings, "fast-only")) as a:
        llama = a.engines.llm.llm  # type: ignore[attr-defined]
        evaluated = spy_on_eval(llama)
        question = "Say hello to my neighbour."
        rec = await a.runner.run(question, WavSpeaker(Path("/dev/null"), a.reply_rate_hz, a.clock))
    assert rec.outcome == "ok"
    system_tokens = len(llama.tokenize(settings.config.assistant.system_prompt.encode(), False))
    user_tokens = len(llama.tokenize(question.encode(), False))
    # The first evaluation is the prompt after the cached prefix: the user's words and the
    # chat template's few tokens around them, not the system prompt again.
    assert system_tokens >= 12
    assert evaluated[0] <= user_tokens + 8, (evaluated[0], user_tokens, system_tokens)


QUESTIONS = [
    "What is the capital of Italy?",
    "Who wrote Hamlet?",
    "What colour is grass?",
    "How many legs does a cat have?",
    "What is the largest ocean?",
]


@pytest.mark.parametrize("prefill", [True, False])
async def test_after_the_memory_forgets_a_turn_still_prefills_only_new_words(
    settings: Settings, prefill: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not prefill:  # the control: without the background prefill the history is re-read
        monkeypatch.setattr(
            "assistant.pipeline.stages.prefill.Prefill.soon", lambda self, models: None
        )
    # The fast model alone: in the default pipeline questions of fact go to the large one.
    async with open_assistant(apply_variant(settings, "fast-only")) as a:
        nowhere = WavSpeaker(Path("/dev/null"), a.reply_rate_hz, a.clock)
        for q in QUESTIONS:  # one more than the memory keeps: it forgets a block
            assert (await a.runner.run(q, nowhere)).route == "fast"
        assert len(a.runner.memory.history()) < len(QUESTIONS)
        await a.runner.settled()
        llama = a.engines.llm.llm  # type: ignore[attr-defined]
        evaluated = spy_on_eval(llama)
        question = "Say hello to my neighbour."
        rec = await a.runner.run(question, nowhere)
    assert rec.outcome == "ok"
    user_tokens = len(llama.tokenize(question.encode(), False))
    if prefill:
        assert evaluated[0] <= user_tokens + 8, (evaluated[0], user_tokens)
    else:
        assert evaluated[0] > user_tokens + 20, (evaluated[0], user_tokens)


@pytest.mark.audio
async def test_cancelled_turn_stops_generating_and_playing_within_100_ms(
    settings: Settings, pulse_env: Pulse
) -> None:
    async with open_assistant(settings) as a:
        speaker = DeviceSpeaker(a.reply_rate_hz, a.clock)
        speaker.start()
        try:
            turn = asyncio.create_task(
                a.runner.run(
                    "Tell me a long story about a brave dragon and a small village.", speaker
                )
            )
            async with asyncio.timeout(30):
                while speaker.last_audible_ns == 0:
                    await asyncio.sleep(0.005)
            await asyncio.sleep(0.3)  # well into playback, the LLM and TTS still busy
            cancel_ns = a.clock.now_ns()
            turn.cancel()
            with pytest.raises(asyncio.CancelledError):
                await turn
            await asyncio.gather(a.engines.llm_worker.idle(), a.engines.tts_worker.idle())
            stopped_ms = (a.clock.now_ns() - cancel_ns) / 1e6
            await asyncio.sleep(0.2)
            played_after_ms = (speaker.last_audible_ns - cancel_ns) / 1e6
        finally:
            speaker.close()
    print(f"generation stopped {stopped_ms:.1f} ms and audio {played_after_ms:.1f} ms after cancel")
    assert stopped_ms < 100, f"generation went on for {stopped_ms:.0f} ms"
    assert played_after_ms < 100, f"audio went on for {played_after_ms:.0f} ms"


def test_bench_on_the_probe_utterances(
    probe_utterances: list[tuple[Path, str]], bench_run: BenchRun
) -> None:
    """The acceptance run: transcripts >= 95 % of words, a reply for each; the latency is
    printed by the bench (speed claims are in the notes, not asserted here)."""
    from assistant.core.records import read_records

    header, records = read_records(bench_run.records)
    assert len(records) == len(probe_utterances)
    # The run header says what was measured.
    assert header["label"] == "bench" and header["measured"] is True
    assert header["machine"]["cores"] >= 1 and header["peak_rss_mb"] > 100
    assert header["models"]["llm"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    errors = words = 0
    for rec, (path, text) in zip(records, probe_utterances, strict=True):
        assert rec["file"] == str(path)
        assert {"transcript", "reply", "route", "ms", "first_audio_ms"} <= set(rec)
        # The same end-pointing as `run`: the hold and the speculative turn's wait are there.
        assert rec["commit_ms"] >= 500 and "held_ms" in rec and rec["dropped_frames"] == 0
        assert rec["reply"], rec
        assert rec["first_audio_ms"] > 0
        assert 0 < rec["cpu_s"] < 30
        ref, hyp = normalized_words(text), normalized_words(rec["transcript"])
        errors += word_errors(ref, hyp)
        words += len(ref)
        reply_wav = bench_run.replies / f"{path.stem}.reply.wav"
        assert wav_seconds_and_peak(reply_wav)[1] > 3000
    assert 1 - errors / words >= 0.95, f"{errors} word errors in {words} words"
    assert "p50" in bench_run.stdout and "p95" in bench_run.stdout


async def test_the_bench_waits_for_the_hold_after_a_file_that_ends_at_the_last_word(
    settings: Settings, tmp_path: Path
) -> None:
    # espeak-ng's own files end ~0.3 s after the speech; live, the microphone goes on, so
    # the turn must still wait for the hold rather than end with the file (it did: 0.3 s).
    wav = espeak_wav("What time is it?", tmp_path / "q.wav", trail_s=0.2)
    async with open_assistant(settings) as a:
        (rec,) = await run_bench(a, [wav], tmp_path / "out", progress=lambda _: None)
    assert rec.route == "intent"
    assert rec.commit_ms is not None and rec.commit_ms >= 500, rec


_NUMBERS = {
    "10": "ten",
    "6": "six",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "7": "seven",
    "8": "eight",
    "9": "nine",
}


def normalized_words(text: str) -> list[str]:
    import re

    words = re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()
    return [_NUMBERS.get(w, w) for w in words]


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions, insertions, deletions)."""
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[-1]
