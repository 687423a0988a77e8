"""Wake words: pymicro-wakeword's bundled microWakeWord models (TFLite, no TensorFlow), and
removing the wake phrase from a transcript. The detector runs where the audio arrives."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, get_args

from annotated_types import Ge, Gt, Le

from assistant.core.errors import ConfigError
from assistant.core.frames import Pcm16

Bundled = Literal["okay_nabu", "hey_jarvis", "hey_mycroft", "alexa"]
"""pymicro-wakeword's bundled models."""
BUNDLED: tuple[str, ...] = get_args(Bundled)


@dataclass(frozen=True, slots=True)
class WakeWordSettings:
    """A pipeline's `[wake_word]`: only utterances with the wake word (or within the windows
    below) are turns."""

    name: Bundled = "okay_nabu"
    awake_s: Annotated[float, Gt(0), Le(30)] = 5.0
    """After the wake word (or a push-to-talk press), how long the question may take to
    start."""
    follow_up_s: Annotated[float, Ge(0), Le(60)] = 5.0
    """After a reply, how long a follow-up needs no wake word (0: always needed)."""


class WakeWordDetector(Protocol):
    phrase: str

    def process(self, samples: Pcm16) -> bool:
        """Feed 16 kHz audio; True when the wake word has just been heard."""
        ...

    def reset(self) -> None: ...


class MicroWakeWordDetector:
    def __init__(self, name: str) -> None:
        from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model

        try:
            self._model: Any = MicroWakeWord.from_builtin(Model(name))
        except ValueError:
            raise ConfigError(
                f"unknown wake word {name!r} (bundled: {', '.join(BUNDLED)})"
            ) from None
        self._features: Any = MicroWakeWordFeatures()
        self.phrase = str(self._model.wake_word)

    def process(self, samples: Pcm16) -> bool:
        heard = False
        for features in self._features.process_streaming(samples.astype("<i2").tobytes()):
            if self._model.process_streaming(features):
                heard = True
        return heard

    def reset(self) -> None:
        self._model.reset()
        self._features.reset()


def strip_wake_phrase(transcript: str, phrase: str) -> str:
    """The transcript without a leading wake phrase ("Okay, Nabu. What time is it?" ->
    "What time is it?"), for an utterance the wake word was heard in. Whisper spells
    made-up names freely, so words match loosely; and it drops or mangles one word of them
    ("okay," for "Okay Nabu."), so leading words that closely match the phrase's first or
    last words are taken off too; and a phrase said (or written) again after it."""
    want = [w for w in re.findall(r"[a-z]+", phrase.lower()) if w]
    words = list(re.finditer(r"[A-Za-z']+", transcript))
    if not want or not words:
        return transcript.strip()
    # The whole phrase over the first few words, allowing one word more or fewer; else
    # its longest first or last words alone, matched more closely.
    span = _leading_match(words, want, range(max(1, len(want) - 1), len(want) + 2), 0.7)
    parts = [want[:k] for k in range(1, len(want))] + [want[k:] for k in range(1, len(want))]
    for part in sorted(parts, key=len, reverse=True):
        if span:
            break
        span = _leading_match(words, part, [len(part)], 0.8)
    if span == 0:
        return transcript.strip()
    rest = transcript[words[span - 1].end() :].lstrip(" ,.!?;:-").strip()
    # Prompted with the phrase, Whisper sometimes writes it twice ("Okay Nabu Okay Nabu").
    return strip_wake_phrase(rest, phrase) if rest else rest


def _leading_match(
    words: list[re.Match[str]], want: list[str], spans: Iterable[int], least: float
) -> int:
    """How many of the first `words` best match `want` (one of `spans`), if as well as
    `least` (a difflib ratio); else 0."""
    target = " ".join(want)
    best_span, best_ratio = 0, 0.0
    for span in spans:
        if span > len(words):
            break
        said = " ".join(m.group(0).lower() for m in words[:span])
        ratio = difflib.SequenceMatcher(a=said, b=target).ratio()
        if ratio > best_ratio:
            best_span, best_ratio = span, ratio
    return best_span if best_ratio >= least else 0
