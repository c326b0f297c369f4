"""The pipeline's steps: plain functions, idempotent and restartable, each one recorded.

    ingest → validate → features → train → evaluate → register → recommend → monitor

Each step takes the engine and the settings, does its work through the existing services
(ingestion, the feature store, training with MLflow's quality gate, the plan composer) and
records one ``pipeline_runs`` row with its counts (:func:`.records.record`).

Idempotent: a step first digests its inputs (files' sizes and times, the store's row
counts, the champion version, ...). When its last finished run saw the same digest there
is nothing to do and the run is recorded as ``skipped``; running the pipeline twice
changes nothing the second time. Steps that keep their own bookkeeping (validate: files
not assessed yet; recommend: clients whose draft is stale) skip when that finds nothing.

Restartable: every write happens in transactions of the services (one per ingested file,
one per feature build, one per chunk of plans), so a failed step leaves either nothing or
whole units behind, and running it again does only what is left.

The CLI (:mod:`.runner`) and the Airflow DAGs (``dags/``, through :func:`execute`) call
these same functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from health_advisor.config import Settings, get_settings
from health_advisor.errors import InputError
from health_advisor.pipeline import records
from health_advisor.pipeline.drift import ALPHA, PSI_THRESHOLD
from health_advisor.pipeline.records import STEPS, Skip, StepResult
from health_advisor.store.models import DataSource, FeatureSnapshot, Interaction
from health_advisor.store.session import session_scope

__all__ = [
    "STEPS",
    "StepResult",
    "evaluate",
    "execute",
    "features",
    "ingest",
    "monitor",
    "recommend",
    "register",
    "train",
    "validate",
]

UNCHANGED = "inputs unchanged since the last run"


def _recorded(
    engine: Engine,
    step: str,
    body: Callable[[int], Mapping[str, Any]],
    *,
    run_id: str | None,
    triggered_by: str,
    digest: str | None = None,
    force: bool = False,
) -> StepResult:
    """Record ``body``; skip it when ``digest`` matches the step's last finished run."""

    def guarded(record_id: int) -> Mapping[str, Any]:
        if digest is not None and not force and records.unchanged(engine, step, digest):
            raise Skip(UNCHANGED)
        return body(record_id)

    return records.record(
        engine, step, guarded, run_id=run_id, triggered_by=triggered_by, digest=digest
    )


def _data_state(engine: Engine) -> dict[str, Any]:
    """Row counts and high-water marks of what training and features read."""
    with session_scope(engine) as session:
        sources, last_source = session.execute(
            select(func.count(DataSource.id), func.max(DataSource.id))
        ).one()
        n, last, total = session.execute(
            select(
                func.count(Interaction.id), func.max(Interaction.id), func.sum(Interaction.value)
            )
        ).one()
    return {
        "sources": int(sources),
        "last_source": last_source,
        "interactions": int(n),
        "last_interaction": last,
        "interaction_total": round(float(total or 0.0), 6),
    }


# --------------------------------------------------------------------------- ingest


def inbox(settings: Settings) -> Path:
    """Where files wait for the scheduled ingest when no paths are given."""
    return settings.home / "inbox"


def _input_files(settings: Settings, paths: Sequence[Path] | None) -> list[Path]:
    from health_advisor.ingest.service import expand_paths

    if paths:
        return expand_paths([Path(p) for p in paths])
    folder = inbox(settings)
    return expand_paths([folder]) if folder.is_dir() else []


def ingest(
    engine: Engine,
    settings: Settings,
    *,
    paths: Sequence[Path] | None = None,
    source: str = "auto",
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """Ingest files and folders (default: ``<home>/inbox``), one transaction per file.

    A file already stored is ``unchanged`` (by its sha256); the step skips without
    hashing anything when no file's size or modification time changed.
    """
    files = _input_files(settings, paths)
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]

    def body(_: int) -> dict[str, Any]:
        from health_advisor.ingest.service import ingest_paths

        if not files:
            raise Skip(f"no input files (give paths, or put files in {inbox(settings)})")
        reports = ingest_paths(engine, files, source=source)
        ingested = [r for r in reports if r.status == "ingested"]
        return {
            "files": len(reports),
            "ingested": len(ingested),
            "unchanged": len(reports) - len(ingested),
            **{
                key: sum(getattr(r, key) for r in ingested)
                for key in (
                    "records_read",
                    "measurements",
                    "duplicates",
                    "interactions",
                    "surveys",
                    "quarantined",
                )
            },
        }

    digest = records.fingerprint("ingest", source, stats) if files else None
    return _recorded(
        engine,
        "ingest",
        body,
        run_id=run_id,
        triggered_by=triggered_by,
        digest=digest,
        force=force,
    )


