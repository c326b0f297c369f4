"""The catalog schema and its rule language, on tiny hand-made catalogs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from health_advisor.core import vocabulary
from health_advisor.core.catalog import (
    Catalog,
    CatalogError,
    Facts,
    Rule,
    as_facts,
    evaluate_rule,
    parse_catalog,
)

RULE = TypeAdapter(Rule)

STAGE_2 = {"risk": {"blood_pressure": "stage_2"}}
NORMAL = {"risk": {"blood_pressure": "normal"}}


def rule(data: Any) -> Any:
    return RULE.validate_python(data)


def fires(data: Any, facts: dict[str, Any]) -> bool:
    return evaluate_rule(rule(data), facts).fired


# --------------------------------------------------------------------------- leaves


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("stage_2", True),
        ("crisis", True),
        ("stage_1", False),
        ("normal", False),
        ("unknown", False),
    ],
)
def test_risk_predicate_matches_listed_categories(category: str, expected: bool) -> None:
    facts = {"risk": {"blood_pressure": category}}
    assert fires({"risk": {"blood_pressure": ["stage_2", "crisis"]}}, facts) is expected


def test_missing_risk_key_is_unknown_and_matches_only_when_named() -> None:
    assert not fires({"risk": {"bmi": ["obese_1", "obese_2", "obese_3"]}}, {})
    assert fires({"risk": {"bmi": "unknown"}}, {})
    assert fires({"risk": {"bmi": ["unknown"]}}, {"risk": {"bmi": "unknown"}})


def test_risk_predicate_with_several_keys_needs_all() -> None:
    both = {"risk": {"blood_pressure": "stage_2", "bmi": "obese_2"}}
    one = {"risk": {"blood_pressure": "stage_2", "bmi": "normal"}}
    predicate = {"risk": {"blood_pressure": "stage_2", "bmi": ["obese_2", "obese_3"]}}
    assert fires(predicate, both)
    outcome = evaluate_rule(rule(predicate), one)
    assert not outcome.fired
    assert outcome.because == ("risk.bmi=normal",)


def test_condition_predicate_is_membership_of_any_listed() -> None:
    predicate = {"condition": ["cardiovascular_disease", "heart_failure"]}
    assert fires(predicate, {"conditions": {"heart_failure", "asthma"}})
    assert not fires(predicate, {"conditions": {"asthma"}})
    assert fires({"condition": "pregnancy"}, {"conditions": ["pregnancy"]})
    outcome = evaluate_rule(rule(predicate), {"conditions": {"heart_failure"}})
    assert outcome.because == ("condition=heart_failure",)


@pytest.mark.parametrize(
    ("age", "expected"),
    [(44, False), (45, True), (60, True), (75, True), (76, False), (None, False)],
)
def test_age_bounds(age: int | None, expected: bool) -> None:
    assert fires({"age": {"gte": 45, "lte": 75}}, {"age": age}) is expected


def test_age_strict_bounds() -> None:
    assert fires({"age": {"gt": 64}}, {"age": 65})
    assert not fires({"age": {"gt": 65}}, {"age": 65})
    assert not fires({"age": {"lt": 40}}, {"age": 40})


@pytest.mark.parametrize(
    ("sex", "expected"), [("female", True), ("male", False), ("other", False), (None, False)]
)
def test_sex_predicate(sex: str | None, expected: bool) -> None:
    assert fires({"sex": "female"}, {"sex": sex}) is expected


def test_unknown_sex_matches_only_when_named() -> None:
    assert fires({"sex": ["unknown"]}, {"sex": None})


@pytest.mark.parametrize(("cleared", "wanted"), [(True, True), (False, False)])
def test_clearance_predicate(cleared: bool, wanted: bool) -> None:
    assert fires({"medical_clearance": wanted}, {"medical_clearance": cleared})
    assert not fires({"medical_clearance": not wanted}, {"medical_clearance": cleared})


# --------------------------------------------------------------------------- composition


@pytest.mark.parametrize(
    ("pregnant", "hypertensive", "any_", "all_"),
    [(False, False, False, False), (True, False, True, False), (False, True, True, False),
     (True, True, True, True)],
)  # fmt: skip
def test_any_and_all_truth_tables(
    pregnant: bool, hypertensive: bool, any_: bool, all_: bool
) -> None:
    conditions = {c for c, on in (("pregnancy", pregnant), ("hypertension", hypertensive)) if on}
    leaves = [{"condition": "pregnancy"}, {"condition": "hypertension"}]
    facts = {"conditions": conditions}
    assert fires({"any": leaves}, facts) is any_
    assert fires({"all": leaves}, facts) is all_


def test_not_inverts_and_keeps_the_deciding_facts() -> None:
    negated = rule({"not": {"risk": {"activity": ["meets", "exceeds"]}}})
    assert evaluate_rule(negated, {"risk": {"activity": "meets"}}).fired is False
    outcome = evaluate_rule(negated, {})
    assert outcome.fired
    assert outcome.because == ("risk.activity=unknown",)


def test_nested_rule_reports_only_the_facts_that_fired() -> None:
    nested = rule(
        {
            "all": [
                {"any": [{"condition": "type2_diabetes"}, {"risk": {"hba1c": "diabetes"}}]},
                {"not": {"risk": {"activity": ["meets", "exceeds"]}}},
            ]
        }
    )
    outcome = evaluate_rule(
        nested, {"risk": {"hba1c": "diabetes", "activity": "inactive"}, "conditions": set()}
    )
    assert outcome.fired
    assert outcome.because == ("risk.hba1c=diabetes", "risk.activity=inactive")


@pytest.mark.parametrize(
    "bad",
    [
        {"risk": {"bloodpressure": "stage_2"}},
        {"risk": {"blood_pressure": "stage_3"}},
        {"risk": {}},
        {"condition": ["flu"]},
        {"condition": []},
        {"age": {}},
        {"age": {"older_than": 5}},
        {"sex": "woman"},
        {"medical_clearance": "yes"},
        {"any": []},
        {"not": {"condition": "pregnancy"}, "any": []},
        {"maybe": {"condition": "pregnancy"}},
        "pregnancy",
    ],
)
def test_malformed_rules_are_schema_errors(bad: Any) -> None:
    with pytest.raises(ValidationError):
        rule(bad)


def test_facts_reject_unknown_vocabulary() -> None:
    with pytest.raises(ValidationError):
        as_facts({"risk": {"blood_pressure": "high"}})
    with pytest.raises(ValidationError):
        as_facts({"conditions": {"flu"}})
    with pytest.raises(ValidationError):
        as_facts({"sex": "woman"})
    assert as_facts(Facts()).category("bmi") == "unknown"


# --------------------------------------------------------------------------- interventions


def _item(item_id: str, domain: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "domain": domain,
        "title": {"es": "Título", "en": "Title"},
        "description": {"es": "Descripción", "en": "Description"},
        "weekly_minutes": 60,
        "intensity": "light",
        "settings": ["home"],
        "cost_tier": "free",
        "target_metrics": [],
        "evidence": {"note_en": "note", "citation": "Author A. Journal 2020;1:1-2"},
        "goals": ["get_fit"],
    }
    item.update(extra)
    return item


ACSM = {
    "id": "acsm_vigorous_needs_clearance",
    "when": {
        "any": [
            {"risk": {"blood_pressure": ["stage_2", "crisis"]}},
            {"condition": ["cardiovascular_disease", "heart_failure"]},
        ]
    },
    "unless": {"medical_clearance": True},
    "reason": {"es": "Requiere autorización médica.", "en": "Requires medical clearance."},
}


def _catalog_data() -> dict[str, Any]:
    items = [_item(f"{d[:2]}_item", d) for d in vocabulary.DOMAINS]
    items[0] = _item(
        "ex_item",
        "exercise",
        intensity="vigorous",
        met=8.0,
        target_metrics=["systolic_bp"],
        effects=[{"metric": "systolic_bp", "change": -5, "unit": "mm[Hg]", "horizon_weeks": 12}],
        contraindications=[ACSM],
        conflicts_with=["ex_other"],
    )
    items.append(_item("ex_other", "exercise", conflicts_with=["ex_item"]))
    items.append(
        _item(
            "pr_followup",
            "prevention",
            mandatory_when={"risk": {"blood_pressure": ["stage_2", "crisis"]}},
            mandatory_reason={"es": "Obligatorio.", "en": "Mandatory."},
        )
    )
    return {"version": "test-1", "interventions": items}


def test_valid_catalog_helpers() -> None:
    catalog = parse_catalog(_catalog_data())
    assert catalog.version == "test-1"
    assert set(catalog.by_domain) == set(vocabulary.DOMAINS)
    assert [i.id for i in catalog.by_domain["exercise"]] == ["ex_item", "ex_other"]
    assert catalog.get("ex_item").met_range == (8.0, 8.0)
    assert catalog.get("ex_other").met_range == vocabulary.INTENSITIES["light"]
    assert catalog.conflict("ex_other", "ex_item")
    with pytest.raises(KeyError):
        catalog.get("nope")


def test_acsm_rule_gates_vigorous_item_on_clearance() -> None:
    item = parse_catalog(_catalog_data()).get("ex_item")
    hits = item.contraindicated(STAGE_2)
    assert [h.contraindication_id for h in hits] == ["acsm_vigorous_needs_clearance"]
    assert hits[0].triggers == ("risk.blood_pressure=stage_2",)
    assert hits[0].clearance_lifts
    assert item.is_allowed({**STAGE_2, "medical_clearance": True})
    assert item.is_allowed(NORMAL)
    assert not item.is_allowed({"conditions": {"heart_failure"}})


def test_mandatory_item_reports_its_facts() -> None:
    catalog = parse_catalog(_catalog_data())
    assert catalog.get("pr_followup").mandatory(NORMAL) is None
    found = catalog.mandatory_for({"risk": {"blood_pressure": "crisis"}})
    assert [(item.id, outcome.because) for item, outcome in found] == [
        ("pr_followup", ("risk.blood_pressure=crisis",))
    ]


def test_eligible_excludes_contraindicated_items() -> None:
    catalog = parse_catalog(_catalog_data())
    assert "ex_item" not in {i.id for i in catalog.eligible(STAGE_2)}
    assert "ex_item" in {i.id for i in catalog.eligible(NORMAL)}


def test_content_hash_is_stable_and_follows_content() -> None:
    first = parse_catalog(_catalog_data())
    shuffled = _catalog_data()
    shuffled["interventions"][1] = dict(reversed(list(shuffled["interventions"][1].items())))
    assert parse_catalog(shuffled).content_hash == first.content_hash
    changed = _catalog_data()
    changed["interventions"][1]["weekly_minutes"] = 61
    assert parse_catalog(changed).content_hash != first.content_hash
    assert len(first.content_hash) == 64


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_catalog_data())
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        (("interventions", 0, "intensity"), "extreme", "intensity", "light, moderate, vigorous"),
        (("interventions", 0, "met"), 3.0, "met", "6.0-12.0 MET"),
        (("interventions", 0, "domain"), "fun", "domain", "got 'fun'"),
        (("interventions", 0, "title", "es"), "  ", "title.es", "must not be empty"),
        (("interventions", 0, "description", "en"), KeyError, "description.en", "missing"),
        (("interventions", 0, "effects", 0, "unit"), "mmHg", "effects[0].unit", "mm[Hg]"),
        (("interventions", 0, "effects", 0, "metric"), "bp", "effects[0].metric", "'bp'"),
        (("interventions", 0, "target_metrics"), ["bpm"], "target_metrics", "'bpm'"),
        (("interventions", 0, "target_metrics"), [], "effects", "target_metrics"),
        (("interventions", 0, "evidence", "citation"), "", "evidence.citation", "empty"),
        (("interventions", 0, "cost_tier"), "cheap", "cost_tier", "free, low"),
        (("interventions", 0, "settings"), ["beach"], "settings", "'beach'"),
        (("interventions", 0, "goals"), [], "goals", "at least 1"),
        (("interventions", 0, "weekly_minutes"), -1, "weekly_minutes", ">= 0"),
        (("interventions", 0, "colour"), "red", "colour", "unknown field"),
        (
            ("interventions", 0, "contraindications", 0, "when", "any", 0, "risk"),
            {"bloodpressure": "stage_2"},
            "contraindications[0].when.any[0].risk",
            "'bloodpressure'",
        ),
        (
            ("interventions", 0, "contraindications", 0, "unless"),
            {"medical_clearance": True, "sex": "female"},
            "contraindications[0].unless",
            "exactly one of the keys",
        ),
        (("interventions", 6, "mandatory_reason"), KeyError, "mandatory_reason", "go together"),
        (("interventions", 5, "conflicts_with"), [], "conflicts_with", "symmetric"),
        (("interventions", 5, "conflicts_with"), ["ex_other"], "conflicts_with", "itself"),
        (("interventions", 1, "conflicts_with"), ["nu_nothing"], "conflicts_with", "nu_nothing"),
        (("interventions", 1, "id"), "ex_other", "id", "duplicate"),
        (("interventions", 1, "id"), "Bad Id", "id", "snake_case"),
    ],
)
def test_schema_errors_name_the_id_and_field(
    path: tuple[Any, ...], value: Any, field: str, words: str
) -> None:
    data = _broken(path, value)
    with pytest.raises(CatalogError) as info:
        parse_catalog(data)
    error = info.value
    expected_id = data["interventions"][path[1]]["id"]
    assert error.intervention_id == expected_id
    assert error.field == field
    assert words in str(error)
    assert f"intervention {expected_id!r} field {field!r}: " in str(error)


def test_missing_domain_and_unquoted_version_are_catalog_errors() -> None:
    data = _catalog_data()
    data["interventions"] = [i for i in data["interventions"] if i["domain"] != "sleep"]
    with pytest.raises(CatalogError, match="sleep"):
        parse_catalog(data)
    with pytest.raises(CatalogError, match="field 'version'"):
        parse_catalog({**_catalog_data(), "version": 1.0})


def test_item_without_id_is_named_by_position() -> None:
    data = _broken(("interventions", 2, "id"), KeyError)
    with pytest.raises(CatalogError, match=r"intervention #3 \(no id\) field 'id'"):
        parse_catalog(data)


def test_localized_text_falls_back_to_english() -> None:
    item = parse_catalog(_catalog_data()).get("ex_item")
    assert item.title.get("es") == "Título"
    assert item.title.get("en") == item.title.get("fr") == "Title"


def test_catalog_is_immutable() -> None:
    catalog: Catalog = parse_catalog(_catalog_data())
    with pytest.raises(ValidationError):
        catalog.version = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        catalog.by_id["x"] = catalog.interventions[0]  # type: ignore[index]
