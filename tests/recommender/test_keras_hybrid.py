"""HybridMF: known answers, cold start through features, implicit mode, exports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from health_advisor.errors import InputError
from health_advisor.recommender import BiasBaseline, HybridMF

Fitted = Callable[..., Any]


CLIENTS = [f"c{n:03d}" for n in range(40)]


def _grid(items: list[Any]) -> pd.DataFrame:
    """Every (client, item) cell, clients c000..c039 in order, then ``items`` in order."""
    return pd.DataFrame(
        {"client_id": np.repeat(CLIENTS, len(items)), "intervention_id": np.tile(items, 40)}
    )


def test_importing_the_package_does_not_import_tensorflow() -> None:
    code = "import sys, health_advisor.recommender; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fits_a_rank_one_problem_far_better_than_biases(
    fitted: Fitted, suite_problem: Any, truth: Any
) -> None:
    model = fitted("hybrid")
    grid = _grid([f"i{n:02d}" for n in range(10)])
    full = truth().ravel()  # includes the 30 % of cells never observed
    hybrid = np.sqrt(np.mean((model.predict(grid) - full) ** 2))
    bias = np.sqrt(np.mean((BiasBaseline().fit(suite_problem()[0]).predict(grid) - full) ** 2))
    assert hybrid < 0.35 * bias
    assert model.fit_report_["epochs"] >= 1


def test_cold_start_client_is_scored_from_features(fitted: Fitted, suite_problem: Any) -> None:
    model = fitted("hybrid")
    items = model.items_.ids
    pairs = pd.DataFrame({"client_id": ["new"] * len(items), "intervention_id": items})
    high = model.predict(pairs, client_features=pd.DataFrame({"trait": [2.0]}, index=["new"]))
    low = model.predict(pairs, client_features=pd.DataFrame({"trait": [-2.0]}, index=["new"]))
    plain = model.predict(pairs)
    is_up = (suite_problem()[2].loc[items, "kind"] == "up").to_numpy()
    assert (high[is_up] > low[is_up]).all() and (high[~is_up] < low[~is_up]).all()
    assert np.all(np.minimum(high, low) <= plain + 1e-9)
    assert np.all(plain <= np.maximum(high, low) + 1e-9)


def test_implicit_mode_ranks_accepted_above_declined(make_problem: Any) -> None:
    interactions, clients, items = make_problem(seed=1)
    accepted = (interactions["value"] > 3).astype(float)
    model = HybridMF(
        mode="implicit", embedding_dim=8, hidden_units=8, epochs=40, patience=40,
        batch_size=64, learning_rate=0.02, l2=0.001,
    )  # fmt: skip
    model.fit(interactions.assign(value=accepted), clients, items)
    prob = model.predict(interactions)
    assert ((prob > 0) & (prob < 1)).all()
    pos, neg = prob[accepted == 1], prob[accepted == 0]
    auc = (pos[:, None] > neg[None, :]).mean()
    assert auc > 0.85


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "both"}, "mode must be one of"),
        ({"embedding_dim": 0}, "embedding_dim must be an integer >= 1"),
        ({"id_dropout": 1.5}, r"id_dropout must be a number in \[0.0, 1.0\]"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"validation_fraction": 0.9}, "validation_fraction"),
    ],
)
def test_bad_hyperparameters_fail_in_fit(
    params: dict[str, Any], message: str, suite_problem: Any
) -> None:
    with pytest.raises(InputError, match=message):
        HybridMF(**params).fit(*suite_problem())


def test_numpy_scorer_matches_the_keras_model(fitted: Fitted) -> None:
    model = fitted("hybrid")
    grid = _grid(model.items_.ids)
    scorer = model.to_scorer()
    np.testing.assert_allclose(scorer.score_all(CLIENTS).ravel(), model.predict(grid), atol=1e-5)
    new = pd.DataFrame({"trait": [1.3]}, index=["new"])
    pairs = pd.DataFrame({"client_id": "new", "intervention_id": model.items_.ids})
    np.testing.assert_allclose(
        scorer.score_all(["new"], client_features=new)[0],
        model.predict(pairs, client_features=new),
        atol=1e-5,
    )


def test_saved_model_serving_signature_matches_the_keras_model(
    fitted: Fitted, tmp_path: Path
) -> None:
    import tensorflow as tf

    model = fitted("hybrid")
    grid = _grid(model.items_.ids)
    model.export_saved_model(tmp_path / "saved")
    served = tf.saved_model.load(str(tmp_path / "saved"))
    rows = model.client_rows(grid["client_id"])
    out = served.serve(
        client_index=tf.constant(rows.idx, tf.int32),
        item_index=tf.constant(model.items_.lookup(grid["intervention_id"]), tf.int32),
        client_features=tf.constant(rows.x, tf.float32),
        has_features=tf.constant(rows.has_x, tf.float32),
    )
    np.testing.assert_allclose(out["score"].numpy(), model.predict(grid), atol=1e-5)
