"""Where speech and sound are in a block of audio, by level. Pure numpy.

The same rule as the black-box latency probe: the end of speech is the end of the last
10 ms frame within 35 dB of the loudest frame (and above -55 dBFS). Where a sound begins
with no loudest frame yet to go by (the user going on, as it comes): `sound_onset`.
"""

from __future__ import annotations

import math

import numpy as np

from assistant.core.frames import Pcm16

FRAME_MS = 10
RANGE_DB = 35.0
FLOOR_DBFS = -55.0


def frame_levels_dbfs(samples: Pcm16, sample_rate_hz: int) -> np.ndarray:
    n = sample_rate_hz * FRAME_MS // 1000
    frames = len(samples) // n
    if frames == 0:
        return np.zeros(0)
    return _rms_dbfs(samples[: frames * n].reshape(frames, n))


def level_dbfs(samples: Pcm16) -> float:
    """RMS level of a block of audio, in dBFS."""
    return float(_rms_dbfs(samples[None, :])[0])


PARTS = 4
"""A VAD frame's level is taken in this many parts (8 ms each), to place the edges of
the sound within it."""


def part_levels_dbfs(samples: Pcm16, parts: int = PARTS) -> list[float]:
    """RMS levels, in dBFS, of `parts` equal consecutive parts of a block of audio."""
    n = len(samples) // parts
    return [float(v) for v in _rms_dbfs(samples[: n * parts].reshape(parts, n))]


def loudest_part_dbfs(samples: Pcm16, frame: int = 512) -> float:
    """The loudest 8 ms part of `samples` (dBFS), as the end-pointer measures an utterance's
    (its `Ended.peak_db`): `part_levels_dbfs` of each whole VAD frame."""
    frames = range(0, len(samples) - frame + 1, frame)
    return max((max(part_levels_dbfs(samples[i : i + frame])) for i in frames), default=-math.inf)


def _rms_dbfs(blocks: np.ndarray) -> np.ndarray:
    """RMS level in dBFS of each row of 16-bit samples."""
    x = blocks.astype(np.float64) / 32768.0
    rms = np.sqrt(np.mean(x * x, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))  # type: ignore[no-any-return]


def speech_end_sample(samples: Pcm16, sample_rate_hz: int) -> int | None:
    """Index just past the last voiced frame, or None if nothing is voiced."""
    frames = voiced(samples, sample_rate_hz)
    if frames is None:
        return None
    return (int(np.flatnonzero(frames)[-1]) + 1) * (sample_rate_hz * FRAME_MS // 1000)


def voiced(samples: Pcm16, sample_rate_hz: int) -> np.ndarray | None:
    """Per 10 ms frame, is it within `RANGE_DB` of the loudest (and above `FLOOR_DBFS`)?
    None if no frame is."""
    levels = frame_levels_dbfs(samples, sample_rate_hz)
    if levels.size == 0 or levels.max() < FLOOR_DBFS:
        return None
    return levels >= max(float(levels.max()) - RANGE_DB, FLOOR_DBFS)


ONSET_RISE_DB = 12.0
ONSET_FLOOR_DBFS = -60.0
ONSET_BACK_DB = 4.0
"""Frames just before the onset this far above the quiet are the sound's soft start (an "f"
or "s" over room noise), up to it without a break."""


def sound_onset(samples: Pcm16, sample_rate_hz: int) -> int | None:
    """Index of the 10 ms frame where a sound begins after silence or a room's steady noise,
    with nothing but the block itself to go on (no loudest frame yet: the sound may have
    only begun): the first frame `ONSET_RISE_DB` above the block's quiet (its 10th
    percentile frame) and above `ONSET_FLOOR_DBFS`, taken back through the frames before
    it that are `ONSET_BACK_DB` above the quiet. 0 if the block starts with the sound; None
    if nothing rises."""
    levels = frame_levels_dbfs(samples, sample_rate_hz)
    if levels.size == 0:
        return None
    quiet = float(np.percentile(levels, 10))
    loud = np.flatnonzero(levels >= max(quiet + ONSET_RISE_DB, ONSET_FLOOR_DBFS))
    if loud.size == 0:
        return None
    i = int(loud[0])
    while i > 0 and levels[i - 1] >= max(quiet + ONSET_BACK_DB, ONSET_FLOOR_DBFS - 10):
        i -= 1
    return i * (sample_rate_hz * FRAME_MS // 1000)


INAUDIBLE_DBFS = -70.0
"""Below this a sample is inaudible at any sane volume (Piper starts each render with
~30 ms at -100 dBFS)."""


def audible_start(samples: Pcm16) -> int:
    """Index of the first sample at or above `INAUDIBLE_DBFS` (`len(samples)` if none is):
    where a reply's audio should start. Before it is silence sent ahead of the sound, dead
    air in the latency (Piper starts each render with ~30 ms of it, at -75 to -100 dBFS);
    the sound's own rise, from there to the loudness of speech (~10 ms from -75 to -40 dBFS
    on joe-medium's vowels), is kept whole."""
    floor = 32768 * 10 ** (INAUDIBLE_DBFS / 20)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= floor)
    return int(loud[0]) if loud.size else len(samples)


def pink_noise(samples: int, dbfs: float, seed: int = 1) -> np.ndarray:
    """A room's steady noise (a fan, traffic far off): pink, at `dbfs` RMS, 16 kHz, as
    float samples (for measuring the end-pointer in noise: `assistant eot`, the sweeps)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(samples))
    hz = np.fft.rfftfreq(samples, 1 / 16_000)
    hz[0] = hz[1]
    x: np.ndarray = np.fft.irfft(spectrum / np.sqrt(hz), samples)
    x *= 32768 * 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2))
    return x
