"""The audit log (administrators only), newest first, with filters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from health_advisor.api.deps import Ctx
from health_advisor.api.pagination import Page, Paging
from health_advisor.api.schemas import ClientRef, IsoDateTime, ShortText
from health_advisor.security import audit

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    actor_role: str | None
    action: str
    object_type: str
    object_id: str | None
    client_id: str | None
    source_address: str | None
    outcome: str
    detail: dict[str, Any]


@router.get("", response_model=Page[AuditOut], summary="Who did what to whose data")
def list_audit(
    ctx: Ctx,
    paging: Paging,
    actor: Annotated[ShortText | None, Query()] = None,
    client_id: Annotated[ClientRef | None, Query()] = None,
    action: Annotated[ShortText | None, Query()] = None,
    object_type: Annotated[ShortText | None, Query()] = None,
    outcome: Literal["ok", "denied", "failed"] | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
) -> Page[AuditOut]:
    ctx.require_role("admin")
    rows, total = audit.list_entries(
        ctx.session,
        actor=actor,
        client_ref=client_id,
        action=action,
        object_type=object_type,
        outcome=outcome,
        since=_aware(since),
        until=_aware(until),
        limit=paging.limit,
        offset=paging.offset,
    )
    items = [
        AuditOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            actor_role=r.actor_role,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            client_id=r.client_ref,
            source_address=r.source_address,
            outcome=r.outcome,
            detail=r.detail or {},
        )
        for r in rows
    ]
    return Page(items=items, total=total, **paging.model_dump())


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)
