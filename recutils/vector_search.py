"""Nearest neighbours of unit vectors: exact search (the reference) and faiss's approximate indexes.

Candidates for a home page or "similar items" are the catalog items whose vectors are closest
to a query vector. On unit vectors the inner product is the cosine, so the true neighbours of a
query ``q`` are

    top_k(q) = the k items i with the largest  s(q, i) = q . x_i   (ties: lower item number first)

:func:`exact_search` computes them with NumPy, one chunk of the catalog at a time, so memory
stays bounded whatever the catalog size: this is the reference, the "true neighbours". It
scores every item for every query, ``n_items * d`` multiply-adds per query, which grows with
the catalog. Approximate indexes look at a small part of the catalog instead, and trade a few
true neighbours for speed or memory; every knob that trades them is a named argument here:

* :func:`flat_index` -- faiss's own exact search (``IndexFlatIP``), no knobs: the speed of an
  optimised brute force.
* :func:`ivf_index` -- IVF-Flat: k-means cuts the catalog into ``nlist`` cells; a query scores
  only the items of the ``nprobe`` cells whose centroids are closest (search knob). More
  ``nprobe``: higher recall, slower; ``nprobe = nlist`` is exact.
* :func:`hnsw_index` -- HNSW: a graph linking each item to about ``2 m`` close items (the first
  level; fewer on the upper levels), built with a candidate list of ``ef_construction``; a query
  walks the graph keeping ``ef_search`` candidates (search knob). More ``ef_search``: higher
  recall, slower. Memory: the vectors plus about ``2 m`` 4-byte links per item.
* :func:`ivf_pq_index` -- IVF-PQ: IVF whose items are stored as ``m`` bytes-sized codes (product
  quantisation, ``nbits`` bits per code) instead of ``d`` float32 numbers: far less memory, and
  scores that are approximations, so recall stops short of 1 even at ``nprobe = nlist``.

:func:`search` queries any of them and :func:`recall_at_k` says how many true neighbours it
found; :func:`index_memory_bytes` says how much memory the index holds.

Determinism: faiss runs its own OpenMP threads. Every function here that calls faiss takes
``threads`` (default: the torch thread count of :func:`recutils.setup`, 2 on a quiet machine,
1 when another program keeps a core busy) and sets faiss's threads
(``faiss.omp_set_num_threads``) and the BLAS threads to it for the call, then restores them. The
k-means of IVF starts from ``seed``; HNSW draws its levels from faiss's fixed internal seed. A
search answers each query on its own, so results do not depend on the thread count;
``tests/test_vector_search.py`` checks that indexes built with 1 and 2 threads answer the same.

Test catalogs: :func:`catalog_with_neighbours` grows real item vectors (the shop's MiniLM
vectors) into a catalog of any size by adding generated neighbours around them. A catalog of
random Gaussian vectors would be a poor test of approximate search: in high dimensions random
unit vectors are all almost orthogonal (cosines about ``0 +- 1/sqrt(d)``), so a query's "true"
10 neighbours are barely closer than its 10,000th, the k-means cells of IVF and the graph of HNSW
have no structure to exploit, and every method shows low recall for a reason that does not
exist in a shop (where the neighbours that matter are much closer than the rest); recall there
says nothing about recall on real vectors.

Example::

    >>> catalog = catalog_with_neighbours(shop_vectors, 100_000, spread=0.5, seed=0)
    >>> queries = generated_neighbours(shop_vectors, 1_000, spread=0.5, seed=1)
    >>> true_ids, _ = exact_search(catalog, queries, k=10)
    >>> index = ivf_index(catalog, nlist=256)
    >>> ids, scores = search(index, queries, k=10, nprobe=8)
    >>> recall_at_k(ids, true_ids)  # doctest: +SKIP
    0.97
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from recutils import checks, environment
from recutils.ranking import smallest_k

#: Scores held at once by :func:`exact_search` (a block of queries x a chunk of the catalog):
#: 2**24 float32 scores = 64 MB, plus the same again while selecting the chunk's top k.
SCORES_PER_CHUNK = 2**24
#: Queries scored together by :func:`exact_search` (a larger batch makes the catalog chunks
#: shorter, so the per-chunk overhead of selecting the top k grows).
QUERIES_PER_BLOCK = 1024
#: Rows checked at a time for finite values and unit length.
ROWS_PER_CHECK = 65_536
#: How far a vector's length may be from 1 and still count as a unit vector.
NORM_TOLERANCE = 1e-3
#: Index kinds built by :func:`build_index`, with the function that builds each.
INDEX_KINDS = ("flat", "ivf", "hnsw", "ivf_pq")
#: Training points per k-means centroid below which faiss's k-means is poor (faiss's own rule).
MIN_TRAINING_POINTS = 39


def _faiss() -> Any:
    import faiss

    return faiss


@functools.cache
def _blas_controller() -> Any:
    # Finding the loaded BLAS libraries is what makes threadpool_limits slow (about half a
    # millisecond a call, ten times a one-query IVF search): find them once, limit per call.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def _threads(threads: int | None) -> Iterator[int]:
    """Run a block with ``threads`` faiss (OpenMP) and BLAS threads, then restore both."""
    faiss = _faiss()
    wanted = (
        environment.configured_threads()[1]
        if threads is None
        else checks.positive_int(threads, "threads", "faiss and BLAS threads")
    )
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(wanted)
    try:
        with _blas_controller().limit(limits=wanted, user_api="blas"):
            yield wanted
    finally:
        faiss.omp_set_num_threads(previous)


def _matrix(vectors: Any, name: str, dims: int | None = None) -> np.ndarray:
    """``vectors`` as a 2-D numeric array (not copied, not yet checked row by row)."""
    if not isinstance(vectors, np.ndarray):
        try:
            vectors = np.asarray(vectors)
        except (TypeError, ValueError):
            vectors = np.asarray([])
    if vectors.ndim != 2 or 0 in vectors.shape or not np.issubdtype(vectors.dtype, np.number):
        raise ValueError(
            f"{name} must be a non-empty 2-D numeric (n, d) array, one unit vector per row, "
            f"got shape {vectors.shape} and dtype {vectors.dtype}"
        )
    if dims is not None and vectors.shape[1] != dims:
        raise ValueError(
            f"{name} has {vectors.shape[1]} dimensions but the catalog (index) has {dims}; "
            "queries and catalog must come from the same encoder (and the same reduction)"
        )
    return vectors


def _check_unit_rows(block: np.ndarray, name: str, first_row: int) -> None:
    """Raise ``ValueError`` if a row of ``block`` (rows ``first_row``...) is not a finite unit
    vector; one pass: a NaN or infinity makes the squared length non-finite."""
    lengths = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
    bad = np.flatnonzero(~np.isfinite(lengths))
    if bad.size:
        rows = [first_row + int(r) for r in bad[:3]]
        raise ValueError(
            f"{name} has row(s) with NaN or infinite values (e.g. rows {rows}); every item "
            "needs a finite vector"
        )
    bad = np.flatnonzero(np.abs(lengths - 1.0) > NORM_TOLERANCE)
    if bad.size:
        rows = [first_row + int(r) for r in bad[:3]]
        raise ValueError(
            f"{name} must hold unit vectors (length 1, so that the inner product is the "
            f"cosine), but row {rows[0]} has length {lengths[bad[0]]:.4g} (rows {rows} ...); "
            f"divide each row by its length: {name} / np.linalg.norm({name}, axis=1, "
            "keepdims=True) (a zero row cannot be normalised: drop it)"
        )


def unit_float32(vectors: Any, name: str = "vectors", dims: int | None = None) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 (n, d) array, checked: finite unit rows.

    No copy when ``vectors`` already is one. Checked :data:`ROWS_PER_CHECK` rows at a time, so a
    large catalog needs no second copy in memory. ``dims``: the width it must have.
    """
    matrix = _matrix(vectors, name, dims)
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    for start in range(0, matrix.shape[0], ROWS_PER_CHECK):
        _check_unit_rows(matrix[start : start + ROWS_PER_CHECK], name, start)
    return matrix


