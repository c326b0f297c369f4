"""Administration: users and roles, model versions and their metrics, data sources and
the quarantine, and the audit log. Administrators only.

User changes go through :mod:`health_advisor.security.users` (password policy, role
rules, sign-out on a role change); model versions are read from the MLflow registry,
imported only when the page is opened.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query
from starlette.responses import RedirectResponse, Response

from health_advisor import i18n
from health_advisor.config import Settings
from health_advisor.errors import ConflictError, InputError, ModelNotReady, NotFoundError
from health_advisor.security import audit, users
from health_advisor.security.users import ROLES
from health_advisor.store.models import Client
from health_advisor.web import data
from health_advisor.web.deps import Page, PageDep
from health_advisor.web.routing import WebRoute

router = APIRouter(prefix="/admin", route_class=WebRoute, include_in_schema=False)

Username = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._@-]{2,63}$")]
PAGE_SIZE = 50
OUTCOMES = ("ok", "denied", "failed")


def _users_page(
    page: Page, *, error: str | None = None, status: int = 200, done: str | None = None
) -> Response:
    rows, total = users.list_users(page.session)
    assigned = {
        u.username: users.assigned_clients(page.session, u.id)
        for u in rows
        if u.role == "coordinator"
    }
    linked = {u.username: page.session.get(Client, u.client_id) for u in rows if u.client_id}
    return page.render(
        "admin_users.html",
        status=status,
        users=rows,
        total=total,
        roles=ROLES,
        assigned=assigned,
        linked={k: v.external_id for k, v in linked.items() if v is not None},
        error=error,
        done=done,
    )


@router.get("/users")
def users_list(page: PageDep, done: Annotated[str | None, Query(max_length=32)] = None) -> Response:
    page.require_role("admin")
    return _users_page(page, done=done)


def _user_change(page: Page, change: Any, done: str, target: str, **detail: Any) -> Response:
    try:
        change()
    except (InputError, ConflictError, NotFoundError) as error:
        page.session.rollback()
        return _users_page(page, error=str(error), status=error.http_status)
    page.audit(done, "user", target, detail.pop("client_ref", None), **detail)
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


@router.post("/users")
def add_user(
    page: PageDep,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=256)],
    client_id: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    page.require_role("admin")
    return _user_change(
        page,
        lambda: users.add_user(
            page.session,
            username,
            role,
            password,
            client_id.strip() or None,
            display_name=display_name.strip() or None,
        ),
        "create",
        username.strip().lower(),
        role=role,
        client_ref=client_id.strip() or None,
    )


@router.post("/users/{username}")
def update_user(
    username: Username,
    page: PageDep,
    role: Annotated[str, Form(max_length=16)],
    active: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    page.require_role("admin")
    if username == page.user.name and (role != "admin" or not active):
        message = i18n.gettext("You cannot remove your own administrator access.", page.lang)
        return _users_page(page, error=message, status=409)
    return _user_change(
        page,
        lambda: users.update_user(page.session, username, role=role, active=bool(active)),
        "update",
        username,
        role=role,
        active=bool(active),
    )


@router.post("/users/{username}/assign")
def assign(
    username: Username, page: PageDep, client_id: Annotated[str, Form(max_length=64)]
) -> Response:
    page.require_role("admin")
    return _user_change(
        page,
        lambda: users.assign_client(page.session, username, client_id.strip()),
        "assign",
        username,
        client_ref=client_id.strip(),
    )


def model_versions(settings: Settings) -> tuple[list[dict[str, Any]], str | None]:
    """Registered versions (oldest first), or none and why (MLflow imported here only)."""
    from health_advisor.recommender.registry import list_versions
    from health_advisor.recommender.tracking import connect

    try:
        client = connect(settings.resolved_mlflow_tracking_uri, create=False)
        return list_versions(client=client), None
    except ModelNotReady as error:
        return [], str(error)


@router.get("/models")
def models(page: PageDep) -> Response:
    page.require_role("admin")
    rows, why = model_versions(page.request.app.state.web.settings)
    return page.render("admin_models.html", versions=list(reversed(rows)), why=why)


@router.get("/sources")
def sources(
    page: PageDep,
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
    source: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    qp: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    page.require_role("admin")
    files, total = data.sources_page(page.session, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE)
    rejected, rejected_total = data.quarantine_page(
        page.session, source_id=source, limit=PAGE_SIZE, offset=(qp - 1) * PAGE_SIZE
    )
    clients = sorted({r["client_id"] for r in rejected if r["client_id"]})
    page.audit("list", "quarantine", source, None, clients=clients, count=len(rejected))
    return page.render(
        "admin_sources.html",
        files=files,
        total=total,
        p=p,
        pages=max(1, -(-total // PAGE_SIZE)),
        rejected=rejected,
        rejected_total=rejected_total,
        qp=qp,
        qpages=max(1, -(-rejected_total // PAGE_SIZE)),
        source=source,
    )


@router.get("/audit")
def audit_log(
    page: PageDep,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    client: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[str | None, Query(max_length=16)] = None,
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    page.require_role("admin")
    filters = {
        "actor": (actor or "").strip() or None,
        "client_ref": (client or "").strip() or None,
        "action": (action or "").strip() or None,
        "outcome": outcome if outcome in OUTCOMES else None,
    }
    entries, total = audit.list_entries(
        page.session,
        actor=filters["actor"],
        client_ref=filters["client_ref"],
        action=filters["action"],
        outcome=filters["outcome"],
        limit=PAGE_SIZE,
        offset=(p - 1) * PAGE_SIZE,
    )
    return page.render(
        "admin_audit.html",
        entries=entries,
        total=total,
        filters=filters,
        outcomes=OUTCOMES,
        p=p,
        pages=max(1, -(-total // PAGE_SIZE)),
        base=_pager_base(
            "/admin/audit",
            {"actor": actor, "client": client, "action": action, "outcome": filters["outcome"]},
        ),
    )


def _pager_base(path: str, params: dict[str, str | None]) -> str:
    """``path?`` plus the active filters, ready for ``p=N`` to be appended."""
    query = urlencode({k: v.strip() for k, v in params.items() if v and v.strip()})
    return f"{path}?{query}&" if query else f"{path}?"
