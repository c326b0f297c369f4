"""The seed CSV schema: composite fields, unit mix-ups, dating, bad rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import seed_csv

HEADER = (
    "client_id,date,heart_rate,blood_pressure,cholesterol_levels,steps_count,active_minutes,"
    "calorie_intake,water_consumption,sleep_duration,sleep_quality,sedentary_time,"
    "macronutrient_ratio,bedtime\n"
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinic_daily.csv"
    path.write_text(text)
    return path


def test_full_row_becomes_one_measurement_per_reading(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER + "c1,2024-03-01,62,120/80,190,8000,30,2100,2.1,7.5,80,600,50/20/30,23:40\n",
    )
    result = seed_csv.parse(path)
    values = dict(zip(result.measurements["metric"], result.measurements["value"], strict=True))
    assert values == pytest.approx(
        {
            "40443-4": 62,
            "8480-6": 120,
            "8462-4": 80,
            "2093-3": 190,
            "41950-7": 8000,
            "ha-active-minutes": 30,
            "9052-2": 2100,
            "ha-water": 2.1,
            "93832-4": 7.5,
            "ha-sleep-quality": 80,
            "ha-sedentary-minutes": 600,
            "ha-macro-carb": 50,
            "ha-macro-protein": 20,
            "ha-macro-fat": 30,
            "ha-bedtime": -1 / 3,
        }
    )
    assert set(result.measurements["observed_at"]) == {pd.Timestamp("2024-03-01T05:00:00Z")}
    assert result.quarantine == [] and result.records_read == 1


def test_empty_fields_are_missing_and_small_cholesterol_is_mmol(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "c1,2024-03-02,,135,5.2,,,,,,,,,00:30\n")
    result = seed_csv.parse(path)
    frame = result.measurements.set_index("metric")
    assert sorted(frame.index) == ["2093-3", "8480-6", "ha-bedtime"]  # lone systolic
    assert frame.loc["2093-3", "value"] == pytest.approx(201.084)
    assert frame.loc["2093-3", "original_unit"] == "mmol/L"
    assert frame.loc["ha-bedtime", "value"] == 0.5
    assert result.quarantine == []


def test_bad_fields_are_quarantined_and_the_rest_of_the_row_kept(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER + "c2,2024-03-01,312,12O/80,180,abc,30,2100,2.1,7.5,80,600,50/20/20,25:00\n"
        "c3,03/01/2024,60,120/80,180,1,1,1,1,1,1,1,,\n",
    )
    result = seed_csv.parse(path)
    reasons = sorted(q.reason for q in result.quarantine)
    assert reasons == [
        "bedtime: '25:00' is not a time HH:MM",
        "blood_pressure: '12O/80' is not 'systolic/diastolic' or a systolic number",
        "date: '03/01/2024' is not a date (expected YYYY-MM-DD)",
        "heart_rate: 312 /min outside 25-150",
        "macronutrient_ratio: '50/20/20' is not carb/protein/fat % summing to 100",
        "steps_count: 'abc' is not a number",
    ]
    assert sorted(result.measurements["metric"]) == sorted(
        [
            "2093-3",
            "ha-active-minutes",
            "9052-2",
            "ha-water",
            "93832-4",
            "ha-sleep-quality",
            "ha-sedentary-minutes",
        ]
    )
    assert {q.line for q in result.quarantine} == {2, 3}


def test_without_date_column_a_date_must_be_given(tmp_path: Path) -> None:
    header = HEADER.replace("date,", "")
    path = _write(
        tmp_path, header + "c1,62,120/80,190,8000,30,2100,2.1,7.5,80,600,50/20/30,23:40\n"
    )
    with pytest.raises(MalformedFileError, match="no 'date' column"):
        seed_csv.parse(path)
    result = seed_csv.parse(path, date=date(2024, 5, 1))
    assert set(result.measurements["observed_at"]) == {pd.Timestamp("2024-05-01T05:00:00Z")}


def test_missing_required_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "client_id,date,heart_rate\nc1,2024-01-01,60\n")
    with pytest.raises(MalformedFileError, match="missing required column") as caught:
        seed_csv.parse(path)
    assert caught.value.line == 1
