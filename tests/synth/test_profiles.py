"""Baselines drawn from NHANES adults keep NHANES's blood-pressure distribution."""

from __future__ import annotations

from datetime import date

import numpy as np

from health_advisor.core.vocabulary import CONDITIONS, DOMAINS, GOALS, SETTINGS
from health_advisor.synth.nhanes import bp_category, load_adults
from health_advisor.synth.profiles import draw_profiles, survey_frame
from health_advisor.synth.rng import KeyedRandom


def test_nhanes_adults_are_complete_adults_with_bp() -> None:
    adults = load_adults()
    assert len(adults) > 5000
    assert adults["age"].min() >= 18
    numeric = adults.select_dtypes("number")
    assert not numeric.isna().any().any()
    assert adults["dbp"].min() >= 20  # diastolic 0 (an artefact) is not a reading


def test_bp_category_shares_match_nhanes_within_3_points() -> None:
    adults = load_adults()
    reference = np.bincount(bp_category(adults["sbp"].to_numpy(), adults["dbp"].to_numpy()),
                            minlength=4) / len(adults)  # fmt: skip
    p = draw_profiles(KeyedRandom(11), np.arange(3000), date(2025, 1, 6))
    synthetic = np.bincount(bp_category(p.sbp, p.dbp), minlength=4) / len(p)
    assert np.abs(synthetic - reference).max() < 0.03, (synthetic, reference)


def test_bp_category_boundaries() -> None:
    sbp = np.array([119, 120, 129, 130, 139, 140, 110, 110, 110])
    dbp = np.array([79, 79, 79, 79, 79, 79, 80, 89, 90])
    assert bp_category(sbp, dbp).tolist() == [0, 1, 1, 2, 2, 3, 2, 2, 3]


def test_survey_uses_the_vocabularies() -> None:
    rng = KeyedRandom(5)
    p = draw_profiles(rng, np.arange(200), date(2025, 1, 6))
    survey = survey_frame(rng, p, date(2025, 1, 6))
    assert survey["client_id"].str.fullmatch(r"\d{10}").all()
    for column, vocabulary in [
        ("goals", GOALS),
        ("preferred_domains", DOMAINS),
        ("preferred_settings", SETTINGS),
    ]:
        chosen = {x for cell in survey[column] for x in cell.split(";")}
        assert chosen <= set(vocabulary)
        assert (survey[column] != "").all()
    conditions = {x for cell in survey["conditions"] for x in cell.split(";") if x}
    assert conditions <= set(CONDITIONS)
    assert survey["phone"].str.fullmatch(r"\+51 9\d\d \d{3} \d{3}").all()
    assert survey["email"].str.contains("@").all()
    assert survey["stress_level"].between(0, 10).all()
    assert set(survey["medical_clearance"]) <= {"true", "false"}
