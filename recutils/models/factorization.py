"""Matrix factorisation with the ``implicit`` library: ALS and BPR behind the course interface.

Both models learn a vector ``x_u`` per user and ``y_i`` per item (``factors`` numbers each) so
that the dot product ``x_u . y_i`` ranks a user's items; they differ in what they fit.

* :class:`ALS` -- implicit-feedback alternating least squares (Hu, Koren and Volinsky, 2008):
  a weighted regression of "has the user interacted with the item?" on *every* (user, item)
  cell, with more weight (confidence) on cells the user interacted with strongly.
* :class:`BPR` -- Bayesian personalised ranking (Rendle et al., 2009): a ranking loss on
  sampled (user, item the user has, item the user does not have) triples.

The fitting is done by :class:`implicit.cpu.als.AlternatingLeastSquares` and
:class:`implicit.cpu.bpr.BayesianPersonalizedRanking` (implicit 0.7, compiled and
multi-threaded); these classes only translate the course's conventions (confidence
``1 + alpha * r``, optional BM25/TF-IDF weighting, seeds, no progress bars, reproducible
threads) and expose the learned vectors as ``user_factors_`` and ``item_factors_`` for
interpretation (notebook 03). Scores are dot products, so ``score`` is one matrix product.

Every fit runs with BLAS limited to one thread (``threadpoolctl``), as implicit recommends and
as ``recutils.setup`` does: results do not depend on the caller's BLAS settings.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recutils import checks
from recutils.environment import DEFAULT_SEED
from recutils.models.base import Recommender

#: Weightings :class:`ALS` can apply to the training matrix before fitting.
WEIGHTINGS: tuple[str | None, ...] = (None, "bm25", "tfidf")

#: BM25 parameters of :class:`ALS` with ``weighting="bm25"`` (implicit's defaults): ``K1``
#: (how slowly repeated interactions saturate) and ``B`` (how much long rows are shortened).
BM25_K1: float = 100.0
BM25_B: float = 0.8


def cosine_rows(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cosine similarity of ``vectors[rows]`` with every row of ``vectors``: (len(rows), n).

    A zero vector (an item without training interactions) has similarity 0 with everything.
    """
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    return unit[rows] @ unit.T


def als_objective(
    train: sp.spmatrix,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    regularization: float,
    alpha: float,
) -> float:
    """The implicit-feedback ALS loss of :class:`ALS` for given vectors (dense: for checks).

    ``L = sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2 + regularization (||X||^2 + ||Y||^2)``
    with ``p_ui = [r_ui > 0]`` and ``c_ui = 1 + alpha r_ui``. Builds the dense
    (n_users, n_items) matrix of scores: for matrices of a few thousand users and items.

    Example:
        >>> import scipy.sparse as sp
        >>> als_objective(sp.csr_matrix(np.eye(2)), np.eye(2), np.eye(2), 0.5, 0.0)
        2.0
    """
    weights = np.asarray(sp.csr_matrix(train).toarray(), dtype=np.float64)
    users = np.asarray(user_factors, dtype=np.float64)
    items = np.asarray(item_factors, dtype=np.float64)
    residual = (weights > 0) - users @ items.T
    penalty = regularization * (np.sum(users**2) + np.sum(items**2))
    return float(np.sum((1.0 + alpha * weights) * residual**2) + penalty)


# --------------------------------------------------------------------------------------------
# ALS
# --------------------------------------------------------------------------------------------


