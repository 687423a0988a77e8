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
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import Ge, Le

from assistant.audio.alsa import probing as alsa_probing
from assistant.audio.alsa import route_alsa_logs
from assistant.audio.wav import BLOCK_MS, FirstSample
from assistant.core.clock import Clock
from assistant.core.errors import AudioDeviceError
from assistant.core.frames import AudioChunk, Pcm16

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AudioSettings:
    """The sound devices (config.toml's `[audio]`)."""

    input_device: str | None = None
    """sounddevice device name or index; None is the system default."""
    output_device: str | None = None
    block_ms: Annotated[int, Ge(5), Le(200)] = BLOCK_MS
    """Block size both ways, in ms (what it costs and saves: `audio/wav.py`'s BLOCK_MS)."""


# ---------------------------------------------------------------- sound devices


class BlockTimes:
    """When each captured block began, from the clock times its callbacks ran.

    A callback runs after its block was captured, late by a varying amount (PulseAudio
    delivers blocks in bursts: ~10 ms late now and then), so `now - duration` is only an
    upper bound of when the block began. Taken as is, the timeline would jump by that
    jitter from block to block, and the silence hold, counted on it, with it. Instead a
    block begins where the one before it ended, unless its bound is earlier (the timeline
    ran late: it moves back to the bound), the bounds of a whole window (a second of
    audio) were all later (the device's clock is slower than ours: it moves forward by the
    least of them), or
    samples were lost (it starts again from the bound). Every block's time stays at or
    before its bound, so audio is never stamped later than it was heard.
    """

    def __init__(self, sample_rate_hz: int, window_ms: int = 1000) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.window_ns = window_ms * 1_000_000
        """How much audio the blocks of a window hold, whatever their size."""
        self._next_ns: int | None = None
        self._windowed_ns = 0  # audio in the current window
        self._least_late_ns = 0
        """The least by which a block of the current window was bound later than the
        timeline."""

    def began(self, called_ns: int, frames: int, lost: bool = False) -> int:
        """When the block of `frames` samples whose callback ran at `called_ns` began."""
        duration_ns = frames * 1_000_000_000 // self.sample_rate_hz
        bound_ns = called_ns - duration_ns
        if self._next_ns is None or lost or bound_ns < self._next_ns:
            start_ns = bound_ns
            self._windowed_ns = 0
        else:
            start_ns = self._next_ns
            late_ns = bound_ns - self._next_ns
            self._least_late_ns = (
                late_ns if self._windowed_ns == 0 else min(self._least_late_ns, late_ns)
            )
            self._windowed_ns += duration_ns
            if self._windowed_ns >= self.window_ns:
                start_ns += self._least_late_ns
                self._windowed_ns = 0
        self._next_ns = start_ns + duration_ns
        return start_ns

    def reset(self) -> None:
        """A new stream: nothing known."""
        self._next_ns = None
        self._windowed_ns = 0


def _device(spec: str | None) -> int | str | None:
    if spec is None or spec == "":
        return None
    return int(spec) if spec.isdigit() else spec


class _Device:
    """What the microphone and the speaker share: opening the stream, start, close, and a
    watchdog that reopens a stream that died (device unplugged, sound server restarted)."""

    kind: str
    _stream: Any
    _loop: asyncio.AbstractEventLoop | None = None
    _last_callback_ns = 0
    """Clock time of the stream's latest callback: a live stream calls back every block."""

    def __init__(self, clock: Clock, device: str | None, sample_rate_hz: int, block_ms: int):
        self.clock, self.sample_rate_hz = clock, sample_rate_hz
        self._device_spec, self._block_ms = device, block_ms
        self.reopened = 0
        self._stream = self._open()

    @property
    def name(self) -> str:
        spec = self._device_spec
        return f"{self.kind} device {spec!r}" if spec else f"default {self.kind} device"

    def _callback(self, data: Any, frames: int, time_info: Any, status: Any) -> None:
        raise NotImplementedError

    def _open(self) -> Any:
        route_alsa_logs()  # before PortAudio opens ALSA, which prints to stderr otherwise
        with alsa_probing():  # the first import initialises PortAudio: it lists the devices
            import sounddevice as sd

        cls = sd.OutputStream if self.kind == "output" else sd.InputStream
        try:
            return cls(
                samplerate=self.sample_rate_hz,
                channels=1,
                dtype="int16",
                device=_device(self._device_spec),
                blocksize=self.sample_rate_hz * self._block_ms // 1000,
                latency="low",
                callback=self._callback,
            )
        except Exception as e:  # PortAudioError, or ValueError for an unknown name
            raise AudioDeviceError(f"cannot open the {self.name}: {e}") from e

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._last_callback_ns = self.clock.now_ns()
        self._stream.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.stop()
            self._stream.close()

    def trouble(self, stall_s: float) -> str | None:
        """Why the stream needs reopening, or None while it works."""
        if not self._stream.active:
            return "stopped"
        silent_s = (self.clock.now_ns() - self._last_callback_ns) / 1e9
        if silent_s > stall_s:
            return f"has not called back for {silent_s:.1f} s"
        return None

    async def watch(self, period_s: float = 0.5, stall_s: float = 3.0) -> None:
        """Run for the life of the stream: reopen it with backoff whenever it dies. Never
        raises for device trouble; a device that stays away is retried every 10 s."""
        while True:
            await asyncio.sleep(period_s)
            problem = self.trouble(stall_s)
            if problem is None:
                continue
            log.warning("the %s %s: reopening it", self.name, problem)
            self.close()
            backoff_s = 0.5
            while True:
                try:
                    self._stream = self._open()
                    self.start()
                except AudioDeviceError as e:
                    log.warning("%s; retrying in %.1f s", e, backoff_s)
                    await asyncio.sleep(backoff_s)
                    backoff_s = min(backoff_s * 2, 10.0)
                else:
                    self.reopened += 1
                    log.info("%s reopened", self.name)
                    break


