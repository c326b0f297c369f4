"""Recommender benchmark on the synthetic clinic: HybridMF against the baselines.

Generates a clinic (default 2,000 clients x 120 days, seed 7) or reads ``--clinic DIR``,
ingests it with the real adapters (ground truth is read only for evaluation), builds
the training frames (:mod:`health_advisor.recommender.datasets`), splits them
(temporal for warm clients, 10 % of clients held out entirely for cold start), trains
HybridMF with client and item features (:func:`clinic_defaults`), BiasBaseline,
PopularityBaseline and RulesBaseline (:func:`guideline_rule`), and evaluates them with
:mod:`health_advisor.recommender.evaluation`: RMSE/MAE against the noise floor,
precision/recall/MAP/NDCG@10, coverage, and NDCG@10 as a ratio to the oracle ranking by
the true adherence probability, each with a bootstrap interval over clients.

Targets (issue 4): hybrid oracle ratio >= 0.90 warm and >= 0.75 cold, and above every
baseline (here: the hybrid's lower bound above the baseline's upper bound).

``--tune N`` first searches HybridMF with Optuna on a validation split carved out of the
training rows (never the test rows), metric NDCG@10 on observed values, then trains the
best parameters on all training rows.

    .venv/bin/python bench/recommender.py [--clients 2000] [--days 120] [--seed 7]
        [--clinic DIR] [--bootstrap 200] [--tune N] [--tune-timeout S]

Prints a table and writes ``bench/results/recommender.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd

from _clinic import clinic_facts, clinic_folder, clinic_parser, ingest, run_facts, write_result
from health_advisor.catalog import load_catalog
from health_advisor.recommender import (
    BiasBaseline,
    HybridMF,
    PopularityBaseline,
    Recommender,
    RulesBaseline,
)
from health_advisor.recommender.datasets import (
    Datasets,
    build_datasets,
    clinic_defaults,
    guideline_rule,
    load_truth,
)
from health_advisor.recommender.evaluation import (
    EvalConfig,
    Split,
    evaluate_models,
    render_report,
    temporal_split,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "recommender.json"
TARGETS = {"warm": 0.90, "cold": 0.75}
RATIO = "oracle_ndcg@10"
BASELINES = ("bias", "popularity", "rules")


def parse_args() -> argparse.Namespace:
    parser = clinic_parser(__doc__.splitlines()[0], days=120, out=RESULTS)
    parser.add_argument("--tune", type=int, default=0, help="Optuna trials (0: no search)")
    parser.add_argument("--tune-timeout", type=float, default=300.0)
    return parser.parse_args()


def prepare(
    args: argparse.Namespace, folder: Path
) -> tuple[Datasets, pd.DataFrame, dict[str, float]]:
    """The training frames and the ground truth of the clinic in ``folder``."""
    clinic, timings = ingest(args, folder)
    started = time.perf_counter()
    data = build_datasets(clinic, load_catalog())
    timings["datasets_s"] = time.perf_counter() - started
    return data, load_truth(folder), timings


def tuned_params(args: argparse.Namespace, split: Split, data: Datasets) -> dict[str, Any]:
    """Optuna on a validation split of the training rows only (no test rows)."""
    from health_advisor.recommender.tuning import hybrid_space, tune

    inner = temporal_split(split.train, test_fraction=0.25, cold_fraction=0.1, seed=args.seed + 1)
    result = tune(
        hybrid_space(),
        inner,
        n_trials=args.tune,
        timeout_s=args.tune_timeout,
        metric="ndcg@10",
        segment="warm",
        client_features=data.client_features,
        item_features=data.item_features,
        seed=args.seed,
    )
    print("tuning:", json.dumps(result.summary(), default=str))
    return {**clinic_defaults(), **result.best_params}


def models_to_fit(hybrid_params: dict[str, Any]) -> dict[str, Recommender]:
    return {
        "hybrid": HybridMF(**hybrid_params),
        "bias": BiasBaseline(),
        "popularity": PopularityBaseline(),
        "rules": RulesBaseline(rule=guideline_rule),
    }


def fit_all(models: dict[str, Recommender], split: Split, data: Datasets) -> dict[str, float]:
    seconds = {}
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(split.train, data.client_features, data.item_features)
        seconds[name] = time.perf_counter() - started
    return seconds


def check_targets(report: pd.DataFrame) -> list[dict[str, Any]]:
    """Each target with the figure, the best baseline and whether it holds."""
    rows = report[report["metric"] == RATIO].set_index(["segment", "model"])
    checks = []
    for segment, target in TARGETS.items():
        if (segment, "hybrid") not in rows.index:
            continue
        hybrid = rows.loc[(segment, "hybrid")]
        best = max(BASELINES, key=lambda m: rows.loc[(segment, m), "value"])
        baseline = rows.loc[(segment, best)]
        checks.append(
            {
                "segment": segment,
                "hybrid": float(hybrid["value"]),
                "hybrid_ci": [float(hybrid["ci_low"]), float(hybrid["ci_high"])],
                "target": target,
                "meets_target": bool(hybrid["value"] >= target),
                "best_baseline": best,
                "baseline": float(baseline["value"]),
                "baseline_ci": [float(baseline["ci_low"]), float(baseline["ci_high"])],
                "clearly_above_baselines": bool(hybrid["ci_low"] > baseline["ci_high"]),
            }
        )
    return checks


def print_report(report: pd.DataFrame, checks: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=250)
    console.print(render_report(report, title="Recommender on the synthetic clinic"))
    table = Table(title=f"Targets ({RATIO} / oracle)")
    for column in ("segment", "hybrid", "target", "met", "best baseline", "clearly above"):
        table.add_column(column)
    for c in checks:
        table.add_row(
            c["segment"],
            f"{c['hybrid']:.3f} [{c['hybrid_ci'][0]:.3f}, {c['hybrid_ci'][1]:.3f}]",
            f"{c['target']:.2f}",
            "yes" if c["meets_target"] else "NO",
            f"{c['best_baseline']} {c['baseline']:.3f} "
            f"[{c['baseline_ci'][0]:.3f}, {c['baseline_ci'][1]:.3f}]",
            "yes" if c["clearly_above_baselines"] else "NO",
        )
    console.print(table)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    with clinic_folder(args) as folder:
        data, truth, timings = prepare(args, folder)
    split = temporal_split(data.values, test_fraction=0.25, cold_fraction=0.1, seed=args.seed)
    params = tuned_params(args, split, data) if args.tune else clinic_defaults()
    models = models_to_fit(params)
    fit_seconds = fit_all(models, split, data)
    evaluated = time.perf_counter()
    report = evaluate_models(
        models,
        split,
        truth,
        client_features=data.client_features,
        config=EvalConfig(k=10, n_bootstrap=args.bootstrap, seed=args.seed),
    )
    timings["evaluate_s"] = time.perf_counter() - evaluated
    checks = check_targets(report)
    print_report(report, checks)
    hybrid = models["hybrid"]
    result = {
        "clinic": clinic_facts(args, clients=args.clients),
        "rows": {
            "values": len(data.values),
            "train": len(split.train),
            "warm_test": len(split.test),
            "cold_test": len(split.cold),
            "cold_clients": len(split.cold_clients),
        },
        "hybrid_params": params,
        "hybrid_fit_report": getattr(hybrid, "fit_report_", None),
        "fit_s": fit_seconds,
        "timings_s": timings,
        **run_facts(started),
        "targets": checks,
        "report": report.to_dict(orient="records"),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
