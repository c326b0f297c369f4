"""SMART targets follow their formulas (module docstring of plans.targets)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from health_advisor.catalog import load_catalog
from health_advisor.core.catalog import Effect
from health_advisor.plans import targets as tg
from health_advisor.plans.benefit import needs

CATALOG = load_catalog()
START = dt.date(2025, 3, 3)
PLAN = tg.Plan(START, 4)


def effect(metric: str, change: float, weeks: int, unit: str) -> Effect:
    return Effect(metric=metric, change=change, unit=unit, horizon_weeks=weeks)


def test_review_date_is_start_plus_weeks() -> None:
    assert PLAN.review == dt.date(2025, 3, 31)
    assert tg.review_date(START, 12) == dt.date(2025, 5, 26)


def test_steps_plus_ten_percent_of_baseline_per_week() -> None:
    target = tg.steps_target(5000.0, 45, PLAN)
    assert (target.value, target.goal, target.weekly_change) == (7000.0, 10_000.0, 500.0)
    assert target.direction == "increase" and target.rule == "steps_10pct_weekly"
    assert (target.metric, target.unit, target.baseline) == ("steps", "/d", 5000.0)
    assert (target.start_date, target.review_date) == (START, PLAN.review)


def test_steps_capped_at_the_age_goal() -> None:
    assert tg.steps_target(9000.0, 45, PLAN).value == 10_000.0  # 9000 + 3600 capped
    older = tg.steps_target(6000.0, 72, PLAN)
    assert (older.value, older.goal) == (8000.0, 8000.0)  # 6000 + 2400 capped at 8,000


def test_steps_at_goal_are_maintained() -> None:
    target = tg.steps_target(12_000.0, 45, PLAN)
    assert target.direction == "maintain" and target.value == 12_000.0
    assert target.weekly_change is None


@settings(max_examples=200, deadline=None)
@given(st.floats(100, 30_000), st.one_of(st.none(), st.integers(18, 99)), st.integers(1, 26))
def test_steps_never_pass_the_goal_nor_fall(b: float, age: int | None, weeks: int) -> None:
    target = tg.steps_target(b, age, tg.Plan(START, weeks))
    goal = 8000.0 if age is None or age >= 60 else 10_000.0
    assert target.value >= round(b, -1)
    if b < goal:
        assert target.value == round(min(goal, b * (1 + 0.1 * weeks)), -1)
        assert target.value <= goal


@pytest.mark.parametrize(
    ("b", "age", "value", "goal", "direction"),
    [
        (6.0, 40, 7.0, 7.5, "increase"),  # +15 min x 4 weeks
        (6.5, 40, 7.5, 7.5, "increase"),  # capped at 7.5 h
        (9.8, 40, 9.0, 9.0, "decrease"),  # long: down to the upper limit
        (9.5, 70, 8.5, 8.0, "decrease"),  # from 65 y the range is 7-8 h
        (7.6, 40, 7.6, 7.6, "maintain"),
    ],
)
def test_sleep_towards_the_recommended_range(
    b: float, age: int, value: float, goal: float, direction: str
) -> None:
    target = tg.sleep_target(b, age, PLAN)
    assert (target.value, target.goal, target.direction) == (value, goal, direction)
    assert target.rule == "sleep_15min_weekly"


def test_sleep_range_by_age() -> None:
    assert tg.sleep_range(64) == (7.0, 9.0)
    assert tg.sleep_range(65) == (7.0, 8.0)


def test_mvpa_plus_15_minutes_per_week_towards_150() -> None:
    target = tg.mvpa_target(5.0, PLAN)
    assert target.value == round(5.0 + 4 * 15 / 7, 1)
    assert target.goal == round(150 / 7, 1)
    assert tg.mvpa_target(20.0, PLAN).value == round(150 / 7, 1)  # capped
    assert tg.mvpa_target(30.0, PLAN).direction == "maintain"


def test_bp_effect_ramped_not_below_130_80() -> None:
    sbp = effect("systolic_bp", -3.5, 12, "mm[Hg]")
    target = tg.bp_target(sbp, 150.0, PLAN)
    assert target.value == round(150.0 - 3.5 * 4 / 12)
    assert target.goal == 130.0 and target.rule == "bp_effect_to_goal"
    assert target.weekly_change == pytest.approx(-3.5 / 12, abs=1e-3)
    assert tg.bp_target(sbp, 131.0, PLAN).value == 130.0
    assert tg.bp_target(sbp, 125.0, PLAN).direction == "maintain"
    dbp = effect("diastolic_bp", -3.9, 8, "mm[Hg]")
    assert tg.bp_target(dbp, 95.0, PLAN).value == round(95.0 - 3.9 / 2)
    assert tg.bp_target(dbp, 95.0, PLAN).goal == 80.0


def test_weight_half_kilo_per_week_capped() -> None:
    target = tg.weight_target(90.0, 170.0, PLAN)
    assert (target.value, target.weekly_change, target.goal) == (88.0, -0.5, 81.0)
    long = tg.weight_target(90.0, 170.0, tg.Plan(START, 30))
    assert long.value == 81.0  # 10 % of the baseline at most
    near = tg.weight_target(75.0, 170.0, tg.Plan(START, 12))
    assert near.value == round(25 * 1.7**2, 1)  # not below BMI 25
    assert tg.weight_target(70.0, 170.0, PLAN).direction == "maintain"  # BMI 24.2
    assert tg.weight_target(90.0, None, PLAN).value == 88.0


def test_hba1c_and_ldl_effects_to_their_goals() -> None:
    a1c = effect("hba1c", -1.0, 26, "%")
    target = tg.hba1c_target(a1c, 7.5, PLAN)
    assert (target.value, target.goal) == (round(7.5 - 4 / 26, 1), 7.0)
    assert tg.hba1c_target(a1c, 6.0, tg.Plan(START, 26)).value == 5.6
    ldl = effect("ldl", -9.7, 6, "mg/dL")
    assert tg.ldl_target(ldl, 160.0, PLAN).value == round(160.0 - 9.7 * 4 / 6)
    assert tg.ldl_target(ldl, 103.0, PLAN).value == 100.0
    assert tg.ldl_target(ldl, 90.0, PLAN).direction == "maintain"


def test_effect_ramp_for_other_metrics() -> None:
    quality = effect("sleep_quality", 10.0, 8, "{score}")
    target = tg.effect_ramp_target(quality, 70.0, PLAN)
    assert (target.value, target.goal, target.rule) == (75.0, 80.0, "effect_ramp")


def test_behavioural_targets() -> None:
    visit = tg.behavioural_target(CATALOG.get("pr_influenza_vaccine"), PLAN)
    assert (visit.metric, visit.unit, visit.value, visit.rule) == (
        None,
        "{visit}",
        1.0,
        "behaviour_visit",
    )
    habit = tg.behavioural_target(CATALOG.get("st_social_media_limit"), PLAN)
    assert (habit.unit, habit.value, habit.rule) == ("d/wk", 7.0, "behaviour_daily_habit")
    minutes = tg.behavioural_target(CATALOG.get("st_social_activity"), PLAN)
    assert (minutes.unit, minutes.value) == ("min/wk", 120.0)


def test_target_for_picks_the_metric_that_matters_most() -> None:
    walking = CATALOG.get("ex_brisk_walking")
    features = {"steps_mean_28d": 4000.0, "systolic_bp_mean_90d": 150.0}
    target = tg.target_for(
        walking, features, age=45, start=START, weeks=4, client_needs=needs(features, 45)
    )
    assert target.metric == "steps" and target.value == 5600.0


def test_target_for_prefers_a_gap_over_a_metric_at_goal() -> None:
    walking = CATALOG.get("ex_brisk_walking")
    features = {"steps_mean_28d": 12_000.0, "systolic_bp_mean_90d": 150.0}
    target = tg.target_for(
        walking, features, age=45, start=START, weeks=4, client_needs=needs(features, 45)
    )
    assert target.metric == "systolic_bp" and target.direction == "decrease"


def test_target_for_without_baselines_is_behavioural() -> None:
    walking = CATALOG.get("ex_brisk_walking")
    target = tg.target_for(walking, {}, age=None, start=START, weeks=4)
    assert (target.metric, target.value, target.rule) == (
        None,
        150.0,
        "behaviour_weekly_minutes",
    )


def test_target_for_all_at_goal_keeps_a_maintain_target() -> None:
    walking = CATALOG.get("ex_step_goal")
    features = {"steps_mean_28d": 12_000.0, "systolic_bp_mean_90d": 110.0}
    target = tg.target_for(walking, features, age=45, start=START, weeks=4)
    assert target.direction == "maintain" and target.metric in {"steps", "systolic_bp"}


def test_every_catalog_item_gets_a_target() -> None:
    full = {
        "steps_mean_28d": 5000.0,
        "active_minutes_mean_28d": 10.0,
        "sleep_duration_mean_28d": 6.2,
        "sleep_quality_mean_28d": 60.0,
        "systolic_bp_mean_90d": 145.0,
        "diastolic_bp_mean_90d": 92.0,
        "body_weight_latest": 92.0,
        "body_height_latest": 172.0,
        "bmi_latest": 31.1,
        "ldl_latest": 150.0,
        "hba1c_latest": 6.1,
        "calorie_intake_mean_28d": 2600.0,
        "stress_level_mean_28d": 7.0,
        "bedtime_mean_28d": 0.5,
        "strength_sessions_latest": 0.0,
    }
    for item in CATALOG.interventions:
        for features in ({}, full):
            target = tg.target_for(item, features, age=50, start=START, weeks=4)
            assert target.review_date == PLAN.review and target.rule
            if target.metric is not None:
                assert target.baseline is not None
