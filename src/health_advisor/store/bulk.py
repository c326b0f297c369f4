"""Bulk writes of long tables: executemany on SQLite, COPY on PostgreSQL.

Rows that already exist (same unique key) are skipped, not errors: that is what makes
re-ingesting an overlapping export idempotent. Each function returns how many rows were
actually inserted and runs inside the caller's transaction.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection

MEASUREMENT_FIELDS = (
    "client_id",
    "metric",
    "value",
    "unit",
    "original_value",
    "original_unit",
    "observed_at",
    "source_id",
    "source_record",
)
INTERACTION_FIELDS = ("client_id", "intervention_id", "kind", "value", "at", "source_id")

SQLITE_CHUNK = 200_000


def insert_measurements(conn: Connection, frame: pd.DataFrame) -> int:
    """Insert measurement rows (columns ``MEASUREMENT_FIELDS``, client_id as store pk)."""
    return _insert_ignoring_duplicates(
        conn,
        "measurements",
        frame,
        MEASUREMENT_FIELDS,
        ("observed_at",),
        conflict="client_id, metric, observed_at, source_record",
    )


def insert_interactions(conn: Connection, frame: pd.DataFrame) -> int:
    return _insert_ignoring_duplicates(
        conn,
        "interactions",
        frame,
        INTERACTION_FIELDS,
        ("at",),
        conflict="client_id, intervention_id, kind, at",
    )


def _insert_ignoring_duplicates(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    fields: Sequence[str],
    time_fields: Sequence[str],
    *,
    conflict: str,
) -> int:
    if frame.empty:
        return 0
    # Key order makes B-tree inserts near-sequential: several times faster on both databases.
    key = [c.strip() for c in conflict.split(",")]
    frame = frame.loc[:, list(fields)].sort_values(key, kind="stable")
    if conn.dialect.name == "sqlite":
        return _sqlite_insert(conn, table, frame, fields, time_fields)
    if conn.dialect.name == "postgresql":
        return _postgres_copy(conn, table, frame, fields, time_fields, conflict)
    raise NotImplementedError(f"bulk insert for {conn.dialect.name}")


def _utc_text(series: pd.Series) -> np.ndarray:
    """UTC wall time as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite storage format)."""
    values = pd.DatetimeIndex(series).tz_convert("UTC").tz_localize(None)
    text = np.datetime_as_string(values.to_numpy(dtype="datetime64[us]"), unit="us")
    return np.char.replace(text, "T", " ")


def _sqlite_insert(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    fields: Sequence[str],
    time_fields: Sequence[str],
) -> int:
    columns: list[list[object]] = []
    for name in fields:
        col = frame[name]
        if name in time_fields:
            columns.append(_utc_text(col).tolist())
        else:
            columns.append(col.astype(object).where(col.notna(), None).tolist())
    sql = (
        f"INSERT OR IGNORE INTO {table} ({', '.join(fields)}) "
        f"VALUES ({', '.join('?' * len(fields))})"
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    inserted = 0
    rows = list(zip(*columns, strict=True))
    for start in range(0, len(rows), SQLITE_CHUNK):
        cur = raw.cursor()
        cur.executemany(sql, rows[start : start + SQLITE_CHUNK])
        inserted += cur.rowcount
        cur.close()
    return inserted


def _postgres_copy(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    fields: Sequence[str],
    time_fields: Sequence[str],
    conflict: str,
) -> int:
    # Times as UTC text: numpy formats them ~10x faster than to_csv's date_format.
    frame = frame.assign(**{f: np.char.add(_utc_text(frame[f]), "+00") for f in time_fields})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    staging = f"_staging_{table}"
    raw = conn.connection.driver_connection
    assert raw is not None
    cols = ", ".join(fields)
    with raw.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {staging}")
        cur.execute(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA"
        )
        with cur.copy(f"COPY {staging} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} "
            f"ON CONFLICT ({conflict}) DO NOTHING"
        )
        return int(cur.rowcount)
