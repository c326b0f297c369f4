"""A small synthetic clinic and a pre-built MLflow store for the pipeline tests.

Creating an MLflow SQLite store runs MLflow's migrations (about 5 s); the template is
built once per session and copied into each test's home, where the settings expect it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from health_advisor.config import Settings
from health_advisor.security.consent import RECOMMENDATIONS, record_consent
from health_advisor.store.models import Client
from health_advisor.store.session import session_scope
from health_advisor.synth import generate_clinic

CLINIC_DIRS = ("surveys", "seed", "fitbit", "interactions")


@pytest.fixture(scope="session")
def clinic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pipeline") / "clinic"
    generate_clinic(out, clients=30, days=35, seed=11)
    return out


@pytest.fixture
def clinic_paths(clinic_dir: Path) -> list[Path]:
    return [clinic_dir / d for d in CLINIC_DIRS]


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from health_advisor.recommender import tracking

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    client = tracking.connect(f"sqlite:///{path}")
    client.search_registered_models()  # creates and migrates the store
    return path


@pytest.fixture
def home(settings: Settings, mlflow_template: Path) -> Settings:
    """The test's settings with an empty MLflow store in place."""
    shutil.copy(mlflow_template, settings.ensure_home() / "mlflow.db")
    return settings


def consent_all(engine: Engine) -> None:
    """Every client consents to recommendations (the composer requires it)."""
    with session_scope(engine) as session:
        for client in session.scalars(select(Client)):
            record_consent(session, client, RECOMMENDATIONS, True, "intake form")


@pytest.fixture
def consent() -> Callable[[Engine], None]:
    """:func:`consent_all`, for tests to call once their clients are stored."""
    return consent_all
