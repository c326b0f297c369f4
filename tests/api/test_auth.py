"""Sign-in, lock-out, rate limiting, refresh rotation with reuse detection, sign-out."""

from __future__ import annotations

from health_advisor.security import users
from health_advisor.store.session import session_scope

from .conftest import PASSWORD, World

TOKEN = "/api/v1/auth/token"


def login(world: World, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return world.http.post(TOKEN, data={"username": username, "password": password})


def test_sign_in_gives_tokens_that_open_the_api(world: World) -> None:
    response = login(world, "Doctor")  # usernames are case-insensitive
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    me = world.http.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["role"] == "professional"


def test_wrong_password_and_unknown_user_answer_alike(world: World) -> None:
    wrong = login(world, "doctor", "not the password at all")
    unknown = login(world, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["detail"] == unknown.json()["detail"] == "incorrect username or password"


def test_account_locks_after_five_failures_even_with_the_right_password(world: World) -> None:
    world.app.state.limiter.per_username = 100  # isolate the database lock-out
    for _ in range(users.MAX_FAILURES):
        assert login(world, "doctor", "wrong password again").status_code == 401
    assert login(world, "doctor").status_code == 401
    with session_scope(world.engine) as session:
        assert users.is_locked(users.get_user(session, "doctor"))
        users.set_password(session, "doctor", PASSWORD)  # an admin reset unlocks
    assert login(world, "doctor").status_code == 200


def test_repeated_failures_are_rate_limited_with_retry_after(world: World) -> None:
    for _ in range(5):
        login(world, "alice", "wrong password again")
    response = login(world, "alice")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["status"] == 429


def test_failed_and_successful_sign_ins_are_audited(world: World) -> None:
    login(world, "doctor", "wrong password again")
    login(world, "doctor")
    entries = world.http.get(
        "/api/v1/audit", params={"action": "login"}, headers=world.headers("admin")
    ).json()["items"]
    assert [(e["actor"], e["outcome"]) for e in entries] == [("doctor", "ok"), ("doctor", "failed")]


def test_refresh_rotates_and_a_replayed_token_signs_out_everywhere(world: World) -> None:
    first = login(world, "doctor").json()["refresh_token"]
    second = world.http.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert second.status_code == 200
    newer = second.json()["refresh_token"]
    assert newer != first
    replay = world.http.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    # the replay revoked the whole family, including the token issued by the rotation
    assert world.http.post("/api/v1/auth/refresh", json={"refresh_token": newer}).status_code == 401


def test_logout_revokes_the_refresh_token(world: World) -> None:
    token = login(world, "doctor").json()["refresh_token"]
    assert world.http.post("/api/v1/auth/logout", json={"refresh_token": token}).status_code == 204
    assert world.http.post("/api/v1/auth/refresh", json={"refresh_token": token}).status_code == 401


def test_deactivated_user_is_refused_at_once(world: World) -> None:
    headers = world.headers("professional")
    assert world.http.get("/api/v1/clients", headers=headers).status_code == 200
    with session_scope(world.engine) as session:
        users.update_user(session, "doctor", active=False)
    assert world.http.get("/api/v1/clients", headers=headers).status_code == 401


def test_tampered_and_foreign_tokens_are_refused(world: World) -> None:
    token = world.headers("admin")["Authorization"].removeprefix("Bearer ")
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[::-1]}"
    for bad in (forged, "not-a-token", "eyJhbGciOiJub25lIn0.e30."):
        response = world.http.get("/api/v1/clients", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401


def test_password_change_needs_the_current_password(world: World) -> None:
    headers = world.headers("client")
    body = {"current_password": "wrong password here", "new_password": "a brand new passphrase"}
    assert world.http.post("/api/v1/auth/password", json=body, headers=headers).status_code == 422
    body["current_password"] = PASSWORD
    assert world.http.post("/api/v1/auth/password", json=body, headers=headers).status_code == 204
    assert login(world, "alice", "a brand new passphrase").status_code == 200


def test_api_key_is_a_service_principal_and_revocable(world: World) -> None:
    me = world.http.get("/api/v1/auth/me", headers=world.headers("service")).json()
    assert me["role"] == "service" and me["scopes"] == ["ingest"]
    keys = world.http.get("/api/v1/api-keys", headers=world.headers("admin")).json()
    assert "key" not in keys[0] and keys[0]["prefix"].startswith("hak_")
    world.http.delete(f"/api/v1/api-keys/{keys[0]['id']}", headers=world.headers("admin"))
    assert world.http.get("/api/v1/auth/me", headers=world.headers("service")).status_code == 401
