"""A shop's personalised home page in three stages: candidates, ranking, business rules.

A home page shows each visitor a handful of products (say ``k = 10``) out of a catalog of
thousands. Scoring every product with an expensive model for every visitor is too slow, and no
single model knows everything the shop cares about, so production systems split the job into
stages that narrow the catalog down (Covington et al. 2016, "Deep neural networks for YouTube
recommendations"):

1. **Candidate generation: recall from several cheap sources.** Each source (most popular,
   ItemKNN, ALS, content similarity, ...) proposes a few hundred items per user.
   :func:`candidates` turns one fitted :class:`~recutils.models.base.Recommender` into such a
   list and :func:`merge_candidates` joins the lists of all sources. What matters here is that
   the items the user will want are *somewhere* in the union; their order hardly matters yet.
2. **Ranking: precision on a few hundred.** A learned model (e.g. a scikit-learn gradient
   boosted classifier) reads rich features of every candidate pair -- each source's score and
   rank, how many sources proposed the item, item and user attributes -- and orders them. Too
   expensive for the whole catalog, affordable for a few hundred pairs per user. A later
   notebook builds it; this module has no ranker.
3. **Business rules: what the page may show.** Nothing the user has just bought, nothing out
   of stock, at most a few products of one category (a page of ten phone cases sells nothing
   else). :func:`apply_business_rules` walks each user's ranked list, keeps the first ``k``
   items that pass, and can say what each rule removed.

Data layout: **long frames**, one row per (user, item) pair, users and items being the row and
column *numbers* of the user-item matrix (:class:`recutils.interactions.IdIndex`)

    ========================  =======================================================
    frame                     columns
    ========================  =======================================================
    candidates (one source)   ``user, item, score`` (float32), ``rank`` (1 = best)
    merged pool               ``user, item``, ``<source> score``, ``<source> rank``
                              (NaN where that source did not propose the item),
                              ``sources`` (how many proposed it)
    page                      ``user, item, score, position`` (1..k)
    dropped                   ``user, item, reason`` (which rule removed the item)
    ========================  =======================================================

A long frame holds only the pairs that were proposed (a few hundred per user instead of the
whole catalog) and is what a scikit-learn ranker eats: one row per pair, one column per
feature.

Typical use::

    train = index.matrix(split.train)
    models = {"popular": MostPopular(), "itemknn": ItemKNN(), "als": ALS()}
    pool = merge_candidates(
        {name: candidates(model.fit(train), users, n=200, exclude=train)
         for name, model in models.items()}
    )
    pool["score"] = ranker.predict_proba(pool[feature_columns])[:, 1]   # stage 2
    page, dropped = apply_business_rules(
        pool, k=10, item_category=category_of_item, max_per_category=3,
        blocked=recent_purchases, available=in_stock, explain=True,
    )
    dropped["reason"].value_counts(sort=False)   # what each rule removed, zeros included
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks
from recutils.checks import sparse_matrix
from recutils.models.base import Recommender

SparseMatrix = sp.spmatrix | sp.sparray

#: The columns of a candidate frame, as returned by :func:`candidates`.
CANDIDATE_COLUMNS: tuple[str, ...] = ("user", "item", "score", "rank")
#: Why :func:`apply_business_rules` removed an item, in the order the rules are applied.
DROP_REASONS: tuple[str, ...] = ("blocked", "unavailable", "category cap", "beyond k")


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _number_column(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    """``frame[column]`` as int64 user or item numbers (>= 0), checked."""
    values = frame[column]
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if not pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ValueError(
            f"{where}: column {column!r} must hold integer {column} numbers (rows/columns of "
            f"the user-item matrix), got dtype {values.dtype}; map ids to numbers with "
            f"IdIndex.{column}_positions"
        )
    if values.isna().any():
        raise ValueError(
            f"{where}: column {column!r} has {int(values.isna().sum())} missing values"
        )
    array = values.to_numpy(dtype=np.int64)
    if (array < 0).any():
        raise ValueError(
            f"{where}: column {column!r} has negative {column} numbers (e.g. "
            f"{array[array < 0][:3].tolist()}); numbers start at 0 (-1 marks an empty slot in "
            "top_k_items, drop those rows)"
        )
    return array


def _float_column(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    values = frame[column]
    if len(values) and (
        not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    ):
        raise ValueError(f"{where}: column {column!r} must be numeric, got dtype {values.dtype}")
    array = values.to_numpy()
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def _pair_keys(users: np.ndarray, items: np.ndarray, n_items: int, where: str) -> np.ndarray:
    """One int64 per (user, item) pair, ``user * n_items + item``: sorting the keys sorts the
    pairs by user, then item, and equal keys are equal pairs."""
    n_users = int(users.max()) + 1 if users.size else 0
    if n_users * n_items >= 2**63:
        raise ValueError(
            f"{where}: user numbers up to {n_users - 1} and item numbers up to {n_items - 1} "
            "are far too large for rows and columns of a user-item matrix; number users and "
            "items 0..n-1 with IdIndex"
        )
    return users * np.int64(n_items) + items


def _first_duplicate_pair(keys: np.ndarray, n_items: int) -> tuple[int, int] | None:
    """The smallest (user, item) pair whose key occurs twice, or None."""
    ordered = np.sort(keys)
    repeated = np.flatnonzero(ordered[1:] == ordered[:-1])
    if repeated.size == 0:
        return None
    key = int(ordered[repeated[0]])
    return key // n_items, key % n_items


def _walk_order(users: np.ndarray, items: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Row positions sorted by user, then score descending, then item (ties: lower first).

    ``np.lexsort((items, -score, users))`` computes this but needs three stable sorts, one of
    them on floats; replacing each score by its rank among the distinct scores packs the three
    keys into one int64 and sorts once, which is faster (timings in ``bench/results/tuning.md``).
    Falls back to ``lexsort`` when the packed key would overflow.
    """
    if users.size == 0:
        return np.zeros(0, dtype=np.int64)
    distinct_scores, level = np.unique(-score, return_inverse=True)  # level 0 = best score
    n_levels, n_items = distinct_scores.size, int(items.max()) + 1
    if (int(users.max()) + 1) * n_levels * n_items >= 2**63:
        return np.lexsort((items, -score, users))
    packed = (users * np.int64(n_levels) + level.ravel()) * np.int64(n_items) + items
    return np.argsort(packed)  # keys are distinct (one row per pair), so no stability needed


