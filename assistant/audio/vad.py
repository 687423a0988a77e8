"""Silero VAD, streamed: the ONNX model that ships inside faster-whisper, run frame by frame
with its recurrent state and audio context carried across frames (no torch).

A frame costs ~0.1 ms on one thread, so it runs where the audio arrives, on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.core.endpoint import Endpointer, Event
from assistant.core.errors import ConfigError
from assistant.core.frames import Pcm16
from assistant.core.levels import level_dbfs, part_levels_dbfs

FRAME_SAMPLES = 512  # 32 ms at 16 kHz: the frame size this model was trained for
CONTEXT_SAMPLES = 64
RATE_HZ = 16_000


class SpeechDetector(Protocol):
    """Voice activity, frame by frame: `SileroVad`, or a fake in the tests of what the
    listener does with it."""

    def probability(self, frame: Pcm16) -> float:
        """Speech probability of one `FRAME_SAMPLES` frame; a state may carry to the next."""
        ...

    def reset(self) -> None:
        """Forget what the frames before said."""
        ...


class SileroVad:
    def __init__(self, model: Path) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(model), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own types for a bad file
            raise ConfigError(f"cannot load the VAD model {model}: {e}") from e
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros((1, CONTEXT_SAMPLES), np.float32)

    def probability(self, frame: Pcm16) -> float:
        """Speech probability of one 512-sample frame; the state carries to the next."""
        x = (frame.astype(np.float32) / 32768.0)[None, :]
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([self._context, x], 1), "h": self._h, "c": self._c}
        )
        self._context = x[:, -CONTEXT_SAMPLES:]
        return float(np.asarray(out).reshape(-1)[0])


class Reframer:
    """Re-blocks audio chunks of any size into VAD frames, keeping each frame's audio time."""

    def __init__(self, frame_samples: int = FRAME_SAMPLES, rate_hz: int = RATE_HZ) -> None:
        self.frame_samples, self.rate_hz = frame_samples, rate_hz
        self._buf = np.zeros(0, np.int16)
        self._buf_start_ns = 0

    def push(self, samples: Pcm16, captured_ns: int) -> list[tuple[Pcm16, int, int]]:
        """Frames completed by this chunk, as (samples, start_ns, end_ns)."""
        if len(self._buf) == 0:
            self._buf_start_ns = captured_ns
        self._buf = np.concatenate([self._buf, samples])
        out = []
        frame_ns = self.frame_samples * 1_000_000_000 // self.rate_hz
        while len(self._buf) >= self.frame_samples:
            frame, self._buf = self._buf[: self.frame_samples], self._buf[self.frame_samples :]
            out.append((frame, self._buf_start_ns, self._buf_start_ns + frame_ns))
            self._buf_start_ns += frame_ns
        return out

    @property
    def pending(self) -> Pcm16:
        """The audio pushed since the last whole frame."""
        return self._buf

    @property
    def samples_to_frame(self) -> int:
        """How many more samples complete the next frame."""
        return self.frame_samples - len(self._buf)

    @property
    def pending_end_ns(self) -> int:
        """Audio time of the end of `pending`, on the frames' timeline."""
        return self._buf_start_ns + len(self._buf) * 1_000_000_000 // self.rate_hz

    def reset(self) -> None:
        self._buf = np.zeros(0, np.int16)


def feed_endpointer(
    vad: SpeechDetector,
    endpointer: Endpointer,
    reframer: Reframer,
    samples: Pcm16,
    captured_ns: int,
) -> Iterator[tuple[float | None, int, Event | None]]:
    """One block of audio through the VAD and the end-pointer, as the listener and the
    off-line measures both feed them: re-framed into the VAD's frames, with the levels of
    their 8 ms parts. Per whole frame: its speech probability, its end, its event; then, if
    the hold may run out before the next frame, (None, the end of the audio so far, the
    event of that tick)."""
    for frame, start_ns, end_ns in reframer.push(samples, captured_ns):
        prob = vad.probability(frame)
        yield prob, end_ns, endpointer.update(prob, start_ns, end_ns, part_levels_dbfs(frame))
    pending = reframer.pending
    if len(pending) > 0 and endpointer.awaiting_hold:
        end_ns = reframer.pending_end_ns
        yield None, end_ns, endpointer.tick(end_ns, level_dbfs(pending))


def endpoint_frames(
    vad: SpeechDetector, endpointer: Endpointer, audio: Pcm16, block_samples: int = 80
) -> Iterator[tuple[float | None, int, Event | None]]:
    """16 kHz `audio` through `feed_endpointer` in blocks (default 5 ms), as a microphone
    delivers it; times from the first sample. For measuring the end-pointer off line
    (`assistant eot`, the tests, the sweeps)."""
    vad.reset()
    endpointer.reset()
    reframer = Reframer()
    for i in range(0, len(audio), block_samples):
        at_ns = i * 1_000_000_000 // reframer.rate_hz
        yield from feed_endpointer(vad, endpointer, reframer, audio[i : i + block_samples], at_ns)
