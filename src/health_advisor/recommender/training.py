"""Train, evaluate, track and gate a recommender from the store (``health-advisor train``).

I/O at the edge: reads the clinic's interactions, surveys and measurements from the store
(never any ground truth), builds the training frames (:mod:`.datasets`), holds out the
latest interactions of each client and a share of clients (:mod:`.evaluation`), fits the
model on the rest, evaluates it against the baselines on the holdout, logs everything to
MLflow with the data lineage (:mod:`.tracking`) and lets the quality gate decide whether
the new version becomes the champion (:mod:`.registry`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from health_advisor.config import Settings
from health_advisor.errors import InputError
from health_advisor.store.models import Alert, Client, DataSource, Interaction, Survey
from health_advisor.store.session import session_scope

MODELS = ("hybrid", "baseline", "spark-als")
GATE_METRIC = "ndcg_at_10"


@dataclass(frozen=True, slots=True)
class TrainReport:
    model: str
    version: int | None
    run_id: str
    holdout_id: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    promoted: bool
    gate_reason: str
    lineage: dict[str, Any] = field(default_factory=dict)


def clinic_from_store(engine: Engine) -> Any:
    """The clinic's frames as :class:`~.datasets.ClinicData`, read from the store."""
    from health_advisor.features.service import load_clients, load_measurements
    from health_advisor.recommender.datasets import ClinicData
    from health_advisor.store import repositories

    with session_scope(engine) as session:
        rows = session.execute(
            select(
                Client.external_id,
                Interaction.intervention_id,
                Interaction.kind,
                Interaction.value,
                Interaction.at,
            ).join(Client, Client.id == Interaction.client_id)
        ).all()
        interactions = pd.DataFrame(
            rows, columns=["client_id", "intervention_id", "kind", "value", "at"]
        )
        surveys = [
            {"client_id": ext, "answered_at": s.answered_at, **s.answers}
            for s, ext in session.execute(
                select(Survey, Client.external_id)
                .join(Client, Client.id == Survey.client_id)
                .order_by(Survey.answered_at)
            )
        ]
        latest = repositories.latest_observation(session=session)
        measurements = (
            load_measurements(session, as_of=latest.date(), lookback_days=None)
            if latest is not None
            else pd.DataFrame(columns=["client_id", "metric", "value", "observed_at"])
        )
        clients = load_clients(session)
    if interactions.empty:
        raise InputError("no interactions in the store: ingest interaction histories first")
    interactions["at"] = pd.to_datetime(interactions["at"], utc=True)
    survey_frame = pd.DataFrame(surveys).drop_duplicates("client_id", keep="last")
    return ClinicData(interactions, survey_frame, measurements, clients)


def lineage(engine: Engine, catalog_version: str) -> dict[str, Any]:
    from health_advisor.features.snapshot import FEATURE_VERSION

    with session_scope(engine) as session:
        sources = session.execute(select(DataSource.file_name, DataSource.sha256)).all()
    digest = hashlib.sha256("".join(sorted(sha for _, sha in sources)).encode()).hexdigest()
    return {
        "sources": len(sources),
        "sources_sha256": digest,
        "feature_version": FEATURE_VERSION,
        "catalog_version": catalog_version,
    }


def holdout_id(test: pd.DataFrame, cold_clients: Iterable[Any]) -> str:
    """A fingerprint of the holdout: the gate compares versions only on the same one."""
    pairs = sorted(
        zip(test["client_id"].astype(str), test["intervention_id"].astype(str), strict=True)
    )
    payload = json.dumps({"test": pairs, "cold": sorted(map(str, cold_clients))})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def make_model(
    name: str,
    settings: Settings,
    params: dict[str, Any] | None = None,
    *,
    n_values: int | None = None,
) -> Any:
    from health_advisor.recommender import BiasBaseline, HybridMF, SparkALS
    from health_advisor.recommender.datasets import clinic_defaults

    if name == "hybrid":
        return HybridMF(**{**clinic_defaults(n_values), **(params or {})})
    if name == "baseline":
        return BiasBaseline(**(params or {}))
    if name == "spark-als":
        return SparkALS(master=settings.spark_master)
    raise InputError(f"--model: expected one of {', '.join(MODELS)}, got {name!r}")


