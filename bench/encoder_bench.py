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

* cold runs (cache off): torch with 1 and 2 threads with texts sorted by token length before
  batching, and 2 threads unsorted (plus other batch sizes with ``--batch-sizes``). Loading
  the model is timed separately and excluded; one small warm-up batch runs first, so one-time
  set-up is not counted either;
* writing the cache entry (atomic write of the ``(n, 384)`` float32 array);
* warm (cache on, entry present): in this process, after forgetting the memoised model
  fingerprint (so it includes hashing the weights, as in a new notebook session), and in a new
  Python process including ``import recutils.text``.

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

import recutils
from recutils import text
from recutils.cache import entry_path, write_arrays

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
        help="comma-separated batch sizes for the 2-thread sorted run",
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    default_batch = text.DEFAULT_BATCH_SIZE

    recutils.setup(seed=SEED)
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

    # (label, threads, sorted, batch size)
    runs = [
        ("cold", 1, True, default_batch),
        ("cold", 2, True, default_batch),
        ("cold", 2, False, default_batch),
    ]
    runs += [("cold", 2, True, b) for b in batch_sizes if b != default_batch]
    rows, reference = [], None
    for label, threads, sort, batch in runs:
        seconds, embeddings = timed(
            text.encode_texts,
            texts,
            cache=False,
            threads=threads,
            sort_by_length=sort,
            batch_size=batch,
        )
        if reference is None:
            reference = embeddings
        difference = float(np.abs(embeddings - reference).max())
        if difference > TOLERANCE:
            print(f"FAIL: run {label}/{threads}/{sort}/{batch} differs by {difference:.2e}")
            return 1
        name = (
            f"{label}, {threads} thread{'s' * (threads > 1)}, "
            f"{'sorted' if sort else 'unsorted'}, batch {batch}"
        )
        rows.append((name, seconds))

    with tempfile.TemporaryDirectory() as cache_dir:
        path = entry_path(cache_dir, text.embedding_cache_key(texts), text.MODEL_NAME)
        write_s, _ = timed(
            write_arrays, path, text.embedding_cache_key(texts), {"embeddings": reference}
        )
        rows.append(("write the cache entry (after a cold run)", write_s))
        text.model_fingerprint.cache_clear()
        warm_s, warm = timed(text.encode_texts, texts, cache_dir=cache_dir)
        rows.append(("warm, same process (incl. hashing the weights)", warm_s))
        if not np.array_equal(warm, reference) and np.abs(warm - reference).max() > TOLERANCE:
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
    print(table)
    if args.output is not None:
        args.output.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
