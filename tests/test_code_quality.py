"""The habits the style guide asks for, checked: ruff (lint and format) and mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def check(*cmd: str) -> None:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_lint() -> None:
    check(str(BIN / "ruff"), "check", "assistant", "tests")


def test_ruff_format() -> None:
    check(str(BIN / "ruff"), "format", "--check", "assistant", "tests")


def test_mypy_strict() -> None:
    check(str(BIN / "mypy"))
