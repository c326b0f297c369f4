"""Deployment files: compose validates, Prometheus's config and rules pass promtool and
their unit tests, the committed dashboards are what the generator makes, the Dockerfile
is multi-stage, unprivileged and health-checked, and the production checklist exists.

``docker-compose`` (Debian's 1.29, which validates against the compose specification's
JSON schema without a Docker engine) and ``promtool`` (Debian's ``prometheus`` package)
are skipped when absent, and required in CI (CI=true).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from .conftest import DEPLOY, need_binary

ENV_EXAMPLE = DEPLOY / ".env.example"
COMPOSE = DEPLOY / "compose.yaml"
SERVICES = {
    "api",
    "migrate",
    "postgres",
    "mlflow",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "prometheus",
    "grafana",
}


def filled_env(tmp_path: Path, *, blank: str | None = None) -> Path:
    """deploy/.env.example with every empty secret filled (``blank`` left empty)."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#") and not value and name != blank:
            line = f"{name}=ci-secret-{name.lower()}"
        lines.append(line)
    path = tmp_path / "ci.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = need_binary("docker-compose")
    command = [binary, "--env-file", str(env_file), "-f", str(COMPOSE), "config", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_compose_file_validates(tmp_path: Path) -> None:
    result = compose(filled_env(tmp_path))
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == SERVICES
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            published = port if isinstance(port, str) else f"{port.get('host_ip')}:{port}"
            assert published.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    api = config["services"]["api"]
    assert api["environment"]["HEALTH_ADVISOR_ENV"] == "production"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_refuses_a_missing_secret(tmp_path: Path) -> None:
    result = compose(filled_env(tmp_path, blank="HEALTH_ADVISOR_ENCRYPTION_KEY"), "-q")
    assert result.returncode != 0
    assert "set HEALTH_ADVISOR_ENCRYPTION_KEY in deploy/.env" in result.stderr


def test_every_compose_variable_is_documented() -> None:
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    documented = {
        line.partition("=")[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert sorted(used - documented) == []
    assert sorted(documented - used) == []


def promtool(*args: str, cwd: Path = DEPLOY / "prometheus") -> subprocess.CompletedProcess[str]:
    binary = need_binary("/usr/bin/promtool")
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_prometheus_config_and_rules_pass_promtool(tmp_path: Path) -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 11 rules found" in checked.stdout
    syntax = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    # The full check also opens the files the config names: point them at real ones.
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    token = tmp_path / "metrics_token"
    token.write_text("ci-token")
    (tmp_path / "alerts.yml").write_text((DEPLOY / "prometheus" / "alerts.yml").read_text())
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/prometheus/.metrics_token", str(token))
    )
    full = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert full.returncode == 0, full.stdout + full.stderr


def test_alert_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def grafana_generator() -> ModuleType:
    try:
        import grafana_foundation_sdk  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but grafana-foundation-sdk is not installed")
        pytest.skip("grafana-foundation-sdk is not installed")
    path = DEPLOY / "grafana" / "generate.py"
    spec = importlib.util.spec_from_file_location("grafana_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_dashboards_are_what_the_generator_makes(tmp_path: Path) -> None:
    generate = grafana_generator()
    rendered = generate.render()
    committed = {p.name: p.read_text() for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")}
    assert (
        sorted(rendered)
        == sorted(committed)
        == ["engagement.json", "model.json", "operations.json"]
    )
    stale = [name for name, text in rendered.items() if committed[name] != text]
    assert stale == [], "run: .venv/bin/python deploy/grafana/generate.py"
    assert generate.main(["--check"]) == 0
    assert generate.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "model.json").read_text() == committed["model.json"]


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"][0]["uid"]
    uids = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        uids.append(dashboard["uid"])
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == provisioned, panel["title"]
    assert len(uids) == len(set(uids)) == 3


def dockerfile_stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if stages and line and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_unprivileged_and_health_checked() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert final[0].endswith(" AS runtime")
    assert any(line.startswith("COPY --from=build ") for line in final)
    user = next(line.split()[1] for line in final if line.startswith("USER "))
    assert user.split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK ") for line in final)
    assert not any("pip install" in line for line in final), "the runtime stage builds nothing"


def test_production_checklist_is_written() -> None:
    text = (DEPLOY / "README.md").read_text().lower()
    for topic in ("secrets", "backups", "tls", "checklist", "restore"):
        assert topic in text, topic
