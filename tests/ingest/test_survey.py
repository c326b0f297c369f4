"""The intake survey: clients, survey dicts, stress measurement, all-or-nothing rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import survey

HEADER = ",".join(survey.COLUMNS) + "\n"
GOOD = (
    "c1,2024-03-01T09:00:00,Ana Pérez,ana@example.com,+51 999 111 222,1980-05-01,female,"
    "lower_bp;get_fit,exercise;sleep,home;app,150,hypertension,yes,no,6\n"
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "intake.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_row(tmp_path: Path) -> None:
    result = survey.parse(_write(tmp_path, HEADER + GOOD))
    client = result.clients[0]
    assert (client.name, client.email, client.sex, str(client.birth_date)) == (
        "Ana Pérez",
        "ana@example.com",
        "female",
        "1980-05-01",
    )
    answers = result.surveys[0]
    assert answers["goals"] == ["lower_bp", "get_fit"]
    assert answers["conditions"] == ["hypertension"]
    assert answers["medical_clearance"] is True and answers["smoker"] is False
    assert answers["weekly_time_budget_min"] == 150
    assert answers["answered_at"].isoformat() == "2024-03-01T14:00:00+00:00"
    stress = result.measurements
    assert stress["metric"].tolist() == ["ha-stress"] and stress["value"].tolist() == [6.0]
    assert result.quarantine == [] and result.records_read == 1


def test_unknown_ids_quarantine_the_whole_row_and_keep_the_others(tmp_path: Path) -> None:
    bad = (
        "c2,2024-03-01,Bob,bob@x,+51,1970-01-01,m,fly,exercise,gym,99999,hipertension,maybe,no,11\n"
    )
    result = survey.parse(_write(tmp_path, HEADER + GOOD + bad))
    assert [c.client_id for c in result.clients] == ["c1"]
    assert len(result.surveys) == 1 and len(result.measurements) == 1
    (record,) = result.quarantine
    assert record.line == 3 and record.client_id == "c2"
    assert record.raw == bad.strip()
    for part in (
        "goals: unknown id(s) fly",
        "conditions: unknown id(s) hipertension",
        "weekly_time_budget_min: 99999 is not a whole number in 0-10080",
        "stress_level: 11 is not a whole number in 0-10",
        "medical_clearance: 'maybe' is not yes/no",
        "email: 'bob@x' is not an email address",
    ):
        assert part in record.reason


def test_missing_column_is_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path, "client_id,answered_at\nc1,2024-01-01\n")
    with pytest.raises(MalformedFileError, match="missing required column"):
        survey.parse(path)
