"""Feature drift between two snapshot populations: PSI and KS tests, pure NumPy/SciPy.

The monitor step compares the feature snapshots the champion was trained on (the
reference) with the current ones. Per numeric feature it computes the population stability
index over the reference's deciles and the two-sample Kolmogorov-Smirnov test; per
categorical feature (risk categories, sex) the PSI over categories and a chi-square test.

A feature *drifts* when both agree: PSI at or above the threshold (0.25, the usual "major
shift" line; 0.1-0.25 is "moderate") **and** the test rejects equal distributions at a
family-wise ``alpha`` (Bonferroni over the features checked). PSI alone is biased upwards
on small samples (about ``(bins - 1) * (1/n + 1/m)`` with no shift at all), and a test
alone flags negligible shifts on large ones; requiring both keeps a 30-client clinic and a
100,000-client one honest.

No I/O here: :mod:`.steps` reads the snapshots and stores the result, :mod:`.report`
renders it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

PSI_THRESHOLD = 0.25
PSI_MODERATE = 0.10
ALPHA = 0.05
BINS = 10
MIN_VALUES = 10  # fewer non-missing values on either side: the feature is not checked
EPSILON = 1e-4  # share given to an empty bin, so the logarithm stays finite

# Identifiers and bookkeeping, not features.
NOT_FEATURES = frozenset({"client_id", "as_of", "feature_version"})
# Features that move by construction as the calendar advances (days since the last lab).
MOVES_WITH_TIME = ("_days_since",)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One feature's comparison; ``statistic`` is KS's D (numeric) or chi-square."""

    name: str
    kind: str  # "numeric" | "categorical"
    n_reference: int
    n_current: int
    psi: float
    statistic: float
    p_value: float
    drifted: bool
    reference_mean: float | None = None
    current_mean: float | None = None
    bins: list[str] = field(default_factory=list)
    reference_shares: list[float] = field(default_factory=list)
    current_shares: list[float] = field(default_factory=list)

    @property
    def level(self) -> str:
        """``major`` / ``moderate`` / ``stable`` by PSI alone (the usual reading)."""
        if self.psi >= PSI_THRESHOLD:
            return "major"
        return "moderate" if self.psi >= PSI_MODERATE else "stable"

    def summary(self) -> dict[str, Any]:
        """What the store keeps per feature (the bins stay in the HTML report)."""
        out = asdict(self)
        for key in ("bins", "reference_shares", "current_shares"):
            out.pop(key)
        return {k: _finite(v) for k, v in out.items()}


@dataclass(frozen=True, slots=True)
class DriftResult:
    features: list[FeatureDrift]
    psi_threshold: float
    alpha: float
    skipped: list[str]  # features with too few values on one side

    @property
    def checked(self) -> int:
        return len(self.features)

    @property
    def drifted_features(self) -> list[FeatureDrift]:
        return sorted((f for f in self.features if f.drifted), key=lambda f: -f.psi)

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_features)

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.features), default=0.0)

    @property
    def per_test_alpha(self) -> float:
        return self.alpha / max(self.checked, 1)


# --------------------------------------------------------------------------- the math


def shares_psi(reference: npt.ArrayLike, current: npt.ArrayLike, eps: float = EPSILON) -> float:
    """PSI = sum over bins of (c - r) * ln(c / r) for two vectors of bin shares."""
    r = np.clip(np.asarray(reference, dtype=np.float64), eps, None)
    c = np.clip(np.asarray(current, dtype=np.float64), eps, None)
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_edges(reference: npt.ArrayLike, bins: int = BINS) -> FloatArray:
    """Interior bin edges at the reference's quantiles (ties merged).

    Bins are (-inf, e1], (e1, e2], ..., (ek, inf): a constant reference gives two bins,
    its value and everything above it.
    """
    values = np.asarray(reference, dtype=np.float64)
    qs = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(qs)
    return edges if edges.size else np.unique(values)[:1]


def bin_shares(values: npt.ArrayLike, edges: FloatArray) -> FloatArray:
    idx = np.searchsorted(edges, np.asarray(values, dtype=np.float64), side="left")
    counts = np.bincount(idx, minlength=edges.size + 1).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def psi(reference: npt.ArrayLike, current: npt.ArrayLike, *, bins: int = BINS) -> float:
    """Population stability index of ``current`` against ``reference`` (numeric)."""
    edges = quantile_edges(reference, bins)
    return shares_psi(bin_shares(reference, edges), bin_shares(current, edges))


