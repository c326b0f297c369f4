"""Expected benefit of an intervention for one client, on one clinical scale.

Where it sits: the composer ranks items by predicted adherence x expected benefit; this
module supplies the benefit. The benchmark's oracle turns the synthetic clinic's true
effects into benefit with :func:`true_benefit`, which uses the *same* per-metric scale,
so the model plan and the oracle plan are measured in the same unit.

**Benefit** of item *i* for a client (at full adherence)::

    benefit_i = sum over the catalog effects (metric m, change d) of
                direction_m x d x need_m(client) / mcid_m

* ``direction_m`` is +1 when a higher value is healthier (steps, sleep), -1 when lower
  is (blood pressure, LDL): improvement counts positive.
* ``mcid_m`` is a clinically meaningful difference of the metric (table :data:`SCALES`,
  each with its source): one benefit unit is roughly "a change a clinician would call
  worthwhile", calibrated where possible to about a 10 % lower risk of major
  cardiovascular events or death, so that effects on different metrics add up.
* ``need_m`` (0.2-1.6) is how far the client's own value is from healthy (table
  :data:`NEEDS`): the catalog's average effect is larger in people further from the
  target (e.g. BP-lowering effects roughly double in hypertension, Cornelissen 2013).
  Unknown values give 1, the average client the trials enrolled.

Items without a quantified effect (screenings, vaccines, referrals) get
:data:`BASE_BENEFIT`: half a unit for prevention items (a guideline-indicated check;
their contraindications already restrict them to the indicated group) and a quarter
for any other domain. The oracle uses the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from health_advisor.core.catalog import Intervention

__all__ = [
    "BASELINE_COLUMNS",
    "BASE_BENEFIT",
    "NEEDS",
    "SCALES",
    "MetricScale",
    "Need",
    "base_benefit",
    "baseline",
    "contributions",
    "expected_benefit",
    "feature_value",
    "improvement",
    "need",
    "needs",
    "step_goal",
    "true_benefit",
]


@dataclass(frozen=True, slots=True)
class MetricScale:
    """How to count a change of one metric: its healthy direction and its MCID."""

    direction: int  # +1: higher is healthier; -1: lower is healthier
    mcid: float  # a change of this size (canonical unit) is one benefit unit
    source: str


SCALES: Mapping[str, MetricScale] = {
    # BPLTTC, Lancet 2021;397:1625-36: each 5 mmHg lower SBP, ~10 % fewer major CV events.
    "systolic_bp": MetricScale(-1, 5.0, "BPLTTC 2021 (5 mmHg SBP ~ -10 % MACE)"),
    # Prospective Studies Collaboration, Lancet 2002;360:1903-13: 20 mmHg SBP and 10 mmHg
    # DBP carry the same risk, so the diastolic unit is half the systolic one.
    "diastolic_bp": MetricScale(-1, 2.5, "PSC 2002 (DBP risk per mmHg = 2 x SBP)"),
    # Jensen, AHA/ACC/TOS 2013 obesity guideline: 3-5 % weight loss gives clinically
    # meaningful benefit; 4 kg is 5 % of an 80 kg adult (1.4 kg/m2 at 1.70 m).
    "body_weight": MetricScale(-1, 4.0, "Jensen 2013 (5 % weight loss)"),
    "bmi": MetricScale(-1, 1.4, "Jensen 2013 (5 % weight loss at 1.70 m)"),
    # CTT, Lancet 2010;376:1670-81: 22 % fewer major vascular events per 1 mmol/L
    # (38.7 mg/dL) LDL, so ~10 % per 20 mg/dL (also total cholesterol).
    "ldl": MetricScale(-1, 20.0, "CTT 2010 (20 mg/dL LDL ~ -10 % events)"),
    "total_cholesterol": MetricScale(-1, 20.0, "CTT 2010"),
    "hdl": MetricScale(1, 5.0, "NCEP ATP III (HDL risk gradient)"),
    "triglycerides": MetricScale(-1, 40.0, "NCEP ATP III (borderline band width 50 mg/dL)"),
    # UKPDS 35 (BMJ 2000;321:405-12): 14 % fewer MI per 1 % HbA1c; 0.5 % is the usual
    # MCID of glucose-lowering trials (FDA guidance 2008).
    "hba1c": MetricScale(-1, 0.5, "UKPDS 35; FDA 2008 (0.5 % HbA1c)"),
    "fasting_glucose": MetricScale(-1, 10.0, "ADA Standards of Care (prediabetes band/2.5)"),
    "glucose": MetricScale(-1, 10.0, "ADA Standards of Care"),
    # Stens, JACC 2023;82:1483-94: each +1,000 steps/day ~ 15 % lower all-cause mortality.
    "steps": MetricScale(1, 1000.0, "Stens 2023 (+1,000 steps/d)"),
    # Arem, JAMA Intern Med 2015;175:959-67: 150 min/week ~ -31 % mortality; 70 min/week
    # (10 min/day) about a third of the WHO range.
    "active_minutes": MetricScale(1, 10.0, "Arem 2015; WHO 2020 (70 min/week)"),
    # Momma, Br J Sports Med 2022;56:755-63: 30-60 min/week of muscle strengthening
    # ~ 10-20 % lower mortality; the WHO minimum is 2 sessions a week.
    "strength_sessions": MetricScale(1, 2.0, "Momma 2022; WHO 2020 (2 sessions/week)"),
    # Sleep-extension trials count 30 min/night as meaningful (Tasali, JAMA IM 2022).
    "sleep_duration": MetricScale(1, 0.5, "Tasali 2022 (+30 min/night)"),
    # Sleep efficiency (0-100): 10 points is the CBT-I response criterion (AASM 2021).
    "sleep_quality": MetricScale(1, 10.0, "Edinger, AASM 2021 (10 points)"),
    # 0-10 stress rating: half a standard deviation (SD ~2) is the usual MCID
    # (Norman, Med Care 2003;41:582-92).
    "stress_level": MetricScale(-1, 1.0, "Norman 2003 (half an SD)"),
    # 500 kcal/day is the deficit behind the 0.5 kg/week rule (NIH/NHLBI 1998).
    "calorie_intake": MetricScale(-1, 500.0, "NHLBI 1998 (500 kcal/d deficit)"),
    # Earlier, regular bedtimes: 30 min is the shift circadian trials aim for.
    "bedtime": MetricScale(-1, 0.5, "Phillips, Sci Rep 2017 (30 min)"),
    # Zhang, CMAJ 2016;188:E53-63: 9 % higher mortality per 10 beats/min.
    "resting_heart_rate": MetricScale(-1, 10.0, "Zhang 2016 (10 /min)"),
    # time_in_bed and water_intake are mechanisms, not outcomes: no scale, no benefit
    # (their items' outcomes are counted through sleep_quality and body_weight).
}

BASE_BENEFIT: Mapping[str, float] = {"prevention": 0.5, "other": 0.25}
"""Benefit of an item with no quantified effect in the catalog, by domain."""

NEED_MIN, NEED_MAX = 0.2, 1.6


@dataclass(frozen=True, slots=True)
class Need:
    """``need = clip(direction x (value - reference) / scale, 0.2, 1.6)`` of a feature."""

    column: str
    reference: float  # healthy reference value (need 0 before the floor)
    scale: float  # distance from the reference that counts as need 1
    worse_when: int  # +1: values above the reference are worse; -1: below


NEEDS: Mapping[str, Need] = {
    # Prospective Studies Collaboration 2002: risk doubles per 20/10 mmHg from 115/75.
    "systolic_bp": Need("systolic_bp_mean_90d", 115.0, 20.0, 1),
    "diastolic_bp": Need("diastolic_bp_mean_90d", 75.0, 10.0, 1),
    # Global BMI Mortality Collaboration, Lancet 2016: lowest mortality at BMI 20-25.
    "body_weight": Need("bmi_latest", 22.5, 7.5, 1),
    "bmi": Need("bmi_latest", 22.5, 7.5, 1),
    # CTT 2010: log-linear benefit down to LDL ~70 mg/dL.
    "ldl": Need("ldl_latest", 70.0, 60.0, 1),
    "total_cholesterol": Need("total_cholesterol_latest", 150.0, 60.0, 1),
    "hdl": Need("hdl_latest", 65.0, 20.0, -1),
    "triglycerides": Need("triglycerides_latest", 100.0, 100.0, 1),
    # ADA: normal < 5.7 %, diabetes >= 6.5 %.
    "hba1c": Need("hba1c_latest", 5.0, 1.0, 1),
    "fasting_glucose": Need("fasting_glucose_latest", 85.0, 25.0, 1),
    "glucose": Need("fasting_glucose_latest", 85.0, 25.0, 1),
    "resting_heart_rate": Need("resting_heart_rate_mean_28d", 55.0, 15.0, 1),
    # NSF 2015: 7-9 h; need 1 at 6.5 h.
    "sleep_duration": Need("sleep_duration_mean_28d", 7.5, 1.0, -1),
    # WHO 2020: benefit keeps rising up to 300 min/week (42.9 min/day); need 1 at
    # ~170 min/week.
    "active_minutes": Need("active_minutes_mean_28d", 300.0 / 7.0, 130.0 / 7.0, -1),
    # steps: the reference is the age goal of Paluch 2022 (see :func:`step_goal`).
    "steps": Need("steps_mean_28d", 10_000.0, 5_000.0, -1),
}

BASELINE_COLUMNS: Mapping[str, str] = {
    "steps": "steps_mean_28d",
    "active_minutes": "active_minutes_mean_28d",
    "sleep_duration": "sleep_duration_mean_28d",
    "sleep_quality": "sleep_quality_mean_28d",
    "time_in_bed": "time_in_bed_mean_28d",
    "bedtime": "bedtime_mean_28d",
    "calorie_intake": "calorie_intake_mean_28d",
    "water_intake": "water_intake_mean_28d",
    "stress_level": "stress_level_mean_28d",
    "resting_heart_rate": "resting_heart_rate_mean_28d",
    "systolic_bp": "systolic_bp_mean_90d",
    "diastolic_bp": "diastolic_bp_mean_90d",
    "body_weight": "body_weight_latest",
    "bmi": "bmi_latest",
    "strength_sessions": "strength_sessions_latest",
    "total_cholesterol": "total_cholesterol_latest",
    "ldl": "ldl_latest",
    "hdl": "hdl_latest",
    "triglycerides": "triglycerides_latest",
    "fasting_glucose": "fasting_glucose_latest",
    "hba1c": "hba1c_latest",
}
"""The snapshot column holding a client's current value of each metric."""


