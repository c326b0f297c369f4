"""Checks that need Apache Airflow: run by ``.venv-airflow/bin/python``, not by pytest.

``test_dags.py`` starts this script in the Airflow environment (whose pins clash with the
project's) and reads the one JSON document it prints after ``RESULT``:

    python airflow_checks.py integrity      # DagBag: import errors, tasks, order, settings
    python airflow_checks.py run DAG_ID CONF_JSON   # dag.test() with that run conf

The caller sets AIRFLOW_HOME, AIRFLOW__CORE__DAGS_FOLDER and the metadata database.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

HEAVY = ("health_advisor", "pandas", "numpy", "tensorflow", "mlflow", "pyspark")


def emit(document: dict[str, Any]) -> None:
    sys.stdout.write("RESULT " + json.dumps(document, default=str) + "\n")


def acyclic(downstream: dict[str, list[str]]) -> bool:
    """Depth-first search for a back edge over the tasks' downstream lists."""
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        state[node] = 1
        for nxt in downstream.get(node, []):
            if state.get(nxt) == 1 or (state.get(nxt) is None and not visit(nxt)):
                return False
        state[node] = 2
        return True

    return all(state.get(n) == 2 or visit(n) for n in downstream)


def integrity(folder: str) -> dict[str, Any]:
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=folder)
    parsed = time.perf_counter()
    dags = {}
    for dag_id, dag in bag.dags.items():
        downstream = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
        dags[dag_id] = {
            "schedule": str(dag.schedule),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "dagrun_timeout_s": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
            "acyclic": acyclic(downstream),
            "order": [t.task_id for t in dag.topological_sort()],
            "tasks": {
                t.task_id: {
                    "downstream": downstream[t.task_id],
                    "retries": t.retries,
                    "retry_delay_s": t.retry_delay.total_seconds(),
                    "timeout_s": t.execution_timeout.total_seconds()
                    if t.execution_timeout
                    else None,
                    "operator": type(t).__name__,
                    "python": getattr(t, "python", None),
                }
                for t in dag.tasks
            },
        }
    return {
        "import_errors": {str(k): v for k, v in bag.import_errors.items()},
        "dags": dags,
        "heavy_modules": sorted(m for m in HEAVY if m in sys.modules),
        "airflow_import_s": imported - started,
        "parse_s": parsed - imported,
    }


def run(folder: str, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import initdb

    initdb()
    dag = DagBag(dag_folder=folder).dags[dag_id]
    started = time.perf_counter()
    dag_run = dag.test(run_conf=conf)
    return {
        "state": str(dag_run.state),
        "run_id": dag_run.run_id,
        "tasks": {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()},
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str]) -> None:
    from airflow.configuration import conf as airflow_conf

    folder = airflow_conf.get("core", "dags_folder")
    if argv[1] == "integrity":
        emit(integrity(folder))
    elif argv[1] == "run":
        emit(run(folder, argv[2], json.loads(argv[3])))
    else:
        raise SystemExit(f"unknown check {argv[1]!r}")


if __name__ == "__main__":
    main(sys.argv)
