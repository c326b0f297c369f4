"""Cleaning: range checks, non-wear days, per-client outliers and imputation.

Nothing here modifies the stored measurements: cleaning produces flags and cleaned
copies, and features are computed from the copies.

Order of the steps on the daily cube (each step's flag is kept):

1. **Range check**: a value outside the metric's physiological range
   (:mod:`health_advisor.core.metrics`) is dropped (``out_of_range``).
2. **Non-wear**: a day with 0 steps means the tracker was not worn; that day's
   activity metrics (steps, active/light/sedentary minutes, distance, calories burned)
   are dropped (``non_wear``) rather than read as a day of total rest.
3. **Outliers** (per client and metric, over the whole history window): a value is an
   outlier, and is excluded from features, when *both* rules agree:
   the robust z-score ``0.6745 * |x - median| / MAD`` exceeds 3.5 (Iglewicz & Hoaglin;
   when MAD is 0 the mean absolute deviation ``* 1.2533`` stands in for it), *and* the
   value lies beyond Tukey's *extreme* fences ``Q1 - 3 IQR`` / ``Q3 + 3 IQR``. Requiring
   both keeps a single rule's degenerate cases (MAD or IQR of 0 on near-constant series)
   from discarding ordinary values; the 1.5 IQR "mild" fence is reported by
   :func:`flag_measurements` for information only. At least 7 values are needed.
   Anomaly rules do not use this step: an illness looks like a run of outliers.
4. **Imputation** of missing days: first the median of the client's own observed values
   within +-3 days (a centred 7-day rolling median); then, for clients with at least half
   of the history observed, the population median of the client's age/sex band (the
   median of the band's per-client medians; the whole population's when the band has
   none). Clients below that coverage keep their gaps, so a metric a client never
   tracks is not invented. Every imputed value is flagged (``imputed``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from health_advisor.core import metrics
from health_advisor.features.cube import (
    BoolArray,
    DailyCube,
    FloatArray,
    nan_count,
    nan_median_mad,
    sorted_quantile,
)

ROBUST_Z_LIMIT = 3.5
ROBUST_Z_FACTOR = 0.6745
MEAN_AD_FACTOR = 1.253314
IQR_MILD = 1.5
IQR_EXTREME = 3.0
MIN_VALUES_FOR_OUTLIERS = 7
ROLLING_HALF_WINDOW = 3
MIN_COVERAGE_FOR_BAND_IMPUTATION = 0.5

NON_WEAR_METRICS: tuple[str, ...] = (
    "steps",
    "active_minutes",
    "light_active_minutes",
    "sedentary_minutes",
    "distance",
    "calories_burned",
)

AGE_BAND_EDGES: tuple[int, ...] = (18, 30, 40, 50, 60, 70)


@dataclass(frozen=True)
class CleanCube:
    """The cleaned daily cube and its flags, all shaped like ``cube.values``.

    ``checked``: range-checked values with non-wear days removed (what anomaly rules see);
    ``observed``: ``checked`` without outliers (what features see);
    ``filled``: ``observed`` with imputed values in the gaps.
    """

    cube: DailyCube
    checked: FloatArray
    observed: FloatArray
    filled: FloatArray
    out_of_range: BoolArray
    non_wear: BoolArray
    outlier: BoolArray
    imputed: BoolArray

    def metric(self, name: str) -> int:
        return self.cube.names.index(name)


# --------------------------------------------------------------------------- steps 1-2
def range_limits(codes: tuple[str, ...]) -> tuple[FloatArray, FloatArray]:
    """Lower and upper physiological limits per metric code (+-inf when unlisted)."""
    found = [metrics.lookup(c) for c in codes]
    low = np.array([m.low if m else -np.inf for m in found], dtype=np.float64)
    high = np.array([m.high if m else np.inf for m in found], dtype=np.float64)
    return low, high


def out_of_range_mask(values: npt.NDArray[np.floating], codes: tuple[str, ...]) -> BoolArray:
    """True where a value of ``values[m, ...]`` is outside the range of ``codes[m]``."""
    low, high = range_limits(codes)
    shape = (len(codes),) + (1,) * (values.ndim - 1)
    with np.errstate(invalid="ignore"):
        return (values < low.reshape(shape)) | (values > high.reshape(shape))


def non_wear_mask(cube: DailyCube) -> BoolArray:
    """``(client, day)``: True on days with 0 steps recorded (tracker not worn)."""
    steps = cube.get("steps")
    if steps is None:
        return np.zeros(cube.values.shape[1:], dtype=bool)
    return steps == 0


# --------------------------------------------------------------------------- step 3
@dataclass(frozen=True)
class RowStats:
    """Per-row (client) statistics along the last axis, ignoring NaN."""

    n: npt.NDArray[np.int64]
    median: FloatArray
    q1: FloatArray
    q3: FloatArray
    mad: FloatArray
    mean_ad: FloatArray


def row_stats(x: FloatArray) -> RowStats:
    """Count, median, quartiles, MAD and mean absolute deviation from two sorts."""
    n = nan_count(x)
    s = np.sort(x, axis=-1)
    median = sorted_quantile(s, n, 0.5)
    q1, q3 = sorted_quantile(s, n, 0.25), sorted_quantile(s, n, 0.75)
    dev = np.abs(x - median[..., None])
    mad = sorted_quantile(np.sort(dev, axis=-1), n, 0.5)
    mean_ad = np.divide(np.nansum(dev, axis=-1), n, out=np.zeros(n.shape), where=n > 0)
    return RowStats(n, median, q1, q3, mad, mean_ad)


def robust_z(x: FloatArray, stats: RowStats | None = None) -> FloatArray:
    """Robust z-score of each value against its row (last axis): ``0.6745 (x - med) / MAD``,
    using ``1.2533 * mean absolute deviation`` where MAD is 0 (NaN where both are 0)."""
    st = stats or row_stats(x)
    scale = np.where(st.mad > 0, st.mad / ROBUST_Z_FACTOR, st.mean_ad * MEAN_AD_FACTOR)
    scale = np.where(scale > 0, scale, np.nan)
    return (x - st.median[..., None]) / scale[..., None]


def tukey_fences(
    x: FloatArray, k: float, stats: RowStats | None = None
) -> tuple[FloatArray, FloatArray]:
    """Per-row ``Q1 - k IQR`` and ``Q3 + k IQR`` along the last axis, ignoring NaN."""
    st = stats or row_stats(x)
    iqr = st.q3 - st.q1
    return st.q1 - k * iqr, st.q3 + k * iqr


def outlier_mask(x: FloatArray, stats: RowStats | None = None) -> BoolArray:
    """True where both the robust z-score (> 3.5) and the 3 IQR fence call a value an
    outlier, per row of ``x`` (last axis = the client's days); rows with < 7 values: none."""
    st = stats or row_stats(x)
    z = robust_z(x, st)
    lower, upper = tukey_fences(x, IQR_EXTREME, st)
    enough = (st.n >= MIN_VALUES_FOR_OUTLIERS)[..., None]
    with np.errstate(invalid="ignore"):
        beyond = (x < lower[..., None]) | (x > upper[..., None])
        return enough & beyond & (np.abs(z) > ROBUST_Z_LIMIT)


# --------------------------------------------------------------------------- step 4
def age_sex_bands(
    clients: pd.DataFrame, client_ids: npt.NDArray[np.object_], as_of: np.datetime64
) -> npt.NDArray[np.object_]:
    """A band label per client, e.g. ``"female:40-49"``; ``"unknown"`` parts when missing."""
    info = clients.drop_duplicates("client_id").set_index("client_id").reindex(client_ids)
    sex = info["sex"].astype(object).where(info["sex"].notna(), "unknown").to_numpy()
    age = age_years(info["birth_date"], as_of)
    edges = np.array(AGE_BAND_EDGES)
    labels = np.array(
        ["<18"]
        + [f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)]
        + [f"{edges[-1]}+", "unknown"],
        dtype=object,
    )
    idx = np.searchsorted(edges, np.nan_to_num(age, nan=0.0), side="right")
    idx[np.isnan(age)] = len(labels) - 1
    return np.char.add(np.char.add(sex.astype(str), ":"), labels[idx].astype(str)).astype(object)


