"""Budgeted hyperparameter search with Optuna (``health-advisor train --tune``).

Where it sits: between the datasets and ``fit``. A *model factory* turns one Optuna
trial into an unfitted estimator (it calls ``trial.suggest_*`` for what it searches);
each trial fits on ``split.train`` and is scored on the split's held-out segments with
:func:`health_advisor.recommender.evaluation.evaluate_models`, so the search optimises
exactly what the report shows. The sampler is TPE with a fixed seed and trials run one
at a time, so the same budget and seed give the same study (up to TensorFlow's own
determinism for HybridMF). The budget is ``n_trials`` and/or ``timeout_s``, whichever
ends first.

Search spaces for the shipped models are :func:`bias_space` and :func:`hybrid_space`
(around :func:`health_advisor.recommender.datasets.clinic_defaults`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from health_advisor.errors import InputError
from health_advisor.recommender.base import Recommender
from health_advisor.recommender.evaluation import EvalConfig, Split, evaluate_models

ModelFactory = Callable[[Any], Recommender]
"""``factory(trial) -> unfitted Recommender``; ``trial`` is an ``optuna.Trial``."""

LOWER_IS_BETTER = ("rmse", "mae", "rmse/floor")


@dataclass(frozen=True)
class TuneResult:
    """The best hyperparameters, their score and a summary of every trial."""

    best_params: dict[str, Any]
    best_value: float
    metric: str
    segment: str
    direction: Literal["minimize", "maximize"]
    trials: pd.DataFrame  # number, value, state, duration_s, params_*
    elapsed_s: float

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (for MLflow and bench/results)."""
        complete = self.trials[self.trials["state"] == "COMPLETE"]
        return {
            "metric": f"{self.segment}:{self.metric}",
            "direction": self.direction,
            "best_value": self.best_value,
            "best_params": self.best_params,
            "n_trials": len(self.trials),
            "n_complete": len(complete),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def direction_for(metric: str) -> Literal["minimize", "maximize"]:
    """``minimize`` for error metrics, ``maximize`` for ranking metrics."""
    return "minimize" if metric in LOWER_IS_BETTER else "maximize"


def tune(
    model_factory: ModelFactory,
    split: Split,
    n_trials: int | None = 20,
    timeout_s: float | None = None,
    metric: str = "ndcg@10",
    *,
    segment: str = "warm",
    client_features: pd.DataFrame | None = None,
    item_features: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    seed: int = 0,
    k: int = 10,
) -> TuneResult:
    """Search hyperparameters with seeded TPE within ``n_trials`` / ``timeout_s``.

    Each trial: ``model_factory(trial).fit(split.train, client_features,
    item_features)`` and then the report's ``metric`` on ``segment`` (e.g.
    ``ndcg@10``, ``rmse``, ``oracle_ndcg@10`` with ``truth``; no bootstrap). A trial
    whose fit fails with an :class:`InputError` (a bad combination) is recorded as
    failed and the search goes on.
    """
    if n_trials is None and timeout_s is None:
        raise InputError("tune: give a budget, n_trials and/or timeout_s")
    if n_trials is not None and n_trials < 1:
        raise InputError(f"tune: n_trials must be >= 1, got {n_trials}")
    if segment not in split.segments():
        raise InputError(f"tune: the split has no {segment!r} segment")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = direction_for(metric)
    config = EvalConfig(k=k, n_bootstrap=0, seed=seed)
    only = Split(
        train=split.train,
        test=split.test if segment == "warm" else split.test.iloc[:0],
        cold=split.cold if segment == "cold" else split.cold.iloc[:0],
        cold_clients=split.cold_clients,
    )

    def objective(trial: Any) -> float:
        model = model_factory(trial)
        model.fit(split.train, client_features, item_features)
        report = evaluate_models(
            {"model": model}, only, truth, client_features=client_features, config=config
        )
        return _pick(report, metric, segment)

    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
    started = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, timeout=timeout_s, catch=(InputError,))
    elapsed = time.perf_counter() - started
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise InputError("tune: no trial completed within the budget")
    return TuneResult(
        best_params=dict(study.best_params),
        best_value=float(study.best_value),
        metric=metric,
        segment=segment,
        direction=direction,
        trials=_trials_frame(study),
        elapsed_s=elapsed,
    )


def _pick(report: pd.DataFrame, metric: str, segment: str) -> float:
    rows = report[
        (report["model"] == "model") & (report["segment"] == segment) & (report["metric"] == metric)
    ]
    if rows.empty:
        known = sorted(set(report["metric"]))
        raise InputError(f"tune: metric {metric!r} not in the report; known: {', '.join(known)}")
    value = float(rows["value"].iloc[0])
    if not np.isfinite(value):
        raise InputError(f"tune: metric {metric!r} is not finite on segment {segment!r}")
    return value


def _trials_frame(study: Any) -> pd.DataFrame:
    rows = []
    for trial in study.trials:
        duration = trial.duration.total_seconds() if trial.duration is not None else np.nan
        row = {
            "number": trial.number,
            "value": trial.value,
            "state": trial.state.name,
            "duration_s": duration,
        }
        row.update({f"params_{k}": v for k, v in trial.params.items()})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- spaces
def bias_space(trial: Any) -> Recommender:
    """BiasBaseline: client and intervention regularisation (log scale)."""
    from health_advisor.recommender.baselines import BiasBaseline

    return BiasBaseline(
        reg_client=trial.suggest_float("reg_client", 0.1, 100.0, log=True),
        reg_item=trial.suggest_float("reg_item", 0.1, 100.0, log=True),
    )


def hybrid_space(base: dict[str, Any] | None = None) -> ModelFactory:
    """HybridMF around ``base`` (default :func:`clinic_defaults`): the feature stage's L2
    and learning rate, embedding size, tower width, and the ridge penalties of the id
    stage (``id_dropout`` and ``ridge_sweeps`` stay as in ``base``)."""
    from health_advisor.recommender.datasets import clinic_defaults
    from health_advisor.recommender.keras_hybrid import HybridMF

    defaults = {**clinic_defaults(), **(base or {})}

    def factory(trial: Any) -> Recommender:
        params = {
            **defaults,
            "l2": trial.suggest_float("l2", 1e-3, 0.1, log=True),
            "l2_towers": trial.suggest_float("l2_towers", 5e-3, 5e-2, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True),
            "embedding_dim": trial.suggest_categorical("embedding_dim", [16, 32, 48]),
            "hidden_units": trial.suggest_categorical("hidden_units", [16, 32, 64]),
            "ridge_clients": trial.suggest_float("ridge_clients", 0.5, 20.0, log=True),
            "ridge_items": trial.suggest_float("ridge_items", 0.5, 20.0, log=True),
        }
        return HybridMF(**params)

    return factory
