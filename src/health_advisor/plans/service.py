"""Plans in the store: generate, read, move through the workflow, edit, check in, track.

The I/O edge of the plans package: it gathers a client's context (latest feature
snapshot, intake survey), the champion model's evidence and the catalog, calls the pure
composer, and stores the result as a new plan version with its events. The CLI and the
API call these functions; every change records a :class:`PlanEvent` (author and time).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any, Protocol

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from health_advisor.core import metrics
from health_advisor.core.catalog import Catalog
from health_advisor.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from health_advisor.plans import workflow
from health_advisor.plans.model import (
    ClientContext,
    ComposedPlan,
    ComposerConfig,
    Exclusion,
    ModelEvidence,
    PlanItem,
    Reason,
    Target,
)
from health_advisor.plans.peers import PeerCache, peer_stats
from health_advisor.plans.workflow import Actor
from health_advisor.store import repositories
from health_advisor.store.models import (
    Alert,
    CheckIn,
    Client,
    FeatureSnapshot,
    Interaction,
    Measurement,
    Survey,
)
from health_advisor.store.models import Plan as PlanRow
from health_advisor.store.models import PlanEvent as EventRow
from health_advisor.store.models import PlanItem as ItemRow
from health_advisor.store.types import utcnow

__all__ = [
    "CheckInResult",
    "Scorer",
    "add_checkin",
    "add_item",
    "client_context",
    "evidence_for",
    "generate",
    "get_plan",
    "list_checkins",
    "list_plans",
    "outcomes",
    "plan_document",
    "plan_events",
    "plan_json",
    "remove_item",
    "stored_plan",
    "swap_item",
    "transition",
    "visible_plan",
]

ON_TRACK_SHARE = 0.5  # on track: at least half the planned change achieved so far
ADHERENCE_ON_TRACK = 70.0  # behavioural targets: mean weekly adherence (%) on track


class Scorer(Protocol):
    """What the service needs of a model: NumpyScorer and fitted Recommenders both fit."""

    def client_scores(
        self, client_id: str, survey: Mapping[str, Any], features: Mapping[str, Any]
    ) -> dict[str, float]:
        """Predicted adherence (%) of every intervention for one client, from the latest
        survey's answers and snapshot features (both may be empty)."""
        ...

    def knows(self, client_id: str) -> bool:
        """Whether the model was trained with this client's history."""
        ...


# --------------------------------------------------------------------------- context


def _client(session: Session, client_id: str) -> Client:
    client = repositories.get_client(session=session, external_id=client_id)
    if client is None:
        raise NotFoundError(f"client {client_id!r} not found")
    return client


def _latest_snapshot(session: Session, client: Client) -> FeatureSnapshot | None:
    return session.scalar(
        select(FeatureSnapshot)
        .where(FeatureSnapshot.client_id == client.id)
        .order_by(FeatureSnapshot.as_of.desc(), FeatureSnapshot.computed_at.desc())
        .limit(1)
    )


def _latest_survey(session: Session, client: Client) -> dict[str, Any]:
    survey = session.scalar(
        select(Survey)
        .where(Survey.client_id == client.id)
        .order_by(Survey.answered_at.desc())
        .limit(1)
    )
    return dict(survey.answers) if survey is not None else {}


def client_context(
    session: Session, client_id: str, *, as_of: dt.date | None = None
) -> tuple[ClientContext, dict[str, Any], dict[str, Any]]:
    """The composer's view of a client, plus the raw survey answers and snapshot features.

    Without a feature snapshot the context has no risk categories (``unknown``): the
    composer then applies every rule that fires on unknown values and the plan says so.
    """
    return _context(session, _client(session, client_id), as_of)


def _context(
    session: Session, client: Client, as_of: dt.date | None
) -> tuple[ClientContext, dict[str, Any], dict[str, Any]]:
    from health_advisor.plans.context import context_from_rows

    snap = _latest_snapshot(session, client)
    features = dict(snap.features) if snap is not None else {}
    survey = _latest_survey(session, client)
    day = as_of or (snap.as_of if snap is not None else dt.datetime.now(dt.UTC).date())
    if features.get("age_years") is None and client.birth_year is not None:
        features["age_years"] = float(day.year - client.birth_year)
    if not features.get("sex") and client.sex:
        features["sex"] = client.sex
    context = context_from_rows(client.external_id, day, features, survey)
    return context, survey, features


