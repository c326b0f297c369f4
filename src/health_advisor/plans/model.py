"""The plan's domain types: what the composer reads and what it produces.

Pure data, no I/O. The composer (:mod:`.composer`) turns a :class:`ClientContext`, the
model's :class:`ModelEvidence` and the catalog into a :class:`ComposedPlan`; the
workflow stores it as a versioned plan; the renderers (HTML, PDF, FHIR) read it.

Texts shown to people are not stored here: a :class:`Reason` is a code with parameters
(``kind``, ``params``) that :mod:`.i18n` renders in Spanish or English, so one stored
plan reads in either language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from health_advisor.core.catalog import Facts

__all__ = [
    "ClientContext",
    "ComposedPlan",
    "ComposerConfig",
    "Exclusion",
    "ModelEvidence",
    "PeerStat",
    "PlanItem",
    "Reason",
    "Target",
]


@dataclass(frozen=True)
class ClientContext:
    """Everything the composer may know about one client, as of one date.

    ``features`` is the latest feature snapshot (``features.snapshot`` columns, None or
    NaN when unknown); ``risk`` maps each guideline key to its category (``unknown``
    when missing); the rest comes from the intake survey.
    """

    client_id: str
    as_of: dt.date
    features: Mapping[str, Any] = field(default_factory=dict)
    risk: Mapping[str, str] = field(default_factory=dict)
    age: int | None = None
    sex: str | None = None
    conditions: frozenset[str] = frozenset()
    medical_clearance: bool = False
    smoker: bool | None = None
    goals: tuple[str, ...] = ()
    preferred_domains: tuple[str, ...] = ()
    preferred_settings: tuple[str, ...] = ()
    weekly_time_budget_min: float | None = None

    def facts(self) -> Facts:
        """What the catalog's rules look at (contraindications, mandatory items)."""
        return Facts(
            risk={k: v for k, v in self.risk.items() if k != "overall" or v},
            conditions=self.conditions,
            age=self.age,
            sex=self.sex,
            medical_clearance=self.medical_clearance,
        )


@dataclass(frozen=True)
class PeerStat:
    """How clients similar to this one did on an intervention (from interactions)."""

    clients: int  # how many similar clients tried it
    mean_adherence: float  # 0-1


@dataclass(frozen=True)
class ModelEvidence:
    """The champion model's view of one client.

    ``predicted_adherence`` maps intervention id -> probability-like adherence in 0-1
    (the model predicts adherence %, divided by 100). Empty with ``model_version`` None
    when no model is trained yet: the composer then ranks by guideline rules only and
    says so (``fallback``). ``cold_start`` is True when the model never saw this client
    (scores come from the client's features alone).
    """

    model_version: int | None
    predicted_adherence: Mapping[str, float] = field(default_factory=dict)
    cold_start: bool = False
    peers: Mapping[str, PeerStat] = field(default_factory=dict)
    fallback: str | None = None  # why there are no model scores (e.g. "no_model")


@dataclass(frozen=True)
class ComposerConfig:
    """Knobs of the composer; the defaults are the clinic's house style."""

    min_per_domain: int = 1
    max_per_domain: int = 2
    domains: tuple[str, ...] = ("exercise", "nutrition", "sleep", "stress", "prevention")
    review_weeks: int = 4  # targets are reviewed after this many weeks
    default_time_budget_min: float = 150.0  # when the survey gave none


@dataclass(frozen=True)
class Reason:
    """One reason for an item, as a code plus parameters (rendered by :mod:`.i18n`).

    Kinds: ``risk_gap`` (params: risk, category, metric, value, unit), ``goal`` (goal),
    ``preference`` (domain or setting), ``model`` (predicted_adherence, model_version),
    ``peers`` (clients, mean_adherence), ``evidence`` (note, citation), ``mandatory``
    (rule, because), ``cold_start``, ``rules_only`` (fallback), ``coordinator`` (reason,
    author).
    """

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}


@dataclass(frozen=True)
class Target:
    """A SMART target: a measurable value of a metric (or a behaviour) by a review date.

    ``metric`` is a :mod:`health_advisor.core.metrics` name, or None for a behavioural
    target (sessions or minutes per week of the intervention itself). ``baseline`` is the
    client's own current value (None when unknown); ``value`` the target at
    ``review_date``; ``goal`` the guideline's end point the target moves towards;
    ``weekly_change`` the planned change per week; ``rule`` names the formula used.
    """

    metric: str | None
    unit: str
    direction: str  # "increase" | "decrease" | "maintain"
    baseline: float | None
    value: float
    goal: float | None
    weekly_change: float | None
    start_date: dt.date
    review_date: dt.date
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "unit": self.unit,
            "direction": self.direction,
            "baseline": self.baseline,
            "value": self.value,
            "goal": self.goal,
            "weekly_change": self.weekly_change,
            "start_date": self.start_date.isoformat(),
            "review_date": self.review_date.isoformat(),
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        """The inverse of :meth:`to_dict` (extra keys such as ``text`` are ignored)."""
        return cls(
            metric=data.get("metric"),
            unit=data["unit"],
            direction=data["direction"],
            baseline=data.get("baseline"),
            value=float(data["value"]),
            goal=data.get("goal"),
            weekly_change=data.get("weekly_change"),
            start_date=dt.date.fromisoformat(data["start_date"]),
            review_date=dt.date.fromisoformat(data["review_date"]),
            rule=data["rule"],
        )


