"""Request ids, safe default headers, and the last line of defence for unexpected errors.

A pure ASGI middleware (no per-request task, unlike ``BaseHTTPMiddleware``): it takes
the caller's ``X-Request-ID`` when it is a sane token (else makes one), echoes it on the
response, and puts it on ``request.state`` for logs, problems and the audit trail. An
exception no handler took becomes a problem+json 500 with only the request id; the
traceback goes to the log. A lost or refused database connection is not a bug but an
outage: it becomes a 503 with ``Retry-After``, and the next request that finds the
database back succeeds (the engine reconnects; nothing needs a restart). The exception's
class is left on the scope for the metrics middleware.

:class:`ConcurrencyLimit` keeps the requests inside the app within what the database pool
can serve (see its docstring for the stall it prevents); a request that waits too long
for a slot is answered 503 with ``Retry-After`` instead of queueing without bound.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from health_advisor.api.errors import PROBLEM

log = logging.getLogger("health_advisor.api")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = "x-request-id"
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
RETRY_AFTER_SECONDS = 5
POOL_RESERVE = 2  # connections kept for scrapes and out-of-band audit writes
SQLITE_REQUEST_LIMIT = 2
"""Requests inside one worker at once on SQLite. SQLite takes one writer at a time and
a worker runs one thread of Python at a time, so more requests in its threads only
stretch the time the one holding the write lock needs to finish (bench/load.py, two
workers, 150 requests/s: p99 425 ms with 13 in flight a worker, 121 ms with 3; at 200
requests/s 2 and 1 serve the most). The others wait in the event loop, in order."""
SERVER_REQUEST_LIMIT = 3
"""Requests inside one worker at once on a database server (PostgreSQL). A request is
mostly Python, and a worker runs one thread of Python at a time: a few in flight cover
the round trips to the database, more only share the interpreter and all finish late
(bench/load.py, two workers, PostgreSQL on the same two cores, 200 requests/s: p99 over
8 s with 13 in flight a worker; 56-163 ms with 3, 67-125 ms with 2, 156-349 ms with 4).
A database on another machine, with longer round trips, may want more:
``HEALTH_ADVISOR_REQUESTS_IN_FLIGHT``."""
UNLIMITED_PATHS = frozenset({"/healthz"})  # no database: answers even when saturated


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (connection refused, lost or
    the pool exhausted) rather than a fault in the request or the code."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == HEADER.encode():
            text = value.decode("latin-1")
            if _SANE_ID.match(text):
                return text
    return uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False
        is_api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in SAFE_HEADERS.items():
                    headers.setdefault(name, value)
                if is_api:  # answers carry health data: no shared or browser caches
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            scope["state"]["unhandled_exception"] = type(exc).__name__
            outage = database_unavailable(exc)
            if outage:
                log.warning("request %s: database unavailable: %s", request_id, type(exc).__name__)
            else:
                log.exception(
                    "request %s %s failed (id %s)",
                    scope.get("method"),
                    scope.get("path"),
                    request_id,
                )
            if started:
                raise
            await (_send_503 if outage else _send_500)(send_with_headers, scope, request_id)


async def _send_500(send: Send, scope: Scope, request_id: str) -> None:
    detail = "an unexpected error happened; quote the request id when reporting it"
    await _send_problem(send, scope, request_id, 500, "Internal Server Error", detail)


async def _send_503(send: Send, scope: Scope, request_id: str) -> None:
    detail = "the database is unavailable; retry shortly"
    headers = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
    await _send_problem(send, scope, request_id, 503, "Service Unavailable", detail, headers)


async def _send_problem(
    send: Send,
    scope: Scope,
    request_id: str,
    status: int,
    title: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": scope.get("path"),
        "request_id": request_id,
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM.encode()),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def request_limit(
    engine: Engine, *, reserve: int = POOL_RESERVE, wanted: int | None = None
) -> int | None:
    """How many requests may be inside the app at once: ``wanted`` (default
    :data:`SQLITE_REQUEST_LIMIT` on SQLite, :data:`SERVER_REQUEST_LIMIT` otherwise), never
    more than the engine's pool capacity less ``reserve``; for pools without a fixed
    capacity (NullPool, StaticPool) only ``wanted``, or None: no limit."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if not callable(size) or overflow < 0:
        return wanted
    capacity = max(int(size()) + int(overflow) - reserve, 1)
    if wanted is None:
        wanted = SQLITE_REQUEST_LIMIT if engine.dialect.name == "sqlite" else SERVER_REQUEST_LIMIT
    return min(wanted, capacity)


class ConcurrencyLimit:
    """At most ``limit`` requests inside the app; the rest wait their turn in the event
    loop, and one that waited ``max_wait`` seconds is answered 503 with ``Retry-After``.

    Why: a request keeps its database session (and connection) across several thread-pool
    calls (the dependencies, the route, the commit). With more requests in flight than the
    pool has connections, threads blocked waiting for a connection can take every
    thread-pool slot that the requests holding connections need to finish, and the server
    stalls, idle, until the pool's 30 s timeout. Admitting no more requests than there are
    connections removes that cycle. Installed inside :class:`RequestContext`, so a refused
    request still carries its request id.
    """

    def __init__(self, app: ASGIApp, limit: int | None, *, max_wait: float = 10.0) -> None:
        self.app = app
        self.limit = limit
        self.max_wait = max_wait
        self._slots = anyio.Semaphore(limit) if limit else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._slots is None or scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        admitted = False
        with anyio.move_on_after(self.max_wait):
            await self._slots.acquire()
            admitted = True
        if not admitted:
            request_id = scope.get("state", {}).get("request_id", "")
            await _send_busy(send, scope, request_id)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()


async def _send_busy(send: Send, scope: Scope, request_id: str) -> None:
    detail = "the server is busy; retry shortly"
    headers = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
    await _send_problem(send, scope, request_id, 503, "Service Unavailable", detail, headers)
