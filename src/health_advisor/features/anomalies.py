"""Anomaly alerts: departures from a client's own baseline worth a professional's look.

Rules (thresholds in :class:`AnomalyRules`; every comparison is against the client's own
trailing baseline, never a population norm):

* ``rhr_elevated`` (warning): resting heart rate at least ``rhr_mad_k`` baseline MADs
  (raw MAD, floored at ``rhr_min_mad`` bpm) above the median of the 28 days before each
  day, on ``rhr_min_days`` or more consecutive days. Typical of infection, poor recovery
  or stress.
* ``steps_collapse`` (warning): the 7-day mean of daily steps below ``steps_ratio`` of the
  median of the 28 days before that week.
* ``sleep_debt`` (info): the 7-day mean of sleep below ``sleep_floor_hours``, or more
  than ``sleep_drop_hours`` under the median of the 28 days before that week.
* ``hypertensive_crisis`` (urgent): any reading with systolic > 180 or diastolic > 120
  mm Hg (ACC/AHA 2017), one alert per client and day.

Values are range-checked and non-wear days removed, but outliers are *not* removed: an
illness looks exactly like a run of outliers. 7-day means need 4 observed days.

Each alert is one row: ``client_id, kind, severity, metric, window_start, window_end,
value, baseline, explanation, dedup_key``. The dedup key is ``client|kind|window_start``,
so re-running detection over overlapping history yields the same keys for the same
episodes and the store keeps one alert each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from health_advisor.core import guidelines as g
from health_advisor.core import metrics
from health_advisor.features.baselines import BASELINE_DAYS, rolling_baseline
from health_advisor.features.cleaning import non_wear_mask, out_of_range_mask
from health_advisor.features.cube import DailyCube, FloatArray, cube_from_long
from health_advisor.features.snapshot import client_universe, cutoff_for

HISTORY_DAYS = 90
MIN_WINDOW_VALUES = 4
WEEK = 7

ALERT_COLUMNS: tuple[str, ...] = (
    "client_id",
    "kind",
    "severity",
    "metric",
    "window_start",
    "window_end",
    "value",
    "baseline",
    "explanation",
    "dedup_key",
)

_RHR, _STEPS, _SLEEP = (
    metrics.code_for(n) for n in ("resting_heart_rate", "steps", "sleep_duration")
)
_SYS, _DIA = metrics.code_for("systolic_bp"), metrics.code_for("diastolic_bp")


@dataclass(frozen=True, slots=True)
class AnomalyRules:
    rhr_mad_k: float = 3.0
    rhr_min_mad: float = 1.0
    rhr_min_days: int = 3
    steps_ratio: float = 0.5
    sleep_floor_hours: float = 6.0
    sleep_drop_hours: float = 1.5


@dataclass(frozen=True, slots=True)
class Runs:
    """Runs of consecutive True days: client row, first and last day index."""

    client: npt.NDArray[np.intp]
    start: npt.NDArray[np.intp]
    end: npt.NDArray[np.intp]


def find_runs(mask: npt.NDArray[np.bool_], min_length: int = 1) -> Runs:
    """Every run of at least ``min_length`` consecutive True values along each row."""
    padded = np.pad(mask, ((0, 0), (1, 1)), constant_values=False).astype(np.int8)
    edges = np.diff(padded, axis=1)
    c_start, d_start = np.nonzero(edges == 1)
    _, d_end = np.nonzero(edges == -1)
    keep = (d_end - d_start) >= min_length
    return Runs(c_start[keep], d_start[keep], d_end[keep] - 1)


def _run_means(x: FloatArray, runs: Runs) -> FloatArray:
    """Mean of the observed values of ``x`` within each run."""
    seen = ~np.isnan(x)
    total = np.pad(np.cumsum(np.where(seen, x, 0.0), axis=1), ((0, 0), (1, 0)))
    count = np.pad(np.cumsum(seen, axis=1), ((0, 0), (1, 0)))
    s = total[runs.client, runs.end + 1] - total[runs.client, runs.start]
    n = count[runs.client, runs.end + 1] - count[runs.client, runs.start]
    return np.divide(s, n, out=np.full(s.shape, np.nan), where=n > 0)


def trailing_mean(
    x: FloatArray, days: int = WEEK, min_count: int = MIN_WINDOW_VALUES
) -> FloatArray:
    """Mean of days ``d - days + 1 .. d`` for every day; NaN with < ``min_count`` values."""
    seen = ~np.isnan(x)
    total = np.cumsum(np.where(seen, x, 0.0), axis=1)
    count = np.cumsum(seen, axis=1)
    total[:, days:] -= total[:, :-days].copy()
    count[:, days:] -= count[:, :-days].copy()
    return np.divide(total, count, out=np.full(x.shape, np.nan), where=count >= min_count)


# --------------------------------------------------------------------------- rules
def rhr_elevated(x: FloatArray, rules: AnomalyRules) -> tuple[Runs, FloatArray, FloatArray]:
    """Runs of elevated resting heart rate, their mean value and the baseline median."""
    median, mad = rolling_baseline(x, BASELINE_DAYS, lag=1)
    limit = median + rules.rhr_mad_k * np.maximum(mad, rules.rhr_min_mad)
    with np.errstate(invalid="ignore"):
        high = x >= limit
    runs = find_runs(high, rules.rhr_min_days)
    return runs, _run_means(x, runs), median[runs.client, runs.start]


def _weekly_vs_baseline(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    return trailing_mean(x), rolling_baseline(x, BASELINE_DAYS, lag=WEEK)[0]


def steps_collapse(x: FloatArray, rules: AnomalyRules) -> tuple[Runs, FloatArray, FloatArray]:
    week, base = _weekly_vs_baseline(x)
    with np.errstate(invalid="ignore"):
        runs = find_runs(week < rules.steps_ratio * base)
    return _widen(runs), _run_means(x, _widen(runs)), base[runs.client, runs.start]


def sleep_debt(x: FloatArray, rules: AnomalyRules) -> tuple[Runs, FloatArray, FloatArray]:
    week, base = _weekly_vs_baseline(x)
    with np.errstate(invalid="ignore"):
        short = (week < rules.sleep_floor_hours) | (week < base - rules.sleep_drop_hours)
    runs = find_runs(short)
    return _widen(runs), _run_means(x, _widen(runs)), base[runs.client, runs.start]


def _widen(runs: Runs) -> Runs:
    """Start each run where its first 7-day window starts."""
    return Runs(runs.client, np.maximum(runs.start - (WEEK - 1), 0), runs.end)


# --------------------------------------------------------------------------- frames
_TEXT = {
    "rhr_elevated": (
        "Resting heart rate averaged {value} /min on {days} consecutive days, "
        "well above the usual {baseline} /min. This can come with an infection, "
        "poor recovery or stress."
    ),
    "steps_collapse": (
        "Daily steps averaged {value} over these days, less than half the usual {baseline}."
    ),
    "sleep_debt": (
        "Sleep averaged {value} h a night over these days against the usual "
        "{baseline} h: a sleep debt."
    ),
}
_SEVERITY = {"rhr_elevated": "warning", "steps_collapse": "warning", "sleep_debt": "info"}
_METRIC = {"rhr_elevated": _RHR, "steps_collapse": _STEPS, "sleep_debt": _SLEEP}


def _frame(
    kind: str, cube: DailyCube, runs: Runs, value: FloatArray, base: FloatArray
) -> pd.DataFrame:
    days = cube.days()
    start, end = days[runs.start], days[runs.end]
    digits = 1 if kind == "sleep_debt" else 0
    value_text = pd.Series(value).round(digits).astype(str).str.removesuffix(".0")
    base_text = pd.Series(base).round(digits).astype(str).str.removesuffix(".0")
    length = (runs.end - runs.start + 1).astype(str)
    template = _TEXT[kind].split("{")
    text = pd.Series([""] * len(runs.client), dtype=object)
    fields = {"value": value_text, "baseline": base_text, "days": pd.Series(length)}
    for i, piece in enumerate(template):
        if i == 0:
            text = text + piece
            continue
        name, rest = piece.split("}", 1)
        text = text + fields[name].astype(object) + rest
    return _assemble(
        cube.client_ids[runs.client],
        kind,
        _SEVERITY[kind],
        _METRIC[kind],
        start,
        end,
        value,
        base,
        text,
    )


def _assemble(
    client_ids: npt.NDArray[np.object_],
    kind: str,
    severity: str,
    metric: str,
    start: npt.NDArray[np.datetime64],
    end: npt.NDArray[np.datetime64],
    value: FloatArray,
    base: FloatArray,
    explanation: pd.Series,
) -> pd.DataFrame:
    start_dates = pd.Series(start.astype("datetime64[D]").astype(object), dtype=object)
    frame = pd.DataFrame(
        {
            "client_id": pd.Series(client_ids, dtype=object),
            "kind": kind,
            "severity": severity,
            "metric": metric,
            "window_start": start_dates,
            "window_end": pd.Series(end.astype("datetime64[D]").astype(object), dtype=object),
            "value": value,
            "baseline": base,
            "explanation": explanation.to_numpy(),
        }
    )
    frame["dedup_key"] = frame["client_id"].astype(str) + "|" + kind + "|" + start_dates.astype(str)
    return frame


def crisis_alerts(sparse: pd.DataFrame) -> pd.DataFrame:
    """One urgent alert per client and day with a reading above the crisis thresholds."""
    bp = sparse.loc[
        sparse["metric"].isin([_SYS, _DIA]), ["client_id", "metric", "value", "observed_at"]
    ]
    if bp.empty:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    wide = bp.pivot_table(
        index=["client_id", "observed_at"],
        columns="metric",
        values="value",
        aggfunc="max",
        observed=True,
    ).reset_index()
    sys_ = wide.get(_SYS, pd.Series(np.nan, index=wide.index)).to_numpy(dtype=float)
    dia = wide.get(_DIA, pd.Series(np.nan, index=wide.index)).to_numpy(dtype=float)
    crisis_sys, crisis_dia = g.BP_SYSTOLIC[-1].threshold, g.BP_DIASTOLIC[-1].threshold
    with np.errstate(invalid="ignore"):
        hit = (sys_ > crisis_sys) | (dia > crisis_dia)
    rows = wide.loc[hit].assign(sys=sys_[hit], dia=dia[hit])
    rows["day"] = pd.to_datetime(rows["observed_at"], utc=True).dt.tz_convert(None).dt.floor("D")
    rows = rows.sort_values("sys", ascending=False).drop_duplicates(["client_id", "day"])
    reading = (
        rows["sys"].round().astype("Int64").astype(str)
        + "/"
        + rows["dia"].round().astype("Int64").astype(str)
    )
    text = (
        "A blood-pressure reading of " + reading + " mm Hg is in the hypertensive-crisis "
        "range (above 180 and/or 120): contact the client today."
    )
    day = rows["day"].to_numpy().astype("datetime64[D]")
    return _assemble(
        rows["client_id"].astype(object).to_numpy(),
        "hypertensive_crisis",
        "urgent",
        _SYS,
        day,
        day,
        rows["sys"].to_numpy(),
        np.full(len(rows), np.nan),
        text.astype(object),
    )


def detect_from_cube(cube: DailyCube, sparse: pd.DataFrame, rules: AnomalyRules) -> pd.DataFrame:
    """Alerts from a cube of daily values (range-checked here) and sparse BP rows."""
    values = cube.values.copy()
    values[out_of_range_mask(values, cube.codes)] = np.nan
    frames = [crisis_alerts(sparse)]
    rule_for = {
        "rhr_elevated": (_RHR, rhr_elevated),
        "steps_collapse": (_STEPS, steps_collapse),
        "sleep_debt": (_SLEEP, sleep_debt),
    }
    wear_off = non_wear_mask(DailyCube(cube.client_ids, cube.start, cube.codes, values))
    for kind, (code, rule) in rule_for.items():
        if code not in cube.codes:
            continue
        x = values[cube.codes.index(code)]
        if code == _STEPS:
            x = np.where(wear_off, np.nan, x)
        runs, value, base = rule(x, rules)
        frames.append(_frame(kind, cube, runs, value, base))
    alerts = pd.concat([f for f in frames if not f.empty] or [frames[0]], ignore_index=True)
    alerts = alerts.drop_duplicates("dedup_key").sort_values(["client_id", "window_start", "kind"])
    return alerts.reset_index(drop=True)[list(ALERT_COLUMNS)]


def detect_anomalies(
    measurements: pd.DataFrame,
    as_of: dt.date | dt.datetime,
    rules: AnomalyRules | None = None,
    history_days: int = HISTORY_DAYS,
) -> pd.DataFrame:
    """Alerts for every client over the ``history_days`` ending at ``as_of`` (point in
    time: only data observed up to the cutoff of :func:`snapshot.cutoff_for`)."""
    cutoff, day = cutoff_for(as_of)
    observed = pd.to_datetime(measurements["observed_at"], utc=True)
    frame = measurements.loc[(observed <= cutoff).to_numpy()]
    ids = client_universe(frame, frame.iloc[:0][["client_id"]])
    cube = cube_from_long(frame, ids, day, history_days, (_RHR, _STEPS, _SLEEP))
    since = cutoff - pd.Timedelta(days=history_days)
    sparse = frame.loc[pd.to_datetime(frame["observed_at"], utc=True) > since]
    return detect_from_cube(cube, sparse, rules or AnomalyRules())
