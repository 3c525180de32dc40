"""Benchmark: 1 vs 2 threads for the course's typical CPU work (sets recutils.setup defaults).

Run from the repository root::

    python bench/threads_bench.py                   # prints the table
    python bench/threads_bench.py --output PATH     # also writes it (Markdown) for the README

Each task runs on the course's shop (3,000 users x ~4,000 items) with BLAS (threadpoolctl) and
torch set to 1 thread, then to 2, in the same process, best of ``--repeats`` runs:

* ALS matrix factorisation with implicit (64 factors, 15 iterations): sparse and small dense
  linear algebra, the workload of collaborative filtering;
* one epoch of a BPR-style dot-product model in torch (64 factors, batches of 1,024 pairs):
  embedding look-ups, small matrix products and their gradients, the workload of the neural
  notebooks;
* full-catalog scoring and top-20 with recutils (a (3,000 x 64) x (64 x 4,000) product, then
  ``top_k_items``);
* encoding 500 product texts with the bundled MiniLM (cache off).

The fastest setting per task is what ``recutils.setup`` uses: 1 thread everywhere except the
text encoder, which switches to 2 while it runs. Timings are from this machine; run it on yours.
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
import torch
from threadpoolctl import threadpool_limits

import recutils
from recutils.datasets import load
from recutils.interactions import IdIndex, user_item_pairs
from recutils.metrics import top_k_items
from recutils.text import encode_texts, item_texts, load_encoder


def best_of(function: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    recutils.setup(seed=0)
    from implicit.cpu.als import AlternatingLeastSquares

    shop = load("shop")
    index = IdIndex.from_dataset(shop)
    matrix = index.matrix(user_item_pairs(shop.interactions)).tocsr()
    pairs = np.stack(matrix.nonzero(), axis=1)
    texts = item_texts(shop.items).tolist()[:500]
    load_encoder()  # loading is not what we measure

    def als(threads: int) -> Callable[[], object]:
        def run() -> object:
            model = AlternatingLeastSquares(
                factors=64,
                iterations=15,
                num_threads=threads,
                random_state=0,
                calculate_training_loss=False,
            )
            return model.fit(matrix, show_progress=False)

        return run

    def bpr_epoch() -> object:
        generator = torch.Generator().manual_seed(0)
        users = torch.nn.Embedding(index.n_users, 64)
        items = torch.nn.Embedding(index.n_items, 64)
        optimiser = torch.optim.Adam([*users.parameters(), *items.parameters()], lr=0.01)
        positives = torch.from_numpy(pairs)
        order = torch.randperm(len(positives), generator=generator)
        for start in range(0, len(order), 1024):
            batch = positives[order[start : start + 1024]]
            negative = torch.randint(0, index.n_items, (len(batch),), generator=generator)
            u = users(batch[:, 0])
            gap = (u * items(batch[:, 1])).sum(1) - (u * items(negative)).sum(1)
            loss = -torch.nn.functional.logsigmoid(gap).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return loss

    rng = np.random.default_rng(0)
    user_factors = rng.standard_normal((index.n_users, 64)).astype(np.float32)
    item_factors = rng.standard_normal((index.n_items, 64)).astype(np.float32)

    def score_and_rank() -> object:
        return top_k_items(user_factors @ item_factors.T, 20, exclude=matrix)

    tasks = [
        ("ALS fit (implicit, 64 factors, 15 iterations)", als),
        ("BPR epoch (torch, 64 factors)", lambda threads: bpr_epoch),
        ("score all items + top-20 (numpy, recutils)", lambda threads: score_and_rank),
        (
            "encode 500 texts (MiniLM)",
            lambda threads: lambda: encode_texts(texts, cache=False, threads=threads),
        ),
    ]
    rows = []
    for label, make in tasks:
        seconds = {}
        for threads in (1, 2):
            with threadpool_limits(limits=threads):
                torch.set_num_threads(threads)
                seconds[threads] = best_of(make(threads), args.repeats)
        rows.append((label, seconds[1], seconds[2]))
    torch.set_num_threads(1)

    lines = ["| task | 1 thread s | 2 threads s | faster |", "| --- | ---: | ---: | --- |"]
    for label, one, two in rows:
        faster = "1 thread" if one <= two else "2 threads"
        lines.append(
            f"| {label} | {one:.2f} | {two:.2f} | {faster} ({max(one, two) / min(one, two):.1f}x) |"
        )
    table = "\n".join(lines)
    facts = (
        f"Best of {args.repeats} runs on {os.cpu_count()} CPUs ({platform.machine()}), torch "
        f"{torch.__version__}, numpy {np.__version__}."
    )
    print(table)
    print()
    print(facts)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(table + "\n\n" + facts + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
