"""End-pointing state machine and VAD framing, with plain numbers."""

from __future__ import annotations

import numpy as np

from assistant.endpoint import (
    Ended,
    Endpointer,
    EndpointSettings,
    Event,
    Paused,
    Resumed,
    SpeechStarted,
    looks_incomplete,
)
from assistant.vad import Reframer

FRAME_MS = 32


def run(probs: list[float], settings: EndpointSettings | None = None) -> list[tuple[int, Event]]:
    """Feed 32 ms frames; return (frame index, event) pairs."""
    ep = Endpointer(settings)
    out: list[tuple[int, Event]] = []
    for i, p in enumerate(probs):
        ev = ep.update(p, i * FRAME_MS * 1_000_000, (i + 1) * FRAME_MS * 1_000_000)
        if ev is not None:
            out.append((i, ev))
    return out


def ms(n_frames: int) -> int:
    return n_frames * FRAME_MS * 1_000_000


def test_utterance_starts_pauses_and_ends_with_audio_times() -> None:
    probs = [0.0] * 5 + [0.9] * 20 + [0.1] * 30
    events = run(probs)
    assert events[0] == (8, SpeechStarted(ms(5)))  # 4 frames = 128 ms >= min_speech 120 ms
    assert events[1] == (31, Paused(ms(25)))  # speech end = end of the last voiced frame
    assert events[2] == (43, Ended(ms(25), "silence"))  # 19 frames = 608 ms >= 600 ms hold
    assert len(events) == 3


def test_a_short_burst_is_not_speech() -> None:
    assert run([0.0, 0.9, 0.9, 0.9, 0.0, 0.0] + [0.0] * 30) == []


def test_a_hesitation_shorter_than_the_hold_is_one_utterance() -> None:
    # 0.45 s pause (14 frames = 448 ms) between two halves of one sentence.
    probs = [0.9] * 30 + [0.05] * 14 + [0.9] * 25 + [0.05] * 30
    events = [ev for _, ev in run(probs)]
    assert events == [
        SpeechStarted(0),
        Paused(ms(30)),
        Resumed(),
        Paused(ms(69)),
        Ended(ms(69), "silence"),
    ]


def test_hysteresis_keeps_weak_frames_inside_speech() -> None:
    probs = [0.9] * 10 + [0.4, 0.4, 0.9] * 5 + [0.0] * 30
    events = [ev for _, ev in run(probs)]
    assert events == [SpeechStarted(0), Paused(ms(25)), Ended(ms(25), "silence")]


def test_incomplete_transcript_extends_the_hold() -> None:
    ep = Endpointer()
    events = []
    for i, p in enumerate([0.9] * 10 + [0.0] * 40):
        ev = ep.update(p, ms(i), ms(i + 1))
        if isinstance(ev, Paused):
            ep.set_incomplete(True)
        if ev is not None:
            events.append((i, ev))
    # Ends after 1000 ms of silence instead of 600 ms: 32 frames after the speech.
    assert events[-1] == (41, Ended(ms(10), "silence"))


def test_max_utterance_length_ends_the_turn() -> None:
    events = [ev for _, ev in run([0.9] * 200, EndpointSettings(max_utterance_ms=3000))]
    assert events[1] == Ended(ms(93), "max_length")
    assert events[2] == SpeechStarted(ms(94))  # speech that goes on is a new utterance


def test_looks_incomplete() -> None:
    for text in [
        "Turn on the",
        "What is the capital of",
        "Set a timer for...",
        "I want to,",
        "",
        "Remind me to call mom and",
    ]:
        assert looks_incomplete(text), text
    for text in [
        "What is the capital of France?",
        "Turn on the kitchen lights.",
        "What time is it",
        "Why is the sky blue?",
        "Remind me to call mom at 6.",  # a number ends it: Whisper writes digits
        "Set the living room to 21",
        "Dim the lights to 30%",
    ]:
        assert not looks_incomplete(text), text


def test_reframer_keeps_audio_time() -> None:
    r = Reframer(frame_samples=512, rate_hz=16_000)
    frames = r.push(np.zeros(320, np.int16), captured_ns=1_000_000_000)
    assert frames == []
    frames = r.push(np.ones(320, np.int16), captured_ns=1_020_000_000)
    assert len(frames) == 1
    samples, start, end = frames[0]
    assert (start, end) == (1_000_000_000, 1_032_000_000)
    assert samples[:320].sum() == 0 and samples[320:].sum() == 192
    frames = r.push(np.ones(896, np.int16), captured_ns=1_040_000_000)
    assert [(s, e) for _, s, e in frames] == [
        (1_032_000_000, 1_064_000_000),
        (1_064_000_000, 1_096_000_000),
    ]
