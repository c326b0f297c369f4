"""FHIR R4 Bundles: the real Synthea bundles counted by LOINC code, and bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import fhir
from health_advisor.ingest.base import ParseResult


@pytest.fixture(scope="module")
def bundles(shared_data: Path) -> dict[str, ParseResult]:
    return {
        p.name.split("_")[0]: fhir.parse(p) for p in sorted((shared_data / "fhir").glob("*.json"))
    }


def _counts(results: list[ParseResult]) -> Counter[str]:
    return Counter(m for r in results for m in r.measurements["metric"].tolist())


def test_every_bundle_parses_with_one_patient(bundles: dict[str, ParseResult]) -> None:
    assert len(bundles) == 8
    assert sum(r.records_read for r in bundles.values()) == 3604  # entries
    assert all(len(r.clients) == 1 for r in bundles.values())
    yang = bundles["Yang129"].clients[0]
    assert yang.deceased and yang.sex == "female" and str(yang.birth_date) == "1943-12-05"
    assert not bundles["Bennett146"].clients[0].deceased


def test_observations_by_loinc_code(bundles: dict[str, ParseResult]) -> None:
    counts = _counts(list(bundles.values()))
    # SOURCES.md: 63 panels 85354-9 + 7 older 55284-4 panels -> 70 systolic and diastolic
    assert counts["8480-6"] == counts["8462-4"] == 63 + 7
    assert counts["8867-4"] == 63
    assert counts["9279-1"] == 63
    for lipid in ("2093-3", "2571-8", "18262-6", "2085-9"):
        assert counts[lipid] == 41
    assert counts["4548-4"] == 17
    assert counts["29463-7"] == 70
    assert counts["8302-2"] == 69
    assert counts["39156-5"] == 59
    assert counts["72514-3"] == 75  # unlisted code: stored under its own code
    assert counts["2708-6"] == 1  # SpO2 coded 2708-6 + 59408-5 in one Observation
    assert "85354-9" not in counts and "55284-4" not in counts  # panels live in components


def test_every_observation_is_stored_or_quarantined(bundles: dict[str, ParseResult]) -> None:
    observations = 0
    for result in bundles.values():
        stored = set(result.measurements["source_record"].str.split("/").str[0])
        quarantined = [q for q in result.quarantine if not q.reason.startswith("non-numeric comp")]
        observations += len(stored) + len(quarantined)
    assert observations == 1588


def test_older_bp_panel_of_clint_champlin(bundles: dict[str, ParseResult]) -> None:
    clint = bundles["Clint"].measurements
    records = clint[clint["metric"].isin(["8480-6", "8462-4"])]["source_record"]
    assert len(records) == 14
    assert records.str.endswith("/8480-6").sum() == 7
    assert bundles["Clint"].measurements["metric"].eq("8867-4").sum() == 0


def test_non_numeric_values_are_quarantined_with_reason(bundles: dict[str, ParseResult]) -> None:
    reasons = Counter(q.reason for r in bundles.values() for q in r.quarantine)
    smoking = "non-numeric Observation value (valueCodeableConcept) not stored as a measurement"
    assert reasons[smoking] >= 69  # 72166-2 tobacco smoking status, at least
    assert all(q.client_id for r in bundles.values() for q in r.quarantine)


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(resources)],
    }


PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"given": ["Ana"], "family": "Paz"}],
    "telecom": [{"system": "email", "value": "ana@example.org"}],
    "gender": "female",
}


def _obs(oid: str, code: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "urn:uuid:0"},
        "effectiveDateTime": "2024-01-02T08:00:00-05:00",
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
        **extra,
    }


def test_bad_observations_are_quarantined_and_good_ones_kept(tmp_path: Path) -> None:
    bad_subject = _obs("o3", "8867-4", 70, "/min", subject={"reference": "Patient/nobody"})
    invalid = _obs("o4", "8867-4", 70, "/min", status=42)
    path = tmp_path / "b.json"
    path.write_text(
        json.dumps(
            _bundle(
                PATIENT,
                _obs("o1", "29463-7", 154, "[lb_av]"),
                _obs("o2", "8867-4", 400, "/min"),
                bad_subject,
                invalid,
            )
        )
    )
    result = fhir.parse(path)
    assert result.clients[0].email == "ana@example.org" and result.clients[0].name == "Ana Paz"
    assert result.measurements["value"].tolist() == pytest.approx([69.853225])
    reasons = {q.line: q.reason for q in result.quarantine}
    assert reasons[3] == "heart_rate: 400 /min outside 25-250"
    assert reasons[4] == "subject: reference 'Patient/nobody' is not a Patient in this bundle"
    assert reasons[5].startswith("invalid FHIR Observation (status")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"resourceType": "Bundle", "entry": [', "not valid JSON"),
        ('{"resourceType": "Patient", "id": "x"}', "not a FHIR Bundle"),
        ("[1, 2]", "not a FHIR Bundle"),
    ],
)
def test_malformed_json_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(MalformedFileError, match=message) as caught:
        fhir.parse(path)
    assert caught.value.path == str(path) and caught.value.line == 1
