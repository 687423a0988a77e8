"""How the listener joins the halves of an utterance the user went on with (pure logic, on
synthetic audio)."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from assistant.core.clock import MONOTONIC
from assistant.core.endpoint import Endpointer, EndpointSettings, SpeechStarted, Start
from assistant.core.frames import AudioChunk
from assistant.core.levels import pink_noise, sound_onset
from assistant.core.turn_end import TurnEndSettings
from assistant.engines import TurnModels
from assistant.pipeline.context import TurnGate
from assistant.pipeline.turn_taking import (
    LEAD_BEFORE_SOUND_NS,
    OVER_ECHO_MIN_SPEECH_MS,
    TurnTaking,
    joined,
    kept,
    starting,
)

RATE = 16_000
NS = 1_000_000_000


def chunks(
    x: np.ndarray, at_ns: int = 0, block: int = 512, for_asr: np.ndarray | None = None
) -> list[AudioChunk]:
    return [
        AudioChunk(
            x[i : i + block], RATE, at_ns + i * NS // RATE,
            None if for_asr is None else for_asr[i : i + block],
        )
        for i in range(0, len(x), block)
    ]  # fmt: skip


def tone(seconds: float, dbfs: float = -20.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x: np.ndarray = np.sin(2 * np.pi * 300 * t) * 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    return x.astype(np.int16)


def noise(seconds: float, dbfs: float, seed: int = 3) -> np.ndarray:
    return pink_noise(int(seconds * RATE), dbfs, seed=seed)


def pcm(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.clip(x, -32768, 32767).astype(np.int16)
    return out


def contiguous(cs: list[AudioChunk]) -> bool:
    return all(a.end_ns == b.captured_ns for a, b in pairwise(cs))


def test_a_sound_begins_where_it_rises_above_the_quiet_before_it() -> None:
    quiet = np.zeros(RATE // 4, np.int16)
    assert sound_onset(np.concatenate([quiet, tone(0.1)]), RATE) == len(quiet)
    # Above a room's steady noise (-45 dBFS, as the pause corpus's) as well, to the frame
    # or a frame or two early (noise frames just before it may pass for its soft start).
    x = pcm(np.concatenate([np.zeros(RATE // 4), tone(0.1)]) + noise(0.35, -45.0))
    onset = sound_onset(x, RATE)
    assert onset is not None and RATE // 4 - 3 * RATE // 100 <= onset <= RATE // 4
    # Nothing rises: no onset; sound from the first frame: there.
    assert sound_onset(quiet, RATE) is None
    assert sound_onset(np.concatenate([tone(0.1), quiet]), RATE) == 0
    assert sound_onset(np.concatenate([tone(0.1, -75.0), quiet]), RATE) is None


def test_a_soft_start_over_room_noise_is_part_of_the_sound() -> None:
    # An "f" 5 dB over the room's noise for 150 ms, then the vowel: the onset is the "f".
    room = noise(0.6, -50.0)
    f = band_noise(0.15, -45.0)
    x = pcm(room + np.concatenate([np.zeros(RATE // 4), f, tone(0.2)]))
    onset = sound_onset(x, RATE)
    assert onset is not None and onset <= RATE // 4 + RATE // 100


def band_noise(seconds: float, dbfs: float) -> np.ndarray:
    """Hiss (2-6 kHz), as a fricative."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(5).standard_normal(n))
    hz = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(hz < 2000) | (hz > 6000)] = 0
    x: np.ndarray = np.fft.irfft(spectrum, n)
    x *= 32768 * 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2))
    return x


