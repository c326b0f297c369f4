"""Daily wearable and diary series of a chunk of clients, with what real data injects.

All arrays are ``(clients, days)`` and built without a Python loop per client-day:

* **Traits to levels.** Steps are lognormal around a level set by fitness, motivation,
  age and BMI, with a per-client weekday/weekend pattern and AR(1) day-to-day noise;
  moderate-to-vigorous minutes rise super-linearly with the day's steps; sleep duration
  comes from the NHANES self-report (minus 0.3 h of report bias) with later, longer
  weekend nights for evening chronotypes; sleep quality falls with stress, insomnia,
  apnoea and distance from 7.5 h; resting heart rate comes from the NHANES sitting
  pulse, lower with fitness; intake (kcal, macronutrients) from the NHANES recall.
* **Outcomes.** ``drift`` adds each metric's daily shift from adhered interventions.
* **Illness episodes** (0-2 per client, 3-10 days): resting HR +5-12 bpm, steps x0.35-0.7,
  active minutes down, sleep +0.5-1.5 h, sleep quality down.
* **Injected defects** (``ground_truth/injected.csv``): missing days (no record at
  all), device drop-outs (runs of 3-14 days not worn: zero steps and 1,440 sedentary
  minutes in Fitbit files, empty wearable fields in the clinic sheet), outliers (RHR 250
  or 130-170, steps 99,999 or 40,000-60,000, sleep 0.5 or 16-20 h). Unit mix-ups are
  injected where a unit exists: labs and weights (see the writers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from health_advisor.synth.profiles import Profiles
from health_advisor.synth.rng import KeyedRandom

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Weekday multipliers of steps, Monday first (Fitbit/Bellabeat-style weekly rhythm).
WEEKDAY_STEPS = np.array([1.03, 1.05, 1.03, 1.04, 1.05, 0.97, 0.83])

ILLNESS_KINDS = ("respiratory_infection", "influenza", "gastroenteritis")
MISSING_DAY_RATE = 0.02
DROPOUT_CLIENT_RATE = 0.15
OUTLIER_RATE = 0.003
ILLNESS_SLOT_RATE = 0.35  # per slot and 90 days; two slots per client

NOISE = {
    "steps_log_sd": 0.30,
    "steps_ar1": 0.5,
    "rhr_sd": 2.0,
    "sleep_sd_h": 0.6,
    "sleep_quality_sd": 6.0,
    "bedtime_sd_h": 0.5,
    "intake_log_sd": 0.15,
    "macro_sd_pct": 3.0,
    "water_sd_l": 0.3,
}


@dataclass(slots=True)
class Daily:
    """A chunk's daily series; NaN where nothing was recorded."""

    days: int
    rhr: FloatArray
    steps: FloatArray
    active_min: FloatArray
    light_min: FloatArray
    sleep_h: FloatArray
    sleep_quality: FloatArray
    bedtime_h: FloatArray
    calorie_intake: FloatArray
    water_l: FloatArray
    macros: FloatArray  # (n, days, 3)
    sedentary_min: FloatArray
    missing: BoolArray  # no record at all that day
    dropout: BoolArray  # device not worn
    episodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    injected: pd.DataFrame = field(default_factory=pd.DataFrame)


