"""The quality gate and champion management over MLflow's model registry.

The ``registry ──▶ champion ──▶ scorer`` arrow of the data flow. The version that serves
is the one the alias ``champion`` points at. A newly trained version becomes champion
only through :func:`promote_if_better`: it must beat the champion's metric on the *same*
holdout (the runs' ``holdout_id`` tags), since scores from different holdouts do not
compare. A person can override with :func:`promote` and undo with :func:`rollback`; every
change is recorded (version tags ``promoted_by``, ``promotion_reason``, ``gate.*``; the
registered model's ``champion_history`` tag; alias ``previous_champion``).

:func:`load_champion` is what the API and the plan composer call: it downloads the
champion's model folder once per version and loads it with NumPy only (a HybridMF through
:class:`~health_advisor.recommender.scorer.NumpyScorer`; baselines through
``Recommender.load``), never importing TensorFlow.

Every function takes an ``MlflowClient`` (see
:func:`health_advisor.recommender.tracking.connect`); MLflow itself is imported lazily.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from health_advisor.errors import ConflictError, InputError, ModelNotReady, NotFoundError
from health_advisor.recommender.base import MODEL_FILE, Recommender
from health_advisor.recommender.scorer import NumpyScorer
from health_advisor.recommender.tracking import (
    MODEL_ARTIFACT,
    MODEL_NAME,
    TAG_HOLDOUT,
    TAG_MODEL_CLASS,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
PREVIOUS = "previous_champion"
HISTORY_TAG = "champion_history"  # registered-model tag: JSON list, oldest first
HISTORY_LIMIT = 100
DEFAULT_METRIC = "ndcg_at_10"
FAILED_STATUSES = frozenset({"FAILED", "KILLED"})

Champion = NumpyScorer | Recommender


@dataclass(frozen=True)
class GateDecision:
    """The outcome of :func:`promote_if_better`, with the figures it compared."""

    promoted: bool
    reason: str
    champion_version: int | None  # the champion before the decision
    challenger_version: int
    champion_metric: float | None
    challenger_metric: float | None
    metric: str
    holdout_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- reading


def champion_version(*, client: MlflowClient, name: str = MODEL_NAME) -> int | None:
    """The version the ``champion`` alias points at; None without one."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = client.get_registered_model(name).aliases
    except MlflowException:
        return None
    version = aliases.get(CHAMPION)
    return int(version) if version is not None else None


def _version(client: MlflowClient, name: str, version: int) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise NotFoundError(f"model {name}: no version {version}") from exc


def _run(client: MlflowClient, model_version: ModelVersion) -> Run:
    if not model_version.run_id:
        raise InputError(f"model version {model_version.version} is not linked to a run")
    return client.get_run(model_version.run_id)


def _metric(run: Run, metric: str) -> float | None:
    value = run.data.metrics.get(metric)
    return None if value is None or not math.isfinite(value) else float(value)


def _history(client: MlflowClient, name: str) -> list[int]:
    text = client.get_registered_model(name).tags.get(HISTORY_TAG)
    return [int(v) for v in json.loads(text)] if text else []


def _iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms else None


