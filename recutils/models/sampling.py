"""Negative sampling for models trained on (user, item the user has, item the user has not).

An interaction log only records what users did. Models trained with a ranking loss (BPR in
:class:`~recutils.models.graph.LightGCN`) or a classification loss
(:class:`~recutils.models.hybrid.BertHybrid`) also need items a user did *not* interact with:
:func:`sample_negatives` draws them uniformly, vectorised, reproducibly from a numpy generator.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def sample_negatives(
    train: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator, max_rounds: int = 100
) -> np.ndarray:
    """One item per entry of ``users``, drawn uniformly among the items the user does NOT have.

    Vectorised rejection sampling: draw uniformly from all items, look every (user, item) up in
    the sorted keys ``user * n_items + item`` of ``train`` (binary search), redraw the hits, and
    repeat until none is left. For a user with ``n_u`` of ``n`` items a round keeps a draw with
    probability ``1 - n_u / n``, so a few rounds suffice in sparse data.

    Args:
        train: CSR (n_users, n_items) with sorted indices (as :func:`as_train_matrix` returns).
        users: int array of user rows.
        rng: numpy random generator (the sample is reproducible from its state).

    Returns:
        int64 array of item columns, same length as ``users``.

    Raises:
        ValueError: a user has every item (no negative exists).
    """
    n_items = train.shape[1]
    counts = np.diff(train.indptr)
    if users.size and (counts[users] >= n_items).any():
        raise ValueError("some users interacted with every item: they have no negative items")
    keys = np.repeat(np.arange(train.shape[0], dtype=np.int64), counts) * n_items + train.indices
    items = rng.integers(0, n_items, size=users.size, dtype=np.int64)
    todo = np.arange(users.size)
    for _ in range(max_rounds):
        wanted = users[todo] * n_items + items[todo]
        found = np.searchsorted(keys, wanted)
        hit = (found < keys.size) & (keys[np.minimum(found, keys.size - 1)] == wanted)
        todo = todo[hit]
        if todo.size == 0:
            return items
        items[todo] = rng.integers(0, n_items, size=todo.size, dtype=np.int64)
    raise RuntimeError(f"negative sampling did not finish in {max_rounds} rounds")
