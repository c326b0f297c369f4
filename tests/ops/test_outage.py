"""The API with its database down: 503 problem+json on /readyz and on data routes (with
``Retry-After``), liveness still up, metrics still scraped; then, with the database
back, the same app serves again without a restart and nothing was lost.

PostgreSQL: the app's own database stops accepting connections (``ALLOW_CONNECTIONS
false``) and its sessions are terminated; the pool's pre-ping finds them dead and the
reconnect is refused. SQLite: the pool's connections are closed and the database file is
moved away, with a directory in its place, so opening it fails as an unreadable file
would (file modes do not stop root, who runs CI).
"""

from __future__ import annotations

import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from health_advisor.api.app import create_app
from health_advisor.config import Settings
from health_advisor.store import migrate
from health_advisor.store.session import make_engine

from ..conftest import POSTGRES_URL
from .conftest import CLIENTS, bearer, seed_clinic

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


@dataclass
class Outage:
    engine: Engine
    down: Callable[[], None]
    up: Callable[[], None]


def _sqlite(settings: Settings, tmp_path: Path) -> Iterator[Outage]:
    engine = make_engine(settings)
    migrate.upgrade(engine)
    db = Path(engine.url.database or "")
    aside = tmp_path / "aside"

    def down() -> None:
        engine.dispose()  # the process loses its connections
        aside.mkdir()
        for f in db.parent.glob(db.name + "*"):
            shutil.move(f, aside / f.name)
        db.mkdir()

    def up() -> None:
        db.rmdir()
        for f in aside.iterdir():
            shutil.move(f, db.parent / f.name)
        aside.rmdir()

    yield Outage(engine, down, up)
    engine.dispose()


def _postgres(settings: Settings) -> Iterator[Outage]:
    if not POSTGRES_URL:
        pytest.skip("HEALTH_ADVISOR_TEST_POSTGRES_URL is not set")
    name = f"ha_outage_{uuid.uuid4().hex[:10]}"
    admin = make_engine(settings, url=POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")

    def sql(statement: str) -> None:
        with admin.connect() as conn:
            conn.execute(text(statement))

    sql(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(settings, url=url)
    try:
        migrate.upgrade(engine)

        def down() -> None:
            sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")

        def up() -> None:
            sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        yield Outage(engine, down, up)
    finally:
        engine.dispose()
        sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def outage(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "sqlite":
        yield from _sqlite(settings, tmp_path)
    else:
        yield from _postgres(settings)


def assert_unavailable(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert status == 503, body
    assert headers["content-type"] == PROBLEM
    assert body["status"] == 503 and body["request_id"] == headers["x-request-id"]
    assert "Traceback" not in response.text  # type: ignore[attr-defined]


def test_database_down_answers_503_then_recovers(outage: Outage, settings: Settings) -> None:
    clinic = seed_clinic(outage.engine)
    app = create_app(settings, engine=outage.engine)
    admin = bearer(app, clinic.users["admin"])
    with TestClient(app) as http:
        assert http.get("/api/v1/clients", headers=admin).status_code == 200
        outage.down()

        assert http.get("/healthz").status_code == 200  # alive: do not restart it
        assert_unavailable(http.get("/readyz"))
        listing = http.get("/api/v1/clients", headers=admin)
        assert_unavailable(listing)
        assert listing.headers["retry-after"] == "5"
        assert_unavailable(http.get(f"/api/v1/clients/{CLIENTS[0]}", headers=admin))
        created = http.post("/api/v1/clients", headers=admin, json={"client_id": "during-outage"})
        assert_unavailable(created)
        scraped = http.get("/metrics")
        assert scraped.status_code == 200
        assert 'health_advisor_collector_up{group="store"} 0.0' in scraped.text
        assert 'exception="OperationalError"' in scraped.text

        outage.up()
        assert http.get("/readyz").json() == {"status": "ready", "database": "ok"}
        items = http.get("/api/v1/clients", headers=admin).json()["items"]
        assert sorted(c["client_id"] for c in items) == sorted(CLIENTS)
        again = http.post("/api/v1/clients", headers=admin, json={"client_id": "after-outage"})
        assert again.status_code == 201
