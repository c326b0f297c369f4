"""Clients: visibility per role, consents, and the data-subject rights."""

from __future__ import annotations

from sqlalchemy import func, select

from health_advisor.store.models import AuditEntry, Client, Measurement, User
from health_advisor.store.session import session_scope

from .conftest import CLIENT_A, CLIENT_B, World


def ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [item["client_id"] for item in response.json()["items"]]


def test_each_role_lists_only_the_clients_it_reaches(world: World) -> None:
    get = world.http.get
    assert ids(get("/api/v1/clients", headers=world.headers("admin"))) == [CLIENT_A, CLIENT_B]
    assert ids(get("/api/v1/clients", headers=world.headers("professional"))) == [
        CLIENT_A,
        CLIENT_B,
    ]
    assert ids(get("/api/v1/clients", headers=world.headers("coordinator"))) == [CLIENT_A]
    assert ids(get("/api/v1/clients", headers=world.headers("client"))) == [CLIENT_A]
    assert ids(get("/api/v1/clients", headers=world.headers("other_client"))) == [CLIENT_B]


def test_list_filters_and_paginates(world: World) -> None:
    admin = world.headers("admin")
    page = world.http.get("/api/v1/clients", params={"limit": 1, "offset": 1}, headers=admin)
    assert page.json()["total"] == 2 and ids(page) == [CLIENT_B]
    assert ids(world.http.get("/api/v1/clients", params={"q": "-a"}, headers=admin)) == [CLIENT_A]
    assert ids(world.http.get("/api/v1/clients", params={"q": "%"}, headers=admin)) == []


def test_detail_shows_personal_fields_and_consents(world: World) -> None:
    body = world.http.get(f"/api/v1/clients/{CLIENT_A}", headers=world.headers("client")).json()
    assert body["name"] == "Ana Quispe Rojas"
    assert body["consent_status"] == {"wearable_ingestion": True, "recommendations": False}
    assert body["consents"][0]["evidence"] == "form 1"


def test_reads_and_denials_are_audited(world: World) -> None:
    world.http.get(f"/api/v1/clients/{CLIENT_A}", headers=world.headers("professional"))
    refused = world.http.get(f"/api/v1/clients/{CLIENT_A}", headers=world.headers("other_client"))
    assert refused.status_code == 404
    entries = world.http.get(
        "/api/v1/audit", params={"client_id": CLIENT_A}, headers=world.headers("admin")
    ).json()["items"]
    seen = [(e["actor"], e["action"], e["outcome"]) for e in entries]
    assert ("bob", "read", "denied") in seen
    assert ("doctor", "read", "ok") in seen
    assert all(e["source_address"] for e in entries)


def test_coordinator_registers_a_client_and_is_assigned(world: World) -> None:
    headers = world.headers("coordinator")
    created = world.http.post(
        "/api/v1/clients", json={"client_id": "c-new", "email": "n@example.org"}, headers=headers
    )
    assert created.status_code == 201
    assert world.http.get("/api/v1/clients/c-new", headers=headers).status_code == 200
    again = world.http.post("/api/v1/clients", json={"client_id": "c-new"}, headers=headers)
    assert again.status_code == 409


def test_consent_withdrawal_appends_and_keeps_history(world: World) -> None:
    headers = world.headers("client")
    url = f"/api/v1/clients/{CLIENT_A}/consents"
    assert (
        world.http.post(url, json={"purpose": "recommendations"}, headers=headers).status_code
        == 201
    )
    assert world.http.delete(f"{url}/recommendations", headers=headers).status_code == 200
    body = world.http.get(f"/api/v1/clients/{CLIENT_A}", headers=headers).json()
    assert body["consent_status"]["recommendations"] is False
    assert [c["granted"] for c in body["consents"] if c["purpose"] == "recommendations"] == [
        True,
        False,
    ]


def test_rectify_changes_fields_and_audits_names_not_values(world: World) -> None:
    response = world.http.patch(
        f"/api/v1/clients/{CLIENT_A}",
        json={"name": "Ana Quispe", "birth_date": "1980-05-17"},
        headers=world.headers("client"),
    )
    assert response.status_code == 200
    assert response.json()["birth_year"] == 1980
    with session_scope(world.engine) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "rectify"))
        assert entry is not None and entry.detail["fields"] == ["birth_date", "name"]
        assert "Ana" not in str(entry.detail)


def test_export_json_and_fhir(world: World) -> None:
    world.http.post(
        f"/api/v1/clients/{CLIENT_A}/measurements",
        json={
            "measurements": [
                {"metric": "steps", "value": 9000, "observed_at": "2026-10-01T08:00:00Z"}
            ]
        },
        headers=world.headers("client"),
    )
    headers = world.headers("client")
    body = world.http.get(f"/api/v1/clients/{CLIENT_A}/export", headers=headers).json()
    assert body["client"]["name"] == "Ana Quispe Rojas"
    assert [m["name"] for m in body["measurements"]] == ["steps"]
    assert body["alerts"] and body["feature_snapshots"] and body["consents"]
    assert [a["username"] for a in body["accounts"]] == ["alice"]
    bundle = world.http.get(
        f"/api/v1/clients/{CLIENT_A}/export", params={"format": "fhir"}, headers=headers
    ).json()
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert bundle["resourceType"] == "Bundle" and kinds == ["Patient", "Observation", "Consent"]
    observation = bundle["entry"][1]["resource"]
    assert observation["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "41950-7",
        "display": "steps",
    }


def test_erase_anonymises_keeps_audit_and_closes_accounts(world: World) -> None:
    world.http.get(f"/api/v1/clients/{CLIENT_A}", headers=world.headers("professional"))
    response = world.http.delete(f"/api/v1/clients/{CLIENT_A}", headers=world.headers("admin"))
    assert response.status_code == 200 and response.json()["summary"]["accounts_deactivated"] == 1
    with session_scope(world.engine) as session:
        assert session.scalar(select(Client).where(Client.external_id == CLIENT_A)) is None
        erased = session.scalar(select(Client).where(Client.external_id.like("erased-%")))
        assert erased is not None and erased.name is None and erased.email is None
        alice = session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None and not alice.active and alice.client_id is None
        trail = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.client_ref == CLIENT_A)
        )
        assert trail and trail >= 2  # the earlier read and the erasure itself
    assert world.http.get("/api/v1/auth/me", headers=world.headers("client")).status_code == 401


def test_erase_delete_removes_every_row(world: World) -> None:
    world.http.post(
        f"/api/v1/clients/{CLIENT_B}/measurements",
        json={
            "measurements": [
                {"metric": "steps", "value": 9000, "observed_at": "2026-10-01T08:00:00Z"}
            ]
        },
        headers=world.headers("admin"),
    )
    response = world.http.delete(
        f"/api/v1/clients/{CLIENT_B}", params={"mode": "delete"}, headers=world.headers("admin")
    )
    assert response.status_code == 200
    assert response.json()["summary"]["measurements_deleted"] == 1
    with session_scope(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(Measurement)) == 0
        assert session.scalar(select(Client).where(Client.external_id == CLIENT_B)) is None
