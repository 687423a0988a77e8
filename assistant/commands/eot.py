"""`assistant eot`: how often each end-of-turn rule cuts the user off, and how long it makes
them wait, on the pause corpus (`pause_corpus.py`). Scored like LiveKit's eot-bench: the
cut-off rate per pause (by its length and the kind of split) and the wait after the true end.

    assistant eot make DIR [--held-out]    render the corpus (once; a few minutes)
    assistant eot evidence DIR             what the listener knows at each pause (minutes)
    assistant eot sweep DIR [--held-out]   the trade-off table, from that evidence (instant)

`evidence` runs each rendering, with the longest pause spliced in and quiet or in a room's
noise, frame by frame through the VAD and the end-pointer as the listener feeds them, and at
every pause it heard asks what the listener asks: Whisper's transcript (and whether it runs
on, or an intent took it whole) and the turn model's probability, on the same audio, timed
(the two run side by side on their own threads, as in `run`). The silence the end-pointer
measures at the split is taken for every pause length. `sweep` then replays the rules on
that evidence: a rule cuts the user off where it commits before the speech resumes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.vad import SileroVad, endpoint_frames
from assistant.audio.wav import read_wav
from assistant.commands.pause_corpus import RATE_HZ, Rendering, load, spliced
from assistant.core.endpoint import (
    Endpointer,
    EndpointSettings,
    Paused,
    Resumed,
    SpeechStarted,
    looks_incomplete,
)
from assistant.core.errors import ConfigError
from assistant.core.levels import pink_noise
from assistant.core.router import route
from assistant.core.turn_end import Evidence, TurnEndSettings, decide, heard_of

PAUSES_S = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0)
TRAIL_S = 3.0
NOISE_DBFS = -45.0


@dataclass(frozen=True, slots=True)
class PauseEvidence:
    at: str
    """"split" (the spliced pause), "gap" (a pause the voice made by itself), "end"."""
    text: str
    runs_on: bool
    intent: bool
    finished_p: float
    ready_ms: float
    """Silence by the time both answers were in: the end-pointer's pause, then ASR and the
    turn model side by side."""
    heard_ms: dict[str, float]
    """The silence the end-pointer measured before speech resumed, per pause length spliced
    in (for "gap": the same for all; for "end": none)."""
    text_end: float | None = None
    """The text turn model's log10 probability that the message ends here."""
    part_name: bool = False
    """The words end in part of a device's name (`ends_in_part_of_a_name`)."""

    @classmethod
    def read(cls, fields: dict[str, Any]) -> PauseEvidence:
        """A pause of `evidence.jsonl`; one gathered before the evidence had `part_name`
        would be scored wrong (every intent taken as said whole), so it is refused."""
        if "part_name" not in fields:
            raise ConfigError(
                "evidence.jsonl has no part_name (gathered before it was evidence): "
                "delete it and run `assistant eot evidence` again"
            )
        return cls(**fields)


def mixed(pcm: np.ndarray, noisy: bool, seed: int) -> np.ndarray:
    if not noisy:
        return pcm
    x = pcm.astype(np.float64) + pink_noise(len(pcm), NOISE_DBFS, seed)
    out: np.ndarray = np.clip(x, -32768, 32767).astype(np.int16)
    return out


def _pauses(vad: SileroVad, ep: Endpointer, pcm: np.ndarray) -> list[tuple[int, int, float | None]]:
    """Each pause heard: (utterance start sample, sample at the Paused event, silence ms
    measured when speech resumed, or None if it did not)."""
    start, out = 0, list[tuple[int, int, float | None]]()
    for _, end_ns, event in endpoint_frames(vad, ep, pcm):
        sample = end_ns // 62_500
        match event:
            case SpeechStarted(start_ns=s):
                start = s // 62_500
            case Paused():
                out.append((start, sample, None))
            case Resumed(silence_ns=silence) if out:
                out[-1] = (*out[-1][:2], silence / 1e6)
    return out


