"""The client's own pages: the approved plan, the weekly check-in, progress against the
targets, and the plan as a PDF.

A client user is linked to exactly one client; these pages never take a client id from
the request, so there is nobody else's plan to ask for. Only an approved or active plan
is shown (:func:`~health_advisor.plans.service.visible_plan`), never a draft.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from health_advisor import i18n
from health_advisor.errors import ConflictError, InputError, NotFoundError
from health_advisor.plans import service as plans
from health_advisor.plans.render import render_pdf
from health_advisor.security.access import Action
from health_advisor.store.models import Plan
from health_advisor.web import data
from health_advisor.web.deps import Page, PageDep
from health_advisor.web.plan_view import ItemView, item_views
from health_advisor.web.progress import item_progress
from health_advisor.web.routing import WebRoute
from health_advisor.web.views.plans import pdf_response

router = APIRouter(route_class=WebRoute, include_in_schema=False)

WEEKS_BACK = 4  # a check-in may be for this week or the three before
RATINGS = (1, 2, 3, 4, 5)


def _own(page: Page) -> str:
    """The signed-in client's id (a client user only)."""
    page.require_role("client")
    external_id = page.user.client_external_id
    if external_id is None:
        raise NotFoundError("this account is not linked to a client")
    page.client(external_id, Action.READ)
    return external_id


def _visible(page: Page, client_id: str) -> Plan | None:
    try:
        return plans.visible_plan(page.session, client_id)
    except NotFoundError:
        return None


def week_choices(today: dt.date) -> list[dt.date]:
    """Mondays of this week and the :data:`WEEKS_BACK` - 1 before, newest first."""
    monday = today - dt.timedelta(days=today.weekday())
    return [monday - dt.timedelta(weeks=k) for k in range(WEEKS_BACK)]


def _page(
    page: Page,
    client_id: str,
    plan: Plan | None,
    *,
    errors: list[str] | None = None,
    status: int = 200,
    done: str | None = None,
) -> Response:
    if plan is None:
        return page.render("my_plan.html", status=status, plan=None, done=done, errors=errors)
    lang = page.lang
    items = item_views(plan, client_id, lang, page.catalog)
    checkins = data.checkins_by_item(page.session, [i.row_id for i in items])
    progress = item_progress(
        page.session,
        plan.client_id,
        items,
        plans.outcomes(page.session, plan.id),
        checkins,
        lang,
    )
    return page.render(
        "my_plan.html",
        status=status,
        plan=plan,
        items=items,
        progress=progress,
        weeks=week_choices(dt.datetime.now(dt.UTC).date()),
        ratings=RATINGS,
        done=done,
        errors=errors,
    )


@router.get("/my/plan")
def my_plan(page: PageDep, done: Annotated[str | None, Query(max_length=32)] = None) -> Response:
    client_id = _own(page)
    plan = _visible(page, client_id)
    if plan is not None:
        page.audit("read", "plan", plan.id, client_id, status=plan.status)
    else:
        page.audit("read", "plan", None, client_id, found=False)
    return _page(page, client_id, plan, done=done)


def _number(text: str) -> float | None:
    """A percentage typed by a person ("80", "80 %", "80,5"), or None when blank."""
    cleaned = text.replace("%", "").replace(",", ".").strip()
    if not cleaned:
        return None
    value = float(cleaned)  # ValueError: the caller reports it
    if math.isnan(value):
        raise ValueError(text)
    return value


@dataclass(frozen=True, slots=True)
class Wanted:
    """One check-in as typed in the form."""

    intervention_id: str
    adherence_pct: float
    rating: int | None
    side_effects: str | None


def checkins_from_form(
    form: dict[str, str], items: list[ItemView], lang: str
) -> tuple[list[Wanted], list[str]]:
    """The check-ins typed in the form (one per item with a value) and what is wrong."""
    _ = i18n.translator(lang)
    wanted, errors = [], []
    for item in items:
        try:
            value = _number(form.get(f"adherence-{item.id}", ""))
        except ValueError:
            value = -1.0
        if value is None:
            continue
        if not 0 <= value <= 100:
            errors.append(_("%(title)s: write a number from 0 to 100.") % {"title": item.title})
            continue
        rating = form.get(f"rating-{item.id}", "")
        wanted.append(
            Wanted(
                item.id,
                value,
                int(rating) if rating in {str(r) for r in RATINGS} else None,
                form.get(f"side-effects-{item.id}", "").strip()[:1000] or None,
            )
        )
    if not wanted and not errors:
        errors.append(_("Fill in at least one activity."))
    return wanted, errors


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields (read once; the CSRF check read the same form)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


FormFields = Annotated[dict[str, str], Depends(form_fields)]


@router.post("/my/checkin")
def check_in(page: PageDep, form: FormFields) -> Response:
    client_id = _own(page)
    plan = _visible(page, client_id)
    lang = page.lang
    if plan is None or plan.status != "active":
        message = i18n.gettext("Your plan has not started yet: check-ins open when it does.", lang)
        return _page(page, client_id, plan, errors=[message], status=409)
    weeks = week_choices(dt.datetime.now(dt.UTC).date())
    week = next((w for w in weeks if w.isoformat() == form.get("week", "")), None)
    items = item_views(plan, client_id, lang, page.catalog)
    wanted, errors = checkins_from_form(form, items, lang)
    if week is None:
        errors.insert(0, i18n.gettext("Choose the week you are reporting on.", lang))
    if errors or week is None:
        return _page(page, client_id, plan, errors=errors, status=422)
    note = form.get("note", "").strip()[:2000] or None
    try:
        for entry in wanted:
            plans.add_checkin(
                page.session,
                client_id,
                entry.intervention_id,
                page.user.actor,
                week=week,
                adherence_pct=entry.adherence_pct,
                rating=entry.rating,
                side_effects=entry.side_effects,
                note=note,
            )
    except (InputError, ConflictError, NotFoundError) as error:
        page.session.rollback()
        return _page(page, client_id, _visible(page, client_id), errors=[str(error)], status=422)
    page.audit(
        "create",
        "checkin",
        plan.id,
        client_id,
        week=week.isoformat(),
        items=[w.intervention_id for w in wanted],
    )
    return RedirectResponse("/my/plan?done=checkin", status_code=303)


@router.get("/my/plan.pdf")
def my_plan_pdf(page: PageDep) -> Response:
    client_id = _own(page)
    plan = _visible(page, client_id)
    if plan is None:
        raise NotFoundError("no approved plan yet")
    document = plans.plan_document(page.session, plan)
    pdf = render_pdf(document, page.lang, page.catalog, audience="client")
    page.audit("export", "plan", plan.id, client_id, format="pdf", audience="client")
    return pdf_response(pdf, f"plan-v{plan.version}.pdf")
