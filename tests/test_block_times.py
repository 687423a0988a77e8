"""When a captured block began, from when its callback ran (pure logic; the device test is
in test_audio_devices.py)."""

from __future__ import annotations

import itertools
import random

import pytest

from assistant.audio.devices import BlockTimes

BLOCK = 160  # samples: 10 ms at 16 kHz
MS = 1_000_000


def callbacks(lateness_ms: list[float], block_ns: float = 10 * MS) -> list[tuple[int, int]]:
    """(true start, callback time) of consecutive blocks, each callback late by so much."""
    t0 = 5_000 * MS
    return [
        (round(t0 + k * block_ns), round(t0 + (k + 1) * block_ns + late * MS))
        for k, late in enumerate(lateness_ms)
    ]


def test_a_jittery_callback_does_not_move_the_timeline() -> None:
    rng = random.Random(7)
    # Mostly ~1 ms late, a burst now and then (a block 10-12 ms late, the next on time).
    late = [rng.uniform(0.3, 1.5) if k % 16 else rng.uniform(10, 12) for k in range(400)]
    times = BlockTimes(16_000)
    errors, steps = [], []
    previous = None
    for true_ns, called_ns in callbacks(late):
        began = times.began(called_ns, BLOCK)
        assert began <= called_ns - 10 * MS  # never later than it can have been
        errors.append((began - true_ns) / MS)
        if previous is not None:
            steps.append((began - previous) / MS)
        previous = began
    # After the first block (which may be a late one), within the least lateness of ~1 ms.
    assert all(0 <= e <= 1.5 for e in errors[1:]), max(errors[1:])
    assert all(abs(step - 10) <= 1.5 for step in steps[1:]), (min(steps[1:]), max(steps[1:]))
    # The control: the callbacks' own bounds jump by up to 12 ms.
    bounds = [(called - 10 * MS - true) / MS for true, called in callbacks(late)]
    assert max(bounds) > 10


def test_blocks_delivered_in_a_burst_after_a_stall_stay_in_order() -> None:
    late = [0.5] * 20 + [100 - 10 * k for k in range(10)] + [0.5] * 20  # 10 blocks at once
    times = BlockTimes(16_000)
    began = [times.began(called, BLOCK) for _, called in callbacks(late)]
    steps = {b - a for a, b in itertools.pairwise(began)}
    assert steps == {10 * MS}  # each block starts where the one before it ended


@pytest.mark.parametrize("block_ms", [5, 10, 20])
def test_a_device_clock_slower_than_ours_is_followed(block_ms: int) -> None:
    # 500 ppm slow (real cards: < 100): a 10 ms block takes 10.005 ms of our clock. The
    # window is a second of audio whatever the block size (it was a count of blocks).
    times = BlockTimes(16_000)
    errors, began = [], []
    blocks = 20_000 // block_ms  # 20 s
    for true_ns, called_ns in callbacks([0.5] * blocks, block_ns=block_ms * 1.0005 * MS):
        began.append(times.began(called_ns, 16 * block_ms))
        assert began[-1] <= called_ns - block_ms * MS
        errors.append((began[-1] - true_ns) / MS)
    # Within a window's drift (0.5 ms) and the lateness (0.5 ms); without following it,
    # 10 ms behind by the end (20 s x 500 ppm).
    assert max(abs(e) for e in errors) <= 1.5, (block_ms, max(abs(e) for e in errors))
    # It moved forward once a second of audio, not once so many blocks.
    moves = sum(b - a > block_ms * MS for a, b in itertools.pairwise(began[1:]))
    assert moves == 19, (block_ms, moves)


def test_lost_samples_start_the_timeline_again() -> None:
    times = BlockTimes(16_000)
    assert times.began(1_010 * MS, BLOCK) == 1_000 * MS
    assert times.began(1_022 * MS, BLOCK) == 1_010 * MS  # late: the timeline holds
    assert times.began(1_060 * MS, BLOCK, lost=True) == 1_050 * MS  # lost: from the bound
    times.reset()
    assert times.began(2_000 * MS, BLOCK) == 1_990 * MS
