"""A plan as FHIR R4: a collection Bundle with one CarePlan and one Goal per item.

The clinic's EHR imports this. Each plan item becomes a ``CarePlan.activity`` whose
``detail.code`` names the catalog intervention and whose ``detail.goal`` points at the
item's Goal; the Goal carries the SMART target (LOINC-coded measure where the metric has
a LOINC code, the value as a UCUM quantity, the review date as ``dueDate``).

Ids are UUIDs derived from the plan id and version (uuid5), so exporting the same plan
version twice gives the same Bundle and an EHR can update instead of duplicating.
Entries are addressed as ``urn:uuid:<id>``; every reference between entries resolves
inside the Bundle. The subject is ``Patient/<client id>`` (the EHR's own patient, which
the Bundle does not carry).

Every resource is validated with the ``fhir.resources`` R4B models (the R4-compatible
module, as :mod:`health_advisor.ingest.fhir` does) before the Bundle is returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from typing import Any

from pydantic import ValidationError

from health_advisor.core.catalog import Catalog
from health_advisor.core.metrics import BY_NAME
from health_advisor.errors import InputError
from health_advisor.i18n import check_lang, format_number, translations
from health_advisor.plans import i18n as texts
from health_advisor.plans.model import PlanItem, Target
from health_advisor.plans.render import PlanDocument

__all__ = [
    "CAREPLAN_STATUS",
    "CLIENT_SYSTEM",
    "GOAL_LIFECYCLE",
    "INTERVENTION_SYSTEM",
    "METRIC_SYSTEM",
    "to_fhir_bundle",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
_BASE = "https://health-advisor.example.org/fhir"
INTERVENTION_SYSTEM = f"{_BASE}/CodeSystem/intervention"
METRIC_SYSTEM = f"{_BASE}/CodeSystem/metric"  # metrics without a LOINC code (ha-...)
CLIENT_SYSTEM = f"{_BASE}/NamingSystem/client-id"
PLAN_SYSTEM = f"{_BASE}/NamingSystem/plan"
_GOAL_CATEGORY = "http://terminology.hl7.org/CodeSystem/goal-category"
_GOAL_PRIORITY = "http://terminology.hl7.org/CodeSystem/goal-priority"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, _BASE)

CAREPLAN_STATUS: dict[str, str] = {
    "draft": "draft",
    "in_review": "draft",
    "approved": "active",
    "active": "active",
    "completed": "completed",
    "superseded": "revoked",
    "rejected": "revoked",
}
GOAL_LIFECYCLE: dict[str, str] = {
    "draft": "proposed",
    "in_review": "proposed",
    "approved": "accepted",
    "active": "active",
    "completed": "completed",
    "superseded": "cancelled",
    "rejected": "rejected",
}
_ACTIVITY_STATUS: dict[str, str] = {
    "draft": "not-started",
    "in_review": "not-started",
    "approved": "scheduled",
    "active": "in-progress",
    "completed": "completed",
    "superseded": "cancelled",
    "rejected": "cancelled",
}
# UCUM codes a target may carry; anything else is sent as a unit text only.
_UCUM_UNITS = frozenset({m.unit for m in BY_NAME.values()}) | {
    "min/wk",
    "min",
    "d/wk",
    "{session}/wk",
    "{visit}",
}
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def to_fhir_bundle(doc: PlanDocument, catalog: Catalog, lang: str = "es") -> dict[str, Any]:
    """The plan version as a validated FHIR R4 collection Bundle (a JSON-ready dict).

    Texts (titles, the SMART target sentences) are in ``lang``. Raises
    :class:`InputError` for an unknown plan status or a resource that fails validation.
    """
    check_lang(lang)
    if doc.status not in CAREPLAN_STATUS:
        raise InputError(
            f"unknown plan status {doc.status!r}: expected one of {', '.join(CAREPLAN_STATUS)}"
        )
    key = _plan_key(doc)
    goals = [
        _goal(doc, item, _uuid(f"{key}/goal/{n}/{item.intervention_id}"), lang, catalog)
        for n, item in enumerate(doc.plan.items)
    ]
    careplan = _careplan(doc, _uuid(f"{key}/careplan"), goals, lang, catalog)
    resources = [careplan, *goals]
    for resource in resources:
        _validate(resource)
    return {
        "resourceType": "Bundle",
        "id": _uuid(f"{key}/bundle"),
        "type": "collection",
        "timestamp": _instant(doc.created_at),
        "entry": [{"fullUrl": _urn(r), "resource": r} for r in resources],
    }


# --------------------------------------------------------------------------- ids


def _plan_key(doc: PlanDocument) -> str:
    """What the ids derive from: the stored plan's id and version, or (for a plan not
    stored yet) its client, date and content."""
    if doc.plan_id is not None:
        return f"plan/{doc.plan_id}/v{doc.version}"
    content = json.dumps(doc.plan.to_dict(), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]
    return f"unsaved/{doc.plan.client_id}/{doc.plan.as_of.isoformat()}/{digest}/v{doc.version}"


def _uuid(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def _urn(resource: dict[str, Any]) -> str:
    return f"urn:uuid:{resource['id']}"


def _instant(value: dt.datetime) -> str:
    """An ISO instant with offset (FHIR requires one when a time is given); naive is UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    text = aware.isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _subject(doc: PlanDocument) -> dict[str, Any]:
    """``Patient/<client id>``; a client id FHIR cannot use as an id goes as an identifier."""
    client_id = doc.plan.client_id
    subject: dict[str, Any] = (
        {"reference": f"Patient/{client_id}"}
        if _FHIR_ID.match(client_id)
        else {"identifier": {"system": CLIENT_SYSTEM, "value": client_id}}
    )
    if doc.client_name:
        subject["display"] = doc.client_name
    return subject


