"""Settings: embedded defaults, and the encryption key's rules."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from health_advisor.config import Settings
from health_advisor.errors import ConfigurationError


def test_key_is_generated_once_into_home_with_private_mode(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var")
    key = settings.personal_data_key()
    assert len(key) == 32
    assert settings.personal_data_key() == key
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600


def test_production_requires_the_key_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="HEALTH_ADVISOR_ENCRYPTION_KEY"):
        Settings(home=tmp_path, env="production").personal_data_key()
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    assert Settings(home=tmp_path, env="production", encryption_key=key).personal_data_key() == (
        b"k" * 32
    )


def test_malformed_key_is_refused(tmp_path: Path) -> None:
    short = base64.urlsafe_b64encode(b"short").decode()
    with pytest.raises(ConfigurationError, match="32 bytes"):
        Settings(home=tmp_path, encryption_key=short).personal_data_key()


def test_default_database_is_sqlite_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h")
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'h' / 'health_advisor.db'}"


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_ADVISOR_DATABASE_URL", "postgresql://x@y/z")
    assert Settings().resolved_database_url == "postgresql://x@y/z"
