"""Users, lock-out, assignments, API keys, consent, audit and the object-level rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from health_advisor.errors import ConflictError, InputError, NotFoundError
from health_advisor.security import access, apikeys, audit, consent, users
from health_advisor.security.access import Action, Principal
from health_advisor.security.errors import AccessDenied, AuthenticationFailed, NotVisible
from health_advisor.store.models import Client
from health_advisor.store.session import session_scope

PASSWORD = "correct horse battery staple"


def _clients(session) -> tuple[Client, Client]:  # type: ignore[no-untyped-def]
    a, b = Client(external_id="A"), Client(external_id="B")
    session.add_all([a, b])
    session.flush()
    return a, b


def test_add_user_validates_and_links_clients(engine: Engine) -> None:
    with session_scope(engine) as session:
        _clients(session)
        user = users.add_user(session, "Alice", "client", PASSWORD, "A")
        assert user.username == "alice" and user.client_id is not None
        with pytest.raises(ConflictError):
            users.add_user(session, "ALICE", "client", PASSWORD, "A")
        with pytest.raises(InputError, match="needs the client"):
            users.add_user(session, "carla", "client", PASSWORD)
        with pytest.raises(InputError, match="only client users"):
            users.add_user(session, "dora", "coordinator", PASSWORD, "A")
        with pytest.raises(NotFoundError):
            users.add_user(session, "eva", "client", PASSWORD, "Z")
        with pytest.raises(InputError, match="unknown role"):
            users.add_user(session, "fede", "root", PASSWORD)
        with pytest.raises(InputError, match="username"):
            users.add_user(session, "x", "admin", PASSWORD)


def test_authenticate_locks_after_failures_and_unlocks_after_the_lockout(engine: Engine) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        users.add_user(session, "doctor", "professional", PASSWORD)
        for _ in range(users.MAX_FAILURES):
            with pytest.raises(AuthenticationFailed):
                users.authenticate(session, "doctor", "wrong wrong wrong", now=now)
        with pytest.raises(AuthenticationFailed):
            users.authenticate(session, "doctor", PASSWORD, now=now + timedelta(minutes=1))
        later = now + users.LOCKOUT + timedelta(seconds=1)
        user = users.authenticate(session, "doctor", PASSWORD, now=later)
        assert user.failed_logins == 0 and user.last_login_at == later


def test_role_change_drops_assignments_and_revokes_sessions(engine: Engine) -> None:
    with session_scope(engine) as session:
        _clients(session)
        coord = users.add_user(session, "coord", "coordinator", PASSWORD)
        users.assign_client(session, "coord", "A")
        users.assign_client(session, "coord", "A")  # idempotent
        assert users.assigned_clients(session, coord.id) == ["A"]
        users.update_user(session, "coord", role="professional")
        assert users.assigned_clients(session, coord.id) == []
        with pytest.raises(InputError, match="only coordinators"):
            users.assign_client(session, "coord", "B")
        users.update_user(session, "coord", role="client", client_external_id="B")
        users.update_user(session, "coord", role="coordinator")
        assert coord.client_id is None


def _principal(session, role: str, **kw) -> Principal:  # type: ignore[no-untyped-def]
    return Principal(kind="user", name=f"u-{role}", role=role, **kw)


def test_object_level_rules(engine: Engine) -> None:
    with session_scope(engine) as session:
        a, b = _clients(session)
        coord = users.add_user(session, "coord", "coordinator", PASSWORD)
        users.assign_client(session, "coord", "A")
        coordinator = Principal("user", "coord", "coordinator", user_id=coord.id)
        client = Principal("user", "alice", "client", client_id=a.id)
        pro = Principal("user", "doc", "professional")
        service = Principal("api_key", "api-key:x", "service", scopes=frozenset({"ingest"}))
        keyless = Principal("api_key", "api-key:y", "service")
        assert access.require_client(session, coordinator, "A", Action.WRITE) is a
        with pytest.raises(NotVisible):
            access.require_client(session, coordinator, "B", Action.READ)
        with pytest.raises(NotVisible):
            access.require_client(session, client, "B", Action.READ)
        with pytest.raises(AccessDenied):
            access.require_client(session, client, "A", Action.ERASE)
        with pytest.raises(AccessDenied):
            access.require_client(session, pro, "B", Action.WRITE)
        assert access.require_client(session, pro, "B", Action.ACKNOWLEDGE) is b
        assert access.require_client(session, service, "B", Action.INGEST) is b
        with pytest.raises(AccessDenied):
            access.require_client(session, keyless, "B", Action.INGEST)
        with pytest.raises(NotFoundError):
            access.require_client(session, pro, "Z", Action.READ)
        visible = session.scalars(access.restrict(select(Client.external_id), coordinator))
        assert list(visible) == ["A"]
        with pytest.raises(AccessDenied, match="'B'"):
            access.require_clients(session, coordinator, ["A", "B"], Action.INGEST)


def test_api_keys_are_hashed_scoped_and_revocable(engine: Engine) -> None:
    with session_scope(engine) as session:
        row, key = apikeys.create_api_key(session, name="bridge", scopes=["ingest"], created_by="t")
        assert (
            key.startswith(row.prefix + "_") and row.key_hash != key and key not in str(row.scopes)
        )
        assert apikeys.authenticate_api_key(session, key).id == row.id
        assert row.last_used_at is not None
        apikeys.revoke_api_key(session, row.id)
        with pytest.raises(AuthenticationFailed):
            apikeys.authenticate_api_key(session, key)
        with pytest.raises(InputError):
            apikeys.create_api_key(session, name="x", scopes=["admin"], created_by="t")


def test_consent_is_the_latest_record_per_purpose(engine: Engine) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        a, b = _clients(session)
        consent.record_consent(session, a, consent.WEARABLE_INGESTION, True, "form", now=t0)
        assert consent.has_consent(session, a.id, consent.WEARABLE_INGESTION)
        consent.record_consent(
            session, a, consent.WEARABLE_INGESTION, False, now=t0 + timedelta(days=1)
        )
        assert not consent.has_consent(session, a.id, consent.WEARABLE_INGESTION)
        consent.record_consent(session, b, consent.WEARABLE_INGESTION, True, now=t0)
        assert consent.without_consent(session, [a.id, b.id], consent.WEARABLE_INGESTION) == [a.id]
        with pytest.raises(ConflictError, match="'A'"):
            consent.require_consent(session, a, consent.WEARABLE_INGESTION)
        with pytest.raises(InputError):
            consent.record_consent(session, a, "marketing", True)


def test_audit_entries_filter_and_page_newest_first(engine: Engine) -> None:
    with session_scope(engine) as session:
        for i in range(3):
            audit.record(session, "doc", "read", "client", f"C{i}", f"C{i}", "127.0.0.1")
        audit.record(session, "bob", "read", "client", "C0", "C0", None, outcome="denied")
        session.flush()
        rows, total = audit.list_entries(session, client_ref="C0")
        assert total == 2 and [r.actor for r in rows] == ["bob", "doc"]
        rows, total = audit.list_entries(session, actor="doc", limit=1, offset=1)
        assert total == 3 and len(rows) == 1
