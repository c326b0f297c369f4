"""The monitor step's I/O: which snapshots to compare, and what a drift leaves behind.

The *reference* is the feature snapshot the champion was trained on: the train step
records the latest snapshot date when it trains; a champion trained outside the pipeline
(``health-advisor train``) falls back to the latest snapshot computed before the version
was registered. The *current* population is the latest snapshot date.

A drift above the threshold leaves three things: a ``drift_reports`` row with every
feature's PSI and KS, the HTML report under ``<home>/reports/drift/``, and, when it
drifted, a clinic-wide alert (no client) upserted by its dedup key plus a retraining
request that stays open until a train step resolves it (and an MLflow tag on the champion
version, ``drift.retrain_requested``, so the registry shows it too).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from health_advisor.config import Settings
from health_advisor.pipeline import drift, quality, report
from health_advisor.pipeline.records import SUCCESS
from health_advisor.store.models import Alert, DriftReport, FeatureSnapshot, PipelineRun

MAX_CLIENTS = 20_000  # per side: PSI and KS settle long before; larger cohorts are thinned
ALERT_KIND = "feature_drift"
ALERT_SEVERITY = "warning"


@dataclass(frozen=True, slots=True)
class Champion:
    version: int | None
    created_at: dt.datetime | None


def champion(settings: Settings) -> Champion:
    """The serving version and when it was registered; (None, None) without a registry."""
    from health_advisor.errors import ModelNotReady

    try:
        from health_advisor.recommender import registry, tracking

        client = tracking.connect(settings.resolved_mlflow_tracking_uri, create=False)
        version = registry.champion_version(client=client)
        if version is None:
            return Champion(None, None)
        created = client.get_model_version(tracking.MODEL_NAME, str(version)).creation_timestamp
    except (ImportError, ModelNotReady):
        return Champion(None, None)
    stamp = dt.datetime.fromtimestamp(created / 1000, dt.UTC) if created else None
    return Champion(version, stamp)


def reference_date(session: Session, model: Champion) -> dt.date | None:
    """The snapshot date the champion was trained on (see the module docstring)."""
    if model.version is None:
        return None
    trains = session.scalars(
        select(PipelineRun)
        .where(PipelineRun.step == "train", PipelineRun.status == SUCCESS)
        .order_by(PipelineRun.id.desc())
    )
    for run in trains:
        if run.counts.get("version") == model.version and run.counts.get("snapshot_as_of"):
            return dt.date.fromisoformat(str(run.counts["snapshot_as_of"]))
    if model.created_at is None:
        return None
    return session.scalar(
        select(func.max(FeatureSnapshot.as_of)).where(
            FeatureSnapshot.computed_at <= model.created_at
        )
    )


def latest_date(session: Session, feature_version: str) -> dt.date | None:
    return session.scalar(
        select(func.max(FeatureSnapshot.as_of)).where(
            FeatureSnapshot.feature_version == feature_version
        )
    )


def snapshot_state(session: Session, as_of: dt.date, feature_version: str) -> list[Any]:
    """(rows, last computed) of one snapshot date: part of the monitor's fingerprint."""
    n, last = session.execute(
        select(func.count(FeatureSnapshot.id), func.max(FeatureSnapshot.computed_at)).where(
            FeatureSnapshot.as_of == as_of, FeatureSnapshot.feature_version == feature_version
        )
    ).one()
    return [int(n), last.isoformat() if last is not None else None]


