"""`assistant bench --compare`: the same utterances back to back under several configurations.

Each configuration runs as its own `assistant bench --variant NAME` process, one after the
other, so its peak memory and CPU time are its own. The records of each go to
`<out>/<variant>.jsonl`: a first line `{"run": {...}}` says what was measured (machine,
models, threads, pipeline, peak memory, CPU seconds), then one turn record per line.

The cloud what-if is not a measurement: it takes the routed run's records and adds, per
turn, the network and queueing time a hosted pipeline pays on each hop (`CloudModel`), so
the compute is exactly ours and only the trips differ. Its parameters and where they come
from are written into its run header and shown in the report.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from assistant.app import Settings
from assistant.config import PipelineDef
from assistant.core.errors import AssistantError
from assistant.core.latency import TurnRecord, percentile
from assistant.core.records import read_records, write_records
from assistant.pipeline.stages import REQUIRED

VARIANTS: dict[str, dict[str, Any]] = {
    "fast-only": {"llm_role": "llm.fast", "stages": list(REQUIRED)},
    "large-only": {"llm_role": "llm.large", "stages": list(REQUIRED)},
    "routed": {},
}
"""Pipeline overrides per configuration: one small model for everything, one larger model
for everything, and the default (intents, the small model, the larger one for hard turns)."""

DESCRIPTIONS = {
    "fast-only": "every turn to the small model (llm.fast); no intents, no escalation",
    "large-only": "every turn to the larger model (llm.large); no intents",
    "routed": "the default: intents without a model, llm.fast, llm.large for hard turns",
    "cloud": "what-if (a model, not a measurement): the routed run's compute plus a hosted "
    "pipeline's network and queueing time per hop",
}


def apply_variant(settings: Settings, name: str) -> Settings:
    # Validated again, so a variant is held to the same rules as a pipeline file.
    pipeline = PipelineDef.model_validate(settings.pipeline.model_dump() | VARIANTS[name])
    return dataclasses.replace(settings, pipeline=pipeline)


# ---------------------------------------------------------------- run header


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": mem_gib,
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
    }


def run_header(label: str, settings: Settings, records: Sequence[TurnRecord]) -> dict[str, Any]:
    files = settings.model_files()
    llm, large = settings.llm_model(), settings.large_model()
    models: dict[str, Any] = {
        "asr": _model_name(files.get("asr")),
        "llm": llm.url or _model_name(files.get(settings.pipeline.llm_role)),
        "llm.large (escalation)": None
        if large is None
        else (large.url or _model_name(files.get("llm.large"))),
        "tts": _model_name(files.get("tts")),
    }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    answered = [r for r in records if r.outcome == "ok"]
    return {
        "label": label,
        "description": DESCRIPTIONS.get(label, ""),
        "measured": True,
        "machine": machine(),
        "models": models,
        "threads": {
            "asr": settings.models.asr.threads,
            "llm": llm.threads,
            "tts": settings.models.tts.threads,
        },
        "pipeline": settings.pipeline_name,
        "pipeline_overrides": VARIANTS.get(label, {}),
        "turns": len(records),
        "answered": len(answered),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kB
        "cpu_s_process": round(usage.ru_utime + usage.ru_stime, 2),  # loading included
    }


def _model_name(path: Path | None) -> str | None:
    return None if path is None else path.name


# ---------------------------------------------------------------- the cloud what-if


@dataclasses.dataclass(frozen=True)
class Hop:
    stage: str
    """The stage name this hop adds to the turn (`report.STAGE_ORDER` places it)."""
    ms: float
    what: str
    source: str


def _param(default: float, what: str) -> Any:
    """A CloudModel parameter: `assistant bench --cloud-<name>` sets it (milliseconds)."""
    return dataclasses.field(default=default, metadata={"help": what})


def cloud_params() -> list[tuple[str, float, str]]:
    """(option name, default, help) of each parameter, for the command line."""
    defaults = CloudModel()
    return [
        (f.name.replace("_", "-"), getattr(defaults, f.name), f.metadata["help"])
        for f in dataclasses.fields(CloudModel)
    ]


@dataclasses.dataclass(frozen=True)
class CloudModel:
    """Network and queueing time a hosted voice pipeline pays per turn, hop by hop.

    The orchestrator runs in a cloud region; the device streams audio to it and plays what
    comes back; speech-to-text, the language model and text-to-speech are hosted services
    it calls. Compute is taken to cost what it costs here (the routed run's own stages),
    which flatters the cloud on the hops (a data-centre GPU is faster) and on nothing else.
    """

    rtt_ms: float = _param(40.0, "device <-> cloud region round trip")
    api_rtt_ms: float = _param(30.0, "orchestrator <-> hosted service round trip, per request")
    frame_ms: float = _param(20.0, "audio frame the device sends")
    asr_queue_ms: float = _param(50.0, "hosted speech-to-text queueing")
    llm_queue_ms: float = _param(200.0, "hosted LLM queueing before its first token")
    tts_queue_ms: float = _param(50.0, "hosted text-to-speech queueing")
    jitter_buffer_ms: float = _param(60.0, "the device's jitter buffer")

    def hops(self) -> list[Hop]:
        return [
            Hop(
                "uplink",
                self.rtt_ms / 2 + self.frame_ms,
                f"the last audio frame ({self.frame_ms:.0f} ms) reaches the region: half a "
                f"{self.rtt_ms:.0f} ms round trip",
                "20 ms is WebRTC's usual Opus frame (RFC 6716 allows 2.5-60 ms); the round "
                "trip is an assumption for a home line to the nearest region: measure yours "
                "with ping and pass --cloud-rtt-ms",
            ),
            Hop(
                "asr_hop",
                self.asr_queue_ms,
                "a hosted speech-to-text service finalises the transcript on a shared queue",
                "assumption: no provider publishes a queueing figure; set --cloud-asr-queue-ms",
            ),
            Hop(
                "llm_hop",
                self.api_rtt_ms + self.llm_queue_ms,
                f"a request to a hosted language model: a {self.api_rtt_ms:.0f} ms round trip "
                f"plus {self.llm_queue_ms:.0f} ms of queueing and batching before its first "
                "token (intent turns pay it too: understanding happens in the cloud)",
                "assumption: time to first token of shared LLM APIs varies by provider and "
                "load; set --cloud-llm-queue-ms",
            ),
            Hop(
                "tts_hop",
                self.api_rtt_ms + self.tts_queue_ms,
                f"a request to a hosted text-to-speech service: a {self.api_rtt_ms:.0f} ms "
                f"round trip plus {self.tts_queue_ms:.0f} ms of queueing",
                "assumption; set --cloud-tts-queue-ms",
            ),
            Hop(
                "downlink",
                self.rtt_ms / 2 + self.jitter_buffer_ms,
                f"the first reply audio travels back (half the round trip) and waits in the "
                f"device's jitter buffer ({self.jitter_buffer_ms:.0f} ms)",
                "a jitter buffer of a few frames is what real-time audio over the internet "
                "needs (WebRTC's adapts to the network); ITU-T G.114 puts the comfortable "
                "one-way delay of a conversation under 150 ms",
            ),
        ]

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as it would be with the hops added (stages still add up), less what
        the hold's wait would have hidden."""
        if record.get("outcome") != "ok" or record.get("first_audio_ms") is None:
            return dict(record)
        added = {h.stage: h.ms for h in self.hops()}
        out = dict(record)
        ms = {**record.get("ms", {}), **added}
        # A reply that was ready before the end-pointer's hold waited for it (`held_ms`,
        # part of `playout`). The hops before the reply exists (all but the downlink) would
        # have run during that wait, the turn being speculative: they only cost what the
        # wait does not cover.
        held = float(record.get("held_ms") or 0.0)
        absorbed = min(held, sum(v for k, v in added.items() if k != "downlink"))
        if absorbed > 0 and isinstance(ms.get("playout"), int | float):
            ms["playout"] = round(ms["playout"] - absorbed, 1)
            out["held_ms"] = round(held - absorbed, 1)
        else:
            absorbed = 0.0
        out["ms"] = ms
        extra = sum(added.values()) - absorbed
        out["first_audio_ms"] = round(record["first_audio_ms"] + extra, 1)
        if record.get("total_ms") is not None:
            out["total_ms"] = round(record["total_ms"] + extra, 1)
        out["modelled_ms"] = round(extra, 1)
        return out

    def describe(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(h) for h in self.hops()]


def cloud_run(
    routed_header: dict[str, Any], records: Sequence[dict[str, Any]], model: CloudModel
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header = {
        **routed_header,
        "label": "cloud",
        "description": DESCRIPTIONS["cloud"],
        "measured": False,
        "cloud_model": model.describe(),
    }
    return header, [model.apply(r) for r in records]


# ---------------------------------------------------------------- running it


def compare(
    wavs: Sequence[Path],
    out_dir: Path,
    common_args: Sequence[str],
    model: CloudModel,
    progress: Callable[[str], None] = print,
) -> list[Path]:
    """Each variant in its own process, back to back; then the cloud what-if. Returns the
    record files written."""
    written: list[Path] = []
    for name in VARIANTS:
        path = out_dir / f"{name}.jsonl"
        progress(f"{name}: {DESCRIPTIONS[name]}")
        cmd = [
            sys.executable,
            "-m",
            "assistant",
            "bench",
            *map(str, wavs),
            "--variant",
            name,
            "--json",
            str(path),
            "--out-dir",
            str(out_dir / f"{name}-replies"),
            *common_args,
        ]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, check=False)
        if proc.returncode != 0 or not path.exists():
            raise AssistantError(f"{name}: assistant bench exited with {proc.returncode}")
        written.append(path)
    header, records = read_records(out_dir / "routed.jsonl")
    cloud_header, cloud_records = cloud_run(header, records, model)
    cloud = out_dir / "cloud.jsonl"
    write_records(cloud, cloud_header, cloud_records)
    written.append(cloud)
    return written


def summary_row(header: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in records if r.get("outcome") == "ok" and r.get("origin") != "announce"]
    first = [float(r["first_audio_ms"]) for r in ok]
    cpu = [float(r["cpu_s"]) for r in ok if isinstance(r.get("cpu_s"), int | float)]
    scored = [bool(r["right"]) for r in records if "right" in r]  # (assistant eval's)
    return {
        "right_pct": 100 * sum(scored) / len(scored) if scored else None,
        "label": header.get("label", "?"),
        "answered": f"{len(ok)}/{len(records)}",
        "p50_ms": percentile(first, 50) if first else None,
        "p95_ms": percentile(first, 95) if first else None,
        "peak_rss_mb": header.get("peak_rss_mb"),
        "cpu_s_per_turn": percentile(cpu, 50) if cpu else None,
        "measured": header.get("measured", True),
    }


def print_comparison(
    runs: Sequence[tuple[dict[str, Any], list[dict[str, Any]]]], out: TextIO = sys.stdout
) -> None:
    print(
        "configuration  answered  right  first audio p50    p95  peak RSS  CPU s/turn (p50)",
        file=out,
    )
    for header, records in runs:
        row = summary_row(header, records)
        mark = "" if row["measured"] else "  (modelled)"
        print(
            f"{row['label']:<13} {row['answered']:>9} {_num(row['right_pct'], '%'):>6}"
            f" {_num(row['p50_ms'], 'ms'):>16}"
            f" {_num(row['p95_ms'], 'ms'):>7} {_num(row['peak_rss_mb'], 'MB'):>9}"
            f" {_num(row['cpu_s_per_turn'], 's', 2):>11}{mark}",
            file=out,
        )


def _num(v: float | None, unit: str, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f} {unit}"
