"""Full-catalog ranking metrics: accuracy, coverage, novelty, diversity.

The protocol of the whole course: every model scores **every** item of the catalog for every
user (no sampled negatives), the items a user already had in training are removed, the best
``k`` remaining items are that user's recommendation list, and the list is compared with the
user's held-out test items. Relevance is binary: an item is relevant to a user if it is among
that user's test items.

Data layout (users and items are row and column *positions* 0..n-1, as in a user-item matrix)

    ================  ==========================  ============================================
    name              type, shape                 meaning
    ================  ==========================  ============================================
    ``scores``        float (n_users, n_items)    higher = better; numpy array or torch tensor
    ``exclude``       sparse (n_users, n_items)   nonzero = never recommend (training items)
    ``recommended``   int64 (n_users, k)          item indices, best first; ``-1`` = empty slot
    ``relevant``      sparse (n_users, n_items)   nonzero = a test item of that user
    ``train``         sparse (n_users, n_items)   nonzero = a training interaction
    ================  ==========================  ============================================

Typical use (the lists come from :func:`recutils.ranking.top_k_items`, or a model)::

    recommended = top_k_items(scores, k=20, exclude=train)
    ranking_metrics(recommended, test, k=[5, 10, 20], train=train)   # one row per k
    ranking_metrics_per_user(recommended, test, k=10)               # one row per user

Everything is vectorised over users with numpy and scipy.sparse: 10,000 users x 20,000 items
take well under a second per step on one core (``bench/metrics_bench.py`` measures it against
a pandas merge/groupby implementation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from recutils import checks

#: Accuracy metrics computed by :func:`ranking_metrics`, in column order.
METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")

SparseMatrix = sparse.sparray | sparse.spmatrix

#: Cells of the dense bitmap that looks up hits in :func:`ranking_metrics` (4 MB of bool).
_BITMAP_CELLS = 2**22


# --------------------------------------------------------------------------------------------
# Input checks shared by the public functions
# --------------------------------------------------------------------------------------------


def _row_of_each_entry(csr: sparse.csr_array) -> np.ndarray:
    """Row index of every stored entry of ``csr`` (the COO row array), int64."""
    return np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))


def _check_recommended(recommended: Any, n_items: int, n_users: int | None = None) -> np.ndarray:
    """``recommended`` as an int64 (n_users, width) array with entries in -1..n_items-1."""
    array = checks.item_lists(recommended, n_items, "recommended")
    if n_users is not None and array.shape[0] != n_users:
        raise ValueError(
            f"recommended has {array.shape[0]} rows but relevant has {n_users}; "
            "both need one row per user, in the same order"
        )
    return array


def _check_no_repeats(recommended: np.ndarray) -> None:
    """Raise if an item appears twice in a user's list (it would be counted as two hits)."""
    if recommended.shape[1] < 2:
        return
    ordered = np.sort(recommended, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    rows = np.flatnonzero(repeated.any(axis=1))
    if rows.size:
        row = rows[0]
        item = ordered[row, 1:][repeated[row]][0]
        raise ValueError(
            f"recommended repeats an item in {rows.size} row(s) (e.g. row {row} lists item "
            f"{item} more than once); each item may appear at most once per user"
        )


def _check_ks(k: int | Sequence[int], width: int) -> list[int]:
    """``k`` as a sorted list of distinct cut-offs, each in 1..width."""
    ks = [k] if checks.is_integer(k) or isinstance(k, bool) else k
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Sequence | np.ndarray) or len(ks) == 0:
        raise ValueError(f"k must be a positive integer or a non-empty sequence of them, got {k!r}")
    result = sorted({checks.positive_int(value, "k") for value in ks})
    if result[-1] > width:
        raise ValueError(
            f"k={result[-1]} is larger than the {width} columns of recommended; "
            f"ask top_k_items for at least {result[-1]} items or use k <= {width}"
        )
    return result


# --------------------------------------------------------------------------------------------
# Accuracy metrics
# --------------------------------------------------------------------------------------------


