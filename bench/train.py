"""HybridMF at clinic scale: training time, peak memory, holdout metrics, scoring speed.

Run: ``.venv/bin/python bench/train.py [--clients 100000] [--items 70] [--per-client 20]
[--params clinic|package] [--set NAME=VALUE ...]``

Generates a seeded latent-factor problem the size of a large clinic (default 100,000
clients x 70 interventions, ~2 million adherence values in 0..100 with client features
and catalog attributes), trains HybridMF with the hyperparameters ``health-advisor
train`` uses (``--params clinic``: :func:`clinic_defaults`; ``package``: the class
defaults, tuned on MovieLens) plus any ``--set`` overrides, and reports training time,
peak resident memory, holdout RMSE/MAE against BiasBaseline, NumPy batch scoring of
every client x the catalog, and the p95 latency of one client's top-10. Writes
``bench/results/train.json``. (The synthetic clinic proper lives in ``synth/``; this
generator only needs the shape and scale.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "train.json"


def make_clinic(
    n_clients: int, n_items: int, per_client: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Adherence = logistic(traits . item loadings + biases + noise) x 100."""
    rng = np.random.default_rng(seed)
    traits = rng.normal(size=(n_clients, 4))
    loadings = rng.normal(size=(n_items, 4))
    client_bias, item_bias = rng.normal(0, 0.5, n_clients), rng.normal(0, 0.7, n_items)
    u = np.repeat(np.arange(n_clients), per_client)
    i = rng.integers(0, n_items, u.size)
    keep = np.unique(u.astype(np.int64) * n_items + i, return_index=True)[1]
    u, i = u[keep], i[keep]
    logit = (traits[u] * loadings[i]).sum(1) * 0.6 + client_bias[u] + item_bias[i]
    value = 100 / (1 + np.exp(-(logit + rng.normal(0, 0.5, u.size))))
    interactions = pd.DataFrame(
        {"client_id": [f"c{n}" for n in u], "intervention_id": i, "value": value.round(1)}
    )
    noisy = traits + rng.normal(0, 0.5, traits.shape)  # features see traits through noise
    clients = pd.DataFrame(noisy, columns=["t0", "t1", "t2", "t3"])
    clients.index = pd.Index([f"c{n}" for n in range(n_clients)], name="client_id")
    kinds = np.array(["activity", "diet", "sleep", "stress", "social"])
    items = pd.DataFrame({"kind": kinds[np.argmax(loadings, 1) % 5], "effort": loadings[:, 0]})
    items.index = pd.Index(np.arange(n_items), name="intervention_id")
    return interactions, clients, items


def overrides(pairs: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings as hyperparameters (VALUE parsed as JSON, else a string)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=70)
    parser.add_argument("--per-client", type=int, default=20)
    parser.add_argument("--params", choices=["clinic", "package"], default="clinic")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from health_advisor.recommender import BiasBaseline, HybridMF
    from health_advisor.recommender.datasets import clinic_defaults

    interactions, clients, items = make_clinic(args.clients, args.items, args.per_client)
    test_mask = np.random.default_rng(1).random(len(interactions)) < 0.1
    train, test = interactions[~test_mask], interactions[test_mask]
    base = clinic_defaults(len(train)) if args.params == "clinic" else {}
    params = base | overrides(args.set)

    report: dict[str, Any] = {
        "clients": args.clients,
        "items": args.items,
        "train_rows": len(train),
        "hybrid_params": params,
    }
    for name, model in [("BiasBaseline", BiasBaseline()), ("HybridMF", HybridMF(**params))]:
        started = time.perf_counter()
        model.fit(train, clients, items)
        seconds = time.perf_counter() - started
        pred = model.predict(test)
        truth = test["value"].to_numpy()
        report[name] = {
            "train_s": seconds,
            "rmse": float(np.sqrt(np.mean((pred - truth) ** 2))),
            "mae": float(np.mean(np.abs(pred - truth))),
            "fit_report": getattr(model, "fit_report_", None),
        }
        print(name, report[name], flush=True)
    scorer = model.to_scorer()
    ids = list(clients.index)
    started = time.perf_counter()
    scores = scorer.score_all(ids)
    report["score_all_s"] = time.perf_counter() - started
    report["score_all_shape"] = list(scores.shape)
    latencies = []
    for client in ids[:2000]:
        started = time.perf_counter()
        scorer.top_k(client, 10)
        latencies.append(time.perf_counter() - started)
    report["top10_p95_ms"] = float(np.percentile(latencies, 95) * 1000)
    report["peak_rss_mb"] = peak_rss_mb()
    report["cpu_count"] = os.cpu_count()
    print(json.dumps({k: v for k, v in report.items() if k not in {"BiasBaseline", "HybridMF"}}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
