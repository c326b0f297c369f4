"""Offline evaluation of recommenders: splits, metrics, bootstrap intervals, the oracle.

Where it sits: after ``fit`` and before the model registry's quality gate; the same
report is printed by ``bench/recommender.py`` and ``health-advisor evaluate``.

**Split.** :func:`temporal_split` holds out a fixed-seed share of clients entirely (the
*cold* segment: clients unseen in training) and, for every other client, the latest
``test_fraction`` of their rows by ``at`` (the *warm* segment: train on earlier
interactions, test on later ones).

**Metrics**, per segment (every ranking metric is a mean over the segment's clients):

* ``rmse``, ``mae``: on the held-out rows' observed values.
* ``precision@k``, ``recall@k``, ``map@k``, ``ndcg@k``: the model ranks every
  intervention (minus the client's training ones, and minus contraindicated ones when
  ``eligible`` is known); relevant = held-out rows with value >= the relevance threshold
  (default: the training mean); NDCG's graded gain is the observed value (linear gain).
  These reward finding what the clinic happened to recommend, so they carry its
  exposure bias; the oracle ratio does not.
* ``coverage@k``: share of the catalog that appears in at least one top-k list.
* With ground truth (synthetic clinic): ``oracle_ndcg@k``, the **oracle ratio**: the
  model ranks *all* eligible interventions of each held-out client and
  ``DCG@k(model's top k) / DCG@k(oracle's top k)`` is taken with gains = the true
  adherence probability; the oracle ranks by that probability, so its ratio is 1 and a
  random order scores ``mean(p) x sum of discounts / ideal DCG`` (reported as the
  ``random`` row). ``rmse_floor``: the RMSE of the true expected value against the same
  observed rows, the noise floor no model can beat (reported as the ``oracle`` row's
  ``rmse``; every model row gets ``rmse/floor``).

**Intervals.** Percentile bootstrap over clients (clients are resampled with
replacement, all their rows with them, the same resamples for every model so that
differences are paired). Ratio metrics (RMSE, MAE) are recomputed from resampled sums,
not averaged per client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from health_advisor.errors import InputError
from health_advisor.recommender._data import CLIENT, ITEM, VALUE, Id, normalise_id
from health_advisor.recommender.base import Recommender

TIME = "at"
WARM = "warm"
COLD = "cold"
ORACLE = "oracle"
RANDOM = "random"


# --------------------------------------------------------------------------- split
@dataclass(frozen=True)
class Split:
    """Train rows, later rows of the same clients (warm) and rows of held-out clients."""

    train: pd.DataFrame
    test: pd.DataFrame
    cold: pd.DataFrame
    cold_clients: tuple[Id, ...] = ()

    def segments(self) -> dict[str, pd.DataFrame]:
        """The non-empty evaluation segments by name."""
        parts = {WARM: self.test, COLD: self.cold}
        return {name: rows for name, rows in parts.items() if not rows.empty}


def hold_out_clients(client_ids: Iterable[Any], fraction: float, seed: int = 0) -> list[Id]:
    """A fixed-seed random share ``fraction`` of the distinct ``client_ids`` (sorted by
    their text so that the draw does not depend on the input order)."""
    if not 0.0 <= fraction < 1.0:
        raise InputError(f"cold-start fraction must be in [0, 1), got {fraction!r}")
    ids = sorted({normalise_id(c) for c in client_ids}, key=lambda v: (str(type(v)), str(v)))
    n_out = round(len(ids) * fraction)
    if n_out == 0:
        return []
    chosen = np.random.default_rng(seed).permutation(len(ids))[:n_out]
    return [ids[i] for i in sorted(chosen)]


def temporal_split(
    values: pd.DataFrame,
    *,
    test_fraction: float = 0.25,
    cold_fraction: float = 0.1,
    min_train: int = 1,
    seed: int = 0,
    time_column: str = TIME,
) -> Split:
    """Split ``values`` (client_id, intervention_id, value, ``time_column``).

    Cold: :func:`hold_out_clients` (``cold_fraction``, ``seed``); all their rows.
    Warm: per remaining client, the ``round(test_fraction x rows)`` latest rows (ties in
    time broken by intervention id), keeping at least ``min_train`` rows in training;
    clients with ``min_train`` rows or fewer are trained on only.
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    missing = [c for c in (CLIENT, ITEM, VALUE, time_column) if c not in values]
    if missing:
        raise InputError(f"values: missing column(s) {missing} for the temporal split")
    if values.empty:
        raise InputError("values: no rows to split")
    cold_ids = hold_out_clients(values[CLIENT], cold_fraction, seed)
    is_cold = values[CLIENT].isin(cold_ids).to_numpy()
    warm = values.loc[~is_cold]
    order = warm.assign(_t=pd.to_datetime(warm[time_column], utc=True)).sort_values(
        [CLIENT, "_t", ITEM], kind="stable"
    )
    size = order.groupby(CLIENT, sort=False)[ITEM].transform("size").to_numpy()
    position = order.groupby(CLIENT, sort=False).cumcount().to_numpy()
    n_test = np.minimum(np.floor(size * test_fraction + 0.5), np.maximum(size - min_train, 0))
    in_test = position >= size - n_test
    columns = list(values.columns)
    return Split(
        train=order.loc[~in_test, columns].reset_index(drop=True),
        test=order.loc[in_test, columns].reset_index(drop=True),
        cold=values.loc[is_cold].reset_index(drop=True),
        cold_clients=tuple(cold_ids),
    )


