"""The whole pipeline in process, twice: the second run changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from health_advisor.config import Settings
from health_advisor.pipeline import records
from health_advisor.pipeline.runner import run_pipeline
from health_advisor.recommender import registry, tracking
from health_advisor.store.models import (
    Alert,
    DataQuality,
    DataSource,
    DriftReport,
    FeatureSnapshot,
    Interaction,
    Measurement,
    PipelineRun,
    Plan,
    PlanItem,
)
from health_advisor.store.session import session_scope

DOMAIN = (
    DataSource,
    Measurement,
    Interaction,
    DataQuality,
    FeatureSnapshot,
    Alert,
    Plan,
    PlanItem,
    DriftReport,
)


def state(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Row counts of every table the steps write, and the registry's versions."""
    with session_scope(engine) as session:
        out: dict[str, Any] = {
            t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in DOMAIN
        }
    client = tracking.connect(settings.resolved_mlflow_tracking_uri)
    out["versions"] = [v["version"] for v in registry.list_versions(client=client)]
    out["champion"] = registry.champion_version(client=client)
    return out


def test_the_pipeline_twice_changes_nothing_the_second_time(
    engine: Engine, home: Settings, clinic_paths: list[Path], consent: Callable[[Engine], None]
) -> None:
    options = {"paths": clinic_paths, "model": "baseline"}
    run_pipeline(engine, home, steps=["ingest"], options=options)
    consent(engine)
    first = run_pipeline(engine, home, options=options, run_id="first")
    assert first.failed is None, first.error
    assert {r.step: r.status for r in first.results} == {
        "ingest": "skipped",  # the files were ingested just before
        "validate": "success",
        "features": "success",
        "train": "success",
        "evaluate": "success",
        "register": "skipped",  # train's own gate already judged version 1
        "recommend": "success",
        "monitor": "success",
    }
    after_first = state(engine, home)
    assert after_first["plans"] == 30 and after_first["versions"] == [1]
    assert after_first["drift_reports"] == 1 and after_first["champion"] == 1

    second = run_pipeline(engine, home, options=options, run_id="second")
    assert [r.status for r in second.results] == ["skipped"] * 8
    assert state(engine, home) == after_first

    with session_scope(engine) as session:
        rows = session.scalars(select(PipelineRun).where(PipelineRun.run_id == "first")).all()
        assert [r.step for r in rows] == list(records.STEPS)
        assert all(r.ended_at is not None and r.ended_at >= r.started_at for r in rows)
        drift_alerts = session.scalar(
            select(func.count(Alert.id)).where(Alert.kind == "feature_drift")
        )
    assert drift_alerts == 0  # trained on today's snapshot: nothing moved
    counts = {r.step: r.counts for r in first.results}
    assert counts["train"]["version"] == 1 and counts["train"]["snapshot_as_of"] == "2025-02-10"
    assert counts["recommend"]["generated"] == 30 and counts["recommend"]["model_version"] == 1
    assert counts["monitor"]["reference_as_of"] == counts["monitor"]["current_as_of"]
    assert Path(counts["monitor"]["report_path"]).is_file()

    figures = records.latest_figures(engine)
    by_step = {s.step: s for s in figures.steps}
    assert by_step["train"].status == "skipped" and by_step["train"].runs_by_status == {
        "success": 1,
        "skipped": 1,
    }
    assert figures.drift is not None and not figures.drift.drifted
    assert figures.drift.features_checked > 100 and figures.quality.files == 7