@dataclass(frozen=True)
class PlanItem:
    """One intervention in a plan, with its score, target and reasons."""

    intervention_id: str
    domain: str
    intensity: str
    weekly_minutes: int
    score: float  # expected value = predicted adherence x expected benefit
    predicted_adherence: float  # 0-1
    expected_benefit: float  # standardised benefit on the client's gaps, at full adherence
    target: Target
    reasons: tuple[Reason, ...]
    mandatory: bool = False
    citation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "intervention_id": self.intervention_id,
            "domain": self.domain,
            "intensity": self.intensity,
            "weekly_minutes": self.weekly_minutes,
            "score": round(self.score, 6),
            "predicted_adherence": round(self.predicted_adherence, 6),
            "expected_benefit": round(self.expected_benefit, 6),
            "mandatory": self.mandatory,
            "citation": self.citation,
            "target": self.target.to_dict(),
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass(frozen=True)
class Exclusion:
    """An intervention a hard rule kept out of the plan.

    ``kind`` is ``contraindication`` (``rule`` is the contraindication id, ``triggers``
    the facts that fired it, ``clearance_lifts`` whether a physician's clearance would
    lift it) or ``conflict`` (``rule`` names the item already in the plan).
    """

    intervention_id: str
    kind: str
    rule: str
    triggers: tuple[str, ...] = ()
    clearance_lifts: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "intervention_id": self.intervention_id,
            "kind": self.kind,
            "rule": self.rule,
            "triggers": list(self.triggers),
            "clearance_lifts": self.clearance_lifts,
        }


@dataclass(frozen=True)
class ComposedPlan:
    """The composer's output for one client: items in display order and exclusions."""

    client_id: str
    as_of: dt.date
    items: tuple[PlanItem, ...]
    excluded: tuple[Exclusion, ...]
    model_version: int | None
    catalog_version: str
    fallback: str | None = None  # set when ranked by guideline rules only
    cold_start: bool = False
    time_budget_min: float | None = None

    @property
    def weekly_minutes(self) -> int:
        return sum(item.weekly_minutes for item in self.items)

    @property
    def expected_adherence(self) -> float:
        """Mean predicted adherence of the items (0-1)."""
        if not self.items:
            return 0.0
        return sum(i.predicted_adherence for i in self.items) / len(self.items)

    @property
    def expected_benefit(self) -> float:
        """Sum over items of predicted adherence x expected benefit."""
        return sum(i.predicted_adherence * i.expected_benefit for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "as_of": self.as_of.isoformat(),
            "model_version": self.model_version,
            "catalog_version": self.catalog_version,
            "fallback": self.fallback,
            "cold_start": self.cold_start,
            "time_budget_min": self.time_budget_min,
            "weekly_minutes": self.weekly_minutes,
            "items": [item.to_dict() for item in self.items],
            "excluded": [e.to_dict() for e in self.excluded],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComposedPlan:
        """The inverse of :meth:`to_dict` (plans are stored as this JSON)."""
        items = tuple(
            PlanItem(
                intervention_id=i["intervention_id"],
                domain=i["domain"],
                intensity=i["intensity"],
                weekly_minutes=int(i["weekly_minutes"]),
                score=float(i["score"]),
                predicted_adherence=float(i["predicted_adherence"]),
                expected_benefit=float(i["expected_benefit"]),
                mandatory=bool(i.get("mandatory", False)),
                citation=i.get("citation", ""),
                target=Target.from_dict(i["target"]),
                reasons=tuple(Reason(r["kind"], r.get("params", {})) for r in i["reasons"]),
            )
            for i in data["items"]
        )
        excluded = tuple(
            Exclusion(
                intervention_id=e["intervention_id"],
                kind=e["kind"],
                rule=e["rule"],
                triggers=tuple(e.get("triggers", ())),
                clearance_lifts=bool(e.get("clearance_lifts", False)),
            )
            for e in data["excluded"]
        )
        return cls(
            client_id=data["client_id"],
            as_of=dt.date.fromisoformat(data["as_of"]),
            items=items,
            excluded=excluded,
            model_version=data.get("model_version"),
            catalog_version=data["catalog_version"],
            fallback=data.get("fallback"),
            cold_start=bool(data.get("cold_start", False)),
            time_budget_min=data.get("time_budget_min"),
        )
