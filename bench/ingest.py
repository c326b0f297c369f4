"""Ingestion throughput: 1,000,000 measurement rows into SQLite (target < 60 s), and PostgreSQL.

Two cases, each on a fresh database:
  store      1M canonical rows written by the ingest service's store step (one transaction,
             clients created, lineage row, bulk insert with the idempotency key);
  heartrate  a Fitbit heartrate_seconds_merged.csv of the real file's shape (2.4M rows by
             default: Id,Time,Value, US dates) through the whole path: hash, parse,
             validate, store.
Prints a table and writes bench/results/ingest.json. Run: .venv/bin/python bench/ingest.py
[--rows N] [--hr-rows N] [--postgres URL] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from health_advisor.config import Settings
from health_advisor.ingest import service
from health_advisor.ingest.base import ParseResult
from health_advisor.store import migrate
from health_advisor.store.session import make_engine, session_scope

RESULTS = Path(__file__).with_name("results")


def canonical_rows(n: int, clients: int = 2_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    client = rng.integers(0, clients, n)
    day = np.arange(n) // clients
    values = rng.normal(70, 8, n).round(1)
    return pd.DataFrame(
        {
            "client_id": pd.array([f"{5_000_000_000 + c}" for c in client], dtype="string"),
            "metric": pd.array(["8867-4"] * n, dtype="string"),
            "value": values,
            "unit": pd.array(["/min"] * n, dtype="string"),
            "original_value": values,
            "original_unit": pd.array(["/min"] * n, dtype="string"),
            "observed_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(day * 60, "s"),
            "source_record": pd.array([f"r{i}" for i in range(n)], dtype="string"),
        }
    )


def heartrate_file(path: Path, n: int, seed: int = 0) -> Path:
    """A file shaped like Fitbit's heartrate_seconds_merged.csv (CRLF, US dates)."""
    rng = np.random.default_rng(seed)
    ids = 1_503_960_366 + rng.integers(0, 14, n) * 1_000_003
    stamps = pd.Timestamp("2016-04-12") + pd.to_timedelta(
        np.sort(rng.integers(0, 30 * 86400, n)), "s"
    )
    frame = pd.DataFrame(
        {
            "Id": ids,
            "Time": stamps.strftime("%-m/%-d/%Y %-I:%M:%S %p"),
            "Value": rng.normal(78, 12, n).clip(40, 190).round().astype(int),
        }
    )
    frame.to_csv(path, index=False, lineterminator="\r\n")
    return path


def fresh_engine(settings: Settings, postgres: str | None) -> tuple[Engine, Callable[[], None]]:
    if postgres is None:
        db = settings.home / f"bench-{uuid.uuid4().hex[:8]}.db"
        eng = make_engine(settings, url=f"sqlite:///{db}")
        migrate.upgrade(eng)
        return eng, lambda: (eng.dispose(), db.unlink(missing_ok=True))  # type: ignore[func-returns-value]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(settings, url=postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(settings, url=postgres, search_path=schema)
    migrate.upgrade(eng)

    def drop() -> None:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return eng, drop


def time_store(settings: Settings, rows: pd.DataFrame, postgres: str | None) -> float:
    eng, cleanup = fresh_engine(settings, postgres)
    try:
        result = ParseResult(source_kind="bench", measurements=rows, records_read=len(rows))
        started = time.perf_counter()
        with session_scope(eng) as session:
            report = service._store(session, Path(__file__), uuid.uuid4().hex * 2, result)
        elapsed = time.perf_counter() - started
        assert report.measurements == len(rows), report
        return elapsed
    finally:
        cleanup()


def time_file(settings: Settings, path: Path, expected: int, postgres: str | None) -> float:
    eng, cleanup = fresh_engine(settings, postgres)
    try:
        started = time.perf_counter()
        report = service.ingest_file(eng, path)
        elapsed = time.perf_counter() - started
        assert report.measurements + report.duplicates + report.quarantined == expected, report
        return elapsed
    finally:
        cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--hr-rows", type=int, default=2_483_658)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    databases: list[tuple[str, str | None]] = [("sqlite", None)]
    if not args.no_postgres:
        databases.append(("postgresql", args.postgres))
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), env="test")
        rows = canonical_rows(args.rows)
        hr = heartrate_file(Path(tmp) / "heartrate_seconds_merged.csv", args.hr_rows)
        for db, url in databases:
            store = [time_store(settings, rows, url) for _ in range(args.repeat)]
            results.append(_row("store", db, args.rows, store))
            whole = [time_file(settings, hr, args.hr_rows, url) for _ in range(args.repeat)]
            results.append(_row("heartrate_seconds file", db, args.hr_rows, whole))
    _report(results)


def _row(case: str, db: str, n: int, seconds: list[float]) -> dict[str, object]:
    median = statistics.median(seconds)
    return {
        "case": case,
        "database": db,
        "rows": n,
        "seconds": seconds,
        "median_s": round(median, 2),
        "rows_per_s": round(n / median),
        "median_s_per_million": round(median / n * 1e6, 2),
    }


def _report(results: list[dict[str, object]]) -> None:
    table = Table("case", "database", "rows", "median s", "s per 1M rows", "rows/s", "runs")
    for r in results:
        runs = ", ".join(f"{s:.1f}" for s in r["seconds"])  # type: ignore[attr-defined]
        table.add_row(
            str(r["case"]),
            str(r["database"]),
            f"{r['rows']:,}",
            str(r["median_s"]),
            str(r["median_s_per_million"]),
            f"{r['rows_per_s']:,}",
            runs,
        )
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
