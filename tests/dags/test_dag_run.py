"""One end-to-end ``dag.test()``: the daily DAG ingests a small clinic, assesses it and
builds its snapshots, each task running its step in the project's environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from health_advisor.config import Settings
from health_advisor.store import migrate
from health_advisor.store.models import FeatureSnapshot, PipelineRun
from health_advisor.store.session import make_engine, session_scope


@pytest.mark.slow
def test_the_daily_dag_runs_end_to_end_on_a_small_clinic(
    tmp_path: Path, clinic_dir: Path, airflow_check: Callable[..., dict[str, Any]]
) -> None:
    home = tmp_path / "var"
    settings = Settings(home=home, env="test")
    engine = make_engine(settings)  # also writes the store's key into the home
    migrate.upgrade(engine)
    paths = [str(clinic_dir / d) for d in ("surveys", "seed", "fitbit", "interactions")]
    result = airflow_check(
        tmp_path,
        "run",
        "health_advisor_ingest_features",
        json.dumps({"paths": paths}),
        timeout=400,
        HEALTH_ADVISOR_HOME=str(home),
        HEALTH_ADVISOR_ENV="test",
        HEALTH_ADVISOR_DATABASE_URL="",
    )
    assert result["state"] == "success", result
    assert result["tasks"] == dict.fromkeys(("ingest", "validate", "features"), "success")
    with session_scope(engine) as session:
        runs = session.scalars(select(PipelineRun).order_by(PipelineRun.id)).all()
        snapshots = session.scalars(select(FeatureSnapshot)).all()
    assert [(r.step, r.status, r.triggered_by) for r in runs] == [
        ("ingest", "success", "airflow"),
        ("validate", "success", "airflow"),
        ("features", "success", "airflow"),
    ]
    assert {r.run_id for r in runs} == {f"health_advisor_ingest_features/{result['run_id']}"}
    assert runs[0].counts["files"] == 7 and len(snapshots) == 30
    engine.dispose()
