"""What every source adapter returns: the canonical long format plus what it rejected.

An adapter reads one file and returns a :class:`ParseResult`. It never touches the
store; :mod:`health_advisor.ingest.service` writes a result in one transaction, with
lineage. A file that cannot be parsed at all raises
:class:`~health_advisor.errors.MalformedFileError` (file and line) and nothing is written.
A single bad record goes to ``quarantine`` with a reason and the raw record, and the
rest of the file is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

# Columns of ParseResult.measurements, in order, with their dtypes.
MEASUREMENT_COLUMNS: dict[str, str] = {
    "client_id": "string",  # the client's id as the source gave it
    "metric": "string",  # metric code: LOINC where one exists (core.metrics)
    "value": "float64",  # value in the metric's canonical unit
    "unit": "string",  # canonical unit (UCUM)
    "original_value": "float64",  # value as the source gave it
    "original_unit": "string",  # unit as the source gave it
    "observed_at": "datetime64[ns, UTC]",  # when observed, timezone-aware
    "source_record": "string",  # stable id of the record inside the source file
}

INTERACTION_COLUMNS: dict[str, str] = {
    "client_id": "string",
    "intervention_id": "string",
    "kind": "string",  # recommended | accepted | declined | adherence | rating
    "value": "float64",  # 1/0 for accepted/declined, 0-100 adherence %, 1-5 rating
    "at": "datetime64[ns, UTC]",
    "source_record": "string",
}


def empty_measurements() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MEASUREMENT_COLUMNS.items()})


def empty_interactions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in INTERACTION_COLUMNS.items()})


@dataclass(slots=True)
class ClientRecord:
    """A person as a source describes them. Personal fields are encrypted when stored."""

    client_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    sex: str | None = None  # "female" | "male" | "other" | None
    deceased: bool = False


@dataclass(slots=True)
class QuarantinedRecord:
    """One rejected record: where it was, what was wrong, and the record itself."""

    reason: str  # one line for a person, naming the field and what was expected
    raw: str  # the record as it was in the file
    line: int | None = None  # 1-based line (CSV) or entry index (JSON/XML)
    field: str | None = None
    client_id: str | None = None


@dataclass(slots=True)
class ParseResult:
    source_kind: str  # csv | fitbit | fhir | apple | survey | interactions
    measurements: pd.DataFrame = field(default_factory=empty_measurements)
    clients: list[ClientRecord] = field(default_factory=list)
    quarantine: list[QuarantinedRecord] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)  # each has "client_id"
    interactions: pd.DataFrame = field(default_factory=empty_interactions)
    records_read: int = 0  # records (rows, entries) seen in the file