class DeviceSpeaker(_Device):
    """The default (or named) output device, kept open; silence when there is nothing to say."""

    kind = "output"

    def __init__(
        self, sample_rate_hz: int, clock: Clock, device: str | None = None, block_ms: int = BLOCK_MS
    ) -> None:
        self._lock = threading.Lock()
        self._buf: deque[Pcm16] = deque()
        self._head_pos = 0
        self._on_first: FirstSample | None = None
        self._drained: asyncio.Event | None = None
        self.last_audible_ns = 0
        """Clock time of the last callback that handed real (non-silent) samples over."""
        self.echo: Callable[[Pcm16, int, bool], None] | None = None
        """Hears each block as it is handed to the device (the echo canceller's reference)."""
        self.gaps = 0
        """Times a reply was interrupted mid-way: PortAudio reported an underflow, or the
        callback came later than the audio buffered ahead of it lasts (ALSA's PulseAudio
        plugin reports no underflows, so the timing is what sees them there)."""
        super().__init__(clock, device, sample_rate_hz, block_ms)
        self.output_latency_s = float(self._stream.latency)
        self._gap_ns = int((block_ms / 1000 + self.output_latency_s) * 1e9)

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        now_ns = self.clock.now_ns()
        previous_ns, self._last_callback_ns = self._last_callback_ns, now_ns
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            mid_reply = self._buf and self.last_audible_ns == previous_ns
            if mid_reply and (status.output_underflow or now_ns - previous_ns > self._gap_ns):
                self.gaps += 1
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
        if self.echo is not None:
            self.echo(out, now_ns, filled > 0)
        if filled:
            self.last_audible_ns = now_ns
        if on_first is not None:
            on_first(now_ns)
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
        gaps_before = self.gaps
        try:
            async for pcm in audio:
                with self._lock:
                    self._buf.append(pcm)
                self._drained.clear()
            while True:
                with self._lock:
                    if not self._buf:
                        break
                # A dead stream never drains: the turn ends with an error (and the
                # watchdog reopens the device) instead of waiting for ever.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drained.wait(), timeout=1.0)
                # 3 s as the watchdog: under load an underrun can stall callbacks ~1 s.
                if (problem := self.trouble(stall_s=3.0)) is not None:
                    raise AudioDeviceError(f"the {self.name} {problem} during a reply")
                self._drained.clear()
        finally:
            # Cancelled or failed: nothing more of this turn is heard.
            self.flush()
            self._drained = None
            if gaps := self.gaps - gaps_before:
                log.warning(
                    "the reply broke up %d time(s): the %s was not fed in time (the machine "
                    "under load, or audio.block_ms too small for it: raise it)",
                    gaps,
                    self.name,
                )


NEVER = 1 << 62
"""`_wake_after` once the loop has been woken: not again until the reader asks."""


