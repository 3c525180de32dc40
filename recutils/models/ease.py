"""EASE: the closed-form item-item model of Steck (2019), "Embarrassingly Shallow Autoencoders
for Sparse Data" (WWW 2019, https://arxiv.org/abs/1905.03375).

EASE learns one weight ``B[j, i]`` per pair of items: how much having item ``j`` raises the
score of item ``i``. It solves a ridge regression of every item's column of ``X`` (n_users x
n_items) on the other items' columns::

    minimise ||X - X B||_F^2 + lambda ||B||_F^2   subject to diag(B) = 0

whose solution is closed-form (Lagrange multipliers for the diagonal constraint)::

    G = X^T X + lambda I          (n_items x n_items, the regularised Gram matrix)
    P = G^{-1}
    B = I - P / diag(P)           (column j divided by P[j, j]), so diag(B) = 0
    scores = X B                  (n_users x n_items)

One dense (n_items x n_items) inverse, no iterations, no learning rate. The price: memory
grows with n_items^2 and time with n_items^3. Fine for a few thousand items (the shop's 4,000),
impossible for 100,000 (80 GB per dense matrix).

Choosing lambda (``l2="auto"``) costs one inverse per candidate and hold-out, computed in
float32 (single precision: faster, and precise enough to rank the candidates); only the final
fit is float64. One eigendecomposition ``G = V diag(s) V^T`` would give every
``P(lambda) = V diag(1 / (s + lambda)) V^T`` without re-inverting, but it costs as much as
several Cholesky inverses and each lambda still needs a dense product to form its scores, so
for the handful of candidates searched it is the slower way. ``bench/ease_bench.py`` times
both ways and compares the choice of lambda with the previous search and with a fixed factor;
its results and the runs that chose the search are in ``bench/results/tuning.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from recutils import checks
from recutils.metrics import ranking_metrics
from recutils.models.base import Recommender
from recutils.ranking import top_k_items
from recutils.splitting import holdout_split

#: Relative lambdas tried by ``l2="auto"``: lambda = factor * mean(diag(X^T X)), 4x apart.
AUTO_L2_FACTORS: tuple[float, ...] = (0.5, 2.0, 8.0, 32.0)
#: Hold-outs whose nDCG ``l2="auto"`` averages (seeds ``AUTO_SEED``, ``AUTO_SEED + 1``, ...).
AUTO_FOLDS = 2
#: Share of each user's interactions held out in each of them, the seed and the cut-off.
AUTO_HOLDOUT_FRACTION = 0.2
AUTO_SEED = 0
AUTO_K = 10
#: At most this many validation users are scored per hold-out (a fixed random sample).
AUTO_MAX_USERS = 5000
#: Candidates whose mean held-out nDCG is within this share of the best count as tied.
AUTO_TOLERANCE = 0.02


def dense_gram_bytes(n_items: int) -> int:
    """Memory EASE needs for ``n_items``: about three dense float64 (n_items, n_items) arrays
    (the Gram matrix, its inverse and the float32 weights plus temporaries), in bytes."""
    return 3 * 8 * n_items * n_items


def inverse_spd(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite float32 or float64 matrix, overwriting ``matrix``.

    scipy's LAPACK wrappers do the work in the matrix's precision: ``?potrf`` factorises
    ``matrix = L L^T`` (Cholesky) and ``?potri`` computes ``(L L^T)^{-1}`` from ``L`` (``s``
    routines for float32, ``d`` for float64); both fill only the lower triangle, which is then
    mirrored. About n^3 flops, roughly half of ``np.linalg.inv`` (LU).
    """
    potrf, potri = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potri"), (matrix,))
    factor, info = potrf(matrix, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"the regularised Gram matrix is not positive definite (LAPACK {potrf.typecode}potrf "
            f"info={info}); increase l2"
        )
    inverse, info = potri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK {potri.typecode}potri failed (info={info})")
    _mirror_lower(inverse)
    return inverse


