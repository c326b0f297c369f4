"""Personalised baselines: each client's own typical value and spread per metric.

A baseline is the median and the median absolute deviation (MAD) of the client's own
observed values over 28 days. For a snapshot the baseline window is the 28 days *before*
the most recent 7 (days -34 .. -7 counting the snapshot day as 0), so a change in the last
week is measured against what came before instead of being absorbed into its own
baseline. The personalised normalisation of a metric is then

    deviation_7d = (mean of the last 7 days - baseline median) / (1.4826 * baseline MAD)

a robust z-score (1.4826 * MAD estimates the standard deviation of normal data). It is
NaN with fewer than 7 baseline values or a MAD of 0.

:func:`rolling_baseline` gives the trailing 28-day baseline of every day, for the anomaly
rules.
"""

from __future__ import annotations

import numpy as np

from health_advisor.features.aggregates import window
from health_advisor.features.cube import FloatArray, nan_median_mad

BASELINE_DAYS = 28
RECENT_DAYS = 7
MIN_BASELINE_VALUES = 7
MAD_TO_SD = 1.4826
ROLLING_CHUNK_CLIENTS = 8192


def baseline(
    x: FloatArray, days: int = BASELINE_DAYS, offset: int = RECENT_DAYS
) -> tuple[FloatArray, FloatArray]:
    """Median and raw MAD of the ``days`` days ending ``offset`` days before the last
    day; NaN where fewer than 7 values are observed."""
    median, mad, n = nan_median_mad(window(x, days, offset))
    enough = n >= MIN_BASELINE_VALUES
    return np.where(enough, median, np.nan), np.where(enough, mad, np.nan)


def deviation(value: FloatArray, median: FloatArray, mad: FloatArray) -> FloatArray:
    """Robust z-score of ``value`` against a baseline; NaN where MAD is 0 or missing."""
    scale = MAD_TO_SD * mad
    ok = np.isfinite(scale) & (scale > 0) & np.isfinite(value) & np.isfinite(median)
    return np.divide(value - median, scale, out=np.full(np.shape(value), np.nan), where=ok)


def rolling_baseline(
    x: FloatArray, days: int = BASELINE_DAYS, lag: int = 1
) -> tuple[FloatArray, FloatArray]:
    """For every day ``d`` of ``x`` (client, day): median and raw MAD of days
    ``d - lag - days + 1 .. d - lag``; NaN with fewer than 7 values. Processed in chunks of
    clients to bound memory."""
    clients, n_days = x.shape
    median = np.full(x.shape, np.nan)
    mad = np.full(x.shape, np.nan)
    padded = np.pad(x, ((0, 0), (days + lag - 1, 0)), constant_values=np.nan)
    for lo in range(0, clients, ROLLING_CHUNK_CLIENTS):
        hi = min(lo + ROLLING_CHUNK_CLIENTS, clients)
        windows = np.lib.stride_tricks.sliding_window_view(padded[lo:hi], days, axis=1)
        med, dev, n = nan_median_mad(windows[:, :n_days])
        enough = n >= MIN_BASELINE_VALUES
        median[lo:hi] = np.where(enough, med, np.nan)
        mad[lo:hi] = np.where(enough, dev, np.nan)
    return median, mad
