"""The one contract every recommender of the course keeps.

Users and items are row and column *numbers* of a user-item matrix built with
:class:`recutils.interactions.IdIndex` (``index.matrix(pairs)``). A model

* ``fit(train, *, valid=None, **side_data)`` learns from a (n_users, n_items) sparse matrix of
  training interactions (entry > 0: the user interacted with the item; its value is a weight).
  Everything else a model learns from comes in the same call, by name: ``valid`` (a
  validation matrix of the same shape, for models that stop early on it) and the side data
  the model declares in :attr:`Recommender.side_data` (``item_vectors``, ``item_texts``,
  ``sequences``, ``truth``). So one object can be refitted on another split, and a grid
  search needs no closures. A name the model does not use is an error;
  :func:`fit_model` passes a model only the names it declares (for helpers that fit many
  models with one pool of side data).
* ``score(users, items=None)`` returns the model's score of every item (or of ``items``) for
  each given user, float32, higher = better.
* ``recommend(users, k, items=None)`` returns the ``k`` best items per user and their scores,
  best first, leaving out what the user already has in ``train``; ``items`` (a boolean mask
  or item numbers) ranks within a subset: a domain, the new products.
* ``similar_items(items, k)`` returns, where the model defines an item-item similarity, the
  ``k`` most similar other items and their similarities.

**Users without a training interaction** (new users, e.g. after a temporal split): each model
says what it does for them in :attr:`Recommender.new_users`. ``"popularity"``: the model has
nothing to personalise from, so ``score`` gives those users the training popularity of each
item (declared, documented, tested; not hidden). ``"own"``: the model's own scores (an oracle
knows their tastes, a content model scores from side data, a switching model asks its cold
model).

A new model subclasses :class:`Recommender`, sets ``name``, ``side_data`` and ``new_users``,
and implements ``_fit`` and ``_score`` (and ``_similar_items`` if it has item similarities);
the base class checks input and does the batching, exclusion and top-k selection the same way
for every model. ``tests/test_contract.py`` checks every model against this contract.
"""

from __future__ import annotations

import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, NamedTuple, Self

import numpy as np
import scipy.sparse as sp

from recutils import checks
from recutils.ranking import excluded_columns, top_k_excluding, top_k_items

SparseMatrix = sp.spmatrix | sp.sparray

#: What :meth:`Recommender.score` gives users without training interactions (module docstring).
NewUsers = Literal["popularity", "own"]


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
            "0); a model cannot learn from an empty matrix: check the split"
        )
    if not np.isfinite(matrix.data).all() or (matrix.data < 0).any():
        raise ValueError(f"{name} must hold finite weights >= 0 (an interaction's strength)")
    matrix.sort_indices()
    return matrix


def held_out_pairs(valid: Any, train: sp.csr_matrix) -> sp.csr_matrix:
    """The pairs of ``valid`` that are not in ``train`` (what a model can be judged on), checked:
    same shape as ``train``, at least one pair left."""
    matrix = as_train_matrix(valid, name="valid")
    if matrix.shape != train.shape:
        raise ValueError(
            f"valid has shape {matrix.shape} but train has {train.shape}; build both with the "
            "same IdIndex"
        )
    relevant = sp.csr_matrix(matrix - matrix.multiply(train > 0))
    relevant.eliminate_zeros()
    if relevant.nnz == 0:
        raise ValueError("valid has no (user, item) pair that is not already in train")
    return relevant


def item_subset(items: Any, n_items: int) -> np.ndarray:
    """A subset of the catalog as a boolean (n_items,) mask: from a mask or from item numbers."""
    array = np.asarray(items)
    if array.dtype == bool:
        if array.shape != (n_items,):
            raise ValueError(
                f"items as a mask must have one entry per item ({n_items}), got shape {array.shape}"
            )
        return array
    mask = np.zeros(n_items, dtype=bool)
    mask[checks.positions(array, n_items, "item")] = True
    return mask


