"""API load benchmark: a client's current plan and a freshly generated plan, at a fixed rate.

Target (issue 6): p99 under 100 ms at 200 requests/s on 2 cores, from the warm scorer.

1. Builds the demo store in a temporary home (``health-advisor demo --no-serve``: a
   500-client synthetic clinic, the HybridMF champion trained, the demo accounts), or
   reuses ``--home``; then gives the coordinator's first ``--clients-with-plans`` clients
   an active plan (generated with the champion, approved, activated).
2. Starts the server as a real process (``health-advisor serve``, loopback, ``--workers``
   processes, default 2: one per core)
   and times how long it takes to answer ``/readyz``.
3. Signs in as the coordinator, warms up (the first generation loads the champion),
   then sends an **open-loop** schedule: request *i* leaves at ``i / rate`` seconds,
   whatever earlier answers did, alternating GET ``/clients/{id}/plans/current`` and
   POST ``/clients/{id}/plans`` over those clients (``--mix`` is the share of GETs).
   Bounded: ``--duration`` seconds and ``--max-requests`` requests, each with a timeout.
4. Reports per kind and overall: requests, errors (non-2xx or transport errors), the
   rate achieved, latency p50/p95/p99/max measured from the *scheduled* start (so a
   client or server falling behind shows as latency, no coordinated omission), the
   server's CPU time and its garbage-collector passes during the run (from
   ``/metrics``: a long pass stalls every request in a worker). ``--trace FILE`` also
   writes every request as a CSV row, to see when the slow ones happened.

    .venv/bin/python bench/load.py [--rate 200] [--duration 20] [--max-requests 4000]
        [--mix 0.5] [--clients 500] [--clients-with-plans 100] [--home DIR] [--port 0]
        [--connections 64] [--workers 2] [--database-url postgresql://user@host/empty_db]
        [--trace requests.csv]

Prints a table and writes ``bench/results/load.json``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("health-advisor")
COORDINATOR = ("coordinadora", "cebiche-limeno-2026")  # health_advisor.demo.ACCOUNTS


@dataclass(frozen=True, slots=True)
class Call:
    """One planned request: its kind, method, path and JSON body."""

    kind: str
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class Outcome:
    kind: str
    status: int  # 0: transport error or timeout
    latency: float  # seconds from the scheduled start to the end of the answer
    service: float  # seconds from the actual send to the end of the answer
    at: float = 0.0  # scheduled start, seconds after the first request's


@dataclass
class Summary:
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    service_p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(int(-(-q * len(ordered) // 100)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def summarise(outcomes: Sequence[Outcome]) -> Summary:
    latency = [o.latency for o in outcomes]
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[str(o.status)] = statuses.get(str(o.status), 0) + 1
    return Summary(
        requests=len(outcomes),
        errors=sum(not 200 <= o.status < 300 for o in outcomes),
        p50_ms=round(1000 * percentile(latency, 50), 2),
        p95_ms=round(1000 * percentile(latency, 95), 2),
        p99_ms=round(1000 * percentile(latency, 99), 2),
        max_ms=round(1000 * max(latency, default=0.0), 2),
        service_p99_ms=round(1000 * percentile([o.service for o in outcomes], 99), 2),
        statuses=dict(sorted(statuses.items())),
    )


def plan_calls(clients: Sequence[str], mix: float) -> Callable[[int], Call]:
    """The i-th request: a GET of the current plan with share ``mix``, else a POST that
    generates one, cycling over ``clients``."""
    cycle = itertools.cycle(clients)

    def make(i: int) -> Call:
        client = next(cycle)
        if int((i + 1) * mix) > int(i * mix):  # the GETs spread evenly, share ``mix``
            return Call("current_plan", "GET", f"/api/v1/clients/{client}/plans/current")
        return Call("generate_plan", "POST", f"/api/v1/clients/{client}/plans", {})

    return make


async def drive(
    base_url: str,
    headers: dict[str, str],
    make: Callable[[int], Call],
    *,
    rate: float,
    duration: float,
    max_requests: int,
    timeout: float = 10.0,
    connections: int = 64,
) -> tuple[list[Outcome], float]:
    """Send ``make(i)`` at ``start + i / rate`` until the count or the time runs out and
    wait for every answer. Returns the outcomes and the seconds it all took.

    At most ``connections`` requests are in flight; later ones wait their turn (the wait
    counts in their latency). A request still waiting ``timeout`` seconds after its
    scheduled start is recorded as a timeout (status 0) without being sent, and every
    request has ``timeout`` seconds to answer, so the run ends by ``duration + 2 *
    timeout`` seconds whatever the server does.
    """
    import aiohttp  # a lighter client than httpx: the load generator shares the cores

    total = min(max_requests, int(rate * duration))
    slots = asyncio.Semaphore(connections)
    outcomes: list[Outcome] = []
    async with aiohttp.ClientSession(
        base_url,
        headers=headers,
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as http:

        async def one(call: Call, due: float) -> None:
            async with slots:
                sent = time.perf_counter()
                if sent - due > timeout:
                    outcomes.append(Outcome(call.kind, 0, sent - due, 0.0, due - start))
                    return
                try:
                    async with http.request(call.method, call.path, json=call.body) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                done = time.perf_counter()
            outcomes.append(Outcome(call.kind, status, done - due, done - sent, due - start))

        start = time.perf_counter()
        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(make(i), due)))
        await asyncio.gather(*tasks)
        return outcomes, time.perf_counter() - start


def write_trace(path: Path, outcomes: Sequence[Outcome]) -> None:
    """One CSV row a request, in schedule order: to see when the slow ones happened."""
    import csv

    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["at_s", "kind", "status", "latency_ms", "service_ms"])
        for o in sorted(outcomes, key=lambda o: o.at):
            writer.writerow(
                [
                    f"{o.at:.4f}",
                    o.kind,
                    o.status,
                    f"{o.latency * 1e3:.2f}",
                    f"{o.service * 1e3:.2f}",
                ]
            )


def report(outcomes: Sequence[Outcome], seconds: float) -> dict[str, Any]:
    kinds = sorted({o.kind for o in outcomes})
    out: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "achieved_rps": round(len(outcomes) / seconds, 1) if seconds else 0.0,
        "all": asdict(summarise(outcomes)),
    }
    for kind in kinds:
        out[kind] = asdict(summarise([o for o in outcomes if o.kind == kind]))
    return out


# --------------------------------------------------------------------------- set-up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DATABASE_URL: str | None = None  # --database-url: an empty PostgreSQL database, say


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTH_ADVISOR_")}
    env.update(
        HEALTH_ADVISOR_HOME=str(home), HEALTH_ADVISOR_ENV="development", TF_CPP_MIN_LOG_LEVEL="3"
    )
    if DATABASE_URL:
        env["HEALTH_ADVISOR_DATABASE_URL"] = DATABASE_URL
    return env


def build_demo(home: Path, clients: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(CLI), "demo", "--no-serve", "--json", "--clients", str(clients)],
        env=environment(home),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def activate_plans(home: Path, count: int) -> list[str]:
    """The coordinator's first ``count`` clients, each with an active plan."""
    os.environ.update(environment(home))
    from sqlalchemy import select

    from health_advisor.catalog import load_catalog
    from health_advisor.config import Settings
    from health_advisor.errors import NotFoundError
    from health_advisor.plans import service
    from health_advisor.plans.scoring import load_champion
    from health_advisor.plans.workflow import Actor
    from health_advisor.store.models import Client, ClientAssignment, User
    from health_advisor.store.session import make_engine, session_scope

    settings = Settings()
    engine = make_engine(settings)
    coordinator, doctor = Actor(COORDINATOR[0], "coordinator"), Actor("doctora", "professional")
    model, fallback = load_champion(settings)
    catalog = load_catalog()
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == COORDINATOR[0]))
        assert user is not None, "run the demo first"
        clients = list(
            session.scalars(
                select(Client.external_id)
                .join(ClientAssignment, ClientAssignment.client_id == Client.id)
                .where(ClientAssignment.user_id == user.id)
                .order_by(Client.id)
                .limit(count)
            )
        )
        for client in clients:
            try:
                service.visible_plan(session, client)
                continue
            except NotFoundError:
                pass
            plan = service.generate(
                session, client, coordinator, catalog=catalog, model=model, fallback=fallback
            )
            for action, actor in (("submit", coordinator), ("approve", doctor)):
                service.transition(session, plan.id, action, actor)
            service.transition(session, plan.id, "activate", coordinator)
    engine.dispose()
    return clients


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return out


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # ended meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """``health-advisor serve`` as a child process on a loopback port."""

    def __init__(self, home: Path, port: int, workers: int = 1) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.command = [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)]
        self.command += ["--workers", str(workers)]
        self.env = environment(home)
        self.log = home / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0

    def __enter__(self) -> Server:
        started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        while time.perf_counter() - started < 60:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    self.ready_seconds = time.perf_counter() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server not ready in 60 s")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server and its worker processes so far."""
        assert self.process is not None
        return sum(_cpu_seconds(pid) for pid in _process_tree(self.process.pid))

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def sign_in(base_url: str, username: str, password: str) -> dict[str, str]:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token",
        data={"username": username, "password": password},
        timeout=10,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def warm_up(base_url: str, headers: dict[str, str], clients: Sequence[str]) -> float:
    """One of each request for 20 clients, each on a new connection so that every worker
    process loads the champion before the measurement; returns the first generation's
    seconds."""
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        first = http.post(f"/api/v1/clients/{clients[0]}/plans", json={})
        first.raise_for_status()
        cold = time.perf_counter() - started
        close = {"Connection": "close"}  # a new connection each: every worker warms up
        for client in clients[:20]:
            http.get(f"/api/v1/clients/{client}/plans/current", headers=close).raise_for_status()
            http.post(f"/api/v1/clients/{client}/plans", json={}, headers=close).raise_for_status()
    return cold


