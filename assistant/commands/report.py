"""`assistant report`: one self-contained HTML page from bench record files.

Figures are inline SVG drawn here (no plotting library, no script, nothing fetched), so the
page opens anywhere, offline, and diffs as text. What it shows:

- the median of each stage per configuration, stacked (where the time goes);
- the distribution of first-audio latency per configuration and per route (CDF, p50/p95);
- a waterfall per turn: end of speech -> end-pointing -> ASR -> route -> first token ->
  first clause -> TTS -> first audio, with a cloud what-if's network hops where it has them;
- the runs compared (machine, models, threads, pipeline, memory, CPU) and, for a what-if,
  its model of hops with their sources.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.commands.compare import summary_row
from assistant.core.latency import percentile

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

WIDTH = 960
FONT = "font-family='system-ui, sans-serif' font-size='12'"


def render(runs: Sequence[Run]) -> str:
    if not runs:
        raise ValueError("no record files")
    names = _names(runs)
    parts = [
        "<h1>assistant: where the latency goes</h1>",
        "<p>First audio is the time from the end of the user's speech to the first reply "
        "sample handed to the audio device; every stage is on one monotonic clock, and the "
        "stages of a turn add up to it. Runs marked <em>modelled</em> are not "
        "measurements (see the model below).</p>",
        _summary_table(runs, names),
        "<h2>Where the time goes</h2>",
        "<p>The median of each stage, per configuration (medians do not add up exactly to "
        "the median total).</p>",
        _median_breakdown(runs, names),
        "<h2>First audio: the distribution</h2>",
        _cdf_figure(
            [(names[i], _first_audio(recs)) for i, (_, _, recs) in enumerate(runs)],
            "cdf-runs",
        ),
        "<h2>Per route</h2>",
        _route_table(runs, names),
    ]
    for i, (_, _header, recs) in enumerate(runs):
        routes = sorted({r.get("route", "") for r in _answered(recs)} - {""})
        if len(routes) > 1:
            parts.append(f"<h3>{html.escape(names[i])}: first audio per route</h3>")
            parts.append(
                _cdf_figure(
                    [
                        (rt, _first_audio([r for r in recs if r.get("route") == rt]))
                        for rt in routes
                    ],
                    f"cdf-routes-{i}",
                )
            )
    parts.append("<h2>Every turn</h2>")
    for i, (_, _header, recs) in enumerate(runs):
        parts.append(f"<h3>{html.escape(names[i])}</h3>")
        parts.append(_waterfall(recs, f"waterfall-{i}"))
    parts.append("<h2>The runs compared</h2>")
    parts.append(_runs_table(runs, names))
    for i, (_, header, _recs) in enumerate(runs):
        if header.get("cloud_model"):
            parts.append(f"<h2>The model behind “{html.escape(names[i])}”</h2>")
            parts.append(_cloud_table(header["cloud_model"]))
    body = "\n".join(parts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>assistant latency report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: {WIDTH + 40}px; margin: 2em auto;
       padding: 0 1em; color: #222; background: #fff; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 14px; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left;
          vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ margin: 1em 0; }}
.modelled {{ color: #b04000; }}
</style></head>
<body>
{body}
</body></html>
"""


# ---------------------------------------------------------------- data


def figures(page: str) -> dict[str, str]:
    """Each figure of a rendered page as a standalone SVG document, by its id."""
    found = re.findall(r"<svg id='([\w-]+)'.*?</svg>", page, flags=re.S)
    out = {}
    for id_ in found:
        start = page.index(f"<svg id='{id_}'")
        end = page.index("</svg>", start) + len("</svg>")
        svg = page[start:end].replace(" role='img'", "")
        out[id_] = "<?xml version='1.0' encoding='utf-8'?>\n" + svg.replace(
            "<title>", "<rect width='100%' height='100%' fill='#fff'/><title>", 1
        )
    return out


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


def _ms(v: float | None) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.0f} ms"


# ---------------------------------------------------------------- tables