def _mirror_lower(matrix: np.ndarray, block_rows: int = 256) -> None:
    """Copy the lower triangle of a square matrix onto its upper triangle, in place.

    A block of rows at a time, so the extra memory is ``block_rows x n`` (not a full copy).
    """
    n = matrix.shape[0]
    columns = np.arange(n)
    for start in range(0, n, block_rows):
        rows = slice(start, min(start + block_rows, n))
        upper = columns[None, :] > columns[rows, None]
        # matrix[:, rows].T[r, c] = matrix[c, r]: for c > r a lower entry, never overwritten.
        matrix[rows] = np.where(upper, matrix[:, rows].T, matrix[rows])


def ease_weights(gram: np.ndarray, l2: float, dtype: type = np.float64) -> np.ndarray:
    """The EASE weights ``B = I - P / diag(P)``, ``P = (gram + l2 I)^{-1}``.

    Args:
        gram: (n_items, n_items) ``X^T X``; not modified.
        l2: the regularisation ``lambda > 0``.
        dtype: ``np.float64`` (default) or ``np.float32``, the precision of the inverse.

    Returns:
        (n_items, n_items) ``B`` of ``dtype`` with ``diag(B) = 0``:
        ``B[j, i] = -P[j, i] / P[i, i]`` for ``j != i``.
    """
    regularised = np.array(gram, dtype=dtype, order="F", copy=True)
    regularised[np.diag_indices_from(regularised)] += l2
    weights = inverse_spd(regularised)
    weights /= -np.diag(weights)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def content_order(matrix: sp.spmatrix, seed: int = 0) -> np.ndarray:
    """An order of the columns that depends on what each column holds, not on where it is.

    Each row ``u`` gets a random 64-bit key ``r_u`` (from ``seed``); column ``i`` gets
    ``k_i = sum_u r_u * w_ui`` over its nonzero entries (modulo 2^64, with ``w_ui`` the bit
    pattern of the entry's float64 value, made odd). Sorting the columns by ``k_i`` numbers
    the items in the same way however the catalog was numbered, so anything computed on
    ``matrix[:, order]`` (a random hold-out, ties broken by item number) no longer depends on
    the input's column order. Columns with equal contents get equal keys and keep their
    relative order, which cannot matter: swapping them leaves ``matrix[:, order]`` unchanged.

    Args:
        matrix: scipy.sparse (n_rows, n_columns), e.g. users x items.
        seed: seed of the row keys.

    Returns:
        int64 (n_columns,) column numbers, in the order of their keys.

    Example:
        >>> x = sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
        >>> permutation = np.array([2, 0, 1])
        >>> a, b = x[:, content_order(x)], x[:, permutation][:, content_order(x[:, permutation])]
        >>> bool((a != b).nnz == 0)
        True
    """
    coo = sp.coo_matrix(matrix)
    row_keys = np.random.default_rng(seed).integers(0, 2**63, size=coo.shape[0], dtype=np.uint64)
    value_bits = coo.data.astype(np.float64).view(np.uint64) | np.uint64(1)
    column_keys = np.zeros(coo.shape[1], dtype=np.uint64)
    np.add.at(column_keys, coo.col, row_keys[coo.row] * value_bits)  # wraps around: mod 2^64
    return np.argsort(column_keys, kind="stable").astype(np.int64)


def near_best_l2(quality: dict[float, float], tolerance: float) -> float:
    """The geometric mean of the lambdas whose quality is within ``tolerance`` of the best.

    ``near = {lambda : quality[lambda] >= (1 - tolerance) * max(quality)}``, returned as
    ``exp(mean(log(near)))``. The held-out quality is flat near its top, so which candidate is
    best by a hair depends on the hold-out drawn; on an evenly spaced (log) grid the middle of
    the near-best ones moves by half a grid step when one candidate enters or leaves them.
    If every candidate scores 0, all are near-best (the middle of the grid).

    Args:
        quality: lambda > 0 -> quality (e.g. held-out nDCG, higher = better).
        tolerance: share of the best quality, in [0, 1); 0 keeps only the best (and its ties).

    Example:
        >>> round(near_best_l2({10.0: 0.30, 20.0: 0.305, 40.0: 0.301, 80.0: 0.28}, 0.02), 6)
        20.0
    """
    best = max(quality.values())
    near = [l2 for l2, value in quality.items() if value >= (1.0 - tolerance) * best]
    return float(np.exp(np.mean(np.log(near))))


