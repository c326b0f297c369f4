"""``plan …`` and ``checkin …`` end to end through the console entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from health_advisor.store.models import User
from health_advisor.store.session import session_scope

from .test_cli import run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a small ingested clinic, features, and a professional user."""
    root = tmp_path_factory.mktemp("cli-plans")
    home = root / "var"
    clinic = root / "clinic"
    assert run(home, "db", "upgrade").returncode == 0
    assert (
        run(home, "synth", "--clients", "12", "--days", "21", "--out", str(clinic)).returncode == 0
    )
    dirs = [str(clinic / d) for d in ("surveys", "seed", "fitbit")]
    result = run(home, "ingest", *dirs)
    assert result.returncode == 0, result.stderr
    assert run(home, "features", "build").returncode == 0
    engine = create_engine(f"sqlite:///{home / 'health_advisor.db'}")
    with session_scope(engine) as session:
        session.add(User(username="doc", password_hash="x", role="professional"))
    for client in json.loads(run(home, "clients", "list", "--json").stdout):
        granted = run(
            home,
            "consent",
            "add",
            str(client["client_id"]),
            "recommendations",
            "--evidence",
            "form",
        )
        assert granted.returncode == 0, granted.stderr
    engine.dispose()
    return home


def _client(home: Path) -> str:
    return str(json.loads(run(home, "clients", "list", "--json").stdout)[0]["client_id"])


def test_generate_review_activate_and_check_in(home: Path, tmp_path: Path) -> None:
    client = _client(home)
    made = run(home, "plan", "generate", client, "--json", "--lang", "en")
    assert made.returncode == 0, made.stderr
    plan = json.loads(made.stdout)
    assert {"plan_id", "version", "status", "model_version", "items", "excluded"} <= set(plan)
    assert (plan["status"], plan["model_version"], plan["fallback"]) == ("draft", None, "no_model")
    item = plan["items"][0]
    assert {"intervention_id", "domain", "intensity", "score", "predicted_adherence"} <= set(item)
    assert {"target", "reasons"} <= set(item)
    pid = str(plan["plan_id"])

    refused = run(home, "plan", "approve", pid)
    assert refused.returncode == 1 and "may not approve" in refused.stderr
    assert run(home, "plan", "submit", pid).returncode == 0
    approved = run(home, "plan", "approve", pid, "--by", "doc", "--comment", "good")
    assert approved.returncode == 0, approved.stderr
    assert run(home, "plan", "activate", pid).returncode == 0
    checkin = run(
        home,
        "checkin",
        "add",
        client,
        item["intervention_id"],
        "--adherence",
        "75",
        "--rating",
        "4",
        "--week",
        plan["as_of"],
        "--json",
    )
    assert checkin.returncode == 0, checkin.stderr
    assert json.loads(checkin.stdout)["interactions"] == 2

    events = json.loads(run(home, "plan", "events", pid, "--json").stdout)
    assert [e["action"] for e in events] == ["created", "submit", "approve", "activate"]
    assert events[2]["actor"] == "doc" and events[2]["comment"] == "good"
    outcomes = json.loads(run(home, "plan", "outcomes", pid, "--json").stdout)
    assert outcomes[0]["checkins"] == 1
    listed = json.loads(run(home, "plan", "list", "--client", client, "--json").stdout)
    assert listed[0]["status"] == "active"


def test_documents_in_every_format(home: Path, tmp_path: Path) -> None:
    client = _client(home)
    made = json.loads(run(home, "plan", "generate", client, "--json").stdout)
    pid = str(made["plan_id"])
    fhir = run(home, "plan", "show", pid, "--format", "fhir", "--lang", "en")
    assert fhir.returncode == 0, fhir.stderr
    bundle = json.loads(fhir.stdout)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("CarePlan") == 1 and kinds.count("Goal") == len(made["items"])
    html = tmp_path / "plan.html"
    assert run(home, "plan", "show", pid, "--format", "html", "--out", str(html)).returncode == 0
    assert '<html lang="es-PE"' in html.read_text(encoding="utf-8")
    pdf = tmp_path / "plan.pdf"
    assert run(home, "plan", "show", pid, "--format", "pdf", "--out", str(pdf)).returncode == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    text = run(home, "plan", "show", pid)
    assert text.returncode == 0 and f"Plan {pid}" in text.stdout


def test_plan_errors_are_one_line(home: Path) -> None:
    for args in (
        ("plan", "generate", "nobody"),
        ("plan", "show", "99999"),
        ("plan", "generate", _client(home), "--format", "pdf"),
        ("plan", "generate", _client(home), "--lang", "fr"),
        ("checkin", "add", _client(home), "ex_yoga", "--adherence", "150"),
        ("plan", "approve", "1", "--by", "ghost"),
        ("consent", "add", _client(home), "marketing", "--evidence", "x"),
    ):
        result = run(home, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
