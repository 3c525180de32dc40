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
impossible for 100,000 (80 GB per dense matrix); timings are in ``bench/results/tuning.md``.

Choosing lambda (``l2="auto"``) costs one inverse per candidate. One eigendecomposition
``G = V diag(s) V^T`` would give every ``P(lambda) = V diag(1 / (s + lambda)) V^T`` without
re-inverting, but measured on one core it does not pay: ``scipy.linalg.eigh`` takes several
times as long as a Cholesky inverse (timings in ``bench/results/tuning.md``), and each
lambda still needs a dense product of the same order as an inverse to form its scores.
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

#: Relative lambdas tried by ``l2="auto"``: lambda = factor * mean(diag(X^T X)).
AUTO_L2_FACTORS: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
#: Share of each user's interactions held out to choose lambda, the seed and the cut-off.
AUTO_HOLDOUT_FRACTION = 0.2
AUTO_SEED = 0
AUTO_K = 10
#: At most this many validation users are scored per lambda (a fixed random sample).
AUTO_MAX_USERS = 5000


def dense_gram_bytes(n_items: int) -> int:
    """Memory EASE needs for ``n_items``: about three dense float64 (n_items, n_items) arrays
    (the Gram matrix, its inverse and the float32 weights plus temporaries), in bytes."""
    return 3 * 8 * n_items * n_items


def inverse_spd(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite float64 matrix, overwriting ``matrix``.

    scipy's LAPACK wrappers do the work: ``dpotrf`` factorises ``matrix = L L^T`` (Cholesky)
    and ``dpotri`` computes ``(L L^T)^{-1}`` from ``L``; both fill only the lower triangle,
    which is then mirrored. About n^3 flops, roughly half of ``np.linalg.inv`` (LU).
    """
    factor, info = scipy.linalg.lapack.dpotrf(matrix, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"the regularised Gram matrix is not positive definite (LAPACK dpotrf info={info}); "
            "increase l2"
        )
    inverse, info = scipy.linalg.lapack.dpotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"LAPACK dpotri failed (info={info})")
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


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """The EASE weights ``B = I - P / diag(P)``, ``P = (gram + l2 I)^{-1}``, in float64.

    Args:
        gram: float64 (n_items, n_items) ``X^T X``; not modified.
        l2: the regularisation ``lambda > 0``.

    Returns:
        float64 (n_items, n_items) ``B`` with ``diag(B) = 0``: ``B[j, i] = -P[j, i] / P[i, i]``
        for ``j != i``.
    """
    regularised = np.array(gram, dtype=np.float64, order="F", copy=True)
    regularised[np.diag_indices_from(regularised)] += l2
    weights = inverse_spd(regularised)
    weights /= -np.diag(weights)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


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
        l2: the regularisation lambda > 0, or ``"auto"`` (default): choose it in ``fit`` from
            ``AUTO_L2_FACTORS * mean(diag(X^T X))``, i.e. 0.3x to 100x the mean number of users
            per item (for binary data), about 3x apart. The search holds out a random 20% of
            each user's training interactions (fixed seed, so the choice is deterministic),
            fits on the rest for every candidate, keeps the lambda with the best nDCG@10 on the
            held-out part (:func:`recutils.metrics.ranking_metrics`; ties: the smaller lambda),
            then refits on all of ``train``. The best factor differs between data sets (Online
            Retail, the shop and MovieLens-100k, whose mean popularities differ too; the runs
            are in ``bench/results/tuning.md``), so a relative grid travels better than one
            fixed number. Cost: 6 extra inverses.
        binary: use 1 for every interaction (True, default) instead of the matrix's weights.
            Weights such as purchase counts make ``X^T X`` dominated by a few heavy buyers.
        max_memory_gb: refuse catalogs whose dense matrices would need more than this (about
            ``3 * 8 * n_items^2`` bytes; 4 GB allows about 13,000 items).

    Attributes set by ``fit`` (besides those of :class:`Recommender`):
        weights_: float32 (n_items, n_items) ``B``.
        l2_: the lambda used (the chosen one when ``l2="auto"``).
        l2_search_: with ``l2="auto"``, a dict lambda -> held-out nDCG@10; else empty.

    ``similar_items(items, k)`` ranks item ``i``'s row ``B[i, :]``: the scores EASE gives a user
    who has only item ``i``, so "similar" means exactly "what EASE recommends next to it".
    (Columns ``B[:, i]`` would answer the reverse question, which items lead *to* ``i``.)
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
            self.l2_ = max(self.l2_search_, key=lambda l2: (self.l2_search_[l2], -l2))
        else:
            self.l2_search_ = {}
            self.l2_ = float(self.l2)
        self.weights_ = ease_weights(self._gram(matrix), self.l2_).astype(np.float32)

    def _search_l2(self, matrix: sp.csr_matrix) -> dict[float, float]:
        """Held-out nDCG@10 of every candidate lambda (see the class docstring)."""
        kept, held = holdout_split(matrix, AUTO_HOLDOUT_FRACTION, AUTO_SEED)
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        if users.size == 0:
            raise ValueError(
                "l2='auto' needs users with at least 3 training interactions to hold some out; "
                "pass a number, e.g. l2=100.0"
            )
        if users.size > AUTO_MAX_USERS:
            rng = np.random.default_rng(AUTO_SEED)
            users = np.sort(rng.choice(users, AUTO_MAX_USERS, replace=False))
        gram = self._gram(kept)
        scale = float(np.mean(np.diag(gram)))
        history, relevant = kept[users], held[users]
        results = {}
        for factor in AUTO_L2_FACTORS:
            l2 = factor * scale
            scores = history @ ease_weights(gram, l2)
            recommended = top_k_items(scores, AUTO_K, exclude=history)
            quality = ranking_metrics(recommended, relevant, k=AUTO_K)
            results[l2] = float(quality.loc[AUTO_K, "ndcg"])
        return results

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.ratings_[users] @ self.weights_

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        return self.weights_[items]
