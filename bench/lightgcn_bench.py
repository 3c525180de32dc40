"""Benchmark: seconds per LightGCN training epoch on a CPU, three ways to propagate.

Run from the repository root::

    python bench/lightgcn_bench.py                   # prints the table
    python bench/lightgcn_bench.py --output PATH     # also writes it (Markdown) for the README

Data: 100,000 (user, item) pairs drawn at random (seed 0) from the course's synthetic shop
(all its user-item pairs of a year; 3,000 users x ~4,000 items), the size the issue sets the
target for: at most 1 s per epoch on this 2-core CPU.

Model: :class:`recutils.models.graph.LightGCN` with the paper's 3 layers (the class default is
1, a third of the propagation work) and otherwise its defaults (64 factors, BPR loss with one
uniform negative per pair, batches of 2,048 triples: 49 Adam steps per epoch,
each propagating the whole graph forward and backward). The three ways give the same numbers
(``tests/test_models_graph.py``) and differ only in how ``A_hat @ E`` is computed:

* ``pyg-edge-index`` (the reference): torch_geometric's ``LGConv`` over the edge list and edge
  weights (gather the neighbours' vectors, weight them, scatter-add), PyG's usual input;
* ``pyg``: the same ``LGConv`` given the normalised adjacency as a torch sparse CSR tensor (one
  sparse-dense product; torch transposes the matrix for the backward pass);
* ``symmetric`` (recutils' default): the sparse product with a backward pass that uses
  ``A_hat^T = A_hat`` (:func:`recutils.models.graph.propagate`).

Each is timed with torch at 1 and at 2 threads (median of ``--epochs`` epochs after one
warm-up epoch; building the graph is not included). Microsoft Recommenders reports
about 1 s per epoch for its LightGCN on MovieLens-100k (75,000 training pairs) on a GPU.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from report import emit, machine

import recutils
from recutils.datasets import load
from recutils.environment import torch_kernels
from recutils.interactions import IdIndex, user_item_pairs
from recutils.models.graph import LightGCN

N_PAIRS = 100_000
#: The paper's three layers: three times the propagation work of the class default (one layer).
LAYERS = 3


def epoch_seconds(train: sp.csr_matrix, propagation: str, threads: int, epochs: int) -> float:
    model = LightGCN(
        layers=LAYERS, propagation=propagation, threads=threads, epochs=epochs + 1, seed=0
    )
    model.fit(train)
    per_epoch = [record["seconds"] for record in model.history_[1:]]  # epoch 1 is the warm-up
    return float(statistics.median(per_epoch))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per setting")
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)

    recutils.setup(model_cache=False, seed=0)
    shop = load("shop")
    index = IdIndex.from_dataset(shop)
    matrix = index.matrix(user_item_pairs(shop.interactions))
    coo = matrix.tocoo()
    keep = np.sort(np.random.default_rng(0).choice(coo.nnz, size=N_PAIRS, replace=False))
    train = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape)

    ways = ("pyg-edge-index", "pyg", "symmetric")
    seconds = {
        (way, threads): epoch_seconds(train, way, threads, args.epochs)
        for way in ways
        for threads in (1, 2)
    }
    reference = min(seconds[("pyg-edge-index", 1)], seconds[("pyg-edge-index", 2)])
    lines = [
        "| propagation | 1 thread s/epoch | 2 threads s/epoch | speed-up vs edge_index |",
        "| --- | ---: | ---: | ---: |",
    ]
    for way in ways:
        best = min(seconds[(way, 1)], seconds[(way, 2)])
        lines.append(
            f"| {way}{' (reference)' if way == 'pyg-edge-index' else ''} | "
            f"{seconds[(way, 1)]:.2f} | {seconds[(way, 2)]:.2f} | {reference / best:.1f}x |"
        )
    table = "\n".join(lines)
    facts = (
        f"LightGCN with {LAYERS} layers, 64 factors, batch 2,048, one negative per pair, on "
        f"{train.nnz:,} pairs ({train.shape[0]:,} users x {train.shape[1]:,} items); median of "
        f"{args.epochs} epochs after a warm-up epoch; {machine()}, torch "
        f"{torch.__version__.split('+')[0]} (kernels: {torch_kernels()}), torch_geometric "
        f"{importlib.metadata.version('torch_geometric')} (its version read without importing "
        "it: the import computes with torch before recutils.setup could choose the kernels). "
        "Speed-up: best of 1 or 2 threads against the best of the reference."
    )
    emit(table, facts, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