def gather(corpus: Path, settings: Any, out: Path) -> None:
    """Write `evidence.jsonl` in `corpus`: per rendering and room, the evidence at each pause."""
    from assistant.app import build_transcriber, turn_settings
    from assistant.engines.turn_model import SmartTurn
    from assistant.engines.turn_text import ChatEndOfTurn

    m, files = settings.models, settings.model_files()
    if m.turn.audio is None or m.turn.text is None:
        raise ConfigError(f"{settings.models_path}: [turn.audio] and [turn.text] are needed")
    asr = build_transcriber(m.asr, files["asr"])
    model = SmartTurn(files["turn.audio"], threads=m.turn.audio.threads)
    words = ChatEndOfTurn(files["turn.text"], threads=m.turn.text.threads)
    vad = SileroVad(files["vad"])
    endpoint: EndpointSettings = settings.pipeline.endpoint
    pre_roll = endpoint.pre_roll_ms * RATE_HZ // 1000
    endless = Endpointer(endpoint, hold_ms=60_000)
    devices = turn_settings(settings).devices
    pool = ThreadPoolExecutor(2)
    done = set()
    if out.exists():  # an interrupted run goes on where it stopped
        done = {(row["id"], row["noisy"]) for row in map(json.loads, out.read_text().splitlines())}
    # The tuning set first: the rules are chosen on it before the held-out one is looked at.
    todo = sorted(enumerate(load(corpus)), key=lambda nr: nr[1].id.startswith("h"))
    with out.open("a") as f:
        for n, r in todo:
            pcm = read_wav(corpus / r.file)
            for noisy in (False, True):
                if (r.id, noisy) in done:
                    continue
                longest = mixed(spliced(pcm, r, PAUSES_S[-1], TRAIL_S), noisy, n)
                heard = _pauses(vad, endless, longest)
                at_split = [s for _, at, s in heard if _near_split(at, r) and s is not None]
                # A shorter pause is heard shorter by the difference: the edges of the
                # silence are the same audio. Checked against each length spliced in and
                # run (406 pauses of 0.4-2.0 s): 83 % within 8 ms; the rest in noise at
                # 0.4-0.6 s, where this says longer than the run did (more cut-offs
                # counted, not fewer).
                longest_ms = at_split[0] if at_split else 0.0
                by_pause = {
                    str(p): max(0.0, longest_ms - (PAUSES_S[-1] - p) * 1000) for p in PAUSES_S
                }
                pauses = []
                for start, at, silence in heard:
                    audio = longest[max(0, start - pre_roll) : at]
                    t0 = time.perf_counter()
                    text_f = pool.submit(asr.transcribe, audio, RATE_HZ)
                    p_f = pool.submit(model.probability, audio, RATE_HZ)
                    text, p = text_f.result(), p_f.result()
                    text_end = words.end_log10(text)  # after the transcript, as in `run`
                    ready = endpoint.pause_ms + (time.perf_counter() - t0) * 1000
                    where = _where(at, r, silence)
                    h = heard_of(text, route(text, devices).intent, devices)  # as the turn tells it
                    pauses.append(PauseEvidence(
                        where, text, looks_incomplete(text), h.intent, p, ready,
                        by_pause if where == "split" else {} if silence is None else {"*": silence},
                        text_end, h.part_name,
                    ))  # fmt: skip
                row = {
                    "id": r.id,
                    "noisy": noisy,
                    "pauses": [dataclasses.asdict(e) for e in pauses],
                }
                f.write(json.dumps(row) + "\n")
                f.flush()


def _near_split(at: int, r: Rendering) -> bool:
    """The Paused event comes `pause_ms` after the speech stopped: near the split, it is it."""
    return -0.3 * RATE_HZ <= at - r.split_sample <= 0.4 * RATE_HZ


def _where(at: int, r: Rendering, silence: float | None) -> str:
    if silence is None:
        return "end"
    return "split" if _near_split(at, r) else "gap"


# ---------------------------------------------------------------- rules and the sweep

Rule = Callable[[PauseEvidence], float]
"""The silence (ms) at which a rule commits at this pause."""


def silence_only(hold_ms: int) -> Rule:
    return lambda e: hold_ms


def today(e: PauseEvidence) -> float:
    """Before this issue: 500 ms, or 1000 when the transcript runs on (once it is in)."""
    return 1000.0 if e.runs_on and e.ready_ms < 1000 else 500.0


def pipecat(e: PauseEvidence) -> float:
    """The Pipecat peer's rule on the same evidence: its VAD stops at 200 ms of silence,
    then smart-turn (~105 ms here) commits if it says finished, else it waits for 3 s."""
    return 305.0 if e.finished_p > 0.5 else 3000.0


def ours(s: TurnEndSettings, *, veto_every_intent: bool = False) -> Rule:
    """This pipeline's rule. `veto_every_intent`: the text model may hold back any intent,
    not only one whose words end in part of a device's name (the rule before 2026-12-07)."""

    def rule(e: PauseEvidence) -> float:
        part_name = e.part_name or veto_every_intent
        ev = Evidence(e.text, e.runs_on, e.intent, part_name, e.finished_p, e.text_end)
        return max(float(decide(ev, s).ms), e.ready_ms)

    return rule


@dataclass
class Score:
    files: int = 0
    cut: dict[str, int] = dataclasses.field(default_factory=dict)
    waits: list[float] = dataclasses.field(default_factory=list)


