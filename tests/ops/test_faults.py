"""Faults in the data path: nothing lost, clear errors.

- The database goes away in the middle of a file's ingestion: the file's transaction
  rolls back whole (no lineage row, no measurement), the rerun completes, and the counts
  equal those of a clean ingestion of the same file. On PostgreSQL the ingesting
  connection is terminated from another session (``pg_terminate_backend``) right after the
  measurements were written; on SQLite, which has no server to lose, the driver's own
  error is raised at the same point.
- A training run crashes: the champion stays, MLflow records the run as FAILED with the
  error, and a clinic-wide ``training_failed`` alert is raised (which Prometheus sees in
  ``health_advisor_alerts_open``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import OperationalError

from health_advisor.api import metrics
from health_advisor.config import Settings
from health_advisor.ingest import service as ingest
from health_advisor.store import bulk, migrate
from health_advisor.store.models import Alert, DataSource, Measurement, Quarantine
from health_advisor.store.session import make_engine, session_scope
from health_advisor.synth import generate_clinic

from ..conftest import POSTGRES_URL


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "clinic"
    generate_clinic(out, clients=30, days=35, seed=5)
    return out


def table_counts(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        return (
            session.scalar(select(func.count(DataSource.id))) or 0,
            session.scalar(select(func.count(Measurement.id))) or 0,
            session.scalar(select(func.count(Quarantine.id))) or 0,
        )


def lose_database(engine: Engine, settings: Settings) -> Any:
    """What happens to the ingesting connection right after its measurements are written."""
    if engine.dialect.name == "postgresql":
        assert POSTGRES_URL
        admin = make_engine(settings, url=POSTGRES_URL)  # the same cipher key

        def terminate(conn: Connection) -> None:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with admin.begin() as other:
                killed = other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                assert killed.scalar_one() is True
            admin.dispose()

        return terminate

    def disk_error(conn: Connection) -> None:
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))

    return disk_error


def test_database_lost_mid_ingest_rolls_back_and_rerun_is_exact(
    engine: Engine,
    settings: Settings,
    clinic: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    surveys = clinic / "surveys" / "intake.csv"
    sheet = clinic / "seed" / "clinic_daily.csv"
    ingest.ingest_file(engine, surveys)
    before = table_counts(engine)
    assert before[0] == 1

    fault = lose_database(engine, settings)
    real = bulk.insert_measurements

    def insert_then_fail(conn: Connection, frame: Any) -> int:
        written = real(conn, frame)
        assert written > 0  # the fault strikes with rows already written in the transaction
        fault(conn)
        return written

    monkeypatch.setattr(bulk, "insert_measurements", insert_then_fail)
    with pytest.raises(OperationalError):
        ingest.ingest_file(engine, sheet)
    monkeypatch.undo()
    assert table_counts(engine) == before  # the whole file rolled back; earlier data kept

    rerun = ingest.ingest_file(engine, sheet)
    reference_engine = make_engine(settings, url=f"sqlite:///{tmp_path / 'reference.db'}")
    migrate.upgrade(reference_engine)
    ingest.ingest_file(reference_engine, surveys)
    reference = ingest.ingest_file(reference_engine, sheet)
    reference_engine.dispose()

    assert rerun.status == "ingested" and rerun.measurements > 1000
    for field in ("records_read", "clients", "measurements", "duplicates", "quarantined"):
        assert getattr(rerun, field) == getattr(reference, field), field
    assert table_counts(engine) == (
        2,
        before[1] + rerun.measurements,
        before[2] + rerun.quarantined,
    )
    assert ingest.ingest_file(engine, sheet).status == "unchanged"


# --------------------------------------------------------------------------- training


@pytest.fixture
def trained_home(engine: Engine, settings: Settings, clinic: Path, tmp_path: Path) -> Settings:
    """The clinic ingested and a baseline champion (version 1) in a fresh MLflow store."""
    from health_advisor.recommender.training import train

    for folder in ("surveys", "seed", "interactions"):
        ingest.ingest_paths(engine, [clinic / folder])
    report = train(engine, settings, model_name="baseline")
    assert (report.version, report.promoted) == (1, True)
    return settings


class Exploding:
    """A model whose fit fails the way an out-of-memory or a bad batch would."""

    def fit(self, *args: Any, **kwargs: Any) -> Exploding:
        raise MemoryError("cannot allocate the embedding matrix")

    def get_params(self) -> dict[str, Any]:
        return {}


def test_training_crash_keeps_champion_records_and_alerts(
    engine: Engine, trained_home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from health_advisor.recommender import registry, tracking, training

    monkeypatch.setattr(training, "make_model", lambda *a, **k: Exploding())
    with pytest.raises(MemoryError, match="embedding matrix"):
        training.train(engine, trained_home, model_name="baseline")

    client = tracking.connect(trained_home.resolved_mlflow_tracking_uri, create=False)
    assert registry.champion_version(client=client) == 1
    assert [v["version"] for v in registry.list_versions(client=client)] == [1]
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], order_by=["start_time DESC"]
    )
    assert runs[0].info.status == "FAILED"
    assert "MemoryError" in runs[0].data.tags[tracking.TAG_ERROR]

    with session_scope(engine) as session:
        alert = session.scalar(select(Alert).where(Alert.kind == training.FAILURE_KIND))
        assert alert is not None and alert.client_id is None
        assert alert.acknowledged_at is None and "champion still serves" in alert.explanation

    registry_samples = metrics.ApiMetrics().registry
    registry_samples.register(metrics.StoreCollector(engine, trained_home))
    samples = list(metrics.samples(registry_samples))
    open_alerts = [
        v
        for n, lab, v in samples
        if n == "health_advisor_alerts_open" and lab["kind"] == "training_failed"
    ]
    assert open_alerts == [1.0]
    assert ("health_advisor_model_champion_version", {}, 1.0) in samples
    assert any(
        n == "health_advisor_model_metric" and lab == {"version": "1", "metric": "ndcg_at_10"}
        for n, lab, _ in samples
    )


def test_training_failure_alert_is_one_per_model_and_day(engine: Engine) -> None:
    from health_advisor.recommender.training import FAILURE_KIND, record_failure

    for message in ("first", "second"):
        record_failure(engine, "hybrid", RuntimeError(message))
    record_failure(engine, "baseline", RuntimeError("third"))
    with session_scope(engine) as session:
        rows = {
            a.dedup_key.split("|")[1]: a
            for a in session.scalars(select(Alert).where(Alert.kind == FAILURE_KIND))
        }
        assert sorted(rows) == ["baseline", "hybrid"]
        assert "second" in rows["hybrid"].explanation
