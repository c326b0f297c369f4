"""Running checks in the Airflow environment, and a small clinic for the DAG run.

Airflow lives in ``.venv-airflow`` (``dags/setup-airflow.sh``; its pins clash with the
project's lock): :func:`airflow_check` starts ``airflow_checks.py`` there and returns the
JSON document it prints. Without ``.venv-airflow`` the tests skip, except under CI=true
where they fail: CI must create it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from health_advisor.synth import generate_clinic

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
CHECKS = Path(__file__).with_name("airflow_checks.py")
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"


def airflow_python() -> Path:
    if AIRFLOW_PYTHON.exists():
        return AIRFLOW_PYTHON
    message = f"{AIRFLOW_PYTHON} is absent: create it with dags/setup-airflow.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


def airflow_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A private Airflow (home, metadata database) reading the project's dags/ folder;
    its tasks run the steps with the interpreter running these tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return {
        **env,
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'airflow' / 'airflow.db'}",
        "HEALTH_ADVISOR_PYTHON": sys.executable,
        **extra,
    }


def check(tmp: Path, *args: str, timeout: int, **env: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(airflow_python()), str(CHECKS), *args],
        env=airflow_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    document: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return document


@pytest.fixture(scope="session")
def airflow_check() -> Callable[..., dict[str, Any]]:
    """``check(tmp, *args, timeout=..., **env)``: one airflow_checks.py run's JSON."""
    return check


@pytest.fixture(scope="session")
def clinic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dags") / "clinic"
    generate_clinic(out, clients=30, days=35, seed=11)
    return out
