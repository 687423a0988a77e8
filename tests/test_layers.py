"""The folders are layers, and the contract in pyproject.toml holds them (import-linter).

The contract is checked on the tree as it is, then shown to break on a copy of the package
where a core module imports what it must not: an adapter, the event loop, or a module that
imports it back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layers_hold() -> None:
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "assistant", tmp_path / "assistant", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def add_import(root: Path, module: str, line: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    assert sep, path
    path.write_text(head + sep + line + "\n" + rest)


@pytest.mark.parametrize(
    ("line", "broken"),
    [
        ("from assistant.audio import devices", "commands > app > integrations"),
        ("from assistant.pipeline import turn", "commands > app > integrations"),
        ("import asyncio", "the core imports no event loop"),
        ("import sounddevice", "the core imports no event loop"),
    ],
)
def test_a_core_module_importing_an_adapter_breaks_the_contract(
    copy: Path, line: str, broken: str
) -> None:
    add_import(copy, "assistant.core.endpoint", line)
    proc = lint_imports(copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = [ln for ln in proc.stdout.splitlines() if ln.startswith(broken)]
    assert verdicts and verdicts[0].endswith("BROKEN"), proc.stdout
    assert "assistant.core.endpoint" in proc.stdout


def test_an_import_cycle_breaks_the_contract(copy: Path) -> None:
    # levels is imported by endpoint; importing endpoint back closes a cycle.
    add_import(copy, "assistant.core.levels", "from assistant.core import endpoint")
    proc = lint_imports(copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    verdicts = [ln for ln in proc.stdout.splitlines() if ln.startswith("no import cycles")]
    assert verdicts and verdicts[0].endswith("BROKEN"), proc.stdout
    assert "2 kept, 1 broken" in proc.stdout
