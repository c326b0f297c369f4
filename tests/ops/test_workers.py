"""``health-advisor serve --workers 2``: two processes share the port, and ``/metrics``
answers the sum over both, whichever worker serves the scrape."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import free_port

CLI = Path(sys.executable).with_name("health-advisor")
HEALTHZ = re.compile(
    r'^health_advisor_http_requests_total\{[^}]*route="/healthz"[^}]*\} (\S+)$', re.M
)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def test_two_workers_report_one_sum(tmp_path: Path) -> None:
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to see the worker processes")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTH_ADVISOR_")}
    env.update(HEALTH_ADVISOR_HOME=str(tmp_path / "home"), HEALTH_ADVISOR_ENV="development")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [str(CLI), "serve", "--port", str(port), "--workers", "2"]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        folder = tmp_path / "home" / "run" / "prometheus"
        deadline = time.monotonic() + 60
        while True:  # both workers have built their app (each made its gauge file)
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            if len(list(folder.glob("gauge_livesum_*.db"))) == 2:
                break
            assert time.monotonic() < deadline, "two workers not up in 60 s"
            time.sleep(0.1)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server not answering in 60 s"
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=5) as http:  # new connections: both workers
            for _ in range(39):
                assert http.get("/healthz", headers={"Connection": "close"}).status_code == 200
            workers = _children(server.pid)
            scrapes = [http.get("/metrics", headers={"Connection": "close"}).text for _ in range(6)]
        assert len(workers) >= 2, workers
        totals = {sum(float(v) for v in HEALTHZ.findall(text)) for text in scrapes}
        assert totals == {40.0}, totals  # the readiness probe + 39, in every scrape
        assert {p.name for p in folder.glob("counter_*.db")}  # counters live in the folder
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
