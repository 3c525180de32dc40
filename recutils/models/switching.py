"""Switch between a cold-start strategy and a collaborative model by the user's history size."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recutils import checks
from recutils.models.base import Recommender, fit_model


class Switching(Recommender):
    """Score users with few interactions with ``cold``, the others with ``warm``.

    ``score(u, .) = cold.score(u, .)`` if ``n_u < min_interactions`` else ``warm.score(u, .)``,
    where ``n_u`` is the number of items of user ``u`` in the training matrix (new users,
    ``n_u = 0``, go to ``cold``: the users it exists for). Each row is ranked on its own, so
    the two models' scores need not be on the same scale. Notebook 07 measures the crossover
    point that ``min_interactions`` should be (where the collaborative model starts to beat
    the cold-start strategy).

    Args:
        cold: the model for new users (e.g. ``ContentBased`` or ``MostPopular``).
        warm: the model for the others (e.g. ``ALS``).
        min_interactions: the first history size served by ``warm`` (>= 1).

    ``fit`` takes the side data (and ``valid``) that either model uses and passes each its own.

    Example::

        model = Switching(ContentBased(popularity_weight=0.3), ALS(), min_interactions=2)
        model.fit(train, item_vectors=vectors)
    """

    name = "switching"
    uses_valid = True  # passed on to whichever of the two models uses it

    def __init__(self, cold: Recommender, warm: Recommender, min_interactions: int = 5) -> None:
        for label, model in (("cold", cold), ("warm", warm)):
            if not isinstance(model, Recommender):
                raise TypeError(
                    f"{label} must be a recutils model (a Recommender), got {type(model).__name__}"
                )
        self.cold = cold
        self.warm = warm
        self.min_interactions = checks.positive_int(
            min_interactions, "min_interactions", "the first history size served by warm"
        )
        # Whatever either model takes; an instance attribute, as it depends on the two models.
        self.side_data = {**cold.side_data, **warm.side_data}
        self.new_users = "own"  # new users get the cold model's scores

    def _fit(self, train: sp.csr_matrix, *, valid: Any = None, **side_data: Any) -> None:
        for model in (self.cold, self.warm):
            fit_model(model, train, valid=valid, side_data=side_data)

    def _score(self, users: np.ndarray) -> np.ndarray:
        is_cold = np.diff(self.train_.indptr)[users] < self.min_interactions
        scores = np.empty((users.size, self.n_items_), dtype=np.float32)
        if is_cold.any():
            scores[is_cold] = self.cold.score(users[is_cold])
        if (~is_cold).any():
            scores[~is_cold] = self.warm.score(users[~is_cold])
        return scores
