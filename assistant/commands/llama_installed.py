"""The llama-cpp-python installed: its package, the marker the install writes into it, and
the AMX instructions in its libraries. Standard library only (see llama_build)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from assistant.commands.llama_flags import BuildError

MARKER = "assistant-build.json"

AMX_MNEMONICS = frozenset(
    {
        "ldtilecfg", "sttilecfg", "tilerelease", "tilezero", "tileloadd", "tileloaddt1",
        "tilestored", "tdpbssd", "tdpbsud", "tdpbusd", "tdpbuud", "tdpbf16ps", "tdpfp16ps",
        "tcmmimfp16ps", "tcmmrlfp16ps",
    }
)  # fmt: skip
"""Every AMX instruction (tile config, loads/stores, the dot products) as objdump names it."""


def package_dir() -> Path | None:
    """The installed llama_cpp package (without importing it: that loads the libraries)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_marker(pkg: Path | None) -> dict[str, object] | None:
    if pkg is None:
        return None
    try:
        data = json.loads((pkg / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def fingerprint(pkg: Path) -> str:
    """A hash of the installed libraries' contents: a marker left behind when pip replaced
    the package (pip removes only the files its RECORD lists) does not match it."""
    digest = hashlib.sha256()
    for lib in libraries(pkg):
        digest.update(lib.name.encode())
        digest.update(lib.read_bytes())
    return digest.hexdigest()[:16]


def installed_key(pkg: Path | None) -> str | None:
    """The key of the build installed, if this install made it and its files are unchanged."""
    marker = installed_marker(pkg)
    if pkg is None or marker is None or marker.get("files") != fingerprint(pkg):
        return None
    key = marker.get("key")
    return key if isinstance(key, str) else None


def libraries(pkg: Path) -> list[Path]:
    """The shared libraries llama-cpp-python loads (libllama, libggml*, libmtmd)."""
    return sorted(p for p in (pkg / "lib").glob("*.so*") if p.is_file() and not p.is_symlink())


def amx_instructions(library: Path) -> dict[str, int]:
    """How often each AMX instruction occurs in `library`'s machine code (objdump -d)."""
    objdump = shutil.which("objdump")
    if objdump is None:
        raise BuildError("objdump not found: install binutils")
    out = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, int] = {}
    for m in re.finditer(r"^\s*[0-9a-f]+:\s+([a-z0-9]+)", out, flags=re.MULTILINE):
        if m.group(1) in AMX_MNEMONICS:
            found[m.group(1)] = found.get(m.group(1), 0) + 1
    return found
