"""Benchmark: how ``EASE(l2="auto")`` chooses lambda, against the previous search, in one run.

Run from the repository root::

    python bench/ease_bench.py                          # shop and Online Retail, 5 seeds
    python bench/ease_bench.py --datasets shop --seeds 2
    python bench/ease_bench.py --output PATH            # also writes the Markdown tables

Splits, for each dataset: the notebooks' temporal protocol (fit on train + validation, test =
the last 30 days: ``temporal_protocol(dataset, 30, 30)``) and ``--seeds`` per-user random
75/25 splits of the user-item pairs (``holdout_split(pairs, 0.25, seed)``, seeds 100, 101,
...). Every way of choosing lambda below is fitted on the training part, then measured by test
nDCG@10 (:func:`recutils.evaluation.evaluate`: every user with test items, the whole catalog,
training items excluded). Binary interactions, as ``EASE()``'s default.

Ways of choosing lambda:

* ``previous`` (the reference): the search ``EASE(l2="auto")`` did before, re-implemented
  here: one random 20% hold-out of the training matrix in its given column order, lambda =
  factor x mean(diag(X^T X)) of the rest for the factors 0.3, 1, 3, 10, 30, 100, float64
  inverses, the best held-out nDCG@10 wins (ties: the smaller lambda), and that lambda is used
  on all of train;
* ``auto``: ``EASE(l2="auto")`` as it is now (see its docstring);
* ``fixed F``: lambda = F x mean(diag(X^T X)) of train, no search (``--fixed``).

For the two searches the table also gives the factor chosen (lambda / mean(diag(X^T X)) of
train) and on how many splits the choice changed when the catalog's columns were permuted (the
same pairs, a random column order; the model is fitted again).

The second table times one hold-out's sweep over ``AUTO_L2_FACTORS`` on the first dataset (all
its pairs, binary; the held-out users' top 10 and nDCG@10 for every lambda), four ways: a
Cholesky inverse per lambda in float64 (the previous search) or float32 (``EASE`` now), or one
eigendecomposition ``G = V diag(s) V^T`` (float64 or float32) and then, per lambda, the scores
``H - (H V) diag(1 / (s + lambda)) V^T / diag(P)`` as one dense product. It also gives the
largest difference of any lambda's held-out nDCG@10 from the float64 Cholesky way.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
import scipy.sparse as sp
from report import emit

import recutils
from recutils.datasets import load_available
from recutils.evaluation import evaluate
from recutils.interactions import IdIndex, user_item_pairs
from recutils.metrics import ranking_metrics
from recutils.models import EASE
from recutils.models.ease import AUTO_L2_FACTORS, ease_weights
from recutils.ranking import top_k_items
from recutils.splitting import holdout_split, temporal_protocol

#: The previous search: its relative grid, hold-out share, seed, cut-off and user sample.
PREVIOUS_FACTORS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
PREVIOUS_FRACTION, PREVIOUS_SEED, K, MAX_USERS = 0.2, 0, 10, 5000
#: Seeds of the random 75/25 splits are SPLIT_SEED_BASE, SPLIT_SEED_BASE + 1, ...
SPLIT_SEED_BASE = 100
#: Seed of the column permutation.
PERMUTATION_SEED = 7


def binary(matrix: sp.spmatrix, dtype: type = np.float64) -> sp.csr_matrix:
    """``matrix`` with every stored nonzero set to 1, as CSR with sorted indices."""
    result = sp.csr_matrix(matrix, dtype=dtype, copy=True)
    result.sum_duplicates()
    result.eliminate_zeros()
    result.data[:] = 1
    result.sort_indices()
    return result


def mean_popularity(train: sp.spmatrix) -> float:
    """mean(diag(X^T X)) of the binary ``train``: its interactions per item."""
    return binary(train).nnz / train.shape[1]


def holdout_users(held: sp.csr_matrix, seed: int) -> np.ndarray:
    """The users with held-out items, at most ``MAX_USERS`` of them (a fixed random sample)."""
    users = np.flatnonzero(np.diff(held.indptr) > 0)
    if users.size > MAX_USERS:
        users = np.sort(np.random.default_rng(seed).choice(users, MAX_USERS, replace=False))
    return users


def ndcg(scores: np.ndarray, history: sp.csr_matrix, relevant: sp.csr_matrix) -> float:
    recommended = top_k_items(scores, K, exclude=history)
    return float(ranking_metrics(recommended, relevant, k=K).loc[K, "ndcg"])


def previous_l2(train: sp.spmatrix) -> float:
    """The lambda the previous ``EASE(l2="auto")`` chose (see the module docstring)."""
    matrix = binary(train)
    kept, held = holdout_split(matrix, PREVIOUS_FRACTION, PREVIOUS_SEED)
    users = holdout_users(held, PREVIOUS_SEED)
    gram = (kept.T @ kept).toarray()
    scale = float(np.mean(np.diag(gram)))
    history, relevant = kept[users], held[users]
    results = {
        factor * scale: ndcg(history @ ease_weights(gram, factor * scale), history, relevant)
        for factor in PREVIOUS_FACTORS
    }
    return max(results, key=lambda l2: (results[l2], -l2))


def fit_previous(train: sp.spmatrix) -> EASE:
    return EASE(l2=previous_l2(train)).fit(train)


def fit_fixed(factor: float) -> Callable[[sp.spmatrix], EASE]:
    return lambda train: EASE(l2=factor * mean_popularity(train)).fit(train)


def splits(dataset: object, seeds: int) -> dict[str, tuple[sp.csr_matrix, sp.csr_matrix]]:
    protocol = temporal_protocol(dataset, 30, 30)
    result = {"temporal": (protocol.train_and_valid, protocol.test)}
    pairs = protocol.index.matrix(user_item_pairs(dataset.interactions))
    for seed in range(SPLIT_SEED_BASE, SPLIT_SEED_BASE + seeds):
        result[f"random {seed}"] = holdout_split(sp.csr_matrix(pairs), 0.25, seed)
    return result


def compare_choices(dataset: object, seeds: int, fixed: list[float]) -> list[str]:
    """Markdown rows: for every way, test nDCG@10 of the splits, factors, flips, seconds."""
    ways: dict[str, Callable[[sp.spmatrix], EASE]] = {
        "previous (reference)": fit_previous,
        "auto": lambda train: EASE().fit(train),
    }
    ways.update({f"fixed {factor:g}": fit_fixed(factor) for factor in fixed})
    records: dict[str, dict[str, list]] = {
        way: {"random": [], "temporal": [], "factor": [], "flips": [], "seconds": []}
        for way in ways
    }
    for name, (train, test) in splits(dataset, seeds).items():
        permutation = np.random.default_rng(PERMUTATION_SEED).permutation(train.shape[1])
        scale = mean_popularity(train)
        for way, fit in ways.items():
            start = time.perf_counter()
            model = fit(train)
            seconds = time.perf_counter() - start
            quality = float(evaluate(model, train, test, k=K, fit=False).loc[K, "ndcg"])
            record = records[way]
            record["temporal" if name == "temporal" else "random"].append(quality)
            record["factor"].append(model.l2_ / scale)
            record["seconds"].append(seconds)
            if not way.startswith("fixed"):
                permuted = fit(sp.csr_matrix(train)[:, permutation])
                record["flips"].append(not np.isclose(permuted.l2_, model.l2_, rtol=1e-9))
    rows = []
    reference = np.mean(records["previous (reference)"]["random"])
    for way, record in records.items():
        random_mean = np.mean(record["random"])
        flips = f"{sum(record['flips'])} of {len(record['flips'])}" if record["flips"] else "-"
        factors = ", ".join(f"{factor:.3g}" for factor in record["factor"])
        rows.append(
            f"| {dataset.name} | {way} | {random_mean:.4f} ± {np.std(record['random']):.4f} | "
            f"{random_mean / reference - 1:+.1%} | {record['temporal'][0]:.4f} | {factors} | "
            f"{flips} | {statistics.median(record['seconds']):.1f} |"
        )
    return rows


def sweep_seconds(train: sp.spmatrix) -> list[str]:
    """Markdown rows: one hold-out's sweep over AUTO_L2_FACTORS, four ways (module docstring)."""
    matrix = binary(train)
    kept, held = holdout_split(matrix, PREVIOUS_FRACTION, PREVIOUS_SEED)
    users = holdout_users(held, PREVIOUS_SEED)
    history, relevant = kept[users], held[users]

    def cholesky(dtype: type) -> list[float]:
        typed = sp.csr_matrix(kept, dtype=dtype)
        gram = (typed.T @ typed).toarray()
        scale = float(np.mean(np.diag(gram)))
        rows = sp.csr_matrix(history, dtype=dtype)
        return [
            ndcg(rows @ ease_weights(gram, factor * scale, dtype=dtype), history, relevant)
            for factor in AUTO_L2_FACTORS
        ]

    def eigen(dtype: type) -> list[float]:
        gram = (kept.T @ kept).toarray().astype(dtype)
        scale = float(np.mean(np.diag(gram)))
        values, vectors = scipy.linalg.eigh(gram, driver="evd")
        projected = np.asarray(history @ vectors, dtype=dtype)  # H V, once
        dense_history = history.toarray().astype(dtype)
        squares = vectors * vectors
        result = []
        for factor in AUTO_L2_FACTORS:
            inverse_values = (1.0 / (values + factor * scale)).astype(dtype)
            diagonal = squares @ inverse_values  # diag(P)
            scores = dense_history - ((projected * inverse_values) @ vectors.T) / diagonal
            result.append(ndcg(scores, history, relevant))
        return result

    ways = {
        "Cholesky per lambda, float64 (previous)": lambda: cholesky(np.float64),
        "Cholesky per lambda, float32 (EASE now)": lambda: cholesky(np.float32),
        "one eigendecomposition, float64": lambda: eigen(np.float64),
        "one eigendecomposition, float32": lambda: eigen(np.float32),
    }
    timed = {}
    for way, run in ways.items():
        start = time.perf_counter()
        quality = run()
        timed[way] = (time.perf_counter() - start, quality)
    reference_seconds, reference_quality = next(iter(timed.values()))
    rows = []
    for way, (seconds, quality) in timed.items():
        difference = np.max(np.abs(np.array(quality) - np.array(reference_quality)))
        rows.append(
            f"| {way} | {seconds:.1f} | {reference_seconds / seconds:.1f}x | {difference:.1e} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="shop,online-retail", help="comma-separated names")
    parser.add_argument("--seeds", type=int, default=5, help="random 75/25 splits per dataset")
    parser.add_argument(
        "--fixed", default="4", help="comma-separated factors F of lambda = F x mean popularity"
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown tables here")
    args = parser.parse_args(argv)

    recutils.setup(model_cache=False, seed=0)
    datasets = load_available({name: {} for name in args.datasets.split(",")})
    fixed = [float(factor) for factor in args.fixed.split(",")]
    choice_rows = [
        "| dataset | lambda | test nDCG@10, random splits | vs reference | temporal split | "
        "factor chosen (temporal, random...) | changed when columns permuted | fit s |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for dataset in datasets.values():
        choice_rows += compare_choices(dataset, args.seeds, fixed)
    first = next(iter(datasets.values()))
    first_pairs = IdIndex.from_dataset(first).matrix(user_item_pairs(first.interactions))
    sweep_rows = [
        f"| one hold-out's sweep over {len(AUTO_L2_FACTORS)} lambdas ({first.name}) | seconds | "
        "speed-up vs reference | largest nDCG@10 difference |",
        "| --- | ---: | ---: | ---: |",
        *sweep_seconds(first_pairs),
    ]
    facts = (
        f"Random splits: {args.seeds} seeds ({SPLIT_SEED_BASE}, ...), mean ± standard "
        "deviation; temporal: the notebooks' protocol (last 30 days). Factor = lambda / "
        "mean(diag(X^T X)) of the training part. 'fit s': median seconds of one fit, search "
        f"included. {os.cpu_count()} CPUs ({platform.machine()}), BLAS 1 thread "
        f"(recutils.setup); numpy {np.__version__}, scipy {scipy.__version__}."
    )
    text = "\n".join(choice_rows) + "\n\n" + "\n".join(sweep_rows) + "\n\n" + facts
    emit(text, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
