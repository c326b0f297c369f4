"""``GET /metrics``: what it counts, with which labels, who may read it, and how it
behaves when a source fails."""

from __future__ import annotations

import warnings

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from health_advisor.api import metrics
from health_advisor.api.app import create_app
from health_advisor.config import Settings

from .conftest import CLIENTS, bearer, seed_clinic

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Sample = tuple[str, dict[str, str], float]


def scrape(http: TestClient, **headers: str) -> list[Sample]:
    response = http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [v for n, lab, v in samples if n == name and labels.items() <= lab.items()]
    assert found, f"no sample {name}{labels}"
    return sum(found)


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    return create_app(settings, engine=engine)


def test_traffic_and_clinic_figures(app: FastAPI, engine: Engine) -> None:
    clinic = seed_clinic(engine)
    admin = bearer(app, clinic.users["admin"])
    with TestClient(app) as http:
        for ext in CLIENTS:
            assert http.get(f"/api/v1/clients/{ext}", headers=admin).status_code == 200
        assert http.get(f"/api/v1/clients/{CLIENTS[0]}").status_code == 401
        assert http.get("/no/such/page/12345").status_code == 404
        samples = scrape(http)

    requests = "health_advisor_http_requests_total"
    route = "/api/v1/clients/{client_id}"
    assert value(samples, requests, route=route, status="200", method="GET") == 2
    assert value(samples, requests, route=route, status="401") == 1
    assert value(samples, requests, route="<unmatched>", status="404") == 1
    assert value(samples, "health_advisor_http_request_duration_seconds_count", route=route) == 3
    assert value(samples, "health_advisor_clients") == 2
    assert value(samples, "health_advisor_plans", status="active") == 1
    assert value(samples, "health_advisor_plan_events_total", action="created") == 1
    assert value(samples, "health_advisor_plan_events_total", action="approve") == 1
    assert value(samples, "health_advisor_checkins_total") == 1
    assert value(samples, "health_advisor_active_plans", risk_category="moderate") == 1
    assert value(samples, "health_advisor_adherence_percent", risk_category="moderate") == 80
    assert value(samples, "health_advisor_alerts_open", severity="urgent") == 1
    assert value(samples, "health_advisor_alerts_oldest_open_age_seconds", severity="urgent") > 7000
    assert value(samples, "health_advisor_plan_targets_plans") == 1
    assert value(samples, "health_advisor_plan_targets") >= 1
    assert value(samples, "health_advisor_model_versions") == 0
    assert {
        lab["group"] for n, lab, v in samples if n == "health_advisor_collector_up" and v == 1
    } == {
        "store",
        "pipeline",
        "engagement",
        "outcomes",
        "model",
    }


def test_no_identifier_becomes_a_label(app: FastAPI, engine: Engine) -> None:
    clinic = seed_clinic(engine)
    headers = bearer(app, clinic.users["admin"])
    with TestClient(app) as http:
        for ext in (*CLIENTS, "someone-else"):
            http.get(f"/api/v1/clients/{ext}", headers=headers)
        http.get(f"/api/v1/plans/{clinic.plan_id}", headers=headers)
        samples = scrape(http)
    values = {v for _, labels, _ in samples for v in labels.values()}
    secrets = {
        *CLIENTS,
        "someone-else",
        f"/api/v1/plans/{clinic.plan_id}",
        *(u.username for u in clinic.users.values()),
    }
    assert not {v for v in values if any(s in v for s in secrets)}


class TokenSettings(Settings):
    metrics_token: str | None = None


def test_metrics_token_is_required_when_configured(engine: Engine, settings: Settings) -> None:
    """Settings gains ``metrics_token`` (HEALTH_ADVISOR_METRICS_TOKEN); the route reads it."""
    configured = TokenSettings(home=settings.home, env="test", metrics_token="s3cret-scrape")
    app = create_app(configured, engine=engine)
    with TestClient(app) as http:
        refused = http.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert (
            value(scrape(http, Authorization="Bearer s3cret-scrape"), "health_advisor_clients") == 0
        )


def test_openmetrics_on_request(app: FastAPI) -> None:
    with TestClient(app) as http:
        response = http.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_failing_source_is_reported_not_fatal(app: FastAPI, engine: Engine) -> None:
    def broken() -> list[object]:
        raise RuntimeError("connection refused")

    collector = metrics.StoreCollector(engine, app.state.settings)
    collector.groups[0].read = broken  # type: ignore[assignment]
    registry = metrics.ApiMetrics().registry
    registry.register(collector)
    samples = list(metrics.samples(registry))
    up = {lab["group"]: v for n, lab, v in samples if n == "health_advisor_collector_up"}
    assert up["store"] == 0 and up["pipeline"] == 1
    assert not [n for n, _, _ in samples if n == "health_advisor_clients"]


def test_groups_are_cached_for_their_ttl(engine: Engine, settings: Settings) -> None:
    now = [100.0]
    collector = metrics.StoreCollector(engine, settings, ttl=10, clock=lambda: now[0])
    reads = []
    store = collector.groups[0]
    original = store.read
    store.read = lambda: reads.append(1) or original()  # type: ignore[assignment,func-returns-value]
    collector.collect()
    now[0] += 5
    collector.collect()
    assert len(reads) == 1
    now[0] += 6
    collector.collect()
    assert len(reads) == 2


def test_route_template_of_unrouted_scope() -> None:
    assert metrics.route_template({"type": "http"}) == metrics.UNMATCHED


def test_a_failed_group_is_retried_before_its_ttl(engine: Engine, settings: Settings) -> None:
    now = [0.0]
    collector = metrics.StoreCollector(engine, settings, outcomes_ttl=300, clock=lambda: now[0])
    outcomes = next(g for g in collector.groups if g.name == "outcomes")
    healthy, calls = outcomes.read, []

    def flaky() -> list[object]:
        calls.append(now[0])
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return healthy()  # type: ignore[return-value]

    outcomes.read = flaky  # type: ignore[assignment]
    collector.collect()
    assert not outcomes.up
    now[0] = metrics.FAILURE_RETRY + 1
    collector.collect()
    assert outcomes.up and calls == [0.0, metrics.FAILURE_RETRY + 1]


def test_gc_passes_are_timed_by_generation(app: FastAPI) -> None:
    import gc

    api_metrics: metrics.ApiMetrics = app.state.metrics
    callback = api_metrics.watch_gc()
    try:
        gc.collect()  # a full pass
        gc.collect(0)
    finally:
        gc.callbacks.remove(callback)
    gc.collect()  # no longer watched
    with TestClient(app) as http:
        samples = scrape(http)
    assert value(samples, "health_advisor_gc_pause_seconds_count", generation="2") == 1
    assert value(samples, "health_advisor_gc_pause_seconds_count", generation="0") >= 1
    assert value(samples, "health_advisor_gc_pause_seconds_sum", generation="2") > 0