def test_the_silence_before_the_user_goes_on_is_cut_to_a_lead_before_their_sound() -> None:
    first = chunks(tone(0.5))
    gap_s = 0.3  # of the second half's pre-roll, before its sound
    pre_roll = np.concatenate([np.zeros(int(gap_s * RATE), np.int16), tone(0.2, -25.0)])
    # Whisper's audio is not the VAD's while a reply sounds (`AudioChunk.for_asr`).
    rest = chunks(pre_roll, at_ns=2 * NS, for_asr=pre_roll // 2)
    start_ns = 2 * NS + int((gap_s + 0.03) * NS)  # the VAD hears speech a little late
    out = joined(first, rest, start_ns)
    lead_s = LEAD_BEFORE_SOUND_NS / NS
    second = out[len(first) :]
    # What is kept of the pre-roll: the lead, then the sound, to the sample and on time.
    assert out[: len(first)] == first
    assert second[0].captured_ns == 2 * NS + int((gap_s - lead_s) * NS)
    audio = np.concatenate([c.samples for c in second])
    assert np.array_equal(audio, pre_roll[int((gap_s - lead_s) * RATE) :])
    assert np.array_equal(np.concatenate([c.heard for c in second]), audio // 2)
    assert contiguous(second)
    # A VAD start before the sound's onset is the bound: the lead is kept before it.
    early = joined(first, rest, 2 * NS + int(0.2 * NS))
    assert early[len(first)].captured_ns == 2 * NS + int((0.2 - lead_s) * NS)
    # Cut on a block's edge (512 samples = 32 ms): whole blocks, none empty.
    edge = joined(first, rest, 2 * NS + 20 * 512 * NS // RATE + LEAD_BEFORE_SOUND_NS)
    assert all(len(c.samples) for c in edge) and contiguous(edge[len(first) :])


def test_a_join_with_no_silence_before_the_sound_keeps_all_of_it_once() -> None:
    first = chunks(tone(0.5))
    # Speech throughout what the pre-roll holds: nothing is cut.
    rest = chunks(tone(0.3), at_ns=NS)
    assert joined(first, rest, NS + NS // 10) == first + rest
    # A soft start over room noise stays: the cut is a lead before the "f", not the vowel.
    f_then_vowel = pcm(
        noise(0.6, -50.0)
        + np.concatenate([np.zeros(RATE // 4), band_noise(0.15, -45.0), tone(0.2)])
    )
    out = joined(first, chunks(f_then_vowel, at_ns=NS), NS + int(0.42 * NS))
    assert out[len(first)].captured_ns <= NS + RATE // 4 * NS // RATE - LEAD_BEFORE_SOUND_NS
    # The pre-roll reaching back into what the first half kept: that part is not there
    # twice, and the silence before the sound is cut after it.
    kept_until = first[4].end_ns
    overlap = chunks(np.concatenate([np.zeros(RATE // 2, np.int16), tone(0.3)]), at_ns=0)
    out = joined(first[:5], overlap, NS // 2)
    assert out[5].captured_ns == NS // 2 - LEAD_BEFORE_SOUND_NS > kept_until
    assert contiguous(out[5:])


def test_a_committed_utterance_keeps_its_speech_and_a_little_of_its_silence() -> None:
    x = np.concatenate([tone(0.5), np.zeros(RATE, np.int16)])
    k = kept(chunks(x), speech_end_ns=NS // 2)
    assert k[-1].end_ns >= NS // 2 + 150_000_000 > k[-1].captured_ns


def test_going_on_is_speech_continued_but_not_over_the_reply_s_echo() -> None:
    s = EndpointSettings(threshold=0.5, neg_threshold=0.35, min_speech_ms=120)
    assert starting(s, 32, resuming=False, over_echo=True) == Start(120, 0.5)
    assert starting(s, 32, resuming=True, over_echo=False) == Start(32, 0.35)
    assert starting(s, 32, resuming=True, over_echo=True) == Start(OVER_ECHO_MIN_SPEECH_MS, 0.5)
    assert starting(s, 200, resuming=True, over_echo=True) == Start(200, 0.5)
    # Over the echo, near the level the user spoke at (what the canceller lets through of
    # the echo sounds like speech, far quieter); elsewhere, at any level.
    loud = -13.0
    assert starting(s, 32, True, over_echo=True, loudest_db=loud).min_level_db == loud - 20
    assert starting(s, 32, True, over_echo=False, loudest_db=loud).min_level_db == -math.inf
    assert starting(s, 32, False, over_echo=True, loudest_db=loud).min_level_db == -math.inf


def test_a_frame_the_vad_is_not_sure_of_starts_the_user_going_on_and_nothing_else() -> None:
    s = EndpointSettings(threshold=0.5, neg_threshold=0.35, min_speech_ms=120)
    frame_ns = 32_000_000

    def started(start: Start, prob: float) -> bool:  # within 160 ms of frames at `prob`
        ep = Endpointer(s)
        ep.start = start
        events = [ep.update(prob, i * frame_ns, (i + 1) * frame_ns) for i in range(5)]
        return any(isinstance(e, SpeechStarted) for e in events)

    assert started(starting(s, 32, resuming=True, over_echo=False), 0.4)
    assert started(starting(s, 32, resuming=False, over_echo=False), 0.6)
    assert not started(starting(s, 32, resuming=False, over_echo=False), 0.4)
    assert not started(starting(s, 32, resuming=True, over_echo=True), 0.4)
    assert not started(starting(s, 32, resuming=True, over_echo=False), 0.3)


def turn_taking() -> TurnTaking:
    """Turn-taking with no turn models and the default 1.5 s window."""
    return TurnTaking(
        Endpointer(), MONOTONIC, TurnEndSettings(), models=TurnModels(), resume_window_ms=1500
    )


async def test_the_level_expected_of_the_user_going_on_is_of_all_they_said_before() -> None:
    # The end-pointer measures the utterance since it last started: after the user went on,
    # only the second half. A quiet afterthought would lower the level the echo is held to.
    taking = turn_taking()
    said = chunks(tone(0.5))
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-10.0)
    assert taking.committed_peak_db == -10.0
    taking.resume(NS, output_latency_s=0.0, over_echo=False)
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-30.0)
    assert taking.committed_peak_db == -10.0
    # A new utterance, not gone on with, is its own.
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-30.0)
    assert taking.committed_peak_db == -30.0


async def test_the_user_goes_on_over_the_echo_once_in_a_row() -> None:
    # A second time in a row is more likely the reply's echo again than the user: live,
    # what the canceller let through of one reply went on with it, the next reply's echo
    # with that, seven times over.
    taking = turn_taking()
    said = chunks(tone(0.5))
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-10.0)
    assert taking.going_on_level_db == -10.0
    taking.resume(NS, output_latency_s=0.0, over_echo=True)
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-12.0)
    assert taking.going_on_level_db == math.inf
    s = EndpointSettings()
    assert starting(s, 32, True, True, taking.going_on_level_db).min_level_db == math.inf
    # Before the reply sounded (no echo), the user may go on again.
    taking.resume(NS, output_latency_s=0.0, over_echo=False)
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-12.0)
    assert taking.going_on_level_db == -10.0
    # A new utterance may go on over the echo.
    taking.resume(NS, output_latency_s=0.0, over_echo=True)
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-12.0)
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-12.0)
    assert taking.going_on_level_db == -12.0


async def test_an_utterance_gone_on_with_and_never_committed_leaves_nothing_to_the_next() -> None:
    # Going on over the echo, then dropped (muted, or the microphone reset): the next
    # utterance, new, is neither barred from going on nor held to the dropped one's level.
    taking = turn_taking()
    said = chunks(tone(0.5))
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-10.0)
    taking.resume(NS, output_latency_s=0.0, over_echo=True)
    taking.afresh()  # a new utterance starts: the listener says so
    taking.commit(TurnGate(), said, NS // 2, lambda: None, peak_db=-30.0)
    assert taking.going_on_level_db == -30.0
