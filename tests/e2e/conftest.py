"""A real server on a free loopback port, on a temporary SQLite store seeded with a
small synthetic clinic, and Debian's headless Chromium driven by Playwright.

The browser is the system's (``/usr/bin/chromium``; ``.ci/run`` installs it): nothing is
downloaded. Without it the tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from health_advisor.api.app import create_app
from health_advisor.config import Settings
from health_advisor.features import service as features
from health_advisor.ingest.service import ingest_paths
from health_advisor.security import users
from health_advisor.security.consent import RECOMMENDATIONS, record_consent
from health_advisor.store import migrate, repositories
from health_advisor.store.models import Client
from health_advisor.store.session import make_engine, session_scope
from health_advisor.synth import generate_clinic
from health_advisor.web.app import mount_web

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PASSWORD = "e2e password that is long enough"
CLINIC_DIRS = ("surveys", "seed", "fitbit", "interactions")
ACCOUNTS = {"coordinator": "coco", "professional": "dra.rios", "client": "ana"}


@dataclass(frozen=True)
class Clinic:
    base_url: str
    engine: Engine
    client_id: str  # the external id of the client whose journey the test follows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(engine: Engine, clinic_dir: Path) -> str:
    ingest_paths(engine, [clinic_dir / d for d in CLINIC_DIRS])
    with session_scope(engine) as session:
        latest = repositories.latest_observation(session=session)
    assert latest is not None
    features.build(engine, as_of=latest.date())
    with session_scope(engine) as session:
        client = session.scalar(select(Client).order_by(Client.external_id).limit(1))
        assert client is not None
        record_consent(session, client, RECOMMENDATIONS, True, "signed intake form")
        users.add_user(session, ACCOUNTS["coordinator"], "coordinator", PASSWORD)
        users.add_user(session, ACCOUNTS["professional"], "professional", PASSWORD)
        users.add_user(session, ACCOUNTS["client"], "client", PASSWORD, client.external_id)
        users.assign_client(session, ACCOUNTS["coordinator"], client.external_id)
        return client.external_id


class _Server(threading.Thread):
    """uvicorn in a thread (it installs no signal handlers off the main thread)."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        super().__init__(daemon=True)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()

    def wait_started(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {CHROMIUM} is missing (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not found: end-to-end browser tests skipped")


@pytest.fixture(scope="module")
def clinic(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    root = tmp_path_factory.mktemp("e2e")
    settings = Settings(home=root / "var", env="test")
    engine = make_engine(settings)
    migrate.upgrade(engine)
    generate_clinic(root / "clinic", clients=6, days=35, seed=11)
    client_id = _seed(engine, root / "clinic")
    app = create_app(settings, engine=engine)
    mount_web(app, settings)
    port = _free_port()
    server = _Server(app, port)
    server.start()
    try:
        server.wait_started()
        yield Clinic(f"http://127.0.0.1:{port}", engine, client_id)
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            yield launched
        finally:
            launched.close()
