"""One evaluation protocol for every model: fit on train, rank the whole catalog, score the test.

* :func:`evaluate` -- one model: full-catalog top-k for every user with test items (training
  items excluded), then :func:`recutils.metrics.ranking_metrics`.
* :func:`compare` -- several models on the same split: a quality table (one row per model,
  columns such as ``ndcg@10``) and a cost table (fit and recommend seconds).
* :func:`grid_search` -- try hyper-parameters on a *validation* split (never on test).

Timings are wall-clock seconds on the current machine; they belong in tables that notebooks do
not check (they differ between machines), quality numbers in tables that they do.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recutils.metrics import METRICS, ranking_metrics
from recutils.models.base import Recommender, SparseMatrix, as_train_matrix


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
