"""The bench records as the report reads them: the stages in the order they happen, their
colours and labels, and the answered turns of a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

Run = tuple[Path, dict[str, Any], list[dict[str, Any]]]

STAGE_ORDER = [
    "endpoint",
    "uplink",
    "asr_hop",
    "asr",
    "route",
    "llm_hop",
    "llm",
    "clause",
    "tts_hop",
    "tts",
    "hold",
    "downlink",
    "playout",
]
"""Stages in the order they happen; the cloud what-if's hops sit before the stage they
delay (see assistant/commands/compare.py)."""

# Okabe-Ito (colour-blind safe) for measured stages; reds for modelled network hops.
COLOURS = {
    "endpoint": "#999999",
    "asr": "#0072b2",
    "route": "#56b4e9",
    "llm": "#009e73",
    "clause": "#f0e442",
    "tts": "#cc79a7",
    "hold": "#dddddd",
    "playout": "#444444",
    "uplink": "#d55e00",
    "asr_hop": "#e69f00",
    "llm_hop": "#e69f00",
    "tts_hop": "#e69f00",
    "downlink": "#d55e00",
}
OTHER = "#777777"
"""A stage without a colour of its own."""
RUN_COLOURS = ["#0072b2", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#e69f00", "#000000"]
LABELS = {
    "endpoint": "end-pointing",
    "asr": "ASR",
    "route": "route",
    "llm": "LLM first token",
    "clause": "first clause",
    "tts": "TTS",
    "hold": "held until the user is surely done",
    "playout": "to the device",
    "uplink": "uplink (modelled)",
    "asr_hop": "ASR queue (modelled)",
    "llm_hop": "LLM request (modelled)",
    "tts_hop": "TTS request (modelled)",
    "downlink": "downlink + jitter buffer (modelled)",
}


def _answered(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if r.get("outcome") == "ok"
        and r.get("origin") != "announce"
        and isinstance(r.get("first_audio_ms"), int | float)
    ]


def _first_audio(records: Sequence[dict[str, Any]]) -> list[float]:
    return [float(r["first_audio_ms"]) for r in _answered(records)]


def _names(runs: Sequence[Run]) -> list[str]:
    names = []
    for path, header, _ in runs:
        name = str(header.get("label") or path.stem)
        if not header.get("measured", True):
            name += " (modelled)"
        while name in names:
            name += "*"
        names.append(name)
    return names


def _stages(record: dict[str, Any]) -> list[tuple[str, float]]:
    ms = dict(record.get("ms") or {})
    held = record.get("held_ms")
    if isinstance(held, int | float) and held > 0 and isinstance(ms.get("playout"), int | float):
        # A reply ready before the end-pointer's hold waits for it: shown as such, not as
        # time spent getting the audio to the device.
        ms["hold"], ms["playout"] = float(held), max(0.0, float(ms["playout"]) - held)
    known = [(s, float(ms[s])) for s in STAGE_ORDER if isinstance(ms.get(s), int | float)]
    other = [
        (s, float(v)) for s, v in ms.items() if s not in STAGE_ORDER and isinstance(v, int | float)
    ]
    return known + other
