"""llama.cpp's messages reach `logging`, and loading a model leaves stderr alone."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from assistant.app import Settings
from assistant.engines.llm import LlamaChatModel

pytestmark = pytest.mark.models


def test_loading_a_model_logs_through_logging_and_never_redirects_stderr(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # llama-cpp-python's verbose=False points fds 1 and 2 at /dev/null while a model loads:
    # the daemon's other threads would log into the void meanwhile.
    stderr_at_start = os.fstat(2).st_ino
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.add(os.fstat(2).st_ino)

    watcher = threading.Thread(target=watch)
    watcher.start()
    caplog.set_level(logging.DEBUG, logger="llama_cpp")
    try:
        LlamaChatModel(settings.model_files()["llm.fast"], n_ctx=512, threads=1, temperature=0)
    finally:
        done.set()
        watcher.join()
    assert seen == {stderr_at_start}
    lines = [r.getMessage() for r in caplog.records if r.name == "llama_cpp"]
    assert any(line.startswith("llama_model_loader:") for line in lines), lines[:5]
    assert all("\n" not in line and line for line in lines)
