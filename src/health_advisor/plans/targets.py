"""SMART targets: a measurable value of a metric by a review date, from the client's own
baseline and the guidelines (pure functions).

The composer asks :func:`target_for` for every plan item. It picks the item's effect
metric that matters most for this client (largest benefit contribution, a metric with
a gap before one already at goal) whose baseline is known, and applies that metric's
formula; an item with no such metric gets a behavioural target (minutes, days or a
visit). ``weeks`` is the review interval (``ComposerConfig.review_weeks``).

Formulas (``Target.rule``; ``b`` = baseline, ``w`` = weeks to review):

``steps_10pct_weekly``
    +10 % of the baseline per week (linear), capped at the age goal of Paluch 2022
    (8,000 from 60 y, 10,000 below; :func:`~.benefit.step_goal`).
``sleep_15min_weekly``
    towards 7-9 h (7-8 h from 65 y; NSF 2015): +15 min per week up to 7.5 h when short,
    -15 min per week down to the upper limit when long (AASM sleep-extension practice).
``mvpa_15min_weekly``
    +15 min/week per week towards 150 min/week of moderate activity (WHO 2020), as
    min/day (``active_minutes``): +2.14 min/day per week up to 21.4 min/day.
``bp_effect_to_goal``
    ``b + effect x min(1, w / horizon)``, not below 130/80 mmHg (ACC/AHA 2017 goal).
``weight_0_5kg_weekly``
    -0.5 kg per week, total loss at most 10 % of the baseline (the 5-10 % in 6 months
    of Jensen 2013) and not below BMI 25 when height is known; only when BMI >= 25.
``hba1c_effect_to_goal``
    ``b + effect x min(1, w / horizon)``, not below 7.0 % with diabetes (ADA) or 5.6 %.
``ldl_effect_to_goal``
    ``b + effect x min(1, w / horizon)``, not below 100 mg/dL (NCEP ATP III optimal).
``effect_ramp``
    any other metric: ``b + effect x min(1, w / horizon)`` (the catalog's effect,
    ramped in linearly over its horizon).
``behaviour_weekly_minutes`` / ``behaviour_daily_habit`` / ``behaviour_visit``
    no metric applies: the item's weekly minutes; a daily habit on 7 days a week for
    items of 0 minutes; one completed visit by the review date for prevention items.

A metric already at its goal gets a ``maintain`` target at the baseline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from health_advisor.core.catalog import Effect, Intervention
from health_advisor.core.metrics import BY_NAME
from health_advisor.plans.benefit import baseline, contributions, feature_value, step_goal
from health_advisor.plans.model import Target

__all__ = [
    "BP_GOAL",
    "FORMULAS",
    "HBA1C_GOAL_DIABETES",
    "HBA1C_GOAL_NORMAL",
    "LDL_GOAL",
    "MVPA_GOAL_MIN_PER_DAY",
    "Plan",
    "behavioural_target",
    "bp_target",
    "effect_ramp_target",
    "hba1c_target",
    "ldl_target",
    "mvpa_target",
    "review_date",
    "sleep_range",
    "sleep_target",
    "steps_target",
    "target_for",
    "weight_target",
]

BP_GOAL: Mapping[str, float] = {"systolic_bp": 130.0, "diastolic_bp": 80.0}  # ACC/AHA 2017
HBA1C_GOAL_DIABETES = 7.0  # ADA Standards of Care: < 7 % for most adults with diabetes
HBA1C_GOAL_NORMAL = 5.6  # below the ADA prediabetes threshold of 5.7 %
LDL_GOAL = 100.0  # NCEP ATP III optimal
MVPA_GOAL_MIN_PER_DAY = 150.0 / 7.0  # WHO 2020: 150 min/week
MVPA_STEP_MIN_PER_DAY = 15.0 / 7.0  # +15 min/week each week
SLEEP_STEP_H = 0.25  # 15 min per week
SLEEP_SHORT_GOAL_H = 7.5
STEPS_WEEKLY_RATE = 0.10
WEIGHT_KG_PER_WEEK = 0.5
WEIGHT_MAX_LOSS_SHARE = 0.10
WEIGHT_BMI_FLOOR = 25.0

_DECIMALS: Mapping[str, int] = {
    "steps": -1,
    "active_minutes": 1,
    "sleep_duration": 2,
    "systolic_bp": 0,
    "diastolic_bp": 0,
    "body_weight": 1,
    "hba1c": 1,
    "ldl": 0,
}


@dataclass(frozen=True, slots=True)
class Plan:
    """When a target starts and is reviewed (``weeks`` after ``start``)."""

    start: dt.date
    weeks: int

    @property
    def review(self) -> dt.date:
        return review_date(self.start, self.weeks)


def review_date(start: dt.date, weeks: int) -> dt.date:
    return start + dt.timedelta(weeks=weeks)


def _round(metric: str | None, value: float) -> float:
    decimals = _DECIMALS.get(metric or "", 2)
    return float(round(value, decimals))


def _metric_target(
    metric: str,
    baseline_value: float,
    value: float,
    goal: float | None,
    weekly: float | None,
    plan: Plan,
    rule: str,
) -> Target:
    value = _round(metric, value)
    base = _round(metric, baseline_value)
    direction = "increase" if value > base else "decrease" if value < base else "maintain"
    return Target(
        metric=metric,
        unit=BY_NAME[metric].unit,
        direction=direction,
        baseline=base,
        value=value,
        goal=None if goal is None else _round(metric, goal),
        weekly_change=None if weekly is None or direction == "maintain" else round(weekly, 3),
        start_date=plan.start,
        review_date=plan.review,
        rule=rule,
    )


# --------------------------------------------------------------------------- formulas


def steps_target(b: float, age: float | None, plan: Plan) -> Target:
    """+10 % of the baseline per week, capped at the Paluch 2022 age goal."""
    goal = step_goal(age)
    weekly = STEPS_WEEKLY_RATE * b
    value = min(goal, b * (1 + STEPS_WEEKLY_RATE * plan.weeks)) if b < goal else b
    return _metric_target("steps", b, value, goal, weekly, plan, "steps_10pct_weekly")


def sleep_range(age: float | None) -> tuple[float, float]:
    """Recommended hours per night (NSF 2015): 7-9 h, 7-8 h from 65 y."""
    return (7.0, 8.0) if age is not None and age >= 65 else (7.0, 9.0)


def sleep_target(b: float, age: float | None, plan: Plan) -> Target:
    """15 min per week towards the recommended range (7.5 h when short)."""
    low, high = sleep_range(age)
    step = SLEEP_STEP_H * plan.weeks
    if b < low:
        goal, value, weekly = SLEEP_SHORT_GOAL_H, min(SLEEP_SHORT_GOAL_H, b + step), SLEEP_STEP_H
    elif b > high:
        goal, value, weekly = high, max(high, b - step), -SLEEP_STEP_H
    else:
        goal, value, weekly = b, b, None
    return _metric_target("sleep_duration", b, value, goal, weekly, plan, "sleep_15min_weekly")


def mvpa_target(b: float, plan: Plan) -> Target:
    """+15 min/week per week towards 150 min/week (in min/day)."""
    goal = MVPA_GOAL_MIN_PER_DAY
    value = min(goal, b + MVPA_STEP_MIN_PER_DAY * plan.weeks) if b < goal else b
    weekly = MVPA_STEP_MIN_PER_DAY
    return _metric_target("active_minutes", b, value, goal, weekly, plan, "mvpa_15min_weekly")


def _ramp(effect: Effect, weeks: int) -> float:
    return effect.change * min(1.0, weeks / effect.horizon_weeks)


def _towards(b: float, change: float, goal: float) -> float:
    """``b + change`` without overshooting ``goal`` (nor moving away from it)."""
    if change < 0:
        return b if b <= goal else max(goal, b + change)
    return b if b >= goal else min(goal, b + change)


def bp_target(effect: Effect, b: float, plan: Plan) -> Target:
    """The item's BP effect ramped over its horizon, not below 130/80 (ACC/AHA 2017)."""
    goal = BP_GOAL[effect.metric]
    value = _towards(b, _ramp(effect, plan.weeks), goal)
    weekly = effect.change / effect.horizon_weeks
    return _metric_target(effect.metric, b, value, goal, weekly, plan, "bp_effect_to_goal")


