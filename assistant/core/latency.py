"""Per-turn latency: first-write-wins marks on one clock, and the frozen record of a turn.

A stage's duration is the time from the previous mark that was set to its own mark, so a
turn that skips a stage (a typed question has no ASR, a time question no LLM) still adds
up: the stage durations sum to `first_audio_ms`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

from assistant.core.clock import Clock


class Mark(StrEnum):
    """A moment of a turn. The chain's order is `MARKS`; a stage ends at each of its marks."""

    SPEECH_END = "speech_end"
    """Audio time of the user's last voiced sample (or when typed text arrived)."""
    ENDPOINT = "endpoint"
    """The end-pointer decided the utterance was over (speculatively, at a pause)."""
    ASR_FINAL = "asr_final"
    """The final transcript."""
    ROUTE = "route"
    """The routing decision (intent / fast / large)."""
    LLM_FIRST_TOKEN = "llm_first_token"
    FIRST_CLAUSE = "first_clause"
    """The first clause released by the splitter."""
    TTS_FIRST_AUDIO = "tts_first_audio"
    """The first synthesised samples of the reply."""
    FIRST_SAMPLE = "first_sample"
    """The first reply sample handed to the audio device (or file)."""
    COMMIT = "commit"
    """The end-pointer's final decision, which a speculative turn may pass before or after
    its first audio: outside the chain."""
    DONE = "done"
    """The end of the turn (the reply fully handed over): outside the chain."""


MARKS: tuple[Mark, ...] = (
    Mark.SPEECH_END,
    Mark.ENDPOINT,
    Mark.ASR_FINAL,
    Mark.ROUTE,
    Mark.LLM_FIRST_TOKEN,
    Mark.FIRST_CLAUSE,
    Mark.TTS_FIRST_AUDIO,
    Mark.FIRST_SAMPLE,
)
"""The chain of a turn's marks in the order they happen."""

STAGES: dict[Mark, str] = {
    Mark.ENDPOINT: "endpoint",
    Mark.ASR_FINAL: "asr",
    Mark.ROUTE: "route",
    Mark.LLM_FIRST_TOKEN: "llm",
    Mark.FIRST_CLAUSE: "clause",
    Mark.TTS_FIRST_AUDIO: "tts",
    Mark.FIRST_SAMPLE: "playout",
}
"""Stage name for the duration that ends at each mark."""

Cut = Literal["repeat", "loop", "number", "length"]
"""Why a reply was ended before its model ended it."""
AckWhy = Literal["expected", "late"]
"""Why the acknowledgement played: the first clause was expected late, or came late."""
Outcome = Literal["ok", "cancelled", "error", "empty", "speculative", "resumed"]
"""`speculative`: a turn started at a pause and dropped because the user went on talking;
`resumed`: a committed turn stopped because the user went on (the next turn answers both
halves, and says `resumed`)."""