def _summary_table(runs: Sequence[Run], names: list[str]) -> str:
    rows = []
    for i, (_, header, recs) in enumerate(runs):
        s = summary_row(header, recs)
        cls = "" if s["measured"] else " class='modelled'"
        rows.append(
            f"<tr{cls}><td>{html.escape(names[i])}</td><td class='num'>{s['answered']}</td>"
            f"<td class='num'>{_ms(s['p50_ms'])}</td><td class='num'>{_ms(s['p95_ms'])}</td>"
            f"<td class='num'>{_num(s['peak_rss_mb'], ' MB')}</td>"
            f"<td class='num'>{_num(s['cpu_s_per_turn'], ' s', 2)}</td></tr>"
        )
    return (
        "<table id='summary'><tr><th>configuration</th><th>answered</th>"
        "<th>first audio p50</th><th>p95</th><th>peak memory</th>"
        "<th>CPU per turn (p50)</th></tr>" + "".join(rows) + "</table>"
    )


def _route_table(runs: Sequence[Run], names: list[str]) -> str:
    rows = []
    for i, (_, _, recs) in enumerate(runs):
        answered = _answered(recs)
        for route in sorted({r.get("route", "?") for r in answered}):
            xs = [float(r["first_audio_ms"]) for r in answered if r.get("route", "?") == route]
            rows.append(
                f"<tr><td>{html.escape(names[i])}</td><td>{html.escape(route)}</td>"
                f"<td class='num'>{len(xs)}</td><td class='num'>{len(xs) / len(answered):.0%}</td>"
                f"<td class='num'>{_ms(percentile(xs, 50))}</td>"
                f"<td class='num'>{_ms(percentile(xs, 95))}</td></tr>"
            )
    return (
        "<table id='routes'><tr><th>configuration</th><th>route</th><th>turns</th>"
        "<th>share</th><th>first audio p50</th><th>p95</th></tr>" + "".join(rows) + "</table>"
    )


def _runs_table(runs: Sequence[Run], names: list[str]) -> str:
    rows = []
    for i, (path, h, recs) in enumerate(runs):
        m = h.get("machine") or {}
        machine = (
            f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gib', '?')} GiB; "
            f"{m.get('os', '?')}; Python {m.get('python', '?')}"
            if m
            else "not recorded"
        )
        models = "<br>".join(
            f"{html.escape(k)}: {html.escape(str(v))}"
            for k, v in (h.get("models") or {}).items()
            if v
        )
        threads = ", ".join(f"{k} {v}" for k, v in (h.get("threads") or {}).items())
        overrides = h.get("pipeline_overrides") or {}
        pipeline = html.escape(str(h.get("pipeline", "?"))) + (
            " + " + html.escape(", ".join(f"{k}={v}" for k, v in overrides.items()))
            if overrides
            else ""
        )
        kind = "measured" if h.get("measured", True) else "<b class='modelled'>modelled</b>"
        rows.append(
            f"<tr><td>{html.escape(names[i])}<br><small>{html.escape(path.name)}</small></td>"
            f"<td>{kind}: {html.escape(str(h.get('description', '')))}</td>"
            f"<td>{html.escape(machine)}</td><td>{models or 'not recorded'}</td>"
            f"<td>{html.escape(threads) or '-'}</td><td>{pipeline}</td>"
            f"<td class='num'>{len(recs)}</td></tr>"
        )
    return (
        "<table id='runs'><tr><th>configuration</th><th>what</th><th>machine</th>"
        "<th>models</th><th>threads</th><th>pipeline</th><th>turns</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _cloud_table(hops: Sequence[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(LABELS.get(str(h.get('stage')), str(h.get('stage'))))}</td>"
        f"<td class='num'>{float(h.get('ms', 0)):.0f} ms</td>"
        f"<td>{html.escape(str(h.get('what', '')))}</td>"
        f"<td>{html.escape(str(h.get('source', '')))}</td></tr>"
        for h in hops
    )
    total = sum(float(h.get("ms", 0)) for h in hops)
    return (
        "<p class='modelled'>A model, not a measurement: each turn of the routed run plus "
        f"these hops ({total:.0f} ms per turn), less the part of them that the wait for the "
        "end-pointer's hold would have hidden (the turn starts speculatively; only the "
        "downlink comes after the hold). The compute is ours; a hosted pipeline would "
        "pay these trips on top of its own (faster, GPU) compute.</p>"
        "<table id='cloud-model'><tr><th>hop</th><th>adds</th><th>what</th><th>source</th></tr>"
        + rows
        + "</table>"
    )


def _num(v: float | None, unit: str, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}{unit}"


# ---------------------------------------------------------------- figures


