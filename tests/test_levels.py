"""Level rules on audio (pure numpy)."""

import numpy as np

from assistant.core.levels import INAUDIBLE_DBFS, audible_start, part_levels_dbfs, speech_end_sample


def test_audible_start_skips_the_inaudible_lead_and_keeps_the_sound_whole() -> None:
    rate = 22_050
    lead = np.full(rate * 30 // 1000, 2, np.int16)  # -84 dBFS: Piper's way to start
    rise = (np.sin(np.arange(rate // 10) / 5) * np.linspace(0, 3000, rate // 10)).astype(np.int16)
    x = np.concatenate([lead, rise])
    start = audible_start(x)
    assert start > len(lead)  # the lead is gone ...
    floor = 32768 * 10 ** (INAUDIBLE_DBFS / 20)
    assert np.abs(x[:start]).max() < floor <= abs(int(x[start]))  # ... to the first sound
    assert audible_start(rise) == start - len(lead)
    assert audible_start(lead) == len(lead)
    assert audible_start(np.zeros(0, np.int16)) == 0


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
