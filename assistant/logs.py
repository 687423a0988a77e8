"""Logging for terminals and journald: one line per event, a level prefix, no colour."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Model libraries are chatty at INFO.
    for noisy in ("faster_whisper", "piper", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
