"""Aggregates of daily series: trailing windows, weekly/monthly periods, trend, variability.

The array functions take a ``(..., day)`` array whose last day is the snapshot day and
reduce the last axis, so one call covers every client. ``offset`` shifts a window back
in time: ``window_mean(x, 7, offset=7)`` is the mean of the 7 days before the last 7.

:func:`period_means` and :func:`trend_per_week_long` do the same for long frames
(``client_id, metric, day, value``) with groupby sums, for reports and tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from health_advisor.features.cube import FloatArray, nan_count, nan_mean, nan_std

MIN_DAYS_FOR_TREND = 7
MIN_DAYS_FOR_VARIABILITY = 5


def window(x: npt.NDArray[Any], days: int, offset: int = 0) -> npt.NDArray[Any]:
    """The last ``days`` days of ``x`` ending ``offset`` days before its last day (a view;
    shorter when ``x`` has fewer days)."""
    end = x.shape[-1] - offset
    return x[..., max(end - days, 0) : max(end, 0)]


def window_mean(x: FloatArray, days: int, offset: int = 0, min_count: int = 1) -> FloatArray:
    """Mean of the available values in the window; NaN with fewer than ``min_count``."""
    return nan_mean(window(x, days, offset), min_count=min_count)


def window_std(x: FloatArray, days: int, min_count: int = MIN_DAYS_FOR_VARIABILITY) -> FloatArray:
    """Sample standard deviation (ddof 1) of the available values in the last ``days``."""
    return nan_std(window(x, days), min_count=min_count)


def trend_per_week(
    x: FloatArray, days: int = 28, min_count: int = MIN_DAYS_FOR_TREND
) -> FloatArray:
    """Least-squares slope of value on day over the last ``days`` days, per week
    (slope per day x 7), from the observed days only; NaN with fewer than ``min_count``.

    Computed from sums: ``slope = (n Sxy - Sx Sy) / (n Sxx - Sx^2)``.
    """
    w = window(x, days)
    t = np.arange(w.shape[-1], dtype=np.float64)
    seen = ~np.isnan(w)
    y = np.where(seen, w, 0.0)
    tt = np.where(seen, t, 0.0)
    n = seen.sum(axis=-1).astype(np.float64)
    sx, sy = tt.sum(axis=-1), y.sum(axis=-1)
    sxx, sxy = (tt * tt).sum(axis=-1), (tt * y).sum(axis=-1)
    denominator = n * sxx - sx * sx
    ok = (n >= min_count) & (denominator > 0)
    slope = np.divide(n * sxy - sx * sy, denominator, out=np.full(n.shape, np.nan), where=ok)
    return slope * 7.0


def weekly_means(x: FloatArray, weeks: int) -> FloatArray:
    """Means of the last ``weeks`` 7-day blocks, oldest first, the last block ending on the
    last day: shape ``(..., weeks)``. Blocks with no value are NaN."""
    days = weeks * 7
    w = window(x, days)
    if w.shape[-1] < days:
        pad = [(0, 0)] * (w.ndim - 1) + [(days - w.shape[-1], 0)]
        w = np.pad(w, pad, constant_values=np.nan)
    return nan_mean(w.reshape(*w.shape[:-1], weeks, 7))


def observed_days(x: FloatArray, days: int) -> FloatArray:
    return nan_count(window(x, days)).astype(np.float64)


# --------------------------------------------------------------------------- long frames
def period_means(daily: pd.DataFrame, freq: str = "W") -> pd.DataFrame:
    """Calendar-period means of a long daily frame (``client_id, metric, day, value``):
    ``freq`` ``"W"`` (weeks ending Sunday) or ``"M"`` (calendar months). Columns
    ``client_id, metric, period_start, mean, days``."""
    day = pd.to_datetime(daily["day"])
    if isinstance(day.dtype, pd.DatetimeTZDtype):
        day = day.dt.tz_convert(None)
    period = day.dt.to_period(freq).dt.start_time
    grouped = daily.assign(period_start=period).groupby(
        ["client_id", "metric", "period_start"], observed=True, sort=True
    )["value"]
    out = grouped.agg(["mean", "count"]).rename(columns={"count": "days"}).reset_index()
    return out


def trend_per_week_long(daily: pd.DataFrame, min_count: int = MIN_DAYS_FOR_TREND) -> pd.Series:
    """Per ``(client_id, metric)``: least-squares slope per week of ``value`` on ``day``,
    from groupby sums (no per-client loop); NaN with fewer than ``min_count`` values."""
    frame = daily.dropna(subset=["value"])
    day = pd.to_datetime(frame["day"])
    t = ((day - day.min()).dt.days).astype(np.float64)
    y = frame["value"].astype(np.float64)
    parts = pd.DataFrame({"n": 1.0, "sx": t, "sy": y, "sxx": t * t, "sxy": t * y})
    sums = parts.groupby([frame["client_id"], frame["metric"]], observed=True).sum()
    denominator = sums["n"] * sums["sxx"] - sums["sx"] ** 2
    slope = (sums["n"] * sums["sxy"] - sums["sx"] * sums["sy"]) / denominator.where(
        (denominator > 0) & (sums["n"] >= min_count)
    )
    return (slope * 7.0).rename("trend_per_week")