def age_years(birth_date: pd.Series, as_of: np.datetime64) -> FloatArray:
    """Age in (fractional) years at ``as_of``; NaN where the birth date is missing."""
    born = pd.to_datetime(birth_date, errors="coerce")
    if isinstance(born.dtype, pd.DatetimeTZDtype):
        born = born.dt.tz_convert(None)
    days = (
        np.asarray(as_of).astype("datetime64[D]") - born.to_numpy(dtype="datetime64[D]")
    ).astype(np.float64)
    days[born.isna().to_numpy()] = np.nan
    return days / 365.2425


def rolling_median_fill(x: FloatArray) -> FloatArray:
    """Fill each gap of ``x`` (client, day) with the median of the observed values within
    +-3 days; gaps with no observed neighbour stay NaN. Observed cells are unchanged."""
    h = ROLLING_HALF_WINDOW
    out = x.copy()
    rows, cols = np.nonzero(np.isnan(x))
    if rows.size == 0:
        return out
    padded = np.pad(x, ((0, 0), (h, h)), constant_values=np.nan)
    windows = padded[rows[:, None], cols[:, None] + np.arange(2 * h + 1)]
    n = nan_count(windows)
    out[rows, cols] = sorted_quantile(np.sort(windows, axis=-1), n, 0.5)
    return out


def band_medians(
    observed: FloatArray, bands: npt.ArrayLike, own: FloatArray | None = None
) -> FloatArray:
    """Per client: the median, over the clients of its band, of their own medians
    (``own``, computed from ``observed`` when not given); the whole population's median
    where the band has no data."""
    own = nan_median_mad(observed)[0] if own is None else own
    codes, _ = pd.factorize(np.asarray(bands, dtype=object))
    series = pd.Series(own)
    per_band = series.groupby(codes).median()
    result = per_band.reindex(codes).to_numpy(dtype=np.float64, na_value=np.nan)
    overall = float(series.median()) if series.notna().any() else np.nan
    return np.where(np.isnan(result), overall, result)


