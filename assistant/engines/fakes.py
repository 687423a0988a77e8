"""In-tree fakes of the engines, for unit tests of the pipeline's logic (never a substitute
for the integration tests with the real models)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np

from assistant.core.frames import Pcm16
from assistant.engines.llm import Message


class FakeTranscriber:
    def __init__(self, text: str, delay_s: float = 0.0) -> None:
        self.text, self.delay_s = text, delay_s

    def transcribe(self, samples: Pcm16, sample_rate_hz: int, prompt: str = "") -> str:
        time.sleep(self.delay_s)
        return self.text

    def warm(self) -> None:
        pass


class FakeChatModel:
    """Streams a fixed reply word by word, `delay_s` per word; records what it was asked."""

    def __init__(self, reply: str, delay_s: float = 0.0) -> None:
        self.reply, self.delay_s = reply, delay_s
        self.calls: list[list[Message]] = []
        self.tokens_out = 0

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        self.calls.append(list(messages))
        for i, word in enumerate(self.reply.split(" ")[:max_tokens]):
            time.sleep(self.delay_s)
            self.tokens_out += 1
            yield word if i == 0 else " " + word

    def prefill(self, messages: Sequence[Message]) -> None:
        pass

    def warm(self, system_prompt: str) -> None:
        pass


class FakeSynthesizer:
    """A 440 Hz tone, 50 ms per character of text."""

    sample_rate_hz = 22_050

    def __init__(self, delay_s: float = 0.0, fail_on: str | None = None) -> None:
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.texts: list[str] = []

    def interrupt(self) -> None:
        pass

    def synthesize(self, text: str) -> Iterator[Pcm16]:
        self.texts.append(text)
        time.sleep(self.delay_s)
        if self.fail_on is not None and self.fail_on in text:
            raise RuntimeError(f"cannot say {text!r}")
        n = int(self.sample_rate_hz * 0.05 * len(text))
        t = np.arange(n) / self.sample_rate_hz
        yield (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)

    def warm(self) -> None:
        pass
