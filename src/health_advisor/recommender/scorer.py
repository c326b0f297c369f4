"""Scoring a trained :class:`~health_advisor.recommender.keras_hybrid.HybridMF` with NumPy.

The API and batch scoring load a saved HybridMF folder (``model.json`` + ``weights.npz``)
into :class:`NumpyScorer` and never import TensorFlow. Item-side terms (id embedding plus
catalog tower, biases) are computed once at load; scoring a batch of clients is one
chunked matrix product, so 100,000 clients x a 70-intervention catalog takes well under a
second and one client's top-10 a fraction of a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from health_advisor.errors import InputError
from health_advisor.recommender._data import FeatureEncoder, Id, IdIndex, normalise_id
from health_advisor.recommender.base import (
    ClientRows,
    Recommender,
    lookup_clients,
    read_saved,
    top_k,
)

Dense = tuple[np.ndarray, np.ndarray]


def _mlp(x: np.ndarray, layers: list[Dense]) -> np.ndarray:
    """ReLU hidden layers, linear last layer (the towers' architecture)."""
    for n, (kernel, bias) in enumerate(layers):
        x = x @ kernel + bias
        if n < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x


def _tower(arrays: dict[str, np.ndarray], side: str) -> tuple[list[Dense], Dense] | None:
    if f"{side}_linear_kernel" not in arrays:
        return None
    layers = []
    n = 0
    while f"{side}_tower{n}_kernel" in arrays:
        layers.append((arrays[f"{side}_tower{n}_kernel"], arrays[f"{side}_tower{n}_bias"]))
        n += 1
    return layers, (arrays[f"{side}_linear_kernel"], arrays[f"{side}_linear_bias"])


def side_terms(
    arrays: dict[str, np.ndarray], side: str, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(tower vectors, linear bias) of ``side`` ("client" or "item") for encoded rows ``x``.

    None when the model has no tower on that side. HybridMF's ridge sweeps use it too, so
    training and scoring read the towers the same way.
    """
    tower = _tower(arrays, side)
    if tower is None:
        return None
    layers, (kernel, bias) = tower
    return _mlp(x, layers), (x @ kernel + bias)[:, 0]


def encode_row(encoder: FeatureEncoder, row: Mapping[str, object]) -> np.ndarray:
    """One client's encoded feature vector, equal to ``encoder.transform`` of a one-row
    frame holding ``row`` (a column the row lacks reads as missing: the fit-time mean
    for numbers, no category for text), without building the frame."""
    numbers = np.array([_float(row.get(c)) for c in encoder.numeric], np.float64)
    z = np.nan_to_num((numbers - encoder.means) / encoder.stds, nan=0.0, posinf=0.0, neginf=0.0)
    parts = [z]
    for column, categories in encoder.categorical.items():
        onehot = np.zeros(len(categories))
        value = row.get(column)
        if value is not None and value == value and str(value) in categories:  # NaN: missing
            onehot[categories.index(str(value))] = 1.0  # unseen at fit: all zeros
        parts.append(onehot)
    return np.concatenate(parts).astype(np.float32)


def _float(value: object) -> float:
    if value is None:
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"client_features: numeric feature holds {value!r}") from exc


class NumpyScorer:
    """Scores every intervention for clients from exported HybridMF weights."""

    def __init__(
        self,
        *,
        clients: IdIndex,
        items: IdIndex,
        client_encoder: FeatureEncoder | None,
        client_matrix: np.ndarray,
        client_has_features: np.ndarray,
        item_matrix: np.ndarray,
        arrays: dict[str, np.ndarray],
        scaling: dict[str, float],
        mode: str,
        clip: bool,
        value_range: tuple[float, float],
    ) -> None:
        self.clients, self.items = clients, items
        self.client_encoder = client_encoder
        self.client_matrix, self.client_has_features = client_matrix, client_has_features
        self.client_vectors = arrays["client_vectors"].astype(np.float32)
        self.client_bias = arrays["client_bias"].astype(np.float32)
        self.global_bias = float(arrays["global_bias"][0])
        self.client_tower = _tower(arrays, "client")
        self.item_vectors, self.item_bias = self._item_terms(arrays, item_matrix)
        self.scaling, self.mode, self.clip = scaling, mode, clip
        self.value_range = value_range

    @staticmethod
    def _item_terms(arrays: dict[str, np.ndarray], item_matrix: np.ndarray) -> Dense:
        vectors = arrays["item_emb"].astype(np.float32)
        bias = arrays["item_bias"].astype(np.float32)
        terms = side_terms(arrays, "item", item_matrix)
        if terms is not None:
            vectors, bias = vectors + terms[0], bias + terms[1]
        return np.ascontiguousarray(vectors.T), bias

    @classmethod
    def from_arrays(
        cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], model: Recommender
    ) -> NumpyScorer:
        """From a fitted model's exported weights (see ``HybridMF.to_scorer``)."""
        return cls(
            clients=model.clients_,
            items=model.items_,
            client_encoder=model.client_encoder_,
            client_matrix=model.client_matrix_,
            client_has_features=model.client_has_features_,
            item_matrix=model.item_matrix_,
            arrays=arrays,
            scaling=meta["scaling"],
            mode=meta["mode"],
            clip=bool(model.get_params().get("clip", True)),
            value_range=model.value_range_,
        )

    @classmethod
    def load(cls, path: str | Path) -> NumpyScorer:
        """From a folder written by ``HybridMF.save`` (no TensorFlow needed)."""
        document, arrays = read_saved(path)
        if document["class"] != "HybridMF":
            raise InputError(f"{path}: holds a {document['class']}; NumpyScorer needs a HybridMF")
        encoder = document["client_encoder"]
        low, high = document["value_range"]
        return cls(
            clients=IdIndex.from_json(document["clients"]),
            items=IdIndex.from_json(document["items"]),
            client_encoder=FeatureEncoder.from_json(encoder) if encoder else None,
            client_matrix=arrays["base__client_matrix"],
            client_has_features=arrays["base__client_has_features"],
            item_matrix=arrays["base__item_matrix"],
            arrays=arrays,
            scaling={k: float(v) for k, v in document["state"]["scaling"].items()},
            mode=document["state"]["mode"],
            clip=bool(document["params"].get("clip", True)),
            value_range=(float(low), float(high)),
        )

    @property
    def item_ids(self) -> list[Id]:
        """Intervention ids in column order of :meth:`score_all`."""
        return self.items.ids

    def _finish(self, raw: np.ndarray) -> np.ndarray:
        if self.mode == "implicit":
            return 1.0 / (1.0 + np.exp(-raw))
        out = raw * self.scaling["std"] + self.scaling["mean"]
        return np.clip(out, *self.value_range) if self.clip else out

    def score_rows(self, clients: ClientRows) -> np.ndarray:
        """(n_clients, n_items) scores on the scale of ``value`` for resolved client rows."""
        slot = clients.idx + 1  # row 0: the unknown client (zero embedding, zero bias)
        vectors = self.client_vectors[slot]
        bias = self.client_bias[slot]
        if self.client_tower is not None:
            layers, (kernel, b) = self.client_tower
            has = clients.has_x.astype(np.float32)[:, None]
            vectors = vectors + has * _mlp(clients.x, layers)
            bias = bias + (has * (clients.x @ kernel + b))[:, 0]
        raw = vectors @ self.item_vectors
        raw += bias[:, None]
        raw += self.item_bias[None, :] + np.float32(self.global_bias)
        return self._finish(raw.astype(np.float64))

    def rows(
        self, client_ids: Iterable[Any], client_features: pd.DataFrame | None = None
    ) -> ClientRows:
        return lookup_clients(
            client_ids,
            self.clients,
            self.client_matrix,
            self.client_has_features,
            self.client_encoder,
            client_features,
        )

    def score_client(self, client_id: Id, row: Mapping[str, object] | None = None) -> np.ndarray:
        """One client's scores over :attr:`item_ids`, from the fit-time features or, when
        given, ``row`` (raw feature values, see
        :func:`~health_advisor.recommender.datasets.client_feature_row`). The same numbers
        as :meth:`score_rows` of :meth:`rows` with a one-row frame, in microseconds."""
        rows = self.rows([client_id])  # the fit-time features (no frame: no pandas work)
        if row is not None and self.client_encoder is not None:
            rows.x[0], rows.has_x[0] = encode_row(self.client_encoder, row), True
        return self.score_rows(rows)[0]

    def score_all(
        self,
        client_ids: Iterable[Any],
        *,
        client_features: pd.DataFrame | None = None,
        chunk_size: int = 16384,
    ) -> np.ndarray:
        """(n_clients, n_items) scores; columns follow :attr:`item_ids`."""
        rows = self.rows(client_ids, client_features)
        n = rows.idx.size
        out = np.empty((n, len(self.items)), np.float64)
        for start in range(0, n, chunk_size):
            part = slice(start, start + chunk_size)
            out[part] = self.score_rows(ClientRows(rows.idx[part], rows.x[part], rows.has_x[part]))
        return out

    def top_k(
        self,
        client_id: Id,
        k: int = 10,
        exclude: Iterable[Id] | None = None,
        *,
        client_features: pd.DataFrame | None = None,
    ) -> list[tuple[Id, float]]:
        """The ``k`` best interventions for one client as (intervention_id, score)."""
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"top_k: k must be a positive integer, got {k!r}")
        scores = self.score_rows(self.rows([client_id], client_features))[0]
        if exclude is not None:
            drop = self.items.lookup(normalise_id(e) for e in exclude)
            scores[drop[drop >= 0]] = -np.inf
        return top_k(scores, int(k), self.items.ids)