def evidence_for(
    session: Session,
    client: Client,
    context: ClientContext,
    survey: Mapping[str, Any],
    features: Mapping[str, Any],
    model: tuple[Scorer, int] | None,
    *,
    fallback: str | None = None,
    peer_cache: PeerCache | None = None,
) -> ModelEvidence:
    """The model's evidence for one client, or rules-only evidence saying why."""
    peers = peer_stats(session, client, peer_cache)
    if model is None:
        return ModelEvidence(None, peers=peers, fallback=fallback or "no_model")
    scorer, version = model
    scores = scorer.client_scores(context.client_id, survey, features)
    adherence = {k: min(max(v / 100.0, 0.0), 1.0) for k, v in scores.items()}
    return ModelEvidence(
        version,
        predicted_adherence=adherence,
        cold_start=not scorer.knows(context.client_id),
        peers=peers,
    )


# --------------------------------------------------------------------------- generate


def _next_version(session: Session, client: Client) -> int:
    latest = session.scalar(select(func.max(PlanRow.version)).where(PlanRow.client_id == client.id))
    return int(latest or 0) + 1


def _event(
    session: Session,
    plan: PlanRow,
    actor: Actor,
    action: str,
    *,
    before: str | None = None,
    comment: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        EventRow(
            plan_id=plan.id,
            actor=actor.name,
            action=action,
            from_status=before,
            to_status=plan.status,
            comment=comment,
            detail={"role": actor.role, **(detail or {})},
        )
    )


def _insert_items(session: Session, plan: PlanRow, items: Sequence[PlanItem]) -> None:
    """Insert a new plan's items in one statement (the unit of work's one INSERT per
    object was a fifth of a generation's time) and attach them to ``plan`` as loaded."""
    from sqlalchemy.orm.attributes import set_committed_value

    rows = [
        {"plan_id": plan.id, **_item_values(item, k, "composer")} for k, item in enumerate(items)
    ]
    # Returned in no particular order (asking for the parameters' order makes SQLAlchemy
    # send one INSERT per row on SQLite), so sorted by position here.
    stored: list[ItemRow] = []
    if rows:
        stored = sorted(
            session.scalars(insert(ItemRow).returning(ItemRow), rows), key=lambda r: r.position
        )
    set_committed_value(plan, "items", stored)


def _item_row(item: PlanItem, position: int, origin: str) -> ItemRow:
    return ItemRow(**_item_values(item, position, origin))


def _item_values(item: PlanItem, position: int, origin: str) -> dict[str, Any]:
    return dict(
        position=position,
        intervention_id=item.intervention_id,
        domain=item.domain,
        intensity=item.intensity,
        weekly_minutes=item.weekly_minutes,
        score=item.score,
        predicted_adherence=item.predicted_adherence,
        expected_benefit=item.expected_benefit,
        mandatory=item.mandatory,
        origin=origin,
        target=item.target.to_dict(),
        reasons={"items": [r.to_dict() for r in item.reasons]},
        citation=item.citation,
    )


