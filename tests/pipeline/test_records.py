"""Run records: success, skip, failure, interrupted runs, and the figures read back."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine, select

from health_advisor.errors import InputError
from health_advisor.pipeline import records
from health_advisor.pipeline.records import Skip
from health_advisor.pipeline.runner import progress_line, runs_cli, select_steps
from health_advisor.store.models import PipelineRun
from health_advisor.store.session import session_scope


def _rows(engine: Engine) -> list[PipelineRun]:
    with session_scope(engine) as session:
        return list(session.scalars(select(PipelineRun).order_by(PipelineRun.id)))


def test_a_successful_step_is_recorded_with_its_counts_and_times(engine: Engine) -> None:
    result = records.record(engine, "ingest", lambda rid: {"files": 3, "rid": rid}, run_id="r1")
    (row,) = _rows(engine)
    assert (row.status, row.run_id, row.step) == ("success", "r1", "ingest")
    assert row.triggered_by == "cli"
    assert row.counts == {"files": 3, "rid": row.id} == result.counts
    assert row.ended_at is not None and row.ended_at >= row.started_at
    assert result.seconds >= 0 and result.to_dict()["status"] == "success"


def test_a_skip_is_recorded_with_its_reason(engine: Engine) -> None:
    def body(_: int) -> dict[str, int]:
        raise Skip("nothing new", {"files": 0})

    result = records.record(engine, "validate", body, digest="abc")
    assert result.status == "skipped"
    (row,) = _rows(engine)
    assert row.counts == {"reason": "nothing new", "files": 0} and row.fingerprint == "abc"


def test_a_failure_is_recorded_in_one_line_and_raised(engine: Engine) -> None:
    def body(_: int) -> dict[str, int]:
        raise InputError("broken.csv:3: heart_rate\nnot a number")

    with pytest.raises(InputError):
        records.record(engine, "ingest", body)
    (row,) = _rows(engine)
    assert row.status == "failed"
    assert row.error == "InputError: broken.csv:3: heart_rate not a number"


def test_a_run_left_running_is_marked_interrupted_when_the_step_starts_again(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        session.add(
            PipelineRun(run_id="dead", step="train", status="running", triggered_by="x", counts={})
        )
    records.record(engine, "train", lambda _: {})
    dead, fresh = _rows(engine)
    assert dead.status == "failed" and dead.error is not None and "interrupted" in dead.error
    assert fresh.status == "success"


def test_unchanged_compares_with_the_last_finished_run_only(engine: Engine) -> None:
    digest = records.fingerprint("features", "2025-01-01", {"sources": 3})
    assert digest == records.fingerprint("features", "2025-01-01", {"sources": 3})
    assert not records.unchanged(engine, "features", digest)
    records.record(engine, "features", lambda _: {}, digest=digest)
    assert records.unchanged(engine, "features", digest)

    def fail(_: int) -> dict[str, int]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        records.record(engine, "features", fail, digest="other")
    assert records.unchanged(engine, "features", digest)  # a failure does not count
    assert not records.unchanged(engine, "features", "other")


def test_latest_figures_per_step(engine: Engine) -> None:
    empty = records.latest_figures(engine)
    assert [s.step for s in empty.steps] == list(records.STEPS)
    assert empty.drift is None and empty.quality.files == 0 and not empty.retrain_pending
    records.record(engine, "ingest", lambda _: {"measurements": 10, "quarantined": 2})

    def fail(_: int) -> dict[str, int]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        records.record(engine, "ingest", fail)
    figures = records.latest_figures(engine)
    ingest = figures.steps[0]
    assert ingest.status == "failed" and ingest.runs_by_status == {"success": 1, "failed": 1}
    assert ingest.last_success_at is not None and ingest.seconds is not None
    assert figures.steps[1].status is None


def test_step_selection_keeps_pipeline_order() -> None:
    assert select_steps(None, None) == list(records.STEPS)
    assert select_steps(["monitor,ingest"], None) == ["ingest", "monitor"]
    assert select_steps(None, "register") == ["register", "recommend", "monitor"]
    assert select_steps(["ingest", "train", "monitor"], "features") == ["train", "monitor"]
    with pytest.raises(InputError, match="unknown pipeline step 'trian'"):
        select_steps(["trian"], None)


def test_runs_cli_lists_the_latest_runs(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    records.record(engine, "ingest", lambda _: {"files": 2}, run_id="r1")
    records.record(engine, "validate", lambda _: {"files": 2}, run_id="r1")
    runs_cli(engine, json_out=True)
    rows = json.loads(capsys.readouterr().out)
    assert [(r["step"], r["status"], r["run_id"]) for r in rows] == [
        ("validate", "success", "r1"),
        ("ingest", "success", "r1"),
    ]
    runs_cli(engine, step="ingest")
    text = capsys.readouterr().out
    assert "ingest" in text and "files 2" in text and "validate" not in text
    with pytest.raises(InputError):
        runs_cli(engine, step="nope")


def test_progress_lines() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    done = records.StepResult(
        "features",
        "success",
        "r",
        1,
        start,
        start + dt.timedelta(seconds=1.25),
        {"as_of": "2025-02-10", "snapshots": 1500, "alerts_new": 3},
    )
    assert progress_line(done) == (
        "✓ features     1.2 s  as_of 2025-02-10 · snapshots 1,500 · alerts_new 3"
    )
    skipped = records.StepResult("train", "skipped", "r", 2, start, start, {"reason": "same"})
    assert progress_line(skipped) == "· train        0.0 s  same"
