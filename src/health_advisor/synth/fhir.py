"""FHIR R4 ``collection`` Bundles of the clinic's patients, vitals and labs.

Resources are built as plain dicts and serialised with ``json.dumps`` (pydantic models
would be ~50x slower at 100,000 patients); a test validates the output with
``fhir.resources``. ``fullUrl`` is the resource's absolute URL on a fictitious server, so
the relative ``subject.reference`` ``Patient/<id>`` resolves to it inside the Bundle.
Up to :data:`PATIENTS_PER_BUNDLE` patients per file, numbered in client order whatever
the chunking (a partly filled bundle is carried over to the next chunk).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_URL = "https://synthetic-clinic.example.org/fhir"
PATIENTS_PER_BUNDLE = 100
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

DISPLAY = {
    "85354-9": "Blood pressure panel with all children optional",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "8867-4": "Heart rate",
    "29463-7": "Body weight",
    "8302-2": "Body height",
    "39156-5": "Body mass index (BMI) [Ratio]",
    "2093-3": "Cholesterol [Mass/volume] in Serum or Plasma",
    "18262-6": "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
    "2085-9": "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
    "2571-8": "Triglyceride [Mass/volume] in Serum or Plasma",
    "2339-0": "Glucose [Mass/volume] in Blood",
    "4548-4": "Hemoglobin A1c/Hemoglobin.total in Blood",
}
LAB_CODES = frozenset({"2093-3", "18262-6", "2085-9", "2571-8", "2339-0", "4548-4"})


def _coding(code: str) -> dict[str, Any]:
    return {
        "coding": [{"system": LOINC, "code": code, "display": DISPLAY[code]}],
        "text": DISPLAY[code],
    }


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def patient(
    client_id: str, name: str, gender: str, birth_date: str, phone: str, email: str
) -> dict[str, Any]:
    given, _, family = name.partition(" ")
    return {
        "resourceType": "Patient",
        "id": client_id,
        "identifier": [
            {"system": "https://synthetic-clinic.example.org/client-id", "value": client_id}
        ],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "telecom": [
            {"system": "phone", "value": phone, "use": "mobile"},
            {"system": "email", "value": email},
        ],
        "gender": gender,
        "birthDate": birth_date,
    }


def observation(
    obs_id: str,
    client_id: str,
    code: str,
    when: str,
    value: float | None = None,
    unit: str = "",
    components: list[tuple[str, float, str]] | None = None,
) -> dict[str, Any]:
    """One Observation; ``components`` (code, value, unit) for a panel such as BP."""
    category = "laboratory" if code in LAB_CODES else "vital-signs"
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": _coding(code),
        "subject": {"reference": f"Patient/{client_id}"},
        "effectiveDateTime": when,
    }
    if components:
        resource["component"] = [
            {"code": _coding(c), "valueQuantity": _quantity(v, u)} for c, v, u in components
        ]
    else:
        resource["valueQuantity"] = _quantity(value if value is not None else 0.0, unit)
    return resource


@dataclass(slots=True)
class BundleWriter:
    """Appends patients' entries and writes a bundle file every 100 patients."""

    folder: Path
    timestamp: str
    written: list[Path] = field(default_factory=list)
    _entries: list[dict[str, Any]] = field(default_factory=list)
    _patients: int = 0

    def add(self, resources: list[dict[str, Any]]) -> None:
        """The resources of one patient (the Patient first)."""
        for resource in resources:
            url = f"{BASE_URL}/{resource['resourceType']}/{resource['id']}"
            self._entries.append({"fullUrl": url, "resource": resource})
        self._patients += 1
        if self._patients == PATIENTS_PER_BUNDLE:
            self.flush()

    def flush(self) -> None:
        if not self._patients:
            return
        number = len(self.written)
        bundle = {
            "resourceType": "Bundle",
            "id": f"synthetic-clinic-{number:04d}",
            "type": "collection",
            "timestamp": self.timestamp,
            "entry": self._entries,
        }
        path = self.folder / f"bundle-{number:04d}.json"
        path.write_text(json.dumps(bundle, ensure_ascii=False, separators=(",", ":")), "utf-8")
        self.written.append(path)
        self._entries = []
        self._patients = 0
