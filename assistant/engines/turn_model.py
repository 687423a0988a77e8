"""End of turn from the audio: Smart Turn v3.2 (Pipecat's, BSD-2-Clause), an 8.7 MB int8 ONNX
model that reads the last 8 s of an utterance as Whisper log-mel features and says how likely
the speaker has finished. Its file ships inside the `pipecat-ai` wheel, installed without its
dependencies (`scripts/install`); the features are faster-whisper's extractor, which gives the
same numbers as Pipecat's own numpy one (checked: largest difference 0 on the probe's files).

~105 ms per call on one thread here (two threads are no faster), so it runs on its own worker
while ASR runs on the other core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.core.errors import ConfigError
from assistant.core.frames import Pcm16

RATE_HZ = 16_000
WINDOW_S = 8


class TurnModel(Protocol):
    def probability(self, samples: Pcm16, sample_rate_hz: int) -> float:
        """Blocking: how likely the utterance so far (ending in its silence) is finished."""
        ...


class SmartTurn:
    def __init__(self, model: Path, *, threads: int = 1) -> None:
        import onnxruntime
        from faster_whisper.feature_extractor import FeatureExtractor

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = threads
        opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 4
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(model), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own types for a bad file
            raise ConfigError(f"cannot load the turn model {model}: {e}") from e
        self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)

    def probability(self, samples: Pcm16, sample_rate_hz: int) -> float:
        if sample_rate_hz != RATE_HZ:
            raise ValueError(f"the turn model needs {RATE_HZ} Hz audio, got {sample_rate_hz}")
        n = WINDOW_S * RATE_HZ
        x = samples[-n:].astype(np.float32) / 32768.0
        x = np.pad(x, (n - len(x), 0))  # the model was trained with the start zero-padded
        # Zero mean, unit variance before the spectrogram, as Whisper's extractor does with
        # do_normalize (Pipecat's settings for this model).
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        features = self._features(x, padding=0)[:, : WINDOW_S * 100]
        out = self._session.run(None, {"input_features": features[None].astype(np.float32)})
        return float(np.asarray(out[0]).reshape(-1)[0])
