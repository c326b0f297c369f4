"""The one exception hierarchy of Health Advisor.

Entry points map these to what a person sees: the CLI prints ``str(error)`` as one
line on stderr and exits with ``error.exit_code``; the API answers RFC 9457
problem+json with ``error.http_status``.

    HealthAdvisorError
     ├── InputError          bad input from a person or a file (exit 1, HTTP 422)
     │    └── MalformedFileError   a file that cannot be parsed at all
     ├── NotFoundError       a named thing does not exist (exit 1, HTTP 404)
     ├── ConflictError       the request contradicts stored state (exit 1, HTTP 409)
     ├── PermissionDenied    the actor may not do this (exit 1, HTTP 403)
     ├── ConfigurationError  settings are missing or unsafe (exit 1, HTTP 500)
     └── ModelNotReady       no trained model is available yet (exit 1, HTTP 503)
"""

from __future__ import annotations


class HealthAdvisorError(Exception):
    """Base of every error meant for a person rather than a developer."""

    exit_code = 1
    http_status = 500
    title = "Health Advisor error"


class InputError(HealthAdvisorError):
    http_status = 422
    title = "Invalid input"


class MalformedFileError(InputError):
    """A whole file is unreadable; nothing from it is written."""

    title = "Malformed file"

    def __init__(self, path: object, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


class NotFoundError(HealthAdvisorError):
    http_status = 404
    title = "Not found"


class ConflictError(HealthAdvisorError):
    http_status = 409
    title = "Conflict"


class PermissionDenied(HealthAdvisorError):
    http_status = 403
    title = "Permission denied"


class ConfigurationError(HealthAdvisorError):
    http_status = 500
    title = "Configuration error"


class ModelNotReady(HealthAdvisorError):
    http_status = 503
    title = "Model not ready"
