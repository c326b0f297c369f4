"""The intake survey CSV -> clients, survey answers and a stress-level measurement.

Columns: ``client_id, answered_at, name, email, phone, birth_date, sex, goals,
preferred_domains, preferred_settings, weekly_time_budget_min, conditions,
medical_clearance, smoker, stress_level``. Lists are semicolon-separated ids of
:mod:`health_advisor.core.vocabulary`.

A row with any invalid answer is quarantined whole, with every reason: a misspelt
condition silently dropped could hide a contraindication, so a survey is taken
entirely or not at all. ``answered_at`` without an offset is local time in ``tz``.
Surveys are small (one row per client), so rows are checked one by one.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from health_advisor.core.vocabulary import CONDITIONS, DOMAINS, GOALS, SETTINGS
from health_advisor.errors import MalformedFileError
from health_advisor.ingest.base import ClientRecord, ParseResult, QuarantinedRecord
from health_advisor.ingest.validation import (
    DEFAULT_TIMEZONE,
    RAW_COLUMNS,
    normalise,
    parse_iso_times,
    read_text,
)

__all__ = ["COLUMNS", "parse"]

COLUMNS: tuple[str, ...] = (
    "client_id",
    "answered_at",
    "name",
    "email",
    "phone",
    "birth_date",
    "sex",
    "goals",
    "preferred_domains",
    "preferred_settings",
    "weekly_time_budget_min",
    "conditions",
    "medical_clearance",
    "smoker",
    "stress_level",
)
LISTS: dict[str, tuple[str, ...]] = {
    "goals": GOALS,
    "preferred_domains": DOMAINS,
    "preferred_settings": SETTINGS,
    "conditions": CONDITIONS,
}
SEXES = {"female": "female", "f": "female", "male": "male", "m": "male", "other": "other"}
YES = {"true", "yes", "y", "1", "si", "sí"}
NO = {"false", "no", "n", "0"}
MINUTES_PER_WEEK = 7 * 24 * 60
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse(
    path: Path, *, tz: str = DEFAULT_TIMEZONE, now: pd.Timestamp | None = None
) -> ParseResult:
    """Parse one survey CSV."""
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text))
    header = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise MalformedFileError(path, 1, f"missing required column(s) {', '.join(missing)}")
    lines = text.splitlines()
    result = ParseResult(source_kind="survey")
    stress: list[dict[str, Any]] = []
    line = reader.line_num
    for row in reader:
        start, line = line + 1, reader.line_num
        result.records_read += 1
        clean = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        answers, problems = _answers(clean, tz)
        if problems:
            result.quarantine.append(
                QuarantinedRecord(
                    reason="; ".join(problems),
                    raw="\n".join(lines[start - 1 : line]),
                    line=start,
                    client_id=clean.get("client_id") or None,
                )
            )
            continue
        result.clients.append(_client(clean, answers))
        result.surveys.append(answers)
        if clean["stress_level"]:
            stress.append(_stress_row(clean, answers, start, lines[start - 1]))
    raw = pd.DataFrame(stress, columns=[*RAW_COLUMNS, "raw"])
    raw["observed_at"] = pd.to_datetime(raw["observed_at"], utc=True).dt.as_unit("ns")
    result.measurements, rejected = normalise(raw, origin=str(path), now=now)
    result.quarantine += rejected
    return result


def _stress_row(
    clean: dict[str, str], answers: dict[str, Any], line: int, raw: str
) -> dict[str, Any]:
    return {
        "client_id": clean["client_id"],
        "metric": "ha-stress",
        "original_value": clean["stress_level"],
        "original_unit": "{score}",
        "observed_at": answers["answered_at"],
        "source_record": f"survey:{clean['client_id']}:{clean['answered_at']}",
        "line": line,
        "raw": raw,
    }


def _answers(row: dict[str, str], tz: str) -> tuple[dict[str, Any], list[str]]:
    """The survey dict, and what is wrong with the row (empty when valid)."""
    problems: list[str] = []
    if not row["client_id"]:
        problems.append("client_id: missing")
    answered = parse_iso_times(pd.Series([row["answered_at"]]), tz).iloc[0]
    if pd.isna(answered):
        problems.append(f"answered_at: {row['answered_at']!r} is not an ISO 8601 date-time")
    lists = {}
    for column, vocabulary in LISTS.items():
        items = [x.strip() for x in row[column].split(";") if x.strip()]
        unknown = [x for x in items if x not in vocabulary]
        if unknown:
            problems.append(f"{column}: unknown id(s) {', '.join(unknown)}")
        lists[column] = items
    budget = _integer(
        row["weekly_time_budget_min"], "weekly_time_budget_min", 0, MINUTES_PER_WEEK, problems
    )
    stress = _integer(row["stress_level"], "stress_level", 0, 10, problems)
    answers: dict[str, Any] = {
        "client_id": row["client_id"],
        "answered_at": None if pd.isna(answered) else answered.to_pydatetime(),
        **lists,
        "weekly_time_budget_min": budget,
        "medical_clearance": _flag(row["medical_clearance"], "medical_clearance", problems),
        "smoker": _flag(row["smoker"], "smoker", problems),
        "stress_level": stress,
    }
    _check_personal(row, problems)
    return answers, problems


def _integer(text: str, name: str, low: int, high: int, problems: list[str]) -> int | None:
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        problems.append(f"{name}: {text!r} is not a number")
        return None
    if not number.is_integer() or not low <= number <= high:
        problems.append(f"{name}: {text} is not a whole number in {low}-{high}")
        return None
    return int(number)


def _flag(text: str, name: str, problems: list[str]) -> bool | None:
    lowered = text.lower()
    if not lowered:
        return None
    if lowered in YES or lowered in NO:
        return lowered in YES
    problems.append(f"{name}: {text!r} is not yes/no (true/false)")
    return None


def _check_personal(row: dict[str, str], problems: list[str]) -> None:
    if row["email"] and not _EMAIL.match(row["email"]):
        problems.append(f"email: {row['email']!r} is not an email address")
    if row["sex"] and row["sex"].lower() not in SEXES:
        problems.append(f"sex: {row['sex']!r} is not female, male or other")
    if row["birth_date"]:
        try:
            born = date.fromisoformat(row["birth_date"])
        except ValueError:
            problems.append(f"birth_date: {row['birth_date']!r} is not a date YYYY-MM-DD")
            return
        if not date(1900, 1, 1) <= born <= date.today():
            problems.append(f"birth_date: {born} is not between 1900-01-01 and today")


def _client(row: dict[str, str], answers: dict[str, Any]) -> ClientRecord:
    return ClientRecord(
        client_id=answers["client_id"],
        name=row["name"] or None,
        email=row["email"] or None,
        phone=row["phone"] or None,
        birth_date=date.fromisoformat(row["birth_date"]) if row["birth_date"] else None,
        sex=SEXES.get(row["sex"].lower()) if row["sex"] else None,
    )
