"""SparkALS on a real local Spark (local[2]): one session shared by the module.

Spark start-up costs seconds, so the Spark tests are few and reuse one fitted model where
they can; checks that need no Spark (hyperparameters, not fitted, lazy import) run first.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from health_advisor.errors import InputError
from health_advisor.recommender import BiasBaseline, NotFittedError, Recommender

pyspark = pytest.importorskip("pyspark")

from health_advisor.recommender.spark_als import (  # noqa: E402
    SparkALS,
    active_session,
    start_session,
)

MASTER = "local[2]"
N_CLIENTS, N_ITEMS = 60, 20
CLIENTS = [f"c{n:03d}" for n in range(N_CLIENTS)]
ITEMS = [f"i{n:02d}" for n in range(N_ITEMS)]
FAST = {"rank": 3, "max_iter": 10, "reg_param": 0.05, "num_blocks": 2, "seed": 7}
QUICK_JVM = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -Xss16m",
    "spark.sql.shuffle.partitions": "2",
}
"""Short-lived JVM: the C1 compiler only halves the first fit; its larger frames need a
bigger thread stack for ALS's deep task lineage."""


def _truth(seed: int = 0) -> np.ndarray:
    """Rank-2 adherence-like matrix on a 0-100 scale (wide on purpose: ALS needs scaling)."""
    rng = np.random.default_rng(seed)
    clients, items = rng.normal(size=(N_CLIENTS, 2)), rng.normal(size=(N_ITEMS, 2))
    client_bias, item_bias = rng.normal(scale=5, size=N_CLIENTS), rng.normal(scale=8, size=N_ITEMS)
    return 55 + client_bias[:, None] + item_bias[None, :] + 12 * clients @ items.T


def _interactions(seed: int = 0, density: float = 0.6) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    cu, ci = np.nonzero(rng.random((N_CLIENTS, N_ITEMS)) < density)
    noisy = _truth(seed)[cu, ci] + rng.normal(scale=2.0, size=cu.size)
    return pd.DataFrame(
        {
            "client_id": [CLIENTS[c] for c in cu],
            "intervention_id": [ITEMS[i] for i in ci],
            "value": noisy,
        }
    )


def _grid(items: list[Any] = ITEMS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": np.repeat(CLIENTS, len(items)),
            "intervention_id": np.tile(np.asarray(items, dtype=object), N_CLIENTS),
        }
    )


# -- no Spark needed ---------------------------------------------------------------------


