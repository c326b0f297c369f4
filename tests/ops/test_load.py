"""A bounded load test on loopback: zero errors.

The API runs under uvicorn on a free loopback port; ``bench/load.py``'s open-loop driver
sends a fixed schedule (count- and time-limited) of the two requests the latency target is
about: a client's current plan and a freshly generated plan. Every answer must be a 2xx.
The latency figures belong to the benchmark (``bench/load.py``, 200 requests/s on the
demo store), not to this test, which shares its cores with the rest of the suite.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from functools import lru_cache
from types import ModuleType

from sqlalchemy import Engine

from health_advisor.api.app import create_app
from health_advisor.config import Settings

from .conftest import CLIENTS, ROOT, LiveServer, add_planned_clients, bearer, seed_clinic

# Sustainable in-process on 2 shared cores (the client shares the server's interpreter):
# a plan read costs about 20 ms and a generation 30 ms of CPU here.
RATE, DURATION, MAX_REQUESTS = 10.0, 8.0, 80


@lru_cache(maxsize=1)
def bench_load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_bounded_load_has_zero_errors(engine: Engine, settings: Settings) -> None:
    load = bench_load()
    clinic = seed_clinic(engine)
    app = create_app(settings, engine=engine)
    headers = bearer(app, clinic.users["admin"])
    # Requests rotate over 8 clients (generations for one client take turns on its lock).
    clients = [CLIENTS[0], *add_planned_clients(engine, 7)]
    make = load.plan_calls(clients, mix=0.5)
    with LiveServer(app) as server:
        outcomes, seconds = asyncio.run(
            load.drive(
                server.url, headers, make, rate=RATE, duration=DURATION, max_requests=MAX_REQUESTS
            )
        )
    result = load.report(outcomes, seconds)
    assert result["all"]["requests"] == MAX_REQUESTS
    assert {k: result[k]["requests"] for k in ("current_plan", "generate_plan")} == {
        "current_plan": MAX_REQUESTS // 2,
        "generate_plan": MAX_REQUESTS // 2,
    }
    assert result["all"]["errors"] == 0, result["all"]["statuses"]
    assert seconds < DURATION + 30  # bounded: the schedule plus the slowest answers


def test_percentile_is_nearest_rank() -> None:
    load = bench_load()
    values = [float(v) for v in range(1, 101)]
    assert [load.percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert load.percentile([], 99) == 0.0
