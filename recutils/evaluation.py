"""One evaluation protocol for every model: fit on train, rank the whole catalog, score the test.

* :func:`evaluate` -- one model: full-catalog top-k for every user with test items (training
  items excluded), then :func:`recutils.metrics.ranking_metrics`.
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
from recutils.metrics import METRICS, ranking_metrics
from recutils.models.base import Recommender, SparseMatrix, as_train_matrix
from recutils.schema import TIMESTAMP, Dataset
from recutils.splitting import temporal_split


def _ks(k: int | Sequence[int]) -> list[int]:
    values = [k] if isinstance(k, (int, np.integer)) else list(k)
    if not values or any(not isinstance(v, (int, np.integer)) or v <= 0 for v in values):
        raise ValueError(f"k must be a positive integer or a list of them, got {k!r}")
    return sorted({int(v) for v in values})


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
    relevant set first.

    Returns:
        :func:`recutils.metrics.ranking_metrics` (one row per k: precision, recall, ndcg, map,
        hit_rate, mrr, coverage, novelty, users).
    """
    ks = _ks(k)
    train_matrix = as_train_matrix(train)
    test_matrix = as_train_matrix(test, name="test")
    if test_matrix.shape != train_matrix.shape:
        raise ValueError(
            f"train has shape {train_matrix.shape} but test has {test_matrix.shape}; build both "
            "with the same IdIndex"
        )
    relevant = test_matrix - test_matrix.multiply(train_matrix > 0)
    relevant.eliminate_zeros()
    if fit:
        model.fit(train_matrix)
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    recommended = np.full((train_matrix.shape[0], ks[-1]), -1, dtype=np.int64)
    recommended[users] = model.recommend(users, k=ks[-1])
    return ranking_metrics(recommended[users], relevant[users], k=ks, train=train_matrix)


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
