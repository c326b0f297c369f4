"""The charts of the pages, assembled from the store: a client's key metrics over their
guideline bands (coordinators), and each plan item's progress against its target
(clients).

Each chart comes with a sentence saying what it shows (the SVG's ``<desc>``) and its
numbers as rows for a table under it, so nothing is only in the picture.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from health_advisor import i18n
from health_advisor.core import metrics
from health_advisor.plans import i18n as texts
from health_advisor.plans.service import ADHERENCE_ON_TRACK
from health_advisor.store.models import CheckIn
from health_advisor.web import data
from health_advisor.web.charts import Band, Reference, bar_chart, healthy_edge, line_chart
from health_advisor.web.plan_view import ItemView
from health_advisor.web.trends import (
    WINDOW_DAYS,
    TrendSpec,
    daily_means,
    key_metrics,
    weekly_totals,
)

__all__ = ["ChartView", "item_progress", "trend_charts"]

CHECKIN_WEEKS = 8


@dataclass(frozen=True)
class ChartView:
    id: str
    title: str
    svg: Markup
    summary: str
    rows: list[tuple[str, str]] = field(default_factory=list)  # (date, value) for the table
    extra: dict[str, Any] = field(default_factory=dict)


def _quantity(value: float, unit: str, lang: str, metric: str | None = None) -> str:
    return texts.quantity_text(value, unit, lang, metric=metric)


def _bands(spec: TrendSpec, lang: str) -> list[Band]:
    return [
        Band(low, high, texts.risk_category_name(category, lang), spec.tones.get(category, "none"))
        for category, low, high in spec.bands
    ]


def _band_of(value: float, bands: Sequence[Band]) -> Band | None:
    return next((b for b in bands if b.low <= value < b.high), None)


def _short_date(day: dt.date, lang: str) -> str:
    return i18n.format_date(day, lang, format="d MMM")


def trend_chart(
    spec: TrendSpec, readings: Sequence[tuple[dt.datetime, float]], lang: str
) -> ChartView | None:
    """One key metric's chart, or None without readings."""
    _ = i18n.translator(lang)
    points = daily_means(readings)
    metric = metrics.by_name(spec.metric)
    unit = metric.unit
    title = texts.metric_name(spec.metric, lang)
    if spec.weekly:
        points = weekly_totals(points)
        unit = "min/wk"
        title = _("Active minutes per week")
    if not points:
        return None
    bands = _bands(spec, lang)
    latest = points[-1]
    band = _band_of(latest.value, bands)
    summary = _("%(count)s points from %(start)s to %(end)s; latest %(latest)s.") % {
        "count": len(points),
        "start": i18n.format_date(points[0].day, lang, format="medium"),
        "end": i18n.format_date(latest.day, lang, format="medium"),
        "latest": _quantity(latest.value, unit, lang, spec.metric),
    }
    if band is not None:
        summary += " " + _("Guideline band of the latest value: %(band)s.") % {"band": band.label}
    svg = line_chart(
        points,
        chart_id=f"trend-{spec.metric}",
        title=title,
        desc=summary,
        bands=bands,
        include=healthy_edge([p.value for p in points], bands),
        y_format=lambda v: i18n.format_number(v, lang),
        x_format=lambda d: _short_date(d, lang),
    )
    rows = [
        (
            i18n.format_date(p.day, lang, format="medium"),
            _quantity(p.value, unit, lang, spec.metric),
        )
        for p in points
    ]
    return ChartView(f"trend-{spec.metric}", title, svg, summary, rows)


def trend_charts(session: Session, client_pk: int, lang: str, age: float | None) -> list[ChartView]:
    """Charts of the client's key metrics that have readings, in display order."""
    specs = key_metrics(age)
    present = data.metrics_present(session, client_pk, [s.metric for s in specs])
    out = []
    for spec in specs:
        if spec.metric not in present:
            continue
        readings = data.metric_readings(session, client_pk, spec.metric, days=WINDOW_DAYS)
        chart = trend_chart(spec, readings, lang)
        if chart is not None:
            out.append(chart)
    return out