def list_versions(*, client: MlflowClient, name: str = MODEL_NAME) -> list[dict[str, Any]]:
    """Every version, oldest first, as JSON-ready dicts (the ``model list`` rows)."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = client.get_registered_model(name).aliases
    except MlflowException:
        return []
    by_version: dict[int, list[str]] = {}
    for alias, v in aliases.items():
        by_version.setdefault(int(v), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        run = _run(client, mv)
        version = int(mv.version)
        rows.append(
            {
                "version": version,
                "run_id": mv.run_id,
                "run_status": run.info.status,
                "model_class": run.data.tags.get(TAG_MODEL_CLASS),
                "holdout_id": run.data.tags.get(TAG_HOLDOUT),
                "metrics": dict(sorted(run.data.metrics.items())),
                "is_champion": CHAMPION in by_version.get(version, []),
                "aliases": sorted(by_version.get(version, [])),
                "created": _iso(mv.creation_timestamp),
                "promoted_by": mv.tags.get("promoted_by"),
                "gate_decision": mv.tags.get("gate.decision"),
                "gate_reason": mv.tags.get("gate.reason"),
            }
        )
    return sorted(rows, key=lambda row: row["version"])


# --------------------------------------------------------------------------- changing


def _set_champion(client: MlflowClient, name: str, version: int, by: str, reason: str) -> None:
    """Point ``champion`` at ``version`` and record who, why and what it replaced."""
    current = champion_version(client=client, name=name)
    client.set_registered_model_alias(name, CHAMPION, str(version))
    if current is not None:
        client.set_registered_model_alias(name, PREVIOUS, str(current))
    history = [*_history(client, name), version][-HISTORY_LIMIT:]
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    for key, value in {
        "promoted_by": by,
        "promotion_reason": reason,
        "promoted_at": datetime.now(UTC).isoformat(),
    }.items():
        client.set_model_version_tag(name, str(version), key, value)


def _refuse_failed(run: Run, version: int) -> None:
    if run.info.status in FAILED_STATUSES:
        raise ConflictError(
            f"version {version} comes from a {run.info.status} run ({run.info.run_id}); "
            "it cannot serve"
        )


def promote(
    *,
    client: MlflowClient,
    version: int,
    by: str = "manual",
    reason: str = "manual promotion",
    name: str = MODEL_NAME,
) -> int | None:
    """Make ``version`` the champion regardless of metrics; returns the one it replaced."""
    model_version = _version(client, name, version)
    _refuse_failed(_run(client, model_version), version)
    current = champion_version(client=client, name=name)
    if current == version:
        raise ConflictError(f"version {version} is already the champion")
    _set_champion(client, name, version, by, reason)
    return current


def rollback(*, client: MlflowClient, by: str = "manual", name: str = MODEL_NAME) -> int:
    """Give the champion back to the one before it; returns the restored version."""
    current = champion_version(client=client, name=name)
    if current is None:
        raise ModelNotReady("no champion model to roll back")
    history = _history(client, name)
    if history and history[-1] == current:
        history.pop()
    if not history:
        raise ConflictError(f"version {current} is the first champion; nothing to roll back to")
    restored = history[-1]
    client.set_registered_model_alias(name, CHAMPION, str(restored))
    if len(history) > 1:
        client.set_registered_model_alias(name, PREVIOUS, str(history[-2]))
    else:
        client.delete_registered_model_alias(name, PREVIOUS)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    stamp = datetime.now(UTC).isoformat()
    client.set_model_version_tag(name, str(current), "rolled_back_by", by)
    client.set_model_version_tag(name, str(current), "rolled_back_at", stamp)
    return restored


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class _Side:
    version: int
    holdout_id: str | None
    metric: float | None
    status: str


def _side(client: MlflowClient, name: str, version: int, metric: str) -> _Side:
    run = _run(client, _version(client, name, version))
    return _Side(version, run.data.tags.get(TAG_HOLDOUT), _metric(run, metric), run.info.status)


def _beats(challenger: float, champion: float, higher_is_better: bool, margin: float) -> bool:
    gain = challenger - champion if higher_is_better else champion - challenger
    return gain > margin


def _judge(
    challenger: _Side,
    champion: _Side | None,
    *,
    metric: str,
    holdout_id: str,
    higher_is_better: bool,
    min_improvement: float,
) -> tuple[bool, str]:
    """(promote?, reason): the gate's rules, free of MLflow."""
    v = challenger.version
    if challenger.status in FAILED_STATUSES:
        return False, f"version {v} comes from a {challenger.status} run"
    if challenger.holdout_id != holdout_id:
        return False, (
            f"version {v} was evaluated on holdout {challenger.holdout_id!r}, not {holdout_id!r}"
        )
    if challenger.metric is None:
        return False, f"version {v} has no finite {metric} metric"
    if champion is None:
        return True, (
            f"no champion yet: version {v} becomes the first "
            f"({metric}={challenger.metric:.4f} on holdout {holdout_id!r})"
        )
    c = champion.version
    if c == v:
        return False, f"version {v} is already the champion"
    if champion.holdout_id != holdout_id:
        return False, (
            f"champion v{c} was evaluated on holdout {champion.holdout_id!r} and version {v} on "
            f"{holdout_id!r}: the metrics do not compare; evaluate both on one holdout "
            "or promote by hand"
        )
    if champion.metric is None:
        return False, f"champion v{c} has no finite {metric} metric to compare with"
    better = _beats(challenger.metric, champion.metric, higher_is_better, min_improvement)
    relation = (">" if higher_is_better else "<") if better else "does not beat"
    margin = f" by more than {min_improvement}" if min_improvement else ""
    return better, (
        f"{metric} {challenger.metric:.4f} {relation} {champion.metric:.4f} of champion v{c}"
        f"{margin} on holdout {holdout_id!r}"
    )


