"""The shop oracle plugs into the model interface and beats everything trained on the log."""

import numpy as np
import pytest

from recutils.datasets.shop import generate_shop
from recutils.evaluation import evaluate
from recutils.interactions import IdIndex, pair_split
from recutils.models import MostPopular, Oracle
from recutils.splitting import temporal_split


def test_oracle_scores_are_the_truth_and_beat_popularity():
    shop = generate_shop(n_users=300, n_items=400, seed=2)
    index = IdIndex.from_dataset(shop)
    split = pair_split(temporal_split(shop.interactions, test_start="2024-11-01"))
    train, test = index.matrix(split.train), index.matrix(split.test)
    oracle = Oracle(shop.truth, at="2024-11-01").fit(train)
    users = np.array([0, 5])
    np.testing.assert_allclose(
        oracle.score(users)[np.diff(train.indptr)[users] > 0],
        shop.truth.view_probability("2024-11-01", users=users)[np.diff(train.indptr)[users] > 0],
        rtol=1e-6,
    )
    ndcg = {
        name: evaluate(model, train, test, k=10).loc[10, "ndcg"]
        for name, model in {"oracle": oracle, "popular": MostPopular()}.items()
    }
    assert ndcg["oracle"] > 1.5 * ndcg["popular"]


def test_oracle_refuses_what_is_not_the_shop():
    with pytest.raises(TypeError, match="shop's ground truth"):
        Oracle(truth=None, at="2024-11-01")
    shop = generate_shop(n_users=40, n_items=120, seed=1)
    import scipy.sparse as sp

    with pytest.raises(ValueError, match="truth has"):
        Oracle(shop.truth, at="2024-06-01").fit(sp.csr_matrix(np.ones((3, 3), dtype=np.float32)))
