"""Batch recommend: a fresh draft plan for every client with a feature snapshot.

The nightly counterpart of ``health-advisor plan generate``: the same composer and champion
(:func:`health_advisor.plans.service.generate`), for every client at once, with rules that
keep it idempotent and out of people's way:

* a client without a recorded consent for recommendations is left out: ``no_consent``
  (the composer refuses them too; Ley 29733);
* a client whose plan is with people (a draft a person made or edited, or a plan in
  review, approved or active) is left alone: ``in_workflow``;
* a client whose latest plan is a pipeline draft composed from the same snapshot, model
  version and catalog version is ``unchanged``;
* everyone else gets a new draft (superseding a stale pipeline draft): ``generated``.

Clients are composed in chunks, one transaction each, so a crash loses at most one chunk
and a rerun continues where it stopped (the chunks done are ``unchanged``).

Each plan goes through :func:`~health_advisor.plans.service.generate`, exactly the path
of the CLI and the API. Measured on the 2-core machine, a plan costs about 100 ms, two
thirds of it assembling one client's model features with pandas (``model_features``) and
scoring through the encoder; building every client's features in one frame and scoring
them in one matrix product would take that to milliseconds, but ``generate`` computes its
evidence itself. A ``generate(..., evidence=...)`` parameter would let this module pass
batch-computed evidence.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload

from health_advisor.config import Settings
from health_advisor.plans.peers import PeerCache
from health_advisor.store.models import Client, FeatureSnapshot, Plan
from health_advisor.store.session import session_scope

ACTOR = "pipeline"
CHUNK = 200  # plans per transaction
ID_CHUNK = 5_000  # ids per IN (...) list
WITH_PEOPLE = frozenset({"in_review", "approved", "active"})


@dataclass(frozen=True, slots=True)
class BatchReport:
    clients: int
    generated: int
    unchanged: int
    in_workflow: int
    no_consent: int
    model_version: int | None
    fallback: str | None
    catalog_version: str


def decide(
    latest: Plan | None,
    others_with_people: bool,
    *,
    as_of: dt.date,
    model_version: int | None,
    catalog_version: str,
) -> str:
    """``generate``, ``unchanged`` or ``in_workflow`` for one client (see module docs)."""
    if others_with_people:
        return "in_workflow"
    if latest is None or latest.status in ("completed", "superseded"):
        return "generate"
    if latest.status != "draft" or latest.created_by != ACTOR or _edited(latest):
        return "in_workflow"
    same = (
        latest.as_of == as_of
        and latest.model_version == model_version
        and latest.catalog_version == catalog_version
    )
    return "unchanged" if same else "generate"


def _edited(plan: Plan) -> bool:
    return any(item.origin != "composer" for item in plan.items)


def _snapshot_dates(session: Session) -> dict[str, tuple[int, dt.date]]:
    """Each client's store id and latest snapshot date, by external id."""
    rows = session.execute(
        select(Client.external_id, Client.id, func.max(FeatureSnapshot.as_of))
        .join(FeatureSnapshot, FeatureSnapshot.client_id == Client.id)
        .group_by(Client.external_id, Client.id)
    ).all()
    return {str(ext): (int(pk), day) for ext, pk, day in rows}


def _plans(session: Session) -> dict[str, list[Plan]]:
    """Every client's plans, oldest version first (one query, no id list: a clinic's
    100,000 clients would overflow SQLite's bound-parameter limit)."""
    out: dict[str, list[Plan]] = {}
    query = (
        select(Plan, Client.external_id)
        .join(Client, Client.id == Plan.client_id)
        .options(selectinload(Plan.items))
        .order_by(Plan.client_id, Plan.version)
    )
    for plan, ext in session.execute(query):
        out.setdefault(str(ext), []).append(plan)
    return out


def _decisions(
    session: Session,
    dates: dict[str, tuple[int, dt.date]],
    model_version: int | None,
    catalog_version: str,
) -> dict[str, str]:
    from health_advisor.security.consent import RECOMMENDATIONS, without_consent

    pks = sorted(pk for pk, _ in dates.values())
    refused: set[int] = set()
    for start in range(0, len(pks), ID_CHUNK):
        refused.update(without_consent(session, pks[start : start + ID_CHUNK], RECOMMENDATIONS))
    plans = _plans(session)
    out = {}
    for client_id, (pk, as_of) in dates.items():
        if pk in refused:
            out[client_id] = "no_consent"
            continue
        history = plans.get(client_id, [])
        latest = history[-1] if history else None
        with_people = any(p.status in WITH_PEOPLE for p in history[:-1])
        out[client_id] = decide(
            latest,
            with_people,
            as_of=as_of,
            model_version=model_version,
            catalog_version=catalog_version,
        )
    return out


def batch_recommend(
    engine: Engine,
    settings: Settings,
    *,
    chunk: int = CHUNK,
    rules_only: bool = False,
    on_chunk: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Compose drafts for every client that needs one; see the module docstring."""
    from health_advisor.catalog import load_catalog
    from health_advisor.plans import service
    from health_advisor.plans.scoring import load_champion
    from health_advisor.plans.workflow import Actor

    catalog = load_catalog()
    model, fallback = (None, "rules_requested") if rules_only else load_champion(settings)
    model_version = model[1] if model is not None else None
    actor = Actor(ACTOR, "admin")
    with session_scope(engine) as session:
        dates = _snapshot_dates(session)
        decisions = _decisions(session, dates, model_version, catalog.version)
    todo = sorted(c for c, d in decisions.items() if d == "generate")
    peer_cache = PeerCache(ttl=float("inf"))  # one aggregate for the whole run
    for start in range(0, len(todo), chunk):
        with session_scope(engine) as session:
            for client_id in todo[start : start + chunk]:
                service.generate(
                    session,
                    client_id,
                    actor,
                    catalog=catalog,
                    model=model,
                    fallback=fallback,
                    peer_cache=peer_cache,
                )
        if on_chunk is not None:
            on_chunk(min(start + chunk, len(todo)), len(todo))
    tally: Counter[str] = Counter(decisions.values())
    return BatchReport(
        clients=len(decisions),
        generated=tally["generate"],
        unchanged=tally["unchanged"],
        in_workflow=tally["in_workflow"],
        no_consent=tally["no_consent"],
        model_version=model_version,
        fallback=fallback,
        catalog_version=catalog.version,
    )
