"""Cold-start splits: new items are truly absent from training; held-out users reveal their
earliest pairs only, and are tested on later ones."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.datasets import from_frames
from recutils.interactions import IdIndex, user_item_pairs
from recutils.splitting import item_cold_start, user_cold_start


def _pairs(n_users=30, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        items = rng.choice(n_items, size=int(rng.integers(3, 25)), replace=False)
        times = pd.Timestamp("2024-01-01") + pd.to_timedelta(
            np.sort(rng.integers(0, 10_000, size=items.size)), unit="min"
        )
        rows += [(f"u{user:02d}", f"i{item:02d}", t) for item, t in zip(items, times, strict=True)]
    interactions = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    dataset = from_frames(interactions)
    return user_item_pairs(dataset.interactions), IdIndex.from_dataset(dataset)


def test_item_cold_start_new_items_have_no_training_entry():
    train = sp.csr_matrix(np.array([[1, 0, 0, 2], [0, 1, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 1, 1]], dtype=np.float32))
    split = item_cold_start(train, test)
    np.testing.assert_array_equal(split.new, [False, False, True, False])
    assert split.test_new.nnz == 2 and set(split.test_new.indices) == {2}
    assert split.test_known.nnz == 3 and 2 not in set(split.test_known.indices)
    assert train.tocsc()[:, split.new].nnz == 0  # truly absent from training
    assert (split.test_new + split.test_known - test).nnz == 0  # nothing lost
    assert split.sizes()["of them with test interactions"] == 1
    with pytest.raises(ValueError, match="same IdIndex"):
        item_cold_start(train, test[:, :3])


def test_item_cold_start_on_the_shop_protocol():
    from recutils.datasets import load
    from recutils.splitting import temporal_protocol

    protocol = temporal_protocol(load("shop", n_users=400, n_items=600, seed=3), 30, 30)
    split = item_cold_start(protocol.train_and_valid, protocol.test)
    assert split.new.any() and split.test_new.nnz > 0
    assert protocol.train_and_valid.tocsc()[:, split.new].nnz == 0
    launched = protocol.dataset.items["launch_time"].to_numpy() >= protocol.test_start
    assert split.new[launched].all()  # launched during the test: new by construction


def test_user_cold_start_reveals_the_earliest_pairs_and_tests_on_later_ones():
    pairs, index = _pairs()
    cold = user_cold_start(pairs, index, n_users=5, max_revealed=4, min_test=3, seed=1)
    assert cold.users.size == 5 and np.all(np.diff(cold.users) > 0)
    full = index.matrix(pairs)
    warm = np.setdiff1d(np.arange(index.n_users), cold.users)
    first_time = pairs.set_index(["user_id", "item_id"])["timestamp"]
    for n in range(5):
        train = cold.train(n)
        assert (train[warm] != full[warm]).nnz == 0  # other users keep everything
        assert np.all(np.diff(train.indptr)[cold.users] == n)
        assert train.multiply(cold.test).nnz == 0  # no test pair is ever revealed
        assert cold.revealed(n).nnz == 5 * n
    for user in cold.users:
        user_id = index.users[user]
        revealed = index.items[cold.train(4)[user].indices]
        tested = index.items[cold.test[user].indices]
        assert tested.size >= 3
        assert first_time[user_id][revealed].max() <= first_time[user_id][tested].min()
        own = pairs[pairs["user_id"] == user_id]
        assert revealed.size + tested.size == len(own)  # nothing lost
    assert cold.test[warm].nnz == 0
    again = user_cold_start(pairs, index, n_users=5, max_revealed=4, min_test=3, seed=1)
    np.testing.assert_array_equal(again.users, cold.users)


def test_user_cold_start_errors_are_named():
    pairs, index = _pairs()
    with pytest.raises(ValueError, match=r"only \d+ users have at least"):
        user_cold_start(pairs, index, n_users=1000)
    cold = user_cold_start(pairs, index, n_users=2, max_revealed=3, min_test=1)
    with pytest.raises(ValueError, match="from 0 to 3"):
        cold.train(4)
    with pytest.raises(ValueError, match="missing column"):
        user_cold_start(pairs.drop(columns="weight"), index, n_users=2)
    with pytest.raises(ValueError, match="repeated"):
        user_cold_start(pd.concat([pairs, pairs.head(1)]), index, n_users=2)
