"""Errors of authentication and authorisation that carry an HTTP meaning.

They extend :mod:`health_advisor.errors` (the API maps every ``HealthAdvisorError`` to
problem+json with its ``http_status``). ``audit`` on a denial lets the API write a
``denied`` audit entry even though the request's own transaction is rolled back.
"""

from __future__ import annotations

from typing import Any

from health_advisor.errors import HealthAdvisorError, NotFoundError, PermissionDenied


class AuthenticationFailed(HealthAdvisorError):
    """No valid credentials: a bad password, an expired or revoked token, an unknown key."""

    http_status = 401
    title = "Not authenticated"


class TooManyAttempts(HealthAdvisorError):
    """Too many failed sign-ins from this address for this username; wait and retry."""

    http_status = 429
    title = "Too many attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccessDenied(PermissionDenied):
    """The principal may see this object but not do this to it."""

    def __init__(self, message: str, *, audit: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.audit = audit


class NotVisible(NotFoundError):
    """The object exists but not for this principal: answered like a missing object, so
    that ids of other people's records cannot be probed."""

    def __init__(self, message: str, *, audit: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.audit = audit