def feature_value(features: Mapping[str, Any], column: str) -> float | None:
    """A numeric feature, or None when missing, NaN or not a number."""
    value = features.get(column)
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def baseline(features: Mapping[str, Any], metric: str) -> float | None:
    """The client's current value of ``metric`` from the snapshot (None if unknown)."""
    column = BASELINE_COLUMNS.get(metric)
    return None if column is None else feature_value(features, column)


def step_goal(age: int | float | None) -> float:
    """Daily steps where mortality levels off (Paluch, Lancet Public Health 2022;7:e219):
    6,000-8,000 from age 60, 8,000-10,000 below; the upper end of each band. Unknown
    age: 8,000 (inside both bands)."""
    if age is None:
        return 8_000.0
    return 8_000.0 if age >= 60 else 10_000.0


def need(metric: str, features: Mapping[str, Any], age: int | float | None = None) -> float:
    """How far the client's value of ``metric`` is from healthy (0.2-1.6; 1 if unknown)."""
    rule = NEEDS.get(metric)
    if rule is None:
        return 1.0
    value = feature_value(features, rule.column)
    if value is None:
        return 1.0
    reference = step_goal(age) if metric == "steps" else rule.reference
    raw = rule.worse_when * (value - reference) / rule.scale
    return min(max(raw, NEED_MIN), NEED_MAX)


