"""Benchmark: one training step of the BERT hybrid, with the encoder used three ways.

Run from the repository root::

    python bench/hybrid_bench.py                   # prints the table (about 3 minutes)
    python bench/hybrid_bench.py --output PATH     # also writes it (Markdown) for the README
    python bench/hybrid_bench.py --batch-sizes 64  # only the post's batch size
    python bench/hybrid_bench.py --torch-threads 1 # when another process keeps a core busy

The post's model runs BERT forward *and backward* on the item texts of every batch. This bench
measures what that costs against the alternatives of ``recutils.models.hybrid`` on the shop's
catalog (about 4,000 product texts of ~51 tokens), with
:func:`recutils.models.hybrid_cost.training_step_seconds`:

* (a) the post's way: tokenise the batch items' texts, run the whole MiniLM (6 layers) forward
  and backward, update it with Adam (the reference);
* (b) fine-tune only the top layer, on the lower-layer hidden states cached once
  (:func:`recutils.text.top_layer_inputs`);
* (c) frozen text features, cached once (:func:`recutils.text.encode_texts`): only the
  recommender network trains.

A step is one batch of (user, item, label) triples: text vectors of the batch's items, the
hybrid network (64 factors, 128 hidden units, dot term), BCE loss, backward, Adam. Each is the
median of ``--repeats`` steps after ``--warmup`` untimed ones, at the post's batch size (64) and
at :class:`~recutils.models.hybrid.BertHybrid`'s default (1,024 pairs). "One epoch" multiplies
by the steps of one epoch on the shop (~96,000 training pairs, each with 4 negatives: ~480,000
labelled pairs). The one-off costs of caching are measured once over the whole catalog. Threads
as in the notebooks (``recutils.setup``: torch 2) unless ``--torch-threads`` says otherwise.

The post's way is not run above ``--full-max-batch`` (256) pairs: a batch of 1,024 pairs holds
~900 distinct items, whose forward pass through all 6 layers must keep ~14 GB of activations
for the backward pass (256 pairs: 3.7 GB peak). Its time is then *estimated* from the largest
measured batch, scaled as the time of (b) scales between the two batch sizes (both run the same
BERT layers on the same padded batches of item texts; (a) runs six of them, (b) one); marked
"est." in the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from contention import Contention
from report import emit

import recutils
from recutils.datasets import load
from recutils.models.hybrid_cost import training_step_seconds
from recutils.text import encode_texts, item_texts, load_encoder, top_layer_inputs

#: Labelled pairs of one epoch on the shop with the defaults (validation split of the
#: notebooks: ~96,000 training pairs x (1 + 4 negatives)).
EPOCH_PAIRS = 480_000
WAYS = {
    "full": "(a) post: whole MiniLM forward + backward",
    "top_layer": "(b) top layer on cached lower-layer states",
    "frozen": "(c) frozen cached text features",
}


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    parser.add_argument("--batch-sizes", default="64,1024", help="comma-separated pairs per step")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per cell")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    parser.add_argument(
        "--full-max-batch",
        type=int,
        default=256,
        help="largest batch for the post's way (larger ones are estimated, see above)",
    )
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="torch threads (default: recutils.setup)"
    )
    args = parser.parse_args(argv)
    batch_sizes = [int(value) for value in args.batch_sizes.split(",")]
    if args.repeats < 1 or args.warmup < 0 or min(batch_sizes) < 1:
        parser.error("--repeats and batch sizes must be >= 1, --warmup >= 0")

    meter = Contention()
    info = (
        recutils.setup(model_cache=False, seed=42)
        if args.torch_threads is None
        else recutils.setup(model_cache=False, seed=42, torch_threads=args.torch_threads)
    )
    shop = load("shop")
    texts = item_texts(shop.items).tolist()
    start = time.perf_counter()
    load_encoder()
    load_seconds = time.perf_counter() - start

    start = time.perf_counter()
    encode_texts(texts, cache=False)
    encode_seconds = time.perf_counter() - start
    print(f"encode the catalog: {encode_seconds:.1f} s", file=sys.stderr)
    start = time.perf_counter()
    inputs = top_layer_inputs(texts)
    states_seconds = time.perf_counter() - start
    print(f"cache the lower-layer states: {states_seconds:.1f} s", file=sys.stderr)

    rows = []
    measured: dict[int, dict[str, float]] = {}
    for batch_size in sorted(batch_sizes):
        medians, estimated = {}, False
        for way in ("top_layer", "frozen", "full"):
            if way == "full" and batch_size > args.full_max_batch:
                if not measured:
                    parser.error("--batch-sizes needs one size <= --full-max-batch to estimate")
                reference = measured[max(measured)]  # the largest batch with (a) measured
                scale = medians["top_layer"] / reference["top_layer"]
                medians[way], estimated = reference["full"] * scale, True
                continue
            seconds = training_step_seconds(
                texts,
                way,  # type: ignore[arg-type]
                batch_size=batch_size,
                repeats=args.repeats,
                warmup=args.warmup,
                n_users=3_000,
                inputs=inputs,
            )
            medians[way] = float(np.median(seconds))
            print(f"batch {batch_size}, {way}: {medians[way]:.4f} s per step", file=sys.stderr)
        if not estimated:
            measured[batch_size] = medians
        steps = -(-EPOCH_PAIRS // batch_size)
        for way, label in WAYS.items():
            mark = " (est.)" if estimated and way == "full" else ""
            rows.append(
                (
                    batch_size,
                    label + mark,
                    medians[way],
                    medians["full"] / medians[way],
                    duration(medians[way] * steps) + mark,
                )
            )

    import torch
    import transformers

    contention = meter.report()
    lines = [
        "| pairs per step | way | s per step | speed-up vs (a) | one epoch of the shop |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for batch_size, label, seconds, speedup, epoch in rows:
        seconds_text = f"{seconds:.2f}" if seconds >= 1 else f"{seconds:.4f}"
        lines.append(f"| {batch_size} | {label} | {seconds_text} | {speedup:,.0f}x | {epoch} |")
    if any("(est.)" in row[1] for row in rows):
        lines += [
            "",
            f"(est.): not run above {args.full_max_batch} pairs (a batch of 1,024 pairs needs "
            "~14 GB of activations for the backward pass); the time of (a) at the largest "
            "measured batch, scaled as the time of (b) grows, so its speed-up over (b) repeats "
            "the measured one.",
        ]
    lines += [
        "",
        "| one-off cost (whole catalog) | seconds | memory |",
        "| --- | ---: | ---: |",
        f"| encode {len(texts):,} texts, frozen features (c) | {encode_seconds:.1f} | "
        f"{len(texts) * 384 * 4 / 2**20:.1f} MB |",
        f"| cache the states entering the top layer (b) | {states_seconds:.1f} | "
        f"{inputs.nbytes / 2**20:.0f} MB |",
        "",
        (
            f"Median of {args.repeats} steps after {args.warmup} warm-up step(s); one epoch = "
            f"{EPOCH_PAIRS:,} labelled pairs (the shop's training pairs with 4 negatives each). "
            f"Tokens per text: {np.diff(inputs.offsets).mean():.0f} on average. Loading the "
            f"model (once per process, not above): {load_seconds:.1f} s."
        ),
        (
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, torch {torch.__version__}, transformers "
            f"{transformers.__version__}; threads: BLAS {info.blas_threads}, torch "
            f"{info.torch_threads} (recutils.setup)."
        ),
        contention,
    ]
    table = "\n".join(lines)
    emit(table, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