class TurnTrace:
    """Collects a turn's marks. Each mark keeps its first value; later writes are ignored."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.marks_ns: dict[Mark, int] = {}

    def mark(self, mark: Mark, at_ns: int | None = None) -> None:
        try:
            key = Mark(mark)  # a string from an untyped caller is checked too
        except ValueError:
            raise ValueError(f"unknown latency mark {mark!r}") from None
        self.marks_ns.setdefault(key, self.clock.now_ns() if at_ns is None else at_ns)

    def has(self, mark: Mark) -> bool:
        return mark in self.marks_ns

    def stage_ms(self) -> dict[str, float]:
        """Each stage's duration in ms, from the previous mark that was set."""
        out: dict[str, float] = {}
        prev: int | None = None
        for name in MARKS:
            t = self.marks_ns.get(name)
            if t is None:
                continue
            if prev is not None:
                out[STAGES[name]] = _ms(t - prev)
            prev = t
        return out

    def span_ms(self, start: Mark, end: Mark) -> float | None:
        a, b = self.marks_ns.get(start), self.marks_ns.get(end)
        return None if a is None or b is None else _ms(b - a)


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """What one turn did and how long each stage took. One JSON line per turn."""

    turn: int
    origin: Literal["voice", "text", "announce"]
    transcript: str
    reply: str
    route: str
    reason: str
    outcome: Outcome
    ms: dict[str, float]
    """Each stage's duration in milliseconds (see `STAGES`)."""
    first_audio_ms: float | None
    """End of speech to the first reply sample handed to the device, in milliseconds."""
    total_ms: float | None
    """End of speech to the end of the turn (reply fully handed over), in milliseconds."""
    output_latency_ms: float = 0.0
    """The output device's reported latency, not included in `first_audio_ms`."""
    error: str | None = None
    file: str | None = None
    """The utterance's file (the bench's WAV)."""
    dropped_frames: int | None = None
    """Microphone blocks dropped during the utterance (the loop fell behind the device)."""
    commit_ms: float | None = None
    """End of speech to the end-pointer's commit, in milliseconds: a turn started at a pause
    plays nothing before it."""
    held_ms: float | None = None
    """How long the ready reply waited for the commit, in milliseconds (0: it was later)."""
    hold_ms: int | None = None
    """The silence the end-pointer held for at the pause that ended the utterance (ms)."""
    end_by: str | None = None
    """Which evidence decided that hold (`core/turn_end.py`): "intent", "audio", "text runs
    on", "unsure", "waiting"."""
    resumed: bool | None = None
    """The user went on after a commit: this turn answers both halves together."""
    ack: AckWhy | None = None
    """The large model's acknowledgement played while it wrote its answer: "expected" (its
    first clause was expected late) or "late" (it was not, and came late all the same)."""
    fallback: Literal["fast", "apology"] | None = None
    """The large model failed: the fast model answered instead, or an apology ended a reply
    it had begun."""
    large_error: str | None = None
    """Why the large model failed."""
    cut: Cut | None = None
    """The reply was ended early: it repeated a clause, looped on a phrase, a number in it
    ran away (none of these is remembered), or it reached the length a reply may have."""
    actions: list[dict[str, Any]] | None = None
    """The device commands sent: device, command, and value where one was set."""
    place: str | None = None
    """The place a question for the time elsewhere asked about."""
    asked: dict[str, Any] | None = None
    """What a question about the home asked: a device and a state ("is the garage door
    open?"), or a place and the devices that may know its temperature."""
    cpu_s: float | None = None
    """The process's CPU seconds for the turn (the bench's figure)."""

    @property
    def dropped(self) -> bool:
        """A turn nobody heard the end of by design: speculation the user talked over, or a
        first half they went on from (the turn after answers it)."""
        return self.outcome in ("speculative", "resumed")

    def to_dict(self) -> dict[str, Any]:
        """The record as the log, MQTT and the bench's JSONL carry it: unset fields left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def build_record(
    trace: TurnTrace,
    *,
    turn: int,
    origin: Literal["voice", "text", "announce"],
    transcript: str,
    reply: str,
    route: str,
    reason: str,
    outcome: Outcome,
    output_latency_ms: float = 0.0,
    error: str | None = None,
    file: str | None = None,
) -> TurnRecord:
    """The record of a turn, every duration derived from its trace's marks."""
    commit_ms = trace.span_ms(Mark.SPEECH_END, Mark.COMMIT)
    held = trace.span_ms(Mark.TTS_FIRST_AUDIO, Mark.COMMIT)  # < 0: the reply came later
    return TurnRecord(
        turn=turn,
        origin=origin,
        transcript=transcript,
        reply=reply,
        route=route,
        reason=reason,
        outcome=outcome,
        ms=trace.stage_ms(),
        first_audio_ms=trace.span_ms(Mark.SPEECH_END, Mark.FIRST_SAMPLE),
        total_ms=trace.span_ms(Mark.SPEECH_END, Mark.DONE),
        output_latency_ms=round(output_latency_ms, 1),
        error=error,
        file=file,
        commit_ms=commit_ms,
        held_ms=None if commit_ms is None else max(0.0, held or 0.0),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """p50/p95 of every stage and of first_audio_ms across records."""
    series: dict[str, list[float]] = {}
    for r in records:
        for stage, v in r.get("ms", {}).items():
            series.setdefault(stage, []).append(float(v))
        if r.get("first_audio_ms") is not None:
            series.setdefault("first_audio", []).append(float(r["first_audio_ms"]))
    return {
        k: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1), "n": len(v)}
        for k, v in series.items()
    }


def _ms(ns: int) -> float:
    return round(ns / 1_000_000, 1)
