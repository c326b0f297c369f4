"""Shared fixtures: the real public data beside the project, and databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from health_advisor.config import Settings
from health_advisor.store import migrate
from health_advisor.store.session import make_engine

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: required in CI (CI=true), skipped elsewhere when absent."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the shared data folder is missing: {SHARED_DATA}")
    pytest.skip(f"shared data not found at {SHARED_DATA}")


# --------------------------------------------------------------------------- databases

POSTGRES_URL = os.environ.get("HEALTH_ADVISOR_TEST_POSTGRES_URL")
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in a fresh temporary home (key generated there on first use)."""
    return Settings(home=tmp_path / "var", env="test")


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Engine]:
    """A migrated, empty store: SQLite always; PostgreSQL when its URL is set.

    On PostgreSQL each test gets its own schema, dropped afterwards.
    """
    if request.param == "sqlite":
        eng = make_engine(settings)
        migrate.upgrade(eng)
        yield eng
        eng.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("HEALTH_ADVISOR_TEST_POSTGRES_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(settings, url=POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(settings, url=POSTGRES_URL, search_path=schema)
    try:
        migrate.upgrade(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
