"""Input validation, id indexing and feature encoding shared by every recommender.

Estimators receive pandas DataFrames from the feature store and the catalog; this module
turns them into dense integer indices and float matrices once, with one clear
:class:`~health_advisor.errors.InputError` per problem, so models only see NumPy arrays.
Everything here is JSON-serialisable (no pickle) so a fitted model can be saved as
``model.json`` + ``weights.npz``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from health_advisor.errors import InputError

Id = str | int
"""A client or intervention id as the source gave it."""

CLIENT = "client_id"
ITEM = "intervention_id"
VALUE = "value"


def _is_id_dtype(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_integer_dtype(series) or pd.api.types.is_string_dtype(series):
        return True
    if pd.api.types.is_object_dtype(series):
        return all(
            isinstance(v, str | int | np.integer) and not isinstance(v, bool) for v in series
        )
    return False


def normalise_id(value: Any) -> Id:
    """A plain ``str`` or ``int`` (NumPy integers become ``int``), else :class:`InputError`."""
    if isinstance(value, bool):
        raise InputError(f"id {value!r}: expected a string or an integer, got a boolean")
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, str | int):
        return value
    raise InputError(f"id {value!r}: expected a string or an integer, got {type(value).__name__}")


def check_id_column(frame: pd.DataFrame, column: str, what: str) -> None:
    """Fail unless ``frame[column]`` holds only strings or integers, without gaps."""
    series = frame[column]
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0])
        raise InputError(f"{what}: row {row}, column {column!r}: missing id")
    if not _is_id_dtype(series):
        raise InputError(
            f"{what}: column {column!r} has dtype {series.dtype}; expected string or integer ids"
        )


def check_columns(frame: object, required: Sequence[str], what: str) -> pd.DataFrame:
    """Fail unless ``frame`` is a non-empty DataFrame with the ``required`` columns."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what}: missing column(s) {', '.join(map(repr, missing))}; "
            f"expected {', '.join(map(repr, required))}"
        )
    if frame.empty:
        raise InputError(f"{what}: no rows")
    return frame


def validate_interactions(interactions: object) -> pd.DataFrame:
    """Checked copy of ``interactions`` with columns client_id, intervention_id, value."""
    frame = check_columns(interactions, [CLIENT, ITEM, VALUE], "interactions")
    check_id_column(frame, CLIENT, "interactions")
    check_id_column(frame, ITEM, "interactions")
    values = frame[VALUE]
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(np.float64)
    if not pd.api.types.is_numeric_dtype(values):
        raise InputError(f"interactions: column 'value' has dtype {values.dtype}; expected numbers")
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"interactions: row {row}, column 'value': expected a finite number")
    out = pd.DataFrame(
        {CLIENT: frame[CLIENT].to_numpy(), ITEM: frame[ITEM].to_numpy(), VALUE: numbers}
    )
    return out


def validate_pairs(pairs: object) -> pd.DataFrame:
    """Checked ``pairs`` (client_id, intervention_id) for ``predict``."""
    frame = check_columns(pairs, [CLIENT, ITEM], "pairs")
    check_id_column(frame, CLIENT, "pairs")
    check_id_column(frame, ITEM, "pairs")
    return frame


def features_by_id(features: object, id_column: str, what: str) -> pd.DataFrame:
    """Feature table indexed by id: ``id_column`` as a column or as the index name/values."""
    if not isinstance(features, pd.DataFrame):
        raise InputError(f"{what}: expected a pandas DataFrame, got {type(features).__name__}")
    frame = features.set_index(id_column) if id_column in features.columns else features
    if frame.empty:
        raise InputError(f"{what}: no rows")
    index = frame.index.to_series()
    if index.isna().any() or not _is_id_dtype(index):
        raise InputError(
            f"{what}: expected string or integer ids in column {id_column!r} or in the index"
        )
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise InputError(f"{what}: id {dup!r} appears more than once")
    if frame.shape[1] == 0:
        raise InputError(f"{what}: no feature columns")
    return frame