def load_features(
    session: Session, as_of: dt.date, feature_version: str, *, max_clients: int = MAX_CLIENTS
) -> pd.DataFrame:
    """One snapshot date's features, one row per client (every k-th client beyond the
    cap, by store id: deterministic and unrelated to any feature)."""
    where = (FeatureSnapshot.as_of == as_of, FeatureSnapshot.feature_version == feature_version)
    n = int(session.scalar(select(func.count(FeatureSnapshot.id)).where(*where)) or 0)
    query = select(FeatureSnapshot.features).where(*where)
    step = -(-n // max_clients) if n > max_clients else 1
    if step > 1:
        query = query.where(FeatureSnapshot.client_id % step == 0)
    return pd.DataFrame([dict(f) for f in session.scalars(query)])


def compare_dates(
    session: Session,
    reference: dt.date,
    current: dt.date,
    feature_version: str,
    *,
    psi_threshold: float,
    alpha: float,
) -> tuple[drift.DriftResult, int, int]:
    ref = load_features(session, reference, feature_version)
    cur = load_features(session, current, feature_version)
    numeric, categorical = drift.feature_columns(set(ref.columns) & set(cur.columns))
    result = drift.compare(
        ref, cur, numeric=numeric, categorical=categorical, psi_threshold=psi_threshold, alpha=alpha
    )
    return result, len(ref), len(cur)


def explanation(result: drift.DriftResult, reference: dt.date, current: dt.date) -> str:
    top = ", ".join(f"{f.name} (PSI {f.psi:.2f})" for f in result.drifted_features[:5])
    more = len(result.drifted_features) - 5
    tail = f" and {more} more" if more > 0 else ""
    return (
        f"Feature drift between the training snapshot ({reference}) and the current one "
        f"({current}): {len(result.drifted_features)} of {result.checked} features shifted: "
        f"{top}{tail}. The model is marked for retraining."
    )


def raise_alert(
    session: Session, result: drift.DriftResult, reference: dt.date, current: dt.date, fv: str
) -> Alert:
    """Upsert the clinic-wide drift alert for this pair of dates."""
    key = f"drift|{fv}|{reference}|{current}"
    alert = session.scalar(select(Alert).where(Alert.dedup_key == key))
    top = result.drifted_features[0].name
    if alert is None:
        alert = Alert(
            client_id=None,
            dedup_key=key,
            kind=ALERT_KIND,
            window_start=reference,
            window_end=current,
            severity=ALERT_SEVERITY,
            metric=top[:32],
            explanation="",
        )
        session.add(alert)
    alert.metric = top[:32]
    alert.explanation = explanation(result, reference, current)
    session.flush()
    return alert


def store_report(
    session: Session,
    settings: Settings,
    result: drift.DriftResult,
    facts: dict[str, Any],
    *,
    pipeline_run_id: int,
) -> DriftReport:
    """The report row, its HTML page, and on drift the alert and the retraining request."""
    reference, current = facts["reference_as_of"], facts["current_as_of"]
    alert = (
        raise_alert(session, result, reference, current, facts["feature_version"])
        if result.drifted
        else None
    )
    html = report.render(result, facts, quality.recent(session, limit=20))
    name = f"drift-{current}-vs-{reference}-run{pipeline_run_id}.html"
    path = report.write(html, report_folder(settings), name)
    row = DriftReport(
        pipeline_run_id=pipeline_run_id,
        reference_as_of=reference,
        current_as_of=current,
        feature_version=facts["feature_version"],
        model_version=facts["model_version"],
        reference_clients=facts["reference_clients"],
        current_clients=facts["current_clients"],
        features_checked=result.checked,
        features_drifted=len(result.drifted_features),
        max_psi=result.max_psi,
        psi_threshold=result.psi_threshold,
        drifted=result.drifted,
        features={f.name: f.summary() for f in result.features},
        report_path=str(path),
        alert_id=alert.id if alert is not None else None,
        retrain_requested=result.drifted,
    )
    session.add(row)
    session.flush()
    return row


def tag_champion(settings: Settings, version: int | None, report_id: int) -> bool:
    """Mark the champion version in the registry as well. Best effort: the store's
    request is the one the train step reads, and the report is already committed, so a
    registry that cannot be written must not fail the step (a rerun would repeat it)."""
    if version is None:
        return False
    try:
        from health_advisor.recommender import tracking

        client = tracking.connect(settings.resolved_mlflow_tracking_uri, create=False)
        client.set_model_version_tag(
            tracking.MODEL_NAME, str(version), "drift.retrain_requested", str(report_id)
        )
    except Exception:
        return False
    return True


def resolve_requests(session: Session, pipeline_run_id: int) -> int:
    """Close every open retraining request (the train step just retrained)."""
    result = session.execute(
        update(DriftReport)
        .where(DriftReport.retrain_requested.is_(True), DriftReport.retrain_resolved_at.is_(None))
        .values(retrain_resolved_at=dt.datetime.now(dt.UTC), retrain_resolved_by=pipeline_run_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def report_folder(settings: Settings) -> Path:
    return settings.home / "reports" / "drift"
