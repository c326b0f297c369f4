"""The feature store on SQLite and PostgreSQL: snapshots and alerts from stored data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from health_advisor.errors import NotFoundError
from health_advisor.features import service
from health_advisor.features.snapshot import RISK_KEYS
from health_advisor.ingest.service import ingest_file, ingest_paths
from health_advisor.store.models import Alert, FeatureSnapshot
from health_advisor.store.session import session_scope


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text(
        "client_id,date,heart_rate,blood_pressure,cholesterol_levels,steps_count,"
        "active_minutes,calorie_intake,water_consumption,sleep_duration,sleep_quality\n"
        + "\n".join(rows)
        + "\n"
    )
    return path


def _days(start: dt.date, n: int, bp: str) -> list[str]:
    return [f"c1,{start + dt.timedelta(days=i)},62,{bp},,8000,30,2100,2.0,7.5,80" for i in range(n)]


def test_build_stores_one_snapshot_per_client_with_every_risk_key(
    engine: Engine, shared_data: Path
) -> None:
    ingest_paths(engine, [shared_data / "fitbit"])
    report = service.build(engine, as_of=dt.date(2016, 5, 12))
    assert report.clients == 33
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(FeatureSnapshot)) == 33
        snap = service.latest_snapshot(session, client_id="1503960366")
    assert set(snap["risk"]) == set(RISK_KEYS)
    assert snap["risk"]["blood_pressure"]["category"] == "unknown"
    assert snap["features"]["steps_mean_28d"] > 0


def test_point_in_time_later_data_does_not_change_an_earlier_snapshot(
    engine: Engine, tmp_path: Path
) -> None:
    start = dt.date(2025, 1, 1)
    ingest_file(engine, _csv(tmp_path / "a.csv", _days(start, 30, "118/76")))
    service.build(engine, as_of=dt.date(2025, 1, 30))
    with session_scope(engine) as session:
        before = service.latest_snapshot(session, client_id="c1")
    assert before["risk"]["blood_pressure"]["category"] == "normal"
    later = _days(start + dt.timedelta(days=30), 10, "185/125")
    ingest_file(engine, _csv(tmp_path / "b.csv", later))
    service.build(engine, as_of=dt.date(2025, 1, 30))  # rebuild the same date
    with session_scope(engine) as session:
        again = service.latest_snapshot(session, client_id="c1")
    assert again["features"] == before["features"]
    assert again["risk"] == before["risk"]
    report = service.build(engine, as_of=dt.date(2025, 2, 9))
    with session_scope(engine) as session:
        latest = service.latest_snapshot(session, client_id="c1")
        alerts = service.client_alerts(session, client_id="c1")
    # The category is the average of the 90-day readings: (30 x 118 + 10 x 185) / 40 =
    # 134.75 over (30 x 76 + 10 x 125) / 40 = 88.25 is stage 1; each crisis reading alerts.
    assert latest["risk"]["blood_pressure"]["category"] == "stage_1"
    assert report.alerts_new >= 1
    assert {a["kind"] for a in alerts} >= {"hypertensive_crisis"}


def test_rebuilding_does_not_duplicate_alerts(engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine, _csv(tmp_path / "a.csv", _days(dt.date(2025, 1, 1), 5, "190/100")))
    first = service.build(engine, as_of=dt.date(2025, 1, 5))
    second = service.build(engine, as_of=dt.date(2025, 1, 5))
    assert first.alerts_new == first.alerts_found > 0
    assert second.alerts_new == 0
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == first.alerts_found


def test_show_unknown_client_is_a_clear_error(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(NotFoundError, match="'nobody'"):
        service.latest_snapshot(session, client_id="nobody")