def generate(
    session: Session,
    client_id: str,
    actor: Actor,
    *,
    catalog: Catalog,
    model: tuple[Scorer, int] | None,
    fallback: str | None = None,
    config: ComposerConfig | None = None,
    as_of: dt.date | None = None,
    peer_cache: PeerCache | None = None,
) -> PlanRow:
    """Compose a plan for ``client_id`` and store it as a new draft version.

    The client's recorded consent for recommendations is required (Ley 29733: health
    data are sensitive; processing them for a plan needs express consent).

    ``model`` is the champion (scorer, version), or None to compose by guideline rules
    (``fallback`` says why, e.g. ``no_model``). Earlier versions that never became
    active are superseded; an active plan stays active until the new one is activated.
    ``peer_cache`` serves similar clients' adherence to a long-running process (see
    :mod:`health_advisor.plans.peers`); without it they are read from the database.
    """
    from health_advisor.plans.composer import compose
    from health_advisor.security import consent

    if actor.role not in workflow.EDITORS:
        raise PermissionDenied(f"a {actor.role} may not generate plans")
    client = _client(session, client_id)
    consent.require_consent(session, client, consent.RECOMMENDATIONS)
    context, survey, features = _context(session, client, as_of)
    evidence = evidence_for(
        session, client, context, survey, features, model, fallback=fallback, peer_cache=peer_cache
    )
    composed = compose(context, evidence, catalog, config or ComposerConfig())
    plan = PlanRow(
        client_id=client.id,
        version=0,  # set by _insert_version
        status="draft",
        as_of=composed.as_of,
        model_version=composed.model_version,
        catalog_version=composed.catalog_version,
        excluded={"items": [e.to_dict() for e in composed.excluded]},
        meta={
            "fallback": composed.fallback,
            "cold_start": composed.cold_start,
            "time_budget_min": composed.time_budget_min,
            "has_snapshot": bool(features),
            "has_survey": bool(survey),
        },
        created_by=actor.name,
    )
    _insert_version(session, plan, client)
    _insert_items(session, plan, composed.items)
    _event(session, plan, actor, "created", detail={"items": len(composed.items)})
    for older in session.scalars(
        select(PlanRow).where(
            PlanRow.client_id == client.id,
            PlanRow.id != plan.id,
            PlanRow.status.in_(("draft", "in_review", "approved")),
        )
    ):
        before, older.status = older.status, "superseded"
        older.ended_at = dt.datetime.now(dt.UTC)
        _event(session, older, actor, "superseded", before=before, detail={"by": plan.version})
    session.flush()
    return plan


def _insert_version(session: Session, plan: PlanRow, client: Client) -> None:
    """Insert ``plan`` as the client's next version.

    The client's rows are locked for writing first (:func:`repositories.lock_client`),
    so two generations for one client at the same moment take turns: the second reads
    the version the first one committed. The unique (client, version) constraint stays
    as the last guard; should it ever fire, the caller gets a 409 to try again.
    """
    from sqlalchemy.exc import IntegrityError

    external_id = client.external_id  # a failed flush expires the session's objects
    repositories.lock_client(session=session, client=client)
    plan.version = _next_version(session, client)
    session.add(plan)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"another plan for client {external_id!r} was being generated at the same "
            "time; try again"
        ) from exc


# --------------------------------------------------------------------------- read


def get_plan(session: Session, plan_id: int) -> PlanRow:
    plan = session.get(PlanRow, plan_id)
    if plan is None:
        raise NotFoundError(f"plan {plan_id} not found")
    return plan


def list_plans(
    session: Session, *, client_id: str | None = None, status: str | None = None
) -> list[tuple[PlanRow, str]]:
    """Plans with their client's external id, newest first."""
    if status is not None and status not in workflow.STATES:
        raise InputError(f"status must be one of {', '.join(workflow.STATES)}, got {status!r}")
    query = select(PlanRow, Client.external_id).join(Client, Client.id == PlanRow.client_id)
    if client_id is not None:
        query = query.where(Client.id == _client(session, client_id).id)
    if status is not None:
        query = query.where(PlanRow.status == status)
    rows = session.execute(query.order_by(PlanRow.created_at.desc(), PlanRow.id.desc()))
    return [(plan, ext) for plan, ext in rows]


def visible_plan(session: Session, client_id: str) -> PlanRow:
    """The plan a client sees: the active one, else the latest approved (never a draft)."""
    client = _client(session, client_id)
    for status in ("active", "approved"):
        plan = session.scalar(
            select(PlanRow)
            .where(PlanRow.client_id == client.id, PlanRow.status == status)
            .order_by(PlanRow.version.desc())
            .limit(1)
        )
        if plan is not None:
            return plan
    raise NotFoundError(f"client {client_id!r} has no approved plan yet")