def _check_l2(l2: Any) -> float | str:
    if isinstance(l2, str) and l2 == "auto":
        return l2
    return checks.positive_number(l2, "l2", "or 'auto': chosen on held-out training data")


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck, 2019): closed-form item-item regression.

    ``B = I - P / diag(P)`` with ``P = (X^T X + l2 I)^{-1}``, ``diag(B) = 0``;
    ``score(u, i) = sum_j x_{u,j} B[j, i]``, i.e. ``scores = X B`` of shape (users, n_items).
    The inverse is computed in float64 (scipy's LAPACK Cholesky routines, see
    :func:`inverse_spd`); ``B`` is stored in float32.

    Args:
        l2: the regularisation lambda > 0, or ``"auto"`` (default): choose it in ``fit`` as
            ``factor * mean(diag(X^T X))`` (for binary data the mean number of users per
            item), the factor taken from :data:`AUTO_L2_FACTORS` (0.5 to 32, 4x apart).
            :data:`AUTO_FOLDS` times, a random 20% of each user's training interactions is
            held out (fixed seeds, so the choice is deterministic), every factor is fitted on
            the rest (float32, ``lambda = factor * mean(diag)`` of the rest) and scored by
            nDCG@10 on the held-out part (:func:`recutils.metrics.ranking_metrics`). The
            factors whose nDCG, averaged over the hold-outs, is within
            :data:`AUTO_TOLERANCE` (2%) of the best are near-ties; their geometric mean
            (:func:`near_best_l2`, e.g. 4 when 2 and 8 tie) times ``mean(diag(X^T X))`` of
            all of ``train`` is the lambda of the final fit. The hold-outs are drawn with the
            columns in :func:`content_order`, so the choice does not depend on how the
            catalog is numbered. The best factor differs between data sets, so a relative
            grid travels better than one fixed number; the runs behind these choices, and
            the comparison with the previous search and with fixed factors, are in
            ``bench/results/tuning.md``. Cost: ``AUTO_FOLDS * len(AUTO_L2_FACTORS)`` float32
            inverses besides the final one.
        binary: use 1 for every interaction (True, default) instead of the matrix's weights.
            Weights such as purchase counts make ``X^T X`` dominated by a few heavy buyers.
        max_memory_gb: refuse catalogs whose dense matrices would need more than this (about
            ``3 * 8 * n_items^2`` bytes; 4 GB allows about 13,000 items).

    Attributes set by ``fit`` (besides those of :class:`Recommender`):
        weights_: float32 (n_items, n_items) ``B``.
        l2_: the lambda used (the chosen one when ``l2="auto"``).
        l2_search_: with ``l2="auto"``, a dict lambda -> held-out nDCG@10 (mean over the
            hold-outs), lambda = factor * mean(diag(X^T X)) of ``train``; else empty.

    ``similar_items(items, k)`` ranks item ``i``'s row ``B[i, :]``: the scores EASE gives a user
    who has only item ``i``, so "similar" means exactly "what EASE recommends next to it".
    (Columns ``B[:, i]`` would answer the reverse question, which items lead *to* ``i``.)

    Example::

        model = EASE().fit(train)          # lambda chosen on held-out parts of train
        model.l2_, model.l2_search_        # the lambda used, and every candidate's nDCG@10
        EASE(l2=500.0).fit(train)          # a lambda of your own: one inverse, no search
    """

    name = "EASE"

    def __init__(
        self, l2: float | str = "auto", binary: bool = True, max_memory_gb: float = 4.0
    ) -> None:
        self.l2 = _check_l2(l2)
        if not isinstance(binary, (bool, np.bool_)):
            raise ValueError(f"binary must be True or False, got {binary!r}")
        self.binary = bool(binary)
        if (
            isinstance(max_memory_gb, bool)
            or not isinstance(max_memory_gb, (int, float))
            or not max_memory_gb > 0
        ):
            raise ValueError(f"max_memory_gb must be a number > 0, got {max_memory_gb!r}")
        self.max_memory_gb = float(max_memory_gb)

    def _check_memory(self, n_items: int) -> None:
        needed = dense_gram_bytes(n_items) / 1e9
        if needed > self.max_memory_gb:
            raise ValueError(
                f"EASE needs dense {n_items:,} x {n_items:,} item-item matrices, about "
                f"{needed:.1f} GB (3 x 8 bytes x n_items^2), more than max_memory_gb="
                f"{self.max_memory_gb:g}. Use ItemKNN (sparse neighbour lists) or ALS "
                "(low-rank factors) for this catalog, keep only the most popular items, or "
                "raise max_memory_gb if the machine has the memory"
            )

    @staticmethod
    def _gram(matrix: sp.csr_matrix) -> np.ndarray:
        return (matrix.T @ matrix).toarray().astype(np.float64)

    def _fit(self, train: sp.csr_matrix) -> None:
        self._check_memory(self.n_items_)
        matrix = sp.csr_matrix(train, dtype=np.float64)
        if self.binary:
            matrix.data[:] = 1.0
        self.ratings_ = sp.csr_matrix(matrix, dtype=np.float32)
        if self.l2 == "auto":
            self.l2_search_ = self._search_l2(matrix)
            self.l2_ = near_best_l2(self.l2_search_, AUTO_TOLERANCE)
        else:
            self.l2_search_ = {}
            self.l2_ = float(self.l2)
        # C order: a user's row times weights_ then reads weights_ row by row; the solver's
        # Fortran-order result made scipy copy all n_items^2 weights on every score call
        # (0.1 s per user at 4,009 items, which a service or a simulator pays per visit)
        self.weights_ = np.ascontiguousarray(
            ease_weights(self._gram(matrix), self.l2_), dtype=np.float32
        )

    def _search_l2(self, matrix: sp.csr_matrix) -> dict[float, float]:
        """Held-out nDCG@10 of every candidate lambda, averaged over the hold-outs (see the
        class docstring), keyed by the lambda it stands for on all of ``matrix``."""
        # mean(diag(X^T X)) = sum of squared entries / n_items, without forming X^T X.
        scale = float(matrix.multiply(matrix).sum()) / matrix.shape[1]
        ordered = sp.csr_matrix(matrix[:, content_order(matrix, AUTO_SEED)], dtype=np.float32)
        ordered.sort_indices()  # the hold-outs follow the stored order: make it canonical too
        quality = np.zeros(len(AUTO_L2_FACTORS))
        for fold in range(AUTO_FOLDS):
            kept, held = holdout_split(ordered, AUTO_HOLDOUT_FRACTION, AUTO_SEED + fold)
            users = np.flatnonzero(np.diff(held.indptr) > 0)
            if users.size == 0:
                raise ValueError(
                    "l2='auto' needs users with at least 3 training interactions to hold some "
                    "out; pass a number, e.g. l2=100.0"
                )
            if users.size > AUTO_MAX_USERS:
                rng = np.random.default_rng(AUTO_SEED + fold)
                users = np.sort(rng.choice(users, AUTO_MAX_USERS, replace=False))
            gram = (kept.T @ kept).toarray()  # float32: binary counts exact up to 2^24
            kept_scale = float(np.mean(np.diag(gram)))
            history, relevant = kept[users], held[users]
            for position, factor in enumerate(AUTO_L2_FACTORS):
                weights = ease_weights(gram, factor * kept_scale, dtype=np.float32)
                recommended = top_k_items(history @ weights, AUTO_K, exclude=history)
                metrics = ranking_metrics(recommended, relevant, k=AUTO_K)
                quality[position] += float(metrics.loc[AUTO_K, "ndcg"]) / AUTO_FOLDS
        pairs = zip(AUTO_L2_FACTORS, quality, strict=True)
        return {factor * scale: float(value) for factor, value in pairs}

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.ratings_[users] @ self.weights_

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        return self.weights_[items]