def test_importing_the_package_does_not_import_pyspark() -> None:
    code = (
        "import sys, health_advisor.recommender, health_advisor.recommender.spark_als; "
        "print('pyspark' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_use_before_fit_raises_not_fitted(tmp_path: Path) -> None:
    model = SparkALS()
    with pytest.raises(NotFittedError):
        model.predict(_grid()[:3])
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "m")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rank": 0}, "rank must be an integer >= 1"),
        ({"reg_param": -0.1}, "reg_param must be a number >= 0"),
        ({"centering": "median"}, "centering must be one of"),
        ({"implicit_prefs": "yes"}, "implicit_prefs must be True or False"),
        ({"master": ""}, "master must be a non-empty string"),
    ],
)
def test_bad_hyperparameters_fail_before_spark_starts(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        SparkALS(**params).fit(_interactions())


# -- one local Spark for the rest ----------------------------------------------------------


@pytest.fixture(scope="module")
def spark_jvm() -> Iterator[None]:
    """Stops whatever session the module's tests left running."""
    yield
    session = active_session()
    if session is not None:
        session.stop()


@pytest.fixture
def spark(spark_jvm: None) -> Any:
    """The module's session (started on first use, or again after a test stopped it)."""
    return start_session(MASTER, conf=QUICK_JVM)


def _fit_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Interactions plus a catalog-only intervention and a features-only client."""
    catalog = pd.DataFrame({"kind": ["a"] * (N_ITEMS + 1)}, index=[*ITEMS, "i-new"])
    clients = pd.DataFrame({"age": np.arange(N_CLIENTS + 1.0)}, index=[*CLIENTS, "c-new"])
    return _interactions(), clients, catalog


@pytest.fixture(scope="module")
def fitted(spark_jvm: None) -> SparkALS:
    start_session(MASTER, conf=QUICK_JVM)
    return SparkALS(**FAST).fit(*_fit_inputs())


def test_recovers_a_low_rank_truth_far_better_than_the_mean(fitted: SparkALS) -> None:
    truth = _truth().ravel()  # includes the 40 % of cells never observed
    grid = _grid()
    train = _interactions()
    als = np.sqrt(np.mean((fitted.predict(grid) - truth) ** 2))
    mean = np.sqrt(np.mean((train["value"].mean() - truth) ** 2))
    bias = np.sqrt(np.mean((BiasBaseline().fit(train).predict(grid) - truth) ** 2))
    assert als < 0.25 * mean
    assert als < 0.5 * bias
    assert fitted.client_factors_.shape == (N_CLIENTS + 1, 3)


def test_fit_reuses_the_callers_session_and_leaves_it_running(fitted: SparkALS, spark: Any) -> None:
    assert fitted.fit_report_["own_session"] is False
    assert fitted.fit_report_["master"] == MASTER
    assert active_session() is spark
    assert spark.range(3).count() == 3


def test_clients_and_interventions_without_interactions_fall_back(fitted: SparkALS) -> None:
    items = fitted.items_.ids
    for client in ("nobody", "c-new"):  # unknown, and known from features only
        pairs = pd.DataFrame({"client_id": client, "intervention_id": items})
        expected = fitted.global_mean_ + fitted.item_bias_
        np.testing.assert_allclose(fitted.predict(pairs), np.clip(expected, *fitted.value_range_))
    assert fitted.item_bias_[items.index("i-new")] == 0.0
    new_item = fitted.predict(pd.DataFrame({"client_id": ["c000"], "intervention_id": ["i-new"]}))
    assert new_item[0] == pytest.approx(fitted.global_mean_ + fitted.client_bias_[0])
    top = fitted.recommend("nobody", k=3)
    assert [i for i, _ in top] == [items[j] for j in np.argsort(-fitted.item_bias_)[:3]]


def test_save_load_round_trip_predicts_identically(fitted: SparkALS, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert isinstance(loaded, SparkALS)
    assert loaded.get_params() == fitted.get_params()
    grid = _grid([*ITEMS, "i-new"])
    np.testing.assert_array_equal(loaded.predict(grid), fitted.predict(grid))
    assert loaded.recommend("c004", k=5, exclude=["i00"]) == fitted.recommend(
        "c004", k=5, exclude=["i00"]
    )
    scorer = loaded.to_scorer()  # float32 NumPy serving path
    ids = [*CLIENTS[:5], "nobody"]
    np.testing.assert_allclose(scorer.score_all(ids), loaded.score_items(ids), atol=1e-3)


def test_implicit_mode_ranks_accepted_above_declined(spark: Any) -> None:
    frame = _interactions(seed=3)
    accepted = (frame["value"] > frame["value"].median()).astype(float)
    model = SparkALS(**{**FAST, "implicit_prefs": True, "alpha": 5.0})
    model.fit(frame.assign(value=accepted))
    score = model.predict(frame)
    assert np.isfinite(score).all()
    pos, neg = score[accepted == 1], score[accepted == 0]
    assert (pos[:, None] > neg[None, :]).mean() > 0.85
    unknown = model.score_items(["nobody"])[0]
    np.testing.assert_allclose(unknown, model.fallback_factors_ @ model.item_factors_.T)


def test_own_session_is_started_and_stopped_and_refit_is_deterministic(
    fitted: SparkALS,
) -> None:
    running = active_session()
    if running is not None:
        running.stop()
    again = SparkALS(**{**FAST, "master": MASTER}).fit(*_fit_inputs())
    assert again.fit_report_["own_session"] is True
    assert again.fit_report_["master"] == MASTER
    assert active_session() is None
    grid = _grid([*ITEMS, "i-new"])
    np.testing.assert_array_equal(again.predict(grid), fitted.predict(grid))
