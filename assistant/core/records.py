"""Record files: the bench's and compare's JSON lines, a `{"run": ...}` header and then one
turn record per line (`TurnRecord.to_dict()`). Written and read here only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.core.errors import RecordFileError


def write_records(path: Path, header: dict[str, Any], records: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        f.write(json.dumps({"run": header}, ensure_ascii=False) + "\n")
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_records(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A record file: an optional `{"run": ...}` first line, then turn records. Raises
    RecordFileError naming the file and line when it is not one."""
    header: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise RecordFileError(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise RecordFileError(f"{path}: not a text file") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordFileError(f"{path}:{n}: not JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise RecordFileError(f"{path}:{n}: expected a JSON object")
        if "run" in obj:
            if records or header or not isinstance(obj["run"], dict):
                raise RecordFileError(f"{path}:{n}: a 'run' header must be the first line")
            header = obj["run"]
            continue
        missing = [k for k in ("outcome", "ms") if k not in obj]
        if obj.get("outcome") == "ok" and "first_audio_ms" not in obj:
            missing.append("first_audio_ms")
        if missing:
            raise RecordFileError(f"{path}:{n}: not a turn record (missing {', '.join(missing)})")
        if not isinstance(obj.get("ms", {}), dict):
            raise RecordFileError(f"{path}:{n}: 'ms' must be an object of stage durations")
        records.append(obj)
    if not records:
        raise RecordFileError(f"{path}: no turn records")
    return header, records
