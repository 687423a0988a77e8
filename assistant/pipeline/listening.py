"""What the listener is doing (the state MQTT and sd_notify show) and its settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from annotated_types import Ge, Le


class ListenState(StrEnum):
    IDLE = "idle"
    WAKE = "wake"
    """The wake word was heard."""
    LISTENING = "listening"
    THINKING = "thinking"
    """The utterance is over; the reply is being made."""
    SPEAKING = "speaking"
    """The reply (or an announcement) is sounding."""


@dataclass(frozen=True, slots=True)
class ListenSettings:
    """A pipeline's `[listen]`: whether the microphone is heard while the assistant speaks."""

    half_duplex: bool = True
    """Deaf while speaking: with no echo cancellation, the assistant would hear itself."""
    barge_in: bool = False
    """Speech during a reply cancels it (headphones, or echo cancellation)."""
    echo_cancel: bool = False
    """Take the reply's echo out of the microphone (WebRTC AEC3, `audio/echo.py`), so the
    user can be heard going on while the reply sounds; where it cannot run, half-duplex.
    Off by default until it has been tried in more rooms than PulseAudio's loopback (where,
    with the double-talk check, a user going on during the reply was heard whole and its
    own voice never was: `tests/test_echo_room_live.py`)."""
    echo_tail_ms: Annotated[int, Ge(0), Le(3000)] = 300
    """After a reply ends, the microphone stays deaf this long (room echo, device latency)."""
    resume_window_ms: Annotated[int, Ge(0), Le(10_000)] = 1500
    """After a commit, speech this soon is the user going on: the reply stops at once, and
    both halves are heard and answered together as one turn. An action the first half
    asked for waits until then (0: no recovery). Half-duplex, only until the reply sounds."""
    resume_min_speech_ms: Annotated[int, Ge(32), Le(2000)] = 32
    """In that window, this much speech is the user going on (less than the end-pointer's
    `min_speech_ms`: the reply has to stop within ~150 ms of their voice). One VAD frame:
    on the pause corpus's splits (`assistant eot recover`; all of them, a filler before the
    pause or not; at `threshold`), the utterance started p50 85 ms, p95 160 ms after the
    voice with 64 (two frames), p50 53, p95 128 ms with 32 (held out; tuning: 79/134 and
    47/88 ms); live, through the null sinks, the reply stopped 42-45 ms
    after the voice, output latency included (75-82 with 64). It started early once in 511,
    on a word's tail where the corpus had spliced the pause in (the user's own sound);
    steady room noise started none, nor did 288 synthetic breaths, coughs, knocks, clicks,
    clatters and rustles at -35 to -15 dBFS, quiet or in noise (none did with 64 either).
    A sound one frame does take for speech stops the reply, and the turn is answered
    again. The frame need only be at `neg_threshold` (speech continued:
    `turn_taking.starting` has the figures). Over a reply's echo (`echo_cancel`, while it
    sounds) two frames at the full threshold are needed all the same
    (`turn_taking.OVER_ECHO_MIN_SPEECH_MS`): a frame of the echo the canceller lets through
    is not the user."""
