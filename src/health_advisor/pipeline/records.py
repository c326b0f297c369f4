"""Run records of pipeline steps, and the latest figures read back for monitoring.

Every step execution is one ``pipeline_runs`` row: ``running`` when it starts (committed at
once, so a crash leaves a trace), then ``success``, ``skipped`` (its inputs had not
changed: nothing to do) or ``failed`` with a one-line error. The row's fingerprint is what
makes a step idempotent: :func:`last_done` finds the last finished run of the step, and a
step whose inputs digest to the same fingerprint skips.

:func:`latest_figures` is what a Prometheus exporter reads (durations, rows ingested and
quarantined, drift scores): low-cardinality figures, no client ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from health_advisor.store.models import DataQuality, DriftReport, PipelineRun
from health_advisor.store.session import session_scope

STEPS = (
    "ingest",
    "validate",
    "features",
    "train",
    "evaluate",
    "register",
    "recommend",
    "monitor",
)
RUNNING, SUCCESS, SKIPPED, FAILED = "running", "success", "skipped", "failed"
ERROR_LIMIT = 2000


class Skip(Exception):
    """Raised by a step's body when there is nothing to do; the run is ``skipped``."""

    def __init__(self, reason: str, counts: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counts = dict(counts or {})


@dataclass(frozen=True, slots=True)
class StepResult:
    step: str
    status: str
    run_id: str
    record_id: int
    started_at: dt.datetime
    ended_at: dt.datetime
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["started_at"] = self.started_at.isoformat()
        out["ended_at"] = self.ended_at.isoformat()
        out["seconds"] = round(self.seconds, 3)
        return out


def new_run_id() -> str:
    return f"run-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def fingerprint(*parts: Any) -> str:
    """A stable digest of a step's inputs (JSON of the parts, sorted keys)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def last_done(session: Session, step: str) -> PipelineRun | None:
    """The step's most recent finished run that did not fail."""
    return session.scalar(
        select(PipelineRun)
        .where(PipelineRun.step == step, PipelineRun.status.in_((SUCCESS, SKIPPED)))
        .order_by(PipelineRun.id.desc())
        .limit(1)
    )


def unchanged(engine: Engine, step: str, digest: str) -> bool:
    """Whether the step's last finished run saw the same inputs."""
    with session_scope(engine) as session:
        last = last_done(session, step)
        return last is not None and last.fingerprint == digest


def last_success(session: Session, step: str) -> PipelineRun | None:
    return session.scalar(
        select(PipelineRun)
        .where(PipelineRun.step == step, PipelineRun.status == SUCCESS)
        .order_by(PipelineRun.id.desc())
        .limit(1)
    )


def _start(engine: Engine, step: str, run_id: str, triggered_by: str) -> PipelineRun:
    with session_scope(engine) as session:
        # A run left "running" by a process that died never finished: say so.
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.step == step, PipelineRun.status == RUNNING)
            .values(
                status=FAILED,
                ended_at=dt.datetime.now(dt.UTC),
                error="interrupted: the step was started again before this run finished",
            )
        )
        row = PipelineRun(
            run_id=run_id, step=step, status=RUNNING, triggered_by=triggered_by, counts={}
        )
        session.add(row)
    return row


def _finish(
    engine: Engine,
    row: PipelineRun,
    status: str,
    *,
    counts: Mapping[str, Any],
    digest: str | None,
    error: str | None = None,
) -> StepResult:
    ended = dt.datetime.now(dt.UTC)
    clean = _jsonable(dict(counts))
    with session_scope(engine) as session:
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == row.id)
            .values(status=status, ended_at=ended, counts=clean, error=error, fingerprint=digest)
        )
    return StepResult(row.step, status, row.run_id, row.id, row.started_at, ended, clean, error)


def record(
    engine: Engine,
    step: str,
    body: Callable[[int], Mapping[str, Any]],
    *,
    run_id: str | None = None,
    triggered_by: str = "cli",
    digest: str | None = None,
) -> StepResult:
    """Run ``body(record_id)`` as one recorded execution of ``step``.

    ``body`` returns the step's counts, or raises :class:`Skip`; any other exception is
    recorded as ``failed`` with its one-line message and re-raised.
    """
    row = _start(engine, step, run_id or new_run_id(), triggered_by)
    try:
        counts = body(row.id)
    except Skip as skip:
        return _finish(
            engine, row, SKIPPED, counts={"reason": skip.reason, **skip.counts}, digest=digest
        )
    except BaseException as exc:
        _finish(engine, row, FAILED, counts={}, digest=digest, error=one_line(exc))
        raise
    return _finish(engine, row, SUCCESS, counts=counts, digest=digest)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:ERROR_LIMIT]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# --------------------------------------------------------------------------- reading


