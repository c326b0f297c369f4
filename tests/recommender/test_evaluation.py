"""Evaluation: metrics with hand-computed answers, the split, bootstrap, the report."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from health_advisor.errors import InputError
from health_advisor.recommender import BiasBaseline, PopularityBaseline
from health_advisor.recommender.evaluation import (
    ORACLE,
    RANDOM,
    EvalConfig,
    Split,
    average_precision_at_k,
    bootstrap_ci,
    bootstrap_weights,
    catalog_coverage,
    dcg,
    evaluate_models,
    hold_out_clients,
    mae,
    ndcg_at_k,
    noise_floor_rmse,
    oracle_ndcg_ratio,
    oracle_ratios,
    precision_at_k,
    random_ndcg_ratio,
    random_ratios,
    ranking_metrics,
    recall_at_k,
    render_report,
    report_wide,
    rmse,
    temporal_split,
)

LOG3 = math.log2(3)


# --------------------------------------------------------------------------- scalar metrics
def test_rmse_and_mae_known_values() -> None:
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    assert noise_floor_rmse([0.0, 10.0], [5.0, 5.0]) == pytest.approx(5.0)


def test_rmse_rejects_mismatched_input() -> None:
    with pytest.raises(InputError, match="1-D"):
        rmse([1, 2], [1])
    with pytest.raises(InputError):
        mae([], [])


def test_dcg_and_ndcg() -> None:
    assert dcg([3, 2, 1], 2) == pytest.approx(3 + 2 / LOG3)
    gains = {"a": 3.0, "b": 1.0}
    assert ndcg_at_k(["b", "a"], gains, 2) == pytest.approx((1 + 3 / LOG3) / (3 + 1 / LOG3))
    assert ndcg_at_k(["a", "b"], gains, 2) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], gains, 2) == 0.0
    assert math.isnan(ndcg_at_k(["a"], {}, 2))


def test_precision_recall_average_precision() -> None:
    ranked = ["a", "b", "c", "d"]
    relevant = {"a", "c"}
    assert precision_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, relevant, 3) == pytest.approx(1.0)
    assert recall_at_k(ranked, relevant, 1) == pytest.approx(0.5)
    # hits at ranks 1 and 3: (1/1 + 2/3) / min(2, 3)
    assert average_precision_at_k(ranked, relevant, 3) == pytest.approx(5 / 6)
    assert average_precision_at_k(ranked, {"d"}, 3) == 0.0
    assert math.isnan(recall_at_k(ranked, set(), 3))
    assert math.isnan(average_precision_at_k(ranked, set(), 3))


def test_catalog_coverage() -> None:
    assert catalog_coverage([["a", "b"], ["b", "c"]], 6) == pytest.approx(0.5)
    with pytest.raises(InputError):
        catalog_coverage([], 0)


def test_oracle_ratio_is_one_for_the_oracle_order_and_less_otherwise() -> None:
    gains = np.array([0.9, 0.1, 0.5, 0.7])
    assert oracle_ndcg_ratio(gains, gains, k=2) == pytest.approx(1.0)
    assert oracle_ndcg_ratio(gains * 10 + 1, gains, k=2) == pytest.approx(1.0)
    reverse = -gains  # top 2 = 0.1, 0.5
    expected = (0.1 + 0.5 / LOG3) / (0.9 + 0.7 / LOG3)
    assert oracle_ndcg_ratio(reverse, gains, k=2) == pytest.approx(expected)


def test_random_ratio_is_the_mean_over_all_orders() -> None:
    gains = np.array([0.9, 0.1, 0.5, 0.7])
    for k in (2, 4, 10):
        ratios = [
            oracle_ndcg_ratio(-np.argsort(order).astype(float), gains, k=k)
            for order in itertools.permutations(range(4))
        ]
        assert random_ndcg_ratio(gains, k=k) == pytest.approx(np.mean(ratios))
    assert random_ndcg_ratio(np.full(3, 0.5), k=2) == pytest.approx(1.0)


# --------------------------------------------------------------------------- matrix metrics
def test_ranking_metrics_match_the_scalar_definitions() -> None:
    rng = np.random.default_rng(3)
    n, m, k, threshold = 30, 12, 4, 0.5
    scores = rng.normal(size=(n, m))
    scores[0, :3] = scores[0, 3]  # ties are broken by position
    observed = np.where(rng.random((n, m)) < 0.3, rng.random((n, m)), np.nan)
    exclude = rng.random((n, m)) < 0.2
    out = ranking_metrics(scores, observed, k=k, threshold=threshold, exclude=exclude)
    for r in range(n):
        row = np.where(exclude[r], -np.inf, scores[r])
        order = [j for j in np.argsort(-row, kind="stable") if np.isfinite(row[j])][:k]
        gains = {j: observed[r, j] for j in range(m) if np.isfinite(observed[r, j])}
        relevant = {j for j, v in gains.items() if v >= threshold}
        np.testing.assert_allclose(out["precision"][r], precision_at_k(order, relevant, k))
        np.testing.assert_allclose(out["recall"][r], recall_at_k(order, relevant, k))
        np.testing.assert_allclose(out["map"][r], average_precision_at_k(order, relevant, k))
        np.testing.assert_allclose(out["ndcg"][r], ndcg_at_k(order, gains, k))


def test_oracle_and_random_ratios_match_the_scalar_versions() -> None:
    rng = np.random.default_rng(4)
    n, m, k = 20, 15, 5
    scores, gains = rng.normal(size=(n, m)), rng.random((n, m))
    eligible = rng.random((n, m)) < 0.7
    ratios = oracle_ratios(scores, gains, eligible, k)
    randoms = random_ratios(gains, eligible, k)
    for r in range(n):
        keep = eligible[r]
        assert ratios[r] == pytest.approx(oracle_ndcg_ratio(scores[r, keep], gains[r, keep], k))
        assert randoms[r] == pytest.approx(random_ndcg_ratio(gains[r, keep], k))
    assert oracle_ratios(gains, gains, eligible, k) == pytest.approx(np.ones(n))


# --------------------------------------------------------------------------- split
def _values() -> pd.DataFrame:
    rows = []
    start = pd.Timestamp("2025-01-01", tz="UTC")
    for c in range(10):
        for j in range(c % 5 + 1):  # 1..5 rows per client
            rows.append(
                {
                    "client_id": f"c{c}",
                    "intervention_id": f"i{(c + j) % 6}",
                    "value": float(10 * j + c),
                    "at": start + pd.Timedelta(days=10 - j),  # later rows first in the frame
                }
            )
    return pd.DataFrame(rows)


def test_temporal_split_holds_out_the_latest_rows_per_client() -> None:
    values = _values()
    split = temporal_split(values, test_fraction=0.25, cold_fraction=0.0)
    assert split.cold.empty and split.cold_clients == ()
    assert len(split.train) + len(split.test) == len(values)
    sizes = values.groupby("client_id").size()
    tested = split.test.groupby("client_id").size()
    for client, size in sizes.items():
        expected = min(math.floor(size * 0.25 + 0.5), size - 1)
        assert tested.get(client, 0) == expected
        if expected:
            latest_train = split.train.loc[split.train["client_id"] == client, "at"].max()
            earliest_test = split.test.loc[split.test["client_id"] == client, "at"].min()
            assert latest_train < earliest_test


def test_cold_clients_are_held_out_entirely_and_reproducibly() -> None:
    values = _values()
    split = temporal_split(values, cold_fraction=0.3, seed=7)
    again = temporal_split(values.sample(frac=1.0, random_state=1), cold_fraction=0.3, seed=7)
    assert split.cold_clients == again.cold_clients
    assert len(split.cold_clients) == 3
    cold = set(split.cold_clients)
    assert set(split.cold["client_id"]) == cold
    assert not cold & set(split.train["client_id"]) and not cold & set(split.test["client_id"])
    assert len(split.cold) == values["client_id"].isin(cold).sum()
    assert hold_out_clients(values["client_id"], 0.3, seed=8) != list(split.cold_clients)


def test_temporal_split_validates() -> None:
    with pytest.raises(InputError, match="test_fraction"):
        temporal_split(_values(), test_fraction=1.0)
    with pytest.raises(InputError, match="missing"):
        temporal_split(_values().drop(columns="at"))
    with pytest.raises(InputError, match="fraction"):
        hold_out_clients(["a"], 1.0)


# --------------------------------------------------------------------------- bootstrap
def test_bootstrap_weights_and_intervals() -> None:
    weights = bootstrap_weights(50, 300, seed=1)
    assert weights.shape == (300, 50) and (weights.sum(axis=1) == 50).all()
    constant = bootstrap_ci(np.full(50, 2.0), weights=weights)
    assert constant == pytest.approx((2.0, 2.0))
    values = np.random.default_rng(0).normal(1.0, 1.0, 50)
    low, high = bootstrap_ci(values, weights=weights)
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * values.std() / math.sqrt(50), rel=0.25)
    sums, counts = np.array([4.0, 0.0]), np.array([1.0, 1.0])  # RMSE of [2, 0] per unit
    low, high = bootstrap_ci(sums, counts, weights=bootstrap_weights(2, 200), transform=np.sqrt)
    assert 0.0 <= low <= math.sqrt(2.0) <= high <= 2.0


# --------------------------------------------------------------------------- report
def _problem() -> tuple[Split, pd.DataFrame]:
    """3 warm clients, 1 cold client, 4 items; the truth says item i3 is ineligible."""
    train = pd.DataFrame(
        {
            "client_id": ["a", "a", "b", "b", "c"],
            "intervention_id": ["i0", "i1", "i0", "i2", "i1"],
            "value": [80.0, 40.0, 70.0, 20.0, 50.0],
        }
    )
    test = pd.DataFrame(
        {
            "client_id": ["a", "b", "c"],
            "intervention_id": ["i2", "i1", "i0"],
            "value": [60.0, 30.0, 90.0],
        }
    )
    cold = pd.DataFrame(
        {"client_id": ["d", "d"], "intervention_id": ["i0", "i2"], "value": [75.0, 25.0]}
    )
    gains = {"i0": 0.8, "i1": 0.4, "i2": 0.3, "i3": 0.99}
    truth = pd.DataFrame(
        [
            {
                "client_id": c,
                "intervention_id": i,
                "expected": 100 * g,
                "gain": g,
                "eligible": i != "i3",
            }
            for c in "abcd"
            for i, g in gains.items()
        ]
    )
    return Split(train, test, cold, ("d",)), truth


def test_evaluate_models_report() -> None:
    split, truth = _problem()
    items = pd.DataFrame({"kind": ["x", "y", "x", "y"]}, index=["i0", "i1", "i2", "i3"])
    bias = BiasBaseline().fit(split.train, item_features=items)
    popular = PopularityBaseline().fit(split.train, item_features=items)
    report = evaluate_models(
        {"bias": bias, "popularity": popular},
        split,
        truth,
        config=EvalConfig(k=2, n_bootstrap=50),
    )
    assert set(report["model"]) == {"bias", "popularity", ORACLE, RANDOM}
    assert set(report["segment"]) == {"warm", "cold"}

    def value(model: str, segment: str, metric: str) -> float:
        row = report[
            (report["model"] == model)
            & (report["segment"] == segment)
            & (report["metric"] == metric)
        ]
        assert len(row) == 1, (model, segment, metric)
        return float(row["value"].iloc[0])

    predicted = bias.predict(split.test)
    assert value("bias", "warm", "rmse") == pytest.approx(rmse(split.test["value"], predicted))
    floor = rmse(split.test["value"], [30.0, 40.0, 80.0])
    assert value(ORACLE, "warm", "rmse") == pytest.approx(floor)
    assert value("bias", "warm", "rmse/floor") == pytest.approx(
        value("bias", "warm", "rmse") / floor
    )
    assert value(ORACLE, "cold", "oracle_ndcg@2") == pytest.approx(1.0)
    # everyone ranks i0 (0.8) first among eligible items; bias/popularity rank i1 or i2 next
    assert value("bias", "cold", "oracle_ndcg@2") <= 1.0
    assert value(RANDOM, "cold", "oracle_ndcg@2") < value(ORACLE, "cold", "oracle_ndcg@2")
    # ineligible i3 is never recommended: the oracle's top 2 are i0 and i1 for cold client d
    assert value(ORACLE, "cold", "coverage@2") == pytest.approx(0.5)
    intervals = report.dropna(subset=["ci_low"])
    assert (intervals["ci_low"] <= intervals["value"] + 1e-12).all()
    assert (intervals["value"] <= intervals["ci_high"] + 1e-12).all()


def test_evaluate_models_without_truth_has_no_oracle() -> None:
    split, _ = _problem()
    bias = BiasBaseline().fit(split.train)
    report = evaluate_models({"bias": bias}, split, config=EvalConfig(k=2, n_bootstrap=0))
    assert set(report["model"]) == {"bias"}
    assert "oracle_ndcg@2" not in set(report["metric"])
    assert report["ci_low"].isna().all()
    # warm client "a": i1 and i0 seen, so the ranking holds i2 (its test item) and i3
    assert report.query("segment == 'warm' and metric == 'recall@2'")["value"].iloc[0] > 0


def test_report_rendering() -> None:
    split, truth = _problem()
    bias = BiasBaseline().fit(
        split.train, item_features=pd.DataFrame({"k": [1.0] * 4}, index=["i0", "i1", "i2", "i3"])
    )
    report = evaluate_models({"bias": bias}, split, truth, config=EvalConfig(k=2, n_bootstrap=20))
    wide = report_wide(report)
    assert ("warm", "bias") in wide.index and "rmse" in wide.columns
    table = render_report(report)
    assert table.row_count == len(wide)
    with pytest.raises(InputError, match="k must"):
        evaluate_models({"bias": bias}, split, config=EvalConfig(k=0))
