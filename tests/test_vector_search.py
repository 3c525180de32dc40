"""Exact and approximate nearest-neighbour search (recutils.vector_search), on small catalogs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recutils import vector_search as vs


def unit_rows(array: np.ndarray) -> np.ndarray:
    return (array / np.linalg.norm(array, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def base() -> np.ndarray:
    """200 'real' items in 32 dimensions: 20 topics of 10 items each."""
    rng = np.random.default_rng(7)
    topics = rng.standard_normal((20, 32))
    return unit_rows(np.repeat(topics, 10, axis=0) + 0.4 * rng.standard_normal((200, 32)))


@pytest.fixture(scope="module")
def catalog(base: np.ndarray) -> np.ndarray:
    return vs.catalog_with_neighbours(base, 3000, spread=0.5, seed=0)


@pytest.fixture(scope="module")
def queries(base: np.ndarray) -> np.ndarray:
    return vs.generated_neighbours(base, 100, spread=0.5, seed=1)


@pytest.fixture(scope="module")
def truth(catalog: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return vs.exact_search(catalog, queries, k=10)


def brute_force(catalog: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Every score, then a stable sort of the negated scores (ties: lower item first)."""
    return np.argsort(-(queries @ catalog.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 10, 999, 1000, 1001, 5000])
def test_exact_search_agrees_with_a_full_sort_at_any_chunk_size(catalog, queries, chunk_rows):
    ids, scores = vs.exact_search(catalog, queries, k=10, chunk_rows=chunk_rows)
    np.testing.assert_array_equal(ids, brute_force(catalog, queries, 10))
    assert ids.dtype == np.int64 and scores.dtype == np.float32 and ids.shape == (100, 10)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ catalog.T, ids, 1), atol=1e-6)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_exact_search_breaks_ties_by_item_number_across_chunks():
    # Exact scores in binary: 1, 0.8, 0.6, 0; items 1, 4, 6 tie with 0.8 and fall in
    # different chunks of 3 rows.
    vectors = [[0.6, 0.8], [0.8, 0.6], [1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8], [0.8, 0.6]]
    catalog = np.array(vectors, dtype=np.float32)
    query = np.array([[1, 0]], dtype=np.float32)
    for chunk_rows in (1, 2, 3, 7):
        ids, scores = vs.exact_search(catalog, query, k=5, chunk_rows=chunk_rows)
        assert ids.tolist() == [[2, 1, 4, 6, 0]]
        np.testing.assert_allclose(scores, [[1, 0.8, 0.8, 0.8, 0.6]], rtol=1e-6)
    for chunk_rows in (1, 2, 7):  # the worst item still enters while fewer than k are known
        assert vs.exact_search(catalog, query, k=7, chunk_rows=chunk_rows)[0][0, -1] == 3
    assert vs.exact_search(catalog, query, k=3, threads=1)[0].tolist() == [[2, 1, 4]]


def test_recall_at_k_by_hand():
    assert vs.recall_at_k([[1, 2, 3], [4, 5, -1]], [[3, 2, 9], [4, 6, 7]]) == 0.5
    assert vs.recall_at_k([[3, 3, 3]], [[3, 2, 9]]) == pytest.approx(1 / 3)  # found once
    assert vs.recall_at_k(np.array([[9, 8, 7, 6]]), np.array([[6, 9]])) == 1.0  # wider list
    assert vs.recall_at_k([[0, 1]], [[2, 3]]) == 0.0


def test_flat_index_agrees_with_exact_search(catalog, queries, truth):
    ids, scores = vs.search(vs.flat_index(catalog), queries, k=10)
    assert vs.recall_at_k(ids, truth[0]) == 1.0
    np.testing.assert_allclose(scores, truth[1], atol=1e-5)


