"""The estimator protocol every recommender follows (scikit-learn's contract).

``__init__`` only stores keyword hyperparameters; ``fit`` validates its inputs and returns
``self``; learned attributes end in ``_``; ``predict`` before ``fit`` raises
:class:`NotFittedError`. Models read pandas DataFrames (interactions from the store,
client features from the feature store, intervention attributes from the catalog) and are
saved without pickle as a folder holding ``model.json`` and ``weights.npz``.

Clients unknown at fit time (cold start) are scored from their features when the model
was fitted with client features and the caller passes the client's row in
``client_features``; without features they get the model's bias-only fallback (global
mean plus the intervention's bias), i.e. what an average client would do.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from health_advisor.errors import InputError, ModelNotReady, NotFoundError
from health_advisor.recommender._data import (
    CLIENT,
    ITEM,
    VALUE,
    FeatureEncoder,
    Id,
    IdIndex,
    features_by_id,
    normalise_id,
    validate_interactions,
    validate_pairs,
)

FORMAT = "health_advisor.recommender/1"
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"


class NotFittedError(ModelNotReady):
    """The estimator is used before ``fit`` (or ``load``)."""


@dataclass
class TrainingData:
    """Validated, indexed training inputs handed to a model's ``_fit``."""

    client_idx: np.ndarray  # int64, position in clients_
    item_idx: np.ndarray  # int64, position in items_
    values: np.ndarray  # float64
    client_features: pd.DataFrame | None  # raw, indexed by client id
    item_features: pd.DataFrame | None  # raw, indexed by intervention id


@dataclass
class ClientRows:
    """Clients of a batch: position in ``clients_`` (-1 unknown) and encoded features."""

    idx: np.ndarray  # int64 (n,)
    x: np.ndarray  # float32 (n, width of the client encoder; 0 without client features)
    has_x: np.ndarray  # bool (n,): a feature row exists for this client


