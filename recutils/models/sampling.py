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
        train: CSR (n_users, n_items); its nonzero cells are the items each user has (indices
            are sorted first if they are not).
        users: 1-D int array of user rows (any int dtype; computed in int64).
        rng: numpy random generator (the sample is reproducible from its state).

    Returns:
        int64 array of item columns, same length as ``users``.

    Raises:
        ValueError: a user has every item (no negative exists).
    """
    if not train.has_sorted_indices:
        train = train.copy()
        train.sort_indices()
    n_users, n_items = train.shape
    users = np.asarray(users)
    if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
        raise ValueError(f"users must be a 1-D array of user rows, got {users.dtype} {users.shape}")
    users = users.astype(np.int64, copy=False)  # user * n_items must not overflow int32
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"users must be rows 0..{n_users - 1} of train")
    counts = np.diff(train.indptr)
    full = np.flatnonzero(counts >= n_items)
    if users.size and np.isin(users, full).any():
        examples = [int(u) for u in np.intersect1d(users, full)[:3]]
        raise ValueError(
            f"users {examples} interacted with every one of the {n_items} items: they have no "
            "negative item; leave them out of the training pairs"
        )
    keys = np.repeat(np.arange(n_users, dtype=np.int64), counts) * n_items + train.indices
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
