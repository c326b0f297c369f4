"""The plan pages of the care team: the builder (coordinators), the review queue and the
review (professionals), the workflow buttons and the printable document.

Edits and transitions go through :mod:`health_advisor.plans.service`, which enforces
the workflow (who may do what in which state, a reason for every edit, the hard safety
rules on additions). A refused change rolls the transaction back and shows the plan
again with the reason, so nothing half-done is ever committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from health_advisor import i18n
from health_advisor.errors import ConflictError, InputError, NotFoundError
from health_advisor.plans import service as plans
from health_advisor.plans import workflow
from health_advisor.plans.render import render_pdf
from health_advisor.security.access import STAFF, Action
from health_advisor.store.models import Client, Plan, PlanEvent
from health_advisor.web.deps import Page, PageDep
from health_advisor.web.plan_view import (
    catalog_choices,
    event_rows,
    exclusion_rows,
    item_views,
)
from health_advisor.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ItemId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
ShortText = Annotated[str, Form(max_length=1000)]
EDITORS = ("admin", "coordinator")
FORM_ERRORS = (InputError, ConflictError, NotFoundError)


def _plan_for(page: Page, plan_id: int, action: Action) -> tuple[Plan, str]:
    """The plan and its client's id, if this user reaches the client."""
    plan = plans.get_plan(page.session, plan_id)
    external_id = page.session.scalar(select(Client.external_id).where(Client.id == plan.client_id))
    page.client(str(external_id), action)
    return plan, str(external_id)


def _plan_page(
    page: Page,
    plan: Plan,
    client_id: str,
    *,
    error: str | None = None,
    status: int = 200,
    done: str | None = None,
) -> Response:
    lang, catalog, role = page.lang, page.catalog, page.user.role
    items = item_views(plan, client_id, lang, catalog)
    can_edit = plan.status in workflow.EDITABLE and role in workflow.EDITORS
    return page.render(
        "plan.html",
        status=status,
        plan=plan,
        client=page.session.get(Client, plan.client_id),
        client_id=client_id,
        items=items,
        exclusions=exclusion_rows(plan, client_id, lang, catalog),
        events=event_rows(page.session, plan.id),
        choices=catalog_choices(catalog, lang, exclude={i.id for i in items}) if can_edit else [],
        can_edit=can_edit,
        can_review=plan.status == "in_review" and role in workflow.ACTIONS["approve"].roles,
        can_activate=plan.status == "approved" and role in workflow.ACTIONS["activate"].roles,
        error=error,
        done=done,
    )


@router.get("/plans/{plan_id}")
def plan_page(
    plan_id: PlanId, page: PageDep, done: Annotated[str | None, Query(max_length=32)] = None
) -> Response:
    page.require_role(*STAFF)
    plan, client_id = _plan_for(page, plan_id, Action.READ)
    page.audit("read", "plan", plan.id, client_id, status=plan.status)
    return _plan_page(page, plan, client_id, done=done)


def _change(
    page: Page,
    plan_id: int,
    action: Action,
    change: Callable[[], Any],
    done: str,
    **detail: Any,
) -> Response:
    """Apply ``change``; on a refusal roll back and show the plan with the reason."""
    plan, client_id = _plan_for(page, plan_id, action)
    try:
        change()
    except FORM_ERRORS as error:
        page.session.rollback()
        plan, client_id = _plan_for(page, plan_id, Action.READ)
        return _plan_page(page, plan, client_id, error=str(error), status=error.http_status)
    page.audit("update", "plan", plan_id, client_id, change=done, **detail)
    return RedirectResponse(f"/plans/{plan_id}?done={done}", status_code=303)


def _reason_missing(page: Page, plan_id: int, reason: str) -> Response | None:
    if reason.strip():
        return None
    plan, client_id = _plan_for(page, plan_id, Action.READ)
    message = i18n.gettext("Give a reason for the change.", page.lang)
    return _plan_page(page, plan, client_id, error=message, status=422)


@router.post("/plans/{plan_id}/items")
def add_item(
    plan_id: PlanId,
    page: PageDep,
    intervention_id: Annotated[str, Form(max_length=64)],
    reason: ShortText = "",
) -> Response:
    page.require_role(*EDITORS)
    if (missing := _reason_missing(page, plan_id, reason)) is not None:
        return missing
    return _change(
        page,
        plan_id,
        Action.WRITE,
        lambda: plans.add_item(
            page.session,
            plan_id,
            intervention_id,
            page.user.actor,
            reason=reason,
            catalog=page.catalog,
        ),
        "item_added",
        intervention_id=intervention_id,
    )


