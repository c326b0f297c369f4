"""The command-line contract: JSON on stdout, one-line errors, exit codes, fast start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "health_advisor"]


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEALTH_ADVISOR_HOME": str(home)}
    env.pop("HEALTH_ADVISOR_DATABASE_URL", None)
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, input=stdin
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "var"
    result = run(home, "db", "upgrade", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["catalog"]["interventions"] >= 60
    return home


def test_catalog_list_json_is_one_document(home: Path) -> None:
    result = run(home, "catalog", "list", "--json", "--domain", "sleep")
    items = json.loads(result.stdout)
    assert len(items) >= 10
    assert {i["domain"] for i in items} == {"sleep"}


def test_user_error_is_one_line_and_exit_1(home: Path, tmp_path: Path) -> None:
    result = run(home, "ingest", str(tmp_path / "missing.csv"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "missing.csv" in result.stderr and "Traceback" not in result.stderr


def test_usage_error_exits_2(home: Path) -> None:
    assert run(home, "clients", "list", "--no-such-flag").returncode == 2


def test_cli_does_not_import_heavy_libraries_to_start(tmp_path: Path) -> None:
    code = (
        "import sys, health_advisor.cli; "
        "print(sorted(m for m in ('tensorflow','keras','pyspark','mlflow','pandas') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"


def test_model_list_on_a_fresh_home_is_empty_and_rollback_explains(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    listed = run(home, "model", "list", "--json")
    assert (listed.returncode, json.loads(listed.stdout)) == (0, [])
    rollback = run(home, "model", "rollback")
    assert rollback.returncode == 1
    assert "train a model first" in rollback.stderr
