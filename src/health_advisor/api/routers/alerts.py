"""Anomaly alerts: list those of the clients I may see, acknowledge one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from health_advisor.api.deps import Ctx
from health_advisor.api.pagination import Page, Paging
from health_advisor.api.schemas import ClientRef, ShortText
from health_advisor.errors import NotFoundError, PermissionDenied
from health_advisor.security import access
from health_advisor.security.access import Action
from health_advisor.store.models import Alert, Client

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


class AlertOut(BaseModel):
    id: int
    client_id: str | None = Field(description="None for clinic-wide alerts (feature drift)")
    kind: str
    severity: str
    metric: str
    window_start: dt.date
    window_end: dt.date
    explanation: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None


def _out(alert: Alert, external_id: str | None) -> AlertOut:
    return AlertOut(
        id=alert.id,
        client_id=external_id,
        kind=alert.kind,
        severity=alert.severity,
        metric=alert.metric,
        window_start=alert.window_start,
        window_end=alert.window_end,
        explanation=alert.explanation,
        created_at=alert.created_at,
        acknowledged_at=alert.acknowledged_at,
    )


@router.get("", response_model=Page[AlertOut], summary="Alerts of the clients I may see")
def list_alerts(
    ctx: Ctx,
    paging: Paging,
    client_id: Annotated[ClientRef | None, Query()] = None,
    acknowledged: bool | None = None,
    severity: Annotated[ShortText | None, Query()] = None,
    kind: Annotated[ShortText | None, Query()] = None,
) -> Page[AlertOut]:
    if not access.allowed(ctx.principal, Action.READ):
        raise PermissionDenied("a service key may not read alerts")
    query = access.restrict(
        # Clinic-wide alerts (no client, e.g. feature drift) reach the roles that see
        # every client: restrict() keeps a NULL client only for them.
        select(Alert, Client.external_id).outerjoin(Client, Client.id == Alert.client_id),
        ctx.principal,
        Alert.client_id,
    )
    if client_id is not None:
        query = query.where(Client.external_id == client_id)
    if acknowledged is not None:
        query = query.where(
            Alert.acknowledged_at.is_not(None) if acknowledged else Alert.acknowledged_at.is_(None)
        )
    if severity:
        query = query.where(Alert.severity == severity)
    if kind:
        query = query.where(Alert.kind == kind)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = ctx.session.execute(
        query.order_by(Alert.window_start.desc(), Alert.id.desc())
        .limit(paging.limit)
        .offset(paging.offset)
    ).all()
    items = [_out(alert, ext) for alert, ext in rows]
    ctx.audit("list", "alert", None, client_id, clients=sorted({a.client_id for a in items}))
    return Page(items=items, total=total, **paging.model_dump())


@router.post("/{alert_id}/acknowledge", response_model=AlertOut, summary="Mark an alert as seen")
def acknowledge(alert_id: Annotated[int, Path(ge=1, le=2**62)], ctx: Ctx) -> AlertOut:
    row = ctx.session.execute(
        select(Alert, Client.external_id)
        .outerjoin(Client, Client.id == Alert.client_id)
        .where(Alert.id == alert_id)
    ).first()
    if row is None:
        raise NotFoundError(f"alert {alert_id} not found")
    alert, external_id = row
    if external_id is None:  # a clinic-wide alert: staff who see every client
        ctx.require_role("admin", "professional")
    else:
        ctx.client(external_id, Action.ACKNOWLEDGE)
    if alert.acknowledged_at is None:
        alert.acknowledged_at = dt.datetime.now(dt.UTC)
    ctx.audit("acknowledge", "alert", alert_id, external_id)
    return _out(alert, external_id)