def evaluate(
    engine: Engine, settings: Settings, *, truth_dir: Path | None = None, seed: int = 0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The champion and the baselines on the current holdout (the split ``train`` uses).

    With ``truth_dir`` (a synthetic clinic's folder) the report adds the NDCG@10 ratio to
    the ground-truth oracle and RMSE against the noise floor; a real clinic has no truth.
    Returns the long report and facts about it (champion version, holdout id).
    """
    from health_advisor.catalog import load_catalog
    from health_advisor.recommender import BiasBaseline, PopularityBaseline, RulesBaseline
    from health_advisor.recommender.base import Recommender
    from health_advisor.recommender.datasets import build_datasets, guideline_rule, load_truth
    from health_advisor.recommender.evaluation import evaluate_models, temporal_split
    from health_advisor.recommender.registry import champion_folder
    from health_advisor.recommender.tracking import connect

    client = connect(settings.resolved_mlflow_tracking_uri, create=False)
    folder, version = champion_folder(client=client, dest=settings.model_cache)
    champion = Recommender.load(folder)
    data = build_datasets(clinic_from_store(engine), load_catalog())
    split = temporal_split(data.values, test_fraction=0.25, cold_fraction=0.1, seed=seed)
    models: dict[str, Any] = {"champion": champion}
    baselines = (
        ("bias", BiasBaseline()),
        ("popularity", PopularityBaseline()),
        ("rules", RulesBaseline(rule=guideline_rule)),
    )
    for name, model in baselines:
        models[name] = model.fit(split.train, data.client_features, data.item_features)
    truth = load_truth(truth_dir) if truth_dir is not None else None
    report = evaluate_models(models, split, truth, client_features=data.client_features)
    facts = {
        "champion_version": version,
        "holdout_id": holdout_id(split.test, split.cold_clients),
    }
    return report, facts


def tuned_params(
    model_name: str, train_rows: pd.DataFrame, data: Any, *, trials: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Optuna (seeded TPE) on a validation split carved from the training rows only, so
    the holdout the gate compares on is never seen while tuning. Returns the best
    parameters and the study's summary."""
    from health_advisor.recommender.evaluation import temporal_split
    from health_advisor.recommender.tuning import bias_space, hybrid_space, tune

    spaces = {"hybrid": hybrid_space(), "baseline": bias_space}
    if model_name not in spaces:
        raise InputError(f"--tune: supported for {', '.join(spaces)}, not {model_name!r}")
    inner = temporal_split(train_rows, test_fraction=0.25, cold_fraction=0.1, seed=seed + 1)
    result = tune(
        spaces[model_name],
        inner,
        n_trials=trials,
        metric="ndcg@10",
        segment="warm",
        client_features=data.client_features,
        item_features=data.item_features,
        seed=seed,
    )
    return dict(result.best_params), result.summary()


def train(
    engine: Engine,
    settings: Settings,
    *,
    model_name: str = "hybrid",
    seed: int = 0,
    tune_trials: int = 0,
) -> TrainReport:
    """Fit, evaluate against the baselines, log to MLflow and apply the quality gate;
    with ``tune_trials``, search the model's hyperparameters first (Optuna)."""
    from health_advisor.catalog import load_catalog
    from health_advisor.recommender import BiasBaseline, PopularityBaseline, RulesBaseline
    from health_advisor.recommender.datasets import build_datasets, guideline_rule
    from health_advisor.recommender.evaluation import evaluate_models, temporal_split
    from health_advisor.recommender.registry import promote_if_better
    from health_advisor.recommender.tracking import training_run

    catalog = load_catalog()
    data = build_datasets(clinic_from_store(engine), catalog)
    split = temporal_split(data.values, test_fraction=0.25, cold_fraction=0.1, seed=seed)
    tuned: dict[str, Any] = {}
    tuning: dict[str, Any] = {}
    if tune_trials:
        tuned, tuning = tuned_params(model_name, split.train, data, trials=tune_trials, seed=seed)
    model = make_model(model_name, settings, tuned, n_values=len(split.train))
    hold = holdout_id(split.test, split.cold_clients)
    info = lineage(engine, catalog.version)
    models = {
        "model": model,
        "bias": BiasBaseline(),
        "popularity": PopularityBaseline(),
        "rules": RulesBaseline(rule=guideline_rule),
    }
    with (
        alert_on_failure(engine, model_name),
        training_run(tracking_uri=settings.resolved_mlflow_tracking_uri) as run,
    ):
        for m in models.values():
            m.fit(split.train, data.client_features, data.item_features)
        report = evaluate_models(models, split, client_features=data.client_features)
        metrics = _flat_metrics(report, "model")
        baselines = {name: _flat_metrics(report, name) for name in ("bias", "popularity", "rules")}
        logged = run.log_model(
            model,
            params={
                "model": model_name,
                "seed": seed,
                "tune_trials": tune_trials,
                **({"tuning": tuning} if tuning else {}),
                **model.get_params(),
            },
            metrics={
                **metrics,
                **{f"{b}.{k}": v for b, m in baselines.items() for k, v in m.items()},
            },
            lineage=info,
            holdout_id=hold,
        )
    decision = promote_if_better(
        client=run.client, version=logged.version, holdout_id=hold, metric=GATE_METRIC
    )
    return TrainReport(
        model_name,
        logged.version,
        logged.run_id,
        hold,
        metrics,
        baselines,
        decision.promoted,
        decision.reason,
        info,
    )


FAILURE_KIND = "training_failed"


@contextmanager
def alert_on_failure(engine: Engine, model_name: str) -> Iterator[None]:
    """A crashed training leaves a clinic-wide alert (no client) besides MLflow's FAILED
    run, so the alert list and Prometheus (``health_advisor_alerts_open``) show it; the
    champion is untouched because the quality gate runs only after a finished run."""
    try:
        yield
    except Exception as exc:
        record_failure(engine, model_name, exc)
        raise


def record_failure(engine: Engine, model_name: str, exc: BaseException) -> None:
    """Upsert today's ``training_failed`` alert of this model (reopened if acknowledged);
    a failure to record never hides the training's own error."""
    today = dt.datetime.now(dt.UTC).date()
    key = f"{FAILURE_KIND}|{model_name}|{today.isoformat()}"
    text = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
    explanation = f"training of the {model_name} model failed ({text}); the champion still serves"
    try:
        with session_scope(engine) as session:
            alert = session.scalar(select(Alert).where(Alert.dedup_key == key))
            if alert is None:
                alert = Alert(
                    client_id=None,
                    dedup_key=key,
                    kind=FAILURE_KIND,
                    severity="warning",
                    metric="model",
                    window_start=today,
                    window_end=today,
                )
                session.add(alert)
            alert.explanation = explanation
            alert.acknowledged_at = None
    except Exception:  # the store may be what failed; the caller re-raises the original
        logging.getLogger(__name__).exception("could not record the training failure alert")


def _flat_metrics(report: pd.DataFrame, model: str) -> dict[str, float]:
    """``segment.metric`` -> value for one model; the warm NDCG@10 is the gate metric."""
    rows = report[report["model"] == model]
    out: dict[str, float] = {}
    for segment, metric, value in rows[["segment", "metric", "value"]].itertuples(index=False):
        name = str(metric).replace("@", "_at_").replace("/", "_per_")
        value = float(value)
        if value == value:  # not NaN
            out[f"{segment}.{name}"] = value
    if f"warm.{GATE_METRIC}" in out:
        out[GATE_METRIC] = out[f"warm.{GATE_METRIC}"]
    if "warm.rmse" in out:
        out["rmse"] = out["warm.rmse"]
    return out
