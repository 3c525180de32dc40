"""Content-based recommendation: the post's formula 3.1 on item vectors.

Every item ``i`` has a vector ``v_i`` computed from its content, not from behaviour: a
pretrained text embedding (:func:`recutils.text.encode_texts`, dense, 384 numbers) or TF-IDF
term weights (:func:`tfidf_item_vectors`, sparse, one column per word or word pair). Items are
similar when their vectors point the same way (formula 3.1)::

    sim(i, j) = cos(v_i, v_j) = v_i . v_j / (||v_i|| ||v_j||)

A user is described by the items of their training row, and an item is recommended when it is
similar to them. Because no other user is needed, a product that nobody has bought yet (item
cold start) can be recommended as soon as it has a text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils import checks
from recutils.models.base import Recommender

#: Numbers per block of intermediate results (float32: ~16 MB).
_BLOCK_NUMBERS = 2**22
#: ``aggregate="max"`` keeps the (n_items, n_items) similarity matrix in memory up to this many
#: entries (float32: 256 MB, 8,192 items); for larger catalogs it recomputes similarities for
#: every batch of users, with bounded memory but more time.
_MAX_STORED_SIMILARITIES = 2**26

#: Default options of :func:`tfidf_item_vectors` (keyword arguments of scikit-learn's
#: ``TfidfVectorizer``); see that function for why each was chosen.
TFIDF_DEFAULTS: Mapping[str, Any] = {
    "lowercase": True,
    "strip_accents": "unicode",
    "ngram_range": (1, 2),
    "min_df": 1,
    "sublinear_tf": True,
    "dtype": np.float32,
}


def _as_item_vectors(item_vectors: Any) -> np.ndarray | sp.csr_matrix:
    """``item_vectors`` as float32 C-contiguous numpy or float32 CSR, checked (2-D, finite)."""
    if sp.issparse(item_vectors):
        vectors: np.ndarray | sp.csr_matrix = sp.csr_matrix(item_vectors, dtype=np.float32)
        values = vectors.data
    else:
        try:
            vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise TypeError(
                "item_vectors must be a numeric (n_items, d) numpy array or scipy.sparse "
                f"matrix, got {type(item_vectors).__name__} ({error})"
            ) from None
        values = vectors
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(
            "item_vectors must be a 2-D (n_items, d) array with at least one item and one "
            f"dimension, got shape {vectors.shape}"
        )
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise ValueError(
            f"item_vectors has {bad} NaN/inf value(s); every entry must be finite (give an item "
            "without content a zero row: its similarity to everything is then 0)"
        )
    return vectors


def unit_rows(vectors: np.ndarray | sp.csr_matrix) -> np.ndarray | sp.csr_matrix:
    """Each row divided by its L2 norm, ``u_i = v_i / ||v_i||``; zero rows stay zero.

    Args:
        vectors: (n, d) float32, dense or CSR.

    Returns:
        The same shape and kind (dense stays dense, sparse stays sparse, float32), so that
        ``u_i . u_j = cos(v_i, v_j)``, and ``0`` (not NaN) when either vector is zero.
    """
    if sp.issparse(vectors):
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def centred_unit_rows(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract the mean row, then scale each row to unit length: ``u_i = (v_i - m) / ||v_i - m||``.

    Pretrained sentence embeddings share a common direction (two unrelated products still have a
    clearly positive cosine); removing the catalog's mean ``m`` leaves what tells them apart.
    Queries (a user's statement, another text) must be centred with the same ``m``:
    ``unit_rows(query - m)``.

    Args:
        vectors: (n, d) dense float32 vectors, e.g. ``encode_texts(item_texts(items))``.

    Returns:
        ``(unit, centre)``: (n, d) float32 centred unit rows (a row equal to the mean stays
        zero) and the (d,) mean that was subtracted.

    Example:
        >>> unit, centre = centred_unit_rows(np.array([[1, 0], [0, 1]], dtype=np.float32))
        >>> unit.astype(float).round(3).tolist(), centre.tolist()
        ([[0.707, -0.707], [-0.707, 0.707]], [0.5, 0.5])
    """
    vectors = checks.dense_vectors(vectors, "vectors")
    centre = vectors.mean(axis=0)
    return unit_rows(vectors - centre), centre


