"""The report's figures as inline SVG, drawn without a plotting library: the median of each
stage stacked, the first-audio CDF, and a waterfall of each turn's stages."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.commands.report_data import (
    COLOURS,
    LABELS,
    OTHER,
    RUN_COLOURS,
    STAGE_ORDER,
    Run,
    _answered,
    _stages,
)
from assistant.core.latency import percentile

WIDTH = 960
FONT = "font-family='system-ui, sans-serif' font-size='12'"


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
            f"<rect x='{x}' y='{y - 10}' width='12' height='12' fill='{COLOURS.get(s, OTHER)}'/>"
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
                f"fill='{COLOURS.get(s, OTHER)}'><title>{html.escape(LABELS.get(s, s))}: "
                f"{v:.0f} ms</title></rect>"
            )
            if w > 34:
                body.append(
                    f"<text x='{x + w / 2:.1f}' y='{y + bar_h * 0.65}' text-anchor='middle' "
                    f"fill='{_ink(COLOURS.get(s, OTHER))}'>{v:.0f}</text>"
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
                f"fill='{COLOURS.get(s, OTHER)}'><title>{html.escape(LABELS.get(s, s))}: "
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


def _right_vs_latency(points: Sequence[tuple[str, float, float]], id_: str) -> str:
    """(name, first-audio p50 ms, right %) per configuration, as points."""
    x0, x1, y0, y1 = 60.0, WIDTH - 200.0, 20.0, 280.0
    max_ms = _nice_max(max(ms for _, ms, _ in points))
    body: list[str] = []
    for tick in (0, 25, 50, 75, 100):
        y = y1 - (y1 - y0) * tick / 100
        body.append(
            f"<line x1='{x0}' y1='{y:.1f}' x2='{x1}' y2='{y:.1f}' stroke='#ddd'/>"
            f"<text x='{x0 - 6}' y='{y + 4:.1f}' text-anchor='end'>{tick} %</text>"
        )
    body += _x_axis(x0, x1, y1, max_ms)
    for i, (name, ms, pct) in enumerate(points):
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        x, y = x0 + (x1 - x0) * ms / max_ms, y1 - (y1 - y0) * pct / 100
        label = f"{name}: {pct:.0f} % right, first audio p50 {ms:.0f} ms"
        body.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='7' fill='{colour}'>"
            f"<title>{html.escape(label)}</title></circle>"
            f"<text x='{x + 11:.1f}' y='{y + 4:.1f}'>{html.escape(name)}</text>"
        )
    body.append(f"<text x='{x0}' y='{y0 - 6}'>right answers</text>")
    return _svg(id_, int(y1 + 40), body, "right answers against first-audio p50")


def _ink(fill: str) -> str:
    """Black or white, whichever reads on `fill` (#rrggbb)."""
    r, g, b = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"
