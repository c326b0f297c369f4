"""Drift math on distributions whose answer is known: PSI, KS, chi-square, the decision."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from health_advisor.pipeline import drift


def test_psi_of_shares_matches_the_formula_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert drift.shares_psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)
    assert expected == pytest.approx(0.274653, abs=1e-6)


def test_identical_samples_have_zero_psi_and_no_ks_difference() -> None:
    values = np.random.default_rng(1).gamma(2.0, 3.0, 5_000)
    assert drift.psi(values, values) == 0.0
    d, p = drift.ks(values, values)
    assert d == 0.0 and p == 1.0


def test_psi_on_deciles_with_half_the_bins_emptied() -> None:
    # Reference 0..999: ten bins of 10 %. Current 500..999: bins 0-4 empty (epsilon),
    # bins 5-9 at 20 % each.
    eps = drift.EPSILON
    expected = 5 * (eps - 0.1) * math.log(eps / 0.1) + 5 * (0.2 - 0.1) * math.log(2.0)
    assert drift.psi(np.arange(1000), np.arange(500, 1000)) == pytest.approx(expected)


def test_psi_and_ks_of_a_normal_mean_shift_match_theory() -> None:
    rng = np.random.default_rng(0)
    shift = 0.5
    reference = rng.normal(0.0, 1.0, 200_000)
    current = rng.normal(shift, 1.0, 200_000)
    # Theory: deciles of N(0, 1) as bins; shares of N(shift, 1) in them.
    z = stats.norm.ppf(np.linspace(0, 1, 11))
    q = np.diff(stats.norm.cdf(z - shift))
    theory = float(np.sum((q - 0.1) * np.log(q / 0.1)))
    assert drift.psi(reference, current) == pytest.approx(theory, abs=0.01)
    # KS distance between N(0,1) and N(shift,1): 2 Phi(shift / 2) - 1.
    d, p = drift.ks(reference, current)
    assert d == pytest.approx(2 * stats.norm.cdf(shift / 2) - 1, abs=0.005)
    assert p < 1e-12


def test_two_samples_of_one_distribution_are_stable() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 50_000), rng.normal(0, 1, 50_000)
    assert drift.psi(a, b) < 0.01
    assert drift.ks(a, b)[1] > 0.01


def test_disjoint_samples_have_ks_distance_one() -> None:
    d, p = drift.ks(np.arange(50.0), np.arange(100.0, 150.0))
    assert d == 1.0 and p < 1e-20


def test_constant_reference_gives_two_bins() -> None:
    edges = drift.quantile_edges(np.full(100, 7.0))
    assert edges.tolist() == [7.0]
    assert drift.bin_shares([7.0, 7.0, 8.0, 9.0], edges).tolist() == [0.5, 0.5]


def test_categorical_psi_and_chi_square() -> None:
    reference = ["normal"] * 60 + ["elevated"] * 30 + ["stage_1"] * 10
    current = ["normal"] * 30 + ["elevated"] * 30 + ["stage_1"] * 40
    labels, r, c, table = drift.category_shares(reference, current)
    assert labels == ["elevated", "normal", "stage_1"]
    expected = sum((cc - rr) * math.log(cc / rr) for rr, cc in zip(r, c, strict=True))
    assert drift.categorical_psi(reference, current) == pytest.approx(expected)
    chi2, p = drift.chi_square(table)
    assert chi2 == pytest.approx(stats.chi2_contingency(table, correction=False).statistic)
    assert p < 1e-6
    assert drift.chi_square(np.array([[5], [7]])) == (0.0, 1.0)


def _frame(values: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(values)


def test_a_feature_drifts_only_when_psi_and_the_test_agree() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    reference = _frame(
        {
            "shifted": rng.normal(0, 1, n),
            "nudged": rng.normal(0, 1, n),
            "same": rng.normal(0, 1, n),
            "risk": rng.choice(["low", "high"], n, p=[0.8, 0.2]),
        }
    )
    current = _frame(
        {
            "shifted": rng.normal(1.0, 1, n),  # PSI ~ 0.8, p ~ 0: drift
            "nudged": rng.normal(0.15, 1, n),  # p small at n = 2,000, PSI ~ 0.02: no drift
            "same": rng.normal(0, 1, n),
            "risk": rng.choice(["low", "high"], n, p=[0.4, 0.6]),  # PSI ~ 0.6: drift
        }
    )
    result = drift.compare(
        reference, current, numeric=["shifted", "nudged", "same"], categorical=["risk"]
    )
    by_name = {f.name: f for f in result.features}
    assert by_name["nudged"].p_value < 0.01 and by_name["nudged"].psi < drift.PSI_THRESHOLD
    assert {f.name for f in result.drifted_features} == {"shifted", "risk"}
    assert result.drifted and result.checked == 4
    assert result.per_test_alpha == pytest.approx(drift.ALPHA / 4)
    assert by_name["same"].level == "stable" and by_name["shifted"].level == "major"


def test_small_samples_need_the_test_as_well_as_psi() -> None:
    # 12 values per side: PSI over ten bins is large by chance alone; KS is not fooled.
    rng = np.random.default_rng(11)
    reference = _frame({"x": rng.normal(0, 1, 12)})
    current = _frame({"x": rng.normal(0, 1, 12)})
    result = drift.compare(reference, current, numeric=["x"])
    assert result.features[0].psi > 0.25
    assert not result.drifted


def test_features_with_too_few_values_are_skipped_not_compared() -> None:
    reference = _frame({"x": [1.0, 2.0, None, None], "y": np.arange(4.0)})
    current = _frame({"x": [1.0, None, None, None], "y": np.arange(4.0)})
    result = drift.compare(reference, current, numeric=["x", "y", "absent"], min_values=3)
    assert result.skipped == ["x"]
    assert [f.name for f in result.features] == ["y"]


def test_feature_columns_take_the_registry_and_leave_calendar_features_out() -> None:
    numeric, categorical = drift.feature_columns(
        ["client_id", "as_of", "steps_mean_7d", "ldl_days_since", "sex", "health_risk_category"]
    )
    assert numeric == ["steps_mean_7d"]
    assert categorical == ["sex", "health_risk_category"]


def test_summary_is_json_ready() -> None:
    found = drift.numeric_drift("x", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    summary = found.summary()
    assert set(summary) >= {"name", "psi", "statistic", "p_value", "drifted"}
    assert "bins" not in summary
