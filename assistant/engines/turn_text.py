"""End of turn from the words: how likely a small chat model thinks the user's message ends
here, i.e. the probability of its end-of-message token right after the transcript so far
(LiveKit's turn detector is SmolLM2-135M fine-tuned for exactly this; the plain instruct
model already tells "what is the capital of" from "what is the capital of peru").

The text is normalized as such detectors are (lower case, no punctuation): Whisper puts a
full stop or a question mark after fragments ("How many?"), which would say "finished" for
it. Measured on the pause corpus's tuning set (`assistant eot`), log10 of that probability
separates the words before a mid-sentence pause from whole sentences with an area under the
ROC curve of 0.905 (with Whisper's punctuation left in: 0.645). ~40 ms per call on one
thread here, on its own copy of the model (100 MB), so a reply being written is not
disturbed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.core.errors import ConfigError

PREFIX = "<|im_start|>user\n"
END = "<|im_end|>"


def normalized(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


class TextTurnModel(Protocol):
    def end_log10(self, text: str) -> float:
        """Blocking: log10 of the probability that the user's message ends after `text`."""
        ...


class ChatEndOfTurn:
    """A ChatML chat model (SmolLM2) asked for its end-of-message token."""

    def __init__(self, model: Path, *, threads: int = 1) -> None:
        from llama_cpp import Llama

        try:
            self._llm: Any = Llama(
                model_path=str(model), n_ctx=256, n_batch=64, n_threads=threads, verbose=False
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise ConfigError(f"cannot load the text turn model {model}: {e}") from e
        self._prefix = self._tokens(PREFIX)
        end = self._tokens(END)
        if len(end) != 1:
            raise ConfigError(f"{model}: {END} is not one token (not a ChatML model)")
        self._end = end[0]

    def _tokens(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode(), add_bos=False, special=True))

    def end_log10(self, text: str) -> float:
        import llama_cpp

        words = self._tokens(normalized(text))[:200]
        if self._llm.n_tokens < len(self._prefix) or not words:
            self._llm.reset()
            self._llm.eval(self._prefix + words)
        else:  # the prefix stays in the model's cache: only the words are read
            self._llm.n_tokens = len(self._prefix)
            self._llm.eval(words)
        raw = llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)
        logits = np.ctypeslib.as_array(raw, shape=(self._llm.n_vocab(),)).astype(np.float64)
        top = logits.max()
        log_z = top + math.log(float(np.exp(logits - top).sum()))
        return float((logits[self._end] - log_z) / math.log(10))
