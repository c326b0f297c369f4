"""Windows, trend, variability, weekly means, baselines and the engineered features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from health_advisor.features import aggregates as agg
from health_advisor.features import baselines as bl
from health_advisor.features import engineered as en


def test_trend_per_week_is_the_least_squares_slope_times_seven() -> None:
    x = np.vstack([2.0 + 0.5 * np.arange(40), np.full(40, np.nan)])
    x[0, ::3] = np.nan
    trend = agg.trend_per_week(x, days=28)
    assert trend[0] == pytest.approx(3.5) and np.isnan(trend[1])
    long = pd.DataFrame(
        {
            "client_id": "a",
            "metric": "m",
            "day": pd.date_range("2024-01-01", periods=28),
            "value": x[0, -28:],
        }
    )
    assert agg.trend_per_week_long(long).iloc[0] == pytest.approx(3.5)


def test_windows_and_weekly_means() -> None:
    x = np.arange(14, dtype=float)[None, :]
    assert agg.window_mean(x, 7)[0] == 10.0
    assert agg.window_mean(x, 7, offset=7)[0] == 3.0
    np.testing.assert_array_equal(agg.weekly_means(x, 3)[0][1:], [3.0, 10.0])
    assert np.isnan(agg.weekly_means(x, 3)[0][0])
    assert agg.window_std(x, 7)[0] == pytest.approx(np.std(np.arange(7, 14), ddof=1))
    assert np.isnan(agg.window_std(np.array([[1.0, np.nan, 2.0]]), 3)[0])


def test_period_means() -> None:
    daily = pd.DataFrame(
        {
            "client_id": "a",
            "metric": "m",
            "day": pd.date_range("2024-01-29", periods=7),
            "value": np.arange(7.0),
        }
    )
    monthly = agg.period_means(daily, "M")
    assert monthly["mean"].tolist() == [1.0, 4.5] and monthly["days"].tolist() == [3, 4]


def test_baseline_excludes_the_last_week_and_rolling_matches_naive() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(60, 2, (3, 50))
    x[0, -7:] += 20
    median, mad = bl.baseline(x)
    assert median[0] == pytest.approx(np.median(x[0, -35:-7]))
    assert bl.deviation(np.array([x[0, -7:].mean()]), median[:1], mad[:1])[0] > 5
    rolled, rolled_mad = bl.rolling_baseline(x, days=28, lag=1)
    window = x[1, 10:38]
    assert rolled[1, 38] == pytest.approx(np.median(window))
    assert rolled_mad[1, 38] == pytest.approx(np.median(np.abs(window - np.median(window))))
    assert np.isnan(rolled[1, 5])  # fewer than 7 values before day 5


def test_daily_activity_score_components_and_renormalised_weights() -> None:
    ones = np.ones((1, 14))
    perfect = {
        "steps": 10_000 * ones,
        "active_minutes": 30 * ones,
        "sleep_quality": 100 * ones,
        "sleep_duration": 8 * ones,
        "calorie_intake": 2000 * ones,
        "calories_burned": 2000 * ones,
        "carb_ratio": 50 * ones,
        "protein_ratio": 20 * ones,
        "fat_ratio": 30 * ones,
    }
    assert en.engineered_features(perfect, 1)["daily_activity_score"][0] == pytest.approx(100.0)
    half = {"steps": 5_000 * ones, "active_minutes": 15 * ones}  # only activity tracked
    out = en.engineered_features(half, 1)
    assert out["daily_activity_score"][0] == pytest.approx(50.0)
    assert np.isnan(out["activity_nutrition_interaction"][0])
    assert en.sleep_duration_score(np.array([5.5, 7.0, 10.5, 13.0])).tolist() == [0.5, 1, 0.5, 0]


def test_weekly_steps_increase_and_interaction() -> None:
    steps = np.r_[np.full(7, 8000.0), np.full(7, 8800.0)][None, :]
    daily = {
        "steps": steps,
        "calorie_intake": np.full((1, 14), 3000.0),
        "calories_burned": np.full((1, 14), 2000.0),
    }
    out = en.engineered_features(daily, 1)
    assert out["weekly_steps_increase"][0] == pytest.approx(10.0)
    # activity = 0.88 (steps only), nutrition = energy balance 1 - 0.5 / 0.5 = 0
    assert out["activity_nutrition_interaction"][0] == pytest.approx(0.0)