def _check_k(k: Any, n_items: int) -> int:
    k = checks.positive_int(k, "k", "neighbours per query")
    if k > n_items:
        raise ValueError(f"k must be at most the number of catalog items ({n_items}), got {k}")
    return k


def exact_search(
    catalog: Any,
    queries: Any,
    k: int,
    *,
    chunk_rows: int | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The true ``k`` nearest items of each query by cosine: ``s(q, i) = q . x_i``, best first.

    Scores one chunk of catalog rows at a time and keeps the best ``k`` so far, so memory is
    about ``queries x chunk_rows`` scores whatever the catalog size. Equal scores are ranked by
    item number, lower first (as everywhere in the course, :mod:`recutils.ranking`).

    Args:
        catalog: (n_items, d) unit vectors, one per item (float32; other numeric types are
            converted chunk by chunk).
        queries: (n_queries, d) unit vectors.
        k: neighbours per query, from 1 to n_items.
        chunk_rows: catalog rows scored at once; default as many as keep a block of queries
            times the chunk at :data:`SCORES_PER_CHUNK` scores. The result does not depend on it.
        threads: BLAS threads for the matrix products (default: :func:`recutils.setup`'s torch
            thread count, as for faiss).

    Returns:
        ``(ids, scores)``: int64 (n_queries, k) item numbers (rows of ``catalog``) and float32
        (n_queries, k) cosines, best first.

    Example:
        >>> catalog = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], dtype=np.float32)
        >>> exact_search(catalog, np.array([[0.0, 1.0]]), k=2)[0]
        array([[2, 1]])
    """
    catalog = _matrix(catalog, "catalog")
    n_items, dims = catalog.shape
    queries = unit_float32(queries, "queries", dims)
    k = _check_k(k, n_items)
    block = min(queries.shape[0], QUERIES_PER_BLOCK)
    if chunk_rows is None:
        chunk_rows = max(k, SCORES_PER_CHUNK // block)
    chunk_rows = checks.positive_int(chunk_rows, "chunk_rows", "catalog rows scored at once")
    n_queries = queries.shape[0]
    ids = np.empty((n_queries, k), dtype=np.int64)
    scores = np.empty((n_queries, k), dtype=np.float32)
    with _threads(threads):
        best_ids = [
            np.empty((min(block, n_queries - s), 0), np.int64) for s in range(0, n_queries, block)
        ]
        best_scores = [np.empty(b.shape, np.float32) for b in best_ids]
        for start in range(0, n_items, chunk_rows):
            chunk = np.ascontiguousarray(catalog[start : start + chunk_rows], dtype=np.float32)
            _check_unit_rows(chunk, "catalog", start)
            for b, first in enumerate(range(0, n_queries, block)):
                chunk_scores = queries[first : first + block] @ chunk.T
                candidates = _chunk_candidates(chunk_scores, best_scores[b], k)
                if candidates is None:
                    continue
                # Merge with the best so far (earlier chunks: lower item numbers) by score,
                # then item number.
                merged_ids = np.concatenate([best_ids[b], candidates[0] + start], axis=1)
                merged_scores = np.concatenate([best_scores[b], candidates[1]], axis=1)
                order = np.lexsort((merged_ids, -merged_scores), axis=1)[:, :k]
                best_ids[b] = np.take_along_axis(merged_ids, order, axis=1)
                best_scores[b] = np.take_along_axis(merged_scores, order, axis=1)
        for b, first in enumerate(range(0, n_queries, block)):
            ids[first : first + block] = best_ids[b]
            scores[first : first + block] = best_scores[b]
    return ids, scores


def _chunk_candidates(
    chunk_scores: np.ndarray, best_scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The items of a chunk that may enter the best ``k`` so far: (columns, scores), or None.

    Once every query has ``k`` items, only scores strictly above its current k-th best can
    enter (an equal score loses the tie: this chunk's items have higher numbers), and after the
    first chunks these are few: the rows are padded to the most any query has (with ``-inf``),
    which is much cheaper than selecting the chunk's top ``k`` of every row. Otherwise (the
    first chunk, or many candidates): the chunk's top ``k`` per row, ties by lower column.
    """
    n_rows, n_columns = chunk_scores.shape
    kept = min(k, n_columns)
    if best_scores.shape[1] == k:
        above = chunk_scores > best_scores[:, -1:]
        rows, columns = np.nonzero(above)
        if rows.size == 0:
            return None
        per_row = np.bincount(rows, minlength=n_rows)
        widest = int(per_row.max())
        if widest <= max(4 * k, n_columns // 16):
            place = np.arange(rows.size) - np.repeat(np.cumsum(per_row) - per_row, per_row)
            padded_columns = np.zeros((n_rows, widest), dtype=np.int64)
            padded_scores = np.full((n_rows, widest), -np.inf, dtype=np.float32)
            padded_columns[rows, place] = columns
            padded_scores[rows, place] = chunk_scores[rows, columns]
            return padded_columns, padded_scores
    top = smallest_k(np.negative(chunk_scores), kept)  # ties: lower column first
    return top, np.take_along_axis(chunk_scores, top, axis=1)


def recall_at_k(found_ids: Any, true_ids: Any) -> float:
    """Share of the true neighbours that a search found, averaged over queries.

    ``recall@k = mean over queries q of |found(q) & true(q)| / k``, where ``true(q)`` are the
    ``k`` true neighbours (a row of ``true_ids``, e.g. from :func:`exact_search`) and
    ``found(q)`` the items an approximate search returned (any number of columns; ``-1`` = an
    empty slot, found nothing). An item found twice counts once.

    Example:
        >>> recall_at_k([[1, 2, 3], [4, 5, -1]], [[3, 2, 9], [4, 6, 7]])  # (2/3 + 1/3) / 2
        0.5
    """
    found = np.asarray(found_ids)
    true = np.asarray(true_ids)
    for name, array in (("found_ids", found), ("true_ids", true)):
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"{name} must be a 2-D integer (n_queries, k) array of item numbers, got "
                f"shape {array.shape} and dtype {array.dtype}"
            )
    if found.shape[0] != true.shape[0] or true.shape[0] == 0:
        raise ValueError(
            f"found_ids has {found.shape[0]} rows and true_ids {true.shape[0]}; both need one "
            "row per query, in the same order (and at least one query)"
        )
    if true.shape[1] == 0:
        raise ValueError("true_ids has no columns; pass the k true neighbours of each query")
    if (true < 0).any():
        raise ValueError(
            "true_ids holds negative item numbers (-1 = an empty slot); the true neighbours "
            "must be k real items of each query (k at most the catalog size)"
        )
    hits = (true[:, :, None] == found[:, None, :]).any(axis=2)  # (n_queries, k) true id found?
    return float(hits.mean())


