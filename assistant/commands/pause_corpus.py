"""`assistant eot make`: the pause corpus. Household sentences, each rendered whole by a voice
(so the voice runs on where the speaker pauses), split at a marked word boundary found in the
audio, and later spliced with pauses of any length (`eot.py`).

A fragment rendered on its own ends with a sentence-final fall, and a turn model hears it as
finished; the pause has to sit inside one rendering of the whole sentence. The boundary is the
start of the first word after the mark, from faster-whisper's word timestamps on the whole
rendering, moved to the quietest 10 ms within 60 ms before it (a pause goes between words,
not into one).
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from assistant.audio.wav import read_wav, write_wav
from assistant.core.frames import Pcm16

log = logging.getLogger(__name__)

RATE_HZ = 16_000
LEAD_S = 0.5
PEAK_DBFS = -3.0
DATA = Path(__file__).parent / "data"
SENTENCES = DATA / "pause-sentences.tsv"
"""The set the end-of-turn settings were chosen on."""
HELD_OUT = DATA / "pause-heldout.tsv"
"""Written by someone else, after: the settings were not tuned on it."""

VOICES: list[tuple[str, float]] = [
    ("piper", 1.0),
    ("piper", 0.8),  # Piper's length scale: below 1 is faster
    ("piper", 1.25),
    ("espeak:en-us", 160.0),  # espeak-ng words per minute
    ("espeak:en-gb", 135.0),
]
FILLERS = ["", "um", "uh"]


@dataclass(frozen=True, slots=True)
class Rendering:
    id: str
    kind: str
    """"unfinished": the words before the pause cannot be the whole request;
    "complete": they could be, and the speaker goes on."""
    left: str
    right: str
    filler: str
    voice: str
    speed: float
    file: str
    split_sample: int
    """Where the pause goes, in the file's samples (16 kHz)."""
    end_sample: int
    """The end of the speech."""

    @property
    def text(self) -> str:
        return f"{self.left} {self.right}"


