"""``health-advisor users …``, ``api-keys …`` and ``serve`` (registered by :mod:`.cli`)."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from health_advisor.cli import JsonFlag, emit_json, engine, out, settings
from health_advisor.errors import InputError

users_app = typer.Typer(
    help="People who sign in, their roles and assignments.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys for machines (wearable bridges).", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    if not from_stdin:
        raise InputError("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise InputError("--password-stdin: no password on standard input")
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user name to sign in with.")],
    role: Annotated[
        str, typer.Option("--role", help="admin, coordinator, professional or client.")
    ],
    client: Annotated[
        str | None, typer.Option("--client", help="For a client user: their client id.")
    ] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Create a user (the password is hashed with argon2id; never pass it as an argument)."""
    from health_advisor.security import users
    from health_advisor.store.session import session_scope

    password = _password(password_stdin)
    with session_scope(engine()) as session:
        user = users.add_user(
            session, name, role, password, client_external_id=client, display_name=display_name
        )
        row = {"username": user.username, "role": user.role, "client_id": client}
    if json_out:
        emit_json(row)
    else:
        out.print(f"user {row['username']} ({row['role']}) added")


@users_app.command("assign")
def users_assign(
    name: Annotated[str, typer.Argument(help="A coordinator's user name.")],
    clients: Annotated[list[str], typer.Argument(help="Client ids to assign.")],
) -> None:
    """Let a coordinator see and manage these clients."""
    from health_advisor.security import users
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        for client in clients:
            users.assign_client(session, name, client)
    out.print(f"{name}: {len(clients)} client(s) assigned")


@users_app.command("list")
def users_list(json_out: JsonFlag = False) -> None:
    """Users with their role and state."""
    from health_advisor.security import users
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        found, _ = users.list_users(session)
        rows: list[dict[str, Any]] = [
            {
                "username": u.username,
                "role": u.role,
                "active": u.active,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in found
        ]
    if json_out:
        emit_json(rows)
        return
    table = Table("user", "role", "active", "last sign-in")
    for r in rows:
        table.add_row(
            r["username"], r["role"], "yes" if r["active"] else "no", r["last_login_at"] or ""
        )
    out.print(table)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. fitbit-bridge.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Scopes (default: ingest).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from health_advisor.security import apikeys
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        row, plaintext = apikeys.create_api_key(
            session, name=name, scopes=scope or ["ingest"], created_by=f"cli:{getpass.getuser()}"
        )
        document = {"name": row.name, "prefix": row.prefix, "key": plaintext}
    if json_out:
        emit_json(document)
    else:
        out.print(f"API key {document['name']}: {plaintext}\n(shown once; store it now)")


def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Worker processes sharing the port (default: HEALTH_ADVISOR_WORKERS or 1); "
            "one per core serves the most.",
        ),
    ] = None,
) -> None:
    """Run the API and the web UI (uvicorn) until interrupted."""
    from health_advisor.api.app import serve as run_server

    run_server(settings(), host=host, port=port, workers=workers)


def consent_add(
    client: Annotated[str, typer.Argument(help="The client's id.")],
    purpose: Annotated[str, typer.Argument(help="wearable_ingestion or recommendations.")],
    evidence: Annotated[
        str, typer.Option("--evidence", help="Where the written consent is (kept encrypted).")
    ],
    withdraw: Annotated[bool, typer.Option("--withdraw", help="Record a withdrawal.")] = False,
) -> None:
    """Record a client's consent (or its withdrawal) for one purpose (Ley 29733)."""
    from sqlalchemy import select

    from health_advisor.errors import NotFoundError
    from health_advisor.security import consent
    from health_advisor.store.models import Client
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        row = session.scalar(select(Client).where(Client.external_id == client))
        if row is None:
            raise NotFoundError(f"client {client!r} not found")
        consent.record_consent(session, row, purpose, not withdraw, evidence)
    out.print(f"{client}: {purpose} {'withdrawn' if withdraw else 'granted'}")
