"""The adherence model's pieces: contraindication masks, ratings, effects."""

from __future__ import annotations

from datetime import date

import numpy as np

from health_advisor.catalog import load_catalog
from health_advisor.core.catalog import Facts
from health_advisor.core.vocabulary import CONDITIONS
from health_advisor.synth import adherence as adh
from health_advisor.synth import series
from health_advisor.synth.profiles import draw_profiles, survey_frame
from health_advisor.synth.rng import KeyedRandom

START = date(2025, 1, 6)


def test_allowed_masks_equal_rule_by_rule_evaluation() -> None:
    catalog = load_catalog()
    rng = KeyedRandom(9)
    p = draw_profiles(rng, np.arange(120), START)
    cleared = (survey_frame(rng, p, START)["medical_clearance"] == "true").to_numpy()
    risk = adh.risk_categories(p, series.mvpa_level(p, series.steps_level(p)) * 7)
    allowed = adh.ContraindicationOracle(catalog).allowed(p, risk, cleared)
    assert 0 < allowed.mean() < 1
    for i in range(len(p)):
        facts = Facts(
            risk={key: str(values[i]) for key, values in risk.items()},
            conditions=frozenset(c for j, c in enumerate(CONDITIONS) if p.conditions[i, j]),
            age=int(p.age[i]),
            sex="female" if p.female[i] else "male",
            medical_clearance=bool(cleared[i]),
        )
        expected = [item.is_allowed(facts) for item in catalog.interventions]
        assert allowed[i].tolist() == expected


def test_expected_rating_is_the_mean_of_simulated_ratings() -> None:
    p = np.array([0.1, 0.5, 0.9])
    noise = KeyedRandom(1).normal("r", np.arange(200_000))
    simulated = np.clip(np.round(adh.rating_mean(p)[:, None] + adh.RATING_SD * noise), 1, 5)
    np.testing.assert_allclose(simulated.mean(axis=1), adh.expected_rating(p), atol=0.01)
    np.testing.assert_allclose(simulated.var(axis=1), adh.rating_variance(p), atol=0.01)


def test_adherence_rises_with_time_budget() -> None:
    catalog = load_catalog()
    rng = KeyedRandom(2)
    p = draw_profiles(rng, np.arange(400), START)
    prefs = adh.client_preferences_from_survey(survey_frame(rng, p, START))
    items = adh.item_table(catalog, rng)
    low = adh.adherence_logit(p, prefs, items, rng)
    p.time_budget = p.time_budget * 4
    high = adh.adherence_logit(p, prefs, items, rng)
    heavy = items.minutes >= 120
    assert (high[:, heavy] >= low[:, heavy]).all()
    assert (high[:, heavy] - low[:, heavy]).mean() > 0.1
