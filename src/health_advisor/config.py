"""Settings: the only place configuration is read (environment, prefix HEALTH_ADVISOR_).

Embedded defaults keep everything under ``./var`` (or ``HEALTH_ADVISOR_HOME``): a SQLite
file, the MLflow tracking store (SQLite, artifacts beside it) and the personal-data
encryption key, generated on first use.
In production (``HEALTH_ADVISOR_ENV=production``) the key must come from the environment.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from health_advisor.errors import ConfigurationError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTH_ADVISOR_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    home: Path = Field(default=Path("var"))
    database_url: str | None = None
    encryption_key: str | None = Field(default=None, repr=False)
    secret_key: str | None = Field(default=None, repr=False)  # signs access tokens
    metrics_token: str | None = Field(default=None, repr=False)  # bearer token for /metrics
    mlflow_tracking_uri: str | None = None
    spark_master: str = "local[*]"  # any Spark master URL for SparkALS
    workers: int = Field(default=1, ge=1, le=64)  # ``serve`` processes sharing the port
    # requests admitted at once per worker; None: 2 on SQLite, 3 on PostgreSQL (see
    # health_advisor.api.middleware.request_limit)
    requests_in_flight: int | None = Field(default=None, ge=1, le=1000)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'health_advisor.db').as_posix()}"

    @property
    def resolved_mlflow_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve().as_posix()}"

    @property
    def model_cache(self) -> Path:
        """Where the champion model's artifacts are downloaded for serving."""
        return self.home / "serving"

    @property
    def key_file(self) -> Path:
        return self.home / "encryption.key"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    def personal_data_key(self) -> bytes:
        """The 256-bit AES-GCM key for personal fields.

        From ``HEALTH_ADVISOR_ENCRYPTION_KEY`` (urlsafe base64 of 32 bytes) if set;
        otherwise, outside production, read from or generated into ``<home>/encryption.key``.
        """
        if self.encryption_key:
            return _decode_key(self.encryption_key, "HEALTH_ADVISOR_ENCRYPTION_KEY")
        if self.env == "production":
            raise ConfigurationError(
                "HEALTH_ADVISOR_ENCRYPTION_KEY must be set in production "
                "(urlsafe base64 of 32 random bytes)"
            )
        path = self.key_file
        if path.exists():
            return _decode_key(path.read_text().strip(), str(path))
        self.ensure_home()
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(key).decode() + "\n")
        return key


def _decode_key(text: str, origin: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.encode())
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{origin}: encryption key is not valid base64") from exc
    if len(key) != 32:
        raise ConfigurationError(f"{origin}: encryption key must decode to 32 bytes")
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
