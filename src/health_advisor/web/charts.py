"""Charts as inline SVG drawn on the server: a metric's trend over its guideline bands,
and weekly bars against a threshold.

Pure (data in, markup out): no JavaScript, no chart library, nothing fetched. Each chart
is an accessible image (``role="img"`` named by its ``<title>`` and described by a
``<desc>`` that states in words what the picture shows), and colours come from CSS
classes (``band-ok``, ``band-watch``, ``band-risk``) so the stylesheet owns contrast.
Every piece of text is escaped: titles and labels may hold translated or typed text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Band", "Point", "Reference", "bar_chart", "healthy_edge", "line_chart", "nice_ticks"]

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 60
MARGIN_RIGHT = 16
MARGIN_TOP = 14
MARGIN_BOTTOM = 30
TONES = ("ok", "watch", "risk", "none")
MAX_MARKERS = 45  # beyond this many points only the last one is marked


@dataclass(frozen=True, slots=True)
class Point:
    day: dt.date
    value: float


@dataclass(frozen=True, slots=True)
class Band:
    """A guideline band: values in ``[low, high)`` read as ``label`` (a tone for colour)."""

    low: float
    high: float
    label: str
    tone: str = "none"


@dataclass(frozen=True, slots=True)
class Reference:
    """A horizontal line: a target, a baseline or a threshold."""

    value: float
    label: str
    kind: str = "target"  # target | baseline | threshold


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering ``[low, high]`` (1, 2, 2.5 or 5 times a power of 10)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _range(values: Sequence[float], extra: Sequence[float]) -> tuple[float, float]:
    """The y range: data and reference lines, padded by 8 % (or ±1 when flat)."""
    finite = [v for v in (*values, *extra) if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.08 if high > low else max(abs(high) * 0.1, 1.0)
    return low - pad, high + pad


class _Frame:
    """Maps data to the plot area of a ``width`` x ``height`` view box."""

    def __init__(self, low: float, high: float, n_x: int, width: int, height: int) -> None:
        self.low, self.high, self.n_x = low, high, n_x
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, height - MARGIN_BOTTOM

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.bottom - share * (self.bottom - self.top)

    def x(self, index: float) -> float:
        if self.n_x <= 1:
            return (self.left + self.right) / 2
        return self.left + index * (self.right - self.left) / (self.n_x - 1)


def _open(chart_id: str, title: str, desc: str, width: int, height: int, kind: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" focusable="false" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def _y_axis(frame: _Frame, fmt: Callable[[float], str]) -> list[str]:
    out = []
    for tick in nice_ticks(frame.low, frame.high):
        y = frame.y(tick)
        out.append(
            f'<line class="grid" x1="{frame.left}" x2="{frame.right}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{frame.left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(fmt(tick))}</text>'
        )
    return out


def _bands(frame: _Frame, bands: Sequence[Band]) -> list[str]:
    out = []
    for band in bands:
        low, high = max(band.low, frame.low), min(band.high, frame.high)
        if high <= low:
            continue
        top, bottom = frame.y(high), frame.y(low)
        tone = band.tone if band.tone in TONES else "none"
        out.append(
            f'<rect class="band band-{tone}" x="{frame.left}" y="{top:.1f}" '
            f'width="{frame.right - frame.left}" height="{bottom - top:.1f}"/>'
        )
        if bottom - top >= 13:
            out.append(
                f'<text class="band-label" x="{frame.right - 4}" y="{top + 11:.1f}" '
                f'text-anchor="end">{escape(band.label)}</text>'
            )
    return out


def _references(frame: _Frame, references: Sequence[Reference]) -> list[str]:
    out = []
    for ref in references:
        if not frame.low <= ref.value <= frame.high:
            continue
        y = frame.y(ref.value)
        out.append(
            f'<line class="ref ref-{escape(ref.kind)}" x1="{frame.left}" x2="{frame.right}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="ref-label" x="{frame.left + 4}" y="{y - 4:.1f}">'
            f"{escape(ref.label)}</text>"
        )
    return out


def healthy_edge(values: Sequence[float], bands: Sequence[Band]) -> list[float]:
    """The edge of the nearest ``ok`` band when the data lie outside every one, so the
    chart shows where healthy starts (nothing when the data already touch one)."""
    if not values:
        return []
    low, high = min(values), max(values)
    edges = []
    for band in bands:
        if band.tone != "ok":
            continue
        if band.low <= high and low < band.high:
            return []  # the data already reach a healthy band
        edges += [e for e in (band.low, band.high) if math.isfinite(e)]
    if not edges:
        return []
    nearest = min(edges, key=lambda e: min(abs(e - low), abs(e - high)))
    span = max(high, nearest) - min(low, nearest)
    into = -0.15 * span if nearest <= low else 0.15 * span  # a visible strip of the band
    return [nearest, nearest + into]


def line_chart(
    points: Sequence[Point],
    *,
    chart_id: str,
    title: str,
    desc: str,
    bands: Sequence[Band] = (),
    references: Sequence[Reference] = (),
    include: Sequence[float] = (),
    y_format: Callable[[float], str] = lambda v: f"{v:g}",
    x_format: Callable[[dt.date], str] = lambda d: d.isoformat(),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """A line over days (points in date order) drawn over ``bands``, with reference lines.

    The x axis is by date (gaps keep their width); the y range covers the data, the
    references and the ``include`` values, and bands are clipped to it.
    """
    values = [p.value for p in points]
    low, high = _range(values, [*(r.value for r in references), *include])
    first = points[0].day if points else dt.date.today()
    span = max((points[-1].day - first).days, 1) if points else 1
    frame = _Frame(low, high, span + 1, width, height)
    parts = _open(chart_id, title, desc, width, height, "line")
    parts += _bands(frame, bands)
    parts += _y_axis(frame, y_format)
    parts += _references(frame, references)
    coords = [(frame.x((p.day - first).days), frame.y(p.value)) for p in points]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="series" points="{path}"/>')
    marked = coords if len(coords) <= MAX_MARKERS else coords[-1:]
    parts += [f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in marked]
    parts.append(
        f'<line class="axis" x1="{frame.left}" x2="{frame.right}" '
        f'y1="{frame.bottom}" y2="{frame.bottom}"/>'
    )
    if points:
        labels = {0: points[0].day, span: points[-1].day}
        if span >= 14:
            labels[span // 2] = first + dt.timedelta(days=span // 2)
        for index, day in sorted(labels.items()):
            anchor = "start" if index == 0 else "end" if index == span else "middle"
            parts.append(
                f'<text class="tick" x="{frame.x(index):.1f}" y="{frame.bottom + 18}" '
                f'text-anchor="{anchor}">{escape(x_format(day))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    references: Sequence[Reference] = (),
    maximum: float = 100.0,
    y_format: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """Vertical bars (label, value) from zero up to ``maximum``, with reference lines;
    a bar at or above the first reference is drawn in the ``ok`` tone."""
    frame = _Frame(0.0, max(maximum, *(v for _, v in bars), 1.0), len(bars), width, height)
    parts = _open(chart_id, title, desc, width, height, "bar")
    parts += _y_axis(frame, y_format)
    slot = (frame.right - frame.left) / max(len(bars), 1)
    bar_width = min(slot * 0.6, 48)
    threshold = references[0].value if references else None
    for k, (label, value) in enumerate(bars):
        x = frame.left + slot * k + (slot - bar_width) / 2
        y = frame.y(max(value, 0.0))
        tone = "ok" if threshold is None or value >= threshold else "watch"
        parts.append(
            f'<rect class="bar bar-{tone}" x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" '
            f'height="{frame.bottom - y:.1f}"/>'
            f'<text class="tick" x="{x + bar_width / 2:.1f}" y="{frame.bottom + 18}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts += _references(frame, references)
    parts.append(
        f'<line class="axis" x1="{frame.left}" x2="{frame.right}" '
        f'y1="{frame.bottom}" y2="{frame.bottom}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
