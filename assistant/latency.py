"""Per-turn latency: first-write-wins marks on one clock, and the frozen record of a turn.

A stage's duration is the time from the previous mark that was set to its own mark, so a
turn that skips a stage (a typed question has no ASR, a time question no LLM) still adds
up: the stage durations sum to `first_audio_ms`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from assistant.clock import Clock

MARKS: tuple[str, ...] = (
    "speech_end",  # audio time of the user's last voiced sample (or when text arrived)
    "endpoint",  # the end-pointer decided the utterance was over
    "asr_final",  # final transcript
    "route",  # routing decision (intent / fast / large)
    "llm_first_token",
    "first_clause",  # first clause released by the splitter
    "tts_first_audio",  # first synthesised samples of the reply
    "first_sample",  # first reply sample handed to the audio device (or file)
)
"""The marks of a turn in the order they happen."""

STAGES: dict[str, str] = {
    "endpoint": "endpoint",
    "asr_final": "asr",
    "route": "route",
    "llm_first_token": "llm",
    "first_clause": "clause",
    "tts_first_audio": "tts",
    "first_sample": "playout",
}
"""Stage name for the duration that ends at each mark."""

EXTRA_MARKS = ("commit", "done")
"""Marks outside the stage chain: the end-pointer's final decision (which a speculative turn
may pass before or after its first audio) and the end of the turn."""

Outcome = Literal["ok", "cancelled", "error", "empty", "speculative"]
"""`speculative`: a turn started at a pause and dropped because the user went on talking."""


class TurnTrace:
    """Collects a turn's marks. Each mark keeps its first value; later writes are ignored."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.marks_ns: dict[str, int] = {}

    def mark(self, name: str, at_ns: int | None = None) -> None:
        if name not in MARKS and name not in EXTRA_MARKS:
            raise ValueError(f"unknown latency mark {name!r}")
        self.marks_ns.setdefault(name, self.clock.now_ns() if at_ns is None else at_ns)

    def has(self, name: str) -> bool:
        return name in self.marks_ns

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

    def span_ms(self, start: str, end: str) -> float | None:
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
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as the log, MQTT and the bench's JSONL carry it: `extra` fields at the
        top level, unset fields left out."""
        d = asdict(self)
        d.update(d.pop("extra"))
        return {k: v for k, v in d.items() if v is not None}

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
    extra: dict[str, Any] | None = None,
) -> TurnRecord:
    return TurnRecord(
        turn=turn,
        origin=origin,
        transcript=transcript,
        reply=reply,
        route=route,
        reason=reason,
        outcome=outcome,
        ms=trace.stage_ms(),
        first_audio_ms=trace.span_ms("speech_end", "first_sample"),
        total_ms=trace.span_ms("speech_end", "done"),
        output_latency_ms=round(output_latency_ms, 1),
        error=error,
        file=file,
        extra=extra or {},
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
