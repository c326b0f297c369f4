"""Operations tests: a small seeded clinic, the API served for real on loopback, and the
deployment files.

:func:`seed_clinic` stores what every metric has something to count: two clients with
snapshots and consents, one user per role, an active plan with a check-in, an urgent
alert. :class:`LiveServer` runs uvicorn in a thread on a free loopback port, so
Prometheus, the load test and the outage test talk to a real HTTP server.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from health_advisor.catalog import load_catalog
from health_advisor.security import consent
from health_advisor.store.models import Client, User
from health_advisor.store.session import session_scope

from ..seeding import add_alert, add_client, add_snapshot, add_users, store_catalog

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CLIENTS = ("ops-client-a", "ops-client-b")
ROLES = {"admin": None, "coordinator": None, "professional": None, "client": CLIENTS[0]}


def need_binary(path: str) -> str:
    """The tool at ``path``: skipped when absent, except in CI (CI=true), where it fails."""
    found = (
        shutil.which(path) if not os.path.isabs(path) else (path if Path(path).exists() else None)
    )
    if found:
        return found
    message = f"{path} is not installed (Debian: apt-get install prometheus / docker-compose)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


@dataclass
class Clinic:
    users: dict[str, User] = field(default_factory=dict)
    plan_id: int = 0


def _consenting_client(
    session: Session,
    external_id: str,
    *,
    name: str,
    sex: str,
    birth_year: int,
    **snapshot: Any,
) -> Client:
    """A client consenting to every purpose, with an intake snapshot (``add_snapshot``'s
    keywords)."""
    client = add_client(
        session,
        purposes=consent.PURPOSES,
        note="form",
        external_id=external_id,
        name=name,
        sex=sex,
        birth_year=birth_year,
    )
    add_snapshot(session, client, **snapshot)
    return client


def seed_clinic(engine: Engine) -> Clinic:
    """Two clients, one user per role, an active plan with a check-in, alerts."""
    from health_advisor.plans import service
    from health_advisor.plans.workflow import Actor

    clinic = Clinic()
    with session_scope(engine) as session:
        catalog = store_catalog(session)
        for k, ext in enumerate(CLIENTS):
            _consenting_client(session, ext, name=f"Cliente {k}", sex="female", birth_year=1980)
        accounts = {role: (f"ops-{role}", role, linked) for role, linked in ROLES.items()}
        clinic.users = add_users(session, accounts, password="ops-test-password")
        first = session.scalar(select(Client).where(Client.external_id == CLIENTS[0]))
        assert first is not None
        add_alert(
            session,
            first,
            start=dt.date(2026, 10, 30),
            days=0,
            kind="hypertensive_crisis",
            severity="urgent",
            metric="8480-6",
            explanation="systolic 185 mm Hg",
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
        )
        session.flush()
        coord, doctor = (
            Actor("ops-coordinator", "coordinator"),
            Actor("ops-professional", "professional"),
        )
        plan = service.generate(session, CLIENTS[0], coord, catalog=catalog, model=None)
        for action, actor in (("submit", coord), ("approve", doctor), ("activate", coord)):
            service.transition(session, plan.id, action, actor)
        item = plan.items[0]
        week = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=7)
        service.add_checkin(
            session, CLIENTS[0], item.intervention_id, coord, week=week, adherence_pct=80
        )
        clinic.plan_id = plan.id
    return clinic


def add_planned_clients(engine: Engine, count: int) -> list[str]:
    """``count`` more clients, each consenting, with a snapshot and an active plan."""
    from health_advisor.plans import service
    from health_advisor.plans.workflow import Actor

    catalog = load_catalog()
    coord, doctor = (
        Actor("ops-coordinator", "coordinator"),
        Actor("ops-professional", "professional"),
    )
    made = []
    with session_scope(engine) as session:
        for k in range(count):
            ext = f"ops-load-{k:03d}"
            _consenting_client(
                session,
                ext,
                name=f"Carga {k}",
                sex="male",
                birth_year=1970 + k,
                steps_7d=5000.0 + 100 * k,
                category="low",
                reason="-",
            )
            session.flush()
            plan = service.generate(session, ext, coord, catalog=catalog, model=None)
            for action, actor in (("submit", coord), ("approve", doctor), ("activate", coord)):
                service.transition(session, plan.id, action, actor)
            made.append(ext)
    return made


def bearer(app: FastAPI, user: User) -> dict[str, str]:
    token, _ = app.state.signer.issue(user)
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def seed_pipeline(engine: Engine) -> None:
    """Pipeline records as the steps leave them: an ingest that stored rows, a failed
    training, a drift report above the threshold, one assessed file."""
    from health_advisor.store.models import DataQuality, DataSource, DriftReport, PipelineRun

    now = dt.datetime.now(dt.UTC)
    with session_scope(engine) as session:
        ingest = PipelineRun(
            run_id="run-ops",
            step="ingest",
            status="success",
            triggered_by="test",
            started_at=now - dt.timedelta(minutes=30),
            ended_at=now - dt.timedelta(minutes=29),
            counts={"files": 1, "measurements": 120, "quarantined": 3, "reason": "text"},
        )
        train = PipelineRun(
            run_id="run-ops",
            step="train",
            status="failed",
            triggered_by="test",
            started_at=now - dt.timedelta(minutes=20),
            ended_at=now - dt.timedelta(minutes=19),
            counts={},
            error="MemoryError: cannot allocate",
        )
        source = DataSource(
            kind="csv", file_name="ops.csv", sha256="f" * 64, size_bytes=10, parser_version="1"
        )
        session.add_all([ingest, train, source])
        session.flush()
        session.add(
            DataQuality(
                source_id=source.id,
                pipeline_run_id=ingest.id,
                kind="csv",
                records_read=130,
                measurements_stored=120,
                duplicates=7,
                quarantined=3,
                quarantine_share=3 / 130,
                duplicate_share=7 / 130,
                flagged=False,
                metrics={},
            )
        )
        session.add(
            DriftReport(
                reference_as_of=dt.date(2026, 10, 1),
                current_as_of=dt.date(2026, 11, 1),
                feature_version="1.0.0",
                model_version=None,
                reference_clients=2,
                current_clients=2,
                features_checked=2,
                features_drifted=1,
                max_psi=0.4,
                psi_threshold=0.25,
                drifted=True,
                features={"steps_7d": {"psi": 0.4, "ks_p": 0.01}, "sleep_7d": {"psi": 0.05}},
                retrain_requested=True,
            )
        )
