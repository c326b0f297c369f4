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
from functools import lru_cache
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from health_advisor.catalog import load_catalog
from health_advisor.security import consent, passwords
from health_advisor.store import repositories
from health_advisor.store.models import Alert, Client, FeatureSnapshot, User
from health_advisor.store.session import session_scope

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


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return passwords.hash_password("ops-test-password")


@dataclass
class Clinic:
    users: dict[str, User] = field(default_factory=dict)
    plan_id: int = 0


def seed_clinic(engine: Engine) -> Clinic:
    """Two clients, one user per role, an active plan with a check-in, alerts."""
    from health_advisor.plans import service
    from health_advisor.plans.workflow import Actor

    catalog = load_catalog()
    clinic = Clinic()
    with session_scope(engine) as session:
        repositories.store_catalog(
            session=session,
            version=catalog.version,
            content_hash=catalog.content_hash,
            items=[i.model_dump(mode="json") for i in catalog.interventions],
        )
        for k, ext in enumerate(CLIENTS):
            client = Client(external_id=ext, name=f"Cliente {k}", sex="female", birth_year=1980)
            session.add(client)
            session.flush()
            for purpose in consent.PURPOSES:
                consent.record_consent(session, client, purpose, True, "form")
            session.add(
                FeatureSnapshot(
                    client_id=client.id,
                    as_of=dt.date(2026, 11, 1),
                    feature_version="1.0.0",
                    features={"steps_7d": 6500.0},
                    risk={"overall": {"category": "moderate", "reason": "stage 1"}},
                )
            )
        for role, linked in ROLES.items():
            pk = session.scalar(select(Client.id).where(Client.external_id == linked))
            user = User(
                username=f"ops-{role}",
                password_hash=_password_hash(),
                role=role,
                client_id=pk,
                active=True,
                failed_logins=0,
            )
            session.add(user)
            clinic.users[role] = user
        first = session.scalar(select(Client).where(Client.external_id == CLIENTS[0]))
        assert first is not None
        session.add(
            Alert(
                client_id=first.id,
                dedup_key=f"{CLIENTS[0]}|hypertensive_crisis|2026-10-30",
                kind="hypertensive_crisis",
                severity="urgent",
                metric="8480-6",
                window_start=dt.date(2026, 10, 30),
                window_end=dt.date(2026, 10, 30),
                explanation="systolic 185 mm Hg",
                created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
            )
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
            client = Client(external_id=ext, name=f"Carga {k}", sex="male", birth_year=1970 + k)
            session.add(client)
            session.flush()
            for purpose in consent.PURPOSES:
                consent.record_consent(session, client, purpose, True, "form")
            session.add(
                FeatureSnapshot(
                    client_id=client.id,
                    as_of=dt.date(2026, 11, 1),
                    feature_version="1.0.0",
                    features={"steps_7d": 5000.0 + 100 * k},
                    risk={"overall": {"category": "low", "reason": "-"}},
                )
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
