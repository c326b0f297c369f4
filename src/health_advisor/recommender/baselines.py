"""Baselines every learned model must beat, evaluated the same way.

- :class:`BiasBaseline`: global mean plus regularised client and intervention biases.
- :class:`PopularityBaseline`: the same list for everyone, most interacted-with first.
- :class:`RulesBaseline`: guideline rules only (e.g. catalog goal/risk match), no learning
  beyond a linear map from rule score to the scale of ``value``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from health_advisor.errors import InputError
from health_advisor.recommender.base import ClientRows, Recommender, TrainingData

RuleFunction = Callable[[pd.DataFrame | None, pd.DataFrame], np.ndarray]
"""``rule(clients, items) -> (len(clients), len(items))`` scores; ``clients`` is None
when the model has no client features (then return one row, shape (1, len(items)))."""


def _check_non_negative(owner: str, **values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError(f"{owner}: {name} must be a number >= 0, got {value!r}")


def fit_biases(
    u: np.ndarray,
    i: np.ndarray,
    y: np.ndarray,
    n_u: int,
    n_i: int,
    reg_client: float,
    reg_item: float,
    n_iter: int,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Global mean and ridge biases by alternating closed-form updates (as in Surprise ALS).

    Each half-step solves ``b = sum(residual) / (reg + count)`` exactly for one side with
    the other fixed, so the loss decreases monotonically; a few passes converge.
    """
    mu = float(y.mean())
    count_u = np.bincount(u, minlength=n_u)
    count_i = np.bincount(i, minlength=n_i)
    b_u = np.zeros(n_u)
    b_i = np.zeros(n_i)
    for _ in range(n_iter):
        b_i = np.bincount(i, y - mu - b_u[u], minlength=n_i) / (reg_item + count_i)
        b_u = np.bincount(u, y - mu - b_i[i], minlength=n_u) / (reg_client + count_u)
    return mu, b_u, b_i


class BiasBaseline(Recommender):
    """``value ≈ mu + b_client + b_intervention`` with L2-regularised biases.

    Unknown clients get ``mu + b_intervention`` (features are not used).
    """

    def __init__(self, reg_client: float = 15.0, reg_item: float = 10.0, n_iter: int = 15) -> None:
        self.reg_client = reg_client
        self.reg_item = reg_item
        self.n_iter = n_iter

    def _check_params(self) -> None:
        _check_non_negative("BiasBaseline", reg_client=self.reg_client, reg_item=self.reg_item)
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, int) or self.n_iter < 1:
            raise InputError(f"BiasBaseline: n_iter must be an integer >= 1, got {self.n_iter!r}")

    def _fit(self, data: TrainingData) -> None:
        self.global_mean_, self.client_bias_, self.item_bias_ = fit_biases(
            data.client_idx,
            data.item_idx,
            data.values,
            len(self.clients_),
            len(self.items_),
            float(self.reg_client),
            float(self.reg_item),
            self.n_iter,
        )

    def _client_bias(self, clients: ClientRows) -> np.ndarray:
        return np.where(clients.idx >= 0, self.client_bias_[np.maximum(clients.idx, 0)], 0.0)

    def _predict(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        return self.global_mean_ + self._client_bias(clients) + self.item_bias_[items]

    def _predict_matrix(self, clients: ClientRows) -> np.ndarray:
        return self.global_mean_ + self._client_bias(clients)[:, None] + self.item_bias_[None, :]

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"global_mean": self.global_mean_}, {
            "client_bias": self.client_bias_,
            "item_bias": self.item_bias_,
        }

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.global_mean_ = float(meta["global_mean"])
        self.client_bias_ = arrays["client_bias"]
        self.item_bias_ = arrays["item_bias"]


class PopularityBaseline(Recommender):
    """Ranks interventions by how many interactions they have (the same list for all).

    ``predict`` returns the intervention's mean value shrunk toward the global mean by
    ``prior`` pseudo-interactions, so its errors are comparable with the other models';
    ``recommend`` ranks by count (ties by that mean).
    """

    def __init__(self, prior: float = 10.0) -> None:
        self.prior = prior

    def _check_params(self) -> None:
        _check_non_negative("PopularityBaseline", prior=self.prior)

    def _fit(self, data: TrainingData) -> None:
        m = len(self.items_)
        counts = np.bincount(data.item_idx, minlength=m).astype(np.float64)
        sums = np.bincount(data.item_idx, data.values, minlength=m)
        self.global_mean_ = float(data.values.mean())
        self.item_mean_ = (sums + self.prior * self.global_mean_) / (counts + self.prior + 1e-12)
        self.item_count_ = counts

    def _predict(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        return self.item_mean_[items]

    def _predict_matrix(self, clients: ClientRows) -> np.ndarray:
        return np.broadcast_to(self.item_mean_, (len(clients.idx), len(self.items_))).copy()

    def _rank_matrix(self, clients: ClientRows) -> np.ndarray:
        """Interaction counts (same for everyone); ties broken by the shrunk mean."""
        spread = np.abs(self.item_mean_).max() + 1.0
        score = self.item_count_ + 0.5 * (self.item_mean_ / spread)
        return np.broadcast_to(score, (len(clients.idx), len(self.items_))).copy()

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"global_mean": self.global_mean_}, {
            "item_mean": self.item_mean_,
            "item_count": self.item_count_,
        }

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.global_mean_ = float(meta["global_mean"])
        self.item_mean_ = arrays["item_mean"]
        self.item_count_ = arrays["item_count"]


