"""Apple Health ``export.xml`` -> one client's canonical measurements.

Real exports run to gigabytes, so the file is streamed with ``iterparse`` and every
element is cleared once read; only the values kept are held in memory (as lists, then
one vectorised :func:`~health_advisor.ingest.validation.normalise`).

What is stored:

* Point readings (``Record`` of heart rate, resting heart rate, body mass, BMI, height,
  body fat, SpO2, temperature, respiratory rate, blood pressure, blood glucose): one
  measurement each. HealthKit writes fractions (body fat, SpO2) with unit ``%`` but a
  value of 0.22: these are read as unit ``1`` and converted to %. BMI's unit ``count``
  is kg/m2.
* Interval totals (step count, walking/running distance, dietary energy, water) are
  summed per local day of their start, per source device, and the largest device total
  is kept (iPhone and Watch count the same steps): one daily measurement.
* ``SleepAnalysis`` intervals are summed per night (the local day they end): asleep
  stages -> sleep duration, ``InBed`` -> time in bed, largest source again.
* ``ActivitySummary``: Apple's exercise minutes -> active minutes for that day.
* ``Me``: birth date and sex of the client.

Other Record types and ``Workout`` elements are not measurements here; each kind is
quarantined once, with its count (``... N records of a type not stored``), so nothing
is dropped silently and a gigabyte export does not flood the quarantine.

There is no client id in the file: pass ``client_id``. The default is the file's stem,
or, for the usual ``export.xml``, the name of the folder holding it (``ana/export.xml``
-> ``ana``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from health_advisor.errors import MalformedFileError
from health_advisor.ingest.base import ClientRecord, ParseResult, QuarantinedRecord
from health_advisor.ingest.validation import DEFAULT_TIMEZONE, normalise, parse_iso_times

__all__ = ["default_client_id", "parse"]

HK = "HKQuantityTypeIdentifier"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"

# HealthKit type -> (metric code, unit override or None)
POINT: dict[str, tuple[str, str | None]] = {
    f"{HK}HeartRate": ("8867-4", None),
    f"{HK}RestingHeartRate": ("40443-4", None),
    f"{HK}BodyMass": ("29463-7", None),
    f"{HK}BodyMassIndex": ("39156-5", "kg/m2"),
    f"{HK}Height": ("8302-2", None),
    f"{HK}BodyFatPercentage": ("41982-0", "1"),
    f"{HK}OxygenSaturation": ("2708-6", "1"),
    f"{HK}BodyTemperature": ("8310-5", None),
    f"{HK}RespiratoryRate": ("9279-1", None),
    f"{HK}BloodPressureSystolic": ("8480-6", None),
    f"{HK}BloodPressureDiastolic": ("8462-4", None),
    f"{HK}BloodGlucose": ("2339-0", None),
}
DAILY_SUM: dict[str, str] = {
    f"{HK}StepCount": "41950-7",
    f"{HK}DistanceWalkingRunning": "ha-distance",
    f"{HK}DietaryEnergyConsumed": "9052-2",
    f"{HK}DietaryWater": "ha-water",
}
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
IN_BED = "HKCategoryValueSleepAnalysisInBed"
ASLEEP = "HKCategoryValueSleepAnalysisAsleep"  # prefix of all asleep stages


@dataclass
class _Collected:
    rows: list[tuple[str, str, str, str, str, int]] = field(default_factory=list)
    intervals: list[tuple[str, str, str, str, str, str, int]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    first_seen: dict[str, tuple[int, str]] = field(default_factory=dict)
    me: dict[str, str] = field(default_factory=dict)
    elements: int = 0


def default_client_id(path: Path) -> str:
    """The file's stem, or its folder's name for the generic ``export.xml``."""
    stem = path.stem
    return path.resolve().parent.name if stem.lower() == "export" else stem


def parse(
    path: Path,
    *,
    client_id: str | None = None,
    tz: str = DEFAULT_TIMEZONE,
    now: pd.Timestamp | None = None,
) -> ParseResult:
    """Stream one Apple Health export (see the module docstring for what is stored)."""
    client = client_id or default_client_id(path)
    seen = _collect(path)
    frames = [_points(seen, client), _daily(seen, client, tz), _sleep(seen, client, tz)]
    raw = pd.concat([f for f in frames if len(f)] or [frames[0]], ignore_index=True)
    raw["observed_at"] = _times(raw["observed_text"], tz)
    measurements, rejected = normalise(
        raw, origin=str(path), now=now, time_hint="YYYY-MM-DD hh:mm:ss ±hhmm"
    )
    skipped = [
        QuarantinedRecord(
            reason=f"{kind}: {count} {'element' if count == 1 else 'elements'} of a type "
            "not stored as measurements",
            raw=seen.first_seen[kind][1],
            line=seen.first_seen[kind][0],
            field=kind,
            client_id=client,
        )
        for kind, count in sorted(seen.skipped.items())
    ]
    return ParseResult(
        source_kind="apple",
        measurements=measurements,
        clients=[_client(client, seen.me)],
        quarantine=skipped + rejected,
        records_read=seen.elements,
    )


def _collect(path: Path) -> _Collected:
    """One streaming pass over the top-level elements."""
    seen = _Collected()
    depth = 0
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            if event == "start":
                depth += 1
                if depth == 1 and element.tag != "HealthData":
                    raise MalformedFileError(path, 1, f"root is <{element.tag}>, not <HealthData>")
                continue
            depth -= 1
            if depth == 1:
                seen.elements += 1
                _take(element, seen)
                element.clear()
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise MalformedFileError(path, line, f"not well-formed XML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise MalformedFileError(path, None, f"not valid UTF-8 ({exc.reason})") from None
    if seen.elements == 0 and not seen.me:
        raise MalformedFileError(path, 1, "Apple Health export holds no elements")
    return seen


def _take(element: ET.Element, seen: _Collected) -> None:
    tag, a = element.tag, element.attrib
    index = seen.elements
    if tag == "Record" and a.get("type") in POINT:
        seen.rows.append(
            (
                a["type"],
                a.get("value", ""),
                a.get("unit", ""),
                a.get("startDate", ""),
                _xml(element),
                index,
            )
        )
    elif tag == "Record" and (a.get("type") in DAILY_SUM or a.get("type") == SLEEP):
        seen.intervals.append(
            (
                a["type"],
                a.get("value", ""),
                a.get("unit", ""),
                a.get("startDate", ""),
                a.get("endDate", ""),
                a.get("sourceName", ""),
                index,
            )
        )
    elif tag == "ActivitySummary" and a.get("appleExerciseTime") is not None:
        seen.rows.append(
            (
                "ActivitySummary",
                a["appleExerciseTime"],
                "min",
                a.get("dateComponents", ""),
                _xml(element),
                index,
            )
        )
    elif tag == "Me":
        seen.me = dict(a)
    elif tag != "ExportDate":
        kind = a.get("type", tag) if tag == "Record" else tag
        seen.skipped[kind] += 1
        seen.first_seen.setdefault(kind, (index, _xml(element)))


def _xml(element: ET.Element) -> str:
    return ET.tostring(element, encoding="unicode").strip()[:2000]


_RAW = [
    "client_id",
    "metric",
    "original_value",
    "original_unit",
    "observed_text",
    "source_record",
    "line",
    "raw",
]


def _points(seen: _Collected, client: str) -> pd.DataFrame:
    rows = []
    for kind, value, unit, start, raw, index in seen.rows:
        if kind == "ActivitySummary":
            metric, unit_given, when = "ha-active-minutes", "min", start
            record = f"apple:summary:{start}"
        else:
            metric, override = POINT[kind]
            unit_given, when, record = override or unit, start, f"apple:{kind}:{start}"
        rows.append((client, metric, value, unit_given, when, record, index, raw))
    return pd.DataFrame(rows, columns=_RAW)


def _times(text: pd.Series, tz: str) -> pd.Series:
    """HealthKit times (with offset) as UTC; a bare day (ActivitySummary) is local midnight."""
    stamps = pd.to_datetime(text, format=TIME_FORMAT, utc=True, errors="coerce")
    day = text.astype(str).str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    if day.any():
        stamps[day] = parse_iso_times(text[day], tz)
    return stamps.dt.as_unit("ns")


def _intervals(seen: _Collected, tz: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        seen.intervals, columns=["kind", "value", "unit", "start", "end", "device", "line"]
    )
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], format=TIME_FORMAT, utc=True, errors="coerce")
    return frame


def _daily(seen: _Collected, client: str, tz: str) -> pd.DataFrame:
    """Per-day totals of interval records, the largest device total per day."""
    frame = _intervals(seen, tz)
    frame = frame[frame["kind"].isin(list(DAILY_SUM))]
    frame = frame.assign(
        value=pd.to_numeric(frame["value"], errors="coerce"),
        day=frame["start"].dt.tz_convert(tz).dt.normalize(),
    )
    return _largest_device_total(frame, client, lambda kind: DAILY_SUM[kind])


def _sleep(seen: _Collected, client: str, tz: str) -> pd.DataFrame:
    frame = _intervals(seen, tz)
    frame = frame[frame["kind"] == SLEEP]
    stage = frame["value"].astype(str)
    frame = frame.assign(
        kind=np.where(
            stage.str.startswith(ASLEEP), "asleep", np.where(stage == IN_BED, "in_bed", "other")
        ),
        value=(frame["end"] - frame["start"]).dt.total_seconds() / 3600,
        unit="h",
        day=frame["end"].dt.tz_convert(tz).dt.normalize(),
    )
    frame = frame[frame["kind"] != "other"]
    metric = {"asleep": "93832-4", "in_bed": "ha-time-in-bed"}
    return _largest_device_total(frame, client, lambda kind: metric[kind])


def _largest_device_total(
    frame: pd.DataFrame, client: str, metric_of: Callable[[str], str]
) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=_RAW)
    totals = (
        frame.groupby(["kind", "unit", "day", "device"], dropna=False)
        .agg(value=("value", "sum"), line=("line", "min"))
        .reset_index()
        .sort_values("value", ascending=False)
        .drop_duplicates(["kind", "unit", "day"])
    )
    day_text = totals["day"].dt.strftime("%Y-%m-%d %H:%M:%S %z")
    kinds = totals["kind"].map(metric_of)
    return pd.DataFrame(
        {
            "client_id": client,
            "metric": kinds,
            "original_value": totals["value"],
            "original_unit": totals["unit"],
            "observed_text": day_text,
            "source_record": "apple:daily:" + kinds + ":" + totals["day"].dt.strftime("%Y-%m-%d"),
            "line": totals["line"],
            "raw": "sum of "
            + totals["kind"].astype(str)
            + " on "
            + day_text.str.slice(0, 10)
            + " from "
            + totals["device"].astype(str),
        }
    )


def _client(client: str, me: dict[str, str]) -> ClientRecord:
    birth = me.get("HKCharacteristicTypeIdentifierDateOfBirth")
    sex = {
        "HKBiologicalSexFemale": "female",
        "HKBiologicalSexMale": "male",
        "HKBiologicalSexOther": "other",
    }.get(me.get("HKCharacteristicTypeIdentifierBiologicalSex", ""))
    try:
        born = date.fromisoformat(birth) if birth else None
    except ValueError:
        born = None
    return ClientRecord(client_id=client, birth_date=born, sex=sex)
