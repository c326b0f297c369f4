"""The key that signs access tokens.

From ``Settings.secret_key`` (the environment variable ``HEALTH_ADVISOR_SECRET_KEY``);
outside production, when it is not set, read from or generated into
``<home>/secret.key`` (mode 0600) like the personal-data key. Production refuses to run
without an explicit key: a generated one would differ between hosts and log everybody out
on every deploy.
"""

from __future__ import annotations

import os
import secrets

from health_advisor.config import Settings
from health_advisor.errors import ConfigurationError

ENV_VAR = "HEALTH_ADVISOR_SECRET_KEY"
MIN_LENGTH = 32  # characters; HS256 wants at least 256 bits of key material
FILE_NAME = "secret.key"


def signing_key(settings: Settings) -> bytes:
    """The HS256 signing key for ``settings`` (see the module docstring for the order)."""
    configured = settings.secret_key
    if configured:
        return _checked(str(configured), ENV_VAR)
    if settings.env == "production":
        raise ConfigurationError(
            f"{ENV_VAR} must be set in production (at least {MIN_LENGTH} random characters)"
        )
    path = settings.home / FILE_NAME
    if not path.exists():
        settings.ensure_home()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
    return _checked(path.read_text().strip(), str(path))


def _checked(text: str, origin: str) -> bytes:
    if len(text) < MIN_LENGTH:
        raise ConfigurationError(f"{origin}: secret key must be at least {MIN_LENGTH} characters")
    return text.encode()
