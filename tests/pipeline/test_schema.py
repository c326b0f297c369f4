"""The migrations against the models: they agree, and 0004 and 0005 downgrade and upgrade
again."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from health_advisor.store import migrate
from health_advisor.store.models import Alert, Base
from health_advisor.store.session import session_scope


def test_the_models_and_the_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_0004_downgrades_and_upgrades_again(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(
            Alert(
                client_id=None,
                dedup_key="drift|x",
                kind="feature_drift",
                severity="warning",
                metric="steps_mean_7d",
                window_start=dt.date(2025, 1, 1),
                window_end=dt.date(2025, 1, 8),
                explanation="clinic-wide",
            )
        )
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    assert migrate.current_revision(engine) == "0003"
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"pipeline_runs", "data_quality", "drift_reports"}
    assert migrate.upgrade(engine) == "0005"
    with session_scope(engine) as session:
        assert session.scalars(select(Alert)).all() == []  # clinic-wide alerts cannot go back


def test_0005_adds_the_per_client_indexes_and_takes_them_back(engine: Engine) -> None:
    def indexes() -> set[str]:
        inspector = inspect(engine)
        return {
            str(ix["name"])
            for table in ("consents", "alerts", "checkins", "refresh_tokens")
            for ix in inspector.get_indexes(table)
        }

    added = {
        "ix_consents_client_purpose",
        "ix_alerts_client_id",
        "ix_checkins_client_id",
        "ix_refresh_tokens_user_id",
    }
    assert added <= indexes()
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert not added & indexes()
    assert migrate.upgrade(engine) == "0005"
    assert added <= indexes()
