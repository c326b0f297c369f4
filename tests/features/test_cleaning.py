"""Range checks, non-wear, outlier rules and imputation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from health_advisor.features import cleaning as cl
from health_advisor.features.cube import cube_from_long


def _series(n: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(60.0, 2.0, n)


def test_outlier_needs_both_robust_z_and_extreme_fence() -> None:
    x = _series()
    x[10] = 95.0  # far out by both rules
    x[20] = 67.0  # about 3.5 SD: beyond the mild fence at most, not an outlier
    mask = cl.outlier_mask(x[None, :])[0]
    assert mask[10]
    assert mask.sum() == 1


def test_outliers_need_seven_values_and_survive_constant_series() -> None:
    short = np.array([[60.0, 61.0, 59.0, 60.0, 150.0, np.nan]])
    assert not cl.outlier_mask(short).any()
    constant = np.full((1, 20), 80.0)
    assert not cl.outlier_mask(constant).any()
    constant[0, 5] = 140.0  # MAD is 0: the mean absolute deviation stands in
    assert cl.outlier_mask(constant)[0].nonzero()[0].tolist() == [5]


def test_flag_measurements_flags_rows_without_touching_them(make_daily) -> None:  # type: ignore[no-untyped-def]
    values = _series(40)
    values[7], values[8] = 130.0, 400.0  # an outlier, and a value out of the 25-150 range
    frame = make_daily("a", "resting_heart_rate", values)
    before = frame.copy()
    flags = cl.flag_measurements(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert flags.index.equals(frame.index)
    assert not flags.loc[8, "in_range"] and flags["in_range"].sum() == 39
    assert flags["outlier"].tolist().index(True) == 7 and flags["outlier"].sum() == 1
    assert flags.loc[7, "iqr_mild"] and flags.loc[7, "iqr_extreme"]


def test_range_check_and_non_wear_in_clean_cube(make_daily) -> None:  # type: ignore[no-untyped-def]
    steps = np.full(10, 8000.0)
    steps[3] = 0.0
    minutes = np.full(10, 30.0)
    sleep = np.full(10, 7.0)
    sleep[5] = 30.0  # out of the 0-24 h range
    frame = pd.concat(
        [
            make_daily("a", "steps", steps),
            make_daily("a", "active_minutes", minutes),
            make_daily("a", "sleep_duration", sleep),
        ]
    )
    cube = cube_from_long(
        frame,
        np.array(["a"], dtype=object),
        np.datetime64("2024-01-10"),
        10,
        ("41950-7", "ha-active-minutes", "93832-4"),
    )
    clean = cl.clean_cube(cube, np.array(["female:30-39"], dtype=object))
    assert clean.non_wear[0, 0].nonzero()[0].tolist() == [3]
    assert clean.non_wear[1, 0].nonzero()[0].tolist() == [3]  # minutes of a non-wear day
    assert not clean.non_wear[2].any()
    assert clean.out_of_range[2, 0].nonzero()[0].tolist() == [5]
    assert np.isnan(clean.observed[2, 0, 5]) and clean.imputed[2, 0, 5]
    assert clean.filled[2, 0, 5] == 7.0


def test_rolling_median_fills_gaps_near_observed_days_only() -> None:
    x = np.array([[1.0, 2.0, np.nan, 4.0, 9.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]])
    filled = cl.rolling_median_fill(x)
    assert filled[0, 2] == 3.0  # median of 1, 2, 4, 9
    assert filled[0, 5] == 6.5  # median of 4 and 9, the values within +-3 days
    assert np.isnan(filled[0, 10])  # no observed value within 3 days
    np.testing.assert_array_equal(filled[0, [0, 1, 3, 4]], x[0, [0, 1, 3, 4]])


def test_band_median_imputation_and_coverage_rule() -> None:
    nan = np.nan
    observed = np.array(
        [
            [7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, nan, nan, nan, nan, nan, nan, nan, nan],
            [8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0],
            [6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0, 6.0],
            [5.0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan],
        ]
    )
    bands = np.array(["f:30-39", "f:30-39", "m:30-39", "f:30-39"], dtype=object)
    filled, imputed = cl.impute(observed, bands)
    assert filled[0, 8] == 7.0  # rolling median of the client's own days
    assert filled[0, 15] == 7.0  # band f:30-39: the median of the medians 7, 8 and 5
    assert imputed[0].sum() == 8 and not imputed[1].any()
    assert np.isnan(filled[3, 10])  # 1 day of 16 observed: below the coverage rule
    np.testing.assert_array_equal(imputed, np.isnan(observed) & ~np.isnan(filled))
