"""Tests of recutils.models.generative: TIGER (TIGER-style generative retrieval)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recutils.models import TIGER, Recommendations
from recutils.models.generative import N_SPECIAL_TOKENS
from recutils.semantic_ids import semantic_ids

# A cyclic shop: user u sees items s_u, s_u + 1, ... (mod 23). Item 23 is a new product: it
# has a vector (so a semantic ID) but is in no sequence and no training row.
N_USERS, N_ITEMS, NEW_ITEM = 80, 24, 23
RNG = np.random.default_rng(0)
CENTRES = RNG.normal(size=(4, 8)) * 3
VECTORS = (CENTRES[np.arange(N_ITEMS) % 4] + RNG.normal(size=(N_ITEMS, 8))).astype(np.float32)
STARTS = RNG.integers(0, NEW_ITEM, N_USERS)
LENGTHS = RNG.integers(3, 10, N_USERS)
SMALL = {
    "levels": 2,
    "codebook_size": 3,
    "max_history": 4,
    "max_targets_per_user": 8,
    "d_model": 32,
    "d_ff": 64,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "heads": 2,
    "dropout": 0.0,
    "batch_size": 16,
    "learning_rate": 3e-3,
    "threads": 1,
}


def _sequences() -> list[np.ndarray]:
    sequences = [(s + np.arange(n)) % NEW_ITEM for s, n in zip(STARTS, LENGTHS, strict=True)]
    sequences[-1] = np.zeros(0, dtype=np.int64)  # a user without history
    return sequences


def _train_matrix(sequences: list[np.ndarray]) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(sequences)), [s.size for s in sequences])
    cols = np.concatenate(sequences)
    rows, cols = np.append(rows, len(sequences) - 1), np.append(cols, 0)  # last row not empty
    matrix = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), (N_USERS, N_ITEMS))
    matrix.data[:] = 1.0
    return matrix


SEQUENCES = _sequences()
TRAIN = _train_matrix(SEQUENCES)


@pytest.fixture(scope="module")
def model() -> TIGER:
    return TIGER(epochs=20, **SMALL).fit(TRAIN, sequences=SEQUENCES, item_vectors=VECTORS)


def _naive_log_probability(model: TIGER, user: int, item: int) -> float:
    """log p(ID(item) | history of user), from transformers' own teacher-forced loss."""
    source = model.item_tokens_[SEQUENCES[user][-model.max_history :]].ravel()
    labels = torch.from_numpy(model.item_tokens_[item])[None]
    with torch.no_grad():
        loss = model.module_(input_ids=torch.from_numpy(source)[None], labels=labels).loss
    return -float(loss) * labels.shape[1]  # the loss is the mean over the ID's tokens


def test_fit_builds_the_semantic_ids_and_trains(model: TIGER) -> None:
    expected = semantic_ids(VECTORS, levels=2, codebook_size=3, seed=model.seed)
    np.testing.assert_array_equal(model.semantic_ids_.codes, expected.codes)
    np.testing.assert_array_equal(model.item_tokens_, expected.token_ids() + N_SPECIAL_TOKENS)
    assert model.id_length == 3 and model.trie_.length == 3
    vocabulary = N_SPECIAL_TOKENS + expected.vocab_size
    assert model.module_.config.vocab_size == vocabulary
    assert not model.module_.training
    assert [r["epoch"] for r in model.history_] == list(range(1, 21))
    assert all(set(r) == {"epoch", "loss", "seconds"} for r in model.history_)
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]
    # examples: the last 8 positions of every sequence (all but the first if shorter)
    assert len(model._targets) == sum(min(8, n - 1) for n in LENGTHS[:-1])
    assert (model._targets[:, -1] == 1).all()  # every target ends with <eos>


def test_scores_are_the_exact_log_probabilities_of_the_ids(model: TIGER) -> None:
    users = np.array([0, 5, 17])
    scores = model.score(users)
    assert scores.shape == (3, N_ITEMS) and scores.dtype == np.float32
    naive = np.array([[_naive_log_probability(model, u, i) for i in range(N_ITEMS)] for u in users])
    np.testing.assert_allclose(scores, naive, atol=1e-4)
    assert (scores < 0).all()
    # a distribution over token sequences: the items' IDs get at most all of its mass
    totals = np.exp(scores.astype(np.float64)).sum(axis=1)
    assert (totals <= 1 + 1e-5).all()
    assert (totals > 0.5).all()  # untrained, the IDs have about 1/70 of the mass


def test_users_scored_together_or_alone_get_the_same_scores(model: TIGER) -> None:
    users = np.arange(N_USERS - 1)  # histories of different lengths, padded together
    together = model.score(users)
    alone = np.vstack([model.score([u]) for u in users[::10]])
    np.testing.assert_allclose(together[::10], alone, atol=1e-5)


def test_empty_histories_get_popularity(model: TIGER) -> None:
    empty = N_USERS - 1
    np.testing.assert_array_equal(model.score([empty])[0], model.popularity_)
    top = model.generate([empty], k=3, exclude_seen=False)
    np.testing.assert_array_equal(top.items[0], np.argsort(-model.popularity_, kind="stable")[:3])
    np.testing.assert_array_equal(top.scores[0], model.popularity_[top.items[0]])


