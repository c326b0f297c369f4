"""``health-advisor pipeline run|runs`` (registered by :mod:`.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from health_advisor.cli import JsonFlag, engine, settings

pipeline_app = typer.Typer(
    help="The pipeline (ingest → validate → features → train → evaluate → register → "
    "recommend → monitor), recorded step by step.",
    no_args_is_help=True,
)


@pipeline_app.command("run")
def pipeline_run(
    steps: Annotated[
        list[str] | None,
        typer.Option(
            "--steps",
            help="Only these steps (comma-separated or repeated): ingest, validate, "
            "features, train, evaluate, register, recommend, monitor.",
        ),
    ] = None,
    from_step: Annotated[
        str | None, typer.Option("--from", help="Start at this step (e.g. after a failure).")
    ] = None,
    paths: Annotated[
        list[Path] | None,
        typer.Option("--path", help="Files or folders to ingest (default: <home>/inbox)."),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="hybrid|baseline|spark-als")] = "hybrid",
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Batch plans by guideline rules only.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Run steps even when their inputs are unchanged.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Run the pipeline in process, with progress; every step is recorded and skipped when
    its inputs are unchanged, so a rerun restarts where a failure stopped it."""
    from health_advisor.pipeline.runner import run_cli

    run_cli(
        engine(),
        settings(),
        steps=steps,
        from_step=from_step,
        paths=paths,
        model=model,
        rules_only=rules_only,
        force=force,
        json_out=json_out,
    )


@pipeline_app.command("runs")
def pipeline_runs(
    step: Annotated[str | None, typer.Option("--step", help="Only this step.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 30,
    json_out: JsonFlag = False,
) -> None:
    """Recorded step runs, newest first (status, times, counts or the error)."""
    from health_advisor.pipeline.runner import runs_cli

    runs_cli(engine(), step=step, limit=limit, json_out=json_out)