def gc_pauses(base_url: str) -> dict[str, dict[str, float]]:
    """The server's garbage-collector passes so far, summed over its workers, from
    ``/metrics`` (``health_advisor_gc_pause_seconds``): per generation, the count, the
    total seconds and how many took longer than 25 ms."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "health_advisor_gc_pause_seconds":
            continue
        for sample in family.samples:
            row = out.setdefault(sample.labels["generation"], {"count": 0, "seconds": 0.0})
            if sample.name.endswith("_count"):
                row["count"] = sample.value
            elif sample.name.endswith("_sum"):
                row["seconds"] = sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] == "0.025":
                row["within_25ms"] = sample.value
    return out


def gc_during(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Per generation: passes during the run, their total ms and those over 25 ms."""
    out = {}
    for gen, row in sorted(after.items()):
        was = before.get(gen, {})
        count = row["count"] - was.get("count", 0)
        within = row.get("within_25ms", 0) - was.get("within_25ms", 0)
        seconds = row["seconds"] - was.get("seconds", 0.0)
        out[gen] = {
            "passes": int(count),
            "ms": round(seconds * 1e3, 1),
            "over_25ms": int(count - within),
        }
    return out


def print_table(result: dict[str, Any]) -> None:
    heads = ("requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms")
    print(f"{'kind':<15}" + "".join(f"{h:>9}" for h in heads))
    for kind in ("current_plan", "generate_plan", "all"):
        if kind in result["load"]:
            r = result["load"][kind]
            print(
                f"{kind:<15}{r['requests']:>9}{r['errors']:>8}{r['p50_ms']:>9}{r['p95_ms']:>9}"
                f"{r['p99_ms']:>9}{r['max_ms']:>9}"
            )
    load = result["load"]
    print(
        f"target {result['rate']} rps for {result['duration']} s: "
        f"achieved {load['achieved_rps']} rps "
        f"over {load['seconds']} s; server CPU {result['server_cpu_seconds']} s "
        f"({result['server_cpu_share']:.0%} of one core, {result['workers']} worker(s)); "
        f"client CPU {result['client_cpu_seconds']} s; ready in {result['server_ready_s']} s"
    )
    gcs = ", ".join(
        f"gen{g}: {r['passes']} ({r['ms']} ms, {r['over_25ms']} over 25 ms)"
        for g, r in result["gc_pauses"].items()
    )
    print(f"server GC passes during the run: {gcs or 'none reported'}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=4000)
    parser.add_argument("--mix", type=float, default=0.5, help="share of GET current plan")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--clients-with-plans", type=int, default=100)
    parser.add_argument("--home", type=Path, help="reuse a demo home (built when empty)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--connections", type=int, default=64, help="most requests in flight")
    parser.add_argument("--workers", type=int, default=2, help="server processes (one per core)")
    parser.add_argument(
        "--database-url", help="store (default: SQLite in the home); an empty database"
    )
    parser.add_argument(
        "--trace", type=Path, help="also write every request (at, kind, status, ms) as CSV"
    )
    args = parser.parse_args(argv)
    global DATABASE_URL
    DATABASE_URL = args.database_url

    scratch = tempfile.TemporaryDirectory(prefix="ha-load-") if args.home is None else None
    home = args.home or Path(scratch.name) / "var"  # type: ignore[union-attr]
    demo_seconds = None
    if not (home / "demo-clinic").exists():
        home.mkdir(parents=True, exist_ok=True)
        demo_seconds = round(build_demo(home, args.clients), 1)
    clients = activate_plans(home, args.clients_with_plans)
    with Server(home, args.port or free_port(), args.workers) as server:
        headers = sign_in(server.url, *COORDINATOR)
        cold = warm_up(server.url, headers, clients)
        gc_before = gc_pauses(server.url)
        cpu_before, client_before = server.cpu_seconds(), time.process_time()
        gc.disable()  # the load generator's own collector pauses would count as latency
        outcomes, seconds = asyncio.run(
            drive(
                server.url,
                headers,
                plan_calls(clients, args.mix),
                rate=args.rate,
                duration=args.duration,
                max_requests=args.max_requests,
                connections=args.connections,
            )
        )
        gc.enable()
        cpu = server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        gc_after = gc_pauses(server.url)
        result = {
            "rate": args.rate,
            "duration": args.duration,
            "database": "postgresql" if args.database_url else "sqlite",
            "connections": args.connections,
            "workers": args.workers,
            "mix_get": args.mix,
            "clients_with_plans": len(clients),
            "demo_seconds": demo_seconds,
            "server_ready_s": round(server.ready_seconds, 2),
            "first_generation_s": round(cold, 2),
            "server_cpu_seconds": round(cpu, 1),
            "server_cpu_share": cpu / seconds if seconds else 0.0,
            "client_cpu_seconds": round(client_cpu, 1),
            "gc_pauses": gc_during(gc_before, gc_after),
            "load": report(outcomes, seconds),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": os.getloadavg(),
            },
        }
    print_table(result)
    if args.trace is not None:
        write_trace(args.trace, outcomes)
    out = ROOT / "bench" / "results" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if scratch is not None:
        scratch.cleanup()
    return 1 if result["load"]["all"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