# --------------------------------------------------------------------------------------------
# Stage 1: candidate generation
# --------------------------------------------------------------------------------------------


def candidates(
    model: Recommender,
    users: np.ndarray,
    n: int,
    exclude: SparseMatrix | None = None,
    batch_size: int = 512,
) -> pd.DataFrame:
    """The ``n`` best items of each user according to one model, as a long frame.

    One *candidate source* of the home page: a fitted model proposes, for every user ``u``, the
    items with the highest ``model.score`` (``s(u, i)``), leaving out the nonzero entries of
    ``exclude`` (pass the training matrix so a user is not offered what they already have).
    Several such sources, merged with :func:`merge_candidates`, give the pool a ranker orders.

    Args:
        users: user numbers (rows of the model's training matrix), shape (n_requested,).
        n: candidates per user, a positive integer (a few hundred is typical; it may exceed
            the catalog, then every remaining item is a candidate).
        exclude: optional scipy.sparse (n_users, n_items) matrix of the model's shape,
            indexed by user number; its nonzero entries are never proposed (e.g. ``train``).
            ``None``: nothing is left out.
        batch_size: users scored at once; memory is about ``batch_size * n_items`` float32
            scores plus the same again for the top-k selection.

    Returns:
        DataFrame with one row per (user, candidate): ``user`` (int64, the user number),
        ``item`` (int64, the item number), ``score`` (float32, ``s(u, i)``) and ``rank``
        (int64, 1 = best). Rows come in the order of ``users``, then by rank. Equal scores are
        ranked by item number, lower first (as in :func:`recutils.ranking.top_k_items`). A user
        with fewer than ``n`` allowed items (everything else excluded or scored ``-inf``) gets
        fewer rows; there are no ``-1`` slots.

    Cost: :meth:`~recutils.models.Recommender.recommend` (one ``score`` call per batch, then
    top-k selection, linear in n_items per user); the frame has at most ``len(users) * n`` rows.

    Raises:
        RuntimeError: if the model is not fitted.
        ValueError: for unknown user numbers, an ``n`` or ``batch_size`` that is not a positive
            integer, or an ``exclude`` whose shape is not the model's (n_users, n_items).
    """
    if not hasattr(model, "train_"):
        raise RuntimeError(
            f"{type(model).__name__} is not fitted yet: call fit(train) before candidates"
        )
    n = checks.positive_int(n, "n", "candidates per user")
    rows = checks.positions(users, model.n_users_, "user")
    width = min(n, model.n_items_)
    top, top_scores = model.recommend(
        rows, width, exclude_seen=False, exclude=exclude, batch_size=batch_size
    )
    filled = top >= 0  # -1 slots (fewer allowed items than n) always come last in a row
    return pd.DataFrame(
        {
            "user": np.broadcast_to(rows[:, None], top.shape)[filled],
            "item": top[filled],
            "score": top_scores[filled],
            "rank": np.broadcast_to(np.arange(1, width + 1, dtype=np.int64), top.shape)[filled],
        }
    )


