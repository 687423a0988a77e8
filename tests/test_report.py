"""`assistant report`: record files in, one self-contained HTML page out, as a browser shows it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest

from assistant.commands.compare import VARIANTS, CloudModel, cloud_run
from assistant.commands.report import COLOURS, render
from assistant.core.errors import RecordFileError
from assistant.core.records import read_records, write_records
from tests.conftest import BenchRun, run_assistant


def record(n: int, route: str = "fast", stages: dict[str, float] | None = None) -> dict[str, Any]:
    stages = stages or {"endpoint": 130.0, "asr": 400.0, "route": 1.0, "llm": 100.0, "tts": 110.0}
    return {
        "turn": n,
        "origin": "voice",
        "transcript": f"question {n}",
        "reply": "answer",
        "route": route,
        "reason": "x",
        "outcome": "ok",
        "ms": stages,
        "first_audio_ms": sum(stages.values()),
    }


# ---------------------------------------------------------------- record files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no turn records"),
        ('{"run": {"label": "x"}}\n', "no turn records"),
        ("not json\n", ":1: not JSON"),
        ("[1, 2]\n", ":1: expected a JSON object"),
        ('{"turn": 1}\n', ":1: not a turn record (missing outcome, ms)"),
        (json.dumps(record(1)) + '\n{"run": {}}\n', ":2: a 'run' header must be the first line"),
        ('{"outcome": "ok", "ms": {}}\n', "missing first_audio_ms"),
        ('{"outcome": "ok", "ms": [], "first_audio_ms": 1}\n', "'ms' must be an object"),
    ],
)
def test_a_malformed_or_empty_record_file_is_a_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text(content)
    with pytest.raises(RecordFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_records(path)


def test_report_on_a_bad_file_exits_non_zero_with_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    out = tmp_path / "report.html"
    proc = run_assistant("report", str(bad), "-o", str(out), timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"assistant: records: {bad}:1: not JSON (Expecting property name enclosed in double quotes)"
    ]
    assert not out.exists()


def test_the_cloud_what_if_adds_each_hop_and_the_stages_still_add_up() -> None:
    model = CloudModel(rtt_ms=40, api_rtt_ms=30, llm_queue_ms=200)
    intent = record(2, "intent", {"endpoint": 130, "asr": 400, "route": 1, "tts": 20})
    failed = {"turn": 3, "outcome": "error", "ms": {}, "route": "fast"}
    records = [record(1), intent, failed]
    header, out = cloud_run({"label": "routed", "measured": True}, records, model)
    assert header["label"] == "cloud" and header["measured"] is False
    assert [h["stage"] for h in header["cloud_model"]] == [
        "uplink",
        "asr_hop",
        "llm_hop",
        "tts_hop",
        "downlink",
    ]
    assert all(h["source"] and h["what"] for h in header["cloud_model"])
    hops = 20 + 20 + 50 + (30 + 200) + (30 + 50) + (20 + 60)
    for before, after in zip(records[:2], out[:2], strict=True):
        assert after["first_audio_ms"] == pytest.approx(before["first_audio_ms"] + hops)
        assert sum(after["ms"].values()) == pytest.approx(after["first_audio_ms"])
        assert after["modelled_ms"] == pytest.approx(hops)
    assert out[2] == records[2]  # a failed turn is left as it was


@pytest.mark.parametrize(("held", "hidden"), [(100.0, 100.0), (500.0, 400.0), (0.0, 0.0)])
def test_the_cloud_what_if_hops_run_during_the_hold_s_wait(held: float, hidden: float) -> None:
    # The reply was ready `held` ms before the hold ended; the hops before the reply
    # exists (all but the downlink: 400 ms here) would have run in that wait.
    model = CloudModel(rtt_ms=40, api_rtt_ms=30, llm_queue_ms=200)
    stages = {"endpoint": 130.0, "asr": 130.0, "llm": 60.0, "tts": 90.0, "playout": held + 5}
    before = record(1, "fast", stages) | {"held_ms": held, "commit_ms": 400.0}
    (after,) = cloud_run({"label": "routed", "measured": True}, [before], model)[1]
    hops = 20 + 20 + 50 + (30 + 200) + (30 + 50) + (20 + 60)
    assert after["first_audio_ms"] == pytest.approx(before["first_audio_ms"] + hops - hidden)
    assert after["held_ms"] == pytest.approx(held - hidden)
    assert after["ms"]["playout"] == pytest.approx(held + 5 - hidden)
    assert sum(after["ms"].values()) == pytest.approx(after["first_audio_ms"])


def test_a_reply_that_waited_for_the_hold_shows_the_wait_as_such(tmp_path: Path) -> None:
    stages = {"endpoint": 130.0, "asr": 130.0, "tts": 90.0, "playout": 215.0}
    held = record(1, "intent", stages) | {"held_ms": 200.0}
    page = render([(tmp_path / "r.jsonl", {"label": "routed", "measured": True}, [held])])
    waterfall = page[page.index("<svg id='waterfall-0'") :]
    assert "held until the user is surely done" in waterfall
    assert "<title>held until the user is surely done: 200 ms</title>" in waterfall
    assert "<title>to the device: 15 ms</title>" in waterfall


def test_a_stage_the_report_has_no_colour_for_is_drawn_in_grey(tmp_path: Path) -> None:
    # A record from a newer version may carry a stage this one does not know: wide enough
    # for its figure to be written on it, it once crashed the page ('#777' is not #rrggbb).
    stages = {"endpoint": 130.0, "asr": 130.0, "rerank": 400.0, "tts": 90.0}
    page = render(
        [(tmp_path / "r.jsonl", {"label": "x", "measured": True}, [record(1, "fast", stages)])]
    )
    assert "fill='#777777'><title>rerank: 400 ms</title>" in page


def test_scored_runs_show_right_answers_against_speed(tmp_path: Path) -> None:
    # `assistant eval --json` records carry `right`: the page puts each configuration's
    # right % beside its latency, and draws one against the other.
    def scored(n: int, right: int, ms: float) -> list[dict[str, Any]]:
        return [
            record(i, "fast", {"route": 1.0, "llm": ms - 1.0}) | {"right": i < right}
            for i in range(n)
        ]

    page = render(
        [
            (tmp_path / "a.jsonl", {"label": "small"}, scored(10, 6, 300.0)),
            (tmp_path / "b.jsonl", {"label": "big"}, scored(10, 9, 950.0)),
        ]
    )
    summary = page[page.index("<table id='summary'>") : page.index("</table>")]
    assert "<th>right</th>" in summary and ">60 %<" in summary and ">90 %<" in summary
    figure = page[page.index("<svg id='right-vs-latency'") :]
    assert "<title>small: 60 % right, first audio p50 300 ms</title>" in figure
    assert "<title>big: 90 % right, first audio p50 950 ms</title>" in figure
    # A bench run (nothing scored) has no such figure and says "-".
    plain = render([(tmp_path / "c.jsonl", {"label": "x"}, [record(1)])])
    assert "right-vs-latency" not in plain


def test_the_page_is_self_contained_and_labels_the_model(tmp_path: Path) -> None:
    routed = [record(i) for i in range(5)] + [
        record(9, "intent", {"endpoint": 130, "asr": 380, "tts": 20})
    ]
    header = {"label": "routed", "measured": True, "peak_rss_mb": 900.0}
    ch, cr = cloud_run(header, routed, CloudModel())
    page = render([(tmp_path / "routed.jsonl", header, routed), (tmp_path / "c.jsonl", ch, cr)])
    assert page.count("<svg") >= 5
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<script" not in page and "<link" not in page
    assert "cloud (modelled)" in page and "A model, not a measurement" in page
    assert "ITU-T G.114" in page  # the sources are on the page


# ---------------------------------------------------------------- in a browser


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("chromium is not installed: run scripts/install --test")


def read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def pixels_of(image: np.ndarray, colour: str) -> int:
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int(np.all(np.abs(image.astype(int) - rgb) <= 2, axis=2).sum())


@pytest.mark.models
def test_report_from_a_real_bench_run_renders_in_headless_chromium(
    bench_run: BenchRun, tmp_path: Path
) -> None:
    header, records = read_records(bench_run.records)
    routed = tmp_path / "routed.jsonl"
    write_records(routed, {**header, "label": "routed"}, records)
    cloud = tmp_path / "cloud.jsonl"
    write_records(cloud, *cloud_run({**header, "label": "routed"}, records, CloudModel()))
    page = tmp_path / "report.html"
    figs_dir = tmp_path / "figs"
    proc = run_assistant(
        "report", str(routed), str(cloud), "-o", str(page), "--figures", str(figs_dir), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    # Each figure also stands alone (the README shows one): well-formed SVG.
    figs = {p.stem: ElementTree.parse(p).getroot() for p in figs_dir.glob("*.svg")}
    assert {"median-breakdown", "cdf-runs", "waterfall-0", "waterfall-1"} <= set(figs)
    assert all(root.tag == "{http://www.w3.org/2000/svg}svg" for root in figs.values())
    shot = tmp_path / "shot.png"
    browser = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1100,5000",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert browser.returncode == 0 and shot.exists(), browser.stderr[-2000:]
    assert ":CONSOLE(" not in browser.stderr, browser.stderr[-2000:]
    image = read_png(shot)
    # The figures were drawn: each measured stage's colour covers a real area, and so do
    # the modelled network hops of the what-if.
    for stage in ("asr", "llm", "tts", "endpoint", "uplink", "llm_hop"):
        assert pixels_of(image, COLOURS[stage]) > 500, stage
    # ...in more than one place down the page (the breakdown and the waterfalls).
    rows = np.flatnonzero(
        np.all(np.abs(image.astype(int) - [0x00, 0x72, 0xB2]) <= 2, axis=2).any(axis=1)
    )
    assert rows.max() - rows.min() > 1000


@pytest.mark.models
def test_bench_compare_runs_each_configuration_and_the_what_if(
    probe_utterances: list[tuple[Path, str]], tmp_path: Path
) -> None:
    wavs = [
        p for p, text in probe_utterances if text in ("What time is it?", "Why is the sky blue?")
    ]
    out = tmp_path / "cmp"
    proc = run_assistant(
        "bench", *map(str, wavs), "--compare", str(out), "--cloud-rtt-ms", "50", timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = {p.stem: read_records(p) for p in sorted(out.glob("*.jsonl"))}
    assert set(runs) == {"fast-only", "large-only", "routed", "cloud"}
    routes = {name: [r["route"] for r in recs] for name, (_, recs) in runs.items()}
    assert routes["fast-only"] == ["fast", "fast"]  # the time too: no intents
    assert routes["large-only"] == ["large", "large"]
    assert routes["routed"] == ["intent", "large"]  # "why" is a hard turn
    for name in ("fast-only", "large-only", "routed"):
        header, recs = runs[name]
        assert header["label"] == name and header["measured"] is True
        assert header["peak_rss_mb"] > 100 and all(r["cpu_s"] > 0 for r in recs)
        assert header["pipeline_overrides"] == VARIANTS[name]
    # Each configuration is its own process: only the routed one holds both models.
    assert runs["fast-only"][0]["models"]["llm.large (escalation)"] is None
    assert runs["routed"][0]["models"]["llm.large (escalation)"] is not None
    cloud_header, cloud = runs["cloud"]
    assert cloud_header["measured"] is False
    hops = {h["stage"]: h["ms"] for h in cloud_header["cloud_model"]}
    assert hops["uplink"] == 25 + 20 and hops["downlink"] == 25 + 60
    for measured, modelled in zip(runs["routed"][1], cloud, strict=True):
        added = modelled["first_audio_ms"] - measured["first_audio_ms"]
        before_reply = sum(hops.values()) - hops["downlink"]
        hidden = min(measured.get("held_ms") or 0.0, before_reply)
        assert added == pytest.approx(sum(hops.values()) - hidden, abs=0.2)
    table = proc.stdout.splitlines()
    assert any(line.startswith("cloud") and "(modelled)" in line for line in table)
