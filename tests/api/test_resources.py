"""Features, alerts, catalog, sources and quarantine, models, users: contents per role."""

from __future__ import annotations

from .conftest import CLIENT_A, CLIENT_B, PASSWORD, World


def items(response) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_features_show_the_latest_snapshot_with_risk(world: World) -> None:
    body = world.http.get(
        f"/api/v1/clients/{CLIENT_A}/features", headers=world.headers("client")
    ).json()
    assert body["as_of"] == "2026-11-01"
    assert body["risk"]["overall"]["category"] == "moderate"


def test_alerts_are_filtered_by_reach_and_acknowledged_once(world: World) -> None:
    coordinator = world.headers("coordinator")
    listed = items(world.http.get("/api/v1/alerts", headers=coordinator))
    assert [a["client_id"] for a in listed] == [CLIENT_A]
    assert len(items(world.http.get("/api/v1/alerts", headers=world.headers("professional")))) == 2
    alert = world.alerts[CLIENT_A]
    first = world.http.post(f"/api/v1/alerts/{alert}/acknowledge", headers=coordinator).json()
    second = world.http.post(f"/api/v1/alerts/{alert}/acknowledge", headers=coordinator).json()
    assert first["acknowledged_at"] == second["acknowledged_at"] is not None
    open_only = world.http.get(
        "/api/v1/alerts", params={"acknowledged": False}, headers=coordinator
    )
    assert items(open_only) == []
    other = world.http.post(
        f"/api/v1/alerts/{world.alerts[CLIENT_B]}/acknowledge", headers=coordinator
    )
    assert other.status_code == 404


def test_catalog_in_both_languages(world: World) -> None:
    headers = world.headers("client")
    es = world.http.get("/api/v1/interventions/ex_brisk_walking", headers=headers).json()
    en = world.http.get(
        "/api/v1/interventions/ex_brisk_walking", params={"lang": "en"}, headers=headers
    ).json()
    assert (es["title"], en["title"]) == ("Caminata a paso ligero", "Brisk walking")
    page = world.http.get("/api/v1/interventions", params={"domain": "sleep"}, headers=headers)
    assert page.json()["total"] >= 10 and {i["domain"] for i in items(page)} == {"sleep"}


def test_quarantine_shows_coordinators_only_their_clients(world: World) -> None:
    admin = items(world.http.get("/api/v1/quarantine", headers=world.headers("admin")))
    assert sorted(q["client_id"] for q in admin) == [CLIENT_A, CLIENT_B]
    mine = items(world.http.get("/api/v1/quarantine", headers=world.headers("coordinator")))
    assert [(q["client_id"], q["raw"]) for q in mine] == [(CLIENT_A, f"{CLIENT_A},400")]
    sources = items(world.http.get("/api/v1/sources", headers=world.headers("coordinator")))
    assert [s["file_name"] for s in sources] == ["seed.csv"]


def test_models_list_is_empty_before_training(world: World) -> None:
    response = world.http.get("/api/v1/models", headers=world.headers("professional"))
    assert response.status_code == 200 and response.json() == []


def test_admin_manages_users_and_assignments(world: World) -> None:
    admin = world.headers("admin")
    created = world.http.post(
        "/api/v1/users",
        json={"username": "Nora", "role": "coordinator", "password": PASSWORD},
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["username"] == "nora"
    assigned = world.http.post(
        "/api/v1/users/nora/assignments", json={"client_id": CLIENT_B}, headers=admin
    )
    assert assigned.json()["assigned_clients"] == [CLIENT_B]
    changed = world.http.patch("/api/v1/users/nora", json={"role": "professional"}, headers=admin)
    assert changed.json()["assigned_clients"] == [] and changed.json()["role"] == "professional"
    assert world.http.delete("/api/v1/users/nora", headers=admin).status_code == 204
    assert world.http.get("/api/v1/users/nora", headers=admin).json()["active"] is False
    listed = items(world.http.get("/api/v1/users", params={"active": True}, headers=admin))
    assert "nora" not in [u["username"] for u in listed]


def test_admin_cannot_lock_themselves_out(world: World) -> None:
    admin = world.headers("admin")
    assert world.http.delete("/api/v1/users/root-admin", headers=admin).status_code == 409
    demote = world.http.patch("/api/v1/users/root-admin", json={"role": "client"}, headers=admin)
    assert demote.status_code == 409


def test_weak_password_is_refused_with_the_reason(world: World) -> None:
    response = world.http.post(
        "/api/v1/users",
        json={"username": "weak", "role": "professional", "password": "short"},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422 and "at least 12" in response.json()["detail"]
