"""A seeded clinic for the API tests: two clients, one user per role, an API key.

Users are stored with one argon2 hash computed once per session, and tokens are minted
with the app's signer, so most tests pay for no password hashing; the sign-in tests
exercise the real flow.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from health_advisor.api.app import create_app
from health_advisor.config import Settings
from health_advisor.security import apikeys, consent, users
from health_advisor.store.models import User
from health_advisor.store.session import session_scope

from .. import seeding
from ..seeding import CLIENT_A
from ..seeding import CLIENT_B as CLIENT_B  # re-exported for the tests
from ..seeding import PASSWORD as PASSWORD  # re-exported for the tests

with warnings.catch_warnings():
    # Starlette asks for the httpx2 fork; with plain httpx its TestClient warns on import.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@dataclass
class World:
    app: FastAPI
    http: TestClient
    engine: Engine
    api_key: str = ""
    users: dict[str, User] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    source_id: int = 0

    def headers(self, who: str) -> dict[str, str]:
        """Credentials of a subject: a role name, ``service``, or ``anonymous``."""
        if who == "anonymous":
            return {}
        if who == "service":
            return {"X-API-Key": self.api_key}
        token, _ = self.app.state.signer.issue(self.users[who])
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    return create_app(settings, engine=engine)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def seed(engine: Engine) -> dict[str, object]:
    """Two clients with consents, snapshots, alerts and quarantined rows; the users."""
    out: dict[str, object] = {}
    with session_scope(engine) as session:
        seeding.store_catalog(session)
        source = seeding.add_source(session, digest_char="0")
        out["source_id"] = source.id
        alerts = {}
        for ext, name in seeding.CLIENT_NAMES.items():
            client = seeding.add_client(
                session,
                purposes=[consent.WEARABLE_INGESTION],
                note="form 1",
                external_id=ext,
                name=name,
                email=f"{ext}@example.org",
                sex="female",
            )
            seeding.add_snapshot(session, client)
            alert = seeding.add_heart_rate_findings(
                session,
                source,
                client,
                start=dt.date(2026, 10, 25),
                explanation="resting heart rate 3 MAD above baseline for 3 days",
                line=2,
            )
            session.flush()
            alerts[ext] = alert.id
        out["alerts"] = alerts
        made = seeding.add_users(session, seeding.ACCOUNTS)
        users.assign_client(session, "coord", CLIENT_A)
        _, key = apikeys.create_api_key(
            session, name="bridge", scopes=["ingest"], created_by="test"
        )
        out["api_key"] = key
        out["users"] = made
    return out


@pytest.fixture
def world(app: FastAPI, http: TestClient, engine: Engine) -> World:
    seeded = seed(engine)
    return World(
        app=app,
        http=http,
        engine=engine,
        api_key=str(seeded["api_key"]),
        users=seeded["users"],  # type: ignore[arg-type]
        alerts=seeded["alerts"],  # type: ignore[arg-type]
        source_id=int(seeded["source_id"]),  # type: ignore[call-overload]
    )
