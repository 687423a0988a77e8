"""End-pointing state machine and VAD framing, with plain numbers."""

from __future__ import annotations

import numpy as np

from assistant.audio.vad import Reframer
from assistant.core.endpoint import (
    Ended,
    Endpointer,
    EndpointSettings,
    Event,
    Paused,
    Resumed,
    SpeechStarted,
    Start,
    looks_incomplete,
)

FRAME_MS = 32


SETTINGS = EndpointSettings(pause_ms=200)
"""The frame numbers below were worked out for a 200 ms pause (the pipelines run 100)."""


def run(probs: list[float], settings: EndpointSettings | None = None) -> list[tuple[int, Event]]:
    """Feed 32 ms frames; return (frame index, event) pairs."""
    ep = Endpointer(settings or SETTINGS)
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
    assert events[2] == (40, Ended(ms(25), "silence"))  # 16 frames = 512 ms >= 500 ms hold
    assert len(events) == 3


def test_speech_quieter_than_the_start_asks_starts_nothing_and_the_loudest_part_is_told() -> None:
    # Over the reply's echo the listener asks for speech near the user's own level: what
    # the canceller lets through sounds like speech, far quieter.
    def first_event(level_db: float) -> Event | None:
        ep = Endpointer(SETTINGS)
        ep.start = Start(64, 0.5, min_level_db=-33.0)
        events = [ep.update(0.9, ms(i), ms(i + 1), [level_db] * 4) for i in range(10)]
        events += [ep.update(0.0, ms(i), ms(i + 1), [-90.0] * 4) for i in range(10, 40)]
        return next((e for e in events if e is not None), None)

    assert first_event(-50.0) is None
    assert first_event(-30.0) == SpeechStarted(0)
    # The utterance's loudest part goes with its end (the listener keeps it at a commit).
    ep = Endpointer(SETTINGS)
    levels = [[-20.0, -12.5, -30.0, -25.0]] * 10 + [[-90.0] * 4] * 30
    events = [ep.update(p, ms(i), ms(i + 1), lv) for i, (p, lv) in enumerate(
        zip([0.9] * 10 + [0.0] * 30, levels, strict=True))]  # fmt: skip
    ended = [e for e in events if isinstance(e, Ended)]
    assert [e.peak_db for e in ended] == [-12.5]


def test_a_short_burst_is_not_speech() -> None:
    assert run([0.0, 0.9, 0.9, 0.9, 0.0, 0.0] + [0.0] * 30) == []


def test_a_hesitation_shorter_than_the_hold_is_one_utterance() -> None:
    # 0.45 s pause (14 frames = 448 ms) between two halves of one sentence.
    probs = [0.9] * 30 + [0.05] * 14 + [0.9] * 25 + [0.05] * 30
    events = [ev for _, ev in run(probs)]
    assert events == [
        SpeechStarted(0),
        Paused(ms(30)),
        Resumed(ms(14)),
        Paused(ms(69)),
        Ended(ms(69), "silence"),
    ]


def test_hysteresis_keeps_weak_frames_inside_speech() -> None:
    probs = [0.9] * 10 + [0.4, 0.4, 0.9] * 5 + [0.0] * 30
    events = [ev for _, ev in run(probs)]
    assert events == [SpeechStarted(0), Paused(ms(25)), Ended(ms(25), "silence")]


def test_a_hold_set_at_the_pause_decides_when_it_ends_and_the_next_pause_starts_afresh() -> None:
    ep = Endpointer(SETTINGS)
    events = []
    for i, p in enumerate([0.9] * 10 + [0.0] * 40):
        ev = ep.update(p, ms(i), ms(i + 1))
        if isinstance(ev, Paused):
            ep.set_hold(1000)
        if ev is not None:
            events.append((i, ev))
    # Ends after 1000 ms of silence instead of 500 ms: 32 frames after the speech.
    assert events[-1] == (41, Ended(ms(10), "silence"))
    # Speech again before it ran out: that pause's hold is gone.
    ep = Endpointer(SETTINGS)
    held = [0.9] * 10 + [0.0] * 10 + [0.9] * 10 + [0.0] * 40
    ended = []
    for i, p in enumerate(held):
        ev = ep.update(p, ms(i), ms(i + 1))
        if isinstance(ev, Paused) and i < 20:
            ep.set_hold(1000)
        if isinstance(ev, Ended):
            ended.append(i)
    assert ep.hold_ms == 500 and ended == [30 + 16 - 1]


def run_with_levels(frames: list[tuple[float, float]]) -> list[tuple[int, Event]]:
    """Feed (probability, level dBFS) per 32 ms frame."""
    ep = Endpointer(SETTINGS)
    out: list[tuple[int, Event]] = []
    for i, (p, level) in enumerate(frames):
        ev = ep.update(p, ms(i), ms(i + 1), level)
        if ev is not None:
            out.append((i, ev))
    return out


QUIET, SPEECH, FRICATIVE = -100.0, -15.0, -35.0  # dBFS: digital silence; 20 dB down


