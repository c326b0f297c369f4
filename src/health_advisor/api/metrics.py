"""Prometheus metrics at ``GET /metrics``: traffic measured in process, the clinic's
figures read from the store when Prometheus scrapes.

Two sources, one registry per app (so tests may build many apps in one process):

- :class:`HttpMetrics`, a pure ASGI middleware: requests and latency by method, route
  *template* (``/api/v1/clients/{client_id}``, never the filled-in path) and status,
  unhandled exceptions by class, requests in flight. With several workers on one port
  they are summed over the workers (prometheus_client's multiprocess mode, see
  :class:`ApiMetrics`).
- :class:`StoreCollector`, read on scrape and cached per group for a few seconds: plans by
  status, plan events (generated, approved, ...), check-ins, active plans by risk
  category, recent adherence by domain and risk category, plan targets on track, open
  alerts by severity and kind, ingested records; the pipeline's latest step runs, data
  quality and drift (:func:`health_advisor.pipeline.records.latest_figures`); the champion
  model and its metrics (the MLflow registry). Counted from the store, these are the same
  whichever worker answers, and include what the CLI, the pipeline and Airflow did.

Labels are low-cardinality on purpose: route templates, status codes, steps, domains,
risk categories, alert severities and kinds, model versions (the latest few). No client,
user, plan or request id ever becomes a label. A group whose source fails (the database
is down, no model registry yet) is reported by ``health_advisor_collector_up{group}``
= 0 and leaves its metrics out, rather than failing the scrape.

Access: ``/metrics`` is public when ``Settings.metrics_token`` is unset (the default,
for loopback and development); when it is set, the route needs ``Authorization: Bearer
<token>`` (Prometheus: ``authorization.credentials_file``). The figures are aggregates
without personal data, but they describe the clinic's activity: deployments set the token
or keep the route off the public proxy (see ``deploy/README.md``).
"""

from __future__ import annotations

import atexit
import datetime as dt
import hmac
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine, and_, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from health_advisor.config import Settings
from health_advisor.security.errors import AuthenticationFailed

__all__ = [
    "LATENCY_BUCKETS",
    "ApiMetrics",
    "HttpMetrics",
    "StoreCollector",
    "install",
    "route_template",
]

log = logging.getLogger("health_advisor.api.metrics")
PREFIX = "health_advisor"
# Around the 100 ms p99 target, with room for PDFs (seconds) and slow outliers.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
UNMATCHED = "<unmatched>"  # no route matched (404s of probes): one label, not their paths
FAILURE_RETRY = 10.0  # seconds before a group that failed is read again
ADHERENCE_WINDOW_DAYS = 28
MAX_OUTCOME_PLANS = 2000  # targets on track: the most recently activated plans, at most
MODEL_VERSIONS_SHOWN = 10
MODEL_METRIC = re.compile(
    r"^((warm|cold)\.)?(ndcg_at_10|rmse|mae|precision_at_10|recall_at_10|map_at_10|coverage)$"
)
KNOWN = {
    "plan_action": {
        "created",
        "submit",
        "approve",
        "reject",
        "activate",
        "complete",
        "superseded",
        "item_added",
        "item_removed",
        "item_swapped",
    },
    "risk": {"low", "moderate", "high", "urgent", "unknown"},
    "domain": {"exercise", "nutrition", "sleep", "stress", "prevention"},
}


def _known(kind: str, value: object) -> str:
    """``value`` if it is one of the expected label values, else ``other``: a label's
    values stay bounded whatever the data holds."""
    text = str(value) if value is not None else "unknown"
    return text if text in KNOWN[kind] else "other"


