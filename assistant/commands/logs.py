"""Logging for terminals and journald: one line per event, a level prefix, no colour.

On a terminal or a pipe a line is `LEVEL logger: message`. When stderr is the journal's
stream (systemd sets $JOURNAL_STREAM to its device:inode) each line also starts with the
kernel-style `<N>` priority, so `journalctl -p warning` works, and a message that spans
lines (a traceback) is folded into one, so it stays one journal entry at its priority.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

# syslog priorities (sd-daemon(3)'s SD_ERR ... SD_DEBUG).
PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def to_journal(stream: TextIO | None = None) -> bool:
    """Whether `stream` (default stderr) is connected to journald."""
    stream = stream or sys.stderr
    try:
        dev, ino = (int(x) for x in os.environ.get("JOURNAL_STREAM", "").split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def priority(levelno: int) -> int:
    return next((p for lvl, p in sorted(PRIORITIES.items(), reverse=True) if levelno >= lvl), 7)


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record).replace("\n", "\\n")
        return f"<{priority(record.levelno)}>{text}"


FORMAT = "%(levelname)s %(name)s: %(message)s"


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JournalFormatter(FORMAT) if to_journal() else logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Model libraries are chatty at INFO.
    for noisy in ("faster_whisper", "piper", "httpx", "llama_cpp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def error_line(text: str) -> None:
    """The one line a failing command leaves on stderr (at error priority in the journal)."""
    prefix = f"<{PRIORITIES[logging.ERROR]}>" if to_journal() else ""
    print(prefix + text.replace("\n", " "), file=sys.stderr, flush=True)