def test_a_fading_last_consonant_the_vad_lets_go_delays_the_hold() -> None:
    # "minutes": the final "s" (7 frames, 20 dB down, one dip) the VAD does not call speech.
    tail = [(0.1, FRICATIVE)] * 2 + [(0.1, -60.0)] + [(0.1, FRICATIVE)] * 4
    events = run_with_levels([(0.0, QUIET)] * 5 + [(0.9, SPEECH)] * 20 + tail + [(0.0, QUIET)] * 30)
    assert events[1] == (31, Paused(ms(32)))  # the pause is the VAD's; the speech ends with
    assert events[2] == (47, Ended(ms(32), "silence"))  # the "s", and the hold counts from it


def test_the_pause_starts_when_the_sound_stops_though_the_vad_still_says_speech() -> None:
    # Silero's state outlasts the speech: it calls 4 frames of digital silence speech.
    lag = [(0.6, QUIET)] * 4
    events = run_with_levels([(0.9, SPEECH)] * 20 + lag + [(0.0, QUIET)] * 30)
    # The first frame the VAD calls silence is 128 ms after the sound; the pause (200 ms)
    # comes at the first such frame 200 ms after the sound, not 200 ms after the VAD let go.
    assert events[1] == (26, Paused(ms(20)))
    assert events[2] == (35, Ended(ms(20), "silence"))
    # The VAD alone (no levels) puts the end of speech and the pause 4 frames later.
    plain = run([p for p, _ in [(0.9, SPEECH)] * 20 + lag + [(0.0, QUIET)] * 30])
    assert plain[1] == (30, Paused(ms(24)))


def test_sound_long_after_the_speech_is_not_speech() -> None:
    # A noise that goes on delays the hold by 250 ms at most (7 frames = 224 ms).
    events = run_with_levels([(0.9, SPEECH)] * 20 + [(0.1, FRICATIVE)] * 60)
    assert events[1] == (26, Paused(ms(27)))
    assert events[2] == (42, Ended(ms(27), "silence"))  # 16 frames after frame 26


def test_a_word_that_opens_softly_ends_the_pause_where_its_sound_starts() -> None:
    # 14 frames (448 ms) of silence, then "sky": 6 frames of "s" before the VAD hears a vowel.
    second = [(0.1, FRICATIVE)] * 6 + [(0.9, SPEECH)] * 10
    events = run_with_levels(
        [(0.9, SPEECH)] * 20 + [(0.0, QUIET)] * 14 + second + [(0.0, QUIET)] * 25
    )
    assert [ev for _, ev in events][:4] == [
        SpeechStarted(0),
        Paused(ms(20)),
        Resumed(ms(14)),  # not 20 frames (640 ms), which would have ended the turn
        Paused(ms(50)),
    ]
    # Without the levels the same frames end the turn in the middle of the "s".
    plain = run([p for p, _ in [(0.9, SPEECH)] * 20 + [(0.0, QUIET)] * 14 + second])
    assert plain[2] == (35, Ended(ms(20), "silence"))


def test_noise_in_a_pause_delays_the_end_by_at_most_250_ms() -> None:
    noise = [(0.1, FRICATIVE)] * 60  # the VAD never calls it speech
    events = run_with_levels([(0.9, SPEECH)] * 20 + [(0.0, QUIET)] * 15 + noise)
    ended = [(i, ev) for i, ev in events if isinstance(ev, Ended)]
    # Without the noise the turn ends at frame 35 (16 frames after the speech); the noise,
    # from frame 35 on (before the hold ran out), holds it until 250 ms after it began
    # (frame 42), no longer.
    assert ended == [(42, Ended(ms(20), "silence"))]


def test_the_room_s_steady_noise_is_not_sound() -> None:
    hum = -50.0  # a fan: within 35 dB of the speech, but it was there before the speech
    frames = [(0.0, hum)] * 100 + [(0.9, SPEECH)] * 20 + [(0.0, hum)] * 30
    events = run_with_levels(frames)
    assert events[1] == (126, Paused(ms(120)))
    # Not held 250 ms by the hum as sound; the hold is grown by what the hum hides (sound
    # from -40.3 dBFS, 9.7 dB above the speech's range: 78 ms): 578 ms, ended at frame 138.
    assert events[2] == (138, Ended(ms(120), "silence"))


def test_the_hold_grows_with_the_noise_that_hides_the_edges_of_words() -> None:
    # A pause heard as 544 ms (17 frames): over in a quiet room; in a room whose noise hides
    # the quiet ends and starts of words (they were longer than heard), the hold is longer.
    def utterance(room: float) -> list[tuple[float, float]]:
        speech = [(0.9, SPEECH)] * 20
        return [(0.0, room)] * 100 + speech + [(0.0, room)] * 17 + speech + [(0.0, room)] * 30

    quiet = [ev for _, ev in run_with_levels(utterance(QUIET))]
    assert [type(ev) for ev in quiet[:3]] == [SpeechStarted, Paused, Ended]
    fan = [ev for _, ev in run_with_levels(utterance(-50.0))]
    assert [type(ev) for ev in fan[:4]] == [SpeechStarted, Paused, Resumed, Paused]
    assert fan[2] == Resumed(ms(17))
    # Noise below the speech's own range hides nothing, and costs nothing.
    low_hum = [(i, ev) for i, ev in run_with_levels(utterance(-62.0)) if isinstance(ev, Ended)]
    assert low_hum[0] == (135, Ended(ms(120), "silence"))


