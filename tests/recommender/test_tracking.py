"""MLflow tracking, the registry's quality gate and champion loading, on real SQLite stores.

A new MLflow SQLite store runs ~100 Alembic migrations (about ten seconds here), so one
migrated empty store is built per MLflow version, kept in pytest's cache folder, and each
test works on a copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from health_advisor.errors import ConflictError, InputError, ModelNotReady, NotFoundError
from health_advisor.recommender import BiasBaseline, HybridMF, NumpyScorer, Recommender
from health_advisor.recommender.registry import (
    CHAMPION,
    HISTORY_TAG,
    PREVIOUS,
    _judge,
    _Side,
    champion_version,
    list_versions,
    load_champion,
    promote,
    promote_if_better,
    rollback,
)
from health_advisor.recommender.tracking import (
    MODEL_NAME,
    RunInfo,
    connect,
    default_tracking_uri,
    lineage_digest,
    log_training_run,
    sqlite_path,
    training_run,
)

pytestmark = [
    # MLflow's tracking store calls sqlalchemy.orm.configure_mappers() when imported; its
    # models use the ``noload`` loader strategy, deprecated in SQLAlchemy 2.1.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]

SRC = Path(__file__).resolve().parents[2] / "src"
LINEAGE = {
    "sources": {"clinic.csv": "ab" * 32, "fitbit.zip": "cd" * 32},
    "feature_snapshot": "2024-06-30T00:00:00Z",
    "catalog_version": "3",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def template_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A migrated, empty MLflow SQLite file (cached across sessions per MLflow version)."""
    import mlflow

    cache = getattr(request.config, "cache", None)
    name = f"mlflow-template-{mlflow.__version__}"
    folder = cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)
    template = folder / "mlflow.db"
    if not template.is_file():
        building = folder / f"building-{os.getpid()}.db"
        client = connect(f"sqlite:///{building}")
        client.search_experiments()
        client.search_registered_models()
        os.replace(building, template)
    return template


@pytest.fixture
def uri(template_store: Path, tmp_path: Path) -> str:
    store = tmp_path / "store" / "mlflow.db"
    store.parent.mkdir()
    shutil.copyfile(template_store, store)
    return f"sqlite:///{store}"


@pytest.fixture
def client(uri: str) -> Any:
    return connect(uri)


@pytest.fixture(scope="module")
def model(make_problem: Callable[..., Any]) -> BiasBaseline:
    interactions, _, _ = make_problem()
    return BiasBaseline().fit(interactions)


def _log(uri: str, model: Recommender, ndcg: float, holdout: str = "h1", **extra: Any) -> RunInfo:
    return log_training_run(
        model=model,
        params={"reg_client": 15.0, "n_iter": 15, "grid": [1, 2]},
        metrics={"ndcg_at_10": ndcg, "rmse": 1.0 - ndcg},
        lineage=LINEAGE,
        holdout_id=holdout,
        artifacts_dir=extra.pop("artifacts_dir", None),
        tracking_uri=uri,
        **extra,
    )


# --------------------------------------------------------------------------- tracking


# Variables that make MLflow switch telemetry off by itself (mlflow.telemetry.utils).
_NO_TELEMETRY_VARS = {
    "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "CI",
    "CIRCLECI", "GITLAB_CI", "JENKINS_URL", "TRAVIS", "TF_BUILD", "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ARN", "BUILDKITE", "TEAMCITY_VERSION", "CLOUD_RUN_EXECUTION",
    "RUNBOT_HOST_URL", "RUNBOT_BUILD_NAME", "RUNBOT_WORKER_ID",
}  # fmt: skip


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NO_TELEMETRY_VARS}
    return env | {"PYTHONPATH": str(SRC)}


