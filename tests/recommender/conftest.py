"""Tiny seeded recommender problems with a known structure, shared by the tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

Problem = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _make_problem(
    seed: int = 0, n_clients: int = 40, n_items: int = 10, density: float = 0.7, ids: str = "str"
) -> Problem:
    """Rank-1 plus biases: value = 3 + a_c * b_i + noise; the client feature ``trait``
    is a_c itself and the item feature ``kind`` is the sign of b_i, so features alone
    predict a new client's preferences."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n_clients)
    b = rng.choice([-1.0, 1.0], size=n_items) * rng.uniform(0.5, 1.5, size=n_items)
    client_ids = [f"c{n:03d}" for n in range(n_clients)] if ids == "str" else list(range(n_clients))
    item_ids = (
        [f"i{n:02d}" for n in range(n_items)] if ids == "str" else list(range(100, 100 + n_items))
    )
    mask = rng.random((n_clients, n_items)) < density
    cu, ci = np.nonzero(mask)
    values = 3 + a[cu] * b[ci] + rng.normal(scale=0.05, size=cu.size)
    interactions = pd.DataFrame(
        {
            "client_id": [client_ids[c] for c in cu],
            "intervention_id": [item_ids[i] for i in ci],
            "value": values,
        }
    )
    clients = pd.DataFrame({"client_id": client_ids, "trait": a}).set_index("client_id")
    items = pd.DataFrame(
        {"intervention_id": item_ids, "kind": np.where(b > 0, "up", "down")}
    ).set_index("intervention_id")
    return interactions, clients, items


def _truth(seed: int = 0) -> np.ndarray:
    """Noise-free (40 clients, 10 items) matrix of ``make_problem(seed)`` with defaults."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=40)
    b = rng.choice([-1.0, 1.0], size=10) * rng.uniform(0.5, 1.5, size=10)
    return 3 + np.outer(a, b)


@pytest.fixture(scope="session")
def make_problem() -> Callable[..., Problem]:
    """``make_problem(seed=0, n_clients=40, n_items=10, density=0.7, ids="str")``."""
    return _make_problem


@pytest.fixture(scope="session")
def truth() -> Callable[..., np.ndarray]:
    return _truth


@pytest.fixture(scope="session")
def fast_hybrid() -> dict[str, Any]:
    return dict(FAST_HYBRID)


FAST_HYBRID: dict[str, Any] = {
    "embedding_dim": 8,
    "hidden_units": 8,
    "epochs": 60,
    "patience": 60,
    "batch_size": 64,
    "learning_rate": 0.02,
    "l2": 0.001,
}
"""Hyperparameters that fit the tiny problem in a few seconds."""

RIDGE_HYBRID: dict[str, Any] = {
    **FAST_HYBRID,
    "id_dropout": 1.0,
    "use_history": False,
    "ridge_sweeps": 4,
    "ridge_clients": 1.0,
    "ridge_items": 1.0,
}
"""The clinic's two-stage shape: features by gradient, ids by ridge sweeps."""


def _estimators() -> dict[str, Callable[[], Any]]:
    from health_advisor.recommender import (
        BiasBaseline,
        HybridMF,
        PopularityBaseline,
        RulesBaseline,
    )

    return {
        "bias": BiasBaseline,
        "popularity": PopularityBaseline,
        "rules": lambda: RulesBaseline(score_column="priority"),
        "hybrid": lambda: HybridMF(**FAST_HYBRID),
        "hybrid_implicit": lambda: HybridMF(mode="implicit", **FAST_HYBRID),
        "hybrid_ridge": lambda: HybridMF(**RIDGE_HYBRID),
    }


ESTIMATOR_NAMES = ["bias", "popularity", "rules", "hybrid", "hybrid_implicit", "hybrid_ridge"]


def _suite_problem(ids: str = "str") -> Problem:
    """The tiny problem plus a numeric catalog column ``priority`` for RulesBaseline."""
    interactions, clients, items = _make_problem(ids=ids)
    return interactions, clients, items.assign(priority=np.arange(len(items), dtype=float))


@pytest.fixture(scope="session")
def estimators() -> dict[str, Callable[[], Any]]:
    """Factories of every estimator variant the shared suite checks."""
    return _estimators()


@pytest.fixture(scope="session")
def suite_problem() -> Callable[..., Problem]:
    return _suite_problem


@pytest.fixture(scope="session")
def fitted() -> Callable[..., Any]:
    """``fitted(name, ids="str")``: one fit per variant and id type for the whole run."""
    cache: dict[tuple[str, str], Any] = {}
    factories = _estimators()

    def get(name: str, ids: str = "str") -> Any:
        if (name, ids) not in cache:
            cache[(name, ids)] = factories[name]().fit(*_suite_problem(ids))
        return cache[(name, ids)]

    return get
