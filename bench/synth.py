"""Benchmark: time and peak memory of generating a synthetic clinic.

    .venv/bin/python bench/synth.py [--clients 100000] [--days 90] [--chunk-size 2000]

Prints a table and writes bench/results/synth.json. Peak memory is the process's
maximum resident set size (``resource.getrusage``), which includes the interpreter,
pandas, SciPy and the NHANES table; tracemalloc would slow the run several-fold.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from health_advisor.catalog import load_catalog
from health_advisor.synth.generator import generate_clinic
from health_advisor.synth.nhanes import load_adults

RESULTS = Path(__file__).resolve().parent / "results" / "synth.json"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _size_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    catalog = load_catalog()
    load_adults()
    setup_s = time.perf_counter() - started
    rss_before = _peak_rss_mib()
    out = args.keep or Path(tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        started = time.perf_counter()
        summary = generate_clinic(
            out,
            clients=args.clients,
            days=args.days,
            seed=args.seed,
            chunk_size=args.chunk_size,
            catalog=catalog,
        )
        elapsed = time.perf_counter() - started
        size = _size_mib(out)
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    client_days = args.clients * args.days
    figures = {
        "clients": args.clients,
        "days": args.days,
        "chunk_size": args.chunk_size,
        "catalog_items": len(catalog.interventions),
        "setup_s": round(setup_s, 2),
        "generate_s": round(elapsed, 2),
        "client_days_per_s": round(client_days / elapsed),
        "extrapolated_100k_x_90_s": round(elapsed * 100_000 * 90 / client_days, 1),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "rss_after_setup_mib": round(rss_before, 1),
        "output_mib": round(size, 1),
        "rows": summary.rows,
        "fhir_bundles": summary.fhir_bundles,
        "observations": summary.observations,
    }
    table = Table(title=f"synthetic clinic: {args.clients:,} clients x {args.days} days")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if key != "rows":
            table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    for name, rows in summary.rows.items():
        table.add_row(f"rows {name}", f"{rows:,}")
    Console().print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
