"""Language models behind one protocol: llama.cpp in process (on the model's chat template, or
a plain completion prompt for base models) and any OpenAI-compatible server over HTTP.

Every `stream` is a lazy generator consumed on the LLM worker thread; closing it stops the
generation (llama.cpp between tokens, HTTP by closing the connection)."""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from assistant.core.errors import LlmError


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

    def prefill(self, messages: Sequence[Message]) -> None:
        """Evaluate a conversation so far, between turns, so the next turn's prompt finds
        it cached (after the memory forgot something, or the other model answered)."""
        ...


_llama_log = logging.getLogger("llama_cpp")
_llama_logging_lock = threading.Lock()
_llama_log_callback: Any = None


def _route_llama_cpp_logs() -> None:
    """llama.cpp's own messages into `logging` (logger llama_cpp), one record per line.

    By default llama-cpp-python prints them to stderr, and with verbose=False silences a
    model load by pointing file descriptors 1 and 2 at /dev/null for the whole process:
    every other thread's log lines are lost meanwhile, and two loads at once can leave
    them there. A daemon whose stderr is the journal wants neither.
    """
    global _llama_log_callback
    with _llama_logging_lock:
        if _llama_log_callback is not None:
            return
        import llama_cpp
        import llama_cpp._internals
        import llama_cpp.llama

        # ggml.h's ggml_log_level (llama-cpp-python's own table is the older numbering):
        # 1 debug, 2 info, 3 warn, 4 error, 5 continues the last line.
        levels = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
        pending = _LogLine()

        def forward(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            if level != 5:
                pending.level = levels.get(level, logging.DEBUG)
            pending.text += text.decode("utf-8", errors="replace")
            while "\n" in pending.text:
                line, pending.text = pending.text.split("\n", 1)
                if line.strip():
                    _llama_log.log(llama_level(pending.level, line), "%s", line.strip())

        _llama_log_callback = llama_cpp.llama_log_callback(forward)
        llama_cpp.llama_log_set(_llama_log_callback, ctypes.c_void_p(0))
        for module in (llama_cpp.llama, llama_cpp._internals):
            if hasattr(module, "suppress_stdout_stderr"):
                module.suppress_stdout_stderr = _no_suppression  # type: ignore[attr-defined]


_HARMLESS = re.compile(
    # A GGUF whose end-of-text token is typed "normal": llama.cpp fixes the type as it loads
    # (SmolLM2's '</s>' among others); the model answers the same either way.
    r"control-looking token: .* was not control-type; this is probably a bug in the model"
    # Gemma 3's sliding-window layers keep a full-size cache so the prompt cache can be
    # reused across turns (what the daemon wants); a note, not a fault.
    r"|using full-size SWA cache"
)
"""llama.cpp WARNING lines that say nothing is wrong with the user's setup: logged at DEBUG."""


def llama_level(level: int, line: str) -> int:
    """The level a llama.cpp message is logged at: DEBUG for known-harmless warnings."""
    if level == logging.WARNING and _HARMLESS.search(line):
        return logging.DEBUG
    return level


@dataclass
class _LogLine:
    level: int = logging.DEBUG
    text: str = ""


@contextlib.contextmanager
def _no_suppression(disable: bool = True) -> Iterator[None]:
    yield


class _LlamaModel:
    """A GGUF file loaded in process by llama-cpp-python."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int,
        threads: int,
        temperature: float,
        n_batch: int = 256,
        use_mmap: bool = False,
    ) -> None:
        from llama_cpp import Llama

        _route_llama_cpp_logs()

        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=n_batch,
                # Read, not mapped, by default (models.toml's use_mmap says why).
                use_mmap=use_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise LlmError(f"cannot load {path}: {e}") from e
        self.temperature = temperature

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        raise NotImplementedError

    def warm(self, system_prompt: str) -> None:
        _warm(self, system_prompt)

    @staticmethod
    def _texts(chunks: Iterator[Any], text: Callable[[Any], str | None]) -> Iterator[str]:
        """The non-empty texts of llama-cpp-python's stream; closing this closes it, which
        stops llama.cpp's generation right there."""
        try:
            for chunk in chunks:
                if piece := text(chunk):
                    yield piece
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def prefill(self, messages: Sequence[Message]) -> None:
        # The next prompt is these messages plus a user turn: an empty one shares every
        # token up to the user's words.
        for _ in self.stream([*messages, Message("user", "")], max_tokens=1):
            pass


class LlamaChatModel(_LlamaModel):
    """llama-cpp-python in process, on the model's own chat template.

    llama.cpp keeps the KV cache of the previous prompt and re-uses its longest common
    token prefix, so with the system prompt warmed once a turn only evaluates the
    conversation after it.
    """

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
        yield from self._texts(chunks, lambda c: c["choices"][0]["delta"].get("content"))

    def prompt_tokens_cached(self) -> int:
        """Tokens now in the KV cache (for tests of prefix re-use)."""
        return int(self.llm.n_tokens)


class LlamaCompletionModel(_LlamaModel):
    """A base model (no chat template, e.g. Gemma-3-270M) on a plain question/answer prompt.

    The system prompt and two worked examples form a fixed prefix, so llama.cpp's prefix
    cache re-uses them turn after turn exactly as with a chat model. Generation stops at
    the next "Question:" the model starts to invent.
    """

    EXAMPLES = (
        ("Why do leaves change colour in autumn?",
         "As days shorten, trees stop making green chlorophyll, so the yellow and orange "
         "pigments that were there all along show through."),
        ("What is the difference between weather and climate?",
         "Weather is what the sky does today; climate is the pattern of weather over "
         "decades in one place."),
    )  # fmt: skip
    STOP = ("\nQuestion:", "\n\n", "Question:")

    def prompt(self, messages: Sequence[Message]) -> str:
        system = " ".join(m.content for m in messages if m.role == "system")
        lines = [system, ""] if system else []
        for q, a in self.EXAMPLES:
            lines += [f"Question: {q}", f"Answer: {a}", ""]
        for m in messages:
            if m.role == "user":
                lines.append(f"Question: {m.content}")
            elif m.role == "assistant":
                lines += [f"Answer: {m.content}", ""]
        lines.append("Answer:")
        return "\n".join(lines)

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        chunks = cast(
            Iterator[Any],
            self.llm.create_completion(
                self.prompt(messages),
                max_tokens=max_tokens,
                temperature=self.temperature,
                repeat_penalty=1.15,
                stop=list(self.STOP),
                stream=True,
            ),
        )
        yield from self._texts(chunks, lambda c: c["choices"][0]["text"])


class OpenAIChatModel:
    """Any OpenAI-compatible `/v1/chat/completions` server (llama.cpp server, vLLM, Ollama),
    streamed as server-sent events. The standard library's HTTP client is enough for one
    streamed POST; `timeout_s` bounds the connect and every read, so a server that stalls
    or goes away ends the stream with an `LlmError` instead of hanging the turn.
    """

    def __init__(
        self,
        url: str,
        *,
        model: str = "",
        api_key: str | None = None,
        temperature: float = 0.0,
        timeout_s: float = 10.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise LlmError(f"not an http(s) URL: {url!r}")
        self.url, self.parsed = url, parsed
        self.model, self.api_key = model, api_key
        self.temperature, self.timeout_s = temperature, timeout_s

    def _connection(self) -> http.client.HTTPConnection:
        cls = (
            http.client.HTTPSConnection
            if self.parsed.scheme == "https"
            else http.client.HTTPConnection
        )
        return cls(self.parsed.hostname or "", self.parsed.port, timeout=self.timeout_s)

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                "max_tokens": max_tokens,
                "temperature": self.temperature,
                "stream": True,
            }
        )
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        conn = self._connection()
        where = f"{self.url}/chat/completions"
        response: http.client.HTTPResponse | None = None
        try:
            try:
                conn.request("POST", f"{self.parsed.path}/chat/completions", body, headers)
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                raise LlmError(f"{where}: {e or type(e).__name__}") from e
            if response.status != 200:
                detail = response.read(300).decode(errors="replace")
                raise LlmError(f"{where}: HTTP {response.status}: {detail}")
            yield from self._events(response, where)
        finally:
            # A `Connection: close` response owns the socket: closing the connection
            # alone would leave it open.
            if response is not None:
                response.close()
            conn.close()

    @staticmethod
    def _events(response: http.client.HTTPResponse, where: str) -> Iterator[str]:
        done = False
        try:
            for raw in response:
                line = raw.decode(errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    return
                try:
                    choice = json.loads(data)["choices"][0]
                except (ValueError, KeyError, IndexError) as e:
                    raise LlmError(f"{where}: unexpected event {data[:100]!r}") from e
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    yield delta
                if choice.get("finish_reason"):
                    done = True
                    return
        except (TimeoutError, OSError, http.client.HTTPException) as e:
            raise LlmError(f"{where}: {e or type(e).__name__}") from e
        if not done:
            raise LlmError(f"{where}: the server closed the stream mid-answer")

    def prefill(self, messages: Sequence[Message]) -> None:
        """Nothing: the server keeps its own cache, and a request would cost it a turn."""

    def warm(self, system_prompt: str) -> None:
        """Ask for one token: the server is up and has the system prompt in its cache."""
        _warm(self, system_prompt)


def _warm(model: ChatModel, system_prompt: str) -> None:
    """One token of a reply: loads what is lazy and evaluates (caches) the system prompt."""
    for _ in model.stream([Message("system", system_prompt), Message("user", "Hello")], 1):
        pass