def stored_plan(plan: PlanRow, client_id: str) -> ComposedPlan:
    """The stored plan as the composer's type (for the renderers and the FHIR export)."""
    items = tuple(
        PlanItem(
            intervention_id=row.intervention_id,
            domain=row.domain,
            intensity=row.intensity,
            weekly_minutes=row.weekly_minutes,
            score=row.score,
            predicted_adherence=row.predicted_adherence,
            expected_benefit=row.expected_benefit,
            mandatory=row.mandatory,
            citation=row.citation,
            target=Target.from_dict(row.target),
            reasons=tuple(Reason(r["kind"], r.get("params", {})) for r in row.reasons["items"]),
        )
        for row in plan.items
    )
    excluded = tuple(
        Exclusion(
            intervention_id=e["intervention_id"],
            kind=e["kind"],
            rule=e["rule"],
            triggers=tuple(e.get("triggers", ())),
            clearance_lifts=bool(e.get("clearance_lifts", False)),
        )
        for e in plan.excluded.get("items", [])
    )
    return ComposedPlan(
        client_id=client_id,
        as_of=plan.as_of,
        items=items,
        excluded=excluded,
        model_version=plan.model_version,
        catalog_version=plan.catalog_version,
        fallback=plan.meta.get("fallback"),
        cold_start=bool(plan.meta.get("cold_start")),
        time_budget_min=plan.meta.get("time_budget_min"),
    )


def plan_events(session: Session, plan_id: int) -> list[EventRow]:
    return list(
        session.scalars(select(EventRow).where(EventRow.plan_id == plan_id).order_by(EventRow.id))
    )


def plan_json(
    session: Session,
    plan: PlanRow,
    *,
    catalog: Catalog,
    lang: str = "es",
    client_id: str | None = None,
) -> dict[str, Any]:
    """The plan as JSON (the CLI's ``--format json`` and the API's body).

    Each item's reasons carry ``text`` in ``lang`` beside the code and parameters.
    ``client_id`` is the client's external id when the caller has it (else it is read).
    """
    from health_advisor.plans.i18n import reason_text, target_text

    if client_id is None:
        client_id = session.scalar(select(Client.external_id).where(Client.id == plan.client_id))
    composed = stored_plan(plan, str(client_id))
    items = []
    for row, item in zip(plan.items, composed.items, strict=True):
        entry = item.to_dict()
        entry["title"] = catalog.get(item.intervention_id).title.get(lang)
        entry["origin"] = row.origin
        entry["target"]["text"] = target_text(item.target, lang)
        for reason, out in zip(item.reasons, entry["reasons"], strict=True):
            out["text"] = reason_text(reason, lang, catalog, intervention_id=item.intervention_id)
        items.append(entry)
    return {
        "plan_id": plan.id,
        "client_id": client_id,
        "version": plan.version,
        "status": plan.status,
        "as_of": plan.as_of.isoformat(),
        "model_version": plan.model_version,
        "catalog_version": plan.catalog_version,
        "fallback": plan.meta.get("fallback"),
        "cold_start": bool(plan.meta.get("cold_start")),
        "time_budget_min": plan.meta.get("time_budget_min"),
        "weekly_minutes": sum(i.weekly_minutes for i in composed.items),
        "created_by": plan.created_by,
        "created_at": plan.created_at.isoformat(),
        "reviewed_by": plan.reviewed_by,
        "review_comment": plan.review_comment,
        "approved_at": plan.approved_at.isoformat() if plan.approved_at else None,
        "lang": lang,
        "items": items,
        "excluded": [e.to_dict() for e in composed.excluded],
    }


# --------------------------------------------------------------------------- workflow


def transition(
    session: Session, plan_id: int, action: str, actor: Actor, *, comment: str | None = None
) -> PlanRow:
    """Apply a workflow action (:data:`workflow.ACTIONS`) and record it."""
    plan = get_plan(session, plan_id)
    before = plan.status
    plan.status = workflow.next_state(before, action, actor, comment)
    now = dt.datetime.now(dt.UTC)
    if action in ("approve", "reject"):
        plan.reviewed_by, plan.review_comment = actor.name, comment
        plan.approved_at = now if action == "approve" else None
    elif action == "activate":
        plan.activated_at = now
        for other in session.scalars(
            select(PlanRow).where(
                PlanRow.client_id == plan.client_id,
                PlanRow.id != plan.id,
                PlanRow.status == "active",
            )
        ):
            other.status, other.ended_at = "superseded", now
            _event(
                session, other, actor, "superseded", before="active", detail={"by": plan.version}
            )
    elif action in ("complete", "supersede"):
        plan.ended_at = now
    _event(session, plan, actor, action, before=before, comment=comment)
    session.flush()
    return plan


