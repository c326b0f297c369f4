"""Baselines: exact answers on problems whose solution is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from health_advisor.errors import InputError
from health_advisor.recommender import BiasBaseline, PopularityBaseline, RulesBaseline


def _additive(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=12), rng.normal(size=7)
    cu, ci = np.nonzero(rng.random((12, 7)) < 0.8)
    frame = pd.DataFrame({"client_id": cu, "intervention_id": ci, "value": 3 + a[cu] + b[ci]})
    return frame, 3 + a[:, None] + b[None, :]


def test_bias_baseline_recovers_additive_values_without_regularisation() -> None:
    frame, full = _additive()
    model = BiasBaseline(reg_client=0, reg_item=0, n_iter=200).fit(frame)
    grid = pd.DataFrame(
        {"client_id": np.repeat(np.arange(12), 7), "intervention_id": np.tile(np.arange(7), 12)}
    )
    np.testing.assert_allclose(model.predict(grid), full.ravel(), atol=1e-6)


def test_bias_baseline_shrinks_biases_and_ignores_features_for_new_clients() -> None:
    frame, _ = _additive()
    loose = BiasBaseline(reg_client=0, reg_item=0).fit(frame)
    tight = BiasBaseline(reg_client=1e6, reg_item=1e6).fit(frame)
    assert np.abs(tight.client_bias_).max() < 1e-3 < np.abs(loose.client_bias_).max()
    pairs = pd.DataFrame({"client_id": [999], "intervention_id": [2]})
    expected = loose.global_mean_ + loose.item_bias_[loose.items_.lookup([2])[0]]
    assert loose.predict(pairs)[0] == pytest.approx(expected)


def test_bias_baseline_rejects_bad_hyperparameters() -> None:
    frame, _ = _additive()
    with pytest.raises(InputError, match="reg_client must be a number >= 0"):
        BiasBaseline(reg_client=-1).fit(frame)
    with pytest.raises(InputError, match="n_iter"):
        BiasBaseline(n_iter=0).fit(frame)


def test_popularity_ranks_by_count_for_everyone() -> None:
    frame = pd.DataFrame(
        {
            "client_id": ["a", "b", "c", "a", "b", "a"],
            "intervention_id": ["x", "x", "x", "y", "y", "z"],
            "value": [1.0, 1.0, 1.0, 5.0, 5.0, 5.0],
        }
    )
    model = PopularityBaseline(prior=0).fit(frame)
    assert [i for i, _ in model.recommend("a", k=3)] == ["x", "y", "z"]
    assert [i for i, _ in model.recommend("new", k=2, exclude=["x"])] == ["y", "z"]
    pairs = pd.DataFrame({"client_id": ["a", "a"], "intervention_id": ["x", "y"]})
    np.testing.assert_allclose(model.predict(pairs), [1.0, 5.0])


def goal_match(clients: pd.DataFrame | None, items: pd.DataFrame) -> np.ndarray:
    """1 where the intervention's goal is the client's risk (a guideline-style rule)."""
    assert clients is not None
    risk = clients["risk"].to_numpy(dtype=object)[:, None]
    return (risk == items["goal"].to_numpy(dtype=object)[None, :]).astype(float)


def _rules_problem() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    clients = pd.DataFrame({"risk": ["bp", "sleep", "bp"]}, index=["a", "b", "c"])
    items = pd.DataFrame({"goal": ["bp", "sleep", "weight"]}, index=["walk", "nap", "diet"])
    rows = [(c, i) for c in clients.index for i in items.index]
    frame = pd.DataFrame(rows, columns=["client_id", "intervention_id"])
    match = [clients.loc[c, "risk"] == items.loc[i, "goal"] for c, i in rows]
    return frame.assign(value=np.where(match, 80.0, 20.0)), clients, items


def test_rules_rank_by_the_rule_and_calibrate_to_value_scale() -> None:
    frame, clients, items = _rules_problem()
    model = RulesBaseline(rule=goal_match).fit(frame, clients, items)
    assert model.recommend("b", k=1)[0][0] == "nap"
    assert model.recommend("a", k=1)[0][0] == "walk"
    np.testing.assert_allclose(model.predict(frame), frame["value"], atol=1e-9)


def test_rules_need_the_catalog_and_exactly_one_source() -> None:
    frame, clients, items = _rules_problem()
    with pytest.raises(InputError, match="item_features"):
        RulesBaseline(rule=goal_match).fit(frame, clients)
    with pytest.raises(InputError, match="exactly one"):
        RulesBaseline().fit(frame, clients, items)
    with pytest.raises(InputError, match="no column 'rank'"):
        RulesBaseline(score_column="rank").fit(frame, clients, items)


def test_rules_with_a_lambda_cannot_be_saved(tmp_path: Path) -> None:
    frame, clients, items = _rules_problem()
    model = RulesBaseline(rule=lambda c, i: goal_match(c, i)).fit(frame, clients, items)
    with pytest.raises(InputError, match="not an importable function"):
        model.save(tmp_path / "rules")