# --------------------------------------------------------------------------- validate


def validate(
    engine: Engine,
    settings: Settings,
    *,
    max_quarantine_share: float | None = None,
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """Data-quality figures of every ingested file not assessed yet (one row per file)."""
    from health_advisor.pipeline import quality

    share = quality.MAX_QUARANTINE_SHARE if max_quarantine_share is None else max_quarantine_share

    def body(record_id: int) -> dict[str, Any]:
        with session_scope(engine) as session:
            rows = quality.validate_pending(
                session, pipeline_run_id=record_id, max_quarantine_share=share
            )
        if not rows:
            raise Skip("every ingested file is already assessed")
        values = sum(r.measurements_stored + r.duplicates + r.quarantined for r in rows)
        quarantined = sum(r.quarantined for r in rows)
        return {
            "files": len(rows),
            "flagged": sum(r.flagged for r in rows),
            "records_read": sum(r.records_read for r in rows),
            "measurements_stored": sum(r.measurements_stored for r in rows),
            "duplicates": sum(r.duplicates for r in rows),
            "quarantined": quarantined,
            "quarantine_share": quarantined / values if values else 0.0,
            "flags": {str(r.source_id): r.flags for r in rows if r.flags},
        }

    return _recorded(engine, "validate", body, run_id=run_id, triggered_by=triggered_by)


# --------------------------------------------------------------------------- features


def features(
    engine: Engine,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """Snapshots and anomaly alerts as of ``as_of`` (default: the latest observation)."""
    from health_advisor.features.snapshot import FEATURE_VERSION
    from health_advisor.store import repositories

    with session_scope(engine) as session:
        latest = repositories.latest_observation(session=session)
    day = as_of or (latest.date() if latest is not None else None)
    state = _data_state(engine)
    with session_scope(engine) as session:
        stored = session.scalar(
            select(func.count(FeatureSnapshot.id)).where(
                FeatureSnapshot.as_of == day, FeatureSnapshot.feature_version == FEATURE_VERSION
            )
        )

    def body(_: int) -> dict[str, Any]:
        from health_advisor.features.service import build

        if day is None:
            raise Skip("no measurements in the store")
        report = build(engine, as_of=day)
        return {
            "as_of": day,
            "feature_version": report.feature_version,
            "snapshots": report.clients,
            "measurements_read": report.measurements_read,
            "alerts_found": report.alerts_found,
            "alerts_new": report.alerts_new,
        }

    digest = records.fingerprint(
        "features", day, FEATURE_VERSION, state["sources"], state["last_source"]
    )
    return _recorded(
        engine,
        "features",
        body,
        run_id=run_id,
        triggered_by=triggered_by,
        digest=digest,
        force=force or not stored,  # no snapshots for that date (yet, or deleted): build
    )


# --------------------------------------------------------------------------- train


def train(
    engine: Engine,
    settings: Settings,
    *,
    model: str = "hybrid",
    seed: int = 0,
    tune_trials: int = 0,
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """Fit, evaluate against the baselines, log to MLflow and gate (``training.train``).

    Skips when the data, catalog, feature version and parameters are those of the last
    training, unless a drift report asked for retraining; a successful training closes
    those requests. A crash leaves the champion as it was (the gate runs last).
    """
    from health_advisor.catalog import load_catalog
    from health_advisor.features.snapshot import FEATURE_VERSION
    from health_advisor.pipeline import monitor as monitoring

    with session_scope(engine) as session:
        pending = records.open_retrain_requests(session)
    digest = records.fingerprint(
        "train",
        model,
        seed,
        tune_trials,
        load_catalog().version,
        FEATURE_VERSION,
        _data_state(engine),
    )

    def body(record_id: int) -> dict[str, Any]:
        from health_advisor.recommender.training import train as fit

        with session_scope(engine) as session:
            snapshot = session.scalar(select(func.max(FeatureSnapshot.as_of)))
        report = fit(engine, settings, model_name=model, seed=seed, tune_trials=tune_trials)
        with session_scope(engine) as session:
            resolved = monitoring.resolve_requests(session, record_id)
        return {
            "model": model,
            "version": report.version,
            "mlflow_run_id": report.run_id,
            "holdout_id": report.holdout_id,
            "promoted": report.promoted,
            "gate_reason": report.gate_reason,
            "ndcg_at_10": report.metrics.get("ndcg_at_10"),
            "rmse": report.metrics.get("rmse"),
            "snapshot_as_of": snapshot,
            "retrain_requests_resolved": resolved,
        }

    return _recorded(
        engine,
        "train",
        body,
        run_id=run_id,
        triggered_by=triggered_by,
        digest=digest,
        force=force or pending > 0,
    )


# --------------------------------------------------------------------------- evaluate


def evaluate(
    engine: Engine,
    settings: Settings,
    *,
    seed: int = 0,
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """The champion against the baselines on the current holdout (``training.evaluate``)."""
    from health_advisor.pipeline.monitor import champion

    current = champion(settings)
    digest = records.fingerprint("evaluate", current.version, seed, _data_state(engine))

    def body(_: int) -> dict[str, Any]:
        from health_advisor.recommender.training import evaluate as evaluate_champion

        if current.version is None:
            raise Skip("no champion model yet")
        report, facts = evaluate_champion(engine, settings, seed=seed)
        counts: dict[str, Any] = {
            "champion_version": facts["champion_version"],
            "holdout_id": facts["holdout_id"],
        }
        for row in report.to_dict(orient="records"):
            if row["metric"] in ("ndcg@10", "rmse") and row["value"] == row["value"]:
                name = str(row["metric"]).replace("@", "_at_")
                counts[f"{row['model']}.{row['segment']}.{name}"] = float(row["value"])
        return counts

    return _recorded(
        engine,
        "evaluate",
        body,
        run_id=run_id,
        triggered_by=triggered_by,
        digest=digest,
        force=force,
    )


# --------------------------------------------------------------------------- register


def register(
    engine: Engine,
    settings: Settings,
    *,
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """Make sure the newest registered version went through the quality gate.

    ``train`` gates its version as its last act; a training that died between
    registering and gating left a version no one judged. This step judges it
    (``registry.promote_if_better`` on the version's own holdout) and otherwise records
    the registry's state: the champion and the newest version's decision.
    """

    def body(_: int) -> dict[str, Any]:
        from health_advisor.errors import ModelNotReady
        from health_advisor.recommender import registry, tracking
        from health_advisor.recommender.training import GATE_METRIC

        try:
            client = tracking.connect(settings.resolved_mlflow_tracking_uri, create=False)
        except ModelNotReady:
            raise Skip("no model registry yet") from None
        versions = registry.list_versions(client=client)
        if not versions:
            raise Skip("no model registered yet")
        newest = versions[-1]
        state = {"newest_version": newest["version"]}
        if newest["gate_decision"] is not None:
            champion = registry.champion_version(client=client)
            raise Skip(
                f"version {newest['version']} already went through the gate",
                {**state, "decision": newest["gate_decision"], "champion_version": champion},
            )
        decision = registry.promote_if_better(
            client=client,
            version=int(newest["version"]),
            holdout_id=str(newest["holdout_id"] or ""),
            metric=GATE_METRIC,
        )
        return {
            **state,
            "decision": "promoted" if decision.promoted else "refused",
            "reason": decision.reason,
            "champion_version": registry.champion_version(client=client),
        }

    return _recorded(engine, "register", body, run_id=run_id, triggered_by=triggered_by)


# --------------------------------------------------------------------------- recommend


def recommend(
    engine: Engine,
    settings: Settings,
    *,
    rules_only: bool = False,
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """A fresh draft plan for every client who needs one (:mod:`.batch`)."""

    def body(_: int) -> dict[str, Any]:
        from health_advisor.pipeline.batch import batch_recommend

        report = batch_recommend(engine, settings, rules_only=rules_only)
        counts = asdict(report)
        if report.generated == 0:
            raise Skip("every client's draft is current or with people", counts)
        return counts

    return _recorded(engine, "recommend", body, run_id=run_id, triggered_by=triggered_by)


# --------------------------------------------------------------------------- monitor


def monitor(
    engine: Engine,
    settings: Settings,
    *,
    reference_as_of: dt.date | None = None,
    current_as_of: dt.date | None = None,
    psi_threshold: float = PSI_THRESHOLD,
    alpha: float = ALPHA,
    run_id: str | None = None,
    triggered_by: str = "cli",
    force: bool = False,
) -> StepResult:
    """Feature drift of the current snapshot against the champion's training snapshot.

    Writes a drift report (row and HTML page) per run; above the threshold also a
    clinic-wide alert and a retraining request (:mod:`.monitor`).
    """
    from health_advisor.features.snapshot import FEATURE_VERSION
    from health_advisor.pipeline import monitor as m

    model = m.champion(settings)
    with session_scope(engine) as session:
        reference = reference_as_of or m.reference_date(session, model)
        current = current_as_of or m.latest_date(session, FEATURE_VERSION)
        state = [
            m.snapshot_state(session, day, FEATURE_VERSION) if day else None
            for day in (reference, current)
        ]
    digest = records.fingerprint(
        "monitor", reference, current, FEATURE_VERSION, model.version, psi_threshold, alpha, state
    )

    def body(record_id: int) -> dict[str, Any]:
        if reference is None or current is None:
            raise Skip("no training snapshot to compare with (no champion trained yet)")
        with session_scope(engine) as session:
            result, n_ref, n_cur = m.compare_dates(
                session,
                reference,
                current,
                FEATURE_VERSION,
                psi_threshold=psi_threshold,
                alpha=alpha,
            )
            if n_ref == 0 or n_cur == 0:
                raise InputError(f"no feature snapshots stored for {reference} or {current}")
            facts: dict[str, Any] = {
                "reference_as_of": reference,
                "current_as_of": current,
                "feature_version": FEATURE_VERSION,
                "model_version": model.version,
                "reference_clients": n_ref,
                "current_clients": n_cur,
            }
            row = m.store_report(session, settings, result, facts, pipeline_run_id=record_id)
            counts: dict[str, Any] = {
                **facts,
                "drift_report_id": row.id,
                "report_path": row.report_path,
                "features_checked": result.checked,
                "features_drifted": len(result.drifted_features),
                "max_psi": result.max_psi,
                "drifted": result.drifted,
                "alert_id": row.alert_id,
                "retrain_requested": row.retrain_requested,
            }
        if result.drifted:
            counts["registry_tagged"] = m.tag_champion(settings, model.version, row.id)
        return counts

    return _recorded(
        engine,
        "monitor",
        body,
        run_id=run_id,
        triggered_by=triggered_by,
        digest=digest,
        force=force,
    )


# --------------------------------------------------------------------------- entry


STEP_FUNCTIONS: dict[str, Callable[..., StepResult]] = {
    "ingest": ingest,
    "validate": validate,
    "features": features,
    "train": train,
    "evaluate": evaluate,
    "register": register,
    "recommend": recommend,
    "monitor": monitor,
}


def execute(
    step: str,
    *,
    run_id: str | None = None,
    triggered_by: str = "airflow",
    database_url: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Run one step with the environment's settings; a JSON-ready result.

    The Airflow tasks call this (in the project's own environment); it raises when the
    step fails, so the scheduler sees the failure and retries.
    """
    from health_advisor.store.session import make_engine

    if step not in STEP_FUNCTIONS:
        raise InputError(f"unknown pipeline step {step!r}; expected one of {', '.join(STEPS)}")
    settings = get_settings()
    engine = make_engine(settings, url=database_url)
    try:
        result = STEP_FUNCTIONS[step](
            engine, settings, run_id=run_id, triggered_by=triggered_by, **_params(params)
        )
    finally:
        engine.dispose()
    return result.to_dict()


def _params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Airflow passes JSON values: turn paths and dates back into their types."""
    out = {k: v for k, v in params.items() if v is not None and v != ""}
    if "paths" in out:
        out["paths"] = [Path(p) for p in out["paths"]] or None
    for key in ("as_of", "reference_as_of", "current_as_of"):
        if isinstance(out.get(key), str):
            out[key] = dt.date.fromisoformat(out[key])
    return out
