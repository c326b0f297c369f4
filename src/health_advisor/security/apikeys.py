"""API keys for machines (wearable bridges): random, shown once, stored as SHA-256.

A key looks like ``hak_<8 hex>_<43 url-safe chars>``; the ``hak_<8 hex>`` prefix is
stored in clear so an administrator can tell keys apart in listings and logs without
being able to use them. The secret part has 256 bits, so a fast hash is enough (no
guessing is feasible) and the lookup is a single indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from health_advisor.errors import InputError, NotFoundError
from health_advisor.security.errors import AuthenticationFailed
from health_advisor.store.models import ApiKey

SCOPES: frozenset[str] = frozenset({"ingest"})
PREFIX = "hak_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session, *, name: str, scopes: Iterable[str], created_by: str
) -> tuple[ApiKey, str]:
    """A new key (row, and the plaintext to hand over once)."""
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if not wanted or unknown:
        raise InputError(f"API key scopes must be among {', '.join(sorted(SCOPES))}")
    if not name.strip() or len(name) > 64:
        raise InputError("API key name must be 1-64 characters")
    prefix = PREFIX + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name.strip(),
        prefix=prefix,
        key_hash=_hash(key),
        scopes={"scopes": wanted},
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, key


def authenticate_api_key(session: Session, key: str, *, now: datetime | None = None) -> ApiKey:
    """The live key row for ``key`` (its last use recorded), or AuthenticationFailed."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key)))
    if row is None or row.revoked_at is not None:
        raise AuthenticationFailed("invalid or revoked API key")
    row.last_used_at = now or datetime.now(UTC)
    return row


def scopes_of(row: ApiKey) -> frozenset[str]:
    return frozenset(str(s) for s in (row.scopes or {}).get("scopes", []))


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, key_id: int, *, now: datetime | None = None) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"API key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = now or datetime.now(UTC)
    return row