class ContentBased(Recommender):
    """Recommend items whose content vectors resemble those of the user's items (formula 3.1).

    With ``u_i = v_i / ||v_i||`` the unit vector of item ``i`` (a zero vector stays zero) and
    ``w_uj`` the training weight of user ``u`` for item ``j`` (the matrix value: event weights
    and recency, see :func:`recutils.interactions.user_item_pairs` and
    :func:`recutils.interactions.recency_weighted`):

    * item-item similarity (``similar_items``): ``sim(i, j) = u_i . u_j = cos(v_i, v_j)``, in
      [-1, 1]; 0 when either vector is zero;
    * ``aggregate="profile"`` (default): the user's profile is the weighted mean of the unit
      vectors of their items, ``p_u = sum_j w_uj u_j / sum_j w_uj``, and
      ``score(u, i) = cos(p_u, v_i)``. The mean of the similarities,
      ``sum_j w_uj sim(j, i) / sum_j w_uj = p_u . u_i``, differs from this score only by the
      factor ``||p_u||``, the same for all items of a user: it ranks items identically, so it
      is not a separate option;
    * ``aggregate="max"``: ``score(u, i) = max over the user's items j of sim(j, i)`` (weights
      only select the items; their size is ignored). An item close to *one* of the user's
      items wins even if it is far from the rest: useful for users with several unrelated
      tastes, and what "because you bought X" lists show. The default ``"profile"`` was
      chosen on validation splits of Online Retail and the shop, where ``"max"`` helped only
      MiniLM vectors on Online Retail; the runs are in ``bench/results/tuning.md``.

    Tip: pretrained sentence embeddings share a common direction (two random shop products have
    cosine 0.24 with MiniLM), which pulls every profile towards the same "average product".
    Subtracting the mean item vector first, ``ContentBased(E - E.mean(axis=0))``, removed it
    and raised the profile's validation nDCG@10 on Online Retail and on the shop (the runs are
    in ``bench/results/tuning.md``; dense vectors only: centring a sparse matrix makes it
    dense).

    A user whose items all have zero vectors (no content) has no profile and, like a user
    without any training item, gets the training popularity of each item as scores.

    Side data of ``fit``:
        item_vectors: (n_items, d) vectors, row ``i`` for column ``i`` of the training matrix
            (the item order of :class:`recutils.interactions.IdIndex`, i.e. the catalog
            order). Dense (numpy, e.g. ``encode_texts(item_texts(items))``) or scipy.sparse
            (e.g. :func:`tfidf_item_vectors`); sparse vectors stay sparse. Any scale: rows are
            L2-normalised in ``fit``.

    Args:
        aggregate: ``"profile"`` or ``"max"``, see above.
        popularity_weight: ``w >= 0``; the score becomes ``score(u, i) + w log(1 + n_i)``
            with ``n_i`` the number of training users of item ``i``. Text similarity alone
            knows nothing of what sells: on the shop's new users (notebook 07) the profile
            alone ranked below popularity, and ``w = 0.3`` (chosen on held-out users) lifted it
            above. Default 0: the post's formula 3.1.
        center: subtract the catalog's mean vector before normalising (dense vectors only).
            Pretrained sentence embeddings share a common direction, so that unrelated products
            still have a clearly positive cosine; centring removes it. Default ``True``: it
            raised the validation nDCG@10 of MiniLM vectors on Online Retail and on the shop
            (the runs are in ``bench/results/tuning.md``). ``False`` gives the post's formula
            3.1 on the raw vectors.

    Cost, with ``n`` items, ``d`` dimensions, ``z`` nonzeros of sparse vectors, ``b`` users per
    batch and ``m`` their training items:

    * memory: the unit vectors, ``4 n d`` bytes dense (4,000 x 384: 6 MB) or about ``8 z``
      bytes sparse (shop TF-IDF: 2 MB); no (n, n) matrix unless ``aggregate="max"`` (below);
    * ``fit``: one pass over the vectors (normalisation), ``O(n d)``: a few milliseconds;
    * ``score`` of a batch, profile: the profiles ``(b, n) x (n, d)`` (sparse weights x
      vectors, ``O(m d)``), then one product ``(b, d) x (d, n)``, ``O(b d n)``: 1,000 users x
      4,000 items x 384 is 1.5 billion multiply-adds (sparse rows are multiplied in dense
      blocks of ~4M numbers); timings on the shop are in ``bench/results/tuning.md``;
    * ``score`` of a batch, max: the (n, n) similarity matrix ``U U^T`` is computed once
      (``O(n^2 d)``; 4,000 items: 64 MB) and kept while it has at most 2^26
      entries (8,192 items); then each user's rows are looked up and maximised, ``O(m n)``.
      For larger catalogs the similarities of the batch's ``m`` items are recomputed,
      ``O(m d n)`` per batch (about items-per-user times the work of the profile).

    Attributes set by ``fit`` (besides those of :class:`Recommender`):
        item_unit_: the L2-normalised item vectors, float32, dense or CSR like the input.
        item_has_content_: bool (n_items,), False for items whose vector is zero.
        item_similarity_: float32 (n_items, n_items) ``sim(j, i)`` (rows of items without
            content: ``-inf``), filled by the first ``aggregate="max"`` score; else None.
    """

    name = "content-based"
    side_data: ClassVar = {
        "item_vectors": "(n_items, d) dense or sparse vectors, one per column of train",
    }
    new_users = "own"  # no profile: the training popularity (with popularity_weight, its log)
    transient_attributes = ("item_similarity_",)  # aggregate="max" computes it on first use

    def __init__(
        self,
        aggregate: Literal["profile", "max"] = "profile",
        center: bool = True,
        popularity_weight: float = 0.0,
    ) -> None:
        self.aggregate = checks.one_of(aggregate, "aggregate", ("profile", "max"))
        self.center = checks.boolean(center, "center", "subtract the catalog's mean vector")
        self.popularity_weight = checks.non_negative_number(
            popularity_weight, "popularity_weight", "weight of log(1 + item popularity)"
        )

    def _fit(self, train: sp.csr_matrix, *, item_vectors: Any = None) -> None:
        if item_vectors is None:
            raise TypeError(
                "ContentBased.fit needs item_vectors=, one vector per item, e.g. "
                "fit(train, item_vectors=encode_texts(item_texts(dataset.items)))"
            )
        vectors = _as_item_vectors(item_vectors)
        self._check_item_rows(vectors.shape[0], "item_vectors")
        if self.center and not sp.issparse(vectors):
            # Pretrained sentence embeddings share a common direction (any two products have a
            # clearly positive cosine); removing the catalog's mean vector leaves what tells
            # products apart. Sparse TF-IDF vectors are left as they are (centring would make
            # them dense, and they have no such common direction).
            self.item_unit_, _ = centred_unit_rows(vectors)
        else:
            self.item_unit_ = unit_rows(vectors)
        self.item_has_content_ = ~_row_norms_zero(self.item_unit_)
        self.item_similarity_: np.ndarray | None = None  # aggregate="max" computes it once

    def _profiles(self, users: np.ndarray) -> np.ndarray | sp.csr_matrix:
        """(len(users), d) profiles ``p_u = sum_j w_uj u_j / sum_j w_uj`` (0 for cold users)."""
        weights = self.train_[users]
        totals = np.asarray(weights.sum(axis=1)).ravel()
        scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        return sp.diags(scale.astype(np.float32)) @ weights @ self.item_unit_

    def _dot_all(self, left: np.ndarray | sp.csr_matrix) -> np.ndarray:
        """``left @ item_unit_.T``: dense float32 (len(left), n_items).

        Sparse ``left`` rows are made dense in blocks of ~4M numbers and multiplied as
        sparse item vectors x dense block, which was faster than a sparse x sparse product
        (TF-IDF profiles have hundreds of nonzeros each; timings in ``bench/results/tuning.md``).
        """
        if not sp.issparse(left):
            return np.asarray(left @ self.item_unit_.T, dtype=np.float32)
        left = sp.csr_matrix(left)
        result = np.empty((left.shape[0], self.n_items_), dtype=np.float32)
        step = max(1, _BLOCK_NUMBERS // left.shape[1])
        for start in range(0, left.shape[0], step):
            block = left[start : start + step].toarray()
            result[start : start + step] = (self.item_unit_ @ block.T).T
        return result

    def _score(self, users: np.ndarray) -> np.ndarray:
        if self.aggregate == "max":
            scores = self._score_max(users)
        else:
            profiles = unit_rows(self._profiles(users))
            scores = self._dot_all(profiles)
            no_profile = _row_norms_zero(profiles)
            if no_profile.any():
                scores[no_profile] = self.popularity_
                if self.popularity_weight:
                    scores[no_profile] = 0.0  # the popularity term below ranks them
        if self.popularity_weight:
            scores += np.float32(self.popularity_weight) * np.log1p(self.popularity_)
        return scores

    def _score_max(self, users: np.ndarray) -> np.ndarray:
        """``max_j sim(j, i)`` over each user's training items, in blocks of ~4M similarities.

        The users' items are laid end to end (CSR order, so each user's items are adjacent);
        for each block of them the similarity rows are looked up in :attr:`item_similarity_`
        (or computed, for a catalog too large to store it), and ``np.maximum.reduceat`` takes
        the maximum over each user's rows of the block.
        """
        stored = self.n_items_**2 <= _MAX_STORED_SIMILARITIES
        if stored and self.item_similarity_ is None:
            similarity = self._dot_all(self.item_unit_)
            similarity[~self.item_has_content_] = -np.inf  # an item without content says nothing
            self.item_similarity_ = similarity
        rows = self.train_[users]
        items = rows.indices
        owner = np.repeat(np.arange(users.size), np.diff(rows.indptr))
        scores = np.full((users.size, self.n_items_), -np.inf, dtype=np.float32)
        step = max(1, _BLOCK_NUMBERS // self.n_items_)
        for start in range(0, items.size, step):
            block_items, owners = items[start : start + step], owner[start : start + step]
            if self.item_similarity_ is not None:
                similarity = self.item_similarity_[block_items]
            else:
                similarity = self._dot_all(self.item_unit_[block_items])
                similarity[~self.item_has_content_[block_items]] = -np.inf
            first = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            best = np.maximum.reduceat(similarity, first, axis=0)
            rows_of = owners[first]
            scores[rows_of] = np.maximum(scores[rows_of], best)
        no_content = np.isneginf(scores).all(axis=1)
        if no_content.any():
            scores[no_content] = self.popularity_
        return scores

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        return self._dot_all(self.item_unit_[items])


def _row_norms_zero(vectors: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """Boolean (n,): rows that are entirely zero."""
    if sp.issparse(vectors):
        return np.asarray(abs(vectors).sum(axis=1)).ravel() == 0
    return ~np.any(vectors != 0, axis=1)


def tfidf_item_vectors(
    texts: pd.Series | np.ndarray | list[str] | tuple[str, ...], **tfidf_options: Any
) -> sp.csr_matrix:
    """TF-IDF vectors of item texts, one sparse row per text (the classic baseline to embeddings).

    scikit-learn's ``TfidfVectorizer`` splits each text into tokens (words of two or more
    letters/digits; here also word pairs), counts them, and weights the count of term ``t`` in
    text ``i`` by how rare ``t`` is across the ``n`` texts::

        tfidf(t, i) = (1 + log tf(t, i)) * (1 + log((1 + n) / (1 + df(t))))

    (``tf``: occurrences of ``t`` in text ``i``; ``df``: texts containing ``t``; the first factor
    is the *sublinear* tf, so a word repeated five times does not count five times), then divides
    each row by its L2 norm. The cosine of two rows is therefore their dot product, and a term
    in every text (``df = n``) has the smallest weight. Similarity comes only from *shared
    tokens*: "minimalist" and "pared-back" are unrelated to TF-IDF, while exact tokens (a
    material, a size, a model code) count fully.

    Defaults (:data:`TFIDF_DEFAULTS`, each overridable through ``tfidf_options``): lowercase and
    accents stripped (``"Café"`` = ``"cafe"``); unigrams and bigrams (``ngram_range=(1, 2)``,
    so "faux leather" is a term of its own and does not only match "leather"); every term kept
    (``min_df=1``); ``sublinear_tf=True``; no stop-word list (idf already makes "the" and "in"
    nearly weightless, and scikit-learn's English list drops product words such as "back",
    "top" and "front"); float32. They were chosen with :class:`ContentBased` on a validation
    part of the training data of Online Retail and the shop, where bigrams and ``min_df=1``
    helped and the other options changed little; the runs are in ``bench/results/tuning.md``.

    Args:
        texts: one str per item, in the item order of the training matrix (e.g.
            ``recutils.text.item_texts(dataset.items)``); list, tuple, 1-D array or Series (its
            index is ignored). Empty strings are allowed (a zero row); None/NaN are not.
        **tfidf_options: other ``TfidfVectorizer`` keyword arguments, e.g. ``min_df=2``,
            ``ngram_range=(1, 1)``, ``stop_words="english"``, ``max_features=20_000``.

    Returns:
        float32 ``scipy.sparse.csr_matrix`` of shape ``(len(texts), vocabulary size)``; every
        row with at least one kept term has L2 norm 1, other rows are zero. To see the terms,
        fit ``TfidfVectorizer(**{**TFIDF_DEFAULTS, **tfidf_options})`` yourself and call
        ``get_feature_names_out()``.

    Raises:
        TypeError: ``texts`` is a single string or not a sequence.
        ValueError: some texts are None/NaN or not str (how many and where), there are no
            texts, or no term survives the options (e.g. all texts empty, or ``min_df`` above
            the number of texts).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    values = checks.text_list(texts)
    if not values:
        raise ValueError("texts is empty; give one text per item")
    options = {**TFIDF_DEFAULTS, **tfidf_options}
    try:
        vectors = TfidfVectorizer(**options).fit_transform(values)
    except ValueError as error:
        if "vocabulary" not in str(error) and "no terms remain" not in str(error):
            raise  # a bad option value: scikit-learn's own message names it
        raise ValueError(
            f"TF-IDF found no usable term in the {len(values)} texts ({error}). Check that the "
            "texts are not all empty (an empty text gives a zero row, but some text must have a "
            "term) and that min_df/max_df do not exclude every term (defaults: min_df=1)"
        ) from None
    return sp.csr_matrix(vectors, dtype=np.float32)
