"""Coordinators' pages (professionals and admins see them too): the client list and a
client's page with trends, risk explanations, alerts and plans; generating a plan.

A coordinator sees only the clients assigned to them (``security.access``); a client
outside one's reach is answered "not found", like the API. Every page that shows a
client's data writes an audit entry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import RedirectResponse, Response

from health_advisor.core.vocabulary import RISK_CATEGORIES
from health_advisor.errors import ConflictError, InputError, NotFoundError
from health_advisor.plans import service as plans
from health_advisor.security import consent
from health_advisor.security.access import STAFF, Action
from health_advisor.web import data
from health_advisor.web.deps import Page, PageDep
from health_advisor.web.progress import trend_charts
from health_advisor.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ClientId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:@-]{1,64}$")]
PAGE_SIZE = 50
RISK_ORDER = tuple(k for k in RISK_CATEGORIES if k != "overall")  # guideline order


@router.get("/clients")
def client_list(
    page: PageDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    page.require_role(*STAFF)
    search = (q or "").strip() or None
    rows, total = data.client_rows(
        page.session,
        page.user.principal,
        search=search,
        limit=PAGE_SIZE,
        offset=(p - 1) * PAGE_SIZE,
    )
    page.audit("list", "client", clients=[r.external_id for r in rows])
    pages = max(1, -(-total // PAGE_SIZE))
    return page.render("clients.html", rows=rows, total=total, q=search or "", p=p, pages=pages)


def _risks(snapshot: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The overall verdict and the known guideline categories, in a fixed order
    (categories without data are listed apart)."""
    if snapshot is None:
        return None, []
    risk = snapshot.get("risk") or {}
    rows = [
        {"key": key, **risk[key]}
        for key in (*RISK_ORDER, *sorted(set(risk) - set(RISK_ORDER) - {"overall"}))
        if key in risk
    ]
    return risk.get("overall"), rows


@router.get("/clients/{client_id}")
def client_page(client_id: ClientId, page: PageDep) -> Response:
    page.require_role(*STAFF)
    return _client_page(page, client_id)


def _client_page(
    page: Page, client_id: str, *, error: str | None = None, status: int = 200
) -> Response:
    from health_advisor.features import service as features  # pandas: on first use

    client = page.client(client_id, Action.READ)
    try:
        snapshot: dict[str, Any] | None = features.latest_snapshot(
            page.session, client_id=client_id
        )
    except NotFoundError:
        snapshot = None
    overall, risks = _risks(snapshot)
    age = (snapshot or {}).get("features", {}).get("age_years")
    charts = trend_charts(page.session, client.id, page.lang, age)
    alerts = features.client_alerts(page.session, client_id=client_id)
    history = plans.list_plans(page.session, client_id=client_id)
    page.audit("read", "client", client_id, client_id, charts=len(charts), alerts=len(alerts))
    return page.render(
        "client.html",
        status=status,
        error=error,
        client=client,
        consented=consent.has_consent(page.session, client.id, consent.RECOMMENDATIONS),
        snapshot=snapshot,
        age=age,
        overall=overall,
        known=[r for r in risks if r.get("category") != "unknown"],
        unknown=[r for r in risks if r.get("category") == "unknown"],
        charts=charts,
        alerts=alerts,
        plans=[plan for plan, _ in history],
        can_generate=page.user.role in ("admin", "coordinator"),
    )


@router.post("/clients/{client_id}/plans")
def generate_plan(client_id: ClientId, page: PageDep) -> Response:
    page.require_role("admin", "coordinator")
    page.client(client_id, Action.WRITE)
    state = page.request.app.state
    model, fallback = state.champion.get()
    try:
        plan = plans.generate(
            page.session,
            client_id,
            page.user.actor,
            catalog=page.catalog,
            model=model,
            fallback=fallback,
            peer_cache=state.peers,
        )
    except (ConflictError, InputError) as error:
        page.session.rollback()
        return _client_page(page, client_id, error=str(error), status=error.http_status)
    page.audit("create", "plan", plan.id, client_id, version=plan.version, items=len(plan.items))
    return RedirectResponse(f"/plans/{plan.id}?done=generated", status_code=303)
