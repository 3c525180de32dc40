"""Reference check: recutils' models with DEFAULT parameters on MovieLens 100K, next to the
published Microsoft Recommenders numbers for the same data and metrics.

Run from the repository root::

    python bench/reference_check.py                        # data from the usual data directory
    python bench/reference_check.py --data-dir PATH        # <PATH>/movielens-100k/u.data
    python bench/reference_check.py --output PATH          # also writes the Markdown result
    python bench/reference_check.py --split item           # the benchmark notebook's split
    python bench/reference_check.py --split user,item      # both, one table each

MovieLens 100K may not be redistributed, so it is not in the repository: get it with
``recutils.datasets.load("movielens-100k", download=True)`` or put ``u.data`` (or
``ml-100k.zip``) into ``<data directory>/movielens-100k/`` (see ``data/README.md``). Without
it the script says how to get it and exits with status 0, without a table.

Protocol (Microsoft Recommenders' top-k benchmark on MovieLens 100K)

* every rating is a relevant interaction, whatever its stars (binary relevance);
* per-user random 75/25 split of the (user, item) pairs: ``random_split(pairs,
  test_fraction=0.25, seed=s)``; ``--split item`` stratifies per item instead, as the
  benchmark notebook's ``python_stratified_split(..., filter_by="item")`` does;
* every model is fitted on train with its default parameters (``Model()``), then ranks the
  whole catalog for every test user, training items excluded; top 10;
* precision@10, recall@10, nDCG@10 and MAP@10 of :func:`recutils.evaluation.evaluate`. MAP is
  ``(1/|R_u|) * sum_{j<=10} P@j * rel_j``, which is Microsoft Recommenders' ``map`` (its
  newer ``map_at_k`` divides by ``min(10, |R_u|)`` instead);
* several split seeds; the table shows mean +- standard deviation over the seeds.

Published numbers: the "Algorithm Comparison" table of the Microsoft Recommenders README
(:data:`PUBLISHED_SOURCE`), Movielens 100k, k=10. Its BPR is cornac's BPR, its LightGCN the
paper's model (in TensorFlow, 3 layers, 64 factors, 50 epochs) and its SAR an item-similarity
model (Jaccard, time decay), the closest relative of our ItemKNN; its ALS is
Spark's explicit-rating ALS, which ranks poorly and is not comparable with our implicit ALS.
The README calls its split "stratified"; the versions of the benchmark notebook
(``examples/06_benchmarks/movielens.ipynb``) read for this script stratify per item, hence
``--split item``. The published numbers are single runs with the benchmark's own
hyper-parameters, so differences of about 0.01 are within split-to-split noise (compare the
standard deviations in our table).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
from report import emit

import recutils
from recutils.datasets import load
from recutils.evaluation import evaluate
from recutils.interactions import IdIndex, user_item_pairs
from recutils.models import (
    ALS,
    BPR,
    EASE,
    ItemKNN,
    LightGCN,
    MostPopular,
    Recommender,
    UserKNN,
)
from recutils.schema import ITEM, USER
from recutils.splitting import random_split

K = 10
TEST_FRACTION = 0.25
METRICS: tuple[tuple[str, str], ...] = (
    ("precision", "precision@10"),
    ("recall", "recall@10"),
    ("ndcg", "nDCG@10"),
    ("map", "MAP@10"),
)
#: Every recutils model that works from interactions alone, with its default parameters.
MODELS: dict[str, Callable[[], Recommender]] = {
    "MostPopular": MostPopular,
    "UserKNN": UserKNN,
    "ItemKNN": ItemKNN,
    "EASE": EASE,
    "ALS": ALS,
    "BPR": BPR,
    "LightGCN": LightGCN,
    "LightGCN (3 layers)": lambda: LightGCN(layers=3),
}

PUBLISHED_SOURCE = (
    "Microsoft Recommenders, README.md, table 'Algorithm Comparison' (Movielens 100k, k=10, "
    "75/25 stratified split): github.com/recommenders-team/recommenders, commit "
    "005dcd06bd32ab996c7e4c9892ebbfcab80adb1a (the same figures as in microsoft/recommenders "
    "README.md at commit 79dc341910a975fdb6191a1d598212c69c277fcb)"
)
#: Published (precision@10, recall@10, nDCG@10, MAP) per algorithm of that table (ranking
#: metrics only; ALS there is Spark's explicit-rating ALS).
PUBLISHED: dict[str, tuple[float, float, float, float]] = {
    "BiVAE (cornac)": (0.411771, 0.219145, 0.475077, 0.146126),
    "BPR (cornac)": (0.388229, 0.212522, 0.441997, 0.132478),
    "LightGCN": (0.379626, 0.144336, 0.419846, 0.088526),
    "NCF": (0.347296, 0.180775, 0.396118, 0.107720),
    "SAR": (0.330753, 0.176385, 0.382461, 0.110591),
    "FastAI": (0.130329, 0.053824, 0.147866, 0.025503),
    "SVD (surprise)": (0.091198, 0.032783, 0.095930, 0.012873),
    "ALS (Spark, explicit ratings)": (0.048462, 0.017796, 0.044239, 0.004732),
}
SPLIT_TITLES: dict[str, str] = {
    "user": "Split stratified per user (`random_split`, the course's protocol):",
    "item": (
        "Split stratified per item (as the benchmark notebook's "
        '`python_stratified_split(..., filter_by="item")`):'
    ),
}
#: Which published row stands next to which of our models.
REFERENCE_OF: dict[str, str] = {
    "BPR": "BPR (cornac)",
    "ItemKNN": "SAR",
    "LightGCN (3 layers)": "LightGCN",
}


def split_pairs(pairs: pd.DataFrame, seed: int, stratify: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """75/25 random split of the (user, item) pairs, stratified per user or per item."""
    if stratify == "user":
        split = random_split(pairs, test_fraction=TEST_FRACTION, seed=seed)
        return split.train, split.test
    # per item: the same splitter with the roles of the two id columns swapped
    swap = {USER: ITEM, ITEM: USER}
    split = random_split(pairs.rename(columns=swap), test_fraction=TEST_FRACTION, seed=seed)
    return split.train.rename(columns=swap), split.test.rename(columns=swap)


def run(
    pairs: pd.DataFrame, index: IdIndex, seeds: list[int], stratify: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per (model, seed): the four metrics and the fit seconds; and each model's repr."""
    rows = []
    described: dict[str, str] = {}
    for seed in seeds:
        train_pairs, test_pairs = split_pairs(pairs, seed, stratify)
        train, test = index.matrix(train_pairs), index.matrix(test_pairs)
        for name, make in MODELS.items():
            model = make()
            described[name] = repr(model)
            start = time.perf_counter()
            model.fit(train)
            seconds = time.perf_counter() - start
            result = evaluate(model, train, test, k=K, fit=False)
            row = {"model": name, "seed": seed, "fit s": seconds}
            row.update({metric: float(result.loc[K, metric]) for metric, _ in METRICS})
            rows.append(row)
            print(
                f"seed {seed} {name}: nDCG@10 {row['ndcg']:.4f} (fit {seconds:.1f} s)",
                file=sys.stderr,
            )
    return pd.DataFrame(rows), described


