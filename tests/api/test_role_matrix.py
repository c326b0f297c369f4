"""Every route x every role, including a client using another client's id.

:data:`MATRIX` names, for each route of the app, the subjects that succeed (2xx); every
other subject must be refused: 401 without credentials, 403 or 404 with them (404 when
the client is outside the subject's reach, so ids cannot be probed). A route the app
has and the matrix lacks fails :func:`test_matrix_covers_every_route`: a new route
cannot ship without deciding who may call it.

Subjects: ``anonymous``; one user per role (``admin``, ``coordinator`` assigned to
client A, ``professional``, ``client`` = Alice, client A); ``other_client`` (Bob, client
B, asking for client A's data); ``coordinator_unassigned`` (the coordinator asking for
client B); ``service`` (an API key with scope ``ingest``).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from health_advisor.security import consent, tokens, users
from health_advisor.store.models import Client
from health_advisor.store.session import session_scope

from .conftest import CLIENT_A, CLIENT_B, PASSWORD, World

SUBJECTS: dict[str, tuple[str, str]] = {  # subject -> (credentials, target client)
    "anonymous": ("anonymous", CLIENT_A),
    "admin": ("admin", CLIENT_A),
    "coordinator": ("coordinator", CLIENT_A),
    "coordinator_unassigned": ("coordinator", CLIENT_B),
    "professional": ("professional", CLIENT_A),
    "client": ("client", CLIENT_A),
    "other_client": ("other_client", CLIENT_A),
    "service": ("service", CLIENT_A),
}
PUBLIC = frozenset(SUBJECTS)
PEOPLE = frozenset({"admin", "coordinator", "professional", "client"})
Request = tuple[str, dict[str, Any]]  # url, keyword arguments for http.request
Build = Callable[[World, str, str, bool], Request]
_counter = itertools.count(1)


@dataclass(frozen=True)
class Case:
    """Who succeeds, and how to build the request for a subject and target client.

    ``scoped``: the route acts on one client's data (named in the path, or in an
    uploaded file), so the subjects aimed at someone else's client never succeed.
    ``build(world, creds, target, expected_ok)`` gives the URL and request arguments;
    destructive routes use fresh objects when the call is expected to succeed.
    """

    roles: frozenset[str]
    build: Build | None = None
    scoped: bool = False
    other_status: int = 404  # for someone else's client: 404 by path, 403 inside a file

    def succeeds(self, subject: str) -> bool:
        if subject == "anonymous":
            return "anonymous" in self.roles
        if subject in ("other_client", "coordinator_unassigned"):
            if self.scoped:
                return False
            return ("client" if subject == "other_client" else "coordinator") in self.roles
        return subject in self.roles


def _fresh_client(world: World, *, assign: bool = True) -> str:
    ext = f"tmp-{next(_counter)}"
    with session_scope(world.engine) as session:
        session.add(Client(external_id=ext, name="Temporal"))
        session.flush()
        if assign:
            users.assign_client(session, "coord", ext)
    return ext


def _fresh_user(world: World) -> str:
    name = f"user-{next(_counter)}"
    with session_scope(world.engine) as session:
        users.add_user(session, name, "professional", PASSWORD)
    return name


def _refresh_token(world: World) -> str:
    with session_scope(world.engine) as session:
        user = users.get_user(session, "doctor")
        token, _ = tokens.issue_refresh_token(session, user)
    return token


def path(template: str) -> Build:
    def build(world: World, creds: str, target: str, ok: bool) -> Request:
        return template.format(client=target, source=world.source_id), {}

    return build


def with_json(template: str, body: Callable[[], dict[str, Any]]) -> Build:
    def build(world: World, creds: str, target: str, ok: bool) -> Request:
        return template.format(client=target), {"json": body()}

    return build


def erase(world: World, creds: str, target: str, ok: bool) -> Request:
    return f"/api/v1/clients/{_fresh_client(world) if ok else target}", {}


def acknowledge(world: World, creds: str, target: str, ok: bool) -> Request:
    return f"/api/v1/alerts/{world.alerts[target]}/acknowledge", {}


def batch(world: World, creds: str, target: str, ok: bool) -> Request:
    day = next(_counter) % 28 + 1
    item = {"metric": "steps", "value": 7000 + day, "observed_at": f"2026-10-{day:02d}T08:00:00Z"}
    return f"/api/v1/clients/{target}/measurements", {"json": {"measurements": [item]}}


def upload(world: World, creds: str, target: str, ok: bool) -> Request:
    day = next(_counter) % 28 + 1
    text = (
        "client_id,date,heart_rate,blood_pressure,cholesterol_levels,steps_count,active_minutes,"
        "calorie_intake,water_consumption,sleep_duration,sleep_quality\n"
        f"{target},2026-09-{day:02d},64,121/79,190,8000,35,2100,2.0,7.2,80\n"
    )
    files = {"file": ("clinic.csv", io.BytesIO(text.encode()), "text/csv")}
    return "/api/v1/measurements/files", {"files": files}


def login(world: World, creds: str, target: str, ok: bool) -> Request:
    return "/api/v1/auth/token", {"data": {"username": "doctor", "password": PASSWORD}}


def refresh(world: World, creds: str, target: str, ok: bool) -> Request:
    return "/api/v1/auth/refresh", {"json": {"refresh_token": _refresh_token(world)}}


def logout(world: World, creds: str, target: str, ok: bool) -> Request:
    return "/api/v1/auth/logout", {"json": {"refresh_token": _refresh_token(world)}}


def password(world: World, creds: str, target: str, ok: bool) -> Request:
    body = {"current_password": PASSWORD, "new_password": PASSWORD}
    return "/api/v1/auth/password", {"json": body}


def new_client(world: World, creds: str, target: str, ok: bool) -> Request:
    return "/api/v1/clients", {"json": {"client_id": f"new-{next(_counter)}", "name": "Nuevo"}}


def new_user(world: World, creds: str, target: str, ok: bool) -> Request:
    body = {"username": f"new-{next(_counter)}", "role": "professional", "password": PASSWORD}
    return "/api/v1/users", {"json": body}


def deactivate(world: World, creds: str, target: str, ok: bool) -> Request:
    return f"/api/v1/users/{_fresh_user(world) if ok else 'doctor'}", {}


def assign(world: World, creds: str, target: str, ok: bool) -> Request:
    return "/api/v1/users/coord/assignments", {
        "json": {"client_id": _fresh_client(world, assign=False)}
    }


def unassign(world: World, creds: str, target: str, ok: bool) -> Request:
    return f"/api/v1/users/coord/assignments/{_fresh_client(world)}", {}


def new_key(world: World, creds: str, target: str, ok: bool) -> Request:
    return "/api/v1/api-keys", {"json": {"name": f"bridge-{next(_counter)}"}}


def revoke_key(world: World, creds: str, target: str, ok: bool) -> Request:
    from health_advisor.security import apikeys

    with session_scope(world.engine) as session:
        row, _ = apikeys.create_api_key(session, name="spare", scopes=["ingest"], created_by="t")
    return f"/api/v1/api-keys/{row.id}", {}


READERS = frozenset({"admin", "coordinator", "professional", "client"})
WRITERS = frozenset({"admin", "coordinator", "client"})
ADMIN = frozenset({"admin"})

MATRIX: dict[str, Case] = {
    "GET /healthz": Case(PUBLIC),
    "GET /readyz": Case(PUBLIC),
    # Prometheus scrapes without a user: open unless Settings.metrics_token is set (then a
    # bearer token, tested in tests/ops/test_metrics.py); aggregates only, no client data.
    "GET /metrics": Case(PUBLIC),
    "POST /api/v1/auth/token": Case(PUBLIC, login),
    "POST /api/v1/auth/refresh": Case(PUBLIC, refresh),
    "POST /api/v1/auth/logout": Case(PUBLIC, logout),
    "GET /api/v1/auth/me": Case(PEOPLE | {"service"}),
    "POST /api/v1/auth/password": Case(PEOPLE, password),
    "GET /api/v1/clients": Case(PEOPLE),
    "POST /api/v1/clients": Case(frozenset({"admin", "coordinator"}), new_client),
    "GET /api/v1/clients/{client_id}": Case(READERS, path("/api/v1/clients/{client}"), True),
    "PATCH /api/v1/clients/{client_id}": Case(
        WRITERS, with_json("/api/v1/clients/{client}", lambda: {"phone": "+51 912 345 678"}), True
    ),
    "DELETE /api/v1/clients/{client_id}": Case(ADMIN, erase, True),
    "GET /api/v1/clients/{client_id}/export": Case(
        WRITERS, path("/api/v1/clients/{client}/export"), True
    ),
    "POST /api/v1/clients/{client_id}/consents": Case(
        WRITERS,
        with_json("/api/v1/clients/{client}/consents", lambda: {"purpose": "recommendations"}),
        True,
    ),
    "DELETE /api/v1/clients/{client_id}/consents/{purpose}": Case(
        WRITERS, path("/api/v1/clients/{client}/consents/recommendations"), True
    ),
    "GET /api/v1/clients/{client_id}/measurements": Case(
        READERS, path("/api/v1/clients/{client}/measurements"), True
    ),
    "POST /api/v1/clients/{client_id}/measurements": Case(WRITERS | {"service"}, batch, True),
    "POST /api/v1/measurements/files": Case(
        frozenset({"admin", "coordinator", "service"}), upload, True, other_status=403
    ),
    "GET /api/v1/clients/{client_id}/features": Case(
        READERS, path("/api/v1/clients/{client}/features"), True
    ),
    "GET /api/v1/alerts": Case(PEOPLE),
    "POST /api/v1/alerts/{alert_id}/acknowledge": Case(
        frozenset({"admin", "coordinator", "professional"}), acknowledge, True
    ),
    "GET /api/v1/interventions": Case(PEOPLE),
    "GET /api/v1/interventions/{intervention_id}": Case(
        PEOPLE, path("/api/v1/interventions/ex_brisk_walking")
    ),
    "GET /api/v1/sources": Case(frozenset({"admin", "coordinator"})),
    "GET /api/v1/quarantine": Case(frozenset({"admin", "coordinator"})),
    "GET /api/v1/models": Case(frozenset({"admin", "coordinator", "professional"})),
    "GET /api/v1/users": Case(ADMIN),
    "POST /api/v1/users": Case(ADMIN, new_user),
    "GET /api/v1/users/{username}": Case(ADMIN, path("/api/v1/users/doctor")),
    "PATCH /api/v1/users/{username}": Case(
        ADMIN, with_json("/api/v1/users/doctor", lambda: {"display_name": "Dra. Salas"})
    ),
    "DELETE /api/v1/users/{username}": Case(ADMIN, deactivate),
    "POST /api/v1/users/{username}/assignments": Case(ADMIN, assign),
    "DELETE /api/v1/users/{username}/assignments/{client_id}": Case(ADMIN, unassign),
    "GET /api/v1/api-keys": Case(ADMIN),
    "POST /api/v1/api-keys": Case(ADMIN, new_key),
    "DELETE /api/v1/api-keys/{key_id}": Case(ADMIN, revoke_key),
    "GET /api/v1/audit": Case(ADMIN),
}


# --------------------------------------------------------------------------- plans
# Each call gets a fresh plan of the target client in the state the action needs, made
# through the service (so a refusal is about who asks, never about the plan's state).

_STAFF_ACTOR = ("coord", "coordinator")


def _plan_in(world: World, target: str, status: str) -> tuple[int, list[str]]:
    """A fresh plan of ``target`` in ``status``; returns its id and its removable items."""
    from health_advisor.catalog import load_catalog
    from health_advisor.plans import service
    from health_advisor.plans.workflow import Actor

    coord, doc = Actor("coord", "coordinator"), Actor("doctor", "professional")
    with session_scope(world.engine) as session:
        client = session.query(Client).filter_by(external_id=target).one()
        consent.record_consent(session, client, consent.RECOMMENDATIONS, True, "form 2")
        plan = service.generate(
            session, target, Actor("root", "admin"), catalog=load_catalog(), model=None
        )
        steps = {"draft": [], "in_review": ["submit"], "approved": ["submit", "approve"]}
        steps["active"] = [*steps["approved"], "activate"]
        for action in steps[status]:
            service.transition(session, plan.id, action, doc if action == "approve" else coord)
        removable = [r.intervention_id for r in plan.items if not r.mandatory]
        return plan.id, removable


def plan_path(status: str, suffix: str = "", **body: Any) -> Build:
    def build(world: World, creds: str, target: str, ok: bool) -> Request:
        plan_id, _ = _plan_in(world, target, status)
        return f"/api/v1/plans/{plan_id}{suffix}", ({"json": body} if body else {})

    return build


def client_plan_path(status: str | None, suffix: str, **body: Any) -> Build:
    def build(world: World, creds: str, target: str, ok: bool) -> Request:
        if status is not None:
            _plan_in(world, target, status)
        else:
            with session_scope(world.engine) as session:
                client = session.query(Client).filter_by(external_id=target).one()
                consent.record_consent(session, client, consent.RECOMMENDATIONS, True, "form 2")
        return f"/api/v1/clients/{target}{suffix}", ({"json": body} if body else {})

    return build


def remove_plan_item(world: World, creds: str, target: str, ok: bool) -> Request:
    plan_id, removable = _plan_in(world, target, "draft")
    return f"/api/v1/plans/{plan_id}/items/{removable[0]}", {"params": {"reason": "dislikes it"}}


def _draft_without_one(world: World, target: str) -> tuple[int, str, str]:
    """A draft with one removable item taken out: (plan, item left out, item still in)."""
    from health_advisor.plans import service
    from health_advisor.plans.workflow import Actor

    plan_id, removable = _plan_in(world, target, "draft")
    with session_scope(world.engine) as session:
        service.remove_item(session, plan_id, removable[0], Actor(*_STAFF_ACTOR), reason="x")
    return plan_id, removable[0], removable[1]


def add_plan_item(world: World, creds: str, target: str, ok: bool) -> Request:
    plan_id, out, _ = _draft_without_one(world, target)
    return f"/api/v1/plans/{plan_id}/items", {"json": {"intervention_id": out, "reason": "asked"}}


def swap_plan_item(world: World, creds: str, target: str, ok: bool) -> Request:
    plan_id, out, still = _draft_without_one(world, target)
    body = {"new_intervention_id": out, "reason": "prefers it"}
    return f"/api/v1/plans/{plan_id}/items/{still}", {"json": body}


def checkin(world: World, creds: str, target: str, ok: bool) -> Request:
    from health_advisor.store.models import Plan, PlanItem

    plan_id, _ = _plan_in(world, target, "active")
    with session_scope(world.engine) as session:
        item = session.query(PlanItem).filter_by(plan_id=plan_id).first()
        assert item is not None and session.get(Plan, plan_id) is not None
        body = {"intervention_id": item.intervention_id, "week": "2026-11-02", "adherence_pct": 70}
    return f"/api/v1/clients/{target}/checkins", {"json": body}


STAFF = frozenset({"admin", "coordinator", "professional"})
EDITORS = frozenset({"admin", "coordinator"})
PLAN_ROUTES: dict[str, Case] = {
    "POST /api/v1/clients/{client_id}/plans": Case(
        EDITORS, client_plan_path(None, "/plans", rules_only=True), True
    ),
    "GET /api/v1/clients/{client_id}/plans": Case(
        READERS, client_plan_path("approved", "/plans"), True
    ),
    "GET /api/v1/clients/{client_id}/plans/current": Case(
        READERS, client_plan_path("approved", "/plans/current"), True
    ),
    "GET /api/v1/plans": Case(STAFF),
    "GET /api/v1/plans/{plan_id}": Case(READERS, plan_path("approved"), True),
    "GET /api/v1/plans/{plan_id}/document": Case(READERS, plan_path("approved", "/document"), True),
    "GET /api/v1/plans/{plan_id}/events": Case(STAFF, plan_path("approved", "/events"), True),
    "GET /api/v1/plans/{plan_id}/outcomes": Case(READERS, plan_path("approved", "/outcomes"), True),
    "POST /api/v1/plans/{plan_id}/submit": Case(EDITORS, plan_path("draft", "/submit"), True),
    "POST /api/v1/plans/{plan_id}/approve": Case(
        frozenset({"professional"}), plan_path("in_review", "/approve", comment="ok"), True
    ),
    "POST /api/v1/plans/{plan_id}/reject": Case(
        frozenset({"professional"}), plan_path("in_review", "/reject", comment="redo"), True
    ),
    "POST /api/v1/plans/{plan_id}/activate": Case(STAFF, plan_path("approved", "/activate"), True),
    "POST /api/v1/plans/{plan_id}/complete": Case(STAFF, plan_path("active", "/complete"), True),
    "POST /api/v1/plans/{plan_id}/items": Case(EDITORS, add_plan_item, True),
    "DELETE /api/v1/plans/{plan_id}/items/{intervention_id}": Case(EDITORS, remove_plan_item, True),
    "PUT /api/v1/plans/{plan_id}/items/{intervention_id}": Case(EDITORS, swap_plan_item, True),
    "POST /api/v1/clients/{client_id}/checkins": Case(WRITERS, checkin, True),
    "GET /api/v1/clients/{client_id}/checkins": Case(
        READERS, path("/api/v1/clients/{client}/checkins"), True
    ),
}
MATRIX.update(PLAN_ROUTES)


def app_routes(world: World) -> set[str]:
    """Every operation the app serves, from its OpenAPI schema (which FastAPI builds
    from the mounted routes; no route of this app is hidden from the schema)."""
    return {
        f"{method.upper()} {path}"
        for path, item in world.app.openapi()["paths"].items()
        for method in item
    }


def test_matrix_covers_every_route(world: World) -> None:
    routes = app_routes(world)
    assert sorted(routes - set(MATRIX)) == [], "routes without a role-matrix entry"
    assert sorted(set(MATRIX) - routes) == [], "matrix entries for routes that do not exist"


def _call(world: World, key: str, case: Case, subject: str) -> tuple[int, str]:
    method, template = key.split(" ", 1)
    creds, target = SUBJECTS[subject]
    ok = case.succeeds(subject)
    url, kwargs = (case.build or path(template))(world, creds, target, ok)
    response = world.http.request(method, url, headers=world.headers(creds), **kwargs)
    return response.status_code, response.text[:200]


def expected(case: Case, subject: str, status: int) -> bool:
    if case.succeeds(subject):
        return 200 <= status < 300
    if subject == "anonymous":
        return status == 401
    if subject in ("other_client", "coordinator_unassigned") and case.scoped:
        return status == case.other_status  # by path: indistinguishable from no client
    return status in (403, 404)


def test_every_route_for_every_subject(world: World) -> None:
    wrong = []
    # Refusals first, then successes: a success may change state (erase, withdraw).
    for key, case in MATRIX.items():
        order = sorted(SUBJECTS, key=case.succeeds)
        for subject in order:
            status, body = _call(world, key, case, subject)
            if not expected(case, subject, status):
                verdict = "allowed" if case.succeeds(subject) else "refused"
                wrong.append(f"{key} as {subject}: {status}, expected {verdict}: {body}")
    assert wrong == [], "\\n".join(wrong)
