"""Ingest, validate and features as pipeline steps: idempotent, restartable, recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from health_advisor.config import Settings
from health_advisor.errors import MalformedFileError
from health_advisor.pipeline import quality, steps
from health_advisor.store.models import (
    Alert,
    DataQuality,
    DataSource,
    FeatureSnapshot,
    Measurement,
    PipelineRun,
    Quarantine,
)
from health_advisor.store.session import session_scope

TABLES = (DataSource, Measurement, Quarantine, DataQuality, FeatureSnapshot, Alert)
SEED_HEADER = (
    "client_id,date,heart_rate,blood_pressure,cholesterol_levels,steps_count,active_minutes,"
    "calorie_intake,water_consumption,sleep_duration,sleep_quality\n"
)


def counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {
            t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in TABLES
        }


def runs(engine: Engine, step: str) -> list[PipelineRun]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(PipelineRun).where(PipelineRun.step == step).order_by(PipelineRun.id)
            )
        )


@pytest.fixture
def inbox(settings: Settings, clinic_dir: Path) -> Path:
    """``<home>/inbox`` with the clinic's survey, sheet and Fitbit activity files."""
    folder = steps.inbox(settings)
    for name in ("surveys/intake.csv", "seed/clinic_daily.csv", "fitbit/dailyActivity_merged.csv"):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clinic_dir / name, target)
    return folder


def test_ingest_reads_the_inbox_and_a_second_run_changes_nothing(
    engine: Engine, settings: Settings, inbox: Path
) -> None:
    first = steps.ingest(engine, settings)
    assert first.status == "success"
    assert first.counts["files"] == first.counts["ingested"] == 3
    before = counts(engine)
    assert before["measurements"] == first.counts["measurements"] > 0
    second = steps.ingest(engine, settings)
    assert second.status == "skipped" and second.counts["reason"] == steps.UNCHANGED
    assert counts(engine) == before
    forced = steps.ingest(engine, settings, force=True)  # hashes again: every file unchanged
    assert (forced.status, forced.counts["unchanged"], forced.counts["measurements"]) == (
        "success",
        3,
        0,
    )
    assert counts(engine) == before


def test_ingest_without_input_skips(engine: Engine, settings: Settings) -> None:
    result = steps.ingest(engine, settings)
    assert result.status == "skipped" and "no input files" in result.counts["reason"]


def test_a_failed_ingest_restarts_where_it_stopped(
    engine: Engine, settings: Settings, inbox: Path
) -> None:
    broken = inbox / "seed" / "zz_broken.csv"
    broken.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MalformedFileError, match=r"zz_broken\.csv"):
        steps.ingest(engine, settings)
    (failed,) = runs(engine, "ingest")
    assert failed.status == "failed" and failed.error is not None
    assert "zz_broken.csv" in failed.error
    done_before_failure = counts(engine)["data_sources"]
    assert done_before_failure == 2  # fitbit/, seed/clinic_daily.csv: each its own transaction

    broken.unlink()
    rerun = steps.ingest(engine, settings)
    assert rerun.status == "success"
    assert (rerun.counts["ingested"], rerun.counts["unchanged"]) == (1, 2)
    assert counts(engine)["data_sources"] == 3
    with session_scope(engine) as session:
        stored = session.scalar(select(func.sum(DataSource.measurements_stored)))
    assert counts(engine)["measurements"] == stored


def test_validate_assesses_each_file_once(engine: Engine, settings: Settings, inbox: Path) -> None:
    steps.ingest(engine, settings)
    result = steps.validate(engine, settings)
    assert result.status == "success" and result.counts["files"] == 3
    with session_scope(engine) as session:
        rows = session.execute(select(DataQuality, DataSource).join(DataSource)).all()
        for q, source in rows:
            values = (
                source.measurements_stored
                + source.interactions_stored
                + source.measurements_duplicate
                + source.quarantined
            )
            assert q.quarantined == source.quarantined
            assert q.quarantine_share == pytest.approx(source.quarantined / values if values else 0)
            assert q.pipeline_run_id == result.record_id
        fitbit = next(q for q, s in rows if s.kind == "fitbit")
        assert sum(m["values"] for m in fitbit.metrics["per_metric"].values()) == (
            fitbit.measurements_stored
        )
    again = steps.validate(engine, settings)
    assert again.status == "skipped" and counts(engine)["data_quality"] == 3


def test_quality_flags() -> None:
    def source(**kw: int) -> DataSource:
        base = dict(
            id=1,
            kind="csv",
            file_name="x.csv",
            records_read=100,
            measurements_stored=900,
            measurements_duplicate=0,
            interactions_stored=0,
            quarantined=0,
            clients_seen=10,
        )
        return DataSource(**{**base, **kw})

    assert quality.assess(source(), {}, {}).flags == []
    bad = quality.assess(source(measurements_stored=300, quarantined=100), {}, {"hr": 100})
    assert bad.quarantine_share == pytest.approx(0.25) and bad.flagged
    assert "quarantine share 25.0% above 20%" in bad.flags
    assert quality.assess(source(records_read=0, measurements_stored=0), {}, {}).flags == [
        "no records"
    ]
    repeat = quality.assess(source(measurements_stored=0, measurements_duplicate=900), {}, {})
    assert repeat.flags == ["only duplicates of stored data"]


def test_features_build_once_per_new_data(engine: Engine, settings: Settings, inbox: Path) -> None:
    assert steps.features(engine, settings).status == "skipped"  # no measurements yet
    steps.ingest(engine, settings)
    first = steps.features(engine, settings)
    assert first.status == "success" and first.counts["snapshots"] == 30
    before = counts(engine)
    assert steps.features(engine, settings).status == "skipped"
    assert counts(engine) == before

    later = inbox / "seed" / "later.csv"
    later.write_text(SEED_HEADER + "5000000002,2025-02-14,52,,,7100,35,2500,,7.0,80\n")
    steps.ingest(engine, settings)
    rebuilt = steps.features(engine, settings)
    assert rebuilt.status == "success" and rebuilt.counts["as_of"] == "2025-02-14"
    assert rebuilt.counts["as_of"] > first.counts["as_of"]


def test_features_rebuild_when_their_snapshots_were_deleted(
    engine: Engine, settings: Settings, inbox: Path
) -> None:
    steps.ingest(engine, settings)
    steps.features(engine, settings)
    with session_scope(engine) as session:
        session.execute(FeatureSnapshot.__table__.delete())
    assert steps.features(engine, settings).status == "success"
    assert counts(engine)["feature_snapshots"] == 30
