"""Spark MLlib ALS behind the estimator API, for cohorts that outgrow one machine.

``SparkALS.fit`` hands the (client, intervention, value) triples to a Spark cluster (or a
local Spark), trains :class:`pyspark.ml.recommendation.ALS` there and collects the learned
factors into NumPy. Everything after ``fit`` (``predict``, ``recommend``, ``save``,
``load``, ``to_scorer``) is NumPy only, like the other models:

    score = g + b_client + b_intervention + <p_client, q_intervention>

Explicit mode (adherence %, ratings): ALS shrinks factors toward zero and its
``reg_param`` is not scale-free, so ``fit`` first removes a centre and divides by the
standard deviation of ``value`` (a 0-100 adherence and a 1-5 rating then want the same
``reg_param``; measured on MovieLens u1: identical RMSE on both scales, where raw 0-100
values overfit). The centre is, by default (``centering="biases"``), the global mean plus
ridge client and intervention biases (as :class:`~health_advisor.recommender.BiasBaseline`)
so ALS learns the residuals; ``"mean"`` removes the global mean only and ``"none"``
nothing (Spark's own behaviour). Implicit mode (accepted / declined) uses Spark's
``implicitPrefs``: ``value > 0`` is accepted, anything else is declined; both are
observations with confidence ``1 + alpha`` (declined ones pull toward 0, which an
unobserved cell does only with confidence 1); predictions are preference scores near
[0, 1], not calibrated probabilities.

Cold start: a client without factors (unknown, or known only from ``client_features``)
gets the bias fallback of :mod:`~health_advisor.recommender.base` (``g + b_intervention``);
without biases (implicit mode, ``centering`` "mean" or "none") it gets the mean client
vector instead. An intervention without interactions gets ``g + b_client`` (with
``centering="none"``: 0, the bottom of the ranking). Client and item features are validated and
saved but not used by ALS.

Spark session: if the calling thread already has an active ``SparkSession`` (e.g. a
notebook, a test fixture, ``spark-submit``), ``fit`` uses it and leaves it running;
otherwise it starts one on ``master`` (default ``local[*]``) and stops it at the end of
``fit``, with a temporary checkpoint folder for local masters (ALS cuts its lineage every
10 iterations; without checkpoints ~30 iterations overflow the JVM stack). On a cluster
pass ``checkpoint_dir`` on shared storage for long runs. The interactions travel from the
driver (``createDataFrame``), so they must fit in the driver's memory; executors need the
same Python as the driver. PySpark is imported only inside methods, so
``import health_advisor.recommender`` stays light and serving never needs Java.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from contextlib import ExitStack
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

import numpy as np

from health_advisor.errors import InputError
from health_advisor.recommender.base import ClientRows, Recommender, TrainingData
from health_advisor.recommender.baselines import fit_biases

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CENTERINGS = ("biases", "mean", "none")
DEFAULT_MASTER = "local[*]"
SESSION_CONF = {
    "spark.app.name": "health-advisor-als",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
"""Settings for a session ``fit`` starts itself (a caller's session is left as it is)."""

PANDAS_WARNING = "PySpark does not yet fully support pandas"
"""PySpark 4 warns about pandas >= 3 when it first converts a Python value; ALS here never
converts to or from pandas, so the warning is silenced (and only this one)."""


def start_session(
    master: str | None = None, log_level: str = "ERROR", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A new (or the process's existing) ``SparkSession`` on ``master``, quiet and UI-less.

    ``conf`` adds Spark settings; JVM options (``spark.driver.extraJavaOptions``) only
    take effect for the first session of a process, which launches the JVM.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
        import pyspark.testing.utils  # noqa: F401  (imported here to silence its warning)
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.master(master or DEFAULT_MASTER)
        for key, value in {**SESSION_CONF, **(conf or {})}.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel(log_level)
    return session


def active_session() -> SparkSession | None:
    """The calling thread's active ``SparkSession``, if any."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"SparkALS: {name} must be an integer >= {low}, got {value!r}")


def _check_number(name: str, value: object, low: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= low:
        raise InputError(f"SparkALS: {name} must be a number >= {low}, got {value!r}")


def factor_matrix(rows: list[Any], n: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense (n, rank) float64 factors from Spark's (id, features) rows, and a has-row mask."""
    matrix = np.zeros((n, rank))
    present = np.zeros(n, bool)
    if rows:
        ids = np.fromiter((int(r[0]) for r in rows), np.int64, len(rows))
        matrix[ids] = np.asarray([r[1] for r in rows], dtype=np.float64)
        present[ids] = True
    return matrix, present


class SparkALS(Recommender):
    """Alternating least squares matrix factorisation trained on Spark (MLlib ALS).

    Hyperparameters: ``rank`` (factor size), ``reg_param`` (Spark's ``regParam``, scaled
    by each row's number of ratings), ``max_iter``, ``implicit_prefs`` and ``alpha``
    (implicit confidence), ``seed``, ``centering`` (explicit mode: ``"biases"``,
    ``"mean"`` or ``"none"``), ``bias_reg`` (ridge strength of the biases), ``clip``
    (``predict`` clips to the range of ``value`` seen at fit; ``recommend`` always ranks
    by the unclipped score so clipped top items do not tie), ``num_blocks`` (ALS user and
    item blocks; None: the session's default parallelism, at most 10), ``master`` (Spark
    master URL for a session ``fit`` starts; None: ``local[*]``), ``checkpoint_dir``
    (where ALS checkpoints; None: a temporary folder when ``fit`` runs its own local
    Spark, else the session's setting).
    """

    def __init__(
        self,
        rank: int = 10,
        reg_param: float = 0.1,
        max_iter: int = 10,
        implicit_prefs: bool = False,
        alpha: float = 1.0,
        seed: int = 0,
        centering: str = "biases",
        bias_reg: float = 10.0,
        clip: bool = True,
        num_blocks: int | None = None,
        master: str | None = None,
        checkpoint_dir: str | None = None,
    ) -> None:
        self.rank = rank
        self.reg_param = reg_param
        self.max_iter = max_iter
        self.implicit_prefs = implicit_prefs
        self.alpha = alpha
        self.seed = seed
        self.centering = centering
        self.bias_reg = bias_reg
        self.clip = clip
        self.num_blocks = num_blocks
        self.master = master
        self.checkpoint_dir = checkpoint_dir

    def _check_params(self) -> None:
        _check_int("rank", self.rank, 1)
        _check_int("max_iter", self.max_iter, 1)
        _check_int("seed", self.seed, 0)
        _check_number("reg_param", self.reg_param, 0.0)
        _check_number("alpha", self.alpha, 0.0)
        _check_number("bias_reg", self.bias_reg, 0.0)
        if self.num_blocks is not None:
            _check_int("num_blocks", self.num_blocks, 1)
        if self.centering not in CENTERINGS:
            raise InputError(
                f"SparkALS: centering must be one of {CENTERINGS}, got {self.centering!r}"
            )
        for name in ("implicit_prefs", "clip"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"SparkALS: {name} must be True or False")
        for name in ("master", "checkpoint_dir"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise InputError(f"SparkALS: {name} must be a non-empty string, got {value!r}")

    # -- training ------------------------------------------------------------------------

    def _fit(self, data: TrainingData) -> None:
        started = time.perf_counter()
        targets = self._targets(data)
        session = active_session()
        owned = session is None
        if session is None:
            session = start_session(self.master)
        with ExitStack() as cleanup:
            if owned:
                cleanup.callback(session.stop)
            self._set_checkpoint_dir(session, owned, cleanup)
            ready = time.perf_counter()
            clients, items = self._train(session, data, targets)
            master = session.sparkContext.master
            version = session.version
        self._store_factors(clients, items)
        self.fit_report_ = {
            "master": master,
            "spark_version": version,
            "own_session": owned,
            "session_s": ready - started,
            "train_s": time.perf_counter() - ready,
            "n_interactions": int(targets.size),
        }

    def _set_checkpoint_dir(self, session: SparkSession, owned: bool, cleanup: ExitStack) -> None:
        """Let ALS cut its lineage every 10 iterations (without, ~30 overflow the stack).

        ``checkpoint_dir`` wins (on a cluster it must be shared storage, e.g. HDFS);
        a local session ``fit`` started itself gets a temporary folder, removed after.
        """
        context = session.sparkContext
        if self.checkpoint_dir is not None:
            context.setCheckpointDir(self.checkpoint_dir)
        elif (
            owned and (context.master or "").startswith("local") and not context.getCheckpointDir()
        ):
            folder = cleanup.enter_context(TemporaryDirectory(prefix="health-advisor-als-"))
            context.setCheckpointDir(folder)

    def _targets(self, data: TrainingData) -> np.ndarray:
        """What ALS fits: residuals after biases/mean (explicit) or signed confidences."""
        n_c, n_i = len(self.clients_), len(self.items_)
        u, i, y = data.client_idx, data.item_idx, data.values
        self.global_mean_ = 0.0
        self.client_bias_ = np.zeros(n_c)
        self.item_bias_ = np.zeros(n_i)
        self.scale_ = 1.0
        if self.implicit_prefs:
            return np.where(y > 0, 1.0, -1.0)
        std = float(y.std())
        self.scale_ = std if std > 0 else 1.0
        if self.centering == "mean":
            self.global_mean_ = float(y.mean())
        elif self.centering == "biases":
            reg = float(self.bias_reg)
            self.global_mean_, self.client_bias_, self.item_bias_ = fit_biases(
                u, i, y, n_c, n_i, reg, reg, 15
            )
        residual = y - self.global_mean_ - self.client_bias_[u] - self.item_bias_[i]
        return residual / self.scale_

    def _train(
        self, session: SparkSession, data: TrainingData, targets: np.ndarray
    ) -> tuple[list[Any], list[Any]]:
        """Train ALS on the cluster; the collected (id, features) rows of both sides."""
        from pyspark.ml.recommendation import ALS

        frame = self._spark_frame(session, data, targets)
        blocks = self.num_blocks or max(1, min(10, session.sparkContext.defaultParallelism))
        als = ALS(
            rank=int(self.rank),
            maxIter=int(self.max_iter),
            regParam=float(self.reg_param),
            implicitPrefs=bool(self.implicit_prefs),
            alpha=float(self.alpha),
            seed=int(self.seed),
            numUserBlocks=int(blocks),
            numItemBlocks=int(blocks),
            userCol="client",
            itemCol="item",
            ratingCol="value",
            coldStartStrategy="drop",
        )
        model = als.fit(frame)
        return model.userFactors.collect(), model.itemFactors.collect()

    @staticmethod
    def _spark_frame(session: SparkSession, data: TrainingData, targets: np.ndarray) -> DataFrame:
        """The triples as a Spark DataFrame (sent from the driver, so any cluster reads it)."""
        from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

        schema = StructType(
            [
                StructField("client", IntegerType(), False),
                StructField("item", IntegerType(), False),
                StructField("value", DoubleType(), False),
            ]
        )
        rows = zip(data.client_idx.tolist(), data.item_idx.tolist(), targets.tolist(), strict=True)
        return session.createDataFrame(list(rows), schema=schema, verifySchema=False)

    def _store_factors(self, clients: list[Any], items: list[Any]) -> None:
        rank = int(self.rank)
        # ALS learned values / scale_: fold the scale into the client side once
        factors, has_factors = factor_matrix(clients, len(self.clients_), rank)
        self.client_factors_ = factors * self.scale_
        self.item_factors_, _ = factor_matrix(items, len(self.items_), rank)
        bias_fallback = self.centering == "biases" and not self.implicit_prefs
        self.fallback_factors_ = (
            np.zeros(rank)
            if bias_fallback or not has_factors.any()
            else self.client_factors_[has_factors].mean(axis=0)
        )

    # -- prediction ------------------------------------------------------------------------

    def _client_terms(self, clients: ClientRows) -> tuple[np.ndarray, np.ndarray]:
        """Factor rows and biases of a batch; unknown clients get the fallback."""
        known = clients.idx >= 0
        pos = np.maximum(clients.idx, 0)
        vectors = np.where(known[:, None], self.client_factors_[pos], self.fallback_factors_)
        return vectors, np.where(known, self.client_bias_[pos], 0.0)

    def _raw_matrix(self, clients: ClientRows) -> np.ndarray:
        vectors, bias = self._client_terms(clients)
        raw = vectors @ self.item_factors_.T
        return raw + bias[:, None] + self.item_bias_[None, :] + self.global_mean_

    def _finish(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(raw, *self.value_range_) if self.clip else raw

    def _predict(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        vectors, bias = self._client_terms(clients)
        dot = np.einsum("nr,nr->n", vectors, self.item_factors_[items])
        return self._finish(self.global_mean_ + bias + self.item_bias_[items] + dot)

    def _predict_matrix(self, clients: ClientRows) -> np.ndarray:
        return self._finish(self._raw_matrix(clients))

    def _rank_matrix(self, clients: ClientRows) -> np.ndarray:
        return self._raw_matrix(clients)

    def to_scorer(self) -> Any:
        """A :class:`~health_advisor.recommender.scorer.NumpyScorer` giving ``predict``'s
        scores (its row 0, the unknown client, holds the fallback vector)."""
        from health_advisor.recommender.scorer import NumpyScorer

        self._check_fitted()
        arrays = {
            "client_vectors": np.vstack([self.fallback_factors_, self.client_factors_]),
            "client_bias": np.concatenate([[0.0], self.client_bias_]),
            "item_emb": self.item_factors_,
            "item_bias": self.item_bias_,
            "global_bias": np.array([self.global_mean_]),
        }
        meta = {"scaling": {"mean": 0.0, "std": 1.0}, "mode": "explicit"}
        return NumpyScorer.from_arrays(meta, arrays, self)

    # -- persistence -----------------------------------------------------------------------

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {
            "global_mean": self.global_mean_,
            "scale": self.scale_,
            "fit_report": getattr(self, "fit_report_", None),
        }
        return meta, {
            "client_factors": self.client_factors_,
            "item_factors": self.item_factors_,
            "client_bias": self.client_bias_,
            "item_bias": self.item_bias_,
            "fallback_factors": self.fallback_factors_,
        }

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.global_mean_ = float(meta["global_mean"])
        self.scale_ = float(meta["scale"])
        if meta.get("fit_report") is not None:
            self.fit_report_ = meta["fit_report"]
        self.client_factors_ = arrays["client_factors"]
        self.item_factors_ = arrays["item_factors"]
        self.client_bias_ = arrays["client_bias"]
        self.item_bias_ = arrays["item_bias"]
        self.fallback_factors_ = arrays["fallback_factors"]
