"""One evaluation protocol for every model: fit on train, rank the whole catalog, score the test.

* :func:`evaluate` -- one model: full-catalog top-k for every user with test items (training
  items excluded), then :func:`recutils.metrics.ranking_metrics`.
* :func:`ranked_lists` -- the same lists kept as a :class:`RankedLists`, for per-user metrics
  (bootstrap intervals, paired tests, :mod:`recutils.uncertainty`) and segments (heavy or
  light users, head or tail items) without recommending twice.
* :func:`sampled_metrics` -- the *sampled* protocol (rank each test item among 100 random
  items), shown in notebook 06 as a pitfall: it can reorder models (Krichene & Rendle, 2020).
* :func:`compare` -- several models on the same split: a quality table (one row per model,
  columns such as ``ndcg@10``) and a cost table (fit and recommend seconds).
* :func:`grid_search` -- try hyper-parameters on a *validation* split (never on test).
* :func:`mean_percentile_rank` -- where the test items land in the whole ranked catalog, for
  segments (new or rare products) that seldom reach a top-k list.
* :func:`temporal_protocol` -- the course's split of a dataset into train / validation / test
  periods, as user-item matrices (:class:`Protocol`), shared by the model notebooks.

Timings are wall-clock seconds on the current machine; they belong in tables that notebooks do
not check (they differ between machines), quality numbers in tables that they do.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.interactions import IdIndex, pair_split
from recutils.metrics import METRICS, ranking_metrics, ranking_metrics_per_user, top_k_items
from recutils.models.base import Recommender, SparseMatrix, as_train_matrix
from recutils.schema import TIMESTAMP, Dataset
from recutils.splitting import temporal_split


def _ks(k: int | Sequence[int]) -> list[int]:
    values = [k] if isinstance(k, (int, np.integer)) else list(k)
    if not values or any(not isinstance(v, (int, np.integer)) or v <= 0 for v in values):
        raise ValueError(f"k must be a positive integer or a list of them, got {k!r}")
    return sorted({int(v) for v in values})


@dataclass(frozen=True)
class RankedLists:
    """One model's top-k lists for the users with test items, and what was relevant to them.

    Attributes:
        users: (n,) int64 row numbers (in the user-item matrix) of the evaluated users: those
            with at least one test item they did not have in training.
        items: (n, k) int64 recommended item columns, best first (``-1`` = empty slot).
        relevant: (n, n_items) CSR matrix, row ``j`` = the test items of ``users[j]`` minus
            their training items (which can never be recommended).
        train: (n_users, n_items) the training matrix (for novelty and popularity).
    """

    users: np.ndarray
    items: np.ndarray
    relevant: sp.csr_matrix
    train: sp.csr_matrix

    def metrics(self, k: int | Sequence[int] = (10, 20)) -> pd.DataFrame:
        """:func:`recutils.metrics.ranking_metrics` of these lists (one row per k)."""
        return ranking_metrics(self.items, self.relevant, k=_ks(k), train=self.train)

    def per_user(self, k: int | Sequence[int] = (10, 20)) -> pd.DataFrame:
        """:func:`recutils.metrics.ranking_metrics_per_user`, indexed by the user's *row number*
        (index name ``user``), so two models' frames align user by user."""
        frame = ranking_metrics_per_user(self.items, self.relevant, k=_ks(k))
        frame.index = pd.Index(self.users[frame.index.to_numpy()], name="user")
        return frame

    def restricted(
        self, items: np.ndarray | None = None, users: np.ndarray | None = None
    ) -> RankedLists:
        """The same lists, judged only on a segment.

        Args:
            items: (n_items,) bool mask; only test items in the mask count as relevant (e.g.
                the catalog's long tail). The lists are unchanged: a model that fills its
                list with head items simply scores 0 on the tail.
            users: (n_users,) bool mask over *all* rows of the matrix (e.g. heavy users).

        Users left with no relevant item are dropped, as :func:`evaluate` does.
        """
        relevant = self.relevant
        if items is not None:
            mask = _bool_mask(items, relevant.shape[1], "items")
            relevant = relevant.multiply(mask[None, :]).tocsr()
            relevant.eliminate_zeros()
        keep = np.diff(relevant.indptr) > 0
        if users is not None:
            keep &= _bool_mask(users, self.train.shape[0], "users")[self.users]
        return RankedLists(self.users[keep], self.items[keep], relevant[keep], self.train)


