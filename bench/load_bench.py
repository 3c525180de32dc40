"""Benchmark: torch's threads when another program shares the CPU (sets setup's "auto").

Run from the repository root::

    python bench/load_bench.py                   # prints the table
    python bench/load_bench.py --output PATH     # also writes it (Markdown) for the README

``bench/threads_bench.py`` measures 1 against 2 torch threads on a quiet machine, where 2 win.
A workshop laptop is rarely quiet: a browser, a video call or a second notebook keeps a core
busy. Two torch threads then share two cores with a third busy program; every parallel step
ends when its slower thread ends, and the slower one is the thread waiting for the core the
other program holds, so a model can run many times slower than on one thread.

Each setting runs in a fresh process (OpenMP reads ``OMP_WAIT_POLICY`` once, when torch loads):

* torch at 1 thread; at 2 threads; at 2 threads with ``OMP_WAIT_POLICY=PASSIVE`` (waiting
  threads sleep at once instead of spinning first); and ``recutils.setup``'s default
  ``torch_threads="auto"`` (:func:`recutils.environment.auto_torch_threads`: 2 threads, or 1
  if other programs are busy as ``setup`` runs);
* on a quiet machine, and with one other process running a busy Python loop all the time;
* tasks: a LightGCN fit (recutils, 3 layers, 64 factors, 3 epochs, on the shop's user-item
  pairs) and encoding 300 product texts with the bundled MiniLM (cache off).

The note under the table counts how many different results (vectors, to the last bit) the runs
gave at each thread count: the encoder's do not depend on threads. LightGCN's backward pass
used to add gradients in an order that depended on which thread got there first (2 threads:
different last bits on every run); its training now runs under torch's deterministic
algorithms (``recutils.environment.deterministic_torch``), and the count shows it. Timings are
from this machine; run it on yours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from report import emit

#: The work done in each fresh process; prints one JSON line (seconds and result digests).
CHILD = r"""
import hashlib, json, sys, time
import numpy as np
import recutils
from recutils.datasets import load
from recutils.interactions import IdIndex, user_item_pairs
from recutils.models import LightGCN
from recutils.text import encode_texts, item_texts, load_encoder

threads = sys.argv[1] if sys.argv[1] == "auto" else int(sys.argv[1])
info = recutils.setup(model_cache=False, seed=0, torch_threads=threads)
shop = load("shop")
index = IdIndex.from_dataset(shop)
train = index.matrix(user_item_pairs(shop.interactions))
texts = item_texts(shop.items).tolist()[:300]
load_encoder()

def digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:12]

start = time.perf_counter()
model = LightGCN(layers=3, epochs=3, seed=0).fit(train)
fit_seconds = time.perf_counter() - start
start = time.perf_counter()
vectors = encode_texts(texts, cache=False)
encode_seconds = time.perf_counter() - start
print(json.dumps({
    "lightgcn": fit_seconds, "encode": encode_seconds,
    "digest": digest(model.item_vectors_) + "/" + digest(vectors), "threads": info.torch_threads,
}))
"""

#: Another program keeping one core busy (a browser tab, a video call, a second notebook).
BUSY_LOOP = "while True:\n    sum(range(10_000))\n"

#: (label, torch threads, OpenMP wait policy; "default" leaves OpenMP's own choice).
SETTINGS = (
    ("1 thread", "1", "default"),
    ("2 threads", "2", "default"),
    ("2 threads, OMP_WAIT_POLICY=PASSIVE", "2", "PASSIVE"),
    ("auto (recutils.setup's default)", "auto", "default"),
)


def run_setting(threads: str, policy: str, busy_processes: int) -> dict[str, object]:
    """Run :data:`CHILD` in a fresh process with ``busy_processes`` busy loops beside it."""
    drop = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "RECUTILS_TORCH_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(busy_processes)]
    try:
        time.sleep(0.5)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, threads],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        for process in busy:
            process.kill()
            process.wait()
    if done.returncode != 0:
        raise RuntimeError(f"the benchmark process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)

    results = {
        (label, busy): run_setting(threads, policy, busy)
        for busy in (0, 1)
        for label, threads, policy in SETTINGS
    }
    lines = [
        "| torch setting | LightGCN fit, quiet s | LightGCN fit, 1 busy process s "
        "| encode 300 texts, quiet s | encode, 1 busy process s | threads used, quiet / busy |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, _, _ in SETTINGS:
        quiet, loaded = results[(label, 0)], results[(label, 1)]
        lines.append(
            f"| {label} | {quiet['lightgcn']:.1f} | {loaded['lightgcn']:.1f} "
            f"| {quiet['encode']:.1f} | {loaded['encode']:.1f} "
            f"| {quiet['threads']} / {loaded['threads']} |"
        )

    def distinct(threads: int, part: int) -> int:
        """How many different result digests the runs with ``threads`` threads gave."""
        return len(
            {
                str(result["digest"]).split("/")[part]
                for result in results.values()
                if result["threads"] == threads
            }
        )

    table = "\n".join(lines)
    import torch  # only for the version line

    facts = (
        f"Different results among the runs on 1 thread: LightGCN {distinct(1, 0)}, encoder "
        f"{distinct(1, 1)}; on 2 threads: LightGCN {distinct(2, 0)}, encoder {distinct(2, 1)} "
        "(1 = every run gave the same vectors to the last bit). "
        f"{os.cpu_count()} CPUs ({platform.machine()}), torch {torch.__version__.split('+')[0]}; "
        "one run per cell (the busy process makes timings vary from run to run)."
    )
    emit(table, facts, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