class DeviceMicrophone(_Device):
    """The default (or named) input device at 16 kHz mono.

    The callback never blocks and never waits for the event loop: blocks go into a bounded
    buffer, and if the loop falls behind the oldest are dropped there and counted in
    `dropped_blocks`. The loop is woken once the buffer holds as many samples as its reader
    asked for when it found it empty (`chunks(wanted)`; by default one block), so a stalled
    loop does not pile up callbacks either. Waking the loop for every 5 ms block cost ~1 % of
    one core while idle, when the listener needs audio only every ~0.1 s
    (`Listener.samples_wanted`).
    """

    kind = "input"

    def __init__(
        self,
        clock: Clock,
        device: str | None = None,
        sample_rate_hz: int = 16_000,
        block_ms: int = BLOCK_MS,
        max_queued: int | None = None,
    ) -> None:
        self.max_queued = max_queued or 5000 // block_ms
        """Blocks buffered before the oldest are dropped (default: 5 s of audio)."""
        self.dropped_blocks = 0
        self.overflows = 0
        """Blocks PortAudio reported as overflowed (samples lost before the callback)."""
        self._lock = threading.Lock()
        self._blocks: deque[AudioChunk] = deque()
        self._arrived = asyncio.Event()
        self._wake_after = 1
        """Samples to buffer before the loop is woken (set by the reader; under `_lock`)."""
        self._unseen = 0
        """Samples buffered since the reader last found the buffer empty."""
        self._times = BlockTimes(sample_rate_hz)
        super().__init__(clock, device, sample_rate_hz, block_ms)
        self.input_latency_s = float(self._stream.latency)

    def start(self) -> None:
        self._times.reset()  # (a reopened stream starts a new timeline)
        super().start()

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self._last_callback_ns = now_ns = self.clock.now_ns()
        if status.input_overflow:
            self.overflows += 1  # the device layer lost samples before they reached us
        # PortAudio's own ADC time is not used: through ALSA's PulseAudio plugin it was
        # measured 0.27-0.75 s off, and drifting.
        began_ns = self._times.began(now_ns, frames, lost=bool(status.input_overflow))
        chunk = AudioChunk(indata[:, 0].copy(), self.sample_rate_hz, began_ns)
        with self._lock:
            if len(self._blocks) >= self.max_queued:
                self._blocks.popleft()
                self.dropped_blocks += 1
            self._blocks.append(chunk)
            self._unseen += frames
            wake = self._unseen >= self._wake_after
            if wake:
                self._wake_after = NEVER  # once: the reader takes all there is
        if wake and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._arrived.set)

    def get_nowait(self, wanted_samples: int = 1) -> AudioChunk | None:
        """The oldest block not yet taken, or None; then the loop is woken once
        `wanted_samples` more have come."""
        with self._lock:
            if self._blocks:
                return self._blocks.popleft()
            self._arrived.clear()
            self._unseen, self._wake_after = 0, max(1, wanted_samples)
            return None

    async def get(self, wanted_samples: int = 1) -> AudioChunk:
        """The oldest block not yet taken; if there is none, waits until `wanted_samples`
        more have come. Safe to cancel: nothing is lost."""
        while (chunk := self.get_nowait(wanted_samples)) is None:
            await self._arrived.wait()
        return chunk

    async def chunks(self, wanted: Callable[[], int] = lambda: 1) -> AsyncIterator[AudioChunk]:
        """The microphone's blocks, for ever (run `watch()` alongside to survive a stream
        that dies). `wanted`, asked each time the blocks so far are taken: how many more
        samples the reader can wait for before it must see them (it gets every block, in
        order, either way)."""
        while True:
            yield await self.get(wanted())

    def want_now(self) -> None:
        """The reader needs each block as it comes again (from now, not after the samples it
        last asked for)."""
        with self._lock:
            self._wake_after = min(self._wake_after, 1)
            if self._unseen >= self._wake_after:
                self._wake_after = NEVER
                self._arrived.set()

    def drain(self) -> None:
        with self._lock:
            self._blocks.clear()
            self._arrived.clear()


@dataclass
class SoundDevices:
    speaker: DeviceSpeaker
    mic: DeviceMicrophone | None = None

    def start(self) -> None:
        if self.mic is not None:
            self.mic.start()
        self.speaker.start()

    def watches(self) -> dict[str, Coroutine[Any, Any, None]]:
        """What keeps them alive (reopened when they die), by task name."""
        watch = {"watch-output": self.speaker.watch()}
        if self.mic is not None:
            watch["watch-input"] = self.mic.watch()
        return watch


@contextlib.contextmanager
def sound_devices(
    settings: AudioSettings, clock: Clock, reply_rate_hz: int, *, microphone: bool = True
) -> Iterator[SoundDevices]:
    """Open the configured devices, for every command that uses them: a device that is
    missing is a clear error now, before anything waits on it. Closed on the way out."""
    speaker = DeviceSpeaker(reply_rate_hz, clock, settings.output_device, settings.block_ms)
    mic = None
    try:
        if microphone:
            mic = DeviceMicrophone(clock, settings.input_device, block_ms=settings.block_ms)
        yield SoundDevices(speaker, mic)
    finally:
        if mic is not None:
            mic.close()
        speaker.close()
