"""Encryption at rest for personal fields (name, email, phone, birth date, free text).

AES-256-GCM (authenticated) from the ``cryptography`` package. Each value gets a fresh
96-bit nonce; the column's name is bound in as associated data, so a ciphertext copied
into another column fails to decrypt instead of leaking. Stored layout:
``version byte (1) | nonce (12) | ciphertext+tag``.

The key is installed once per process by :func:`configure` (the store's engine factory
does it from :class:`~health_advisor.config.Settings`).
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from health_advisor.errors import ConfigurationError

_VERSION = b"\x01"
_cipher: AESGCM | None = None


def configure(key: bytes) -> None:
    global _cipher
    _cipher = AESGCM(key)


def _get_cipher() -> AESGCM:
    if _cipher is None:
        raise ConfigurationError("personal-data encryption key is not configured")
    return _cipher


def encrypt(plaintext: str, context: str) -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + _get_cipher().encrypt(nonce, plaintext.encode(), context.encode())


def decrypt(blob: bytes, context: str) -> str:
    if blob[:1] != _VERSION:
        raise ConfigurationError(f"{context}: unknown ciphertext version")
    try:
        return _get_cipher().decrypt(blob[1:13], blob[13:], context.encode()).decode()
    except InvalidTag as exc:
        raise ConfigurationError(
            f"{context}: cannot decrypt (wrong HEALTH_ADVISOR_ENCRYPTION_KEY?)"
        ) from exc


class EncryptedString(TypeDecorator[str]):
    """A text column stored as AES-GCM ciphertext; ``context`` names the column."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else encrypt(value, self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(bytes(value), self.context)


class EncryptedDate(TypeDecorator[date]):
    """A date stored encrypted as its ISO text."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: date | None, dialect: Dialect) -> bytes | None:
        return None if value is None else encrypt(value.isoformat(), self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> date | None:
        return None if value is None else date.fromisoformat(decrypt(bytes(value), self.context))