def test_ivf_searching_every_cell_is_exact(catalog, queries, truth):
    index = vs.build_index(catalog, "ivf", nlist=16, seed=0)
    ids, scores = vs.search(index, queries, k=10, nprobe=16)
    assert vs.recall_at_k(ids, truth[0]) == 1.0
    np.testing.assert_allclose(scores, truth[1], atol=1e-5)


def test_recall_grows_with_nprobe_and_ef_search(catalog, queries, truth):
    ivf = vs.ivf_index(catalog, nlist=32, seed=0)
    ivf_recall = [
        vs.recall_at_k(vs.search(ivf, queries, 10, nprobe=n)[0], truth[0]) for n in (1, 2, 4, 8)
    ]
    hnsw = vs.hnsw_index(catalog, m=8, ef_construction=16)
    hnsw_recall = [
        vs.recall_at_k(vs.search(hnsw, queries, 10, ef_search=e)[0], truth[0])
        for e in (1, 4, 16, 64)
    ]
    for recall in (ivf_recall, hnsw_recall):
        assert all(a <= b for a, b in itertools.pairwise(recall)), recall
        assert recall[0] < 0.95 and recall[-1] > recall[0]
    assert hnsw_recall[-1] > 0.95 and ivf_recall[-1] > 0.9


def test_ivf_pq_is_smaller_and_approximate(catalog, queries, truth):
    pq = vs.ivf_pq_index(catalog, nlist=8, m=8, nbits=4, seed=0, threads=1)
    ids, _ = vs.search(pq, queries, 10, nprobe=8)
    assert 0.2 < vs.recall_at_k(ids, truth[0]) < 1.0
    flat = vs.flat_index(catalog)
    assert vs.index_memory_bytes(pq) < vs.index_memory_bytes(flat) / 4
    assert vs.index_memory_bytes(flat) >= catalog.nbytes


def test_index_memory_bytes_is_the_serialised_size(catalog):
    import faiss

    index = vs.hnsw_index(catalog[:500], m=8)
    assert vs.index_memory_bytes(index) == len(faiss.serialize_index(index))


def test_builds_are_reproducible_and_independent_of_threads(catalog, queries):
    results = []
    for threads in (1, 2, 1):
        ivf = vs.ivf_index(catalog, nlist=32, seed=3, threads=threads)
        hnsw = vs.hnsw_index(catalog, m=8, threads=threads)
        results.append(
            (
                vs.search(ivf, queries, 10, nprobe=2, threads=threads),
                vs.search(hnsw, queries, 10, ef_search=16, threads=3 - threads),
            )
        )
    for other in results[1:]:
        for (ids, scores), (ids2, scores2) in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(ids, ids2)
            np.testing.assert_array_equal(scores, scores2)


def test_empty_slots_are_minus_one_and_minus_inf(base):
    with pytest.warns(UserWarning, match="200 training vectors for 20 centroids"):
        index = vs.ivf_index(base, nlist=20, seed=0)  # cells of about 10 items
    ids, scores = vs.search(index, base[:5], k=50, nprobe=1)
    assert (ids == -1).any() and np.isneginf(scores[ids == -1]).all()
    assert ((ids == -1) == np.isneginf(scores)).all()