def _svg(id_: str, height: int, body: list[str], title: str) -> str:
    return (
        f"<figure><svg id='{id_}' xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' "
        f"height='{height}' viewBox='0 0 {WIDTH} {height}' role='img' {FONT}>"
        f"<title>{html.escape(title)}</title>" + "".join(body) + "</svg></figure>"
    )


def _nice_max(v: float) -> float:
    if v <= 0 or math.isnan(v):
        return 1000.0
    step = 10.0 ** math.floor(math.log10(v))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if v <= m * step:
            return m * step
    return 10.0 * step


def _ticks(max_ms: float, n: int = 5) -> list[float]:
    return [max_ms * i / n for i in range(n + 1)]


def _x_axis(x0: float, x1: float, y: float, max_ms: float) -> list[str]:
    out = [f"<line x1='{x0}' y1='{y}' x2='{x1}' y2='{y}' stroke='#888'/>"]
    for t in _ticks(max_ms):
        x = x0 + (x1 - x0) * t / max_ms
        out.append(f"<line x1='{x:.1f}' y1='{y}' x2='{x:.1f}' y2='{y + 4}' stroke='#888'/>")
        out.append(f"<text x='{x:.1f}' y='{y + 16}' text-anchor='middle'>{t:.0f}</text>")
    out.append(f"<text x='{x1}' y='{y + 30}' text-anchor='end'>ms after the end of speech</text>")
    return out


def _legend(stages: Sequence[str], y: float) -> tuple[list[str], float]:
    out, x = [], 10.0
    for s in stages:
        label = LABELS.get(s, s)
        w = 18 + 7 * len(label)
        if x + w > WIDTH:
            x, y = 10.0, y + 18
        out.append(
            f"<rect x='{x}' y='{y - 10}' width='12' height='12' fill='{COLOURS.get(s, '#777')}'/>"
            f"<text x='{x + 16}' y='{y}'>{html.escape(label)}</text>"
        )
        x += w + 10
    return out, y + 10


def _median_breakdown(runs: Sequence[Run], names: list[str]) -> str:
    label_w, x1 = 190.0, WIDTH - 20.0
    medians = []
    for _, _, recs in runs:
        answered = _answered(recs)
        stages: dict[str, list[float]] = {}
        for r in answered:
            for s, v in _stages(r):
                stages.setdefault(s, []).append(v)
        # A stage a turn skipped counts as 0 for that turn.
        medians.append(
            [(s, percentile(v + [0.0] * (len(answered) - len(v)), 50)) for s, v in stages.items()]
        )
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    for m in medians:
        m.sort(key=lambda sv: order.get(sv[0], len(order)))
    max_ms = _nice_max(max((sum(v for _, v in m) for m in medians), default=0))
    bar_h, gap = 26, 12
    body: list[str] = []
    y = 10.0
    for name, m in zip(names, medians, strict=True):
        body.append(
            f"<text x='{label_w - 8}' y='{y + bar_h * 0.65}' text-anchor='end'>"
            f"{html.escape(name)}</text>"
        )
        x = label_w
        for s, v in m:
            w = (x1 - label_w) * v / max_ms
            if w <= 0:
                continue
            body.append(
                f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{bar_h}' "
                f"fill='{COLOURS.get(s, '#777')}'><title>{html.escape(LABELS.get(s, s))}: "
                f"{v:.0f} ms</title></rect>"
            )
            if w > 34:
                body.append(
                    f"<text x='{x + w / 2:.1f}' y='{y + bar_h * 0.65}' text-anchor='middle' "
                    f"fill='{_ink(COLOURS.get(s, '#777'))}'>{v:.0f}</text>"
                )
            x += w
        body.append(
            f"<text x='{x + 4:.1f}' y='{y + bar_h * 0.65}'>{sum(v for _, v in m):.0f}</text>"
        )
        y += bar_h + gap
    body += _x_axis(label_w, x1, y, max_ms)
    used = sorted({s for m in medians for s, _ in m}, key=lambda s: order.get(s, len(order)))
    legend, y = _legend(used, y + 50)
    body += legend
    return _svg("median-breakdown", int(y + 10), body, "median of each stage per configuration")


