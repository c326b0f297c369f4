"""The Airflow DAGs' integrity: imports, no cycles, task order, retries and timeouts.

Checked by parsing the DAG folder with Airflow's DagBag in ``.venv-airflow`` (see
conftest.py); the top-level imports are checked here, on the file's syntax tree.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
DAG_FILE = DAGS / "health_advisor_dags.py"

EXPECTED = {
    "health_advisor_ingest_features": ["ingest", "validate", "features"],
    "health_advisor_train": ["train", "evaluate", "register"],
    "health_advisor_recommend_monitor": ["recommend", "monitor"],
}
ALLOWED_TOP_LEVEL = {"__future__", "os", "datetime", "pathlib", "typing", "pendulum", "airflow.sdk"}


def test_the_dag_file_imports_only_light_modules_at_top_level() -> None:
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"))
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported <= ALLOWED_TOP_LEVEL, imported - ALLOWED_TOP_LEVEL


@pytest.fixture(scope="module")
def integrity(
    tmp_path_factory: pytest.TempPathFactory, airflow_check: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    return airflow_check(tmp_path_factory.mktemp("airflow"), "integrity", timeout=180)


def test_dags_import_without_errors_or_heavy_modules(integrity: dict[str, Any]) -> None:
    assert integrity["import_errors"] == {}
    assert set(integrity["dags"]) == set(EXPECTED)
    assert integrity["heavy_modules"] == []
    assert integrity["parse_s"] < 5


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_each_dag_is_a_chain_in_the_expected_order(integrity: dict[str, Any], dag_id: str) -> None:
    dag = integrity["dags"][dag_id]
    steps = EXPECTED[dag_id]
    assert dag["acyclic"] and dag["order"] == steps
    for first, second in itertools.pairwise(steps):
        assert dag["tasks"][first]["downstream"] == [second]
    assert dag["tasks"][steps[-1]]["downstream"] == []
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert dag["dagrun_timeout_s"] is not None


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_every_task_has_retries_a_timeout_and_the_project_python(
    integrity: dict[str, Any], dag_id: str
) -> None:
    for task in integrity["dags"][dag_id]["tasks"].values():
        assert task["retries"] >= 1 and task["retry_delay_s"] >= 60
        assert task["timeout_s"] is not None and 0 < task["timeout_s"] <= 4 * 3600
        assert task["operator"] == "_PythonExternalDecoratedOperator"
        assert task["python"] == sys.executable


def test_schedules(integrity: dict[str, Any]) -> None:
    schedules = {k: v["schedule"] for k, v in integrity["dags"].items()}
    assert schedules == {
        "health_advisor_ingest_features": "0 1 * * *",
        "health_advisor_train": "0 3 * * 0",
        "health_advisor_recommend_monitor": "30 2 * * *",
    }