def ks(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov (D, p-value), exact for small samples (SciPy).

    With many ties SciPy's exact p-value may not converge; it then uses the asymptotic
    one and says so with a warning, which is silenced here (the answer is still valid).
    """
    from scipy import stats

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful")
        result = stats.ks_2samp(np.asarray(reference), np.asarray(current))
    return float(result.statistic), float(result.pvalue)


def category_shares(
    reference: Sequence[str], current: Sequence[str]
) -> tuple[list[str], FloatArray, FloatArray, npt.NDArray[np.int64]]:
    """Categories (sorted), each side's shares, and the 2 x k count table."""
    labels = sorted(set(reference) | set(current))
    ref = pd.Series(list(reference)).value_counts().reindex(labels, fill_value=0)
    cur = pd.Series(list(current)).value_counts().reindex(labels, fill_value=0)
    table = np.vstack([ref.to_numpy(), cur.to_numpy()]).astype(np.int64)
    return labels, table[0] / max(table[0].sum(), 1), table[1] / max(table[1].sum(), 1), table


def categorical_psi(reference: Sequence[str], current: Sequence[str]) -> float:
    _, r, c, _ = category_shares(reference, current)
    return shares_psi(r, c)


def chi_square(table: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Chi-square test of homogeneity on a 2 x k table; (0, 1) with one category."""
    from scipy import stats

    kept = table[:, table.sum(axis=0) > 0]
    if kept.shape[1] < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(kept, correction=False)
    return float(result.statistic), float(result.pvalue)


# --------------------------------------------------------------------------- features


def numeric_drift(
    name: str, reference: npt.ArrayLike, current: npt.ArrayLike, *, bins: int = BINS
) -> FeatureDrift:
    """PSI and KS of one numeric feature; ``drifted`` is decided by :func:`compare`."""
    ref = _clean(reference)
    cur = _clean(current)
    edges = quantile_edges(ref, bins)
    r, c = bin_shares(ref, edges), bin_shares(cur, edges)
    d, p = ks(ref, cur)
    return FeatureDrift(
        name=name,
        kind="numeric",
        n_reference=int(ref.size),
        n_current=int(cur.size),
        psi=shares_psi(r, c),
        statistic=d,
        p_value=p,
        drifted=False,
        reference_mean=float(ref.mean()),
        current_mean=float(cur.mean()),
        bins=_edge_labels(edges),
        reference_shares=[float(x) for x in r],
        current_shares=[float(x) for x in c],
    )


def categorical_drift(
    name: str, reference: Iterable[object], current: Iterable[object]
) -> FeatureDrift:
    ref = [_label(v) for v in reference]
    cur = [_label(v) for v in current]
    labels, r, c, table = category_shares(ref, cur)
    chi2, p = chi_square(table)
    return FeatureDrift(
        name=name,
        kind="categorical",
        n_reference=len(ref),
        n_current=len(cur),
        psi=shares_psi(r, c),
        statistic=chi2,
        p_value=p,
        drifted=False,
        bins=labels,
        reference_shares=[float(x) for x in r],
        current_shares=[float(x) for x in c],
    )


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    psi_threshold: float = PSI_THRESHOLD,
    alpha: float = ALPHA,
    bins: int = BINS,
    min_values: int = MIN_VALUES,
) -> DriftResult:
    """Compare every listed feature present on both sides; see the module docstring."""
    found: list[FeatureDrift] = []
    skipped: list[str] = []
    for name in numeric:
        if name not in reference or name not in current:
            continue
        ref, cur = _clean(reference[name]), _clean(current[name])
        if min(ref.size, cur.size) < min_values:
            skipped.append(name)
            continue
        found.append(numeric_drift(name, ref, cur, bins=bins))
    for name in categorical:
        if name not in reference or name not in current:
            continue
        if min(len(reference), len(current)) < min_values:
            skipped.append(name)
            continue
        found.append(categorical_drift(name, reference[name], current[name]))
    per_test = alpha / max(len(found), 1)
    decided = [_decide(f, psi_threshold, per_test) for f in found]
    return DriftResult(decided, psi_threshold, alpha, skipped)


def feature_columns(columns: Iterable[str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names of the snapshot registry found in ``columns``."""
    from health_advisor.features.registry import feature_specs

    present = set(columns)
    numeric, categorical = [], []
    for spec in feature_specs():
        if spec.name not in present or spec.name in NOT_FEATURES:
            continue
        if spec.name.endswith(MOVES_WITH_TIME):
            continue
        if spec.dtype == "float":
            numeric.append(spec.name)
        elif spec.dtype == "string":
            categorical.append(spec.name)
    return numeric, categorical


def _decide(feature: FeatureDrift, psi_threshold: float, per_test_alpha: float) -> FeatureDrift:
    drifted = feature.psi >= psi_threshold and feature.p_value < per_test_alpha
    return replace(feature, drifted=drifted)


def _clean(values: npt.ArrayLike | pd.Series) -> FloatArray:
    array = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    out = array.to_numpy(dtype=np.float64, na_value=np.nan)
    return out[np.isfinite(out)]


def _label(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return str(value)


def _edge_labels(edges: FloatArray) -> list[str]:
    if edges.size == 0:
        return ["all"]
    text = [f"{e:.4g}" for e in edges]
    inner = [f"{a} – {b}" for a, b in itertools.pairwise(text)]
    return [f"≤ {text[0]}", *inner, f"> {text[-1]}"]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
