"""The composer: hard safety first, mandatory items, conflicts, budget, explanations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from health_advisor.catalog import load_catalog
from health_advisor.core.catalog import (
    AgeRule,
    AllRule,
    AnyRule,
    ConditionRule,
    Contraindication,
    Intervention,
    NotRule,
    RiskRule,
    Rule,
    SexRule,
)
from health_advisor.core.vocabulary import (
    CONDITIONS,
    DOMAINS,
    GOALS,
    RISK_CATEGORIES,
    SETTINGS,
)
from health_advisor.errors import ConflictError, InputError
from health_advisor.plans.composer import (
    CLEARANCE_ITEM,
    RULE_WEIGHTS,
    compose,
    item_for,
    rules_adherence,
)
from health_advisor.plans.model import (
    ClientContext,
    ComposedPlan,
    ComposerConfig,
    ModelEvidence,
    PeerStat,
)

CATALOG = load_catalog()
IDS = [i.id for i in CATALOG.interventions]
AS_OF = dt.date(2025, 3, 3)
VIGOROUS = [i.id for i in CATALOG.interventions if i.intensity == "vigorous"]
ABOVE_LIGHT_EXERCISE = [
    i.id for i in CATALOG.interventions if i.domain == "exercise" and i.intensity != "light"
]


def context(**changes: Any) -> ClientContext:
    base: dict[str, Any] = {
        "client_id": "c1",
        "as_of": AS_OF,
        "features": {
            "steps_mean_28d": 5200.0,
            "systolic_bp_mean_90d": 128.0,
            "diastolic_bp_mean_90d": 82.0,
            "bmi_latest": 27.0,
            "sleep_duration_mean_28d": 6.6,
        },
        "risk": {"blood_pressure": "stage_1", "bmi": "overweight", "activity": "insufficient"},
        "age": 50,
        "sex": "female",
        "goals": ("lower_bp", "get_fit"),
        "preferred_domains": ("exercise",),
        "preferred_settings": ("home",),
        "weekly_time_budget_min": 240.0,
    }
    base.update(changes)
    return ClientContext(**base)


def model(version: int | None = 3, **changes: Any) -> ModelEvidence:
    adherence = {item_id: 0.3 + 0.6 * ((k * 37) % 19) / 19 for k, item_id in enumerate(IDS)}
    return ModelEvidence(version, predicted_adherence=adherence, **changes)


def ids(plan: ComposedPlan) -> list[str]:
    return [i.intervention_id for i in plan.items]


def reasons(plan: ComposedPlan, item_id: str, kind: str) -> list[dict[str, Any]]:
    item = next(i for i in plan.items if i.intervention_id == item_id)
    return [dict(r.params) for r in item.reasons if r.kind == kind]


# --------------------------------------------------------------------------- strategies

FEATURE_RANGES = {
    "steps_mean_28d": (0.0, 20_000.0),
    "active_minutes_mean_28d": (0.0, 120.0),
    "sleep_duration_mean_28d": (3.0, 11.0),
    "systolic_bp_mean_90d": (90.0, 210.0),
    "diastolic_bp_mean_90d": (50.0, 130.0),
    "bmi_latest": (16.0, 50.0),
    "body_weight_latest": (40.0, 160.0),
    "body_height_latest": (140.0, 200.0),
    "ldl_latest": (40.0, 260.0),
    "hba1c_latest": (4.0, 12.0),
}

features_st = st.fixed_dictionaries(
    {},
    optional={k: st.floats(lo, hi) for k, (lo, hi) in FEATURE_RANGES.items()},
)


def _subset(values: tuple[str, ...], max_size: int) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=max_size).map(
        lambda xs: tuple(sorted(xs))
    )


GOALS_ST, DOMAINS_ST, SETTINGS_ST = _subset(GOALS, 4), _subset(DOMAINS, 3), _subset(SETTINGS, 3)
BUDGET_ST = st.one_of(st.none(), st.floats(0.0, 700.0))


@st.composite
def contexts(
    draw: st.DrawFn, facts: st.SearchStrategy[dict[str, Any]] | None = None
) -> ClientContext:
    chosen = draw(facts if facts is not None else ANY_FACTS)
    return ClientContext(
        client_id="c",
        as_of=AS_OF,
        features=draw(features_st),
        goals=draw(GOALS_ST),
        preferred_domains=draw(DOMAINS_ST),
        preferred_settings=draw(SETTINGS_ST),
        weekly_time_budget_min=draw(BUDGET_ST),
        **chosen,
    )


def facts_st(
    named: dict[str, tuple[str, ...]] | None = None,
    conditions: tuple[str, ...] = CONDITIONS,
    ages: tuple[int, ...] = (),
) -> st.SearchStrategy[dict[str, Any]]:
    """Facts with the named risk categories, conditions and ages drawn often (rule-aware)."""
    named = named if named is not None else dict(RISK_CATEGORIES)
    risk = st.fixed_dictionaries(
        {
            k: st.one_of(st.sampled_from(v), st.sampled_from(RISK_CATEGORIES[k]))
            for k, v in named.items()
        },
        optional={k: st.sampled_from(v) for k, v in RISK_CATEGORIES.items() if k not in named},
    )
    age = st.one_of(st.none(), st.integers(18, 95), st.sampled_from(ages or (40,)))
    return st.fixed_dictionaries(
        {
            "risk": risk,
            "conditions": st.frozensets(st.sampled_from(conditions), max_size=4)
            if conditions
            else st.just(frozenset()),
            "age": age,
            "sex": st.sampled_from([None, "female", "male"]),
            "medical_clearance": st.booleans(),
        }
    )


ANY_FACTS = facts_st()

evidence_st = st.builds(
    ModelEvidence,
    model_version=st.one_of(st.none(), st.integers(1, 9)),
    predicted_adherence=st.lists(st.floats(0.0, 1.0), min_size=len(IDS), max_size=len(IDS)).map(
        lambda xs: dict(zip(IDS, xs, strict=True))
    ),
    cold_start=st.booleans(),
)


# --------------------------------------------------------------------------- invariants


def check_invariants(ctx: ClientContext, plan: ComposedPlan, config: ComposerConfig) -> None:
    facts = ctx.facts()
    chosen = ids(plan)
    assert len(chosen) == len(set(chosen))
    for item_id in chosen:  # hard safety
        assert CATALOG.get(item_id).is_allowed(facts), item_id
    for item, _ in CATALOG.mandatory_for(facts):  # mandatory (unless contraindicated)
        if item.is_allowed(facts):
            assert item.id in chosen
    for a in chosen:  # conflicts never together
        assert not any(CATALOG.conflict(a, b) for b in chosen)
    mandatory = [i for i in plan.items if i.mandatory]
    optional_minutes = sum(i.weekly_minutes for i in plan.items if not i.mandatory)
    budget = plan.time_budget_min
    assert budget is not None
    assert optional_minutes <= max(budget - sum(i.weekly_minutes for i in mandatory), 0.0)
    per_domain = Counter(i.domain for i in plan.items if not i.mandatory)
    fixed = Counter(i.domain for i in mandatory)
    for domain, n in per_domain.items():
        assert n + fixed[domain] <= max(config.max_per_domain, fixed[domain])
    for item in plan.items:
        assert item.score == pytest.approx(item.predicted_adherence * item.expected_benefit)
        assert 0.0 <= item.predicted_adherence <= 1.0
        assert any(r.kind == "evidence" for r in item.reasons)
    json.dumps(plan.to_dict())  # plain JSON, stored as is


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ctx=contexts(), evidence=evidence_st)
def test_invariants_hold_for_generated_clients(ctx: ClientContext, evidence: ModelEvidence) -> None:
    config = ComposerConfig()
    plan = compose(ctx, evidence, CATALOG, config)
    check_invariants(ctx, plan, config)
    assert compose(ctx, evidence, CATALOG, config) == plan  # deterministic


def _refs(rule: Rule, keys: dict[str, set[str]], conditions: set[str], ages: set[int]) -> None:
    """The facts a rule looks at, so the strategy can draw them often."""
    if isinstance(rule, RiskRule):
        for key, categories in rule.risk.items():
            keys.setdefault(key, set()).update(categories)
    elif isinstance(rule, ConditionRule):
        conditions.update(rule.condition)
    elif isinstance(rule, AgeRule):
        bounds = (rule.age.gte, rule.age.gt, rule.age.lte, rule.age.lt)
        ages.update(b + d for b in bounds if b is not None for d in (-1, 0, 1))
    elif isinstance(rule, AnyRule | AllRule):
        for sub in rule.any if isinstance(rule, AnyRule) else rule.all:
            _refs(sub, keys, conditions, ages)
    elif isinstance(rule, NotRule):
        _refs(rule.not_, keys, conditions, ages)
    elif isinstance(rule, SexRule):
        pass


@functools.cache
def _rule_facts(item_id: str, contra_id: str) -> st.SearchStrategy[dict[str, Any]]:
    contra = next(c for c in CATALOG.get(item_id).contraindications if c.id == contra_id)
    keys: dict[str, set[str]] = {}
    conditions: set[str] = set()
    ages: set[int] = set()
    for rule in (contra.when, contra.unless):
        if rule is not None:
            _refs(rule, keys, conditions, ages)
    named = {k: tuple(sorted(v)) for k, v in sorted(keys.items())}
    return facts_st(named, tuple(sorted(conditions)), tuple(sorted(ages)))


RULES = [
    pytest.param(item, contra, id=f"{item.id}:{contra.id}")
    for item in CATALOG.interventions
    for contra in item.contraindications
]


@pytest.mark.parametrize(("item", "contra"), RULES)
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_a_client_who_triggers_a_contraindication_never_gets_the_item(
    item: Intervention, contra: Contraindication, data: st.DataObject
) -> None:
    ctx = data.draw(contexts(_rule_facts(item.id, contra.id)))
    assume(contra.evaluate(ctx.facts()).fired)
    # the model would love this item: it must still stay out
    evidence = ModelEvidence(1, predicted_adherence={i: 0.2 for i in IDS} | {item.id: 1.0})
    plan = compose(ctx, evidence, CATALOG, benefit_override={item.id: 1e3})
    assert item.id not in ids(plan)
    fired = [e for e in plan.excluded if e.intervention_id == item.id and e.rule == contra.id]
    assert len(fired) == 1 and fired[0].kind == "contraindication" and fired[0].triggers


# --------------------------------------------------------------------------- safety


def test_stage_2_bp_physician_follow_up_and_no_vigorous_exercise_before_clearance() -> None:
    ctx = context(risk={"blood_pressure": "stage_2"}, weekly_time_budget_min=600.0)
    plan = compose(ctx, model(), CATALOG)
    assert "pr_physician_bp_followup" in ids(plan)
    followup = next(i for i in plan.items if i.intervention_id == "pr_physician_bp_followup")
    assert followup.mandatory
    assert reasons(plan, "pr_physician_bp_followup", "mandatory")[0]["because"] == [
        "risk.blood_pressure=stage_2"
    ]
    assert reasons(plan, "pr_physician_bp_followup", "risk_gap")[0]["category"] == "stage_2"
    for item_id in VIGOROUS:
        assert item_id not in ids(plan)
        hit = next(
            e
            for e in plan.excluded
            if e.intervention_id == item_id and e.rule == "acsm_vigorous_needs_clearance"
        )
        assert hit.clearance_lifts and hit.triggers == ("risk.blood_pressure=stage_2",)
    # the clearance visit that would lift it is part of the plan
    assert CLEARANCE_ITEM in ids(plan)
    assert reasons(plan, CLEARANCE_ITEM, "mandatory")[0]["rule"] == "acsm_vigorous_needs_clearance"


def test_clearance_lifts_the_vigorous_rule() -> None:
    ctx = context(risk={"blood_pressure": "stage_2"}, medical_clearance=True)
    plan = compose(ctx, model(), CATALOG)
    assert not [e for e in plan.excluded if e.rule == "acsm_vigorous_needs_clearance"]
    assert CLEARANCE_ITEM not in ids(plan)
    assert "pr_physician_bp_followup" in ids(plan)


def test_crisis_bp_no_exercise_beyond_light_even_when_cleared() -> None:
    ctx = context(risk={"blood_pressure": "crisis"}, medical_clearance=True)
    plan = compose(ctx, model(), CATALOG)
    chosen = ids(plan)
    assert "pr_physician_bp_followup" in chosen
    for item_id in ABOVE_LIGHT_EXERCISE:
        assert item_id not in chosen
        hit = next(e for e in plan.excluded if e.intervention_id == item_id and
                   e.rule == "bp_crisis_until_seen")  # fmt: skip
        assert not hit.clearance_lifts


def test_diabetic_hba1c_endocrinology_review() -> None:
    ctx = context(risk={"hba1c": "diabetes"}, features={"hba1c_latest": 7.4})
    plan = compose(ctx, model(), CATALOG)
    assert "pr_endocrinology_review" in ids(plan)
    assert reasons(plan, "pr_endocrinology_review", "mandatory")[0]["because"] == [
        "risk.hba1c=diabetes"
    ]
    gap = reasons(plan, "pr_endocrinology_review", "risk_gap")[0]
    assert gap == {"risk": "hba1c", "category": "diabetes", "metric": "hba1c", "value": 7.4,
                   "unit": "%"}  # fmt: skip


def test_smoker_gets_cessation_and_non_smoker_does_not() -> None:
    smoker = compose(context(conditions=frozenset({"smoker"})), model(), CATALOG)
    assert "pr_smoking_cessation" in ids(smoker)
    other = compose(context(), model(), CATALOG)
    assert "pr_smoking_cessation" not in ids(other)
    assert any(e.rule == "not_a_smoker" for e in other.excluded)


def test_mandatory_items_ignore_the_budget_and_the_domain_maximum() -> None:
    ctx = context(
        risk={"blood_pressure": "stage_2", "hba1c": "diabetes", "ldl": "very_high"},
        conditions=frozenset({"smoker", "sleep_apnea"}),
        weekly_time_budget_min=0.0,
    )
    plan = compose(ctx, model(), CATALOG)
    mandatory = {i.intervention_id for i in plan.items if i.mandatory}
    assert mandatory >= {
        "pr_physician_bp_followup",
        "pr_endocrinology_review",
        "pr_lipid_management",
        "pr_smoking_cessation",
        "pr_sleep_apnea_followup",
    }
    assert all(i.weekly_minutes == 0 for i in plan.items if not i.mandatory)


def test_conflicting_items_never_together_and_the_loser_is_recorded() -> None:
    adherence = dict.fromkeys(IDS, 0.1) | {"ex_brisk_walking": 0.9, "ex_nordic_walking": 0.9}
    evidence = ModelEvidence(2, predicted_adherence=adherence)
    ctx = context(weekly_time_budget_min=1000.0, features={"steps_mean_28d": 3000.0})
    plan = compose(ctx, evidence, CATALOG)
    chosen = ids(plan)
    assert "ex_brisk_walking" in chosen and "ex_nordic_walking" not in chosen
    conflict = [e for e in plan.excluded if e.intervention_id == "ex_nordic_walking"]
    assert [(e.kind, e.rule) for e in conflict] == [("conflict", "ex_brisk_walking")]


# --------------------------------------------------------------------------- ranking


def test_time_budget_is_respected() -> None:
    for budget in (0.0, 30.0, 90.0, 150.0, 400.0):
        plan = compose(context(weekly_time_budget_min=budget), model(), CATALOG)
        assert plan.weekly_minutes <= budget
        assert plan.time_budget_min == budget


def test_default_time_budget_when_the_survey_gave_none() -> None:
    plan = compose(context(weekly_time_budget_min=None), model(), CATALOG)
    assert plan.time_budget_min == ComposerConfig().default_time_budget_min
    assert plan.weekly_minutes <= 150


def test_every_domain_is_covered_when_the_budget_allows() -> None:
    plan = compose(context(weekly_time_budget_min=2000.0), model(), CATALOG)
    counts = Counter(i.domain for i in plan.items)
    assert set(counts) == set(DOMAINS)
    assert all(1 <= n <= 2 for n in counts.values())


def test_domain_limits_are_configurable() -> None:
    config = ComposerConfig(min_per_domain=0, max_per_domain=1, domains=("exercise", "sleep"))
    plan = compose(context(weekly_time_budget_min=2000.0), model(), CATALOG, config)
    assert sorted(i.domain for i in plan.items) == ["exercise", "sleep"]


def test_coverage_beats_a_second_item_in_one_domain() -> None:
    """Budget for two long exercise items or one per domain: diversity first."""
    adherence = dict.fromkeys(IDS, 0.5) | {"ex_brisk_walking": 1.0, "ex_cycling": 1.0}
    evidence = ModelEvidence(1, predicted_adherence=adherence)
    plan = compose(context(weekly_time_budget_min=300.0), evidence, CATALOG)
    assert set(DOMAINS) <= {i.domain for i in plan.items}


def test_benefit_override_steers_the_ranking() -> None:
    override = dict.fromkeys(IDS, 0.01) | {"st_gratitude_journal": 50.0}
    plan = compose(context(), model(), CATALOG, benefit_override=override)
    item = next(i for i in plan.items if i.intervention_id == "st_gratitude_journal")
    assert item.expected_benefit == 50.0
    assert item.score == pytest.approx(item.predicted_adherence * 50.0)


def test_higher_adherence_wins_within_a_domain_at_equal_benefit() -> None:
    override = dict.fromkeys(IDS, 1.0)
    for favourite in ("st_breathing_exercises", "st_gratitude_journal"):
        adherence = dict.fromkeys(IDS, 0.2) | {favourite: 0.95}
        evidence = ModelEvidence(1, predicted_adherence=adherence)
        config = ComposerConfig(max_per_domain=1)
        plan = compose(context(), evidence, CATALOG, config, benefit_override=override)
        assert favourite in ids(plan)


def test_deterministic_whatever_the_order_of_the_scores() -> None:
    evidence = model()
    shuffled = ModelEvidence(
        3, predicted_adherence=dict(reversed(evidence.predicted_adherence.items()))
    )
    assert compose(context(), evidence, CATALOG) == compose(context(), shuffled, CATALOG)


# --------------------------------------------------------------------------- explanations


def test_reasons_say_gaps_goals_preferences_model_peers_and_evidence() -> None:
    peers = {"ex_isometric_handgrip": PeerStat(clients=42, mean_adherence=0.71234)}
    evidence = model(peers=peers)
    ctx = context(preferred_settings=("home",))
    plan = compose(ctx, evidence, CATALOG, benefit_override={"ex_isometric_handgrip": 99.0})
    item_id = "ex_isometric_handgrip"
    assert reasons(plan, item_id, "risk_gap")[0] == {
        "risk": "blood_pressure",
        "category": "stage_1",
        "metric": "systolic_bp",
        "value": 128.0,
        "unit": "mm[Hg]",
    }
    assert reasons(plan, item_id, "goal") == [{"goal": "lower_bp"}]
    assert {"domain": "exercise"} in reasons(plan, item_id, "preference")
    assert {"setting": "home"} in reasons(plan, item_id, "preference")
    [model_reason] = reasons(plan, item_id, "model")
    assert model_reason["model_version"] == 3
    assert model_reason["predicted_adherence"] == pytest.approx(
        evidence.predicted_adherence[item_id], abs=1e-4
    )
    assert reasons(plan, item_id, "peers") == [{"clients": 42, "mean_adherence": 0.7123}]
    [note] = reasons(plan, item_id, "evidence")
    item = CATALOG.get(item_id)
    assert note["citation"] == item.evidence.citation and note["note"] == item.evidence.note_en
    planned = next(i for i in plan.items if i.intervention_id == item_id)
    assert planned.citation == item.evidence.citation
    assert planned.target.review_date == AS_OF + dt.timedelta(weeks=4)


def test_rules_only_when_no_model_is_trained() -> None:
    evidence = ModelEvidence(None, fallback="no_model")
    plan = compose(context(), evidence, CATALOG)
    assert plan.model_version is None and plan.fallback == "no_model"
    assert not plan.cold_start
    for item in plan.items:
        kinds = [r.kind for r in item.reasons]
        assert "model" not in kinds
        assert [dict(r.params) for r in item.reasons if r.kind == "rules_only"] == [
            {"fallback": "no_model"}
        ]
        expected = rules_adherence(CATALOG.get(item.intervention_id), context())
        assert item.predicted_adherence == pytest.approx(expected)
    assert compose(context(), ModelEvidence(None), CATALOG).fallback == "no_model"


def test_rules_prior_rewards_goals_preferences_and_time_fit() -> None:
    walking = CATALOG.get("ex_brisk_walking")  # outdoors, free, 150 min, exercise
    plain = context(goals=(), preferred_domains=(), preferred_settings=(),
                    weekly_time_budget_min=10.0)  # fmt: skip
    keen = context(goals=("get_fit",), preferred_domains=("exercise",),
                   preferred_settings=("outdoors",), weekly_time_budget_min=200.0)  # fmt: skip
    assert rules_adherence(walking, plain) == pytest.approx(1 / (1 + 2.718281828**0.6), abs=1e-6)
    assert rules_adherence(walking, keen) == pytest.approx(
        1 / (1 + 2.718281828 ** (-1.5)), abs=1e-6
    )


def test_rule_weights_match_the_recommenders_guideline_rule() -> None:
    from health_advisor.recommender.datasets import RULE_WEIGHTS as RECOMMENDER

    assert dict(RULE_WEIGHTS) == RECOMMENDER


def test_cold_start_is_said() -> None:
    plan = compose(context(), model(cold_start=True), CATALOG)
    assert plan.cold_start and plan.model_version == 3 and plan.fallback is None
    for item in plan.items:
        kinds = [r.kind for r in item.reasons]
        assert "model" in kinds and "cold_start" in kinds


def test_an_item_the_model_did_not_score_falls_back_to_rules() -> None:
    evidence = ModelEvidence(4, predicted_adherence={})
    plan = compose(context(), evidence, CATALOG)
    assert plan.model_version == 4 and plan.items
    for item in plan.items:
        assert {"fallback": "item_not_scored"} in [
            dict(r.params) for r in item.reasons if r.kind == "rules_only"
        ]


def test_a_plan_survives_its_json_form() -> None:
    plan = compose(context(risk={"blood_pressure": "stage_2"}), model(), CATALOG)
    data = json.loads(json.dumps(plan.to_dict()))
    assert ComposedPlan.from_dict(data).to_dict() == plan.to_dict()


# --------------------------------------------------------------------------- errors and item_for


def test_bad_inputs_are_one_line_input_errors() -> None:
    with pytest.raises(InputError, match="negative"):
        compose(context(weekly_time_budget_min=-5.0), model(), CATALOG)
    with pytest.raises(InputError, match="min_per_domain"):
        compose(context(), model(), CATALOG, ComposerConfig(min_per_domain=3, max_per_domain=2))
    with pytest.raises(InputError, match="condition"):
        compose(context(conditions=frozenset({"flu"})), model(), CATALOG)


def test_item_for_scores_explains_and_refuses_contraindicated_items() -> None:
    item = item_for(CATALOG.get("st_gratitude_journal"), context(), model(), CATALOG)
    assert item.intervention_id == "st_gratitude_journal" and not item.mandatory
    assert item.score == pytest.approx(item.predicted_adherence * item.expected_benefit)
    assert any(r.kind == "evidence" for r in item.reasons)
    stage2 = context(risk={"blood_pressure": "stage_2"})
    followup = item_for(CATALOG.get("pr_physician_bp_followup"), stage2, model(), CATALOG)
    assert followup.mandatory
    clearance = item_for(CATALOG.get(CLEARANCE_ITEM), stage2, model(), CATALOG)
    assert clearance.mandatory
    with pytest.raises(ConflictError, match="acsm_vigorous_needs_clearance"):
        item_for(CATALOG.get("ex_hiit"), stage2, model(), CATALOG)


def test_context_is_not_mutated() -> None:
    ctx = context()
    before = dataclasses.asdict(ctx)
    compose(ctx, model(), CATALOG)
    assert dataclasses.asdict(ctx) == before
