"""`assistant eot recover DIR`: recovery on the pause corpus's complete-looking splits, the
part of issue 22's bar the sweep does not score. "Set a timer for ten minutes … and a half":
where the rule commits in the pause (which it may: the first half is a whole request), the
user going on must be caught, and both halves answered once, as a whole.

Per complete-looking rendering, room (quiet, noisy) and pause length, from the evidence
`assistant eot evidence` gathered: the pipeline's rule (listening while it speaks, with
headphones or `echo_cancel`) commits where its hold is no longer than the silence the
end-pointer heard. Then, as the listener would:

- **in the window**: the user goes on within `resume_window_ms` of the commit (else the rest
  is a turn of its own);
- **stop**: the end-pointer, its hold run out at the commit, is fed the rest as the listener
  starts the user going on (`starting`); from the second half's first sound (its first 10 ms
  frame within 35 dB of its loudest, the latency probe's rule) to the utterance it starts is
  how soon the reply would stop (the speaker's latency comes on top: live, the stop was
  logged 42-45 ms after the voice at one frame, `tests/test_turn_taking_live.py`);
- **whole**: Whisper, on both halves together as the listener joins them (`joined`), is
  answered as the sentence with no pause at all would be, or as the sentence said: the same
  intent, slots and all, or, for a question that goes to a model, every word of the second
  half (of those Whisper heard without the pause: a word it misses either way is speech
  recognition's miss, not recovery's). Numbers are compared as numbers ("six" and "6"),
  fillers not at all;
- **had it waited**: the same, for Whisper on the paused sentence uncut (no commit, the
  hold long enough): what recovery is to be measured against, the pause's own cost to
  speech recognition.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.vad import SileroVad, endpoint_frames
from assistant.audio.wav import read_wav
from assistant.commands.eot import PAUSES_S, PauseEvidence, mixed, ours
from assistant.commands.pause_corpus import RATE_HZ, Rendering, load, spliced
from assistant.core.endpoint import Ended, Endpointer, SpeechStarted
from assistant.core.frames import AudioChunk
from assistant.core.intents.numbers import NUMBER_WORDS
from assistant.core.levels import voiced
from assistant.core.router import route
from assistant.pipeline.turn_taking import joined, kept, starting

FILLERS = {"um", "uh", "er", "erm"}


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    noisy: bool
    pause_s: float
    committed: bool
    """The rule committed in this pause (the run's own end-pointer ended the utterance)."""
    in_window: bool = False
    """The user's utterance started before the resume window closed."""
    stop_ms: float | None = None
    """From the second half's first sound to the start of the user's utterance."""
    whole: bool = False
    """The joined audio is answered as the unpaused sentence is (`answered_alike`)."""
    heard: str = ""
    waited_whole: bool = False
    """Whisper on the paused sentence uncut is answered as the unpaused one (`whole`)."""
    filler: bool = False
    """The first half ends with "um" or "uh" (before the pause)."""


def words(text: str) -> list[str]:
    """Lower-case words, no fillers; a number, in digits or words, as "#" (Whisper writes
    "six thirty" as "6.30", "nineteen sixty six" as "1966": only that one is there)."""
    out: list[str] = []
    for w in re.findall(r"[a-z0-9']+", text.lower().replace(":", " ").replace(".", " ")):
        if w in FILLERS:
            continue
        number = w.isdigit() or w in NUMBER_WORDS
        if not (number and out and out[-1] == "#"):  # "sixty six", "6 30": one number
            out.append("#" if number else w)
    return out


def unfilled(text: str) -> str:
    """The transcript without its fillers ("remind me to buy bread, uh, when ...")."""
    return re.sub(r",?\s*\b(?:" + "|".join(FILLERS) + r")\b,?", "", text, flags=re.I).strip()


def covered(first_half: str, second_half: str, heard: str, baseline: str) -> bool:
    """Every word of the second half that the unpaused rendering's transcript has is in
    `heard`, beyond those the first half accounts for ("the" of "from the earth" is not
    heard because "how far is the moon" has one)."""
    got = Counter(words(heard)) - Counter(words(first_half))
    base = set(words(baseline))
    need = Counter(w for w in words(second_half) if w in base)
    return all(got[w] >= k for w, k in need.items())


def answered_alike(left: str, right: str, heard: str, baseline: str, devices: Any) -> bool:
    """Would the answer be the one to the sentence heard with no pause? An intent: the same,
    slots and all ("set a timer for 10 minutes in the half" is 10 minutes, not 10 min 30 s);
    a question for a model: every word of the second half the baseline heard (`covered`)."""
    want = route(unfilled(baseline), devices).intent
    if want is not None:
        return route(unfilled(heard), devices).intent == want
    return covered(left, right, heard, baseline)


def recover(corpus: Path, settings: Any, *, held_out: bool | None) -> list[Case]:
    from assistant.app import build_transcriber, turn_settings

    files, pipeline = settings.model_files(), settings.pipeline
    listener = _Listener(
        build_transcriber(settings.models.asr, files["asr"]), SileroVad(files["vad"]),
        pipeline, turn_settings(settings).devices,
    )  # fmt: skip
    rule = ours(pipeline.turn_end)
    order = list(enumerate(load(corpus)))  # `gather` seeds each rendering's noise by it
    rows = {
        (row["id"], row["noisy"]): row
        for row in map(json.loads, (corpus / "evidence.jsonl").read_text().splitlines())
    }
    cases = []
    for n, r in order:
        if r.kind != "complete" or (held_out is not None and r.id.startswith("h") != held_out):
            continue
        pcm = read_wav(corpus / r.file)
        for noisy in (False, True):
            row = rows.get((r.id, noisy))
            pauses = [PauseEvidence.read(p) for p in row["pauses"]] if row else []
            split = next((e for e in pauses if e.at == "split"), None)
            if split is None or not split.heard_ms[str(PAUSES_S[-1])]:
                continue  # no pause heard at the split (as the sweep)
            # What Whisper hears of it with no pause at all, in the same room.
            baseline = listener.asr.transcribe(mixed(spliced(pcm, r, 0.0, 0.25), noisy, n), RATE_HZ)
            hold = rule(split)
            for p in PAUSES_S:
                if hold > split.heard_ms[str(p)]:
                    cases.append(Case(r.id, noisy, p, committed=False))
                    continue
                clean = spliced(pcm, r, p, 1.0)
                voice = second_voice(clean, r.split_sample + int(p * RATE_HZ))
                x = mixed(clean, noisy, n)
                cases.append(listener.resumed(r, noisy, p, x, voice, hold, baseline))
    return cases


@dataclass(frozen=True, slots=True)
class _Listener:
    """Takes a rendering as the listener would, with the pipeline's settings."""

    asr: Any
    vad: SileroVad
    pipeline: Any
    devices: Any

    def resumed(
        self, r: Rendering, noisy: bool, p: float, x: np.ndarray, voice: int, hold: float,
        baseline: str,
    ) -> Case:  # fmt: skip
        """The rendering `x` with a pause of `p` s, its second half's sound from sample
        `voice`, through the end-pointer with `hold`: where it commits, the rest as the
        listener takes it after a commit. `baseline`: Whisper on it with no pause."""
        voice_ns = voice * 1_000_000_000 // RATE_HZ
        listen = self.pipeline.listen
        ep = Endpointer(self.pipeline.endpoint, hold_ms=int(hold))
        stop_ms, committed_ns, speech_end_ns, started_ns, started_at_ns = None, None, 0, 0, 0
        for _, end_ns, event in endpoint_frames(self.vad, ep, x):
            if isinstance(event, Ended):
                if end_ns * RATE_HZ // 1_000_000_000 < r.split_sample or end_ns > voice_ns:
                    break  # at a pause of the voice's own before the split, or not in it
                committed_ns, speech_end_ns = end_ns, event.speech_end_ns
                # As the listener starts the user going on (no echo on the corpus).
                ep.start = starting(ep.s, listen.resume_min_speech_ms, True, over_echo=False)
            elif isinstance(event, SpeechStarted) and committed_ns is not None:
                stop_ms = (end_ns - voice_ns) / 1e6
                # as `resuming` asks
                in_window = end_ns - committed_ns < listen.resume_window_ms * 1_000_000
                started_ns, started_at_ns = event.start_ns, end_ns
                break
        if committed_ns is None:  # the run heard the pause shorter than the evidence said
            return Case(r.id, noisy, p, committed=False)
        said = " ".join(w for w in (r.left, r.filler, r.right) if w)

        def whole(text: str) -> bool:
            return any(
                answered_alike(r.left, r.right, text, b, self.devices) for b in (baseline, said)
            )

        waited = whole(self.asr.transcribe(x, RATE_HZ))
        if stop_ms is None:
            return Case(r.id, noisy, p, committed=True, filler=bool(r.filler), waited_whole=waited)
        # As the listener joins them (`kept`, `joined`), in the microphone's blocks: the
        # first half as kept at the commit, then the second from its pre-roll, as far as the
        # listener has it when the utterance starts; the rest after.
        block = 80  # 5 ms, as `endpoint_frames` feeds them
        chunks = [
            AudioChunk(x[i : i + block], RATE_HZ, i * 1_000_000_000 // RATE_HZ)
            for i in range(0, len(x), block)
        ]
        first = kept([c for c in chunks if c.end_ns <= committed_ns], speech_end_ns)
        since = started_ns - self.pipeline.endpoint.pre_roll_ms * 1_000_000
        rest = [c for c in chunks if since < c.end_ns and c.captured_ns < started_at_ns]
        audio = joined(first, rest, started_ns) + [
            c for c in chunks if c.captured_ns >= started_at_ns
        ]
        heard = self.asr.transcribe(np.concatenate([c.heard for c in audio]), RATE_HZ)
        return Case(
            r.id, noisy, p, committed=True, filler=bool(r.filler), in_window=in_window,
            stop_ms=stop_ms, whole=whole(heard), heard=heard,
            waited_whole=waited,
        )  # fmt: skip


def second_voice(x: np.ndarray, at: int) -> int:
    """Where the second half's voice begins in the rendering `x`, its pause ending at `at`:
    its first 10 ms frame within 35 dB of its loudest (the latency probe's rule). Not a
    sound already there that falls below that within 150 ms for 100 ms or more: the tail of
    the first half's last word, where the split was placed before its end (h38-2, Piper at
    1.25x: "um" goes on 80 ms past the pause, the next word 330 ms later)."""
    frames = voiced(x[at:], RATE_HZ)
    if frames is None:
        return at
    first = int(np.argmax(frames))
    if first == 0 and not frames[:15].all():
        quiet = int(np.argmin(frames))  # the tail's end
        if not frames[quiet : quiet + 10].any():
            first = quiet + int(np.argmax(frames[quiet:]))
    return at + first * RATE_HZ // 100


def print_recovery(cases: list[Case]) -> None:
    committed = [c for c in cases if c.committed]
    print(f"complete-looking splits x rooms x pauses: {len(cases)}; committed in the pause "
          f"(recovery's job): {len(committed)}")  # fmt: skip
    for name, lo, hi in (("pauses <= 1.2 s", 0.0, 1.2), ("1.5 s", 1.5, 1.5), ("2.0 s", 2.0, 2.0)):
        these = [c for c in committed if lo <= c.pause_s <= hi]
        ok = [c for c in these if c.in_window and c.whole]
        if these:
            waited = sum(c.waited_whole for c in these)
            print(f"  {name:16} recovered {len(ok)} of {len(these)} = "
                  f"{100 * len(ok) / len(these):5.1f} %  (not in the window: "
                  f"{sum(not c.in_window for c in these)}; heard in part: "
                  f"{sum(c.in_window and not c.whole for c in these)}; had it waited, "
                  f"heard whole: {100 * waited / len(these):.1f} %)")  # fmt: skip
    for name, filler in (("", False), (", a first half ending in um/uh", True)):
        stops = sorted(c.stop_ms for c in committed if c.stop_ms is not None and c.filler == filler)
        if stops:
            q = [stops[min(len(stops) - 1, int(f * len(stops)))] for f in (0.5, 0.95)]
            print(f"  going on{name}: their utterance started p50 {q[0]:.0f} ms, p95 {q[1]:.0f} "
                  f"ms, max {stops[-1]:.0f} ms after their voice (of {len(stops)}; the "
                  f"speaker's latency comes on top)")  # fmt: skip
    for c in committed:
        if not (c.in_window and c.whole):
            print(f"    {c.id} {'noisy' if c.noisy else 'quiet'} {c.pause_s} s: "
                  f"{'in the window' if c.in_window else 'NOT in the window'}, "
                  f"heard {c.heard!r}")  # fmt: skip