def read_sentences(path: Path) -> list[tuple[str, str, str]]:
    """(kind, left, right) per line of `kind<TAB>words | words`."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        kind, text = line.split("\t")
        if kind not in ("unfinished", "complete") or text.count("|") != 1:
            raise ValueError(f"{path}:{n}: want 'unfinished|complete<TAB>words | words'")
        left, right = (part.strip() for part in text.split("|"))
        out.append((kind, left, right))
    return out


def _piper(voice: object, text: str, length_scale: float) -> Pcm16:
    from piper import SynthesisConfig

    cfg = SynthesisConfig(length_scale=length_scale)
    chunks = list(voice.synthesize(text, syn_config=cfg))  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        write_wav(raw, np.concatenate([c.audio_int16_array for c in chunks]), chunks[0].sample_rate)
        return read_wav(raw, RATE_HZ)


def _espeak(voice: str, text: str, wpm: float) -> Pcm16:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        cmd = ["espeak-ng", "-v", voice, "-s", str(int(wpm)), "-w", str(raw), text]
        subprocess.run(cmd, check=True, capture_output=True)
        return read_wav(raw, RATE_HZ)


def _trimmed(pcm: Pcm16) -> Pcm16:
    """The speech alone, peaking at PEAK_DBFS."""
    x = pcm.astype(np.float64)
    loud = np.flatnonzero(np.abs(x) > 32768 * 10 ** (-50 / 20))
    x = x[loud[0] : loud[-1] + 1]
    x = x / np.abs(x).max() * 32767 * 10 ** (PEAK_DBFS / 20)
    out: Pcm16 = x.astype(np.int16)
    return out


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def boundary(pcm: Pcm16, left_samples: int) -> int:
    """The sample where the pause goes in the whole rendering: the quietest 10 ms (in 5 ms
    steps) from 200 ms before the length of the left part rendered alone to 20 ms after it
    (alone, its last syllable is drawn out, so in the sentence it ends sooner)."""
    win, step = RATE_HZ // 100, RATE_HZ // 200
    lo = max(0, left_samples - RATE_HZ // 5)
    hi = min(len(pcm) - win, left_samples + RATE_HZ // 50)
    x = pcm.astype(np.float64)
    energy = [float(np.mean(x[i : i + win] ** 2)) for i in range(lo, hi, step)]
    return lo + int(np.argmin(energy)) * step + win // 2


def _heard(whisper: object, pcm: Pcm16) -> list[str]:
    segments, _ = whisper.transcribe(  # type: ignore[attr-defined]
        pcm.astype(np.float32) / 32768, language="en", beam_size=5
    )
    return [_norm(w) for seg in segments for w in seg.text.split() if _norm(w)]


def _checks(whisper: object, pcm: Pcm16, split: int, left: str, filler: str, right: str) -> bool:
    """Is the split between the words? Whisper tiny mishears fragments ("switch on them"), so:
    one half heard ending (or starting) with its own word exactly, or both with a word like
    it. The left half may end in its filler or without it (Whisper often leaves fillers
    out). A cut inside a word is heard as neither."""
    left_heard, right_heard = _heard(whisper, pcm[:split]), _heard(whisper, pcm[split:])
    if not left_heard or not right_heard:
        return False
    lasts = [w for w in (_norm(left.split()[-1]), _norm(filler)) if w]
    left_like = max(_like(left_heard[-1], w) for w in lasts)
    right_like = _like(right_heard[0], _norm(right.split()[0]))
    return max(left_like, right_like) == 1.0 or min(left_like, right_like) >= 0.5


def _like(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def renderings(
    sentences: Path, out: Path, prefix: str, files: dict[str, Path]
) -> Iterator[Rendering]:
    """`files`: the model files (`Settings.model_files()`): the Piper voice and Whisper."""
    from faster_whisper import WhisperModel
    from piper import PiperVoice

    piper = PiperVoice.load(files["tts"], config_path=files.get("tts.config"))
    whisper = WhisperModel(str(files["asr"]), device="cpu", compute_type="int8", cpu_threads=2)
    skipped = 0
    for n, (kind, left, right) in enumerate(read_sentences(sentences)):
        for v, (voice, speed) in enumerate(VOICES):
            filler = FILLERS[(n + v) % len(FILLERS)]
            spoken_left = f"{left}, {filler}," if filler else left
            text = f"{spoken_left} {right}"

            def render(t: str, voice: str = voice, speed: float = speed) -> Pcm16:
                if voice == "piper":
                    return _piper(piper, t, speed)
                return _espeak(voice.split(":")[1], t, speed)

            pcm = render(text)
            speech = _trimmed(pcm)
            alone = _trimmed(render(spoken_left))
            split = boundary(speech, len(alone))
            if not _checks(whisper, speech, split, left, filler, right):
                skipped += 1
                continue
            lead = int(LEAD_S * RATE_HZ)
            rid = f"{prefix}{n:02d}-{v}"
            path = out / f"{rid}.wav"
            write_wav(path, np.concatenate([np.zeros(lead, np.int16), speech]), RATE_HZ)
            yield Rendering(
                rid, kind, left, right, filler, voice, speed, path.name,
                lead + split, lead + len(speech),
            )  # fmt: skip
    log.info("%s: %d renderings skipped (the split was not between the words)", sentences, skipped)


def make(out: Path, files: dict[str, Path], *, held_out: bool = False) -> list[Rendering]:
    """Render the corpus into `out` (the tuning set, or the held-out one) with its manifest."""
    out.mkdir(parents=True, exist_ok=True)
    source, prefix = (HELD_OUT, "h") if held_out else (SENTENCES, "s")
    made = list(renderings(source, out, prefix, files))
    with (out / f"manifest-{prefix}.jsonl").open("w") as f:
        for r in made:
            f.write(json.dumps(asdict(r)) + "\n")
    return made


def load(out: Path) -> list[Rendering]:
    return [
        Rendering(**json.loads(line))
        for manifest in sorted(out.glob("manifest-*.jsonl"))
        for line in manifest.read_text().splitlines()
    ]


def spliced(pcm: Pcm16, r: Rendering, pause_s: float, trail_s: float) -> Pcm16:
    """The rendering with `pause_s` of silence at its split and `trail_s` after its end."""
    gap = np.zeros(int(pause_s * RATE_HZ), np.int16)
    tail = np.zeros(int(trail_s * RATE_HZ), np.int16)
    return np.concatenate([pcm[: r.split_sample], gap, pcm[r.split_sample : r.end_sample], tail])
