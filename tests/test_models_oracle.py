"""The shop oracle plugs into the model interface and beats everything trained on the log."""

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.datasets.shop import generate_shop
from recutils.evaluation import evaluate
from recutils.interactions import IdIndex
from recutils.models import MostPopular, Oracle
from recutils.splitting import pair_split, temporal_split


def test_oracle_scores_are_the_truth_for_every_user_and_beat_popularity():
    shop = generate_shop(n_users=300, n_items=400, seed=2)
    index = IdIndex.from_dataset(shop)
    split = pair_split(temporal_split(shop.interactions, test_start="2024-11-01"))
    train, test = index.matrix(split.train), index.matrix(split.test)
    oracle = Oracle(at="2024-11-01").fit(train, truth=shop.truth)
    new_users = np.flatnonzero(np.diff(train.indptr) == 0)
    assert len(new_users) > 0  # the shop has users who arrive in the test month
    users = np.concatenate([[0, 5], new_users[:3]])
    # the truth for everybody, new users included (no popularity fallback behind the model)
    np.testing.assert_allclose(
        oracle.score(users), shop.truth.view_probability("2024-11-01", users=users), rtol=1e-6
    )
    ndcg = {
        name: evaluate(model, train, test, k=10, truth=shop.truth).loc[10, "ndcg"]
        for name, model in {"oracle": oracle, "popular": MostPopular()}.items()
    }
    assert ndcg["oracle"] > 1.5 * ndcg["popular"]


def test_oracle_refuses_what_is_not_the_shop():
    ones = sp.csr_matrix(np.ones((3, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="needs truth=, the shop's ground truth"):
        Oracle(at="2024-11-01").fit(ones)
    with pytest.raises(TypeError, match="needs truth=, the shop's ground truth"):
        Oracle(at="2024-11-01").fit(ones, truth=None)
    shop = generate_shop(n_users=40, n_items=120, seed=1)
    with pytest.raises(ValueError, match="truth has"):
        Oracle(at="2024-06-01").fit(ones, truth=shop.truth)
