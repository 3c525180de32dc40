"""The one interface every recommender of the course implements.

Users and items are row and column *numbers* of a user-item matrix built with
:class:`recutils.interactions.IdIndex` (``index.matrix(split.train)``). A model

* ``fit(train)`` learns from a (n_users, n_items) sparse matrix of training interactions
  (entry > 0: the user interacted with the item; its value is a weight, e.g. a purchase count
  or the merged event weight of :func:`recutils.interactions.user_item_pairs`);
* ``score(users)`` returns the model's score of every item for each given user, a float32
  (len(users), n_items) array, higher = better;
* ``recommend(users, k)`` returns the ``k`` best items per user as item numbers, best first,
  leaving out what the user already has in ``train`` (``-1`` marks a slot that could not be
  filled); it batches users so memory stays bounded;
* ``similar_items(items, k)`` returns, where the model defines an item-item similarity, the
  ``k`` most similar other items and their similarities.

Users without any training interaction (cold users, e.g. after a temporal split) have nothing
to personalise from; ``score`` gives them the popularity ranking of the training data, so a
model never returns an arbitrary list. Notebook 07 treats cold start properly.

A new model subclasses :class:`Recommender` and implements ``_fit`` and ``_score`` (and
``_similar_items`` if it has item similarities); the base class validates input and does the
batching, exclusion and top-k selection the same way for every model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from recutils.metrics import top_k_items

SparseMatrix = sp.spmatrix | sp.sparray


def as_train_matrix(train: Any, name: str = "train") -> sp.csr_matrix:
    """``train`` as a float32 CSR matrix, checked: 2-D sparse, finite, >= 0, not empty.

    Always a copy: models may change the values of their matrix (e.g. to 1 for a graph's
    edges), and the caller's matrix must come out of ``fit`` as it went in.
    """
    if not sp.issparse(train):
        raise TypeError(
            f"{name} must be a scipy.sparse (n_users, n_items) matrix, got "
            f"{type(train).__name__}; build it with recutils.interactions.IdIndex.matrix"
        )
    matrix = sp.csr_matrix(train, dtype=np.float32, copy=True)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {matrix.shape}")
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    if matrix.nnz == 0:
        raise ValueError(
            f"{name} has no interactions (all {matrix.shape[0]} x {matrix.shape[1]} entries are "
            "0); "
            "a model cannot learn from an empty matrix: check the split"
        )
    if not np.isfinite(matrix.data).all() or (matrix.data < 0).any():
        raise ValueError(f"{name} must hold finite weights >= 0 (an interaction's strength)")
    matrix.sort_indices()
    return matrix


def check_positions(values: Any, size: int, kind: str) -> np.ndarray:
    """``values`` as an int64 array of positions in ``0..size-1`` (a scalar becomes length 1)."""
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1:
        raise ValueError(
            f"{kind}s must be a 1-D sequence of {kind} numbers, got shape {array.shape}"
        )
    if array.size and (array.dtype == bool or not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            f"{kind}s must be integer {kind} numbers (rows/columns of the train matrix), got "
            f"dtype {array.dtype}; map ids to numbers with IdIndex.{kind}_positions"
        )
    array = array.astype(np.int64, copy=False)
    unknown = (array < 0) | (array >= size)
    if unknown.any():
        examples = [int(v) for v in array[unknown][:3]]
        raise ValueError(
            f"unknown {kind}(s) {examples}: the model was fitted on {size} "
            f"{kind}s, numbered 0..{size - 1}. A {kind} that was not in the training index has "
            f"no row; build the IdIndex from the whole dataset before splitting"
        )
    return array


def check_k(k: Any) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        raise ValueError(f"k must be a positive integer (how many items to return), got {k!r}")
    return int(k)


class Recommender(ABC):
    """Base class of the course's models (see the module docstring for the contract).

    Attributes set by :meth:`fit`:
        train_: the training matrix (float32 CSR, n_users x n_items).
        n_users_, n_items_: its shape.
        popularity_: (n_items,) number of training users per item (the cold-user fallback).
    """

    #: Short name used in result tables.
    name: str = "recommender"

    def fit(self, train: SparseMatrix) -> Self:
        """Learn from ``train`` (sparse, n_users x n_items, entries >= 0); returns ``self``."""
        matrix = as_train_matrix(train)
        self.train_ = matrix
        self.n_users_, self.n_items_ = matrix.shape
        self.popularity_ = np.bincount(matrix.indices, minlength=self.n_items_).astype(np.float32)
        self._fit(matrix)
        return self

    @abstractmethod
    def _fit(self, train: sp.csr_matrix) -> None:
        """Learn the model's parameters from the checked training matrix."""

    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_items) scores for valid user numbers."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "train_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(train) first")

    def score(self, users: Any) -> np.ndarray:
        """Scores of every item for each of ``users``: float32 (len(users), n_items).

        Users with no training interaction get the training popularity of each item.
        """
        self._check_fitted()
        rows = check_positions(users, self.n_users_, "user")
        scores = np.asarray(self._score(rows), dtype=np.float32)
        if scores.shape != (rows.size, self.n_items_):
            raise AssertionError(
                f"{type(self).__name__}._score returned shape {scores.shape}, "
                f"expected {(rows.size, self.n_items_)}"
            )
        cold = np.diff(self.train_.indptr)[rows] == 0
        if cold.any():
            scores[cold] = self.popularity_
        return scores

    def recommend(
        self,
        users: Any,
        k: int = 10,
        exclude_seen: bool = True,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """The ``k`` best items for each of ``users``: int64 (len(users), k), best first.

        Args:
            users: user numbers (rows of the training matrix).
            k: list length (> 0). Slots that cannot be filled hold ``-1``.
            exclude_seen: leave out items the user has in the training matrix.
            batch_size: users scored at once (default: about 4 million scores per batch).

        Ties are broken by item number, lower first (see :func:`recutils.metrics.top_k_items`).
        """
        self._check_fitted()
        k = check_k(k)
        rows = check_positions(users, self.n_users_, "user")
        if batch_size is None:
            batch_size = max(1, 2**22 // self.n_items_)
        result = np.full((rows.size, k), -1, dtype=np.int64)
        for start in range(0, rows.size, batch_size):
            batch = rows[start : start + batch_size]
            exclude = self.train_[batch] if exclude_seen else None
            result[start : start + batch.size] = top_k_items(self.score(batch), k, exclude=exclude)
        return result

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to each of ``items`` (the item itself left out).

        Returns:
            ``(neighbours, similarities)``: int64 and float32 arrays of shape (len(items), k),
            most similar first; ``-1`` / NaN where fewer than ``k`` items exist.
        """
        self._check_fitted()
        k = check_k(k)
        columns = check_positions(items, self.n_items_, "item")
        similarity = np.asarray(self._similar_items(columns), dtype=np.float32)
        similarity[np.arange(columns.size), columns] = -np.inf  # never the item itself
        neighbours = top_k_items(similarity, k)
        values = np.where(
            neighbours >= 0,
            np.take_along_axis(similarity, np.maximum(neighbours, 0), axis=1),
            np.nan,
        ).astype(np.float32)
        return neighbours, values

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        """(len(items), n_items) item-item similarities; models without them do not override."""
        raise NotImplementedError(
            f"{type(self).__name__} has no item-item similarity; use a model that learns item "
            "vectors or neighbours (ItemKNN, ALS, BPR, EASE, ContentBased)"
        )

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (public attributes not ending in ``_``)."""
        return {
            key: value
            for key, value in vars(self).items()
            if not key.startswith("_") and not key.endswith("_")
        }


class MostPopular(Recommender):
    """Recommend the items with the most training users to everybody (the baseline to beat).

    score(u, i) = number of training users who interacted with item i.
    """

    name = "most popular"

    def _fit(self, train: sp.csr_matrix) -> None:
        pass  # popularity_ is computed by Recommender.fit

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (users.size, self.n_items_)).copy()
