"""Semantic IDs: every item named by a few tokens that say what it is (TIGER, Rajput et al. 2023).

A generative recommender does not score items one by one: it *writes* the next item's name,
token by token, as a translation model writes a sentence. An item's number is a poor name
(item 17 and item 18 have nothing in common), so each item gets a **semantic ID**: a short
tuple of codes computed from its content vector, such that similar items share their first
codes. A model that learned "after a tent comes something starting with <a3>" can then write
any item under <a3>, also one it never saw bought.

**Residual k-means (RQ-KMeans).** With ``x_i`` the L2-normalised vector of item ``i`` and ``K``
the codebook size, level 1 clusters the vectors, and each next level clusters what the levels
before left unexplained (the residual)::

    r_i^0 = x_i
    c_i^l = argmin_k || r_i^(l-1) - C^l_k ||         C^l: (K, d) centroids of k-means on r^(l-1)
    r_i^l = r_i^(l-1) - C^l_(c_i^l)                  l = 1..levels

so ``x_i ~ C^1_(c^1) + C^2_(c^2) + ...``, coarse to fine, and ``||r^l||`` shrinks with ``l``.
TIGER learns the codebooks with an RQ-VAE (an autoencoder); k-means on the residuals is the
training-free version of the same idea, and what several later papers use.

**Collisions.** Two items can get the same ``levels`` codes (near-identical texts). As in
TIGER, a last token numbers the items of each such group ``0, 1, 2, ...`` in item order, so
every item has a unique ID of ``levels + 1`` tokens, e.g. ``<a12><b3><c40><d0>``.

**Tokens.** A language model needs one vocabulary: code ``c`` at position ``p`` is token
``offset_p + c`` with ``offset_p = K_1 + ... + K_(p-1)``, so ``<b5>`` and ``<a5>`` are
different tokens. :class:`PrefixTrie` holds the token sequences of all items; its
:meth:`PrefixTrie.prefix_allowed_tokens_fn` lets transformers' beam search write valid IDs
only (constrained decoding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from recutils import checks
from recutils.environment import DEFAULT_SEED

#: k-means restarts per level (scikit-learn's ``n_init``): the best of them is kept.
N_INIT = 3


# --------------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------------


def normalized_rows(vectors: Any, name: str = "vectors") -> np.ndarray:
    """``vectors`` checked (:func:`recutils.checks.dense_vectors`) as float32 rows of length 1
    (a zero row stays zero)."""
    array = checks.dense_vectors(vectors, name)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)


def residual_kmeans(
    vectors: Any,
    levels: int = 3,
    codebook_size: int = 32,
    seed: int = DEFAULT_SEED,
    n_init: int = N_INIT,
) -> tuple[np.ndarray, np.ndarray]:
    """Residual k-means codes of the rows of ``vectors`` (module docstring).

    Each level runs scikit-learn's ``KMeans(n_clusters=codebook_size, n_init=n_init,
    random_state=seed)`` on the residuals of the level before; the rows are L2-normalised
    first (float32).

    Args:
        vectors: (n, d) item vectors, e.g. ``encode_texts(item_texts(dataset.items))``.
        levels: how many codes per item (k-means rounds), >= 1.
        codebook_size: ``K``, clusters per level, from 2 to ``n``.
        seed: fixes the k-means initialisations: the same input gives the same codes.
        n_init: k-means runs per level with different initialisations (the best is kept).

    Returns:
        ``(codes, codebooks)``: int64 (n, levels), ``codes[i, l]`` in ``0..K-1``; float32
        (levels, K, d), ``codebooks[l, k]`` the centroid ``C^(l+1)_k``. The sum of the chosen
        centroids approximates each normalised row.

    Example:
        >>> points = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], dtype=np.float32)
        >>> codes, codebooks = residual_kmeans(points, levels=2, codebook_size=2, seed=0)
        >>> codes.shape, codebooks.shape
        ((4, 2), (2, 2, 2))
        >>> bool(codes[0, 0] == codes[1, 0] != codes[2, 0] == codes[3, 0])
        True
    """
    from sklearn.cluster import KMeans

    normalized = normalized_rows(vectors)
    n_rows = normalized.shape[0]
    levels = checks.positive_int(levels, "levels", "codes per item, one k-means round each")
    if n_rows < 2:
        raise ValueError(
            f"vectors has {n_rows} row; residual k-means needs at least 2 items to cluster"
        )
    codebook_size = checks.integer(
        codebook_size,
        "codebook_size",
        f"clusters per level; at most the number of vectors, {n_rows}",
        minimum=2,
        maximum=n_rows,
    )
    seed = checks.seed(seed)
    n_init = checks.positive_int(n_init, "n_init", "k-means runs per level")
    codes = np.zeros((n_rows, levels), dtype=np.int64)
    codebooks = np.zeros((levels, codebook_size, normalized.shape[1]), dtype=np.float32)
    residual = normalized.copy()
    for level in range(levels):
        kmeans = KMeans(n_clusters=codebook_size, n_init=n_init, random_state=seed)
        codes[:, level] = kmeans.fit_predict(residual)
        codebooks[level] = kmeans.cluster_centers_
        residual -= codebooks[level][codes[:, level]]
    return codes, codebooks


def add_collision_suffix(codes: Any) -> np.ndarray:
    """``codes`` with one more column that makes every row unique (TIGER's collision token).

    Rows with the same codes get ``0, 1, 2, ...`` in row (item) order; a row whose codes no
    other row has gets ``0``.

    Args:
        codes: (n, levels) non-negative integers.

    Returns:
        int64 (n, levels + 1).

    Example:
        >>> add_collision_suffix([[1, 2], [0, 0], [1, 2], [1, 2]])[:, -1].tolist()
        [0, 0, 1, 2]
    """
    array = np.asarray(codes)
    if array.ndim != 2 or 0 in array.shape or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            "codes must be a non-empty 2-D integer array (one row of codes per item), got "
            f"dtype {array.dtype} and shape {array.shape}"
        )
    if (array < 0).any():
        raise ValueError("codes must be >= 0 (cluster numbers)")
    array = array.astype(np.int64)
    _, group = np.unique(array, axis=0, return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")  # items of one group together, in item order
    sizes = np.bincount(group)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])  # where each group starts in `order`
    suffix = np.empty(array.shape[0], dtype=np.int64)
    suffix[order] = np.arange(array.shape[0]) - first[group[order]]
    return np.column_stack([array, suffix])


# --------------------------------------------------------------------------------------------
# The IDs and their tokens
# --------------------------------------------------------------------------------------------


class InvalidSemanticId(KeyError):
    """A token sequence that is not the ID of any item (a ``KeyError``: a failed look-up)."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


def _position_name(position: int) -> str:
    return chr(ord("a") + position) if position < 26 else f"p{position}_"


@dataclass(frozen=True, eq=False)
class SemanticIds:
    """The semantic ID of every item: ``codes[i]`` = the ``length`` codes of item ``i``.

    Attributes:
        codes: int64 (n_items, length), unique rows; ``codes[i, p]`` in ``0..codebook_sizes[p]-1``.
        codebook_sizes: the number of codes at each position (the last is the collision
            token's: the largest group of items sharing all other codes).
        codebooks: float32 (length - 1, K, d), the k-means centroids of each level (the
            collision token has none).

    Build them with :func:`semantic_ids`.
    """

    codes: np.ndarray
    codebook_sizes: tuple[int, ...]
    codebooks: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.ndim != 2 or 0 in codes.shape or not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(
                f"codes must be a non-empty (n_items, length) integer array, got shape "
                f"{codes.shape} and dtype {codes.dtype}"
            )
        sizes = tuple(int(size) for size in self.codebook_sizes)
        if len(sizes) != codes.shape[1] or min(sizes) < 1:
            raise ValueError(
                f"codebook_sizes must give one positive size per code position "
                f"({codes.shape[1]}), got {self.codebook_sizes}"
            )
        outside = (codes < 0) | (codes >= np.asarray(sizes))
        if outside.any():
            row, position = (int(v[0]) for v in np.nonzero(outside))
            raise ValueError(
                f"codes[{row}, {position}] = {int(codes[row, position])} is outside "
                f"0..{sizes[position] - 1} (codebook_sizes[{position}] = {sizes[position]})"
            )
        if np.unique(codes, axis=0).shape[0] != codes.shape[0]:
            raise ValueError(
                "codes has rows that are equal: two items would share an ID; make them unique "
                "with add_collision_suffix"
            )
        object.__setattr__(self, "codes", codes.astype(np.int64))
        object.__setattr__(self, "codebook_sizes", sizes)
        object.__setattr__(self, "codebooks", np.asarray(self.codebooks, dtype=np.float32))

    @property
    def n_items(self) -> int:
        """Number of items (rows of ``codes``)."""
        return int(self.codes.shape[0])

    @property
    def length(self) -> int:
        """Tokens per ID (``levels + 1`` for IDs from :func:`semantic_ids`)."""
        return int(self.codes.shape[1])

    @property
    def offsets(self) -> np.ndarray:
        """int64 (length,): the token of code 0 at each position, ``K_1 + ... + K_(p-1)``."""
        return np.concatenate([[0], np.cumsum(self.codebook_sizes)[:-1]]).astype(np.int64)

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens, ``sum_p K_p``: tokens are ``0..vocab_size-1``."""
        return int(sum(self.codebook_sizes))

    def token_ids(self) -> np.ndarray:
        """int64 (n_items, length): token ``offsets[p] + codes[i, p]`` of each position."""
        return self.codes + self.offsets

    @cached_property
    def _item_by_tokens(self) -> dict[tuple[int, ...], int]:
        return {tuple(row): item for item, row in enumerate(self.token_ids().tolist())}

    def item_of(self, tokens: Any) -> int:
        """The item whose ID is the token sequence ``tokens`` (``length`` vocabulary ids).

        Raises:
            InvalidSemanticId: (a ``KeyError``) no item has this ID; the message says which
                token is out of its position's range, or that the combination is unused.
        """
        array = np.asarray(tokens)
        if array.shape != (self.length,) or not np.issubdtype(array.dtype, np.integer):
            raise InvalidSemanticId(
                f"tokens must be {self.length} integer token ids (one semantic ID), got "
                f"{array.tolist()!r}"
            )
        key = tuple(int(token) for token in array)
        item = self._item_by_tokens.get(key)
        if item is not None:
            return item
        low = self.offsets
        high = low + np.asarray(self.codebook_sizes)
        for position, token in enumerate(key):
            if not low[position] <= token < high[position]:
                raise InvalidSemanticId(
                    f"tokens {list(key)} is not a semantic ID: token {token} at position "
                    f"{position} is outside that position's tokens "
                    f"{int(low[position])}..{int(high[position]) - 1}"
                )
        raise InvalidSemanticId(
            f"tokens {list(key)} is not the semantic ID of any item (each token is valid at "
            f"its position, but no item has this combination); e.g. item 0 has "
            f"{self.token_ids()[0].tolist()}"
        )

    def items_of(self, tokens: Any) -> np.ndarray:
        """int64 (n,): :meth:`item_of` of each row of an (n, length) token array."""
        array = np.asarray(tokens)
        if array.ndim != 2:
            raise ValueError(
                f"tokens must be an (n, {self.length}) array of token ids, got shape {array.shape}"
            )
        return np.array([self.item_of(row) for row in array], dtype=np.int64)

    def as_strings(self) -> list[str]:
        """Readable IDs, one per item: position ``p`` gets a letter, e.g. ``<a12><b3><c40><d0>``."""
        names = [_position_name(position) for position in range(self.length)]
        return [
            "".join(f"<{name}{code}>" for name, code in zip(names, row, strict=True))
            for row in self.codes.tolist()
        ]

    def trie(self, first_token: int = 0) -> PrefixTrie:
        """A :class:`PrefixTrie` of every item's tokens, each token shifted by ``first_token``
        (the ids a model reserves for padding, end of sequence, ... come first)."""
        first_token = checks.non_negative_int(first_token, "first_token", "ids reserved before")
        return PrefixTrie(self.token_ids() + first_token)


def semantic_ids(
    vectors: Any,
    levels: int = 3,
    codebook_size: int = 32,
    seed: int = DEFAULT_SEED,
    n_init: int = N_INIT,
) -> SemanticIds:
    """The semantic ID of every item: :func:`residual_kmeans` codes plus the collision token.

    Args:
        vectors: (n_items, d) item vectors, one row per item in catalog order.
        levels, codebook_size, seed, n_init: as in :func:`residual_kmeans`.

    Returns:
        :class:`SemanticIds` with IDs of ``levels + 1`` tokens, unique per item.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> ids = semantic_ids(rng.normal(size=(6, 4)), levels=2, codebook_size=2, seed=0)
        >>> ids.codes.shape, ids.length, len(set(ids.as_strings()))
        ((6, 3), 3, 6)
    """
    codes, codebooks = residual_kmeans(vectors, levels, codebook_size, seed, n_init)
    full = add_collision_suffix(codes)
    sizes = (codebook_size,) * levels + (int(full[:, -1].max()) + 1,)
    return SemanticIds(full, sizes, codebooks)


# --------------------------------------------------------------------------------------------
# Constrained decoding
# --------------------------------------------------------------------------------------------


class PrefixTrie:
    """The token sequences of a set of IDs (all of one length), as a prefix tree.

    ``allowed_next(prefix)`` lists the tokens that continue ``prefix`` towards at least one
    ID: at the empty prefix, every first token in use; after a complete ID, nothing.

    Args:
        sequences: (n, length) integer tokens, one ID per row.

    Example:
        >>> trie = PrefixTrie([[2, 5, 9], [2, 6, 9], [3, 5, 9]])
        >>> trie.allowed_next([]), trie.allowed_next([2]), trie.allowed_next([2, 6, 9])
        ([2, 3], [5, 6], [])
    """

    def __init__(self, sequences: Any) -> None:
        array = np.asarray(sequences)
        if array.ndim != 2 or 0 in array.shape or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                "sequences must be a non-empty (n, length) integer array of token ids, got "
                f"shape {array.shape} and dtype {array.dtype}"
            )
        self.sequences = array.astype(np.int64)
        self.length = int(array.shape[1])
        children: dict[tuple[int, ...], set[int]] = {}
        for row in self.sequences.tolist():
            for depth in range(self.length):
                children.setdefault(tuple(row[:depth]), set()).add(row[depth])
        self._children = {prefix: sorted(tokens) for prefix, tokens in children.items()}

    def allowed_next(self, prefix: Sequence[int] | np.ndarray) -> list[int]:
        """The tokens that may follow ``prefix`` (sorted); ``[]`` after a complete ID.

        Raises:
            InvalidSemanticId: ``prefix`` starts no ID (or is longer than an ID).
        """
        key = tuple(int(token) for token in np.asarray(prefix, dtype=np.int64).ravel())
        allowed = self._children.get(key)
        if allowed is not None:
            return list(allowed)
        if len(key) == self.length and self.is_complete(key):
            return []
        raise InvalidSemanticId(
            f"prefix {list(key)} starts no ID: IDs have {self.length} tokens and their first "
            f"tokens are {self._children[()][:10]}{'...' if len(self._children[()]) > 10 else ''}"
        )

    def is_complete(self, tokens: Sequence[int] | np.ndarray) -> bool:
        """Whether ``tokens`` is one of the IDs."""
        key = tuple(int(token) for token in np.asarray(tokens, dtype=np.int64).ravel())
        if len(key) != self.length:
            return False
        return key[-1] in self._children.get(key[:-1], ())

    def prefixes(self, depth: int) -> np.ndarray:
        """int64 (n_prefixes, depth): the distinct first ``depth`` tokens of the IDs, sorted."""
        depth = checks.integer(depth, "depth", "tokens per prefix", minimum=0, maximum=self.length)
        return np.unique(self.sequences[:, :depth], axis=0)

    def prefix_allowed_tokens_fn(
        self, decoder_start_token_id: int, eos_token_id: int, pad_token_id: int | None = None
    ) -> Callable[[int, Any], list[int]]:
        """A function for transformers' ``generate(..., prefix_allowed_tokens_fn=...)``.

        ``generate`` calls it with the batch row and the decoder's tokens so far, which start
        with the decoder start token (not part of any ID). It returns the trie's allowed next
        tokens; after a complete ID only ``eos_token_id``; after the end, ``pad_token_id`` (a
        finished row is padded while the others go on).

        Args:
            decoder_start_token_id: the first decoder token (T5: the padding id).
            eos_token_id: the end-of-sequence token, allowed only after a complete ID.
            pad_token_id: what follows the end (default: ``eos_token_id``).
        """
        start = checks.non_negative_int(decoder_start_token_id, "decoder_start_token_id")
        eos = checks.non_negative_int(eos_token_id, "eos_token_id")
        pad = eos if pad_token_id is None else checks.non_negative_int(pad_token_id, "pad_token_id")

        def allowed(batch_id: int, input_ids: Any) -> list[int]:
            tokens = input_ids.tolist() if hasattr(input_ids, "tolist") else list(input_ids)
            if not tokens or tokens[0] != start:
                raise ValueError(
                    f"decoder tokens must begin with the decoder start token {start}, got "
                    f"{tokens[:5]}; pass the model's decoder_start_token_id"
                )
            written = tokens[1:]
            if eos in written:
                return [pad]
            if len(written) == self.length:
                return [eos]
            known = self._children.get(tuple(written))  # the fast path of allowed_next
            return list(known) if known is not None else self.allowed_next(written)

        return allowed