def _edit_context(session: Session, plan: PlanRow) -> ClientContext:
    client = session.get(Client, plan.client_id)
    assert client is not None  # plans are deleted with their client
    return _context(session, client, plan.as_of)[0]


def _renumber(plan: PlanRow) -> None:
    for k, row in enumerate(plan.items):
        row.position = k


# Evidence for edits: the adherence the model predicted when the plan was composed is not
# kept for items outside the plan, so an added item is scored by rules and says so.
EDIT_EVIDENCE = ModelEvidence(None, fallback="coordinator_edit")


def add_item(
    session: Session,
    plan_id: int,
    intervention_id: str,
    actor: Actor,
    *,
    reason: str,
    catalog: Catalog,
) -> PlanRow:
    """Add a catalog item to a draft (a coordinator's choice, with the reason given).

    The hard rules still hold: a contraindicated item, or one that conflicts with an
    item in the plan, is refused with the rule that forbids it.
    """
    from health_advisor.plans.composer import item_for

    plan = get_plan(session, plan_id)
    workflow.check_edit(plan.status, actor, reason)
    try:
        intervention = catalog.get(intervention_id)
    except KeyError as error:
        raise NotFoundError(f"intervention {intervention_id!r} is not in the catalog") from error
    if any(row.intervention_id == intervention_id for row in plan.items):
        raise ConflictError(f"plan {plan_id} already holds {intervention_id}")
    context = _edit_context(session, plan)
    for row in plan.items:
        if catalog.conflict(intervention_id, row.intervention_id) or catalog.conflict(
            row.intervention_id, intervention_id
        ):
            raise ConflictError(
                f"{intervention_id} conflicts with {row.intervention_id} in the plan"
            )
    item = item_for(intervention, context, EDIT_EVIDENCE, catalog)
    note = Reason("coordinator", {"reason": reason.strip(), "author": actor.name})
    item = PlanItem(**{**item.__dict__, "reasons": (*item.reasons, note)})
    plan.items.append(_item_row(item, len(plan.items), "coordinator"))
    _renumber(plan)
    return _edited(session, plan, actor, "item_added", reason, intervention_id)


def _edited(
    session: Session, plan: PlanRow, actor: Actor, action: str, reason: str, item: str
) -> PlanRow:
    """Record an item edit (the reason is the event's comment) and flush. The plan's
    ``updated_at`` moves: its rendered bodies are keyed on it (``api.plan_cache``)."""
    plan.updated_at = utcnow()
    _event(
        session,
        plan,
        actor,
        action,
        before=plan.status,
        comment=reason,
        detail={"intervention_id": item},
    )
    session.flush()
    return plan


def remove_item(
    session: Session, plan_id: int, intervention_id: str, actor: Actor, *, reason: str
) -> PlanRow:
    """Remove an item from a draft, with the reason. Mandatory items cannot be removed."""
    plan = get_plan(session, plan_id)
    workflow.check_edit(plan.status, actor, reason)
    row = next((r for r in plan.items if r.intervention_id == intervention_id), None)
    if row is None:
        raise NotFoundError(f"plan {plan_id} has no item {intervention_id!r}")
    if row.mandatory:
        raise ConflictError(
            f"{intervention_id} is mandatory under the guidelines for this client; "
            "it cannot be removed"
        )
    plan.items.remove(row)
    _renumber(plan)
    return _edited(session, plan, actor, "item_removed", reason, intervention_id)


def swap_item(
    session: Session,
    plan_id: int,
    old: str,
    new: str,
    actor: Actor,
    *,
    reason: str,
    catalog: Catalog,
) -> PlanRow:
    """Replace one item by another (remove then add, under the same rules)."""
    remove_item(session, plan_id, old, actor, reason=reason)
    return add_item(session, plan_id, new, actor, reason=reason, catalog=catalog)


# --------------------------------------------------------------------------- check-ins