def _waterfall(records: Sequence[dict[str, Any]], id_: str) -> str:
    answered = _answered(records)
    label_w, x1 = 230.0, WIDTH - 60.0
    max_ms = _nice_max(max((float(r["first_audio_ms"]) for r in answered), default=0))
    row_h, gap = 16, 4
    body: list[str] = []
    y = 10.0
    used: set[str] = set()
    for r in answered:
        name = Path(str(r.get("file") or r.get("turn", ""))).stem or str(r.get("turn", ""))
        label = f"{name[:24]} · {r.get('route', '?')}"
        body.append(
            f"<text x='{label_w - 8}' y='{y + row_h * 0.8}' text-anchor='end'>"
            f"{html.escape(label)}<title>{html.escape(str(r.get('transcript', '')))}</title>"
            "</text>"
        )
        x = label_w
        for s, v in _stages(r):
            w = (x1 - label_w) * v / max_ms
            if w <= 0:
                continue
            used.add(s)
            body.append(
                f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{row_h}' "
                f"fill='{COLOURS.get(s, '#777')}'><title>{html.escape(LABELS.get(s, s))}: "
                f"{v:.0f} ms</title></rect>"
            )
            x += w
        body.append(
            f"<text x='{x + 4:.1f}' y='{y + row_h * 0.8}'>{float(r['first_audio_ms']):.0f}</text>"
        )
        y += row_h + gap
    if not answered:
        body.append(f"<text x='10' y='{y + 12}'>no answered turns</text>")
        y += 20
    body += _x_axis(label_w, x1, y, max_ms)
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    legend, y = _legend(sorted(used, key=lambda s: order.get(s, len(order))), y + 50)
    body += legend
    return _svg(id_, int(y + 10), body, "each turn's stages from the end of speech")


def _cdf_figure(series: Sequence[tuple[str, list[float]]], id_: str) -> str:
    x0, x1, y0, y1 = 60.0, WIDTH - 200.0, 20.0, 280.0
    max_ms = _nice_max(max((max(xs) for _, xs in series if xs), default=0))
    body: list[str] = []
    for q in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y1 - (y1 - y0) * q
        body.append(
            f"<line x1='{x0}' y1='{y:.1f}' x2='{x1}' y2='{y:.1f}' stroke='#ddd'/>"
            f"<text x='{x0 - 6}' y='{y + 4:.1f}' text-anchor='end'>{q:.0%}</text>"
        )
    y95 = y1 - (y1 - y0) * 0.95
    body.append(
        f"<line x1='{x0}' y1='{y95:.1f}' x2='{x1}' y2='{y95:.1f}' stroke='#bbb' "
        f"stroke-dasharray='4 3'/><text x='{x1 - 4}' y='{y95 + 12:.1f}' text-anchor='end' "
        "fill='#777'>95 %</text>"
    )
    body += _x_axis(x0, x1, y1, max_ms)
    ly = y0 + 10
    for i, (name, xs) in enumerate(series):
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        if xs:
            pts = [(x0, y1)]
            xs_sorted = sorted(xs)
            for k, v in enumerate(xs_sorted):
                x = x0 + (x1 - x0) * v / max_ms
                pts.append((x, y1 - (y1 - y0) * k / len(xs_sorted)))
                pts.append((x, y1 - (y1 - y0) * (k + 1) / len(xs_sorted)))
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            body.append(
                f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='3'/>"
            )
            p50, p95 = percentile(xs, 50), percentile(xs, 95)
            legend = f"{name}: p50 {p50:.0f}, p95 {p95:.0f} ms (n={len(xs)})"
        else:
            legend = f"{name}: no answered turns"
        body.append(
            f"<rect x='{x1 + 12}' y='{ly - 10}' width='14' height='4' fill='{colour}'/>"
            f"<text x='{x1 + 30}' y='{ly - 4}'>{html.escape(name)}</text>"
            f"<title>{html.escape(legend)}</title>"
        )
        body.append(
            f"<text x='{x1 + 30}' y='{ly + 10}' fill='#555'>"
            + (f"p50 {percentile(xs, 50):.0f} · p95 {percentile(xs, 95):.0f} ms" if xs else "-")
            + "</text>"
        )
        ly += 34
    body.append(f"<text x='{x0}' y='{y0 - 6}'>share of turns with first audio within x</text>")
    return _svg(id_, int(max(y1 + 40, ly)), body, "cumulative distribution of first audio")


def _ink(fill: str) -> str:
    r, g, b = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"
