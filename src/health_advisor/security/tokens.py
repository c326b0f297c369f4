"""Access tokens (signed, short-lived) and refresh tokens (random, stored hashed).

An access token is a JWT signed with HS256 (:mod:`.keys`), valid for
:data:`ACCESS_TTL`; it names the user but the API still loads the user on every request,
so deactivating someone or changing their role takes effect at once, not at expiry.

A refresh token is 256 random bits; only its SHA-256 is stored. Using it rotates it: the
old one is revoked and a new one issued. Presenting a token that was already rotated
away means it leaked (or a client replayed it), so every refresh token of that user is
revoked (the OAuth 2.0 Security BCP's refresh-token reuse detection).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from health_advisor.security.errors import AuthenticationFailed
from health_advisor.store.models import RefreshToken, User

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)
ISSUER = "health-advisor"
AUDIENCE = "health-advisor-api"
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    username: str
    role: str
    expires_at: datetime
    token_id: str


class TokenSigner:
    """Issues and checks access tokens with one key."""

    def __init__(self, key: bytes, *, ttl: timedelta = ACCESS_TTL) -> None:
        self._key = key
        self.ttl = ttl

    def issue(self, user: User, *, now: datetime | None = None) -> tuple[str, datetime]:
        """A token for ``user`` and when it expires."""
        now = now or datetime.now(UTC)
        expires = now + self.ttl
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user.id),
            "name": user.username,
            "role": user.role,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires

    def decode(self, token: str) -> AccessClaims:
        """The claims of a valid token; anything else is :class:`AuthenticationFailed`
        (one message for all causes: the reason is of no use to an attacker)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
            return AccessClaims(
                user_id=int(claims["sub"]),
                username=str(claims["name"]),
                role=str(claims["role"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                token_id=str(claims["jti"]),
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise AuthenticationFailed("invalid or expired access token") from exc


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_refresh_token(
    session: Session, user: User, *, now: datetime | None = None
) -> tuple[str, datetime]:
    """A new refresh token for ``user`` (plaintext, shown once) and its expiry."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    expires = now + REFRESH_TTL
    session.add(RefreshToken(user_id=user.id, token_hash=hash_token(token), expires_at=expires))
    session.flush()
    return token, expires


def rotate_refresh_token(
    session: Session, token: str, *, now: datetime | None = None
) -> tuple[User, str, datetime]:
    """Spend ``token``: the user it belongs to and a new refresh token.

    A token used twice revokes the user's every refresh token (see the module docstring);
    the caller must commit even when this raises, so that the revocation sticks.
    """
    now = now or datetime.now(UTC)
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    if row is None:
        raise AuthenticationFailed("invalid refresh token")
    if row.revoked_at is not None:
        revoke_all(session, row.user_id, now=now)
        raise AuthenticationFailed("refresh token already used: all sessions signed out")
    if row.expires_at <= now:
        raise AuthenticationFailed("refresh token expired: sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthenticationFailed("account is not active")
    row.revoked_at = now
    new_token, expires = issue_refresh_token(session, user, now=now)
    return user, new_token, expires


def revoke_refresh_token(session: Session, token: str, *, now: datetime | None = None) -> bool:
    """Revoke one token; whether it was live."""
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or datetime.now(UTC)
    return True


def revoke_all(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """Revoke every live refresh token of a user (sign out everywhere); how many."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def owner_of(session: Session, token: str) -> int | None:
    """The user id a refresh token belongs to (live or not), or None."""
    return session.scalar(
        select(RefreshToken.user_id).where(RefreshToken.token_hash == hash_token(token))
    )