def impute(
    observed: FloatArray, bands: npt.ArrayLike, own: FloatArray | None = None
) -> tuple[FloatArray, BoolArray]:
    """Imputed copy of one metric's ``(client, day)`` array and the imputed-value flags."""
    filled = rolling_median_fill(observed)
    coverage = nan_count(observed) / max(observed.shape[1], 1)
    eligible = (coverage >= MIN_COVERAGE_FOR_BAND_IMPUTATION)[:, None]
    gaps = np.isnan(filled) & eligible
    if gaps.any():
        filled[gaps] = np.broadcast_to(band_medians(observed, bands, own)[:, None], gaps.shape)[
            gaps
        ]
    return filled, np.isnan(observed) & ~np.isnan(filled)


# --------------------------------------------------------------------------- whole cube
@dataclass(frozen=True)
class MetricClean:
    """One metric's cleaning of a ``(client, day)`` array; fields as in :class:`CleanCube`."""

    checked: FloatArray
    observed: FloatArray
    filled: FloatArray
    out_of_range: BoolArray
    non_wear: BoolArray
    outlier: BoolArray
    imputed: BoolArray


def clean_metric(
    x: FloatArray, code: str, wear_off: BoolArray, bands: npt.ArrayLike
) -> MetricClean:
    """Steps 1-4 for one metric (``x`` is copied to float64; it is not modified)."""
    checked = np.array(x, dtype=np.float64)
    out_of_range = out_of_range_mask(checked[None], (code,))[0]
    checked[out_of_range] = np.nan
    if metrics.name_for(code) in NON_WEAR_METRICS:
        non_wear = wear_off & ~np.isnan(checked)
        checked[non_wear] = np.nan
    else:
        non_wear = np.zeros(checked.shape, dtype=bool)
    stats = row_stats(checked)
    outlier = outlier_mask(checked, stats)
    observed = np.where(outlier, np.nan, checked)
    filled, imputed = impute(observed, bands, stats.median)
    return MetricClean(checked, observed, filled, out_of_range, non_wear, outlier, imputed)


def clean_cube(cube: DailyCube, bands: npt.ArrayLike) -> CleanCube:
    """Apply steps 1-4 to every metric of ``cube`` (which is not modified)."""
    wear_off = non_wear_mask(cube)
    parts = [
        clean_metric(cube.values[m], code, wear_off, bands) for m, code in enumerate(cube.codes)
    ]

    def stack(field: str) -> Any:
        return np.stack([getattr(p, field) for p in parts])

    return CleanCube(
        cube,
        stack("checked"),
        stack("observed"),
        stack("filled"),
        stack("out_of_range"),
        stack("non_wear"),
        stack("outlier"),
        stack("imputed"),
    )


# --------------------------------------------------------------------------- long form
def flag_measurements(measurements: pd.DataFrame) -> pd.DataFrame:
    """Per input row (same index): ``in_range``, ``robust_z``, ``iqr_mild``,
    ``iqr_extreme`` and ``outlier`` (the rule of step 3, per client and metric over all
    the rows given). The input frame is not modified."""
    frame = measurements[["client_id", "metric", "value"]]
    codes = tuple(pd.unique(frame["metric"].astype(object)))
    low, high = range_limits(codes)
    where = pd.Index(codes).get_indexer(frame["metric"].astype(object))
    value = frame["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    in_range = (value >= low[where]) & (value <= high[where])
    checked = pd.Series(np.where(in_range, value, np.nan), index=frame.index)
    keys = [frame["client_id"], frame["metric"]]
    grouped = checked.groupby(keys)
    median = grouped.transform("median")
    mad = (checked - median).abs().groupby(keys).transform("median")
    mean_ad = (checked - median).abs().groupby(keys).transform("mean")
    count = grouped.transform("count")
    scale = np.where(mad > 0, mad / ROBUST_Z_FACTOR, mean_ad * MEAN_AD_FACTOR)
    z = (checked - median) / pd.Series(np.where(scale > 0, scale, np.nan), index=frame.index)
    q1, q3 = grouped.transform("quantile", 0.25), grouped.transform("quantile", 0.75)
    iqr = q3 - q1

    def beyond(k: float) -> pd.Series:
        return ((checked < q1 - k * iqr) | (checked > q3 + k * iqr)) & (
            count >= MIN_VALUES_FOR_OUTLIERS
        )

    extreme = beyond(IQR_EXTREME)
    return pd.DataFrame(
        {
            "in_range": in_range,
            "robust_z": z,
            "iqr_mild": beyond(IQR_MILD),
            "iqr_extreme": extreme,
            "outlier": extreme & (z.abs() > ROBUST_Z_LIMIT),
        },
        index=frame.index,
    )
