"""A stored plan as the pages show it: every text already in the reader's language.

Built from the plans package's own wording (:mod:`health_advisor.plans.i18n`), so the
page, the PDF and the FHIR export say the same thing about an item, a target or a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from health_advisor.core.catalog import Catalog
from health_advisor.plans import i18n as texts
from health_advisor.plans import service
from health_advisor.plans.model import Target
from health_advisor.store.models import Plan, PlanEvent

__all__ = ["ItemView", "catalog_choices", "event_rows", "exclusion_rows", "item_views"]


@dataclass(frozen=True, slots=True)
class ItemView:
    row_id: int
    id: str
    title: str
    description: str
    domain: str
    intensity: str
    weekly_minutes: int
    target: Target
    target_text: str
    reasons: list[str]
    mandatory: bool
    origin: str
    predicted_adherence: float  # 0-1
    citation: str


def item_views(plan: Plan, client_id: str, lang: str, catalog: Catalog) -> list[ItemView]:
    composed = service.stored_plan(plan, client_id)
    out = []
    for row, item in zip(plan.items, composed.items, strict=True):
        entry = catalog.by_id.get(item.intervention_id)
        out.append(
            ItemView(
                row_id=row.id,
                id=item.intervention_id,
                title=texts.intervention_title(item.intervention_id, lang, catalog),
                description=entry.description.get(lang) if entry is not None else "",
                domain=item.domain,
                intensity=item.intensity,
                weekly_minutes=item.weekly_minutes,
                target=item.target,
                target_text=texts.target_text(item.target, lang),
                reasons=[
                    texts.reason_text(
                        r, lang, catalog, intervention_id=item.intervention_id, with_citation=False
                    )
                    for r in item.reasons
                ],
                mandatory=item.mandatory,
                origin=row.origin,
                predicted_adherence=item.predicted_adherence,
                citation=item.citation or (entry.evidence.citation if entry is not None else ""),
            )
        )
    return out


def exclusion_rows(plan: Plan, client_id: str, lang: str, catalog: Catalog) -> list[dict[str, Any]]:
    """The safety rules that kept items out: what, which rule, why, and whether a
    physician's clearance would lift it."""
    composed = service.stored_plan(plan, client_id)
    return [
        {
            "id": e.intervention_id,
            "title": texts.intervention_title(e.intervention_id, lang, catalog),
            "kind": e.kind,
            "rule": e.rule,
            "why": texts.exclusion_text(e, lang, catalog),
            "clearance_lifts": e.clearance_lifts,
        }
        for e in composed.excluded
    ]


def event_rows(session: Session, plan_id: int) -> list[PlanEvent]:
    return service.plan_events(session, plan_id)


def catalog_choices(
    catalog: Catalog, lang: str, *, exclude: set[str]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Catalog items not in the plan, grouped by domain (for the add/swap lists)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for item in catalog.interventions:
        if item.id in exclude:
            continue
        groups.setdefault(item.domain, []).append((item.id, item.title.get(lang)))
    return [
        (texts.domain_name(domain, lang), sorted(items, key=lambda pair: pair[1]))
        for domain, items in groups.items()
    ]
