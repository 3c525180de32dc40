"""Benchmark: exact nearest neighbours against faiss's IVF and HNSW on a 1,000,000-item catalog.

Run from the repository root, with nothing else running (it keeps both cores busy for about
six minutes and needs about 4 GB of memory at 384 dimensions)::

    python bench/ann_bench.py                  # prints the tables
    python bench/ann_bench.py --output bench/results/ann_bench.md

The catalog: the shop's 4,009 MiniLM item vectors (``encode_texts(item_texts(items))``, 384
dimensions) plus generated neighbours around and between them
(:func:`recutils.vector_search.catalog_with_neighbours`, ``spread=0.5``: a generated item is
about as close to its base item, cosine ~0.89, as a shop item is to its nearest other shop
item, median 0.89), up to 1,000,000 items; and the same at 64 dimensions (sklearn PCA of the
shop vectors, fitted on the 4,009 real ones, rows renormalised). The queries: 1,000 more
generated items, not in the catalog. The reference ("true neighbours") is
:func:`recutils.vector_search.exact_search` in the same run.

Tables:

1. per width (384, 64): exact NumPy (chunked), faiss flat, IVF-Flat at several ``nprobe``,
   HNSW at several ``ef_search``, IVF-PQ: build seconds, queries per second, recall@10,
   index memory;
2. scaling: query time of exact, IVF (``nlist = sqrt(n)``, fixed ``nprobe``) and HNSW (fixed
   ``ef_search``) on the first 10,000, 100,000 and 1,000,000 items;
3. why not random vectors: the same indexes on a random Gaussian catalog;
4. what a notebook-sized version costs, step by step.

Every faiss call and the NumPy matrix products use the same number of threads (``--threads``,
default 2, set with ``faiss.omp_set_num_threads`` and threadpoolctl for the call).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contention import Contention
from report import emit

import recutils
from recutils import vector_search as vs

K = 10
SPREAD = 0.5
SEED = 0
#: Search timings repeat until they add up to this many seconds (fast searches are noisy).
MIN_TIMED_SECONDS = 0.5


def timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def timed_search(function: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds per call of ``function`` (repeated up to :data:`MIN_TIMED_SECONDS`), result."""
    seconds, result = timed(function)
    total, calls = seconds, 1
    while total < MIN_TIMED_SECONDS and calls < 50:
        total += timed(function)[0]
        calls += 1
    return total / calls, result


def shop_vectors() -> np.ndarray:
    from recutils.datasets import load
    from recutils.text import encode_texts, item_texts

    return encode_texts(item_texts(load("shop").items))


def reduced(base: np.ndarray, dims: int) -> tuple[float, np.ndarray]:
    """PCA of the base vectors to ``dims`` (fitted on them), rows renormalised; and seconds."""
    from sklearn.decomposition import PCA

    start = time.perf_counter()
    if dims == base.shape[1]:
        return 0.0, base
    projected = PCA(dims, random_state=SEED).fit_transform(base).astype(np.float32)
    projected /= np.linalg.norm(projected, axis=1, keepdims=True)
    return time.perf_counter() - start, projected


def megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.0f}"


