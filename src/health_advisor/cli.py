"""The ``health-advisor`` command line (contract in ARCHITECTURE.md, "Command line").

Every listing takes ``--json`` and then prints exactly one JSON document on stdout.
Exit codes: 0 success, 1 a user error (one line on stderr), 2 a usage error.
Heavy libraries (pandas, TensorFlow, MLflow, Spark) are imported inside the commands that
need them, so the CLI starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from health_advisor.config import Settings, get_settings
from health_advisor.errors import HealthAdvisorError

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    name="health-advisor",
    help="Personalised, clinician-approved health plans from client health data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
clients_app = typer.Typer(help="Clients.", no_args_is_help=True)
sources_app = typer.Typer(help="Ingested files (lineage).", no_args_is_help=True)
quarantine_app = typer.Typer(help="Rejected records and why.", no_args_is_help=True)
catalog_app = typer.Typer(help="The intervention catalog.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(sources_app, name="sources")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(catalog_app, name="catalog")
features_app = typer.Typer(help="Feature store: snapshots, risk categories.", no_args_is_help=True)
alerts_app = typer.Typer(help="Anomaly alerts from personal baselines.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(alerts_app, name="alerts")
model_app = typer.Typer(help="Model versions in the MLflow registry.", no_args_is_help=True)
app.add_typer(model_app, name="model")

out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


class _State:
    database_url: str | None = None


state = _State()


@app.callback()
def _root(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL of the store (default: HEALTH_ADVISOR_DATABASE_URL, else "
            "SQLite under ./var).",
        ),
    ] = None,
) -> None:
    state.database_url = database_url


def settings() -> Settings:
    return get_settings()


def engine() -> Engine:
    from health_advisor.store.session import make_engine

    return make_engine(settings(), url=state.database_url)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(json_out: JsonFlag = False) -> None:
    """Create or migrate the schema to the latest revision and load the packaged catalog."""
    from health_advisor.store import migrate

    eng = engine()
    revision = migrate.upgrade(eng)
    catalog = _load_catalog(eng, None)
    if json_out:
        emit_json({"revision": revision, "catalog": catalog})
    else:
        out.print(f"database at revision [bold]{revision}[/]; catalog {catalog['version']}")


# --------------------------------------------------------------------------- synth


@app.command("synth")
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the clinic into.")],
    clients: Annotated[int, typer.Option("--clients", min=1)] = 500,
    days: Annotated[int, typer.Option("--days", min=7)] = 90,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    json_out: JsonFlag = False,
) -> None:
    """Generate the synthetic clinic (CSV, Fitbit, FHIR, surveys, interactions, truth)."""
    summary = _synthesise(out_dir, clients, days, seed, quiet=json_out)
    if json_out:
        emit_json(_asdict(summary))
    else:
        out.print(f"wrote a clinic of {clients} clients x {days} days to {out_dir}")


def _synthesise(out_dir: Path, clients: int, days: int, seed: int, *, quiet: bool) -> Any:
    from rich.progress import Progress

    from health_advisor.synth import generate_clinic

    with Progress(console=err, disable=quiet, transient=True) as progress:
        task = progress.add_task("synthesising", total=clients)
        return generate_clinic(
            out_dir,
            clients=clients,
            days=days,
            seed=seed,
            progress=lambda done: progress.update(task, completed=done),
        )


# --------------------------------------------------------------------------- ingest


@app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    source: Annotated[
        str, typer.Option("--source", help="auto|csv|fitbit|fhir|apple|survey|interactions")
    ] = "auto",
    json_out: JsonFlag = False,
) -> None:
    """Validate and store files; bad records go to quarantine, re-ingestion is a no-op."""
    reports = _ingest(engine(), paths, source, quiet=json_out)
    if json_out:
        emit_json([_asdict(r) for r in reports])
        return
    table = Table("file", "kind", "status", "records", "stored", "duplicates", "quarantined")
    for r in reports:
        table.add_row(
            Path(r.path).name,
            r.kind,
            r.status,
            str(r.records_read),
            str(r.measurements + r.interactions + r.surveys),
            str(r.duplicates),
            str(r.quarantined),
        )
    out.print(table)


def _ingest(eng: Engine, paths: list[Path], source: str, *, quiet: bool) -> list[Any]:
    from rich.progress import Progress

    from health_advisor.ingest.service import expand_paths, ingest_file

    files = expand_paths(paths)
    reports = []
    with Progress(console=err, disable=quiet, transient=True) as progress:
        task = progress.add_task("ingesting", total=len(files))
        for path in files:
            progress.update(task, description=f"ingesting {path.name}")
            reports.append(ingest_file(eng, path, source=source))
            progress.advance(task)
    return reports


# --------------------------------------------------------------------------- listings


@clients_app.command("list")
def clients_list(json_out: JsonFlag = False) -> None:
    """Clients with their measurement counts per metric."""
    from health_advisor.core.metrics import name_for
    from health_advisor.store import repositories
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        clients = repositories.client_summaries(session=session)
        counts = repositories.measurement_counts(session=session)
        rows: list[dict[str, Any]] = [
            {
                "client_id": ext,
                "sex": sex,
                "birth_year": birth_year,
                "measurements": {
                    name_for(code): n for code, n in sorted(counts.get(ext, {}).items())
                },
            }
            for ext, sex, birth_year in clients
        ]
    if json_out:
        emit_json(rows)
        return
    table = Table("client", "sex", "born", "measurements", "metrics")
    for row in rows:
        m = row["measurements"]
        table.add_row(
            row["client_id"],
            row["sex"] or "",
            str(row["birth_year"] or ""),
            str(sum(m.values())),
            str(len(m)),
        )
    out.print(table)


@sources_app.command("list")
def sources_list(json_out: JsonFlag = False) -> None:
    """Every ingested file: kind, sha256, counts, parser version, time."""
    from health_advisor.store import repositories
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        rows: list[dict[str, Any]] = [
            {
                "source_id": s.id,
                "kind": s.kind,
                "file_name": s.file_name,
                "sha256": s.sha256,
                "size_bytes": s.size_bytes,
                "parser_version": s.parser_version,
                "records_read": s.records_read,
                "measurements_stored": s.measurements_stored,
                "measurements_duplicate": s.measurements_duplicate,
                "interactions_stored": s.interactions_stored,
                "clients_seen": s.clients_seen,
                "quarantined": s.quarantined,
                "ingested_at": s.ingested_at.isoformat(),
            }
            for s in repositories.list_sources(session=session)
        ]
    if json_out:
        emit_json(rows)
        return
    table = Table("id", "kind", "file", "sha256", "records", "stored", "quarantined", "at")
    for r in rows:
        table.add_row(
            str(r["source_id"]),
            r["kind"],
            r["file_name"],
            r["sha256"][:12],
            str(r["records_read"]),
            str(r["measurements_stored"]),
            str(r["quarantined"]),
            r["ingested_at"][:19],
        )
    out.print(table)


@quarantine_app.command("list")
def quarantine_list(
    source_id: Annotated[int | None, typer.Option("--source-id")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    json_out: JsonFlag = False,
) -> None:
    """Rejected records with the file, line, field and reason."""
    from health_advisor.store import repositories
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        rows: list[dict[str, Any]] = [
            {
                "id": q.id,
                "file_name": s.file_name,
                "source_id": s.id,
                "line": q.line,
                "field": q.field,
                "client_id": q.client_external_id,
                "reason": q.reason,
                "raw": q.raw,
            }
            for q, s in repositories.list_quarantine(
                session=session, source_id=source_id, limit=limit
            )
        ]
    if json_out:
        emit_json(rows)
        return
    table = Table("file", "line", "field", "reason")
    for r in rows:
        table.add_row(r["file_name"], str(r["line"] or ""), r["field"] or "", r["reason"])
    out.print(table)


# --------------------------------------------------------------------------- catalog


@catalog_app.command("load")
def catalog_load(
    path: Annotated[Path | None, typer.Argument(help="A catalog YAML (default: packaged).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Validate a catalog and make it the current version in the store."""
    info = _load_catalog(engine(), path)
    if json_out:
        emit_json(info)
    else:
        state_word = "loaded" if info["new"] else "already stored"
        out.print(f"catalog {info['version']} ({info['interventions']} interventions) {state_word}")


