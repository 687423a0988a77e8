"""`assistant bench`: WAV files through the full pipeline, paced as a microphone would deliver
them, replies rendered to WAV files; a per-stage latency table with p50/p95.

Each file goes through the same listener as `assistant run` (Silero VAD, the end-pointer,
speculative turns), so the figures include end-pointing as the daemon does it half-duplex:
it plays nothing to cancel, so its confident hold is 500 ms, where the daemon's with echo
cancellation (the default) is 200.
"""

from __future__ import annotations

import dataclasses
import resource
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TextIO

import numpy as np

from assistant.app import Assistant
from assistant.audio.wav import WavSpeaker, paced_chunks, read_wav
from assistant.core.frames import Pcm16
from assistant.core.latency import STAGES, TurnRecord, summarize
from assistant.core.levels import speech_end_sample
from assistant.core.router import PATHS

ASR_RATE_HZ = 16_000
STAGE_COLUMNS = list(STAGES.values())


def sample_files() -> list[Path]:
    """The sample utterances shipped with the package."""
    root = resources.files("assistant") / "samples"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".wav"))


async def run_bench(
    assistant: Assistant,
    files: Sequence[Path],
    out_dir: Path,
    progress: Callable[[str], None],
) -> list[TurnRecord]:
    records: list[TurnRecord] = []
    block_ms = assistant.settings.config.audio.block_ms
    pipeline = assistant.settings.pipeline
    wait_ms = pipeline.turn_end.max_ms + pipeline.endpoint.sound_edge_ms
    for i, path in enumerate(files, 1):
        progress(f"[{i}/{len(files)}] {path.name}")
        # Each file is its own conversation: an earlier answer must not colour the next.
        assistant.runner.memory.clear()
        speaker = WavSpeaker(
            out_dir / f"{path.stem}.reply.wav", assistant.reply_rate_hz, assistant.clock
        )
        listener = assistant.listener(label=str(path))
        samples = quiet_after(read_wav(path, ASR_RATE_HZ), ASR_RATE_HZ, wait_ms)
        cpu_before = _cpu_s()
        await listener.run(paced_chunks(samples, ASR_RATE_HZ, assistant.clock, block_ms), speaker)
        # The whole process's CPU time while this file played in and was answered (all
        # threads; the idle waits of the real-time pacing cost none).
        cpu = (_cpu_s() - cpu_before) / max(1, len(listener.records))
        if not listener.records:
            progress(f"[{i}/{len(files)}] {path.name}: no turn (no speech heard)")
        records += [dataclasses.replace(r, cpu_s=round(cpu, 3)) for r in listener.records]
    return records


def quiet_after(samples: Pcm16, sample_rate_hz: int, wait_ms: int) -> Pcm16:
    """The file with digital silence after it, as long as the end-pointer may wait after the
    last word. A microphone does not stop there; a file that did would end the turn at its
    end instead of at the hold (espeak-ng leaves ~0.3 s: replies 0.2 s sooner than live)."""
    end = speech_end_sample(samples, sample_rate_hz)
    if end is None:
        return samples
    short = wait_ms * sample_rate_hz // 1000 - (len(samples) - end)
    return np.concatenate([samples, np.zeros(short, np.int16)]) if short > 0 else samples


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def print_table(records: Sequence[TurnRecord], out: TextIO = sys.stdout) -> None:
    cols = ["file", "transcript", "route", *STAGE_COLUMNS, "first_audio"]
    rows: list[list[str]] = []
    for r in records:
        name = Path(r.file).stem if r.file else str(r.turn)
        rows.append(
            [
                name[:18],
                _clip(r.transcript, 34),
                r.route or r.outcome,
                *(_ms(r.ms.get(s)) for s in STAGE_COLUMNS),
                _ms(r.first_audio_ms),
            ]
        )
    stats = summarize(r.to_dict() for r in records if r.outcome == "ok")
    for q in ("p50", "p95"):
        rows.append(
            [
                q,
                "",
                "",
                *(_ms(stats.get(s, {}).get(q)) for s in STAGE_COLUMNS),
                _ms(stats.get("first_audio", {}).get(q)),
            ]
        )
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    numeric = set(range(3, len(cols)))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print("stage times in ms; first_audio = end of speech -> first reply sample", file=out)
    print(line(cols), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for row in rows[: len(records)]:
        print(line(row), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for row in rows[len(records) :]:
        print(line(row), file=out)
    print_routes(records, out)
    for r in records:
        if r.reply:
            name = Path(r.file).stem if r.file else str(r.turn)
            print(f"  {name}: {r.reply}", file=out)


def print_routes(records: Sequence[TurnRecord], out: TextIO = sys.stdout) -> None:
    """First reply audio per route (intent / fast / large) and each route's share."""
    answered = [r for r in records if r.outcome == "ok" and r.origin != "announce"]
    if not answered:
        return
    print("route    turns  share  first_audio p50  p95", file=out)
    for path in PATHS:
        mine = [r.to_dict() for r in answered if r.route == path]
        stats = summarize(mine).get("first_audio", {})
        print(
            f"{path:<7} {len(mine):>6} {len(mine) / len(answered):>6.0%}"
            f" {_ms(stats.get('p50')):>16} {_ms(stats.get('p95')):>4}",
            file=out,
        )


def write_json(records: Sequence[TurnRecord], path: Path, header: dict[str, object]) -> None:
    """The record file `assistant report` reads: a `{"run": ...}` line, then the turns."""
    from assistant.core.records import write_records

    write_records(path, header, [r.to_dict() for r in records])


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