@dataclass(frozen=True)
class CheckInResult:
    checkin_id: int
    plan_id: int
    intervention_id: str
    week_start: dt.date
    adherence_pct: float
    rating: int | None
    interactions: int  # interaction rows written (adherence, and rating when given)
    updated: bool  # an earlier check-in for the same week was corrected


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def add_checkin(
    session: Session,
    client_id: str,
    intervention_id: str,
    actor: Actor,
    *,
    week: dt.date,
    adherence_pct: float,
    rating: int | None = None,
    side_effects: str | None = None,
    note: str | None = None,
) -> CheckInResult:
    """Record a week's check-in on an item of the client's active plan.

    It becomes interactions (``adherence`` = the percentage, ``rating`` when given) at
    the end of that week, so the next training run learns from it; a second check-in for
    the same week corrects the first. Side effects raise an alert for the care team.
    """
    if not 0.0 <= adherence_pct <= 100.0 or math.isnan(adherence_pct):
        raise InputError(f"adherence must be between 0 and 100 %, got {adherence_pct}")
    if rating is not None and not 1 <= rating <= 5:
        raise InputError(f"rating must be 1-5, got {rating}")
    client = _client(session, client_id)
    if actor.role == "client" and not _is_own(session, actor, client):
        raise PermissionDenied("a client may check in only on their own plan")
    plan = session.scalar(
        select(PlanRow).where(PlanRow.client_id == client.id, PlanRow.status == "active")
    )
    if plan is None:
        raise ConflictError(f"client {client_id!r} has no active plan to check in on")
    row = next((r for r in plan.items if r.intervention_id == intervention_id), None)
    if row is None:
        raise NotFoundError(f"the active plan (v{plan.version}) has no item {intervention_id!r}")
    start = _week_start(week)
    if start > dt.datetime.now(dt.UTC).date():
        raise InputError(f"week {start.isoformat()} is in the future")
    checkin = session.scalar(
        select(CheckIn).where(CheckIn.plan_item_id == row.id, CheckIn.week_start == start)
    )
    updated = checkin is not None
    if checkin is None:
        checkin = CheckIn(plan_item_id=row.id, client_id=client.id, week_start=start)
        session.add(checkin)
    checkin.adherence_pct = float(adherence_pct)
    checkin.rating = rating
    checkin.side_effects = side_effects or None
    checkin.note = note or None
    checkin.created_by = actor.name
    at = dt.datetime.combine(start + dt.timedelta(days=6), dt.time(12), dt.UTC)
    values = {"adherence": float(adherence_pct)}
    if rating is not None:
        values["rating"] = float(rating)
    for kind, value in values.items():
        existing = session.scalar(
            select(Interaction).where(
                Interaction.client_id == client.id,
                Interaction.intervention_id == intervention_id,
                Interaction.kind == kind,
                Interaction.at == at,
            )
        )
        if existing is None:
            session.add(
                Interaction(
                    client_id=client.id,
                    intervention_id=intervention_id,
                    kind=kind,
                    value=value,
                    at=at,
                )
            )
        else:
            existing.value = value
    if side_effects:
        _side_effect_alert(session, client, intervention_id, start, side_effects)
    session.flush()
    return CheckInResult(
        checkin.id,
        plan.id,
        intervention_id,
        start,
        float(adherence_pct),
        rating,
        len(values),
        updated,
    )


def list_checkins(session: Session, client_id: str) -> list[CheckInResult]:
    """The client's check-ins on every plan, newest week first."""
    client = _client(session, client_id)
    rows = session.execute(
        select(CheckIn, ItemRow.intervention_id, ItemRow.plan_id)
        .join(ItemRow, ItemRow.id == CheckIn.plan_item_id)
        .where(CheckIn.client_id == client.id)
        .order_by(CheckIn.week_start.desc(), CheckIn.id.desc())
    )
    return [
        CheckInResult(c.id, plan_id, item, c.week_start, c.adherence_pct, c.rating, 0, False)
        for c, item, plan_id in rows
    ]


def _is_own(session: Session, actor: Actor, client: Client) -> bool:
    from health_advisor.store.models import User

    user = session.scalar(select(User).where(User.username == actor.name))
    return user is not None and user.client_id == client.id


