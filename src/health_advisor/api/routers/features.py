"""A client's latest feature snapshot with its risk categories and reasons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from health_advisor.api.deps import Ctx
from health_advisor.api.schemas import ClientIdPath
from health_advisor.security.access import Action

router = APIRouter(prefix="/api/v1/clients", tags=["features"])


class FeaturesOut(BaseModel):
    client_id: str
    as_of: dt.date
    feature_version: str
    computed_at: dt.datetime
    features: dict[str, Any]
    risk: dict[str, Any] = Field(description="per guideline: category and reason")


@router.get(
    "/{client_id}/features",
    response_model=FeaturesOut,
    summary="Latest features and risk categories (404 before `features build`)",
)
def latest_features(client_id: ClientIdPath, ctx: Ctx) -> FeaturesOut:
    from health_advisor.features.service import latest_snapshot  # pandas: on first use

    ctx.client(client_id, Action.READ)
    snapshot = latest_snapshot(ctx.session, client_id=client_id)
    ctx.audit("read", "features", client_id, client_id, as_of=snapshot["as_of"])
    return FeaturesOut(**snapshot)