@router.post("/plans/{plan_id}/items/{item_id}/remove")
def remove_item(
    plan_id: PlanId, item_id: ItemId, page: PageDep, reason: ShortText = ""
) -> Response:
    page.require_role(*EDITORS)
    if (missing := _reason_missing(page, plan_id, reason)) is not None:
        return missing
    return _change(
        page,
        plan_id,
        Action.WRITE,
        lambda: plans.remove_item(page.session, plan_id, item_id, page.user.actor, reason=reason),
        "item_removed",
        intervention_id=item_id,
    )


@router.post("/plans/{plan_id}/items/{item_id}/swap")
def swap_item(
    plan_id: PlanId,
    item_id: ItemId,
    page: PageDep,
    replacement: Annotated[str, Form(max_length=64)],
    reason: ShortText = "",
) -> Response:
    page.require_role(*EDITORS)
    if (missing := _reason_missing(page, plan_id, reason)) is not None:
        return missing
    return _change(
        page,
        plan_id,
        Action.WRITE,
        lambda: plans.swap_item(
            page.session,
            plan_id,
            item_id,
            replacement,
            page.user.actor,
            reason=reason,
            catalog=page.catalog,
        ),
        "item_swapped",
        intervention_id=item_id,
        replacement=replacement,
    )


def _transition(page: Page, plan_id: int, actions: tuple[str, ...], comment: str) -> Response:
    def run() -> None:
        for action in actions:
            plans.transition(
                page.session, plan_id, action, page.user.actor, comment=comment.strip() or None
            )

    return _change(page, plan_id, Action.READ, run, actions[-1])


@router.post("/plans/{plan_id}/submit")
def submit(plan_id: PlanId, page: PageDep, comment: ShortText = "") -> Response:
    page.require_role(*EDITORS)
    return _transition(page, plan_id, ("submit",), comment)


@router.post("/plans/{plan_id}/approve")
def approve(
    plan_id: PlanId,
    page: PageDep,
    comment: ShortText = "",
    activate: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    page.require_role("professional")
    actions = ("approve", "activate") if activate else ("approve",)
    return _transition(page, plan_id, actions, comment)


@router.post("/plans/{plan_id}/reject")
def reject(plan_id: PlanId, page: PageDep, comment: ShortText = "") -> Response:
    page.require_role("professional")
    if not comment.strip():
        plan, client_id = _plan_for(page, plan_id, Action.READ)
        message = i18n.gettext("Say what should change: a comment is required.", page.lang)
        return _plan_page(page, plan, client_id, error=message, status=422)
    return _transition(page, plan_id, ("reject",), comment)


@router.post("/plans/{plan_id}/activate")
def activate(plan_id: PlanId, page: PageDep) -> Response:
    page.require_role(*workflow.ACTIONS["activate"].roles)
    return _transition(page, plan_id, ("activate",), "")


@router.get("/plans/{plan_id}/pdf")
def plan_pdf(
    plan_id: PlanId,
    page: PageDep,
    audience: Annotated[str, Query(pattern="^(client|professional)$")] = "professional",
) -> Response:
    page.require_role(*STAFF)
    plan, client_id = _plan_for(page, plan_id, Action.READ)
    pdf = render_pdf(
        plans.plan_document(page.session, plan), page.lang, page.catalog, audience=audience
    )
    page.audit("export", "plan", plan.id, client_id, format="pdf", audience=audience)
    return pdf_response(pdf, f"plan-{client_id}-v{plan.version}.pdf")


def pdf_response(pdf: bytes, filename: str) -> Response:
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


@router.get("/review")
def review_queue(page: PageDep) -> Response:
    page.require_role("professional", "admin")
    rows = plans.list_plans(page.session, status="in_review")
    submitted = _submissions(page, [plan.id for plan, _ in rows])
    names = {
        c.id: c.name
        for c in page.session.scalars(
            select(Client).where(Client.id.in_([plan.client_id for plan, _ in rows]))
        )
    }
    queue = [
        {
            "plan": plan,
            "client_id": ext,
            "client_name": names.get(plan.client_id),
            "submitted": submitted.get(plan.id),
            "exclusions": len(plan.excluded.get("items", [])),
        }
        for plan, ext in rows
    ]
    page.audit("list", "plan", status="in_review", clients=[ext for _, ext in rows])
    return page.render("review.html", queue=queue)


def _submissions(page: Page, plan_ids: list[int]) -> dict[int, PlanEvent]:
    out: dict[int, PlanEvent] = {}
    if not plan_ids:
        return out
    for event in page.session.scalars(
        select(PlanEvent)
        .where(PlanEvent.plan_id.in_(plan_ids), PlanEvent.action == "submit")
        .order_by(PlanEvent.id)
    ):
        out[event.plan_id] = event  # the latest submission wins
    return out
