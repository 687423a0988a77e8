"""Typed data that flows through a turn. Units are in the field names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Pcm16 = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A block of microphone audio."""

    samples: Pcm16
    """Mono 16-bit PCM."""
    sample_rate_hz: int
    captured_ns: int
    """Clock time of the chunk's first sample, corrected for the device's input latency."""
    for_asr: Pcm16 | None = None
    """What speech recognition is to hear, where it is not `samples`: while a reply sounds
    the VAD hears the echo taken out, Whisper the user as they came (`audio/echo.py`)."""

    @property
    def heard(self) -> Pcm16:
        """What speech recognition gets."""
        return self.samples if self.for_asr is None else self.for_asr

    @property
    def duration_ns(self) -> int:
        return len(self.samples) * 1_000_000_000 // self.sample_rate_hz

    @property
    def end_ns(self) -> int:
        return self.captured_ns + self.duration_ns


@dataclass(frozen=True, slots=True)
class Utterance:
    """One user utterance, end-pointed: the audio to transcribe and when the speech ended."""

    samples: Pcm16
    sample_rate_hz: int
    speech_end_ns: int
    """Audio time of the last voiced sample (not when the end-pointer decided)."""
    endpoint_ns: int
    """Clock time at which the end-pointer decided the utterance was over."""


@dataclass(frozen=True, slots=True)
class ReplyAudio:
    """Synthesised speech for one clause of the reply."""

    samples: Pcm16
    sample_rate_hz: int
    clause_index: int
