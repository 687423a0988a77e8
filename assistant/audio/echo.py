"""Echo cancellation: WebRTC's audio processing (AEC3, through the `livekit` package's
`AudioProcessingModule`), with what the speaker plays as its reference, so the microphone
can be heard while the assistant speaks (the user going on after a commit, barge-in).

The speaker's callback hands each block it plays to `played` (its device thread); the
microphone's blocks pass through `cancel` (on the loop) in 10 ms frames, the size the module
takes. The cancelled audio is what the VAD hears (so the reply's echo starts no utterance), but
for frames with more in them than the echo expected (double talk, `_user_over_echo`).
Speech recognition (`AudioChunk.for_asr`) gets the microphone's own audio from the user's first
such frame until they have been quiet for 300 ms: AEC3 suppresses the near end hard while it
learns an echo path (a voice 0.3 s into a reply came out 25 dB down, and Whisper lost "and
thirty" of "... ten minutes and thirty seconds"), while Whisper took the user's words over
the reply's echo at -6 and -12 dB without a miss. Before their voice it gets the module's
output: the echo alone, in the 300 ms the listener keeps before an utterance, came out as
words ("... ten minutes, time and 30 seconds", "I'm a fan 30 seconds").

The echo's level is measured over a reply's first 300 ms; once 100 ms of it has come back, a
frame well over it is the user going on, heard and left out of the measure (before, a user
going on 0.2 s into a reply made the echo look as loud as their voice, and was not heard
until the reply stopped). A user who goes on in the first ~130 ms, over the echo, is still
measured as echo; with nothing coming back, they are not (below).

Energy cannot tell the echo from the user; likeness can: how well the microphone's last
200 ms match the reply at some delay (`ECHO_LIKENESS`). A frame of the reply's first 300 ms
not like it is not measured as its echo (it is the user, with nothing coming back) and is
passed as it came. A frame of echo alone that the module took less than 20 dB out of (while
it learns the echo path, or has lost it) and that is like the reply is brought down 40 dB,
or to the room's noise: it is the reply's voice, maybe as loud as the user, and was taken
for them going on (`UNCANCELLED`).

Only while a reply sounds, and for `tail_ms` after: in silence there is no echo to cancel,
and the idle microphone costs nothing more. Measured here on a reply with its echo 8 dB down
at 30 ms plus a reflection: 34 dB of the echo removed (once converged), the user's voice
over it kept within 3 dB; ~140 us per 10 ms frame (both directions), ~1.4 % of one core
while a reply sounds, and up to ~3.6 % more while the likeness is asked for (the echo's
first 300 ms, and frames the module fails to cancel).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from assistant.core.frames import AudioChunk, Pcm16

log = logging.getLogger(__name__)

RATE_HZ = 16_000
FRAME = RATE_HZ // 100  # the module's 10 ms frames
FRAME_NS = 10_000_000
NO_ECHO = 10 ** (-60 / 10)
"""Below this ratio of the microphone's energy to the reply's (-60 dB), none of the reply is
coming back."""
MEASURE_FRAMES = 30
"""How loud the echo is, measured over a reply's first 300 ms of sound."""
COUPLING_PERCENTILE = 90
"""Of those frames' ratios: the echo takes a few frames to arrive (the two devices'
buffers, the room), so not the median; a user who speaks then over the echo makes it too
loud, and is then heard only over the echo it expects (safe: not heard, as half-duplex). A
frame not like the reply is not among them (`ECHO_LIKENESS`)."""
LEARN_FRAMES = 10
"""Frames with the echo in them before a frame is judged against it while it is measured
(the echo's first 100 ms, from ~130 ms into a reply here)."""
ECHO_SPAN_FRAMES = 15
"""The reference's last 150 ms may be echoing in a microphone frame now (delay, reverb)."""
DOUBLE_TALK = 4.0
"""A microphone frame 6 dB over the echo expected from the reference is the user too."""
FAR_FLOOR = 1.0
"""Reference frames quieter than this (energy, in 16-bit units squared) say nothing."""
SILENT = 1.0
"""A microphone frame this quiet is silence, echo or not."""
UNCANCELLED = 10 ** (-20 / 10)
"""A frame of echo alone (no double talk) that the module took less than 20 dB out of is not
cancelled: it is brought `SUPPRESSED` under the microphone's frame. Converged, AEC3 takes
30-60 dB out; but live, through PulseAudio's loopback with the echo as loud as the user
(`tests/test_daemon.py`), it let the echo through 0-7 dB down ~0.4-1.1 s into a session's
first reply and in the first 100 ms of later ones (11 % of such frames less than 20 dB
down), and in 3 of 6 runs that started the user going on: the reply stopped, and its echo
was answered with the user's question (once, seven times over). A change of the echo's
delay under it does the same (`tests/test_echo.py`). Only where the microphone is like the
reply (`ECHO_LIKENESS`): `scripts/double-talk`, no false starts in 320 replies (2 without
this), the user going on heard 155 of 160 times (160 without; 141 bringing down every such
frame), p50 / p95 88 / 480 ms after their voice (84 / 603)."""
SUPPRESSED = 10 ** (-40 / 10)
"""How far under the microphone's frame (energy ratio) an `UNCANCELLED` frame is brought, but
no further than the room's noise (`NOISE_SPAN_FRAMES`)."""
NOISE_SPAN_FRAMES = 200
"""The room's noise: the quietest microphone frame of the last 2 s. No canceller takes noise
out; a frame of echo alone no louder than `NOISE_MARGIN` times it is left as it came (brought
40 dB down, a room's noise made the VAD hear jumps of 40 dB every 10 ms)."""
NOISE_MARGIN = 4.0
LIKENESS_FRAMES = 20
"""The microphone's last 200 ms, for how like the reply it is..."""
LIKENESS_LAG_FRAMES = 60
"""...at any delay up to 600 ms after the reference (the two devices' buffers, the room)."""
WINDOW_FLOOR = 0.1
"""Stretches of the reference with less than this part of the loudest's energy are weighed
as if they had it, in finding the delay."""
LIKENESS_HOP_FRAMES = 3
"""Measured every 30 ms while it is asked for."""
ECHO_LIKENESS = 0.6
"""How like the reply (`_likeness`) the microphone's last `LIKENESS_FRAMES` must be to be its
echo: for a frame to be measured as the echo's level, and for an `UNCANCELLED` frame to be
brought down. Measured off line (espeak-ng, 200 ms windows with sound in them): the echo
alone through a pure delay 0.99+; a room with a 300 ms RT60, its tail 5 dB under the direct
path, 0.84-0.93 (p10-p90), 600 ms RT60 0.70-0.87; the user alone 0.09-0.37 (live, a user
over a Piper reply with nothing coming back, 0.04-0.44); the two together at one level
0.50-0.87. Not in a room whose diffuse tail is 9 dB over the direct path (a speaker across
a reverberant room: 0.30-0.48); there the echo is not measured, and passes as it came.

- Measured as echo, a user who spoke at a reply's start with nothing coming back (the null
  sinks) was not double talk after: AEC3, with no echo path to learn, took their voice
  30-75 dB down live, and Whisper lost "and thirty seconds" of "Set a timer for ten
  minutes [0.45 s] and thirty seconds" one turn in a few (`tests/test_daemon.py`).
- Bringing down every `UNCANCELLED` frame, like the reply or not, brought down the user
  going on over an echo as loud as them: heard 10 of 20 times in `scripts/double-talk`'s
  dry room at 0 dB, against 15 (`tests/test_echo.py`)."""
