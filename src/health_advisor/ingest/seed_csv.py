"""The clinic's seed CSV (one row per client-day) -> canonical measurements.

Columns: ``client_id, heart_rate, blood_pressure, cholesterol_levels, steps_count,
active_minutes, calorie_intake, water_consumption, sleep_duration, sleep_quality`` and
optionally ``sedentary_time, macronutrient_ratio, bedtime``. Empty cells are missing
data, not errors.

Dating: measurements need a day. A ``date`` column (ISO ``YYYY-MM-DD``) dates each row;
a file without one must be given ``date=`` (the day the whole file describes). Neither
is a malformed file: we never guess a day from the file's modification time. A day is
stamped at local midnight in ``tz`` (default: the clinic's zone).

Readings and their units as the schema defines them: heart_rate is the resting rate
(bpm, LOINC 40443-4); blood_pressure is ``"120/80"`` or a lone systolic number (mmHg);
cholesterol_levels is total cholesterol in mg/dL, where a value under 20 can only be
mmol/L (a unit mix-up) and is converted as such; water in litres; sleep in hours;
sleep_quality 0-100; sedentary_time in minutes; macronutrient_ratio ``"50/20/30"``
carbohydrate/protein/fat % of energy (parts must sum to 100 ± 2); bedtime ``"23:40"``
becomes hours from midnight (-0.33).
"""

from __future__ import annotations

import re
from datetime import date as Date
from pathlib import Path

import numpy as np
import pandas as pd

from health_advisor.errors import MalformedFileError
from health_advisor.ingest.base import ClientRecord, ParseResult, QuarantinedRecord
from health_advisor.ingest.validation import (
    DEFAULT_TIMEZONE,
    LineSource,
    normalise,
    parse_iso_times,
    quarantine_rows,
    read_csv,
    wide_to_raw,
)

__all__ = ["OPTIONAL", "REQUIRED", "parse"]

REQUIRED: tuple[str, ...] = (
    "client_id",
    "heart_rate",
    "blood_pressure",
    "cholesterol_levels",
    "steps_count",
    "active_minutes",
    "calorie_intake",
    "water_consumption",
    "sleep_duration",
    "sleep_quality",
)
OPTIONAL: tuple[str, ...] = ("date", "sedentary_time", "macronutrient_ratio", "bedtime")

# (column, metric code, unit as given) for the plain numeric columns
PLAIN: tuple[tuple[str, str, str], ...] = (
    ("heart_rate", "40443-4", "/min"),
    ("steps_count", "41950-7", "/d"),
    ("active_minutes", "ha-active-minutes", "min/d"),
    ("calorie_intake", "9052-2", "kcal/d"),
    ("water_consumption", "ha-water", "L/d"),
    ("sleep_duration", "93832-4", "h"),
    ("sleep_quality", "ha-sleep-quality", "{score}"),
    ("sedentary_time", "ha-sedentary-minutes", "min/d"),
    ("cholesterol_levels", "2093-3", "mg/dL"),
)
MMOL_BELOW = 20.0  # total cholesterol under this is mmol/L, not mg/dL
_BP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?\s*$")
_MACROS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")
_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse(
    path: Path,
    *,
    date: Date | None = None,
    tz: str = DEFAULT_TIMEZONE,
    now: pd.Timestamp | None = None,
) -> ParseResult:
    """Parse one seed CSV; ``date`` dates a file that has no ``date`` column."""
    frame, lines, source = read_csv(path, required=REQUIRED)
    if "date" not in frame.columns and date is None:
        raise MalformedFileError(
            path, 1, "no 'date' column: add one (YYYY-MM-DD) or give the file's date"
        )
    for column in OPTIONAL:
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype=object)
    day_text = frame["date"].fillna(date.isoformat() if date else "")
    days = parse_iso_times(day_text.str.slice(0, 10), tz)
    bad_day = days.isna().to_numpy()
    quarantine = quarantine_rows(
        bad_day,
        "date: '" + day_text.astype(str) + "' is not a date (expected YYYY-MM-DD)",
        field="date",
        lines=lines,
        source=source,
        client_ids=frame["client_id"],
    )
    frame, days, lines = frame[~bad_day], days[~bad_day], lines[~bad_day]
    derived, problems = _derived_columns(frame)
    quarantine += _problem_records(problems, frame, lines, source)
    composite = ["blood_pressure", "macronutrient_ratio", "bedtime"]
    wide = pd.concat(
        [frame.drop(columns=composite).reset_index(drop=True), derived.reset_index(drop=True)],
        axis=1,
    )
    specs = [*PLAIN, *DERIVED_SPECS]
    clients = frame["client_id"].astype(object)
    raw = wide_to_raw(
        wide,
        specs,
        client_ids=clients,
        observed_at=days,
        source_records=pd.Series("seed:" + clients.fillna("") + ":" + days.dt.strftime("%Y-%m-%d")),
        lines=lines,
    )
    unit = np.where(
        (raw["field"] == "cholesterol_levels").to_numpy()
        & (pd.to_numeric(raw["original_value"], errors="coerce") < MMOL_BELOW).to_numpy(),
        "mmol/L",
        raw["original_unit"].astype(object).to_numpy(),
    )
    raw["original_unit"] = unit
    measurements, rejected = normalise(
        raw, origin=str(path), now=now, lines=source, time_hint="YYYY-MM-DD"
    )
    ids = frame["client_id"].dropna().str.strip().unique()
    return ParseResult(
        source_kind="csv",
        measurements=measurements,
        clients=[ClientRecord(client_id=str(i)) for i in ids if i],
        quarantine=sorted(quarantine + rejected, key=lambda q: (q.line or 0, q.field or "")),
        records_read=len(bad_day),
    )


