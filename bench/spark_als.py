"""SparkALS on MovieLens 100K u1: fit time on local Spark and RMSE on u1.test.

Run: ``.venv/bin/python bench/spark_als.py [--master local[2]] [--ranks 10 20]``

Trains :class:`~health_advisor.recommender.spark_als.SparkALS` on ``u1.base`` for each
rank and centering (biases / mean / none) and scores ``u1.test``; also an adherence-like
check (ratings mapped to 0-100) to show why centering matters on wide value ranges.
The first row also reports the session start-up time (one session is shared by all rows;
``fit`` reuses an active session). Prints a table and writes
``bench/results/spark_als.json``. Needs pyspark and Java 17+. Data:
``../shared/data/movielens/ml-100k`` (not copied).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from health_advisor.recommender.baselines import BiasBaseline
from health_advisor.recommender.spark_als import SparkALS, start_session

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "movielens" / "ml-100k"
RESULTS = ROOT / "bench" / "results" / "spark_als.json"


def read_ratings(path: Path) -> pd.DataFrame:
    """A u.data-style file as client_id, intervention_id, value."""
    frame = pd.read_csv(path, sep="\t", names=["client_id", "intervention_id", "value", "at"])
    return frame.drop(columns="at").astype({"value": np.float64})


def rmse(model: Any, test: pd.DataFrame, scale: float = 1.0) -> float:
    """RMSE on ``test``; items unseen at fit are skipped (none in u1.test of 100K)."""
    known = test["intervention_id"].isin(model.items_.ids)
    pred = model.predict(test[known])
    return float(np.sqrt(np.mean((pred - test.loc[known, "value"].to_numpy()) ** 2)) / scale)


def run(master: str, ranks: list[int], reg: float, iters: int) -> list[dict[str, Any]]:
    train, test = read_ratings(DATA / "u1.base"), read_ratings(DATA / "u1.test")
    started = time.perf_counter()
    session = start_session(master)
    rows: list[dict[str, Any]] = [
        {"model": "session start", "fit_s": time.perf_counter() - started, "rmse": None}
    ]
    try:
        rows.append(_timed("BiasBaseline", BiasBaseline(), train, test))
        for rank in ranks:
            for centering in ("biases", "mean", "none"):
                model = SparkALS(rank=rank, reg_param=reg, max_iter=iters, centering=centering)
                rows.append(_timed(f"SparkALS r={rank} {centering}", model, train, test))
        wide = train.assign(value=(train["value"] - 1) * 25)  # 1-5 stars -> 0-100 "adherence"
        wide_test = test.assign(value=(test["value"] - 1) * 25)
        for centering in ("biases", "none"):
            model = SparkALS(rank=ranks[0], reg_param=reg, max_iter=iters, centering=centering)
            row = _timed(f"0-100 scale r={ranks[0]} {centering}", model, wide, wide_test, 25.0)
            rows.append(row)
    finally:
        session.stop()
    return rows


def _timed(
    name: str, model: Any, train: pd.DataFrame, test: pd.DataFrame, scale: float = 1.0
) -> dict[str, Any]:
    started = time.perf_counter()
    model.fit(train)
    return {"model": name, "fit_s": time.perf_counter() - started, "rmse": rmse(model, test, scale)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--ranks", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--reg", type=float, default=0.1)
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    rows = run(args.master, args.ranks, args.reg, args.iters)
    print(f"{'model':32} {'fit s':>8} {'RMSE u1':>8}")
    for row in rows:
        shown = "" if row["rmse"] is None else f"{row['rmse']:.4f}"
        print(f"{row['model']:32} {row['fit_s']:8.1f} {shown:>8}")
    print("(0-100 rows: RMSE divided by 25, i.e. on the star scale)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "master": args.master,
        "reg_param": args.reg,
        "max_iter": args.iters,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(document, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
