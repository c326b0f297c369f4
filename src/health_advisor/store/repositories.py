"""Data-access functions: keyword-only, typed, one transaction given by the caller."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from health_advisor.store import writelock
from health_advisor.store.models import (
    CatalogVersion,
    Client,
    DataSource,
    Intervention,
    Measurement,
    Quarantine,
)

_IN_CHUNK = 5_000


def client_ids(*, session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    """Map external ids to store ids, creating clients that do not exist yet."""
    wanted = sorted(set(external_ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        rows = session.execute(
            select(Client.external_id, Client.id).where(Client.external_id.in_(chunk))
        )
        found.update({ext: pk for ext, pk in rows})
    missing = [ext for ext in wanted if ext not in found]
    if missing:
        session.add_all([Client(external_id=ext) for ext in missing])
        session.flush()
        for start in range(0, len(missing), _IN_CHUNK):
            chunk = missing[start : start + _IN_CHUNK]
            rows = session.execute(
                select(Client.external_id, Client.id).where(Client.external_id.in_(chunk))
            )
            found.update({ext: pk for ext, pk in rows})
    return found


def update_client_details(
    *,
    session: Session,
    records: Sequence[Mapping[str, Any]],
    ids: Mapping[str, int] | None = None,
) -> None:
    """Fill personal fields from a source (``client_id`` plus any of name, email, phone,
    birth_date, sex, deceased); a field the source leaves empty is kept. ``ids`` (from
    :func:`client_ids`) saves resolving the clients again."""
    if not records:
        return
    if ids is None:
        ids = client_ids(session=session, external_ids=[r["client_id"] for r in records])
    clients = {c.id: c for c in _clients_by_pk(session, list(ids.values()))}
    for record in records:
        client = clients[ids[record["client_id"]]]
        for name in ("name", "email", "phone", "birth_date", "sex"):
            value = record.get(name)
            if value is not None:
                setattr(client, name, value)
        if record.get("birth_date") is not None:
            client.birth_year = record["birth_date"].year
        client.deceased = client.deceased or bool(record.get("deceased"))


def _clients_by_pk(session: Session, pks: list[int]) -> list[Client]:
    out: list[Client] = []
    for start in range(0, len(pks), _IN_CHUNK):
        chunk = pks[start : start + _IN_CHUNK]
        out.extend(session.scalars(select(Client).where(Client.id.in_(chunk))))
    return out


CLIENTS_SEEN = "health_advisor_clients_by_external_id"  # key in Session.info


def get_client(*, session: Session, external_id: str) -> Client | None:
    """The client ``external_id``, remembered for the rest of the session: a request
    checks access to a client and then works on it, and each look-up is a query."""
    seen: dict[str, Client] = session.info.setdefault(CLIENTS_SEEN, {})
    client = seen.get(external_id)
    if client is not None and client in session and client.external_id == external_id:
        return client
    client = session.scalar(select(Client).where(Client.external_id == external_id))
    if client is not None:
        seen[external_id] = client
    return client


def lock_client(*, session: Session, client: Client) -> None:
    """Make the rest of this transaction the only writer of ``client``'s rows until it
    ends: ``SELECT ... FOR UPDATE`` of the client's row on PostgreSQL (other writers of
    that client wait; other clients do not); on SQLite, the database's write lock (one
    writer at a time anyway, see :mod:`health_advisor.store.writelock`). What is read
    after this is what the next writer will see, e.g. a client's latest plan version."""
    session.execute(
        select(Client.id)
        .where(Client.id == client.id)
        .with_for_update()
        .execution_options(**{writelock.WRITE_INTENT: True})
    )


def list_clients(*, session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.external_id)))


def client_summaries(*, session: Session) -> list[tuple[str, str | None, int | None]]:
    """(external id, sex, birth year) of every client, without decrypting personal fields."""
    query = select(Client.external_id, Client.sex, Client.birth_year).order_by(Client.external_id)
    return [(ext, sex, year) for ext, sex, year in session.execute(query)]


def count_clients(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Client)) or 0)


def measurement_counts(*, session: Session) -> dict[str, dict[str, int]]:
    """Per client external id: metric code -> number of stored measurements."""
    rows = session.execute(
        select(Client.external_id, Measurement.metric, func.count())
        .join(Measurement, Measurement.client_id == Client.id)
        .group_by(Client.external_id, Measurement.metric)
    )
    counts: dict[str, dict[str, int]] = {}
    for ext, metric, n in rows:
        counts.setdefault(ext, {})[metric] = n
    return counts


def metric_totals(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(Measurement.metric, func.count()).group_by(Measurement.metric))
    return {metric: n for metric, n in rows}


def latest_observation(*, session: Session) -> datetime | None:
    return session.scalar(select(func.max(Measurement.observed_at)))


def source_by_sha(*, session: Session, sha256: str) -> DataSource | None:
    return session.scalar(select(DataSource).where(DataSource.sha256 == sha256))


def list_sources(*, session: Session) -> list[DataSource]:
    return list(session.scalars(select(DataSource).order_by(DataSource.id)))


def list_quarantine(
    *, session: Session, source_id: int | None = None, limit: int | None = None
) -> list[tuple[Quarantine, DataSource]]:
    query = (
        select(Quarantine, DataSource)
        .join(DataSource, Quarantine.source_id == DataSource.id)
        .order_by(Quarantine.id)
    )
    if source_id is not None:
        query = query.where(Quarantine.source_id == source_id)
    if limit is not None:
        query = query.limit(limit)
    return [(q, s) for q, s in session.execute(query)]


def quarantine_by_reason(*, session: Session) -> dict[str, int]:
    """Counts by reason kind: the reason up to its first colon, line numbers as N."""
    counts: dict[str, int] = {}
    for (reason,) in session.execute(select(Quarantine.reason)):
        kind = re.sub(r"\bline \d+", "line N", reason.split(":", 1)[0])
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def current_catalog(*, session: Session) -> CatalogVersion | None:
    return session.scalar(select(CatalogVersion).where(CatalogVersion.is_current.is_(True)))


def store_catalog(
    *, session: Session, version: str, content_hash: str, items: Sequence[dict[str, Any]]
) -> tuple[CatalogVersion, bool]:
    """Make this catalog current; returns (version row, whether it was newly stored)."""
    existing = session.scalar(
        select(CatalogVersion).where(CatalogVersion.content_hash == content_hash)
    )
    for row in session.scalars(select(CatalogVersion).where(CatalogVersion.is_current)):
        row.is_current = False
    if existing is not None:
        existing.is_current = True
        return existing, False
    row = CatalogVersion(version=version, content_hash=content_hash, is_current=True)
    session.add(row)
    session.flush()
    session.add_all(
        Intervention(
            catalog_version_id=row.id,
            intervention_id=item["id"],
            domain=item["domain"],
            intensity=item["intensity"],
            weekly_minutes=item["weekly_minutes"],
            definition=item,
        )
        for item in items
    )
    return row, True


def list_interventions(*, session: Session) -> list[Intervention]:
    current = current_catalog(session=session)
    if current is None:
        return []
    return list(
        session.scalars(
            select(Intervention)
            .where(Intervention.catalog_version_id == current.id)
            .order_by(Intervention.domain, Intervention.intervention_id)
        )
    )
