"""Password hashing (argon2id) and the password policy.

argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4):
about 50 ms a hash on one core, which makes offline guessing costly and a login still
fast. :func:`needs_rehash` lets a login upgrade hashes made with older parameters.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from health_advisor.errors import InputError

MIN_LENGTH = 12
MAX_LENGTH = 256  # hashing is costly; an unbounded input is a denial of service

_HASHER = PasswordHasher()


def check_policy(password: str, *, username: str | None = None) -> None:
    """Refuse weak passwords with one line saying why (NIST 800-63B: length, not rules)."""
    if len(password) < MIN_LENGTH:
        raise InputError(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InputError(f"password must be at most {MAX_LENGTH} characters")
    if not password.strip():
        raise InputError("password must not be blank")
    if username and username.casefold() in password.casefold():
        raise InputError("password must not contain the username")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed stored hash counts as a mismatch."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def burn_time(password: str) -> None:
    """Spend what a real verification costs, for unknown usernames: answering faster
    for them would tell an attacker which usernames exist."""
    verify_password(_dummy_hash(), password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("not a password anybody has")
