"""Source detection (--source auto) and the adapter registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from health_advisor.errors import InputError, MalformedFileError
from health_advisor.ingest.adapters import ADAPTERS, parse_file
from health_advisor.ingest.detect import detect_source


def test_real_files_are_detected(shared_data: Path) -> None:
    for path in (shared_data / "fitbit").glob("*.csv"):
        assert detect_source(path) == "fitbit", path
    for path in (shared_data / "fhir").glob("*.json"):
        assert detect_source(path) == "fhir", path
    assert detect_source(shared_data / "apple_health" / "export.xml") == "apple"


@pytest.mark.parametrize(
    ("header", "source"),
    [
        (
            "client_id,date,heart_rate,blood_pressure,cholesterol_levels,steps_count,"
            "active_minutes,calorie_intake,water_consumption,sleep_duration,sleep_quality",
            "csv",
        ),
        (
            "client_id,answered_at,name,email,phone,birth_date,sex,goals,preferred_domains,"
            "preferred_settings,weekly_time_budget_min,conditions,medical_clearance,smoker,"
            "stress_level",
            "survey",
        ),
        ("client_id,intervention_id,kind,value,at", "interactions"),
        ("Id,Time,Value", "fitbit"),
    ],
)
def test_csv_headers(tmp_path: Path, header: str, source: str) -> None:
    path = tmp_path / "file.csv"
    path.write_text(header + "\n")
    assert detect_source(path) == source


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", b"foo,bar\n1,2\n", "matches no known source"),
        ("a.bin", b"\x00\x01\x02\x03", "binary data"),
        ("a.json", b'{"hello": 1}', "not a FHIR Bundle"),
        ("a.xml", b"<svg></svg>", "not an Apple Health export"),
        ("a.csv", b"", "file is empty"),
    ],
)
def test_unknown_files_name_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MalformedFileError, match=message) as caught:
        detect_source(path)
    assert str(path) in str(caught.value)


def test_parse_file_auto_and_explicit(shared_data: Path) -> None:
    path = shared_data / "fitbit" / "weightLogInfo_merged.csv"
    assert parse_file(path).source_kind == "fitbit"
    assert parse_file(path, "fitbit").records_read == 67
    with pytest.raises(InputError, match="unknown source 'garmin'"):
        parse_file(path, "garmin")
    assert set(ADAPTERS) == {"csv", "fitbit", "fhir", "apple", "survey", "interactions"}


def test_explicit_wrong_adapter_fails_cleanly(shared_data: Path) -> None:
    with pytest.raises(MalformedFileError, match="missing required column"):
        parse_file(shared_data / "fitbit" / "weightLogInfo_merged.csv", "survey")
