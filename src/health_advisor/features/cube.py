"""The daily cube: daily wearable metrics as a dense ``(metric, client, day)`` array.

Daily metrics (one value per client-day) are the bulk of the data: 100,000 clients x 90
days x 10 metrics is 90 million long rows. Every daily feature is computed on this cube
with NumPy, vectorised over clients, looping only over the handful of metrics, so the
batch path has no per-client Python code. Sparse measurements (blood pressure, labs,
body size) stay in long form (see :mod:`health_advisor.features.snapshot`).

Days are UTC calendar days: a measurement belongs to the day of its ``observed_at`` in
UTC. Several values on one client-day are averaged.

This module also holds the NaN-aware reductions the feature modules share; they never
warn on empty slices (the test suite turns warnings into errors) and return NaN there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from health_advisor.core import metrics

FloatArray = npt.NDArray[np.float64]
CubeArray = npt.NDArray[np.floating]
BoolArray = npt.NDArray[np.bool_]

#: Metrics treated as daily series (one value per client-day), by metric name.
DAILY_METRIC_NAMES: tuple[str, ...] = (
    "steps",
    "active_minutes",
    "light_active_minutes",
    "sedentary_minutes",
    "distance",
    "calories_burned",
    "calorie_intake",
    "water_intake",
    "sleep_duration",
    "time_in_bed",
    "sleep_quality",
    "bedtime",
    "resting_heart_rate",
    "carb_ratio",
    "protein_ratio",
    "fat_ratio",
    "stress_level",
)
DAILY_METRIC_CODES: tuple[str, ...] = tuple(metrics.code_for(n) for n in DAILY_METRIC_NAMES)


@dataclass(frozen=True)
class DailyCube:
    """Daily values ``values[m, c, d]`` for metric ``codes[m]``, client ``client_ids[c]``
    and day ``start + d``; NaN where there is no value. ``names`` follow ``codes``."""

    client_ids: npt.NDArray[np.object_]
    start: np.datetime64
    codes: tuple[str, ...]
    values: CubeArray
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(metrics.name_for(c) for c in self.codes))
        expected = (len(self.codes), len(self.client_ids))
        if self.values.ndim != 3 or self.values.shape[:2] != expected:
            raise ValueError(f"cube values of shape {self.values.shape} do not match {expected}")

    @property
    def n_days(self) -> int:
        return int(self.values.shape[2])

    @property
    def end(self) -> np.datetime64:
        """The last day of the cube (inclusive)."""
        return self.start + np.timedelta64(self.n_days - 1, "D")

    def days(self) -> npt.NDArray[np.datetime64]:
        return self.start + np.arange(self.n_days).astype("timedelta64[D]")

    def get(self, name: str) -> FloatArray | None:
        """The ``(client, day)`` array of a metric by name, or None when absent."""
        return self.values[self.names.index(name)] if name in self.names else None


def positions(values: pd.Series, universe: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Position of each value in ``universe`` (-1 when absent); for categorical values
    only the categories are looked up, so 90 million rows cost one take."""
    index = pd.Index(np.asarray(universe, dtype=object))
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = pd.Index(values.cat.categories.to_numpy(dtype=object))
        # a trailing -1 makes the code -1 (missing) map to -1 in a single take
        lookup = np.append(index.get_indexer(categories), -1)
        return lookup[values.cat.codes.to_numpy()]
    return index.get_indexer(pd.Index(values.to_numpy(dtype=object)))


def client_index(client_ids: pd.Series, universe: npt.NDArray[np.object_]) -> npt.NDArray[np.intp]:
    """Position of each client id in ``universe`` (-1 when absent)."""
    return positions(client_ids, universe)