# --------------------------------------------------------------------------- metrics
def rmse(observed: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> float:
    """Root mean squared error."""
    y, p = _pair(observed, predicted)
    return float(np.sqrt(np.mean((y - p) ** 2)))


def mae(observed: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> float:
    """Mean absolute error."""
    y, p = _pair(observed, predicted)
    return float(np.mean(np.abs(y - p)))


def _pair(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> tuple[Any, Any]:
    y, p = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or y.size == 0:
        raise InputError(
            f"expected two non-empty 1-D arrays of one length, got {y.shape}, {p.shape}"
        )
    return y, p


def discounts(k: int) -> np.ndarray:
    """1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def dcg(gains_in_rank_order: Sequence[float] | np.ndarray, k: int) -> float:
    """Discounted cumulative gain of the first ``k`` gains (linear gains)."""
    gains = np.asarray(gains_in_rank_order, dtype=np.float64)[:k]
    return float(gains @ discounts(gains.size))


def ndcg_at_k(ranked: Sequence[Any], gains: Mapping[Any, float], k: int) -> float:
    """DCG of ``ranked[:k]`` (gain 0 for items not in ``gains``) over the ideal DCG@k."""
    ideal = dcg(sorted(gains.values(), reverse=True), k)
    if ideal <= 0:
        return float("nan")
    return dcg([gains.get(item, 0.0) for item in ranked[:k]], k) / ideal


def precision_at_k(ranked: Sequence[Any], relevant: set[Any], k: int) -> float:
    """Share of the top ``k`` that is relevant (divided by k, even when fewer ranked)."""
    return sum(item in relevant for item in ranked[:k]) / k


def recall_at_k(ranked: Sequence[Any], relevant: set[Any], k: int) -> float:
    """Share of the relevant items found in the top ``k`` (NaN without relevant items)."""
    if not relevant:
        return float("nan")
    return sum(item in relevant for item in ranked[:k]) / len(relevant)


def average_precision_at_k(ranked: Sequence[Any], relevant: set[Any], k: int) -> float:
    """AP@k: mean of precision@i at each relevant rank i <= k, over min(|relevant|, k)."""
    if not relevant:
        return float("nan")
    hits, total = 0, 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / rank
    return total / min(len(relevant), k)


def catalog_coverage(top_lists: Iterable[Iterable[Any]], n_items: int) -> float:
    """Share of the ``n_items`` catalog recommended in at least one list."""
    if n_items < 1:
        raise InputError("catalog_coverage: the catalog is empty")
    seen: set[Any] = set()
    for items in top_lists:
        seen.update(items)
    return len(seen) / n_items


def top_k_positions(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest finite scores, best first, ties by position."""
    finite = np.flatnonzero(np.isfinite(scores))
    order = finite[np.argsort(-scores[finite], kind="stable")]
    return order[:k]


def oracle_ndcg_ratio(scores: np.ndarray, gains: np.ndarray, k: int = 10) -> float:
    """DCG@k of the top k by ``scores`` over DCG@k of the top k by ``gains`` (the
    oracle), both with ``gains``; 1.0 when the model orders the top k as the oracle."""
    s, g = np.asarray(scores, dtype=np.float64), np.asarray(gains, dtype=np.float64)
    if s.shape != g.shape or s.ndim != 1:
        raise InputError("oracle_ndcg_ratio: scores and gains must be 1-D of one length")
    ideal = dcg(np.sort(g)[::-1], k)
    if ideal <= 0:
        return float("nan")
    return dcg(g[top_k_positions(s, k)], k) / ideal


def random_ndcg_ratio(gains: np.ndarray, k: int = 10) -> float:
    """Expected :func:`oracle_ndcg_ratio` of a uniformly random order (exact)."""
    g = np.asarray(gains, dtype=np.float64)
    ideal = dcg(np.sort(g)[::-1], k)
    if ideal <= 0:
        return float("nan")
    return float(g.mean() * discounts(min(k, g.size)).sum() / ideal)


def noise_floor_rmse(
    observed: Sequence[float] | np.ndarray, expected: Sequence[float] | np.ndarray
) -> float:
    """RMSE of the true expected value against observations: what no model can beat."""
    return rmse(observed, expected)


def bootstrap_weights(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, n) counts of each unit in ``n_boot`` resamples with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    weights = np.zeros((n_boot, n), dtype=np.float64)
    np.add.at(weights, (np.repeat(np.arange(n_boot), n), draws.ravel()), 1.0)
    return weights


def bootstrap_ci(
    numerator: np.ndarray,
    denominator: np.ndarray | None = None,
    *,
    weights: np.ndarray,
    level: float = 0.95,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float]:
    """Percentile interval of ``transform(sum(w num) / sum(w den))`` over the resample
    ``weights`` (from :func:`bootstrap_weights`); ``denominator`` defaults to ones (a
    mean of per-unit values). Units with a zero denominator do not count."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.ones_like(num) if denominator is None else np.asarray(denominator, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = (weights @ np.nan_to_num(num)) / (weights @ den)
    if transform is not None:
        stats = transform(stats)
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)


# --------------------------------------------------------------------------- scorers
@dataclass
class Scorer:
    """What evaluation needs from a model: point predictions and a ranking matrix."""

    item_ids: list[Id]
    predict: Callable[[pd.DataFrame], np.ndarray]
    rank: Callable[[list[Id]], np.ndarray]  # (clients, items) scores; higher first
    item_pos: dict[Id, int] = field(init=False)

    def __post_init__(self) -> None:
        self.item_pos = {item: n for n, item in enumerate(self.item_ids)}


def model_scorer(model: Recommender, client_features: pd.DataFrame | None = None) -> Scorer:
    """A fitted :class:`Recommender` as a :class:`Scorer`; ranks as ``recommend`` does."""
    model._check_fitted()

    def predict(rows: pd.DataFrame) -> np.ndarray:
        return model.predict(rows[[CLIENT, ITEM]], client_features=client_features)

    def rank(client_ids: list[Id]) -> np.ndarray:
        return model.rank_items(client_ids, client_features=client_features)

    return Scorer(list(model.items_.ids), predict, rank)


def truth_scorer(truth: pd.DataFrame) -> Scorer:
    """The oracle: predicts ``expected`` and ranks by ``gain`` (ground truth)."""
    table = _truth_table(truth)
    expected = table["expected"].unstack(ITEM)
    gain = table["gain"].unstack(ITEM).reindex(columns=expected.columns)
    item_ids = [normalise_id(i) for i in expected.columns]

    def predict(rows: pd.DataFrame) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays([rows[CLIENT].astype(str), rows[ITEM].astype(str)])
        found = table["expected"].reindex(keys).to_numpy(np.float64)
        if np.isnan(found).any():
            raise InputError("truth: no expected value for some evaluated rows")
        return found

    def rank(client_ids: list[Id]) -> np.ndarray:
        return gain.reindex([str(c) for c in client_ids]).to_numpy(np.float64)

    return Scorer(item_ids, predict, rank)


def _truth_table(truth: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in (CLIENT, ITEM, "expected", "gain", "eligible") if c not in truth]
    if missing:
        raise InputError(f"truth: missing column(s) {missing}")
    frame = truth.assign(
        **{CLIENT: truth[CLIENT].astype(str), ITEM: truth[ITEM].astype(str)}
    ).set_index([CLIENT, ITEM])
    if frame.index.has_duplicates:
        raise InputError("truth: a client x intervention appears more than once")
    return frame


# --------------------------------------------------------------------------- matrices
def top_k_matrix(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the positions of the ``k`` highest scores (best first, ties by position)
    and whether each is a real candidate (finite score; -inf/NaN mark excluded items)."""
    clean = np.where(np.isnan(scores), -np.inf, scores)
    width = min(k, clean.shape[1])
    order = np.argsort(-clean, axis=1, kind="stable")[:, :width]
    valid = np.isfinite(np.take_along_axis(clean, order, axis=1))
    return order, valid


def _ideal_dcg(gains: np.ndarray, k: int) -> np.ndarray:
    width = min(k, gains.shape[1])
    best = -np.sort(-gains, axis=1)[:, :width]
    out: np.ndarray = best @ discounts(width)
    return out


def ranking_metrics(
    scores: np.ndarray,
    observed: np.ndarray,
    *,
    k: int,
    threshold: float,
    exclude: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-row precision@k, recall@k, map@k and ndcg@k, as the scalar functions above.

    ``scores`` and ``observed`` are (clients, items); ``observed`` holds the held-out
    values (NaN where none), relevant = observed >= ``threshold``, NDCG gains = observed.
    ``exclude`` (bool) removes items from the ranking. Also returns ``top`` (positions)
    and ``valid`` for coverage.
    """
    masked = np.where(exclude, -np.inf, scores) if exclude is not None else scores
    top, valid = top_k_matrix(np.asarray(masked, dtype=np.float64), k)
    gains = np.nan_to_num(observed, nan=0.0)
    relevant = np.nan_to_num(observed, nan=-np.inf) >= threshold
    hits = np.take_along_axis(relevant, top, axis=1) & valid
    n_rel = relevant.sum(axis=1)
    n_hits = hits.sum(axis=1)
    ranks = np.arange(1, top.shape[1] + 1)
    precision_at_rank = np.cumsum(hits, axis=1) / ranks
    ideal = _ideal_dcg(gains, k)
    found = (np.take_along_axis(gains, top, axis=1) * valid) @ discounts(top.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "precision": n_hits / k,
            "recall": np.where(n_rel > 0, n_hits / n_rel, np.nan),
            "map": np.where(
                n_rel > 0, (precision_at_rank * hits).sum(axis=1) / np.minimum(n_rel, k), np.nan
            ),
            "ndcg": np.where(ideal > 0, found / ideal, np.nan),
            "top": top,
            "valid": valid,
        }


def oracle_ratios(
    scores: np.ndarray, gains: np.ndarray, eligible: np.ndarray, k: int = 10
) -> np.ndarray:
    """Per-row :func:`oracle_ndcg_ratio` over the eligible items with a known gain."""
    ok = eligible & np.isfinite(gains)
    g = np.where(ok, gains, 0.0)
    top, valid = top_k_matrix(np.where(ok, scores, -np.inf), k)
    found = (np.take_along_axis(g, top, axis=1) * valid) @ discounts(top.shape[1])
    ideal = _ideal_dcg(g, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(ideal > 0, found / ideal, np.nan)
    return out


def random_ratios(gains: np.ndarray, eligible: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-row :func:`random_ndcg_ratio` over the eligible items with a known gain."""
    ok = eligible & np.isfinite(gains)
    g = np.where(ok, gains, 0.0)
    n_ok = ok.sum(axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(discounts(min(k, g.shape[1])))])
    expected = g.sum(axis=1) / np.maximum(n_ok, 1) * cumulative[np.minimum(n_ok, k)]
    ideal = _ideal_dcg(g, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(ideal > 0, expected / ideal, np.nan)
    return out


# --------------------------------------------------------------------------- per client
@dataclass
class ClientStats:
    """Per-client numerators/denominators of every metric of one model and segment."""

    clients: list[str]
    parts: dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (num, den) per client
    overall: dict[str, float] = field(default_factory=dict)  # not per-client (coverage)


def _per_client_errors(
    rows: pd.DataFrame, predicted: np.ndarray, clients: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    pos = pd.Index(clients).get_indexer(pd.Index(rows[CLIENT].astype(str)))
    err = rows[VALUE].to_numpy(np.float64) - predicted
    count = np.bincount(pos, minlength=len(clients)).astype(np.float64)
    return {
        "sse": (np.bincount(pos, err**2, minlength=len(clients)), count),
        "sae": (np.bincount(pos, np.abs(err), minlength=len(clients)), count),
    }


def _mean_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(numerator, denominator) of a per-client mean that skips NaN clients."""
    ok = np.isfinite(values)
    return np.where(ok, values, 0.0), ok.astype(np.float64)


def _wide(rows: pd.DataFrame, column: str, clients: list[str], items: list[str]) -> np.ndarray:
    """(clients, items) float matrix of ``column`` (NaN where no row)."""
    table = rows.assign(**{CLIENT: rows[CLIENT].astype(str), ITEM: rows[ITEM].astype(str)})
    wide = table.pivot_table(index=CLIENT, columns=ITEM, values=column, aggfunc="first")
    return wide.reindex(index=clients, columns=items).to_numpy(np.float64)


@dataclass
class _Segment:
    """Matrices of one segment in one scorer's item order."""

    clients: list[str]
    rows: pd.DataFrame
    observed: np.ndarray
    seen: np.ndarray
    gains: np.ndarray | None
    eligible: np.ndarray | None


def _segment(
    rows: pd.DataFrame,
    clients: list[str],
    items: list[str],
    train: pd.DataFrame,
    truth: pd.DataFrame | None,
) -> _Segment:
    train_rows = train.loc[train[CLIENT].astype(str).isin(clients)]
    seen = ~np.isnan(_wide(train_rows.assign(_one=1.0), "_one", clients, items))
    gains = eligible = None
    if truth is not None:
        gains = _wide(truth, "gain", clients, items)
        eligible = np.nan_to_num(_wide(truth, "_eligible", clients, items)) > 0
    return _Segment(clients, rows, _wide(rows, VALUE, clients, items), seen, gains, eligible)


def _model_stats(scorer: Scorer, seg: _Segment, cfg: EvalConfig, threshold: float) -> ClientStats:
    parts = _per_client_errors(seg.rows, scorer.predict(seg.rows), seg.clients)
    scores = np.asarray(scorer.rank(list(seg.clients)), dtype=np.float64)
    exclude = seg.seen if seg.eligible is None else seg.seen | ~seg.eligible
    ranking = ranking_metrics(scores, seg.observed, k=cfg.k, threshold=threshold, exclude=exclude)
    for name in ("precision", "recall", "map", "ndcg"):
        parts[name] = _mean_parts(ranking[name])
    if seg.gains is not None and seg.eligible is not None:
        parts["oracle_ndcg"] = _mean_parts(oracle_ratios(scores, seg.gains, seg.eligible, cfg.k))
    shown = np.unique(ranking["top"][ranking["valid"]])
    return ClientStats(seg.clients, parts, {"coverage": shown.size / scores.shape[1]})


# --------------------------------------------------------------------------- report
METRIC_LABELS = {
    "rmse": "rmse",
    "mae": "mae",
    "precision": "precision@{k}",
    "recall": "recall@{k}",
    "map": "map@{k}",
    "ndcg": "ndcg@{k}",
    "oracle_ndcg": "oracle_ndcg@{k}",
}


@dataclass(frozen=True)
class EvalConfig:
    """Options of :func:`evaluate_models`."""

    k: int = 10
    relevance_threshold: float | None = None
    n_bootstrap: int = 200
    level: float = 0.95
    seed: int = 0


def evaluate_models(
    models: Mapping[str, Recommender | Scorer],
    split: Split,
    truth: pd.DataFrame | None = None,
    *,
    client_features: pd.DataFrame | None = None,
    config: EvalConfig | None = None,
) -> pd.DataFrame:
    """Evaluate fitted models on every segment of ``split``.

    ``truth`` (synthetic clinics: client_id, intervention_id, expected, gain, eligible;
    see :func:`health_advisor.recommender.datasets.load_truth`) adds the oracle ratio,
    the noise floor and the ``oracle`` / ``random`` reference rows, and removes
    contraindicated interventions from the rankings. ``client_features`` is passed to
    ``predict`` (cold-start clients' rows). Returns one row per model, segment and
    metric: model, segment, metric, value, ci_low, ci_high, clients.
    """
    cfg = config or EvalConfig()
    if isinstance(cfg.k, bool) or not isinstance(cfg.k, int) or cfg.k < 1:
        raise InputError(f"k must be an integer >= 1, got {cfg.k!r}")
    threshold = (
        float(split.train[VALUE].mean())
        if cfg.relevance_threshold is None
        else float(cfg.relevance_threshold)
    )
    scorers = {
        name: m if isinstance(m, Scorer) else model_scorer(m, client_features)
        for name, m in models.items()
    }
    table = None
    if truth is not None:
        table = _truth_table(truth).reset_index()
        table["_eligible"] = table["eligible"].astype(np.float64)
        scorers[ORACLE] = truth_scorer(truth)
    records: list[dict[str, Any]] = []
    for segment, rows in split.segments().items():
        clients = sorted(set(rows[CLIENT].astype(str)))
        weights = (
            bootstrap_weights(len(clients), cfg.n_bootstrap, cfg.seed)
            if cfg.n_bootstrap > 0
            else None
        )
        floor = _floor(rows, table)
        segs: dict[tuple[str, ...], _Segment] = {}
        for name, scorer in scorers.items():
            items = tuple(str(i) for i in scorer.item_ids)
            if items not in segs:
                segs[items] = _segment(rows, clients, list(items), split.train, table)
            stats = _model_stats(scorer, segs[items], cfg, threshold)
            records += _records(name, segment, stats, weights, cfg, floor)
        seg = next(iter(segs.values()))
        if seg.gains is not None and seg.eligible is not None:
            ratio = random_ratios(seg.gains, seg.eligible, cfg.k)
            stats = ClientStats(clients, {"oracle_ndcg": _mean_parts(ratio)})
            records += _records(RANDOM, segment, stats, weights, cfg, None)
    return pd.DataFrame.from_records(
        records, columns=["model", "segment", "metric", "value", "ci_low", "ci_high", "clients"]
    )


def _floor(rows: pd.DataFrame, table: pd.DataFrame | None) -> float | None:
    """RMSE of the true expected value on ``rows`` (None without truth)."""
    if table is None:
        return None
    expected = table.set_index([CLIENT, ITEM])["expected"]
    keys = pd.MultiIndex.from_arrays([rows[CLIENT].astype(str), rows[ITEM].astype(str)])
    values = expected.reindex(keys).to_numpy(np.float64)
    ok = np.isfinite(values)
    if not ok.any():
        return None
    return noise_floor_rmse(rows[VALUE].to_numpy(np.float64)[ok], values[ok])


def _records(
    model: str,
    segment: str,
    stats: ClientStats,
    weights: np.ndarray | None,
    cfg: EvalConfig,
    floor: float | None,
) -> list[dict[str, Any]]:
    out = []

    def add(metric: str, value: float, ci: tuple[float, float], clients: int) -> None:
        label = METRIC_LABELS.get(metric, metric).format(k=cfg.k)
        out.append(
            {
                "model": model,
                "segment": segment,
                "metric": label,
                "value": value,
                "ci_low": ci[0],
                "ci_high": ci[1],
                "clients": clients,
            }
        )

    for metric, (num, den) in stats.parts.items():
        transform = np.sqrt if metric == "sse" else None
        if den.sum() == 0:
            continue
        value = float(num.sum() / den.sum())
        value = float(np.sqrt(value)) if transform is not None else value
        ci = (
            bootstrap_ci(num, den, weights=weights, level=cfg.level, transform=transform)
            if weights is not None
            else (float("nan"), float("nan"))
        )
        name = {"sse": "rmse", "sae": "mae"}.get(metric, metric)
        add(name, value, ci, int((den > 0).sum()))
        if name == "rmse" and floor:
            add("rmse/floor", value / floor, (ci[0] / floor, ci[1] / floor), int((den > 0).sum()))
    for metric, value in stats.overall.items():
        add(f"{metric}@{{k}}", value, (float("nan"), float("nan")), len(stats.clients))
    return out


def report_wide(report: pd.DataFrame, *, with_ci: bool = False) -> pd.DataFrame:
    """One row per (segment, model), one column per metric (``value [lo, hi]`` as text
    when ``with_ci``), rows in the report's order."""
    if with_ci:
        text = report.apply(_cell, axis=1)
        frame = report.assign(value=text)
    else:
        frame = report
    wide = frame.pivot_table(
        index=["segment", "model"], columns="metric", values="value", aggfunc="first", sort=False
    )
    metrics = list(dict.fromkeys(report["metric"]))
    return wide.reindex(columns=[m for m in metrics if m in wide.columns])


def _cell(row: pd.Series) -> str:
    value = _fmt(row["value"])
    if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]):
        return f"{value} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
    return value


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def render_report(report: pd.DataFrame, *, title: str = "Recommender evaluation") -> Any:
    """A :class:`rich.table.Table`: one row per segment and model, values with their
    bootstrap intervals (print it with ``rich.console.Console().print``)."""
    from rich.table import Table

    wide = report_wide(report, with_ci=True)
    table = Table(title=title, show_lines=False)
    table.add_column("segment")
    table.add_column("model")
    for metric in wide.columns:
        table.add_column(str(metric), justify="right")
    last_segment: str | None = None
    for key, row in wide.iterrows():
        segment, model = (str(part) for part in key)  # type: ignore[attr-defined]
        if last_segment is not None and segment != last_segment:
            table.add_section()
        last_segment = segment
        cells = [row[m] if isinstance(row[m], str) else "-" for m in wide.columns]
        table.add_row(segment, model, *cells)
    return table
