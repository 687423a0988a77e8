"""Language models: the ChatModel protocol and its llama.cpp implementation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from assistant.errors import LlmError


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(Protocol):
    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """Text deltas of the reply. A lazy generator, consumed on the LLM worker thread."""
        ...

    def warm(self, system_prompt: str) -> None:
        """Evaluate the system prompt once, so each turn only prefills the new words."""
        ...


class LlamaChatModel:
    """llama-cpp-python in process, on the model's own chat template.

    llama.cpp keeps the KV cache of the previous prompt and re-uses its longest common
    token prefix, so with the system prompt warmed once a turn only evaluates the
    conversation after it.
    """

    def __init__(self, path: Path, *, n_ctx: int, threads: int, temperature: float) -> None:
        from llama_cpp import Llama

        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=256,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise LlmError(f"cannot load {path}: {e}") from e
        self.temperature = temperature

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        request: Any = [{"role": m.role, "content": m.content} for m in messages]
        chunks = cast(
            Iterator[Any],
            self.llm.create_chat_completion(
                messages=request,
                max_tokens=max_tokens,
                temperature=self.temperature,
                stream=True,
            ),
        )
        try:
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    yield delta
        finally:
            # Closing the llama.cpp generator stops generation right here.
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def prompt_tokens_cached(self) -> int:
        """Tokens now in the KV cache (for tests of prefix re-use)."""
        return int(self.llm.n_tokens)

    def warm(self, system_prompt: str) -> None:
        for _ in self.stream(
            [Message("system", system_prompt), Message("user", "Hello")], max_tokens=1
        ):
            pass
