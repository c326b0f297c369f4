"""One shared set of checks that every recommender passes (like sklearn's
``parametrize_with_checks``): the estimator contract, input validation, cold-start
fallback, recommend, save/load and determinism. Variants live in conftest.py."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from health_advisor.errors import InputError, ModelNotReady
from health_advisor.recommender import NotFittedError, Recommender

NAMES = ["bias", "popularity", "rules", "hybrid", "hybrid_implicit", "hybrid_ridge"]
Fitted = Callable[..., Any]
Factories = dict[str, Callable[[], Any]]


@pytest.mark.parametrize("name", NAMES)
def test_init_only_stores_hyperparameters(name: str, estimators: Factories) -> None:
    model = estimators[name]()
    signature = inspect.signature(type(model).__init__)
    assert set(model.get_params()) == {p for p in signature.parameters if p != "self"}
    assert not [a for a in vars(model) if a.endswith("_")]
    assert repr(model).startswith(type(model).__name__ + "(")


@pytest.mark.parametrize("name", NAMES)
def test_set_params_rejects_unknown_names(name: str, estimators: Factories) -> None:
    with pytest.raises(InputError, match="unknown hyperparameter"):
        estimators[name]().set_params(no_such_param=1)


@pytest.mark.parametrize("name", NAMES)
def test_use_before_fit_raises_not_fitted(name: str, estimators: Factories) -> None:
    model = estimators[name]()
    pairs = pd.DataFrame({"client_id": ["c000"], "intervention_id": ["i00"]})
    with pytest.raises(NotFittedError):
        model.predict(pairs)
    with pytest.raises(ModelNotReady):
        model.recommend("c000")
    with pytest.raises(NotFittedError):
        model.save("unused")


@pytest.mark.parametrize("name", ["bias", "popularity", "rules"])
def test_fit_returns_self(name: str, estimators: Factories, suite_problem: Any) -> None:
    model = estimators[name]()
    assert model.fit(*suite_problem()) is model


@pytest.mark.parametrize("name", NAMES)
def test_fit_leaves_input_alone_and_learns_underscore_attributes(
    name: str, fitted: Fitted, suite_problem: Any
) -> None:
    interactions, _, _ = suite_problem()
    model = fitted(name)  # fitted on an equal, separately built frame
    pd.testing.assert_frame_equal(interactions, suite_problem()[0])
    learned = {a for a in vars(model) if a.endswith("_")}
    assert {"clients_", "items_", "value_range_"} <= learned


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ids", ["str", "int"])
def test_predict_returns_finite_1d_values(
    name: str, ids: str, fitted: Fitted, suite_problem: Any
) -> None:
    interactions, _, _ = suite_problem(ids)
    pred = fitted(name, ids).predict(interactions)
    assert pred.shape == (len(interactions),)
    assert pred.dtype == np.float64
    assert np.isfinite(pred).all()
    if name == "hybrid_implicit":
        assert ((pred > 0) & (pred < 1)).all()
    else:
        low, high = interactions["value"].min(), interactions["value"].max()
        assert (pred >= low - 1).all() and (pred <= high + 1).all()


@pytest.mark.parametrize("name", NAMES)
def test_recommend_is_sorted_sized_and_honours_exclude(name: str, fitted: Fitted) -> None:
    model = fitted(name)
    top = model.recommend("c001", k=4)
    assert len(top) == 4
    scores = [s for _, s in top]
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(i, str) for i, _ in top)
    best = top[0][0]
    rest = model.recommend("c001", k=20, exclude=[best, "not-an-item"])
    assert best not in [i for i, _ in rest]
    assert len(rest) == len(model.items_) - 1


@pytest.mark.parametrize("name", NAMES)
def test_rank_items_is_the_order_recommend_uses(name: str, fitted: Fitted) -> None:
    model = fitted(name)
    scores = model.rank_items(["c001", "nobody"])
    assert scores.shape == (2, len(model.items_)) and scores.dtype == np.float64
    order = [model.items_.ids[i] for i in np.argsort(-scores[0], kind="stable")]
    assert [i for i, _ in model.recommend("c001", k=len(order))] == order
    if name in ("bias", "hybrid", "hybrid_ridge"):  # ranking by predicted value
        np.testing.assert_allclose(scores, model.score_items(["c001", "nobody"]))


@pytest.mark.parametrize("name", NAMES)
def test_unknown_client_gets_the_fallback(name: str, fitted: Fitted) -> None:
    model = fitted(name)
    pairs = pd.DataFrame({"client_id": ["nobody"] * 3, "intervention_id": ["i00", "i01", "i02"]})
    assert np.isfinite(model.predict(pairs)).all()
    assert len(model.recommend("nobody", k=3)) == 3


@pytest.mark.parametrize("name", NAMES)
def test_unknown_intervention_is_an_input_error(name: str, fitted: Fitted) -> None:
    pairs = pd.DataFrame({"client_id": ["c000"], "intervention_id": ["i99"]})
    with pytest.raises(InputError, match="unknown intervention_id 'i99'"):
        fitted(name).predict(pairs)


def _bad_inputs(good: pd.DataFrame) -> dict[str, tuple[Any, str]]:
    return {
        "not a frame": (good.to_dict(), "expected a pandas DataFrame"),
        "missing column": (good.drop(columns="value"), "missing column.*'value'"),
        "empty": (good.iloc[:0], "no rows"),
        "float ids": (good.assign(client_id=1.5), "expected string or integer ids"),
        "missing id": (good.assign(client_id=None), "missing id"),
        "text values": (good.assign(value="high"), "expected numbers"),
        "nan value": (good.assign(value=np.where(good.index == 3, np.nan, good["value"])), "row 3"),
    }


CASES = ["not a frame", "missing column", "empty", "float ids", "missing id", "text values"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", [*CASES, "nan value"])
def test_bad_interactions_give_one_clear_input_error(
    name: str, case: str, estimators: Factories, suite_problem: Any
) -> None:
    interactions, clients, items = suite_problem()
    frame, message = _bad_inputs(interactions)[case]
    with pytest.raises(InputError, match=message):
        estimators[name]().fit(frame, clients, items)


@pytest.mark.parametrize("name", NAMES)
def test_bad_pairs_and_k_give_input_errors(name: str, fitted: Fitted) -> None:
    with pytest.raises(InputError, match="missing column"):
        fitted(name).predict(pd.DataFrame({"client_id": ["c000"]}))
    with pytest.raises(InputError, match="k must be a positive integer"):
        fitted(name).recommend("c000", k=0)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_predicts_identically(
    name: str, fitted: Fitted, suite_problem: Any, tmp_path: Path
) -> None:
    model = fitted(name)
    interactions, _, _ = suite_problem()
    model.save(tmp_path / "model")
    assert {p.name for p in (tmp_path / "model").iterdir()} == {"model.json", "weights.npz"}
    loaded = Recommender.load(tmp_path / "model")
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(interactions), model.predict(interactions))
    assert loaded.recommend("c002", k=3) == model.recommend("c002", k=3)


@pytest.mark.parametrize("name", ["bias", "popularity", "rules", "hybrid", "hybrid_ridge"])
def test_refit_with_the_same_seed_is_deterministic(
    name: str, estimators: Factories, fitted: Fitted, suite_problem: Any
) -> None:
    interactions, _, _ = suite_problem()
    again = estimators[name]().fit(*suite_problem())
    np.testing.assert_array_equal(again.predict(interactions), fitted(name).predict(interactions))
