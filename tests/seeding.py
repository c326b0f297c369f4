"""Rows the API, web and operations conftests seed their clinics with.

Each helper adds to an open session what the store holds after real use (a consenting
client, an intake snapshot, an alert, a quarantined reading, one user per role), so the
conftests differ only in what their tests need. Users share one argon2 hash per password,
computed once per process: most tests then pay for no password hashing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from health_advisor.catalog import load_catalog
from health_advisor.core.catalog import Catalog
from health_advisor.security import consent, passwords
from health_advisor.store import repositories
from health_advisor.store.models import (
    Alert,
    Client,
    DataSource,
    FeatureSnapshot,
    Quarantine,
    User,
)

PASSWORD = "correct horse battery staple"
CLIENT_A, CLIENT_B = "client-a", "client-b"
CLIENT_NAMES = {CLIENT_A: "Ana Quispe Rojas", CLIENT_B: "Bruno Díaz Soto"}
ACCOUNTS = {  # who -> (username, role, linked client)
    "admin": ("root-admin", "admin", None),
    "coordinator": ("coord", "coordinator", None),
    "professional": ("doctor", "professional", None),
    "client": ("alice", "client", CLIENT_A),
    "other_client": ("bob", "client", CLIENT_B),
}
INTAKE_DAY = dt.date(2026, 11, 1)


@lru_cache(maxsize=4)
def password_hash(password: str = PASSWORD) -> str:
    return passwords.hash_password(password)


def store_catalog(session: Session) -> Catalog:
    """The bundled intervention catalog, stored as its current version."""
    catalog = load_catalog()
    repositories.store_catalog(
        session=session,
        version=catalog.version,
        content_hash=catalog.content_hash,
        items=[i.model_dump(mode="json") for i in catalog.interventions],
    )
    return catalog


def add_source(session: Session, *, digest_char: str, file_name: str = "seed.csv") -> DataSource:
    """An ingested CSV file (flushed: rows may point at it); its digest repeats one char."""
    source = DataSource(
        kind="csv", file_name=file_name, sha256=digest_char * 64, size_bytes=10, parser_version="1"
    )
    session.add(source)
    session.flush()
    return source


def add_client(session: Session, *, purposes: Iterable[str], note: str, **fields: Any) -> Client:
    """A client (flushed, so it has an id) that granted consent to each of ``purposes``."""
    client = Client(**fields)
    session.add(client)
    session.flush()
    for purpose in purposes:
        consent.record_consent(session, client, purpose, True, note)
    return client


def add_snapshot(
    session: Session,
    client: Client,
    *,
    steps_7d: float = 6500.0,
    category: str = "moderate",
    reason: str = "stage 1",
) -> FeatureSnapshot:
    """An intake feature snapshot with one feature and an overall risk."""
    snapshot = FeatureSnapshot(
        client_id=client.id,
        as_of=INTAKE_DAY,
        feature_version="1.0.0",
        features={"steps_7d": steps_7d},
        risk={"overall": {"category": category, "reason": reason}},
    )
    session.add(snapshot)
    return snapshot


def add_alert(
    session: Session,
    client: Client,
    *,
    start: dt.date,
    explanation: str,
    kind: str = "rhr_elevated",
    severity: str = "warning",
    metric: str = "40443-4",
    days: int = 3,
    **fields: Any,
) -> Alert:
    """An alert on ``client`` over ``start`` .. ``start + days``, keyed as the detector keys it."""
    alert = Alert(
        client_id=client.id,
        dedup_key=f"{client.external_id}|{kind}|{start.isoformat()}",
        kind=kind,
        severity=severity,
        metric=metric,
        window_start=start,
        window_end=start + dt.timedelta(days=days),
        explanation=explanation,
        **fields,
    )
    session.add(alert)
    return alert


def add_quarantined_heart_rate(
    session: Session, source: DataSource, client: Client, *, line: int
) -> Quarantine:
    """A heart rate of 400 /min from ``source``, held back by the range check."""
    row = Quarantine(
        source_id=source.id,
        line=line,
        field="heart_rate",
        reason="heart_rate: 400 /min outside 25-250",
        raw=f"{client.external_id},400",
        client_external_id=client.external_id,
    )
    session.add(row)
    return row


def add_heart_rate_findings(
    session: Session,
    source: DataSource,
    client: Client,
    *,
    start: dt.date,
    explanation: str,
    line: int,
) -> Alert:
    """What a bad heart-rate spell leaves: the detector's alert from ``start`` and the
    ingest's quarantined 400 /min reading at ``line`` of ``source``."""
    alert = add_alert(session, client, start=start, explanation=explanation)
    add_quarantined_heart_rate(session, source, client, line=line)
    return alert


def add_users(
    session: Session,
    accounts: Mapping[str, tuple[str, str, str | None]],
    *,
    password: str = PASSWORD,
) -> dict[str, User]:
    """One active user per entry of ``accounts`` (who -> (username, role, linked client's
    external id)), flushed; returned by ``who``."""
    made: dict[str, User] = {}
    for who, (username, role, client_ext) in accounts.items():
        client_pk = (
            session.scalar(select(Client.id).where(Client.external_id == client_ext))
            if client_ext
            else None
        )
        user = User(
            username=username,
            password_hash=password_hash(password),
            role=role,
            client_id=client_pk,
            active=True,
            failed_logins=0,
        )
        session.add(user)
        made[who] = user
    session.flush()
    return made