def _grid(p: Profiles, days: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    return p.index[:, None], np.arange(days, dtype=np.int64)[None, :]


def _ar1(innovations: FloatArray, phi: float) -> FloatArray:
    """Stationary AR(1) along days (loop over days, vectorised over clients)."""
    out = np.empty_like(innovations)
    out[:, 0] = innovations[:, 0]
    scale = np.sqrt(1 - phi**2)
    for d in range(1, innovations.shape[1]):
        out[:, d] = phi * out[:, d - 1] + scale * innovations[:, d]
    return out


def illness_episodes(
    rng: KeyedRandom, p: Profiles, days: int
) -> tuple[pd.DataFrame, BoolArray, FloatArray, FloatArray, FloatArray]:
    """Episodes and their daily masks: (episodes, ill, rhr_delta, steps_factor, sleep_delta)."""
    n = len(p)
    ill = np.zeros((n, days), dtype=bool)
    rhr_delta = np.zeros((n, days))
    steps_factor = np.ones((n, days))
    sleep_delta = np.zeros((n, days))
    rows = []
    day = np.arange(days)[None, :]
    earliest = min(14, days // 4)
    for slot in range(2):
        key = (p.index, np.full(n, slot))
        active = rng.uniform("ill.on", *key) < ILLNESS_SLOT_RATE * days / 90
        length = 3 + rng.integers("ill.len", 8, *key)
        span = np.maximum(days - 1 - earliest - length, 1)
        start = earliest + rng.integers("ill.start", span, *key)
        end = np.minimum(start + length - 1, days - 1)
        mask = active[:, None] & (day >= start[:, None]) & (day <= end[:, None])
        overlap = (mask & ill).any(axis=1)
        active &= ~overlap & (days >= 7)
        mask &= active[:, None]
        delta = 5 + 7 * rng.uniform("ill.rhr", *key)
        factor = 0.35 + 0.35 * rng.uniform("ill.steps", *key)
        more_sleep = 0.5 + rng.uniform("ill.sleep", *key)
        ill |= mask
        rhr_delta += mask * delta[:, None]
        steps_factor = np.where(mask, factor[:, None], steps_factor)
        sleep_delta += mask * more_sleep[:, None]
        kind = np.array(ILLNESS_KINDS)[rng.integers("ill.kind", len(ILLNESS_KINDS), *key)]
        pick = np.flatnonzero(active)
        rows.append(
            pd.DataFrame(
                {
                    "client_index": p.index[pick],
                    "start_day": start[pick],
                    "end_day": end[pick],
                    "kind": kind[pick],
                    "rhr_delta": delta[pick].round(1),
                    "steps_factor": factor[pick].round(2),
                    "sleep_delta_h": more_sleep[pick].round(2),
                }
            )
        )
    episodes = pd.concat(rows, ignore_index=True).sort_values(
        ["client_index", "start_day"], kind="stable"
    )
    return episodes.reset_index(drop=True), ill, rhr_delta, steps_factor, sleep_delta


def _dropouts(rng: KeyedRandom, p: Profiles, days: int, ill: BoolArray) -> BoolArray:
    on = rng.uniform("drop.on", p.index) < DROPOUT_CLIENT_RATE * min(1.0, days / 30)
    length = 3 + rng.integers("drop.len", 12, p.index)
    start = rng.integers("drop.start", np.maximum(days - length, 1), p.index)
    day = np.arange(days)[None, :]
    mask = on[:, None] & (day >= start[:, None]) & (day < (start + length)[:, None])
    out: BoolArray = mask & ~ill
    return out


def steps_level(p: Profiles) -> FloatArray:
    """Each client's typical steps per day (before weekly pattern, noise and outcomes)."""
    out: FloatArray = np.exp(
        8.55 + 0.35 * p.fitness + 0.10 * p.motivation - 0.006 * (p.age - 50)
        - 0.015 * (p.bmi - 29)
    )  # fmt: skip
    return out


def mvpa_level(p: Profiles, level: FloatArray) -> FloatArray:
    """Typical moderate-to-vigorous minutes per day."""
    out: FloatArray = np.clip(8 + 12 * p.fitness + level / 400, 0, 120)
    return out


def daily_series(
    rng: KeyedRandom,
    p: Profiles,
    days: int,
    weekday0: int,
    drift: dict[str, FloatArray] | None = None,
) -> Daily:
    """The chunk's daily series for ``days`` days; ``weekday0`` is day 0's weekday (Mon=0)."""
    drift = drift or {}
    zero = np.zeros((len(p), days))
    c, d = _grid(p, days)
    weekday = (weekday0 + np.arange(days)) % 7
    weekend = (weekday >= 5)[None, :]
    episodes, ill, rhr_delta, steps_factor, sleep_delta = illness_episodes(rng, p, days)

    level = steps_level(p)
    weekend_amp = 1 + 0.4 * rng.normal("steps.weekend", p.index)
    pattern = 1 + (WEEKDAY_STEPS[weekday][None, :] - 1) * weekend_amp[:, None]
    noise = _ar1(rng.normal("steps.noise", c, d), NOISE["steps_ar1"])
    steps = level[:, None] * pattern * np.exp(NOISE["steps_log_sd"] * noise - 0.045)
    steps = np.maximum(steps + drift.get("steps", zero), 0) * steps_factor
    ratio = steps / level[:, None]
    active = (
        mvpa_level(p, level)[:, None] * ratio**1.5 * np.exp(0.3 * rng.normal("mvpa", c, d) - 0.045)
    )
    active = np.clip(active + drift.get("active_minutes", zero) * (steps_factor == 1), 0, 400)
    light = np.clip(90 + steps / 45 + 20 * rng.normal("light", c, d), 10, 600)

    chrono_weekend = np.where(p.chronotype > 0, 0.5, 0.2)[:, None] * weekend
    sleep = (
        p.sleep_hours[:, None]
        + chrono_weekend
        + NOISE["sleep_sd_h"] * rng.normal("sleep", c, d)
        + drift.get("sleep_duration", zero)
        + sleep_delta
    )
    sleep = np.clip(sleep, 2.5, 13.0)
    quality = (
        80
        - 5 * p.stress[:, None]
        - 8 * p.has("insomnia")[:, None]
        - 5 * p.has("sleep_apnea")[:, None]
        - 6 * np.abs(sleep - 7.5)
        - 12 * ill
        + NOISE["sleep_quality_sd"] * rng.normal("sleep.quality", c, d)
        + drift.get("sleep_quality", zero)
    )
    bedtime = (
        p.bedtime_h[:, None]
        + 0.25 * p.chronotype[:, None]
        + 0.7 * chrono_weekend
        + NOISE["bedtime_sd_h"] * rng.normal("bedtime", c, d)
        + drift.get("bedtime", zero)
    )
    rhr = (
        p.rhr[:, None]
        + NOISE["rhr_sd"] * rng.normal("rhr", c, d)
        + rhr_delta
        + drift.get("resting_heart_rate", zero)
    )
    intake = p.energy_kcal[:, None] * np.exp(NOISE["intake_log_sd"] * rng.normal("kcal", c, d))
    intake = intake + drift.get("calorie_intake", zero)
    macro_noise = np.stack(
        [rng.normal("macro", c, d, np.full((1, 1), k)) for k in range(3)], axis=-1
    )
    macros = np.clip(p.macros[:, None, :] + NOISE["macro_sd_pct"] * macro_noise, 5, 85)
    macros = macros / macros.sum(axis=-1, keepdims=True) * 100
    water = np.clip(p.water_l[:, None] + NOISE["water_sd_l"] * rng.normal("water", c, d), 0.3, 6.0)
    awake = 1440 - sleep * 60
    sedentary = np.clip(awake - light - active, 0, 1440)

    missing = rng.uniform("missing.day", c, d) < MISSING_DAY_RATE
    dropout = _dropouts(rng, p, days, ill) & ~missing
    daily = Daily(
        days=days,
        rhr=np.clip(rhr, 35, 140),
        steps=np.round(steps),
        active_min=np.round(active),
        light_min=np.round(light),
        sleep_h=sleep,
        sleep_quality=np.clip(np.round(quality), 0, 100),
        bedtime_h=bedtime,
        calorie_intake=np.round(np.clip(intake, 600, 6000) / 10) * 10,
        water_l=np.round(water, 1),
        macros=macros,
        sedentary_min=np.round(sedentary),
        missing=missing,
        dropout=dropout,
        episodes=episodes,
    )
    daily.injected = _inject_outliers(rng, p, daily)
    return daily


def _inject_outliers(rng: KeyedRandom, p: Profiles, daily: Daily) -> pd.DataFrame:
    """Replace a few values by implausible ones; returns the injection log (with gaps)."""
    c, d = _grid(p, daily.days)
    worn = ~(daily.missing | daily.dropout)
    logs = []
    targets = {
        "resting_heart_rate": (daily.rhr, (250.0, 130.0, 40.0)),
        "steps": (daily.steps, (99_999.0, 40_000.0, 20_000.0)),
        "sleep_duration": (daily.sleep_h, (0.5, 16.0, 4.0)),
    }
    for metric, (values, (extreme, low, width)) in targets.items():
        hit = (rng.uniform(f"outlier.{metric}", c, d) < OUTLIER_RATE) & worn
        u = rng.uniform(f"outlier.{metric}.value", c, d)
        value = np.where(u < 0.3, extreme, low + width * u)
        values[hit] = np.round(value[hit], 1)
        rows, cols = np.nonzero(hit)
        logs.append(pd.DataFrame({"client_index": p.index[rows], "day": cols, "metric": metric}))
    outliers = pd.concat(logs, ignore_index=True).assign(kind="outlier")
    rows, cols = np.nonzero(daily.missing)
    missing = pd.DataFrame(
        {"client_index": p.index[rows], "day": cols, "metric": "all", "kind": "missing_day"}
    )
    rows, cols = np.nonzero(daily.dropout)
    dropout = pd.DataFrame(
        {"client_index": p.index[rows], "day": cols, "metric": "wearable", "kind": "dropout"}
    )
    return pd.concat([outliers, missing, dropout], ignore_index=True)
