"""Benchmark: recutils.metrics against a pandas merge/groupby implementation.

Run from the repository root::

    python bench/metrics_bench.py                  # prints the table
    python bench/metrics_bench.py --output PATH    # also writes it (Markdown) for the README

The problem is seeded: 10,000 users x 20,000 items, popularity-skewed random top-20 lists
(2% of users get a short list of 10 items, padded with -1), 5-20 test items per user (1% of
users have none and are not evaluated), 10-50 training items per user for novelty.

Two pandas baselines, both written for this benchmark:

* one function per metric, each ranking the predictions (sort, head, cumcount), merging them
  with the test frame and grouping by user, the design of Microsoft Recommenders'
  ``python_evaluation`` and of most hand-written evaluation code;
* a hand-optimised version that merges once and derives every metric and every k from that
  merge: the fastest pandas formulation we found. Each side gets its input in its own
natural form (frames / arrays and sparse matrices); building those is not timed.
Both sides must agree to 1e-12 on every metric of every user, else the script exits with 1.

BLAS is limited to one thread (threadpoolctl), as in the course notebooks.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
from report import emit
from scipy import sparse
from threadpoolctl import threadpool_limits

from recutils.metrics import METRICS, ranking_metrics, ranking_metrics_per_user
from recutils.ranking import top_k_items

N_USERS = 10_000
N_ITEMS = 20_000
TOP_K = 20
KS_FULL = [5, 10, 20]
TOLERANCE = 1e-12
SEED = 0


# --------------------------------------------------------------------------------------------
# The problem
# --------------------------------------------------------------------------------------------


def distinct_popular_items(
    rng: np.random.Generator, popularity: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Per user, ``counts[u]`` distinct items drawn by popularity, in draw order; -1 padded."""
    n_users, width = counts.size, int(counts.max())
    draws = rng.choice(popularity.size, size=(n_users, 4 * width), p=popularity)
    keys = np.arange(n_users)[:, None] * popularity.size + draws
    first = np.zeros(keys.size, dtype=bool)
    first[np.unique(keys.ravel(), return_index=True)[1]] = True  # first draw of each item
    first = first.reshape(keys.shape)
    position = np.cumsum(first, axis=1)  # 1-based position among the distinct draws
    keep = first & (position <= counts[:, None])
    if (keep.sum(axis=1) < counts).any():
        raise RuntimeError("too few distinct draws; raise the oversampling factor")
    result = np.full((n_users, width), -1, dtype=np.int64)
    rows, cols = np.nonzero(keep)
    result[rows, position[rows, cols] - 1] = draws[rows, cols]
    return result


def to_csr(items: np.ndarray, n_items: int) -> sparse.csr_array:
    rows, cols = np.nonzero(items >= 0)
    data = np.ones(rows.size)
    return sparse.csr_array((data, (rows, items[rows, cols])), shape=(items.shape[0], n_items))


def to_frame(items: np.ndarray, with_rank: bool) -> pd.DataFrame:
    rows, cols = np.nonzero(items >= 0)
    frame = pd.DataFrame({"user": rows, "item": items[rows, cols]})
    if with_rank:
        frame["rank"] = cols + 1
    return frame


