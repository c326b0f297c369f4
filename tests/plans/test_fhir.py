"""The plan as a FHIR R4 Bundle: a CarePlan and one Goal per item, validated."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from health_advisor.catalog import load_catalog
from health_advisor.core.catalog import Catalog
from health_advisor.errors import InputError
from health_advisor.plans import fhir
from health_advisor.plans.model import ComposedPlan
from health_advisor.plans.render import PlanDocument

PLAN_JSON = Path(__file__).parent / "data" / "plan_two_languages.json"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def doc() -> PlanDocument:
    plan = ComposedPlan.from_dict(json.loads(PLAN_JSON.read_text(encoding="utf-8")))
    return PlanDocument(
        plan=plan,
        plan_id=17,
        version=2,
        status="active",
        client_name="María Huamán",
        approved_by="Dr. José Pérez",
        approved_at=dt.datetime(2027, 1, 5, 15, 30, tzinfo=dt.UTC),
        created_at=dt.datetime(2027, 1, 4, 13, 0),  # naive: UTC, as the store keeps it
    )


@pytest.fixture(scope="module")
def bundle(doc: PlanDocument, catalog: Catalog) -> dict[str, Any]:
    return fhir.to_fhir_bundle(doc, catalog)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _references(node: object) -> Iterator[str]:
    """Every ``reference`` string anywhere in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def test_bundle_validates_and_round_trips(bundle: dict[str, Any]) -> None:
    model = Bundle.model_validate(bundle)
    assert json.loads(model.model_dump_json()) == bundle
    assert json.loads(json.dumps(bundle)) == bundle  # plain JSON, no Python objects
    assert bundle["type"] == "collection"
    assert bundle["timestamp"] == "2027-01-04T13:00:00Z"


def test_one_careplan_and_one_goal_per_item(bundle: dict[str, Any], doc: PlanDocument) -> None:
    (careplan,) = _resources(bundle, "CarePlan")
    goals = _resources(bundle, "Goal")
    assert len(goals) == len(doc.plan.items) == len(careplan["activity"])
    assert careplan["intent"] == "plan"
    assert careplan["subject"] == {"reference": "Patient/c-0042", "display": "María Huamán"}
    assert careplan["period"] == {"start": "2027-01-04", "end": "2027-02-01"}
    assert careplan["author"] == {"display": "Dr. José Pérez"}
    assert careplan["identifier"][0]["value"] == "17-v2"
    codes = [a["detail"]["code"]["coding"][0]["code"] for a in careplan["activity"]]
    assert codes == [item.intervention_id for item in doc.plan.items]


def test_every_reference_between_entries_resolves(bundle: dict[str, Any]) -> None:
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert len(full_urls) == len(bundle["entry"])
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    internal = [r for r in _references(bundle) if not r.startswith("Patient/")]
    assert internal and all(ref in full_urls for ref in internal)
    (careplan,) = _resources(bundle, "CarePlan")
    goal_urls = {f"urn:uuid:{g['id']}" for g in _resources(bundle, "Goal")}
    assert {g["reference"] for g in careplan["goal"]} == goal_urls
    for activity, goal in zip(careplan["activity"], careplan["goal"], strict=True):
        assert activity["detail"]["goal"] == [goal]


def test_goals_carry_the_smart_targets(bundle: dict[str, Any], catalog: Catalog) -> None:
    goals = _resources(bundle, "Goal")
    steps, bp, _sleep, breathing, followup = goals
    target = steps["target"][0]
    assert target["measure"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "41950-7",
        "display": "Steps in 24 hours",
    }
    assert target["detailQuantity"] == {
        "value": 7550.0,
        "unit": "al día",
        "system": "http://unitsofmeasure.org",
        "code": "/d",
    }
    assert target["dueDate"] == "2027-02-01"
    assert steps["description"]["text"].startswith("Pasos diarios: aumentar a 7,550 al día")
    assert bp["target"][0]["detailQuantity"]["code"] == "mm[Hg]"
    assert bp["category"][0]["coding"][0]["code"] == "dietary"  # the DASH diet item
    behaviour = breathing["target"][0]["measure"]["coding"][0]
    assert behaviour["code"] == "st_breathing_exercises"
    assert breathing["target"][0]["detailQuantity"]["code"] == "min/wk"
    assert followup["priority"]["coding"][0]["code"] == "high-priority"  # mandatory item
    title = catalog.get("pr_physician_bp_followup").title.es
    assert followup["description"]["text"] == (
        f"{title}: asistir a 1 consulta para el 1 de febrero de 2027."
    )
    assert followup["target"][0]["detailQuantity"] == {
        "value": 1.0,
        "unit": "consultas",
        "system": "http://unitsofmeasure.org",
        "code": "{visit}",
    }
    assert {g["lifecycleStatus"] for g in goals} == {"active"}