# --------------------------------------------------------------------------- HTTP


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class ApiMetrics:
    """The in-process metrics of one app, in its own registry.

    With several workers (``health-advisor serve --workers N``), ``multiprocess_dir`` is
    prometheus_client's multiprocess folder (``PROMETHEUS_MULTIPROC_DIR``, set by
    :func:`health_advisor.api.app.serve` before the workers start): every worker writes
    its counters there and whichever worker answers a scrape reports the sum over all of
    them, so one port gives one consistent view. The per-process collectors (CPU, memory,
    GC) are left out in that mode: they would describe only the worker that answered.
    """

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    multiprocess_dir: str | None = None

    def __post_init__(self) -> None:
        disable_created_metrics()  # no ``*_created`` series: they double the series count
        shared = self.multiprocess_dir is not None
        r = None if shared else self.registry  # shared: values live in the folder's files
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time from receiving a request to the end of its answer.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.exceptions = Counter(
            f"{PREFIX}_http_exceptions",
            "Requests that raised an unexpected exception (answered 500 or 503), by class.",
            ["route", "exception"],
            registry=r,
        )
        self.in_flight = Gauge(
            f"{PREFIX}_http_requests_in_flight",
            "Requests being served now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.gc_pauses = Histogram(
            f"{PREFIX}_gc_pause_seconds",
            "Garbage-collector passes of the server's workers, by generation: every request "
            "in the worker waits for one (observed once the server calls watch_gc).",
            ["generation"],
            buckets=GC_BUCKETS,
            registry=r,
        )
        if shared:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry, path=self.multiprocess_dir)
            # a worker that stops takes its in-flight gauge with it (its counters stay)
            atexit.register(multiprocess.mark_process_dead, os.getpid(), self.multiprocess_dir)
        else:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def watch_gc(self) -> Callable[[str, dict[str, Any]], None]:
        """Time every garbage-collector pass of this process into ``gc_pauses``.

        Process-wide (``gc.callbacks``), so only the server calls it, once per worker;
        returns the callback (remove it from ``gc.callbacks`` to stop). A full pass over a
        large heap stalls every request in flight: this is how it shows in Grafana.
        """
        import gc

        started = [0.0]

        def callback(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pause = time.perf_counter() - started[0]
                self.gc_pauses.labels(str(info["generation"])).observe(pause)

        gc.callbacks.append(callback)
        return callback

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template (a Mount's prefix for static files), or
    :data:`UNMATCHED`; Starlette leaves the route on the scope once it has routed."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetrics:
    """Counts and times every HTTP request (installed outermost, so it sees the status
    that was actually sent, including the 500/503 made by :mod:`.middleware`)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            route = route_template(scope)
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
            failed = scope.get("state", {}).get("unhandled_exception")
            if failed:
                self.metrics.exceptions.labels(route, failed).inc()


# --------------------------------------------------------------------------- store


Families = list[Metric]
Rows = dict[tuple[str, ...], float]  # label values -> sample value


@dataclass
class _Group:
    """One source of figures, re-read at most every ``ttl`` seconds."""

    name: str
    ttl: float
    read: Callable[[], Families]
    families: Families = field(default_factory=list)
    up: bool = False
    seconds: float = 0.0
    at: float = -math.inf

    def refresh(self, now: float) -> None:
        if now - self.at < self.ttl:
            return
        began = time.perf_counter()
        try:
            self.families, self.up = self.read(), True
        except Exception as exc:  # a failing source is reported, never fails the scrape
            log.warning("metrics group %s unavailable: %s", self.name, _one_line(exc))
            self.families, self.up = [], False
        self.seconds = time.perf_counter() - began
        # A failure is retried within FAILURE_RETRY seconds, however long the group's ttl.
        self.at = now if self.up else now - max(self.ttl - FAILURE_RETRY, 0.0)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


class StoreCollector(Collector):
    """The clinic's figures from the store, the pipeline's records and the registry."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        ttl: float = 10.0,
        slow_ttl: float = 60.0,
        outcomes_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self._lock = threading.Lock()
        self.groups = [
            _Group("store", ttl, lambda: store_families(engine)),
            _Group("pipeline", ttl, lambda: pipeline_families(engine)),
            _Group("engagement", slow_ttl, lambda: engagement_families(engine)),
            _Group("outcomes", outcomes_ttl, lambda: outcome_families(engine)),
            _Group("model", slow_ttl, lambda: model_families(settings)),
        ]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = self.clock()
            for group in self.groups:
                group.refresh(now)
            families = [f for g in self.groups for f in g.families]
            families.extend(self._health())
        return families

    def _health(self) -> Families:
        up = GaugeMetricFamily(
            f"{PREFIX}_collector_up",
            "Whether the group's source answered on its last read (0: database down, ...).",
            labels=["group"],
        )
        took = GaugeMetricFamily(
            f"{PREFIX}_collector_duration_seconds",
            "How long the group's last read took.",
            labels=["group"],
        )
        for g in self.groups:
            up.add_metric([g.name], 1.0 if g.up else 0.0)
            took.add_metric([g.name], g.seconds)
        return [up, took]


def _gauge(name: str, doc: str, rows: Mapping[tuple[str, ...], float], labels: list[str]) -> Metric:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
    for key, value in sorted(rows.items()):
        family.add_metric(list(key), float(value))
    return family


def _counter(
    name: str, doc: str, rows: Mapping[tuple[str, ...], float], labels: list[str]
) -> Metric:
    family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)
    for key, value in sorted(rows.items()):
        family.add_metric(list(key), float(value))
    return family


def _scalar(name: str, doc: str, value: float) -> Metric:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=float(value))


