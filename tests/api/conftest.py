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
from functools import lru_cache

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from health_advisor.api.app import create_app
from health_advisor.catalog import load_catalog
from health_advisor.config import Settings
from health_advisor.security import apikeys, consent, passwords, users
from health_advisor.store import repositories
from health_advisor.store.models import (
    Alert,
    Client,
    DataSource,
    FeatureSnapshot,
    Quarantine,
    User,
)
from health_advisor.store.session import session_scope

with warnings.catch_warnings():
    # Starlette asks for the httpx2 fork; with plain httpx its TestClient warns on import.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
CLIENT_A, CLIENT_B = "client-a", "client-b"
SUBJECTS = {  # name -> (username, role, linked client)
    "admin": ("root-admin", "admin", None),
    "coordinator": ("coord", "coordinator", None),
    "professional": ("doctor", "professional", None),
    "client": ("alice", "client", CLIENT_A),
    "other_client": ("bob", "client", CLIENT_B),
}


@lru_cache(maxsize=1)
def password_hash() -> str:
    return passwords.hash_password(PASSWORD)


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
        catalog = load_catalog()
        repositories.store_catalog(
            session=session,
            version=catalog.version,
            content_hash=catalog.content_hash,
            items=[i.model_dump(mode="json") for i in catalog.interventions],
        )
        source = DataSource(
            kind="csv", file_name="seed.csv", sha256="0" * 64, size_bytes=10, parser_version="1"
        )
        session.add(source)
        session.flush()
        out["source_id"] = source.id
        alerts = {}
        for ext, name in ((CLIENT_A, "Ana Quispe Rojas"), (CLIENT_B, "Bruno Díaz Soto")):
            client = Client(external_id=ext, name=name, email=f"{ext}@example.org", sex="female")
            session.add(client)
            session.flush()
            consent.record_consent(session, client, consent.WEARABLE_INGESTION, True, "form 1")
            session.add(
                FeatureSnapshot(
                    client_id=client.id,
                    as_of=dt.date(2026, 11, 1),
                    feature_version="1.0.0",
                    features={"steps_7d": 6500.0},
                    risk={"overall": {"category": "moderate", "reason": "stage 1"}},
                )
            )
            alert = Alert(
                client_id=client.id,
                dedup_key=f"{ext}|rhr_elevated|2026-10-25",
                kind="rhr_elevated",
                severity="warning",
                metric="40443-4",
                window_start=dt.date(2026, 10, 25),
                window_end=dt.date(2026, 10, 28),
                explanation="resting heart rate 3 MAD above baseline for 3 days",
            )
            session.add(alert)
            session.add(
                Quarantine(
                    source_id=source.id,
                    line=2,
                    field="heart_rate",
                    reason="heart_rate: 400 /min outside 25-250",
                    raw=f"{ext},400",
                    client_external_id=ext,
                )
            )
            session.flush()
            alerts[ext] = alert.id
        out["alerts"] = alerts
        made = {}
        for who, (username, role, client_ext) in SUBJECTS.items():
            pk = (
                repositories.get_client(session=session, external_id=client_ext).id
                if client_ext
                else None
            )  # type: ignore[union-attr]
            user = User(
                username=username,
                password_hash=password_hash(),
                role=role,
                client_id=pk,
                active=True,
                failed_logins=0,
            )
            session.add(user)
            made[who] = user
        session.flush()
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