def _side_effect_alert(
    session: Session, client: Client, intervention_id: str, start: dt.date, text: str
) -> None:
    key = f"side_effect:{client.id}:{intervention_id}:{start.isoformat()}"[:160]
    alert = session.scalar(select(Alert).where(Alert.dedup_key == key))
    if alert is None:
        session.add(
            Alert(
                client_id=client.id,
                dedup_key=key,
                kind="side_effect",
                severity="warning",
                metric="checkin",
                window_start=start,
                window_end=start + dt.timedelta(days=6),
                explanation=f"side effects reported on {intervention_id} (see the check-in)",
            )
        )


# --------------------------------------------------------------------------- outcomes


def _metric_series(
    session: Session, client_id: int, metric: str, since: dt.date
) -> list[tuple[dt.datetime, float]]:
    code = metrics.code_for(metric)
    start = dt.datetime.combine(since, dt.time(), dt.UTC)
    rows = session.execute(
        select(Measurement.observed_at, Measurement.value)
        .where(
            Measurement.client_id == client_id,
            Measurement.metric == code,
            Measurement.observed_at >= start,
        )
        .order_by(Measurement.observed_at)
    )
    return [(at, float(v)) for at, v in rows]


def outcome_of(
    target: Target, values: Sequence[float], today: dt.date, adherence: Sequence[float]
) -> dict[str, Any]:
    """Whether one target is on track (pure; see :func:`outcomes`).

    A metric target is on track once the recent values (mean of the last 7 readings)
    cover at least half of the change planned by today (the straight line from the
    baseline to the target value by the review date), or the target is reached. A
    behavioural target, or a metric without readings since the plan started, is on track
    while the mean weekly adherence reported in check-ins is at least 70 %.
    """
    out: dict[str, Any] = {"metric": target.metric, "baseline": target.baseline}
    mean_adherence = fmean(adherence) if adherence else None
    out["mean_adherence"] = mean_adherence
    if target.metric is None or not values or target.baseline is None:
        out["current"] = None
        out["on_track"] = None if mean_adherence is None else mean_adherence >= ADHERENCE_ON_TRACK
        out["basis"] = "adherence"
        return out
    current = fmean(values[-7:])
    span = max((target.review_date - target.start_date).days, 1)
    elapsed = min(max((today - target.start_date).days, 0), span)
    planned = (target.value - target.baseline) * elapsed / span
    achieved = current - target.baseline
    sign = {"increase": 1.0, "decrease": -1.0}.get(target.direction, 0.0)
    if sign == 0.0:
        on_track = abs(achieved) <= max(abs(target.baseline) * 0.05, 1e-9)
    else:
        reached = sign * (current - target.value) >= 0
        on_track = reached or sign * achieved >= ON_TRACK_SHARE * sign * planned
    out.update({"current": round(current, 3), "on_track": bool(on_track), "basis": "metric"})
    return out


def outcomes(
    session: Session, plan_id: int, *, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Each item's target and where the client stands since the plan started."""
    plan = get_plan(session, plan_id)
    day = today or dt.datetime.now(dt.UTC).date()
    started = plan.activated_at.date() if plan.activated_at else plan.as_of
    out = []
    for row in plan.items:
        target = Target.from_dict(row.target)
        values = (
            [v for _, v in _metric_series(session, plan.client_id, target.metric, started)]
            if target.metric is not None
            else []
        )
        adherence = [
            c.adherence_pct
            for c in session.scalars(select(CheckIn).where(CheckIn.plan_item_id == row.id))
        ]
        entry = outcome_of(target, values, day, adherence)
        entry.update(
            {
                "intervention_id": row.intervention_id,
                "target_value": target.value,
                "review_date": target.review_date.isoformat(),
                "checkins": len(adherence),
            }
        )
        out.append(entry)
    return out


def plan_document(session: Session, plan: PlanRow) -> Any:
    """The plan with what the documents show (:class:`~.render.PlanDocument`)."""
    from health_advisor.plans.render import PlanDocument

    client = session.get(Client, plan.client_id)
    assert client is not None
    return PlanDocument(
        plan=stored_plan(plan, client.external_id),
        plan_id=plan.id,
        version=plan.version,
        status=plan.status,
        client_name=client.name,
        approved_by=plan.reviewed_by if plan.approved_at else None,
        approved_at=plan.approved_at,
        created_at=plan.created_at,
    )
