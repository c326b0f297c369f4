"""Client contexts from snapshot and survey rows (the benchmark's and a service's input)."""

from __future__ import annotations

import datetime as dt

from health_advisor.plans.context import context_from_rows, risk_from_features

AS_OF = dt.date(2025, 2, 2)


def test_context_from_rows_reads_snapshot_and_survey() -> None:
    features = {
        "age_years": 61.9,
        "sex": "female",
        "blood_pressure_category": "stage_2",
        "hba1c_category": None,
        "bmi_category": "not-a-category",
        "health_risk_category": "high",
        "steps_mean_28d": 4321.0,
    }
    survey = {
        "goals": "lower_bp;get_fit;unknown_goal",
        "preferred_domains": ["sleep", "exercise"],
        "preferred_settings": "home",
        "conditions": ["hypertension", "flu"],
        "smoker": "true",
        "medical_clearance": False,
        "weekly_time_budget_min": 90,
    }
    ctx = context_from_rows("42", AS_OF, features, survey)
    assert (ctx.client_id, ctx.as_of, ctx.age, ctx.sex) == ("42", AS_OF, 61, "female")
    assert ctx.risk["blood_pressure"] == "stage_2" and ctx.risk["overall"] == "high"
    assert ctx.risk["hba1c"] == "unknown" and ctx.risk["bmi"] == "unknown"
    assert ctx.goals == ("lower_bp", "get_fit")
    assert ctx.preferred_domains == ("exercise", "sleep")  # vocabulary order
    assert ctx.preferred_settings == ("home",)
    assert ctx.conditions == frozenset({"hypertension", "smoker"})
    assert ctx.smoker is True and ctx.medical_clearance is False
    assert ctx.weekly_time_budget_min == 90.0
    assert ctx.features["steps_mean_28d"] == 4321.0
    ctx.facts()  # valid facts for the catalog's rules


def test_context_without_a_survey() -> None:
    ctx = context_from_rows("7", AS_OF, {"age_years": float("nan")})
    assert ctx.age is None and ctx.sex is None and ctx.goals == ()
    assert ctx.weekly_time_budget_min is None and not ctx.medical_clearance
    assert set(ctx.risk.values()) == {"unknown"}


def test_risk_from_features_covers_every_guideline_key() -> None:
    risk = risk_from_features({"sleep_category": "short"})
    assert risk["sleep"] == "short"
    assert "overall" in risk and "blood_pressure" in risk