def needs(features: Mapping[str, Any], age: int | float | None = None) -> dict[str, float]:
    """:func:`need` of every metric with a scale (computed once per client)."""
    return {metric: need(metric, features, age) for metric in SCALES}


def improvement(metric: str, change: float) -> float:
    """A change of ``metric`` in benefit units (0 for a metric without a scale)."""
    scale = SCALES.get(metric)
    if scale is None:
        return 0.0
    return scale.direction * change / scale.mcid


def base_benefit(item: Intervention) -> float:
    """The benefit of an item the catalog quantifies no effect for."""
    return BASE_BENEFIT.get(item.domain, BASE_BENEFIT["other"])


def contributions(item: Intervention, client_needs: Mapping[str, float]) -> dict[str, float]:
    """Benefit units per effect metric of ``item`` for a client with ``client_needs``."""
    out: dict[str, float] = {}
    for effect in item.effects:
        weight = client_needs.get(effect.metric, 1.0)
        out[effect.metric] = out.get(effect.metric, 0.0) + improvement(
            effect.metric, effect.change * weight
        )
    return out


def expected_benefit(item: Intervention, client_needs: Mapping[str, float]) -> float:
    """The composer's estimate: catalog effects x the client's needs, in benefit units."""
    if not item.effects:
        return base_benefit(item)
    return sum(contributions(item, client_needs).values())


def true_benefit(item: Intervention, effects: Mapping[str, float]) -> float:
    """The oracle's benefit from true per-metric effects at full adherence (same scale).

    ``effects`` maps metric -> the client's true change (e.g. the synthetic clinic's
    ``ground_truth/effects.csv``); metrics the catalog does not list for the item are
    ignored, missing ones count 0.
    """
    if not item.effects:
        return base_benefit(item)
    metrics = dict.fromkeys(e.metric for e in item.effects)
    return sum(improvement(m, float(effects.get(m, 0.0))) for m in metrics)