def test_activities_say_what_when_and_why(bundle: dict[str, Any]) -> None:
    (careplan,) = _resources(bundle, "CarePlan")
    walking = careplan["activity"][0]["detail"]
    assert walking["status"] == "in-progress"
    assert walking["description"].endswith("(150 min por semana)")
    repeat = walking["scheduledTiming"]["repeat"]
    assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (1, 1, "wk")
    assert (repeat["duration"], repeat["durationUnit"]) == (150, "min")
    assert any("hipertensión en etapa 1" in r["text"] for r in walking["reasonCode"])
    sleep = careplan["activity"][2]["detail"]
    assert "scheduledTiming" not in sleep  # 0 minutes a week: a habit, not a session


@pytest.mark.parametrize(
    ("status", "careplan", "goal"),
    [
        ("draft", "draft", "proposed"),
        ("in_review", "draft", "proposed"),
        ("approved", "active", "accepted"),
        ("active", "active", "active"),
        ("completed", "completed", "completed"),
        ("superseded", "revoked", "cancelled"),
        ("rejected", "revoked", "rejected"),
    ],
)
def test_status_mapping(
    doc: PlanDocument, catalog: Catalog, status: str, careplan: str, goal: str
) -> None:
    bundle = fhir.to_fhir_bundle(dataclasses.replace(doc, status=status), catalog, lang="en")
    Bundle.model_validate(bundle)
    assert _resources(bundle, "CarePlan")[0]["status"] == careplan
    assert {g["lifecycleStatus"] for g in _resources(bundle, "Goal")} == {goal}


def test_ids_are_deterministic_per_plan_version(doc: PlanDocument, catalog: Catalog) -> None:
    first = fhir.to_fhir_bundle(doc, catalog)
    assert fhir.to_fhir_bundle(doc, catalog) == first
    ids = {e["resource"]["id"] for e in first["entry"]}
    next_version = fhir.to_fhir_bundle(dataclasses.replace(doc, version=3), catalog)
    assert ids.isdisjoint(e["resource"]["id"] for e in next_version["entry"])
    unsaved = dataclasses.replace(doc, plan_id=None)
    assert fhir.to_fhir_bundle(unsaved, catalog) == fhir.to_fhir_bundle(unsaved, catalog)
    assert "identifier" not in _resources(fhir.to_fhir_bundle(unsaved, catalog), "CarePlan")[0]


def test_english_texts(doc: PlanDocument, catalog: Catalog) -> None:
    bundle = fhir.to_fhir_bundle(doc, catalog, lang="en")
    (careplan,) = _resources(bundle, "CarePlan")
    assert careplan["title"] == "Health plan, version 2"
    title = catalog.get("ex_brisk_walking").title.en
    assert careplan["activity"][0]["detail"]["code"]["text"] == title


def test_client_id_fhir_cannot_use_goes_as_identifier(doc: PlanDocument, catalog: Catalog) -> None:
    odd = dataclasses.replace(doc, plan=dataclasses.replace(doc.plan, client_id="c_0042/x"))
    subject = _resources(fhir.to_fhir_bundle(odd, catalog), "CarePlan")[0]["subject"]
    assert subject["identifier"] == {"system": fhir.CLIENT_SYSTEM, "value": "c_0042/x"}


def test_bad_input_is_an_input_error(doc: PlanDocument, catalog: Catalog) -> None:
    with pytest.raises(InputError, match="unknown plan status"):
        fhir.to_fhir_bundle(dataclasses.replace(doc, status="archived"), catalog)
    with pytest.raises(InputError, match="unsupported language"):
        fhir.to_fhir_bundle(doc, catalog, lang="fr")
    item = doc.plan.items[0]
    broken = dataclasses.replace(item, target=dataclasses.replace(item.target, value=float("nan")))
    plan = dataclasses.replace(doc.plan, items=(broken,))
    with pytest.raises(InputError, match=r"invalid FHIR Goal .*detailQuantity\.value"):
        fhir.to_fhir_bundle(dataclasses.replace(doc, plan=plan), catalog)