class RulesBaseline(Recommender):
    """Guideline rules only: a rule function scores (client, intervention) pairs.

    ``rule(clients, items)`` receives the raw client feature rows (or None when the model
    has no client features) and the raw item feature table (catalog attributes, in the
    model's item order) and returns a (n_clients, n_items) array, e.g. 1 where an
    intervention's goal matches one of the client's risk categories. With ``rule=None``
    the item feature column ``score_column`` is the score for everyone. ``fit`` learns
    only ``value ≈ a + b * score`` by least squares so predictions share the scale of
    ``value``. To be saved, ``rule`` must be an importable module-level function.
    """

    def __init__(self, rule: RuleFunction | None = None, score_column: str | None = None) -> None:
        self.rule = rule
        self.score_column = score_column

    def _check_params(self) -> None:
        if (self.rule is None) == (self.score_column is None):
            raise InputError("RulesBaseline: give exactly one of rule= or score_column=")
        if self.rule is not None and not callable(self.rule):
            raise InputError("RulesBaseline: rule must be callable")

    def _fit(self, data: TrainingData) -> None:
        if data.item_features is None:
            raise InputError("RulesBaseline.fit: item_features (the catalog) are required")
        if self.score_column is not None and self.score_column not in data.item_features:
            raise InputError(
                f"RulesBaseline.fit: item_features has no column {self.score_column!r}"
            )
        self.item_table_ = data.item_features.reindex(pd.Index(self.items_.ids, dtype=object))
        self.client_table_ = data.client_features
        clients = ClientRows(
            idx=data.client_idx,
            x=np.zeros((len(data.client_idx), 0), np.float32),
            has_x=np.ones(len(data.client_idx), bool),
        )
        raw = self._raw_scores(clients, data.item_idx)
        design = np.column_stack([np.ones_like(raw), raw])
        coef, *_ = np.linalg.lstsq(design, data.values, rcond=None)
        self.intercept_, self.slope_ = float(coef[0]), float(coef[1])

    def _rule_matrix(self, clients: ClientRows) -> np.ndarray:
        n, m = len(clients.idx), len(self.items_)
        if self.score_column is not None:
            column = pd.to_numeric(self.item_table_[self.score_column], errors="coerce")
            return np.broadcast_to(column.fillna(0.0).to_numpy(np.float64), (n, m))
        assert self.rule is not None
        if self.client_table_ is None:
            row = np.asarray(self.rule(None, self.item_table_), dtype=np.float64).reshape(1, m)
            return np.broadcast_to(row, (n, m))
        ids = [self.clients_.ids[i] if i >= 0 else None for i in clients.idx]
        table = self.client_table_.reindex(pd.Index(ids, dtype=object))
        scores = np.asarray(self.rule(table, self.item_table_), dtype=np.float64)
        if scores.shape != (n, m):
            raise InputError(
                f"RulesBaseline: rule returned shape {scores.shape}, expected {(n, m)}"
            )
        return np.nan_to_num(scores)

    def _raw_scores(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(clients.idx, return_inverse=True)
        matrix = self._rule_matrix(ClientRows(unique, clients.x[:0], clients.has_x[:0]))
        return matrix[inverse, items]

    def _predict(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        return self.intercept_ + self.slope_ * self._raw_scores(clients, items)

    def _predict_matrix(self, clients: ClientRows) -> np.ndarray:
        return self.intercept_ + self.slope_ * self._rule_matrix(clients)

    def _params_json(self) -> dict[str, Any]:
        rule = self.rule
        if rule is None:
            return {"rule": None, "score_column": self.score_column}
        name = f"{rule.__module__}:{rule.__qualname__}"
        if "<" in name:
            raise InputError(f"RulesBaseline.save: rule {name} is not an importable function")
        return {"rule": name, "score_column": self.score_column}

    @classmethod
    def _params_from_json(cls, params: dict[str, Any]) -> dict[str, Any]:
        rule = params.get("rule")
        if rule is None:
            return params
        module, _, qualname = rule.partition(":")
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        return {**params, "rule": target}

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        tables = {
            "item_table": self.item_table_.to_json(orient="split"),
            "client_table": None
            if self.client_table_ is None
            else self.client_table_.to_json(orient="split"),
        }
        return {"intercept": self.intercept_, "slope": self.slope_, **tables}, {}

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        from io import StringIO

        self.intercept_ = float(meta["intercept"])
        self.slope_ = float(meta["slope"])
        self.item_table_ = pd.read_json(
            StringIO(meta["item_table"]), orient="split", dtype=False, convert_axes=False
        )
        self.item_table_.index = pd.Index(self.items_.ids, dtype=object)
        client = meta["client_table"]
        self.client_table_ = (
            None
            if client is None
            else pd.read_json(StringIO(client), orient="split", dtype=False, convert_axes=False)
        )