def test_catalog_with_neighbours(base):
    catalog = vs.catalog_with_neighbours(base, 1000, spread=0.5, seed=0)
    again = vs.catalog_with_neighbours(base, 1000, spread=0.5, seed=0)
    assert catalog.shape == (1000, 32) and catalog.dtype == np.float32
    np.testing.assert_array_equal(catalog, again)
    np.testing.assert_array_equal(catalog[:200], base)
    np.testing.assert_allclose(np.linalg.norm(catalog, axis=1), 1, atol=1e-5)
    assert not np.array_equal(catalog, vs.catalog_with_neighbours(base, 1000, spread=0.5, seed=1))
    # Around one base item only: cosine with it is about 1 / sqrt(1 + spread**2) = 0.894.
    single = vs.generated_neighbours(base[:1], 2000, spread=0.5, seed=0, between=0)
    assert abs(float((single @ base[0]).mean()) - 1 / np.sqrt(1.25)) < 0.02
    # Generated items stay near the base: their best base cosine beats random vectors'.
    generated = catalog[200:]
    rng = np.random.default_rng(0)
    random = unit_rows(rng.standard_normal(generated.shape))
    assert (generated @ base.T).max(1).mean() > (random @ base.T).max(1).mean() + 0.3
    assert vs.generated_neighbours(base, 0, spread=0.5, seed=0).shape == (0, 32)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, q: vs.exact_search(c, q, k=0), "k must be a positive integer"),
        (lambda c, q: vs.exact_search(c, q, k=3001), "at most the number of catalog items"),
        (lambda c, q: vs.exact_search(c, q, k=2.5), "k must be a positive integer"),
        (lambda c, q: vs.exact_search(c, q[:, :16], k=5), "16 dimensions but the catalog"),
        (lambda c, q: vs.exact_search(c, q, k=5, chunk_rows=0), "chunk_rows must be"),
        (lambda c, q: vs.exact_search(c, q * 2, k=5), "must hold unit vectors"),
        (lambda c, q: vs.exact_search(c * 2, q, k=5), "catalog must hold unit vectors"),
        (lambda c, q: vs.exact_search(c, q[0], k=5), "2-D"),
        (lambda c, q: vs.flat_index(c[:, :0]), "non-empty 2-D"),
        (lambda c, q: vs.ivf_index(c, nlist=0), "nlist must be a positive integer"),
        (lambda c, q: vs.ivf_index(c[:10], nlist=20), "nlist must be at most"),
        (lambda c, q: vs.ivf_pq_index(c, nlist=4, m=5), "m must divide the vector width 32"),
        (lambda c, q: vs.hnsw_index(c, m=1), "m must be an integer >= 2"),
        (lambda c, q: vs.build_index(c, "lsh"), "kind must be one of"),
        (lambda c, q: vs.search(vs.flat_index(c), q[:, :8], 5), "8 dimensions"),
        (lambda c, q: vs.search(vs.flat_index(c), q, 5, nprobe=2), "no search knobs"),
        (lambda c, q: vs.search(vs.hnsw_index(c[:50]), q, 5, nprobe=2), "knob of IVF"),
        (lambda c, q: vs.search(vs.ivf_index(c, nlist=4), q, 5, nprobe=5), "nprobe must be"),
        (lambda c, q: vs.search(vs.ivf_index(c, nlist=4), q, 5, ef_search=5), "knob of HNSW"),
        (lambda c, q: vs.search(c, q, 5), "index must be a faiss index"),
        (lambda c, q: vs.recall_at_k([[1, 2]], [[1, 2], [3, 4]]), "one row per query"),
        (lambda c, q: vs.recall_at_k([[1, 2]], [[1, -1]]), "negative item numbers"),
        (lambda c, q: vs.recall_at_k([[1.0, 2.0]], [[1, 2]]), "integer"),
        (lambda c, q: vs.catalog_with_neighbours(c, 10, spread=0.5, seed=0), "at least the"),
        (lambda c, q: vs.generated_neighbours(c, 10, spread=-1, seed=0), "spread must be"),
        (lambda c, q: vs.generated_neighbours(c[:3], 10, spread=0, seed=0), "between must be"),
    ],
)
def test_bad_input_gives_a_clear_error(catalog, queries, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(catalog, queries)


def test_non_finite_and_zero_vectors_are_named(catalog, queries):
    broken = catalog.copy()
    broken[1234, 5] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(e.g. rows \[1234\]\)"):
        vs.exact_search(broken, queries, k=5, chunk_rows=1000)
    with pytest.raises(ValueError, match="NaN or infinite"):
        vs.hnsw_index(broken)
    zero = queries.copy()
    zero[3] = 0
    with pytest.raises(ValueError, match="row 3 has length 0"):
        vs.search(vs.flat_index(catalog[:100]), zero, k=5)