class ALS(Recommender):
    """Implicit-feedback matrix factorisation by alternating least squares (Hu et al., 2008).

    With ``r_ui`` the training matrix (after the optional ``weighting``), preference
    ``p_ui = 1 if r_ui > 0 else 0`` and confidence ``c_ui = 1 + alpha * r_ui``, ALS minimises
    over user vectors ``x_u`` and item vectors ``y_i`` (``factors`` numbers each)::

        sum over ALL (u, i) of  c_ui * (p_ui - x_u . y_i)^2
            + regularization * (sum_u ||x_u||^2 + sum_i ||y_i||^2)

    Every cell counts: an item the user never touched is a weak (confidence 1) "no", an item
    bought often a strong "yes". With the item vectors fixed the problem is a ridge regression
    per user, solved exactly; then the same for items; ``iterations`` such sweeps. implicit
    solves each ridge regression with 3 conjugate-gradient steps (Takacs et al., 2011) and
    uses the identity ``sum_i c_ui y_i y_i^T = Y^T Y + sum_{i: r_ui > 0} (c_ui - 1) y_i y_i^T``,
    so a sweep costs time linear in the number of interactions, not in users x items.

    ``score(u, i) = x_u . y_i``; ``similar_items`` is the cosine similarity of item vectors.

    implicit reads a stored value as the confidence itself (and 1 for empty cells), so this
    class hands it ``1 + alpha * r_ui``: the paper's formula, whatever the scale of ``r``.

    Args:
        factors: length of each user and item vector.
        regularization: ``lambda`` of the L2 penalty (not scaled by the number of interactions).
            It shrinks the factorisation towards low rank: too small overfits, too large
            shrinks every factor towards 0 and quality falls steeply (a run on a sample of the
            shop is in ``bench/results/tuning.md``). The right size grows with the data and
            with the confidences (roughly 5-20 times a typical ``c_ui``); tune it
            on a validation split with :func:`recutils.evaluation.grid_search`.
        alpha: confidence gained per unit of ``r_ui``. The course matrices count a view 1, a
            cart 3 and a purchase 5 (:func:`recutils.interactions.user_item_pairs`), so with
            ``alpha=1`` a single purchase has confidence 6 and an empty cell 1.
        iterations: alternating sweeps (each one solves all users, then all items).
        weighting: ``None`` (use ``r`` as given), ``"bm25"`` or ``"tfidf"``: re-weight ``r``
            before the confidence is computed, with implicit's ``bm25_weight`` /
            ``tfidf_weight`` applied to the (n_users, n_items) matrix, rows = users as
            documents, items as terms (``N`` = number of users, ``n_i`` = users of item ``i``):

            * ``"tfidf"``: ``r_ui <- sqrt(r_ui) * idf_i`` with ``idf_i = log(N) - log(1 + n_i)``:
              repeated interactions count less than linearly, and popular items (which say
              little about a user's taste) count less than rare ones.
            * ``"bm25"``: ``r_ui <- r_ui (K1 + 1) / (K1 * L_u + r_ui) * idf_i`` with length
              norm ``L_u = 1 - B + B * (row sum of u) / (mean row sum)``, K1 = 100, B = 0.8:
              the same idf, and each entry of a heavy user (long row) counts less, so heavy
              users do not dominate the item vectors.

            Both change the *scale* of ``r`` (median weight about 4 on the shop, 15 on Online
            Retail), so ``alpha`` means something different with them: ``"bm25"`` with
            ``alpha=0.25`` was a little better than the default on the full shop, Online Retail
            and MovieLens-100k, but worse on 20% user samples of the shop and of MovieLens, so
            the default stays ``None`` (the runs are in ``bench/results/tuning.md``).
        seed: seed of implicit's random initial factors (``random_state``).
        threads: implicit's ``num_threads``. Users (then items) are solved independently, so
            the factors are bit-identical with 1 or 2 threads. On a 2-core machine 2 threads
            were a little faster when the machine was idle but slower when another process kept
            one core busy, hence the default 1 (timings in ``bench/results/tuning.md``).

    Defaults (chosen on validation splits of the shop, Online Retail and MovieLens-100k, and
    of 20% user samples of them): 64 factors, ``regularization=20``, ``alpha=1``, 15
    iterations; the runs, with the test scores of these defaults, are in
    ``bench/results/tuning.md``.

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        user_factors_: float32 (n_users, factors); zero rows for users without interactions.
        item_factors_: float32 (n_items, factors); zero rows for items without interactions.
        confidence_: float32 CSR (n_users, n_items), the ``c_ui`` of the training cells.
    """

    name = "ALS"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 20.0,
        alpha: float = 1.0,
        iterations: int = 15,
        weighting: str | None = None,
        seed: int = DEFAULT_SEED,
        threads: int = 1,
    ) -> None:
        self.factors = checks.positive_int(
            factors, "factors", "length of the user and item vectors"
        )
        self.regularization = checks.positive_number(
            regularization, "regularization", "the L2 penalty; 5-50 suits the course data"
        )
        self.alpha = checks.non_negative_number(
            alpha,
            "alpha",
            "confidence gained per unit of interaction weight; 0 = every cell weighs 1",
        )
        self.iterations = checks.positive_int(iterations, "iterations", "alternating sweeps")
        self.weighting = checks.one_of(weighting, "weighting", WEIGHTINGS)
        self.seed = checks.seed(seed)
        self.threads = checks.positive_int(threads, "threads", "implicit's num_threads")

    def weighted_matrix(self, train: sp.csr_matrix) -> sp.csr_matrix:
        """``train`` after the ``weighting`` (float32 CSR, same shape and sparsity pattern).

        Entries the weighting maps to 0 or below (an item every user has, whose idf is <= 0)
        are set to the smallest positive weight, so no interaction is lost.
        """
        if self.weighting is None:
            return sp.csr_matrix(train, dtype=np.float32, copy=True)
        from implicit.nearest_neighbours import bm25_weight, tfidf_weight

        if self.weighting == "bm25":
            weighted = bm25_weight(train, K1=BM25_K1, B=BM25_B)
        else:
            weighted = tfidf_weight(train)
        matrix = sp.csr_matrix(weighted, dtype=np.float32)
        matrix.sort_indices()
        positive = matrix.data > 0
        if not positive.all():
            floor = matrix.data[positive].min() if positive.any() else 1.0
            matrix.data[~positive] = floor
        return matrix

    def _fit(self, train: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        confidence = self.weighted_matrix(train)
        confidence.data = (1.0 + self.alpha * confidence.data).astype(np.float32)
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,  # the confidence is already in the matrix
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
                dtype=np.float32,
            )
            model.fit(confidence, show_progress=False)
        self.confidence_ = confidence
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        return cosine_rows(self.item_factors_, items)


