"""Switch between a cold-start strategy and a collaborative model by the user's history size."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recutils.models.base import Recommender


class Switching(Recommender):
    """Score users with few interactions with ``cold``, the others with ``warm``.

    ``score(u, .) = cold.score(u, .)`` if ``n_u < min_interactions`` else ``warm.score(u, .)``,
    where ``n_u`` is the number of items of user ``u`` in the training matrix. Each row is
    ranked on its own, so the two models' scores need not be on the same scale. Notebook 07
    measures the crossover point that ``min_interactions`` should be (where the collaborative
    model starts to beat the cold-start strategy).

    Args:
        cold: the model for new users (e.g. ``ContentBased`` or ``MostPopular``).
        warm: the model for the others (e.g. ``ALS``).
        min_interactions: the first history size served by ``warm`` (>= 1).
    """

    name = "switching"

    def __init__(self, cold: Recommender, warm: Recommender, min_interactions: int = 5) -> None:
        for label, model in (("cold", cold), ("warm", warm)):
            if not isinstance(model, Recommender):
                raise TypeError(
                    f"{label} must be a recutils model (a Recommender), got {type(model).__name__}"
                )
        if (
            not isinstance(min_interactions, (int, np.integer))
            or isinstance(min_interactions, bool)
            or min_interactions < 1
        ):
            raise ValueError(
                f"min_interactions must be a whole number >= 1, got {min_interactions!r}"
            )
        self.cold = cold
        self.warm = warm
        self.min_interactions = int(min_interactions)

    def _fit(self, train: sp.csr_matrix) -> None:
        self.cold.fit(train)
        self.warm.fit(train)

    def _score(self, users: np.ndarray) -> np.ndarray:
        is_cold = np.diff(self.train_.indptr)[users] < self.min_interactions
        scores = np.empty((users.size, self.n_items_), dtype=np.float32)
        if is_cold.any():
            scores[is_cold] = self.cold.score(users[is_cold])
        if (~is_cold).any():
            scores[~is_cold] = self.warm.score(users[~is_cold])
        return scores
