"""Benchmark: 1 vs 2 threads for the course's typical CPU work (sets recutils.setup defaults).

Run from the repository root::

    python bench/threads_bench.py                   # prints the table
    python bench/threads_bench.py --output PATH     # also writes it (Markdown) for the README

Each task runs on the course's shop (3,000 users x ~4,000 items) with the library that does its
work (BLAS through threadpoolctl, or torch) set to 1 thread, then to 2, the other library at
recutils.setup's default, in the same process, best of ``--repeats`` runs:

* ALS matrix factorisation with implicit (64 factors, 15 iterations): sparse and small dense
  linear algebra, the workload of collaborative filtering;
* one epoch of a BPR-style dot-product model in torch (64 factors, batches of 1,024 pairs):
  embedding look-ups, small matrix products and their gradients;
* ten LightGCN-style propagations (3 layers of sparse adjacency x 64-d embeddings, with the
  backward pass) on a torch CSR matrix: the workload of the graph notebook;
* full-catalog scoring and top-20 with recutils (a (3,000 x 64) x (64 x 4,000) product, then
  ``top_k_items``);
* encoding 500 product texts with the bundled MiniLM (cache off).

``recutils.setup`` uses the faster setting per library: 1 thread for BLAS, 2 for torch.
Timings are from this machine; run it on yours.
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
from report import emit
from threadpoolctl import threadpool_limits

import recutils
from recutils.datasets import load
from recutils.interactions import IdIndex, user_item_pairs
from recutils.ranking import top_k_items
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
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    recutils.setup(model_cache=False, seed=0)
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

    # LightGCN-style propagation: the normalised user-item adjacency as a torch CSR matrix,
    # 3 layers of sparse x dense products, forward and backward (the work of notebook 04).
    n_nodes = index.n_users + index.n_items
    rows = np.concatenate([pairs[:, 0], index.n_users + pairs[:, 1]])
    cols = np.concatenate([index.n_users + pairs[:, 1], pairs[:, 0]])
    degree = np.bincount(rows, minlength=n_nodes).astype(np.float32)
    values = 1.0 / np.sqrt(degree[rows] * degree[cols])
    adjacency = (
        torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([rows, cols])), torch.from_numpy(values), (n_nodes, n_nodes)
        )
        .coalesce()
        .to_sparse_csr()
    )

    def propagation_steps() -> object:
        embeddings = torch.nn.Parameter(
            torch.randn(n_nodes, 64, generator=torch.Generator().manual_seed(0))
        )
        for _ in range(10):
            layer, total = embeddings, embeddings
            for _ in range(3):
                layer = adjacency @ layer
                total = total + layer
            total.pow(2).mean().backward()
        return embeddings.grad

    rng = np.random.default_rng(0)
    user_factors = rng.standard_normal((index.n_users, 64)).astype(np.float32)
    item_factors = rng.standard_normal((index.n_items, 64)).astype(np.float32)

    def score_and_rank() -> object:
        return top_k_items(user_factors @ item_factors.T, 20, exclude=matrix)

    # (label, library whose thread count is varied, factory: threads -> function to time)
    tasks = [
        ("ALS fit (implicit, 64 factors, 15 iterations)", "BLAS", als),
        ("score all items + top-20 (numpy matmul, recutils)", "BLAS", lambda t: score_and_rank),
        ("BPR epoch (64 factors)", "torch", lambda t: bpr_epoch),
        (
            "10 LightGCN propagations, 3 layers, with backward (CSR)",
            "torch",
            lambda t: propagation_steps,
        ),
        (
            "encode 500 texts (MiniLM)",
            "torch",
            lambda t: lambda: encode_texts(texts, cache=False, threads=t),
        ),
    ]
    rows = []
    for label, library, make in tasks:
        seconds = {}
        for threads in (1, 2):
            # Vary one library; the other stays at recutils.setup's default.
            blas, torch_threads = (threads, 2) if library == "BLAS" else (1, threads)
            with threadpool_limits(limits=blas, user_api="blas"):
                torch.set_num_threads(torch_threads)
                seconds[threads] = best_of(make(threads), args.repeats)
        rows.append((label, library, seconds[1], seconds[2]))
    recutils.setup(model_cache=False, seed=0)

    lines = [
        "| task | threads of | 1 thread s | 2 threads s | faster |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for label, library, one, two in rows:
        faster = "1 thread" if one <= two else "2 threads"
        ratio = max(one, two) / min(one, two)
        lines.append(f"| {label} | {library} | {one:.2f} | {two:.2f} | {faster} ({ratio:.1f}x) |")
    table = "\n".join(lines)
    facts = (
        f"Best of {args.repeats} runs on {os.cpu_count()} CPUs ({platform.machine()}), torch "
        f"{torch.__version__}, numpy {np.__version__}."
    )
    emit(table, facts, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
