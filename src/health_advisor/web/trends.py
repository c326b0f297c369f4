"""Which metrics the client page charts, over which guideline bands, and how raw
readings become one point per day (or week).

The bands come from the same tables the risk categories are computed with
(:mod:`health_advisor.core.guidelines`), so a chart can never disagree with the category
shown beside it. Pure: rows in, points out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from health_advisor.core import guidelines as g
from health_advisor.i18n import local_date
from health_advisor.web.charts import Point

__all__ = [
    "KEY_METRICS",
    "TrendSpec",
    "band_ranges",
    "category_tone",
    "daily_means",
    "key_metrics",
    "weekly_totals",
]

WINDOW_DAYS = 90  # the charts show the last 90 days of each metric
INF = math.inf


@dataclass(frozen=True, slots=True)
class TrendSpec:
    """One chart: a metric, the guideline key naming its bands, the bands as
    ``(category, low, high)``, the tone of each category, and whether daily values are
    summed per week (activity guidelines are weekly)."""

    metric: str
    risk: str | None
    bands: tuple[tuple[str, float, float], ...]
    tones: dict[str, str]
    weekly: bool = False


def band_ranges(table: Sequence[g.Band]) -> tuple[tuple[str, float, float], ...]:
    """A guideline table as consecutive ``[low, high)`` ranges per category."""
    out = []
    for k, band in enumerate(table):
        high = table[k + 1].threshold if k + 1 < len(table) else INF
        out.append((band.category, band.threshold, high))
    return tuple(out)


_BP_TONES = {
    "normal": "ok",
    "elevated": "watch",
    "stage_1": "watch",
    "stage_2": "risk",
    "crisis": "risk",
}
_LIPID_TONES = {
    "desirable": "ok",
    "optimal": "ok",
    "normal": "ok",
    "near_optimal": "watch",
    "borderline_high": "watch",
    "high": "risk",
    "very_high": "risk",
}
_GLUCOSE_TONES = {"normal": "ok", "prediabetes": "watch", "diabetes": "risk"}


def _sleep_bands(age: float | None) -> tuple[tuple[str, float, float], ...]:
    upper = (
        g.SLEEP_MAX_HOURS_OLDER
        if age is not None and age >= g.OLDER_ADULT_AGE
        else g.SLEEP_MAX_HOURS_ADULT
    )
    return (
        ("short", -INF, g.SLEEP_MIN_HOURS),
        ("recommended", g.SLEEP_MIN_HOURS, upper),
        ("long", upper, INF),
    )


def key_metrics(age: float | None = None) -> tuple[TrendSpec, ...]:
    """The charted metrics in display order (sleep bands depend on age)."""
    return (
        TrendSpec("systolic_bp", "blood_pressure", band_ranges(g.BP_SYSTOLIC), _BP_TONES),
        TrendSpec("diastolic_bp", "blood_pressure", band_ranges(g.BP_DIASTOLIC), _BP_TONES),
        TrendSpec(
            "resting_heart_rate",
            "resting_heart_rate",
            band_ranges(g.RESTING_HEART_RATE),
            {"low": "watch", "normal": "ok", "high": "risk"},
        ),
        TrendSpec("steps", None, (), {}),
        TrendSpec(
            "active_minutes",
            "activity",
            (
                ("inactive", -INF, g.ACTIVITY_INACTIVE_BELOW),
                ("insufficient", g.ACTIVITY_INACTIVE_BELOW, g.ACTIVITY_MIN_MINUTES),
                ("meets", g.ACTIVITY_MIN_MINUTES, g.ACTIVITY_MAX_MINUTES),
                ("exceeds", g.ACTIVITY_MAX_MINUTES, INF),
            ),
            {"inactive": "risk", "insufficient": "watch", "meets": "ok", "exceeds": "ok"},
            weekly=True,
        ),
        TrendSpec(
            "sleep_duration",
            "sleep",
            _sleep_bands(age),
            {"short": "watch", "recommended": "ok", "long": "watch"},
        ),
        TrendSpec(
            "bmi",
            "bmi",
            band_ranges(g.BMI),
            {
                "underweight": "watch",
                "normal": "ok",
                "overweight": "watch",
                "obese_1": "risk",
                "obese_2": "risk",
                "obese_3": "risk",
            },
        ),
        TrendSpec(
            "total_cholesterol", "cholesterol", band_ranges(g.TOTAL_CHOLESTEROL), _LIPID_TONES
        ),
        TrendSpec("ldl", "ldl", band_ranges(g.LDL), _LIPID_TONES),
        TrendSpec("hdl", "hdl", band_ranges(g.HDL), {"low": "risk", "normal": "ok", "high": "ok"}),
        TrendSpec("triglycerides", "triglycerides", band_ranges(g.TRIGLYCERIDES), _LIPID_TONES),
        TrendSpec("fasting_glucose", "glucose", band_ranges(g.FASTING_GLUCOSE), _GLUCOSE_TONES),
        TrendSpec("hba1c", "hba1c", band_ranges(g.HBA1C), _GLUCOSE_TONES),
    )


KEY_METRICS: tuple[str, ...] = tuple(spec.metric for spec in key_metrics())


def category_tone(risk: str, category: str) -> str:
    """``ok``, ``watch`` or ``risk`` for a guideline category (``none`` when unknown),
    from the same tables that colour the chart bands."""
    for spec in key_metrics():
        if spec.risk == risk and category in spec.tones:
            return spec.tones[category]
    return "none"


def daily_means(rows: Iterable[tuple[dt.datetime, float]]) -> list[Point]:
    """One point per clinic-calendar day: the mean of that day's readings."""
    sums: dict[dt.date, list[float]] = defaultdict(list)
    for at, value in rows:
        sums[local_date(at)].append(float(value))
    return [Point(day, sum(v) / len(v)) for day, v in sorted(sums.items())]


def weekly_totals(points: Sequence[Point], *, min_days: int = 4) -> list[Point]:
    """Daily points summed per week (Monday first), dated by the week's Monday.

    A week with fewer than ``min_days`` observed days is left out; one with some days
    missing is scaled up from its daily mean (a missing day is unknown, not zero).
    """
    weeks: dict[dt.date, list[float]] = defaultdict(list)
    for point in points:
        weeks[point.day - dt.timedelta(days=point.day.weekday())].append(point.value)
    return [
        Point(monday, sum(values) / len(values) * 7)
        for monday, values in sorted(weeks.items())
        if len(values) >= min_days
    ]