def _load_catalog(eng: Engine, path: Path | None) -> dict[str, Any]:
    from health_advisor.catalog import load_catalog
    from health_advisor.store import repositories
    from health_advisor.store.session import session_scope

    catalog = load_catalog(path)
    items = [i.model_dump(mode="json") for i in catalog.interventions]
    with session_scope(eng) as session:
        row, new = repositories.store_catalog(
            session=session,
            version=catalog.version,
            content_hash=catalog.content_hash,
            items=items,
        )
        return {
            "version": row.version,
            "content_hash": row.content_hash,
            "interventions": len(items),
            "new": new,
        }


@catalog_app.command("list")
def catalog_list(
    domain: Annotated[str | None, typer.Option("--domain")] = None,
    lang: Annotated[str, typer.Option("--lang", help="es|en")] = "es",
    json_out: JsonFlag = False,
) -> None:
    """The current catalog's interventions."""
    from health_advisor.store import repositories
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        items = [
            i.definition
            for i in repositories.list_interventions(session=session)
            if domain is None or i.domain == domain
        ]
    if not items and domain is None:
        raise HealthAdvisorError("no catalog in the store: run `health-advisor db upgrade`")
    if json_out:
        emit_json(items)
        return
    table = Table("id", "domain", "intensity", "min/wk", "title")
    for item in items:
        table.add_row(
            item["id"],
            item["domain"],
            item["intensity"],
            str(item["weekly_minutes"]),
            item["title"][lang],
        )
    out.print(table)