def _target_chart(session: Session, client_pk: int, item: ItemView, lang: str) -> ChartView | None:
    target = item.target
    if target.metric is None:
        return None
    readings = data.metric_readings(session, client_pk, target.metric, days=WINDOW_DAYS)
    points = daily_means(readings)
    if not points:
        return None
    _ = i18n.translator(lang)
    unit = metrics.by_name(target.metric).unit
    references = [Reference(target.value, _("Target"), "target")]
    if target.baseline is not None and not math.isclose(target.baseline, target.value):
        references.append(Reference(target.baseline, _("Starting point"), "baseline"))
    spec = next((s for s in key_metrics() if s.metric == target.metric), None)
    bands = _bands(spec, lang) if spec is not None and not spec.weekly else []
    title = texts.metric_name(target.metric, lang)
    summary = _("Latest %(latest)s on %(day)s; target %(target)s by %(review)s.") % {
        "latest": _quantity(points[-1].value, unit, lang, target.metric),
        "day": i18n.format_date(points[-1].day, lang, format="medium"),
        "target": _quantity(target.value, unit, lang, target.metric),
        "review": i18n.format_date(target.review_date, lang, format="medium"),
    }
    chart_id = f"target-{item.row_id}"
    svg = line_chart(
        points,
        chart_id=chart_id,
        title=title,
        desc=summary,
        bands=bands,
        references=references,
        y_format=lambda v: i18n.format_number(v, lang),
        x_format=lambda d: _short_date(d, lang),
    )
    rows = [
        (
            i18n.format_date(p.day, lang, format="medium"),
            _quantity(p.value, unit, lang, target.metric),
        )
        for p in points
    ]
    return ChartView(chart_id, title, svg, summary, rows)


def _adherence_chart(item: ItemView, checkins: Sequence[CheckIn], lang: str) -> ChartView | None:
    recent = list(checkins)[-CHECKIN_WEEKS:]
    if not recent:
        return None
    _ = i18n.translator(lang)
    title = _("Weekly check-ins: %(title)s") % {"title": item.title}
    mean = sum(c.adherence_pct for c in recent) / len(recent)
    summary = _(
        "%(count)s weeks reported; on average %(mean)s of the plan done (goal: %(goal)s)."
    ) % {
        "count": len(recent),
        "mean": i18n.format_percent(mean / 100, lang),
        "goal": i18n.format_percent(ADHERENCE_ON_TRACK / 100, lang),
    }
    chart_id = f"checkins-{item.row_id}"
    svg = bar_chart(
        [(_short_date(c.week_start, lang), c.adherence_pct) for c in recent],
        chart_id=chart_id,
        title=title,
        desc=summary,
        references=[Reference(ADHERENCE_ON_TRACK, _("Goal"), "threshold")],
        y_format=lambda v: i18n.format_percent(v / 100, lang),
    )
    rows = [
        (
            i18n.format_date(c.week_start, lang, format="medium"),
            i18n.format_percent(c.adherence_pct / 100, lang),
        )
        for c in recent
    ]
    return ChartView(chart_id, title, svg, summary, rows)


def item_progress(
    session: Session,
    client_pk: int,
    items: Sequence[ItemView],
    outcomes: Sequence[dict[str, Any]],
    checkins: dict[int, list[CheckIn]],
    lang: str,
) -> list[dict[str, Any]]:
    """Per plan item: its verdict (on track or not) and its charts."""
    by_item = {o["intervention_id"]: o for o in outcomes}
    out = []
    for item in items:
        outcome = by_item.get(item.id, {})
        charts = [
            c
            for c in (
                _target_chart(session, client_pk, item, lang),
                _adherence_chart(item, checkins.get(item.row_id, []), lang),
            )
            if c is not None
        ]
        out.append(
            {
                "item": item,
                "on_track": outcome.get("on_track"),
                "checkins": outcome.get("checkins", 0),
                "charts": charts,
            }
        )
    return out