def promote_if_better(
    *,
    client: MlflowClient,
    version: int,
    holdout_id: str,
    metric: str = DEFAULT_METRIC,
    higher_is_better: bool = True,
    min_improvement: float = 0.0,
    name: str = MODEL_NAME,
) -> GateDecision:
    """The quality gate: make ``version`` champion only if it beats the champion.

    Both versions' runs must carry ``holdout_id``; without a champion the challenger is
    promoted when its metric exists. The decision and reason are tagged on the version.
    """
    challenger = _side(client, name, version, metric)
    current = champion_version(client=client, name=name)
    champion = _side(client, name, current, metric) if current is not None else None
    promoted, reason = _judge(
        challenger,
        champion,
        metric=metric,
        holdout_id=holdout_id,
        higher_is_better=higher_is_better,
        min_improvement=min_improvement,
    )
    client.set_model_version_tag(name, str(version), "gate.decision", _word(promoted))
    client.set_model_version_tag(name, str(version), "gate.reason", reason)
    if promoted:
        _set_champion(client, name, version, "gate", reason)
    return GateDecision(
        promoted=promoted,
        reason=reason,
        champion_version=current,
        challenger_version=version,
        champion_metric=champion.metric if champion else None,
        challenger_metric=challenger.metric,
        metric=metric,
        holdout_id=holdout_id,
    )


def _word(promoted: bool) -> str:
    return "promoted" if promoted else "refused"


# --------------------------------------------------------------------------- serving


def load_champion(
    *, client: MlflowClient, dest: Path, name: str = MODEL_NAME
) -> tuple[Champion, int]:
    """The champion, loaded without TensorFlow, and its version.

    Artifacts are downloaded once per version into ``dest/v<version>-<run id>``;
    raises :class:`ModelNotReady` when no champion exists.
    """
    folder, version = champion_folder(client=client, dest=dest, name=name)
    document = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
    if document.get("class") == "HybridMF":
        return NumpyScorer.load(folder), version
    return Recommender.load(folder), version


def champion_folder(
    *, client: MlflowClient, dest: Path, name: str = MODEL_NAME
) -> tuple[Path, int]:
    """The champion's saved model folder (downloaded under ``dest``) and its version."""
    version = champion_version(client=client, name=name)
    if version is None:
        raise ModelNotReady(
            "no champion model yet: train one (health-advisor train) "
            "or promote a version (health-advisor model promote VERSION)"
        )
    model_version = client.get_model_version_by_alias(name, CHAMPION)
    return _download(client, model_version, Path(dest)), version


def _download(client: MlflowClient, model_version: ModelVersion, dest: Path) -> Path:
    """The version's model folder under ``dest``, fetched unless already complete."""
    target = dest / f"v{model_version.version}-{model_version.run_id}"
    if (target / MODEL_FILE).is_file():
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as tmp:
        local = client.download_artifacts(str(model_version.run_id), MODEL_ARTIFACT, tmp)
        if not (Path(local) / MODEL_FILE).is_file():
            raise NotFoundError(
                f"model version {model_version.version}: no {MODEL_FILE} in its artifacts"
            )
        shutil.rmtree(target, ignore_errors=True)
        Path(local).rename(target)
    return target
