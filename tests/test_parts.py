"""A model shipped as byte slices in several packages, assembled once and checked each time."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config.parts import Parts, assembled
from assistant.core.errors import ModelNotFoundError

SLICE = 10_000


@pytest.fixture
def slices(tmp_path: Path) -> Iterator[Parts]:
    """Three installed 'packages' holding the slices of a 30,000-byte GGUF file."""
    site = tmp_path / "site"
    whole = b"GGUF" + os.urandom(3 * SLICE - 4)
    for n in range(1, 4):
        data = site / f"slicepkg{n}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{n:02d}.bin").write_bytes(whole[(n - 1) * SLICE : n * SLICE])
    sys.path.insert(0, str(site))
    try:
        yield Parts("slicepkg{n}", "data/part{n:02d}.bin", 3, 3 * SLICE, "model.gguf")
    finally:
        sys.path.remove(str(site))


def test_the_slices_are_put_together_once_and_a_damaged_copy_again(
    slices: Parts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    path = assembled(slices, "models.toml: llm.large", cache)
    assert path == cache / "model.gguf" and path.stat().st_size == 3 * SLICE
    first = path.stat().st_mtime_ns
    assert assembled(slices, "x", cache).stat().st_mtime_ns == first  # sound: kept
    damaged = bytearray(path.read_bytes())
    damaged[SLICE + 5] ^= 0xFF  # the start of slice 2 no longer matches it
    path.write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING):
        again = assembled(slices, "x", cache)
    assert "slice 2 is not where it belongs: assembling it again" in caplog.text
    assert again.read_bytes()[SLICE + 5] != damaged[SLICE + 5]
    path.write_bytes(path.read_bytes()[:-1])  # truncated
    assert assembled(slices, "x", cache).stat().st_size == 3 * SLICE
    assert not list(cache.glob(".*.part"))  # no temporary file left behind


def test_slices_shorter_than_the_sample_are_checked_in_place(tmp_path: Path) -> None:
    site = tmp_path / "site"
    whole = b"GGUF" + os.urandom(996 + 3000 + 1004)
    sizes = (1000, 3000, 1004)
    at = 0
    for n, size in enumerate(sizes, start=1):
        data = site / f"shortpkg{n}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{n:02d}.bin").write_bytes(whole[at : at + size])
        at += size
    sys.path.insert(0, str(site))
    try:
        parts = Parts("shortpkg{n}", "data/part{n:02d}.bin", 3, len(whole), "s.gguf")
        assert assembled(parts, "x", tmp_path / "cache").read_bytes() == whole
    finally:
        sys.path.remove(str(site))


def test_a_cache_that_cannot_be_written_is_a_clear_error_and_stale_parts_go(
    slices: Parts, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with pytest.raises(ModelNotFoundError, match=r"llm\.large: cannot put .* together"):
        assembled(slices, "models.toml: llm.large", blocked / "cache")
    cache = tmp_path / "cache"
    cache.mkdir()
    dead = cache / ".model.gguf.999999999.part"  # no such process
    dead.write_bytes(b"x" * 100)
    assembled(slices, "x", cache)
    assert not dead.exists()


def test_a_missing_or_different_slice_is_a_clear_error(slices: Parts, tmp_path: Path) -> None:
    missing = Parts("slicepkg{n}", "data/part{n:02d}.bin", 4, 4 * SLICE, "m.gguf")
    with pytest.raises(ModelNotFoundError, match="'slicepkg4' is not installed"):
        assembled(missing, "models.toml: llm.large", tmp_path)
    other = Parts("slicepkg{n}", "data/part{n:02d}.bin", 3, 3 * SLICE + 1, "m.gguf")
    with pytest.raises(ModelNotFoundError, match="hold 30000 bytes, not 30001"):
        assembled(other, "models.toml: llm.large", tmp_path)


@pytest.mark.models
def test_the_bundled_large_model_is_the_assembled_qwen_file(settings: object) -> None:
    from assistant.app import Settings

    assert isinstance(settings, Settings)
    path = settings.model_files()["llm.large"]
    assert path.stat().st_size == 1_117_320_768
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_locating_the_file_writes_nothing(slices: Parts, tmp_path: Path) -> None:
    # `check-config` reports where the model is kept: it must not write 1.1 GB to do so.
    from assistant.config.parts import located

    cache = tmp_path / "cache"
    assert located(slices, "x", cache) == cache / "model.gguf"
    assert not cache.exists()
    missing = Parts("slicepkg{n}", "data/part{n:02d}.bin", 4, 4 * SLICE, "m.gguf")
    with pytest.raises(ModelNotFoundError, match="'slicepkg4' is not installed"):
        located(missing, "x", cache)
