"""Level rules on audio (pure numpy)."""

import numpy as np

from assistant.levels import audible_start, part_levels_dbfs, speech_end_sample


def test_audible_start_skips_inaudible_lead_but_keeps_5_ms_before_the_sound() -> None:
    rate = 22_050
    lead = np.full(rate * 30 // 1000, 2, np.int16)  # -84 dBFS: Piper's way to start
    sound = (np.sin(np.arange(rate // 10) / 5) * 3000).astype(np.int16)
    x = np.concatenate([lead, sound])
    start = audible_start(x, rate)
    assert start == len(lead) + 1 - rate * 5 // 1000  # sin(0) = 0: the sound's 2nd sample
    assert audible_start(sound, rate) == 0
    assert audible_start(lead, rate) == len(lead)
    assert audible_start(np.zeros(0, np.int16), rate) == 0


def test_speech_end_is_the_last_frame_within_35_db_of_the_loudest() -> None:
    rate = 16_000
    loud = np.full(rate // 10, 10_000, np.int16)
    faint = np.full(rate // 10, 10_000 // 100, np.int16)  # -40 dB: not speech
    assert speech_end_sample(np.concatenate([loud, faint]), rate) == len(loud)
    assert speech_end_sample(np.zeros(rate, np.int16), rate) is None


def test_part_levels_place_the_sound_within_a_frame() -> None:
    frame = np.zeros(512, np.int16)
    frame[:128] = 3277  # the first 8 ms at -20 dBFS, then digital silence
    levels = part_levels_dbfs(frame)
    assert len(levels) == 4
    assert abs(levels[0] + 20) < 0.1 and max(levels[1:]) < -150
