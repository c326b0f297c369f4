"""The shipped catalog loads, is complete and clinically consistent; broken files fail clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from health_advisor.catalog import DEFAULT_CATALOG_PATH, load_catalog
from health_advisor.core import vocabulary
from health_advisor.core.catalog import Catalog, Intervention
from health_advisor.core.metrics import BY_NAME
from health_advisor.errors import InputError, MalformedFileError

PREFIX = {"exercise": "ex_", "nutrition": "nu_", "sleep": "sl_", "stress": "st_",
          "prevention": "pr_"}  # fmt: skip
KNOWN_DISEASE = ["cardiovascular_disease", "heart_failure", "type2_diabetes",
                 "chronic_kidney_disease"]  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def exercise(catalog: Catalog, intensity: str) -> list[Intervention]:
    return [i for i in catalog.by_domain["exercise"] if i.intensity == intensity]


# --------------------------------------------------------------------------- shipped catalog


def test_shipped_catalog_is_complete(catalog: Catalog) -> None:
    assert len(catalog.interventions) >= 60
    assert {d: len(catalog.by_domain[d]) >= 10 for d in vocabulary.DOMAINS} == dict.fromkeys(
        vocabulary.DOMAINS, True
    )
    ids = [i.id for i in catalog.interventions]
    assert len(ids) == len(set(ids))
    assert catalog.version


def test_every_item_has_both_languages_a_citation_and_its_domain_prefix(catalog: Catalog) -> None:
    for item in catalog.interventions:
        assert item.id.startswith(PREFIX[item.domain]), item.id
        for text in (item.title, item.description):
            assert text.es.strip() and text.en.strip(), item.id
        assert item.description.es != item.description.en, item.id
        assert len(item.evidence.citation) > 20, item.id
        assert item.evidence.note_en and item.evidence.note_es, item.id
        for rule in item.contraindications:
            assert rule.reason.es and rule.reason.en, (item.id, rule.id)


def test_effects_are_plausible(catalog: Catalog) -> None:
    bounds = {"systolic_bp": 15, "diastolic_bp": 10, "ldl": 40, "hba1c": 2.0,
              "body_weight": 10, "bmi": 3, "stress_level": 3, "sleep_duration": 2,
              "sleep_quality": 20}  # fmt: skip
    for item in catalog.interventions:
        for effect in item.effects:
            assert effect.unit == BY_NAME[effect.metric].unit
            if effect.metric in bounds:
                assert 0 < abs(effect.change) <= bounds[effect.metric], (item.id, effect)


def test_every_goal_is_served(catalog: Catalog) -> None:
    served = {goal for item in catalog.interventions for goal in item.goals}
    assert served == set(vocabulary.GOALS)


def test_conflicts_are_symmetric(catalog: Catalog) -> None:
    pairs = {(i.id, other) for i in catalog.interventions for other in i.conflicts_with}
    assert pairs
    assert all((b, a) in pairs for a, b in pairs)
    assert catalog.conflict("nu_dash_diet", "nu_mediterranean_diet")


def test_met_ranges_follow_intensity(catalog: Catalog) -> None:
    for item in catalog.interventions:
        low, high = vocabulary.INTENSITIES[item.intensity]
        assert low <= item.met_estimate <= high, item.id


def test_default_catalog_is_cached_and_path_is_the_package_file(catalog: Catalog) -> None:
    assert load_catalog() is catalog
    assert DEFAULT_CATALOG_PATH.name == "interventions.yaml"
    assert load_catalog(DEFAULT_CATALOG_PATH).content_hash == catalog.content_hash


# --------------------------------------------------------------------------- clinical rules


def test_acsm_stage_2_without_clearance_blocks_every_vigorous_item(catalog: Catalog) -> None:
    stage_2: dict[str, Any] = {"risk": {"blood_pressure": "stage_2", "activity": "meets"}}
    vigorous = exercise(catalog, "vigorous")
    assert vigorous
    for item in vigorous:
        hits = item.contraindicated(stage_2)
        assert "acsm_vigorous_needs_clearance" in {h.contraindication_id for h in hits}, item.id
        assert all(h.clearance_lifts for h in hits), item.id
        assert item.is_allowed({**stage_2, "medical_clearance": True}), item.id


@pytest.mark.parametrize("condition", KNOWN_DISEASE)
def test_acsm_known_disease_gates_vigorous_items(catalog: Catalog, condition: str) -> None:
    facts = {"conditions": {condition}, "risk": {"activity": "meets"}}
    for item in exercise(catalog, "vigorous"):
        assert not item.is_allowed(facts), item.id
        assert item.is_allowed({**facts, "medical_clearance": True}), item.id


def test_acsm_inactive_known_disease_gates_moderate_items(catalog: Catalog) -> None:
    inactive_diabetic = {"conditions": {"type2_diabetes"}, "risk": {"activity": "inactive"}}
    active_diabetic = {"conditions": {"type2_diabetes"}, "risk": {"activity": "meets"}}
    supervised = {"ex_cardiac_rehab"}
    for item in exercise(catalog, "moderate"):
        if item.id in supervised:
            continue
        assert not item.is_allowed(inactive_diabetic), item.id
        assert item.is_allowed({**inactive_diabetic, "medical_clearance": True}), item.id
        assert item.is_allowed(active_diabetic), item.id


def test_crisis_blocks_exercise_beyond_light_even_with_clearance(catalog: Catalog) -> None:
    crisis = {"risk": {"blood_pressure": "crisis"}, "medical_clearance": True}
    for item in catalog.by_domain["exercise"]:
        if item.intensity != "light":
            hits = item.contraindicated(crisis)
            assert "bp_crisis_until_seen" in {h.contraindication_id for h in hits}, item.id
            assert not any(h.clearance_lifts for h in hits), item.id
    walking_goal = catalog.get("ex_step_goal")
    assert walking_goal.intensity == "light"
    assert walking_goal.is_allowed(crisis)


def test_healthy_adult_can_do_all_exercise_and_has_nothing_mandatory(catalog: Catalog) -> None:
    healthy = {"risk": {"blood_pressure": "normal", "bmi": "normal", "activity": "meets"},
               "conditions": set(), "age": 35, "sex": "male"}  # fmt: skip
    assert all(item.is_allowed(healthy) for item in catalog.by_domain["exercise"]
               if item.id != "ex_cardiac_rehab")  # fmt: skip
    assert catalog.mandatory_for(healthy) == []


@pytest.mark.parametrize(
    ("facts", "blocked"),
    [
        ({"conditions": {"pregnancy"}}, ["nu_calorie_deficit", "nu_intermittent_fasting_5_2",
                                         "ex_recreational_football", "ex_resistance_training"]),
        ({"conditions": {"eating_disorder_history"}},
         ["nu_calorie_deficit", "nu_time_restricted_eating", "nu_intermittent_fasting_5_2"]),
        ({"conditions": {"chronic_kidney_disease"}},
         ["nu_high_protein_breakfast", "nu_potassium_foods", "nu_hydration"]),
        ({"conditions": {"anticoagulant_use"}}, ["ex_recreational_football"]),
        ({"conditions": {"beta_blocker_use"}}, ["ex_hr_zone_training"]),
        ({"conditions": {"osteoporosis"}}, ["ex_jogging", "ex_hiit"]),
        ({"conditions": {"type2_diabetes"}}, ["nu_time_restricted_eating"]),
        ({"conditions": {"sleep_apnea"}}, ["sl_sleep_restriction"]),
        ({"conditions": {"insomnia"}}, ["sl_sleep_extension"]),
        ({"risk": {"bmi": "underweight"}}, ["nu_calorie_deficit", "nu_portion_control"]),
        ({"sex": "male", "age": 50}, ["pr_breast_screening", "pr_cervical_screening"]),
        ({"age": 30}, ["pr_colorectal_screening", "pr_smoking_cessation"]),
    ],
)  # fmt: skip
def test_hard_rules(catalog: Catalog, facts: dict[str, Any], blocked: list[str]) -> None:
    for item_id in blocked:
        assert not catalog.get(item_id).is_allowed(facts), item_id


def test_screening_follows_age_and_sex(catalog: Catalog) -> None:
    woman_50 = {"sex": "female", "age": 50}
    for item_id in ("pr_breast_screening", "pr_cervical_screening", "pr_colorectal_screening"):
        assert catalog.get(item_id).is_allowed(woman_50), item_id
    assert not catalog.get("pr_colorectal_screening").is_allowed({"sex": "female"})


@pytest.mark.parametrize(
    ("facts", "mandatory"),
    [
        ({"risk": {"blood_pressure": "stage_2"}}, "pr_physician_bp_followup"),
        ({"risk": {"blood_pressure": "crisis"}}, "pr_physician_bp_followup"),
        ({"risk": {"hba1c": "diabetes"}}, "pr_endocrinology_review"),
        ({"risk": {"ldl": "very_high"}}, "pr_lipid_management"),
        ({"conditions": {"smoker"}}, "pr_smoking_cessation"),
        ({"conditions": {"sleep_apnea"}}, "pr_sleep_apnea_followup"),
    ],
)
def test_mandatory_items(catalog: Catalog, facts: dict[str, Any], mandatory: str) -> None:
    found = {item.id: outcome for item, outcome in catalog.mandatory_for(facts)}
    assert mandatory in found
    assert found[mandatory].because
    assert catalog.get(mandatory).is_allowed(facts)


def test_stage_1_is_not_mandatory_follow_up(catalog: Catalog) -> None:
    assert catalog.get("pr_physician_bp_followup").mandatory(
        {"risk": {"blood_pressure": "stage_1"}}
    ) is None  # fmt: skip


# --------------------------------------------------------------------------- broken files


LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "interventions.yaml"
    path.write_text(yaml.dump(data, Dumper=DUMPER, allow_unicode=True), encoding="utf-8")
    return path


def _shipped() -> dict[str, Any]:
    data = yaml.load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"), Loader=LOADER)
    assert isinstance(data, dict)
    return data


def test_bad_intensity_message_names_file_id_and_field(tmp_path: Path) -> None:
    data = _shipped()
    index = next(i for i, item in enumerate(data["interventions"]) if item["id"] == "ex_hiit")
    data["interventions"][index]["intensity"] = "extreme"
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_catalog(path)
    assert str(info.value) == (
        f"{path}: intervention 'ex_hiit' field 'intensity': "
        "expected one of light, moderate, vigorous, got 'extreme'"
    )
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("conflicts_with", ["ex_unknown"], "field 'conflicts_with': unknown id 'ex_unknown'"),
        ("goals", ["be_happy"], "field 'goals': expected one of"),
        ("contraindications", [{"id": "x", "when": {"condition": "flu"}, "reason": {"es": "a",
          "en": "b"}}], "field 'contraindications[0].when.condition'"),
        ("effects", [{"metric": "systolic_bp", "change": -5, "unit": "mm[Hg]",
          "horizon_weeks": 0}], "field 'effects[0].horizon_weeks': expected a value > 0"),
    ],
)  # fmt: skip
def test_schema_errors_in_files(tmp_path: Path, field: str, value: Any, expected: str) -> None:
    data = _shipped()
    target = data["interventions"][0]
    target[field] = value
    with pytest.raises(InputError, match=None) as info:
        load_catalog(_write(tmp_path, data))
    assert f"intervention '{target['id']}' {expected}" in str(info.value)


def test_invalid_yaml_is_a_malformed_file_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "interventions.yaml"
    path.write_text('version: "1"\ninterventions:\n  - id: [unclosed\n', encoding="utf-8")
    with pytest.raises(MalformedFileError) as info:
        load_catalog(path)
    assert info.value.path == str(path)
    assert info.value.line is not None


def test_non_mapping_missing_and_binary_files(tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected a mapping"):
        load_catalog(listing)
    with pytest.raises(InputError, match="not found"):
        load_catalog(tmp_path / "absent.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(MalformedFileError, match="UTF-8"):
        load_catalog(binary)
