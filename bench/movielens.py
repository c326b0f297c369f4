"""MovieLens 100K: HybridMF against BiasBaseline, Surprise SVD and implicit's ALS.

Run: ``.venv/bin/python bench/movielens.py [--folds 1 2 3 4 5] [--no-cold] [--repeats N]``

On the official folds u1..u5 every model trains on the same ``uN.base`` and is scored on
``uN.test`` (RMSE, MAE; NDCG@10 for the ranking models, relevance = the test rating,
training items excluded from the ranking). The cold-start check holds out 10 % of users
entirely (seed 0) and predicts their ratings from ``u.user`` features alone. Prints a
table and writes ``bench/results/movielens.json``. Needs the ``bench`` extra
(scikit-surprise, implicit). Data: ``../shared/data/movielens/ml-100k`` (not copied).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "movielens" / "ml-100k"
RESULTS = ROOT / "bench" / "results" / "movielens.json"
GENRES = [
    "unknown", "action", "adventure", "animation", "children", "comedy", "crime",
    "documentary", "drama", "fantasy", "film_noir", "horror", "musical", "mystery",
    "romance", "sci_fi", "thriller", "war", "western",
]  # fmt: skip


def read_ratings(path: Path) -> pd.DataFrame:
    """A u.data-style file as client_id, intervention_id, value, at."""
    frame = pd.read_csv(path, sep="\t", names=["client_id", "intervention_id", "value", "at"])
    return frame.astype({"value": np.float64})


def read_users(folder: Path = DATA) -> pd.DataFrame:
    """u.user: age (number), gender and occupation (categories); zip codes are left out."""
    users = pd.read_csv(
        folder / "u.user", sep="|", names=["client_id", "age", "gender", "occupation", "zip"]
    )
    return users.drop(columns="zip").set_index("client_id")


def read_items(folder: Path = DATA) -> pd.DataFrame:
    """u.item: release year and the 19 genre flags."""
    names = ["intervention_id", "title", "release", "video", "url", *GENRES]
    items = pd.read_csv(folder / "u.item", sep="|", names=names, encoding="latin-1")
    year = pd.to_datetime(items["release"], format="%d-%b-%Y", errors="coerce").dt.year
    out = items[["intervention_id", *GENRES]].assign(year=year.astype("float64"))
    return out.set_index("intervention_id")


def rmse(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((truth - pred) ** 2)))


def mae(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(truth - pred)))


def ndcg_at_10(
    test: pd.DataFrame, ranked: Callable[[Any, set[Any]], list[Any]], train: pd.DataFrame
) -> float:
    """Mean NDCG@10 over test users; gain = test rating, seen (train) items excluded."""
    seen = train.groupby("client_id")["intervention_id"].agg(set).to_dict()
    scores = []
    for user, group in test.groupby("client_id"):
        gains = dict(zip(group["intervention_id"], group["value"], strict=True))
        top = ranked(user, seen.get(user, set()))[:10]
        dcg = sum(gains.get(item, 0.0) / np.log2(r + 2) for r, item in enumerate(top))
        ideal = sorted(gains.values(), reverse=True)[:10]
        idcg = sum(g / np.log2(r + 2) for r, g in enumerate(ideal))
        scores.append(dcg / idcg if idcg > 0 else 0.0)
    return float(np.mean(scores))


# -- models -------------------------------------------------------------------------------


def run_ours(model: Any, train: pd.DataFrame, test: pd.DataFrame, ranking: bool) -> dict[str, Any]:
    users, items = read_users(), read_items()
    started = time.perf_counter()
    model.fit(train, users, items)
    seconds = time.perf_counter() - started
    pred = model.predict(test)
    out: dict[str, Any] = {
        "rmse": rmse(test["value"].to_numpy(), pred),
        "mae": mae(test["value"].to_numpy(), pred),
        "train_s": seconds,
    }
    if hasattr(model, "fit_report_"):
        out["fit_report"] = model.fit_report_
    if ranking:
        matrix = model.score_items(sorted(test["client_id"].unique()))
        row = {u: n for n, u in enumerate(sorted(test["client_id"].unique()))}
        ids = np.array(model.items_.ids, dtype=object)

        def ranked(user: Any, seen: set[Any]) -> list[Any]:
            scores = matrix[row[user]].copy()
            scores[model.items_.lookup(seen)] = -np.inf
            return list(ids[np.argsort(-scores, kind="stable")[:10]])

        out["ndcg@10"] = ndcg_at_10(test, ranked, train)
    return out


def run_surprise_svd(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, Any]:
    from surprise import SVD, Dataset, Reader

    data = Dataset.load_from_df(
        train[["client_id", "intervention_id", "value"]], Reader(rating_scale=(1, 5))
    )
    started = time.perf_counter()
    trainset = data.build_full_trainset()
    algo = SVD(random_state=seed).fit(trainset)
    seconds = time.perf_counter() - started
    pred = np.array(
        [
            algo.predict(u, i).est
            for u, i in zip(test["client_id"], test["intervention_id"], strict=True)
        ]
    )
    return {
        "rmse": rmse(test["value"].to_numpy(), pred),
        "mae": mae(test["value"].to_numpy(), pred),
        "train_s": seconds,
    }


def run_implicit_als(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, Any]:
    """implicit's ALS on the rating matrix as confidence (ranking only: no RMSE)."""
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares

    users = {u: n for n, u in enumerate(sorted(set(train["client_id"]) | set(test["client_id"])))}
    items = {
        i: n
        for n, i in enumerate(sorted(set(train["intervention_id"]) | set(test["intervention_id"])))
    }
    rows = train["client_id"].map(users).to_numpy()
    cols = train["intervention_id"].map(items).to_numpy()
    matrix = sp.csr_matrix(
        (train["value"].to_numpy(np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    model = AlternatingLeastSquares(factors=64, regularization=0.05, random_state=seed)
    started = time.perf_counter()
    model.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - started
    inverse = np.array(list(items), dtype=object)

    def ranked(user: Any, seen: set[Any]) -> list[Any]:
        ids, _ = model.recommend(users[user], matrix[users[user]], N=10)
        return list(inverse[ids])

    return {"train_s": seconds, "ndcg@10": ndcg_at_10(test, ranked, train)}


def run_fold(fold: int, seed: int) -> dict[str, dict[str, Any]]:
    from health_advisor.recommender import BiasBaseline, HybridMF

    train = read_ratings(DATA / f"u{fold}.base")
    test = read_ratings(DATA / f"u{fold}.test")
    return {
        "HybridMF": run_ours(HybridMF(random_state=seed), train, test, ranking=True),
        "BiasBaseline": run_ours(BiasBaseline(), train, test, ranking=False),
        "SurpriseSVD": run_surprise_svd(train, test, seed),
        "ImplicitALS": run_implicit_als(train, test, seed),
    }


def run_cold_start(seed: int) -> dict[str, dict[str, Any]]:
    """10 % of users held out entirely; predicted from u.user features alone."""
    from health_advisor.recommender import BiasBaseline, HybridMF

    ratings = read_ratings(DATA / "u.data")
    users = np.array(sorted(ratings["client_id"].unique()))
    held = np.random.default_rng(0).choice(users, size=len(users) // 10, replace=False)
    is_held = ratings["client_id"].isin(held)
    train, test = ratings[~is_held], ratings[is_held]
    user_features = read_users()
    out = {}
    for name, model in [
        ("HybridMF", HybridMF(random_state=seed)),
        ("BiasBaseline", BiasBaseline()),
    ]:
        started = time.perf_counter()
        model.fit(train, user_features.drop(index=held), read_items())
        seconds = time.perf_counter() - started
        pred = model.predict(test, client_features=user_features.loc[held])
        out[name] = {
            "rmse": rmse(test["value"].to_numpy(), pred),
            "mae": mae(test["value"].to_numpy(), pred),
            "train_s": seconds,
        }
    return out


# -- report -------------------------------------------------------------------------------


def summarise(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Mean of each model's metrics over runs (folds x repeats)."""
    summary: dict[str, dict[str, float]] = {}
    for model in runs[0]:
        keys = [k for k, v in runs[0][model].items() if isinstance(v, float)]
        summary[model] = {k: statistics.fmean(r[model][k] for r in runs) for k in keys}
    return summary


def print_table(title: str, summary: dict[str, dict[str, float]], reference: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ["model", "RMSE", "MAE", "NDCG@10", "train s", "time / ref"]:
        table.add_column(column, justify="left" if column == "model" else "right")
    ref_time = summary.get(reference or "", {}).get("train_s")

    def fmt(value: float | None, digits: int = 4) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    for model, m in summary.items():
        ratio = m["train_s"] / ref_time if ref_time else None
        table.add_row(
            model,
            fmt(m.get("rmse")),
            fmt(m.get("mae")),
            fmt(m.get("ndcg@10")),
            fmt(m["train_s"], 2),
            "-" if ratio is None else f"{ratio:.1f}x",
        )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--repeats", type=int, default=1, help="seeds per fold")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start check")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.perf_counter()
    import tensorflow  # noqa: F401  (import cost is reported apart, not charged to a fold)

    import_s = time.perf_counter() - started
    runs, per_fold = [], {}
    for fold in args.folds:
        for seed in range(args.repeats):
            result = run_fold(fold, seed)
            runs.append(result)
            per_fold[f"u{fold}/seed{seed}"] = result
            print(f"u{fold} seed {seed}: " + ", ".join(
                f"{k} {v.get('rmse', float('nan')):.4f} ({v['train_s']:.1f}s)"
                for k, v in result.items()
            ))  # fmt: skip
    summary = summarise(runs)
    print_table(
        f"MovieLens 100K, folds {args.folds} x {args.repeats} seed(s)", summary, "SurpriseSVD"
    )
    report: dict[str, Any] = {
        "folds": args.folds,
        "repeats": args.repeats,
        "tensorflow_import_s": import_s,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "mean": summary,
        "runs": per_fold,
    }
    if not args.no_cold:
        cold = [run_cold_start(seed) for seed in range(args.repeats)]
        cold_summary = summarise(cold)
        print_table(
            "User cold start (10 % of users held out, u.user features only)", cold_summary, None
        )
        gain = 1 - cold_summary["HybridMF"]["rmse"] / cold_summary["BiasBaseline"]["rmse"]
        print(f"cold start: HybridMF RMSE {100 * gain:.1f} % below BiasBaseline (target >= 2 %)")
        report["cold_start"] = {"mean": cold_summary, "rmse_gain": gain}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
