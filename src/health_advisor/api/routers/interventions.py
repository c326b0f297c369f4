"""The current intervention catalog (not personal data: any signed-in person)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from health_advisor.api.deps import Ctx
from health_advisor.api.pagination import Page, Paging
from health_advisor.errors import NotFoundError
from health_advisor.security.access import STAFF
from health_advisor.store import repositories
from health_advisor.store.models import Intervention

router = APIRouter(prefix="/api/v1/interventions", tags=["interventions"])
Lang = Literal["es", "en"]
Domain = Literal["exercise", "nutrition", "sleep", "stress", "prevention"]


class InterventionOut(BaseModel):
    id: str
    domain: str
    intensity: str
    weekly_minutes: int
    title: str
    description: str


class InterventionDetail(InterventionOut):
    definition: dict[str, Any]


def _text(definition: dict[str, Any], key: str, lang: str) -> str:
    value = definition.get(key) or {}
    return str(value.get(lang) or value.get("es") or "") if isinstance(value, dict) else str(value)


def _out(row: Intervention, lang: str) -> InterventionOut:
    return InterventionOut(
        id=row.intervention_id,
        domain=row.domain,
        intensity=row.intensity,
        weekly_minutes=row.weekly_minutes,
        title=_text(row.definition, "title", lang),
        description=_text(row.definition, "description", lang),
    )


@router.get("", response_model=Page[InterventionOut], summary="The current catalog")
def list_interventions(
    ctx: Ctx, paging: Paging, domain: Domain | None = None, lang: Lang = "es"
) -> Page[InterventionOut]:
    ctx.require_role(*STAFF, "client")
    rows = repositories.list_interventions(session=ctx.session)
    if domain:
        rows = [r for r in rows if r.domain == domain]
    page = rows[paging.offset : paging.offset + paging.limit]
    return Page(items=[_out(r, lang) for r in page], total=len(rows), **paging.model_dump())


@router.get("/{intervention_id}", response_model=InterventionDetail, summary="One intervention")
def get_intervention(
    intervention_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$")],
    ctx: Ctx,
    lang: Annotated[Lang, Query()] = "es",
) -> InterventionDetail:
    ctx.require_role(*STAFF, "client")
    for row in repositories.list_interventions(session=ctx.session):
        if row.intervention_id == intervention_id:
            return InterventionDetail(**_out(row, lang).model_dump(), definition=row.definition)
    raise NotFoundError(f"intervention {intervention_id!r} not in the current catalog")
