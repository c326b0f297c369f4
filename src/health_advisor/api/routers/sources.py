"""Lineage (every ingested file) and the quarantine of rejected records.

Administrators see everything; coordinators see the sources and the quarantined records
of their assigned clients only (a quarantined record holds the raw row, which may carry
a name).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from health_advisor.api.deps import Ctx
from health_advisor.api.pagination import Page, Paging
from health_advisor.security import access
from health_advisor.store.models import Client, DataSource, Quarantine

router = APIRouter(prefix="/api/v1", tags=["sources"])


class SourceOut(BaseModel):
    id: int
    kind: str
    file_name: str
    sha256: str
    size_bytes: int
    parser_version: str
    records_read: int
    measurements_stored: int
    measurements_duplicate: int
    interactions_stored: int
    clients_seen: int
    quarantined: int
    ingested_at: dt.datetime


class QuarantineOut(BaseModel):
    id: int
    source_id: int
    file_name: str
    line: int | None
    field: str | None
    reason: str
    client_id: str | None
    raw: str
    created_at: dt.datetime


@router.get("/sources", response_model=Page[SourceOut], summary="Ingested files (lineage)")
def list_sources(ctx: Ctx, paging: Paging) -> Page[SourceOut]:
    ctx.require_role("admin", "coordinator")
    total = ctx.session.scalar(select(func.count()).select_from(DataSource)) or 0
    rows = ctx.session.scalars(
        select(DataSource).order_by(DataSource.id).limit(paging.limit).offset(paging.offset)
    )
    items = [SourceOut.model_validate(r, from_attributes=True) for r in rows]
    return Page(items=items, total=total, **paging.model_dump())


@router.get("/quarantine", response_model=Page[QuarantineOut], summary="Rejected records and why")
def list_quarantine(
    ctx: Ctx,
    paging: Paging,
    source_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[QuarantineOut]:
    ctx.require_role("admin", "coordinator")
    query = select(Quarantine, DataSource.file_name).join(
        DataSource, DataSource.id == Quarantine.source_id
    )
    if ctx.principal.role != "admin":
        reachable = access.restrict(select(Client.external_id), ctx.principal)
        query = query.where(Quarantine.client_external_id.in_(reachable))
    if source_id is not None:
        query = query.where(Quarantine.source_id == source_id)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.execute(
        query.order_by(Quarantine.id).limit(paging.limit).offset(paging.offset)
    ).all()
    items = [
        QuarantineOut(
            id=q.id,
            source_id=q.source_id,
            file_name=file_name,
            line=q.line,
            field=q.field,
            reason=q.reason,
            client_id=q.client_external_id,
            raw=q.raw,
            created_at=q.created_at,
        )
        for q, file_name in rows
    ]
    clients = sorted({i.client_id for i in items if i.client_id})
    ctx.audit("list", "quarantine", source_id, None, clients=clients, count=len(items))
    return Page(items=items, total=total, **paging.model_dump())