DERIVED_SPECS: tuple[tuple[str, str, str], ...] = (
    ("systolic", "8480-6", "mm[Hg]"),
    ("diastolic", "8462-4", "mm[Hg]"),
    ("carb", "ha-macro-carb", "%"),
    ("protein", "ha-macro-protein", "%"),
    ("fat", "ha-macro-fat", "%"),
    ("bedtime", "ha-bedtime", "h"),
)


def _derived_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Split the composite columns; ``problems`` maps a field to per-row reasons (or NA)."""
    bp = frame["blood_pressure"].astype("string").str.extract(_BP)
    macros = frame["macronutrient_ratio"].astype("string").str.extract(_MACROS).astype(float)
    clock = frame["bedtime"].astype("string").str.extract(_CLOCK).astype(float)
    hours = clock[0] + clock[1] / 60
    derived = pd.DataFrame(
        {
            "systolic": bp[0],
            "diastolic": bp[1],
            "carb": macros[0],
            "protein": macros[1],
            "fat": macros[2],
            "bedtime": hours.where(hours < 12, hours - 24),
        }
    )
    total = macros.sum(axis=1, min_count=3)
    off_total = total.notna() & ((total - 100).abs() > 2)
    derived.loc[off_total, ["carb", "protein", "fat"]] = np.nan
    given = {c: frame[c].notna() for c in ("blood_pressure", "macronutrient_ratio", "bedtime")}
    text = {c: frame[c].astype(str) for c in given}
    problems = {
        "blood_pressure": (
            "blood_pressure: '" + text["blood_pressure"] + "' is not "
            "'systolic/diastolic' or a systolic number"
        ).where(given["blood_pressure"] & bp[0].isna()),
        "macronutrient_ratio": (
            "macronutrient_ratio: '"
            + text["macronutrient_ratio"]
            + "' is not carb/protein/fat % summing to 100"
        ).where(given["macronutrient_ratio"] & (macros[0].isna() | off_total)),
        "bedtime": ("bedtime: '" + text["bedtime"] + "' is not a time HH:MM").where(
            given["bedtime"] & clock[0].isna()
        ),
    }
    return derived, problems


def _problem_records(
    problems: dict[str, pd.Series],
    frame: pd.DataFrame,
    lines: np.ndarray,
    source: LineSource,
) -> list[QuarantinedRecord]:
    records: list[QuarantinedRecord] = []
    for field, reasons in problems.items():
        records += quarantine_rows(
            reasons.notna().to_numpy(),
            reasons.fillna(""),
            field=field,
            lines=lines,
            source=source,
            client_ids=frame["client_id"],
        )
    return records
