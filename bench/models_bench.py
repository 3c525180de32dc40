"""Benchmark: fit and recommend time of every recutils model, at shop scale and at 10x.

Run from the repository root::

    python bench/models_bench.py                   # both scales, prints the table
    python bench/models_bench.py --scales 1        # shop scale only
    python bench/models_bench.py --output PATH     # also writes it (Markdown) for the README

Scales (the synthetic shop of ``recutils.datasets.load("shop")``, one year):

* 1x: 3,000 users, 4,000 items (the course's shop, about 120,000 user-item pairs);
* 10x: 30,000 users, 10,000 items (about 10 times the pairs; the catalog grows 2.5x, as a
  shop's catalog grows more slowly than its audience).

Each model is fitted on a temporal split (events before 1 December, collapsed into user-item
pairs separately from the December events, as in the notebooks) and then recommends the top 20
for every user with December interactions. The time to recommend includes scoring the whole
catalog and excluding training items. (LightGCN and BertHybrid have their own benchmarks of the
cost per epoch or step: ``bench/lightgcn_bench.py``, ``bench/hybrid_bench.py``.) nDCG@10 is
reported so that a fast but useless setting is
visible. Text embeddings for the content model are computed once per scale, cached, and not
included in its fit time (encoding is measured by ``bench/encoder_bench.py``). Threads as in
the notebooks (``recutils.setup``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from report import emit

import recutils
from recutils.datasets import load
from recutils.evaluation import evaluate
from recutils.interactions import IdIndex
from recutils.models import (
    ALS,
    BPR,
    EASE,
    ContentBased,
    ItemKNN,
    MostPopular,
    UserKNN,
    fit_model,
)
from recutils.splitting import pair_split, temporal_split
from recutils.text import encode_texts, item_texts

SCALES = {1: (3_000, 4_000), 10: (30_000, 10_000)}


def run_scale(scale: int) -> list[tuple[str, str, float, float, float]]:
    n_users, n_items = SCALES[scale]
    shop = load("shop", n_users=n_users, n_items=n_items, seed=42)
    index = IdIndex.from_dataset(shop)
    split = pair_split(temporal_split(shop.interactions, test_start="2024-12-01"))
    train, test = index.matrix(split.train), index.matrix(split.test)
    embeddings = encode_texts(item_texts(shop.items))
    models = {
        "MostPopular": MostPopular(),
        "UserKNN": UserKNN(),
        "ItemKNN": ItemKNN(),
        "EASE": EASE(),
        "ALS": ALS(),
        "BPR": BPR(),
        "ContentBased (MiniLM)": ContentBased(),
    }
    label = f"{scale}x ({n_users:,} users, {len(shop.items):,} items, {train.nnz:,} train pairs)"
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        try:
            fit_model(model, train, side_data={"item_vectors": embeddings})
        except (MemoryError, ValueError) as error:  # e.g. EASE refusing a too-large catalog
            rows.append((label, name, float("nan"), float("nan"), float("nan")))
            print(f"{label} {name}: not run ({error})", file=sys.stderr)
            continue
        fitted = time.perf_counter()
        result = evaluate(model, train, test, k=[10, 20], fit=False)
        done = time.perf_counter()
        rows.append((label, name, fitted - start, done - fitted, float(result.loc[10, "ndcg"])))
        print(
            f"{label} {name}: fit {fitted - start:.2f} s, recommend {done - fitted:.2f} s",
            file=sys.stderr,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated: 1 and/or 10")
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    scales = [int(value) for value in args.scales.split(",")]
    unknown = [value for value in scales if value not in SCALES]
    if unknown:
        parser.error(f"unknown scale(s) {unknown}; choose from {sorted(SCALES)}")
    recutils.setup(model_cache=False, seed=42)
    rows = [row for scale in scales for row in run_scale(scale)]
    lines = [
        "| data | model | fit s | recommend s | nDCG@10 |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for label, name, fit_seconds, recommend_seconds, ndcg in rows:
        if np.isnan(fit_seconds):
            lines.append(f"| {label} | {name} | not run | | |")
        else:
            lines.append(
                f"| {label} | {name} | {fit_seconds:.2f} | {recommend_seconds:.2f} | {ndcg:.3f} |"
            )
    table = "\n".join(lines)
    facts = (
        f"Temporal split (test: December), top-20 for every test user. {os.cpu_count()} CPUs "
        f"({platform.machine()}), BLAS 1 thread, torch 2 threads (recutils.setup)."
    )
    emit(table, facts, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
