"""Optuna search: a seeded, budgeted study over BiasBaseline on tiny data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from health_advisor.errors import InputError
from health_advisor.recommender import BiasBaseline
from health_advisor.recommender.evaluation import temporal_split
from health_advisor.recommender.tuning import bias_space, direction_for, tune


def _split(make_problem: Callable[..., Any]) -> Any:
    interactions, _, items = make_problem(n_clients=30, n_items=8, density=0.9)
    values = interactions.assign(at=range(len(interactions)))
    return temporal_split(values, test_fraction=0.3, cold_fraction=0.0), items


def test_tune_bias_baseline_is_seeded_and_budgeted(make_problem: Callable[..., Any]) -> None:
    split, items = _split(make_problem)
    first = tune(bias_space, split, n_trials=3, metric="rmse", seed=1, item_features=items)
    again = tune(bias_space, split, n_trials=3, metric="rmse", seed=1, item_features=items)
    assert first.direction == "minimize"
    assert set(first.best_params) == {"reg_client", "reg_item"}
    assert first.best_params == again.best_params
    assert len(first.trials) == 3 and (first.trials["state"] == "COMPLETE").all()
    assert first.best_value == pytest.approx(first.trials["value"].min())
    best = BiasBaseline(**first.best_params).fit(split.train, item_features=items)
    assert best.predict(split.test).shape == (len(split.test),)
    summary = first.summary()
    assert summary["n_complete"] == 3 and summary["metric"] == "warm:rmse"


def test_tune_validates(make_problem: Callable[..., Any]) -> None:
    split, _ = _split(make_problem)
    assert direction_for("ndcg@10") == "maximize"
    with pytest.raises(InputError, match="budget"):
        tune(bias_space, split, n_trials=None, timeout_s=None)
    with pytest.raises(InputError, match="no 'cold' segment"):
        tune(bias_space, split, n_trials=1, segment="cold")
    with pytest.raises(InputError, match="no trial completed"):
        tune(bias_space, split, n_trials=1, metric="no_such_metric")
