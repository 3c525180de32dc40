"""Benchmark: the text encoder (recutils.text.encode_texts) cold and warm, 1 vs 2 threads.

Run from the repository root::

    python bench/encoder_bench.py                       # 2,000 catalog texts, prints the table
    python bench/encoder_bench.py --n 4000              # the whole shop catalog
    python bench/encoder_bench.py --source synthetic    # texts of very mixed length
    python bench/encoder_bench.py --batch-sizes 32,64,128
    python bench/encoder_bench.py --output PATH         # also writes the table (Markdown)

Texts: the first ``--n`` items of the synthetic shop (``recutils.datasets.load("shop")``, via
``recutils.text.item_texts``), or, if that is not available or ``--source synthetic`` is
given, seeded product-like texts whose descriptions have 1 to 14 sentences.

Rows:

* cold runs (cache off) of ``encode_texts``: texts of equal token length in batches of exactly
  ``DEFAULT_BATCH_SIZE`` (no padding), with 1 and 2 torch threads (plus other batch sizes with
  ``--batch-sizes``); then, as the reference in the same run, the earlier way: batches of 64
  padded to their longest text, sorted by length or in input order. Loading the model is
  timed separately and excluded; one small warm-up batch runs first, so one-time set-up is not
  counted either;
* the per-text cache: a call with half of the texts already stored (it encodes the other half
  and must give the same bits as one call for all);
* warm (every text stored): in this process, after forgetting the memoised model fingerprint
  and shards (so it includes hashing the weights and reading the shards, as in a new notebook
  session), and in a new Python process including ``import recutils.text``.

Every cold run must agree with the first to 1e-5, else the script exits with 1. The cache
lives in a temporary folder that is deleted at the end. Everything else is as in the
notebooks: ``recutils.setup()`` (BLAS 1 thread, torch inter-op 1 thread).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from contention import Contention
from report import emit

import recutils
from recutils import text

TOLERANCE = 1e-5
SEED = 0


def synthetic_texts(n: int, seed: int = SEED) -> list[str]:
    """``n`` product-like texts: title, category, brand, then 1-14 description sentences."""
    rng = np.random.default_rng(seed)
    adjectives = [
        "classic",
        "compact",
        "waterproof",
        "organic",
        "lightweight",
        "premium",
        "vintage",
        "ergonomic",
        "cordless",
        "handmade",
        "slim",
        "durable",
    ]
    materials = ["cotton", "steel", "oak", "bamboo", "leather", "ceramic", "wool", "glass"]
    products = {
        "Home > Kitchen": ["kettle", "mug", "frying pan", "chef knife", "teapot"],
        "Fashion > Women > Knitwear": ["cardigan", "jumper", "scarf", "beanie"],
        "Sports > Running": ["running shoe", "water bottle", "headlamp", "rain jacket"],
        "Electronics > Audio": ["headphones", "speaker", "turntable", "microphone"],
        "Garden > Tools": ["pruning shears", "watering can", "hose reel", "spade"],
    }
    brands = ["Acme", "Northwind", "Kestrel", "Juniper Row", "Bluebell", "Orbit"]
    sentences = [
        "Made from {m} for everyday use.",
        "A {a} design that lasts.",
        "Easy to clean and store.",
        "Ships in plastic-free packaging.",
        "Rated {r} out of 5 by 1,{k:03d} customers.",
        "Available in {c} colours.",
        "Pairs well with the rest of the {b} range.",
        "Backed by a two-year warranty.",
    ]
    categories = list(products)
    texts = []
    for _ in range(n):
        category = categories[rng.integers(len(categories))]
        product = products[category][rng.integers(len(products[category]))]
        adjective = adjectives[rng.integers(len(adjectives))]
        material = materials[rng.integers(len(materials))]
        brand = brands[rng.integers(len(brands))]
        title = f"{brand} {adjective.capitalize()} {material.capitalize()} {product.title()}"
        description = " ".join(
            sentences[rng.integers(len(sentences))].format(
                m=material,
                a=adjective,
                r=rng.integers(3, 6),
                k=rng.integers(1000),
                c=rng.integers(2, 9),
                b=brand,
            )
            for _ in range(int(rng.integers(1, 15)))
        )
        texts.append(f"{title}. Category: {category}. Brand: {brand}. {description}")
    return texts


def catalog_texts(n: int) -> tuple[list[str], str]:
    """The first ``n`` shop catalog texts, or synthetic texts if the shop is not available."""
    try:
        from recutils.datasets import load

        items = load("shop").items
    except (ImportError, AttributeError) as error:
        return synthetic_texts(n), f"synthetic ({type(error).__name__}: shop dataset unavailable)"
    texts = text.item_texts(items).tolist()
    if len(texts) < n:
        return texts, f"shop catalog (all {len(texts):,} items)"
    return texts[:n], f"shop catalog (first {n:,} of {len(texts):,} items)"


def padded(
    texts: list[str], threads: int, batch_size: int, sort_by_length: bool = True
) -> np.ndarray:
    """The earlier way, as a reference: batches padded to their longest text (sorted by token
    length first, so little padding), the mask keeping padding out of the mean."""
    import torch

    tokenizer, model = text.load_encoder()
    ids = tokenizer(texts, truncation=True, max_length=text.MAX_LENGTH)["input_ids"]
    lengths = np.array([len(row) for row in ids])
    order = np.argsort(-lengths, kind="stable") if sort_by_length else np.arange(len(texts))
    out = np.empty((len(texts), text.EMBEDDING_DIM), dtype=np.float32)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for first in range(0, len(texts), batch_size):
                rows = order[first : first + batch_size]
                width = int(lengths[rows].max())
                input_ids = torch.zeros((len(rows), width), dtype=torch.int64)
                mask = torch.zeros((len(rows), width), dtype=torch.int64)
                for j, row in enumerate(rows):
                    input_ids[j, : lengths[row]] = torch.tensor(ids[row])
                    mask[j, : lengths[row]] = 1
                hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                pooled = torch.nn.functional.normalize(text.mean_pooling(hidden, mask), dim=1)
                out[rows] = pooled.numpy()
    finally:
        torch.set_num_threads(previous)
    return out


def unsorted(texts: list[str], threads: int, batch_size: int) -> np.ndarray:
    return padded(texts, threads, batch_size, sort_by_length=False)


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def warm_in_new_process(texts: list[str], cache_dir: str) -> float:
    """Seconds for ``import recutils.text`` + a warm encode_texts in a fresh interpreter."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(texts))  # texts have no newlines (item_texts normalises whitespace)
        texts_file = f.name
    script = (
        "import time, sys\n"
        "start = time.perf_counter()\n"
        "from recutils.text import encode_texts, load_encoder\n"
        f"texts = open({texts_file!r}, encoding='utf-8').read().split('\\n')\n"
        f"encode_texts(texts, cache_dir={cache_dir!r})\n"
        "assert load_encoder.cache_info().currsize == 0, 'warm path loaded the model'\n"
        "print(time.perf_counter() - start)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
    finally:
        os.unlink(texts_file)
    return float(done.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of texts (default 2000)")
    parser.add_argument(
        "--source",
        choices=["auto", "synthetic"],
        default="auto",
        help="auto: shop catalog if available, else synthetic",
    )
    parser.add_argument(
        "--batch-sizes",
        default=str(text.DEFAULT_BATCH_SIZE),
        help="comma-separated batch sizes for the 2-thread equal-length run",
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    default_batch = text.DEFAULT_BATCH_SIZE

    recutils.setup(model_cache=False, seed=SEED)
    meter = Contention()
    if args.source == "synthetic":
        texts, source = synthetic_texts(args.n), "synthetic product texts"
    else:
        texts, source = catalog_texts(args.n)
    n = len(texts)

    load_s, (tokenizer, _) = timed(text.load_encoder)
    token_counts = np.array(
        [
            len(ids)
            for ids in tokenizer(texts, truncation=True, max_length=text.MAX_LENGTH)["input_ids"]
        ]
    )
    text.encode_texts(texts[:64], cache=False)  # warm-up: one-time kernel set-up

    # (label, function, threads, batch size): the course's encoder, then the reference
    rows, reference = [], None
    runs = [
        ("cold, 1 thread, equal-length batches of", text.encode_texts, 1, default_batch),
        ("cold, 2 threads, equal-length batches of", text.encode_texts, 2, default_batch),
    ]
    runs += [
        ("cold, 2 threads, equal-length batches of", text.encode_texts, 2, b)
        for b in batch_sizes
        if b != default_batch
    ]
    runs += [
        ("reference: padded batches sorted by length, 2 threads, batches of", padded, 2, 64),
        ("reference: padded batches in input order, 2 threads, batches of", unsorted, 2, 64),
    ]
    for label, function, threads, batch in runs:
        options = {"cache": False} if function is text.encode_texts else {}
        seconds, embeddings = timed(function, texts, threads=threads, batch_size=batch, **options)
        if reference is None:
            reference = embeddings
        difference = float(np.abs(embeddings - reference).max())
        if difference > TOLERANCE:
            print(f"FAIL: run {label} {batch} differs by {difference:.2e}")
            return 1
        rows.append((f"{label} {batch}", seconds))

    with tempfile.TemporaryDirectory() as cache_dir:
        half = texts[: n // 2]
        text.encode_texts(half, cache_dir=cache_dir)
        partial_s, partial = timed(text.encode_texts, texts, cache_dir=cache_dir)
        rows.append((f"half of the texts cached: encodes the other {n - n // 2:,}", partial_s))
        if not np.array_equal(partial, reference):
            print("FAIL: texts encoded in two calls differ from one call (bitwise)")
            return 1
        text.model_fingerprint.cache_clear()
        text._shard_memo.clear()
        warm_s, warm = timed(text.encode_texts, texts, cache_dir=cache_dir)
        rows.append(("warm, same process (incl. hashing the weights, reading the shards)", warm_s))
        if not np.array_equal(warm, reference):
            print("FAIL: warm result differs from the cold one")
            return 1
        rows.append(
            (
                "warm, new process (incl. `import recutils.text`)",
                warm_in_new_process(texts, cache_dir),
            )
        )

    import torch
    import transformers

    contention = meter.report()

    lines = [
        (
            f"Texts: {n:,} from {source}; tokens per text (with [CLS]/[SEP], cut at "
            f"{text.MAX_LENGTH}): mean {token_counts.mean():.0f}, min {token_counts.min()}, "
            f"max {token_counts.max()}."
        ),
        (
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, torch {torch.__version__}, "
            f"transformers {transformers.__version__}."
        ),
        f"Loading the model (once per process, not in the rows below): {load_s:.1f} s.",
        contention,
        "",
        "| run | seconds | texts / second |",
        "|---|---:|---:|",
    ]
    lines += [f"| {label} | {seconds:.2f} | {n / seconds:,.0f} |" for label, seconds in rows]
    lines += ["", f"All cold runs agree to {TOLERANCE:g} (max abs difference)."]
    table = "\n".join(lines)
    emit(table, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
