"""Fitbit (Fitabase) export CSVs -> canonical measurements.

Which file it is comes from the header, not the name: dailyActivity, dailyCalories,
dailySteps, sleepDay, weightLogInfo, hourlySteps, hourlyCalories and
heartrate_seconds exports are understood. Times are US ``M/D/YYYY[ h:mm:ss AM/PM]``
local times without a zone; they are localised in ``tz`` (default: the clinic's,
:data:`~health_advisor.ingest.validation.DEFAULT_TIMEZONE`). A daily row is dated at
local midnight of its day.

Quirks of real exports, handled on purpose (each quarantined with its reason, never
silently dropped):

* **Device not worn.** A day with 0 steps *and* 1,440 sedentary minutes is a day the
  tracker was off the wrist: none of that row is a measurement (reason
  ``device not worn (0 steps, 1440 sedentary minutes)``). 0 steps alone means steps and
  distance are missing; 1,440 sedentary minutes alone (steps recorded) means the
  intensity-minute breakdown is missing. In dailyCalories / dailySteps, 0 kcal / 0 steps
  are days without data.
* **Duplicates.** An exact duplicate row (sleepDay has 3) is kept once and the copy
  quarantined (``exact duplicate of line N``); a second row for the same Id and time
  with other values is quarantined as a conflict.
* **Empty cells** (weightLogInfo's ``Fat``) are missing data and produce no row.

``source_record`` is ``<file kind>:<Id>:<time as written>`` (weigh-ins: ``weight:<Id>:
<LogId>``); dailyActivity and dailyCalories share the ``daily`` kind so the same day's
calories from both files are the same record.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from health_advisor.errors import MalformedFileError
from health_advisor.ingest.base import ClientRecord, ParseResult, QuarantinedRecord
from health_advisor.ingest.validation import (
    DEFAULT_TIMEZONE,
    LineSource,
    localize,
    normalise,
    quarantine_rows,
    read_csv,
    read_text,
    wide_to_raw,
)

__all__ = ["NOT_WORN", "detect_kind", "parse"]

DATE = "%m/%d/%Y"
DATETIME = "%m/%d/%Y %I:%M:%S %p"
NOT_WORN = "device not worn (0 steps, 1440 sedentary minutes)"

# dailyActivity's derived column: moderate-to-vigorous minutes
ACTIVE = "VeryActiveMinutes+FairlyActiveMinutes"


@dataclass(frozen=True, slots=True)
class Kind:
    """One Fitbit export file: its columns, its time column and what it measures."""

    name: str
    time_column: str
    time_format: str
    specs: tuple[tuple[str, str, str], ...]  # (column, metric code, unit as given)
    record: str  # source_record prefix
    key: tuple[str, ...] = ()  # columns identifying a record beside Id (default: time)
    extra: tuple[str, ...] = ()  # further required columns

    @property
    def required(self) -> tuple[str, ...]:
        columns = [c for c, _, _ in self.specs if c != ACTIVE]
        return ("Id", self.time_column, *columns, *self.key, *self.extra)


KINDS: tuple[Kind, ...] = (
    Kind(
        "dailyActivity",
        "ActivityDate",
        DATE,
        (
            ("TotalSteps", "41950-7", "/d"),
            ("TotalDistance", "ha-distance", "km"),
            (ACTIVE, "ha-active-minutes", "min"),
            ("LightlyActiveMinutes", "ha-light-minutes", "min"),
            ("SedentaryMinutes", "ha-sedentary-minutes", "min"),
            ("Calories", "41981-2", "kcal"),
        ),
        "daily",
        extra=("VeryActiveMinutes", "FairlyActiveMinutes"),
    ),
    Kind(
        "weightLogInfo",
        "Date",
        DATETIME,
        (("WeightKg", "29463-7", "kg"), ("Fat", "41982-0", "%"), ("BMI", "39156-5", "kg/m2")),
        "weight",
        key=("LogId",),
    ),
    Kind(
        "sleepDay",
        "SleepDay",
        DATETIME,
        (("TotalMinutesAsleep", "93832-4", "min"), ("TotalTimeInBed", "ha-time-in-bed", "min")),
        "sleep",
    ),
    Kind("heartrate_seconds", "Time", DATETIME, (("Value", "8867-4", "/min"),), "hr"),
    Kind(
        "hourlySteps", "ActivityHour", DATETIME, (("StepTotal", "ha-steps-hourly", "/h"),), "hourly"
    ),
    Kind(
        "hourlyCalories",
        "ActivityHour",
        DATETIME,
        (("Calories", "ha-calories-hourly", "kcal/h"),),
        "hourly-calories",
    ),
    Kind("dailySteps", "ActivityDay", DATE, (("StepTotal", "41950-7", "/d"),), "daily-steps"),
    Kind("dailyCalories", "ActivityDay", DATE, (("Calories", "41981-2", "kcal"),), "daily"),
)


def detect_kind(header: list[str]) -> Kind | None:
    """The export file a header belongs to (most specific first), or None."""
    columns = {c.strip() for c in header}
    for kind in KINDS:
        if set(kind.required) <= columns:
            return kind
    return None


def parse(
    path: Path, *, tz: str = DEFAULT_TIMEZONE, now: pd.Timestamp | None = None
) -> ParseResult:
    """Parse one Fitbit export CSV (see the module docstring for the rules)."""
    text = read_text(path)
    header = text.split("\n", 1)[0].strip().split(",")
    kind = detect_kind(header)
    if kind is None:
        raise MalformedFileError(
            path, 1, f"not a known Fitbit export file (header: {','.join(header)[:200]})"
        )
    frame, lines, source = read_csv(path, required=kind.required, text=text)
    ids = frame["Id"].astype("category")
    frame["Id"] = ids
    quarantine: list[QuarantinedRecord] = []
    times = localize(_fitbit_times(frame[kind.time_column], kind.time_format), tz)
    keep = _duplicates(frame, kind, times, lines, source, quarantine)
    bad_time = keep & times.isna().to_numpy()
    quarantine += quarantine_rows(
        bad_time,
        "'" + frame[kind.time_column].fillna("").astype(str) + f"' is not a {kind.name} time "
        f"(expected {_hint(kind, tz)})",
        field=kind.time_column,
        lines=lines,
        source=source,
        client_ids=frame["Id"],
    )
    keep &= ~bad_time
    frame = _derive(frame, kind)
    keep = RULES.get(kind.name, _no_rule)(frame, keep, lines, source, quarantine)
    raw = wide_to_raw(
        frame[keep],
        kind.specs,
        client_ids=ids[keep],
        observed_at=times[keep],
        source_records=_source_records(frame[keep], kind),
        lines=lines[keep],
    )
    measurements, rejected = normalise(
        raw, origin=str(path), now=now, lines=source, time_hint=_hint(kind, tz)
    )
    seen = ids.cat.remove_unused_categories().cat.categories
    return ParseResult(
        source_kind="fitbit",
        measurements=measurements,
        clients=[ClientRecord(client_id=str(i).strip()) for i in seen if str(i).strip()],
        quarantine=sorted(quarantine + rejected, key=lambda q: (q.line or 0, q.field or "")),
        records_read=len(frame),
    )


def _hint(kind: Kind, tz: str) -> str:
    written = "M/D/YYYY" if kind.time_format == DATE else "M/D/YYYY h:mm:ss AM/PM"
    return f"{written}, local time in {tz}"


def _source_records(frame: pd.DataFrame, kind: Kind) -> pd.Series:
    tail = frame[kind.key[0]] if kind.key else frame[kind.time_column]
    ids = frame["Id"].astype(object).fillna("").to_numpy()
    # object-array concatenation: one C loop, far faster than per-row f-strings
    records = f"{kind.record}:" + ids + ":" + tail.fillna("").to_numpy(dtype=object)
    return pd.Series(records, dtype=object)


def _fitbit_times(text: pd.Series, fmt: str) -> pd.Series:
    """Naive times from ``M/D/YYYY[ h:mm:ss AM/PM]`` text, NaT where not valid.

    Parsing millions of such strings with strptime takes half a minute, so the text is
    split into numbers by the C CSV parser and assembled arithmetically; text that does
    not fit that shape goes through strptime (strict) instead.
    """
    strings = text.fillna("").astype(object).to_numpy()
    fast = _split_times(strings, with_time=fmt == DATETIME)
    if fast is None:
        return pd.to_datetime(text, format=fmt, errors="coerce").astype("datetime64[ns]")
    retry = fast.isna().to_numpy() & (strings != "")
    if retry.any():
        slow = pd.to_datetime(text[retry], format=fmt, errors="coerce")
        fast[retry] = slow.astype("datetime64[ns]").to_numpy()
    return fast


def _split_times(strings: np.ndarray, with_time: bool) -> pd.Series | None:
    names = ["month", "day", "year", *(["hour", "minute", "second", "half"] if with_time else [])]
    flat = "\n".join(strings).replace("/", " ").replace(":", " ")
    try:
        parts = pd.read_csv(
            io.StringIO(flat), sep=" ", header=None, names=names, skip_blank_lines=False
        )
    except (pd.errors.ParserError, ValueError):
        return None
    if len(parts) != len(strings):
        return None
    number = {n: pd.to_numeric(parts[n], errors="coerce") for n in names if n != "half"}
    date = pd.to_datetime(
        pd.DataFrame({n: number[n] for n in ("year", "month", "day")}), errors="coerce"
    ).astype("datetime64[ns]")
    if not with_time:
        return date
    hour, minute, second = number["hour"], number["minute"], number["second"]
    half = parts["half"].astype(object)
    valid = (
        hour.between(1, 12)
        & minute.between(0, 59)
        & second.between(0, 59)
        & half.isin(["AM", "PM"])
    )
    hours = hour % 12 + np.where(half == "PM", 12, 0)
    offset = pd.to_timedelta(hours * 3600 + minute * 60 + second, unit="s")
    return (date + offset).where(valid)


def _duplicates(
    frame: pd.DataFrame,
    kind: Kind,
    times: pd.Series,
    lines: np.ndarray,
    source: LineSource,
    quarantine: list[QuarantinedRecord],
) -> np.ndarray:
    """Rows to keep: the first of exact duplicates, and the first of conflicting ones."""
    when = frame[kind.key[0]] if kind.key else times
    key = pd.DataFrame({"id": frame["Id"].cat.codes.to_numpy(), "when": pd.factorize(when)[0]})
    repeated = key.duplicated().to_numpy()
    if not repeated.any():
        return np.ones(len(frame), dtype=bool)
    whole = pd.Series([source(int(n)).strip() for n in lines])
    exact = whole.duplicated().to_numpy()
    clash = repeated & ~exact
    for mask, what, groups in (
        (exact, "exact duplicate of line {first}; kept once", whole.to_frame()),
        (clash, "same Id and time as line {first} but other values", key),
    ):
        if mask.any():
            first = _first_lines(groups, lines, mask)
            quarantine += quarantine_rows(
                mask,
                _spread(mask, [what.format(first=f) for f in first]),
                field=None,
                lines=lines,
                source=source,
                client_ids=frame["Id"],
            )
    return ~(exact | clash)


def _spread(mask: np.ndarray, values: list[str]) -> pd.Series:
    out = np.full(len(mask), "", dtype=object)
    out[mask] = values
    return pd.Series(out)


def _first_lines(groups: pd.DataFrame, lines: np.ndarray, mask: np.ndarray) -> list[int]:
    """For each masked row, the line of the first row with the same values."""
    number = groups.groupby(list(groups.columns), sort=False).ngroup().to_numpy()
    first_row: dict[int, int] = {}
    for row, g in enumerate(number.tolist()):
        first_row.setdefault(g, row)
    return [int(lines[first_row[g]]) for g in number[mask].tolist()]


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def _derive(frame: pd.DataFrame, kind: Kind) -> pd.DataFrame:
    """Add dailyActivity's moderate-to-vigorous minutes (a number, or the text given)."""
    if kind.name != "dailyActivity":
        return frame
    very, fairly = frame["VeryActiveMinutes"], frame["FairlyActiveMinutes"]
    total = _numbers(frame, "VeryActiveMinutes") + _numbers(frame, "FairlyActiveMinutes")
    text = very.fillna("") + "+" + fairly.fillna("")
    combined = pd.Series(total, index=frame.index, dtype=object)
    combined[np.isnan(total)] = text[np.isnan(total)]
    combined[very.isna() & fairly.isna()] = None
    return frame.assign(**{ACTIVE: combined})


