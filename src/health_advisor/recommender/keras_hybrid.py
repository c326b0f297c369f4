"""Hybrid matrix factorisation in Keras 3 on TensorFlow: the product's main model.

A prediction (in the model's internal, standardised scale) is

    g + b_c + b_i + <p_c, q_i>
    p_c = E_c[c] + |N(c)|^-1/2 * sum_{j in N(c)} Y[j] + tower_c(x_c)
    q_i = E_i[i] + tower_i(x_i)
    b_c = B_c[c] + w_c . x_c,     b_i = B_i[i] + w_i . x_i

with id embeddings ``E``, biases ``B``, the client's interaction history ``N(c)`` (the
SVD++ implicit term: which interventions the client has tried, not how it went) and dense
towers over client features (feature store) and intervention attributes (catalog). During
training client ids are dropped at random (``id_dropout``) so the feature tower alone
learns to predict: a client with no history gets a personalised score from features.
Clients without a feature row and without history get ``g + b_i`` only (bias fallback).

Explicit mode (adherence %, rating) standardises ``value`` and minimises squared error;
implicit mode treats ``value > 0`` as accepted and everything else, plus sampled
unobserved interventions, as declined, and minimises binary cross-entropy; predictions are
then probabilities. Regularisation is per-example L2 on the looked-up embeddings and
biases (as in SGD matrix factorisation) plus L2 on tower weights; Adam; early stopping on
a random validation split restores the best epoch.

Optional second stage (explicit mode, ``ridge_sweeps`` > 0): with the towers and history
fixed, alternating exact ridge solves (ALS) refit every client's ``E_c, B_c`` (shrunk
towards the unknown-client slot, i.e. towards the feature prediction) and every
intervention's ``E_i, B_i`` on all training rows. With ``id_dropout`` 1 the first stage
is a pure feature model and the client id tables are left out of its updates; the ridge
stage then makes the ids a residual refinement of the feature prior. This is the
clinic's configuration (:func:`~health_advisor.recommender.datasets.clinic_defaults`):
with ~5 values a client, gradient training stops long before the id terms are fitted.
How strongly, and in which directions, a client is shrunk towards the feature prediction
is learned (``ridge_prior`` "learned", the default): the sweeps are also EM steps of a
Gaussian random-effects model whose prior covariance and noise variance they estimate,
so the penalty is a matrix ``sigma2 inv(cov)`` rather than one number (on the seed-7
clinic it lifted warm NDCG@10 / oracle from 0.899 to 0.907). The refined weights are
written back to the network, so predictions, the NumPy scorer and the SavedModel all
carry them. TensorFlow is imported only inside
methods, so importing :mod:`health_advisor.recommender` stays light; serving uses
:mod:`health_advisor.recommender.scorer` (NumPy only) or the exported SavedModel.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from health_advisor.errors import InputError
from health_advisor.recommender.base import ClientRows, Recommender, TrainingData
from health_advisor.recommender.baselines import fit_biases

MODES = ("explicit", "implicit")
DENSE_HISTORY_LIMIT = 20_000_000
"""Largest (clients x interventions) history kept as a dense table (80 MB of float32)."""


def _check_positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"HybridMF: {name} must be an integer >= {minimum}, got {value!r}")


def _check_number(name: str, value: object, low: float, high: float | None = None) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):  # type: ignore[operator]
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise InputError(f"HybridMF: {name} must be a number {bound}, got {value!r}")


def history_pairs(u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Unique (client, item) pairs sorted by client: the implicit history ``N(c)``."""
    pairs = np.unique(np.column_stack([u, i]).astype(np.int64), axis=0)
    return pairs.astype(np.int32)


def history_csr(pairs: np.ndarray, n_clients: int) -> tuple[np.ndarray, ...]:
    """``N(c)`` as CSR (indptr, item indices, weights ``|N(c)|^-1/2``), one row per slot.

    Row 0 is the unknown client (empty); client ``c`` is row ``c + 1``; ``pairs`` must be
    sorted by client (as :func:`history_pairs` returns them).
    """
    counts = np.bincount(pairs[:, 0], minlength=n_clients) if pairs.size else np.zeros(n_clients)
    indptr = np.concatenate([[0, 0], np.cumsum(counts)]).astype(np.int32)
    weights = (1.0 / np.sqrt(counts[pairs[:, 0]])).astype(np.float32) if pairs.size else []
    return indptr, pairs[:, 1].astype(np.int32), np.asarray(weights, np.float32)


def history_dense(pairs: np.ndarray, n_clients: int, n_items: int) -> np.ndarray:
    """The same history as a dense (n_clients + 1, n_items) float32 table."""
    table = np.zeros((n_clients + 1, n_items), np.float32)
    if pairs.size:
        _, _, weights = history_csr(pairs, n_clients)
        table[pairs[:, 0] + 1, pairs[:, 1]] = weights
    return table


def history_vectors(pairs: np.ndarray, n_clients: int, history_emb: np.ndarray) -> np.ndarray:
    """``|N(c)|^-1/2 sum_j Y[j]`` for every slot (row 0: zeros), in NumPy."""
    out = np.zeros((n_clients + 1, history_emb.shape[1]), np.float32)
    if pairs.size:
        _, _, weights = history_csr(pairs, n_clients)
        np.add.at(out, pairs[:, 0] + 1, history_emb[pairs[:, 1]] * weights[:, None])
    return out


RIDGE_GROUP_BLOCK = 4096
"""Groups (clients or items) whose normal equations are built and solved at once."""
RIDGE_OUTER_BLOCK = 4096
"""Rows of the other side whose outer products are formed at once (bounds memory)."""
RIDGE_LOOP_GROUPS = 2048
"""Up to this many groups, each group's Gram matrix is one BLAS product of its own rows."""
RIDGE_SELECT_FACTORS = (1.0, 3.0, 10.0)
"""Multiples of ``ridge_clients`` / ``ridge_items`` tried on the validation rows."""
PRIOR_SELECT_FACTORS = (1 / 3, 1.0, 3.0)
"""Multiples of the learned client penalty matrix tried on the validation rows."""
RIDGE_PRIORS = ("learned", "isotropic")
PRIOR_EM_STEPS = 2
"""EM steps per client half-sweep of a learned prior (9 sweeps: 20 steps in all)."""
POSTERIOR_CACHE_BYTES = 256 * 2**20
"""Largest set of clients' normal equations kept between EM steps (else rebuilt)."""