# --- faiss indexes -------------------------------------------------------------------------


def _set_clustering(
    parameters: Any, seed: int, max_points: int, n_points: int, n_centroids: int, what: str
) -> None:
    """Seed faiss's k-means; warn (as a Python warning, not faiss's own print on stderr) when
    there are fewer than :data:`MIN_TRAINING_POINTS` training points per centroid."""
    parameters.seed = seed
    parameters.max_points_per_centroid = max_points
    if n_points < MIN_TRAINING_POINTS * n_centroids:
        warnings.warn(
            f"{what}: {n_points} training vectors for {n_centroids} centroids; k-means needs "
            f"at least {MIN_TRAINING_POINTS} per centroid to place them well (use fewer "
            "centroids or more items)",
            UserWarning,
            stacklevel=checks.stacklevel_outside_recutils(),
        )
    parameters.min_points_per_centroid = 1  # warned above; faiss would print to stderr


def _add_in_chunks(index: Any, catalog: np.ndarray) -> None:
    for start in range(0, catalog.shape[0], ROWS_PER_CHECK * 4):
        index.add(catalog[start : start + ROWS_PER_CHECK * 4])


def flat_index(catalog: Any, *, threads: int | None = None) -> Any:
    """faiss's exact search by inner product (``faiss.IndexFlatIP``): the vectors, as they are.

    Args:
        catalog: (n_items, d) unit vectors.
        threads: faiss and BLAS threads while building (see the module docstring).

    Returns:
        A ``faiss.IndexFlatIP`` holding the catalog; query it with :func:`search`.
    """
    catalog = unit_float32(catalog, "catalog")
    with _threads(threads):
        index = _faiss().IndexFlatIP(catalog.shape[1])
        _add_in_chunks(index, catalog)
    return index