def present(values: pd.Series) -> set[str]:
    """The distinct values of a (possibly categorical) column, cheaply."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        used = np.bincount(
            values.cat.codes.to_numpy() + 1, minlength=len(values.cat.categories) + 1
        )
        return set(values.cat.categories.to_numpy(dtype=object)[used[1:] > 0])
    return set(pd.unique(values.to_numpy(dtype=object)))


def day_numbers(observed_at: pd.Series) -> npt.NDArray[np.int64]:
    """Days since 1970-01-01 of each timestamp's UTC calendar day (no copy of the column
    when it is already ``datetime64[ns, UTC]``)."""
    dtype = observed_at.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) and dtype.unit == "ns":
        ns = observed_at.array.asi8  # UTC nanoseconds, a view
    else:
        ns = pd.DatetimeIndex(pd.to_datetime(observed_at, utc=True)).as_unit("ns").asi8
    return np.floor_divide(ns, 86_400 * 10**9)


def cube_from_long(
    measurements: pd.DataFrame,
    client_ids: npt.NDArray[np.object_],
    end_day: np.datetime64,
    n_days: int,
    codes: tuple[str, ...] = DAILY_METRIC_CODES,
) -> DailyCube:
    """Pivot long daily measurements into a cube of ``n_days`` days ending at ``end_day``.

    Rows of other metrics, other clients or other days are ignored; several values on a
    client-day are averaged. The input frame is not modified. Values are held as
    float32 (7 significant digits, ample for daily wearable data) to halve memory; the
    feature code computes in float64.
    """
    start = np.datetime64(pd.Timestamp(end_day).date(), "D") - np.timedelta64(n_days - 1, "D")
    shape = (len(codes), len(client_ids), n_days)
    flat = positions(measurements["metric"], codes).astype(np.int64)
    ok = flat >= 0
    clients = client_index(measurements["client_id"], client_ids)
    ok &= clients >= 0
    flat *= shape[1]
    flat += clients
    del clients
    days = day_numbers(measurements["observed_at"]) - start.astype(np.int64)
    ok &= (days >= 0) & (days < n_days)
    flat *= n_days
    flat += days
    del days
    values = measurements["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    ok &= ~np.isnan(values)
    if not ok.all():
        flat, values = flat[ok], values[ok]
    del ok
    size = int(np.prod(shape))
    count = np.bincount(flat, minlength=size)
    total = np.bincount(flat, weights=values, minlength=size).astype(np.float64, copy=False)
    del flat
    np.divide(total, count, out=total, where=count > 0)
    total[count == 0] = np.nan
    del count
    cube = total.astype(np.float32).reshape(shape)
    return DailyCube(np.asarray(client_ids, dtype=object), start, tuple(codes), cube)


# --------------------------------------------------------------------------- reductions
def nan_count(x: FloatArray, axis: int = -1) -> npt.NDArray[np.int64]:
    return np.sum(~np.isnan(x), axis=axis)


def nan_mean(x: FloatArray, axis: int = -1, min_count: int = 1) -> FloatArray:
    """Mean over ``axis`` ignoring NaN; NaN where fewer than ``min_count`` values."""
    n = nan_count(x, axis)
    total = np.nansum(x, axis=axis)
    return np.divide(total, n, out=np.full(total.shape, np.nan), where=n >= max(min_count, 1))


def nan_std(x: FloatArray, axis: int = -1, min_count: int = 2) -> FloatArray:
    """Sample standard deviation (ddof 1) ignoring NaN; NaN where < ``min_count`` values."""
    n = nan_count(x, axis)
    mean = nan_mean(x, axis)
    dev = np.where(np.isnan(x), 0.0, x - np.expand_dims(mean, axis))
    ss = np.sum(dev * dev, axis=axis)
    ok = n >= max(min_count, 2)
    return np.sqrt(np.divide(ss, n - 1, out=np.full(ss.shape, np.nan), where=ok))


def sorted_quantile(sorted_x: FloatArray, n: npt.NDArray[np.int64], q: float) -> FloatArray:
    """Quantile ``q`` (linear interpolation) along the last axis of an array sorted with
    NaN last, given the count ``n`` of non-NaN values; NaN where ``n == 0``."""
    pos = np.maximum(n - 1, 0) * q
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    v_lo = np.take_along_axis(sorted_x, lo[..., None], axis=-1)[..., 0]
    v_hi = np.take_along_axis(sorted_x, hi[..., None], axis=-1)[..., 0]
    out = v_lo + (v_hi - v_lo) * (pos - lo)
    return np.where(n > 0, out, np.nan)


def nan_median_mad(x: FloatArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Median, raw median absolute deviation and count along the last axis, ignoring NaN."""
    n = nan_count(x)
    median = sorted_quantile(np.sort(x, axis=-1), n, 0.5)
    mad = sorted_quantile(np.sort(np.abs(x - median[..., None]), axis=-1), n, 0.5)
    return median, mad, n
