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
    """An open speaker: the assistant would hear itself. With `echo_cancel`, the microphone is
    heard through the reply only while the user may go on (`resume_window_ms`); without it,
    or where it cannot run, deaf while speaking. `false`: headphones (heard throughout)."""
    barge_in: bool = False
    """Speech during a reply cancels it (headphones, or echo cancellation)."""
    echo_cancel: bool = True
    """Take the reply's echo out of the microphone (WebRTC AEC3, `audio/echo.py`), so the
    user can be heard going on while the reply sounds and a confident end commits at
    `eager_ms` (200), not `half_duplex_eager_ms` (500). Where it cannot run (`livekit` will
    not load), half-duplex, said at start. Tried in PulseAudio's loopback
    (`tests/test_echo_room_live.py`; with the echo as loud as the user,
    `tests/test_daemon.py`) and in simulated dry and reverberant rooms (`scripts/double-talk`:
    its own echo started an utterance in none of 320 replies; the user going on was heard
    155 of 160 times, every miss with the echo as loud as them); not in real rooms. `false`
    where it hears itself."""
    echo_tail_ms: Annotated[int, Ge(0), Le(3000)] = 300
    """After a reply ends, the microphone stays deaf this long (room echo, device latency)."""
    resume_window_ms: Annotated[int, Ge(0), Le(10_000)] = 1500
    """After a commit, speech this soon is the user going on: the reply stops at once, and
    both halves are heard and answered together as one turn. An action the first half
    asked for waits until then (0: no recovery). Half-duplex, only until the reply sounds."""
    resume_min_speech_ms: Annotated[int, Ge(32), Le(2000)] = 32
    """In that window, this much speech is the user going on (less than the end-pointer's
    `min_speech_ms`: the reply has to stop within ~150 ms of their voice), at
    `neg_threshold`, not `threshold`; over the reply's echo, two frames at `threshold`
    (`turn_taking.starting` decides, and has today's figures). One frame, not two: on the
    pause corpus's splits (`assistant eot recover`, all of them, at `threshold`, when it was
    chosen) the utterance started p50 53, p95 128 ms after the voice against 85 / 160 ms
    with two (held out; tuning 47/88 against 79/134); live, through the null sinks, the reply
    stopped 42-45 ms after the voice, output latency included (75-82 with two). One frame
    started early once in 511 splits, on a word's tail where the corpus had spliced the
    pause in; steady room noise started none, nor did 288 synthetic breaths, coughs, knocks,
    clicks, clatters and rustles. A sound taken for speech stops the reply, and the turn is
    answered again."""
