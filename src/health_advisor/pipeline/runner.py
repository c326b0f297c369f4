"""The embedded runner: every pipeline step in process, in order, with progress.

``health-advisor pipeline run`` calls :func:`run_cli`; code calls :func:`run_pipeline`.
The runner stops at the first failed step (recorded as ``failed`` with its error); since
every step skips when its inputs are unchanged, simply running the pipeline again
restarts it where it failed, and ``--from STEP`` starts there explicitly.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from health_advisor.config import Settings
from health_advisor.errors import ConfigurationError, HealthAdvisorError, InputError
from health_advisor.pipeline.records import STEPS, StepResult, new_run_id, one_line
from health_advisor.pipeline.steps import STEP_FUNCTIONS

# What each step accepts from the command line (other options are not passed to it).
STEP_OPTIONS: dict[str, tuple[str, ...]] = {
    "ingest": ("paths",),
    "features": ("as_of",),
    "train": ("model", "seed", "tune_trials"),
    "evaluate": ("seed",),
    "recommend": ("rules_only",),
}


class StepFailed(HealthAdvisorError):
    """A pipeline step failed; the message names it and how to restart."""

    title = "Pipeline step failed"


@dataclass
class PipelineReport:
    run_id: str
    steps: list[str]
    results: list[StepResult] = field(default_factory=list)
    failed: str | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "steps": self.steps,
            "status": "failed" if self.failed else "success",
            "failed_step": self.failed,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "results": [r.to_dict() for r in self.results],
        }


def select_steps(steps: Sequence[str] | None = None, from_step: str | None = None) -> list[str]:
    """The steps to run, in pipeline order: ``steps`` (comma lists allowed) from
    ``from_step`` on."""
    chosen = [s.strip() for item in (steps or STEPS) for s in item.split(",") if s.strip()]
    for name in [*chosen, *([from_step] if from_step else [])]:
        if name not in STEPS:
            raise InputError(f"unknown pipeline step {name!r}; expected one of {', '.join(STEPS)}")
    start = STEPS.index(from_step) if from_step else 0
    return [s for s in STEPS[start:] if s in chosen]


def run_pipeline(
    engine: Engine,
    settings: Settings,
    *,
    steps: Sequence[str] | None = None,
    from_step: str | None = None,
    options: Mapping[str, Any] | None = None,
    force: bool = False,
    run_id: str | None = None,
    triggered_by: str = "cli",
    on_start: Callable[[str, int, int], None] | None = None,
    on_end: Callable[[StepResult], None] | None = None,
) -> PipelineReport:
    """Run the selected steps in order; stop at the first failure (see the module docs).

    ``options`` are step parameters by name (``paths``, ``model``, ``as_of``, ...); each
    step receives those it accepts (:data:`STEP_OPTIONS`).
    """
    names = select_steps(steps, from_step)
    report = PipelineReport(run_id or new_run_id(), names)
    started = time.perf_counter()
    for n, name in enumerate(names, 1):
        if on_start is not None:
            on_start(name, n, len(names))
        kwargs = {k: v for k, v in (options or {}).items() if k in STEP_OPTIONS.get(name, ())}
        try:
            result = STEP_FUNCTIONS[name](
                engine,
                settings,
                run_id=report.run_id,
                triggered_by=triggered_by,
                force=force,
                **{k: v for k, v in kwargs.items() if v is not None},
            )
        except Exception as exc:
            report.failed, report.error = name, one_line(exc)
            break
        report.results.append(result)
        if on_end is not None:
            on_end(result)
    report.seconds = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------- CLI


def run_cli(
    engine: Engine,
    settings: Settings,
    *,
    steps: Sequence[str] | None = None,
    from_step: str | None = None,
    paths: Sequence[Path] | None = None,
    as_of: dt.date | None = None,
    model: str = "hybrid",
    rules_only: bool = False,
    force: bool = False,
    json_out: bool = False,
) -> PipelineReport:
    """The body of ``health-advisor pipeline run``: progress on the terminal (or one JSON
    document with ``--json``), and :class:`StepFailed` (exit 1) when a step fails."""
    from rich.console import Console

    _check_schema(engine)
    console = Console(stderr=json_out, quiet=json_out)
    options: dict[str, Any] = {
        "paths": list(paths) if paths else None,
        "as_of": as_of,
        "model": model,
        "rules_only": rules_only,
    }
    with console.status("") as status:
        report = run_pipeline(
            engine,
            settings,
            steps=steps,
            from_step=from_step,
            options=options,
            force=force,
            on_start=lambda name, n, total: status.update(f"[{n}/{total}] {name} …"),
            on_end=lambda result: console.print(progress_line(result), highlight=False),
        )
    if json_out:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        verdict = f"failed at {report.failed}" if report.failed else "done"
        console.print(f"pipeline {report.run_id}: {verdict} in {report.seconds:.1f} s")
    if report.failed:
        raise StepFailed(
            f"pipeline step {report.failed!r} failed: {report.error} "
            f"(fix it, then rerun: health-advisor pipeline run --from {report.failed})"
        )
    return report


SHOWN = {
    "ingest": ("files", "ingested", "measurements", "quarantined"),
    "validate": ("files", "flagged", "quarantine_share"),
    "features": ("as_of", "snapshots", "alerts_new"),
    "train": ("version", "promoted", "ndcg_at_10"),
    "evaluate": ("champion_version", "champion.warm.ndcg_at_10"),
    "register": ("newest_version", "decision", "champion_version"),
    "recommend": ("clients", "generated", "unchanged", "in_workflow"),
    "monitor": ("features_checked", "features_drifted", "max_psi", "drifted"),
}


def progress_line(result: StepResult) -> str:
    """``✓ features   1.2 s  as_of 2026-11-30 · snapshots 500 · alerts_new 12``."""
    mark = {"success": "✓", "skipped": "·"}.get(result.status, "✗")
    shown = [
        f"{key} {_short(result.counts[key])}"
        for key in SHOWN.get(result.step, ())
        if result.counts.get(key) is not None
    ]
    if result.status == "skipped":
        shown = [str(result.counts.get("reason", "skipped"))]
    return f"{mark} {result.step:<9} {result.seconds:6.1f} s  " + " · ".join(shown)


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _check_schema(engine: Engine) -> None:
    from health_advisor.store import migrate

    if migrate.current_revision(engine) != migrate.head_revision():
        raise ConfigurationError(
            "the store's schema is not current: run `health-advisor db upgrade` first"
        )


def runs_cli(
    engine: Engine, *, step: str | None = None, limit: int = 30, json_out: bool = False
) -> None:
    """The body of ``health-advisor pipeline runs``: the latest step runs, newest first."""
    from rich.console import Console
    from rich.table import Table

    from health_advisor.pipeline.records import list_runs
    from health_advisor.store.session import session_scope

    if step is not None:
        select_steps([step])
    _check_schema(engine)
    with session_scope(engine) as session:
        rows = list_runs(session, step=step, limit=limit)
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    table = Table("id", "step", "status", "started (UTC)", "s", "figures or error")
    for row in rows:
        shown = SHOWN.get(row["step"], ())
        counts = row["counts"]
        detail = (
            row["error"]
            or counts.get("reason")
            or " · ".join(f"{k} {_short(counts[k])}" for k in shown if counts.get(k) is not None)
        )
        table.add_row(
            str(row["id"]),
            row["step"],
            row["status"],
            row["started_at"][:19].replace("T", " "),
            "" if row["seconds"] is None else f"{row['seconds']:.1f}",
            str(detail),
        )
    Console().print(table)
