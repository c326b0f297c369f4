"""Errors are RFC 9457 problem+json everywhere; request ids; readiness."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import create_engine

from health_advisor.api.app import create_app
from health_advisor.config import Settings

from .conftest import TestClient, World

PROBLEM = "application/problem+json"


def test_unknown_path_and_wrong_method_are_problems(world: World) -> None:
    for response, status in (
        (world.http.get("/api/v1/nothing-here"), 404),
        (world.http.put("/api/v1/clients", headers=world.headers("admin")), 405),
    ):
        assert response.status_code == status
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["status"] == status and body["title"] and body["request_id"]


def test_validation_errors_name_fields_but_never_echo_input(world: World) -> None:
    response = world.http.post(
        "/api/v1/users",
        json={"username": "x", "role": "wizard", "password": "hunter2-secret"},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "role"), ("body", "username")}
    assert "hunter2-secret" not in response.text


def test_domain_errors_carry_their_status_and_type(world: World) -> None:
    response = world.http.get("/api/v1/clients/nobody", headers=world.headers("admin"))
    assert response.status_code == 404
    assert response.json()["type"] == "urn:health-advisor:problem:not-found"
    missing = world.http.get("/api/v1/clients", headers={})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"


def test_unexpected_error_is_a_500_without_a_trace(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["request_id"] == "req-42"
    assert "secret" not in response.text and "Traceback" not in response.text


def test_request_id_is_echoed_or_made(world: World) -> None:
    given = world.http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = world.http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


def test_api_answers_are_not_cached(world: World) -> None:
    response = world.http.get("/api/v1/clients", headers=world.headers("admin"))
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_readyz_is_503_problem_when_the_database_is_down(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var", env="test")
    dead = create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with TestClient(create_app(settings, engine=dead)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM


def test_openapi_documents_problem_answers(world: World) -> None:
    schema = world.http.get("/openapi.json").json()
    answers = schema["paths"]["/api/v1/clients/{client_id}"]["get"]["responses"]
    assert set(answers) >= {"200", "401", "403", "404", "422", "500"}
    assert list(answers["404"]["content"]) == [PROBLEM]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