# --------------------------------------------------------------------------- resources


def _careplan(
    doc: PlanDocument, careplan_id: str, goals: list[dict[str, Any]], lang: str, catalog: Catalog
) -> dict[str, Any]:
    _ = translations(lang).gettext
    plan = doc.plan
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": careplan_id,
        "status": CAREPLAN_STATUS[doc.status],
        "intent": "plan",
        "title": _("Health plan, version %(version)s") % {"version": doc.version},
        "subject": _subject(doc),
        "period": {"start": plan.as_of.isoformat()},
        "created": _instant(doc.created_at),
        "goal": [{"reference": _urn(g)} for g in goals],
        "activity": [
            _activity(doc, item, goal, lang, catalog)
            for item, goal in zip(plan.items, goals, strict=True)
        ],
    }
    if doc.plan_id is not None:
        resource["identifier"] = [{"system": PLAN_SYSTEM, "value": f"{doc.plan_id}-v{doc.version}"}]
    if doc.review_date is not None:
        resource["period"]["end"] = doc.review_date.isoformat()
    if doc.approved and doc.approved_by:
        resource["author"] = {"display": doc.approved_by}
    return resource


def _activity(
    doc: PlanDocument, item: PlanItem, goal: dict[str, Any], lang: str, catalog: Catalog
) -> dict[str, Any]:
    _ = translations(lang).gettext
    title = texts.intervention_title(item.intervention_id, lang, catalog)
    entry = catalog.by_id.get(item.intervention_id)
    minutes = _("%(minutes)s min per week") % {"minutes": format_number(item.weekly_minutes, lang)}
    description = f"{entry.description.get(lang)} ({minutes})" if entry is not None else minutes
    detail: dict[str, Any] = {
        "code": {
            "coding": [
                {"system": INTERVENTION_SYSTEM, "code": item.intervention_id, "display": title}
            ],
            "text": title,
        },
        "goal": [{"reference": _urn(goal)}],
        "status": _ACTIVITY_STATUS[doc.status],
        "description": description,
    }
    reasons = [
        texts.reason_text(r, lang, catalog, intervention_id=item.intervention_id)
        for r in item.reasons
    ]
    if reasons:
        detail["reasonCode"] = [{"text": text} for text in reasons]
    if item.weekly_minutes > 0:
        # N minutes per week: once a week for N minutes, within the plan's period.
        detail["scheduledTiming"] = {
            "repeat": {
                "boundsPeriod": {
                    "start": item.target.start_date.isoformat(),
                    "end": item.target.review_date.isoformat(),
                },
                "frequency": 1,
                "period": 1,
                "periodUnit": "wk",
                "duration": item.weekly_minutes,
                "durationUnit": "min",
            }
        }
    return {"detail": detail}


def _goal(
    doc: PlanDocument, item: PlanItem, goal_id: str, lang: str, catalog: Catalog
) -> dict[str, Any]:
    category = "dietary" if item.domain == "nutrition" else "behavioral"
    title = texts.intervention_title(item.intervention_id, lang, catalog)
    priority = "high-priority" if item.mandatory else "medium-priority"
    return {
        "resourceType": "Goal",
        "id": goal_id,
        "lifecycleStatus": GOAL_LIFECYCLE[doc.status],
        "category": [{"coding": [{"system": _GOAL_CATEGORY, "code": category}]}],
        "priority": {"coding": [{"system": _GOAL_PRIORITY, "code": priority}]},
        "description": {"text": texts.target_text(item.target, lang, activity=title)},
        "subject": _subject(doc),
        "startDate": item.target.start_date.isoformat(),
        "target": [
            {
                "measure": _measure(item, lang, catalog),
                "detailQuantity": _quantity(item.target, lang),
                "dueDate": item.target.review_date.isoformat(),
            }
        ],
    }


def _measure(item: PlanItem, lang: str, catalog: Catalog) -> dict[str, Any]:
    """The target's metric: LOINC when it has a code there, the local code otherwise; a
    behavioural target (no metric) measures the intervention itself."""
    metric = BY_NAME.get(item.target.metric) if item.target.metric else None
    if metric is None:
        title = texts.intervention_title(item.intervention_id, lang, catalog)
        coding = {"system": INTERVENTION_SYSTEM, "code": item.intervention_id, "display": title}
        return {"coding": [coding], "text": title}
    system = LOINC if metric.loinc else METRIC_SYSTEM
    coding = {"system": system, "code": metric.code, "display": metric.description}
    return {"coding": [coding], "text": texts.metric_name(metric.name, lang)}


def _quantity(target: Target, lang: str) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": round(float(target.value), 4)}
    shown = texts.unit_text(target.unit, lang)
    if shown:
        quantity["unit"] = shown
    if target.unit in _UCUM_UNITS:
        quantity["system"] = UCUM
        quantity["code"] = target.unit
    return quantity


# --------------------------------------------------------------------------- validation


def _validate(resource: dict[str, Any]) -> None:
    """Check one resource against its R4B model; one clear line when it fails."""
    from fhir.resources.R4B.careplan import CarePlan
    from fhir.resources.R4B.goal import Goal

    kind = resource["resourceType"]
    model: Any = {"CarePlan": CarePlan, "Goal": Goal}[kind]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InputError(
            f"invalid FHIR {kind} {resource.get('id')}: {where}: {first.get('msg', 'invalid')}"
        ) from None
