"""HybridMF: known answers, cold start through features, implicit mode, exports."""

from __future__ import annotations

import itertools
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
from health_advisor.recommender.keras_hybrid import (
    GaussianPrior,
    RidgeTerms,
    group_posterior,
    group_ridge,
    ridge_sweeps,
)

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


@pytest.mark.parametrize("name", ["hybrid", "hybrid_ridge"])
def test_fits_a_rank_one_problem_far_better_than_biases(
    name: str, fitted: Fitted, suite_problem: Any, truth: Any
) -> None:
    model = fitted(name)
    grid = _grid([f"i{n:02d}" for n in range(10)])
    full = truth().ravel()  # includes the 30 % of cells never observed
    hybrid = np.sqrt(np.mean((model.predict(grid) - full) ** 2))
    bias = np.sqrt(np.mean((BiasBaseline().fit(suite_problem()[0]).predict(grid) - full) ** 2))
    assert hybrid < 0.35 * bias
    assert model.fit_report_["epochs"] >= 1


@pytest.mark.parametrize("name", ["hybrid", "hybrid_ridge"])
def test_cold_start_client_is_scored_from_features(
    name: str, fitted: Fitted, suite_problem: Any
) -> None:
    model = fitted(name)
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
        ({"ridge_sweeps": -1}, "ridge_sweeps must be an integer >= 0"),
        ({"ridge_clients": 0.0}, "ridge_clients must be a number"),
        ({"ridge_select": "yes"}, "ridge_select must be True or False"),
        ({"ridge_prior": "wishart"}, "ridge_prior must be one of"),
    ],
)
def test_bad_hyperparameters_fail_in_fit(
    params: dict[str, Any], message: str, suite_problem: Any
) -> None:
    with pytest.raises(InputError, match=message):
        HybridMF(**params).fit(*suite_problem())


@pytest.mark.parametrize("name", ["hybrid", "hybrid_ridge"])
def test_numpy_scorer_matches_the_keras_model(name: str, fitted: Fitted) -> None:
    model = fitted(name)
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


@pytest.mark.parametrize("name", ["hybrid", "hybrid_ridge"])
def test_saved_model_serving_signature_matches_the_keras_model(
    name: str, fitted: Fitted, tmp_path: Path
) -> None:
    import tensorflow as tf

    model = fitted(name)
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


def test_group_ridge_equals_a_direct_ridge_solve_per_group() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 3))
    groups = np.array([0, 0, 0, 0, 2, 2, 2, 0])  # group 1 has no rows; (0, 3) twice
    others = np.array([0, 1, 3, 3, 4, 5, 6, 2])
    residual = rng.normal(size=groups.size)
    out = group_ridge(groups, others, residual, vectors, n_groups=3, penalty=0.7)
    for g in (0, 2):
        rows = groups == g
        x = np.hstack([np.ones((rows.sum(), 1)), vectors[others[rows]]])
        expected = np.linalg.solve(x.T @ x + 0.7 * np.eye(4), x.T @ residual[rows])
        np.testing.assert_allclose(out[g], expected, atol=1e-10)
    np.testing.assert_array_equal(out[1], np.zeros(4))


def test_group_posterior_without_em_steps_is_the_ridge_solve_with_a_penalty_matrix() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 2))
    groups = np.array([0, 0, 0, 0, 2, 2, 2, 0])
    others = np.array([0, 1, 3, 3, 4, 5, 6, 2])
    residual = rng.normal(size=groups.size)
    penalty = np.array([[0.5, 0.2, 0.0], [0.2, 2.0, 0.1], [0.0, 0.1, 9.0]])
    out, prior = group_posterior(
        groups, others, residual, vectors, 3, GaussianPrior(penalty), scale=2.0, em_steps=0
    )
    for g in (0, 2):
        rows = groups == g
        x = np.hstack([np.ones((rows.sum(), 1)), vectors[others[rows]]])
        expected = np.linalg.solve(x.T @ x + 2.0 * penalty, x.T @ residual[rows])
        np.testing.assert_allclose(out[g], expected, atol=1e-10)
    np.testing.assert_array_equal(out[1], np.zeros(3))
    assert prior.penalty is penalty  # no M-step: the prior is returned as given


