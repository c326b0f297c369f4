"""Plans in the store: generate, review, edit, check in, track (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from health_advisor.core.catalog import Catalog
from health_advisor.errors import ConflictError, NotFoundError, PermissionDenied
from health_advisor.plans import service
from health_advisor.plans.model import Target
from health_advisor.plans.scoring import ChampionScorer
from health_advisor.plans.workflow import Actor
from health_advisor.recommender import BiasBaseline
from health_advisor.recommender.training import clinic_from_store
from health_advisor.store.models import Alert, Client, Interaction, PlanEvent
from health_advisor.store.session import session_factory, session_scope

from .conftest import add_client, first_client

COORD = Actor("coco", "coordinator")
DOC = Actor("doc", "professional")
ADMIN = Actor("admin", "admin")
WEEK = dt.date(2026, 11, 23)


def _approved(session, client: str, catalog: Catalog, model=None):  # type: ignore[no-untyped-def]
    plan = service.generate(session, client, COORD, catalog=catalog, model=model)
    service.transition(session, plan.id, "submit", COORD)
    service.transition(session, plan.id, "approve", DOC, comment="ok")
    return plan


def test_rules_only_plan_covers_every_domain_and_says_why(stored: Engine, catalog: Catalog) -> None:
    client = first_client(stored)
    with session_scope(stored) as session:
        plan = service.generate(session, client, COORD, catalog=catalog, model=None)
        doc = service.plan_json(session, plan, catalog=catalog, lang="en")
    assert (doc["version"], doc["status"], doc["model_version"]) == (1, "draft", None)
    assert doc["fallback"] == "no_model"
    assert {i["domain"] for i in doc["items"]} == {
        "exercise",
        "nutrition",
        "sleep",
        "stress",
        "prevention",
    }
    for item in doc["items"]:
        assert {"intervention_id", "domain", "intensity", "score", "predicted_adherence"} <= set(
            item
        )
        assert item["target"]["text"] and item["reasons"]
        assert all(r["text"] for r in item["reasons"])
        assert any(r["kind"] == "rules_only" for r in item["reasons"])
    assert all({"intervention_id", "rule"} <= set(e) for e in doc["excluded"])


def test_a_plan_needs_consent_for_recommendations(stored: Engine, catalog: Catalog) -> None:
    from health_advisor.security.consent import RECOMMENDATIONS, record_consent
    from health_advisor.store.models import Client

    client = first_client(stored)
    with session_scope(stored) as session:
        row = session.scalar(select(Client).where(Client.external_id == client))
        assert row is not None
        record_consent(session, row, RECOMMENDATIONS, False, "withdrawn by phone")
    with session_scope(stored) as session, pytest.raises(ConflictError, match="consent"):
        service.generate(session, client, COORD, catalog=catalog, model=None)


def test_model_scores_drive_the_plan(stored: Engine, catalog: Catalog) -> None:
    from health_advisor.recommender.datasets import build_datasets

    data = build_datasets(clinic_from_store(stored), catalog)
    model = BiasBaseline().fit(data.values, data.client_features, data.item_features)
    client = first_client(stored)
    with session_scope(stored) as session:
        plan = service.generate(
            session, client, COORD, catalog=catalog, model=(ChampionScorer(model), 3)
        )
        doc = service.plan_json(session, plan, catalog=catalog, lang="es")
    assert doc["model_version"] == 3 and doc["fallback"] is None
    assert any(r["kind"] == "model" for i in doc["items"] for r in i["reasons"])
    assert all(0.0 <= i["predicted_adherence"] <= 1.0 for i in doc["items"])


def test_review_approval_and_visibility(stored: Engine, catalog: Catalog) -> None:
    client = first_client(stored)
    with session_scope(stored) as session:
        plan = service.generate(session, client, COORD, catalog=catalog, model=None)
        with pytest.raises(NotFoundError, match="no approved plan"):
            service.visible_plan(session, client)
        service.transition(session, plan.id, "submit", COORD)
        with pytest.raises(PermissionDenied):
            service.transition(session, plan.id, "approve", COORD)
        with pytest.raises(PermissionDenied):
            service.transition(session, plan.id, "approve", Actor("me", "client"))
        service.transition(session, plan.id, "reject", DOC, comment="more sleep work")
        assert plan.status == "draft" and plan.review_comment == "more sleep work"
        service.transition(session, plan.id, "submit", COORD)
        service.transition(session, plan.id, "approve", DOC, comment="fine")
        assert service.visible_plan(session, client).id == plan.id
        assert plan.reviewed_by == "doc" and plan.approved_at is not None
        service.transition(session, plan.id, "activate", COORD)
        second = service.generate(session, client, COORD, catalog=catalog, model=None)
        assert second.version == 2
        assert plan.status == "active"  # stays until the new version is activated
        service.transition(session, second.id, "submit", COORD)
        service.transition(session, second.id, "approve", DOC)
        service.transition(session, second.id, "activate", COORD)
        assert (plan.status, second.status) == ("superseded", "active")
        actions = [e.action for e in service.plan_events(session, plan.id)]
    assert actions == [
        "created",
        "submit",
        "reject",
        "submit",
        "approve",
        "activate",
        "superseded",
    ]


def test_a_new_version_supersedes_unapproved_drafts(stored: Engine, catalog: Catalog) -> None:
    client = first_client(stored)
    with session_scope(stored) as session:
        first = service.generate(session, client, COORD, catalog=catalog, model=None)
        second = service.generate(session, client, COORD, catalog=catalog, model=None)
        assert (first.status, second.status, second.version) == ("superseded", "draft", 2)
        assert [p.version for p, _ in service.list_plans(session, client_id=client)] == [2, 1]
        assert [p.id for p, _ in service.list_plans(session, status="draft")] == [second.id]


def test_stage_2_blood_pressure_makes_follow_up_mandatory_and_blocks_vigorous(
    stored: Engine, catalog: Catalog
) -> None:
    client = add_client(
        stored,
        "bp-stage2",
        categories={"blood_pressure": "stage_2", "overall": "high"},
        numbers={"systolic_bp_mean_90d": 152.0, "diastolic_bp_mean_90d": 96.0},
    )
    with session_scope(stored) as session:
        plan = service.generate(session, client, COORD, catalog=catalog, model=None)
        doc = service.plan_json(session, plan, catalog=catalog, lang="en")
        items = {i["intervention_id"]: i for i in doc["items"]}
        assert items["pr_physician_bp_followup"]["mandatory"]
        excluded = {e["intervention_id"]: e for e in doc["excluded"]}
        vigorous = [i.id for i in catalog.interventions if i.intensity == "vigorous"]
        assert vigorous and all(v in excluded and v not in items for v in vigorous)
        assert excluded["ex_hiit"]["rule"] == "acsm_vigorous_needs_clearance"
        with pytest.raises(ConflictError, match="mandatory"):
            service.remove_item(
                session, plan.id, "pr_physician_bp_followup", COORD, reason="client asks"
            )
        with pytest.raises(ConflictError, match="contraindicated"):
            service.add_item(session, plan.id, "ex_hiit", COORD, reason="wants", catalog=catalog)


def test_coordinator_edits_are_checked_and_recorded(stored: Engine, catalog: Catalog) -> None:
    client = first_client(stored)
    with session_scope(stored) as session:
        plan = service.generate(session, client, COORD, catalog=catalog, model=None)
        chosen = [r.intervention_id for r in plan.items if not r.mandatory]
        removable = chosen[0]
        service.remove_item(session, plan.id, removable, COORD, reason="dislikes it")
        assert removable not in [r.intervention_id for r in plan.items]
        service.add_item(session, plan.id, removable, COORD, reason="changed mind", catalog=catalog)
        added = plan.items[-1]
        assert (added.intervention_id, added.origin) == (removable, "coordinator")
        assert any(r["kind"] == "coordinator" for r in added.reasons["items"])
        with pytest.raises(ConflictError, match="already holds"):
            service.add_item(session, plan.id, removable, COORD, reason="x", catalog=catalog)
        with pytest.raises(NotFoundError):
            service.add_item(session, plan.id, "ex_unknown", COORD, reason="x", catalog=catalog)
        with pytest.raises(PermissionDenied):
            service.remove_item(session, plan.id, removable, DOC, reason="x")
        service.transition(session, plan.id, "submit", COORD)
        with pytest.raises(ConflictError, match="only in draft"):
            service.remove_item(session, plan.id, removable, COORD, reason="x")
        events = session.scalars(
            select(PlanEvent).where(PlanEvent.plan_id == plan.id).order_by(PlanEvent.id)
        ).all()
    assert [e.action for e in events] == ["created", "item_removed", "item_added", "submit"]
    assert events[1].comment == "dislikes it" and events[1].actor == "coco"
    assert events[1].detail == {"role": "coordinator", "intervention_id": removable}


def test_checkins_become_interactions_and_corrections_replace_them(
    stored: Engine, catalog: Catalog
) -> None:
    client = first_client(stored)
    with session_scope(stored) as session:
        with pytest.raises(ConflictError, match="no active plan"):
            service.add_checkin(session, client, "x", ADMIN, week=WEEK, adherence_pct=50)
        plan = _approved(session, client, catalog)
        service.transition(session, plan.id, "activate", COORD)
        item = plan.items[0].intervention_id
        before = session.scalar(select(func.count()).select_from(Interaction))
        me = Actor("me", "client")
        result = service.add_checkin(
            session, client, item, me, week=WEEK + dt.timedelta(days=3), adherence_pct=60, rating=4
        )
        assert (result.week_start, result.interactions, result.updated) == (WEEK, 2, False)
        again = service.add_checkin(
            session, client, item, me, week=WEEK, adherence_pct=80, side_effects="sore knee"
        )
        assert again.updated and again.checkin_id == result.checkin_id
        rows = session.execute(
            select(Interaction.kind, Interaction.value).where(
                Interaction.intervention_id == item,
                Interaction.at >= dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
            )
        ).all()
        after = session.scalar(select(func.count()).select_from(Interaction))
        alerts = session.scalars(select(Alert).where(Alert.kind == "side_effect")).all()
        with pytest.raises(NotFoundError, match="no item"):
            service.add_checkin(session, client, "ex_unknown", me, week=WEEK, adherence_pct=1)
        with pytest.raises(PermissionDenied):
            other = Actor("me", "client")
            service.add_checkin(
                session,
                _second_client(session, client),
                item,
                other,
                week=WEEK,
                adherence_pct=1,
            )
    assert after == before + 2
    assert sorted(rows) == [("adherence", 80.0), ("rating", 4.0)]
    assert len(alerts) == 1 and item in alerts[0].explanation


def _second_client(session, client: str) -> str:  # type: ignore[no-untyped-def]
    from health_advisor.store.models import Client

    return str(
        session.scalar(
            select(Client.external_id).where(Client.external_id != client).order_by(Client.id)
        )
    )


def test_checkins_feed_the_next_training_run(stored: Engine, catalog: Catalog) -> None:
    client = first_client(stored)
    with session_scope(stored) as session:
        plan = _approved(session, client, catalog)
        service.transition(session, plan.id, "activate", COORD)
        item = plan.items[0].intervention_id
        service.add_checkin(session, client, item, ADMIN, week=WEEK, adherence_pct=42.0)
    clinic = clinic_from_store(stored)
    rows = clinic.interactions[
        (clinic.interactions["client_id"] == client)
        & (clinic.interactions["intervention_id"] == item)
        & (clinic.interactions["kind"] == "adherence")
    ]
    assert 42.0 in rows["value"].tolist()


def _target(direction: str = "increase") -> Target:
    return Target(
        metric="steps",
        unit="/d",
        direction=direction,
        baseline=5000.0,
        value=7000.0 if direction == "increase" else 3000.0,
        goal=8000.0,
        weekly_change=500.0,
        start_date=dt.date(2026, 11, 1),
        review_date=dt.date(2026, 11, 29),
        rule="steps",
    )


def test_outcome_on_track_needs_half_the_planned_change() -> None:
    today = dt.date(2026, 11, 15)  # half way: 1,000 steps planned so far
    assert service.outcome_of(_target(), [5600.0] * 7, today, [])["on_track"]
    assert not service.outcome_of(_target(), [5400.0] * 7, today, [])["on_track"]
    assert service.outcome_of(_target(), [7100.0], today, [])["on_track"]  # reached
    behavioural = Target(None, "min/wk", "maintain", None, 150, None, None, today, today, "x")
    assert service.outcome_of(behavioural, [], today, [80.0, 70.0])["on_track"]
    assert not service.outcome_of(behavioural, [], today, [50.0])["on_track"]
    assert service.outcome_of(behavioural, [], today, [])["on_track"] is None


def test_outcomes_of_a_stored_plan(stored: Engine, catalog: Catalog) -> None:
    client = first_client(stored)
    with session_scope(stored) as session:
        plan = service.generate(session, client, COORD, catalog=catalog, model=None)
        rows = service.outcomes(session, plan.id, today=plan.as_of)
    assert [r["intervention_id"] for r in rows] == [i.intervention_id for i in plan.items]
    assert all({"on_track", "baseline", "target_value", "review_date"} <= set(r) for r in rows)


def test_generations_for_one_client_at_once_take_turns(
    stored: Engine, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generations for one client at the same moment each get the next version: the
    client's rows are locked before the latest version is read, so a second generation
    reads the version the first one committed (without the lock, all of them would read
    the same version during the pause below and collide on the unique key)."""
    import threading
    import time

    from health_advisor.store.models import Plan

    client = first_client(stored)
    read = service._next_version

    def slow_read(session: Session, row: Client) -> int:
        version = read(session, row)
        time.sleep(0.05)  # the window in which another generation could read the same
        return version

    monkeypatch.setattr(service, "_next_version", slow_read)
    start, failures = threading.Barrier(4), []

    def generate() -> None:
        start.wait()
        try:
            for _ in range(2):
                with session_scope(stored) as session:
                    service.generate(session, client, COORD, catalog=catalog, model=None)
        except Exception as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with session_scope(stored) as session:
        versions = session.scalars(
            select(Plan.version).join(Client).where(Client.external_id == client)
        ).all()
    assert sorted(versions) == list(range(1, 9))


def test_a_version_taken_meanwhile_is_a_conflict(
    stored: Engine, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the version read ever be stale (a writer outside the lock), the unique key
    still holds and the caller is told to try again (409), with nothing written."""
    from health_advisor.store.models import Plan

    client = first_client(stored)
    with session_scope(stored) as session:
        service.generate(session, client, COORD, catalog=catalog, model=None)
    monkeypatch.setattr(service, "_next_version", lambda session, client: 1)
    with pytest.raises(ConflictError, match="try again"), session_scope(stored) as session:
        service.generate(session, client, COORD, catalog=catalog, model=None)
    with session_scope(stored) as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 1


def test_a_generation_rolled_back_leaves_no_plan(stored: Engine, catalog: Catalog) -> None:
    from health_advisor.store.models import Plan

    client = first_client(stored)
    with session_scope(stored) as session:
        before = session.scalar(select(func.count()).select_from(Plan))
    session = session_factory(stored)()
    try:
        service.generate(session, client, COORD, catalog=catalog, model=None)
        session.rollback()
    finally:
        session.close()
    with session_scope(stored) as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == before
