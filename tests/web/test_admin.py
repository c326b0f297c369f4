"""Administration pages: users and roles, model versions, sources and quarantine, audit."""

from __future__ import annotations

from sqlalchemy import select

from health_advisor.security import users
from health_advisor.store.models import AuditEntry
from health_advisor.store.session import session_scope

from .conftest import CLIENT_A, CLIENT_B, PASSWORD, Web


def test_the_users_page_lists_people_roles_and_assignments(web: Web) -> None:
    web.sign_in_as("admin")
    page = web.http.get("/admin/users")
    assert page.status_code == 200
    assert "5 usuarios" in page.text
    for name in ("root-admin", "coord", "doctor", "alice", "bob"):
        assert f'<th scope="row" data-label="Usuario">{name}</th>' in page.text
    assert "Profesional de salud" in page.text
    coordinator_row = page.text.split(">coord</th>", 1)[1].split("</tr>", 1)[0]
    assert CLIENT_A in coordinator_row and CLIENT_B not in coordinator_row


def test_an_admin_adds_a_user_and_the_policy_holds(web: Web) -> None:
    web.sign_in_as("admin")
    added = web.post(
        "/admin/users",
        {"username": "Nurse.Rosa", "role": "coordinator", "password": PASSWORD},
    )
    assert added.status_code == 303 and added.headers["location"] == "/admin/users?done=create"
    with session_scope(web.engine) as session:
        assert users.get_user(session, "nurse.rosa").role == "coordinator"
    weak = web.post("/admin/users", {"username": "weak", "role": "admin", "password": "short"})
    assert weak.status_code == 422 and "at least 12 characters" in weak.text
    orphan = web.post("/admin/users", {"username": "carla", "role": "client", "password": PASSWORD})
    assert orphan.status_code == 422
    twice = web.post(
        "/admin/users", {"username": "nurse.rosa", "role": "coordinator", "password": PASSWORD}
    )
    assert twice.status_code == 409


def test_an_admin_changes_roles_deactivates_and_assigns(web: Web) -> None:
    web.sign_in_as("admin")
    assert (
        web.post("/admin/users/doctor", {"role": "coordinator", "active": "1"}).status_code == 303
    )
    assert web.post("/admin/users/doctor/assign", {"client_id": CLIENT_B}).status_code == 303
    assert web.post("/admin/users/alice", {"role": "client"}).status_code == 303  # inactive
    with session_scope(web.engine) as session:
        assert users.get_user(session, "doctor").role == "coordinator"
        assert users.assigned_clients(session, users.get_user(session, "doctor").id) == [CLIENT_B]
        assert users.get_user(session, "alice").active is False
        entries = list(
            session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "user"))
        )
    assert entries == ["update", "assign", "update"]
    assert web.post("/admin/users/root-admin", {"role": "client"}).status_code == 409


def test_models_page_without_a_registry_says_rules_are_used(web: Web) -> None:
    web.sign_in_as("admin")
    page = web.http.get("/admin/models")
    assert page.status_code == 200
    assert "Todavía no se ha entrenado ningún modelo" in page.text


def test_sources_and_quarantine_are_listed_and_audited(web: Web) -> None:
    web.sign_in_as("admin")
    page = web.http.get("/admin/sources")
    assert page.status_code == 200
    assert "seed.csv" in page.text and "1 archivo" in page.text
    assert "heart_rate: 400 /min outside 25-250" in page.text
    assert f"{CLIENT_A},400" not in page.text  # the raw record (may hold a name) stays hidden
    with session_scope(web.engine) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.object_type == "quarantine"))
        assert entry is not None and entry.detail["clients"] == [CLIENT_A, CLIENT_B]
    assert web.http.get("/admin/sources?source=999").status_code == 200


def test_the_audit_log_filters_and_pages(web: Web) -> None:
    web.sign_in_as("coordinator")
    web.http.get(f"/clients/{CLIENT_A}")
    web.http.get(f"/clients/{CLIENT_B}")  # denied
    web.sign_in_as("admin")
    page = web.http.get("/admin/audit")
    assert page.status_code == 200 and "Registro de auditoría" in page.text
    denied = web.http.get("/admin/audit?outcome=denied")
    assert "1 registro" in denied.text and CLIENT_B in denied.text
    mine = web.http.get(f"/admin/audit?actor=coord&client={CLIENT_A}")
    assert "1 registro" in mine.text
    assert web.http.get("/admin/audit?outcome=bogus").status_code == 200  # ignored


def test_only_admins_administer(web: Web) -> None:
    for who in ("coordinator", "professional", "client"):
        web.sign_in_as(who)
        for path in ("/admin/users", "/admin/models", "/admin/sources", "/admin/audit"):
            assert web.http.get(path).status_code == 403, (who, path)
        assert web.post("/admin/users/doctor", {"role": "admin", "active": "1"}).status_code == 403
    with session_scope(web.engine) as session:
        assert users.get_user(session, "doctor").role == "professional"
