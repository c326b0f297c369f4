"""Health Advisor's pipeline on Apache Airflow 3 (TaskFlow API): three DAGs, one file.

* ``health_advisor_ingest_features`` (daily, 01:00 Lima): ingest → validate → features
* ``health_advisor_train`` (weekly, Sunday 03:00): train → evaluate → register
* ``health_advisor_recommend_monitor`` (nightly, 02:30): recommend → monitor

Every task calls one function of ``health_advisor.pipeline.steps`` (the same functions as
``health-advisor pipeline run``), so a step is recorded in the store whoever runs it, and
skips when its inputs are unchanged: retries and re-runs are safe.

The tasks run in the project's own environment through ``@task.external_python``:
Airflow pins SQLAlchemy, FastAPI, pydantic and friends to versions that clash with the
project's lock, so Airflow lives in ``.venv-airflow`` (``dags/setup-airflow.sh``) and the
steps in the project's ``.venv``. ``HEALTH_ADVISOR_PYTHON`` names that interpreter
(default: ``.venv/bin/python`` beside this folder); the store and home come from the
usual ``HEALTH_ADVISOR_*`` variables of the worker, which the tasks inherit.

Parsing this file imports nothing but Airflow's SDK and the standard library.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

PYTHON = os.environ.get("HEALTH_ADVISOR_PYTHON") or str(
    Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
)
START = pendulum.datetime(2026, 1, 1, tz="America/Lima")
RUN_ID = "{{ dag.dag_id }}/{{ run_id }}"
DEFAULTS: dict[str, Any] = {
    "owner": "health-advisor",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=1),
}


def run_step(step: str, run_id: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run one pipeline step in the project's environment; its result goes to XCom.

    Airflow copies this function's source into a script for the external interpreter,
    so it imports what it needs itself and uses nothing else from this module.
    """
    from health_advisor.pipeline.steps import execute

    return execute(step, run_id=run_id, triggered_by="airflow", **options)


def step_task(step: str, *, timeout: timedelta | None = None, retries: int | None = None) -> Any:
    """The TaskFlow task that runs ``step`` (task id = step name)."""
    extra: dict[str, Any] = {}
    if timeout is not None:
        extra["execution_timeout"] = timeout
    if retries is not None:
        extra["retries"] = retries
    return task.external_python(
        task_id=step, python=PYTHON, expect_airflow=False, multiple_outputs=False, **extra
    )(run_step)


@dag(
    dag_id="health_advisor_ingest_features",
    description="Ingest new files, assess their quality, build feature snapshots.",
    schedule="0 1 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=DEFAULTS,
    render_template_as_native_obj=True,
    params={
        "paths": Param(
            [],
            type="array",
            description="Files or folders to ingest; empty: the store's inbox (<home>/inbox).",
        ),
    },
    tags=["health-advisor", "daily"],
)
def ingest_and_features() -> None:
    ingested = step_task("ingest")(
        step="ingest", run_id=RUN_ID, options={"paths": "{{ params.paths }}"}
    )
    validated = step_task("validate")(step="validate", run_id=RUN_ID, options={})
    built = step_task("features")(step="features", run_id=RUN_ID, options={})
    ingested >> validated >> built


@dag(
    dag_id="health_advisor_train",
    description="Train the recommender, evaluate the champion, apply the quality gate.",
    schedule="0 3 * * 0",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args=DEFAULTS,
    render_template_as_native_obj=True,
    params={
        "model": Param("hybrid", enum=["hybrid", "baseline", "spark-als"]),
        "tune_trials": Param(0, type="integer", minimum=0),
    },
    tags=["health-advisor", "weekly"],
)
def train_evaluate_register() -> None:
    trained = step_task("train", timeout=timedelta(hours=4), retries=1)(
        step="train",
        run_id=RUN_ID,
        options={"model": "{{ params.model }}", "tune_trials": "{{ params.tune_trials }}"},
    )
    evaluated = step_task("evaluate")(step="evaluate", run_id=RUN_ID, options={})
    registered = step_task("register", timeout=timedelta(minutes=15))(
        step="register", run_id=RUN_ID, options={}
    )
    trained >> evaluated >> registered


@dag(
    dag_id="health_advisor_recommend_monitor",
    description="Draft plans for clients who need one; drift and data-quality monitoring.",
    schedule="30 2 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args=DEFAULTS,
    render_template_as_native_obj=True,
    params={"rules_only": Param(False, type="boolean")},
    tags=["health-advisor", "nightly"],
)
def recommend_and_monitor() -> None:
    recommended = step_task("recommend", timeout=timedelta(hours=3))(
        step="recommend", run_id=RUN_ID, options={"rules_only": "{{ params.rules_only }}"}
    )
    monitored = step_task("monitor", timeout=timedelta(minutes=30))(
        step="monitor", run_id=RUN_ID, options={}
    )
    recommended >> monitored


ingest_and_features()
train_evaluate_register()
recommend_and_monitor()