def merge_candidates(sources: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The union of several sources' candidates, one row per (user, item), for a ranker.

    An outer join on (user, item): an item is in the pool if *any* source proposed it, and
    each source contributes two features, its score and its rank. Where a source did not
    propose the item both are NaN -- itself a signal ("ALS did not have it in its top 200"),
    which tree-based rankers such as scikit-learn's ``HistGradientBoostingClassifier`` handle
    natively. ``sources`` counts the sources that proposed the pair (agreement of sources is
    often one of the strongest features).

    Args:
        sources: ``{name: frame}``, each frame with columns ``user``, ``item``, ``score`` and
            ``rank`` as returned by :func:`candidates` (further columns are ignored), at most
            one row per (user, item). Names become column prefixes, so keep them short
            (``"als"``, ``"itemknn"``).

    Returns:
        DataFrame with columns ``user``, ``item`` (int64), then for each source in the order
        of ``sources`` ``"<name> score"`` (float; NaN = not proposed) and ``"<name> rank"``
        (float64 so that NaN fits; 1.0 = that source's best), and ``sources`` (int64, 1 to
        the number of sources). Sorted by user, then item; a fresh 0..m-1 index.

    Cost: each (user, item) pair becomes one int64 key ``user * n_items + item``; one sort of
    all ``R`` keys gives the pool and a binary search (``np.searchsorted``) places each
    source's rows in it, ``O(R log R)`` in all (3,000 users x 3 sources x 300 candidates,
    2.7M rows in: under a second on one core).

    Raises:
        ValueError: if ``sources`` is empty, a frame lacks one of the columns (naming the
            source and the missing columns), has non-integer or negative user/item numbers,
            or repeats a (user, item) pair.
        TypeError: if a value of ``sources`` is not a DataFrame.
    """
    if not isinstance(sources, Mapping) or len(sources) == 0:
        raise ValueError(
            "sources must be a non-empty mapping {name: candidate frame}, e.g. "
            '{"als": candidates(als, users, n=200, exclude=train)}; got '
            f"{sources!r:.60}"
        )
    checked: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for name, frame in sources.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"source names must be non-empty strings, got {name!r}")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"source {name!r} must be a pandas DataFrame with columns "
                f"{', '.join(CANDIDATE_COLUMNS)}, got {type(frame).__name__}"
            )
        missing = [column for column in CANDIDATE_COLUMNS if column not in frame.columns]
        if missing:
            raise ValueError(
                f"source {name!r} lacks column(s) {missing} (it has {list(frame.columns)}); "
                f"a candidate frame has columns {list(CANDIDATE_COLUMNS)}, as returned by "
                "recutils.homepage.candidates"
            )
        where = f"source {name!r}"
        checked[name] = (
            _number_column(frame, "user", where),
            _number_column(frame, "item", where),
            _float_column(frame, "score", where),
            _float_column(frame, "rank", where).astype(np.float64),
        )

    # Join on integer pair keys: the sorted union of all keys is the pool, sorted by user and
    # item, and np.searchsorted finds each source's rows in it.
    n_items = 1 + max(
        (int(items.max()) for _, items, _, _ in checked.values() if items.size), default=0
    )
    keys = {}
    for name, (users, items, _, _) in checked.items():
        keys[name] = _pair_keys(users, items, n_items, f"source {name!r}")
        duplicate = _first_duplicate_pair(keys[name], n_items)
        if duplicate is not None:
            raise ValueError(
                f"source {name!r} proposes the (user, item) pair {duplicate} more than once; "
                "keep one row per pair, e.g. frame.drop_duplicates(['user', 'item'])"
            )
    pool = np.sort(np.concatenate(list(keys.values())))
    pool = pool[np.concatenate([[True], pool[1:] != pool[:-1]])]  # np.unique, without hashing
    columns: dict[str, np.ndarray] = {"user": pool // n_items, "item": pool % n_items}
    proposed_by = np.zeros(pool.size, dtype=np.int64)
    for name, (_, _, score, rank) in checked.items():
        rows = np.searchsorted(pool, keys[name])
        columns[f"{name} score"] = np.full(pool.size, np.nan, dtype=score.dtype)
        columns[f"{name} score"][rows] = score
        columns[f"{name} rank"] = np.full(pool.size, np.nan)
        columns[f"{name} rank"][rows] = rank
        proposed_by[rows] += 1
    columns["sources"] = proposed_by
    return pd.DataFrame(columns, copy=False)  # the arrays are fresh: no need to copy them


# --------------------------------------------------------------------------------------------
# Stage 3: business rules
# --------------------------------------------------------------------------------------------


def _catalog_inputs(
    items: np.ndarray,
    item_category: Any,
    available: Any,
    blocked: Any,
) -> tuple[np.ndarray | None, np.ndarray | None, sp.csr_array | None]:
    """Check the per-item inputs against each other and against the item numbers used."""
    sizes: dict[str, int] = {}
    codes = None
    if item_category is not None:
        labels = np.asarray(item_category, dtype=object)
        if labels.ndim != 1:
            raise ValueError(
                "item_category must be 1-D, one category label per item number "
                f"(item_category[i] = category of item i), got shape {labels.shape}"
            )
        # Missing labels (None / NaN) form one category of their own.
        codes = pd.factorize(labels, use_na_sentinel=False)[0].astype(np.int64)
        sizes["item_category"] = labels.size
    in_stock = None
    if available is not None:
        in_stock = np.asarray(available)
        if in_stock.ndim != 1 or not (
            in_stock.dtype == bool
            or (np.issubdtype(in_stock.dtype, np.integer) and np.isin(in_stock, [0, 1]).all())
        ):
            raise ValueError(
                "available must be a 1-D boolean array, one entry per item number "
                f"(True = in stock), got shape {in_stock.shape} and dtype {in_stock.dtype}"
            )
        in_stock = in_stock.astype(bool)
        sizes["available"] = in_stock.size
    blocked_csr = None
    if blocked is not None:
        blocked_csr = sparse_matrix(blocked, "blocked")  # nonzero = never show to that user
        sizes["blocked columns"] = blocked_csr.shape[1]

    if len(set(sizes.values())) > 1:
        described = ", ".join(f"{name} {size}" for name, size in sizes.items())
        raise ValueError(
            f"the per-item inputs disagree on the catalog size ({described}); each must have "
            "one entry (column) per item number of the catalog"
        )
    if sizes and items.size:
        n_items = next(iter(sizes.values()))
        largest = int(items.max())
        if largest >= n_items:
            names = " and ".join(sizes)
            raise ValueError(
                f"ranked has item number {largest}, but {names} cover(s) only items "
                f"0..{n_items - 1}; pass one entry per item of the whole catalog "
                "(e.g. len(index.items))"
            )
    return codes, in_stock, blocked_csr


@overload
def apply_business_rules(
    ranked: pd.DataFrame,
    k: int,
    item_category: np.ndarray | None = ...,
    max_per_category: int | None = ...,
    blocked: SparseMatrix | None = ...,
    available: np.ndarray | None = ...,
    score: str = ...,
    *,
    explain: Literal[False] = ...,
) -> pd.DataFrame: ...


@overload
def apply_business_rules(
    ranked: pd.DataFrame,
    k: int,
    item_category: np.ndarray | None = ...,
    max_per_category: int | None = ...,
    blocked: SparseMatrix | None = ...,
    available: np.ndarray | None = ...,
    score: str = ...,
    *,
    explain: Literal[True],
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def apply_business_rules(
    ranked: pd.DataFrame,
    k: int,
    item_category: np.ndarray | None = None,
    max_per_category: int | None = None,
    blocked: SparseMatrix | None = None,
    available: np.ndarray | None = None,
    score: str = "score",
    *,
    explain: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's page: the ``k`` best-scored candidates that pass the shop's rules.

    For each user the candidates are walked by descending ``score`` (equal scores: lower item
    number first) until the page holds ``k`` items. Each candidate on the way is tested by the
    rules in this order; the first that fails is the reason it is dropped, and the next
    candidate moves up:

    1. ``"blocked"``: ``blocked[user, item] != 0`` (e.g. bought in the last 30 days: a page
       that shows yesterday's purchase wastes a slot);
    2. ``"unavailable"``: ``available[item]`` is False (out of stock);
    3. ``"category cap"``: ``max_per_category`` items of ``item_category[item]`` are already
       on the page (a simple diversity constraint: not ten phone cases);
    4. ``"beyond k"``: the candidate comes after the page's ``k``-th item, so the walk never
       reached it (whatever rules it would have failed).

    So a rule's count in ``dropped`` is how many items it took *off the page*; a blocked item
    deep in the list, which would not have been shown anyway, counts as "beyond k". Every rule
    is optional (``None`` = not applied); with none of them this is "the top k by score".

    Vectorised: one sort of all rows by (user, -score, item), boolean masks for rules 1-2 and
    two running counts (``groupby(...).cumcount()``) for rules 3-4 instead of a Python loop
    over users or items, so the cost is ``O(R log R)`` for ``R`` rows whatever the number of
    users (a timing is in ``bench/results/tuning.md``).

    Args:
        ranked: long frame with integer columns ``user`` and ``item`` (user and item numbers)
            and a numeric ``score`` column, higher = better; at most one row per (user, item).
            Typically :func:`merge_candidates` output with a ranker's prediction added.
        k: items per page, a positive integer.
        item_category: (n_items,) category label of each item number, any hashable labels
            (strings, integers; None/NaN count as one category). Needed for
            ``max_per_category``; ignored without it.
        max_per_category: at most this many items of one category per page, a positive
            integer, or None for no cap.
        blocked: scipy.sparse (n_users, n_items) matrix indexed by user and item number;
            nonzero = never show this item to this user. It needs a row for every user in
            ``ranked`` (``shape[0] > user``).
        available: (n_items,) bool, False = out of stock.
        score: name of the column to rank by (e.g. ``"ranker score"``).
        explain: also return the dropped candidates and why.

    Returns:
        ``page``: DataFrame with columns ``user``, ``item`` (int64), ``score`` (the values of
        the ``score`` column) and ``position`` (int64, 1..k), sorted by user, then position.
        A user gets exactly ``k`` rows when at least ``k`` candidates pass rules 1-3, fewer
        otherwise, and no row when none does.

        With ``explain=True``, the tuple ``(page, dropped)``: ``dropped`` has one row per
        removed candidate, columns ``user``, ``item`` and ``reason`` (a categorical with the
        categories :data:`DROP_REASONS`), sorted by user, then descending score. Every row of
        ``ranked`` is in exactly one of the two frames;
        ``dropped["reason"].value_counts(sort=False)`` counts what each rule removed (zeros
        included).

    Raises:
        ValueError: for a ``k`` or ``max_per_category`` that is not a positive integer,
            ``max_per_category`` without ``item_category``, a missing column, non-integer or
            negative user/item numbers, NaN scores, repeated (user, item) pairs, per-item
            inputs that do not cover the item numbers used or disagree on the catalog size, or
            a ``blocked`` matrix without a row for every user.
    """
    k = checks.positive_int(k, "k", "items per page")
    if max_per_category is not None:
        max_per_category = checks.positive_int(
            max_per_category, "max_per_category", "items of one category per page, or None"
        )
        if item_category is None:
            raise ValueError(
                "max_per_category needs item_category (the category of each item number) "
                "to know which items share a category"
            )
    if not isinstance(ranked, pd.DataFrame):
        raise TypeError(f"ranked must be a pandas DataFrame, got {type(ranked).__name__}")
    missing = [column for column in ("user", "item", score) if column not in ranked.columns]
    if missing:
        raise ValueError(
            f"ranked lacks column(s) {missing} (it has {list(ranked.columns)}); it needs "
            f"user, item and the score column {score!r} (pass score='<column>' to rank by "
            "another one)"
        )
    users = _number_column(ranked, "user", "ranked")
    items = _number_column(ranked, "item", "ranked")
    sort_key = _float_column(ranked, score, "ranked")
    if np.isnan(sort_key).any():
        raise ValueError(
            f"ranked has {int(np.isnan(sort_key).sum())} NaN value(s) in column {score!r}; "
            "a NaN has no place in a ranking: fill it (e.g. with -inf) or drop those rows"
        )
    n_items = int(items.max()) + 1 if items.size else 0
    duplicate = _first_duplicate_pair(_pair_keys(users, items, n_items, "ranked"), n_items)
    if duplicate is not None:
        raise ValueError(
            f"ranked has the (user, item) pair {duplicate} more than once; a page shows an "
            "item once, so keep one row per pair"
        )
    codes, in_stock, blocked_csr = _catalog_inputs(items, item_category, available, blocked)
    if blocked_csr is not None and users.size and int(users.max()) >= blocked_csr.shape[0]:
        raise ValueError(
            f"blocked has {blocked_csr.shape[0]} rows but ranked has user number "
            f"{int(users.max())}; blocked must have one row per user number of the "
            "user-item matrix (shape (n_users, n_items))"
        )

    # Walk order: user ascending, then score descending, then item ascending.
    order = _walk_order(users, items, sort_key)
    users, items = users[order], items[order]
    scores = ranked[score].to_numpy()[order]
    reason = np.zeros(users.size, dtype=np.int8)  # 0 = kept, r = DROP_REASONS[r - 1]

    if blocked_csr is not None and users.size:
        reason[np.asarray(blocked_csr[users, items]).ravel() != 0] = 1
    if in_stock is not None:
        reason[(reason == 0) & ~in_stock[items]] = 2
    if max_per_category is not None and codes is not None:
        passing = np.flatnonzero(reason == 0)
        nth_of_category = (
            pd.DataFrame({"user": users[passing], "category": codes[items[passing]]})
            .groupby(["user", "category"], sort=False)
            .cumcount()
            .to_numpy()
        )  # 0 for the user's best item of that category, 1 for the second, ...
        reason[passing[nth_of_category >= max_per_category]] = 3
    passing = np.flatnonzero(reason == 0)
    position = pd.Series(users[passing]).groupby(users[passing], sort=False).cumcount() + 1
    position = position.to_numpy(dtype=np.int64)
    # The walk stops at each full page's k-th item: everything after it is "beyond k".
    last_walked = np.full(int(users.max()) + 1 if users.size else 0, users.size, dtype=np.int64)
    kth_items = passing[position == k]  # the row of each full page's last item
    last_walked[users[kth_items]] = kth_items
    reason[np.arange(users.size) > last_walked[users]] = 4

    on_page = position <= k
    shown = passing[on_page]
    page = pd.DataFrame(
        {
            "user": users[shown],
            "item": items[shown],
            "score": scores[shown],
            "position": position[on_page],
        }
    )
    if not explain:
        return page
    removed = np.flatnonzero(reason > 0)
    dropped = pd.DataFrame(
        {
            "user": users[removed],
            "item": items[removed],
            "reason": pd.Categorical.from_codes(
                reason[removed].astype(np.int64) - 1, categories=list(DROP_REASONS)
            ),
        }
    )
    return page, dropped
