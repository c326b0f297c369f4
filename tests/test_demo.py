"""``health-advisor demo --no-serve`` on a tiny clinic: every role has an account and
plans exist in every state the roles need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_cli import run

pytestmark = pytest.mark.slow


def test_demo_prepares_accounts_model_and_plans(tmp_path: Path) -> None:
    home = tmp_path / "var"
    args = ("demo", "--clients", "12", "--days", "21", "--no-serve", "--json")
    first = run(home, *args)
    assert first.returncode == 0, first.stderr[-2000:]
    summary = json.loads(first.stdout)
    assert {a["role"] for a in summary["accounts"]} == {
        "admin",
        "coordinator",
        "professional",
        "client",
    }
    assert summary["model"]["version"] == 1 and summary["model"]["promoted"]
    assert summary["plans"]["active"] == 1 and summary["plans"]["in_review"] >= 1
    assert summary["url"] == "http://127.0.0.1:8000"
    again = run(home, *args)  # idempotent accounts and consents; the model is not replaced
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["model"]["promoted"] is False
