"""Federated matrix factorisation: users' vectors never leave their devices.

The model is the implicit-feedback factorisation of :class:`~recutils.models.factorization.ALS`
(Hu, Koren and Volinsky, 2008): with preference ``p_ui = [r_ui > 0]`` and confidence
``c_ui = 1 + alpha * r_ui``, minimise over user vectors ``x_u`` and item vectors ``y_i``::

    L(X, Y) = sum over ALL (u, i) of c_ui (p_ui - x_u . y_i)^2
              + regularization * (sum_u ||x_u||^2 + sum_i ||y_i||^2)

What changes is *where* each part is computed (federated collaborative filtering, Ammad-ud-din
et al., 2019; one gradient per device and round, FedSGD of McMahan et al., 2017, with Adam on
the server, the FedAdam of Reddi et al., 2021, with one local step). The server holds only the item
vectors ``Y``. At each round every user joins the round with probability ``q`` (Poisson
sampling, the sampling the privacy accountant assumes); a device that joins

1. downloads ``Y`` and solves its own vector exactly, on the device, from its own history
   (the ridge regression of ALS: ``x_u = (Y^T C_u Y + regularization I)^-1 Y^T C_u p_u``);
2. computes its share of the gradient of ``L`` with respect to ``Y`` (by the envelope
   theorem ``x_u`` may be held fixed)::

       G_u = -2 v_u x_u^T,  v_u = c_u * (p_u - Y x_u)   (n_items x factors)

   of Frobenius norm ``||G_u|| = 2 ||v_u|| ||x_u||``;

3. with differential privacy, clips it to Frobenius norm ``clip_norm``:
   ``G_u <- G_u min(1, clip_norm / ||G_u||)``;
4. uploads it. The server adds the uploads (with secure aggregation it sees only the sum),
   adds Gaussian noise of standard deviation ``noise_multiplier * clip_norm`` to each entry
   (the Gaussian mechanism, :func:`recutils.privacy.clip_and_noise`), turns the sum into an
   estimate of the full gradient (``n_users / expected cohort`` times it, plus the penalty's
   ``2 regularization Y``) and takes one Adam step. With noise this is DP-FedSGD (McMahan et
   al., 2018); the server that adds the noise must be trusted with the noise-free sum.

After the last round every device solves its vector once more from the final ``Y``: that is
where its recommendations are computed, so ``score`` is ``x_u . y_i`` as for ALS. The
server never sees a user's vector or history, only (noised) sums of gradients; with
``noise_multiplier > 0`` the item vectors are ``(epsilon, delta)``-differentially private at
the level of users (:meth:`FederatedMF.epsilon`, the sampled Gaussian mechanism's RDP
accountant, :func:`recutils.privacy.dp_epsilon`).

With ``users_per_round`` at least the number of users, no clipping and no noise, a round is
one full-batch gradient step on ``min_X L(X, Y)`` (``tests/test_federated.py`` checks the
aggregated gradient against finite differences of it).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from recutils import checks
from recutils.environment import DEFAULT_SEED
from recutils.models.base import Recommender
from recutils.models.factorization import cosine_rows
from recutils.models.training import validation_ndcg
from recutils.privacy import dp_epsilon

#: Adam's moment decays and its epsilon (Kingma and Ba, 2015), on the server.
ADAM_BETAS: tuple[float, float] = (0.9, 0.999)
ADAM_EPSILON: float = 1e-8
#: Bytes per number sent (float32).
BYTES_PER_NUMBER: int = 4


def solve_user_vectors(
    train: sp.csr_matrix,
    item_factors: np.ndarray,
    users: np.ndarray,
    regularization: float,
    alpha: float,
) -> np.ndarray:
    """Each user's exact ALS vector for fixed item vectors: what a device computes locally.

    ``x_u = (Y^T Y + sum_{i: r_ui > 0} alpha r_ui y_i y_i^T + regularization I)^-1
    sum_{i: r_ui > 0} (1 + alpha r_ui) y_i`` (the ridge regression of ALS with
    ``c_ui = 1 + alpha r_ui``; only the user's own row of ``train`` is read).

    Args:
        train: (n_users, n_items) CSR matrix of interaction weights ``r``.
        item_factors: (n_items, factors) item vectors ``Y``.
        users: user numbers to solve.
        regularization, alpha: as in :class:`FederatedMF`.

    Returns:
        float64 (len(users), factors); a user without interactions gets zeros.

    Example:
        >>> import scipy.sparse as sp
        >>> train = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
        >>> solve_user_vectors(train, np.eye(2), np.array([0]), 1.0, 0.0).round(3)
        array([[0.5, 0. ]])
    """
    item_factors = np.asarray(item_factors, dtype=np.float64)
    factors = item_factors.shape[1]
    gram = item_factors.T @ item_factors + regularization * np.eye(factors)
    vectors = np.zeros((len(users), factors))
    for row, user in enumerate(users):
        start, end = train.indptr[user], train.indptr[user + 1]
        if start == end:
            continue
        own = item_factors[train.indices[start:end]]
        weights = alpha * train.data[start:end].astype(np.float64)
        matrix = gram + (own * weights[:, None]).T @ own
        vectors[row] = np.linalg.solve(matrix, own.T @ (1.0 + weights))
    return vectors


def user_gradients(
    train: sp.csr_matrix,
    item_factors: np.ndarray,
    users: np.ndarray,
    user_vectors: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """The users' residuals ``v_u = c_u * (p_u - Y x_u)``: their gradients in factored form.

    User ``u``'s gradient of ``L`` with respect to ``Y`` is ``-2 * np.outer(v_u, x_u)``
    (n_items x factors), of Frobenius norm ``2 ||v_u|| ||x_u||``; it is kept factored because
    the full gradients would take ``len(users) * n_items * factors`` numbers.

    Returns:
        float64 (len(users), n_items).
    """
    rows = train[users]
    preference = (rows > 0).toarray().astype(np.float64)
    confidence = 1.0 + alpha * rows.toarray().astype(np.float64)
    return confidence * (preference - user_vectors @ np.asarray(item_factors, np.float64).T)


def federated_gradient(
    train: sp.csr_matrix,
    item_factors: np.ndarray,
    users: np.ndarray,
    regularization: float,
    alpha: float,
    clip_norm: float | None = None,
) -> tuple[np.ndarray, int]:
    """The sum over ``users`` of their (clipped) gradients: what secure aggregation delivers.

    Each device solves ``x_u`` (:func:`solve_user_vectors`), computes ``G_u = -2 v_u x_u^T``
    (:func:`user_gradients`) and, with ``clip_norm`` ``C``, scales it by
    ``min(1, C / ||G_u||)``.

    Returns:
        ``(gradient_sum, clipped)``: float64 (n_items, factors), and how many users' gradients
        were clipped.

    Example:
        >>> import scipy.sparse as sp
        >>> train = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
        >>> total, clipped = federated_gradient(train, np.eye(2), np.array([0, 1]), 1.0, 0.0)
        >>> total.round(2)
        array([[-0.5,  0. ],
               [ 0. , -0.5]])
    """
    vectors = solve_user_vectors(train, item_factors, users, regularization, alpha)
    residuals = user_gradients(train, item_factors, users, vectors, alpha)
    clipped = 0
    if clip_norm is not None:
        norms = 2.0 * np.linalg.norm(residuals, axis=1) * np.linalg.norm(vectors, axis=1)
        scale = np.minimum(1.0, clip_norm / np.maximum(norms, np.finfo(np.float64).tiny))
        clipped = int((scale < 1.0).sum())
        vectors = vectors * scale[:, None]
    return -2.0 * residuals.T @ vectors, clipped


class FederatedMF(Recommender):
    """Implicit matrix factorisation trained by federated rounds, optionally differentially
    private (see the module docstring for the algorithm).

    Args:
        factors: length of each user and item vector.
        regularization: ``lambda`` of the L2 penalty, as in :class:`ALS`.
        alpha: confidence gained per unit of interaction weight, as in :class:`ALS`.
        rounds: server rounds (one Adam step each).
        users_per_round: expected number of devices per round (each user joins with
            probability ``q = users_per_round / n_users``, at most 1).
        learning_rate: the server's Adam step size.
        clip_norm: ``C``, the largest Frobenius norm a user's gradient may have; ``None`` = no
            clipping (then ``noise_multiplier`` must be 0).
        noise_multiplier: ``sigma``: the noise added to the sum has standard deviation
            ``sigma * C`` per entry; 0 = no noise.
        eval_every: with ``valid`` given to ``fit``, record validation nDCG@``valid_k``
            every this many rounds (and after the last) in ``history_``.
        valid_k: list length of that nDCG.
        seed: seed of the initial item vectors, the cohorts and the noise.

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        item_factors_: float32 (n_items, factors), the server's item vectors.
        user_factors_: float32 (n_users, factors), each device's final vector.
        sampling_probability_: ``q``.
        history_: one dict per round: ``round``, ``users`` (devices that joined),
            ``megabytes`` (sent and received by all devices so far, float32 numbers),
            ``clipped`` (share of joining users whose gradient was clipped), ``ndcg``
            (validation nDCG where evaluated, else NaN).

    Example:
        >>> import scipy.sparse as sp
        >>> train = sp.random(30, 12, density=0.3, format="csr", random_state=0)
        >>> model = FederatedMF(factors=4, rounds=5, users_per_round=10).fit(train)
        >>> model.recommend([0], k=3).items.shape
        (1, 3)
    """

    name = "FederatedMF"
    uses_valid = True

    def __init__(
        self,
        factors: int = 32,
        regularization: float = 20.0,
        alpha: float = 1.0,
        rounds: int = 100,
        users_per_round: int = 300,
        learning_rate: float = 0.05,
        clip_norm: float | None = None,
        noise_multiplier: float = 0.0,
        eval_every: int = 10,
        valid_k: int = 10,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self.factors = checks.positive_int(factors, "factors", "length of the vectors")
        self.regularization = checks.positive_number(
            regularization, "regularization", "the L2 penalty, as in ALS"
        )
        self.alpha = checks.non_negative_number(alpha, "alpha", "confidence per unit of weight")
        self.rounds = checks.positive_int(rounds, "rounds", "server rounds")
        self.users_per_round = checks.positive_int(
            users_per_round, "users_per_round", "expected devices per round"
        )
        self.learning_rate = checks.positive_number(
            learning_rate, "learning_rate", "the server's Adam step; 0.01-0.1 suits the course"
        )
        if clip_norm is not None:
            clip_norm = checks.positive_number(
                clip_norm, "clip_norm", "the largest norm of a user's gradient, or None"
            )
        self.clip_norm = clip_norm
        self.noise_multiplier = checks.non_negative_number(
            noise_multiplier, "noise_multiplier", "noise standard deviation / clip_norm"
        )
        if self.noise_multiplier > 0 and clip_norm is None:
            raise ValueError(
                f"noise_multiplier={noise_multiplier} needs a clip_norm: without clipping one "
                "user's gradient is unbounded and no amount of noise hides it"
            )
        self.eval_every = checks.positive_int(eval_every, "eval_every", "rounds between checks")
        self.valid_k = checks.positive_int(valid_k, "valid_k", "list length of the nDCG")
        self.seed = checks.seed(seed)

    def epsilon(self, delta: float) -> float:
        """The item vectors' user-level ``epsilon`` at ``delta`` (``inf`` without noise)."""
        self._check_fitted()
        if self.noise_multiplier == 0:
            return math.inf
        return dp_epsilon(self.sampling_probability_, self.noise_multiplier, self.rounds, delta)

    def _fit(self, train: sp.csr_matrix, *, valid: sp.csr_matrix | None = None) -> None:
        rng = np.random.default_rng(self.seed)
        population = np.flatnonzero(np.diff(train.indptr) > 0)
        q = min(1.0, self.users_per_round / len(population))
        item_factors = rng.normal(0.0, 0.01, (self.n_items_, self.factors))
        first_moment = np.zeros_like(item_factors)
        second_moment = np.zeros_like(item_factors)
        beta1, beta2 = ADAM_BETAS
        numbers_per_device = 2 * self.n_items_ * self.factors  # Y down, the gradient up
        self.sampling_probability_ = q
        self.history_: list[dict[str, float]] = []
        megabytes = 0.0
        for round_number in range(1, self.rounds + 1):
            cohort = population if q == 1.0 else population[rng.random(len(population)) < q]
            gradient_sum, clipped = np.zeros_like(item_factors), 0
            if len(cohort):
                gradient_sum, clipped = federated_gradient(
                    train, item_factors, cohort, self.regularization, self.alpha, self.clip_norm
                )
            if self.noise_multiplier > 0:
                gradient_sum += rng.normal(
                    0.0, self.noise_multiplier * self.clip_norm, gradient_sum.shape
                )
            gradient = gradient_sum / q + 2.0 * self.regularization * item_factors
            first_moment = beta1 * first_moment + (1 - beta1) * gradient
            second_moment = beta2 * second_moment + (1 - beta2) * gradient**2
            step = (first_moment / (1 - beta1**round_number)) / (
                np.sqrt(second_moment / (1 - beta2**round_number)) + ADAM_EPSILON
            )
            item_factors = item_factors - self.learning_rate * step
            megabytes += len(cohort) * numbers_per_device * BYTES_PER_NUMBER / 1e6
            record = {
                "round": float(round_number),
                "users": float(len(cohort)),
                "megabytes": megabytes,
                "clipped": clipped / max(len(cohort), 1),
                "ndcg": math.nan,
            }
            last = round_number == self.rounds
            if valid is not None and (round_number % self.eval_every == 0 or last):
                self._set_factors(train, item_factors)
                record["ndcg"] = validation_ndcg(self, valid, self.valid_k)
            self.history_.append(record)
        self._set_factors(train, item_factors)

    def _set_factors(self, train: sp.csr_matrix, item_factors: np.ndarray) -> None:
        """The server's item vectors and every device's vector solved from them."""
        users = np.arange(self.n_users_)
        user_factors = solve_user_vectors(
            train, item_factors, users, self.regularization, self.alpha
        )
        self.item_factors_ = item_factors.astype(np.float32)
        self.user_factors_ = user_factors.astype(np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        return cosine_rows(self.item_factors_, items)