def list_runs(
    session: Session, *, step: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest step runs, newest first, as JSON-ready rows."""
    query = select(PipelineRun).order_by(PipelineRun.id.desc()).limit(limit)
    if step is not None:
        query = query.where(PipelineRun.step == step)
    return [_run_row(r) for r in session.scalars(query)]


def _run_row(run: PipelineRun) -> dict[str, Any]:
    seconds = (run.ended_at - run.started_at).total_seconds() if run.ended_at else None
    return {
        "id": run.id,
        "run_id": run.run_id,
        "step": run.step,
        "status": run.status,
        "triggered_by": run.triggered_by,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "seconds": seconds,
        "counts": run.counts,
        "error": run.error,
    }


@dataclass(frozen=True, slots=True)
class StepFigures:
    """The latest run of one step, and how many runs of each status it has had."""

    step: str
    status: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    seconds: float | None
    counts: dict[str, Any]
    last_success_at: dt.datetime | None
    runs_by_status: dict[str, int]


@dataclass(frozen=True, slots=True)
class DriftFigures:
    created_at: dt.datetime
    reference_as_of: dt.date
    current_as_of: dt.date
    features_checked: int
    features_drifted: int
    max_psi: float
    drifted: bool
    psi_by_feature: dict[str, float]


@dataclass(frozen=True, slots=True)
class QualityFigures:
    files: int
    records_read: int
    measurements_stored: int
    duplicates: int
    quarantined: int
    flagged_files: int


@dataclass(frozen=True, slots=True)
class PipelineFigures:
    """What monitoring reads: per step, the latest drift report, data quality totals."""

    steps: list[StepFigures]
    drift: DriftFigures | None
    quality: QualityFigures
    retrain_pending: bool


def latest_figures(engine: Engine) -> PipelineFigures:
    """The latest pipeline and drift figures, for a Prometheus exporter or a dashboard."""
    with session_scope(engine) as session:
        steps = [_step_figures(session, step) for step in STEPS]
        return PipelineFigures(
            steps=steps,
            drift=_drift_figures(session),
            quality=_quality_figures(session),
            retrain_pending=open_retrain_requests(session) > 0,
        )


def _step_figures(session: Session, step: str) -> StepFigures:
    latest = session.scalar(
        select(PipelineRun).where(PipelineRun.step == step).order_by(PipelineRun.id.desc())
    )
    success = last_success(session, step)
    by_status = dict(
        session.execute(
            select(PipelineRun.status, func.count())
            .where(PipelineRun.step == step)
            .group_by(PipelineRun.status)
        ).all()
    )
    if latest is None:
        return StepFigures(step, None, None, None, None, {}, None, {})
    seconds = (latest.ended_at - latest.started_at).total_seconds() if latest.ended_at else None
    return StepFigures(
        step=step,
        status=latest.status,
        started_at=latest.started_at,
        ended_at=latest.ended_at,
        seconds=seconds,
        counts=dict(latest.counts),
        last_success_at=success.ended_at if success is not None else None,
        runs_by_status={str(k): int(v) for k, v in by_status.items()},
    )


def _drift_figures(session: Session) -> DriftFigures | None:
    report = session.scalar(select(DriftReport).order_by(DriftReport.id.desc()).limit(1))
    if report is None:
        return None
    psi = {
        name: float(f["psi"])
        for name, f in report.features.items()
        if isinstance(f, dict) and f.get("psi") is not None
    }
    return DriftFigures(
        created_at=report.created_at,
        reference_as_of=report.reference_as_of,
        current_as_of=report.current_as_of,
        features_checked=report.features_checked,
        features_drifted=report.features_drifted,
        max_psi=report.max_psi,
        drifted=report.drifted,
        psi_by_feature=psi,
    )


def _quality_figures(session: Session) -> QualityFigures:
    row = session.execute(
        select(
            func.count(DataQuality.id),
            func.coalesce(func.sum(DataQuality.records_read), 0),
            func.coalesce(func.sum(DataQuality.measurements_stored), 0),
            func.coalesce(func.sum(DataQuality.duplicates), 0),
            func.coalesce(func.sum(DataQuality.quarantined), 0),
            func.count(DataQuality.id).filter(DataQuality.flagged.is_(True)),
        )
    ).one()
    return QualityFigures(*(int(v) for v in row))


def open_retrain_requests(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count(DriftReport.id)).where(
                DriftReport.retrain_requested.is_(True), DriftReport.retrain_resolved_at.is_(None)
            )
        )
        or 0
    )
