"""The named engineered features of the product, with their formulas and rationale.

All take ``(client, day)`` arrays of *cleaned and imputed* daily values (the last day is
the snapshot day) and return one value per client. A component whose inputs are missing
is left out and the remaining weights are renormalised; a feature with no input is NaN.

``daily_activity_score`` (0-100)
    ``100 * (0.40 A + 0.35 S + 0.25 N) / (sum of the weights of the available
    components)``, computed per day and averaged over the last 7 days, where

    * activity ``A = mean(min(steps / 10000, 1), min(active_minutes / 30, 1))``:
      10,000 steps and 30 minutes of moderate-to-vigorous activity a day (about the
      WHO 150-300 min/week) each earn full marks;
    * sleep ``S = mean(sleep_quality / 100, duration score)``, the duration score being
      1 inside 7-9 h and falling linearly to 0 at 3 h outside it (4 h or 12 h);
    * nutrition ``N = mean(energy balance score, macro score)``: energy balance
      ``max(0, 1 - |intake / burned - 1| / 0.5)`` (full marks at balance, 0 at +-50 %);
      macro score = share of the reported carbohydrate / protein / fat energy ratios that
      lie inside the IOM acceptable ranges (45-65 %, 10-35 %, 20-35 %).

    Rationale: one interpretable daily number for coaching that rewards the three
    behaviours the plans target, weighted toward activity (the strongest evidence for
    all-cause risk) and robust to clients who track only some of them.

``weekly_steps_increase`` (%)
    ``100 * (mean steps, last 7 days - mean steps, previous 7 days) / mean steps,
    previous 7 days``; NaN when the previous week's mean is missing or 0. Rationale:
    progression is safest at roughly 10 % a week; large jumps or drops are coaching
    signals.

``activity_nutrition_interaction`` (0-1)
    ``A_7d * N_7d``, the product of the 7-day means of the activity and nutrition
    components: high only when both behaviours are good. Rationale: weight and
    cardiometabolic outcomes respond to the two together more than to either alone;
    the product lets linear models and rules see that synergy.

``health_risk_category``
    The overall guideline risk (low / moderate / high / urgent / unknown) of
    :func:`health_advisor.core.guidelines.overall_risk`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from health_advisor.features.aggregates import window_mean
from health_advisor.features.cube import FloatArray, nan_mean

SCORE_WEIGHTS: dict[str, float] = {"activity": 0.40, "sleep": 0.35, "nutrition": 0.25}
STEPS_TARGET = 10_000.0
ACTIVE_MINUTES_TARGET = 30.0
SLEEP_RANGE_HOURS = (7.0, 9.0)
SLEEP_ZERO_AT_HOURS_OUTSIDE = 3.0
ENERGY_BALANCE_ZERO_AT = 0.5
MACRO_RANGES: dict[str, tuple[float, float]] = {
    "carb_ratio": (45.0, 65.0),
    "protein_ratio": (10.0, 35.0),
    "fat_ratio": (20.0, 35.0),
}
SCORE_DAYS = 7

#: The daily metrics the engineered features read.
ENGINEERED_INPUTS: frozenset[str] = frozenset(
    {
        "steps",
        "active_minutes",
        "sleep_quality",
        "sleep_duration",
        "calorie_intake",
        "calories_burned",
        *MACRO_RANGES,
    }
)

Daily = Mapping[str, FloatArray | None]


def _mean_of(parts: list[FloatArray]) -> FloatArray | None:
    """Element-wise mean of the available parts, ignoring NaN; None when no part."""
    if not parts:
        return None
    return nan_mean(np.stack(parts), axis=0)


def activity_component(daily: Daily) -> FloatArray | None:
    parts = []
    if (steps := daily.get("steps")) is not None:
        parts.append(np.clip(steps / STEPS_TARGET, 0.0, 1.0))
    if (minutes := daily.get("active_minutes")) is not None:
        parts.append(np.clip(minutes / ACTIVE_MINUTES_TARGET, 0.0, 1.0))
    return _mean_of(parts)


def sleep_duration_score(hours: FloatArray) -> FloatArray:
    low, high = SLEEP_RANGE_HOURS
    outside = np.maximum(np.maximum(low - hours, hours - high), 0.0)
    return np.clip(1.0 - outside / SLEEP_ZERO_AT_HOURS_OUTSIDE, 0.0, 1.0)


def sleep_component(daily: Daily) -> FloatArray | None:
    parts = []
    if (quality := daily.get("sleep_quality")) is not None:
        parts.append(np.clip(quality / 100.0, 0.0, 1.0))
    if (hours := daily.get("sleep_duration")) is not None:
        parts.append(sleep_duration_score(hours))
    return _mean_of(parts)


def nutrition_component(daily: Daily) -> FloatArray | None:
    parts = []
    intake, burned = daily.get("calorie_intake"), daily.get("calories_burned")
    if intake is not None and burned is not None:
        ratio = np.divide(intake, burned, out=np.full(intake.shape, np.nan), where=burned > 0)
        parts.append(np.clip(1.0 - np.abs(ratio - 1.0) / ENERGY_BALANCE_ZERO_AT, 0.0, 1.0))
    inside = []
    for name, (low, high) in MACRO_RANGES.items():
        if (share := daily.get(name)) is not None:
            with np.errstate(invalid="ignore"):
                inside.append(np.where(np.isnan(share), np.nan, (share >= low) & (share <= high)))
    if inside:
        parts.append(nan_mean(np.stack(inside), axis=0))
    return _mean_of(parts)


def components(daily: Daily) -> dict[str, FloatArray | None]:
    """Per-day activity, sleep and nutrition components (0-1), None when not tracked."""
    return {
        "activity": activity_component(daily),
        "sleep": sleep_component(daily),
        "nutrition": nutrition_component(daily),
    }


def daily_activity_score_per_day(parts: Mapping[str, FloatArray | None]) -> FloatArray | None:
    """The 0-100 score of each client-day (see the module docstring)."""
    total: FloatArray | None = None
    weight: FloatArray | None = None
    for name, w in SCORE_WEIGHTS.items():
        part = parts.get(name)
        if part is None:
            continue
        seen = ~np.isnan(part)
        add = np.where(seen, w * part, 0.0)
        total = add if total is None else total + add
        weight = seen * w if weight is None else weight + seen * w
    if total is None or weight is None:
        return None
    return np.divide(100.0 * total, weight, out=np.full(total.shape, np.nan), where=weight > 0)


def engineered_features(daily: Daily, n_clients: int) -> dict[str, FloatArray]:
    """``daily_activity_score``, ``weekly_steps_increase`` and
    ``activity_nutrition_interaction`` per client (NaN where not computable)."""
    nan = np.full(n_clients, np.nan)
    parts = components(daily)
    per_day = daily_activity_score_per_day(parts)
    out = {"daily_activity_score": nan if per_day is None else window_mean(per_day, SCORE_DAYS)}
    steps = daily.get("steps")
    if steps is None:
        out["weekly_steps_increase"] = nan
    else:
        last, previous = window_mean(steps, 7), window_mean(steps, 7, offset=7)
        out["weekly_steps_increase"] = np.divide(
            100.0 * (last - previous),
            previous,
            out=nan.copy(),
            where=np.isfinite(previous) & (previous > 0),
        )
    activity, nutrition = parts["activity"], parts["nutrition"]
    out["activity_nutrition_interaction"] = (
        nan
        if activity is None or nutrition is None
        else window_mean(activity, SCORE_DAYS) * window_mean(nutrition, SCORE_DAYS)
    )
    return out
