"""Clients, their consents, and the data-subject rights (export, rectify, erase)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from health_advisor.api.deps import Ctx
from health_advisor.api.pagination import Page, Paging
from health_advisor.api.schemas import ClientIdPath, ClientRef, Email, Phone, SafeText, ShortText
from health_advisor.errors import ConflictError, PermissionDenied
from health_advisor.security import access, consent, privacy, users
from health_advisor.security.access import Action
from health_advisor.store.models import Client, Consent

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])
Sex = Literal["female", "male", "other"]
Purpose = Literal["wearable_ingestion", "recommendations"]


class ClientSummary(BaseModel):
    client_id: str
    name: str | None
    sex: str | None
    birth_year: int | None


class ConsentOut(BaseModel):
    purpose: str
    granted: bool
    recorded_at: dt.datetime
    evidence: str | None


class ClientDetail(ClientSummary):
    email: str | None
    phone: str | None
    birth_date: dt.date | None
    deceased: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    consent_status: dict[str, bool] = Field(description="current answer per purpose")
    consents: list[ConsentOut] = Field(description="every record, oldest first")


class ClientIn(BaseModel):
    client_id: ClientRef
    name: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None


class ClientUpdate(BaseModel):
    name: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None


class ConsentIn(BaseModel):
    purpose: Purpose
    granted: bool = True
    evidence: SafeText | None = Field(
        None, description="where the written consent is kept (form id, document reference)"
    )


class ErasureOut(BaseModel):
    client_id: str
    mode: str
    summary: dict[str, Any]


def _summary(client: Client) -> ClientSummary:
    return ClientSummary(
        client_id=client.external_id, name=client.name, sex=client.sex, birth_year=client.birth_year
    )


def _consent_out(row: Consent) -> ConsentOut:
    return ConsentOut(
        purpose=row.purpose, granted=row.granted, recorded_at=row.recorded_at, evidence=row.evidence
    )


def _detail(ctx: Ctx, client: Client) -> ClientDetail:
    history = consent.history(ctx.session, client.id)
    status = {p: False for p in consent.PURPOSES}
    status.update({row.purpose: row.granted for row in history})
    return ClientDetail(
        **_summary(client).model_dump(),
        email=client.email,
        phone=client.phone,
        birth_date=client.birth_date,
        deceased=client.deceased,
        created_at=client.created_at,
        updated_at=client.updated_at,
        consent_status=status,
        consents=[_consent_out(r) for r in history],
    )


@router.get("", response_model=Page[ClientSummary], summary="Clients I may see")
def list_clients(
    ctx: Ctx,
    paging: Paging,
    q: Annotated[ShortText | None, Query(description="part of the client id")] = None,
    sex: Sex | None = None,
) -> Page[ClientSummary]:
    if not access.allowed(ctx.principal, Action.READ):
        raise PermissionDenied("a service key may not list clients")
    query = access.restrict(select(Client), ctx.principal)
    if q:
        query = query.where(Client.external_id.contains(q, autoescape=True))
    if sex:
        query = query.where(Client.sex == sex)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        ctx.session.scalars(
            query.order_by(Client.external_id).limit(paging.limit).offset(paging.offset)
        )
    )
    ctx.audit("list", "client", clients=[c.external_id for c in rows])
    return Page(items=[_summary(c) for c in rows], total=total, **paging.model_dump())


@router.post(
    "",
    response_model=ClientDetail,
    status_code=201,
    summary="Register a client",
    responses={409: {}},
)
def create_client(body: ClientIn, ctx: Ctx) -> ClientDetail:
    ctx.require_role("admin", "coordinator")
    if ctx.session.scalar(select(Client.id).where(Client.external_id == body.client_id)):
        raise ConflictError(f"client {body.client_id!r} already exists")
    client = Client(external_id=body.client_id, **body.model_dump(exclude={"client_id"}))
    client.birth_year = body.birth_date.year if body.birth_date else None
    ctx.session.add(client)
    ctx.session.flush()
    if ctx.principal.role == "coordinator":
        users.assign_client(ctx.session, ctx.principal.name, client.external_id)
    ctx.audit("create", "client", client.external_id, client.external_id)
    return _detail(ctx, client)


@router.get("/{client_id}", response_model=ClientDetail, summary="A client, with consents")
def get_client(client_id: ClientIdPath, ctx: Ctx) -> ClientDetail:
    client = ctx.client(client_id, Action.READ)
    ctx.audit("read", "client", client_id, client_id)
    return _detail(ctx, client)


@router.patch("/{client_id}", response_model=ClientDetail, summary="Rectify personal data")
def rectify_client(client_id: ClientIdPath, body: ClientUpdate, ctx: Ctx) -> ClientDetail:
    client = ctx.client(client_id, Action.WRITE)
    changed = privacy.rectify_client(ctx.session, client, body.model_dump(exclude_unset=True))
    ctx.session.flush()
    ctx.audit("rectify", "client", client_id, client_id, fields=changed)
    return _detail(ctx, client)


@router.delete(
    "/{client_id}",
    response_model=ErasureOut,
    summary="Erase a client (anonymise, or delete every row); the audit trail is kept",
)
def erase_client(
    client_id: ClientIdPath,
    ctx: Ctx,
    mode: Literal["anonymise", "delete"] = "anonymise",
) -> ErasureOut:
    client = ctx.client(client_id, Action.ERASE)
    summary = privacy.erase_client(ctx.session, client, mode=mode)
    ctx.audit("erase", "client", client_id, client_id, **summary)
    return ErasureOut(client_id=client_id, mode=mode, summary=summary)


@router.get(
    "/{client_id}/export",
    response_model=dict[str, Any],
    summary="Everything stored about a client (JSON, or a FHIR R4 Bundle)",
)
def export_client(
    client_id: ClientIdPath, ctx: Ctx, format: Literal["json", "fhir"] = "json"
) -> dict[str, Any]:
    client = ctx.client(client_id, Action.EXPORT)
    ctx.audit("export", "client", client_id, client_id, format=format)
    if format == "fhir":
        return privacy.export_fhir(ctx.session, client)
    return privacy.export_client(ctx.session, client)


@router.post(
    "/{client_id}/consents",
    response_model=ConsentOut,
    status_code=201,
    summary="Record a consent (or a refusal) for a purpose",
)
def record_consent(client_id: ClientIdPath, body: ConsentIn, ctx: Ctx) -> ConsentOut:
    client = ctx.client(client_id, Action.WRITE)
    row = consent.record_consent(ctx.session, client, body.purpose, body.granted, body.evidence)
    ctx.audit("consent", "consent", body.purpose, client_id, granted=body.granted)
    return _consent_out(row)


@router.delete(
    "/{client_id}/consents/{purpose}",
    response_model=ConsentOut,
    summary="Withdraw a consent (appends a withdrawal; the history is kept)",
)
def withdraw_consent(client_id: ClientIdPath, purpose: Purpose, ctx: Ctx) -> ConsentOut:
    client = ctx.client(client_id, Action.WRITE)
    row = consent.record_consent(ctx.session, client, purpose, False, None)
    ctx.audit("withdraw_consent", "consent", purpose, client_id)
    return _consent_out(row)
