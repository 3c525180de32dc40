"""Tests of recutils.models.sequential: user_sequences and SASRec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from recutils.evaluation import evaluate
from recutils.interactions import IdIndex
from recutils.models import Recommendations, SASRec, user_sequences
from recutils.schema import ITEM, TIMESTAMP, USER

# --------------------------------------------------------------------------------------------
# user_sequences
# --------------------------------------------------------------------------------------------

INDEX = IdIndex(
    users=pd.Index(["ann", "bob", "cat"], name=USER),
    items=pd.Index(["x", "y", "z"], name=ITEM),
)


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[USER, ITEM, TIMESTAMP])
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP])
    return frame


EVENTS = _events(
    [
        ("bob", "z", "2024-01-03"),
        ("ann", "y", "2024-01-02"),
        ("ann", "x", "2024-01-01"),
        ("ann", "x", "2024-01-01"),  # the same item again (a cart after a view): one step
        ("bob", "x", "2024-01-03"),  # same time as bob's z: input order kept
        ("ann", "x", "2024-01-05"),  # x again, but not consecutively: a new step
        ("bob", "y", "2024-01-01"),
    ]
)


def test_user_sequences_orders_by_time_and_collapses_repeats() -> None:
    sequences = user_sequences(EVENTS, INDEX)
    assert len(sequences) == INDEX.n_users
    np.testing.assert_array_equal(sequences[0], [0, 1, 0])  # ann: x, y, x
    np.testing.assert_array_equal(sequences[1], [1, 2, 0])  # bob: y, then z before x (ties)
    assert sequences[2].size == 0  # cat has no events
    assert all(s.dtype == np.int64 for s in sequences)
    kept = user_sequences(EVENTS, INDEX, collapse_repeats=False)
    np.testing.assert_array_equal(kept[0], [0, 0, 1, 0])


def test_user_sequences_keeps_only_events_before_the_cutoff() -> None:
    sequences = user_sequences(EVENTS, INDEX, before="2024-01-03")
    np.testing.assert_array_equal(sequences[0], [0, 1])
    np.testing.assert_array_equal(sequences[1], [1])
    # the cut-off is strict: an event at exactly `before` is left out
    at_cutoff = user_sequences(EVENTS, INDEX, before=pd.Timestamp("2024-01-02"))
    np.testing.assert_array_equal(at_cutoff[0], [0])


def test_user_sequences_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        user_sequences(EVENTS.drop(columns=[TIMESTAMP]), INDEX)
    with pytest.raises(KeyError, match="dan"):
        user_sequences(_events([("dan", "x", "2024-01-01")]), INDEX)
    with pytest.raises(ValueError, match="before must be a time"):
        user_sequences(EVENTS, INDEX, before="not a date")


# --------------------------------------------------------------------------------------------
# SASRec on a cyclic pattern: user u sees items s_u, s_u + 1, ... (mod N)
# --------------------------------------------------------------------------------------------

N_USERS, N_ITEMS, LENGTH, MAX_LENGTH = 200, 50, 20, 20
STARTS = np.random.default_rng(0).integers(0, N_ITEMS, N_USERS)
SMALL = {"max_length": MAX_LENGTH, "factors": 32, "layers": 2, "heads": 2, "threads": 1}


def _cyclic_sequences() -> list[np.ndarray]:
    sequences = [(start + np.arange(LENGTH)) % N_ITEMS for start in STARTS]
    sequences[-1] = np.zeros(0, dtype=np.int64)  # one user without history
    return sequences


def _train_matrix(sequences: list[np.ndarray], n_items: int = N_ITEMS) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(sequences)), [s.size for s in sequences])
    cols = np.concatenate(sequences)
    rows, cols = np.append(rows, len(sequences) - 1), np.append(cols, 0)  # last row not empty
    data = np.ones(rows.size, np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(sequences), n_items))


@pytest.fixture(scope="module")
def cyclic() -> SASRec:
    sequences = _cyclic_sequences()
    model = SASRec(dropout=0.1, epochs=6, batch_size=32, learning_rate=1e-2, **SMALL)
    return model.fit(_train_matrix(sequences), sequences=sequences)


def test_sasrec_learns_the_next_item_of_a_cycle(cyclic: SASRec) -> None:
    users = np.arange(N_USERS - 1)
    predicted = cyclic.score(users).argmax(axis=1)
    hit_rate = (predicted == (STARTS[users] + LENGTH) % N_ITEMS).mean()
    assert hit_rate > 0.8
    # a session the model never saw, fed one event at a time, with no retraining
    session = np.array([7, 8, 9], dtype=np.int64)
    scores = cyclic.score_sequences([session[:1], session[:2], session])
    np.testing.assert_array_equal(scores.argmax(axis=1), [8, 9, 10])
    losses = [record["loss"] for record in cyclic.history_]
    assert losses[-1] < losses[0]
    assert [record["epoch"] for record in cyclic.history_] == list(range(1, 7))
    assert all(record["seconds"] > 0 for record in cyclic.history_)
    assert all(set(record) == {"epoch", "loss", "seconds"} for record in cyclic.history_)
    assert cyclic.best_epoch_ == 6
    assert isinstance(cyclic.fit_seconds_, float) and cyclic.fit_seconds_ > 0


def test_scores_have_the_right_shape_and_empty_histories_get_popularity(cyclic: SASRec) -> None:
    scores = cyclic.score([0, 1, N_USERS - 1])
    assert scores.shape == (3, N_ITEMS) and scores.dtype == np.float32
    # the last user has training interactions but no sequence: popularity, not a zero vector
    np.testing.assert_array_equal(scores[2], cyclic.popularity_)
    fresh = cyclic.score_sequences([np.array([], dtype=np.int64), [3, 4]])
    assert fresh.shape == (2, N_ITEMS) and fresh.dtype == np.float32
    np.testing.assert_array_equal(fresh[0], cyclic.popularity_)
    assert SASRec.new_users == "own"  # an empty history: popularity, by the model's own rule
    top = cyclic.recommend([0, N_USERS - 1], k=5)
    assert isinstance(top, Recommendations)
    assert top.items.shape == (2, 5) and top.items.dtype == np.int64
    assert top.scores.shape == (2, 5) and top.scores.dtype == np.float32
    np.testing.assert_array_equal(
        top.scores, np.take_along_axis(cyclic.score([0, N_USERS - 1]), top.items, axis=1)
    )


def test_score_sequences_of_stored_histories_equals_score(cyclic: SASRec) -> None:
    users = np.arange(0, N_USERS, 7)
    stored = [cyclic.sequences_[u] for u in users]
    np.testing.assert_allclose(
        cyclic.score_sequences(stored), cyclic.score(users), rtol=1e-5, atol=1e-5
    )


def test_outputs_are_causal(cyclic: SASRec) -> None:
    history = np.array([3, 4, 5, 6, 7], dtype=np.int64)
    changed = history.copy()
    changed[-1] = 40
    before = cyclic._position_states(history)
    after = cyclic._position_states(changed)
    assert before.shape == (5, 32)
    np.testing.assert_allclose(after[:-1], before[:-1], rtol=1e-6, atol=1e-6)
    assert not np.allclose(after[-1], before[-1])


def test_long_histories_are_cut_and_padding_changes_nothing(cyclic: SASRec) -> None:
    long = (np.arange(3 * MAX_LENGTH) * 7) % N_ITEMS
    cut = long[-MAX_LENGTH:]
    short = np.array([1, 2, 3], dtype=np.int64)
    together = cyclic.score_sequences([long, short])
    np.testing.assert_allclose(together[0], cyclic.score_sequences([cut])[0], atol=1e-5)
    # `short` is left-padded to the width of `long` in the batch: same scores as alone
    np.testing.assert_allclose(together[1], cyclic.score_sequences([short])[0], atol=1e-5)
    assert cyclic._position_states(long).shape == (MAX_LENGTH, 32)


def test_attention_weights_are_causal_distributions(cyclic: SASRec) -> None:
    weights = cyclic.attention_weights(np.arange(30) % N_ITEMS)
    assert weights.shape == (2, 2, MAX_LENGTH, MAX_LENGTH) and weights.dtype == np.float32
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    upper = np.triu(np.ones((MAX_LENGTH, MAX_LENGTH), dtype=bool), k=1)
    assert (weights[..., upper] == 0).all()
    np.testing.assert_allclose(weights[..., 0, 0], 1.0)  # the first item sees only itself
    assert cyclic.attention_weights(np.array([4, 5, 6])).shape == (2, 2, 3, 3)


def test_same_seed_same_scores_other_seed_other_scores() -> None:
    sequences = _cyclic_sequences()[:40]
    train = _train_matrix(sequences)

    def scores(seed: int) -> np.ndarray:
        model = SASRec(epochs=1, batch_size=16, seed=seed, **SMALL)
        return model.fit(train, sequences=sequences).score(np.arange(10))

    first = scores(1)
    np.testing.assert_array_equal(first, scores(1))
    assert not np.allclose(first, scores(2))
    # the same object fitted twice (dropout masks included): nothing carries over
    model = SASRec(epochs=1, batch_size=16, seed=1, **SMALL)
    np.testing.assert_array_equal(model.fit(train, sequences=sequences).score(np.arange(10)), first)
    np.testing.assert_array_equal(model.fit(train, sequences=sequences).score(np.arange(10)), first)
    copy = model.with_params()
    assert copy is not model and copy.get_params() == model.get_params()
    with pytest.raises(RuntimeError, match="not fitted"):
        copy.score([0])
    np.testing.assert_array_equal(copy.fit(train, sequences=sequences).score(np.arange(10)), first)


def test_early_stopping_on_valid_keeps_the_best_epoch() -> None:
    sequences = _cyclic_sequences()[:60]
    train = _train_matrix(sequences)
    # valid: the true next item of each user (the one after their history)
    valid = sp.csr_matrix(
        (np.ones(60, np.float32), (np.arange(60), (STARTS[:60] + LENGTH) % N_ITEMS)),
        shape=train.shape,
    )
    settings = {**SMALL, "batch_size": 16, "learning_rate": 1e-2, "valid_k": 5, "patience": 2}
    model = SASRec(epochs=30, eval_every=1, **settings)
    model.fit(train, valid=valid, sequences=sequences)
    measured = [record["valid_ndcg"] for record in model.history_]  # every epoch measured
    assert all(set(r) == {"epoch", "loss", "seconds", "valid_ndcg"} for r in model.history_)
    assert model.best_epoch_ == model.history_[int(np.argmax(measured))]["epoch"]
    assert model.best_epoch_ < model.history_[-1]["epoch"] < 30  # it stopped early
    # the best state was restored: its nDCG is the best one measured, and its scores are those
    # of a fit of best_epoch_ epochs without validation (validation draws no random numbers,
    # not even dropout masks)
    quality = evaluate(model, train, valid, k=5, fit=False)
    assert quality.loc[5, "ndcg"] == pytest.approx(max(measured), abs=1e-6)
    shorter = model.with_params(epochs=model.best_epoch_).fit(train, sequences=sequences)
    np.testing.assert_array_equal(shorter.score(np.arange(60)), model.score(np.arange(60)))
    # eval_every=2: measured after epochs 2, 4, ... and the last
    sparse_checks = SASRec(epochs=3, eval_every=2, **settings)
    sparse_checks.fit(train, valid=valid, sequences=sequences)
    assert [r["epoch"] for r in sparse_checks.history_ if "valid_ndcg" in r] == [2, 3]


def test_fit_leaves_torch_rng_and_threads_alone() -> None:
    sequences = _cyclic_sequences()[:20]
    threads = torch.get_num_threads()
    fit_threads = 2 if threads == 1 else 1
    state = torch.get_rng_state()
    model = SASRec(epochs=1, **{**SMALL, "threads": fit_threads})
    model.fit(_train_matrix(sequences), sequences=sequences)
    model.score_sequences([np.array([1, 2])])
    model.attention_weights(np.array([1, 2]))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("max_length", 0, "max_length must be a positive integer"),
        ("factors", -4, "factors must be a positive integer"),
        ("layers", 1.5, "layers must be a positive integer"),
        ("heads", 0, "heads must be a positive integer"),
        ("epochs", 0, "epochs must be a positive integer"),
        ("batch_size", True, "batch_size must be a positive integer"),
        (
            "dropout",
            1.0,
            r"dropout must be a finite number >= 0 and < 1 \(.*\), got 1\.0",
        ),
        ("dropout", -0.1, "dropout must be a finite number >= 0 and < 1"),
        ("learning_rate", 0.0, r"learning_rate must be a finite number > 0 \(.*\), got 0\.0"),
        ("seed", -1, r"seed must be a non-negative integer \(.*\), got -1"),
        ("threads", 0, "threads must be a positive integer"),
        ("eval_every", 0, "eval_every must be a positive integer"),
        ("patience", 0, "patience must be a positive integer"),
        ("valid_k", 0, "valid_k must be a positive integer"),
        ("progress", "no", "progress must be True or False"),
    ],
)
def test_bad_hyper_parameters_are_named(parameter: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SASRec(**{parameter: value})


def test_factors_must_be_divisible_by_heads() -> None:
    with pytest.raises(ValueError, match=r"factors \(10\) must be divisible by heads \(4\)"):
        SASRec(factors=10, heads=4)


def test_sequences_missing_or_unknown_side_data_is_a_type_error() -> None:
    sequences = _cyclic_sequences()[:10]
    train = _train_matrix(sequences)
    with pytest.raises(TypeError, match=r"SASRec\.fit needs sequences="):
        SASRec(**SMALL).fit(train)
    with pytest.raises(TypeError, match=r"side data it does not use: \['item_vectors'\]"):
        SASRec(**SMALL).fit(train, sequences=sequences, item_vectors=np.ones((N_ITEMS, 2)))
    with pytest.raises(TypeError, match="accepts: sequences"):
        SASRec(**SMALL).fit(train, histories=sequences)
    with pytest.raises(TypeError):
        SASRec(sequences, **SMALL)  # type: ignore[misc]  # no longer a constructor argument


def test_a_failed_fit_leaves_the_model_unfitted() -> None:
    sequences = _cyclic_sequences()[:10]
    model = SASRec(epochs=1, **SMALL)
    with pytest.raises(TypeError, match="needs sequences="):
        model.fit(_train_matrix(sequences))
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score([0])


def test_bad_sequences_are_rejected() -> None:
    sequences = _cyclic_sequences()[:10]
    train = _train_matrix(sequences)
    model = SASRec(epochs=1, **SMALL)
    with pytest.raises(TypeError, match="one array of item numbers per user"):
        model.fit(train, sequences=np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"sequences\[1\] must hold integer item numbers"):
        model.fit(train, sequences=[np.array([0, 1]), np.array([0.5])])
    with pytest.raises(ValueError, match=r"sequences\[0\] holds negative item numbers \[-3\]"):
        model.fit(train, sequences=[np.array([-3, 1])])
    with pytest.raises(ValueError, match="sequences has 9 histories but train has 10 users"):
        model.fit(train, sequences=sequences[:9])
    outside = [*sequences[:-1], np.array([2, N_ITEMS + 3])]
    with pytest.raises(ValueError, match=rf"sequences\[9\] holds item numbers \[{N_ITEMS + 3}\]"):
        model.fit(train, sequences=outside)
    lonely = [np.array([s[0]]) for s in sequences]
    with pytest.raises(ValueError, match="no sequence has 2 or more items"):
        model.fit(train, sequences=lonely)


def test_bad_histories_are_rejected(cyclic: SASRec) -> None:
    with pytest.raises(ValueError, match=rf"histories\[1\] holds items \[{N_ITEMS}, 99\] outside"):
        cyclic.score_sequences([np.array([1, 2]), np.array([3, N_ITEMS, 99])])
    with pytest.raises(TypeError, match=r"pass \[history\]"):
        cyclic.score_sequences(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="history is empty"):
        cyclic.attention_weights(np.array([], dtype=np.int64))
    with pytest.raises(RuntimeError, match="not fitted"):
        SASRec().score_sequences([np.array([0])])


def test_repr_does_not_print_every_sequence(cyclic: SASRec) -> None:
    text = repr(cyclic)
    assert text.startswith(f"SASRec(max_length={MAX_LENGTH}, factors=32")
    assert "sequences" not in text and "sequences" not in cyclic.get_params()
    assert len(text) < 400


def test_chunked_softmax_loss_equals_plain_cross_entropy(monkeypatch: pytest.MonkeyPatch) -> None:
    from recutils.models import sequential

    monkeypatch.setattr(sequential, "SOFTMAX_CHUNK", 40)  # 4 rows of 10 items per chunk
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(11, 6, generator=generator)
    items = torch.randn(10, 6, generator=generator)
    targets = torch.randint(0, 10, (11,), generator=generator)
    expected = torch.nn.functional.cross_entropy(hidden @ items.T, targets)
    torch.testing.assert_close(sequential._full_softmax_loss(hidden, items, targets), expected)


def test_user_sequences_feed_sasrec() -> None:
    sequences = user_sequences(EVENTS, INDEX)
    train = INDEX.matrix(EVENTS, value=None)
    model = SASRec(max_length=4, factors=8, heads=2, epochs=2, threads=1)
    model.fit(train, sequences=sequences)
    scores = model.score([0, 1, 2])
    assert scores.shape == (3, INDEX.n_items)
    np.testing.assert_array_equal(scores[2], model.popularity_)  # cat: no events at all