@dataclass
class IdIndex:
    """Bidirectional map between ids (str or int) and positions 0..n-1."""

    ids: list[Id]

    def __post_init__(self) -> None:
        self._pos: dict[Hashable, int] = {k: n for n, k in enumerate(self.ids)}

    @classmethod
    def from_values(cls, *groups: Iterable[Any]) -> IdIndex:
        """Ids in first-seen order over ``groups``, duplicates dropped."""
        seen: dict[Id, None] = {}
        for group in groups:
            for value in pd.unique(pd.Series(list(group), dtype=object)):
                seen.setdefault(normalise_id(value), None)
        return cls(list(seen))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def lookup(self, values: Iterable[Any]) -> np.ndarray:
        """Positions of ``values``; -1 where unknown."""
        return np.fromiter((self._pos.get(_key(v), -1) for v in values), dtype=np.int64, count=-1)

    def to_json(self) -> list[Id]:
        return list(self.ids)

    @classmethod
    def from_json(cls, data: list[Id]) -> IdIndex:
        return cls([normalise_id(v) for v in data])


def _key(value: Any) -> Hashable:
    return int(value) if isinstance(value, np.integer) else value


@dataclass
class FeatureEncoder:
    """Numeric design matrix from a feature table, learned at fit and reused at predict.

    Numbers and booleans are standardised (mean 0, std 1); text and categorical columns are
    one-hot encoded with the categories seen at fit (unseen categories encode as all zeros).
    Missing values become 0 after standardisation, i.e. the fit-time mean.
    """

    numeric: list[str]
    means: list[float]
    stds: list[float]
    categorical: dict[str, list[str]]

    @classmethod
    def fit(cls, frame: pd.DataFrame, what: str) -> FeatureEncoder:
        numeric: list[str] = []
        categorical: dict[str, list[str]] = {}
        for column in frame.columns:
            series = frame[column]
            if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                numeric.append(str(column))
            elif (
                isinstance(series.dtype, pd.CategoricalDtype)
                or pd.api.types.is_string_dtype(series)
                or pd.api.types.is_object_dtype(series)
            ):
                categorical[str(column)] = sorted({str(v) for v in series.dropna()})
            else:
                raise InputError(
                    f"{what}: column {column!r} has dtype {series.dtype}; "
                    "expected numbers, booleans or text categories"
                )
        values = frame[numeric].astype(np.float64).to_numpy() if numeric else np.empty((0, 0))
        means = np.nanmean(values, axis=0) if numeric else np.empty(0)
        stds = np.nanstd(values, axis=0) if numeric else np.empty(0)
        means = np.nan_to_num(means)
        stds = np.where(np.isfinite(stds) & (stds > 0), stds, 1.0)
        return cls(numeric, means.tolist(), stds.tolist(), categorical)

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(c) for c in self.categorical.values())

    def transform(self, frame: pd.DataFrame, what: str) -> np.ndarray:
        missing = [c for c in [*self.numeric, *self.categorical] if c not in frame.columns]
        if missing:
            raise InputError(
                f"{what}: missing feature column(s) {', '.join(map(repr, missing))} seen at fit"
            )
        parts: list[np.ndarray] = []
        if self.numeric:
            try:
                raw = frame[self.numeric].astype(np.float64).to_numpy()
            except (TypeError, ValueError) as exc:
                raise InputError(f"{what}: numeric feature columns hold non-numbers") from exc
            z = (raw - np.asarray(self.means)) / np.asarray(self.stds)
            parts.append(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0))
        for column, categories in self.categorical.items():
            # get_indexer: a value unseen at fit is -1 (no column), without the warning
            # pd.Categorical gives for values outside its categories.
            values = frame[column].astype(object).map(_as_text)
            codes = pd.Index(categories, dtype=object).get_indexer(pd.Index(values, dtype=object))
            onehot = np.zeros((len(frame), len(categories)))
            known = codes >= 0
            onehot[np.flatnonzero(known), codes[known]] = 1.0
            parts.append(onehot)
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.hstack(parts).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {
            "numeric": self.numeric,
            "means": self.means,
            "stds": self.stds,
            "categorical": self.categorical,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureEncoder:
        return cls(data["numeric"], data["means"], data["stds"], data["categorical"])


def _as_text(value: object) -> object:
    return value if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
