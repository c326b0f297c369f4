"""Ingestion into the store (SQLite and PostgreSQL): lineage, idempotency, quarantine,
one transaction per file, and the real public files with their exact counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import service
from health_advisor.store import bulk, repositories
from health_advisor.store.models import Client, DataSource, Interaction, Measurement
from health_advisor.store.session import session_scope


def count(engine: Engine, model: type, *where: object) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def metric_count(engine: Engine, code: str) -> int:
    return count(engine, Measurement, Measurement.metric == code)


def test_fitbit_folder_ingests_with_exact_counts_and_is_idempotent(
    engine: Engine, shared_data: Path
) -> None:
    reports = service.ingest_paths(engine, [shared_data / "fitbit"])
    by_file = {Path(r.path).name: r for r in reports}
    activity = by_file["dailyActivity_merged.csv"]
    assert activity.records_read == 940
    assert activity.clients == 33
    assert by_file["sleepDay_merged.csv"].records_read == 413
    assert by_file["weightLogInfo_merged.csv"].clients == 8
    assert metric_count(engine, "41950-7") == 863  # steps on worn days only
    assert metric_count(engine, "93832-4") == 410  # sleep days, duplicates kept once
    assert count(engine, Client) == 33
    assert count(engine, DataSource) == 5
    with session_scope(engine) as session:
        reasons = repositories.quarantine_by_reason(session=session)
    assert reasons["device not worn (0 steps, 1440 sedentary minutes)"] == 72
    assert reasons["exact duplicate of line N; kept once"] == 3  # sleepDay's known quirk
    again = service.ingest_paths(engine, [shared_data / "fitbit"])
    assert {r.status for r in again} == {"unchanged"}
    assert metric_count(engine, "41950-7") == 863


def test_fhir_bundles_store_observations_by_loinc_code(engine: Engine, shared_data: Path) -> None:
    service.ingest_paths(engine, [shared_data / "fhir"])
    expected = {
        "8480-6": 70,
        "8462-4": 70,
        "8867-4": 63,
        "4548-4": 17,
        "2093-3": 41,
        "18262-6": 41,
        "2085-9": 41,
        "2571-8": 41,
        "29463-7": 70,
        "39156-5": 59,
    }
    assert {code: metric_count(engine, code) for code in expected} == expected
    assert count(engine, Client) == 8
    with session_scope(engine) as session:
        client = repositories.get_client(
            session=session, external_id="7e285e08-34a4-4b3b-aff6-60f48a3c7cd3"
        )
        assert client is not None and client.sex == "male"
        assert client.birth_date is not None and client.birth_date.year == 1967


def test_overlapping_export_counts_duplicates_instead_of_storing_twice(
    engine: Engine, shared_data: Path, tmp_path: Path
) -> None:
    original = shared_data / "fitbit" / "sleepDay_merged.csv"
    copy = tmp_path / "sleepDay_merged.csv"
    copy.write_bytes(original.read_bytes() + b"\r\n")  # other bytes, same records
    first = service.ingest_file(engine, original)
    second = service.ingest_file(engine, copy)
    assert second.status == "ingested"
    assert second.measurements == 0
    assert second.duplicates == first.measurements
    assert metric_count(engine, "93832-4") == 410


def test_malformed_file_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bundle.json"
    bad.write_text('{"resourceType": "Bundle", "entry": [')
    with pytest.raises(MalformedFileError, match=r"bundle\.json:1"):
        service.ingest_file(engine, bad, source="fhir")
    assert count(engine, DataSource) == 0


def test_failure_mid_file_rolls_back_everything_and_rerun_completes(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text(
        "client_id,intervention_id,kind,value,at\n"
        "c1,ex_brisk_walking,accepted,1,2025-01-06T10:00:00-05:00\n"
        "c1,ex_brisk_walking,adherence,80,2025-01-13T10:00:00-05:00\n"
        "c2,sl_fixed_wake_time,declined,0,2025-01-06T10:00:00-05:00\n"
    )

    def boom(*_args: object) -> int:
        raise ConnectionError("database went away")

    monkeypatch.setattr(bulk, "insert_interactions", boom)
    with pytest.raises(ConnectionError):
        service.ingest_file(engine, path)
    assert (count(engine, DataSource), count(engine, Client)) == (0, 0)
    monkeypatch.undo()
    report = service.ingest_file(engine, path)
    assert (report.status, report.interactions) == ("ingested", 3)
    assert count(engine, Interaction) == 3


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_kept(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "clinic.csv"
    path.write_text(
        "client_id,date,heart_rate,blood_pressure,cholesterol_levels,steps_count,active_minutes,"
        "calorie_intake,water_consumption,sleep_duration,sleep_quality\n"
        "c1,2025-01-06,62,121/79,190,8000,30,2100,2.0,7.5,80\n"
        "c1,2025-01-07,312,120/80,5.2,9000,35,2000,2.1,7.0,75\n"
    )
    report = service.ingest_file(engine, path)
    assert report.quarantined >= 1
    with session_scope(engine) as session:
        rows = repositories.list_quarantine(session=session)
    reasons = [q.reason for q, _ in rows]
    assert "heart_rate: 312 /min outside 25-150" in reasons
    assert all(q.line == 3 for q, _ in rows)
    assert metric_count(engine, "40443-4") == 1  # the good day's resting heart rate
    assert metric_count(engine, "2093-3") == 2  # 5.2 mmol/L converted, not rejected
    with session_scope(engine) as session:
        mmol = session.scalar(
            select(Measurement).where(
                Measurement.metric == "2093-3", Measurement.original_unit == "mmol/L"
            )
        )
    assert mmol is not None and mmol.value == pytest.approx(5.2 * 38.67, rel=1e-3)


def test_synthetic_clinic_round_trip(engine: Engine, tmp_path: Path) -> None:
    from health_advisor.synth import generate_clinic

    out = tmp_path / "clinic"
    generate_clinic(out, clients=12, days=21, seed=3)
    data_dirs = [out / d for d in ("surveys", "seed", "fitbit", "fhir", "interactions")]
    reports = service.ingest_paths(engine, data_dirs)
    assert all(r.status == "ingested" for r in reports)
    assert count(engine, Client) == 12
    with session_scope(engine) as session:
        named = [c for c in repositories.list_clients(session=session) if c.name]
    assert len(named) == 12
    assert count(engine, Interaction) > 0
    shutil.rmtree(out)


def test_folders_are_expanded_relative_to_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "a" / "data"
    (folder / ".hidden").mkdir(parents=True)
    (folder / "x.csv").write_text("x")
    (folder / ".hidden" / "y.csv").write_text("y")
    (folder / "notes.txt").write_text("z")
    relative = Path("..") / folder.relative_to(tmp_path)  # a path that starts with ".."
    inside = tmp_path / "b"
    inside.mkdir()
    monkeypatch.chdir(inside)
    assert service.expand_paths([relative]) == [relative / "x.csv"]