# --------------------------------------------------------------------------------------------
# BPR
# --------------------------------------------------------------------------------------------


class BPR(Recommender):
    """Bayesian personalised ranking with matrix factorisation (Rendle et al., 2009).

    BPR learns from comparisons: a user should score an item she has (``i``) above one she does
    not have (``j``). With ``s(u, i) = x_u . y_i + b_i`` and ``x_uij = s(u, i) - s(u, j)``, it
    maximises over sampled triples ``(u, i, j)``::

        sum ln sigmoid(x_uij) - (regularization / 2) * ||theta||^2

    by stochastic gradient ascent: for each triple, ``theta += learning_rate * (sigmoid(-x_uij)
    * d x_uij / d theta - regularization * theta)`` for the touched ``x_u, y_i, y_j, b_i, b_j``.

    What implicit's CPU implementation does (read from its source; the first two points are
    checked in the tests):

    * the matrix values are ignored: any entry > 0 is one "has" (a purchase counted 5 times is
      sampled as often as a single view); to weight the data, choose what enters the matrix;
    * the item bias ``b_i`` is stored as an extra factor column, with a constant 1 in every
      user vector; here it is split off into ``item_bias_``, and ``item_factors_`` holds only
      the real factors (used by ``similar_items``: cosine similarity of item vectors);
    * an epoch draws as many triples as there are training interactions: ``(u, i)`` is a
      uniformly random training interaction and ``j`` the item of *another* random training
      interaction, so negatives are drawn in proportion to item popularity ``n_j`` (not
      uniformly, as in the paper); a triple whose ``j`` the user has is skipped;
    * items (users) without training interactions keep all-zero vectors.

    **Popularity correction.** Because popular items are drawn as negatives more often, the
    learned scores are pushed down by about ``log n_i`` (the learned ``b_i`` did not correlate
    with popularity on the shop), and plain BPR recommends too many niche items. Adding it back,
    ``score(u, i) = x_u . y_i + b_i + popularity_correction * log(max(n_i, 1))``, is the "logQ
    correction" for sampled negatives (Yi et al., RecSys 2019). It does not change the factors.
    It raised test nDCG@10 on the shop, Online Retail and MovieLens-100k, on MovieLens close to
    the published cornac BPR (the runs are in ``bench/results/tuning.md``).
    ``popularity_correction=0`` is plain BPR.

    implicit parallelises the SGD without locks (threads overwrite each other's updates in a
    random order), so only one thread gives the same factors on every run; this class always
    uses one.

    Args:
        factors: length of each user and item vector (without the bias).
        learning_rate: SGD step size.
        regularization: L2 weight decay applied at every update of a touched parameter.
        iterations: epochs (each one draws n_interactions triples). BPR overfits with more:
            on MovieLens-100k, 200 epochs scored lower than 100.
        popularity_correction: weight of ``log(max(n_i, 1))`` added to every score (see
            above); ``n_i`` = number of training users of item ``i`` (``popularity_``).
        seed: seed of the initial factors and of the triple sampler.

    Defaults (chosen on validation splits of the shop, Online Retail and MovieLens-100k): 64
    factors, ``learning_rate=0.01``, ``regularization=0.01``, 100 epochs, correction 1 (the
    value the sampling argument gives; nearby values scored about the same). The runs are in
    ``bench/results/tuning.md``.

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        user_factors_: float32 (n_users, factors).
        item_factors_: float32 (n_items, factors).
        item_bias_: float32 (n_items,), ``b_i``.
        log_popularity_: float32 (n_items,), ``log(max(n_i, 1))``.
        item_offset_: float32 (n_items,), ``b_i + popularity_correction * log_popularity_``;
            ``score(u) = user_factors_[u] @ item_factors_.T + item_offset_``.
    """

    name = "BPR"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        popularity_correction: float = 1.0,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self.factors = checks.positive_int(
            factors, "factors", "length of the user and item vectors"
        )
        self.learning_rate = checks.positive_number(
            learning_rate, "learning_rate", "the SGD step size; 0.01-0.1 is typical"
        )
        self.regularization = checks.non_negative_number(
            regularization, "regularization", "the L2 weight decay; 0-0.1 is typical"
        )
        self.iterations = checks.positive_int(iterations, "iterations", "SGD epochs")
        self.popularity_correction = checks.non_negative_number(
            popularity_correction,
            "popularity_correction",
            "weight of log(item popularity) added to the scores; 0 = plain BPR, 1 = logQ",
        )
        self.seed = checks.seed(seed)

    def _fit(self, train: sp.csr_matrix) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        with threadpool_limits(limits=1, user_api="blas"):
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=1,  # lock-free parallel SGD is not reproducible
                verify_negative_samples=True,
                dtype=np.float32,
            )
            model.fit(train, show_progress=False)
        factors = np.asarray(model.item_factors, dtype=np.float32)
        self.user_factors_ = np.ascontiguousarray(model.user_factors[:, :-1], dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(factors[:, :-1])
        self.item_bias_ = np.ascontiguousarray(factors[:, -1])
        self.log_popularity_ = np.log(np.maximum(self.popularity_, 1.0)).astype(np.float32)
        self.item_offset_ = self.item_bias_ + np.float32(self.popularity_correction) * (
            self.log_popularity_
        )

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T + self.item_offset_

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        return cosine_rows(self.item_factors_, items)
