"""``health-advisor train`` end to end on a small stored clinic: fit, evaluate, log, gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from health_advisor.config import Settings
from health_advisor.errors import InputError, ModelNotReady
from health_advisor.ingest.service import ingest_paths
from health_advisor.recommender.registry import list_versions
from health_advisor.recommender.tracking import connect
from health_advisor.recommender.training import evaluate, train
from health_advisor.synth import generate_clinic

pytestmark = pytest.mark.slow


@pytest.fixture
def stored_clinic(engine: Engine, tmp_path: Path) -> Engine:
    """A 40-client synthetic clinic ingested into the store (its folder: tmp_path/clinic)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("training reads through the same store functions tested on both databases")
    out = tmp_path / "clinic"
    generate_clinic(out, clients=40, days=35, seed=5)
    ingest_paths(engine, [out / d for d in ("surveys", "seed", "fitbit", "interactions")])
    return engine


def test_first_model_becomes_champion_and_an_equal_one_is_refused(
    stored_clinic: Engine, settings: Settings
) -> None:
    first = train(stored_clinic, settings, model_name="baseline")
    assert first.promoted and first.version == 1
    assert first.lineage["sources"] == 7 and first.lineage["catalog_version"]
    assert {"ndcg_at_10", "rmse", "warm.mae"} <= set(first.metrics)
    second = train(stored_clinic, settings, model_name="baseline")
    assert second.holdout_id == first.holdout_id
    assert not second.promoted and "does not beat" in second.gate_reason
    versions = list_versions(client=connect(settings.resolved_mlflow_tracking_uri))
    assert [v["is_champion"] for v in versions] == [True, False]


def test_evaluate_compares_the_champion_with_baselines_and_the_oracle(
    stored_clinic: Engine, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ModelNotReady):
        evaluate(stored_clinic, settings)
    trained = train(stored_clinic, settings, model_name="baseline")
    report, facts = evaluate(stored_clinic, settings, truth_dir=tmp_path / "clinic")
    assert facts == {"champion_version": 1, "holdout_id": trained.holdout_id}
    assert {"champion", "bias", "popularity", "rules", "oracle"} <= set(report["model"])
    ratio = report[(report["model"] == "oracle") & (report["metric"] == "oracle_ndcg@10")]
    assert set(ratio["value"].round(6)) == {1.0}
    champion = report[(report["model"] == "champion") & (report["metric"] == "rmse")]
    bias = report[(report["model"] == "bias") & (report["metric"] == "rmse")]
    # The champion is a BiasBaseline trained on the same split: the same figures.
    assert champion["value"].tolist() == pytest.approx(bias["value"].tolist())


def test_training_without_interactions_is_a_clear_error(engine: Engine, settings: Settings) -> None:
    with pytest.raises(InputError, match="no interactions"):
        train(engine, settings, model_name="baseline")


def test_tuning_searches_on_the_training_rows_and_is_logged(
    stored_clinic: Engine, settings: Settings
) -> None:
    report = train(stored_clinic, settings, model_name="baseline", tune_trials=2)
    params = connect(settings.resolved_mlflow_tracking_uri).get_run(report.run_id).data.params
    assert params["tune_trials"] == "2"
    assert '"n_trials": 2' in params["tuning"]
    assert float(params["reg_client"]) != 15.0  # the default was replaced by the search
    with pytest.raises(InputError, match="--tune"):
        train(stored_clinic, settings, model_name="spark-als", tune_trials=1)
