"""Plans and check-ins: generate, read, documents, edit items, review, activate, check in.

Object-level access comes from :mod:`health_advisor.security.access` (the plan's client
must be within the caller's reach); who may move a plan through the workflow comes from
:mod:`health_advisor.plans.workflow` (only a professional approves). A client reads only
their own plans once approved, and checks in only on their own active plan. Generating
a plan needs the client's recorded consent for recommendations (checked by the service).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from health_advisor.api.deps import Ctx
from health_advisor.api.schemas import ClientIdPath
from health_advisor.errors import NotFoundError
from health_advisor.plans import service
from health_advisor.plans.workflow import CLIENT_VISIBLE, STATES, Actor
from health_advisor.security.access import Action
from health_advisor.store.models import Client
from health_advisor.store.models import Plan as PlanRow

router = APIRouter(prefix="/api/v1", tags=["plans"])

Lang = Annotated[Literal["es", "en"], Query(description="Language of texts (es default).")]
PlanIdPath = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ReasonOut(BaseModel):
    kind: str
    params: dict[str, Any]
    text: str


class TargetOut(BaseModel):
    metric: str | None
    unit: str
    direction: str
    baseline: float | None
    value: float
    goal: float | None
    weekly_change: float | None
    start_date: dt.date
    review_date: dt.date
    rule: str
    text: str


class ItemOut(BaseModel):
    intervention_id: str
    title: str
    domain: str
    intensity: str
    weekly_minutes: int
    score: float
    predicted_adherence: float
    expected_benefit: float
    mandatory: bool
    citation: str
    origin: str
    target: TargetOut
    reasons: list[ReasonOut]


class ExclusionOut(BaseModel):
    intervention_id: str
    kind: str
    rule: str
    triggers: list[str]
    clearance_lifts: bool


class PlanOut(BaseModel):
    plan_id: int
    client_id: str
    version: int
    status: str
    as_of: dt.date
    model_version: int | None
    catalog_version: str
    fallback: str | None
    cold_start: bool
    time_budget_min: float | None
    weekly_minutes: int
    created_by: str
    created_at: dt.datetime
    reviewed_by: str | None
    review_comment: str | None
    approved_at: dt.datetime | None
    lang: str
    items: list[ItemOut]
    excluded: list[ExclusionOut]


class PlanSummary(BaseModel):
    plan_id: int
    client_id: str
    version: int
    status: str
    items: int
    model_version: int | None
    created_at: dt.datetime
    reviewed_by: str | None


class GenerateIn(BaseModel):
    rules_only: bool = Field(False, description="Ignore the model; rank by guideline rules.")


class CommentIn(BaseModel):
    comment: str | None = Field(None, max_length=2000)


class ItemIn(BaseModel):
    intervention_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class SwapIn(BaseModel):
    new_intervention_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class CheckInIn(BaseModel):
    intervention_id: str = Field(min_length=1, max_length=64)
    week: dt.date = Field(description="Any day of the week reported on.")
    adherence_pct: float = Field(ge=0, le=100)
    rating: int | None = Field(None, ge=1, le=5)
    side_effects: str | None = Field(None, max_length=2000)
    note: str | None = Field(None, max_length=2000)


class CheckInOut(BaseModel):
    checkin_id: int
    plan_id: int
    intervention_id: str
    week_start: dt.date
    adherence_pct: float
    rating: int | None
    interactions: int
    updated: bool


class EventOut(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    comment: str | None
    detail: dict[str, Any]


class OutcomeOut(BaseModel):
    intervention_id: str
    metric: str | None
    baseline: float | None
    current: float | None
    target_value: float
    review_date: dt.date
    mean_adherence: float | None
    on_track: bool | None
    basis: str
    checkins: int


# --------------------------------------------------------------------------- helpers


def _actor(ctx: Ctx) -> Actor:
    role = ctx.principal.role
    if role == "service":  # API keys ingest data; they never act on plans
        from health_advisor.errors import PermissionDenied

        raise PermissionDenied("an API key may not act on plans")
    return Actor(ctx.principal.name, role)


def _catalog() -> Any:
    from health_advisor.catalog import load_catalog

    return load_catalog()


def _plan_for(ctx: Ctx, plan_id: int, action: Action) -> tuple[PlanRow, str]:
    """The plan and its client's id, if the caller may ``action`` that client; a client
    never sees a plan before it is approved (answered as not found)."""
    plan = ctx.session.get(PlanRow, plan_id)
    if plan is None:
        raise NotFoundError(f"plan {plan_id} not found")
    external = ctx.session.get(Client, plan.client_id)
    assert external is not None
    ctx.client(external.external_id, action)
    if ctx.principal.role == "client" and plan.status not in CLIENT_VISIBLE:
        raise NotFoundError(f"plan {plan_id} not found")
    return plan, external.external_id


def _out(ctx: Ctx, plan: PlanRow, lang: str, client_id: str, status_code: int = 200) -> Response:
    """The plan's body as JSON, rendered and serialised once per version of the plan (see
    ``api.plan_cache``). Answered as a ready response: the body was validated against
    :class:`PlanOut` when it was made, so FastAPI neither validates nor encodes it again.
    """
    catalog = _catalog()
    key = (plan.id, plan.updated_at, plan.status, client_id, lang, catalog.version)
    body = ctx.state.plan_bodies.get(
        key,
        lambda: (
            PlanOut(
                **service.plan_json(
                    ctx.session, plan, catalog=catalog, lang=lang, client_id=client_id
                )
            )
            .model_dump_json()
            .encode()
        ),
    )
    return Response(body, status_code=status_code, media_type="application/json")


def _champion(request: Request) -> tuple[Any, str | None]:
    return request.app.state.champion.get()


# --------------------------------------------------------------------------- plans


@router.post(
    "/clients/{client_id}/plans",
    response_model=PlanOut,
    status_code=201,
    summary="Compose and store a new draft plan (coordinators and admins)",
    responses={409: {}},
)
def generate_plan(
    client_id: ClientIdPath, body: GenerateIn, request: Request, ctx: Ctx, lang: Lang = "es"
) -> Response:
    ctx.client(client_id, Action.WRITE)
    actor = _actor(ctx)
    model, fallback = (None, "rules_requested") if body.rules_only else _champion(request)
    plan = service.generate(
        ctx.session,
        client_id,
        actor,
        catalog=_catalog(),
        model=model,
        fallback=fallback,
        peer_cache=request.app.state.peers,
    )
    ctx.audit("create", "plan", plan.id, client_id, version=plan.version)
    # Committed before the body is rendered: on SQLite the database's one write lock is
    # held from the plan's insert to the commit, and every other writer waits for it.
    ctx.session.commit()
    return _out(ctx, plan, lang, client_id, status_code=201)


@router.get(
    "/clients/{client_id}/plans",
    response_model=list[PlanSummary],
    summary="A client's plans, newest first (a client sees approved ones only)",
)
def client_plans(client_id: ClientIdPath, ctx: Ctx) -> list[PlanSummary]:
    ctx.client(client_id, Action.READ)
    rows = service.list_plans(ctx.session, client_id=client_id)
    if ctx.principal.role == "client":
        rows = [(p, e) for p, e in rows if p.status in CLIENT_VISIBLE]
    ctx.audit("read", "plans", None, client_id)
    return [_summary(p, e) for p, e in rows]


def _summary(plan: PlanRow, external_id: str) -> PlanSummary:
    return PlanSummary(
        plan_id=plan.id,
        client_id=external_id,
        version=plan.version,
        status=plan.status,
        items=len(plan.items),
        model_version=plan.model_version,
        created_at=plan.created_at,
        reviewed_by=plan.reviewed_by,
    )


@router.get(
    "/clients/{client_id}/plans/current",
    response_model=PlanOut,
    summary="The plan the client follows: the active one, else the latest approved",
)
def current_plan(client_id: ClientIdPath, ctx: Ctx, lang: Lang = "es") -> Response:
    ctx.client(client_id, Action.READ)
    plan = service.visible_plan(ctx.session, client_id)
    ctx.audit("read", "plan", plan.id, client_id)
    return _out(ctx, plan, lang, client_id)


@router.get(
    "/plans",
    response_model=list[PlanSummary],
    summary="Plans of the clients within reach, e.g. the review queue (?status=in_review)",
)
def list_all_plans(
    ctx: Ctx,
    status: Annotated[str | None, Query(description=f"One of {', '.join(STATES)}.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PlanSummary]:
    from health_advisor.security.access import reaches

    ctx.require_role("admin", "coordinator", "professional")
    rows = service.list_plans(ctx.session, status=status)
    visible = [(p, e) for p, e in rows if reaches(ctx.session, ctx.principal, p.client_id)]
    return [_summary(p, e) for p, e in visible[:limit]]


@router.get("/plans/{plan_id}", response_model=PlanOut, summary="One plan")
def get_plan(plan_id: PlanIdPath, ctx: Ctx, lang: Lang = "es") -> Response:
    plan, client_id = _plan_for(ctx, plan_id, Action.READ)
    ctx.audit("read", "plan", plan.id, client_id)
    return _out(ctx, plan, lang, client_id)


@router.get(
    "/plans/{plan_id}/document",
    summary="The plan as HTML, PDF or a FHIR R4 Bundle (CarePlan + Goals)",
    responses={
        200: {
            "content": {
                "text/html": {},
                "application/pdf": {},
                "application/fhir+json": {},
            }
        }
    },
)
def plan_document(
    plan_id: PlanIdPath,
    ctx: Ctx,
    format: Annotated[Literal["html", "pdf", "fhir"], Query()] = "html",
    lang: Lang = "es",
) -> Response:
    import json

    plan, client_id = _plan_for(ctx, plan_id, Action.READ)
    doc = service.plan_document(ctx.session, plan)
    audience = "client" if ctx.principal.role == "client" else "professional"
    ctx.audit("read", "plan_document", plan.id, client_id, format=format)
    if format == "fhir":
        from health_advisor.plans.fhir import to_fhir_bundle

        bundle = to_fhir_bundle(doc, _catalog(), lang=lang)
        return Response(json.dumps(bundle, ensure_ascii=False), media_type="application/fhir+json")
    if format == "pdf":
        from health_advisor.plans.render import render_pdf

        return Response(
            render_pdf(doc, lang, _catalog(), audience=audience),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="plan-{plan.id}-v{plan.version}.pdf"'
            },
        )
    from health_advisor.plans.render import render_html

    return Response(render_html(doc, lang, _catalog(), audience=audience), media_type="text/html")


@router.get("/plans/{plan_id}/events", response_model=list[EventOut], summary="The plan's history")
def plan_events(plan_id: PlanIdPath, ctx: Ctx) -> list[EventOut]:
    plan, client_id = _plan_for(ctx, plan_id, Action.READ)
    ctx.require_role("admin", "coordinator", "professional")
    ctx.audit("read", "plan_events", plan.id, client_id)
    return [
        EventOut(
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            comment=e.comment,
            detail=e.detail,
        )
        for e in service.plan_events(ctx.session, plan.id)
    ]


@router.get(
    "/plans/{plan_id}/outcomes",
    response_model=list[OutcomeOut],
    summary="Each target's metric since the plan started, and whether it is on track",
)
def plan_outcomes(plan_id: PlanIdPath, ctx: Ctx) -> list[OutcomeOut]:
    plan, client_id = _plan_for(ctx, plan_id, Action.READ)
    ctx.audit("read", "plan_outcomes", plan.id, client_id)
    return [OutcomeOut(**row) for row in service.outcomes(ctx.session, plan.id)]


def _transition(ctx: Ctx, plan_id: int, action: str, comment: str | None, lang: str) -> Response:
    plan, client_id = _plan_for(ctx, plan_id, Action.READ)
    plan = service.transition(ctx.session, plan.id, action, _actor(ctx), comment=comment)
    ctx.audit(action, "plan", plan.id, client_id, status=plan.status)
    return _out(ctx, plan, lang, client_id)


@router.post(
    "/plans/{plan_id}/submit",
    response_model=PlanOut,
    summary="Send a draft for review",
    responses={409: {}},
)
def submit(
    plan_id: PlanIdPath, ctx: Ctx, body: CommentIn | None = None, lang: Lang = "es"
) -> Response:
    return _transition(ctx, plan_id, "submit", body.comment if body else None, lang)


@router.post(
    "/plans/{plan_id}/approve",
    response_model=PlanOut,
    summary="Approve (professionals only)",
    responses={409: {}},
)
def approve(
    plan_id: PlanIdPath, ctx: Ctx, body: CommentIn | None = None, lang: Lang = "es"
) -> Response:
    return _transition(ctx, plan_id, "approve", body.comment if body else None, lang)


@router.post(
    "/plans/{plan_id}/reject",
    response_model=PlanOut,
    summary="Send back to draft with a comment (professionals only)",
    responses={409: {}},
)
def reject(
    plan_id: PlanIdPath, ctx: Ctx, body: CommentIn | None = None, lang: Lang = "es"
) -> Response:
    return _transition(ctx, plan_id, "reject", body.comment if body else None, lang)


@router.post(
    "/plans/{plan_id}/activate",
    response_model=PlanOut,
    summary="Start an approved plan",
    responses={409: {}},
)
def activate(plan_id: PlanIdPath, ctx: Ctx, lang: Lang = "es") -> Response:
    return _transition(ctx, plan_id, "activate", None, lang)


@router.post(
    "/plans/{plan_id}/complete",
    response_model=PlanOut,
    summary="Close an active plan",
    responses={409: {}},
)
def complete(
    plan_id: PlanIdPath, ctx: Ctx, body: CommentIn | None = None, lang: Lang = "es"
) -> Response:
    return _transition(ctx, plan_id, "complete", body.comment if body else None, lang)


# --------------------------------------------------------------------------- items


@router.post(
    "/plans/{plan_id}/items",
    response_model=PlanOut,
    status_code=201,
    summary="Add an intervention to a draft (hard rules still apply)",
    responses={409: {}},
)
def add_item(plan_id: PlanIdPath, body: ItemIn, ctx: Ctx, lang: Lang = "es") -> Response:
    plan, client_id = _plan_for(ctx, plan_id, Action.WRITE)
    service.add_item(
        ctx.session,
        plan.id,
        body.intervention_id,
        _actor(ctx),
        reason=body.reason,
        catalog=_catalog(),
    )
    ctx.audit("item_added", "plan", plan.id, client_id, intervention_id=body.intervention_id)
    return _out(ctx, plan, lang, client_id, status_code=201)


@router.delete(
    "/plans/{plan_id}/items/{intervention_id}",
    response_model=PlanOut,
    summary="Remove an item from a draft (mandatory items stay)",
    responses={409: {}},
)
def remove_item(
    plan_id: PlanIdPath,
    intervention_id: Annotated[str, Field(min_length=1, max_length=64)],
    reason: Annotated[str, Query(min_length=1, max_length=2000)],
    ctx: Ctx,
    lang: Lang = "es",
) -> Response:
    plan, client_id = _plan_for(ctx, plan_id, Action.WRITE)
    service.remove_item(ctx.session, plan.id, intervention_id, _actor(ctx), reason=reason)
    ctx.audit("item_removed", "plan", plan.id, client_id, intervention_id=intervention_id)
    return _out(ctx, plan, lang, client_id)


@router.put(
    "/plans/{plan_id}/items/{intervention_id}",
    response_model=PlanOut,
    summary="Swap an item of a draft for another",
    responses={409: {}},
)
def swap_item(
    plan_id: PlanIdPath,
    intervention_id: Annotated[str, Field(min_length=1, max_length=64)],
    body: SwapIn,
    ctx: Ctx,
    lang: Lang = "es",
) -> Response:
    plan, client_id = _plan_for(ctx, plan_id, Action.WRITE)
    service.swap_item(
        ctx.session,
        plan.id,
        intervention_id,
        body.new_intervention_id,
        _actor(ctx),
        reason=body.reason,
        catalog=_catalog(),
    )
    ctx.audit(
        "item_swapped",
        "plan",
        plan.id,
        client_id,
        old=intervention_id,
        new=body.new_intervention_id,
    )
    return _out(ctx, plan, lang, client_id)


# --------------------------------------------------------------------------- check-ins


@router.post(
    "/clients/{client_id}/checkins",
    response_model=CheckInOut,
    status_code=201,
    summary="A weekly check-in on an item of the active plan; it becomes interactions",
    responses={409: {}},
)
def add_checkin(client_id: ClientIdPath, body: CheckInIn, ctx: Ctx) -> CheckInOut:
    ctx.client(client_id, Action.WRITE)
    result = service.add_checkin(
        ctx.session,
        client_id,
        body.intervention_id,
        _actor(ctx),
        week=body.week,
        adherence_pct=body.adherence_pct,
        rating=body.rating,
        side_effects=body.side_effects,
        note=body.note,
    )
    ctx.audit("create", "checkin", result.checkin_id, client_id, week=str(result.week_start))
    return CheckInOut(**result.__dict__)


@router.get(
    "/clients/{client_id}/checkins",
    response_model=list[CheckInOut],
    summary="The client's check-ins, newest week first",
)
def list_checkins(client_id: ClientIdPath, ctx: Ctx) -> list[CheckInOut]:
    ctx.client(client_id, Action.READ)
    ctx.audit("read", "checkins", None, client_id)
    return [CheckInOut(**r.__dict__) for r in service.list_checkins(ctx.session, client_id)]