class Recommendations(NamedTuple):
    """Top-k lists: ``items`` int64 (n_users, k), best first, ``-1`` = empty slot; ``scores``
    float32 (n_users, k), the model's score of each listed item, NaN in empty slots."""

    items: np.ndarray
    scores: np.ndarray


class Recommender(ABC):
    """Base class of the course's models (see the module docstring for the contract).

    Attributes set by :meth:`fit`:
        train_: the training matrix (float32 CSR, n_users x n_items).
        n_users_, n_items_: its shape.
        popularity_: (n_items,) number of training users per item.
        fit_seconds_: wall-clock seconds the fit took (a model loaded from a file or the
            course's cache keeps the time of the fit that made it).
    """

    #: Short name used in result tables.
    name: ClassVar[str] = "recommender"
    #: Side data ``fit`` accepts besides ``train``: name -> what it is.
    side_data: ClassVar[Mapping[str, str]] = {}
    #: Whether ``fit`` accepts ``valid`` (a model that stops early on it).
    uses_valid: ClassVar[bool] = False
    #: What ``score`` gives users without training interactions (module docstring).
    new_users: ClassVar[NewUsers] = "popularity"
    #: Fitted attributes that only cache results or serve training (``recutils.persistence``
    #: does not save them; a loaded model has them empty: ``None``, ``{}`` or ``[]``).
    transient_attributes: ClassVar[tuple[str, ...]] = ()
    #: Whether :meth:`fit` may keep the fitted model in the course's model cache (off for
    #: models whose fit is cheaper than loading them again).
    cache_fits: ClassVar[bool] = True

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self, train: SparseMatrix, *, valid: SparseMatrix | None = None, **side_data: Any
    ) -> Self:
        """Learn from ``train`` (sparse, n_users x n_items, entries >= 0); returns ``self``.

        After :func:`recutils.setup` (every notebook does it) the fit goes through the
        course's model cache (:func:`recutils.persistence.fit_cached`): a model fitted before
        on the same data with the same settings, code and torch threads is loaded instead, bit
        for bit. Scripts that do not call ``setup`` (and ``RECUTILS_MODEL_CACHE=0``) always
        fit, as does :meth:`fit_uncached` (for timing a fit).

        Args:
            train: the training interactions.
            valid: validation interactions of the same shape (models with ``uses_valid``).
            **side_data: the model's side data by name (:attr:`side_data`).
        """
        unknown = sorted(set(side_data) - set(self.side_data))
        if unknown:
            accepted = ", ".join(self.side_data) or "none"
            raise TypeError(
                f"{type(self).__name__}.fit got side data it does not use: {unknown}; it "
                f"accepts: {accepted}"
            )
        if valid is not None and not self.uses_valid:
            raise TypeError(
                f"{type(self).__name__} does not use valid (it has no early stopping); fit it "
                "on train alone, or use recutils.models.fit_model, which passes valid only to "
                "models that use it"
            )
        from recutils.environment import model_cache_enabled

        if self.cache_fits and model_cache_enabled():
            from recutils.persistence import fit_cached

            return fit_cached(self, train, valid=valid, side_data=side_data)
        return self.fit_uncached(train, valid=valid, **side_data)

    def fit_uncached(
        self, train: SparseMatrix, *, valid: SparseMatrix | None = None, **side_data: Any
    ) -> Self:
        """:meth:`fit` without the course's model cache: always trains (the cache's own fits)."""
        matrix = as_train_matrix(train)
        valid_pairs = None if valid is None else held_out_pairs(valid, matrix)
        self._forget_fit()  # a refit starts from nothing
        self.train_ = matrix
        self.n_users_, self.n_items_ = matrix.shape
        self.popularity_ = np.bincount(matrix.indices, minlength=self.n_items_).astype(np.float32)
        started = time.perf_counter()
        try:
            if self.uses_valid:
                self._fit(matrix, valid=valid_pairs, **side_data)
            else:
                self._fit(matrix, **side_data)
        except BaseException:
            self._forget_fit()  # a failed fit leaves an unfitted model, not a half-fitted one
            raise
        self.fit_seconds_ = time.perf_counter() - started  # kept by a saved (or cached) model
        return self

    def _forget_fit(self) -> None:
        """Drop every fitted attribute (public names ending in ``_``, the sklearn convention)."""
        for name in [key for key in vars(self) if key.endswith("_") and not key.startswith("_")]:
            delattr(self, name)

    @abstractmethod
    def _fit(self, train: sp.csr_matrix, **side_data: Any) -> None:
        """Learn the model's parameters from the checked training matrix (and ``valid`` for a
        model that ``uses_valid``, and its side data)."""

    @abstractmethod
    def _score(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_items) scores for valid user numbers."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "train_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(train) first")

    def _check_item_rows(self, n_rows: int, what: str) -> None:
        """Side data with one row per item must match the training matrix's columns."""
        if n_rows != self.n_items_:
            raise ValueError(
                f"{what} has {n_rows} rows but the training matrix has {self.n_items_} item "
                "columns; give one per column, in the item order of the IdIndex "
                "(IdIndex.from_dataset(dataset).items, i.e. the catalog order)"
            )

    # -- scoring -----------------------------------------------------------------------------

    def score(self, users: Any, items: Any = None) -> np.ndarray:
        """Scores for each of ``users``: float32 (len(users), n_items), or (len(users),
        len(items)) for ``items`` (item numbers, or a boolean mask over the catalog).

        Users without training interactions get what :attr:`new_users` says.
        """
        self._check_fitted()
        rows = checks.positions(users, self.n_users_, "user")
        scores = np.asarray(self._score(rows), dtype=np.float32)
        if scores.shape != (rows.size, self.n_items_):
            raise AssertionError(
                f"{type(self).__name__}._score returned shape {scores.shape}, "
                f"expected {(rows.size, self.n_items_)}"
            )
        if self.new_users == "popularity":
            new = np.diff(self.train_.indptr)[rows] == 0
            if new.any():
                scores[new] = self.popularity_
        if items is None:
            return scores
        array = np.asarray(items)
        columns = (
            np.flatnonzero(item_subset(array, self.n_items_))
            if array.dtype == bool
            else checks.positions(array, self.n_items_, "item")
        )
        return scores[:, columns]

    def recommend(
        self,
        users: Any,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        exclude: SparseMatrix | None = None,
        items: Any = None,
        batch_size: int | None = None,
    ) -> Recommendations:
        """The ``k`` best items for each of ``users``, best first, with their scores.

        Args:
            users: user numbers (rows of the training matrix).
            k: list length (> 0). Slots that cannot be filled hold ``-1`` (score NaN).
            exclude_seen: leave out items the user has in the training matrix.
            exclude: more pairs never to recommend, a sparse (n_users, n_items) matrix indexed
                by user number (nonzero = leave out), e.g. recent purchases or blocked items.
            items: rank only within these items (a boolean mask over the catalog, or item
                numbers): a domain, the new products. Default: the whole catalog.
            batch_size: users scored at once (default: about 4 million scores per batch).

        Returns:
            :class:`Recommendations` ``(items, scores)``, each (len(users), k). Ties are broken
            by item number, lower first (:func:`recutils.ranking.top_k_items`).
        """
        self._check_fitted()
        k = checks.positive_int(k, "k", "how many items to return")
        rows = checks.positions(users, self.n_users_, "user")
        outside = None if items is None else ~item_subset(items, self.n_items_)
        extra = None
        if exclude is not None:
            extra = sp.csr_matrix(checks.sparse_matrix(exclude, "exclude"))
            if extra.shape != (self.n_users_, self.n_items_):
                raise ValueError(
                    f"exclude has shape {extra.shape} but must have the model's shape "
                    f"{(self.n_users_, self.n_items_)} (one row per user number, one column "
                    "per item); pass e.g. the training matrix"
                )
        if batch_size is None:
            batch_size = max(1, 2**22 // self.n_items_)
        batch_size = checks.positive_int(batch_size, "batch_size", "users scored at once")
        ids = np.full((rows.size, k), -1, dtype=np.int64)
        values = np.full((rows.size, k), np.nan, dtype=np.float32)
        for start in range(0, rows.size, batch_size):
            batch = rows[start : start + batch_size]
            scores = self.score(batch)
            if outside is not None:
                scores[:, outside] = -np.inf
            if extra is None:  # the common case, without building a matrix per batch
                seen = excluded_columns(self.train_, batch) if exclude_seen else None
                top = top_k_excluding(scores, k, seen)
            else:
                # a pair is left out when it is nonzero in either matrix (a sum could cancel)
                extra_rows = extra[batch] != 0
                left_out = (self.train_[batch] != 0) + extra_rows if exclude_seen else extra_rows
                top = top_k_items(scores, k, exclude=left_out)
            filled = top >= 0
            chosen = np.take_along_axis(scores, np.maximum(top, 0), axis=1)
            ids[start : start + batch.size] = top
            values[start : start + batch.size] = np.where(filled, chosen, np.nan)
        return Recommendations(ids, values)

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to each of ``items`` (the item itself left out).

        Returns:
            ``(neighbours, similarities)``: int64 and float32 arrays of shape (len(items), k),
            most similar first; ``-1`` / NaN where fewer than ``k`` items exist.
        """
        self._check_fitted()
        k = checks.positive_int(k, "k", "how many items to return")
        columns = checks.positions(items, self.n_items_, "item")
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

    # -- settings ----------------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments and their current values."""
        names = [
            name
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
            if name != "self" and parameter.kind is not parameter.VAR_KEYWORD
        ]
        return {name: getattr(self, name) for name in names if hasattr(self, name)}

    def with_params(self, **changes: Any) -> Self:
        """A new, unfitted model of the same class with the same settings except ``changes``
        (what a grid search tries), e.g. ``ALS(seed=1).with_params(factors=128)``."""
        params = self.get_params()
        unknown = sorted(set(changes) - set(params))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no setting(s) {unknown}; its settings: {sorted(params)}"
            )
        return type(self)(**{**params, **changes})

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({params})"