def _published_cell(name: str) -> str:
    reference = REFERENCE_OF.get(name)
    if reference is None:
        return "-"
    values = " / ".join(f"{value:.3f}" for value in PUBLISHED[reference])
    return f"{reference}: {values}"


def result_table(results: pd.DataFrame) -> str:
    """Our models: mean ± standard deviation over the seeds, and the published reference."""
    header = " | ".join(label for _, label in METRICS)
    lines = [
        f"| model (defaults) | {header} | published P / R / nDCG / MAP | fit s |",
        "| --- | " + " | ".join("---:" for _ in METRICS) + " | --- | ---: |",
    ]
    for name in MODELS:
        part = results[results["model"] == name]
        cells = []
        for metric, _ in METRICS:
            values = part[metric].to_numpy()
            spread = values.std(ddof=1) if len(values) > 1 else 0.0
            cells.append(f"{values.mean():.3f} ± {spread:.3f}")
        lines.append(
            f"| {name} | {' | '.join(cells)} | {_published_cell(name)} | "
            f"{part['fit s'].mean():.2f} |"
        )
    return "\n".join(lines)


def published_table() -> str:
    """Every ranking result of the published table."""
    header = " | ".join(label for _, label in METRICS)
    lines = [
        f"| published algorithm | {header} |",
        "| --- | " + " | ".join("---:" for _ in METRICS) + " |",
    ]
    for name, values in PUBLISHED.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def facts(seeds: list[int], described: dict[str, str], dataset_info: dict[str, object]) -> str:
    """One paragraph: data, protocol, defaults, machine and sources (no local paths)."""
    defaults = "; ".join(described[name] for name in MODELS)
    runs = f"{len(seeds)} split seeds ({', '.join(map(str, seeds))}): mean ± standard deviation"
    if len(seeds) == 1:
        runs = f"one split seed ({seeds[0]})"
    return (
        f"MovieLens 100K ({dataset_info['ratings']:,} ratings, {dataset_info['users']} users, "
        f"{dataset_info['items_rated']:,} movies; {dataset_info['verified']}), every rating a "
        f"relevant interaction; random {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} split of "
        f"the (user, item) pairs; {runs}; top-{K} over the whole catalog, training items "
        "excluded; MAP@10 = Microsoft Recommenders' `map` (divides by |R_u|). "
        f"Defaults: {defaults}. {os.cpu_count()} CPUs ({platform.machine()}), BLAS 1 thread "
        f"(recutils.setup); Python {platform.python_version()}, numpy {_version('numpy')}, "
        f"scipy {_version('scipy')}, implicit {_version('implicit')}. Published numbers: "
        f"{PUBLISHED_SOURCE}; one run each, with the benchmark's own hyper-parameters "
        "(e.g. BPR with k=200 factors), not defaults."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory holding movielens-100k/ (default: $RECUTILS_DATA_DIR, else data/)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="number of split seeds (default 5)")
    parser.add_argument(
        "--split",
        default="user",
        help="stratify the 75/25 split per 'user' (default) or per 'item'; 'user,item' runs both",
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown result here")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    splits = [value.strip() for value in args.split.split(",")]
    unknown = [value for value in splits if value not in ("user", "item")]
    if unknown or not splits:
        parser.error(f"--split must be 'user', 'item' or 'user,item', got {args.split!r}")
    recutils.setup(model_cache=False, seed=42)
    try:
        dataset = load("movielens-100k", data_dir=args.data_dir)
    except FileNotFoundError as error:
        print(
            "MovieLens 100K is not in the data directory, so there is nothing to compare.\n"
            f"{error}\n"
            "Then run this script again (with the same --data-dir, if you used one)."
        )
        return 0
    index = IdIndex.from_dataset(dataset)
    pairs = user_item_pairs(dataset.interactions)
    seeds = list(range(args.seeds))
    sections = []
    described: dict[str, str] = {}
    for stratify in splits:
        results, described = run(pairs, index, seeds, stratify)
        title = SPLIT_TITLES[stratify]
        sections.append(f"{title}\n\n{result_table(results)}")
    sections.append(
        "Published (Microsoft Recommenders, Movielens 100k, k=10; P / R / nDCG / MAP in this "
        "order in the column above):\n\n" + published_table()
    )
    text = "\n\n".join(sections) + "\n\n" + facts(seeds, described, dataset.info)
    emit(text, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
