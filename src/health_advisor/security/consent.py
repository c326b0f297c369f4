"""Consent per purpose, as recorded evidence (Ley 29733 art. 13: health data is
sensitive, so its processing needs written, express consent).

Consents are append-only: granting or withdrawing adds a record, and the latest record
of a purpose is the client's current answer. Withdrawing keeps the history that shows
what was allowed when.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from health_advisor.errors import ConflictError, InputError
from health_advisor.store.models import Client, Consent

WEARABLE_INGESTION = "wearable_ingestion"
RECOMMENDATIONS = "recommendations"
PURPOSES: tuple[str, ...] = (WEARABLE_INGESTION, RECOMMENDATIONS)


def record_consent(
    session: Session,
    client: Client,
    purpose: str,
    granted: bool,
    evidence: str | None = None,
    *,
    now: datetime | None = None,
) -> Consent:
    """Append a grant or a withdrawal."""
    if purpose not in PURPOSES:
        raise InputError(f"unknown consent purpose {purpose!r} (expected {', '.join(PURPOSES)})")
    row = Consent(
        client_id=client.id,
        purpose=purpose,
        granted=granted,
        evidence=evidence,
        recorded_at=now or datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return row


def history(session: Session, client_pk: int) -> list[Consent]:
    """Every record of a client, oldest first."""
    return list(
        session.scalars(
            select(Consent)
            .where(Consent.client_id == client_pk)
            .order_by(Consent.recorded_at, Consent.id)
        )
    )


def current(session: Session, client_pk: int) -> dict[str, Consent]:
    """The latest record per purpose."""
    return {row.purpose: row for row in history(session, client_pk)}


def has_consent(session: Session, client_pk: int, purpose: str) -> bool:
    latest = current(session, client_pk).get(purpose)
    return latest is not None and latest.granted


def without_consent(session: Session, client_pks: Iterable[int], purpose: str) -> list[int]:
    """The clients among ``client_pks`` whose current answer for ``purpose`` is not yes."""
    wanted = set(client_pks)
    latest: dict[int, bool] = {}
    rows = session.execute(
        select(Consent.client_id, Consent.granted)
        .where(Consent.client_id.in_(wanted), Consent.purpose == purpose)
        .order_by(Consent.recorded_at, Consent.id)
    )
    for client_pk, granted in rows:
        latest[client_pk] = granted
    return sorted(pk for pk in wanted if not latest.get(pk, False))


def require_consent(session: Session, client: Client, purpose: str) -> None:
    """:class:`ConflictError` unless the client's current answer for ``purpose`` is yes."""
    if not has_consent(session, client.id, purpose):
        raise ConflictError(f"client {client.external_id!r} has no recorded consent for {purpose}")
