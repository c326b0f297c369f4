"""Restarting: a failed step stops the run, a rerun continues; a crash before the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from health_advisor.config import Settings
from health_advisor.errors import ConfigurationError
from health_advisor.pipeline import steps
from health_advisor.pipeline.runner import StepFailed, run_cli
from health_advisor.recommender import registry, tracking
from health_advisor.store.models import PipelineRun
from health_advisor.store.session import make_engine, session_scope


def registry_state(settings: Settings) -> tuple[list[int], int | None]:
    client = tracking.connect(settings.resolved_mlflow_tracking_uri)
    versions = [v["version"] for v in registry.list_versions(client=client)]
    return versions, registry.champion_version(client=client)


def test_a_failed_step_stops_the_run_and_a_rerun_continues(
    engine: Engine,
    home: Settings,
    clinic_dir: Path,
    clinic_paths: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    no_history = [clinic_dir / "surveys", clinic_dir / "seed"]
    upto_train = ["ingest", "validate", "features", "train"]
    with pytest.raises(StepFailed, match=r"'train' failed: .*--from train"):
        run_cli(engine, home, steps=upto_train, paths=no_history, model="baseline", json_out=True)
    document = json.loads(capsys.readouterr().out)
    assert (document["status"], document["failed_step"]) == ("failed", "train")
    assert "no interactions in the store" in document["error"]
    assert [r["status"] for r in document["results"]] == ["success"] * 3
    with session_scope(engine) as session:
        failed = session.scalar(select(PipelineRun).where(PipelineRun.step == "train"))
        assert failed is not None and failed.status == "failed"

    report = run_cli(
        engine, home, steps=upto_train, paths=clinic_paths, model="baseline", json_out=True
    )
    capsys.readouterr()
    assert [r.status for r in report.results] == ["success"] * 4
    assert report.results[0].counts["unchanged"] == 2  # the survey and the sheet
    again = run_cli(engine, home, from_step="train", steps=upto_train, model="baseline")
    assert [r.status for r in again.results] == ["skipped"]


def test_register_gates_a_version_that_training_left_unjudged(
    engine: Engine, home: Settings, clinic_paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    steps.ingest(engine, home, paths=clinic_paths)
    steps.features(engine, home)
    assert steps.train(engine, home, model="baseline").counts["version"] == 1

    def crash(**_: Any) -> None:
        raise RuntimeError("process killed before the gate")

    monkeypatch.setattr(registry, "promote_if_better", crash)
    with pytest.raises(RuntimeError, match="before the gate"):
        steps.train(engine, home, model="baseline", force=True)
    monkeypatch.undo()
    assert registry_state(home) == ([1, 2], 1)  # the crash left the champion alone

    judged = steps.register(engine, home)
    assert judged.status == "success"
    assert (judged.counts["newest_version"], judged.counts["decision"]) == (2, "refused")
    assert "does not beat" in judged.counts["reason"]  # same data, same model: a tie
    assert judged.counts["champion_version"] == 1
    again = steps.register(engine, home)
    assert again.status == "skipped" and again.counts["decision"] == "refused"


def test_run_cli_refuses_a_store_that_is_not_migrated(home: Settings) -> None:
    bare = make_engine(home, url=f"sqlite:///{home.home / 'bare.db'}")
    with pytest.raises(ConfigurationError, match="db upgrade"):
        run_cli(bare, home, steps=["validate"])
