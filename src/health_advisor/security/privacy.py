"""Data-subject rights (Ley 29733 ARCO rights; GDPR arts. 15-17): export, rectify, erase.

* :func:`export_client` gathers everything stored about one client as JSON-ready data;
  :func:`export_fhir` gives the same person and measurements as a FHIR R4 Bundle.
* :func:`rectify_client` corrects personal fields.
* :func:`erase_client` either anonymises (default: personal fields cleared, the external
  id replaced by a random one, free text, surveys and quarantined raw records deleted,
  consents withdrawn, linked accounts deactivated; measurements and history stay under the
  random id, no longer linkable to the person) or deletes the client and every row that
  hangs from it. The audit log is kept either way: it records who saw the data before.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from health_advisor.core.metrics import lookup, name_for
from health_advisor.errors import InputError
from health_advisor.security import consent, tokens
from health_advisor.store.models import (
    Alert,
    CheckIn,
    Client,
    ClientAssignment,
    Consent,
    DataSource,
    FeatureSnapshot,
    Interaction,
    Measurement,
    Plan,
    PlanEvent,
    Quarantine,
    Survey,
    User,
)

ERASE_MODES = ("anonymise", "delete")
RECTIFIABLE = ("name", "email", "phone", "birth_date", "sex")
SEXES = ("female", "male", "other")
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LOCAL_METRICS = "urn:health-advisor:metric"


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def client_personal(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.external_id,
        "name": client.name,
        "email": client.email,
        "phone": client.phone,
        "birth_date": _iso(client.birth_date),
        "birth_year": client.birth_year,
        "sex": client.sex,
        "deceased": client.deceased,
        "created_at": _iso(client.created_at),
        "updated_at": _iso(client.updated_at),
    }


def consent_record(row: Consent) -> dict[str, Any]:
    return {
        "purpose": row.purpose,
        "granted": row.granted,
        "recorded_at": _iso(row.recorded_at),
        "evidence": row.evidence,
    }


def export_client(session: Session, client: Client) -> dict[str, Any]:
    """Everything stored about ``client``, JSON-ready (the right of access)."""
    pk = client.id
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "client": client_personal(client),
        "consents": [consent_record(c) for c in consent.history(session, pk)],
        "measurements": _measurements(session, pk),
        "surveys": [
            {"answered_at": _iso(s.answered_at), "answers": s.answers}
            for s in session.scalars(
                select(Survey).where(Survey.client_id == pk).order_by(Survey.answered_at)
            )
        ],
        "interactions": [
            {
                "intervention_id": i.intervention_id,
                "kind": i.kind,
                "value": i.value,
                "at": _iso(i.at),
            }
            for i in session.scalars(
                select(Interaction)
                .where(Interaction.client_id == pk)
                .order_by(Interaction.at, Interaction.id)
            )
        ],
        "feature_snapshots": [
            {
                "as_of": _iso(f.as_of),
                "feature_version": f.feature_version,
                "features": f.features,
                "risk": f.risk,
            }
            for f in session.scalars(
                select(FeatureSnapshot)
                .where(FeatureSnapshot.client_id == pk)
                .order_by(FeatureSnapshot.as_of)
            )
        ],
        "alerts": [
            {
                "kind": a.kind,
                "severity": a.severity,
                "metric": a.metric,
                "window_start": _iso(a.window_start),
                "window_end": _iso(a.window_end),
                "explanation": a.explanation,
                "acknowledged_at": _iso(a.acknowledged_at),
            }
            for a in session.scalars(select(Alert).where(Alert.client_id == pk).order_by(Alert.id))
        ],
        "plans": _plans(session, pk),
        "checkins": [
            {
                "plan_item_id": c.plan_item_id,
                "week_start": _iso(c.week_start),
                "adherence_pct": c.adherence_pct,
                "rating": c.rating,
                "side_effects": c.side_effects,
                "note": c.note,
                "created_at": _iso(c.created_at),
            }
            for c in session.scalars(
                select(CheckIn).where(CheckIn.client_id == pk).order_by(CheckIn.id)
            )
        ],
        "accounts": [
            {
                "username": u.username,
                "role": u.role,
                "active": u.active,
                "last_login_at": _iso(u.last_login_at),
            }
            for u in session.scalars(
                select(User).where(User.client_id == pk).order_by(User.username)
            )
        ],
        "quarantined_records": [
            {
                "file": s.file_name,
                "line": q.line,
                "field": q.field,
                "reason": q.reason,
                "raw": q.raw,
            }
            for q, s in session.execute(
                select(Quarantine, DataSource)
                .join(DataSource, DataSource.id == Quarantine.source_id)
                .where(Quarantine.client_external_id == client.external_id)
                .order_by(Quarantine.id)
            )
        ],
    }


def _measurements(session: Session, client_pk: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Measurement, DataSource.file_name)
        .join(DataSource, DataSource.id == Measurement.source_id)
        .where(Measurement.client_id == client_pk)
        .order_by(Measurement.observed_at, Measurement.metric, Measurement.id)
    )
    return [
        {
            "metric": m.metric,
            "name": name_for(m.metric),
            "value": m.value,
            "unit": m.unit,
            "original_value": m.original_value,
            "original_unit": m.original_unit,
            "observed_at": _iso(m.observed_at),
            "source": file_name,
            "source_record": m.source_record,
        }
        for m, file_name in rows
    ]


def _plans(session: Session, client_pk: int) -> list[dict[str, Any]]:
    out = []
    for plan in session.scalars(
        select(Plan).where(Plan.client_id == client_pk).order_by(Plan.version)
    ):
        events = session.scalars(
            select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)
        )
        out.append(
            {
                "version": plan.version,
                "status": plan.status,
                "as_of": _iso(plan.as_of),
                "created_by": plan.created_by,
                "created_at": _iso(plan.created_at),
                "reviewed_by": plan.reviewed_by,
                "review_comment": plan.review_comment,
                "approved_at": _iso(plan.approved_at),
                "activated_at": _iso(plan.activated_at),
                "ended_at": _iso(plan.ended_at),
                "items": [
                    {
                        "intervention_id": i.intervention_id,
                        "domain": i.domain,
                        "weekly_minutes": i.weekly_minutes,
                        "target": i.target,
                        "reasons": i.reasons,
                        "origin": i.origin,
                    }
                    for i in plan.items
                ],
                "events": [
                    {"at": _iso(e.at), "actor": e.actor, "action": e.action, "comment": e.comment}
                    for e in events
                ],
            }
        )
    return out


def export_fhir(session: Session, client: Client) -> dict[str, Any]:
    """The client as a FHIR R4 ``collection`` Bundle: Patient, Observations, Consents."""
    patient_url = f"urn:uuid:patient-{client.external_id}"
    entries: list[dict[str, Any]] = [{"fullUrl": patient_url, "resource": _patient(client)}]
    for i, m in enumerate(_measurements(session, client.id), start=1):
        entries.append({"fullUrl": f"urn:uuid:obs-{i}", "resource": _observation(m, patient_url)})
    for i, c in enumerate(consent.history(session, client.id), start=1):
        entries.append({"fullUrl": f"urn:uuid:consent-{i}", "resource": _consent(c, patient_url)})
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": entries,
    }


def _patient(client: Client) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": client.external_id}
    if client.name:
        patient["name"] = [{"text": client.name}]
    telecom = [
        {"system": system, "value": value}
        for system, value in (("email", client.email), ("phone", client.phone))
        if value
    ]
    if telecom:
        patient["telecom"] = telecom
    if client.birth_date:
        patient["birthDate"] = client.birth_date.isoformat()
    if client.sex in SEXES:
        patient["gender"] = client.sex
    if client.deceased:
        patient["deceasedBoolean"] = True
    return patient


def _observation(m: dict[str, Any], patient_url: str) -> dict[str, Any]:
    metric = lookup(m["metric"])
    local = metric is not None and not metric.loinc
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [
                {
                    "system": LOCAL_METRICS if local else LOINC,
                    "code": m["metric"],
                    "display": m["name"],
                }
            ]
        },
        "subject": {"reference": patient_url},
        "effectiveDateTime": m["observed_at"],
        "valueQuantity": {
            "value": m["value"],
            "unit": m["unit"],
            "system": UCUM,
            "code": m["unit"],
        },
    }


def _consent(row: Consent, patient_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": "active" if row.granted else "inactive",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"text": row.purpose}],
        "patient": {"reference": patient_url},
        "dateTime": _iso(row.recorded_at),
        "policyRule": {"text": "Ley 29733 (Peru)"},
    }


def rectify_client(session: Session, client: Client, changes: dict[str, Any]) -> list[str]:
    """Apply corrections to personal fields; the names of the fields changed."""
    unknown = sorted(set(changes) - set(RECTIFIABLE))
    if unknown:
        raise InputError(f"cannot rectify {', '.join(unknown)}: only {', '.join(RECTIFIABLE)}")
    if changes.get("sex") not in (None, *SEXES):
        raise InputError(f"sex must be one of {', '.join(SEXES)}")
    changed = []
    for field, value in changes.items():
        if getattr(client, field) != value:
            setattr(client, field, value)
            changed.append(field)
    if "birth_date" in changes:
        born = changes["birth_date"]
        client.birth_year = born.year if born is not None else None
    return sorted(changed)


def erase_client(
    session: Session, client: Client, *, mode: str = "anonymise", now: datetime | None = None
) -> dict[str, Any]:
    """Erase ``client`` (see the module docstring); counts of what was removed or changed."""
    if mode not in ERASE_MODES:
        raise InputError(f"erase mode must be one of {', '.join(ERASE_MODES)}")
    now = now or datetime.now(UTC)
    summary: dict[str, Any] = {
        "mode": mode,
        "accounts_deactivated": _close_accounts(session, client, now),
    }
    summary["quarantined_records_deleted"] = _delete(
        session, delete(Quarantine).where(Quarantine.client_external_id == client.external_id)
    )
    if mode == "delete":
        summary.update(_counts(session, client.id))
        session.execute(delete(Client).where(Client.id == client.id))
        session.expunge(client)
        return summary
    summary["surveys_deleted"] = _delete(
        session, delete(Survey).where(Survey.client_id == client.id)
    )
    session.execute(delete(ClientAssignment).where(ClientAssignment.client_id == client.id))
    for row in consent.history(session, client.id):
        row.evidence = None
    for purpose, row in consent.current(session, client.id).items():
        if row.granted:
            consent.record_consent(session, client, purpose, False, None, now=now)
    for checkin in session.scalars(select(CheckIn).where(CheckIn.client_id == client.id)):
        checkin.note = checkin.side_effects = None
    for field in ("name", "email", "phone", "birth_date", "birth_year"):
        setattr(client, field, None)
    client.external_id = f"erased-{secrets.token_hex(8)}"
    return summary


def _close_accounts(session: Session, client: Client, now: datetime) -> int:
    users = list(session.scalars(select(User).where(User.client_id == client.id)))
    for user in users:
        user.active = False
        user.client_id = None
        user.display_name = None
        tokens.revoke_all(session, user.id, now=now)
    session.flush()
    return len(users)


def _counts(session: Session, client_pk: int) -> dict[str, int]:
    def count(model: Any) -> int:
        return int(
            session.scalar(
                select(func.count()).select_from(model).where(model.client_id == client_pk)
            )
            or 0
        )

    return {
        "measurements_deleted": count(Measurement),
        "interactions_deleted": count(Interaction),
        "surveys_deleted": count(Survey),
        "plans_deleted": count(Plan),
        "checkins_deleted": count(CheckIn),
    }


def _delete(session: Session, statement: Any) -> int:
    return int(getattr(session.execute(statement), "rowcount", 0) or 0)


__all__ = [
    "ERASE_MODES",
    "RECTIFIABLE",
    "erase_client",
    "export_client",
    "export_fhir",
    "rectify_client",
]