def test_import_is_lazy_and_connect_turns_telemetry_off(uri: str) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import health_advisor.recommender.tracking, health_advisor.recommender.registry
        assert "mlflow" not in sys.modules, "mlflow imported"
        assert "tensorflow" not in sys.modules, "tensorflow imported"
        from health_advisor.recommender.tracking import connect
        connect({uri!r}).search_experiments()
        from mlflow.telemetry.client import get_telemetry_client
        assert get_telemetry_client() is None, "telemetry on"
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_sqlite_path_and_default_uri(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:////abs/x.db") == Path("/abs/x.db")
    assert sqlite_path("sqlite:///var/mlflow.db") == Path("var/mlflow.db")
    assert sqlite_path("http://mlflow:5000") is None
    assert default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_reading_a_missing_store_is_model_not_ready(tmp_path: Path) -> None:
    with pytest.raises(ModelNotReady, match="no model registry"):
        connect(f"sqlite:///{tmp_path / 'absent.db'}", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_log_training_run_records_params_metrics_lineage_and_artifacts(
    uri: str, client: Any, model: BiasBaseline, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "evaluation.json").write_text('{"ok": true}')
    info = _log(uri, model, 0.4, artifacts_dir=reports, run_name="bias-1")

    assert (info.version, info.model_uri) == (1, f"models:/{MODEL_NAME}/1")
    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "bias-1"
    assert run.data.params == {"reg_client": "15.0", "n_iter": "15", "grid": "[1, 2]"}
    assert run.data.metrics == {"ndcg_at_10": 0.4, "rmse": pytest.approx(0.6)}
    tags = run.data.tags
    assert tags["holdout_id"] == "h1"
    assert tags["model_class"] == "BiasBaseline"
    assert tags["lineage.catalog_version"] == "3"
    assert json.loads(tags["lineage.sources"]) == LINEAGE["sources"]
    assert tags["lineage_digest"] == lineage_digest(LINEAGE)

    def paths(path: str = "") -> set[str]:
        found = set()
        for item in client.list_artifacts(info.run_id, path):
            found |= paths(item.path) if item.is_dir else {item.path}
        return found

    assert paths() == {
        "lineage.json",
        "model/model.json",
        "model/weights.npz",
        "reports/evaluation.json",
    }
    lineage_file = client.download_artifacts(info.run_id, "lineage.json", str(tmp_path))
    assert json.loads(Path(lineage_file).read_text()) == LINEAGE
    version = client.get_model_version(MODEL_NAME, "1")
    assert version.run_id == info.run_id
    assert version.source == info.artifact_uri
    assert version.tags["holdout_id"] == "h1"
    # artifacts live beside the SQLite file, not in the working folder
    store_folder = sqlite_path(uri).parent  # type: ignore[union-attr]
    assert info.artifact_uri.startswith((store_folder / "mlartifacts").as_uri())


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"ndcg_at_10": float("nan")}, "finite"),
        ({"ndcg_at_10": "high"}, "expected a number"),
        ({"ndcg@10": 0.3}, "metric name"),
    ],
)
def test_bad_metrics_are_input_errors_and_fail_the_run(
    uri: str, client: Any, model: BiasBaseline, metrics: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        log_training_run(
            model=model,
            params={},
            metrics=metrics,
            lineage={},
            holdout_id="h1",
            artifacts_dir=None,
            tracking_uri=uri,
        )
    (run,) = client.search_runs([client.get_experiment_by_name("health-advisor").experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions(f"name = '{MODEL_NAME}'") == []


def test_failed_training_is_recorded_and_champion_stays(
    uri: str, client: Any, model: BiasBaseline
) -> None:
    first = _log(uri, model, 0.4)
    promote_if_better(client=client, version=first.version, holdout_id="h1")
    with (
        pytest.raises(RuntimeError, match="diverged"),
        training_run(tracking_uri=uri, run_name="doomed") as run,
    ):
        run.log_params({"epochs": 3})
        raise RuntimeError("loss diverged")
    failed = client.get_run(run.run_id)
    assert failed.info.status == "FAILED"
    assert failed.data.tags["error"] == "RuntimeError: loss diverged"
    assert champion_version(client=client) == first.version
    assert len(list_versions(client=client)) == 1


def test_a_version_from_a_run_that_failed_later_cannot_serve(
    uri: str, client: Any, model: BiasBaseline
) -> None:
    with pytest.raises(RuntimeError), training_run(tracking_uri=uri) as run:
        info = run.log_model(
            model, params={}, metrics={"ndcg_at_10": 0.9}, lineage=LINEAGE, holdout_id="h1"
        )
        raise RuntimeError("crash after registering")
    decision = promote_if_better(client=client, version=info.version, holdout_id="h1")
    assert not decision.promoted
    assert "FAILED run" in decision.reason
    with pytest.raises(ConflictError, match="FAILED run"):
        promote(client=client, version=info.version)
    assert champion_version(client=client) is None


# --------------------------------------------------------------------------- the gate


def test_first_version_becomes_champion(uri: str, client: Any, model: BiasBaseline) -> None:
    info = _log(uri, model, 0.4)
    decision = promote_if_better(client=client, version=info.version, holdout_id="h1")
    assert decision.promoted
    assert decision.champion_version is None
    assert decision.challenger_metric == 0.4
    assert "first" in decision.reason
    assert champion_version(client=client) == 1
    assert client.get_model_version(MODEL_NAME, "1").tags["promoted_by"] == "gate"


def test_better_version_is_promoted_worse_is_refused(
    uri: str, client: Any, model: BiasBaseline
) -> None:
    v1 = _log(uri, model, 0.40).version
    promote_if_better(client=client, version=v1, holdout_id="h1")
    v2 = _log(uri, model, 0.45).version
    better = promote_if_better(client=client, version=v2, holdout_id="h1")
    assert better.promoted
    assert (better.champion_version, better.champion_metric) == (v1, 0.40)
    assert "0.4500 > 0.4000" in better.reason

    v3 = _log(uri, model, 0.42).version
    worse = promote_if_better(client=client, version=v3, holdout_id="h1")
    assert not worse.promoted
    assert "0.4200 does not beat 0.4500 of champion v2" in worse.reason
    assert champion_version(client=client) == v2
    tags = client.get_model_version(MODEL_NAME, str(v3)).tags
    assert (tags["gate.decision"], tags["gate.reason"]) == ("refused", worse.reason)


def test_a_tie_is_not_an_improvement(uri: str, client: Any, model: BiasBaseline) -> None:
    v1 = _log(uri, model, 0.40).version
    promote_if_better(client=client, version=v1, holdout_id="h1")
    v2 = _log(uri, model, 0.40).version
    assert not promote_if_better(client=client, version=v2, holdout_id="h1").promoted


def test_lower_is_better_metric(uri: str, client: Any, model: BiasBaseline) -> None:
    v1 = _log(uri, model, 0.40).version  # rmse 0.60
    promote_if_better(
        client=client, version=v1, holdout_id="h1", metric="rmse", higher_is_better=False
    )
    v2 = _log(uri, model, 0.30).version  # rmse 0.70: worse
    decision = promote_if_better(
        client=client, version=v2, holdout_id="h1", metric="rmse", higher_is_better=False
    )
    assert not decision.promoted
    assert decision.challenger_metric == pytest.approx(0.7)


def test_different_holdout_is_refused(uri: str, client: Any, model: BiasBaseline) -> None:
    v1 = _log(uri, model, 0.40, holdout="h1").version
    promote_if_better(client=client, version=v1, holdout_id="h1")
    v2 = _log(uri, model, 0.90, holdout="h2").version
    decision = promote_if_better(client=client, version=v2, holdout_id="h2")
    assert not decision.promoted
    assert "do not compare" in decision.reason
    assert champion_version(client=client) == v1
    # asking the gate about a holdout the challenger was not evaluated on
    mismatch = promote_if_better(client=client, version=v2, holdout_id="h1")
    assert not mismatch.promoted
    assert "evaluated on holdout 'h2', not 'h1'" in mismatch.reason


def test_missing_metric_is_refused(uri: str, client: Any, model: BiasBaseline) -> None:
    info = _log(uri, model, 0.40)
    decision = promote_if_better(
        client=client, version=info.version, holdout_id="h1", metric="map_at_10"
    )
    assert not decision.promoted
    assert "no finite map_at_10" in decision.reason


def test_judge_with_margin() -> None:
    champion = _Side(1, "h", 0.40, "FINISHED")
    small = _Side(2, "h", 0.405, "FINISHED")
    rule = {"metric": "m", "holdout_id": "h", "higher_is_better": True}
    assert _judge(small, champion, min_improvement=0.0, **rule)[0]  # type: ignore[arg-type]
    promoted, reason = _judge(small, champion, min_improvement=0.01, **rule)  # type: ignore[arg-type]
    assert not promoted
    assert "by more than 0.01" in reason


# --------------------------------------------------------------------------- champions


def test_promote_and_rollback(uri: str, client: Any, model: BiasBaseline) -> None:
    versions = [_log(uri, model, m).version for m in (0.40, 0.45, 0.30)]
    promote_if_better(client=client, version=versions[0], holdout_id="h1")
    promote_if_better(client=client, version=versions[1], holdout_id="h1")
    replaced = promote(client=client, version=versions[2], by="dr.ana", reason="pilot")
    assert replaced == versions[1]
    tags = client.get_model_version(MODEL_NAME, str(versions[2])).tags
    assert (tags["promoted_by"], tags["promotion_reason"]) == ("dr.ana", "pilot")
    aliases = client.get_registered_model(MODEL_NAME).aliases
    assert (int(aliases[CHAMPION]), int(aliases[PREVIOUS])) == (versions[2], versions[1])
    assert json.loads(client.get_registered_model(MODEL_NAME).tags[HISTORY_TAG]) == versions

    assert rollback(client=client) == versions[1]
    assert champion_version(client=client) == versions[1]
    assert int(client.get_registered_model(MODEL_NAME).aliases[PREVIOUS]) == versions[0]
    assert client.get_model_version(MODEL_NAME, str(versions[2])).tags["rolled_back_by"]
    assert rollback(client=client) == versions[0]
    assert PREVIOUS not in client.get_registered_model(MODEL_NAME).aliases
    with pytest.raises(ConflictError, match="first champion"):
        rollback(client=client)
    assert champion_version(client=client) == versions[0]


def test_promote_errors(uri: str, client: Any, model: BiasBaseline) -> None:
    with pytest.raises(ModelNotReady):
        rollback(client=client)
    v1 = _log(uri, model, 0.40).version
    promote(client=client, version=v1)
    with pytest.raises(ConflictError, match="already the champion"):
        promote(client=client, version=v1)
    with pytest.raises(NotFoundError, match="no version 7"):
        promote(client=client, version=7)


def test_list_versions(uri: str, client: Any, model: BiasBaseline) -> None:
    assert list_versions(client=client) == []
    v1 = _log(uri, model, 0.40).version
    v2 = _log(uri, model, 0.30).version
    promote_if_better(client=client, version=v1, holdout_id="h1")
    promote_if_better(client=client, version=v2, holdout_id="h1")
    rows = list_versions(client=client)
    assert [r["version"] for r in rows] == [v1, v2]
    first, second = rows
    assert first["is_champion"] and not second["is_champion"]
    assert first["aliases"] == ["champion"]
    assert first["metrics"]["ndcg_at_10"] == 0.40
    assert (first["holdout_id"], first["model_class"], first["run_status"]) == (
        "h1",
        "BiasBaseline",
        "FINISHED",
    )
    assert (first["promoted_by"], second["gate_decision"]) == ("gate", "refused")
    assert first["created"].endswith("+00:00")
    json.dumps(rows)  # the CLI prints them as JSON


# --------------------------------------------------------------------------- serving


def test_load_champion_without_champion_is_model_not_ready(
    uri: str, client: Any, model: BiasBaseline, tmp_path: Path
) -> None:
    with pytest.raises(ModelNotReady, match="no champion"):
        load_champion(client=client, dest=tmp_path / "serve")
    _log(uri, model, 0.4)  # registered, not promoted
    with pytest.raises(ModelNotReady, match="no champion"):
        load_champion(client=client, dest=tmp_path / "serve")


def test_load_champion_round_trip(
    uri: str, client: Any, model: BiasBaseline, make_problem: Callable[..., Any], tmp_path: Path
) -> None:
    info = _log(uri, model, 0.4)
    promote_if_better(client=client, version=info.version, holdout_id="h1")
    loaded, version = load_champion(client=client, dest=tmp_path / "serve")
    assert version == info.version
    assert isinstance(loaded, BiasBaseline)
    pairs = make_problem()[0][["client_id", "intervention_id"]]
    np.testing.assert_array_equal(loaded.predict(pairs), model.predict(pairs))
    folder = tmp_path / "serve" / f"v{version}-{info.run_id}"
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "weights.npz"]
    # a second load reuses the downloaded folder
    (folder / "marker").write_text("kept")
    load_champion(client=client, dest=tmp_path / "serve")
    assert (folder / "marker").exists()


@pytest.mark.slow
def test_hybrid_champion_is_served_by_numpy_scorer_without_tensorflow(
    uri: str,
    client: Any,
    make_problem: Callable[..., Any],
    fast_hybrid: dict[str, Any],
    tmp_path: Path,
) -> None:
    interactions, clients, items = make_problem()
    hybrid = HybridMF(**{**fast_hybrid, "epochs": 5}).fit(interactions, clients, items)
    info = _log(uri, hybrid, 0.5)
    promote_if_better(client=client, version=info.version, holdout_id="h1")
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from health_advisor.recommender.registry import load_champion
        from health_advisor.recommender.tracking import connect
        assert "mlflow" not in sys.modules
        scorer, version = load_champion(client=connect({uri!r}, create=False),
                                        dest=Path({str(tmp_path / "serve")!r}))
        assert type(scorer).__name__ == "NumpyScorer", type(scorer)
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        print(json.dumps(scorer.score_all(["c000", "c001", "new"]).tolist()))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    scores = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    expected = hybrid.score_items(["c000", "c001", "new"])
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    loaded, _ = load_champion(client=client, dest=tmp_path / "serve")
    assert isinstance(loaded, NumpyScorer)
    assert loaded.item_ids == list(pd.Index(hybrid.items_.ids))
