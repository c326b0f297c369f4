"""Feature snapshots: one wide row of features and guideline categories per client, as of
a date.

Point in time: a snapshot *as of* a date uses only measurements with ``observed_at`` up
to the end of that day in UTC (``observed_at < as_of + 1 day, 00:00 UTC``); as of a
datetime, up to and including that instant (a naive datetime is read as UTC). Later data
never changes an earlier snapshot.

Windows (counted back from the snapshot day, which is day 0 and included):

* daily wearable metrics: a 90-day history is cleaned (outlier statistics and
  imputation use all of it); features use the last 7 and 28 days, and the baseline the
  28 days before the last 7 (see :mod:`health_advisor.features.baselines`);
* blood pressure: the average of all readings in the last 90 days;
* labs (total/LDL/HDL cholesterol, triglycerides, fasting glucose, HbA1c) and body
  weight: the latest value within 365 days; height: the latest ever; BMI: the latest
  measured BMI, or weight / height^2 when the weight is more recent;
* strength sessions: the latest weekly count within 28 days.

Sparse values outside the physiological range are dropped; they get no outlier rule
(a handful of readings cannot give a client's own spread). Random (non-fasting) glucose
is not classified: the ADA fasting thresholds do not apply to it.

Guideline inputs: activity = 7 x the 28-day mean of daily active minutes (all counted
as moderate; no vigorous split is recorded) with the strength sessions; sleep = the
28-day mean of sleep duration, with the client's age; resting heart rate = its 28-day
mean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from health_advisor.core import guidelines as g
from health_advisor.core import metrics
from health_advisor.features import aggregates as agg
from health_advisor.features.baselines import baseline, deviation
from health_advisor.features.cleaning import (
    MetricClean,
    age_sex_bands,
    age_years,
    clean_metric,
    non_wear_mask,
)
from health_advisor.features.cube import (
    DAILY_METRIC_CODES,
    DAILY_METRIC_NAMES,
    DailyCube,
    FloatArray,
    client_index,
    cube_from_long,
    present,
)
from health_advisor.features.engineered import ENGINEERED_INPUTS, engineered_features

FEATURE_VERSION = "1.0.0"

HISTORY_DAYS = 90
WINDOW_DAYS = 28
RECENT_DAYS = 7
BP_WINDOW_DAYS = 90
LAB_WINDOW_DAYS = 365
STRENGTH_WINDOW_DAYS = 28

VARIABILITY_METRICS: tuple[str, ...] = ("steps", "sleep_duration", "resting_heart_rate")
LAB_METRICS: tuple[str, ...] = (
    "total_cholesterol",
    "ldl",
    "hdl",
    "triglycerides",
    "fasting_glucose",
    "hba1c",
)
GUIDELINE_KEYS: tuple[str, ...] = (
    "blood_pressure",
    "cholesterol",
    "ldl",
    "hdl",
    "triglycerides",
    "glucose",
    "hba1c",
    "bmi",
    "activity",
    "sleep",
    "resting_heart_rate",
)
RISK_KEYS: tuple[str, ...] = (*GUIDELINE_KEYS, "overall")

#: Per-metric daily feature suffixes (``<metric>_<suffix>``).
DAILY_SUFFIXES: tuple[str, ...] = (
    "mean_7d",
    "mean_28d",
    "baseline_median",
    "baseline_mad",
    "deviation_7d",
    "trend_per_week",
    "observed_days_28d",
    "imputed_share_28d",
    "outliers_28d",
)

_SYS, _DIA = metrics.code_for("systolic_bp"), metrics.code_for("diastolic_bp")


# --------------------------------------------------------------------------- time
def cutoff_for(as_of: dt.date | dt.datetime) -> tuple[pd.Timestamp, np.datetime64]:
    """The last instant included (UTC) and the snapshot day for ``as_of``."""
    if isinstance(as_of, dt.datetime):
        stamp = pd.Timestamp(as_of)
        cutoff = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    else:
        cutoff = pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    day = np.datetime64(cutoff.tz_convert(None).date(), "D")
    return cutoff, day


def _up_to(measurements: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    observed = pd.to_datetime(measurements["observed_at"], utc=True)
    keep = (observed <= cutoff).to_numpy()
    return measurements if keep.all() else measurements.loc[keep]


def client_universe(measurements: pd.DataFrame, clients: pd.DataFrame) -> npt.NDArray[np.object_]:
    """Sorted ids of every client in ``clients`` or with a measurement."""
    seen = present(measurements["client_id"])
    known = clients["client_id"].astype(object).to_numpy()
    return np.array(sorted(set(seen) | set(known), key=str), dtype=object)


# --------------------------------------------------------------------------- public
def build_snapshots(
    measurements: pd.DataFrame, clients: pd.DataFrame, as_of: dt.date | dt.datetime
) -> pd.DataFrame:
    """One row per client with every feature and guideline category, as of ``as_of``.

    ``measurements``: long form with ``client_id, metric, value, observed_at`` (UTC);
    ``clients``: ``client_id, sex, birth_date``. Neither frame is modified.
    """
    cutoff, day = cutoff_for(as_of)
    frame = _up_to(measurements, cutoff)
    ids = client_universe(frame, clients)
    seen = present(frame["metric"])
    codes = tuple(c for c in DAILY_METRIC_CODES if c in seen)
    cube = cube_from_long(frame, ids, day, HISTORY_DAYS, codes)
    sparse = frame.loc[~frame["metric"].isin(DAILY_METRIC_CODES)]
    return build_snapshots_from_cube(cube, sparse, clients, as_of)


def build_snapshots_from_cube(
    cube: DailyCube,
    sparse: pd.DataFrame,
    clients: pd.DataFrame,
    as_of: dt.date | dt.datetime,
) -> pd.DataFrame:
    """:func:`build_snapshots` from an already pivoted daily cube (the fast path for
    large batches) and the sparse long-form measurements. The cube must end on the
    snapshot day; its values are overwritten during cleaning."""
    cutoff, day = cutoff_for(as_of)
    if cube.end != day:
        raise ValueError(f"cube ends on {cube.end}, snapshot day is {day}")
    ids = cube.client_ids
    info = clients.drop_duplicates("client_id").set_index("client_id").reindex(ids)
    columns: dict[str, Any] = {
        "client_id": ids,
        "as_of": np.full(len(ids), day.astype(object), dtype=object),
        "feature_version": FEATURE_VERSION,
        "sex": info["sex"].astype(object).where(info["sex"].notna(), None).to_numpy(),
        "age_years": age_years(info["birth_date"], day),
    }
    bands = pd.factorize(age_sex_bands(clients, ids, day))[0]
    columns.update(daily_features(cube, bands))
    columns.update(sparse_features(_up_to(sparse, cutoff), ids, cutoff))
    columns.update(guideline_categories(columns))
    return pd.DataFrame(columns)


# --------------------------------------------------------------------------- daily
def daily_features(cube: DailyCube, bands: npt.ArrayLike) -> dict[str, FloatArray]:
    """Every per-metric and engineered daily feature, NaN for metrics not in the cube.

    Metrics are cleaned one at a time, so memory holds the cube plus one metric's
    working arrays (and the imputed series the engineered features need)."""
    n = len(cube.client_ids)
    wear_off = non_wear_mask(cube)
    out: dict[str, FloatArray] = {}
    filled: dict[str, FloatArray] = {}
    for name in DAILY_METRIC_NAMES:
        if name not in cube.names:
            out.update({f"{name}_{s}": np.full(n, np.nan) for s in DAILY_SUFFIXES})
            out.update({col: np.full(n, np.nan) for col in variability_columns(name)})
            continue
        m = cube.names.index(name)
        clean = clean_metric(cube.values[m], cube.codes[m], wear_off, bands)
        out.update(_metric_features(name, clean))
        if name in ENGINEERED_INPUTS:
            filled[name] = clean.filled
    out.update(engineered_features(filled, n))
    return out


def variability_columns(name: str) -> list[str]:
    if name == "bedtime":
        return ["bedtime_variability"]
    return [f"{name}_std_28d"] if name in VARIABILITY_METRICS else []


def _metric_features(name: str, clean: MetricClean) -> dict[str, FloatArray]:
    observed, filled = clean.observed, clean.filled
    mean_7d = agg.window_mean(filled, RECENT_DAYS)
    median, mad = baseline(observed)
    features = {
        "mean_7d": mean_7d,
        "mean_28d": agg.window_mean(filled, WINDOW_DAYS),
        "baseline_median": median,
        "baseline_mad": mad,
        "deviation_7d": deviation(mean_7d, median, mad),
        "trend_per_week": agg.trend_per_week(observed, WINDOW_DAYS),
        "observed_days_28d": agg.observed_days(observed, WINDOW_DAYS),
        "imputed_share_28d": agg.window(clean.imputed, WINDOW_DAYS).mean(axis=-1),
        "outliers_28d": agg.window(clean.outlier, WINDOW_DAYS).sum(axis=-1).astype(np.float64),
    }
    out = {f"{name}_{k}": v for k, v in features.items()}
    for column in variability_columns(name):
        out[column] = agg.window_std(observed, WINDOW_DAYS)
    return out


# --------------------------------------------------------------------------- sparse
def _checked_sparse(sparse: pd.DataFrame) -> pd.DataFrame:
    """Sparse rows with a listed metric, in range, with a value (a new frame)."""
    frame = sparse[["client_id", "metric", "value", "observed_at"]].copy()
    raw = frame["metric"].astype(object)
    found = {c: metrics.lookup(c) for c in pd.unique(raw)}
    frame["metric"] = raw.map({c: m.code if m else c for c, m in found.items()})
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    low = raw.map({c: m.low if m else -np.inf for c, m in found.items()}).astype(float)
    high = raw.map({c: m.high if m else np.inf for c, m in found.items()}).astype(float)
    ok = frame["value"].between(low, high)
    return frame.loc[ok]


def _latest(
    frame: pd.DataFrame,
    code: str,
    ids: npt.NDArray[np.object_],
    since: pd.Timestamp,
    cutoff: pd.Timestamp,
) -> tuple[FloatArray, FloatArray]:
    """Latest value and its age in days per client for one metric within the window."""
    rows = frame.loc[(frame["metric"] == code) & (frame["observed_at"] >= since)]
    rows = rows.sort_values("observed_at", kind="stable").drop_duplicates("client_id", keep="last")
    where = client_index(rows["client_id"], ids)
    value, age = np.full(len(ids), np.nan), np.full(len(ids), np.nan)
    value[where] = rows["value"].to_numpy(dtype=np.float64)
    age[where] = ((cutoff - rows["observed_at"]).dt.total_seconds() / 86400.0).to_numpy()
    return value, np.floor(age)


def _window_stat(
    frame: pd.DataFrame, code: str, ids: npt.NDArray[np.object_], since: pd.Timestamp, how: str
) -> FloatArray:
    rows = frame.loc[(frame["metric"] == code) & (frame["observed_at"] >= since)]
    stat = rows.groupby(rows["client_id"].astype(object))["value"].agg(how)
    return stat.reindex(ids).to_numpy(dtype=np.float64, na_value=np.nan)


def sparse_features(
    sparse: pd.DataFrame, ids: npt.NDArray[np.object_], cutoff: pd.Timestamp
) -> dict[str, FloatArray]:
    """Blood pressure, labs, body size and strength features from sparse measurements."""
    frame = _checked_sparse(sparse)
    bp_since = cutoff - pd.Timedelta(days=BP_WINDOW_DAYS)
    lab_since = cutoff - pd.Timedelta(days=LAB_WINDOW_DAYS)
    out: dict[str, FloatArray] = {
        "systolic_bp_mean_90d": _window_stat(frame, _SYS, ids, bp_since, "mean"),
        "diastolic_bp_mean_90d": _window_stat(frame, _DIA, ids, bp_since, "mean"),
        "systolic_bp_max_90d": _window_stat(frame, _SYS, ids, bp_since, "max"),
        "diastolic_bp_max_90d": _window_stat(frame, _DIA, ids, bp_since, "max"),
        "bp_readings_90d": np.nan_to_num(_window_stat(frame, _SYS, ids, bp_since, "count")),
    }
    for name in LAB_METRICS:
        value, age = _latest(frame, metrics.code_for(name), ids, lab_since, cutoff)
        out[f"{name}_latest"], out[f"{name}_days_since"] = value, age
    weight, weight_age = _latest(frame, metrics.code_for("body_weight"), ids, lab_since, cutoff)
    ever = pd.Timestamp("1900-01-01", tz="UTC")
    height, _ = _latest(frame, metrics.code_for("body_height"), ids, ever, cutoff)
    bmi, bmi_age = _latest(frame, metrics.code_for("bmi"), ids, lab_since, cutoff)
    computed = weight / (height / 100.0) ** 2
    use_computed = np.isfinite(computed) & ~(bmi_age <= weight_age)
    out["body_weight_latest"], out["body_height_latest"] = weight, height
    out["bmi_latest"] = np.where(use_computed, computed, bmi)
    strength_since = cutoff - pd.Timedelta(days=STRENGTH_WINDOW_DAYS)
    out["strength_sessions_latest"] = _latest(
        frame, metrics.code_for("strength_sessions"), ids, strength_since, cutoff
    )[0]
    return out


# --------------------------------------------------------------------------- guidelines
def guideline_inputs(row: Mapping[str, Any]) -> dict[str, Any]:
    """The guideline inputs of a snapshot (a row, or the dict of column arrays)."""
    return {
        "active_minutes_per_week": 7.0 * np.asarray(row["active_minutes_mean_28d"], dtype=float),
        "strength": row["strength_sessions_latest"],
        "sleep_hours": row["sleep_duration_mean_28d"],
        "rhr": row["resting_heart_rate_mean_28d"],
    }


def guideline_categories(columns: Mapping[str, Any]) -> dict[str, npt.NDArray[np.object_]]:
    """``<key>_category`` for every guideline and ``health_risk_category``, vectorised."""
    x = guideline_inputs(columns)
    cats = {
        "blood_pressure": g.bp_categories(
            columns["systolic_bp_mean_90d"], columns["diastolic_bp_mean_90d"]
        ),
        "cholesterol": g.cholesterol_categories(columns["total_cholesterol_latest"]),
        "ldl": g.ldl_categories(columns["ldl_latest"]),
        "hdl": g.hdl_categories(columns["hdl_latest"]),
        "triglycerides": g.triglycerides_categories(columns["triglycerides_latest"]),
        "glucose": g.glucose_categories(columns["fasting_glucose_latest"]),
        "hba1c": g.hba1c_categories(columns["hba1c_latest"]),
        "bmi": g.bmi_categories(columns["bmi_latest"]),
        "activity": g.activity_categories(x["active_minutes_per_week"], None, x["strength"]),
        "sleep": g.sleep_categories(x["sleep_hours"], columns["age_years"]),
        "resting_heart_rate": g.resting_heart_rate_categories(x["rhr"]),
    }
    out = {f"{k}_category": v for k, v in cats.items()}
    out["health_risk_category"] = g.overall_risk_categories(cats)
    return out


def guideline_results(row: Mapping[str, Any]) -> dict[str, g.GuidelineResult]:
    """The scalar guideline results (category, reason, rule) of one snapshot row."""
    x = guideline_inputs(row)
    return {
        "blood_pressure": g.classify_bp(
            row["systolic_bp_mean_90d"],
            row["diastolic_bp_mean_90d"],
            int(np.nan_to_num(row["bp_readings_90d"])),
        ),
        "cholesterol": g.classify_cholesterol(row["total_cholesterol_latest"]),
        "ldl": g.classify_ldl(row["ldl_latest"]),
        "hdl": g.classify_hdl(row["hdl_latest"]),
        "triglycerides": g.classify_triglycerides(row["triglycerides_latest"]),
        "glucose": g.classify_glucose(row["fasting_glucose_latest"]),
        "hba1c": g.classify_hba1c(row["hba1c_latest"]),
        "bmi": g.classify_bmi(row["bmi_latest"]),
        "activity": g.classify_activity(float(x["active_minutes_per_week"]), None, x["strength"]),
        "sleep": g.classify_sleep(x["sleep_hours"], row["age_years"]),
        "resting_heart_rate": g.classify_resting_heart_rate(x["rhr"]),
    }


def risk_for(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``risk`` structure of one snapshot row: for each of :data:`RISK_KEYS`
    ``{"category", "reason"}`` (``overall`` also has ``reasons``, a list)."""
    results = guideline_results(row)
    risk: dict[str, dict[str, Any]] = {
        k: {"category": r.category, "reason": r.reason, "rule": r.rule} for k, r in results.items()
    }
    category, reasons = g.overall_risk(results)
    risk["overall"] = {"category": category, "reason": "; ".join(reasons), "reasons": reasons}
    return risk
