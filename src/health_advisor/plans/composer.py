"""The plan composer: a client's context + the model's evidence + the catalog -> a plan.

Pure and deterministic (same inputs, same plan). Steps, in order:

1. **Hard safety.** Every item whose contraindications fire for ``context.facts()`` is
   excluded, one :class:`Exclusion` per fired rule (kind ``contraindication``, the rule
   id, the facts that fired it, whether a physician's clearance would lift it). Nothing
   later can bring an excluded item back, mandatory or not.
2. **Mandatory items** (``catalog.mandatory_for``): e.g. stage 2 or crisis blood
   pressure -> physician follow-up, HbA1c in the diabetes range -> endocrinology review.
   When an ACSM 2015 pre-participation rule (:data:`CLEARANCE_RULES`) kept exercise out
   and clearance would lift it, the exercise-clearance visit (:data:`CLEARANCE_ITEM`)
   is mandatory too. Mandatory items ignore the time budget and the per-domain maximum.
3. **Ranking.** ``score = predicted adherence x expected benefit``: adherence from the
   model (``evidence.predicted_adherence``) or, without a model, a guideline-rules prior
   from goals, preferred domain and setting, time fit and cost (:func:`rules_adherence`,
   the weights of ``recommender.datasets.guideline_rule``); benefit from
   :mod:`.benefit` (or ``benefit_override``, the oracle's hook).
4. **Selection.** Up to ``max_per_domain`` items per domain and, budget permitting, at
   least ``min_per_domain`` in every domain (coverage first: diversity across domains),
   maximising the total score subject to the weekly time budget; never two conflicting
   items. This is a small multiple-choice knapsack, solved exactly by dynamic
   programming over minutes (:func:`_select`).
5. **Explanations and targets** per item (:mod:`.targets`, reason kinds of
   :class:`~health_advisor.plans.model.Reason`).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from health_advisor.core.catalog import Catalog, ContraindicationHit, Facts, Intervention
from health_advisor.core.metrics import BY_NAME
from health_advisor.core.vocabulary import COST_TIERS
from health_advisor.errors import ConflictError, InputError
from health_advisor.plans import benefit as bf
from health_advisor.plans.model import (
    ClientContext,
    ComposedPlan,
    ComposerConfig,
    Exclusion,
    ModelEvidence,
    PlanItem,
    Reason,
)
from health_advisor.plans.targets import target_for

__all__ = [
    "CLEARANCE_ITEM",
    "CLEARANCE_RULES",
    "RULE_INTERCEPT",
    "RULE_WEIGHTS",
    "compose",
    "item_for",
    "rules_adherence",
]

CLEARANCE_ITEM = "pr_exercise_clearance"
CLEARANCE_RULES = frozenset(
    {"acsm_vigorous_needs_clearance", "acsm_inactive_known_disease_needs_clearance"}
)
NO_MODEL = "no_model"
ITEM_NOT_SCORED = "item_not_scored"

RULE_WEIGHTS: Mapping[str, float] = {
    "goal": 1.0,
    "domain": 0.5,
    "setting": 0.3,
    "time": 0.3,
    "cost": -0.1,
}
"""Same weights as ``recommender.datasets.RULE_WEIGHTS`` (a test keeps them in step)."""
RULE_INTERCEPT = -0.6
"""Logit of an item matching nothing: sigmoid(-0.6) = 0.35; matching all: ~0.8."""

_COVERAGE_BONUS = 1e6  # lexicographic: domains covered first, then total score

RISK_OF_METRIC: Mapping[str, str] = {
    "systolic_bp": "blood_pressure",
    "diastolic_bp": "blood_pressure",
    "total_cholesterol": "cholesterol",
    "ldl": "ldl",
    "hdl": "hdl",
    "triglycerides": "triglycerides",
    "fasting_glucose": "glucose",
    "glucose": "glucose",
    "hba1c": "hba1c",
    "body_weight": "bmi",
    "bmi": "bmi",
    "steps": "activity",
    "active_minutes": "activity",
    "strength_sessions": "activity",
    "sleep_duration": "sleep",
    "resting_heart_rate": "resting_heart_rate",
}
"""The guideline key whose category says whether a metric shows a gap."""

GAP_CATEGORIES: Mapping[str, frozenset[str]] = {
    "blood_pressure": frozenset({"elevated", "stage_1", "stage_2", "crisis"}),
    "cholesterol": frozenset({"borderline_high", "high"}),
    "ldl": frozenset({"borderline_high", "high", "very_high"}),
    "hdl": frozenset({"low"}),
    "triglycerides": frozenset({"borderline_high", "high", "very_high"}),
    "glucose": frozenset({"prediabetes", "diabetes"}),
    "hba1c": frozenset({"prediabetes", "diabetes"}),
    "bmi": frozenset({"overweight", "obese_1", "obese_2", "obese_3"}),
    "activity": frozenset({"inactive", "insufficient"}),
    "sleep": frozenset({"short", "long"}),
    "resting_heart_rate": frozenset({"high"}),
}
"""Categories that count as a risk gap an item can address."""


_Conflicts = Mapping[str, frozenset[str]]


def _conflicts(catalog: Catalog) -> _Conflicts:
    """Item id -> the ids it conflicts with (either side may list the pair)."""
    out: dict[str, set[str]] = {item.id: set(item.conflicts_with) for item in catalog.interventions}
    for item in catalog.interventions:
        for other in item.conflicts_with:
            out.setdefault(other, set()).add(item.id)
    return {k: frozenset(v) for k, v in out.items()}


@dataclass(frozen=True, slots=True)
class _Scored:
    """One allowed item with its adherence, benefit and score for this client."""

    item: Intervention
    adherence: float
    benefit: float
    from_model: bool

    @property
    def score(self) -> float:
        return self.adherence * self.benefit


@dataclass(slots=True)
class _Mandatory:
    item: Intervention
    rule: str
    because: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Option:
    items: tuple[_Scored, ...]
    minutes: int
    value: float


@dataclass(slots=True)
class _Draft:
    """Working state of one composition."""

    hits: dict[str, list[ContraindicationHit]] = field(default_factory=dict)
    mandatory: dict[str, _Mandatory] = field(default_factory=dict)
    chosen: list[_Scored] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    needs: dict[str, float] = field(default_factory=dict)  # benefit.needs of the client


# --------------------------------------------------------------------------- public


def rules_adherence(
    item: Intervention, context: ClientContext, time_budget_min: float | None = None
) -> float:
    """Guideline-rules adherence prior (0-1) when no model is trained.

    ``sigmoid(RULE_INTERCEPT + goal + preferred domain + preferred setting + time fit +
    cost)`` with :data:`RULE_WEIGHTS`: what a coordinator would weigh without a model.
    """
    budget = context.weekly_time_budget_min if time_budget_min is None else time_budget_min
    logit = RULE_INTERCEPT
    logit += RULE_WEIGHTS["goal"] * bool(set(context.goals) & set(item.goals))
    logit += RULE_WEIGHTS["domain"] * (item.domain in context.preferred_domains)
    logit += RULE_WEIGHTS["setting"] * bool(set(context.preferred_settings) & set(item.settings))
    logit += RULE_WEIGHTS["time"] * (budget is not None and budget >= item.weekly_minutes)
    logit += RULE_WEIGHTS["cost"] * COST_TIERS.index(item.cost_tier)
    return 1.0 / (1.0 + math.exp(-logit))


def compose(
    context: ClientContext,
    evidence: ModelEvidence,
    catalog: Catalog,
    config: ComposerConfig = ComposerConfig(),  # noqa: B008 - frozen, shared safely
    *,
    benefit_override: Mapping[str, float] | None = None,
) -> ComposedPlan:
    """Compose one client's plan (see the module docstring for the steps).

    ``benefit_override`` maps intervention id -> benefit and replaces the estimate of
    :mod:`.benefit` for those items (the benchmark's oracle feeds the true benefit).
    """
    _check_config(config)
    budget = _time_budget(context, config)
    facts = _facts(context)
    draft = _Draft(needs=bf.needs(context.features, context.age))
    _exclude_contraindicated(catalog, facts, draft)
    _add_mandatory(catalog, facts, draft)
    scored = _score(catalog, context, evidence, budget, benefit_override, draft)
    draft.chosen = [scored[item_id] for item_id in draft.mandatory]  # whatever their score
    conflicts = _conflicts(catalog)
    _select(scored, conflicts, config, budget, draft)
    _record_conflicts(scored, conflicts, draft)
    rules_only = evidence.model_version is None
    items = tuple(_plan_item(s, context, evidence, config, draft) for s in _ordered(draft, config))
    return ComposedPlan(
        client_id=context.client_id,
        as_of=context.as_of,
        items=items,
        excluded=tuple(draft.exclusions),
        model_version=evidence.model_version,
        catalog_version=catalog.version,
        fallback=(evidence.fallback or NO_MODEL) if rules_only else None,
        cold_start=bool(evidence.cold_start) and not rules_only,
        time_budget_min=budget,
    )


def item_for(
    item: Intervention,
    context: ClientContext,
    evidence: ModelEvidence,
    catalog: Catalog,
    config: ComposerConfig = ComposerConfig(),  # noqa: B008 - frozen, shared safely
) -> PlanItem:
    """One catalog item as a plan item for this client (e.g. a coordinator's addition):
    scored, targeted and explained as :func:`compose` would; ``mandatory`` when the
    guidelines make it so. A contraindicated item is refused (ConflictError); conflicts
    with the rest of a plan are the caller's to check."""
    facts = _facts(context)
    draft = _Draft(needs=bf.needs(context.features, context.age))
    _exclude_contraindicated(catalog, facts, draft)
    if item.id in draft.hits:
        hit = draft.hits[item.id][0]
        raise ConflictError(
            f"{item.id} is contraindicated for this client: rule {hit.contraindication_id} "
            f"({', '.join(hit.triggers)})"
        )
    _add_mandatory(catalog, facts, draft)
    budget = _time_budget(context, config)
    adherence, from_model = _adherence(item, context, evidence, budget)
    benefit = bf.expected_benefit(item, draft.needs)
    return _plan_item(
        _Scored(item, adherence, benefit, from_model), context, evidence, config, draft
    )


# --------------------------------------------------------------------------- inputs


def _check_config(config: ComposerConfig) -> None:
    if not 0 <= config.min_per_domain <= config.max_per_domain:
        raise InputError(
            f"composer: need 0 <= min_per_domain <= max_per_domain, got "
            f"{config.min_per_domain} and {config.max_per_domain}"
        )
    if config.review_weeks < 1:
        raise InputError(f"composer: review_weeks must be at least 1, got {config.review_weeks}")


def _time_budget(context: ClientContext, config: ComposerConfig) -> float:
    budget = context.weekly_time_budget_min
    if budget is None or (isinstance(budget, float) and math.isnan(budget)):
        return float(config.default_time_budget_min)
    if budget < 0:
        raise InputError(f"client {context.client_id}: weekly time budget {budget} is negative")
    return float(budget)


def _facts(context: ClientContext) -> Facts:
    try:
        return context.facts()
    except ValidationError as exc:
        detail = exc.errors()[0]
        where = ".".join(str(p) for p in detail["loc"])
        raise InputError(f"client {context.client_id}: {where}: {detail['msg']}") from None


# --------------------------------------------------------------------------- safety


def _exclude_contraindicated(catalog: Catalog, facts: Facts, draft: _Draft) -> None:
    for item in catalog.interventions:
        hits = item.contraindicated(facts)
        if not hits:
            continue
        draft.hits[item.id] = hits
        draft.exclusions += [
            Exclusion(item.id, "contraindication", h.contraindication_id, h.triggers,
                      h.clearance_lifts)
            for h in hits
        ]  # fmt: skip


def _add_mandatory(catalog: Catalog, facts: Facts, draft: _Draft) -> None:
    for item, outcome in catalog.mandatory_for(facts):
        if item.id not in draft.hits:
            draft.mandatory[item.id] = _Mandatory(item, "mandatory_when", outcome.because)
    if CLEARANCE_ITEM not in catalog.by_id or CLEARANCE_ITEM in draft.hits:
        return
    for item_id, hits in draft.hits.items():
        if catalog.by_id[item_id].domain != "exercise":
            continue
        for hit in hits:
            if hit.contraindication_id in CLEARANCE_RULES and hit.clearance_lifts:
                clearance = catalog.by_id[CLEARANCE_ITEM]
                draft.mandatory.setdefault(
                    CLEARANCE_ITEM, _Mandatory(clearance, hit.contraindication_id, hit.triggers)
                )
                return


# --------------------------------------------------------------------------- scoring


def _adherence(
    item: Intervention, context: ClientContext, evidence: ModelEvidence, budget: float
) -> tuple[float, bool]:
    """(adherence 0-1, whether it came from the model)."""
    if evidence.model_version is not None:
        value = evidence.predicted_adherence.get(item.id)
        if value is not None and math.isfinite(value):
            return min(max(float(value), 0.0), 1.0), True
    return rules_adherence(item, context, budget), False


def _score(
    catalog: Catalog,
    context: ClientContext,
    evidence: ModelEvidence,
    budget: float,
    override: Mapping[str, float] | None,
    draft: _Draft,
) -> dict[str, _Scored]:
    """Every allowed item, scored (mandatory ones included)."""
    out: dict[str, _Scored] = {}
    for item in catalog.interventions:
        if item.id in draft.hits:
            continue
        adherence, from_model = _adherence(item, context, evidence, budget)
        if override is not None and item.id in override:
            benefit = float(override[item.id])
        else:
            benefit = bf.expected_benefit(item, draft.needs)
        out[item.id] = _Scored(item, adherence, benefit, from_model)
    return out


# --------------------------------------------------------------------------- selection


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.triu_indices(n, k=1)
    return first, second


def _subsets(n: int, slots: int, clash: np.ndarray) -> np.ndarray:
    """Subsets of at most ``slots`` of ``n`` candidates with no clashing pair, one per
    row as candidate numbers + 1 (0 pads), by size and then in candidate order (so
    equal values resolve the same way every time)."""
    width = max(min(slots, n), 1)
    parts = [np.zeros((1, width), dtype=np.int64)]
    if slots >= 1 and n >= 1:
        singles = np.zeros((n, width), dtype=np.int64)
        singles[:, 0] = np.arange(1, n + 1)
        parts.append(singles)
    if slots >= 2 and n >= 2:
        first, second = _pairs(n)
        keep = ~clash[first, second]
        pairs = np.zeros((int(keep.sum()), width), dtype=np.int64)
        pairs[:, 0], pairs[:, 1] = first[keep] + 1, second[keep] + 1
        parts.append(pairs)
    for size in range(3, min(slots, n) + 1):
        rows = [
            [i + 1 for i in combo] + [0] * (width - size)
            for combo in itertools.combinations(range(n), size)
            if not any(clash[a, b] for a, b in itertools.combinations(combo, 2))
        ]
        if rows:
            parts.append(np.array(rows, dtype=np.int64))
    return np.concatenate(parts)


def _options(
    candidates: Sequence[_Scored], slots: int, conflicts: _Conflicts, bonus_from: int | None
) -> list[_Option]:
    """The Pareto-optimal (minutes, value) subsets of one domain's candidates.

    Value = total score, plus the coverage bonus when the subset completes the
    domain's minimum (``bonus_from`` items or more). A subset that costs more minutes
    for no more value can never be part of the best plan and is dropped; on ties the
    earlier subset (smaller, better ranked) is kept, which keeps the result
    deterministic.
    """
    n = len(candidates)
    position = {c.item.id: k for k, c in enumerate(candidates)}
    clash = np.zeros((n, n), dtype=bool)
    for k, c in enumerate(candidates):
        for other in conflicts.get(c.item.id, ()):
            if other in position:
                clash[k, position[other]] = clash[position[other], k] = True
    members = _subsets(n, slots, clash)
    scores = np.array([0.0] + [c.score for c in candidates])  # slot 0: padding
    minutes = np.array([0] + [c.item.weekly_minutes for c in candidates])
    value = scores[members].sum(axis=1)
    if bonus_from is not None:
        value = value + np.where((members > 0).sum(axis=1) >= bonus_from, _COVERAGE_BONUS, 0.0)
    cost = minutes[members].sum(axis=1)
    order = np.lexsort((np.arange(len(members)), -value, cost))
    ranked = value[order]
    before = np.concatenate([[-np.inf], np.maximum.accumulate(ranked)[:-1]])
    keep = order[ranked > before]
    return [
        _Option(
            tuple(candidates[i - 1] for i in members[k].tolist() if i > 0),
            int(cost[k]),
            float(value[k]),
        )
        for k in keep.tolist()
    ]


def _domain_options(
    scored: Mapping[str, _Scored], conflicts: _Conflicts, config: ComposerConfig, draft: _Draft
) -> list[list[_Option]]:
    taken = [s.item for s in draft.chosen]
    blocked = set().union(*(conflicts.get(t.id, frozenset()) for t in taken))
    per_domain = []
    for domain in config.domains:
        have = sum(1 for i in taken if i.domain == domain)
        candidates = sorted(
            (
                s
                for s in scored.values()
                if s.item.domain == domain
                and s.item.id not in draft.mandatory
                and s.item.id not in blocked
            ),
            key=lambda s: (-s.score, s.item.id),
        )
        missing = config.min_per_domain - have
        slots = max(config.max_per_domain - have, 0)
        per_domain.append(_options(candidates, slots, conflicts, missing if missing > 0 else None))
    return per_domain


def _knapsack(per_domain: list[list[_Option]], capacity: int) -> list[_Option]:
    """The best option per domain with total minutes <= capacity (exact DP).

    ``best[b]`` is the best value within ``b`` minutes; each domain's step takes, for
    every b, the max over its options of ``best[b - minutes] + value`` (first option
    on ties).
    """
    best = np.zeros(capacity + 1)
    budget = np.arange(capacity + 1)
    picks = []
    for options in per_domain:
        cost = np.array([o.minutes for o in options])
        value = np.array([o.value for o in options])
        rest = budget[None, :] - cost[:, None]  # (options, capacity + 1)
        total = np.where(rest >= 0, best[np.maximum(rest, 0)] + value[:, None], -np.inf)
        arg = np.argmax(total, axis=0)
        best = total[arg, budget]
        picks.append(arg)
    chosen = []
    b = capacity
    for options, arg in zip(reversed(per_domain), reversed(picks), strict=True):
        option = options[int(arg[b])]
        chosen.append(option)
        b -= option.minutes
    return chosen[::-1]


def _select(
    scored: Mapping[str, _Scored],
    conflicts: _Conflicts,
    config: ComposerConfig,
    budget: float,
    draft: _Draft,
) -> None:
    per_domain = _domain_options(scored, conflicts, config, draft)
    used = sum(s.item.weekly_minutes for s in draft.chosen)
    largest = sum(max(o.minutes for o in options) for options in per_domain)
    capacity = math.floor(min(max(budget - used, 0.0), float(largest)))
    picked = [s for option in _knapsack(per_domain, capacity) for s in option.items]
    for s in sorted(picked, key=lambda s: (-s.score, s.item.id)):
        # Catalog conflicts may cross domains: keep the better-scored item.
        if not any(c.item.id in conflicts.get(s.item.id, ()) for c in draft.chosen):
            draft.chosen.append(s)


def _record_conflicts(scored: Mapping[str, _Scored], conflicts: _Conflicts, draft: _Draft) -> None:
    chosen = [c.item.id for c in draft.chosen]
    for item_id in scored:
        if item_id in chosen:
            continue
        rival = next((c for c in chosen if c in conflicts.get(item_id, ())), None)
        if rival is not None:
            draft.exclusions.append(Exclusion(item_id, "conflict", rival))


def _ordered(draft: _Draft, config: ComposerConfig) -> list[_Scored]:
    """Display order: by domain (config order), mandatory first, then by score."""
    rank = {d: k for k, d in enumerate(config.domains)}
    return sorted(
        draft.chosen,
        key=lambda s: (
            rank.get(s.item.domain, len(rank)),
            s.item.id not in draft.mandatory,
            -s.score,
            s.item.id,
        ),
    )


# --------------------------------------------------------------------------- items


def _plan_item(
    s: _Scored,
    context: ClientContext,
    evidence: ModelEvidence,
    config: ComposerConfig,
    draft: _Draft,
) -> PlanItem:
    item = s.item
    target = target_for(
        item,
        context.features,
        age=context.age,
        start=context.as_of,
        weeks=config.review_weeks,
        client_needs=draft.needs,
    )
    return PlanItem(
        intervention_id=item.id,
        domain=item.domain,
        intensity=item.intensity,
        weekly_minutes=item.weekly_minutes,
        score=s.score,
        predicted_adherence=s.adherence,
        expected_benefit=s.benefit,
        target=target,
        reasons=_reasons(s, context, evidence, draft.mandatory.get(item.id)),
        mandatory=item.id in draft.mandatory,
        citation=item.evidence.citation,
    )


def _reasons(
    s: _Scored, context: ClientContext, evidence: ModelEvidence, mandatory: _Mandatory | None
) -> tuple[Reason, ...]:
    item = s.item
    reasons: list[Reason] = []
    if mandatory is not None:
        reasons.append(
            Reason("mandatory", {"rule": mandatory.rule, "because": list(mandatory.because)})
        )
    reasons += _risk_gaps(item, context)
    reasons += [Reason("goal", {"goal": g}) for g in item.goals if g in context.goals]
    if item.domain in context.preferred_domains:
        reasons.append(Reason("preference", {"domain": item.domain}))
    settings = [x for x in item.settings if x in context.preferred_settings]
    reasons += [Reason("preference", {"setting": x}) for x in settings]
    reasons += _model_reasons(s, evidence)
    reasons.append(Reason("evidence", _evidence_params(item)))
    return tuple(reasons)


def _risk_gaps(item: Intervention, context: ClientContext) -> list[Reason]:
    out = []
    seen: set[str] = set()
    for metric in item.target_metrics:
        key = RISK_OF_METRIC.get(metric)
        if key is None or key in seen:
            continue
        category = context.risk.get(key, "unknown")
        if category not in GAP_CATEGORIES[key]:
            continue
        seen.add(key)
        value = bf.baseline(context.features, metric)
        params: dict[str, Any] = {
            "risk": key,
            "category": category,
            "metric": metric,
            "value": None if value is None else round(value, 2),
            "unit": BY_NAME[metric].unit,
        }
        out.append(Reason("risk_gap", params))
    return out


def _model_reasons(s: _Scored, evidence: ModelEvidence) -> list[Reason]:
    out = []
    if s.from_model:
        out.append(
            Reason(
                "model",
                {
                    "predicted_adherence": round(s.adherence, 4),
                    "model_version": evidence.model_version,
                },
            )
        )
        if evidence.cold_start:
            out.append(Reason("cold_start"))
    else:
        fallback = (
            (evidence.fallback or NO_MODEL) if evidence.model_version is None else ITEM_NOT_SCORED
        )
        out.append(Reason("rules_only", {"fallback": fallback}))
    peers = evidence.peers.get(s.item.id)
    if peers is not None:
        out.append(
            Reason(
                "peers",
                {"clients": peers.clients, "mean_adherence": round(peers.mean_adherence, 4)},
            )
        )
    return out


def _evidence_params(item: Intervention) -> dict[str, Any]:
    params: dict[str, Any] = {"note": item.evidence.note_en, "citation": item.evidence.citation}
    if item.evidence.note_es:
        params["note_es"] = item.evidence.note_es
    return params
