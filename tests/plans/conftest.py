"""A small synthetic clinic, generated once and stored per test (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from health_advisor.catalog import load_catalog
from health_advisor.core.catalog import Catalog
from health_advisor.features import service as features
from health_advisor.ingest.service import ingest_paths
from health_advisor.security.consent import RECOMMENDATIONS, record_consent
from health_advisor.store import repositories
from health_advisor.store.models import Client, FeatureSnapshot, Survey, User
from health_advisor.store.session import session_scope
from health_advisor.synth import generate_clinic

CLINIC_DIRS = ("surveys", "seed", "fitbit", "interactions")


@pytest.fixture(scope="session")
def clinic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plans") / "clinic"
    generate_clinic(out, clients=30, days=35, seed=11)
    return out


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def stored(engine: Engine, clinic_dir: Path) -> Engine:
    """The clinic ingested, features built, and one user per role (+ a client user)."""
    ingest_paths(engine, [clinic_dir / d for d in CLINIC_DIRS])
    with session_scope(engine) as session:
        latest = repositories.latest_observation(session=session)
    assert latest is not None
    features.build(engine, as_of=latest.date())
    with session_scope(engine) as session:
        for client in session.scalars(select(Client)):
            record_consent(session, client, RECOMMENDATIONS, True, "intake form")
        first = session.scalar(select(Client).order_by(Client.external_id).limit(1))
        assert first is not None
        session.add_all(
            [
                User(username="coco", password_hash="x", role="coordinator"),
                User(username="doc", password_hash="x", role="professional"),
                User(username="admin", password_hash="x", role="admin"),
                User(username="me", password_hash="x", role="client", client_id=first.id),
            ]
        )
    return engine


def first_client(engine: Engine) -> str:
    with session_scope(engine) as session:
        return str(session.scalar(select(Client.external_id).order_by(Client.external_id)))


def add_client(
    engine: Engine,
    external_id: str,
    *,
    categories: dict[str, str],
    numbers: dict[str, float] | None = None,
    survey: dict[str, object] | None = None,
) -> str:
    """A hand-made client with a snapshot in the given guideline categories."""
    features_row: dict[str, object] = {
        f"{k}_category": v for k, v in categories.items() if k != "overall"
    }
    features_row["health_risk_category"] = categories.get("overall", "high")
    features_row.update({"age_years": 55.0, "sex": "male", **(numbers or {})})
    with session_scope(engine) as session:
        client = Client(external_id=external_id, sex="male", birth_year=1971)
        session.add(client)
        session.flush()
        record_consent(session, client, RECOMMENDATIONS, True, "intake form")
        session.add(
            FeatureSnapshot(
                client_id=client.id,
                as_of=dt.date(2026, 11, 30),
                feature_version="1.0.0",
                features=features_row,
                risk={k: {"category": v} for k, v in categories.items()},
            )
        )
        session.add(
            Survey(
                client_id=client.id,
                answered_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                answers=survey
                or {
                    "goals": ["lower_bp"],
                    "preferred_domains": ["exercise"],
                    "preferred_settings": ["home"],
                    "weekly_time_budget_min": 240,
                    "conditions": ["hypertension"],
                    "medical_clearance": False,
                    "smoker": False,
                },
            )
        )
    return external_id