class Recommender(ABC):
    """Base of every recommender: validation, id maps, features, recommend, save and load."""

    registry: ClassVar[dict[str, type[Recommender]]] = {}
    implicit: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls):
            Recommender.registry[cls.__name__] = cls

    # -- hyperparameters (sklearn's get_params / set_params) ---------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise InputError(f"{type(self).__name__}: unknown hyperparameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fit ---------------------------------------------------------------------------

    def fit(
        self,
        interactions: pd.DataFrame,
        client_features: pd.DataFrame | None = None,
        item_features: pd.DataFrame | None = None,
    ) -> Self:
        """Learn from ``interactions`` (client_id, intervention_id, value[, at]).

        ``client_features`` / ``item_features`` are indexed by id (or hold a client_id /
        intervention_id column). Interventions listed only in ``item_features`` are
        still scored (new catalog entries); clients listed only in ``client_features``
        are known cold-start clients.
        """
        self._check_params()
        frame = validate_interactions(interactions)
        clients_f = (
            features_by_id(client_features, CLIENT, "client_features")
            if client_features is not None
            else None
        )
        items_f = (
            features_by_id(item_features, ITEM, "item_features")
            if item_features is not None
            else None
        )
        self.clients_ = IdIndex.from_values(
            frame[CLIENT], [] if clients_f is None else clients_f.index
        )
        self.items_ = IdIndex.from_values(frame[ITEM], [] if items_f is None else items_f.index)
        self.client_encoder_ = (
            FeatureEncoder.fit(clients_f, "client_features") if clients_f is not None else None
        )
        self.item_encoder_ = (
            FeatureEncoder.fit(items_f, "item_features") if items_f is not None else None
        )
        self.client_matrix_, self.client_has_features_ = self._encode_table(
            self.client_encoder_, clients_f, self.clients_, "client_features"
        )
        self.item_matrix_, _ = self._encode_table(
            self.item_encoder_, items_f, self.items_, "item_features"
        )
        values = frame[VALUE].to_numpy()
        self.value_range_ = (float(values.min()), float(values.max()))
        data = TrainingData(
            client_idx=self.clients_.lookup(frame[CLIENT]),
            item_idx=self.items_.lookup(frame[ITEM]),
            values=values,
            client_features=clients_f,
            item_features=items_f,
        )
        self._fit(data)
        return self

    def _check_params(self) -> None:  # noqa: B027 (optional hook)
        """Validate hyperparameters; subclasses extend. Raises :class:`InputError`."""

    @staticmethod
    def _encode_table(
        encoder: FeatureEncoder | None, frame: pd.DataFrame | None, index: IdIndex, what: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encoded rows aligned with ``index`` (zeros where an id has no row) and a mask."""
        if encoder is None or frame is None:
            return np.zeros((len(index), 0), np.float32), np.zeros(len(index), bool)
        encoded = encoder.transform(frame, what)
        matrix = np.zeros((len(index), encoder.width), np.float32)
        pos = index.lookup(frame.index)
        matrix[pos] = encoded
        mask = np.zeros(len(index), bool)
        mask[pos] = True
        return matrix, mask

    @abstractmethod
    def _fit(self, data: TrainingData) -> None:
        """Learn the model's parameters (attributes ending in ``_``)."""

    # -- predict / recommend -----------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "items_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit() or load() first"
            )

    def client_rows(
        self, client_ids: Iterable[Any], client_features: pd.DataFrame | None = None
    ) -> ClientRows:
        """Positions and encoded features of ``client_ids`` (features from fit or given)."""
        self._check_fitted()
        return lookup_clients(
            client_ids,
            self.clients_,
            self.client_matrix_,
            self.client_has_features_,
            self.client_encoder_,
            client_features,
        )

    def _item_positions(self, item_ids: Iterable[Any], what: str) -> np.ndarray:
        idx = self.items_.lookup(normalise_id(i) for i in item_ids)
        if (idx < 0).any():
            unknown = list(item_ids)[int(np.flatnonzero(idx < 0)[0])]
            raise InputError(
                f"{what}: unknown intervention_id {unknown!r} (not seen at fit; "
                "pass the catalog as item_features to fit)"
            )
        return idx

    def predict(
        self, pairs: pd.DataFrame, *, client_features: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Predicted value for each (client_id, intervention_id) row, as a 1-D array."""
        self._check_fitted()
        frame = validate_pairs(pairs)
        items = self._item_positions(frame[ITEM].tolist(), "pairs")
        clients = self.client_rows(frame[CLIENT].tolist(), client_features)
        return np.asarray(self._predict(clients, items), dtype=np.float64)

    def score_items(
        self, client_ids: Iterable[Any], *, client_features: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Scores of every intervention (columns in ``items_`` order) for each client."""
        clients = self.client_rows(client_ids, client_features)
        return np.asarray(self._predict_matrix(clients), dtype=np.float64)

    def rank_items(
        self, client_ids: Iterable[Any], *, client_features: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Ranking scores of every intervention (columns in ``items_`` order) per client.

        Higher ranks first; this is the order :meth:`recommend` uses. It equals
        :meth:`score_items` for models whose predictions rank (HybridMF, BiasBaseline)
        and differs where the ranking is not a prediction of ``value`` (popularity,
        rules, implicit ALS confidence), so evaluation ranks exactly as the product does.
        """
        clients = self.client_rows(client_ids, client_features)
        return np.asarray(self._rank_matrix(clients), dtype=np.float64)

    def recommend(
        self,
        client_id: Id,
        k: int = 10,
        exclude: Iterable[Id] | None = None,
        *,
        client_features: pd.DataFrame | None = None,
    ) -> list[tuple[Id, float]]:
        """The ``k`` best interventions for ``client_id`` as (intervention_id, score)."""
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"recommend: k must be a positive integer, got {k!r}")
        clients = self.client_rows([client_id], client_features)
        scores = np.array(self._rank_matrix(clients)[0], dtype=np.float64)
        if exclude is not None:
            drop = self.items_.lookup(normalise_id(e) for e in exclude)
            scores[drop[drop >= 0]] = -np.inf
        return top_k(scores, int(k), self.items_.ids)

    def _rank_matrix(self, clients: ClientRows) -> np.ndarray:
        """Scores that order interventions in :meth:`recommend` (default: predictions)."""
        return self._predict_matrix(clients)

    @abstractmethod
    def _predict(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        """Scores for aligned client rows and item positions."""

    def _predict_matrix(self, clients: ClientRows) -> np.ndarray:
        """(n_clients, n_items) scores; subclasses override with a faster path."""
        n, m = len(clients.idx), len(self.items_)
        repeated = ClientRows(
            idx=np.repeat(clients.idx, m),
            x=np.repeat(clients.x, m, axis=0),
            has_x=np.repeat(clients.has_x, m),
        )
        return self._predict(repeated, np.tile(np.arange(m), n)).reshape(n, m)

    # -- persistence -------------------------------------------------------------------

    def _params_json(self) -> dict[str, Any]:
        return self.get_params()

    @classmethod
    def _params_from_json(cls, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Learned state beyond the base's: JSON-able metadata and named arrays."""
        return {}, {}

    def _restore(  # noqa: B027 (optional hook)
        self, meta: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        """Inverse of :meth:`_state`."""

    def save(self, path: str | Path) -> Path:
        """Write ``model.json`` + ``weights.npz`` into the folder ``path`` (created)."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta, arrays = self._state()
        document = {
            "format": FORMAT,
            "class": type(self).__name__,
            "params": self._params_json(),
            "clients": self.clients_.to_json(),
            "items": self.items_.to_json(),
            "client_encoder": self.client_encoder_.to_json() if self.client_encoder_ else None,
            "item_encoder": self.item_encoder_.to_json() if self.item_encoder_ else None,
            "value_range": list(self.value_range_),
            "state": meta,
        }
        (folder / MODEL_FILE).write_text(json.dumps(document, indent=1), encoding="utf-8")
        base_arrays = {
            "base__client_matrix": self.client_matrix_,
            "base__client_has_features": self.client_has_features_,
            "base__item_matrix": self.item_matrix_,
        }
        all_arrays: dict[str, Any] = {**base_arrays, **arrays}
        np.savez(folder / WEIGHTS_FILE, **all_arrays)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """A fitted model from a folder written by :meth:`save` (any subclass)."""
        document, arrays = read_saved(path)
        name = document["class"]
        target = Recommender.registry.get(name)
        if target is None or not issubclass(target, cls):
            raise InputError(f"{path}: holds a {name}, not a {cls.__name__}")
        model = target(**target._params_from_json(document["params"]))
        model.clients_ = IdIndex.from_json(document["clients"])
        model.items_ = IdIndex.from_json(document["items"])
        model.client_encoder_ = _encoder(document["client_encoder"])
        model.item_encoder_ = _encoder(document["item_encoder"])
        model.value_range_ = (float(document["value_range"][0]), float(document["value_range"][1]))
        model.client_matrix_ = arrays.pop("base__client_matrix")
        model.client_has_features_ = arrays.pop("base__client_has_features")
        model.item_matrix_ = arrays.pop("base__item_matrix")
        model._restore(document["state"], arrays)
        return model


def lookup_clients(
    client_ids: Iterable[Any],
    clients: IdIndex,
    matrix: np.ndarray,
    has_features: np.ndarray,
    encoder: FeatureEncoder | None,
    client_features: pd.DataFrame | None = None,
) -> ClientRows:
    """Rows for ``client_ids``: fit-time features, overridden by ``client_features`` rows."""
    ids = [normalise_id(c) for c in client_ids]
    idx = clients.lookup(ids)
    x = np.zeros((len(ids), matrix.shape[1]), np.float32)
    has_x = np.zeros(len(ids), bool)
    known = idx >= 0
    x[known] = matrix[idx[known]]
    has_x[known] = has_features[idx[known]]
    if client_features is not None and encoder is not None:
        given = features_by_id(client_features, CLIENT, "client_features")
        pos = pd.Index(given.index).get_indexer(pd.Index(ids, dtype=object))
        rows = np.flatnonzero(pos >= 0)
        if rows.size:
            encoded = encoder.transform(given, "client_features")
            x[rows] = encoded[pos[rows]]
            has_x[rows] = True
    return ClientRows(idx=idx, x=x, has_x=has_x)


def _encoder(data: dict[str, Any] | None) -> FeatureEncoder | None:
    return FeatureEncoder.from_json(data) if data is not None else None


def read_saved(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON document and the arrays of a saved model folder."""
    folder = Path(path)
    if not (folder / MODEL_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise NotFoundError(f"{folder}: no saved model ({MODEL_FILE} and {WEIGHTS_FILE})")
    document = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise InputError(f"{folder / MODEL_FILE}: unknown format {document.get('format')!r}")
    with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return document, arrays


def top_k(scores: np.ndarray, k: int, ids: list[Id]) -> list[tuple[Id, float]]:
    """The ``k`` highest finite scores as (id, score), best first; ties by position."""
    finite = np.flatnonzero(np.isfinite(scores))
    k = min(k, finite.size)
    if k == 0:
        return []
    candidates = finite[np.argpartition(-scores[finite], k - 1)[:k]] if k < finite.size else finite
    order = candidates[np.lexsort((candidates, -scores[candidates]))]
    return [(ids[i], float(scores[i])) for i in order]
