"""FHIR R4 Bundles (transaction or collection) -> clients and canonical measurements.

The JSON is read with :mod:`json`; only Patient and Observation resources are validated
with ``fhir.resources`` R4B models, one at a time (5x faster than validating a whole
3 MB Bundle, and a resource that fails validation is quarantined alone instead of
failing the file).

* Patient -> :class:`ClientRecord` (id, name, birthDate, gender, email/phone, deceased).
* Observation with ``valueQuantity`` -> one measurement under its LOINC code (a listed
  alias such as 8331-1 oral temperature is stored under its metric's code), unit from
  the UCUM ``code`` (else ``unit``). Unlisted codes are stored under their own code and
  unit, unconverted and unchecked.
* Components with ``valueQuantity`` (blood-pressure panels 85354-9 and the older
  55284-4: 8480-6 systolic / 8462-4 diastolic) -> one measurement per component;
  ``source_record`` is ``<Observation id>/<component code>``.
* Non-numeric values (valueCodeableConcept, valueString...: smoking status, PRAPARE)
  are quarantined with reason ``non-numeric Observation value (valueX) not stored as a
  measurement``, so they are counted rather than lost.
* ``subject`` resolves to a Patient of the bundle through its ``fullUrl``
  (``urn:uuid:...``) or ``Patient/<id>``.

Times: ``effectiveDateTime`` / ``effectiveInstant`` / ``effectivePeriod.start`` (else
``issued``); a date or time without an offset is local time in ``tz``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from health_advisor.core.metrics import lookup
from health_advisor.errors import MalformedFileError
from health_advisor.ingest.base import ClientRecord, ParseResult, QuarantinedRecord
from health_advisor.ingest.validation import DEFAULT_TIMEZONE, normalise, parse_iso_times, read_text

__all__ = ["parse"]

LOINC = "http://loinc.org"
_VOID_STATUS = frozenset({"entered-in-error", "cancelled"})


@dataclass(slots=True)
class _Entry:
    index: int  # 1-based position in Bundle.entry
    full_url: str | None
    resource: dict[str, Any]


def parse(
    path: Path, *, tz: str = DEFAULT_TIMEZONE, now: pd.Timestamp | None = None
) -> ParseResult:
    """Parse one FHIR R4 Bundle JSON file."""
    entries = _entries(path)
    quarantine: list[QuarantinedRecord] = []
    clients, aliases = _patients(entries, quarantine)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        if entry.resource.get("resourceType") == "Observation":
            rows += _observation(entry, aliases, quarantine)
    raw = pd.DataFrame(rows, columns=[*_ROW, "observed_text", "raw"])
    raw["observed_at"] = parse_iso_times(raw["observed_text"], tz)
    measurements, rejected = normalise(
        raw, origin=str(path), now=now, time_hint="an ISO 8601 date or date-time"
    )
    return ParseResult(
        source_kind="fhir",
        measurements=measurements,
        clients=clients,
        quarantine=sorted(quarantine + rejected, key=lambda q: q.line or 0),
        records_read=len(entries),
    )


def _entries(path: Path) -> list[_Entry]:
    text = read_text(path)
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedFileError(path, exc.lineno, f"not valid JSON ({exc.msg})") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise MalformedFileError(path, 1, f"not a FHIR Bundle (resourceType {kind!r})")
    items = bundle.get("entry", [])
    if not isinstance(items, list):
        raise MalformedFileError(path, None, "Bundle.entry is not a list")
    return [
        _Entry(i, item.get("fullUrl"), item.get("resource") or {})
        for i, item in enumerate(items, start=1)
        if isinstance(item, dict)
    ]


def _validate(kind: str, resource: dict[str, Any]) -> str | None:
    """None if the resource is a valid R4B resource, else the first error in one line."""
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient

    model: Any = {"Patient": Patient, "Observation": Observation}[kind]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"invalid FHIR {kind} ({where}: {first.get('msg', 'invalid')})"
    return None


def _dump(resource: dict[str, Any]) -> str:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False)


def _patients(
    entries: list[_Entry], quarantine: list[QuarantinedRecord]
) -> tuple[list[ClientRecord], dict[str, str]]:
    """Clients, and every reference spelling of each patient -> its client id."""
    clients: list[ClientRecord] = []
    aliases: dict[str, str] = {}
    for entry in entries:
        resource = entry.resource
        if resource.get("resourceType") != "Patient":
            continue
        problem = _validate("Patient", resource)
        client_id = resource.get("id") or (entry.full_url or "").removeprefix("urn:uuid:")
        if problem or not client_id:
            reason = problem or "Patient has neither an id nor a fullUrl"
            quarantine.append(QuarantinedRecord(reason, _dump(resource), entry.index))
            continue
        clients.append(_client(client_id, resource))
        aliases[f"Patient/{client_id}"] = client_id
        if entry.full_url:
            aliases[entry.full_url] = client_id
    return clients, aliases


def _client(client_id: str, patient: dict[str, Any]) -> ClientRecord:
    names = patient.get("name") or [{}]
    name = (
        names[0].get("text")
        or " ".join([*names[0].get("given", []), names[0].get("family", "")]).strip()
    )
    telecom = patient.get("telecom") or []
    gender = patient.get("gender")
    birth = patient.get("birthDate")
    return ClientRecord(
        client_id=client_id,
        name=name or None,
        email=next((t.get("value") for t in telecom if t.get("system") == "email"), None),
        phone=next((t.get("value") for t in telecom if t.get("system") == "phone"), None),
        birth_date=date.fromisoformat(birth) if birth and len(birth) == 10 else None,
        sex=gender if gender in ("female", "male", "other") else None,
        deceased=bool(patient.get("deceasedBoolean") or patient.get("deceasedDateTime")),
    )


_ROW = ("client_id", "metric", "original_value", "original_unit", "source_record", "line")


def _observation(
    entry: _Entry, aliases: dict[str, str], quarantine: list[QuarantinedRecord]
) -> list[dict[str, Any]]:
    """Raw rows of one Observation (quarantining what cannot become a measurement)."""
    obs = entry.resource

    def reject(reason: str, client: str | None = None) -> list[dict[str, Any]]:
        quarantine.append(QuarantinedRecord(reason, _dump(obs), entry.index, None, client))
        return []

    problem = _validate("Observation", obs)
    if problem:
        return reject(problem)
    reference = (obs.get("subject") or {}).get("reference", "")
    client = aliases.get(reference)
    if client is None:
        return reject(f"subject: reference {reference!r} is not a Patient in this bundle")
    if obs.get("status") in _VOID_STATUS:
        return reject(f"status: Observation is {obs['status']}, not a measurement", client)
    code = _loinc(obs.get("code"))
    if code is None:
        return reject("code: Observation has no LOINC coding", client)
    when = _effective(obs)
    base = {"client_id": client, "line": entry.index, "observed_text": when, "raw": _dump(obs)}
    oid = obs.get("id") or (entry.full_url or "").removeprefix("urn:uuid:")
    if "valueQuantity" in obs:
        return [{**base, **_quantity(obs["valueQuantity"]), "metric": code, "source_record": oid}]
    components = obs.get("component") or []
    rows = [
        {**base, **_quantity(c["valueQuantity"]), "metric": part, "source_record": f"{oid}/{part}"}
        for c in components
        if "valueQuantity" in c and (part := _loinc(c.get("code")))
    ]
    others = sorted(
        {k for c in components if "valueQuantity" not in c for k in c if k.startswith("value")}
    )
    if rows and others:  # e.g. PRAPARE: numeric answers kept, coded answers counted here
        reject(f"non-numeric components ({', '.join(others)}) not stored as measurements", client)
    if rows:
        return rows
    kinds = sorted({k for k in obs if k.startswith("value")}) or others
    if kinds:
        shown = ", ".join(kinds)
        return reject(
            f"non-numeric Observation value ({shown}) not stored as a measurement", client
        )
    return reject("Observation has no value", client)


def _loinc(concept: dict[str, Any] | None) -> str | None:
    """The LOINC code of a CodeableConcept, preferring one listed in core.metrics."""
    codes = [
        str(c["code"])
        for c in (concept or {}).get("coding") or []
        if c.get("system") == LOINC and c.get("code")
    ]
    if not codes:
        return None
    listed = next((c for c in codes if lookup(c) is not None), codes[0])
    metric = lookup(listed)
    return metric.code if metric is not None else listed


def _quantity(quantity: dict[str, Any]) -> dict[str, Any]:
    unit = quantity.get("code") or quantity.get("unit") or ""
    return {"original_value": quantity.get("value"), "original_unit": unit}


def _effective(obs: dict[str, Any]) -> str | None:
    period = obs.get("effectivePeriod") or {}
    found = (
        obs.get("effectiveDateTime")
        or obs.get("effectiveInstant")
        or period.get("start")
        or obs.get("issued")
    )
    return str(found) if found else None
