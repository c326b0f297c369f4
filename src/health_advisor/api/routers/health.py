"""Liveness and readiness, for load balancers and orchestrators (no authentication)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from health_advisor.api.errors import problem_response

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    database: str | None = None


@router.get("/healthz", response_model=Status, summary="The process is up")
def healthz() -> Status:
    return Status(status="ok")


@router.get(
    "/readyz",
    response_model=Status,
    summary="The database answers",
    responses={503: {"description": "the database does not answer"}},
)
def readyz(request: Request) -> Any:
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return _not_ready(request, exc)
    return Status(status="ready", database="ok")


def _not_ready(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 503, detail=f"database unavailable ({type(exc).__name__})")