# --------------------------------------------------------------------------- features


@features_app.command("build")
def features_build(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: the latest data day).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Materialise one snapshot per client as of a date, and the anomaly alerts."""
    report = _build_features(engine(), as_of)
    if json_out:
        emit_json(_asdict(report))
    else:
        out.print(
            f"features {report.feature_version} as of {report.as_of}: {report.clients} clients, "
            f"{report.alerts_new} new alerts ({report.alerts_found} found)"
        )


def _build_features(eng: Engine, as_of: str | None) -> Any:
    import datetime as dt

    from health_advisor.errors import InputError
    from health_advisor.features import service
    from health_advisor.store import repositories
    from health_advisor.store.session import session_scope

    if as_of is None:
        with session_scope(eng) as session:
            latest = repositories.latest_observation(session=session)
        if latest is None:
            raise InputError("no measurements in the store: ingest data first")
        day = latest.date()
    else:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"--as-of: expected a date YYYY-MM-DD, got {as_of!r}") from None
    return service.build(eng, as_of=day)


@features_app.command("show")
def features_show(
    client: Annotated[str, typer.Argument(help="The client's id as the source gave it.")],
    json_out: JsonFlag = False,
) -> None:
    """The client's latest snapshot: features, risk per guideline with its reason."""
    from health_advisor.features import service
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        snap = service.latest_snapshot(session, client_id=client)
    if json_out:
        emit_json(snap)
        return
    out.print(f"[bold]{client}[/] as of {snap['as_of']} (features {snap['feature_version']})")
    table = Table("guideline", "category", "reason")
    for key, result in snap["risk"].items():
        table.add_row(key, result["category"], result["reason"])
    out.print(table)


@features_app.command("describe")
def features_describe(json_out: JsonFlag = False) -> None:
    """The feature registry: name, dtype, unit, description, sources, transformation."""
    from health_advisor.features.registry import describe

    specs = describe()
    if json_out:
        emit_json(specs)
        return
    table = Table("name", "dtype", "unit", "description")
    for spec in specs:
        table.add_row(
            str(spec["name"]), str(spec["dtype"]), str(spec["unit"]), str(spec["description"])
        )
    out.print(table)