def row_dot(a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """``sum(a[ia] * b[ib], axis=1)``: through the full product ``a @ b.T`` when that is
    small (a clinic's catalog), else in chunks so 2 million rows need little memory."""
    if a.shape[0] * b.shape[0] <= DENSE_HISTORY_LIMIT:
        return (a @ b.T)[ia, ib]
    out = np.empty(ia.size, np.float64)
    step = 262_144
    for start in range(0, ia.size, step):
        part = slice(start, start + step)
        out[part] = np.einsum("ij,ij->i", a[ia[part]], b[ib[part]])
    return out


def _outer_rows(x: np.ndarray) -> np.ndarray:
    """Row-wise outer products, flattened: (rows, k * k)."""
    return (x[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)


def _block_gram(counts: Any, design: np.ndarray) -> np.ndarray:
    """``sum_o counts[g, o] x_o x_o^T`` for the groups of ``counts`` (flattened k x k)."""
    k = design.shape[1]
    total = np.zeros((counts.shape[0], k * k))
    for start in range(0, design.shape[0], RIDGE_OUTER_BLOCK):
        part = counts[:, start : start + RIDGE_OUTER_BLOCK]
        if part.nnz == 0:
            continue
        outer = _outer_rows(design[start : start + RIDGE_OUTER_BLOCK])
        dense = part.nnz > 0.05 * part.shape[0] * part.shape[1]
        total += (part.toarray() @ outer) if dense else np.asarray(part @ outer)
    return total


def _looped_gram(counts: Any, design: np.ndarray) -> np.ndarray:
    """The same Gram matrices, one ``X_g^T X_g`` product per group (few, large groups).

    BLAS runs single-threaded here: OpenBLAS' threads cost 30x on these thin products
    (measured on 2 busy cores), far more than they save.
    """
    from threadpoolctl import threadpool_limits

    k = design.shape[1]
    out = np.zeros((counts.shape[0], k, k))
    with threadpool_limits(limits=1, user_api="blas"):
        for g in range(counts.shape[0]):
            lo, hi = counts.indptr[g], counts.indptr[g + 1]
            x = design[counts.indices[lo:hi]] * np.sqrt(counts.data[lo:hi])[:, None]
            out[g] = x.T @ x
    return out.reshape(counts.shape[0], k * k)


def _normal_equations(
    groups: np.ndarray, others: np.ndarray, residual: np.ndarray, vectors: np.ndarray, n_groups: int
) -> Any:
    """Per-group ridge normal equations of ``residual ~ b_g + w_g . vectors[other]``, a block
    of groups at a time: yields (block slice, Gram matrices (g, k, k), right-hand sides (g, k))
    with ``k = 1 + d`` (the bias first)."""
    import scipy.sparse as sp

    design = np.hstack([np.ones((vectors.shape[0], 1)), vectors.astype(np.float64)])
    k = design.shape[1]
    shape = (n_groups, design.shape[0])
    counts = sp.csr_matrix((np.ones(groups.size), (groups, others)), shape=shape)
    sums = sp.csr_matrix((residual.astype(np.float64), (groups, others)), shape=shape)
    rhs = np.asarray(sums @ design)
    gram_of = _looped_gram if n_groups <= RIDGE_LOOP_GROUPS else _block_gram
    for start in range(0, n_groups, RIDGE_GROUP_BLOCK):
        block = slice(start, start + RIDGE_GROUP_BLOCK)
        yield block, gram_of(counts[block], design).reshape(-1, k, k), rhs[block]


def group_ridge(
    groups: np.ndarray,
    others: np.ndarray,
    residual: np.ndarray,
    vectors: np.ndarray,
    n_groups: int,
    penalty: float,
) -> np.ndarray:
    """Per-group ridge fit of ``residual ~ b_g + w_g . vectors[other]``: (n_groups, 1 + d).

    Row ``g`` is ``(b_g, w_g)`` minimising ``sum (r - b_g - w_g . v_o)^2 + penalty *
    (b_g^2 + |w_g|^2)`` over the rows of group ``g`` (zeros for a group without rows).
    This is one half of an alternating-least-squares sweep: exact, deterministic and
    cheap, because each group's normal equations are only (1 + d) x (1 + d).
    """
    out = np.zeros((n_groups, vectors.shape[1] + 1))
    eye = penalty * np.eye(out.shape[1])
    for block, gram, rhs in _normal_equations(groups, others, residual, vectors, n_groups):
        out[block] = np.linalg.solve(gram + eye, rhs[..., None])[..., 0]
    return out


@dataclass
class GaussianPrior:
    """The prior ``N(0, cov)`` of every client's id terms ``(b_c, e_c)`` (the deviation from
    the feature prediction) and the noise variance ``sigma2``: the ridge penalty matrix is
    ``sigma2 * inv(cov)``, so the solve is the posterior mean of a Gaussian random-effects
    model."""

    penalty: np.ndarray  # (k, k)
    sigma2: float | None = None


def group_posterior(
    groups: np.ndarray,
    others: np.ndarray,
    residual: np.ndarray,
    vectors: np.ndarray,
    n_groups: int,
    prior: GaussianPrior,
    *,
    scale: float = 1.0,
    em_steps: int | None = None,
) -> tuple[np.ndarray, GaussianPrior]:
    """Posterior means under ``scale`` x ``prior`` and the prior re-estimated (EM steps).

    E-step: each group's ``w_g = (G_g + P)^-1 X_g^T r_g`` (the ridge solve with penalty
    matrix ``P``) and its posterior covariance ``sigma2 (G_g + P)^-1``. M-step: ``cov`` =
    the mean over groups with rows of ``w_g w_g^T`` + posterior covariance, ``sigma2`` = the
    expected squared residual per row. Maximising the marginal likelihood this way learns
    how far, and in which directions, clients depart from the feature prediction, instead
    of shrinking every direction alike; the first step without a ``sigma2`` takes the
    plain residual as the noise estimate. The normal equations are kept between steps
    when they fit in ``POSTERIOR_CACHE_BYTES``, else rebuilt. Returns the means under the
    last M-step's prior and that prior (unscaled); ``em_steps`` defaults to
    ``PRIOR_EM_STEPS``.
    """
    k = vectors.shape[1] + 1
    cached = None
    if n_groups * k * k * 8 <= POSTERIOR_CACHE_BYTES:
        cached = list(_normal_equations(groups, others, residual, vectors, n_groups))
    out = np.zeros((n_groups, k))
    steps = PRIOR_EM_STEPS if em_steps is None else em_steps
    for step in range(steps + 1):
        blocks = cached or _normal_equations(groups, others, residual, vectors, n_groups)
        out, updated = _em_step(blocks, residual, prior, scale, out)
        prior = updated if step < steps else prior
    return out, prior


def _em_step(
    blocks: Any, residual: np.ndarray, prior: GaussianPrior, scale: float, out: np.ndarray
) -> tuple[np.ndarray, GaussianPrior]:
    """One E-step over the normal-equation ``blocks`` (means into ``out``) and the M-step."""
    k = out.shape[1]
    second, covariance_sum = np.zeros((k, k)), np.zeros((k, k))
    sse, trace, n_with_rows = float(residual @ residual), 0.0, 0
    for block, gram, rhs in blocks:
        inverse = np.linalg.inv(gram + scale * prior.penalty)
        w = np.einsum("gij,gj->gi", inverse, rhs)
        out[block] = w
        sse += float(np.einsum("gi,gij,gj->", w, gram, w) - 2 * np.sum(w * rhs))
        trace += float(np.einsum("gij,gji->", gram, inverse))
        has = gram[:, 0, 0] > 0
        n_with_rows += int(has.sum())
        second += w[has].T @ w[has]
        covariance_sum += inverse[has].sum(axis=0)
    if n_with_rows == 0 or residual.size == 0:
        return out, prior
    sigma2 = sse / residual.size if prior.sigma2 is None else prior.sigma2
    sigma2_new = (sse + sigma2 * trace) / residual.size
    cov = (second + sigma2 * covariance_sum) / n_with_rows
    cov += 1e-9 * max(float(np.trace(cov)) / k, 1e-12) * np.eye(k)
    return out, GaussianPrior(penalty=sigma2_new * np.linalg.inv(cov), sigma2=sigma2_new)


@dataclass
class RidgeTerms:
    """The fixed parts of the model during ridge sweeps (internal scale, float64).

    Client ``c`` (row ``c`` of ``clients_``) scores item ``i`` as
    ``g + b0 + bc[c] + fb[c] + bi[i] + bt[i] + (e0 + ec[c] + h[c] + f[c]) . (ei[i] + t[i])``
    where ``b0, e0`` are the unknown-client slot (the population prior a client's own
    terms refine), ``fb, f`` the client towers, ``h`` the history term and ``bt, t`` the
    item towers. Sweeps update ``bc, ec`` (clients) and ``bi, ei`` (items); with a learned
    prior, ``prior`` holds the last estimate.
    """

    g: float
    b0: float
    e0: np.ndarray
    fixed_c: np.ndarray  # e0 + h + f, (n, d)
    fb: np.ndarray  # (n,)
    t: np.ndarray  # (m, d)
    bt: np.ndarray  # (m,)
    bc: np.ndarray
    ec: np.ndarray
    bi: np.ndarray
    ei: np.ndarray
    prior: GaussianPrior | None = None


def ridge_sweeps(
    terms: RidgeTerms,
    u: np.ndarray,
    i: np.ndarray,
    y: np.ndarray,
    *,
    sweeps: int,
    penalty_clients: float,
    penalty_items: float,
    learn_prior: bool = False,
    prior_scale: float = 1.0,
) -> RidgeTerms:
    """Alternate exact ridge solves for the id terms, towers fixed; ends on clients.

    Gradient training with early stopping leaves a client's few id parameters far from
    their optimum (it stops when the shared towers start to overfit); solving them in
    closed form, shrunk towards the unknown-client slot (the feature prior), makes the
    id part a residual refinement of the feature prediction, as in ALS. With
    ``learn_prior`` the clients' isotropic ``penalty_clients`` is only the start: every
    client half-sweep is also an EM step (:func:`group_posterior`) that re-estimates the
    clients' prior covariance and noise, and the next solves use ``prior_scale`` times the
    learned penalty matrix. ``terms`` is updated in place and returned.
    """
    n, m = terms.fixed_c.shape[0], terms.t.shape[0]
    k = terms.fixed_c.shape[1] + 1
    prior = GaussianPrior(penalty=penalty_clients * np.eye(k))
    for sweep in range(sweeps + 1):
        if sweep:
            p = terms.fixed_c + terms.ec
            base = terms.g + terms.b0 + terms.bc[u] + terms.fb[u] + terms.bt[i]
            r = y - base - row_dot(p, u, terms.t, i)
            sol = group_ridge(i, u, r, p, m, penalty_items)
            terms.bi, terms.ei = sol[:, 0], sol[:, 1:]
        q = terms.ei + terms.t
        base = terms.g + terms.b0 + terms.fb[u] + terms.bi[i] + terms.bt[i]
        r = y - base - row_dot(terms.fixed_c, u, q, i)
        if learn_prior:
            sol, prior = group_posterior(u, i, r, q, n, prior, scale=prior_scale)
            terms.prior = prior
        else:
            sol = group_ridge(u, i, r, q, n, penalty_clients)
        terms.bc, terms.ec = sol[:, 0], sol[:, 1:]
    return terms


def ridge_predict(terms: RidgeTerms, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """The model's output (internal scale) for rows ``u, i`` under ``terms``."""
    bias = terms.g + terms.b0 + terms.bc[u] + terms.fb[u] + terms.bi[i] + terms.bt[i]
    return bias + row_dot(terms.fixed_c + terms.ec, u, terms.ei + terms.t, i)


def _network(
    config: dict[str, Any], item_matrix: np.ndarray, history: tuple[np.ndarray, ...] | None
) -> Any:
    """The Keras model for ``config``; defined here so TensorFlow loads lazily."""
    import keras
    import tensorflow as tf
    from keras import ops

    class HybridNet(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            dim, hidden = config["embedding_dim"], config["hidden_units"]
            n_c, n_i = config["n_clients"] + 1, config["n_items"]
            normal = keras.initializers.RandomNormal(stddev=config["init_std"])
            self.client_emb = keras.layers.Embedding(n_c, dim, embeddings_initializer=normal)
            self.item_emb = keras.layers.Embedding(n_i, dim, embeddings_initializer=normal)
            self.client_bias = keras.layers.Embedding(n_c, 1, embeddings_initializer="zeros")
            self.item_bias = keras.layers.Embedding(n_i, 1, embeddings_initializer="zeros")
            self.global_bias = self.add_weight(shape=(), initializer="zeros", name="global")
            self.seed = keras.random.SeedGenerator(config["seed"])
            self.item_x = None
            if item_matrix.shape[1]:
                self.item_x = self.add_weight(
                    shape=item_matrix.shape, trainable=False, name="item_x", initializer="zeros"
                )
                self.item_x.assign(item_matrix)
                self.item_tower = self._tower(hidden, dim, "item_tower")
                self.item_linear = keras.layers.Dense(1)
            self.client_tower = None
            if config["client_width"]:
                self.client_tower = self._tower(hidden, dim, "client_tower")
                self.client_linear = keras.layers.Dense(1)
            self.history_table: list[Any] | None = None
            if history is not None:
                names = ("indptr", "indices", "weights") if len(history) == 3 else ("dense",)
                self.history_table = [
                    self._constant(array, name) for array, name in zip(history, names, strict=True)
                ]
                self.history_emb = self.add_weight(
                    shape=(n_i, dim), initializer=normal, name="history_emb"
                )

        def _constant(self, array: np.ndarray, name: str) -> Any:
            weight = self.add_weight(
                shape=array.shape,
                dtype=str(array.dtype),
                trainable=False,
                name=name,
                initializer="zeros",
            )
            weight.assign(array)
            return weight

        def history_term(self, u: Any) -> Any:
            """``|N(c)|^-1/2 sum_j Y[j]`` for the batch clients.

            ``dense_all``: one product over all clients, then a gather (few clients);
            ``dense_batch``: gather the batch's dense rows, then a product (small
            catalogs); ``ragged``: gather only the batch's CSR entries (large both ways).
            """
            assert self.history_table is not None
            if config["history_mode"] == "dense_all":
                return tf.gather(tf.matmul(self.history_table[0], self.history_emb), u)
            if config["history_mode"] == "dense_batch":
                return tf.matmul(tf.gather(self.history_table[0], u), self.history_emb)
            indptr, indices, weights = self.history_table
            starts, limits = tf.gather(indptr, u), tf.gather(indptr, u + 1)
            positions = tf.ragged.range(starts, limits)
            flat = positions.flat_values
            contrib = tf.gather(self.history_emb, tf.gather(indices, flat))
            contrib = contrib * tf.expand_dims(tf.gather(weights, flat), -1)
            return tf.math.unsorted_segment_sum(contrib, positions.value_rowids(), tf.shape(u)[0])

        @staticmethod
        def _tower(hidden: int, dim: int, name: str) -> Any:
            layers = [keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(dim)]
            return keras.Sequential(layers, name=name)

        def weight_penalty(self) -> Any:
            """L2 on tower kernels and history embeddings (once per step, not per example)."""
            total = ops.zeros(())
            for side in ("client", "item"):
                if getattr(self, f"{side}_tower", None) is None:
                    continue
                layers = [*getattr(self, f"{side}_tower").layers, getattr(self, f"{side}_linear")]
                for layer in layers:
                    total = total + config["l2_towers"] * ops.sum(layer.kernel * layer.kernel)
            if self.history_table is not None:
                y = self.history_emb
                total = total + config["l2_history"] * ops.sum(y * y)
            return total

        def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
            return self.forward(inputs, training)[0]

        def forward(self, inputs: dict[str, Any], training: bool = False) -> Any:
            """(output, per-example L2 penalty averaged over the batch)."""
            u = ops.cast(inputs["client"], "int32")
            i = ops.cast(inputs["item"], "int32")
            if training and config["id_dropout"] > 0:
                noise = keras.random.uniform(ops.shape(u), seed=self.seed)
                u = ops.where(noise < config["id_dropout"], ops.zeros_like(u), u)
            p, q = self.client_emb(u), self.item_emb(i)
            b_c = ops.squeeze(self.client_bias(u), -1)
            b_i = ops.squeeze(self.item_bias(i), -1)
            if self.history_table is not None:
                p = p + self.history_term(u)
            if self.client_tower is not None:
                x_c = ops.cast(inputs["client_features"], "float32")
                has = ops.cast(ops.expand_dims(inputs["has_features"], -1), "float32")
                p = p + has * self.client_tower(x_c)
                b_c = b_c + ops.squeeze(has * self.client_linear(x_c), -1)
            if self.item_x is not None:
                x_i = ops.take(self.item_x, i, axis=0)
                q = q + self.item_tower(x_i)
                b_i = b_i + ops.squeeze(self.item_linear(x_i), -1)
            penalty = ops.sum(p * p, -1) + ops.sum(q * q, -1) + b_c * b_c + b_i * b_i
            penalty = config["l2"] * ops.mean(penalty)
            return self.global_bias + b_c + b_i + ops.sum(p * q, -1), penalty

    return HybridNet()


Batch = tuple[dict[str, np.ndarray], np.ndarray]


def _train_loop(
    net: Any,
    optimizer: Any,
    train: Batch,
    val: Batch | None,
    *,
    implicit: bool,
    epochs: int,
    batch_size: int,
    patience: int,
    rng: np.random.Generator,
    verbose: int,
    frozen: tuple[Any, ...] = (),
) -> tuple[int, list[float]]:
    """Mini-batch Adam, one compiled graph per epoch; early stopping restores the best.

    Keras' ``Model.fit`` costs ~0.4 s per epoch in fixed overhead on CPU (data adapter,
    callbacks), more than a whole epoch of MovieLens; running the epoch's batches inside a
    single ``tf.function`` removes it. ``frozen`` variables are left out of the update:
    Adam updates every row of a table (and its two moments) at every step, so an unused
    100,000-client table would cost more than the rest of the step. Returns (epochs run,
    monitored loss per epoch).
    """
    import tensorflow as tf

    def data_loss(y: Any, out: Any) -> Any:
        if implicit:
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=out))
        return tf.reduce_mean(tf.square(y - out))

    x_train = {k: tf.constant(v) for k, v in train[0].items()}
    y_train = tf.constant(train[1])
    n = int(train[1].size)
    n_batches = -(-n // batch_size)
    skip = {id(v) for v in frozen}
    variables = [v for v in net.trainable_variables if id(v) not in skip]
    optimizer.build(variables)

    def step(order: Any, b: Any, total: Any) -> Any:
        idx = order[b * batch_size : (b + 1) * batch_size]
        batch = {k: tf.gather(v, idx) for k, v in x_train.items()}
        with tf.GradientTape() as tape:
            out, penalty = net.forward(batch, training=True)
            fit = data_loss(tf.gather(y_train, idx), out)
            loss = fit + penalty + net.weight_penalty()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return b + 1, total + fit

    @tf.function(autograph=False)
    def run_epoch(order: Any) -> Any:
        _, total = tf.while_loop(
            lambda b, _: b < n_batches,
            lambda b, total: step(order, b, total),
            [tf.constant(0), tf.constant(0.0)],
        )
        return total / n_batches

    @tf.function(autograph=False)
    def evaluate(x: Any, y: Any) -> Any:
        return data_loss(y, net.forward(x, training=False)[0])

    x_val = None if val is None else {k: tf.constant(v) for k, v in val[0].items()}
    y_val = None if val is None else tf.constant(val[1])
    losses: list[float] = []
    best: list[Any] | None = None
    for epoch in range(epochs):
        train_loss = float(run_epoch(tf.constant(rng.permutation(n).astype(np.int32))))
        loss = train_loss if x_val is None else float(evaluate(x_val, y_val))
        losses.append(loss)
        if verbose:
            print(f"epoch {epoch + 1}: train {train_loss:.4f} monitored {loss:.4f}")
        if loss <= min(losses):
            best = [v.numpy() for v in net.weights]
        elif x_val is not None and epoch - int(np.argmin(losses)) >= patience:
            break
    if best is not None and x_val is not None:
        for variable, value in zip(net.weights, best, strict=True):
            variable.assign(value)
    return len(losses), losses


class HybridMF(Recommender):
    """Hybrid matrix factorisation (ids + history + feature towers) trained with Keras.

    Defaults are tuned on MovieLens 100K (official folds u1..u5), where users have ~100
    ratings and the SVD++ history term pays; clinic data (~5 values a client) trains
    best with :func:`~health_advisor.recommender.datasets.clinic_defaults` (feature
    stage plus ``ridge_sweeps``). ``value`` is standardised internally. ``fit_report_``
    holds the epochs run, the best validation loss and the time spent building, training
    and in ridge sweeps.
    """

    def __init__(
        self,
        mode: str = "explicit",
        embedding_dim: int = 48,
        hidden_units: int = 64,
        l2: float = 0.07,
        l2_towers: float = 1e-4,
        l2_history: float = 1e-4,
        use_history: bool = True,
        id_dropout: float = 0.1,
        learning_rate: float = 2e-3,
        batch_size: int = 1024,
        epochs: int = 60,
        patience: int = 4,
        validation_fraction: float = 0.1,
        n_negatives: int = 4,
        init_std: float = 0.01,
        ridge_sweeps: int = 0,
        ridge_clients: float = 3.0,
        ridge_items: float = 3.0,
        ridge_select: bool = True,
        ridge_prior: str = "learned",
        clip: bool = True,
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self.mode = mode
        self.embedding_dim = embedding_dim
        self.hidden_units = hidden_units
        self.l2 = l2
        self.l2_towers = l2_towers
        self.l2_history = l2_history
        self.use_history = use_history
        self.id_dropout = id_dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_negatives = n_negatives
        self.init_std = init_std
        self.ridge_sweeps = ridge_sweeps
        self.ridge_clients = ridge_clients
        self.ridge_items = ridge_items
        self.ridge_select = ridge_select
        self.ridge_prior = ridge_prior
        self.clip = clip
        self.random_state = random_state
        self.verbose = verbose

    @property
    def implicit_mode(self) -> bool:
        return self.mode == "implicit"

    def _check_params(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"HybridMF: mode must be one of {MODES}, got {self.mode!r}")
        if self.ridge_prior not in RIDGE_PRIORS:
            raise InputError(
                f"HybridMF: ridge_prior must be one of {RIDGE_PRIORS}, got {self.ridge_prior!r}"
            )
        for name in ("embedding_dim", "hidden_units", "batch_size", "epochs"):
            _check_positive_int(name, getattr(self, name))
        _check_positive_int("patience", self.patience, 0)
        _check_positive_int("n_negatives", self.n_negatives, 0)
        _check_positive_int("ridge_sweeps", self.ridge_sweeps, 0)
        _check_number("ridge_clients", self.ridge_clients, 1e-9)
        _check_number("ridge_items", self.ridge_items, 1e-9)
        if not isinstance(self.ridge_select, bool):
            raise InputError(
                f"HybridMF: ridge_select must be True or False, got {self.ridge_select!r}"
            )
        for name in ("l2", "l2_towers", "l2_history", "init_std"):
            _check_number(name, getattr(self, name), 0.0)
        _check_number("learning_rate", self.learning_rate, 1e-12)
        _check_number("id_dropout", self.id_dropout, 0.0, 1.0)
        _check_number("validation_fraction", self.validation_fraction, 0.0, 0.5)
        if self.random_state is not None:
            _check_positive_int("random_state", self.random_state, 0)

    # -- training ------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {
            "embedding_dim": int(self.embedding_dim),
            "hidden_units": int(self.hidden_units),
            "n_clients": len(self.clients_),
            "n_items": len(self.items_),
            "client_width": int(self.client_matrix_.shape[1]),
            "l2": float(self.l2),
            "l2_towers": float(self.l2_towers),
            "l2_history": float(self.l2_history),
            "id_dropout": float(self.id_dropout),
            "init_std": float(self.init_std),
            "seed": 0 if self.random_state is None else int(self.random_state),
            "history_mode": self._history_mode(),
        }

    def _history_mode(self) -> str:
        """How the network sums history embeddings (see ``history_term``)."""
        n, m = len(self.clients_) + 1, len(self.items_)
        if n * m > DENSE_HISTORY_LIMIT:
            return "ragged"
        return "dense_all" if n <= int(self.batch_size) else "dense_batch"

    def _fit(self, data: TrainingData) -> None:
        started = time.perf_counter()
        import keras
        import tensorflow as tf

        if self.random_state is not None:
            keras.utils.set_random_seed(int(self.random_state))
            tf.config.experimental.enable_op_determinism()
        rng = np.random.default_rng(self.random_state)
        u, i, y = self._training_examples(data, rng)
        self.history_pairs_ = (
            history_pairs(data.client_idx, data.item_idx)
            if self.use_history
            else np.zeros((0, 2), np.int32)
        )
        self.network_ = self._build_network()
        self._run_once()
        self._init_biases(u, i, y)
        train, val, is_val = self._split(self._inputs(u, i), y.astype(np.float32), rng)
        built = time.perf_counter()
        epochs, losses = _train_loop(
            self.network_,
            keras.optimizers.Adam(float(self.learning_rate)),
            train,
            val,
            implicit=self.implicit_mode,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            patience=int(self.patience),
            rng=rng,
            verbose=int(self.verbose),
            frozen=self._frozen_ids(),
        )
        trained = time.perf_counter()
        sweeps = 0 if self.implicit_mode else int(self.ridge_sweeps)
        ridge = self._refine_ids(u, i, y, sweeps, is_val) if sweeps else {}
        self.fit_report_ = {
            "epochs": epochs,
            "best_epoch": int(np.argmin(losses)) + 1,
            "best_loss": float(np.min(losses)),
            "setup_s": built - started,
            "train_s": trained - built,
            "ridge_sweeps": sweeps,
            **ridge,
            "ridge_s": time.perf_counter() - trained,
        }

    def _frozen_ids(self) -> tuple[Any, ...]:
        """Client id tables gradient training never uses (``id_dropout`` 1: features only).

        The unknown-client slot stays at its start (zero bias, near-zero vector), so a
        client without features or history keeps the bias fallback.
        """
        if float(self.id_dropout) < 1.0:
            return ()
        net = self.network_
        tables = [net.client_emb.embeddings, net.client_bias.embeddings]
        if net.history_table is not None:
            tables.append(net.history_emb)
        return tuple(tables)

    def _ridge_terms(self) -> RidgeTerms:
        """The trained network's terms, split into fixed (towers, history) and id parts."""
        from health_advisor.recommender.scorer import side_terms

        w = {k: v.astype(np.float64) for k, v in self._weights().items()}
        n, m = len(self.clients_), len(self.items_)
        d = w["client_emb"].shape[1]
        fixed = np.repeat(w["client_emb"][:1], n, axis=0)
        fb = np.zeros(n)
        if "history_emb" in w:
            fixed += history_vectors(self.history_pairs_, n, w["history_emb"])[1:]
        client = side_terms(w, "client", self.client_matrix_.astype(np.float64))
        if client is not None:
            has = self.client_has_features_.astype(np.float64)
            fixed += has[:, None] * client[0]
            fb = has * client[1]
        item = side_terms(w, "item", self.item_matrix_.astype(np.float64))
        t, bt = item if item is not None else (np.zeros((m, d)), np.zeros(m))
        return RidgeTerms(
            g=float(w["global_bias"][0]),
            b0=float(w["client_bias"][0]),
            e0=w["client_emb"][0],
            fixed_c=fixed,
            fb=fb,
            t=t,
            bt=bt,
            bc=w["client_bias"][1:] - w["client_bias"][0],
            ec=w["client_emb"][1:] - w["client_emb"][0],
            bi=w["item_bias"],
            ei=w["item_emb"],
        )

    def _refine_ids(
        self, u: np.ndarray, i: np.ndarray, y: np.ndarray, sweeps: int, is_val: np.ndarray
    ) -> dict[str, Any]:
        """Ridge sweeps over the id terms on all training rows, written back to the net.

        ``ridge_prior`` "learned" (the default) learns the clients' penalty matrix by EM
        during the sweeps (:func:`ridge_sweeps`); "isotropic" keeps ``ridge_clients``. With
        ``ridge_select`` the scale is first chosen on the validation rows, each candidate
        given three sweeps on the other rows: the learned matrix times 1/3, 1 and 3, or
        ``ridge_clients`` / ``ridge_items`` times 1, 3 and 10 (the best isotropic penalty
        is a property of the data: 3 on the clinic, 30 where features explain most of the
        taste). Returns what ``fit_report_`` records.
        """
        u, i, y = u.astype(np.int64), i.astype(np.int64), y.astype(np.float64)
        start = self._ridge_terms()
        learned = self.ridge_prior == "learned"
        factors = PRIOR_SELECT_FACTORS if learned else RIDGE_SELECT_FACTORS
        scale, scores = 1.0, {}

        def run(terms: RidgeTerms, rows: Any, n_sweeps: int, factor: float) -> RidgeTerms:
            isotropic = 1.0 if learned else factor
            return ridge_sweeps(
                terms, u[rows], i[rows], y[rows],
                sweeps=n_sweeps,
                penalty_clients=isotropic * float(self.ridge_clients),
                penalty_items=isotropic * float(self.ridge_items),
                learn_prior=learned,
                prior_scale=factor if learned else 1.0,
            )  # fmt: skip

        if self.ridge_select and is_val.any():
            fit, val = ~is_val, is_val
            for factor in factors:
                trial = run(copy.deepcopy(start), fit, min(sweeps, 3), factor)
                error = ridge_predict(trial, u[val], i[val]) - y[val]
                scores[round(factor, 3)] = float(np.mean(error**2))
            scale = factors[int(np.argmin(list(scores.values())))]
        terms = run(start, slice(None), sweeps, scale)
        report: dict[str, Any] = {
            "ridge_prior": self.ridge_prior,
            "ridge_validation_mse": {str(f): round(v, 6) for f, v in scores.items()},
        }
        if learned and terms.prior is not None:
            penalty = terms.prior.penalty
            report["ridge_prior_scale"] = round(scale, 3)
            report["ridge_penalties"] = [float(self.ridge_clients), float(self.ridge_items)]
            report["ridge_learned"] = {
                "noise_variance": round(float(terms.prior.sigma2 or 0.0), 6),
                "bias_penalty": round(float(penalty[0, 0]), 4),
                "mean_vector_penalty": round(
                    float(np.trace(penalty[1:, 1:])) / (len(penalty) - 1), 4
                ),
            }
        else:
            report["ridge_penalties"] = [
                scale * float(self.ridge_clients),
                scale * float(self.ridge_items),
            ]
        net = self.network_
        emb = np.vstack([terms.e0[None, :], terms.e0 + terms.ec]).astype(np.float32)
        bias = np.concatenate([[terms.b0], terms.b0 + terms.bc]).astype(np.float32)
        net.client_emb.embeddings.assign(emb)
        net.client_bias.embeddings.assign(bias[:, None])
        net.item_emb.embeddings.assign(terms.ei.astype(np.float32))
        net.item_bias.embeddings.assign(terms.bi.astype(np.float32)[:, None])
        return report

    def _training_examples(
        self, data: TrainingData, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Client positions, item positions and targets in the model's internal scale."""
        u, i, y = data.client_idx, data.item_idx, data.values
        if not self.implicit_mode:
            std = float(y.std())
            self.scaling_ = {"mean": float(y.mean()), "std": std if std > 0 else 1.0}
            return u, i, (y - self.scaling_["mean"]) / self.scaling_["std"]
        self.scaling_ = {"mean": 0.0, "std": 1.0}
        labels = (y > 0).astype(np.float64)
        neg_u, neg_i = self._negatives(u, i, labels, rng)
        return (
            np.concatenate([u, neg_u]),
            np.concatenate([i, neg_i]),
            np.concatenate([labels, np.zeros(neg_u.size)]),
        )

    def _negatives(
        self, u: np.ndarray, i: np.ndarray, labels: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n_negatives`` unobserved interventions per accepted one, sampled uniformly."""
        m = len(self.items_)
        pos_u = np.repeat(u[labels > 0], int(self.n_negatives))
        cand = rng.integers(0, m, size=pos_u.size)
        seen = np.unique(u.astype(np.int64) * m + i)
        keep = ~np.isin(pos_u.astype(np.int64) * m + cand, seen)
        return pos_u[keep], cand[keep]

    def _build_network(self) -> Any:
        history: tuple[np.ndarray, ...] | None = None
        if self.use_history:
            history = history_csr(self.history_pairs_, len(self.clients_))
            if self._history_mode() != "ragged":
                history = (
                    history_dense(self.history_pairs_, len(self.clients_), len(self.items_)),
                )
        return _network(self._config(), self.item_matrix_, history)

    def _init_biases(self, u: np.ndarray, i: np.ndarray, y: np.ndarray) -> None:
        """Start from the ridge bias solution so training learns the interactions."""
        if self.implicit_mode:
            mu = float(np.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6)))
            self.network_.global_bias.assign(mu)
            return
        mu, b_u, b_i = fit_biases(u, i, y, len(self.clients_), len(self.items_), 15.0, 10.0, 10)
        self.network_.global_bias.assign(mu)
        self.network_.client_bias.embeddings.assign(
            np.concatenate([[0.0], b_u]).astype(np.float32)[:, None]
        )
        self.network_.item_bias.embeddings.assign(b_i.astype(np.float32)[:, None])

    def _inputs(
        self, u: np.ndarray, i: np.ndarray, clients: ClientRows | None = None
    ) -> dict[str, np.ndarray]:
        """Model inputs; ``u`` are positions in ``clients_`` (-1 unknown)."""
        inputs = {"client": (u + 1).astype(np.int32), "item": i.astype(np.int32)}
        if self.client_matrix_.shape[1]:
            if clients is None:
                inputs["client_features"] = self.client_matrix_[u]
                inputs["has_features"] = self.client_has_features_[u].astype(np.float32)
            else:
                inputs["client_features"] = clients.x.astype(np.float32)
                inputs["has_features"] = clients.has_x.astype(np.float32)
        return inputs

    def _split(
        self, inputs: dict[str, np.ndarray], y: np.ndarray, rng: np.random.Generator
    ) -> tuple[Batch, Batch | None, np.ndarray]:
        """A random validation split for early stopping (none when the data is too small)
        and the mask of validation rows (all False without one)."""
        n = y.size
        n_val = round(n * float(self.validation_fraction))
        is_val = np.zeros(n, bool)
        if n_val < 1 or n - n_val < 1:
            return (inputs, y), None, is_val
        order = rng.permutation(n)
        val, train = order[:n_val], order[n_val:]
        is_val[val] = True
        return (
            ({k: v[train] for k, v in inputs.items()}, y[train]),
            ({k: v[val] for k, v in inputs.items()}, y[val]),
            is_val,
        )

    # -- prediction ------------------------------------------------------------------------

    def _raw(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        """Network output (internal scale) in batches, without Keras' predict loop."""
        inputs = self._inputs(clients.idx, items, clients)
        step = 65536
        parts = []
        for start in range(0, items.size, step):
            chunk = {k: v[start : start + step] for k, v in inputs.items()}
            parts.append(np.asarray(self.network_(chunk, training=False)))
        return np.concatenate(parts) if parts else np.zeros(0)

    def output_transform(self, raw: np.ndarray) -> np.ndarray:
        """Internal scale to the scale of ``value`` (probabilities in implicit mode)."""
        if self.implicit_mode:
            return 1.0 / (1.0 + np.exp(-raw))
        out = raw * self.scaling_["std"] + self.scaling_["mean"]
        return np.clip(out, *self.value_range_) if self.clip else out

    def _predict(self, clients: ClientRows, items: np.ndarray) -> np.ndarray:
        return self.output_transform(self._raw(clients, items).astype(np.float64))

    def _predict_matrix(self, clients: ClientRows) -> np.ndarray:
        from health_advisor.recommender.scorer import NumpyScorer

        scorer = NumpyScorer.from_arrays(*self._export())
        return scorer.score_rows(clients)

    # -- persistence and export ---------------------------------------------------------

    def _weights(self) -> dict[str, np.ndarray]:
        net = self.network_
        arrays = {
            "client_emb": np.asarray(net.client_emb.embeddings),
            "item_emb": np.asarray(net.item_emb.embeddings),
            "client_bias": np.asarray(net.client_bias.embeddings)[:, 0],
            "item_bias": np.asarray(net.item_bias.embeddings)[:, 0],
            "global_bias": np.asarray(net.global_bias).reshape(1),
        }
        if net.history_table is not None:
            arrays["history_emb"] = np.asarray(net.history_emb)
        for side in ("client", "item"):
            tower = getattr(net, f"{side}_tower", None)
            if tower is None:
                continue
            for n, layer in enumerate(tower.layers):
                kernel, bias = layer.get_weights()
                arrays[f"{side}_tower{n}_kernel"], arrays[f"{side}_tower{n}_bias"] = kernel, bias
            kernel, bias = getattr(net, f"{side}_linear").get_weights()
            arrays[f"{side}_linear_kernel"], arrays[f"{side}_linear_bias"] = kernel, bias
        return arrays

    def _meta(self) -> dict[str, Any]:
        return {
            "scaling": self.scaling_,
            "mode": self.mode,
            "fit_report": getattr(self, "fit_report_", None),
        }

    def _export(self) -> tuple[dict[str, Any], dict[str, np.ndarray], Recommender]:
        self._check_fitted()
        arrays = self._weights()
        vectors = arrays["client_emb"].copy()
        if "history_emb" in arrays:
            vectors += history_vectors(
                self.history_pairs_, len(self.clients_), arrays["history_emb"]
            )
        arrays["client_vectors"] = vectors
        arrays["history_pairs"] = self.history_pairs_
        return self._meta(), arrays, self

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays, _ = self._export()
        return meta, arrays

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.scaling_ = {k: float(v) for k, v in meta["scaling"].items()}
        if meta.get("fit_report") is not None:
            self.fit_report_ = meta["fit_report"]
        self.history_pairs_ = arrays["history_pairs"]
        self.network_ = self._build_network()
        self._run_once()
        net = self.network_
        net.client_emb.embeddings.assign(arrays["client_emb"])
        net.item_emb.embeddings.assign(arrays["item_emb"])
        net.client_bias.embeddings.assign(arrays["client_bias"][:, None])
        net.item_bias.embeddings.assign(arrays["item_bias"][:, None])
        net.global_bias.assign(float(arrays["global_bias"][0]))
        if net.history_table is not None:
            net.history_emb.assign(arrays["history_emb"])
        for side in ("client", "item"):
            tower = getattr(net, f"{side}_tower", None)
            if tower is None:
                continue
            for n, layer in enumerate(tower.layers):
                layer.set_weights(
                    [arrays[f"{side}_tower{n}_kernel"], arrays[f"{side}_tower{n}_bias"]]
                )
            getattr(net, f"{side}_linear").set_weights(
                [arrays[f"{side}_linear_kernel"], arrays[f"{side}_linear_bias"]]
            )

    def _run_once(self) -> None:
        """Build the network's weights by calling it on one example."""
        rows = ClientRows(
            idx=np.array([-1]),
            x=np.zeros((1, self.client_matrix_.shape[1]), np.float32),
            has_x=np.zeros(1, bool),
        )
        self._raw(rows, np.array([0]))

    def to_scorer(self) -> Any:
        """A :class:`~health_advisor.recommender.scorer.NumpyScorer` with these weights."""
        from health_advisor.recommender.scorer import NumpyScorer

        return NumpyScorer.from_arrays(*self._export())

    def export_saved_model(self, path: str | Path) -> Path:
        """Write a TensorFlow SavedModel whose ``serve`` signature TF Serving can host.

        Inputs: ``client_index`` (int32, position in ``clients_``; -1 for an unknown
        client), ``item_index`` (int32, position in ``items_``) and, when the model has
        client features, ``client_features`` (float32, encoded as by the model's
        encoder) and ``has_features`` (float32, 1 when the row is real). Output:
        ``score`` on the scale of ``value`` (probability in implicit mode).
        """
        self._check_fitted()
        import keras
        import tensorflow as tf

        net, width = self.network_, int(self.client_matrix_.shape[1])
        mean, std = self.scaling_["mean"], self.scaling_["std"]
        low, high = self.value_range_
        implicit, clip = self.implicit_mode, bool(self.clip)

        def finish(raw: Any) -> Any:
            if implicit:
                return tf.sigmoid(raw)
            out = tf.cast(raw, tf.float64) * std + mean
            return tf.clip_by_value(out, low, high) if clip else out

        specs = [
            tf.TensorSpec([None], tf.int32, name="client_index"),
            tf.TensorSpec([None], tf.int32, name="item_index"),
        ]
        if width:
            specs += [
                tf.TensorSpec([None, width], tf.float32, name="client_features"),
                tf.TensorSpec([None], tf.float32, name="has_features"),
            ]

            def serve(
                client_index: Any, item_index: Any, client_features: Any, has_features: Any
            ) -> Any:
                inputs = {"client": client_index + 1, "item": item_index}
                inputs |= {"client_features": client_features, "has_features": has_features}
                return {"score": finish(net(inputs, training=False))}

        else:

            def serve(client_index: Any, item_index: Any) -> Any:  # type: ignore[misc]
                inputs = {"client": client_index + 1, "item": item_index}
                return {"score": finish(net(inputs, training=False))}

        archive = keras.export.ExportArchive()
        archive.track(net)
        archive.add_endpoint(name="serve", fn=serve, input_signature=specs)
        target = Path(path)
        archive.write_out(str(target), verbose=False)
        return target
