"""The audit log: who read or changed whose data, when, from where, with what outcome.

Every read and write of a client's data records one entry in the same transaction as the
operation, so an entry exists exactly when the operation happened. Denials are recorded
too (by the API, in a transaction of their own, since the request's is rolled back).
``client_ref`` is the client's external id as plain text, not a foreign key: erasing a
client keeps the trail of who saw the data before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from health_advisor.store.models import AuditEntry

OUTCOMES = ("ok", "denied", "failed")
log = logging.getLogger(__name__)


class Actor(Protocol):
    """Anything that acts: a signed-in user or an API key (see ``access.Principal``)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


def record(
    session: Session,
    actor: Actor | str,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    client_ref: str | None = None,
    source: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    outcome: str = "ok",
) -> AuditEntry:
    """Add one entry (flushed with the caller's transaction)."""
    name, role = (actor, None) if isinstance(actor, str) else (actor.name, actor.role)
    entry = AuditEntry(
        actor=name[:128],
        actor_role=role,
        action=action[:32],
        object_type=object_type[:32],
        object_id=None if object_id is None else str(object_id)[:128],
        client_ref=client_ref,
        source_address=None if source is None else source[:64],
        outcome=outcome,
        detail=detail or {},
    )
    session.add(entry)
    return entry


def record_denial(
    session_factory: Callable[[], Session],
    note: dict[str, Any],
    *,
    source: str | None,
    detail: dict[str, Any],
) -> None:
    """A ``denied`` entry from an access check's audit note, in a transaction of its own
    (the request's is rolled back). A failure to write it is logged, never raised: the
    denial is still answered."""
    try:
        with session_factory() as session, session.begin():
            record(
                session,
                note["actor"],
                note["action"],
                note["object_type"],
                note.get("object_id"),
                note.get("client_ref"),
                source,
                {"role": note.get("actor_role"), **detail},
                outcome="denied",
            )
    except Exception:
        log.exception("could not record a denied access in the audit log")


def list_entries(
    session: Session,
    *,
    actor: str | None = None,
    client_ref: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """A page of entries, newest first, and how many match in all."""
    query = select(AuditEntry)
    for column, value in (
        (AuditEntry.actor, actor),
        (AuditEntry.client_ref, client_ref),
        (AuditEntry.action, action),
        (AuditEntry.object_type, object_type),
        (AuditEntry.outcome, outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total)
