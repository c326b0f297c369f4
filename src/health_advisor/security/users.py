"""People who sign in: add and change them, assign clients to coordinators, authenticate.

Usernames are case-insensitive (stored lower-case). A ``client`` user is linked to one
client (by the client's external id); the other roles are not. Authentication counts
failures on the account and locks it for :data:`LOCKOUT` after :data:`MAX_FAILURES` in a
row, in the database, so the lock holds across processes and restarts. The caller owns
the transaction and must commit after a failed :func:`authenticate` too, or the counter
is lost.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from health_advisor.errors import ConflictError, InputError, NotFoundError
from health_advisor.security import passwords, tokens
from health_advisor.security.errors import AuthenticationFailed
from health_advisor.store.models import Client, ClientAssignment, User

ROLES: tuple[str, ...] = ("admin", "coordinator", "professional", "client")
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
_BAD_CREDENTIALS = "incorrect username or password"


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InputError(
            "username must be 3-64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    return name


def add_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    client_external_id: str | None = None,
    *,
    display_name: str | None = None,
) -> User:
    """Create a user; a ``client`` user needs ``client_external_id`` of an existing client."""
    name = normalise_username(username)
    _check_role(role)
    passwords.check_policy(password, username=name)
    client_pk = _client_link(session, role, client_external_id)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise ConflictError(f"user {name!r} already exists")
    user = User(
        username=name,
        password_hash=passwords.hash_password(password),
        role=role,
        client_id=client_pk,
        display_name=display_name,
        active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFoundError(f"user {username!r} not found")
    return user


def list_users(
    session: Session,
    *,
    role: str | None = None,
    active: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[User], int]:
    """A page of users ordered by username, and how many match in all."""
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(User.username).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return list(session.scalars(page)), int(total)


def set_password(session: Session, username: str, password: str) -> User:
    """Replace the password, clear any lock-out and sign the user out everywhere."""
    user = get_user(session, username)
    passwords.check_policy(password, username=user.username)
    user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    tokens.revoke_all(session, user.id)
    return user


def update_user(
    session: Session,
    username: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    display_name: str | None = None,
    client_external_id: str | None = None,
) -> User:
    """Change role, active flag, display name or client link; a role or activity change
    signs the user out everywhere (their refresh tokens are revoked)."""
    user = get_user(session, username)
    new_role = role or user.role
    _check_role(new_role)
    if role is not None or client_external_id is not None:
        keep = _external_id(session, user.client_id) if new_role == "client" else None
        user.client_id = _client_link(session, new_role, client_external_id or keep)
    if new_role != user.role or (active is not None and active != user.active):
        tokens.revoke_all(session, user.id)
    if new_role != "coordinator":
        _drop_assignments(session, user.id)
    user.role = new_role
    if active is not None:
        user.active = active
        if active:
            user.failed_logins, user.locked_until = 0, None
    if display_name is not None:
        user.display_name = display_name or None
    return user


def assign_client(session: Session, username: str, client_external_id: str) -> ClientAssignment:
    """Let a coordinator see a client (idempotent)."""
    user = get_user(session, username)
    if user.role != "coordinator":
        raise InputError(f"user {user.username!r} is a {user.role}: only coordinators are assigned")
    client_pk = _client_pk(session, client_external_id)
    row = session.scalar(
        select(ClientAssignment).where(
            ClientAssignment.user_id == user.id, ClientAssignment.client_id == client_pk
        )
    )
    if row is None:
        row = ClientAssignment(user_id=user.id, client_id=client_pk)
        session.add(row)
        session.flush()
    return row


def unassign_client(session: Session, username: str, client_external_id: str) -> bool:
    """Remove an assignment; whether there was one."""
    user = get_user(session, username)
    client_pk = _client_pk(session, client_external_id)
    row = session.scalar(
        select(ClientAssignment).where(
            ClientAssignment.user_id == user.id, ClientAssignment.client_id == client_pk
        )
    )
    if row is None:
        return False
    session.delete(row)
    return True


def assigned_clients(session: Session, user_id: int) -> list[str]:
    """External ids of the clients assigned to a coordinator, sorted."""
    rows = session.scalars(
        select(Client.external_id)
        .join(ClientAssignment, ClientAssignment.client_id == Client.id)
        .where(ClientAssignment.user_id == user_id)
        .order_by(Client.external_id)
    )
    return list(rows)


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> User:
    """The user whose password this is, or :class:`AuthenticationFailed`.

    Unknown user, wrong password, inactive or locked account all give the same message
    (and take the same time), so sign-in answers cannot be used to find usernames.
    """
    now = now or datetime.now(UTC)
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        passwords.burn_time(password)
        raise AuthenticationFailed(_BAD_CREDENTIALS)
    if user.locked_until is not None and user.locked_until > now:
        passwords.burn_time(password)
        raise AuthenticationFailed(_BAD_CREDENTIALS)
    if not passwords.verify_password(user.password_hash, password) or not user.active:
        _count_failure(user, now)
        raise AuthenticationFailed(_BAD_CREDENTIALS)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return user


def is_locked(user: User, *, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or datetime.now(UTC))


def _count_failure(user: User, now: datetime) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")


def _client_link(session: Session, role: str, client_external_id: str | None) -> int | None:
    if role == "client":
        if not client_external_id:
            raise InputError("a client user needs the client's id (--client ID)")
        return _client_pk(session, client_external_id)
    if client_external_id:
        raise InputError(f"only client users are linked to a client, not a {role}")
    return None


def _client_pk(session: Session, external_id: str) -> int:
    pk = session.scalar(select(Client.id).where(Client.external_id == external_id))
    if pk is None:
        raise NotFoundError(f"client {external_id!r} not found")
    return int(pk)


def _external_id(session: Session, client_pk: int | None) -> str | None:
    if client_pk is None:
        return None
    return session.scalar(select(Client.external_id).where(Client.id == client_pk))


def _drop_assignments(session: Session, user_id: int) -> None:
    for row in session.scalars(select(ClientAssignment).where(ClientAssignment.user_id == user_id)):
        session.delete(row)