def method_table(
    catalog: np.ndarray, queries: np.ndarray, threads: int
) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """Rows of table 1 for one catalog, and every step's (seconds, recall@10) by name."""
    n_items, dims = catalog.shape
    n_queries = len(queries)
    rows: list[tuple[str, str, str, float, float, int]] = []
    results: dict[str, tuple[float, float]] = {}

    exact_s, (true_ids, _) = timed(vs.exact_search, catalog, queries, K, threads=threads)
    results["exact search"] = (exact_s, 1.0)
    rows.append(("exact NumPy, chunked (reference)", "", "-", exact_s, 1.0, catalog.nbytes))

    def add_rows(name: str, label: str, build: Callable[[], Any], knob: str, values: list) -> None:
        build_s, index = timed(build)
        results[f"{name} build"] = (build_s, float("nan"))
        memory = vs.index_memory_bytes(index)
        for position, value in enumerate(values):
            knobs = {knob: value} if knob else {}
            seconds, (ids, _) = timed_search(
                lambda knobs=knobs: vs.search(index, queries, K, threads=threads, **knobs)
            )
            recall = vs.recall_at_k(ids, true_ids)
            shown = f"{knob}={value}" if knob else ""
            results[f"{name} search {shown}".strip()] = (seconds, recall)
            build_cell = f"{build_s:.1f}" if position == 0 else '"'
            rows.append((label, shown, build_cell, seconds, recall, memory))

    nlist = round(float(np.sqrt(n_items)))
    add_rows("flat", "faiss flat", lambda: vs.flat_index(catalog, threads=threads), "", [None])
    add_rows(
        "IVF",
        f"IVF-Flat, nlist={nlist}",
        lambda: vs.ivf_index(catalog, nlist=nlist, seed=SEED, threads=threads),
        "nprobe",
        [1, 4, 16, 64],
    )
    add_rows(
        "HNSW",
        "HNSW, m=32, ef_construction=40",
        lambda: vs.hnsw_index(catalog, m=32, ef_construction=40, threads=threads),
        "ef_search",
        [16, 32, 64, 128],
    )
    pq_m = dims // 8
    add_rows(
        "IVF-PQ",
        f"IVF-PQ, nlist={nlist}, m={pq_m}, nbits=8",
        lambda: vs.ivf_pq_index(catalog, nlist=nlist, m=pq_m, nbits=8, seed=SEED, threads=threads),
        "nprobe",
        [16, 64],
    )
    lines = [
        "| method | search knob | build s | queries / s | recall@10 | memory MB |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label, knob, build_cell, seconds, recall, memory in rows:
        lines.append(
            f"| {label} | {knob} | {build_cell} | {n_queries / seconds:,.0f} | {recall:.3f} "
            f"| {megabytes(memory)} |"
        )
    return lines, results


def scaling_line(dims: int, n: int, n_queries: int, results: dict[str, tuple[float, float]]) -> str:
    """One row of table 2 from the named results of one catalog size."""
    ms = {name: 1000 * seconds / n_queries for name, (seconds, _) in results.items()}
    ivf, hnsw = "IVF search nprobe=16", "HNSW search ef_search=64"
    return (
        f"| {dims} | {n:,} | {ms['exact search']:.3f} | {ms['flat search']:.3f} "
        f"| {ms[ivf]:.3f} ({results[ivf][1]:.3f}) | {ms[hnsw]:.3f} ({results[hnsw][1]:.3f}) "
        f"| {results['IVF build'][0]:.1f} / {results['HNSW build'][0]:.1f} |"
    )


def scaling_results(
    catalog: np.ndarray, queries: np.ndarray, threads: int
) -> dict[str, tuple[float, float]]:
    """Seconds (and recall@10) of the steps of table 2 on ``catalog``."""
    n = len(catalog)
    results: dict[str, tuple[float, float]] = {}
    exact_s, (true_ids, _) = timed(vs.exact_search, catalog, queries, K, threads=threads)
    results["exact search"] = (exact_s, 1.0)
    flat = vs.flat_index(catalog, threads=threads)
    seconds, _ = timed_search(lambda index=flat: vs.search(index, queries, K, threads=threads))
    results["flat search"] = (seconds, 1.0)
    del flat
    nlist = round(float(np.sqrt(n)))
    seconds, ivf = timed(vs.ivf_index, catalog, nlist=nlist, seed=SEED, threads=threads)
    results["IVF build"] = (seconds, float("nan"))
    seconds, (ids, _) = timed_search(
        lambda index=ivf: vs.search(index, queries, K, nprobe=16, threads=threads)
    )
    results["IVF search nprobe=16"] = (seconds, vs.recall_at_k(ids, true_ids))
    del ivf
    seconds, hnsw = timed(vs.hnsw_index, catalog, m=32, ef_construction=40, threads=threads)
    results["HNSW build"] = (seconds, float("nan"))
    seconds, (ids, _) = timed_search(
        lambda index=hnsw: vs.search(index, queries, K, ef_search=64, threads=threads)
    )
    results["HNSW search ef_search=64"] = (seconds, vs.recall_at_k(ids, true_ids))
    return results


def random_catalog_rows(
    structured: np.ndarray, queries: np.ndarray, n: int, threads: int
) -> list[str]:
    """Table 3: the same searches on the generated catalog and on random unit vectors."""
    rng = np.random.default_rng(SEED)
    dims = structured.shape[1]

    def unit(array: np.ndarray) -> np.ndarray:
        return (array / np.linalg.norm(array, axis=1, keepdims=True)).astype(np.float32)

    catalogs = {
        "generated around the shop's vectors": (structured[:n], queries),
        "random Gaussian, renormalised": (
            unit(rng.standard_normal((n, dims), dtype=np.float32)),
            unit(rng.standard_normal((len(queries), dims), dtype=np.float32)),
        ),
    }
    lines = []
    nlist = round(float(np.sqrt(n)))
    for label, (catalog, query_vectors) in catalogs.items():
        true_ids, true_scores = vs.exact_search(catalog, query_vectors, 100, threads=threads)
        ivf = vs.ivf_index(catalog, nlist=nlist, seed=SEED, threads=threads)
        ivf_ids, _ = vs.search(ivf, query_vectors, K, nprobe=8, threads=threads)
        hnsw = vs.hnsw_index(catalog, m=32, ef_construction=40, threads=threads)
        hnsw_ids, _ = vs.search(hnsw, query_vectors, K, ef_search=64, threads=threads)
        first, tenth, hundredth = true_scores[:, [0, 9, 99]].mean(axis=0)
        lines.append(
            f"| {label} | {first:.3f} | {tenth:.3f} | {hundredth:.3f} "
            f"| {vs.recall_at_k(ivf_ids, true_ids[:, :K]):.3f} "
            f"| {vs.recall_at_k(hnsw_ids, true_ids[:, :K]):.3f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="catalog size")
    parser.add_argument("--queries", type=int, default=1000, help="queries (default 1000)")
    parser.add_argument("--dims", default="384,64", help="widths to run, comma-separated")
    parser.add_argument("--threads", type=int, default=2, help="faiss and BLAS threads")
    parser.add_argument("--output", type=Path, help="also write the Markdown tables here")
    args = parser.parse_args(argv)
    widths = [int(d) for d in args.dims.split(",")]
    sizes = [n for n in (10_000, 100_000) if n < args.items] + [args.items]

    recutils.setup(model_cache=False, seed=SEED)
    meter = Contention()
    load_s, base = timed(shop_vectors)
    sections: list[str] = []
    scaling: list[str] = []
    notebook: list[tuple[str, float]] = []
    random_lines: list[str] = []
    for dims in widths:
        pca_s, base_d = reduced(base, dims)
        generate_s, catalog = timed(
            vs.catalog_with_neighbours, base_d, args.items, spread=SPREAD, seed=SEED
        )
        queries = vs.generated_neighbours(base_d, args.queries, spread=SPREAD, seed=SEED + 1)
        table, results = method_table(catalog, queries, args.threads)
        sections += [
            f"### {args.items:,} items x {dims} dimensions ({catalog.nbytes / 2**30:.2f} GB "
            f"of float32), {args.queries:,} queries, recall of the true 10",
            "",
            f"Generating the catalog: {generate_s:.1f} s"
            + (f" (after PCA 384 -> {dims} of the shop vectors: {pca_s:.2f} s)." if pca_s else "."),
            "",
            *table,
            "",
        ]
        by_size = {n: scaling_results(catalog[:n], queries, args.threads) for n in sizes[:-1]}
        by_size[args.items] = results
        scaling += [scaling_line(dims, n, args.queries, part) for n, part in by_size.items()]
        if dims == min(widths):
            notebook = [
                (f"PCA 384 -> {dims} of the {len(base):,} shop vectors", pca_s),
                (f"generate the {args.items:,}-item catalog and the queries", generate_s),
            ]
            notebook += [(name, seconds) for name, (seconds, _) in results.items()]
            notebook += [
                (f"{name} at {n:,} items (m=32, ef_construction=40)", by_size[n][name][0])
                for n in sizes[:-1]
                for name in ("HNSW build",)
            ]
            random_lines = random_catalog_rows(catalog, queries, sizes[1], args.threads)
        del catalog

    import faiss
    import sklearn

    lines = [
        f"Catalog: the shop's {len(base):,} MiniLM item vectors plus generated neighbours "
        f"(`catalog_with_neighbours`, spread {SPREAD}), queries generated the same way with "
        "another seed (not in the catalog); true neighbours by `exact_search` in the same run.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; {args.threads} threads for "
        f"faiss (`faiss.omp_set_num_threads`) and BLAS; faiss {faiss.__version__}, numpy "
        f"{np.__version__}, scikit-learn {sklearn.__version__}. Loading the shop's vectors "
        f"(cached): {load_s:.1f} s.",
        meter.report(),
        "",
        "## 1. Recall against speed and memory",
        "",
        "Build s: seconds to build the index (one build per method; the rows below share it). "
        "Queries / s: all queries in one call. Memory: `index_memory_bytes` (the index as "
        "`faiss.write_index` writes it); for exact NumPy, the catalog itself.",
        "",
        *sections,
        "## 2. Scaling: milliseconds per query (recall@10 in brackets)",
        "",
        "On the first n items of the catalogs above (the same queries). IVF: nlist = sqrt(n), "
        "nprobe 16; HNSW: m 32, ef_construction 40, ef_search 64. The rows of the full size are "
        f"table 1's ({args.items:,} items). The last column: seconds to build each index.",
        "",
        "| dims | items | exact NumPy ms | faiss flat ms | IVF ms | HNSW ms | build s IVF / HNSW |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *scaling,
        "",
        f"## 3. Why not a random catalog ({sizes[1]:,} items x {min(widths)} dimensions)",
        "",
        "Mean cosine of each query's 1st, 10th and 100th true neighbour, and recall@10 of IVF "
        f"(nlist {round(float(np.sqrt(sizes[1])))}, nprobe 8) and HNSW (m 32, ef_search 64).",
        "",
        "| catalog | 1st | 10th | 100th | IVF recall@10 | HNSW recall@10 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *random_lines,
        "",
        f"## 4. What a notebook-sized version costs ({args.items:,} x {min(widths)}, "
        f"{args.queries:,} queries)",
        "",
        "| step | seconds |",
        "| --- | ---: |",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in notebook],
    ]
    text = "\n".join(lines)
    emit(text, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
