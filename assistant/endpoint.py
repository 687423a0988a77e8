"""End-pointing as a pure state machine over per-frame speech probabilities.

Two thresholds of silence matter. At `pause_ms` the utterance *may* be over: the listener
starts the turn speculatively (ASR, LLM and TTS run while the user is silent). At the hold
(`hold_ms`, or `incomplete_hold_ms` when the partial transcript plainly runs on) it *is*
over and the reply may play. Speech before the hold resumes the utterance and the
speculative turn is dropped, so a natural hesitation never splits a sentence, and the hold
costs little: the reply is being prepared while it runs. No audio, no asyncio here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    threshold: float = 0.5
    """Speech probability at or above which a frame is speech."""
    neg_threshold: float = 0.35
    """Below this a frame is silence (in between, the current state holds)."""
    min_speech_ms: int = 120
    """Shorter bursts (a click, a cough) do not start an utterance."""
    pause_ms: int = 200
    """Silence after which the turn starts speculatively."""
    hold_ms: int = 600
    """Silence after which the utterance is over and the reply may play."""
    incomplete_hold_ms: int = 1000
    """The hold when the partial transcript plainly runs on ("turn on the ...")."""
    max_utterance_ms: int = 15_000
    pre_roll_ms: int = 300
    """Audio kept from before the speech started, so the first syllable is never lost."""


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    start_ns: int


@dataclass(frozen=True, slots=True)
class Paused:
    speech_end_ns: int
    """Audio time at which the speech stopped (end of the last voiced frame)."""


@dataclass(frozen=True, slots=True)
class Resumed:
    pass


@dataclass(frozen=True, slots=True)
class Ended:
    speech_end_ns: int
    reason: str
    """"silence" or "max_length"."""


Event = SpeechStarted | Paused | Resumed | Ended


class _State(Enum):
    IDLE = "idle"
    SPEECH = "speech"


class Endpointer:
    def __init__(self, settings: EndpointSettings | None = None) -> None:
        self.s = settings or EndpointSettings()
        self.hold_ms = self.s.hold_ms
        self.reset()

    def reset(self) -> None:
        self._state = _State.IDLE
        self._candidate_ns: int | None = None  # start of a burst not yet long enough
        self._start_ns = 0
        self._last_voiced_end_ns = 0
        self._paused = False
        self.hold_ms = self.s.hold_ms

    @property
    def in_speech(self) -> bool:
        return self._state is _State.SPEECH

    def set_incomplete(self, incomplete: bool) -> None:
        """The partial transcript runs on: wait longer before ending the utterance."""
        self.hold_ms = self.s.incomplete_hold_ms if incomplete else self.s.hold_ms

    def update(self, prob: float, start_ns: int, end_ns: int) -> Event | None:
        """Feed one frame's speech probability with its audio start and end times."""
        if self._state is _State.IDLE:
            return self._idle(prob, start_ns, end_ns)
        return self._speech(prob, end_ns)

    def _idle(self, prob: float, start_ns: int, end_ns: int) -> Event | None:
        if prob < self.s.threshold:
            self._candidate_ns = None
            return None
        if self._candidate_ns is None:
            self._candidate_ns = start_ns
        if end_ns - self._candidate_ns >= self.s.min_speech_ms * 1_000_000:
            self._state = _State.SPEECH
            self._start_ns = self._candidate_ns
            self._last_voiced_end_ns = end_ns
            self._paused = False
            self.hold_ms = self.s.hold_ms
            return SpeechStarted(self._start_ns)
        return None

    def _speech(self, prob: float, end_ns: int) -> Event | None:
        if end_ns - self._start_ns >= self.s.max_utterance_ms * 1_000_000:
            return self._end("max_length")
        # Hysteresis: within speech a weaker frame still counts; after a pause only a
        # confident one resumes the utterance.
        if prob >= (self.s.threshold if self._paused else self.s.neg_threshold):
            self._last_voiced_end_ns = end_ns
            if self._paused:
                self._paused = False
                self.hold_ms = self.s.hold_ms
                return Resumed()
            return None
        silence_ms = (end_ns - self._last_voiced_end_ns) / 1_000_000
        if silence_ms >= self.hold_ms:
            return self._end("silence")
        if not self._paused and silence_ms >= self.s.pause_ms:
            self._paused = True
            return Paused(self._last_voiced_end_ns)
        return None

    def finish(self) -> Ended | None:
        """The input ended: end the utterance in progress, if any."""
        return self._end("end_of_input") if self._state is _State.SPEECH else None

    def _end(self, reason: str) -> Ended:
        end = self._last_voiced_end_ns
        self._state = _State.IDLE
        self._candidate_ns = None
        self._paused = False
        return Ended(end, reason)


_RUNS_ON = re.compile(
    r"\b(the|a|an|to|of|and|or|but|for|with|in|on|at|my|your|is|are|was|what's|what|"
    r"how|which|who|whether|because|so|then|um|uh|er|if|from|into|about|than)$"
)


def looks_incomplete(transcript: str) -> bool:
    """True when a partial transcript plainly runs on: it ends in a word that cannot end a
    sentence, or with a trailing ellipsis or comma."""
    text = transcript.strip().lower()
    if not text:
        return True
    if text.endswith(("...", "…", ",", "-")):
        return True
    return bool(_RUNS_ON.search(re.sub(r"[^a-z0-9' ]+", " ", text).strip()))