def _check_nlist(nlist: Any, n_items: int) -> int:
    nlist = checks.positive_int(nlist, "nlist", "k-means cells of the IVF index")
    if nlist > n_items:
        raise ValueError(
            f"nlist must be at most the number of catalog items ({n_items}), got {nlist}; "
            "a usual choice is between sqrt(n_items) and 16 * sqrt(n_items)"
        )
    return nlist


def ivf_index(
    catalog: Any,
    *,
    nlist: int,
    seed: int = 0,
    max_training_points: int = 256,
    threads: int | None = None,
) -> Any:
    """IVF-Flat: the catalog cut into ``nlist`` k-means cells; a search scores ``nprobe`` cells.

    Training runs faiss's k-means (10 iterations, inner product) on at most
    ``max_training_points * nlist`` catalog vectors drawn with ``seed``; every item is then
    stored, as it is, in the list of its closest centroid. A search compares the query with the
    ``nlist`` centroids and scores the items of the ``nprobe`` best cells (about
    ``nprobe / nlist`` of the catalog).

    Args:
        catalog: (n_items, d) unit vectors.
        nlist: number of cells, from 1 to n_items. More cells: each holds fewer items, so a
            search at the same ``nprobe`` is faster but misses more neighbours that sit just
            across a cell's border. A usual choice is between ``sqrt(n)`` and ``16 sqrt(n)``.
        seed: seed of k-means (its sample of training points and its starting centroids).
        max_training_points: training vectors per cell (faiss's default, 256); more costs
            training time for little gain.
        threads: faiss and BLAS threads while building (see the module docstring).

    Returns:
        A ``faiss.IndexIVFFlat`` (inner product); query it with :func:`search` and ``nprobe``.
    """
    faiss = _faiss()
    catalog = unit_float32(catalog, "catalog")
    nlist = _check_nlist(nlist, catalog.shape[0])
    seed = checks.seed(seed)
    max_training_points = checks.positive_int(max_training_points, "max_training_points")
    with _threads(threads):
        quantizer = faiss.IndexFlatIP(catalog.shape[1])
        index = faiss.IndexIVFFlat(quantizer, catalog.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        _set_clustering(index.cp, seed, max_training_points, len(catalog), nlist, "IVF cells")
        index.train(catalog)
        _add_in_chunks(index, catalog)
    return index


def ivf_pq_index(
    catalog: Any,
    *,
    nlist: int,
    m: int,
    nbits: int = 8,
    seed: int = 0,
    max_training_points: int = 256,
    threads: int | None = None,
) -> Any:
    """IVF-PQ: IVF cells whose items are stored as ``m`` product-quantisation codes.

    Each item's difference from its cell's centroid is cut into ``m`` pieces of ``d / m``
    numbers; each piece is replaced by the nearest of ``2**nbits`` learned prototypes and stored
    as its number. An item takes ``m * nbits / 8`` bytes instead of ``4 d``; scores are computed
    from the prototypes, so they are approximate (recall stays below 1 even when every cell is
    searched).

    Args:
        catalog: (n_items, d) unit vectors.
        nlist: number of cells, as in :func:`ivf_index`.
        m: codes per item; must divide d (e.g. 8, 16, 32, 48 for d = 384).
        nbits: bits per code, 1 to 16 (8: 256 prototypes per piece, one byte per code).
        seed: seed of both k-means (cells and prototypes).
        max_training_points: training vectors per cell and per prototype.
        threads: faiss and BLAS threads while building.

    Returns:
        A ``faiss.IndexIVFPQ`` (inner product); query it with :func:`search` and ``nprobe``.
    """
    faiss = _faiss()
    catalog = unit_float32(catalog, "catalog")
    n_items, dims = catalog.shape
    nlist = _check_nlist(nlist, n_items)
    m = checks.positive_int(m, "m", "product-quantisation codes per item")
    if dims % m:
        divisors = [x for x in range(1, dims + 1) if dims % x == 0 and x <= 96]
        raise ValueError(f"m must divide the vector width {dims}, got {m}; e.g. one of {divisors}")
    nbits = checks.integer(nbits, "nbits", "bits per code", minimum=1, maximum=16)
    seed = checks.seed(seed)
    max_training_points = checks.positive_int(max_training_points, "max_training_points")
    with _threads(threads):
        quantizer = faiss.IndexFlatIP(dims)
        index = faiss.IndexIVFPQ(quantizer, dims, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        _set_clustering(index.cp, seed, max_training_points, n_items, nlist, "IVF cells")
        _set_clustering(index.pq.cp, seed, max_training_points, n_items, 2**nbits, "PQ prototypes")
        index.train(catalog)
        _add_in_chunks(index, catalog)
    return index


def hnsw_index(
    catalog: Any,
    *,
    m: int = 32,
    ef_construction: int = 40,
    threads: int | None = None,
) -> Any:
    """HNSW: a layered graph of close items; a search walks it from the top layer down.

    Items are added one by one; each is linked to up to ``m`` close items found by a search of
    the graph so far that keeps ``ef_construction`` candidates (``2 m`` links on the bottom
    layer, which holds every item; a few items also sit on upper, sparser layers, drawn at
    random with faiss's fixed seed). The vectors are stored as they are.

    Args:
        catalog: (n_items, d) unit vectors.
        m: links per item (faiss's ``M``), 2 or more. More: higher recall at the same
            ``ef_search``, more memory (``2 m`` 4-byte links per item) and a slower build.
        ef_construction: candidates kept while linking a new item, at least 1. More: a better
            graph (higher recall later), a slower build.
        threads: faiss threads while building.

    Returns:
        A ``faiss.IndexHNSWFlat`` (inner product); query it with :func:`search` and
        ``ef_search``.
    """
    faiss = _faiss()
    catalog = unit_float32(catalog, "catalog")
    m = checks.integer(m, "m", "links per item in the HNSW graph", minimum=2)
    ef_construction = checks.positive_int(
        ef_construction, "ef_construction", "candidates kept while building the graph"
    )
    with _threads(threads):
        index = faiss.IndexHNSWFlat(catalog.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        _add_in_chunks(index, catalog)
    return index


#: The builder of each index kind (for loops over kinds, e.g. ``bench/ann_bench.py``).
INDEX_BUILDERS: dict[str, Callable[..., Any]] = {
    "flat": flat_index,
    "ivf": ivf_index,
    "hnsw": hnsw_index,
    "ivf_pq": ivf_pq_index,
}


def build_index(catalog: Any, kind: str, **knobs: Any) -> Any:
    """Build a faiss index of ``kind`` (one of :data:`INDEX_KINDS`) with its named ``knobs``.

    ``build_index(catalog, "ivf", nlist=1024)`` is ``ivf_index(catalog, nlist=1024)``; see
    :func:`flat_index`, :func:`ivf_index`, :func:`hnsw_index`, :func:`ivf_pq_index` for the knobs.
    """
    kind = checks.one_of(kind, "kind", INDEX_KINDS, "the kind of faiss index")
    return INDEX_BUILDERS[kind](catalog, **knobs)


def index_kind(index: Any) -> str:
    """The kind of a faiss index built here: ``"flat"``, ``"ivf"``, ``"hnsw"`` or ``"ivf_pq"``."""
    faiss = _faiss()
    for kind, cls in (
        ("ivf_pq", faiss.IndexIVFPQ),
        ("ivf", faiss.IndexIVFFlat),
        ("hnsw", faiss.IndexHNSWFlat),
        ("flat", faiss.IndexFlat),
    ):
        if isinstance(index, cls):
            return kind
    raise TypeError(
        f"index must be a faiss index built by recutils.vector_search (flat, IVF, HNSW or "
        f"IVF-PQ), got {type(index).__name__}"
    )


def search(
    index: Any,
    queries: Any,
    k: int,
    *,
    nprobe: int | None = None,
    ef_search: int | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items of each query in a faiss ``index``, by inner product, best first.

    Args:
        index: built by :func:`flat_index`, :func:`ivf_index`, :func:`ivf_pq_index` or
            :func:`hnsw_index` (or :func:`build_index`).
        queries: (n_queries, d) unit vectors, d as in the index.
        k: items per query, from 1 to the number of items in the index.
        nprobe: IVF indexes only: cells searched, 1 to nlist (default 1, faiss's default).
        ef_search: HNSW only: candidates kept while walking the graph, at least 1 (default
            16, faiss's default).
        threads: faiss threads while searching (each query is answered on one thread, so the
            result does not depend on it).

    Returns:
        ``(ids, scores)``: int64 (n_queries, k) item numbers and float32 (n_queries, k) inner
        products. A slot the index could not fill (an IVF search whose cells hold fewer than
        ``k`` items) holds id ``-1`` and score ``-inf``; such slots come last.
    """
    faiss = _faiss()
    kind = index_kind(index)
    queries = unit_float32(queries, "queries", index.d)
    k = _check_k(k, index.ntotal)
    params = None
    if kind in ("ivf", "ivf_pq"):
        if ef_search is not None:
            raise ValueError(f"ef_search is a knob of HNSW indexes; this index is {kind}")
        nprobe = 1 if nprobe is None else nprobe
        nprobe = checks.integer(nprobe, "nprobe", "cells searched", minimum=1, maximum=index.nlist)
        params = faiss.SearchParametersIVF(nprobe=nprobe)
    elif kind == "hnsw":
        if nprobe is not None:
            raise ValueError(f"nprobe is a knob of IVF indexes; this index is {kind}")
        ef_search = 16 if ef_search is None else ef_search
        ef_search = checks.positive_int(ef_search, "ef_search", "candidates kept while searching")
        params = faiss.SearchParametersHNSW(efSearch=ef_search)
    elif nprobe is not None or ef_search is not None:
        raise ValueError("a flat index is exact and has no search knobs (nprobe, ef_search)")
    with _threads(threads):
        scores, ids = index.search(queries, k, params=params)
    ids = ids.astype(np.int64, copy=False)
    scores = scores.astype(np.float32, copy=False)
    scores[ids < 0] = -np.inf
    return ids, scores


def index_memory_bytes(index: Any) -> int:
    """Bytes of the index written out by ``faiss.write_index``: the vectors or codes, the
    item numbers, centroids and links it holds in memory (counted, not kept: no second copy)."""
    faiss = _faiss()
    index_kind(index)
    written = [0]

    def count(data: bytes) -> int:
        written[0] += len(data)
        return len(data)

    writer = faiss.PyCallbackIOWriter(count)
    faiss.write_index(index, writer)
    del writer  # flushes what is still buffered into count
    return written[0]


# --- generated catalogs ---------------------------------------------------------------------


def generated_neighbours(
    base_vectors: Any,
    n_items: int,
    *,
    spread: float,
    seed: int,
    between: int = 10,
) -> np.ndarray:
    """``n_items`` new unit vectors, each a noisy variant of a random base vector.

    For each new item: pick a base item ``a`` at random and one of its ``between`` nearest base
    items ``b`` (by cosine), a point ``p = a + t (b - a)`` with ``t`` uniform in [0, 1] on the
    segment between them, then add Gaussian noise of expected length ``spread`` and renormalise:

        x = (p + spread * z / sqrt(d)) / ||p + spread * z / sqrt(d)||,   z ~ N(0, I_d)

    So the new items fill the space around and between similar real items (a shop's variants
    and near-variants), keeping the catalog's cluster structure; ``between=0`` puts every new
    item around one base item (isolated clusters, easier for IVF). With ``between=0``, an item's
    cosine with its base item is about ``1 / sqrt(1 + spread**2)`` (0.89 at ``spread=0.5``).

    Args:
        base_vectors: (n_base, d) unit vectors, e.g. the shop's MiniLM item vectors.
        n_items: vectors to generate (0 allowed).
        spread: length of the noise, >= 0, relative to the unit vectors.
        seed: fixes the draws.
        between: how many nearest base items a new item may lie towards (0 to n_base - 1).

    Returns:
        float32 (n_items, d) unit vectors.
    """
    base = unit_float32(base_vectors, "base_vectors")
    n_items = checks.non_negative_int(n_items, "n_items", "vectors to generate")
    out = np.empty((n_items, base.shape[1]), dtype=np.float32)
    _fill_neighbours(out, base, spread=spread, seed=seed, between=between)
    return out


def catalog_with_neighbours(
    base_vectors: Any,
    n_items: int,
    *,
    spread: float,
    seed: int,
    between: int = 10,
) -> np.ndarray:
    """A catalog of ``n_items`` unit vectors: the base vectors first, then generated ones.

    Rows ``0 .. n_base - 1`` are ``base_vectors`` (as float32); the remaining
    ``n_items - n_base`` rows come from :func:`generated_neighbours` (same arguments).
    Written into one array (float32, ``n_items * d * 4`` bytes: 1.5 GB for 1,000,000 x 384,
    256 MB at 64 dimensions), with no second copy.

    Example:
        >>> catalog = catalog_with_neighbours(shop_vectors, 1_000_000, spread=0.5, seed=0)
        >>> catalog.shape  # doctest: +SKIP
        (1000000, 384)
    """
    base = unit_float32(base_vectors, "base_vectors")
    n_items = checks.positive_int(n_items, "n_items", "catalog size")
    if n_items < base.shape[0]:
        raise ValueError(
            f"n_items ({n_items}) must be at least the number of base vectors "
            f"({base.shape[0]}): the catalog starts with all of them"
        )
    out = np.empty((n_items, base.shape[1]), dtype=np.float32)
    out[: base.shape[0]] = base
    _fill_neighbours(out[base.shape[0] :], base, spread=spread, seed=seed, between=between)
    return out


def _fill_neighbours(
    out: np.ndarray, base: np.ndarray, *, spread: Any, seed: Any, between: Any
) -> None:
    """Write generated neighbours of ``base`` into ``out`` (see :func:`generated_neighbours`)."""
    spread = checks.non_negative_number(spread, "spread", "length of the noise")
    seed = checks.seed(seed)
    n_base, dims = base.shape
    between = checks.integer(
        between,
        "between",
        "nearest base items a new item may lie towards",
        minimum=0,
        maximum=n_base - 1,
    )
    rng = np.random.default_rng(seed)
    n_items = out.shape[0]
    parents = rng.integers(0, n_base, size=n_items)
    if between:
        near, _ = exact_search(base, base, between + 1, threads=1)
        # Drop each base item itself (usually first; anywhere, or absent, among duplicates).
        is_self = near == np.arange(n_base)[:, None]
        is_self[~is_self.any(axis=1), -1] = True
        near = near[~is_self].reshape(n_base, between)
        partners = near[parents, rng.integers(0, between, size=n_items)]
        steps = rng.random(n_items, dtype=np.float32)
    scale = np.float32(spread / np.sqrt(dims))
    for start in range(0, n_items, ROWS_PER_CHECK):
        stop = min(start + ROWS_PER_CHECK, n_items)
        block = rng.standard_normal((stop - start, dims), dtype=np.float32)
        block *= scale
        block += base[parents[start:stop]]
        if between:
            step = steps[start:stop, None]
            block += step * (base[partners[start:stop]] - base[parents[start:stop]])
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