def _grouped(rows: Iterable[Any], *, kinds: tuple[str | None, ...]) -> Rows:
    """Sum the last column of ``rows`` by the leading columns, each mapped through
    :func:`_known` when a kind is given (so unexpected values pool under ``other``)."""
    out: Rows = {}
    for row in rows:
        *keys, value = row
        key = tuple(
            _known(kind, k) if kind else str(k) for kind, k in zip(kinds, keys, strict=True)
        )
        out[key] = out.get(key, 0.0) + float(value or 0)
    return out


def store_families(engine: Engine) -> Families:
    """Plans, events, check-ins, alerts and ingested records: a few grouped counts."""
    from health_advisor.plans.workflow import STATES
    from health_advisor.store.models import (
        Alert,
        CheckIn,
        Client,
        DataSource,
        Plan,
        PlanEvent,
    )
    from health_advisor.store.session import session_scope

    with session_scope(engine) as s:
        clients = s.scalar(select(func.count(Client.id))) or 0
        plans: Rows = {(k,): 0.0 for k in STATES}
        plans.update(
            _grouped(
                s.execute(select(Plan.status, func.count()).group_by(Plan.status)), kinds=(None,)
            )
        )
        events = _grouped(
            s.execute(select(PlanEvent.action, func.count()).group_by(PlanEvent.action)),
            kinds=("plan_action",),
        )
        checkins = s.scalar(select(func.count(CheckIn.id))) or 0
        alerts = s.execute(
            select(
                Alert.severity,
                Alert.kind,
                func.count(),
                func.count(Alert.id).filter(Alert.acknowledged_at.is_(None)),
            ).group_by(Alert.severity, Alert.kind)
        ).all()
        oldest = s.execute(
            select(Alert.severity, func.min(Alert.created_at))
            .where(Alert.acknowledged_at.is_(None))
            .group_by(Alert.severity)
        ).all()
        files = s.execute(select(DataSource.kind, func.count()).group_by(DataSource.kind)).all()
        ingested = s.execute(
            select(
                func.coalesce(func.sum(DataSource.records_read), 0),
                func.coalesce(func.sum(DataSource.measurements_stored), 0),
                func.coalesce(func.sum(DataSource.measurements_duplicate), 0),
                func.coalesce(func.sum(DataSource.interactions_stored), 0),
                func.coalesce(func.sum(DataSource.quarantined), 0),
            )
        ).one()
    now = dt.datetime.now(dt.UTC)
    return [
        _scalar("clients", "Clients in the store.", clients),
        _gauge("plans", "Plans by workflow status (every version).", plans, ["status"]),
        _counter(
            "plan_events",
            "Plan events by action (created: generated; approve: approved; ...).",
            events,
            ["action"],
        ),
        _counter(
            "checkins", "Weekly check-ins recorded (a correction counts once).", {(): checkins}, []
        ),
        _gauge(
            "alerts_open",
            "Unacknowledged alerts by severity and kind.",
            {(sev, kind): open_ for sev, kind, _, open_ in alerts},
            ["severity", "kind"],
        ),
        _counter(
            "alerts_raised",
            "Alerts raised (acknowledged or not) by severity and kind.",
            {(sev, kind): total for sev, kind, total, _ in alerts},
            ["severity", "kind"],
        ),
        _gauge(
            "alerts_oldest_open_age_seconds",
            "Age of the oldest unacknowledged alert, by severity.",
            {(sev,): max((now - at).total_seconds(), 0.0) for sev, at in oldest if at is not None},
            ["severity"],
        ),
        _counter(
            "ingested_files",
            "Files ingested, by source kind.",
            dict(((k,), n) for k, n in files),
            ["kind"],
        ),
        _counter(
            "ingested_records",
            "Records of ingested files by outcome (read, stored, duplicate, ...).",
            dict(
                zip(
                    [("read",), ("stored",), ("duplicate",), ("interaction",), ("quarantined",)],
                    [float(v) for v in ingested],
                    strict=True,
                )
            ),
            ["outcome"],
        ),
    ]


