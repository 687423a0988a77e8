"""Audio in and out: sound devices through sounddevice, WAV files, and real-time pacing.

Speakers take a turn's reply as an async stream of PCM and report when its first sample
was handed over. The device speaker keeps one output stream open for the life of the
process (no start-up delay per turn) and plays silence when idle; its PortAudio callback
only copies buffers. The microphone callback only hands buffers to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import wave
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.clock import Clock
from assistant.errors import AudioDeviceError
from assistant.frames import AudioChunk, Pcm16

log = logging.getLogger(__name__)

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
    samples: Pcm16, sample_rate_hz: int, clock: Clock, block_ms: int = 20
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


# ---------------------------------------------------------------- sound devices


def _device(spec: str | None) -> int | str | None:
    if spec is None or spec == "":
        return None
    return int(spec) if spec.isdigit() else spec


class _Device:
    """What the microphone and the speaker share: opening the stream, start, close."""

    _stream: Any
    _loop: asyncio.AbstractEventLoop | None = None

    def _open(
        self,
        kind: str,
        device: str | None,
        sample_rate_hz: int,
        block_ms: int,
        callback: Callable[..., None],
    ) -> Any:
        import sounddevice as sd

        cls = sd.OutputStream if kind == "output" else sd.InputStream
        try:
            return cls(
                samplerate=sample_rate_hz,
                channels=1,
                dtype="int16",
                device=_device(device),
                blocksize=sample_rate_hz * block_ms // 1000,
                latency="low",
                callback=callback,
            )
        except Exception as e:  # PortAudioError, or ValueError for an unknown name
            name = device if device else f"default {kind} device"
            raise AudioDeviceError(f"cannot open {kind} device {name!r}: {e}") from e

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stream.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.stop()
            self._stream.close()


class DeviceSpeaker(_Device):
    """The default (or named) output device, kept open; silence when there is nothing to say."""

    def __init__(
        self, sample_rate_hz: int, clock: Clock, device: str | None = None, block_ms: int = 20
    ) -> None:
        self.sample_rate_hz, self.clock = sample_rate_hz, clock
        self._lock = threading.Lock()
        self._buf: deque[Pcm16] = deque()
        self._head_pos = 0
        self._on_first: FirstSample | None = None
        self._drained: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_audible_ns = 0
        """Clock time of the last callback that handed real (non-silent) samples over."""
        self._stream = self._open("output", device, sample_rate_hz, block_ms, self._callback)
        self.output_latency_s = float(self._stream.latency)

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            while filled < frames and self._buf:
                head = self._buf[0]
                n = min(frames - filled, len(head) - self._head_pos)
                out[filled : filled + n] = head[self._head_pos : self._head_pos + n]
                filled += n
                self._head_pos += n
                if self._head_pos >= len(head):
                    self._buf.popleft()
                    self._head_pos = 0
            empty = not self._buf
            on_first = self._on_first if filled else None
            if on_first is not None:
                self._on_first = None
        out[filled:] = 0
        if filled:
            self.last_audible_ns = self.clock.now_ns()
        if on_first is not None:
            on_first(self.clock.now_ns())
        if empty and self._drained is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._drained.set)

    def flush(self) -> None:
        with self._lock:
            self._buf.clear()
            self._head_pos = 0
            self._on_first = None

    async def play(self, audio: AsyncIterator[Pcm16], on_first_sample: FirstSample) -> None:
        with self._lock:
            self._on_first = on_first_sample
        self._drained = asyncio.Event()
        try:
            async for pcm in audio:
                with self._lock:
                    self._buf.append(pcm)
                self._drained.clear()
            while True:
                with self._lock:
                    if not self._buf:
                        break
                await self._drained.wait()
                self._drained.clear()
        finally:
            # Cancelled or failed: nothing more of this turn is heard.
            self.flush()
            self._drained = None


class DeviceMicrophone(_Device):
    """The default (or named) input device at 16 kHz mono; blocks go to an asyncio queue.

    The callback never blocks: if the loop falls behind, the oldest blocks are dropped and
    counted in `dropped_blocks`.
    """

    def __init__(
        self,
        clock: Clock,
        device: str | None = None,
        sample_rate_hz: int = 16_000,
        block_ms: int = 20,
        max_queued: int = 250,
    ) -> None:
        self.clock, self.sample_rate_hz = clock, sample_rate_hz
        self._device_spec, self._block_ms = device, block_ms
        self.queue: asyncio.Queue[AudioChunk] = asyncio.Queue()
        self.max_queued = max_queued
        self.dropped_blocks = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream = self._open("input", device, sample_rate_hz, block_ms, self._callback)

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now_ns = self.clock.now_ns()
        # How long ago the block's first sample hit the ADC, as PortAudio reports it;
        # PulseAudio may report 0, in which case the block duration is the best estimate.
        age_s = float(time_info.currentTime - time_info.inputBufferAdcTime)
        if not 0 < age_s < 1:
            age_s = frames / self.sample_rate_hz
        chunk = AudioChunk(indata[:, 0].copy(), self.sample_rate_hz, now_ns - int(age_s * 1e9))
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._deliver, chunk)

    def _deliver(self, chunk: AudioChunk) -> None:
        while self.queue.qsize() >= self.max_queued:
            self.queue.get_nowait()
            self.dropped_blocks += 1
        self.queue.put_nowait(chunk)

    async def chunks(self, stall_s: float = 2.0) -> AsyncIterator[AudioChunk]:
        """The microphone's blocks, for ever. A stream that stops delivering is reopened
        with backoff; nothing here ends the daemon."""
        backoff_s = 0.5
        while True:
            try:
                chunk = await asyncio.wait_for(self.queue.get(), timeout=stall_s)
            except TimeoutError:
                log.warning("no audio from the input device for %.0f s: reopening it", stall_s)
                await self._reopen(backoff_s)
                backoff_s = min(backoff_s * 2, 10.0)
                continue
            backoff_s = 0.5
            yield chunk

    async def _reopen(self, backoff_s: float) -> None:
        self.close()
        while True:
            try:
                self._stream = self._open(
                    "input", self._device_spec, self.sample_rate_hz, self._block_ms, self._callback
                )
                self.start()
            except AudioDeviceError as e:
                log.warning("%s; retrying in %.1f s", e, backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 10.0)
            else:
                log.info("input device reopened")
                return

    def drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
