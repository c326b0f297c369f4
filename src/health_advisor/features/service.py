"""Feature store: materialise snapshots and alerts from the stored measurements.

I/O at the edge: this module reads measurements and clients from the store, calls the
pure feature functions (:mod:`.snapshot`, :mod:`.anomalies`) and writes one snapshot per
client and date (replacing an earlier build of the same date and feature version) and
the alerts (deduplicated by their key). Reads are point-in-time: only measurements
observed up to the snapshot's cut-off are loaded.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from health_advisor.errors import NotFoundError
from health_advisor.features.anomalies import detect_anomalies
from health_advisor.features.snapshot import (
    FEATURE_VERSION,
    HISTORY_DAYS,
    LAB_WINDOW_DAYS,
    build_snapshots,
    cutoff_for,
    risk_for,
)
from health_advisor.store.models import Alert, Client, FeatureSnapshot, Measurement
from health_advisor.store.session import session_scope

# Everything a snapshot can look at: labs reach back a year, the rest less.
LOOKBACK_DAYS = max(HISTORY_DAYS, LAB_WINDOW_DAYS)


@dataclass(frozen=True, slots=True)
class BuildReport:
    as_of: dt.date
    feature_version: str
    clients: int
    measurements_read: int
    alerts_found: int
    alerts_new: int


def load_measurements(
    session: Session, *, as_of: dt.date, lookback_days: int | None = LOOKBACK_DAYS
) -> pd.DataFrame:
    """Measurements observed up to the end of ``as_of`` (UTC), as the features expect.

    ``lookback_days`` bounds how far back to read (None: everything); the height is the
    one value read from any time, since it does not change.
    """
    cutoff = cutoff_for(as_of)[0].floor("us")  # the last instant included; the store keeps µs
    query = (
        select(Client.external_id, Measurement.metric, Measurement.value, Measurement.observed_at)
        .join(Client, Client.id == Measurement.client_id)
        .where(Measurement.observed_at <= cutoff.to_pydatetime())
    )
    if lookback_days is not None:
        start = (cutoff - pd.Timedelta(days=lookback_days)).to_pydatetime()
        query = query.where((Measurement.observed_at >= start) | (Measurement.metric == "8302-2"))
    rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["client_id", "metric", "value", "observed_at"])
    frame["client_id"] = frame["client_id"].astype("string")
    frame["metric"] = frame["metric"].astype("string")
    frame["value"] = frame["value"].astype("float64")
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return frame


def load_clients(session: Session) -> pd.DataFrame:
    rows = session.execute(select(Client.external_id, Client.sex, Client.birth_date)).all()
    frame = pd.DataFrame(rows, columns=["client_id", "sex", "birth_date"])
    frame["client_id"] = frame["client_id"].astype("string")
    return frame


def build(engine: Engine, *, as_of: dt.date) -> BuildReport:
    """Materialise snapshots and alerts as of a date, in one transaction."""
    with session_scope(engine) as session:
        measurements = load_measurements(session, as_of=as_of)
        clients = load_clients(session)
        snapshots = build_snapshots(measurements, clients, as_of)
        alerts = detect_anomalies(measurements, as_of)
        ids = dict(session.execute(select(Client.external_id, Client.id)).all())
        _store_snapshots(session, snapshots, ids, as_of)
        new_alerts = _store_alerts(session, alerts, ids)
    return BuildReport(
        as_of, FEATURE_VERSION, len(snapshots), len(measurements), len(alerts), new_alerts
    )


def _store_snapshots(
    session: Session, snapshots: pd.DataFrame, ids: dict[str, int], as_of: dt.date
) -> None:
    session.execute(
        delete(FeatureSnapshot).where(
            FeatureSnapshot.as_of == as_of, FeatureSnapshot.feature_version == FEATURE_VERSION
        )
    )
    rows = []
    records: list[dict[Any, Any]] = snapshots.to_dict(orient="records")
    for record in records:
        rows.append(
            {
                "client_id": ids[str(record["client_id"])],
                "as_of": as_of,
                "feature_version": FEATURE_VERSION,
                "features": _jsonable(record),
                "risk": risk_for({str(k): v for k, v in record.items()}),
            }
        )
    if rows:
        session.execute(insert(FeatureSnapshot), rows)


def _store_alerts(session: Session, alerts: pd.DataFrame, ids: dict[str, int]) -> int:
    if alerts.empty:
        return 0
    rows = [
        {
            "client_id": ids[str(a["client_id"])],
            "dedup_key": a["dedup_key"],
            "kind": a["kind"],
            "severity": a["severity"],
            "metric": a["metric"],
            "window_start": pd.Timestamp(a["window_start"]).date(),
            "window_end": pd.Timestamp(a["window_end"]).date(),
            "explanation": a["explanation"],
            "created_at": dt.datetime.now(dt.UTC),
        }
        for a in alerts.to_dict(orient="records")
    ]
    keys = [r["dedup_key"] for r in rows]
    known = set(session.scalars(select(Alert.dedup_key).where(Alert.dedup_key.in_(keys))))
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert(Alert) if dialect == "postgresql" else sqlite.insert(Alert)
    # An alert still in progress grows: keep its first start (the key), update the rest.
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=["dedup_key"],
            set_={
                "window_end": upsert.excluded.window_end,
                "severity": upsert.excluded.severity,
                "explanation": upsert.excluded.explanation,
            },
        ),
        rows,
    )
    return len(set(keys) - known)


def latest_snapshot(session: Session, *, client_id: str) -> dict[str, Any]:
    """The client's most recent snapshot: features, risk per guideline, and metadata."""
    client = session.scalar(select(Client).where(Client.external_id == client_id))
    if client is None:
        raise NotFoundError(f"client {client_id!r} not found")
    snap = session.scalar(
        select(FeatureSnapshot)
        .where(FeatureSnapshot.client_id == client.id)
        .order_by(FeatureSnapshot.as_of.desc(), FeatureSnapshot.computed_at.desc())
        .limit(1)
    )
    if snap is None:
        raise NotFoundError(
            f"client {client_id!r} has no feature snapshot: run `health-advisor features build`"
        )
    return {
        "client_id": client_id,
        "as_of": snap.as_of.isoformat(),
        "feature_version": snap.feature_version,
        "computed_at": snap.computed_at.isoformat(),
        "features": snap.features,
        "risk": snap.risk,
    }


def client_alerts(session: Session, *, client_id: str | None = None) -> list[dict[str, Any]]:
    query = select(Alert, Client.external_id).join(Client, Client.id == Alert.client_id)
    if client_id is not None:
        query = query.where(Client.external_id == client_id)
    query = query.order_by(Alert.window_start.desc(), Alert.id)
    return [
        {
            "client_id": ext,
            "kind": a.kind,
            "severity": a.severity,
            "metric": a.metric,
            "window_start": a.window_start.isoformat(),
            "window_end": a.window_end.isoformat(),
            "explanation": a.explanation,
            "acknowledged": a.acknowledged_at is not None,
        }
        for a, ext in session.execute(query)
    ]


def _jsonable(record: dict[Any, Any]) -> dict[str, Any]:
    """A snapshot row as JSON: NumPy scalars unwrapped, NaN/NaT as null, dates as ISO."""
    return {str(key): _json_value(value) for key, value in record.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    return value
