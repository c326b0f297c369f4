"""Training frames from a clinic: value table, client and item features, rules, truth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from health_advisor.catalog import load_catalog
from health_advisor.core.vocabulary import CONDITIONS, GOALS
from health_advisor.errors import InputError, NotFoundError
from health_advisor.recommender import BiasBaseline, RulesBaseline
from health_advisor.recommender.datasets import (
    RULE_WEIGHTS,
    build_datasets,
    client_features,
    clinic_defaults,
    guideline_rule,
    item_features,
    load_clinic,
    load_truth,
    merge_clients,
    pair_values,
    snapshot_features,
    survey_features,
)

T0 = pd.Timestamp("2025-01-06T15:00:00", tz="UTC")


def _events() -> pd.DataFrame:
    rows = [
        ("c1", "ex_brisk_walking", "recommended", 1, 0),
        ("c1", "ex_brisk_walking", "accepted", 1, 1),
        ("c1", "ex_brisk_walking", "adherence", 100, 8),
        ("c1", "ex_brisk_walking", "adherence", 50, 15),
        ("c1", "ex_brisk_walking", "rating", 4, 16),
        ("c1", "sl_consistent_schedule", "adherence", 0, 9),
        ("c2", "ex_brisk_walking", "declined", 0, 2),
        ("c2", "ex_brisk_walking", "adherence", 86, 10),
    ]
    return pd.DataFrame(
        {
            "client_id": [r[0] for r in rows],
            "intervention_id": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "value": [float(r[3]) for r in rows],
            "at": [T0 + pd.Timedelta(days=r[4]) for r in rows],
        }
    )


def test_pair_values_average_the_weekly_reports() -> None:
    values = pair_values(_events())
    assert list(values.columns) == ["client_id", "intervention_id", "value", "at", "n"]
    walk = values.set_index(["client_id", "intervention_id"]).loc[("c1", "ex_brisk_walking")]
    assert walk["value"] == pytest.approx(75.0)
    assert walk["n"] == 2
    assert walk["at"] == T0 + pd.Timedelta(days=8)
    assert len(values) == 3  # declined / recommended / accepted events are not values
    ratings = pair_values(_events(), "rating")
    assert ratings["value"].tolist() == [4.0]


def test_pair_values_validates() -> None:
    with pytest.raises(InputError, match="kind"):
        pair_values(_events(), "clicks")
    with pytest.raises(InputError, match="missing"):
        pair_values(_events().drop(columns="at"))
    with pytest.raises(InputError, match="no 'rating'"):
        pair_values(_events().query("kind != 'rating'"), "rating")


def _surveys() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c1"],
            "answered_at": [T0, T0, T0 + pd.Timedelta(days=30)],
            "goals": [["lose_weight"], "get_fit;improve_sleep", ["lower_bp", "get_fit"]],
            "preferred_domains": [["exercise"], ["sleep"], ["exercise", "nutrition"]],
            "preferred_settings": [["gym"], [], ["outdoors"]],
            "conditions": [[], ["insomnia"], ["hypertension", "smoker"]],
            "weekly_time_budget_min": [90, 30, 150],
            "stress_level": [3, 8, None],
            "smoker": [False, "false", True],
            "medical_clearance": [True, None, False],
        }
    )


def test_survey_features_one_column_per_vocabulary_id() -> None:
    features = survey_features(_surveys())
    assert list(features.index) == ["c1", "c2"]
    c1, c2 = features.loc["c1"], features.loc["c2"]  # c1: the later survey wins
    assert c1["goal_lower_bp"] and c1["goal_get_fit"] and not c1["goal_lose_weight"]
    assert c2["goal_improve_sleep"] and c2["domain_sleep"] and not c2["setting_gym"]
    assert c1["setting_outdoors"] and c1["condition_smoker"] and c1["condition_count"] == 2
    assert c1["log_time_budget"] == pytest.approx(math.log(180))
    assert math.isnan(c1["stress_level"]) and c2["stress_level"] == 8
    assert c1["smoker"] == 1.0 and c2["smoker"] == 0.0 and math.isnan(c2["medical_clearance"])
    assert sum(c.startswith("goal_") for c in features.columns) == len(GOALS)
    assert sum(c.startswith("condition_") for c in features.columns) == len(CONDITIONS) + 1


def test_snapshot_and_client_features_join() -> None:
    snapshots = pd.DataFrame(
        {
            "client_id": ["c1", "c3"],
            "steps_mean_28d": [9999.0, np.nan],
            "bedtime_mean_28d": [-0.5, 1.0],
            "sex": ["female", None],
            "bmi_category": ["obese_1", "normal"],
            "unrelated": [1, 2],
        }
    )
    snap = snapshot_features(snapshots)
    assert "unrelated" not in snap and "steps_mean_28d" not in snap
    assert snap.loc["c1", "log_steps_mean_28d"] == pytest.approx(math.log(10000))
    assert (
        snap.loc["c3", "sex"] == "unknown"
        and snap.loc["c1", "age_years"] != snap.loc["c1", "age_years"]
    )
    joined = client_features(_surveys(), snapshots)
    assert sorted(joined.index) == ["c1", "c2", "c3"]
    assert joined.loc["c2", "bmi_category"] == "unknown"  # survey only
    assert not joined.loc["c3", "goal_get_fit"]  # snapshot only: no goals chosen
    assert joined["goal_get_fit"].dtype == bool


def test_item_features_from_the_packaged_catalog() -> None:
    catalog = load_catalog()
    items = item_features(catalog)
    assert len(items) == len(catalog.interventions)
    first = catalog.interventions[0]
    row = items.loc[first.id]
    assert row["domain"] == first.domain
    assert row["log_weekly_minutes"] == pytest.approx(math.log(first.weekly_minutes + 30))
    assert all(row[f"goal_{g}"] for g in first.goals)
    assert sum(bool(row[f"setting_{s}"]) for s in first.settings) == row["setting_count"]


def test_guideline_rule_scores() -> None:
    items = pd.DataFrame(
        {
            "domain": ["exercise", "sleep"],
            "log_weekly_minutes": [math.log(150 + 30), math.log(60 + 30)],
            "cost_level": [2.0, 0.0],
            "goal_get_fit": [True, False],
            "goal_improve_sleep": [False, True],
            "setting_gym": [True, False],
            "setting_home": [False, True],
        },
        index=["walk", "sleep"],
    )
    clients = survey_features(_surveys())
    scores = guideline_rule(clients, items)
    w = RULE_WEIGHTS
    # c1: goal get_fit, prefers exercise and outdoors, 150 min/week
    assert scores[0].tolist() == pytest.approx(
        [w["goal"] + w["domain"] + w["time"] + 2 * w["cost"], w["time"]]
    )
    # c2: goals get_fit and improve_sleep, prefers sleep, 30 min/week
    assert scores[1].tolist() == pytest.approx([w["goal"] + 2 * w["cost"], w["goal"] + w["domain"]])
    assert guideline_rule(None, items).shape == (1, 2)


def test_rules_baseline_with_the_guideline_rule(tmp_path: Path) -> None:
    items = item_features(load_catalog())
    clients = survey_features(_surveys())
    values = pair_values(_events())
    model = RulesBaseline(rule=guideline_rule).fit(values, clients, items)
    top = model.recommend("c2", k=3)
    assert len(top) == 3
    loaded = RulesBaseline.load(model.save(tmp_path / "rules"))
    np.testing.assert_allclose(loaded.score_items(["c1", "c2"]), model.score_items(["c1", "c2"]))


def test_merge_clients_keeps_the_first_known_answer() -> None:
    merged = merge_clients(
        [
            {"client_id": "1", "sex": None, "birth_date": None},
            {"client_id": "1", "sex": "female", "birth_date": "1980-01-01"},
            {"client_id": "2", "sex": "male", "birth_date": None},
        ]
    )
    assert merged.set_index("client_id").loc["1", "sex"] == "female"
    assert len(merged) == 2


def test_load_truth(tmp_path: Path) -> None:
    folder = tmp_path / "ground_truth"
    folder.mkdir()
    (folder / "adherence.csv").write_text(
        "client_id,intervention_id,p_adherence,expected_rating,allowed\n"
        "5000000001,ex_a,0.25,2.1,1\n5000000001,ex_b,0.5,3.0,0\n"
    )
    truth = load_truth(tmp_path)
    assert truth["expected"].tolist() == [25.0, 50.0]
    assert truth["gain"].tolist() == [0.25, 0.5]
    assert truth["eligible"].tolist() == [True, False]
    assert truth["client_id"].iloc[0] == "5000000001"
    assert load_truth(tmp_path, "rating")["expected"].tolist() == [2.1, 3.0]
    with pytest.raises(NotFoundError):
        load_truth(tmp_path / "nowhere")


def test_clinic_defaults_are_valid_hybrid_parameters() -> None:
    from health_advisor.recommender import HybridMF

    HybridMF(**clinic_defaults())._check_params()


@pytest.fixture(scope="module")
def tiny_clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from health_advisor.synth import generate_clinic

    out = tmp_path_factory.mktemp("clinic")
    generate_clinic(out, clients=30, days=42, seed=5)
    return out


def test_load_clinic_and_build_datasets_end_to_end(tiny_clinic: Path) -> None:
    clinic = load_clinic(tiny_clinic, sources=("seed", "fitbit", "surveys", "interactions"))
    assert set(clinic.interactions["kind"]) <= {
        "recommended", "accepted", "declined", "adherence", "rating"
    }  # fmt: skip
    data = build_datasets(clinic, load_catalog())
    assert data.values["value"].between(0, 100).all()
    assert set(data.values["client_id"]) <= set(data.client_features.index)
    assert len(data.client_features) == 30
    assert data.client_features["log_steps_mean_28d"].notna().mean() > 0.8
    assert data.client_features["age_years"].notna().all()
    model = BiasBaseline().fit(data.values, data.client_features, data.item_features)
    assert np.isfinite(model.score_items(list(data.client_features.index[:3]))).all()


def test_load_clinic_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        load_clinic(tmp_path / "missing")
    with pytest.raises(InputError, match="unknown source"):
        load_clinic(tmp_path, sources=("ground_truth",))
    with pytest.raises(NotFoundError, match="no interactions"):
        load_clinic(tmp_path, sources=("surveys",))
