"""Tests of recutils.semantic_ids: residual k-means, collision tokens, tokens, the prefix trie."""

from __future__ import annotations

import doctest
import re
from itertools import pairwise, product

import numpy as np
import pytest

from recutils import semantic_ids as module
from recutils.semantic_ids import (
    InvalidSemanticId,
    PrefixTrie,
    SemanticIds,
    add_collision_suffix,
    normalized_rows,
    residual_kmeans,
    semantic_ids,
)


def _clustered_vectors(n: int = 60, dim: int = 8, seed: int = 0) -> np.ndarray:
    """Vectors around 6 well separated centres, with noise: structure at every scale."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, dim)) * 3
    return (centres[rng.integers(0, 6, n)] + rng.normal(size=(n, dim))).astype(np.float32)


VECTORS = _clustered_vectors()


def test_the_docstring_examples_hold() -> None:
    assert doctest.testmod(module).failed == 0


# --------------------------------------------------------------------------------------------
# Residual k-means
# --------------------------------------------------------------------------------------------


def test_residual_kmeans_is_deterministic_for_a_seed() -> None:
    codes, codebooks = residual_kmeans(VECTORS, levels=3, codebook_size=4, seed=7)
    again, again_books = residual_kmeans(VECTORS, levels=3, codebook_size=4, seed=7)
    np.testing.assert_array_equal(codes, again)
    np.testing.assert_array_equal(codebooks, again_books)
    assert codes.shape == (60, 3) and codes.dtype == np.int64
    assert codebooks.shape == (3, 4, 8) and codebooks.dtype == np.float32
    assert codes.min() >= 0 and codes.max() < 4


def test_residual_norms_shrink_level_by_level() -> None:
    codes, codebooks = residual_kmeans(VECTORS, levels=3, codebook_size=4, seed=0)
    residual = normalized_rows(VECTORS)
    norms = [np.linalg.norm(residual, axis=1).mean()]
    for level in range(3):
        residual = residual - codebooks[level][codes[:, level]]
        norms.append(np.linalg.norm(residual, axis=1).mean())
    assert norms[0] == pytest.approx(1.0)  # the rows are normalised first
    assert all(later < earlier for earlier, later in pairwise(norms))
    # each level's codes are the nearest centroid of the residual it clustered
    residual = normalized_rows(VECTORS)
    for level in range(3):
        distances = ((residual[:, None, :] - codebooks[level][None]) ** 2).sum(axis=-1)
        np.testing.assert_array_equal(codes[:, level], distances.argmin(axis=1))
        residual = residual - codebooks[level][codes[:, level]]


def test_the_scale_of_a_vector_does_not_change_its_codes() -> None:
    scaled = VECTORS * np.linspace(0.5, 3, 60, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(
        residual_kmeans(scaled, levels=2, codebook_size=3, seed=0)[0],
        residual_kmeans(VECTORS, levels=2, codebook_size=3, seed=0)[0],
    )


def test_residual_kmeans_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"codebook_size must be an integer from 2 to 60"):
        residual_kmeans(VECTORS, codebook_size=61)
    with pytest.raises(ValueError, match="codebook_size must be an integer from 2"):
        residual_kmeans(VECTORS, codebook_size=1)
    with pytest.raises(ValueError, match="levels must be a positive integer"):
        residual_kmeans(VECTORS, levels=0)
    with pytest.raises(ValueError, match="vectors must be a 2-D numeric"):
        residual_kmeans(VECTORS[0])
    with pytest.raises(ValueError, match=r"NaN or infinite values \(e.g. rows \[3\]\)"):
        residual_kmeans(np.where(np.arange(60)[:, None] == 3, np.nan, VECTORS))
    with pytest.raises(ValueError, match="needs at least 2 items"):
        residual_kmeans(VECTORS[:1], codebook_size=2)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        residual_kmeans(VECTORS, seed=-1)


# --------------------------------------------------------------------------------------------
# Collision tokens and IDs
# --------------------------------------------------------------------------------------------


def test_collision_suffix_numbers_the_items_of_each_group_in_item_order() -> None:
    codes = np.array([[1, 2], [0, 0], [1, 2], [3, 3], [1, 2], [0, 0]])
    full = add_collision_suffix(codes)
    np.testing.assert_array_equal(full[:, :2], codes)
    np.testing.assert_array_equal(full[:, 2], [0, 0, 1, 0, 2, 1])
    with pytest.raises(ValueError, match="2-D integer array"):
        add_collision_suffix([1, 2, 3])
    with pytest.raises(ValueError, match=">= 0"):
        add_collision_suffix([[-1, 0]])


def test_every_item_gets_a_unique_id_even_with_identical_vectors() -> None:
    vectors = np.vstack([VECTORS, VECTORS[:5], VECTORS[:5]])  # items 60..69 copy items 0..4
    ids = semantic_ids(vectors, levels=2, codebook_size=4, seed=0)
    assert ids.codes.shape == (70, 3) and ids.length == 3 and ids.n_items == 70
    assert np.unique(ids.codes, axis=0).shape[0] == 70
    assert ids.codebook_sizes[:2] == (4, 4)
    assert ids.codebook_sizes[2] == ids.codes[:, 2].max() + 1 >= 3  # three copies: 0, 1, 2
    for original in range(5):
        copies = [original, 60 + original, 65 + original]
        np.testing.assert_array_equal(ids.codes[copies, :2], ids.codes[[original] * 3, :2])
        assert list(ids.codes[copies, 2]) == sorted(ids.codes[copies, 2])  # in item order
    again = semantic_ids(vectors, levels=2, codebook_size=4, seed=0)
    np.testing.assert_array_equal(ids.codes, again.codes)


def test_tokens_are_offset_by_position_and_map_back_to_items() -> None:
    ids = semantic_ids(VECTORS, levels=3, codebook_size=4, seed=0)
    sizes = ids.codebook_sizes
    np.testing.assert_array_equal(ids.offsets, [0, 4, 8, 12])
    assert ids.vocab_size == sum(sizes) == 12 + sizes[3]
    tokens = ids.token_ids()
    np.testing.assert_array_equal(tokens, ids.codes + np.array([0, 4, 8, 12]))
    assert tokens.min() >= 0 and tokens.max() < ids.vocab_size
    # the same code at two positions is two tokens: the positions' tokens never overlap
    assert ids.codes[:, 0].tolist().count(1) and ids.codes[:, 1].tolist().count(1)
    columns = [set(tokens[:, position].tolist()) for position in range(4)]
    assert all(not columns[p] & columns[q] for p in range(4) for q in range(p + 1, 4))
    for position in range(4):
        column = tokens[:, position]
        assert column.min() >= ids.offsets[position]
        assert column.max() < ids.offsets[position] + sizes[position]
    assert [ids.item_of(row) for row in tokens] == list(range(60))
    np.testing.assert_array_equal(ids.items_of(tokens[::-1]), np.arange(60)[::-1])
    strings = ids.as_strings()
    assert len(strings) == len(set(strings)) == 60
    a, b, c, d = ids.codes[0]
    assert strings[0] == f"<a{a}><b{b}><c{c}><d{d}>"
    assert all(re.fullmatch(r"<a\d+><b\d+><c\d+><d\d+>", s) for s in strings)


def test_invalid_ids_are_refused_with_a_clear_message() -> None:
    ids = semantic_ids(VECTORS, levels=2, codebook_size=3, seed=0)
    tokens = ids.token_ids()
    with pytest.raises(InvalidSemanticId, match=r"token 2 at position 1 is outside .* 3\.\.5"):
        ids.item_of([tokens[0, 0], 2, tokens[0, 2]])
    unused = next(
        candidate
        for candidate in product(range(3), range(3, 6), range(6, 6 + ids.codebook_sizes[2]))
        if candidate not in {tuple(row) for row in tokens.tolist()}
    )
    with pytest.raises(KeyError, match="not the semantic ID of any item"):  # a KeyError
        ids.item_of(list(unused))
    with pytest.raises(InvalidSemanticId, match="must be 3 integer token ids"):
        ids.item_of(tokens[0, :2])
    with pytest.raises(InvalidSemanticId) as refused:
        ids.item_of(list(unused))
    assert not str(refused.value).startswith("'")  # readable, not a quoted KeyError repr
    with pytest.raises(ValueError, match=r"must be an \(n, 3\) array"):
        ids.items_of(tokens[0])


def test_semantic_ids_refuse_inconsistent_codes() -> None:
    books = np.zeros((1, 2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="rows that are equal"):
        SemanticIds(np.array([[0, 0], [0, 0]]), (2, 1), books)
    with pytest.raises(ValueError, match=r"codes\[1, 1\] = 3 is outside 0\.\.1"):
        SemanticIds(np.array([[0, 0], [0, 3]]), (2, 2), books)
    with pytest.raises(ValueError, match="one positive size per code position"):
        SemanticIds(np.array([[0, 0], [0, 1]]), (2,), books)


# --------------------------------------------------------------------------------------------
# The prefix trie and constrained decoding
# --------------------------------------------------------------------------------------------


def test_allowed_next_lists_exactly_the_continuations_of_a_prefix() -> None:
    ids = semantic_ids(VECTORS, levels=2, codebook_size=3, seed=0)
    sequences = ids.token_ids()
    trie = ids.trie()
    assert trie.length == 3
    for depth in range(3):
        for prefix in trie.prefixes(depth).tolist():
            starts = (sequences[:, :depth] == prefix).all(axis=1)
            assert trie.allowed_next(prefix) == sorted(set(sequences[starts, depth].tolist()))
    assert trie.allowed_next(sequences[5]) == []  # a complete ID
    assert trie.is_complete(sequences[5]) and not trie.is_complete(sequences[5, :2])
    np.testing.assert_array_equal(trie.prefixes(3), np.unique(sequences, axis=0))
    with pytest.raises(InvalidSemanticId, match=r"prefix \[99\] starts no ID"):
        trie.allowed_next([99])
    with pytest.raises(InvalidSemanticId, match="starts no ID"):
        trie.allowed_next([*sequences[0].tolist(), 0])
    shifted = ids.trie(first_token=2)
    assert shifted.allowed_next([]) == [token + 2 for token in trie.allowed_next([])]


def test_the_generate_function_skips_the_start_token_and_ends_ids() -> None:
    trie = PrefixTrie([[2, 5, 9], [2, 6, 9], [3, 5, 10]])
    allowed = trie.prefix_allowed_tokens_fn(decoder_start_token_id=0, eos_token_id=1)
    assert allowed(0, np.array([0])) == [2, 3]
    assert allowed(0, np.array([0, 2])) == [5, 6]
    assert allowed(3, np.array([0, 3, 5])) == [10]
    assert allowed(0, np.array([0, 2, 6, 9])) == [1]  # complete: only the end
    assert allowed(0, np.array([0, 2, 6, 9, 1, 1])) == [1]  # finished rows are padded
    with_pad = trie.prefix_allowed_tokens_fn(0, 1, pad_token_id=0)
    assert with_pad(0, np.array([0, 2, 6, 9, 1])) == [0]
    with pytest.raises(ValueError, match="must begin with the decoder start token 0"):
        allowed(0, np.array([2, 5]))
    with pytest.raises(InvalidSemanticId, match="starts no ID"):
        allowed(0, np.array([0, 4]))


def test_prefix_trie_refuses_bad_sequences() -> None:
    with pytest.raises(ValueError, match=r"non-empty \(n, length\) integer array"):
        PrefixTrie([1, 2, 3])
    with pytest.raises(ValueError, match="integer array"):
        PrefixTrie([[0.5, 1.0]])
    with pytest.raises(ValueError, match="depth must be an integer from 0 to 2"):
        PrefixTrie([[1, 2]]).prefixes(3)
