"""The bench's handling of its input files (pure numpy; the bench itself runs in
test_real_turns.py with the real models)."""

import numpy as np

from assistant.commands.bench import quiet_after

RATE = 16_000


def test_a_file_that_ends_at_the_last_word_gets_the_quiet_the_end_pointer_may_wait_for() -> None:
    ep = 1000 + 250  # the longest hold, and the sound edge
    tone = (np.sin(np.arange(RATE // 2) / 3) * 10_000).astype(np.int16)  # 0.5 s of "speech"
    cut = np.concatenate([tone, np.zeros(RATE // 5, np.int16)])  # 0.2 s after it
    padded = quiet_after(cut, RATE, ep)
    assert len(padded) == len(tone) + RATE * 1250 // 1000
    assert np.array_equal(padded[: len(cut)], cut) and not padded[len(cut) :].any()
    # Enough quiet already (the probe's files have 1.5 s), or no speech at all: as it is.
    room = np.concatenate([tone, np.zeros(RATE * 3 // 2, np.int16)])
    assert quiet_after(room, RATE, ep) is room
    silence = np.zeros(RATE, np.int16)
    assert quiet_after(silence, RATE, ep) is silence
