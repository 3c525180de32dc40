"""Inverse-propensity-weighted BPR: learning what users like, not what they were shown.

A log records what users clicked among what they *saw*, and popular items were seen more
often, so a model fitted to the log learns popularity (exposure) along with taste and then
shows popular items still more: a feedback loop. Inverse propensity scoring (Schnabel et al.,
2016; for implicit feedback Yang et al., 2018 and Saito et al., 2020) weights each observed
pair by one over the probability that it could be observed at all, its *propensity*
``theta_i``, so that rarely exposed products count more.

:class:`IPSBPR` is matrix factorisation trained with BPR (LightGCN with no layers), each
training pair ``(u, i)`` weighted in the loss by::

    w_i = min(1 / theta_i, max_weight),   theta_i = (n_i / max_j n_j) ** power

normalised to mean 1 over the training pairs (so the learning rate keeps its meaning), with
``n_i`` the item's number of training users: the popularity-based propensity of Yang et al.
(2018). ``power = 0`` is plain BPR; larger powers trust rare items' interactions more.
``max_weight`` clips the weights (the variance of IPS grows with the largest weight).

Only the positives are re-weighted: the sampled negatives still include products a user would
like but never saw, so this is a heuristic correction, not an unbiased estimate of the loss on
all of the users' preferences (Saito et al., 2020, correct the negative term too). And
popularity is only a proxy of the propensity: it also carries real taste, some of which a
large ``power`` discounts (notebook 17 measures both on the shop, whose true propensity is
known).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recutils import checks
from recutils.environment import DEFAULT_SEED
from recutils.models.graph import LightGCN


class IPSBPR(LightGCN):
    """Matrix factorisation with an inverse-propensity-weighted BPR loss (module docstring).

    Args:
        power: exponent of the popularity-based propensity, >= 0 (0 = plain BPR).
        max_weight: largest weight ``1 / theta_i`` before normalisation, >= 1.
        factors, epochs, batch_size, learning_rate, l2, eval_every, patience, valid_k, seed,
        threads, progress: as for :class:`~recutils.models.graph.LightGCN` (with
        ``layers=0``).

    Attributes set by :meth:`fit` (besides LightGCN's):
        item_weights_: float32 (n_items,), the normalised weight of each item's pairs.

    Example:
        >>> import scipy.sparse as sp
        >>> train = sp.random(40, 15, density=0.3, format="csr", random_state=0)
        >>> model = IPSBPR(factors=4, epochs=2).fit(train)
        >>> model.recommend([0], k=3).items.shape
        (1, 3)
    """

    name = "IPS-BPR"

    def __init__(
        self,
        power: float = 0.5,
        max_weight: float = 100.0,
        factors: int = 64,
        epochs: int = 50,
        batch_size: int = 2048,
        learning_rate: float = 0.005,
        l2: float = 1e-4,
        eval_every: int = 2,
        patience: int = 3,
        valid_k: int = 20,
        seed: int = DEFAULT_SEED,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__(
            factors=factors,
            layers=0,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            l2=l2,
            eval_every=eval_every,
            patience=patience,
            valid_k=valid_k,
            seed=seed,
            threads=threads,
            progress=progress,
        )
        self.power = checks.non_negative_number(power, "power", "exponent of the propensity")
        self.max_weight = checks.number(
            max_weight, "max_weight", "the largest inverse propensity", minimum=1
        )

    def _training_pair_weights(self, train: sp.csr_matrix) -> np.ndarray:
        users_per_item = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64)
        propensity = (users_per_item / users_per_item.max()) ** self.power
        raw = np.minimum(1.0 / np.where(propensity > 0, propensity, 1.0), self.max_weight)
        pair_items = train.tocoo().col
        scale = raw[pair_items].mean()
        self.item_weights_ = (raw / scale).astype(np.float32)
        return self.item_weights_[pair_items]
