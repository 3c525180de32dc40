"""Cold-start splits: products nobody has seen yet, and users who have only just arrived.

* :func:`item_cold_start` -- which test pairs are on *new* products (no interaction before the
  test period, the ones collaborative filtering cannot score) and which on known ones.
* :func:`user_cold_start` -- hold some users out of training entirely and reveal only their
  first ``n`` interactions (``n`` = 0, 1, 3, 5, 10, ...), so that each approach can be
  measured against the number of interactions it has seen ("strong generalisation", as in
  Marlin 2004 and Liang et al. 2018). The test is the same for every ``n``: the held-out
  users' interactions after their first ``max_revealed``.

Guarantees (tested in ``tests/test_coldstart.py``): a new item has no entry in the training
matrix; a held-out user's training row holds exactly their ``n`` earliest pairs and none of
their test pairs; every test pair of a held-out user is later than all their revealed pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.interactions import IdIndex
from recutils.schema import ITEM, TIMESTAMP, USER, WEIGHT


def _only_columns(matrix: sp.csr_matrix, columns: np.ndarray) -> sp.csr_matrix:
    kept = sp.csr_matrix(matrix.multiply(columns[None, :]))
    kept.eliminate_zeros()
    return kept


@dataclass(frozen=True)
class ItemColdStart:
    """The test pairs of a temporal split, divided by whether the product is new.

    Attributes:
        new: (n_items,) bool, True for products with no interaction in ``train``.
        test_new: the test pairs on new products (other columns zero), (n_users, n_items).
        test_known: the test pairs on products seen in training.
    """

    new: np.ndarray
    test_new: sp.csr_matrix
    test_known: sp.csr_matrix

    def sizes(self) -> pd.Series:
        """New products, how many of them are bought or viewed in the test, and the pairs."""
        return pd.Series(
            {
                "products without training interactions": int(self.new.sum()),
                "of them with test interactions": int(
                    np.count_nonzero(np.diff(self.test_new.tocsc().indptr))
                ),
                "test pairs on new products": self.test_new.nnz,
                "test pairs on known products": self.test_known.nnz,
            }
        )


def item_cold_start(train: sp.spmatrix, test: sp.spmatrix) -> ItemColdStart:
    """Split ``test`` into pairs on products absent from ``train`` and pairs on known ones.

    Args:
        train: (n_users, n_items) training matrix (e.g. ``protocol.train_and_valid``).
        test: (n_users, n_items) test matrix of the same :class:`IdIndex`.

    Raises:
        ValueError: the shapes differ.
    """
    train_matrix, test_matrix = sp.csr_matrix(train), sp.csr_matrix(test)
    if train_matrix.shape != test_matrix.shape:
        raise ValueError(
            f"train has shape {train_matrix.shape} but test has {test_matrix.shape}; build both "
            "with the same IdIndex"
        )
    new = np.diff(train_matrix.tocsc().indptr) == 0
    return ItemColdStart(
        new=new,
        test_new=_only_columns(test_matrix, new),
        test_known=_only_columns(test_matrix, ~new),
    )


@dataclass(frozen=True)
class ColdUsers:
    """Held-out users and the matrices to train and test with ``n`` revealed interactions.

    Attributes:
        users: (m,) int64 rows of the held-out users (sorted).
        max_revealed: the most interactions :meth:`train` can reveal.
        test: (n_users, n_items) the held-out users' pairs after their first ``max_revealed``
            (rows of other users are empty). The same for every ``n``, so results for
            different ``n`` compare the same users on the same items.
    """

    users: np.ndarray
    max_revealed: int
    test: sp.csr_matrix
    _warm: sp.csr_matrix
    _revealed: tuple[sp.csr_matrix, ...]

    def train(self, n: int) -> sp.csr_matrix:
        """(n_users, n_items) training matrix: every other user's pairs, and the first ``n``
        pairs (in time) of each held-out user."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not (
            0 <= n <= self.max_revealed
        ):
            raise ValueError(
                f"n must be a whole number of revealed interactions from 0 to "
                f"{self.max_revealed} (max_revealed), got {n!r}"
            )
        return sp.csr_matrix(self._warm + self._revealed[int(n)])

    def revealed(self, n: int) -> sp.csr_matrix:
        """Only the held-out users' first ``n`` pairs (other rows empty)."""
        return sp.csr_matrix(self.train(n) - self._warm)


def user_cold_start(
    pairs: pd.DataFrame,
    index: IdIndex,
    n_users: int,
    max_revealed: int = 10,
    min_test: int = 5,
    seed: int = 0,
) -> ColdUsers:
    """Hold ``n_users`` users out of training, to reveal their history a few pairs at a time.

    Eligible users have at least ``max_revealed + min_test`` pairs; ``n_users`` of them are
    drawn at random (``seed``). A held-out user's pairs are ordered by their first event (ties
    by item id); the first ``max_revealed`` can be revealed to the models
    (:meth:`ColdUsers.train`), the rest are the test. The other users keep all their pairs.

    Args:
        pairs: one row per (user, item) pair with ``user_id``, ``item_id``, ``timestamp`` (the
            pair's first event) and ``weight``, as :func:`recutils.interactions.user_item_pairs`
            returns.
        index: numbering of users and items (rows and columns of the matrices).
        n_users: how many users to hold out.
        max_revealed: the largest number of interactions that will be revealed.
        min_test: test pairs each held-out user must have at least.
        seed: which users are drawn.

    Raises:
        ValueError: missing columns, or fewer eligible users than ``n_users`` (the message
            says how many there are).
    """
    missing = [c for c in (USER, ITEM, TIMESTAMP, WEIGHT) if c not in pairs.columns]
    if missing:
        raise ValueError(
            f"pairs is missing column(s) {missing}; pass user_item_pairs(interactions)"
        )
    for name, value, low in (
        ("n_users", n_users, 1),
        ("max_revealed", max_revealed, 0),
        ("min_test", min_test, 1),
    ):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    if pairs.duplicated([USER, ITEM]).any():
        raise ValueError(
            "pairs has repeated (user_id, item_id) rows; collapse events into pairs first with "
            "recutils.interactions.user_item_pairs"
        )
    ordered = pairs.sort_values([USER, TIMESTAMP, ITEM], kind="stable")
    position = ordered.groupby(USER, sort=False, observed=True).cumcount().to_numpy()
    sizes = ordered.groupby(USER, sort=True, observed=True).size()
    eligible = np.sort(index.user_positions(sizes.index[sizes >= max_revealed + min_test]))
    if eligible.size < n_users:
        raise ValueError(
            f"only {eligible.size} users have at least max_revealed + min_test = "
            f"{max_revealed + min_test} pairs; ask for n_users <= {eligible.size} or lower "
            "max_revealed / min_test"
        )
    rng = np.random.default_rng(seed)
    held_out = np.sort(rng.choice(eligible, size=n_users, replace=False)).astype(np.int64)
    is_held_out = np.zeros(index.n_users, dtype=bool)
    is_held_out[held_out] = True
    row_held_out = is_held_out[index.user_positions(ordered[USER])]
    warm = index.matrix(ordered[~row_held_out])
    cold = ordered[row_held_out]
    cold_position = position[row_held_out]
    revealed = tuple(index.matrix(cold[cold_position < n]) for n in range(max_revealed + 1))
    test = index.matrix(cold[cold_position >= max_revealed])
    return ColdUsers(
        users=held_out,
        max_revealed=int(max_revealed),
        test=test,
        _warm=warm,
        _revealed=revealed,
    )
