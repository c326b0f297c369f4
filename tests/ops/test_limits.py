"""Bounded concurrency: never more requests inside the app than the database pool can
serve, so a burst queues instead of stalling the server; a request that waits too long
is told to retry (503 problem+json with Retry-After)."""

from __future__ import annotations

import asyncio
import time

import anyio
import httpx
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool
from starlette.types import Receive, Scope, Send

from health_advisor.api.app import create_app
from health_advisor.api.middleware import (
    SERVER_REQUEST_LIMIT,
    SQLITE_REQUEST_LIMIT,
    ConcurrencyLimit,
    RequestContext,
    request_limit,
)
from health_advisor.config import Settings
from health_advisor.store.session import make_engine

from .conftest import CLIENTS, LiveServer, bearer, seed_clinic

BURST = 120


class Slow:
    """An app that takes ``seconds`` per request and records how many run at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.now, self.most = seconds, 0, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        await anyio.sleep(self.seconds)
        self.now -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def burst(app: object, n: int, path: str = "/work") -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return list(await asyncio.gather(*(http.get(path) for _ in range(n))))


def test_requests_beyond_the_limit_wait_their_turn() -> None:
    slow = Slow(0.05)
    answers = asyncio.run(burst(ConcurrencyLimit(slow, 2), 8))
    assert [r.status_code for r in answers] == [200] * 8
    assert slow.most == 2


def test_a_request_waiting_too_long_is_told_to_retry() -> None:
    slow = Slow(0.5)
    app = RequestContext(ConcurrencyLimit(slow, 1, max_wait=0.05))
    answers = asyncio.run(burst(app, 2))
    refused = [r for r in answers if r.status_code == 503]
    assert len(refused) == 1 and sum(r.status_code == 200 for r in answers) == 1
    assert refused[0].headers["retry-after"] == "5"
    assert refused[0].headers["content-type"] == "application/problem+json"
    assert refused[0].json()["request_id"] == refused[0].headers["x-request-id"]


def test_liveness_is_never_queued() -> None:
    slow = Slow(0.3)
    app = ConcurrencyLimit(slow, 1, max_wait=0.01)
    assert [r.status_code for r in asyncio.run(burst(app, 3, "/healthz"))] == [200] * 3


def test_limit_follows_the_pool(settings: Settings) -> None:
    server = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connects
    assert request_limit(server) == SERVER_REQUEST_LIMIT  # a few: Python is the bottleneck
    assert request_limit(server, wanted=8) == 8  # e.g. a database on another machine
    assert request_limit(server, wanted=50) == 5 + 10 - 2  # QueuePool's size, less the reserve
    engine = make_engine(settings)
    assert request_limit(engine) == SQLITE_REQUEST_LIMIT  # one writer: few in flight
    unpooled = create_engine("sqlite://", poolclass=NullPool)
    assert request_limit(unpooled) is None
    assert request_limit(unpooled, wanted=4) == 4
    engine.dispose()


def test_a_burst_larger_than_the_pool_is_served(engine: Engine, settings: Settings) -> None:
    """120 requests at once on the default pool (15 connections, 40 threads). Without the
    limit the server stalls until the pool times out (30 s) and answers 503s: threads
    waiting for a connection hold the thread pool the connection holders need."""
    clinic = seed_clinic(engine)
    app = create_app(settings, engine=engine)
    headers = bearer(app, clinic.users["admin"])

    async def go(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=60, limits=limits
        ) as http:
            path = f"/api/v1/clients/{CLIENTS[0]}/plans/current"
            answers = await asyncio.gather(*(http.get(path) for _ in range(BURST)))
            return [r.status_code for r in answers]

    with LiveServer(app) as server:
        started = time.monotonic()
        statuses = asyncio.run(go(server.url))
        took = time.monotonic() - started
    assert statuses == [200] * BURST
    assert took < 25, f"{BURST} requests took {took:.1f} s"