def _risk_category(risk: Mapping[str, Any] | None) -> str:
    overall = (risk or {}).get("overall") or {}
    return _known("risk", overall.get("category") if isinstance(overall, Mapping) else None)


def _active_risk(session: Any) -> dict[int, str]:
    """The overall risk category of every client with an active plan, from the client's
    latest feature snapshot (``unknown`` without one)."""
    from health_advisor.store.models import FeatureSnapshot, Plan

    active = select(Plan.client_id).where(Plan.status == "active")
    latest = (
        select(FeatureSnapshot.client_id, func.max(FeatureSnapshot.as_of).label("as_of"))
        .where(FeatureSnapshot.client_id.in_(active))
        .group_by(FeatureSnapshot.client_id)
        .subquery()
    )
    rows = session.execute(
        select(FeatureSnapshot.client_id, FeatureSnapshot.risk).join(
            latest,
            and_(
                FeatureSnapshot.client_id == latest.c.client_id,
                FeatureSnapshot.as_of == latest.c.as_of,
            ),
        )
    )
    risk = {int(cid): _risk_category(r) for cid, r in rows}
    return {int(cid): risk.get(int(cid), "unknown") for cid in session.scalars(active)}


def engagement_families(engine: Engine, *, today: dt.date | None = None) -> Families:
    """Active plans by risk category; the last four weeks' adherence on active plans by
    domain and risk category (mean and the number of check-ins behind it)."""
    from health_advisor.store.models import CheckIn, Plan, PlanItem
    from health_advisor.store.session import session_scope

    since = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=ADHERENCE_WINDOW_DAYS)
    with session_scope(engine) as s:
        risk = _active_risk(s)
        rows = s.execute(
            select(
                CheckIn.client_id,
                PlanItem.domain,
                func.sum(CheckIn.adherence_pct),
                func.count(CheckIn.id),
            )
            .join(PlanItem, PlanItem.id == CheckIn.plan_item_id)
            .join(Plan, Plan.id == PlanItem.plan_id)
            .where(Plan.status == "active", CheckIn.week_start >= since)
            .group_by(CheckIn.client_id, PlanItem.domain)
        ).all()
    plans: Rows = {}
    for category in risk.values():
        plans[(category,)] = plans.get((category,), 0.0) + 1
    total: Rows = {}
    count: Rows = {}
    for client_id, domain, summed, n in rows:
        key = (_known("domain", domain), risk.get(int(client_id), "unknown"))
        total[key] = total.get(key, 0.0) + float(summed or 0)
        count[key] = count.get(key, 0.0) + float(n)
    mean = {key: total[key] / count[key] for key in count if count[key]}
    return [
        _gauge(
            "active_plans",
            "Active plans by the client's overall risk category.",
            plans,
            ["risk_category"],
        ),
        _gauge(
            "adherence_percent",
            f"Mean weekly adherence reported in the last {ADHERENCE_WINDOW_DAYS} days on "
            "active plans, by item domain and risk category.",
            mean,
            ["domain", "risk_category"],
        ),
        _gauge(
            "adherence_checkins",
            f"Check-ins behind adherence_percent (last {ADHERENCE_WINDOW_DAYS} days).",
            count,
            ["domain", "risk_category"],
        ),
    ]


