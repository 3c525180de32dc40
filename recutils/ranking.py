"""Top-k selection: the best items of every row of a score matrix, ties broken the same way.

Every ranking in the course goes through this module: a model's recommendation lists
(:meth:`recutils.models.Recommender.recommend`), candidates for a home page, the neighbours of
an item. One rule everywhere: higher score first; equal scores in order of item (column)
number, **lower first**, so a list never depends on the sorting algorithm or the machine.

* :func:`top_k_items` -- the ``k`` best columns of each row, in order, with exclusions
  (``-inf`` or an ``exclude`` matrix = never recommend); ``-1`` fills slots that cannot be.
* :func:`top_k_excluding` -- the same with the excluded columns given per row (no matrix);
  :func:`excluded_columns` reads them from some rows of a matrix.
* :func:`smallest_k` -- its core on a cost matrix (the negated scores).
* :func:`top_k_mask` -- an unordered selection (a boolean mask), cheaper when the order does
  not matter (e.g. keeping each row's ``k`` nearest neighbours).

Example::

    >>> import numpy as np
    >>> top_k_items(np.array([[0.1, 0.9, 0.9, -np.inf]]), k=4)
    array([[ 1,  2,  0, -1]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from recutils.checks import positions, positive_int, sparse_matrix

SparseMatrix = sparse.sparray | sparse.spmatrix

#: Scores per batch of users in :func:`top_k_items` when ``batch_size`` is not given
#: (about 32 MB of float64 scores plus the same again for argpartition's indices).
SCORES_PER_BATCH = 2**22


def _scores_to_numpy(scores: Any) -> np.ndarray:
    """``scores`` as a 2-D floating numpy array (no copy when it already is one)."""
    if type(scores).__module__.split(".")[0] == "torch":
        import torch

        tensor = scores.detach().cpu()
        if tensor.dtype not in (torch.float32, torch.float64):
            tensor = tensor.to(torch.float32 if tensor.is_floating_point() else torch.float64)
        array = tensor.numpy()
    else:
        if sparse.issparse(scores):
            raise TypeError("scores must be a dense array (users x items), got a sparse matrix")
        array = np.asarray(scores)
        if array.dtype not in (np.float32, np.float64):
            if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
                raise ValueError(f"scores must be numeric, got dtype {array.dtype}")
            array = array.astype(np.float32 if array.dtype == np.float16 else np.float64)
    if array.ndim != 2:
        raise ValueError(f"scores must be 2-D (users x items), got shape {array.shape}")
    return array


def _raise_for_nan(scores: np.ndarray, batch_size: int) -> None:
    total, first = 0, None
    for start in range(0, scores.shape[0], batch_size):
        nan = np.isnan(scores[start : start + batch_size])
        count = int(nan.sum())
        if count and first is None:
            row, col = np.argwhere(nan)[0]
            first = (start + int(row), int(col))
        total += count
    raise ValueError(
        f"scores has {total} NaN value(s) (e.g. user {first[0]}, item {first[1]}); NaN has no "
        "rank. Fix the model, or mark items that must never be recommended with -inf, "
        "e.g. np.nan_to_num(scores, nan=-np.inf)"
    )


def top_k_items(
    scores: Any,
    k: int,
    exclude: SparseMatrix | None = None,
    batch_size: int | None = None,
) -> np.ndarray:
    """The ``k`` best-scored items of every user, best first.

    For user ``u`` the candidates are the items ``i`` with ``exclude[u, i] == 0`` and a score
    above ``-inf``; they are ranked by score, highest first. Equal scores are ranked by item
    index, **lower index first**, so the result never depends on the sorting algorithm.

    Args:
        scores: (n_users, n_items) scores, higher = better; a numpy array or a torch tensor
            (moved to CPU; integer and half-precision types are converted to float). ``+inf``
            ranks first, ``-inf`` means "never recommend" (like an excluded item). NaN raises
            ``ValueError``, naming how many there are: a NaN has no place in a ranking.
        k: length of each list, a positive integer. May exceed the number of items.
        exclude: optional scipy.sparse (n_users, n_items) matrix; its nonzero entries (e.g. the
            training interactions) are never recommended. Stored zeros are ignored.
        batch_size: users scored per batch, bounding the working memory to about
            ``3 * batch_size * n_items`` numbers. Default: as many users as fit in 4M scores.

    Returns:
        int64 array (n_users, k) of item indices, best first. A slot that cannot be filled,
        because the user has fewer than ``k`` candidates (``k`` > n_items, many excluded items
        or ``-inf`` scores), holds ``-1``; these slots always come last.

    Cost: ``np.argpartition`` (linear in n_items) per row, then a sort of the ``k`` selected
    items. Rows where ties straddle the k-th place fall back to a stable sort of the whole
    row, which keeps the lower-index rule exact at the price of speed only for those rows.
    """
    array = _scores_to_numpy(scores)
    k = positive_int(k, "k")
    excluded = None if exclude is None else sparse_matrix(exclude, "exclude", shape=array.shape)
    return top_k_excluding(
        array, k, None if excluded is None else (excluded.indptr, excluded.indices), batch_size
    )


def top_k_excluding(
    scores: Any,
    k: int,
    excluded: tuple[np.ndarray, np.ndarray] | None,
    batch_size: int | None = None,
) -> np.ndarray:
    """:func:`top_k_items` with the excluded columns of each row given as a CSR structure,
    ``(indptr, indices)``: every column in ``indices[indptr[u]:indptr[u + 1]]`` is left out of
    row ``u``; ``None`` excludes nothing. No matrix is built (what a one-user call of
    :meth:`recutils.models.Recommender.recommend` would mostly spend its time on);
    :func:`excluded_columns` gives the structure of some rows of a matrix.
    """
    array = _scores_to_numpy(scores)
    k = positive_int(k, "k")
    n_users, n_items = array.shape
    if batch_size is None:
        batch_size = max(1, SCORES_PER_BATCH // max(n_items, 1))
    batch_size = positive_int(batch_size, "batch_size")
    if excluded is not None:
        indptr, indices = (np.asarray(part) for part in excluded)
        if indptr.ndim != 1 or len(indptr) != n_users + 1:
            raise ValueError(
                f"excluded gives columns for {len(indptr) - 1} rows but scores has {n_users} "
                "rows; excluded is (indptr, indices) with len(indptr) = rows + 1"
            )
        if indices.size and (indices.min() < 0 or indices.max() >= n_items):
            raise ValueError(
                f"excluded holds column numbers outside 0..{n_items - 1} (the scores' columns)"
            )

    result = np.full((n_users, k), -1, dtype=np.int64)
    k_kept = min(k, n_items)
    if n_users == 0 or n_items == 0:
        return result
    for start in range(0, n_users, batch_size):
        stop = min(start + batch_size, n_users)
        # Work on the negated scores: smaller = better, and "never recommend" becomes +inf.
        cost = np.negative(array[start:stop])  # a fresh copy, safe to modify
        if np.isnan(cost.max(axis=1)).any():  # max propagates NaN, and is cheaper than isnan
            _raise_for_nan(array, batch_size)
        if excluded is not None:
            lo, hi = indptr[start], indptr[stop]
            rows = np.repeat(np.arange(stop - start), np.diff(indptr[start : stop + 1]))
            cost[rows, indices[lo:hi]] = np.inf
        result[start:stop, :k_kept] = smallest_k(cost, k_kept)
    return result


def excluded_columns(matrix: Any, rows: Any) -> tuple[np.ndarray, np.ndarray]:
    """The columns of the nonzero entries of some rows of a CSR matrix, as the
    ``(indptr, indices)`` :func:`top_k_excluding` reads: what ``matrix[rows]`` holds (stored
    zeros left out), without building it.

    Args:
        matrix: a scipy.sparse CSR matrix (n_rows, n_columns), e.g. a model's ``train_``.
        rows: row numbers (any order, repeats allowed).

    Returns:
        ``(indptr, indices)``: int64 (len(rows) + 1,) and the columns, row after row.
    """
    if not (sparse.issparse(matrix) and matrix.format == "csr"):
        raise TypeError(
            f"matrix must be a scipy.sparse CSR matrix, got {type(matrix).__name__}"
            + (f" in {matrix.format.upper()} format" if sparse.issparse(matrix) else "")
        )
    rows = positions(rows, matrix.shape[0], "user")
    starts = matrix.indptr[rows].astype(np.int64)
    counts = matrix.indptr[rows + 1] - starts
    total = int(counts.sum())
    first = np.zeros(rows.size, dtype=np.int64)  # each row's place in the result
    np.cumsum(counts[:-1], out=first[1:])
    entries = np.repeat(starts - first, counts) + np.arange(total)  # positions in matrix
    stored = matrix.data[entries] != 0
    if not stored.all():  # a stored zero is no entry
        row_of_entry = np.repeat(np.arange(rows.size), counts)
        counts = np.bincount(row_of_entry[stored], minlength=rows.size)
        entries = entries[stored]
    indptr = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, matrix.indices[entries]


def smallest_k(cost: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` smallest costs per row, ordered by (cost, index); +inf -> -1.

    ``cost`` has no NaN and ``1 <= k <= cost.shape[1]``.
    """
    if k == cost.shape[1]:
        top = np.argsort(cost, axis=1, kind="stable")
    else:
        # Partition around place k (0-based): places 0..k-1 then hold k smallest costs, in
        # some order, and place k the (k+1)-th smallest. The chosen set is the only possible
        # one unless that (k+1)-th cost ties with the k-th; such rows (rare with real-valued
        # scores) are re-done with a stable sort of the whole row, which puts the lower index
        # first among equal costs.
        top = np.argpartition(cost, k, axis=1)[:, : k + 1]
        selected = np.take_along_axis(cost, top, axis=1)
        kth = selected[:, :k].max(axis=1)
        ambiguous = np.flatnonzero((selected[:, k] == kth) & (kth < np.inf))
        top = top[:, :k]
        top.sort(axis=1)  # lower index first among equal costs in the stable sort below
        order = np.argsort(np.take_along_axis(cost, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        if ambiguous.size:
            top[ambiguous] = np.argsort(cost[ambiguous], axis=1, kind="stable")[:, :k]
    top = top.astype(np.int64, copy=False)
    top[np.isposinf(np.take_along_axis(cost, top, axis=1))] = -1
    return top


def top_k_mask(values: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` largest entries of each row (ties: lower column first).

    Unordered selection, cheaper than sorting: ``np.partition`` (introselect, linear time)
    finds the k-th largest value of each row; every entry above it is kept, and among the
    entries equal to it the lower columns fill the remaining places. ``1 <= k <= n``.

    Args:
        values: float (n_rows, n) array without NaN.
        k: entries to keep per row.

    Returns:
        bool (n_rows, n), exactly ``k`` True per row.
    """
    kth = -np.partition(-values, k - 1, axis=1)[:, k - 1 : k]
    above = values > kth
    ties = values == kth
    places_left = k - above.sum(axis=1, keepdims=True)
    return above | (ties & (np.cumsum(ties, axis=1) <= places_left))
