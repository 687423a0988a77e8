"""The OpenAI-compatible backend against a real llama.cpp server on loopback
(`python -m llama_cpp.server` serving the bundled SmolLM2), including the server dying
mid-answer."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.app import Settings, open_assistant
from assistant.audio.wav import WavSpeaker
from assistant.core.errors import LlmError
from assistant.engines.llm import Message, OpenAIChatModel

pytestmark = pytest.mark.models


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, model: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "1024",
             "--n_threads", "2"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "llama_cpp.server exited"
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.url}/models", timeout=1).close()
                return
            time.sleep(0.2)
        raise AssertionError("llama_cpp.server did not come up")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    s = Server(settings.model_files()["llm.fast"])
    try:
        yield s
    finally:
        s.kill()


QUESTION = [Message("system", "Answer in one short sentence."), Message("user", "")]


def ask(text: str) -> list[Message]:
    return [QUESTION[0], Message("user", text)]


def test_streams_an_answer_over_http(server: Server) -> None:
    model = OpenAIChatModel(server.url, timeout_s=10)
    model.warm("Answer in one short sentence.")
    deltas = list(model.stream(ask("What is the capital of France?"), 32))
    assert len(deltas) > 2  # streamed, not one block
    assert "paris" in "".join(deltas).lower()


def test_the_server_dying_mid_answer_ends_the_stream_with_an_error(server: Server) -> None:
    model = OpenAIChatModel(server.url, timeout_s=3)
    stream = model.stream(ask("Tell me a very long story about a dragon."), 400)
    got = [next(stream) for _ in range(3)]
    assert all(isinstance(d, str) for d in got)
    server.kill()
    t0 = time.monotonic()
    with pytest.raises(LlmError, match=r"mid-answer|Connection|reset|closed"):
        for _ in stream:
            pass
    assert time.monotonic() - t0 < 4


def test_a_server_that_is_not_there_is_a_clear_llm_error() -> None:
    model = OpenAIChatModel(f"http://127.0.0.1:{free_port()}/v1", timeout_s=2)
    with pytest.raises(LlmError, match="Connection refused"):
        list(model.stream(ask("Hello"), 4))


async def test_the_large_role_served_over_http_answers_and_falls_back_when_it_dies(
    settings: Settings, server: Server, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    text = settings.models_path.read_text()
    start = text.index("[llm.large]")
    end = text.index("\n[tts]", start)  # (past [llm.large] and its [llm.large.parts])
    models.write_text(
        text[:start]
        + f'[llm.large]\nengine = "openai"\nurl = "{server.url}"\nfirst_token_s = 5\n'
        + f"stall_s = 2\n{text[end:]}"
    )
    config = tmp_path / "config.toml"
    config.write_text(f'models_file = "{models}"\n')
    from assistant.app import load_settings

    over_http = load_settings(config)
    async with open_assistant(over_http) as a:
        rec = await a.runner.run(
            "Why is the sky blue?", WavSpeaker(tmp_path / "a.wav", 22050, a.clock)
        )
        assert (rec.route, rec.outcome) == ("large", "ok") and rec.reply
        assert rec.fallback is None
        server.kill()
        rec = await a.runner.run(
            "Why do cats purr?", WavSpeaker(tmp_path / "b.wav", 22050, a.clock)
        )
        assert rec.outcome == "ok" and rec.fallback == "fast" and rec.reply
