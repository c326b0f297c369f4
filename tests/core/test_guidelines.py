"""Guideline tables at and around every boundary, scalar/vectorised agreement, composition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from health_advisor.core import guidelines as g
from health_advisor.core.vocabulary import RISK_CATEGORIES


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (119, 79, "normal"),
        (119.9, 79.9, "normal"),
        (120, 79, "elevated"),
        (129, 79, "elevated"),
        (129.9, 79, "elevated"),
        (129, 80, "stage_1"),
        (130, 79, "stage_1"),
        (130, 80, "stage_1"),
        (125, 85, "stage_1"),
        (110, 85, "stage_1"),
        (139, 89, "stage_1"),
        (140, 89, "stage_2"),
        (139, 90, "stage_2"),
        (140, 90, "stage_2"),
        (110, 95, "stage_2"),
        (180, 120, "stage_2"),
        (181, 90, "crisis"),
        (180, 121, "crisis"),
        (120, 121, "crisis"),
        (200, 130, "crisis"),
        (None, 80, "unknown"),
        (120, float("nan"), "unknown"),
    ],
)
def test_blood_pressure_table(systolic: float, diastolic: float, expected: str) -> None:
    result = g.classify_bp(systolic, diastolic, n_readings=3)
    assert result.category == expected
    assert g.bp_categories([systolic], [diastolic])[0] == expected
    if expected != "unknown":
        assert "average of 3 readings" in result.reason
        assert result.rule.endswith(f"blood_pressure.{expected}")


SINGLE_VALUE_CASES = [
    (
        g.classify_cholesterol,
        [
            (199, "desirable"),
            (199.9, "desirable"),
            (200, "borderline_high"),
            (239, "borderline_high"),
            (239.9, "borderline_high"),
            (240, "high"),
            (300, "high"),
        ],
    ),
    (
        g.classify_ldl,
        [
            (99, "optimal"),
            (100, "near_optimal"),
            (129, "near_optimal"),
            (130, "borderline_high"),
            (159, "borderline_high"),
            (160, "high"),
            (189, "high"),
            (190, "very_high"),
        ],
    ),
    (g.classify_hdl, [(39, "low"), (39.9, "low"), (40, "normal"), (59, "normal"), (60, "high")]),
    (
        g.classify_triglycerides,
        [
            (149, "normal"),
            (150, "borderline_high"),
            (199, "borderline_high"),
            (200, "high"),
            (499, "high"),
            (500, "very_high"),
        ],
    ),
    (
        g.classify_glucose,
        [
            (99, "normal"),
            (100, "prediabetes"),
            (125, "prediabetes"),
            (125.9, "prediabetes"),
            (126, "diabetes"),
        ],
    ),
    (
        g.classify_hba1c,
        [
            (5.6, "normal"),
            (5.69, "normal"),
            (5.7, "prediabetes"),
            (6.4, "prediabetes"),
            (6.5, "diabetes"),
        ],
    ),
    (
        g.classify_bmi,
        [
            (18.4, "underweight"),
            (18.5, "normal"),
            (24.9, "normal"),
            (25, "overweight"),
            (29.9, "overweight"),
            (30, "obese_1"),
            (34.9, "obese_1"),
            (35, "obese_2"),
            (39.9, "obese_2"),
            (40, "obese_3"),
        ],
    ),
    (
        g.classify_resting_heart_rate,
        [
            (59, "low"),
            (59.9, "low"),
            (60, "normal"),
            (100, "normal"),
            (100.1, "high"),
            (101, "high"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("classify", "value", "expected"),
    [(fn, v, e) for fn, cases in SINGLE_VALUE_CASES for v, e in [*cases, (None, "unknown")]],
)
def test_single_value_tables(classify: object, value: float, expected: str) -> None:
    result = classify(value)  # type: ignore[operator]
    assert result.category == expected
    if value is not None:
        assert f"{value:g}" in result.reason


@pytest.mark.parametrize(
    ("moderate", "vigorous", "strength", "expected"),
    [
        (0, None, None, "inactive"),
        (9.9, None, None, "inactive"),
        (10, None, None, "insufficient"),
        (149, None, None, "insufficient"),
        (150, None, None, "meets"),
        (100, 25, None, "meets"),  # 100 + 2 * 25 = 150
        (100, 24, None, "insufficient"),
        (300, None, None, "meets"),
        (300.1, None, None, "exceeds"),
        (200, 60, 3, "exceeds"),
        (200, None, 2, "meets"),
        (200, None, 1, "insufficient"),
        (400, None, 0, "insufficient"),
        (None, None, 3, "unknown"),
    ],
)
def test_activity_rule(moderate: float, vigorous: float, strength: float, expected: str) -> None:
    assert g.classify_activity(moderate, vigorous, strength).category == expected


@pytest.mark.parametrize(
    ("hours", "age", "expected"),
    [
        (6.9, 30, "short"),
        (7.0, 30, "recommended"),
        (9.0, 30, "recommended"),
        (9.1, 30, "long"),
        (8.0, 70, "recommended"),
        (8.1, 70, "long"),
        (8.5, 64, "recommended"),
        (8.5, 65, "long"),
        (9.0, None, "recommended"),
        (None, 40, "unknown"),
    ],
)
def test_sleep_rule(hours: float, age: float, expected: str) -> None:
    result = g.classify_sleep(hours, age)
    assert result.category == expected
    if age is None and hours is not None:
        assert "age unknown" in result.reason


def test_every_category_is_in_the_vocabulary() -> None:
    produced = {
        "blood_pressure": g.bp_categories(*np.meshgrid(np.r_[90:200, np.nan], np.r_[60:130])),
        "cholesterol": g.cholesterol_categories(np.r_[np.arange(100, 300), np.nan]),
        "ldl": g.ldl_categories(np.r_[np.arange(50, 250), np.nan]),
        "hdl": g.hdl_categories(np.r_[np.arange(20, 90), np.nan]),
        "triglycerides": g.triglycerides_categories(np.r_[np.arange(50, 700), np.nan]),
        "glucose": g.glucose_categories(np.r_[np.arange(60, 200), np.nan]),
        "hba1c": g.hba1c_categories(np.r_[np.arange(4, 10, 0.1), np.nan]),
        "bmi": g.bmi_categories(np.r_[np.arange(15, 50, 0.5), np.nan]),
        "activity": g.activity_categories(np.r_[np.arange(0, 500, 5), np.nan]),
        "sleep": g.sleep_categories(np.r_[np.arange(4, 12, 0.25), np.nan]),
        "resting_heart_rate": g.resting_heart_rate_categories(np.r_[np.arange(40, 120), np.nan]),
    }
    for key, values in produced.items():
        assert set(np.ravel(values)) == set(RISK_CATEGORIES[key]), key


def test_vectorised_matches_scalar_on_pandas_series() -> None:
    rng = np.random.default_rng(3)
    sys_ = pd.Series(rng.uniform(90, 200, 500))
    dia = pd.Series(rng.uniform(50, 130, 500))
    dia[::17] = np.nan
    batch = g.bp_categories(sys_, dia)
    assert list(batch) == [g.classify_bp(s, d).category for s, d in zip(sys_, dia, strict=True)]


def _results(**categories: str) -> dict[str, g.GuidelineResult]:
    base = {k: g.GuidelineResult("unknown", "", "") for k in RISK_CATEGORIES if k != "overall"}
    base.update({k: g.GuidelineResult(v, f"{k} is {v}", "") for k, v in categories.items()})
    return base


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        ({"blood_pressure": "crisis", "glucose": "diabetes"}, "urgent"),
        ({"blood_pressure": "stage_2"}, "high"),
        ({"hba1c": "diabetes", "sleep": "short"}, "high"),
        ({"ldl": "very_high"}, "high"),
        ({"bmi": "obese_3"}, "high"),
        ({"blood_pressure": "stage_1"}, "moderate"),
        ({"activity": "inactive", "bmi": "normal"}, "moderate"),
        ({"hdl": "low"}, "moderate"),
        ({"blood_pressure": "elevated", "bmi": "overweight", "activity": "insufficient"}, "low"),
        ({"blood_pressure": "normal"}, "low"),
        ({}, "unknown"),
    ],
)
def test_overall_risk(categories: dict[str, str], expected: str) -> None:
    results = _results(**categories)
    category, reasons = g.overall_risk(results)
    assert category == expected
    batch = g.overall_risk_categories({k: [r.category] for k, r in results.items()})
    assert batch[0] == expected
    if expected == "urgent":
        assert reasons[0] == "blood_pressure: blood_pressure is crisis"
        assert "glucose: glucose is diabetes" in reasons
