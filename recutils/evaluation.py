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

from recutils import checks
from recutils.metrics import METRICS, ranking_metrics, ranking_metrics_per_user
from recutils.models.base import Recommender, SparseMatrix, as_train_matrix, fit_model


def _ks(k: int | Sequence[int]) -> list[int]:
    values = [k] if checks.is_integer(k) else list(k)
    if not values or any(not checks.is_integer(v) or v <= 0 for v in values):
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
    *,
    valid: SparseMatrix | None = None,
    **side_data: Any,
) -> RankedLists:
    """Fit ``model`` on ``train`` (unless ``fit=False``) and recommend ``k`` items to every
    user with test items, over the whole catalog, training items excluded.

    A test item the user already had in training can never be recommended, so it is dropped
    from the relevant set first; users with no relevant item left are not evaluated.

    Args:
        candidates: optional (n_items,) bool mask: rank only these items (e.g. the products of
            one domain, or only new products) and count only test items among them as
            relevant. The model still learns from all of ``train``. Default: every item.
        valid, **side_data: passed to the model's ``fit`` as far as it uses them
            (:func:`recutils.models.fit_model`), e.g. ``item_vectors=...``.
    """
    k = _ks(k)[-1]
    train_matrix = as_train_matrix(train)
    test_matrix = as_train_matrix(test, name="test")
    _check_same_shape(train_matrix, test_matrix)
    relevant = test_matrix - test_matrix.multiply(train_matrix > 0)
    relevant.eliminate_zeros()
    relevant = sp.csr_matrix(relevant)
    if candidates is not None:
        allowed = _bool_mask(candidates, train_matrix.shape[1], "candidates")
        relevant = sp.csr_matrix(relevant.multiply(allowed[None, :]))
        relevant.eliminate_zeros()
    if fit:
        fit_model(model, train_matrix, valid=valid, side_data=side_data)
    users = np.flatnonzero(np.diff(relevant.indptr) > 0).astype(np.int64)
    if users.size == 0:
        items = np.empty((0, k), dtype=np.int64)
    else:
        items = model.recommend(users, k=k, items=candidates).items
    return RankedLists(users, np.asarray(items, dtype=np.int64), relevant[users], train_matrix)


def evaluate(
    model: Recommender,
    train: SparseMatrix,
    test: SparseMatrix,
    k: int | Sequence[int] = (10, 20),
    fit: bool = True,
    *,
    valid: SparseMatrix | None = None,
    **side_data: Any,
) -> pd.DataFrame:
    """Fit ``model`` on ``train`` (unless ``fit=False``) and measure it on ``test``.

    Every user with at least one test item gets a top-``max(k)`` list over the whole catalog,
    items of ``train`` excluded; relevance is binary (a test item is relevant). Test items the
    user already had in training can never be recommended, so they are dropped from the
    relevant set first. :func:`ranked_lists` keeps the lists for per-user analyses.

    Args:
        valid, **side_data: passed to the model's ``fit`` as far as it uses them.

    Returns:
        :func:`recutils.metrics.ranking_metrics` (one row per k: precision, recall, ndcg, map,
        hit_rate, mrr, coverage, novelty, users).

    Example::

        evaluate(ContentBased(), protocol.train, protocol.valid, k=10, item_vectors=vectors)
    """
    ks = _ks(k)
    lists = ranked_lists(model, train, test, k=ks[-1], fit=fit, valid=valid, **side_data)
    return lists.metrics(ks)