def outcome_families(engine: Engine, *, limit: int = MAX_OUTCOME_PLANS) -> Families:
    """Targets of active plans by domain and state (on_track, off_track, unknown: no
    reading or check-in yet), as ``plan outcomes`` judges them; the most recently
    activated ``limit`` plans, since each plan costs a few queries."""
    from health_advisor.plans import service
    from health_advisor.store.models import Plan
    from health_advisor.store.session import session_scope

    states: Rows = {}
    with session_scope(engine) as s:
        plans = list(
            s.scalars(
                select(Plan)
                .where(Plan.status == "active")
                .order_by(Plan.activated_at.desc(), Plan.id.desc())
                .limit(limit)
            )
        )
        for plan in plans:
            domains = {item.intervention_id: item.domain for item in plan.items}
            for entry in service.outcomes(s, plan.id):
                on_track = entry.get("on_track")
                state = "unknown" if on_track is None else "on_track" if on_track else "off_track"
                key = (_known("domain", domains.get(entry["intervention_id"])), state)
                states[key] = states.get(key, 0.0) + 1
    return [
        _gauge(
            "plan_targets",
            "Targets of active plans by domain and state (on_track, off_track, unknown).",
            states,
            ["domain", "state"],
        ),
        _scalar("plan_targets_plans", "Active plans whose targets were evaluated.", len(plans)),
    ]


# --------------------------------------------------------------------------- pipeline

STEP_STATUSES = ("running", "success", "skipped", "failed")
ROW_COUNTS = frozenset(
    {
        "records_read",
        "measurements",
        "measurements_stored",
        "duplicates",
        "interactions",
        "surveys",
        "quarantined",
        "files",
        "flagged",
        "snapshots",
        "alerts_new",
        "generated",
    }
)


