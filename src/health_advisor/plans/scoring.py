"""The champion model as the plan service sees it: adherence scores for one client.

Loading the champion reads the MLflow registry (imported here, lazily) and the model's
NumPy weights; TensorFlow is never imported. The loaded model is kept per process and
per version, so the API pays the load once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from health_advisor.config import Settings
from health_advisor.errors import ModelNotReady

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChampionCache", "ChampionScorer", "load_champion", "model_features"]


class ChampionScorer:
    """Adapts a NumpyScorer (HybridMF) or a fitted Recommender to the plan service."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def _known(self) -> Any:
        return self.model.clients if hasattr(self.model, "score_rows") else self.model.clients_

    def knows(self, client_id: str) -> bool:
        return bool(self._known().lookup([client_id])[0] >= 0)

    def client_scores(
        self, client_id: str, survey: Mapping[str, Any], features: Mapping[str, Any]
    ) -> dict[str, float]:
        """Predicted value of every intervention for one client from the latest survey's
        answers and snapshot features (both may be empty: the fit-time features, or none)."""
        if hasattr(self.model, "score_client"):  # NumpyScorer: no frames, ~0.1 ms
            from health_advisor.recommender.datasets import client_feature_row

            row = client_feature_row(survey, features or None) if survey or features else None
            scores = self.model.score_client(client_id, row)
            ids = self.model.item_ids
        else:
            frame = self._aligned(model_features(client_id, survey, features))
            scores = self.model.score_items([client_id], client_features=frame)[0]
            ids = self.model.items_.ids
        return {str(i): float(s) for i, s in zip(ids, scores, strict=True)}

    def _aligned(self, features: pd.DataFrame | None) -> pd.DataFrame | None:
        """The columns the model was fitted with; one client's row lacks the snapshot
        columns it has no value for, and the encoder treats missing numbers as the mean."""
        encoder = self.model.client_encoder_
        if features is None or encoder is None:
            return None
        return features.reindex(columns=[*encoder.numeric, *encoder.categorical])


def model_features(
    client_id: str, survey: Mapping[str, Any], features: Mapping[str, Any]
) -> pd.DataFrame | None:
    """The client's feature row as a frame, in the shape the recommender was trained on
    (the path of fitted Recommenders; the NumpyScorer reads the row without frames)."""
    import pandas as pd

    from health_advisor.recommender.datasets import client_features

    if not survey and not features:
        return None
    surveys = pd.DataFrame([{**survey, "client_id": client_id}])
    snapshots = pd.DataFrame([{**features, "client_id": client_id}]) if features else None
    return client_features(surveys, snapshots)


_lock = threading.Lock()
_cache: dict[tuple[str, int], ChampionScorer] = {}


def load_champion(settings: Settings) -> tuple[tuple[ChampionScorer, int] | None, str | None]:
    """The champion (scorer, version), or (None, why) when none can be used.

    ``why`` is ``no_model`` when nothing is registered yet.
    """
    from health_advisor.recommender import registry, tracking

    uri = settings.resolved_mlflow_tracking_uri
    try:
        client = tracking.connect(uri, create=False)
        version = registry.champion_version(client=client)
        if version is None:
            return None, "no_model"
        with _lock:
            cached = _cache.get((uri, version))
            if cached is None:
                model, version = registry.load_champion(client=client, dest=settings.model_cache)
                cached = _cache[(uri, version)] = ChampionScorer(model)
        return (cached, version), None
    except ModelNotReady:
        return None, "no_model"


class ChampionCache:
    """The champion for a long-running server: looked up in the registry at most every
    ``ttl`` seconds (a promotion or rollback is picked up within that time), so serving
    a plan costs no registry round trip."""

    def __init__(
        self,
        settings: Settings,
        *,
        ttl: float = 60.0,
        on_load: Callable[[], None] | None = None,
    ) -> None:
        self.settings, self.ttl, self.on_load = settings, ttl, on_load
        self._lock = threading.Lock()
        self._value: tuple[tuple[ChampionScorer, int] | None, str | None] | None = None
        self._version: int | None = None
        self._at = 0.0

    def get(self) -> tuple[tuple[ChampionScorer, int] | None, str | None]:
        """The champion; ``on_load`` runs after a new version is first loaded."""
        now = time.monotonic()
        with self._lock:
            if self._value is None or now - self._at > self.ttl:
                self._value, self._at = load_champion(self.settings), now
                model = self._value[0]
                version = model[1] if model is not None else None
                if version != self._version and model is not None and self.on_load:
                    self.on_load()
                self._version = version
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None
