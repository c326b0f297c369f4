"""Recording training runs in MLflow and registering each trained model as a new version.

This is the ``recommender.fit ──▶ MLflow run + registry`` arrow of the data flow: a run
holds the hyperparameters, the evaluation metrics, the lineage of its inputs (source file
sha256s, feature snapshot and catalog versions) and the holdout it was evaluated on; its
artifacts hold the saved model folder (``model.json`` + ``weights.npz``, which
:class:`~health_advisor.recommender.scorer.NumpyScorer` loads directly when the model is a
HybridMF) and ``lineage.json``. Every logged model becomes a new version of the registered
model :data:`MODEL_NAME`; whether it serves is decided by
:mod:`health_advisor.recommender.registry` (the quality gate).

A run whose body raises is ended as FAILED (KILLED on Ctrl-C) and the exception goes on;
nothing it did changes the champion.

MLflow is imported inside functions only: importing it takes seconds, and the CLI and the
API must start fast. The embedded default store is SQLite (MLflow 3's recommended local
backend; the file store is legacy), with artifacts in a folder beside the database file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from health_advisor.errors import InputError, ModelNotReady

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from health_advisor.recommender.base import Recommender

MODEL_NAME = "health-advisor-recommender"
"""The registered model every training run adds a version to."""
DEFAULT_EXPERIMENT = "health-advisor"
MODEL_ARTIFACT = "model"
"""Artifact folder of a run holding the saved model (what a model version points at)."""
REPORTS_ARTIFACT = "reports"
LINEAGE_FILE = "lineage.json"
ARTIFACTS_FOLDER = "mlartifacts"

TAG_HOLDOUT = "holdout_id"
TAG_MODEL_CLASS = "model_class"
TAG_SCORER = "scorer"  # "numpy" when NumpyScorer can serve the model folder
TAG_LINEAGE_DIGEST = "lineage_digest"
TAG_LINEAGE_PREFIX = "lineage."
TAG_ERROR = "error"

_NAME = re.compile(r"^[/\w.\- :]*$")  # MLflow's rule for param, metric and tag keys
_MAX_KEY = 250
_MAX_PARAM = 6000
_MAX_TAG = 5000  # under MLflow's 8000 so a tag always fits
_BATCH = 100


@dataclass(frozen=True)
class RunInfo:
    """What a logged training run produced."""

    run_id: str
    experiment_id: str
    version: int
    model_uri: str  # models:/health-advisor-recommender/<version>
    artifact_uri: str  # where the model folder lives (the version's source)
    model_class: str
    holdout_id: str
    tracking_uri: str


# --------------------------------------------------------------------------- store


def default_tracking_uri(home: Path) -> str:
    """The embedded store under ``home``: ``sqlite:///<home>/mlflow.db`` (absolute)."""
    from health_advisor.config import Settings

    return Settings(home=Path(home), mlflow_tracking_uri=None).resolved_mlflow_tracking_uri


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for other stores."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    # sqlite:///relative/x.db is relative to the working folder; sqlite:////abs/x.db absolute
    return Path(unquote(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]))


def artifact_root(tracking_uri: str) -> str | None:
    """Artifacts of a SQLite store go beside its file; other stores use their own root."""
    db = sqlite_path(tracking_uri)
    if db is None:
        return None
    return (db.resolve().parent / ARTIFACTS_FOLDER).as_uri()


def connect(tracking_uri: str, *, create: bool = True) -> MlflowClient:
    """An MLflow client for tracking and registry on ``tracking_uri`` (telemetry off).

    With ``create=False`` a missing SQLite file raises :class:`ModelNotReady` instead of
    creating (and migrating, several seconds) an empty store: reading commands use it.
    """
    db = sqlite_path(tracking_uri)
    if db is not None:
        if not create and not db.is_file():
            raise ModelNotReady(
                f"no model registry at {db}; train a model first (health-advisor train)"
            )
        db.parent.mkdir(parents=True, exist_ok=True)
    # The product keeps health data local and must not phone home: MLflow 3 sends usage
    # telemetry unless told not to (an operator may still set the variable to false).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(client: MlflowClient, name: str, tracking_uri: str) -> str:
    """The id of experiment ``name``, created (artifacts beside a SQLite store) if new."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifact_root(tracking_uri)))


# --------------------------------------------------------------------------- values


def _check_key(key: object, what: str) -> str:
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY or not _NAME.match(key):
        raise InputError(
            f"{what} name {key!r}: use 1-{_MAX_KEY} letters, digits, '_', '-', '.', ' ', ':' or '/'"
        )
    return key


def _text(value: Any) -> str:
    """A param or tag value as text: scalars as str, containers as canonical JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def param_values(params: Mapping[str, Any]) -> dict[str, str]:
    """Hyperparameters as MLflow params (text), validated."""
    out: dict[str, str] = {}
    for key, value in params.items():
        text = _text(value)
        if len(text) > _MAX_PARAM:
            raise InputError(f"param {key!r}: value longer than {_MAX_PARAM} characters")
        out[_check_key(key, "param")] = text
    return out


