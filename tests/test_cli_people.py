"""``users``, ``api-keys`` and ``consent`` through the console entry point."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import home, run  # noqa: F401  (the fixture)

PASSWORD = "a long enough passphrase"


def test_users_add_list_and_password_rules(home: Path) -> None:  # noqa: F811
    added = run(
        home,
        "users",
        "add",
        "doc",
        "--role",
        "professional",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {
        "username": "doc",
        "role": "professional",
        "client_id": None,
    }
    listed = json.loads(run(home, "users", "list", "--json").stdout)
    assert [(u["username"], u["role"], u["active"]) for u in listed] == [
        ("doc", "professional", True)
    ]
    for args, stdin in (
        (("users", "add", "x", "--role", "professional"), None),  # no --password-stdin
        (("users", "add", "y", "--role", "professional", "--password-stdin"), "short\n"),
        (("users", "add", "z", "--role", "wizard", "--password-stdin"), PASSWORD + "\n"),
        (("users", "add", "doc", "--role", "admin", "--password-stdin"), PASSWORD + "\n"),
        (("users", "assign", "doc", "nobody"), None),
    ):
        result = run(home, *args, stdin=stdin)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_api_key_is_shown_once_and_stored_hashed(home: Path) -> None:  # noqa: F811
    from sqlalchemy import create_engine, select

    from health_advisor.store.models import ApiKey

    made = run(home, "api-keys", "create", "fitbit-bridge", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    engine = create_engine(f"sqlite:///{home / 'health_advisor.db'}")
    with engine.connect() as connection:
        stored = connection.execute(select(ApiKey.key_hash, ApiKey.scopes)).one()
    engine.dispose()
    assert key not in stored.key_hash and stored.scopes == {"scopes": ["ingest"]}


def test_consent_needs_a_known_client_and_purpose(home: Path) -> None:  # noqa: F811
    result = run(home, "consent", "add", "nobody", "recommendations", "--evidence", "form")
    assert result.returncode == 1 and "not found" in result.stderr