def _stamp(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _rows_of(counts: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in counts.items()
        if k in ROW_COUNTS and isinstance(v, int | float) and not isinstance(v, bool)
    }


def pipeline_families(engine: Engine) -> Families:
    """The latest run of each pipeline step, data quality totals and the latest drift
    report, from the pipeline's own records."""
    from health_advisor.pipeline.drift import PSI_THRESHOLD
    from health_advisor.pipeline.records import latest_figures

    figures = latest_figures(engine)
    status: Rows = {}
    runs: Rows = {}
    seconds: Rows = {}
    started: Rows = {}
    succeeded: Rows = {}
    rows: Rows = {}
    for f in figures.steps:
        for st, n in f.runs_by_status.items():
            runs[(f.step, st)] = float(n)
        if f.status is None:
            continue
        status.update({(f.step, st): float(st == f.status) for st in STEP_STATUSES})
        if f.seconds is not None:
            seconds[(f.step,)] = f.seconds
        if f.started_at is not None:
            started[(f.step,)] = _stamp(f.started_at) or 0.0
        if f.last_success_at is not None:
            succeeded[(f.step,)] = _stamp(f.last_success_at) or 0.0
        rows.update({(f.step, k): v for k, v in _rows_of(f.counts).items()})
    q = figures.quality
    out = [
        _gauge(
            "pipeline_step_status",
            "Status of each step's latest run (1 = this status).",
            status,
            ["step", "status"],
        ),
        _gauge(
            "pipeline_step_duration_seconds",
            "Duration of each step's latest run.",
            seconds,
            ["step"],
        ),
        _gauge(
            "pipeline_step_last_run_timestamp_seconds",
            "Start of each step's latest run.",
            started,
            ["step"],
        ),
        _gauge(
            "pipeline_step_last_success_timestamp_seconds",
            "End of each step's latest successful run.",
            succeeded,
            ["step"],
        ),
        _counter("pipeline_step_runs", "Step runs by final status.", runs, ["step", "status"]),
        _gauge(
            "pipeline_step_rows",
            "Row counts of each step's latest run (ingested, quarantined, ...).",
            rows,
            ["step", "kind"],
        ),
        _scalar("data_quality_files", "Ingested files assessed by the validate step.", q.files),
        _scalar(
            "data_quality_flagged_files",
            "Assessed files flagged for poor quality.",
            q.flagged_files,
        ),
        _gauge(
            "data_quality_records",
            "Records of assessed files by outcome.",
            {
                ("read",): q.records_read,
                ("stored",): q.measurements_stored,
                ("duplicate",): q.duplicates,
                ("quarantined",): q.quarantined,
            },
            ["outcome"],
        ),
        _scalar(
            "drift_psi_threshold", "PSI above which a feature counts as drifted.", PSI_THRESHOLD
        ),
        _scalar(
            "model_retrain_pending",
            "1 while a drift report's retraining request is open.",
            float(figures.retrain_pending),
        ),
    ]
    drift = figures.drift
    if drift is not None:
        out += [
            _gauge(
                "drift_psi",
                "Population stability index per feature (latest report).",
                {(k,): v for k, v in drift.psi_by_feature.items()},
                ["feature"],
            ),
            _scalar("drift_max_psi", "Largest PSI in the latest drift report.", drift.max_psi),
            _scalar(
                "drift_features_drifted",
                "Features above the threshold (latest report).",
                drift.features_drifted,
            ),
            _scalar(
                "drift_features_checked",
                "Features compared (latest report).",
                drift.features_checked,
            ),
            _scalar(
                "drift_detected",
                "1 when the latest drift report found drift.",
                float(drift.drifted),
            ),
            _scalar(
                "drift_report_timestamp_seconds",
                "When the latest drift report was made.",
                _stamp(drift.created_at) or 0.0,
            ),
        ]
    return out


# --------------------------------------------------------------------------- model


def model_families(settings: Settings) -> Families:
    """The registered versions (the latest few) with their holdout metrics, and the
    champion; an empty registry is not an error (no model trained yet)."""
    from health_advisor.errors import ModelNotReady

    try:
        from health_advisor.recommender import registry, tracking

        client = tracking.connect(settings.resolved_mlflow_tracking_uri, create=False)
        versions = registry.list_versions(client=client)
    except ModelNotReady:
        versions = []
    shown = versions[-MODEL_VERSIONS_SHOWN:]
    metric: Rows = {}
    for row in shown:
        for name, value in row["metrics"].items():
            if MODEL_METRIC.match(name) and math.isfinite(value):
                metric[(str(row["version"]), name)] = value
    out = [
        _scalar("model_versions", "Registered model versions.", len(versions)),
        _gauge(
            "model_metric",
            f"Holdout metrics of the latest {MODEL_VERSIONS_SHOWN} registered versions.",
            metric,
            ["version", "metric"],
        ),
    ]
    champion = next((row for row in versions if row["is_champion"]), None)
    if champion is not None:
        info = InfoMetricFamily(
            f"{PREFIX}_model_champion",
            "The serving model version.",
            labels=["version", "model_class"],
        )
        info.add_metric([str(champion["version"]), str(champion["model_class"])], {})
        out += [
            _scalar("model_champion_version", "The serving model version.", champion["version"]),
            info,
            _gauge(
                "model_champion_metric",
                "Holdout metrics of the serving version.",
                {
                    (k,): v
                    for k, v in champion["metrics"].items()
                    if MODEL_METRIC.match(k) and math.isfinite(v)
                },
                ["metric"],
            ),
        ]
    return out


# --------------------------------------------------------------------------- route

router = APIRouter(tags=["operations"])
EXPOSITION = {"schema": {"type": "string"}}


def _authorise(request: Request) -> None:
    """With ``Settings.metrics_token`` set, only ``Authorization: Bearer <token>``."""
    token: str | None = getattr(request.app.state.settings, "metrics_token", None)
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise AuthenticationFailed("metrics need the scrape token: Authorization: Bearer <token>")


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition; a bearer token when one is configured)",
    response_class=Response,
    responses={
        200: {
            "description": "The metrics in Prometheus text or OpenMetrics format",
            "content": {"text/plain": EXPOSITION, "application/openmetrics-text": EXPOSITION},
        },
        401: {},
    },
)
def metrics(request: Request) -> Response:
    _authorise(request)
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(request.app.state.metrics.registry), media_type=content_type)


def install(app: FastAPI, settings: Settings, engine: Engine) -> ApiMetrics:
    """Measure every request (outermost middleware) and serve ``/metrics``."""
    api_metrics = ApiMetrics(multiprocess_dir=os.environ.get(MULTIPROC_ENV) or None)
    api_metrics.registry.register(StoreCollector(engine, settings))
    app.state.metrics = api_metrics
    app.add_middleware(HttpMetrics, metrics=api_metrics)
    app.include_router(router)
    return api_metrics


def samples(registry: CollectorRegistry) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every sample as (name, labels, value): what tests and tools read back."""
    for family in registry.collect():
        for sample in family.samples:
            yield sample.name, dict(sample.labels), float(sample.value)
