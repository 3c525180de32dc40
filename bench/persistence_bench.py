"""Benchmark: saving and loading models (recutils.persistence) against fitting them again.

Run from the repository root::

    python bench/persistence_bench.py                   # prints the table
    python bench/persistence_bench.py --output PATH     # also writes it (Markdown)

A service loads its model when it starts; without saved models it would fit it again. On the
course's shop (``load("shop")``, events before 1 December paired into the training matrix),
each model is fitted, saved with :func:`recutils.persistence.save_model`, loaded with
:func:`~recutils.persistence.load_model` (checksums verified), and the loaded model's top-20
for every user is compared with the fitted model's (items and scores, to the last bit). The
reference is the fit itself, measured in the same run: the time a restart costs without a
saved model. The torch models run a few epochs only (the size of their files does not depend
on the epochs; their fit time does, so it is a lower bound); EASE has a fixed ``l2`` (its
default searches it, a longer fit); the content model's TF-IDF vectors are computed once,
outside its fit time. Folder sizes include the training
matrix, which every model keeps (to leave out what a user already has).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from report import emit

import recutils
from recutils.datasets import load
from recutils.interactions import IdIndex
from recutils.models import (
    ALS,
    BPR,
    EASE,
    ContentBased,
    ItemKNN,
    LightGCN,
    MostPopular,
    SASRec,
    fit_model,
    tfidf_item_vectors,
    user_sequences,
)
from recutils.persistence import load_model, save_model, training_fingerprint
from recutils.splitting import pair_split, temporal_split
from recutils.text import item_texts

CUT_OFF = "2024-12-01"


def folder_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    recutils.setup(model_cache=False, seed=42)
    shop = load("shop")
    index = IdIndex.from_dataset(shop)
    split = pair_split(temporal_split(shop.interactions, test_start=CUT_OFF))
    train = index.matrix(split.train)
    side = {
        "item_vectors": tfidf_item_vectors(item_texts(shop.items)),
        "sequences": user_sequences(shop.interactions, index, before=CUT_OFF),
    }
    models = {
        "MostPopular": MostPopular(),
        "ItemKNN": ItemKNN(),
        "EASE (l2=500)": EASE(l2=500.0),
        "ALS": ALS(),
        "BPR": BPR(),
        "ContentBased (TF-IDF)": ContentBased(),
        "LightGCN (3 epochs)": LightGCN(epochs=3),
        "SASRec (3 epochs)": SASRec(epochs=3),
    }
    users = np.arange(train.shape[0])
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="persistence-bench-"))
    try:
        for name, model in models.items():
            start = time.perf_counter()
            fit_model(model, train, side_data=side)
            fit_seconds = time.perf_counter() - start
            key = training_fingerprint(
                train, **{k: v for k, v in side.items() if k in model.side_data}
            )
            start = time.perf_counter()
            saved = save_model(model, folder / name.split()[0], trained_on=key)
            save_seconds = time.perf_counter() - start
            start = time.perf_counter()
            loaded = load_model(saved, trained_on=key)
            load_seconds = time.perf_counter() - start
            expected, got = model.recommend(users, k=20), loaded.recommend(users, k=20)
            same = np.array_equal(expected.items, got.items) and np.array_equal(
                expected.scores, got.scores, equal_nan=True
            )
            rows.append(
                (name, fit_seconds, save_seconds, load_seconds, folder_megabytes(saved), same)
            )
            print(f"{name}: fit {fit_seconds:.2f} s, load {load_seconds:.3f} s", file=sys.stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "| model | fit s (reference) | save s | load s | folder MB | same top-20 |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, fit_seconds, save_seconds, load_seconds, megabytes, same in rows:
        lines.append(
            f"| {name} | {fit_seconds:.2f} | {save_seconds:.3f} | {load_seconds:.3f} | "
            f"{megabytes:.1f} | {'yes, to the bit' if same else 'NO'} |"
        )
    table = "\n".join(lines)
    facts = (
        f"The shop: {train.shape[0]:,} users, {train.shape[1]:,} items, {train.nnz:,} training "
        f"pairs (before {CUT_OFF}). Top-20 for all users compared. {os.cpu_count()} CPUs "
        f"({platform.machine()}), recutils.setup threads; a local disk (load times include "
        "verifying every file's SHA-256)."
    )
    emit(table, facts, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