def _hit_matrix(recommended: np.ndarray, relevant: sparse.csr_array) -> np.ndarray:
    """Boolean (n_users, width): is ``recommended[u, j]`` one of user u's relevant items?

    For a batch of users at a time, the relevant (user, item) pairs are switched on in a
    reusable dense bitmap (batch x n_items, about 4 MB), every slot is looked up with one
    gather, and the pairs are switched off again. ``-1`` slots are never hits.
    """
    n_users, n_items = relevant.shape
    hits = np.zeros(recommended.shape, dtype=bool)
    if n_users == 0 or recommended.shape[1] == 0:
        return hits
    batch = min(n_users, max(1, _BITMAP_CELLS // max(n_items, 1)))
    bitmap = np.zeros(batch * n_items, dtype=bool)  # row r of the batch at r * n_items
    row_offset = np.arange(batch, dtype=np.int64) * n_items
    filled = recommended >= 0
    slot_items = np.where(filled, recommended, 0)
    indptr, indices = relevant.indptr, relevant.indices
    for start in range(0, n_users, batch):
        stop = min(start + batch, n_users)
        per_row = np.diff(indptr[start : stop + 1])
        pairs = np.repeat(row_offset[: stop - start], per_row)
        pairs += indices[indptr[start] : indptr[stop]]
        bitmap[pairs] = True
        hits[start:stop] = bitmap[row_offset[: stop - start, None] + slot_items[start:stop]]
        bitmap[pairs] = False
    hits &= filled
    return hits


def _per_user_values(
    hits: np.ndarray, n_relevant: np.ndarray, ks: list[int]
) -> dict[int, dict[str, np.ndarray]]:
    """Every metric of :data:`METRICS` per user and k, from the hit matrix of evaluated users.

    ``hits`` is (n_evaluated, >= max(ks)) bool, ``n_relevant`` (n_evaluated,) with values >= 1.
    Running sums along the ranks are products with the upper-triangular matrix of ones
    (``x @ upper`` = ``np.cumsum(x, axis=1)``, but much faster for short rows).
    """
    width = ks[-1]
    hits = hits[:, :width].astype(np.float64)
    ranks = np.arange(1, width + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)  # 1/log2(j+1) for ranks j = 1..width
    upper = np.triu(np.ones((width, width)))  # upper[i, j] = 1 if rank i+1 <= rank j+1
    at_k = upper[:, np.asarray(ks) - 1]  # running sums only at the requested cut-offs
    hits_at = hits @ upper  # hits_at[:, j-1] = hits in the top j
    n_hits = hits @ at_k
    dcg = hits @ (discount[:, None] * at_k)
    precision_sum = (hits * (hits_at / ranks)) @ at_k  # sum_{j<=k} P@j * rel_j
    ideal_dcg = np.cumsum(discount)  # ideal_dcg[m-1] = DCG of hits at ranks 1..m
    first_hit_rank = np.where(hits.any(axis=1), np.argmax(hits, axis=1) + 1, width + 1)

    values: dict[int, dict[str, np.ndarray]] = {}
    for column, k in enumerate(ks):
        values[k] = {
            "precision": n_hits[:, column] / k,
            "recall": n_hits[:, column] / n_relevant,
            "ndcg": dcg[:, column] / ideal_dcg[np.minimum(k, n_relevant) - 1],
            "map": precision_sum[:, column] / n_relevant,
            "hit_rate": (n_hits[:, column] > 0).astype(np.float64),
            "mrr": np.where(first_hit_rank <= k, 1.0 / first_hit_rank, 0.0),
        }
    return values


def _evaluate(
    recommended: Any, relevant: SparseMatrix, k: int | Sequence[int]
) -> tuple[np.ndarray, sparse.csr_array, list[int], np.ndarray, np.ndarray, dict]:
    """Shared core of :func:`ranking_metrics` and :func:`ranking_metrics_per_user`."""
    relevant_csr = checks.sparse_matrix(relevant, "relevant")
    n_users, n_items = relevant_csr.shape
    recommended = _check_recommended(recommended, n_items, n_users=n_users)
    ks = _check_ks(k, recommended.shape[1])
    _check_no_repeats(recommended[:, : ks[-1]])
    n_relevant = np.diff(relevant_csr.indptr)
    evaluated = np.flatnonzero(n_relevant > 0)
    hits = _hit_matrix(recommended[evaluated, : ks[-1]], relevant_csr[evaluated])
    values = _per_user_values(hits, n_relevant[evaluated], ks)
    return recommended, relevant_csr, ks, evaluated, n_relevant, values


def ranking_metrics(
    recommended: Any,
    relevant: SparseMatrix,
    k: int | Sequence[int] = 10,
    train: SparseMatrix | None = None,
) -> pd.DataFrame:
    """Mean precision, recall, nDCG, MAP, hit rate and MRR at each cut-off ``k``.

    For a user ``u`` with relevant (test) items ``R_u`` and ranked list ``i_1, i_2, ...``, let
    ``rel_j = 1`` if ``i_j`` is in ``R_u`` (an empty ``-1`` slot is never relevant) and
    ``hits@k = sum_{j<=k} rel_j``. Then

    * precision@k = hits@k / k. The denominator is ``k`` even when fewer than ``k`` items
      could be recommended (as in Microsoft Recommenders and Spark).
    * recall@k = hits@k / |R_u|.
    * nDCG@k = DCG@k / IDCG@k with DCG@k = sum_{j<=k} rel_j / log2(j + 1) and
      IDCG@k = sum_{j <= min(k, |R_u|)} 1 / log2(j + 1), the DCG of a perfect list.
    * MAP@k = (1 / |R_u|) * sum_{j<=k} P@j * rel_j, where P@j = hits@j / j.
    * hit rate@k = 1 if hits@k > 0 else 0.
    * MRR@k = 1 / (rank of the first relevant item) if it is within the top k, else 0.

    Each is averaged over the *evaluated* users: those with at least one relevant item. Users
    without test items are left out (their count is ``n_users - users``); a user with test
    items but an empty list counts, with zeros.

    Other libraries (same data, different numbers):

    * Microsoft Recommenders (``python_evaluation``): same precision, recall and nDCG (its
      natural-log discount cancels in the ratio). Its ``map`` is our MAP; its ``map_at_k``
      divides by ``min(k, |R_u|)`` instead. It averages over users present in *both* the
      test and the recommendation frames.
    * implicit (``ranking_metrics_at_k``): same nDCG; ``mean_average_precision_at_k``
      divides by ``min(K, |R_u|)``; ``precision_at_k`` is pooled over users,
      ``sum_u hits_u / sum_u min(K, |R_u|)``, which is neither our precision nor our recall.

    Beyond accuracy (computed over *all* rows of ``recommended``, i.e. every user who is
    shown a list, not only the evaluated ones; only the first ``k`` columns count):

    * coverage@k: :func:`catalog_coverage` with n_items = ``relevant.shape[1]``;
    * novelty@k: :func:`novelty`, only when ``train`` is given.

    Args:
        recommended: int (n_users, width) item indices, best first, ``-1`` for empty slots
            (the output of :func:`top_k_items`). No item may appear twice in a row.
        relevant: scipy.sparse (n_users, n_items); nonzero entries are the relevant items.
        k: a cut-off or a sequence of cut-offs, each in 1..width. Repeats are dropped and the
            rows are sorted by k.
        train: optional scipy.sparse (any number of users, n_items) training interactions;
            adds the novelty column.

    Returns:
        DataFrame indexed by ``k`` with the columns of :data:`METRICS`, then ``coverage``,
        ``novelty`` (if ``train``) and ``users`` (how many users were evaluated).

    Raises:
        ValueError: on shape mismatches, item indices outside -1..n_items-1, repeated items in
            a row, a ``k`` outside 1..width, or when no user has a relevant item.
    """
    recommended, relevant_csr, ks, evaluated, _, values = _evaluate(recommended, relevant, k)
    if evaluated.size == 0:
        raise ValueError(
            "relevant has no nonzero entries, so no user can be evaluated; "
            "pass the test interactions (one row per user, nonzero = relevant)"
        )
    n_items = relevant_csr.shape[1]
    popularity = None if train is None else _item_self_information(train, n_items)
    rows = []
    for cut in ks:
        row = {name: float(values[cut][name].mean()) for name in METRICS}
        row["coverage"] = _coverage(recommended[:, :cut], n_items)
        if popularity is not None:
            row["novelty"] = _mean_self_information(recommended[:, :cut], popularity)
        row["users"] = int(evaluated.size)
        rows.append(row)
    frame = pd.DataFrame(rows, index=pd.Index(ks, name="k"))
    return frame


def ranking_metrics_per_user(
    recommended: Any,
    relevant: SparseMatrix,
    k: int | Sequence[int] = 10,
) -> pd.DataFrame:
    """Every metric of :func:`ranking_metrics` for every evaluated user, for paired tests.

    Same definitions and arguments as :func:`ranking_metrics` (see there). Users without
    relevant items are left out.

    Returns:
        DataFrame with one row per evaluated user, indexed by the user's row position in
        ``recommended`` (index name ``user``). Columns: ``n_relevant`` (|R_u|), then
        ``"<metric>@<k>"`` for every k (ascending) and metric of :data:`METRICS`, e.g.
        ``recall@10``. The column means equal the values of :func:`ranking_metrics`.
        Two models evaluated on the same data have the same rows, so e.g.
        ``scipy.stats.wilcoxon(a["ndcg@10"], b["ndcg@10"])`` compares them user by user.
    """
    _, _, ks, evaluated, n_relevant, values = _evaluate(recommended, relevant, k)
    columns: dict[str, np.ndarray] = {"n_relevant": n_relevant[evaluated]}
    for cut in ks:
        for name in METRICS:
            columns[f"{name}@{cut}"] = values[cut][name]
    return pd.DataFrame(columns, index=pd.Index(evaluated, name="user"))


# --------------------------------------------------------------------------------------------
# Beyond accuracy
# --------------------------------------------------------------------------------------------


def catalog_coverage(recommended: Any, n_items: int) -> float:
    """Share of the catalog that is recommended to at least one user.

    coverage = |{i : i appears in some row of recommended}| / n_items, ignoring ``-1`` slots.

    Args:
        recommended: int (n_users, width) item indices, ``-1`` for empty slots.
        n_items: size of the catalog, a positive integer (items are 0..n_items-1).

    Returns:
        A float in [0, 1]; 0.0 when every slot is empty.
    """
    n_items = checks.positive_int(n_items, "n_items")
    return _coverage(_check_recommended(recommended, n_items), n_items)


def _coverage(recommended: np.ndarray, n_items: int) -> float:
    shown = np.zeros(n_items, dtype=bool)
    shown[recommended[recommended >= 0]] = True
    return float(np.count_nonzero(shown) / n_items)


def _training_users_per_item(
    train: SparseMatrix, n_items: int | None = None, metric: str = "novelty"
) -> tuple[np.ndarray, int]:
    """(users with item i in training, per item i; users with any training item)."""
    train_csr = checks.sparse_matrix(train, "train")
    if n_items is not None and train_csr.shape[1] != n_items:
        raise ValueError(
            f"train has {train_csr.shape[1]} columns but the catalog has {n_items} items; "
            "train and relevant must use the same item columns"
        )
    n_train_users = int(np.count_nonzero(np.diff(train_csr.indptr)))
    if n_train_users == 0:
        raise ValueError(
            f"train has no nonzero entries; {metric} needs the training interactions "
            "to measure how well known each item is"
        )
    return np.bincount(train_csr.indices, minlength=train_csr.shape[1]), n_train_users


def _item_self_information(train: SparseMatrix, n_items: int | None = None) -> np.ndarray:
    """-log2 p(i) per item, p(i) = users with item i / users with any training item."""
    users_per_item, n_train_users = _training_users_per_item(train, n_items)
    return -np.log2(np.maximum(users_per_item, 1) / n_train_users)


def _mean_self_information(recommended: np.ndarray, self_information: np.ndarray) -> float:
    shown = recommended[recommended >= 0]
    if shown.size == 0:
        raise ValueError("recommended has no filled slots (all -1); novelty is undefined")
    return float(self_information[shown].mean())


def novelty(recommended: Any, train: SparseMatrix) -> float:
    """Mean self-information (in bits) of the recommended items: how unknown they are.

    novelty = mean over all filled slots (u, j) of -log2 p(i_uj), where
    p(i) = (training users who interacted with i) / (training users). "Training users" are
    the rows of ``train`` with at least one nonzero entry. An item nobody interacted with
    in training gets the count 1 instead of 0 (so -log2 p is finite: the largest possible
    value, log2 of the number of training users). Recommending only the most popular item,
    which every user had, gives 0; ``-1`` slots are ignored.

    This is the "discovery" model (share of users who know the item, Zhou et al. 2010;
    Vargas & Castells 2011). Microsoft Recommenders' ``novelty`` uses the "choice" model
    instead, p(i) = interactions with i / all interactions, so its values are larger.

    Args:
        recommended: int (n_users, width) item indices, ``-1`` for empty slots.
        train: scipy.sparse (n_train_users, n_items); nonzero = interaction. Its rows need not
            be the rows of ``recommended``; its columns are the catalog.

    Returns:
        Novelty in bits (a float >= 0).

    Raises:
        ValueError: if ``train`` is empty, ``recommended`` has no filled slot or indices
            outside -1..n_items-1.
    """
    self_information = _item_self_information(train)
    recommended = _check_recommended(recommended, self_information.size)
    return _mean_self_information(recommended, self_information)


def average_popularity(recommended: Any, train: SparseMatrix) -> float:
    """Average recommendation popularity (ARP): how popular the recommended items are.

    ARP = mean over all filled slots (u, j) of pop(i_uj), where
    pop(i) = (training users who interacted with i) / (training users), a share in [0, 1].
    "Training users" are the rows of ``train`` with at least one nonzero entry, as in
    :func:`novelty` (whose -log2 of the same share is the self-information). Recommending only
    the most popular item gives that item's share (1.0 if every training user had it); a
    list of items nobody had in training gives 0; ``-1`` slots are ignored.

    Abdollahpouri et al. (2019, "Managing popularity bias in recommender systems with
    personalized re-ranking") average ``sum_{i in L_u} phi(i) / |L_u|`` over users, with
    ``phi(i)`` the number of times item i was rated. Here the mean is over slots (equal to
    their mean over users when every list is full) and ``phi`` is a share of users, so that
    the value does not grow with the size of the data set and compares across data sets.

    Args:
        recommended: int (n_users, width) item indices, ``-1`` for empty slots.
        train: scipy.sparse (n_train_users, n_items); nonzero = interaction. Its rows need not
            be the rows of ``recommended``; its columns are the catalog.

    Returns:
        ARP, a float in [0, 1].

    Raises:
        ValueError: if ``train`` is empty, ``recommended`` has no filled slot or indices
            outside -1..n_items-1.
    """
    users_per_item, n_train_users = _training_users_per_item(train, metric="average_popularity")
    recommended = _check_recommended(recommended, users_per_item.size)
    shown = recommended[recommended >= 0]
    if shown.size == 0:
        raise ValueError(
            "recommended has no filled slots (all -1); average_popularity is undefined"
        )
    return float(users_per_item[shown].mean() / n_train_users)


#: Numbers of a (users x slots x dimensions) block of item vectors in intra_list_diversity.
_VECTORS_PER_BATCH = 2**22


def intra_list_diversity(recommended: Any, item_vectors: Any) -> float:
    """Mean pairwise cosine distance between the items of a list, averaged over lists.

    For a list with ``m >= 2`` filled slots holding items with unit vectors
    ``v_1, ..., v_m`` (``v = x / ||x||`` for the item's row ``x`` of ``item_vectors``)

        ILD(list) = 2 / (m (m - 1)) * sum_{j < l} (1 - v_j . v_l)

    (Smyth & McClave 2001; Ziegler et al. 2005, with cosine distance), and the result is the
    mean of ILD over all lists (rows of ``recommended``) with at least 2 filled slots; rows
    with fewer are skipped. 0 = every list repeats one direction (near-duplicates), 1 = the
    items of a list are orthogonal on average; the range is [0, 2]. A pair of slots that
    holds the same item counts with distance 0.

    Computed without looping over pairs or users: for unit vectors
    ``sum_{j < l} v_j . v_l = (||s||^2 - m) / 2`` with ``s = sum_j v_j``, so one sum of
    vectors per list suffices. Lists are processed in batches of about 4M numbers.

    Args:
        recommended: int (n_users, width) item indices, ``-1`` for empty slots.
        item_vectors: dense float (n_items, d) array, one row per item of the catalog, e.g.
            MiniLM text embeddings (:func:`recutils.text.encode_texts`); rows need not be
            normalised. Every row must be finite and nonzero.

    Returns:
        Mean intra-list diversity, a float in [0, 2].

    Raises:
        ValueError: if ``item_vectors`` is not 2-D, not finite or has zero rows (naming how
            many), ``recommended`` has indices outside -1..n_items-1, or no row has 2 filled
            slots.
    """
    if sparse.issparse(item_vectors):
        raise TypeError(
            "item_vectors must be a dense (n_items, d) array, got a sparse matrix; "
            "use item_vectors.toarray() (e.g. for TF-IDF vectors)"
        )
    vectors = np.asarray(item_vectors)
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.number):
        raise ValueError(
            f"item_vectors must be a 2-D numeric array (n_items, d), got shape "
            f"{vectors.shape} and dtype {vectors.dtype}"
        )
    if vectors.dtype not in (np.float32, np.float64):
        vectors = vectors.astype(np.float64)
    if not np.isfinite(vectors).all():
        rows = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
        raise ValueError(
            f"item_vectors has {rows.size} row(s) with NaN or infinite values "
            f"(e.g. item {rows[0]}); every item needs a finite vector"
        )
    norms = np.linalg.norm(vectors, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"item_vectors has {zero.size} item(s) with a zero vector (e.g. items "
            f"{zero[:3].tolist()}); the cosine distance is undefined for them. Give those "
            "items a vector (e.g. encode their title) or leave them out of the catalog"
        )
    unit = vectors / norms[:, None]
    recommended = _check_recommended(recommended, vectors.shape[0])
    filled = recommended >= 0
    n_filled = filled.sum(axis=1)
    rows = np.flatnonzero(n_filled >= 2)
    if rows.size == 0:
        raise ValueError(
            "no row of recommended has 2 or more filled slots; intra-list diversity needs "
            "at least one pair of items in a list"
        )
    width, dim = recommended.shape[1], unit.shape[1]
    batch = max(1, _VECTORS_PER_BATCH // max(width * dim, 1))
    squared_norm_of_sum = np.empty(rows.size, dtype=np.float64)
    for start in range(0, rows.size, batch):
        block = rows[start : start + batch]
        items = np.where(filled[block], recommended[block], 0)
        vectors_of_slots = unit[items] * filled[block][:, :, None]  # (batch, width, d)
        sums = vectors_of_slots.sum(axis=1, dtype=np.float64)  # s = sum_j v_j
        squared_norm_of_sum[start : start + batch] = np.einsum("ud,ud->u", sums, sums)
    m = n_filled[rows].astype(np.float64)
    mean_cosine = (squared_norm_of_sum - m) / (m * (m - 1.0))  # = sum_{j<l} cos / (m(m-1)/2)
    return float(np.clip(1.0 - mean_cosine, 0.0, 2.0).mean())


# --------------------------------------------------------------------------------------------
# Concentration: Lorenz curve and Gini index (of popularity, activity or exposure)
# --------------------------------------------------------------------------------------------


def lorenz_curve(counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points of the Lorenz curve of ``counts`` (e.g. interactions per item).

    Sort the ``n`` counts in ascending order, ``x_(1) <= ... <= x_(n)``; the curve joins
    ``(0, 0)`` and the points ``(i / n, sum_{j<=i} x_(j) / sum_j x_j)`` for i = 1..n: the share
    of all interactions that goes to the least popular ``i/n`` of the items. A perfectly even
    catalog gives the diagonal.

    Returns:
        ``(population_share, volume_share)``, two float64 arrays of length ``n + 1``.
    """
    values = np.sort(checks.counts(counts))
    population = np.arange(values.size + 1, dtype=np.float64) / values.size
    volume = np.concatenate([[0.0], np.cumsum(values)]) / values.sum()
    return population, volume


def gini_index(counts: Any) -> float:
    """Gini index of ``counts``: 0 when every item gets the same, -> 1 when one item gets all.

    With the counts sorted ascending, ``G = 2 * sum_i i * x_(i) / (n * sum_i x_(i)) - (n + 1) / n``,
    which equals twice the area between the diagonal and the Lorenz curve of
    :func:`lorenz_curve` (its points joined by straight lines: ``1 - 2 * trapezoid area``).
    Items with zero interactions must be included (pass the whole catalog), otherwise the tail
    is hidden.
    """
    values = np.sort(checks.counts(counts))
    n = values.size
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * (ranks @ values) / (n * values.sum()) - (n + 1.0) / n)