def metric_values(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Evaluation metrics as finite floats, validated."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"metric {key!r}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise InputError(f"metric {key!r}: expected a finite number, got {value!r}")
        out[_check_key(key, "metric")] = float(value)
    return out


def lineage_digest(lineage: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``lineage``: equal inputs, equal digest."""
    canonical = json.dumps(lineage, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def lineage_tags(lineage: Mapping[str, Any]) -> dict[str, str]:
    """``lineage.<key>`` tags (values too long for a tag point at ``lineage.json``)."""
    tags = {TAG_LINEAGE_DIGEST: lineage_digest(lineage)}
    for key, value in lineage.items():
        name = TAG_LINEAGE_PREFIX + re.sub(r"[^\w.\- /]", "_", str(key))[: _MAX_KEY - 8]
        text = _text(value)
        tags[name] = text if len(text) <= _MAX_TAG else f"(see {LINEAGE_FILE})"
    return tags


# --------------------------------------------------------------------------- runs


class TrainingRun:
    """An MLflow run in progress, handed out by :func:`training_run`."""

    def __init__(
        self, client: MlflowClient, run_id: str, experiment_id: str, tracking_uri: str
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.tracking_uri = tracking_uri

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in param_values(params).items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + _BATCH])

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = _now_ms()
        items = [Metric(k, v, now, step) for k, v in metric_values(metrics).items()]
        for start in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[start : start + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(_check_key(k, "tag"), _text(v)[:_MAX_TAG]) for k, v in tags.items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, tags=items[start : start + _BATCH])

    def log_model(
        self,
        model: Recommender,
        *,
        params: Mapping[str, Any],
        metrics: Mapping[str, Any],
        lineage: Mapping[str, Any],
        holdout_id: str,
        artifacts_dir: Path | None = None,
        model_name: str = MODEL_NAME,
    ) -> RunInfo:
        """Log params, metrics, lineage and the saved model; register a new version."""
        if not holdout_id:
            raise InputError("holdout_id: expected the id of the holdout the metrics come from")
        model_class = type(model).__name__
        self.log_params(params)
        self.log_metrics(metrics)
        tags = {TAG_HOLDOUT: holdout_id, TAG_MODEL_CLASS: model_class, **lineage_tags(lineage)}
        tags[TAG_SCORER] = "numpy" if model_class == "HybridMF" else "estimator"
        self.set_tags(tags)
        self._log_files(model, lineage, artifacts_dir)
        source = f"{self.client.get_run(self.run_id).info.artifact_uri}/{MODEL_ARTIFACT}"
        version = register_version(
            self.client,
            name=model_name,
            source=source,
            run_id=self.run_id,
            tags={k: tags[k] for k in (TAG_HOLDOUT, TAG_MODEL_CLASS, TAG_SCORER)},
        )
        return RunInfo(
            run_id=self.run_id,
            experiment_id=self.experiment_id,
            version=version,
            model_uri=f"models:/{model_name}/{version}",
            artifact_uri=source,
            model_class=model_class,
            holdout_id=holdout_id,
            tracking_uri=self.tracking_uri,
        )

    def _log_files(
        self, model: Recommender, lineage: Mapping[str, Any], artifacts_dir: Path | None
    ) -> None:
        with tempfile.TemporaryDirectory(prefix="health-advisor-run-") as tmp:
            folder = model.save(Path(tmp) / MODEL_ARTIFACT)
            self.client.log_artifacts(self.run_id, str(folder), MODEL_ARTIFACT)
            text = json.dumps(lineage, sort_keys=True, indent=1, default=str)
            (Path(tmp) / LINEAGE_FILE).write_text(text, encoding="utf-8")
            self.client.log_artifact(self.run_id, str(Path(tmp) / LINEAGE_FILE))
        if artifacts_dir is not None:
            if not Path(artifacts_dir).is_dir():
                raise InputError(f"{artifacts_dir}: artifacts_dir is not a folder")
            self.client.log_artifacts(self.run_id, str(artifacts_dir), REPORTS_ARTIFACT)


def register_version(
    client: MlflowClient, *, name: str, source: str, run_id: str, tags: Mapping[str, str]
) -> int:
    """A new version of registered model ``name`` (created on first use) from ``source``."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="Health Advisor adherence recommender (see the quality gate)"
        )
    version = client.create_model_version(name, source=source, run_id=run_id, tags=dict(tags))
    return int(version.version)


@contextmanager
def training_run(
    *,
    tracking_uri: str,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[TrainingRun]:
    """An MLflow run around training: FINISHED on success, FAILED if the body raises.

    Wrap ``fit`` and evaluation in it so that a failed training leaves a FAILED run
    (with an ``error`` tag) and no new version; call the quality gate after the block.
    """
    client = connect(tracking_uri)
    experiment_id = ensure_experiment(client, experiment, tracking_uri)
    run = client.create_run(experiment_id, run_name=run_name)
    handle = TrainingRun(client, run.info.run_id, experiment_id, tracking_uri)
    try:
        if tags:
            handle.set_tags(tags)
        yield handle
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        client.set_tag(handle.run_id, TAG_ERROR, f"{type(exc).__name__}: {exc}"[:_MAX_TAG])
        client.set_terminated(handle.run_id, status=status)
        raise
    client.set_terminated(handle.run_id, status="FINISHED")


def log_training_run(
    *,
    model: Recommender,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    lineage: Mapping[str, Any],
    holdout_id: str,
    artifacts_dir: Path | None,
    tracking_uri: str,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    model_name: str = MODEL_NAME,
) -> RunInfo:
    """Log an already trained and evaluated ``model`` as one run and register it."""
    with training_run(tracking_uri=tracking_uri, experiment=experiment, run_name=run_name) as run:
        return run.log_model(
            model,
            params=params,
            metrics=metrics,
            lineage=lineage,
            holdout_id=holdout_id,
            artifacts_dir=artifacts_dir,
            model_name=model_name,
        )


def _now_ms() -> int:
    return int(time.time() * 1000)
