"""Expected benefit: the per-metric scale, the client's needs, and oracle parity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from health_advisor.catalog import load_catalog
from health_advisor.core.metrics import BY_NAME
from health_advisor.plans import benefit as bf

CATALOG = load_catalog()


def test_improvement_is_positive_in_the_healthy_direction() -> None:
    assert bf.improvement("systolic_bp", -5.0) == pytest.approx(1.0)
    assert bf.improvement("systolic_bp", 5.0) == pytest.approx(-1.0)
    assert bf.improvement("steps", 1000.0) == pytest.approx(1.0)
    assert bf.improvement("ldl", -20.0) == pytest.approx(1.0)
    assert bf.improvement("sleep_duration", 0.5) == pytest.approx(1.0)
    # mechanisms carry no benefit of their own
    assert bf.improvement("time_in_bed", -1.0) == 0.0
    assert bf.improvement("water_intake", 1.5) == 0.0


def test_every_scale_is_a_known_metric_with_a_positive_mcid() -> None:
    for metric, scale in bf.SCALES.items():
        assert metric in BY_NAME
        assert scale.mcid > 0 and scale.direction in (-1, 1) and scale.source


def test_every_catalog_effect_metric_counts_or_is_a_stated_mechanism() -> None:
    metrics = {e.metric for i in CATALOG.interventions for e in i.effects}
    assert metrics - set(bf.SCALES) <= {"time_in_bed", "water_intake"}


@pytest.mark.parametrize(
    ("metric", "features", "age", "expected"),
    [
        ("systolic_bp", {"systolic_bp_mean_90d": 135.0}, None, 1.0),  # (135-115)/20
        ("systolic_bp", {"systolic_bp_mean_90d": 100.0}, None, 0.2),  # floor
        ("systolic_bp", {"systolic_bp_mean_90d": 200.0}, None, 1.6),  # cap
        ("diastolic_bp", {"diastolic_bp_mean_90d": 80.0}, None, 0.5),
        ("body_weight", {"bmi_latest": 30.0}, None, 1.0),
        ("ldl", {"ldl_latest": 130.0}, None, 1.0),
        ("hba1c", {"hba1c_latest": 6.2}, None, 1.2),
        ("sleep_duration", {"sleep_duration_mean_28d": 6.5}, None, 1.0),
        ("steps", {"steps_mean_28d": 5000.0}, 40, 1.0),  # goal 10,000 below 60
        ("steps", {"steps_mean_28d": 5000.0}, 70, 0.6),  # goal 8,000 from 60
        ("active_minutes", {"active_minutes_mean_28d": 0.0}, None, 1.6),
        ("systolic_bp", {}, None, 1.0),  # unknown: the average trial client
        ("systolic_bp", {"systolic_bp_mean_90d": float("nan")}, None, 1.0),
        ("stress_level", {"stress_level_mean_28d": 9.0}, None, 1.0),  # no gap scale
    ],
)
def test_need_formula(
    metric: str, features: dict[str, float], age: int | None, expected: float
) -> None:
    assert bf.need(metric, features, age) == pytest.approx(expected)


def test_expected_benefit_of_brisk_walking_by_hand() -> None:
    item = CATALOG.get("ex_brisk_walking")
    features = {
        "systolic_bp_mean_90d": 135.0,  # need 1.0
        "diastolic_bp_mean_90d": 85.0,  # need 1.0
        "bmi_latest": 30.0,  # need 1.0
        "steps_mean_28d": 7500.0,  # need (10000-7500)/5000 = 0.5
        "active_minutes_mean_28d": 300.0 / 7.0,  # need 0 -> floor 0.2
    }
    needs = bf.needs(features, age=45)
    expected = 3.5 / 5 + 1.5 / 2.5 + 1.4 / 4 + 3000 * 0.5 / 1000 + 21 * 0.2 / 10
    assert bf.expected_benefit(item, needs) == pytest.approx(expected)
    parts = bf.contributions(item, needs)
    assert parts["steps"] == pytest.approx(1.5)
    assert sum(parts.values()) == pytest.approx(expected)


def test_items_without_effects_get_the_documented_base_benefit() -> None:
    screening = CATALOG.get("pr_influenza_vaccine")
    social = CATALOG.get("st_social_activity")
    assert not screening.effects and not social.effects
    assert bf.expected_benefit(screening, {}) == bf.true_benefit(screening, {}) == 0.5
    assert bf.expected_benefit(social, {}) == bf.true_benefit(social, {}) == 0.25


@settings(max_examples=100, deadline=None)
@given(
    item_index=st.integers(0, len(CATALOG.interventions) - 1),
    needs=st.dictionaries(st.sampled_from(sorted(bf.SCALES)), st.floats(0.2, 1.6)),
)
def test_oracle_uses_the_same_scale(item_index: int, needs: dict[str, float]) -> None:
    """Fed the composer's own per-metric effects, the oracle's benefit is the composer's."""
    item = CATALOG.interventions[item_index]
    effects = {e.metric: e.change * needs.get(e.metric, 1.0) for e in item.effects}
    assert bf.true_benefit(item, effects) == pytest.approx(bf.expected_benefit(item, needs))


def test_true_benefit_ignores_metrics_the_item_does_not_list() -> None:
    item = CATALOG.get("nu_sodium_reduction")
    truth = {"systolic_bp": -5.0, "diastolic_bp": -2.5, "steps": 10_000.0}
    assert bf.true_benefit(item, truth) == pytest.approx(2.0)


def test_step_goal_by_age() -> None:
    assert bf.step_goal(59) == 10_000
    assert bf.step_goal(60) == 8_000
    assert bf.step_goal(None) == 8_000


def test_feature_value_rejects_missing_and_non_numbers() -> None:
    features = {"a": 1, "b": float("nan"), "c": "x", "d": None, "e": True, "f": math.inf}
    assert bf.feature_value(features, "a") == 1.0
    assert [bf.feature_value(features, k) for k in "bcdef"] == [None] * 5
    assert bf.feature_value(features, "missing") is None
    assert bf.baseline({"steps_mean_28d": 4200}, "steps") == 4200.0
    assert bf.baseline({}, "time_in_bed") is None
