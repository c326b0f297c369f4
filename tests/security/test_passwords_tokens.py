"""Password hashing and policy; access and refresh tokens; the signing key; rate limits."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from sqlalchemy import Engine

from health_advisor.config import Settings
from health_advisor.errors import ConfigurationError, InputError
from health_advisor.security import keys, passwords, tokens
from health_advisor.security.errors import AuthenticationFailed, TooManyAttempts
from health_advisor.security.ratelimit import LoginLimiter
from health_advisor.store.models import User
from health_advisor.store.session import session_scope

KEY = b"k" * 48


def test_argon2id_hash_verifies_only_its_password() -> None:
    stored = passwords.hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "correct horse battery staple")
    assert not passwords.verify_password(stored, "correct horse battery stapler")
    assert not passwords.verify_password("not a hash", "anything at all")
    assert not passwords.needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 12"),
        ("x" * 300, "at most 256"),
        ("            ", "blank"),
        ("my name is alice!!", "username"),
    ],
)
def test_password_policy(password: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        passwords.check_policy(password, username="alice")


def _user() -> User:
    return User(id=7, username="doctor", role="professional", password_hash="x")


def test_access_token_round_trip_and_expiry() -> None:
    signer = tokens.TokenSigner(KEY)
    token, expires = signer.issue(_user())
    claims = signer.decode(token)
    assert (claims.user_id, claims.username, claims.role) == (7, "doctor", "professional")
    assert claims.expires_at == expires.replace(microsecond=0)
    old, _ = signer.issue(_user(), now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(AuthenticationFailed):
        signer.decode(old)


def test_tokens_from_another_key_or_algorithm_are_refused() -> None:
    token, _ = tokens.TokenSigner(b"other" * 10).issue(_user())
    with pytest.raises(AuthenticationFailed):
        tokens.TokenSigner(KEY).decode(token)
    unsigned = jwt.encode(
        {"sub": "7", "name": "doctor", "role": "admin", "iat": 0, "exp": 2**40, "jti": "x"},
        key="",
        algorithm="none",
    )
    with pytest.raises(AuthenticationFailed):
        tokens.TokenSigner(KEY).decode(unsigned)


def test_refresh_tokens_are_stored_hashed_rotated_and_expire(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = User(username="doctor", role="professional", password_hash="x")
        session.add(user)
        session.flush()
        token, _ = tokens.issue_refresh_token(session, user)
        row = session.scalar(tokens.select(tokens.RefreshToken))
        assert row is not None and row.token_hash == tokens.hash_token(token) != token
        later = datetime.now(UTC) + tokens.REFRESH_TTL + timedelta(seconds=1)
        with pytest.raises(AuthenticationFailed, match="expired"):
            tokens.rotate_refresh_token(session, token, now=later)
        owner, fresh, _ = tokens.rotate_refresh_token(session, token)
        assert owner.id == user.id and fresh != token
        assert tokens.owner_of(session, fresh) == user.id
        assert tokens.revoke_refresh_token(session, fresh)
        assert not tokens.revoke_refresh_token(session, fresh)


def test_signing_key_is_generated_private_and_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(keys.ENV_VAR, raising=False)
    settings = Settings(home=tmp_path / "var", env="development")
    first = keys.signing_key(settings)
    path = tmp_path / "var" / keys.FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keys.signing_key(settings) == first and len(first) >= keys.MIN_LENGTH
    monkeypatch.setenv(keys.ENV_VAR, "e" * 40)
    assert keys.signing_key(Settings(home=tmp_path / "var")) == b"e" * 40
    monkeypatch.setenv(keys.ENV_VAR, "short")
    with pytest.raises(ConfigurationError, match="at least"):
        keys.signing_key(Settings(home=tmp_path / "var"))


def test_production_needs_an_explicit_signing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(keys.ENV_VAR, raising=False)
    with pytest.raises(ConfigurationError, match="must be set in production"):
        keys.signing_key(Settings(home=tmp_path, env="production"))


def test_limiter_slides_its_window_and_counts_per_address() -> None:
    now = [0.0]
    limiter = LoginLimiter(per_username=3, per_address=5, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        limiter.failure("Ana", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:
        limiter.check("ana", "10.0.0.1")
    assert refused.value.retry_after == 60
    limiter.check("ana", "10.0.0.2")  # another address is not held back
    now[0] = 61.0
    limiter.check("ana", "10.0.0.1")
    for name in ("b", "c", "d", "e", "f"):  # spraying one password over many names
        limiter.failure(name, "10.0.0.9")
    with pytest.raises(TooManyAttempts):
        limiter.check("someone-new", "10.0.0.9")
    limiter.success("ana", "10.0.0.1")
