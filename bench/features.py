"""Benchmark: feature snapshots for 100,000 clients x 90 days of daily data.

Generates, with NumPy, 10 daily wearable metrics per client-day (about 10 % of days
missing, a few outliers and non-wear days) in canonical long form (90 million rows,
categorical ``client_id`` and ``metric``), plus blood pressure, labs and body size, then
times :func:`health_advisor.features.snapshot.build_snapshots` on it. Prints a table and
writes ``bench/results/features.json``. Targets: under 120 s and 8 GiB peak memory.

    .venv/bin/python bench/features.py [--clients 100000] [--days 90]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from health_advisor.core import metrics
from health_advisor.features.snapshot import build_snapshots

DAILY = (  # name, mean, sd between clients, sd within a client
    ("steps", 8000, 2500, 2000),
    ("active_minutes", 25, 12, 10),
    ("light_active_minutes", 200, 50, 40),
    ("sedentary_minutes", 700, 100, 80),
    ("calories_burned", 2300, 300, 200),
    ("calorie_intake", 2100, 300, 250),
    ("sleep_duration", 7.0, 0.7, 0.6),
    ("sleep_quality", 72, 10, 8),
    ("bedtime", -0.5, 0.8, 0.6),
    ("resting_heart_rate", 64, 7, 2),
)
SPARSE = (  # name, mean, sd, readings per client
    ("systolic_bp", 125, 15, 3),
    ("diastolic_bp", 80, 10, 3),
    ("total_cholesterol", 200, 35, 1),
    ("ldl", 120, 30, 1),
    ("hdl", 52, 12, 1),
    ("triglycerides", 140, 60, 1),
    ("fasting_glucose", 98, 15, 1),
    ("hba1c", 5.5, 0.5, 1),
    ("body_weight", 78, 15, 1),
    ("body_height", 170, 9, 1),
)


def make_data(
    n_clients: int, n_days: int, as_of: dt.date, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:06d}" for i in range(n_clients)], dtype=object)
    codes = [metrics.code_for(n) for n, *_ in DAILY] + [metrics.code_for(n) for n, *_ in SPARSE]
    client_type = pd.CategoricalDtype(ids)
    metric_type = pd.CategoricalDtype(codes)
    start = np.datetime64(as_of, "D") - np.timedelta64(n_days - 1, "D")
    day_ns = (start + np.arange(n_days)).astype("datetime64[ns]")
    frames = []
    for m, (_, mean, between, within) in enumerate(DAILY):
        level = rng.normal(mean, between, (n_clients, 1)).astype(np.float64)
        values = level + rng.normal(0.0, within, (n_clients, n_days))
        values[rng.random((n_clients, n_days)) < 0.10] = np.nan
        values[rng.random((n_clients, n_days)) < 0.002] *= 3.0  # outliers
        if m == 0:
            values = np.maximum(values, 0.0)
            values[rng.random((n_clients, n_days)) < 0.02] = 0.0  # non-wear days
        keep = ~np.isnan(values)
        client_codes, day_idx = np.nonzero(keep)
        frames.append(
            pd.DataFrame(
                {
                    "client_id": pd.Categorical.from_codes(
                        client_codes.astype(np.int32), dtype=client_type
                    ),
                    "metric": pd.Categorical.from_codes(
                        np.full(len(client_codes), m, np.int8), dtype=metric_type
                    ),
                    "value": values[keep],
                    "observed_at": pd.DatetimeIndex(day_ns[day_idx]).tz_localize("UTC"),
                }
            )
        )
        del values, keep, client_codes, day_idx
    for s, (_, mean, sd, per_client) in enumerate(SPARSE):
        n = n_clients * per_client
        offset = rng.integers(0, n_days * 86400, n).astype("timedelta64[s]")
        frames.append(
            pd.DataFrame(
                {
                    "client_id": pd.Categorical.from_codes(
                        np.repeat(np.arange(n_clients), per_client), dtype=client_type
                    ),
                    "metric": pd.Categorical.from_codes(
                        np.full(n, len(DAILY) + s, np.int8), dtype=metric_type
                    ),
                    "value": rng.normal(mean, sd, n),
                    "observed_at": pd.DatetimeIndex(
                        start.astype("datetime64[ns]") + offset
                    ).tz_localize("UTC"),
                }
            )
        )
    measurements = pd.concat(frames, ignore_index=True)
    born = np.datetime64("1940-01-01") + rng.integers(0, 60 * 365, n_clients).astype(
        "timedelta64[D]"
    )
    clients = pd.DataFrame(
        {
            "client_id": ids,
            "sex": rng.choice(np.array(["female", "male"], dtype=object), n_clients),
            "birth_date": born,
        }
    )
    return measurements, clients


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    as_of = dt.date(2024, 6, 30)

    t0 = time.perf_counter()
    measurements, clients = make_data(args.clients, args.days, as_of)
    generate_s = time.perf_counter() - t0
    rss_after_data = peak_rss_gib()

    t1 = time.perf_counter()
    snapshots = build_snapshots(measurements, clients, as_of)
    build_s = time.perf_counter() - t1
    peak = peak_rss_gib()

    figures = {
        "clients": args.clients,
        "days": args.days,
        "daily_metrics": len(DAILY),
        "rows": len(measurements),
        "snapshot_columns": snapshots.shape[1],
        "generate_s": round(generate_s, 2),
        "build_snapshots_s": round(build_s, 2),
        "peak_rss_gib": round(peak, 2),
        "peak_rss_after_data_gib": round(rss_after_data, 2),
        "target_s": 120,
        "target_gib": 8,
        "passed": bool(build_s < 120 and peak < 8),
        "machine": f"{platform.machine()}, {platform.python_version()}, pandas {pd.__version__}",
    }
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "features.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