def _bool_mask(mask: Any, size: int, name: str) -> np.ndarray:
    values = np.asarray(mask)
    if values.dtype != bool or values.shape != (size,):
        raise ValueError(
            f"{name} must be a boolean mask of shape ({size},), one entry per "
            f"{'row' if name == 'users' else 'column'} of the matrix; got dtype {values.dtype} "
            f"and shape {values.shape}"
        )
    return values


def _check_same_shape(train: sp.csr_matrix, test: sp.csr_matrix) -> None:
    if test.shape != train.shape:
        raise ValueError(
            f"train has shape {train.shape} but test has {test.shape}; build both "
            "with the same IdIndex"
        )


def ranked_lists(
    model: Recommender,
    train: SparseMatrix,
    test: SparseMatrix,
    k: int = 20,
    fit: bool = True,
    candidates: np.ndarray | None = None,
) -> RankedLists:
    """Fit ``model`` on ``train`` (unless ``fit=False``) and recommend ``k`` items to every
    user with test items, over the whole catalog, training items excluded.

    A test item the user already had in training can never be recommended, so it is dropped
    from the relevant set first; users with no relevant item left are not evaluated.

    Args:
        candidates: optional (n_items,) bool mask: rank only these items (e.g. the products of
            one domain, or only new products) and count only test items among them as
            relevant. The model still learns from all of ``train``. Default: every item.
    """
    k = _ks(k)[-1]
    train_matrix = as_train_matrix(train)
    test_matrix = as_train_matrix(test, name="test")
    _check_same_shape(train_matrix, test_matrix)
    relevant = test_matrix - test_matrix.multiply(train_matrix > 0)
    relevant.eliminate_zeros()
    relevant = sp.csr_matrix(relevant)
    allowed = None
    if candidates is not None:
        allowed = _bool_mask(candidates, train_matrix.shape[1], "candidates")
        relevant = sp.csr_matrix(relevant.multiply(allowed[None, :]))
        relevant.eliminate_zeros()
    if fit:
        model.fit(train_matrix)
    users = np.flatnonzero(np.diff(relevant.indptr) > 0).astype(np.int64)
    if users.size == 0:
        items = np.empty((0, k), dtype=np.int64)
    elif allowed is None:
        items = model.recommend(users, k=k)
    else:
        items = np.empty((users.size, k), dtype=np.int64)
        step = max(1, 2**22 // train_matrix.shape[1])
        for start in range(0, users.size, step):
            batch = users[start : start + step]
            scores = np.asarray(model.score(batch), dtype=np.float32)
            scores[:, ~allowed] = -np.inf
            items[start : start + batch.size] = top_k_items(scores, k, exclude=train_matrix[batch])
    return RankedLists(users, np.asarray(items, dtype=np.int64), relevant[users], train_matrix)


def evaluate(
    model: Recommender,
    train: SparseMatrix,
    test: SparseMatrix,
    k: int | Sequence[int] = (10, 20),
    fit: bool = True,
) -> pd.DataFrame:
    """Fit ``model`` on ``train`` (unless ``fit=False``) and measure it on ``test``.

    Every user with at least one test item gets a top-``max(k)`` list over the whole catalog,
    items of ``train`` excluded; relevance is binary (a test item is relevant). Test items the
    user already had in training can never be recommended, so they are dropped from the
    relevant set first. :func:`ranked_lists` keeps the lists for per-user analyses.

    Returns:
        :func:`recutils.metrics.ranking_metrics` (one row per k: precision, recall, ndcg, map,
        hit_rate, mrr, coverage, novelty, users).
    """
    ks = _ks(k)
    return ranked_lists(model, train, test, k=ks[-1], fit=fit).metrics(ks)


def compare(
    models: Mapping[str, Recommender],
    train: SparseMatrix,
    test: SparseMatrix,
    k: int | Sequence[int] = (10, 20),
    metrics: Sequence[str] = ("precision", "recall", "ndcg", "map", "coverage"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit and evaluate each model on the same split.

    Returns:
        ``(quality, cost)``: ``quality`` has one row per model and columns ``"<metric>@<k>"``;
        ``cost`` has ``fit s`` and ``recommend s`` (seconds to recommend for every test user).
    """
    ks = _ks(k)
    unknown = [m for m in metrics if m not in (*METRICS, "coverage", "novelty")]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {unknown}; choose from {[*METRICS, 'coverage', 'novelty']}"
        )
    train_matrix = as_train_matrix(train)
    quality_rows, cost_rows = {}, {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(train_matrix)
        fitted = time.perf_counter()
        result = evaluate(model, train_matrix, test, k=ks, fit=False)
        done = time.perf_counter()
        quality_rows[name] = {
            f"{m}@{cut}": float(result.loc[cut, m]) for cut in ks for m in metrics
        }
        cost_rows[name] = {"fit s": fitted - start, "recommend s": done - fitted}
    quality = pd.DataFrame(quality_rows).T
    cost = pd.DataFrame(cost_rows).T
    return quality, cost


def grid_search(
    make_model: Callable[..., Recommender],
    grid: Mapping[str, Sequence[Any]],
    train: SparseMatrix,
    valid: SparseMatrix,
    metric: str = "ndcg@10",
) -> pd.DataFrame:
    """Evaluate ``make_model(**params)`` for every combination of ``grid`` on ``valid``.

    Fit on ``train`` (the training part *without* the validation part), measure on ``valid``;
    the test split is never touched. Returns one row per combination, best first, with the
    parameters, ``metric`` and the seconds it took (fit and evaluation).
    """
    name, _, cut = metric.partition("@")
    if name not in (*METRICS, "coverage", "novelty") or not cut.isdigit():
        raise ValueError(
            f"metric must look like 'ndcg@10' with a metric of {METRICS}, got {metric!r}"
        )
    if not grid:
        raise ValueError("grid must name at least one parameter, e.g. {'factors': [32, 64]}")
    keys = list(grid)
    rows = []
    for values in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, values, strict=True))
        model = make_model(**params)
        start = time.perf_counter()
        result = evaluate(model, train, valid, k=int(cut))
        rows.append(
            {
                **params,
                metric: float(result.loc[int(cut), name]),
                "seconds": time.perf_counter() - start,
            }
        )
    return (
        pd.DataFrame(rows)
        .sort_values(metric, ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def mean_percentile_rank(model: Recommender, test: SparseMatrix, train: SparseMatrix) -> float:
    """Mean percentile rank of the test items among each user's candidates (0.5 = random).

    For a test pair ``(u, i)`` the candidates are the items not in ``train[u]``; the percentile
    rank of ``i`` is the share of the *other* candidates that the model scores below ``s(u, i)``,
    ties counting half: ``(below + (equal - 1) / 2) / (candidates - 1)``. 1 means every test
    item is ranked first, 0.5 is what a random (or constant) score gives. Unlike recall@k it
    moves even when the items never reach a top-k list, which makes it the measure for new or
    rarely bought products. Pairs already in ``train`` are skipped.

    Args:
        model: a fitted model (its ``score`` is called one user at a time).
        test: (n_users, n_items) sparse matrix of test pairs (a segment of them, e.g. only the
            columns of new products, with the other columns zeroed).
        train: the model's training matrix (defines the candidates).

    Returns:
        The mean over test pairs, or NaN if there is none.
    """
    test_matrix = as_train_matrix(test, name="test") if sp.csr_matrix(test).nnz else None
    if test_matrix is None:
        return float("nan")
    train_matrix = sp.csr_matrix(train)
    if test_matrix.shape != train_matrix.shape:
        raise ValueError(
            f"train has shape {train_matrix.shape} but test has {test_matrix.shape}; build both "
            "with the same IdIndex"
        )
    values = []
    for user in np.flatnonzero(np.diff(test_matrix.indptr)):
        scores = model.score([user])[0]
        candidate = np.ones(scores.size, dtype=bool)
        candidate[train_matrix[user].indices] = False
        ranked = np.sort(scores[candidate])
        if ranked.size < 2:
            continue
        items = test_matrix[user].indices
        items = items[candidate[items]]
        below = np.searchsorted(ranked, scores[items], side="left")
        equal = np.searchsorted(ranked, scores[items], side="right") - below
        values.append((below + (equal - 1) / 2) / (ranked.size - 1))
    return float(np.concatenate(values).mean()) if values else float("nan")


def _row_items(matrix: sp.csr_matrix, row: int) -> np.ndarray:
    return matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]


def sampled_metrics(
    model: Recommender,
    train: SparseMatrix,
    test: SparseMatrix,
    n_negatives: int = 100,
    k: int = 10,
    seed: int = 0,
) -> pd.Series:
    """Hit rate and nDCG at ``k`` under the *sampled* protocol (a pitfall, for comparison).

    Many papers rank each test item not among the whole catalog but among ``n_negatives``
    random items the user never interacted with. For a test pair ``(u, i)``, with
    ``N_ui`` = ``n_negatives`` items drawn uniformly without replacement from the items in
    neither ``train[u]`` nor ``test[u]``, the rank of ``i`` (0 = first) is
    ``r = #{j in N_ui : s(u, j) > s(u, i)} + #{j in N_ui : s(u, j) = s(u, i)} / 2`` (ties count
    half: the expected rank under random tie-breaking); then ``hit = [r < k]`` and
    ``ndcg = [r < k] / log2(r + 2)`` (one relevant item per ranking, so IDCG = 1). Both are
    averaged over a user's test pairs, then over users, like the full-ranking metrics.

    Krichene and Rendle (KDD 2020) show that such metrics are inconsistent: they need not
    agree with the full ranking on which model is better. Notebook 06 measures it on the shop.

    Args:
        model: a fitted model.
        train, test: (n_users, n_items) matrices; pairs of ``test`` already in ``train`` are
            skipped (they can never be recommended).
        n_negatives: sampled items per test pair, a positive integer.
        k: cut-off within the ``n_negatives + 1`` ranked items.
        seed: seed of the negatives (the same for every model given the same data).

    Returns:
        Series with ``hit_rate@k``, ``ndcg@k`` and ``users``.
    """
    for name, value in (("n_negatives", n_negatives), ("k", k)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    train_matrix = as_train_matrix(train)
    test_matrix = as_train_matrix(test, name="test")
    _check_same_shape(train_matrix, test_matrix)
    relevant = sp.csr_matrix(test_matrix - test_matrix.multiply(train_matrix > 0))
    relevant.eliminate_zeros()
    rng = np.random.default_rng(seed)
    hits, gains = [], []
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    n_items = train_matrix.shape[1]
    for start in range(0, users.size, 256):
        batch = users[start : start + 256]
        scores = np.asarray(model.score(batch), dtype=np.float64)
        for row, user in zip(scores, batch, strict=True):
            items = _row_items(relevant, user)
            candidate = np.ones(n_items, dtype=bool)
            candidate[_row_items(train_matrix, user)] = False
            candidate[_row_items(test_matrix, user)] = False
            pool = np.flatnonzero(candidate)
            if pool.size < n_negatives:
                raise ValueError(
                    f"user row {user} has only {pool.size} items to sample negatives from; "
                    f"use n_negatives <= {pool.size}"
                )
            negatives = np.stack(
                [rng.choice(pool, size=n_negatives, replace=False) for _ in items]
            )
            negative_scores = row[negatives]
            positive = row[items][:, None]
            rank = (negative_scores > positive).sum(axis=1) + (negative_scores == positive).sum(
                axis=1
            ) / 2
            hit = rank < k
            hits.append(hit.mean())
            gains.append(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean())
    return pd.Series(
        {
            f"hit_rate@{k}": float(np.mean(hits)) if hits else float("nan"),
            f"ndcg@{k}": float(np.mean(gains)) if gains else float("nan"),
            "users": int(users.size),
        }
    )


@dataclass(frozen=True)
class Protocol:
    """One dataset cut into periods, as (n_users, n_items) matrices of weighted pairs.

    ``train`` < ``valid_start`` <= ``valid`` < ``test_start`` <= ``test``, in time. Choose
    settings with models fitted on ``train`` and measured on ``valid``; then fit the chosen
    models on ``train_and_valid`` (all events before ``test_start``) and measure once on
    ``test``. Every part was paired on its own (:func:`recutils.interactions.pair_split`), and
    all four matrices share ``index`` (rows = ``index.users``, columns = ``index.items``).
    """

    dataset: Dataset
    index: IdIndex
    train: sp.csr_matrix
    valid: sp.csr_matrix
    train_and_valid: sp.csr_matrix
    test: sp.csr_matrix
    valid_start: pd.Timestamp
    test_start: pd.Timestamp

    def sizes(self) -> pd.Series:
        """Users, items, period starts and pairs per part, for a notebook's overview table."""
        return pd.Series(
            {
                "users": self.train.shape[0],
                "items": self.train.shape[1],
                "validation from": str(self.valid_start.date()),
                "test from": str(self.test_start.date()),
                "train pairs": self.train.nnz,
                "validation pairs": self.valid.nnz,
                "train + validation pairs": self.train_and_valid.nnz,
                "test pairs": self.test.nnz,
            },
            dtype=object,
        )


def temporal_protocol(
    dataset: Dataset,
    test_days: int = 30,
    valid_days: int = 30,
    **pair_options: Any,
) -> Protocol:
    """Cut ``dataset`` into train, validation (``valid_days``) and test (``test_days``) periods.

    The test period is the last ``test_days`` calendar days of the log (from midnight of the
    day ``test_days - 1`` before the last event's day), the validation period the
    ``valid_days`` days before it. Each part's events are collapsed into weighted user-item
    pairs on their own (``pair_options`` go to :func:`recutils.interactions.user_item_pairs`,
    e.g. ``event_weights``).

    Raises:
        ValueError: ``test_days``/``valid_days`` are not positive integers, or a period would
            hold no events (the log is shorter than the periods).
    """
    for name, value in (("test_days", test_days), ("valid_days", valid_days)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive whole number of days, got {value!r}")
    interactions = dataset.interactions
    last_day = interactions[TIMESTAMP].max().normalize()
    test_start = last_day - pd.Timedelta(days=int(test_days) - 1)
    valid_start = test_start - pd.Timedelta(days=int(valid_days))
    if interactions[TIMESTAMP].min() >= valid_start:
        raise ValueError(
            f"the log starts on {interactions[TIMESTAMP].min().date()}, not before the "
            f"validation period ({valid_start.date()}): with test_days={test_days} and "
            f"valid_days={valid_days} nothing is left for training; use shorter periods"
        )
    index = IdIndex.from_dataset(dataset)
    split = pair_split(
        temporal_split(interactions, test_start=test_start, valid_start=valid_start),
        **pair_options,
    )
    before_test = pair_split(temporal_split(interactions, test_start=test_start), **pair_options)
    return Protocol(
        dataset=dataset,
        index=index,
        train=index.matrix(split.train),
        valid=index.matrix(split.valid),
        train_and_valid=index.matrix(before_test.train),
        test=index.matrix(before_test.test),
        valid_start=valid_start,
        test_start=test_start,
    )
