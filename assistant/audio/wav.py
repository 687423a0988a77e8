"""Audio as data: the `Speaker` interface a turn plays into, WAV files, a WAV speaker, and
files paced out in real time as a microphone would deliver them (bench, tests)."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.core.clock import Clock
from assistant.core.errors import AudioDeviceError
from assistant.core.frames import AudioChunk, Pcm16

BLOCK_MS = 5
"""Audio block size, both ways. ALSA's PulseAudio plugin sizes its buffers by the block: 5 ms
blocks report 10 ms of latency each way where 10 ms blocks report 20 (and 20 ms ones more),
so the reply is heard ~15 ms sooner than with 10 ms blocks (latency probe, echo bot: 330 ->
315 ms for a 300 ms delay; 2.5 ms blocks gain nothing more), and the silence hold is checked
twice as often, for ~1 % more of one core while idle. A board that cannot keep up shows it
as gaps in replies (logged): raise `audio.block_ms` there."""

FirstSample = Callable[[int], None]
"""Called with the clock time at which the first reply sample was handed to the device."""


class Speaker(Protocol):
    output_latency_s: float

    async def play(self, audio: AsyncIterator[Pcm16], on_first_sample: FirstSample) -> None:
        """Play the stream to the end; on cancellation stop at once and flush."""
        ...


# ---------------------------------------------------------------- WAV files


def read_wav(path: Path, sample_rate_hz: int = 16_000) -> Pcm16:
    """Any audio file as mono 16-bit PCM at `sample_rate_hz` (decoded and resampled by PyAV)."""
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(str(path), sampling_rate=sample_rate_hz)
    except FileNotFoundError:
        raise AudioDeviceError(f"{path}: no such audio file") from None
    except Exception as e:  # PyAV raises its own error types for unreadable files
        raise AudioDeviceError(f"{path}: cannot decode audio: {e}") from e
    pcm: Pcm16 = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    return pcm


def write_wav(path: Path, samples: Pcm16, sample_rate_hz: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(samples.astype("<i2").tobytes())


async def paced_chunks(
    samples: Pcm16, sample_rate_hz: int, clock: Clock, block_ms: int = BLOCK_MS
) -> AsyncIterator[AudioChunk]:
    """Deliver audio as a microphone would: each block when its last sample is 'captured'."""
    block = sample_rate_hz * block_ms // 1000
    start_ns = clock.now_ns()
    for i in range(0, len(samples), block):
        chunk = samples[i : i + block]
        captured_ns = start_ns + i * 1_000_000_000 // sample_rate_hz
        due_ns = captured_ns + len(chunk) * 1_000_000_000 // sample_rate_hz
        delay_ns = due_ns - clock.now_ns()
        if delay_ns > 0:
            await asyncio.sleep(delay_ns / 1e9)
        yield AudioChunk(chunk, sample_rate_hz, captured_ns)


class WavSpeaker:
    """Writes the reply to a WAV file instead of a device ('handed over' = written)."""

    output_latency_s = 0.0

    def __init__(self, path: Path, sample_rate_hz: int, clock: Clock) -> None:
        self.path, self.sample_rate_hz, self.clock = path, sample_rate_hz, clock
        self.samples_written = 0

    async def play(self, audio: AsyncIterator[Pcm16], on_first_sample: FirstSample) -> None:
        parts: list[Pcm16] = []
        try:
            async for pcm in audio:
                if not parts:
                    on_first_sample(self.clock.now_ns())
                parts.append(pcm)
        finally:
            out = np.concatenate(parts) if parts else np.zeros(0, np.int16)
            self.samples_written = len(out)
            write_wav(self.path, out, self.sample_rate_hz)
