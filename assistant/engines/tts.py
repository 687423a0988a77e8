"""Speech synthesis: the Synthesizer protocol and its Piper implementation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.core.errors import TtsError
from assistant.core.frames import Pcm16


class Synthesizer(Protocol):
    sample_rate_hz: int

    def synthesize(self, text: str) -> Iterator[Pcm16]:
        """Audio of `text` in chunks. A lazy generator, consumed on the TTS worker thread."""
        ...

    def warm(self) -> None: ...

    def interrupt(self) -> None:
        """Abort the synthesis in progress, from any thread."""
        ...


class _InterruptibleSession:
    """An onnxruntime session whose in-flight run another thread can abort.

    Piper calls `session.run(None, inputs)`; this passes RunOptions along, and `interrupt()`
    sets their terminate flag, which makes the run raise within milliseconds. A cancelled
    turn then stops rendering mid-sentence instead of finishing a 150 ms inference.
    """

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._session = session
        self._ort = onnxruntime
        self._options = onnxruntime.RunOptions()

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        options = self._options = self._ort.RunOptions()
        return self._session.run(output_names, input_feed, options)

    def interrupt(self) -> None:
        self._options.terminate = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class PiperSynthesizer:
    def __init__(
        self, model: Path, config: Path | None, *, threads: int, length_scale: float | None
    ) -> None:
        import json

        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        config = config or model.with_name(model.name + ".json")
        try:
            cfg = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
            # Our own session options: onnxruntime's default takes every core and spins,
            # which starves the LLM worker between clauses.
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(
                str(model), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime and piper raise many types for a bad file
            raise TtsError(f"cannot load Piper voice {model}: {e}") from e
        self._session = _InterruptibleSession(session)
        voice = PiperVoice(session=self._session, config=cfg)
        self.voice = voice
        self.sample_rate_hz = int(cfg.sample_rate)
        self.length_scale = length_scale

    def synthesize(self, text: str) -> Iterator[Pcm16]:
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=self.length_scale)
        for chunk in self.voice.synthesize(text, syn_config=syn):
            audio: Pcm16 = np.asarray(chunk.audio_int16_array, dtype=np.int16).reshape(-1)
            yield audio

    def warm(self) -> None:
        for _ in self.synthesize("Ready."):
            pass

    def interrupt(self) -> None:
        self._session.interrupt()