def test_exhaustive_beam_search_is_exact_and_reaches_new_items(model: TIGER) -> None:
    users = np.array([0, 5, 17, 40])
    result = model.generate(users, k=N_ITEMS, beams=N_ITEMS, exclude_seen=False)
    assert isinstance(result, Recommendations)
    assert result.items.shape == (4, N_ITEMS) and result.items.dtype == np.int64
    assert result.scores.dtype == np.float32
    exact = model.score(users)
    for row in range(4):
        # as many beams as items: every item is written once, the new one included
        assert sorted(result.items[row]) == list(range(N_ITEMS))
        assert NEW_ITEM in result.items[row]
        np.testing.assert_allclose(result.scores[row], exact[row, result.items[row]], atol=1e-4)
        assert (np.diff(result.scores[row]) <= 1e-6).all()  # best first
        assert result.items[row, 0] == exact[row].argmax()


def test_narrow_beam_search_returns_valid_distinct_items(model: TIGER) -> None:
    users = np.arange(N_USERS - 1)
    result = model.generate(users, k=4, beams=6, exclude_seen=False)
    assert ((result.items >= 0) & (result.items < N_ITEMS)).all()
    assert all(len(set(row)) == 4 for row in result.items.tolist())
    exact = model.score(users)
    np.testing.assert_allclose(
        result.scores, np.take_along_axis(exact, result.items, axis=1), atol=1e-4
    )
    # the model learned the cycle: the top ID is mostly the next item
    following = (STARTS[users] + LENGTHS[users]) % NEW_ITEM
    assert (result.items[:, 0] == following).mean() > 0.8
    unseen = model.generate(users, k=4, beams=8)  # exclude_seen=True by default
    seen = TRAIN[users].toarray() > 0
    filled = unseen.items >= 0
    assert not seen[np.nonzero(filled)[0], unseen.items[filled]].any()
    assert np.isnan(unseen.scores[~filled]).all()


def test_same_seed_same_model_and_nothing_is_printed(capfd: pytest.CaptureFixture[str]) -> None:
    sequences, train = SEQUENCES[:40], TRAIN[:40]

    def scores(seed: int) -> np.ndarray:
        settings = {**SMALL, "epochs": 1, "seed": seed}
        fitted = TIGER(**settings).fit(train, sequences=sequences, item_vectors=VECTORS)
        fitted.generate(np.arange(5), k=2)
        return fitted.score(np.arange(5))

    threads = torch.get_num_threads()
    first = scores(1)
    np.testing.assert_array_equal(first, scores(1))
    assert not np.allclose(first, scores(2))
    assert torch.get_num_threads() == threads  # restored after fit, score and generate
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # no progress bars, no warnings


def test_early_stopping_on_valid() -> None:
    following = (STARTS + LENGTHS) % NEW_ITEM
    users = np.arange(N_USERS - 1)
    valid = sp.csr_matrix(
        (np.ones(users.size, np.float32), (users, following[users])), shape=TRAIN.shape
    )
    model = TIGER(epochs=3, eval_every=2, valid_k=5, **SMALL)
    model.fit(TRAIN, valid=valid, sequences=SEQUENCES, item_vectors=VECTORS)
    assert [r["epoch"] for r in model.history_ if "valid_ndcg" in r] == [2, 3]
    assert model.best_epoch_ in (2, 3)


def test_bad_input_is_refused_with_a_clear_error(model: TIGER) -> None:
    with pytest.raises(TypeError, match=r"TIGER\.fit needs sequences="):
        TIGER(**SMALL).fit(TRAIN, item_vectors=VECTORS)
    with pytest.raises(TypeError, match="needs item_vectors="):
        TIGER(**SMALL).fit(TRAIN, sequences=SEQUENCES)
    with pytest.raises(ValueError, match="item_vectors has 23 rows but the training matrix has 24"):
        TIGER(**SMALL).fit(TRAIN, sequences=SEQUENCES, item_vectors=VECTORS[:-1])
    with pytest.raises(ValueError, match="sequences has 79 histories but train has 80 users"):
        TIGER(**SMALL).fit(TRAIN, sequences=SEQUENCES[:-1], item_vectors=VECTORS)
    with pytest.raises(ValueError, match="no sequence has 2 or more items"):
        TIGER(**SMALL).fit(TRAIN, sequences=[s[:1] for s in SEQUENCES], item_vectors=VECTORS)
    with pytest.raises(ValueError, match=r"codebook_size must be an integer from 2 to 24"):
        TIGER(**{**SMALL, "codebook_size": 30}).fit(
            TRAIN, sequences=SEQUENCES, item_vectors=VECTORS
        )
    with pytest.raises(ValueError, match=r"d_model \(30\) must be divisible by heads \(4\)"):
        TIGER(d_model=30, heads=4)
    with pytest.raises(ValueError, match="codebook_size must be an integer >= 2"):
        TIGER(codebook_size=1)
    with pytest.raises(ValueError, match="max_targets_per_user must be a positive integer"):
        TIGER(max_targets_per_user=0)
    with pytest.raises(ValueError, match=r"beams \(3\) must be at least k \(5\)"):
        model.generate([0], k=5, beams=3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.generate([0], k=0)
    with pytest.raises(ValueError, match="exclude_seen must be True or False"):
        model.generate([0], exclude_seen=1)
    with pytest.raises(ValueError, match="unknown user"):
        model.generate([N_USERS])
    with pytest.raises(RuntimeError, match="not fitted"):
        TIGER().generate([0])
