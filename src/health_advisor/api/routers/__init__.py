"""One router per resource; :data:`ROUTERS` is what ``create_app`` mounts, in order.

Adding a resource: write ``routers/<name>.py`` with ``router = APIRouter(...)``, add it
here, and add its routes to the role matrix in ``tests/api/test_role_matrix.py`` (the
test fails for any route without an entry).
"""

from __future__ import annotations

from fastapi import APIRouter

from health_advisor.api.routers import (
    alerts,
    api_keys,
    audit_log,
    auth,
    clients,
    features,
    health,
    interventions,
    measurements,
    model_versions,
    plans,
    sources,
    users,
)

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    clients.router,
    measurements.router,
    features.router,
    alerts.router,
    interventions.router,
    sources.router,
    model_versions.router,
    users.router,
    api_keys.router,
    audit_log.router,
    plans.router,
]
