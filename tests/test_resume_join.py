"""How the listener joins the halves of an utterance the user went on with (pure logic, on
synthetic audio)."""

from __future__ import annotations

import numpy as np

from assistant.core.frames import AudioChunk
from assistant.core.levels import pink_noise, sound_onset
from assistant.pipeline.turn_taking import LEAD_BEFORE_SOUND_NS, joined, kept

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


def test_a_sound_begins_where_it_rises_above_the_quiet_before_it() -> None:
    quiet = np.zeros(RATE // 4, np.int16)
    assert sound_onset(np.concatenate([quiet, tone(0.1)]), RATE) == len(quiet)
    # Above a room's steady noise (-50 dBFS) as well, to the frame.
    noise = pink_noise(RATE // 4 + RATE // 10, -50.0, seed=3)
    x = np.clip(np.concatenate([np.zeros(RATE // 4), tone(0.1)]) + noise, -32768, 32767)
    assert sound_onset(x.astype(np.int16), RATE) == RATE // 4
    # Nothing rises: no onset; sound from the first frame: it began before the block.
    assert sound_onset(quiet, RATE) is None
    assert sound_onset(np.concatenate([tone(0.1), quiet]), RATE) is None
    assert sound_onset(np.concatenate([tone(0.1, -70.0), quiet]), RATE) is None


def test_the_silence_before_the_user_goes_on_is_cut_to_a_lead_before_their_sound() -> None:
    first = tone(0.5)
    gap_s = 0.3  # of the second half's pre-roll, before its sound
    pre_roll = np.concatenate([np.zeros(int(gap_s * RATE), np.int16), tone(0.2, -25.0)])
    # Whisper's audio is not the VAD's while a reply sounds (`AudioChunk.for_asr`).
    rest = chunks(pre_roll, at_ns=2 * NS, for_asr=pre_roll // 2)
    out = joined(chunks(first), rest)
    kept_s = LEAD_BEFORE_SOUND_NS / NS
    second = out[len(chunks(first)) :]
    # What is kept of the pre-roll: the lead, then the sound, to the sample and on time.
    assert second[0].captured_ns == 2 * NS + int((gap_s - kept_s) * NS)
    audio = np.concatenate([c.samples for c in second])
    assert np.array_equal(audio, pre_roll[int((gap_s - kept_s) * RATE) :])
    assert np.array_equal(np.concatenate([c.heard for c in second]), audio // 2)
    assert all(c.captured_ns + c.duration_ns == c.end_ns for c in second)


def test_a_join_with_no_silence_before_the_sound_keeps_all_of_it_once() -> None:
    first = chunks(tone(0.5))
    # Speech throughout what the pre-roll holds: nothing is cut.
    rest = chunks(tone(0.3), at_ns=NS)
    assert joined(first, rest) == first + rest
    # The pre-roll reaching back into what the first half kept: that part is not there twice.
    overlap = chunks(np.concatenate([np.zeros(RATE // 10, np.int16), tone(0.3)]), at_ns=0)
    out = joined(first[:5], overlap)
    ends = [c.captured_ns for c in out]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    assert out[5].captured_ns >= first[4].end_ns


def test_a_committed_utterance_keeps_its_speech_and_a_little_of_its_silence() -> None:
    x = np.concatenate([tone(0.5), np.zeros(RATE, np.int16)])
    k = kept(chunks(x), speech_end_ns=NS // 2)
    assert k[-1].end_ns >= NS // 2 + 150_000_000 > k[-1].captured_ns
