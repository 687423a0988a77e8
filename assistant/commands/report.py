"""`assistant report`: one self-contained HTML page from bench record files.

Figures are inline SVG (drawn in report_figures: no plotting library, no script, nothing
fetched), so the page opens anywhere, offline, and diffs as text. What it shows:

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
from typing import Any

from assistant.commands.compare import summary_row
from assistant.commands.report_data import COLOURS as COLOURS  # (re-exported for the tests)
from assistant.commands.report_data import LABELS, Run, _answered, _first_audio, _names
from assistant.commands.report_figures import (
    WIDTH,
    _cdf_figure,
    _median_breakdown,
    _right_vs_latency,
    _waterfall,
)
from assistant.core.latency import percentile


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
        *_right_section(runs, names),
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


# ---------------------------------------------------------------- page


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


# ---------------------------------------------------------------- tables


def _ms(v: float | None) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.0f} ms"


def _right_section(runs: Sequence[Run], names: list[str]) -> list[str]:
    """Right answers against speed, one point per configuration, when the records were
    scored (`assistant eval --json`): one giant model against many small ones."""
    points = []
    for i, (_, header, recs) in enumerate(runs):
        s = summary_row(header, recs)
        if s["right_pct"] is not None and s["p50_ms"] is not None:
            points.append((names[i], float(s["p50_ms"]), float(s["right_pct"])))
    if not points:
        return []
    return [
        "<h2>Right answers against speed</h2>",
        "<p>Share of the answer set answered right against first-audio p50, per "
        "configuration (records scored by <code>assistant eval</code>: typed questions, "
        "so first audio counts from the routing decision, with no end-pointing or ASR).</p>",
        _right_vs_latency(points, "right-vs-latency"),
    ]


def _summary_table(runs: Sequence[Run], names: list[str]) -> str:
    rows = []
    for i, (_, header, recs) in enumerate(runs):
        s = summary_row(header, recs)
        cls = "" if s["measured"] else " class='modelled'"
        rows.append(
            f"<tr{cls}><td>{html.escape(names[i])}</td><td class='num'>{s['answered']}</td>"
            f"<td class='num'>{_num(s['right_pct'], ' %')}</td>"
            f"<td class='num'>{_ms(s['p50_ms'])}</td><td class='num'>{_ms(s['p95_ms'])}</td>"
            f"<td class='num'>{_num(s['peak_rss_mb'], ' MB')}</td>"
            f"<td class='num'>{_num(s['cpu_s_per_turn'], ' s', 2)}</td></tr>"
        )
    return (
        "<table id='summary'><tr><th>configuration</th><th>answered</th><th>right</th>"
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
