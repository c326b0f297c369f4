"""The store reads behind the pages: a page of clients with their risk, alerts, plan and
adherence; a metric's readings; check-ins per plan item; sources and quarantine.

Each function takes one page's worth of ids and answers in a fixed, small number of
queries (never one per row), restricted by :mod:`health_advisor.security.access` where
it lists clients.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from health_advisor.core import metrics
from health_advisor.security import access
from health_advisor.security.access import Principal
from health_advisor.store.models import (
    Alert,
    CheckIn,
    Client,
    DataSource,
    FeatureSnapshot,
    Interaction,
    Measurement,
    Plan,
    Quarantine,
)

__all__ = [
    "ClientRow",
    "checkins_by_item",
    "client_rows",
    "metric_readings",
    "metrics_present",
    "quarantine_page",
    "recent_adherence",
    "sources_page",
]

ADHERENCE_DAYS = 28


@dataclass(frozen=True, slots=True)
class ClientRow:
    external_id: str
    name: str | None
    risk: str | None  # overall category of the latest snapshot
    risk_as_of: dt.date | None
    open_alerts: int
    plan_id: int | None
    plan_version: int | None
    plan_status: str | None
    adherence: float | None  # mean weekly adherence %, last 4 weeks with data


def client_rows(
    session: Session,
    principal: Principal,
    *,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ClientRow], int]:
    """The clients this principal reaches (a page of them, by id) and how many in all."""
    query = access.restrict(select(Client), principal)
    if search:
        query = query.where(Client.external_id.contains(search, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    clients = list(session.scalars(query.order_by(Client.external_id).limit(limit).offset(offset)))
    ids = [c.id for c in clients]
    risk = _overall_risk(session, ids)
    alerts = _open_alerts(session, ids)
    plans = _latest_plans(session, ids)
    adherence = recent_adherence(session, ids)
    rows = [
        ClientRow(
            external_id=c.external_id,
            name=c.name,
            risk=risk.get(c.id, (None, None))[0],
            risk_as_of=risk.get(c.id, (None, None))[1],
            open_alerts=alerts.get(c.id, 0),
            plan_id=plans[c.id].id if c.id in plans else None,
            plan_version=plans[c.id].version if c.id in plans else None,
            plan_status=plans[c.id].status if c.id in plans else None,
            adherence=adherence.get(c.id),
        )
        for c in clients
    ]
    return rows, int(total)


def _overall_risk(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, dt.date]]:
    out: dict[int, tuple[str, dt.date]] = {}
    if not ids:
        return out
    rows = session.execute(
        select(FeatureSnapshot.client_id, FeatureSnapshot.as_of, FeatureSnapshot.risk)
        .where(FeatureSnapshot.client_id.in_(ids))
        .order_by(
            FeatureSnapshot.client_id,
            FeatureSnapshot.as_of.desc(),
            FeatureSnapshot.computed_at.desc(),
        )
    )
    for client_id, as_of, risk in rows:
        if client_id not in out:
            overall = (risk or {}).get("overall") or {}
            out[client_id] = (str(overall.get("category", "unknown")), as_of)
    return out


def _open_alerts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(Alert.client_id, func.count())
        .where(Alert.client_id.in_(ids), Alert.acknowledged_at.is_(None))
        .group_by(Alert.client_id)
    )
    return {int(client_id or 0): int(n or 0) for client_id, n in rows}


def _latest_plans(session: Session, ids: Sequence[int]) -> dict[int, Plan]:
    out: dict[int, Plan] = {}
    if not ids:
        return out
    for plan in session.scalars(
        select(Plan).where(Plan.client_id.in_(ids)).order_by(Plan.client_id, Plan.version.desc())
    ):
        out.setdefault(plan.client_id, plan)
    return out


def recent_adherence(
    session: Session, ids: Sequence[int], *, days: int = ADHERENCE_DAYS
) -> dict[int, float]:
    """Mean reported adherence (%) over each client's last ``days`` days with reports
    (measured from the client's latest report, so an old import still shows its level)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Interaction.client_id, Interaction.at, Interaction.value).where(
            Interaction.client_id.in_(ids), Interaction.kind == "adherence"
        )
    )
    by_client: dict[int, list[tuple[dt.datetime, float]]] = defaultdict(list)
    for client_id, at, value in rows:
        by_client[client_id].append((at, float(value)))
    out = {}
    for client_id, values in by_client.items():
        last = max(at for at, _ in values)
        recent = [v for at, v in values if at > last - dt.timedelta(days=days)]
        out[client_id] = sum(recent) / len(recent)
    return out


def metric_readings(
    session: Session, client_pk: int, metric: str, *, days: int
) -> list[tuple[dt.datetime, float]]:
    """A metric's readings over the ``days`` before its latest reading, oldest first."""
    code = metrics.code_for(metric)
    last = session.scalar(
        select(func.max(Measurement.observed_at)).where(
            Measurement.client_id == client_pk, Measurement.metric == code
        )
    )
    if last is None:
        return []
    rows = session.execute(
        select(Measurement.observed_at, Measurement.value)
        .where(
            Measurement.client_id == client_pk,
            Measurement.metric == code,
            Measurement.observed_at > last - dt.timedelta(days=days),
        )
        .order_by(Measurement.observed_at)
    )
    return [(at, float(v)) for at, v in rows]


def metrics_present(session: Session, client_pk: int, names: Sequence[str]) -> set[str]:
    """Which of these metrics the client has any reading of (one query)."""
    codes = {metrics.code_for(n): n for n in names}
    found = session.scalars(
        select(Measurement.metric)
        .where(Measurement.client_id == client_pk, Measurement.metric.in_(codes))
        .distinct()
    )
    return {codes[c] for c in found}


def checkins_by_item(session: Session, item_ids: Sequence[int]) -> dict[int, list[CheckIn]]:
    """Check-ins per plan item, oldest week first."""
    out: dict[int, list[CheckIn]] = defaultdict(list)
    if not item_ids:
        return out
    for row in session.scalars(
        select(CheckIn).where(CheckIn.plan_item_id.in_(item_ids)).order_by(CheckIn.week_start)
    ):
        out[row.plan_item_id].append(row)
    return out


def sources_page(session: Session, *, limit: int, offset: int) -> tuple[list[DataSource], int]:
    total = session.scalar(select(func.count()).select_from(DataSource)) or 0
    rows = session.scalars(
        select(DataSource).order_by(DataSource.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def quarantine_page(
    session: Session, *, source_id: int | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Rejected records (without the raw record: it may hold a name) and their count."""
    query = select(
        Quarantine.id,
        Quarantine.source_id,
        Quarantine.line,
        Quarantine.field,
        Quarantine.reason,
        Quarantine.client_external_id,
        DataSource.file_name,
    ).join(DataSource, DataSource.id == Quarantine.source_id)
    if source_id is not None:
        query = query.where(Quarantine.source_id == source_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Quarantine.id).limit(limit).offset(offset))
    keys = ("id", "source_id", "line", "field", "reason", "client_id", "file_name")
    return [dict(zip(keys, row, strict=True)) for row in rows], int(total)