@alerts_app.command("list")
def alerts_list(
    client: Annotated[str | None, typer.Option("--client")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Stored anomaly alerts, newest first."""
    from health_advisor.features import service
    from health_advisor.store.session import session_scope

    with session_scope(engine()) as session:
        rows = service.client_alerts(session, client_id=client)
    if json_out:
        emit_json(rows)
        return
    table = Table("client", "severity", "kind", "window", "explanation")
    for r in rows:
        table.add_row(
            r["client_id"],
            r["severity"],
            r["kind"],
            f"{r['window_start']}..{r['window_end']}",
            r["explanation"],
        )
    out.print(table)


# --------------------------------------------------------------------------- models


@app.command("train")
def train(
    model: Annotated[str, typer.Option("--model", help="hybrid|baseline|spark-als")] = "hybrid",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    tune: Annotated[
        int, typer.Option("--tune", min=0, help="Optuna trials before training (0: none).")
    ] = 0,
    json_out: JsonFlag = False,
) -> None:
    """Fit on the stored interactions, evaluate on a holdout against the baselines, log to
    MLflow and promote the new version only if it beats the champion (quality gate)."""
    report = _train(engine(), model, seed, tune)
    if json_out:
        emit_json(_asdict(report))
        return
    table = Table("model", "warm NDCG@10", "cold NDCG@10", "warm RMSE", title="Holdout")
    rows = {model: report.metrics, **report.baselines}
    for name, m in rows.items():
        table.add_row(
            name,
            _fmt(m.get("warm.ndcg_at_10")),
            _fmt(m.get("cold.ndcg_at_10")),
            _fmt(m.get("warm.rmse")),
        )
    out.print(table)
    verdict = "promoted to champion" if report.promoted else "not promoted"
    out.print(f"version {report.version}: {verdict} ({report.gate_reason})")


@app.command("evaluate")
def evaluate(
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="A synthetic clinic folder: adds the oracle comparison."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    json_out: JsonFlag = False,
) -> None:
    """The champion against the baselines on the current holdout (warm and cold-start)."""
    from health_advisor.recommender.evaluation import render_report
    from health_advisor.recommender.training import evaluate as evaluate_champion

    report, facts = evaluate_champion(engine(), settings(), truth_dir=truth, seed=seed)
    if json_out:
        emit_json({**facts, "report": report.to_dict(orient="records")})
        return
    out.print(
        render_report(
            report, title=f"Champion v{facts['champion_version']} on holdout {facts['holdout_id']}"
        )
    )


def _train(eng: Engine, model: str, seed: int, tune: int) -> Any:
    from health_advisor.recommender.training import train as train_model

    return train_model(eng, settings(), model_name=model, seed=seed, tune_trials=tune)


def _registry_client(create: bool = False) -> Any:
    from health_advisor.recommender.tracking import connect

    return connect(settings().resolved_mlflow_tracking_uri, create=create)


@model_app.command("list")
def model_list(json_out: JsonFlag = False) -> None:
    """Registered model versions with their metrics; the champion is marked."""
    from health_advisor.errors import ModelNotReady
    from health_advisor.recommender.registry import list_versions

    try:
        versions = list_versions(client=_registry_client())
    except ModelNotReady:
        versions = []
    if json_out:
        emit_json(versions)
        return
    table = Table("version", "champion", "model", "holdout", "ndcg@10", "rmse", "created")
    for v in versions:
        m = v["metrics"]
        table.add_row(
            str(v["version"]),
            "yes" if v["is_champion"] else "",
            str(v["model_class"]),
            str(v["holdout_id"]),
            _fmt(m.get("ndcg_at_10")),
            _fmt(m.get("rmse")),
            str(v["created"])[:19],
        )
    out.print(table)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}"


@model_app.command("promote")
def model_promote(
    version: Annotated[int, typer.Argument(help="The version to make champion.")],
    reason: Annotated[str, typer.Option("--reason")] = "promoted by hand",
    json_out: JsonFlag = False,
) -> None:
    """Make a version the champion by hand (recorded with the reason)."""
    from health_advisor.recommender.registry import promote

    replaced = promote(client=_registry_client(), version=version, by="cli", reason=reason)
    if json_out:
        emit_json({"champion": version, "replaced": replaced})
    else:
        out.print(f"version {version} is the champion (was {replaced})")


@model_app.command("rollback")
def model_rollback(json_out: JsonFlag = False) -> None:
    """Give the champion back to the previous champion."""
    from health_advisor.recommender.registry import rollback

    restored = rollback(client=_registry_client(), by="cli")
    if json_out:
        emit_json({"champion": restored})
    else:
        out.print(f"version {restored} is the champion again")


# --------------------------------------------------------------------------- demo


@app.command("demo")
def demo(
    clients: Annotated[int, typer.Option("--clients", min=10)] = 500,
    days: Annotated[int, typer.Option("--days", min=14)] = 90,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start the server at the end.")
    ] = True,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    json_out: JsonFlag = False,
) -> None:
    """Build a synthetic clinic, ingest it, build features, train the model, create the
    demo accounts and plans, then serve the API and web UI (``--no-serve`` to stop)."""
    from health_advisor import demo as demo_setup
    from health_advisor.store import migrate, repositories
    from health_advisor.store.session import session_scope

    eng = engine()
    migrate.upgrade(eng)
    catalog = _load_catalog(eng, None)
    clinic = settings().home / "demo-clinic"
    _synthesise(clinic, clients, days, seed, quiet=json_out)
    # The clinic's data folders; ground_truth/ is for evaluation and is never ingested.
    data = [clinic / d for d in ("surveys", "seed", "fitbit", "fhir", "interactions")]
    reports = _ingest(eng, data, "auto", quiet=json_out)
    features = _build_features(eng, None)
    prepared = demo_setup.prepare(eng, settings(), seed=seed)
    with session_scope(eng) as session:
        summary = {
            "clients": repositories.count_clients(session=session),
            "measurements_per_metric": _named(repositories.metric_totals(session=session)),
            "quarantined_by_reason": repositories.quarantine_by_reason(session=session),
            "files": len(reports),
            "catalog": catalog,
            "features": _asdict(features),
            "model": prepared.model,
            "plans": prepared.plans,
            "accounts": prepared.accounts,
            "url": f"http://{host}:{port}",
        }
    if json_out:
        emit_json(summary)
    else:
        _print_summary(summary)
    if serve:
        from health_advisor.api.app import serve as run_server

        run_server(settings(), host=host, port=port)


def _named(totals: dict[str, int]) -> dict[str, int]:
    from health_advisor.core.metrics import name_for

    return {name_for(code): n for code, n in sorted(totals.items(), key=lambda kv: -kv[1])}


def _print_summary(summary: dict[str, Any]) -> None:
    out.print(f"[bold]Clients:[/] {summary['clients']}   files ingested: {summary['files']}")
    f = summary["features"]
    out.print(
        f"[bold]Features[/] {f['feature_version']} as of {f['as_of']}: {f['clients']} snapshots, "
        f"{f['alerts_found']} alerts"
    )
    table = Table("metric", "measurements", title="Measurements per metric")
    for metric, n in summary["measurements_per_metric"].items():
        table.add_row(metric, f"{n:,}")
    out.print(table)
    table = Table("reason", "rows", title="Quarantined rows by reason")
    for reason, n in sorted(summary["quarantined_by_reason"].items(), key=lambda kv: -kv[1]):
        table.add_row(reason, f"{n:,}")
    out.print(table)
    model = summary["model"]
    out.print(f"[bold]Model[/] version {model.get('version')}: {model.get('gate')}")
    plans = ", ".join(f"{n} {status}" for status, n in sorted(summary["plans"].items()))
    out.print(f"[bold]Plans[/]: {plans}")
    table = Table("user", "role", "password", title=f"Demo accounts at {summary['url']}")
    for account in summary["accounts"]:
        table.add_row(account["username"], account["role"], account["password"])
    out.print(table)


# --------------------------------------------------------------------------- entry


def _asdict(obj: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    return asdict(obj) if is_dataclass(obj) and not isinstance(obj, type) else obj


def _register_subcommands() -> None:
    from health_advisor.cli_people import consent_add, keys_app, serve, users_app
    from health_advisor.cli_pipeline import pipeline_app
    from health_advisor.cli_plans import checkin_app, plan_app

    app.add_typer(plan_app, name="plan")
    app.add_typer(checkin_app, name="checkin")
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="api-keys")
    app.command("serve")(serve)
    consent_app = typer.Typer(help="Clients' consents (Ley 29733).", no_args_is_help=True)
    consent_app.command("add")(consent_add)
    app.add_typer(consent_app, name="consent")
    app.add_typer(pipeline_app, name="pipeline")


_register_subcommands()


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 1."""
    try:
        app()
    except HealthAdvisorError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
