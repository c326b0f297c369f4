"""Set-up shared by the benchmarks on the synthetic clinic (``plans.py``, ``recommender.py``).

Their common arguments, the clinic folder (``--clinic``, or one generated into a scratch
folder), its ingestion with the real adapters and the seconds each step took, and the
run facts and output file of a result. Ground truth and training frames stay with each
script: they read different parts of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from health_advisor.recommender.datasets import ClinicData, load_clinic


def clinic_parser(description: str, *, days: int, out: Path) -> argparse.ArgumentParser:
    """The arguments every clinic benchmark takes; each script adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clinic", type=Path, help="existing clinic folder (else generated)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--out", type=Path, default=out)
    return parser


@contextmanager
def clinic_folder(args: argparse.Namespace) -> Iterator[Path]:
    """``--clinic`` when given, else a scratch folder removed on exit."""
    with tempfile.TemporaryDirectory(prefix="clinic-") as scratch:
        yield args.clinic or Path(scratch)


def ingest(args: argparse.Namespace, folder: Path) -> tuple[ClinicData, dict[str, float]]:
    """The clinic in ``folder``, generated first when it holds none, and the timings."""
    timings: dict[str, float] = {}
    if not (folder / "interactions").is_dir():
        from health_advisor.synth import generate_clinic

        started = time.perf_counter()
        generate_clinic(folder, clients=args.clients, days=args.days, seed=args.seed)
        timings["generate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    clinic = load_clinic(folder)
    timings["ingest_s"] = time.perf_counter() - started
    return clinic, timings


def clinic_facts(args: argparse.Namespace, *, clients: int) -> dict[str, Any]:
    """What identifies the clinic a result was measured on."""
    return {
        "clients": clients,
        "days": args.days,
        "seed": args.seed,
        "folder": str(args.clinic) if args.clinic else None,
    }


def run_facts(started: float) -> dict[str, Any]:
    """Wall time since ``started``, peak memory and the machine, for a result."""
    return {
        "total_s": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }


def write_result(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out} in {result['total_s']:.0f} s")