TALK_HANGOVER_FRAMES = 30
"""After a frame with the user in it, speech recognition hears the microphone as it came for
300 ms (the quiet parts of their words fall under the double-talk check, and AEC3 would
take them out while it learns); before it, and once the user has been quiet that long, the
module's output (the reply's echo alone, which Whisper would take for words)."""


class _Linear:
    """A streaming resampler for the reference (the reply's rate to 16 kHz): linear
    interpolation, its phase carried across blocks. The canceller only needs a reference
    linearly related to the echo; a better filter bought nothing it could measure."""

    def __init__(self, src_hz: int, dst_hz: int) -> None:
        self.step = src_hz / dst_hz
        self._pos = 0.0  # of the next output sample, in input samples from `_last`
        self._last = 0.0

    def push(self, x: np.ndarray) -> np.ndarray:
        data = np.concatenate([[self._last], x.astype(np.float64)])
        end = len(data) - 1
        at = np.arange(self._pos, end, self.step)
        out: np.ndarray = np.interp(at, np.arange(len(data)), data)
        self._pos = (at[-1] + self.step - end) if len(at) else self._pos - len(x)
        self._last = float(data[-1])
        return out


class EchoCanceller:
    def __init__(self, reply_rate_hz: int, delay_ms: int, tail_ms: int = 1000) -> None:
        """`delay_ms`: from a sample handed to the speaker to its echo in the microphone's
        blocks (the two devices' latencies); the module refines it."""
        from livekit.rtc import AudioFrame, AudioProcessingModule

        self._frame_type: Any = AudioFrame
        self._apm: Any = AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        self._apm.set_stream_delay_ms(delay_ms)
        self._lock = threading.Lock()  # the speaker's thread and the loop
        self._resampler = _Linear(reply_rate_hz, RATE_HZ)
        self._far = np.zeros(0)
        self._tail_ns = tail_ms * 1_000_000
        self._active_until_ns = 0
        self._near = np.zeros(0, np.int16)
        self._near_ns = 0
        self.frames = 0
        """Microphone frames cancelled so far."""
        self.engaged = False
        """The microphone's last block went through the module (a reply sounds, or its
        tail): its side should keep pace with the speaker's."""
        self._far_recent: deque[float] = deque(maxlen=ECHO_SPAN_FRAMES)
        """Energy of the reference's last 10 ms frames (what may be echoing now)."""
        self._replies = 0
        """Replies begun (the speaker's side counts them, under the lock)..."""
        self._measuring = 0
        """...and the one whose echo the microphone's side measures."""
        self._ratios: list[float] = []
        """Microphone over reference energy, per frame of a reply's first MEASURE_FRAMES."""
        self._measured = 0
        """Frames of the reply's first MEASURE_FRAMES seen (the user's among them)."""
        self.coupling: float | None = None
        """How loud the reply comes back (energy ratio), measured at its start."""
        self._talk_left = 0
        """Frames left in which speech recognition hears the microphone as it came."""
        self._quiet: deque[float] = deque(maxlen=NOISE_SPAN_FRAMES)
        """Energy of the microphone's last frames, for the room's noise."""
        self._far_frames: deque[np.ndarray] = _silence(LIKENESS_FRAMES + LIKENESS_LAG_FRAMES)
        """The reference's last frames, for how like the reply the microphone is."""
        self._far_now: tuple[np.ndarray, ...] = tuple(self._far_frames)
        """A copy of them, taken with the microphone's frame (the loop's own)."""
        self._near_frames: deque[np.ndarray] = _silence(LIKENESS_FRAMES)
        """The microphone's last frames (as they came), likewise."""
        self._liked, self._liked_at = 0.0, -LIKENESS_HOP_FRAMES
        """The last likeness, and the frame it was measured at."""

    # --------------------------------------------------------------- the speaker's side

    def played(self, block: Pcm16, now_ns: int, audible: bool) -> None:
        """The block the speaker just handed to its device (silence included once a reply
        has started, so the reference keeps time)."""
        if not audible and now_ns >= self._active_until_ns:
            return
        if audible:
            if now_ns >= self._active_until_ns:  # a new reply: measure its echo afresh
                with self._lock:
                    self._replies += 1
                    self._far_frames = _silence(LIKENESS_FRAMES + LIKENESS_LAG_FRAMES)
            self._active_until_ns = now_ns + self._tail_ns
        far = np.concatenate([self._far, self._resampler.push(block)])
        n = len(far) // FRAME * FRAME
        with self._lock:
            for i in range(0, n, FRAME):
                frame = far[i : i + FRAME]
                self._far_recent.append(float(np.mean(frame**2)))
                self._far_frames.append(frame)
                self._apm.process_reverse_stream(self._frame(frame))
        self._far = far[n:]

    # --------------------------------------------------------------- the microphone's side

    def cancel(self, chunk: AudioChunk) -> list[AudioChunk]:
        """The microphone's block with the reply's echo taken out (in 10 ms frames while a
        reply sounds; as it came otherwise)."""
        if chunk.captured_ns >= self._active_until_ns and not len(self._near):
            self.engaged = False
            return [chunk]
        if not self.engaged:  # a new reply: nothing of the last one's measure is kept
            self._near_frames = _silence(LIKENESS_FRAMES)
            self._liked_at = -LIKENESS_HOP_FRAMES
        self.engaged = True
        if not len(self._near):
            self._near_ns = chunk.captured_ns
        self._near = np.concatenate([self._near, chunk.samples])
        out = []
        while len(self._near) >= FRAME:
            raw = self._near[:FRAME]
            frame = self._frame(raw)
            near = float(np.mean(raw.astype(np.float64) ** 2))
            self._quiet.append(near)
            self._near_frames.append(raw.astype(np.float64))
            with self._lock:  # (only the module and a copy: the speaker's thread waits)
                self._apm.process_stream(frame)
                far = max(self._far_recent, default=0.0)
                self._far_now, reply = tuple(self._far_frames), self._replies
            if reply != self._measuring:  # a new reply: measure its echo afresh
                self._ratios, self._measured, self.coupling = [], 0, None
                self._measuring = reply
            user = self._user_over_echo(near, far)
            cleaned = raw.copy() if user else self._cancelled(frame, near)
            noise = min(self._quiet)
            if user and near > max(SILENT, NOISE_MARGIN * noise):
                # (Not the room's noise before the echo arrives, passed as it came: speech
                # recognition would hear the echo as it came for 300 ms after it.)
                self._talk_left = TALK_HANGOVER_FRAMES
            talking = self._talk_left > 0
            self._talk_left = max(0, self._talk_left - 1)
            for_asr = raw.copy() if talking and not user else None  # (None: as `cleaned`)
            out.append(AudioChunk(cleaned, RATE_HZ, self._near_ns, for_asr=for_asr))
            self._near, self._near_ns = self._near[FRAME:], self._near_ns + FRAME_NS
            self.frames += 1
        return out

    def _cancelled(self, frame: Any, near: float) -> np.ndarray:
        """The module's output for a frame of the echo alone (`frame`, processed), unless it
        is `UNCANCELLED`: what AEC3 lets through while it learns or has lost the echo path is
        the reply's own voice, maybe as loud as the user."""
        out = np.frombuffer(frame.data, np.int16).copy()
        energy = float(np.mean(out.astype(np.float64) ** 2))
        noise = min(self._quiet, default=0.0)
        if energy <= max(near * UNCANCELLED, NOISE_MARGIN * noise, SILENT):
            return out
        if self._likeness() < ECHO_LIKENESS:
            return out  # not only echo: what the module gives (the user, over what is left)
        target = max(near * SUPPRESSED, noise)
        scaled: np.ndarray = np.round(out * np.sqrt(target / energy))
        return scaled.astype(np.int16)

    def _likeness(self) -> float:
        """How like the reply the microphone's last `LIKENESS_FRAMES` are: their best
        normalised cross-correlation with the reference at any delay up to
        `LIKENESS_LAG_FRAMES`, both first-differenced (speech's low frequencies correlate
        with any other speech). Reused for `LIKENESS_HOP_FRAMES` (one costs ~1.1 ms here:
        ~3.6 % of one core while a reply sounds), from the copy of the reference's frames
        `cancel` took (`_far_now`). An echo may come back inverted (a microphone or an amplifier
        that turns the signal over): the correlation's size counts, not its sign."""
        if self.frames - self._liked_at < LIKENESS_HOP_FRAMES:
            return self._liked
        far16 = np.diff(np.concatenate(self._far_now), prepend=0.0)
        near16 = np.diff(np.concatenate(self._near_frames), prepend=0.0)
        self._liked_at, self._liked = self.frames, 0.0
        if not np.any(near16):
            return 0.0
        # The delay found from every other sample of the microphone's (half the work), then
        # measured in full about it.
        lags = LIKENESS_LAG_FRAMES * FRAME
        size = 1 << (len(far16) // 2 + len(near16) // 2).bit_length()
        half = np.conj(np.fft.rfft(near16[0::2], size))
        products = np.empty(lags + 2)
        for phase in (0, 1):
            cross = np.fft.irfft(np.fft.rfft(far16[phase::2], size) * half, size)
            products[phase::2] = cross[: lags // 2 + 1]
        energies = np.concatenate([[0.0], np.cumsum(far16**2)])
        windows = energies[len(near16) : len(near16) + lags + 1] - energies[: lags + 1]
        # (Not over the reference's quietest stretches: a near-silent one, normalised, can
        # look like anything.)
        floor = max(WINDOW_FLOOR * float(windows.max()), 1e-9)
        best = int(np.argmax(np.abs(products[: lags + 1]) / np.sqrt(np.maximum(windows, floor))))
        span, alike = len(near16), 0.0
        for lag in range(max(0, best - 1), min(best + 2, len(far16) - span + 1)):
            part = far16[lag : lag + span]
            alike = max(
                alike, abs(float(part @ near16)) / np.sqrt((part @ part) * (near16 @ near16) + 1e-9)
            )
        self._liked = alike
        return alike

    def _not_yet_echo(self, near: float) -> bool:
        """While the echo's level is measured: a frame with sound in it while the microphone
        is not like the reply (`ECHO_LIKENESS`) is not measured as its echo, and is passed as
        it came."""
        return near > SILENT and self._likeness() < ECHO_LIKENESS

    def _user_over_echo(self, near: float, far: float) -> bool:
        """Is there more in this microphone frame than the reply's echo (the user, over it,
        or no echo at all)? Then it is passed on as it came: AEC3 suppresses the near end
        hard while it learns an echo path (a voice in a reply's first ~0.5 s came out 25-60
        dB down). Otherwise it is the module's output: the echo, or what is left of it while
        it learns, is not heard as the user going on.

        How loud the reply comes back is measured over its first MEASURE_FRAMES; a frame is
        more than echo when it is DOUBLE_TALK above that times the loudest of the reference's
        recent frames (`far`)."""
        if self.coupling is None:
            if far > FAR_FLOOR:
                if self._over_the_echo_so_far(near, far) or self._not_yet_echo(near):
                    self._measured += 1  # the user going on: heard, and not the echo's level
                    return True
                self._ratios.append(near / far)
                self._measured += 1
            if self._measured < MEASURE_FRAMES:
                return near <= SILENT  # still measuring: only silence passes untouched
            ratios = self._ratios or [0.0]  # nothing like the reply came back
            self.coupling = float(np.percentile(ratios, COUPLING_PERCENTILE))
        if self.coupling < NO_ECHO:
            return True  # nothing comes back: headphones, or virtual devices
        return near > DOUBLE_TALK * self.coupling * far

    def _over_the_echo_so_far(self, near: float, far: float) -> bool:
        """While the echo's level is measured: once LEARN_FRAMES of it have come back, a
        frame DOUBLE_TALK over what they show is the user going on, not echo (measured as
        echo, their voice made it look loud enough that they were not heard until the reply
        stopped: going on 0.2 s into it lost "and thirty" of "... and thirty seconds")."""
        echoed = [r for r in self._ratios if r >= NO_ECHO]
        if len(echoed) < LEARN_FRAMES:
            return False
        so_far = float(np.percentile(echoed, COUPLING_PERCENTILE))
        return near > DOUBLE_TALK * so_far * far

    def _frame(self, x: np.ndarray) -> Any:
        pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
        return self._frame_type(bytearray(pcm.tobytes()), RATE_HZ, 1, FRAME)


def _silence(frames: int) -> deque[np.ndarray]:
    return deque([np.zeros(FRAME)] * frames, maxlen=frames)


def echo_canceller(reply_rate_hz: int, delay_ms: int) -> EchoCanceller | None:
    """The canceller, or None (said once) where it cannot run: then the listener is deaf
    while the assistant speaks (half-duplex)."""
    try:
        return EchoCanceller(reply_rate_hz, delay_ms)
    except Exception as e:  # a missing package, or its native library failing to load
        log.warning("no echo cancellation (%s): half-duplex, deaf while speaking", e)
        return None


async def without_echo(
    source: AsyncIterator[AudioChunk], echo: EchoCanceller
) -> AsyncIterator[AudioChunk]:
    """The microphone's blocks through the canceller."""
    async for chunk in source:
        for cleaned in echo.cancel(chunk):
            yield cleaned