def weight_target(b: float, height_cm: float | None, plan: Plan) -> Target:
    """-0.5 kg/week, at most 10 % of the baseline and not below BMI 25 (if height known)."""
    floor = b * (1.0 - WEIGHT_MAX_LOSS_SHARE)
    if height_cm is not None and height_cm > 0:
        floor = max(floor, WEIGHT_BMI_FLOOR * (height_cm / 100.0) ** 2)
    if b <= floor:
        return _metric_target("body_weight", b, b, b, None, plan, "weight_0_5kg_weekly")
    value = max(floor, b - WEIGHT_KG_PER_WEEK * plan.weeks)
    return _metric_target(
        "body_weight", b, value, floor, -WEIGHT_KG_PER_WEEK, plan, "weight_0_5kg_weekly"
    )


def hba1c_target(effect: Effect, b: float, plan: Plan) -> Target:
    """The item's HbA1c effect ramped in, not below 7.0 % (diabetes) or 5.6 %."""
    goal = HBA1C_GOAL_DIABETES if b >= 6.5 else HBA1C_GOAL_NORMAL
    value = _towards(b, _ramp(effect, plan.weeks), goal)
    weekly = effect.change / effect.horizon_weeks
    return _metric_target("hba1c", b, value, goal, weekly, plan, "hba1c_effect_to_goal")