def score(rows: list[dict[str, Any]], kinds: dict[str, str], rule: Rule) -> dict[str, Any]:
    """Cut-off % per kind and pause length; mean and p95 wait at the true end (ms)."""
    cut: dict[tuple[str, float], list[bool]] = {}
    waits, unheard = [], 0
    for row in rows:
        pauses = [PauseEvidence.read(p) for p in row["pauses"]]
        kind = kinds[row["id"]]
        gaps_cut = any(rule(e) <= e.heard_ms["*"] for e in pauses if e.at == "gap")
        split = next((e for e in pauses if e.at == "split"), None)
        if split is None or not split.heard_ms[str(PAUSES_S[-1])]:
            unheard += 1  # the end-pointer heard no pause at the split: nothing to score
            continue
        for p in PAUSES_S:
            c = gaps_cut or (split is not None and rule(split) <= split.heard_ms[str(p)])
            cut.setdefault((kind, p), []).append(c)
        waits += [rule(e) for e in pauses if e.at == "end"]
    return {
        "cut": {f"{k}@{p}": 100 * sum(v) / len(v) for (k, p), v in sorted(cut.items())},
        "wait_mean": float(np.mean(waits)),
        "wait_p95": float(np.percentile(waits, 95)),
        "unheard": unheard,
    }


def rules(s: TurnEndSettings) -> list[tuple[str, Rule]]:
    """The rules compared: silence alone at several holds, the hold before this issue, the
    Pipecat peer's, and this pipeline's (`s`) with its neighbours."""
    out: list[tuple[str, Rule]] = [
        (f"silence {h} ms", silence_only(h)) for h in (200, 500, 1000, 1500, 2500)
    ]
    out += [
        ("today: 500 ms / 1000 if the text runs on", today),
        ("pipecat: smart-turn or 3 s", pipecat),
        ("evidence, and the audio decides at p>=0.5", ours(dataclasses.replace(s, finished_p=0.5))),
        (
            "evidence, half-duplex (no echo cancellation: eager hold 500)",
            ours(dataclasses.replace(s, eager_ms=s.half_duplex_eager_ms)),
        ),
        (
            "the same, the text model vetoing every intent",
            ours(dataclasses.replace(s, eager_ms=s.half_duplex_eager_ms), veto_every_intent=True),
        ),
    ]
    for fin in sorted({-3.5, s.finished_log10}):
        for unf in sorted({-5.0, s.unfinished_log10}):
            for unsure in sorted({1500, s.unsure_ms}):
                v = dataclasses.replace(
                    s, finished_log10=fin, unfinished_log10=unf, unsure_ms=unsure,
                    max_ms=max(s.max_ms, unsure),
                )  # fmt: skip
                mark = " (this pipeline)" if v == s else ""
                out.append((f"evidence: text >= {fin} / <= {unf}, unsure {unsure}{mark}", ours(v)))
    return out


def sweep(
    corpus: Path, s: TurnEndSettings, *, held_out: bool | None = None
) -> list[dict[str, Any]]:
    """The trade-off table: each rule's cut-off % and wait. `held_out`: only that set (None:
    both)."""
    kinds = {r.id: r.kind for r in load(corpus)}
    rows = [json.loads(line) for line in (corpus / "evidence.jsonl").read_text().splitlines()]
    if held_out is not None:
        rows = [r for r in rows if r["id"].startswith("h") == held_out]
    table = [{"rule": name, **score(rows, kinds, rule)} for name, rule in rules(s)]
    unheard = table[0]["unheard"]
    return [
        *table,
        {
            "rule": f"(renderings x rooms: {len(rows)}; no pause heard at the split, "
            f"not scored: {unheard})",
            "cut": {},
            "wait_mean": "",
            "wait_p95": 0,
        },
    ]


def print_sweep(table: list[dict[str, Any]]) -> None:
    """Cut-off % on unfinished splits at pauses up to 1.2 s, at 1.5 and 2.0 s; on complete-
    looking ones that go on (recovery's job) at up to 1.2 s; the wait after the true end."""

    def worst(cut: dict[str, float], kind: str, lo: float, hi: float) -> float:
        vals = [
            v for k, v in cut.items() if k.startswith(kind) and lo <= float(k.split("@")[1]) <= hi
        ]
        return max(vals) if vals else float("nan")

    head = (
        f"{'rule':52} {'unfin.<=1.2s':>12} {'@1.5s':>6} {'@2.0s':>6} {'compl.<=1.2s':>12} "
        f"{'wait mean':>9} {'p95':>6}"
    )
    print(head)
    print("-" * len(head))
    for row in table:
        if not row["cut"]:
            print(row["rule"])
            continue
        c = row["cut"]
        print(
            f"{row['rule']:52} {worst(c, 'unfinished', 0, 1.2):11.1f}% "
            f"{worst(c, 'unfinished', 1.5, 1.5):5.1f}% {worst(c, 'unfinished', 2.0, 2.0):5.1f}% "
            f"{worst(c, 'complete', 0, 1.2):11.1f}% {row['wait_mean']:8.0f}  {row['wait_p95']:5.0f}"
        )