def make_problem() -> dict:
    rng = np.random.default_rng(SEED)
    popularity = 1.0 / (np.arange(N_ITEMS) + 10.0) ** 0.9  # long tail
    popularity = rng.permutation(popularity / popularity.sum())

    list_length = np.where(rng.random(N_USERS) < 0.02, TOP_K // 2, TOP_K)
    recommended = distinct_popular_items(rng, popularity, list_length)
    n_test = rng.integers(5, 21, size=N_USERS)
    n_test[rng.random(N_USERS) < 0.01] = 0
    test = distinct_popular_items(rng, popularity, np.maximum(n_test, 1))
    test[n_test == 0] = -1
    train = distinct_popular_items(rng, popularity, rng.integers(10, 51, size=N_USERS))

    # Scores of a low-rank model plus a popularity bias, as a model would produce them.
    user_factors = rng.standard_normal((N_USERS, 32), dtype=np.float32)
    item_factors = rng.standard_normal((N_ITEMS, 32), dtype=np.float32) * np.float32(0.2)
    scores = user_factors @ item_factors.T
    scores += np.log(popularity).astype(np.float32)

    return {
        "recommended": recommended,
        "relevant": to_csr(test, N_ITEMS),
        "train": to_csr(train, N_ITEMS),
        "reco_frame": to_frame(recommended, with_rank=True),
        "prediction_frame": to_frame(recommended, with_rank=True).assign(
            score=lambda f: -f.pop("rank").astype(float)
        ),
        "test_frame": to_frame(test, with_rank=False),
        "train_frame": to_frame(train, with_rank=False),
        "scores": scores,
    }


# --------------------------------------------------------------------------------------------
# The pandas implementation (merge/groupby, as Microsoft Recommenders' python_evaluation)
# --------------------------------------------------------------------------------------------


def pandas_metrics(
    reco: pd.DataFrame,
    test: pd.DataFrame,
    ks: list[int],
    n_items: int,
    train: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[int, pd.DataFrame]]:
    """Mean metrics per k (like ranking_metrics) and the per-user values behind them."""
    n_relevant = test.groupby("user").size()  # the evaluated users
    hits = reco.merge(test, on=["user", "item"]).sort_values(["user", "rank"])
    hits["hits_so_far"] = hits.groupby("user").cumcount() + 1
    hits["gain"] = 1.0 / np.log2(hits["rank"] + 1.0)
    hits["precision_here"] = hits["hits_so_far"] / hits["rank"]

    ideal = test.copy()  # the best list puts the user's relevant items at ranks 1, 2, ...
    ideal["ideal_rank"] = ideal.groupby("user").cumcount() + 1
    ideal["gain"] = 1.0 / np.log2(ideal["ideal_rank"] + 1.0)

    if train is not None:
        users_per_item = train.groupby("item")["user"].nunique()
        users_per_item = users_per_item.reindex(range(n_items), fill_value=0).clip(lower=1)
        self_information = (-np.log2(users_per_item / train["user"].nunique())).rename("bits")

    rows, per_user = [], {}
    for k in ks:
        top = hits[hits["rank"] <= k]
        by_user = top.groupby("user").agg(
            n_hits=("item", "size"),
            dcg=("gain", "sum"),
            precision_sum=("precision_here", "sum"),
            first_hit=("rank", "min"),
        )
        by_user = by_user.reindex(n_relevant.index, fill_value=0)
        ideal_dcg = ideal[ideal["ideal_rank"] <= k].groupby("user")["gain"].sum()
        values = pd.DataFrame(
            {
                "precision": by_user["n_hits"] / k,
                "recall": by_user["n_hits"] / n_relevant,
                "ndcg": by_user["dcg"] / ideal_dcg,
                "map": by_user["precision_sum"] / n_relevant,
                "hit_rate": (by_user["n_hits"] > 0).astype(float),
                "mrr": np.where(by_user["first_hit"] > 0, 1.0 / by_user["first_hit"], 0.0),
            }
        )
        per_user[k] = values
        row = values.mean().to_dict()
        shown = reco[reco["rank"] <= k]
        row["coverage"] = shown["item"].nunique() / n_items
        if train is not None:
            row["novelty"] = shown.merge(self_information, left_on="item", right_index=True)[
                "bits"
            ].mean()
        row["users"] = len(n_relevant)
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index(ks, name="k")), per_user


def per_metric_top_k(predictions: pd.DataFrame, k: int) -> pd.DataFrame:
    """Top k rows of each user by score, with a 1-based rank (sort, head, cumcount)."""
    top = (
        predictions.sort_values(["user", "score"], ascending=[True, False])
        .groupby("user")
        .head(k)
        .reset_index(drop=True)
    )
    top["rank"] = top.groupby("user", sort=False).cumcount() + 1
    return top


def per_metric_hits(
    predictions: pd.DataFrame, test: pd.DataFrame, k: int
) -> tuple[pd.DataFrame, pd.Series]:
    """What every metric function starts with: the top-k hits and |R_u| of evaluated users."""
    common = np.intersect1d(predictions["user"].unique(), test["user"].unique())
    test = test[test["user"].isin(common)]
    top = per_metric_top_k(predictions[predictions["user"].isin(common)], k)
    hits = top.merge(test, on=["user", "item"])[["user", "item", "rank"]]
    return hits, test.groupby("user").size()


