"""API keys for wearable bridges (administrators only); a key is shown once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from health_advisor.api.deps import Ctx
from health_advisor.api.schemas import ShortText
from health_advisor.security import apikeys
from health_advisor.store.models import ApiKey

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"])


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_by: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the key itself: shown only now, store it safely")


class ApiKeyIn(BaseModel):
    name: Annotated[ShortText, Field(min_length=1, max_length=64)]
    scopes: list[Literal["ingest"]] = Field(["ingest"], min_length=1)


def _out(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=sorted(apikeys.scopes_of(row)),
        created_by=row.created_by,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.get("", response_model=list[ApiKeyOut], summary="API keys (never the keys themselves)")
def list_keys(ctx: Ctx) -> list[ApiKeyOut]:
    ctx.require_role("admin")
    return [_out(r) for r in apikeys.list_api_keys(ctx.session)]


@router.post("", response_model=ApiKeyCreated, status_code=201, summary="Create an API key")
def create_key(body: ApiKeyIn, ctx: Ctx) -> ApiKeyCreated:
    ctx.require_role("admin")
    row, key = apikeys.create_api_key(
        ctx.session, name=body.name, scopes=body.scopes, created_by=ctx.principal.name
    )
    ctx.audit("create", "api_key", row.prefix, None, scopes=sorted(body.scopes))
    return ApiKeyCreated(**_out(row).model_dump(), key=key)


@router.delete("/{key_id}", status_code=204, response_class=Response, summary="Revoke an API key")
def revoke_key(key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], ctx: Ctx) -> Response:
    ctx.require_role("admin")
    row = apikeys.revoke_api_key(ctx.session, key_id)
    ctx.audit("revoke", "api_key", row.prefix)
    return Response(status_code=204)