Rule = Callable[
    [pd.DataFrame, np.ndarray, np.ndarray, LineSource, list[QuarantinedRecord]], np.ndarray
]


def _no_rule(
    frame: pd.DataFrame,
    keep: np.ndarray,
    lines: np.ndarray,
    source: LineSource,
    quarantine: list[QuarantinedRecord],
) -> np.ndarray:
    return keep


def _daily_activity(
    frame: pd.DataFrame,
    keep: np.ndarray,
    lines: np.ndarray,
    source: LineSource,
    quarantine: list[QuarantinedRecord],
) -> np.ndarray:
    """Not-worn days: blank the values that are not measurements, quarantine the reason."""
    no_steps = keep & (_numbers(frame, "TotalSteps") == 0)
    whole_day = keep & (_numbers(frame, "SedentaryMinutes") == 1440)
    not_worn = no_steps & whole_day
    only_steps, only_sedentary = no_steps & ~not_worn, whole_day & ~not_worn
    rows = partial(quarantine_rows, lines=lines, source=source, client_ids=frame["Id"])
    quarantine += rows(not_worn, NOT_WORN, field=None)
    quarantine += rows(
        only_steps,
        "TotalSteps: 0 steps on a partly worn day; steps and distance stored as missing",
        field="TotalSteps",
    )
    quarantine += rows(
        only_sedentary,
        "SedentaryMinutes: 1440 (whole day) although steps were recorded; "
        "intensity minutes stored as missing",
        field="SedentaryMinutes",
    )
    frame.loc[only_steps, ["TotalSteps", "TotalDistance"]] = None
    frame.loc[only_sedentary, [ACTIVE, "LightlyActiveMinutes", "SedentaryMinutes"]] = None
    return keep & ~not_worn


def _zero_is_missing(column: str, unit: str) -> Rule:
    def rule(
        frame: pd.DataFrame,
        keep: np.ndarray,
        lines: np.ndarray,
        source: LineSource,
        quarantine: list[QuarantinedRecord],
    ) -> np.ndarray:
        zero = keep & (_numbers(frame, column) == 0)
        quarantine.extend(
            quarantine_rows(
                zero,
                f"{column}: 0 {unit} means no data for the day (device not worn)",
                field=column,
                lines=lines,
                source=source,
                client_ids=frame["Id"],
            )
        )
        return keep & ~zero

    return rule


RULES: dict[str, Rule] = {
    "dailyActivity": _daily_activity,
    "dailyCalories": _zero_is_missing("Calories", "kcal"),
    "dailySteps": _zero_is_missing("StepTotal", "steps"),
}
