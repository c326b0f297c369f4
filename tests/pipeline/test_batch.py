"""Batch recommend: drafts for who needs one, never over people's work or without consent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, func, select

from health_advisor.config import Settings
from health_advisor.pipeline import batch, steps
from health_advisor.security.consent import RECOMMENDATIONS, record_consent
from health_advisor.store.models import Client, Plan, PlanItem
from health_advisor.store.session import session_scope

DAY = dt.date(2025, 2, 10)


def plan(
    status: str, *, by: str = batch.ACTOR, as_of: dt.date = DAY, model: int | None = 3
) -> Plan:
    row = Plan(status=status, created_by=by, as_of=as_of, model_version=model, catalog_version="v")
    row.items = [PlanItem(origin="composer")]
    return row


def decide(latest: Plan | None, with_people: bool = False) -> str:
    return batch.decide(latest, with_people, as_of=DAY, model_version=3, catalog_version="v")


def test_decide() -> None:
    assert decide(None) == "generate"
    assert decide(plan("draft")) == "unchanged"
    assert decide(plan("draft", as_of=DAY - dt.timedelta(days=1))) == "generate"  # new snapshot
    assert decide(plan("draft", model=2)) == "generate"  # new champion
    assert decide(plan("draft", by="coco")) == "in_workflow"  # a coordinator's draft
    edited = plan("draft")
    edited.items = [PlanItem(origin="composer"), PlanItem(origin="coordinator")]
    assert decide(edited) == "in_workflow"
    for status in ("in_review", "approved", "active"):
        assert decide(plan(status)) == "in_workflow"
    for status in ("completed", "superseded"):
        assert decide(plan(status)) == "generate"
    assert decide(plan("draft", model=2), with_people=True) == "in_workflow"  # one is active


def test_batch_recommend_respects_consent_and_people(
    engine: Engine, settings: Settings, clinic_paths: list[Path]
) -> None:
    steps.ingest(engine, settings, paths=clinic_paths)
    steps.features(engine, settings)
    with session_scope(engine) as session:
        clients = session.scalars(select(Client).order_by(Client.external_id)).all()
        for client in clients[1:]:
            record_consent(session, client, RECOMMENDATIONS, True, "intake form")
    first = batch.batch_recommend(engine, settings, chunk=7)
    assert (first.clients, first.generated, first.no_consent) == (30, 29, 1)
    assert first.fallback == "no_model" and first.model_version is None

    again = batch.batch_recommend(engine, settings)
    assert (again.generated, again.unchanged, again.no_consent) == (0, 29, 1)

    with session_scope(engine) as session:
        in_review = session.scalar(select(Plan).order_by(Plan.id).limit(1))
        assert in_review is not None
        in_review.status = "in_review"
    third = batch.batch_recommend(engine, settings)
    assert (third.generated, third.unchanged, third.in_workflow) == (0, 28, 1)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(Plan.id))) == 29
        assert set(session.scalars(select(Plan.created_by))) == {batch.ACTOR}