def fit_model(
    model: Recommender,
    train: SparseMatrix,
    valid: SparseMatrix | None = None,
    side_data: Mapping[str, Any] | None = None,
) -> Recommender:
    """Fit ``model`` with whatever of ``valid`` and ``side_data`` it uses; returns it.

    For helpers that fit several models from one pool (:func:`recutils.evaluation.compare`,
    grid searches): ALS gets ``train`` alone, ContentBased also ``item_vectors``, LightGCN also
    ``valid``, each as its contract declares. Like :meth:`Recommender.fit`, it goes through
    the course's model cache after :func:`recutils.setup`.
    """
    if not isinstance(model, Recommender):
        raise TypeError(f"model must be a recutils Recommender, got {type(model).__name__}")
    return model.fit(train, **fit_arguments(model, valid, side_data))


def fit_arguments(
    model: Recommender, valid: SparseMatrix | None, side_data: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The keyword arguments of ``model.fit`` out of a pool: ``valid`` if the model uses it
    (and it is given), and the side data the model declares."""
    used = {name: value for name, value in dict(side_data or {}).items() if name in model.side_data}
    if model.uses_valid and valid is not None:
        used["valid"] = valid
    return used


class MostPopular(Recommender):
    """Recommend the items with the most training users to everybody (the baseline to beat).

    ``score(u, i)`` = number of training users who interacted with item ``i``.
    """

    name = "most popular"
    new_users = "own"  # the same list for everybody, new users included

    def _fit(self, train: sp.csr_matrix) -> None:
        pass  # popularity_ is computed by Recommender.fit

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (users.size, self.n_items_)).copy()
