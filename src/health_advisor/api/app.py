"""The FastAPI application factory and the server entry point.

``create_app(settings)`` builds everything a request needs once (engine, session factory,
token signer, login limiter, the champion and peer caches) and keeps it on ``app.state``;
nothing heavy is imported here, so ``health-advisor serve`` is listening in about a second.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from health_advisor.api import errors, metrics
from health_advisor.api.middleware import ConcurrencyLimit, RequestContext, request_limit
from health_advisor.api.plan_cache import RenderCache
from health_advisor.api.routers import ROUTERS
from health_advisor.config import Settings, get_settings
from health_advisor.plans.peers import PeerCache
from health_advisor.plans.scoring import ChampionCache
from health_advisor.security.keys import signing_key
from health_advisor.security.ratelimit import LoginLimiter
from health_advisor.security.tokens import TokenSigner
from health_advisor.store.session import make_engine, session_factory

API_VERSION = "1.0.0"
DESCRIPTION = """Health Advisor: client health data to clinician-approved plans.

Sign in at `POST /api/v1/auth/token` (form fields `username`, `password`) and send
`Authorization: Bearer <access_token>`; wearable bridges send `X-API-Key`. Errors are
RFC 9457 `application/problem+json` with a `request_id`. Every read and write of a
client's data is recorded in the audit log."""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment); ``engine`` overrides the
    settings' database (tests pass their migrated engine)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings)
    app = FastAPI(
        title="Health Advisor API",
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.signer = TokenSigner(signing_key(settings))
    app.state.limiter = LoginLimiter()
    app.state.champion = ChampionCache(settings)  # the warm scorer, shared by API and web
    app.state.peers = PeerCache()  # similar clients' adherence sums, rebuilt each minute
    app.state.plan_bodies = RenderCache[bytes]()  # plan bodies (JSON) by version, language
    errors.install(app)
    limit = request_limit(engine, wanted=settings.requests_in_flight)
    app.add_middleware(ConcurrencyLimit, limit=limit)  # innermost of the three
    app.add_middleware(RequestContext)
    metrics.install(app, settings, engine)  # outermost: it sees the status actually sent
    for router in ROUTERS:
        app.include_router(router)
    _document_problems(app)
    from health_advisor.web.app import mount_web  # the web UI shares the app's state

    mount_web(app, settings)
    return app


def server_app(settings: Settings | None = None) -> FastAPI:
    """The app as ``health-advisor serve`` runs it (also uvicorn's factory for workers):
    :func:`create_app` from the environment, with the collector tuned for a long-running
    process (:func:`freeze_heap` now and after each new champion model is loaded) and its
    passes timed into ``/metrics`` (``health_advisor_gc_pause_seconds``). Tests build
    apps with :func:`create_app`, which leaves the collector alone."""
    app = create_app(settings)
    app.state.champion.on_load = freeze_heap
    freeze_heap()
    app.state.metrics.watch_gc()
    return app


GC_THRESHOLDS = (20_000, 20, 100)
"""Young collections every 20,000 allocations (default 700) and a full one after 100 of
the middle generation's (default 10): a request allocates some 10,000 short-lived
objects, and with the defaults the collector ran a full pass every few seconds."""


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight (``gc.freeze``).

    A server's long-lived objects (modules, the catalog, the loaded model and what its
    first use imported) would otherwise be traversed by every full collection: measured
    under load, those took 100-235 ms each and stalled every request in flight (p99 355
    ms at 60 requests/s with the CPU half idle). Called by the server once the app is
    built and after the champion model is loaded (never in tests: frozen objects are
    never freed); the collector's thresholds become :data:`GC_THRESHOLDS`.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _document_problems(app: FastAPI) -> None:
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document_problems(default())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def serve(
    settings: Settings | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    workers: int | None = None,
    log_level: str = "info",
) -> None:
    """Run the API with uvicorn until interrupted (``health-advisor serve``).

    ``workers`` (default ``Settings.workers``) processes share the port; each builds its
    own app from the environment (:func:`create_app` as a factory). With more than one,
    the HTTP metrics are kept in a multiprocess folder under the home (cleared at start)
    so that ``/metrics`` sums every worker.
    """
    import uvicorn

    settings = settings or get_settings()
    workers = workers or settings.workers
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "server_header": False,
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(server_app(settings), **options)
        return
    import os
    import shutil

    folder = settings.home / "run" / "prometheus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[metrics.MULTIPROC_ENV] = str(folder.resolve())
    os.environ["HEALTH_ADVISOR_HOME"] = str(settings.home.resolve())
    uvicorn.run(f"{__name__}:server_app", factory=True, workers=workers, **options)
