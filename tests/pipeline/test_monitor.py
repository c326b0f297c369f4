"""The monitor step: a drift above the threshold raises a clinic-wide alert, writes its
report and marks the model for retraining; the next train step honours and closes that."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from health_advisor.config import Settings
from health_advisor.errors import InputError
from health_advisor.pipeline import records, steps
from health_advisor.recommender import tracking
from health_advisor.store.models import Alert, DriftReport, FeatureSnapshot
from health_advisor.store.session import session_scope

LATER = 7  # days between the training snapshot and the shifted one


def shift_population(engine: Engine, as_of: dt.date) -> dt.date:
    """Store a copy of the ``as_of`` snapshots a week later with the cohort walking three
    times more, sleeping two hours less and every client at high risk."""
    later = as_of + dt.timedelta(days=LATER)
    with session_scope(engine) as session:
        for snap in session.scalars(select(FeatureSnapshot).where(FeatureSnapshot.as_of == as_of)):
            features = dict(snap.features)
            if features.get("steps_mean_7d") is not None:
                features["steps_mean_7d"] = 3 * features["steps_mean_7d"]
            if features.get("sleep_duration_mean_7d") is not None:
                features["sleep_duration_mean_7d"] = features["sleep_duration_mean_7d"] - 2
            features["health_risk_category"] = "high"
            session.add(
                FeatureSnapshot(
                    client_id=snap.client_id,
                    as_of=later,
                    feature_version=snap.feature_version,
                    features=features,
                    risk=snap.risk,
                )
            )
    return later


def drift_alerts(engine: Engine) -> list[Alert]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Alert).where(Alert.kind == "feature_drift")))


def test_drift_raises_an_alert_and_a_retraining_that_train_closes(
    engine: Engine, home: Settings, clinic_paths: list[Path]
) -> None:
    steps.ingest(engine, home, paths=clinic_paths)
    trained_on = dt.date.fromisoformat(steps.features(engine, home).counts["as_of"])
    assert steps.train(engine, home, model="baseline").counts["snapshot_as_of"] == str(trained_on)
    later = shift_population(engine, trained_on)

    result = steps.monitor(engine, home)
    counts = result.counts
    assert result.status == "success" and counts["drifted"] is True
    assert (counts["reference_as_of"], counts["current_as_of"]) == (str(trained_on), str(later))
    assert counts["features_drifted"] >= 3 and counts["max_psi"] >= 0.25
    assert counts["retrain_requested"] and counts["registry_tagged"]

    (alert,) = drift_alerts(engine)
    assert alert.client_id is None and alert.severity == "warning"
    assert (alert.window_start, alert.window_end) == (trained_on, later)
    assert "steps_mean_7d" in alert.explanation and "retraining" in alert.explanation
    with session_scope(engine) as session:
        report = session.scalar(select(DriftReport))
        assert report is not None and report.alert_id == alert.id and report.retrain_requested
        assert report.features["steps_mean_7d"]["drifted"] is True
        assert report.features["age_years"]["drifted"] is False  # the same people, unmoved
        assert "ldl_days_since" not in report.features
    html = Path(counts["report_path"]).read_text(encoding="utf-8")
    assert "Drift:" in html and "steps_mean_7d" in html and "<svg" in html
    client = tracking.connect(home.resolved_mlflow_tracking_uri)
    tags = client.get_model_version(tracking.MODEL_NAME, "1").tags
    assert tags["drift.retrain_requested"] == str(counts["drift_report_id"])
    figures = records.latest_figures(engine)
    assert figures.retrain_pending and figures.drift is not None and figures.drift.drifted
    assert figures.drift.psi_by_feature["steps_mean_7d"] >= 0.25

    assert steps.monitor(engine, home).status == "skipped"  # same snapshots: nothing new
    assert steps.monitor(engine, home, force=True).status == "success"
    assert len(drift_alerts(engine)) == 1  # the same pair of dates: the same alert

    retrained = steps.train(engine, home, model="baseline")  # data unchanged, but asked to
    assert retrained.status == "success" and retrained.counts["retrain_requests_resolved"] == 2
    assert not records.latest_figures(engine).retrain_pending
    with session_scope(engine) as session:
        resolved_by = set(session.scalars(select(DriftReport.retrain_resolved_by)))
    assert resolved_by == {retrained.record_id}
    assert steps.train(engine, home, model="baseline").status == "skipped"


def test_no_drift_below_the_threshold(
    engine: Engine, home: Settings, clinic_paths: list[Path]
) -> None:
    steps.ingest(engine, home, paths=clinic_paths)
    as_of = dt.date.fromisoformat(steps.features(engine, home).counts["as_of"])
    earlier = as_of - dt.timedelta(days=2)
    steps.features(engine, home, as_of=earlier)  # two days apart: the same population
    result = steps.monitor(engine, home, reference_as_of=earlier, current_as_of=as_of)
    assert result.status == "success" and result.counts["drifted"] is False
    assert result.counts["model_version"] is None  # no champion: explicit dates still work
    assert drift_alerts(engine) == []
    assert not records.latest_figures(engine).retrain_pending


def test_monitor_without_a_champion_skips(engine: Engine, home: Settings) -> None:
    result = steps.monitor(engine, home)
    assert result.status == "skipped" and "no training snapshot" in result.counts["reason"]


def test_a_missing_snapshot_date_fails_with_a_clear_error(engine: Engine, home: Settings) -> None:
    day = dt.date(2025, 1, 1)
    with pytest.raises(InputError, match="no feature snapshots stored for 2025-01-01"):
        steps.monitor(engine, home, reference_as_of=day, current_as_of=day)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(DriftReport.id))) == 0