def compare(
    models: Mapping[str, Recommender],
    train: SparseMatrix,
    test: SparseMatrix,
    k: int | Sequence[int] = (10, 20),
    metrics: Sequence[str] = ("precision", "recall", "ndcg", "map", "coverage"),
    *,
    valid: SparseMatrix | None = None,
    model_side_data: Mapping[str, Mapping[str, Any]] | None = None,
    **side_data: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit and evaluate each model on the same split.

    Each model gets ``valid`` and the side data it uses (:func:`recutils.models.fit_model`):
    one pool (``item_vectors=...``, ``sequences=...``) serves every model of the table.
    ``model_side_data`` gives some models their own, by name (it wins over the pool), e.g.
    ``{"content: TF-IDF": {"item_vectors": tfidf}}`` beside ``item_vectors=embeddings``.

    Returns:
        ``(quality, cost)``: ``quality`` has one row per model and columns ``"<metric>@<k>"``;
        ``cost`` has ``fit s`` (the fit's seconds, :attr:`Recommender.fit_seconds_`: a model
        loaded from the course's model cache reports the fit that made it) and ``recommend s``
        (seconds to recommend for every test user).
    """
    ks = _ks(k)
    unknown = [m for m in metrics if m not in (*METRICS, "coverage", "novelty")]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {unknown}; choose from {[*METRICS, 'coverage', 'novelty']}"
        )
    own = dict(model_side_data or {})
    unknown_names = sorted(set(own) - set(models))
    if unknown_names:
        raise ValueError(
            f"model_side_data names {unknown_names}, which are not in models {list(models)}"
        )
    train_matrix = as_train_matrix(train)
    quality_rows, cost_rows = {}, {}
    for name, model in models.items():
        pool = {**side_data, **own.get(name, {})}
        fit_model(model, train_matrix, valid=valid, side_data=pool)
        fitted = time.perf_counter()
        result = evaluate(model, train_matrix, test, k=ks, fit=False)
        done = time.perf_counter()
        quality_rows[name] = {
            f"{m}@{cut}": float(result.loc[cut, m]) for cut in ks for m in metrics
        }
        # the fit's own time: a model loaded from the course's cache reports the fit that made it
        cost_rows[name] = {"fit s": model.fit_seconds_, "recommend s": done - fitted}
    quality = pd.DataFrame(quality_rows).T
    cost = pd.DataFrame(cost_rows).T
    return quality, cost


def grid_search(
    model: Recommender | Callable[..., Recommender],
    grid: Mapping[str, Sequence[Any]],
    train: SparseMatrix,
    valid: SparseMatrix,
    metric: str = "ndcg@10",
    **side_data: Any,
) -> pd.DataFrame:
    """Evaluate every combination of ``grid`` on ``valid``, each with a fresh model.

    Fit on ``train`` (the training part *without* the validation part), measure on ``valid``;
    the test split is never touched.

    Args:
        model: a model whose settings are the starting point (``ALS(seed=1)``): each
            combination is ``model.with_params(**combination)``, unfitted; or a function
            ``make(**combination) -> model``.
        grid: setting name -> values to try.
        metric: e.g. ``"ndcg@10"``.
        **side_data: passed to every ``fit`` as far as the model uses it.

    Returns:
        One row per combination, best first (ties in the grid's order), with the settings,
        ``metric`` and the seconds it took (fit and evaluation).

    Example::

        grid_search(ALS(seed=42), {"factors": [32, 64]}, protocol.train, protocol.valid)
    """
    name, _, cut = metric.partition("@")
    if name not in (*METRICS, "coverage", "novelty") or not cut.isdigit():
        raise ValueError(
            f"metric must look like 'ndcg@10' with a metric of {METRICS}, got {metric!r}"
        )
    if not grid:
        raise ValueError("grid must name at least one parameter, e.g. {'factors': [32, 64]}")
    make = model.with_params if isinstance(model, Recommender) else model
    if not callable(make):
        raise TypeError(f"model must be a Recommender or a function, got {type(model).__name__}")
    keys = list(grid)
    rows = []
    for values in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, values, strict=True))
        candidate = make(**params)
        start = time.perf_counter()
        result = evaluate(candidate, train, valid, k=int(cut), **side_data)
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
    n_negatives = checks.positive_int(n_negatives, "n_negatives", "sampled items per test pair")
    k = checks.positive_int(k, "k", "cut-off within the ranked items")
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
            negatives = np.stack([rng.choice(pool, size=n_negatives, replace=False) for _ in items])
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