def per_metric_precision(predictions: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.Series:
    hits, n_relevant = per_metric_hits(predictions, test, k)
    return (hits.groupby("user").size().reindex(n_relevant.index, fill_value=0) / k).rename(
        "precision"
    )


def per_metric_recall(predictions: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.Series:
    hits, n_relevant = per_metric_hits(predictions, test, k)
    return (
        hits.groupby("user").size().reindex(n_relevant.index, fill_value=0) / n_relevant
    ).rename("recall")


def per_metric_ndcg(predictions: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.Series:
    hits, n_relevant = per_metric_hits(predictions, test, k)
    dcg = (1.0 / np.log2(hits["rank"] + 1.0)).groupby(hits["user"]).sum()
    idcg = n_relevant.apply(
        lambda n: float(np.sum(1.0 / np.log2(np.arange(1, min(n, k) + 1) + 1.0)))
    )
    return (dcg.reindex(n_relevant.index, fill_value=0.0) / idcg).rename("ndcg")


def per_metric_map(predictions: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.Series:
    hits, n_relevant = per_metric_hits(predictions, test, k)
    hits = hits.sort_values(["user", "rank"])
    precision_here = (hits.groupby("user").cumcount() + 1) / hits["rank"]
    total = precision_here.groupby(hits["user"]).sum()
    return (total.reindex(n_relevant.index, fill_value=0.0) / n_relevant).rename("map")


def per_metric_hit_rate(predictions: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.Series:
    hits, n_relevant = per_metric_hits(predictions, test, k)
    users_with_hit = pd.Index(hits["user"].unique())
    return pd.Series(
        n_relevant.index.isin(users_with_hit).astype(float), index=n_relevant.index, name="hit_rate"
    )


def per_metric_mrr(predictions: pd.DataFrame, test: pd.DataFrame, k: int) -> pd.Series:
    hits, n_relevant = per_metric_hits(predictions, test, k)
    first = hits.groupby("user")["rank"].min()
    return (1.0 / first).reindex(n_relevant.index, fill_value=0.0).rename("mrr")


def pandas_metrics_per_call(
    predictions: pd.DataFrame, test: pd.DataFrame, k: int
) -> tuple[pd.DataFrame, dict[int, pd.DataFrame]]:
    """Six independent metric functions, each ranking, merging and grouping on its own.

    This is how the metrics are usually written and used (one call per metric, as in
    Microsoft Recommenders' ``python_evaluation``): clear and self-contained, each function
    repeats the top-k selection and the merge.
    """
    functions = (
        per_metric_precision,
        per_metric_recall,
        per_metric_ndcg,
        per_metric_map,
        per_metric_hit_rate,
        per_metric_mrr,
    )
    values = pd.concat([function(predictions, test, k) for function in functions], axis=1)
    summary = values.mean().to_frame().T.set_axis(pd.Index([k], name="k"))
    summary["users"] = len(values)
    return summary, {k: values}


def naive_top_k(scores: np.ndarray, k: int, exclude: sparse.csr_array, kind: str) -> np.ndarray:
    """Full np.argsort of every row (same batches and exclusion as top_k_items)."""
    result = np.empty((scores.shape[0], k), dtype=np.int64)
    batch = 2**22 // scores.shape[1]
    for start in range(0, scores.shape[0], batch):
        stop = min(start + batch, scores.shape[0])
        cost = -scores[start:stop]
        rows = np.repeat(np.arange(stop - start), np.diff(exclude.indptr[start : stop + 1]))
        cost[rows, exclude.indices[exclude.indptr[start] : exclude.indptr[stop]]] = np.inf
        result[start:stop] = np.argsort(cost, axis=1, kind=kind)[:, :k]
    return result


# --------------------------------------------------------------------------------------------
# Timing and comparison
# --------------------------------------------------------------------------------------------


def best_time(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def max_differences(problem: dict, ks: list[int], pandas_result: tuple) -> dict[str, float]:
    """Largest |pandas - recutils| per metric over users and ks (summary columns too)."""
    summary_pd, per_user_pd = pandas_result
    per_user = ranking_metrics_per_user(problem["recommended"], problem["relevant"], k=ks)
    summary = ranking_metrics(
        problem["recommended"],
        problem["relevant"],
        k=ks,
        train=problem["train"] if "novelty" in summary_pd else None,
    )
    differences = {}
    for name in METRICS:
        differences[name] = max(
            float(np.max(np.abs(per_user_pd[k][name].to_numpy() - per_user[f"{name}@{k}"])))
            for k in ks
        )
        if not per_user_pd[ks[0]].index.equals(per_user.index):
            differences[name] = float("inf")
    for name in summary_pd.columns:
        gap = float(np.max(np.abs(summary_pd[name].to_numpy() - summary[name].to_numpy())))
        differences[name] = max(differences.get(name, 0.0), gap)
    return differences


def machine_facts() -> str:
    return (
        f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, pandas {pd.__version__}; "
        "BLAS limited to 1 thread (threadpoolctl)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    parser.add_argument("--repeats", type=int, default=10, help="metric rows: best of N runs")
    parser.add_argument("--top-k-repeats", type=int, default=3, help="top-k rows: best of N")
    parser.add_argument("--skip-top-k", action="store_true", help="skip the top-k row")
    args = parser.parse_args(argv)

    with threadpool_limits(limits=1):
        problem = make_problem()
        reco, test = problem["reco_frame"], problem["test_frame"]
        recommended, relevant, train = problem["recommended"], problem["relevant"], problem["train"]
        predictions = problem["prediction_frame"]
        cases = [
            (
                f"6 accuracy metrics @ k={TOP_K}",
                "pandas, one function per metric (as Microsoft Recommenders)",
                [TOP_K],
                lambda: pandas_metrics_per_call(predictions, test, TOP_K),
                lambda: ranking_metrics(recommended, relevant, k=TOP_K),
            ),
            (
                f"6 accuracy metrics @ k={TOP_K}",
                "pandas, one shared merge (hand-optimised)",
                [TOP_K],
                lambda: pandas_metrics(reco, test, [TOP_K], N_ITEMS),
                lambda: ranking_metrics(recommended, relevant, k=TOP_K),
            ),
            (
                f"full set @ k={','.join(map(str, KS_FULL))} (6 accuracy + coverage + novelty)",
                "pandas, one shared merge (hand-optimised)",
                KS_FULL,
                lambda: pandas_metrics(reco, test, KS_FULL, N_ITEMS, problem["train_frame"]),
                lambda: ranking_metrics(recommended, relevant, k=KS_FULL, train=train),
            ),
        ]
        rows, failed = [], False
        for label, baseline, ks, run_pandas, run_recutils in cases:
            pandas_seconds, pandas_result = best_time(run_pandas, args.repeats)
            recutils_seconds, _ = best_time(run_recutils, args.repeats)
            differences = max_differences(problem, ks, pandas_result)
            worst = max(differences.values())
            failed |= not worst <= TOLERANCE
            print(f"{label}, {baseline}: max |pandas - recutils| per metric (users x k):")
            print("  " + ", ".join(f"{name} {gap:.1e}" for name, gap in differences.items()))
            rows.append((label, baseline, pandas_seconds, recutils_seconds))

        if not args.skip_top_k:
            scores = problem["scores"]
            fast_seconds, fast = best_time(
                lambda: top_k_items(scores, TOP_K, exclude=train), args.top_k_repeats
            )
            for kind, baseline in (
                ("quicksort", "np.argsort, default kind (ties in any order)"),
                ("stable", "np.argsort, kind='stable' (same tie rule)"),
            ):
                naive_seconds, naive = best_time(
                    lambda kind=kind: naive_top_k(scores, TOP_K, train, kind), args.top_k_repeats
                )
                rows_differ = int((naive != fast).any(axis=1).sum())
                # Lists may differ only by the order of equal scores (never for kind='stable').
                same_scores = np.array_equal(
                    np.take_along_axis(scores, naive, axis=1),
                    np.take_along_axis(scores, fast, axis=1),
                )
                failed |= not same_scores or (kind == "stable" and rows_differ > 0)
                print(
                    f"top-k vs {baseline}: rows with a different list: {rows_differ}, "
                    f"same scores in every slot: {same_scores}"
                )
                rows.append(
                    (
                        f"top-{TOP_K} of 10k x 20k float32 scores, training items excluded",
                        baseline,
                        naive_seconds,
                        fast_seconds,
                    )
                )

    lines = [
        "| task | baseline | baseline s | recutils s | speed-up |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for label, baseline, slow, fast in rows:
        lines.append(f"| {label} | {baseline} | {slow:.3f} | {fast:.4f} | {slow / fast:.0f}x |")
    table = "\n".join(lines)
    agreement = f"all metric values agree to <= {TOLERANCE:g}"
    if not args.skip_top_k:
        agreement += "; top-k lists equal the stable argsort's"
    if failed:
        agreement = "RESULTS DISAGREE (see the output above)"
    facts = (
        f"{N_USERS:,} users x {N_ITEMS:,} items, best of {args.repeats} runs "
        f"({args.top_k_repeats} for top-k); {agreement}. "
        f"{machine_facts()}."
    )
    print()
    emit(table, facts, output=args.output)
    if failed:
        print("FAILED: recutils and a baseline disagree (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