def test_the_room_s_noise_is_remembered_across_a_reset() -> None:
    # The listener resets the end-pointer when it goes deaf mid-utterance; the room is the
    # same room after it.
    hum = -50.0
    ep = Endpointer(SETTINGS)
    for i in range(100):
        ep.update(0.0, ms(i), ms(i + 1), hum)
    ep.reset()
    events = [
        ep.update(p, ms(i), ms(i + 1), lv)
        for i, (p, lv) in enumerate([(0.9, SPEECH)] * 20 + [(0.0, hum)] * 30)
    ]
    # Not held 250 ms longer by the hum: the hold it grows (578 ms) ends it at frame 38.
    assert events[38] == Ended(ms(20), "silence")


P = 8 * 1_000_000  # a quarter of a frame: the parts the listener measures the level in


def after_speech(silent_frames: int) -> Endpointer:
    """An end-pointer fed 20 frames of speech, then this many of digital silence, in parts."""
    ep = Endpointer(SETTINGS)
    for i in range(20):
        ep.update(0.9, ms(i), ms(i + 1), [SPEECH] * 4)
    for i in range(20, 20 + silent_frames):
        assert not isinstance(ep.update(0.05, ms(i), ms(i + 1), [QUIET] * 4), Ended)
    return ep


def test_the_levels_of_a_frame_s_parts_place_the_end_of_the_sound_within_it() -> None:
    ep = after_speech(0)
    # The word ends 8 ms into frame 20; Silero, remembering it, still says speech there,
    # and once more over digital silence.
    assert ep.update(0.9, ms(20), ms(21), [SPEECH, QUIET, QUIET, QUIET]) is None
    assert ep.update(0.6, ms(21), ms(22), [QUIET] * 4) is None
    events = [(i, ep.update(0.05, ms(i), ms(i + 1), [QUIET] * 4)) for i in range(22, 40)]
    ended = [(i, ev) for i, ev in events if isinstance(ev, Ended)]
    # The speech ended with the sound, at 648 ms; the hold counts from there and runs out
    # at 1148 ms, within frame 35 (not 56 ms later, as it would from the VAD's end).
    assert ended == [(35, Ended(ms(20) + P, "silence"))]


def test_the_hold_can_run_out_between_two_frames() -> None:
    ep = after_speech(15)  # 480 ms of silence
    # 10 ms blocks after the last whole frame: the hold (500 ms) runs out at 1140 ms.
    assert ep.tick(ms(35) + 10_000_000, QUIET) is None
    assert ep.tick(ms(35) + 20_000_000, QUIET) == Ended(ms(20), "silence")


def test_sound_between_two_frames_leaves_the_end_to_the_next_frame() -> None:
    ep = after_speech(15)
    assert ep.tick(ms(35) + 20_000_000, FRICATIVE) is None  # the next word may be starting
    # The frame's parts say where: 12 ms into frame 35, before the hold ran out at 1140
    # ms, so the end waits for the VAD; it calls the word speech in the next frame.
    assert ep.update(0.1, ms(35), ms(36), [QUIET, FRICATIVE, FRICATIVE, SPEECH]) is None
    assert ep.update(0.9, ms(36), ms(37), [SPEECH] * 4) == Resumed(ms(15) + P)


def test_speech_again_after_a_pause_counts_even_when_too_soft_to_place() -> None:
    ep = after_speech(10)
    # The VAD hears the user again, but no part stands out from the noise.
    assert isinstance(ep.update(0.9, ms(30), ms(31), [QUIET] * 4), Resumed)
    events = [ep.update(0.05, ms(i), ms(i + 1), [QUIET] * 4) for i in range(31, 60)]
    # The hold counts from the end of that frame, not from the speech before the pause.
    assert events.index(Ended(ms(31), "silence")) == 15


def test_max_utterance_length_ends_the_turn() -> None:
    events = [
        ev for _, ev in run([0.9] * 200, EndpointSettings(pause_ms=200, max_utterance_ms=3000))
    ]
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
    # Audio short of a frame stays pending; an empty buffer starts at the capture time,
    # and what is left after a frame ends on the frames' timeline, not the capture clock.
    assert r.push(np.ones(160, np.int16), captured_ns=1_097_000_000) == []
    assert len(r.pending) == 160 and r.pending_end_ns == 1_107_000_000
    frames = r.push(np.ones(480, np.int16), captured_ns=1_110_000_000)
    assert [(s, e) for _, s, e in frames] == [(1_097_000_000, 1_129_000_000)]
    assert len(r.pending) == 128 and r.pending_end_ns == 1_137_000_000