def test_group_posterior_em_recovers_the_prior_covariance_and_noise() -> None:
    rng = np.random.default_rng(3)
    n_groups, per_group, n_others = 400, 15, 60
    truth_sd = np.array([2.0, 1.0, 0.1])  # (bias, two directions): one nearly unused
    w = rng.normal(size=(n_groups, 3)) * truth_sd
    vectors = rng.normal(size=(n_others, 2))
    groups = np.repeat(np.arange(n_groups), per_group)
    others = rng.integers(0, n_others, groups.size)
    residual = w[groups, 0] + (w[groups, 1:] * vectors[others]).sum(1)
    residual += 0.5 * rng.normal(size=groups.size)
    _, prior = group_posterior(
        groups, others, residual, vectors, n_groups, GaussianPrior(np.eye(3)), em_steps=60
    )
    assert prior.sigma2 == pytest.approx(0.25, rel=0.1)
    learned_sd = np.sqrt(prior.sigma2 / np.diag(prior.penalty))
    np.testing.assert_allclose(learned_sd[:2], truth_sd[:2], rtol=0.15)
    assert learned_sd[2] < 0.3  # shrinks the unused direction far harder than the others


def _objective(t: RidgeTerms, u: Any, i: Any, y: Any, lam_c: float, lam_i: float) -> float:
    p = t.fixed_c + t.ec
    pred = t.g + t.b0 + t.bc[u] + t.fb[u] + t.bi[i] + t.bt[i] + (p[u] * (t.ei + t.t)[i]).sum(1)
    clients = lam_c * ((t.bc**2).sum() + (t.ec**2).sum())
    return float(((y - pred) ** 2).sum() + clients + lam_i * ((t.bi**2).sum() + (t.ei**2).sum()))


def test_ridge_sweeps_never_increase_the_penalised_loss_and_fit_low_rank_data() -> None:
    rng = np.random.default_rng(1)
    n, m, d = 30, 12, 2
    u, i = np.divmod(rng.choice(n * m, size=250, replace=False), m)
    y = (rng.normal(size=(n, d)) @ rng.normal(size=(m, d)).T)[u, i] + 0.05 * rng.normal(size=250)

    def start() -> RidgeTerms:
        zeros = np.zeros
        return RidgeTerms(
            g=0.0, b0=0.0, e0=zeros(d), fixed_c=zeros((n, d)), fb=zeros(n), t=zeros((m, d)),
            bt=zeros(m), bc=zeros(n), ec=zeros((n, d)), bi=zeros(m),
            ei=np.random.default_rng(2).normal(size=(m, d)),
        )  # fmt: skip

    losses = []
    for sweeps in (0, 1, 3, 10):
        terms = ridge_sweeps(
            start(), u, i, y, sweeps=sweeps, penalty_clients=0.1, penalty_items=0.1
        )
        losses.append(_objective(terms, u, i, y, 0.1, 0.1))
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(losses))
    assert losses[-1] < 0.1 * float((y**2).sum())


def test_ridge_penalty_is_chosen_on_validation_rows_and_reported(
    fitted: Fitted, make_problem: Any
) -> None:
    report = fitted("hybrid_ridge").fit_report_  # the default, learned prior
    assert report["ridge_sweeps"] == 4
    assert report["ridge_prior"] == "learned"
    scores = report["ridge_validation_mse"]
    assert set(scores) == {"0.333", "1.0", "3.0"}
    assert report["ridge_prior_scale"] == float(min(scores, key=scores.__getitem__))
    assert report["ridge_penalties"] == [1.0, 1.0]  # RIDGE_HYBRID: the isotropic start
    learned = report["ridge_learned"]
    assert learned["noise_variance"] > 0 and learned["mean_vector_penalty"] > 0
    interactions, clients, items = make_problem(seed=3, n_clients=40, n_items=6)
    params = fitted("hybrid_ridge").get_params()
    iso = HybridMF(**{**params, "ridge_prior": "isotropic", "epochs": 3})
    report = iso.fit(interactions, clients, items).fit_report_
    scores = report["ridge_validation_mse"]
    assert set(scores) == {"1.0", "3.0", "10.0"}
    best = float(min(scores, key=scores.__getitem__))
    assert report["ridge_penalties"] == [best * 1.0, best * 1.0]
    assert fitted("hybrid").fit_report_["ridge_sweeps"] == 0
    assert fitted("hybrid_implicit").get_params()["ridge_sweeps"] == 0
    interactions, clients, items = make_problem(seed=3, n_clients=12, n_items=5)
    model = HybridMF(
        mode="implicit", embedding_dim=4, hidden_units=4, epochs=2, ridge_sweeps=3
    ).fit(interactions.assign(value=(interactions["value"] > 3).astype(float)), clients, items)
    assert model.fit_report_["ridge_sweeps"] == 0
