"""Neighbourhood collaborative filtering: :class:`UserKNN` and :class:`ItemKNN`.

Both models rest on the cosine similarity of two sparse vectors, with an optional shrinkage
term ``shrink >= 0`` that pulls similarities computed from few common interactions towards 0::

    sim(a, b) = (a . b) / (||a|| * ||b|| + shrink)

* :class:`UserKNN` (the blog post's formula 3.2) compares *users* (rows of the training matrix
  ``R``, shape (n_users, n_items)) and scores an item by the ratings of the ``neighbors``
  most similar other users::

      score(u, i) = sum over v in N_k(u) of r_{v,i} * sim(u, v)

* :class:`ItemKNN` compares *items* (columns of ``R``) and scores an item by its similarity to
  the items the user has::

      score(u, i) = sum over j in items(u) of r_{u,j} * sim_k(j, i)

  where ``sim_k(j, i)`` is ``sim(j, i)`` if ``i`` is among the ``neighbors`` items most similar
  to ``j`` and 0 otherwise.

The neighbour lists are computed once, in ``fit``, a batch of rows at a time: a sparse product
of the batch with the whole matrix gives its dense similarity rows (batch x n), the ``k`` best
of each row are kept (``np.partition``, linear time, no sort) and stored in a sparse (n x n)
matrix with at most ``neighbors`` entries per row. Memory stays about ``batch x n`` floats,
so 30,000 users need no 30,000 x 30,000 dense matrix (3.6 GB; a timing is in
``bench/results/tuning.md``). Scoring is then one sparse product: ``S_k[users] @ R`` (UserKNN)
or ``R[users] @ S_k`` (ItemKNN).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recutils import checks
from recutils.models.base import Recommender
from recutils.ranking import top_k_mask

#: Dense similarity entries computed at once while building the neighbour lists (16 MB float32).
_SIMILARITIES_PER_BATCH = 2**22


def _norms(vectors: sp.csr_matrix) -> np.ndarray:
    """Euclidean norm of every row of ``vectors``, float32 (n,)."""
    squares = vectors.multiply(vectors).sum(axis=1)
    return np.sqrt(np.asarray(squares, dtype=np.float64).ravel()).astype(np.float32)


def _cosine_block(
    vectors: sp.csr_matrix,
    transposed: sp.csr_matrix,
    norms: np.ndarray,
    rows: np.ndarray,
    shrink: float,
) -> np.ndarray:
    """float32 (len(rows), n) shrunk cosines of ``vectors[rows]`` with every row."""
    dots = (vectors[rows] @ transposed).toarray()
    denominator = norms[rows, None] * norms[None, :]
    denominator += shrink
    return np.divide(dots, denominator, out=np.zeros_like(dots), where=denominator > 0)


def cosine_similarity_rows(
    vectors: sp.csr_matrix, rows: np.ndarray, shrink: float = 0.0
) -> np.ndarray:
    """Cosine similarity of ``vectors[rows]`` with every row of ``vectors``, with shrinkage.

    ``sim(a, b) = (a . b) / (||a|| * ||b|| + shrink)``; a row of zeros has similarity 0 with
    everything.

    Args:
        vectors: sparse (n, d) matrix, one vector per row (users for UserKNN, items for
            ItemKNN, i.e. the transposed training matrix).
        rows: int array of row numbers, shape (m,).
        shrink: shrinkage term >= 0 (0 = plain cosine).

    Returns:
        float32 (m, n) array: the dot products are one sparse-sparse product (scipy.sparse),
        made dense, then divided by the norms.
    """
    vectors = sp.csr_matrix(vectors, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    return _cosine_block(
        vectors,
        vectors.T.tocsr(),
        _norms(vectors),
        rows,
        checks.non_negative_number(shrink, "shrink", "0 = plain cosine similarity"),
    )


def top_k_similarity_matrix(
    vectors: sp.csr_matrix,
    neighbors: int,
    shrink: float = 0.0,
    batch_size: int | None = None,
) -> sp.csr_matrix:
    """Sparse (n, n) matrix holding, in row ``a``, the ``neighbors`` rows most similar to ``a``.

    Entry ``(a, b)`` is ``sim(a, b)`` (see :func:`cosine_similarity_rows`) if ``b != a`` is
    among the ``neighbors`` most similar rows to ``a`` and ``sim(a, b) > 0``; every other entry
    is 0. Equal similarities are ranked by row number, lower first.

    Args:
        vectors: sparse (n, d) matrix, one vector per row.
        neighbors: how many neighbours to keep per row (> 0).
        shrink: shrinkage term >= 0.
        batch_size: rows compared at once (default: about 4 million similarities per batch);
            working memory is a few ``batch_size x n`` arrays.

    Returns:
        float32 CSR (n, n), at most ``neighbors`` entries per row, not symmetric in general.
    """
    neighbors = checks.positive_int(neighbors, "neighbors", "how many most similar rows to keep")
    shrink = checks.non_negative_number(shrink, "shrink", "0 = plain cosine similarity")
    vectors = sp.csr_matrix(vectors, dtype=np.float32)
    transposed, norms = vectors.T.tocsr(), _norms(vectors)
    n = vectors.shape[0]
    if batch_size is None:
        batch_size = max(1, _SIMILARITIES_PER_BATCH // max(n, 1))
    kept = min(neighbors, n)
    parts = []
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        similarity = _cosine_block(vectors, transposed, norms, rows, shrink)
        similarity[np.arange(rows.size), rows] = 0.0  # a row is not its own neighbour
        keep = top_k_mask(similarity, kept) & (similarity > 0)  # > 0: a common interaction
        block = sp.csr_matrix(np.where(keep, similarity, 0.0), dtype=np.float32)
        parts.append(block)
    matrix = sp.vstack(parts, format="csr", dtype=np.float32)
    matrix.sort_indices()
    return matrix


class _NeighborhoodModel(Recommender):
    """Shared parameters and checks of UserKNN and ItemKNN."""

    def __init__(self, neighbors: int, shrink: float, binary: bool) -> None:
        self.neighbors = checks.positive_int(
            neighbors, "neighbors", "how many most similar rows to keep"
        )
        self.shrink = checks.non_negative_number(shrink, "shrink", "0 = plain cosine similarity")
        self.binary = checks.boolean(binary, "binary", "count every interaction as 1")

    def _ratings(self, train: sp.csr_matrix) -> sp.csr_matrix:
        """The matrix the model uses: ``train`` itself, or 1 for every interaction if binary."""
        ratings = train.copy()
        if self.binary:
            ratings.data[:] = 1.0
        return ratings


class UserKNN(_NeighborhoodModel):
    """User-based collaborative filtering (the blog post's formula 3.2).

    ``score(u, i) = sum over v in N_k(u) of r_{v,i} * sim(u, v)``, where ``N_k(u)`` are the
    ``neighbors`` users most similar to ``u`` (``u`` itself excluded, similarity > 0) and
    ``sim(u, v) = (r_u . r_v) / (||r_u|| ||r_v|| + shrink)`` is the cosine similarity of the
    two users' rows of the training matrix. In matrix form ``scores = S_k @ R`` with ``S_k``
    the sparse (n_users, n_users) neighbour matrix and ``R`` the (n_users, n_items) ratings.

    Args:
        neighbors: how many most similar users vote, ``k`` (> 0). Default 100: the best of
            10-400 on validation splits of the shop, Online Retail and MovieLens-100k alike;
            fewer neighbours give noisier scores, more favour popular items.
        shrink: shrinkage >= 0 added to the cosine denominator; damps similarities resting on
            few common items. Default 0 (plain cosine): shrinking lost on all three data sets.
        binary: use 1 for every interaction (True, default) instead of the matrix's weights
            (purchase counts, event weights) in both the similarities and the votes ``r_{v,i}``.
            Weights lost on the shop and Online Retail (the runs are in
            ``bench/results/tuning.md``).

    Attributes set by ``fit`` (besides those of :class:`Recommender`):
        similarity_: float32 CSR (n_users, n_users), row ``u`` holds ``sim(u, v)`` for the
            users ``v`` in ``N_k(u)``.
        ratings_: float32 CSR (n_users, n_items), the ``R`` of the formula.
    """

    name = "UserKNN"

    def __init__(self, neighbors: int = 100, shrink: float = 0.0, binary: bool = True) -> None:
        super().__init__(neighbors, shrink, binary)

    def _fit(self, train: sp.csr_matrix) -> None:
        self.ratings_ = self._ratings(train)
        self.similarity_ = top_k_similarity_matrix(self.ratings_, self.neighbors, self.shrink)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self.similarity_[users] @ self.ratings_).toarray()


class ItemKNN(_NeighborhoodModel):
    """Item-based collaborative filtering: items similar to those the user has.

    ``score(u, i) = sum over j in items(u) of r_{u,j} * sim_k(j, i)``, where
    ``sim(j, i) = (r_j . r_i) / (||r_j|| ||r_i|| + shrink)`` is the cosine similarity of the
    two items' columns of the training matrix and ``sim_k(j, i)`` keeps it only for the
    ``neighbors`` items ``i`` most similar to ``j`` (``j`` itself excluded, similarity > 0).
    In matrix form ``scores = R @ S_k`` with ``S_k`` the sparse (n_items, n_items) neighbour
    matrix, row ``j`` = the neighbours of item ``j``.

    Args:
        neighbors: neighbours kept per item (> 0). Default 5: few but strong neighbours won on
            validation splits of the shop and Online Retail (whose items come in families of
            near-duplicates, e.g. one bag in several prints) and cost little on MovieLens-100k;
            100 or more lost much on Online Retail (the runs are in
            ``bench/results/tuning.md``).
        shrink: shrinkage >= 0 added to the cosine denominator ``||j|| ||i||`` (for binary data
            the square root of the two items' user counts). Default 20: with few neighbours it
            keeps items seen by a handful of users from taking the places.
        binary: use 1 for every interaction (True, default) instead of the matrix's weights;
            weights let one heavy buyer make two items look alike (a run on the shop is in
            ``bench/results/tuning.md``).

    Attributes set by ``fit`` (besides those of :class:`Recommender`):
        similarity_: float32 CSR (n_items, n_items), the neighbour matrix ``S_k``.
        ratings_: float32 CSR (n_users, n_items), the ``R`` of the formula.

    ``similar_items(items, k)`` ranks the same similarities ``sim(j, i)``, computed afresh for
    the asked items so that ``k`` may exceed ``neighbors``: its first ``neighbors`` entries are
    exactly the stored neighbours of ``similarity_``. Items sharing no user with ``j``
    (similarity 0) are never returned; such slots are ``-1`` / NaN.
    """

    name = "ItemKNN"

    def __init__(self, neighbors: int = 5, shrink: float = 20.0, binary: bool = True) -> None:
        super().__init__(neighbors, shrink, binary)

    def _fit(self, train: sp.csr_matrix) -> None:
        self.ratings_ = self._ratings(train)
        self._item_vectors = self.ratings_.T.tocsr()  # (n_items, n_users): one row per item
        self.similarity_ = top_k_similarity_matrix(self._item_vectors, self.neighbors, self.shrink)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self.ratings_[users] @ self.similarity_).toarray()

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        vectors = self._item_vectors
        similarity = _cosine_block(vectors, vectors.T.tocsr(), _norms(vectors), items, self.shrink)
        similarity[similarity <= 0] = -np.inf  # no common user: not a neighbour
        return similarity
