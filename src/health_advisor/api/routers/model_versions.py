"""Registered recommender versions and their metrics (MLflow, imported on first use)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from health_advisor.api.deps import Ctx
from health_advisor.errors import ModelNotReady

router = APIRouter(prefix="/api/v1/models", tags=["models"])


class ModelVersionOut(BaseModel):
    version: int
    run_id: str | None
    run_status: str | None
    model_class: str | None
    holdout_id: str | None
    metrics: dict[str, float]
    is_champion: bool
    aliases: list[str]
    created: str | None
    promoted_by: str | None
    gate_decision: str | None
    gate_reason: str | None


@router.get("", response_model=list[ModelVersionOut], summary="Model versions, oldest first")
def list_models(request: Request, ctx: Ctx) -> list[ModelVersionOut]:
    ctx.require_role("admin", "professional", "coordinator")
    return [ModelVersionOut(**row) for row in _versions(request.app.state.settings)]


def _versions(settings: Any) -> list[dict[str, Any]]:
    from health_advisor.recommender.registry import list_versions
    from health_advisor.recommender.tracking import connect

    try:
        client = connect(settings.resolved_mlflow_tracking_uri, create=False)
        return list_versions(client=client)
    except ModelNotReady:
        return []
