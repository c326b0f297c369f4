# ruff: noqa: E501  (PromQL reads best on one line)
"""Health Advisor's Grafana dashboards, as code (grafana-foundation-sdk, Grafana 11.6).

    python deploy/grafana/generate.py            # rewrite deploy/grafana/dashboards/*.json
    python deploy/grafana/generate.py --check    # exit 1 if the committed JSON is stale

Three dashboards over the API's Prometheus metrics (src/health_advisor/api/metrics.py):

* ``ha-operations``: traffic, latency, errors, the database, the pipeline's runs and the
  rows they ingested and quarantined;
* ``ha-model``: the champion and every recent version's holdout metrics, feature drift;
* ``ha-engagement``: for administrators, plans and their workflow, active plans and
  adherence by domain and risk category, targets on track, client alerts.

Every panel queries the provisioned Prometheus data source (uid ``prometheus``). The
generated JSON is committed; ``tests/ops/test_deploy.py`` regenerates it and compares,
and ``tests/ops/test_prometheus.py`` runs every expression against a real Prometheus.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row, ThresholdsConfig
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
)
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
)

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
JOB = 'job="health-advisor-api"'
TAGS = ["health-advisor", "generated"]
RATE = "$__rate_interval"

Query = prometheus.Dataquery


def q(expr: str, legend: str = "", *, instant: bool = False) -> Query:
    query = Query().expr(expr).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def _targets(panel: object, queries: Sequence[Query]) -> None:
    for ref, query in zip("ABCDEFGH", queries, strict=False):
        panel.with_target(query.ref_id(ref))  # type: ignore[attr-defined]


def steps(*pairs: tuple[float | None, str]) -> ThresholdsConfig:
    return (
        ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(v, c) for v, c in pairs])
    )


OK = steps((None, "green"))


def chart(
    title: str,
    description: str,
    unit: str,
    *queries: Query,
    w: int = 12,
    h: int = 8,
    thresholds: ThresholdsConfig | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(w)
        .height(h)
        .fill_opacity(10)
        .legend(
            VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
    )
    if thresholds is not None:
        panel = panel.thresholds(thresholds)
    _targets(panel, queries)
    return panel


def figure(
    title: str,
    description: str,
    unit: str,
    query: Query,
    *,
    w: int = 4,
    h: int = 4,
    thresholds: ThresholdsConfig = OK,
    decimals: int | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(w)
        .height(h)
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds)
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    _targets(panel, [query])
    return panel


def bars(
    title: str,
    description: str,
    unit: str,
    *queries: Query,
    w: int = 12,
    h: int = 8,
    low: float | None = None,
    high: float | None = None,
    thresholds: ThresholdsConfig = OK,
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(w)
        .height(h)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds)
    )
    if low is not None:
        panel = panel.min(low)
    if high is not None:
        panel = panel.max(high)
    _targets(panel, queries)
    return panel


def board(uid: str, title: str, description: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .refresh("1m")
        .time("now-24h", "now")
        .timezone("browser")
        .readonly()
    )


# --------------------------------------------------------------------------- operations

REQUESTS = f"health_advisor_http_requests_total{{{JOB}}}"
BUCKETS = f"health_advisor_http_request_duration_seconds_bucket{{{JOB}}}"


def quantile(phi: float, by: str = "le") -> str:
    return f"histogram_quantile({phi}, sum by ({by}) (rate({BUCKETS}[{RATE}])))"


def operations() -> Dashboard:
    # `or vector(0)`: no 5xx series yet means a ratio of 0, not "no data".
    error_ratio = (
        f'(sum(rate(health_advisor_http_requests_total{{{JOB}, status=~"5.."}}[{RATE}])) or vector(0))'
        f" / sum(rate({REQUESTS}[{RATE}]))"
    )
    return (
        board("ha-operations", "Health Advisor / Operations", "Traffic, latency, errors, pipeline.")
        .with_row(Row("Now"))
        .with_panel(
            figure(
                "API up",
                "Prometheus reaches the API.",
                "none",
                q(f"up{{{JOB}}}", instant=True),
                thresholds=steps((None, "red"), (1, "green")),
            )
        )
        .with_panel(
            figure(
                "Database",
                "The API reads its database (1 = yes).",
                "none",
                q(f'health_advisor_collector_up{{{JOB}, group="store"}}', instant=True),
                thresholds=steps((None, "red"), (1, "green")),
            )
        )
        .with_panel(
            figure(
                "Requests / s",
                "All routes, last 5 minutes.",
                "reqps",
                q(f"sum(rate({REQUESTS}[5m]))", instant=True),
                decimals=1,
            )
        )
        .with_panel(
            figure(
                "p99 latency",
                "All routes but PDF documents, last 5 minutes (target 100 ms).",
                "s",
                q(
                    f'histogram_quantile(0.99, sum by (le) (rate(health_advisor_http_request_duration_seconds_bucket{{{JOB}, route!~".*/document"}}[5m])))',
                    instant=True,
                ),
                thresholds=steps((None, "green"), (0.1, "orange"), (0.25, "red")),
            )
        )
        .with_panel(
            figure(
                "5xx ratio",
                "Share of answers that are server errors, last 5 minutes.",
                "percentunit",
                q(
                    f'(sum(rate(health_advisor_http_requests_total{{{JOB}, status=~"5.."}}[5m])) or vector(0)) / sum(rate({REQUESTS}[5m]))',
                    instant=True,
                ),
                thresholds=steps((None, "green"), (0.01, "orange"), (0.05, "red")),
            )
        )
        .with_panel(
            figure(
                "In flight",
                "Requests being served now.",
                "none",
                q(f"health_advisor_http_requests_in_flight{{{JOB}}}", instant=True),
            )
        )
        .with_row(Row("Traffic"))
        .with_panel(
            chart(
                "Requests by route",
                "Requests per second by route template.",
                "reqps",
                q(f"sum by (route) (rate({REQUESTS}[{RATE}]))", "{{route}}"),
            )
        )
        .with_panel(
            chart(
                "Responses by status",
                "Answers per second by status code.",
                "reqps",
                q(f"sum by (status) (rate({REQUESTS}[{RATE}]))", "{{status}}"),
            )
        )
        .with_row(Row("Latency"))
        .with_panel(
            chart(
                "Latency quantiles",
                "Over all routes.",
                "s",
                q(quantile(0.5), "p50"),
                q(quantile(0.95), "p95"),
                q(quantile(0.99), "p99"),
                thresholds=steps((None, "green"), (0.1, "red")),
            )
        )
        .with_panel(
            chart(
                "p95 by route",
                "The slowest routes first.",
                "s",
                q(quantile(0.95, "le, route"), "{{route}}"),
            )
        )
        .with_row(Row("Errors"))
        .with_panel(
            chart(
                "Server errors by route",
                "5xx answers per second (503: database unavailable).",
                "reqps",
                q(
                    f'sum by (route, status) (rate(health_advisor_http_requests_total{{{JOB}, status=~"5.."}}[{RATE}]))',
                    "{{status}} {{route}}",
                ),
            )
        )
        .with_panel(
            chart(
                "Error ratio and exceptions",
                "5xx share of answers; unexpected exceptions by class.",
                "percentunit",
                q(error_ratio, "5xx ratio"),
                q(
                    f"sum by (exception) (rate(health_advisor_http_exceptions_total{{{JOB}}}[{RATE}]))",
                    "{{exception}} / s",
                ),
            )
        )
        .with_panel(
            chart(
                "Client errors",
                "4xx answers per second by status (401/403: refused access).",
                "reqps",
                q(
                    f'sum by (status) (rate(health_advisor_http_requests_total{{{JOB}, status=~"4.."}}[{RATE}]))',
                    "{{status}}",
                ),
            )
        )
        .with_panel(
            chart(
                "Process",
                "CPU seconds per second and resident memory of the API process.",
                "short",
                q(f"rate(process_cpu_seconds_total{{{JOB}}}[{RATE}])", "cpu"),
                q(f"process_resident_memory_bytes{{{JOB}}} / 2^30", "memory GiB"),
            )
        )
        .with_row(Row("Pipeline"))
        .with_panel(
            bars(
                "Latest run of each step",
                "1 = the step's latest run ended in this status (red: failed).",
                "none",
                q(
                    f"health_advisor_pipeline_step_status{{{JOB}}} == 1",
                    "{{step}}: {{status}}",
                    instant=True,
                ),
                w=8,
                thresholds=steps((None, "green")),
            )
        )
        .with_panel(
            bars(
                "Step durations",
                "How long each step's latest run took.",
                "s",
                q(
                    f"health_advisor_pipeline_step_duration_seconds{{{JOB}}}",
                    "{{step}}",
                    instant=True,
                ),
                w=8,
            )
        )
        .with_panel(
            bars(
                "Hours since last success",
                "Per step; the ingest DAG runs daily, training weekly.",
                "h",
                q(
                    f"(time() - health_advisor_pipeline_step_last_success_timestamp_seconds{{{JOB}}}) / 3600",
                    "{{step}}",
                    instant=True,
                ),
                w=8,
                thresholds=steps((None, "green"), (48, "orange"), (192, "red")),
            )
        )
        .with_panel(
            chart(
                "Rows ingested per day",
                "Records of ingested files by outcome (stored, duplicate, quarantined).",
                "short",
                q(
                    f"sum by (outcome) (increase(health_advisor_ingested_records_total{{{JOB}}}[1d]))",
                    "{{outcome}}",
                ),
            )
        )
        .with_panel(
            bars(
                "Latest run's rows",
                "Rows of each step's latest run (ingested, quarantined, snapshots, plans).",
                "short",
                q(f"health_advisor_pipeline_step_rows{{{JOB}}}", "{{step}} {{kind}}", instant=True),
            )
        )
        .with_panel(
            figure(
                "Quarantined share",
                "Quarantined records among all assessed records.",
                "percentunit",
                q(
                    f'sum(health_advisor_data_quality_records{{{JOB}, outcome="quarantined"}}) / sum(health_advisor_data_quality_records{{{JOB}, outcome=~"stored|duplicate|quarantined"}})',
                    instant=True,
                ),
                w=6,
                thresholds=steps((None, "green"), (0.05, "orange"), (0.2, "red")),
            )
        )
        .with_panel(
            figure(
                "Flagged files",
                "Files the validate step flagged for poor quality.",
                "none",
                q(f"health_advisor_data_quality_flagged_files{{{JOB}}}", instant=True),
                w=6,
                thresholds=steps((None, "green"), (1, "orange")),
            )
        )
        .with_panel(
            chart(
                "Step runs by status",
                "Runs finished per hour.",
                "short",
                q(
                    f"sum by (step, status) (increase(health_advisor_pipeline_step_runs_total{{{JOB}}}[1h]))",
                    "{{step}} {{status}}",
                ),
            )
        )
    )


# --------------------------------------------------------------------------- model


def model() -> Dashboard:
    metric = f"health_advisor_model_metric{{{JOB}"
    return (
        board(
            "ha-model",
            "Health Advisor / Model",
            "The champion, recent versions' holdout metrics, drift.",
        )
        .with_row(Row("Champion"))
        .with_panel(
            figure(
                "Champion version",
                "The version the API serves.",
                "none",
                q(f"health_advisor_model_champion_version{{{JOB}}}", instant=True),
            )
        )
        .with_panel(
            figure(
                "NDCG@10 (warm)",
                "Champion, on the holdout the gate compares on.",
                "none",
                q(
                    f'health_advisor_model_champion_metric{{{JOB}, metric="ndcg_at_10"}}',
                    instant=True,
                ),
                decimals=3,
            )
        )
        .with_panel(
            figure(
                "NDCG@10 (cold start)",
                "Champion, clients unseen in training.",
                "none",
                q(
                    f'health_advisor_model_champion_metric{{{JOB}, metric="cold.ndcg_at_10"}}',
                    instant=True,
                ),
                decimals=3,
            )
        )
        .with_panel(
            figure(
                "RMSE",
                "Champion, adherence points on the holdout.",
                "none",
                q(f'health_advisor_model_champion_metric{{{JOB}, metric="rmse"}}', instant=True),
                decimals=2,
            )
        )
        .with_panel(
            figure(
                "Drift",
                "1 when the latest monitor run found feature drift.",
                "none",
                q(f"health_advisor_drift_detected{{{JOB}}}", instant=True),
                thresholds=steps((None, "green"), (1, "red")),
            )
        )
        .with_panel(
            figure(
                "Retraining requested",
                "1 while a drift report waits for a training run.",
                "none",
                q(f"health_advisor_model_retrain_pending{{{JOB}}}", instant=True),
                thresholds=steps((None, "green"), (1, "orange")),
            )
        )
        .with_row(Row("Versions"))
        .with_panel(
            bars(
                "NDCG@10 by version",
                "Warm clients, each version's own holdout run.",
                "none",
                q(f'{metric}, metric="ndcg_at_10"}}', "v{{version}}", instant=True),
                low=0,
                high=1,
            )
        )
        .with_panel(
            bars(
                "RMSE by version",
                "Lower is better.",
                "none",
                q(f'{metric}, metric="rmse"}}', "v{{version}}", instant=True),
                low=0,
            )
        )
        .with_panel(
            chart(
                "Champion over time",
                "Promotions and rollbacks show as steps.",
                "none",
                q(f"health_advisor_model_champion_version{{{JOB}}}", "champion"),
            )
        )
        .with_panel(
            chart(
                "Champion metrics over time",
                "Warm and cold-start NDCG@10 of the serving version.",
                "none",
                q(
                    f'health_advisor_model_champion_metric{{{JOB}, metric=~"ndcg_at_10|cold.ndcg_at_10"}}',
                    "{{metric}}",
                ),
            )
        )
        .with_row(Row("Drift"))
        .with_panel(
            bars(
                "PSI by feature",
                "Population stability index, latest report (0.25 and above: drifted).",
                "none",
                q(f"sort_desc(health_advisor_drift_psi{{{JOB}}})", "{{feature}}", instant=True),
                low=0,
                thresholds=steps((None, "green"), (0.1, "orange"), (0.25, "red")),
            )
        )
        .with_panel(
            chart(
                "Max PSI and threshold",
                "The alert fires above the threshold.",
                "none",
                q(f"health_advisor_drift_max_psi{{{JOB}}}", "max PSI"),
                q(f"health_advisor_drift_psi_threshold{{{JOB}}}", "threshold"),
            )
        )
        .with_panel(
            chart(
                "Features drifted",
                "Of those compared in each report.",
                "none",
                q(f"health_advisor_drift_features_drifted{{{JOB}}}", "drifted"),
                q(f"health_advisor_drift_features_checked{{{JOB}}}", "checked"),
            )
        )
        .with_panel(
            bars(
                "Training and monitoring runs",
                "Duration of the latest run of each model step.",
                "s",
                q(
                    f'health_advisor_pipeline_step_duration_seconds{{{JOB}, step=~"train|evaluate|register|monitor"}}',
                    "{{step}}",
                    instant=True,
                ),
            )
        )
    )


# --------------------------------------------------------------------------- engagement


def weighted(by: str) -> str:
    """Mean adherence by ``by``, weighted by the check-ins behind each mean."""
    total = f"sum by ({by}) (health_advisor_adherence_percent{{{JOB}}} * health_advisor_adherence_checkins{{{JOB}}})"
    return f"{total} / sum by ({by}) (health_advisor_adherence_checkins{{{JOB}}})"


def on_track(by: str) -> str:
    judged = f'sum by ({by}) (health_advisor_plan_targets{{{JOB}, state=~"on_track|off_track"}})'
    return f'sum by ({by}) (health_advisor_plan_targets{{{JOB}, state="on_track"}}) / {judged}'


def engagement() -> Dashboard:
    adherence = steps((None, "red"), (50, "orange"), (70, "green"))
    share = steps((None, "red"), (0.5, "orange"), (0.7, "green"))
    return (
        board(
            "ha-engagement",
            "Health Advisor / Engagement and outcomes",
            "For administrators: plans, adherence by domain and risk, outcomes, alerts.",
        )
        .with_row(Row("Now"))
        .with_panel(
            figure(
                "Active plans",
                "Plans clients follow now.",
                "none",
                q(f"sum(health_advisor_active_plans{{{JOB}}})", instant=True),
            )
        )
        .with_panel(
            figure(
                "Awaiting review",
                "Plans submitted, not yet approved or rejected.",
                "none",
                q(f'health_advisor_plans{{{JOB}, status="in_review"}}', instant=True),
                thresholds=steps((None, "green"), (20, "orange")),
            )
        )
        .with_panel(
            figure(
                "Adherence (4 weeks)",
                "Mean weekly adherence on active plans.",
                "percent",
                q(weighted("job"), instant=True),
                thresholds=adherence,
                decimals=0,
            )
        )
        .with_panel(
            figure(
                "Targets on track",
                "Of the targets of active plans already judged.",
                "percentunit",
                q(on_track("job"), instant=True),
                thresholds=share,
                decimals=0,
            )
        )
        .with_panel(
            figure(
                "Check-ins (7 days)",
                "Weekly check-ins recorded.",
                "none",
                q(f"sum(increase(health_advisor_checkins_total{{{JOB}}}[7d]))", instant=True),
                decimals=0,
            )
        )
        .with_panel(
            figure(
                "Urgent alerts open",
                "Unacknowledged urgent client alerts.",
                "none",
                q(
                    f'sum(health_advisor_alerts_open{{{JOB}, severity="urgent"}}) or vector(0)',
                    instant=True,
                ),
                thresholds=steps((None, "green"), (1, "red")),
            )
        )
        .with_row(Row("Adherence"))
        .with_panel(
            bars(
                "Adherence by domain",
                "Mean weekly adherence on active plans, last 4 weeks.",
                "percent",
                q(weighted("domain"), "{{domain}}", instant=True),
                low=0,
                high=100,
                thresholds=adherence,
            )
        )
        .with_panel(
            bars(
                "Adherence by risk category",
                "By the client's overall risk, last 4 weeks.",
                "percent",
                q(weighted("risk_category"), "{{risk_category}}", instant=True),
                low=0,
                high=100,
                thresholds=adherence,
            )
        )
        .with_panel(
            chart(
                "Adherence by domain over time",
                "Mean weekly adherence, last 4 weeks at each point.",
                "percent",
                q(weighted("domain"), "{{domain}}"),
            )
        )
        .with_panel(
            bars(
                "Active plans by risk category",
                "Overall risk from each client's latest snapshot.",
                "none",
                q(
                    f"sum by (risk_category) (health_advisor_active_plans{{{JOB}}})",
                    "{{risk_category}}",
                    instant=True,
                ),
            )
        )
        .with_row(Row("Outcomes"))
        .with_panel(
            bars(
                "Targets on track by domain",
                "On-track share of judged targets of active plans.",
                "percentunit",
                q(on_track("domain"), "{{domain}}", instant=True),
                low=0,
                high=1,
                thresholds=share,
            )
        )
        .with_panel(
            chart(
                "Targets by state",
                "on_track, off_track, unknown (no reading or check-in yet).",
                "none",
                q(f"sum by (state) (health_advisor_plan_targets{{{JOB}}})", "{{state}}"),
            )
        )
        .with_row(Row("Plans"))
        .with_panel(
            chart(
                "Plans generated and approved",
                "Per day.",
                "none",
                q(
                    f'sum(increase(health_advisor_plan_events_total{{{JOB}, action="created"}}[1d]))',
                    "generated",
                ),
                q(
                    f'sum(increase(health_advisor_plan_events_total{{{JOB}, action="approve"}}[1d]))',
                    "approved",
                ),
                q(
                    f'sum(increase(health_advisor_plan_events_total{{{JOB}, action="reject"}}[1d]))',
                    "rejected",
                ),
            )
        )
        .with_panel(
            bars(
                "Plans by status",
                "Every version of every client's plan.",
                "none",
                q(f"health_advisor_plans{{{JOB}}}", "{{status}}", instant=True),
            )
        )
        .with_row(Row("Alerts"))
        .with_panel(
            bars(
                "Open alerts by kind",
                "Unacknowledged, by kind and severity.",
                "none",
                q(
                    f"sum by (kind, severity) (health_advisor_alerts_open{{{JOB}}})",
                    "{{severity}} {{kind}}",
                    instant=True,
                ),
            )
        )
        .with_panel(
            chart(
                "Alerts raised per day",
                "By severity.",
                "none",
                q(
                    f"sum by (severity) (increase(health_advisor_alerts_raised_total{{{JOB}}}[1d]))",
                    "{{severity}}",
                ),
            )
        )
    )


# --------------------------------------------------------------------------- output

DASHBOARDS = {"operations": operations, "model": model, "engagement": engagement}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard (deterministic: sorted keys)."""
    encoder = JSONEncoder(sort_keys=True, indent=2)
    out = {}
    for name, build in DASHBOARDS.items():
        dashboard = build().build()
        for number, panel in enumerate(dashboard.panels or [], start=1):
            panel.id_val = number  # stable, unique ids: Grafana links and edits panels by id
        out[f"{name}.json"] = encoder.encode(dashboard) + "\n"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON differs")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if stale:
        print(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
