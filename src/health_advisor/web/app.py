"""Mounting the web UI on the API's application.

``mount_web(app, settings)`` adds the pages (server-rendered Jinja2, htmx for in-place
navigation) and ``/static`` (the stylesheet and the vendored htmx: nothing is fetched
from another site at run time). It reuses what ``api.app.create_app`` put on
``app.state``: the session factory, the token signer (sessions are its access tokens)
and the login limiter. The package catalog is loaded on the first page that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from health_advisor.config import Settings
from health_advisor.core.catalog import Catalog
from health_advisor.security.keys import signing_key
from health_advisor.web.session import CsrfGuard
from health_advisor.web.views import admin, auth, clients, me, plans

__all__ = ["WebState", "mount_web"]

ROUTERS = (auth.router, clients.router, plans.router, me.router, admin.router)


@dataclass
class WebState:
    """What the pages share, on ``app.state.web``."""

    settings: Settings
    csrf: CsrfGuard = field(repr=False)

    @cached_property
    def catalog(self) -> Catalog:
        from health_advisor.catalog import load_catalog

        return load_catalog()


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Add the web UI to ``app`` (built by ``api.app.create_app(settings)``); calling it
    again on the same app does nothing."""
    if isinstance(getattr(app.state, "web", None), WebState):
        return
    for needed in ("session_factory", "signer", "limiter"):
        if not hasattr(app.state, needed):
            raise RuntimeError(f"mount_web needs app.state.{needed}: build the app with create_app")
    app.state.web = WebState(settings=settings, csrf=CsrfGuard(signing_key(settings)))
    static = resources.files("health_advisor.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for router in ROUTERS:
        app.include_router(router)