def ldl_target(effect: Effect, b: float, plan: Plan) -> Target:
    """The item's LDL effect ramped in, not below 100 mg/dL."""
    value = _towards(b, _ramp(effect, plan.weeks), LDL_GOAL)
    weekly = effect.change / effect.horizon_weeks
    return _metric_target("ldl", b, value, LDL_GOAL, weekly, plan, "ldl_effect_to_goal")


def effect_ramp_target(effect: Effect, b: float, plan: Plan) -> Target:
    """Any other metric: baseline + the catalog's effect ramped over its horizon."""
    value = b + _ramp(effect, plan.weeks)
    weekly = effect.change / effect.horizon_weeks
    goal = b + effect.change
    return _metric_target(effect.metric, b, value, goal, weekly, plan, "effect_ramp")


def behavioural_target(item: Intervention, plan: Plan) -> Target:
    """No metric applies: a visit (prevention), a daily habit (0 min) or weekly minutes."""
    if item.domain == "prevention" and not item.effects:
        unit, value, rule = "{visit}", 1.0, "behaviour_visit"
    elif item.weekly_minutes == 0:
        unit, value, rule = "d/wk", 7.0, "behaviour_daily_habit"
    else:
        unit, value, rule = "min/wk", float(item.weekly_minutes), "behaviour_weekly_minutes"
    return Target(
        metric=None,
        unit=unit,
        direction="maintain",
        baseline=None,
        value=value,
        goal=value,
        weekly_change=None,
        start_date=plan.start,
        review_date=plan.review,
        rule=rule,
    )


# --------------------------------------------------------------------------- choice

_Formula = Callable[[Effect, float, Mapping[str, Any], float | None, Plan], Target]

FORMULAS: Mapping[str, _Formula] = {
    "steps": lambda e, b, f, age, plan: steps_target(b, age, plan),
    "sleep_duration": lambda e, b, f, age, plan: sleep_target(b, age, plan),
    "active_minutes": lambda e, b, f, age, plan: mvpa_target(b, plan),
    "systolic_bp": lambda e, b, f, age, plan: bp_target(e, b, plan),
    "diastolic_bp": lambda e, b, f, age, plan: bp_target(e, b, plan),
    "body_weight": lambda e, b, f, age, plan: weight_target(
        b, feature_value(f, "body_height_latest"), plan
    ),
    "hba1c": lambda e, b, f, age, plan: hba1c_target(e, b, plan),
    "ldl": lambda e, b, f, age, plan: ldl_target(e, b, plan),
}
"""Metric -> formula; every other effect metric uses :func:`effect_ramp_target`."""

_NO_TARGET = frozenset({"time_in_bed", "water_intake"})  # mechanisms, not outcomes


def target_for(
    item: Intervention,
    features: Mapping[str, Any],
    *,
    age: float | None,
    start: dt.date,
    weeks: int,
    client_needs: Mapping[str, float] | None = None,
) -> Target:
    """The SMART target of ``item`` for a client (see the module docstring)."""
    plan = Plan(start, weeks)
    weight = contributions(item, client_needs or {})
    ranked = sorted(
        (e for e in item.effects if e.metric not in _NO_TARGET),
        key=lambda e: -abs(weight.get(e.metric, 0.0)),
    )  # stable: catalog order breaks ties
    targets = []
    for effect in ranked:
        b = baseline(features, effect.metric)
        if b is None:
            continue
        formula = FORMULAS.get(effect.metric)
        target = (
            formula(effect, b, features, age, plan)
            if formula is not None
            else effect_ramp_target(effect, b, plan)
        )
        if target.direction != "maintain":
            return target
        targets.append(target)
    return targets[0] if targets else behavioural_target(item, plan)
