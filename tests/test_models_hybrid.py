"""recutils.models.hybrid: the post's BERT hybrid made to work.

Most tests use a tiny synthetic shop: 20 users x 20 items, users 0-9 like items 0-9 ("block A"),
users 10-19 items 10-19 ("block B"), and 8-d text vectors that say which block an item is in
(plus noise). The fine-tuning test loads the real bundled encoder on a few short texts.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recutils.evaluation import evaluate
from recutils.models.hybrid import (
    BertHybrid,
    top_layer_inputs,
    training_step_seconds,
)
from recutils.models.sampling import sample_negatives
from recutils.text import encode_texts, load_encoder

N = 20  # users and items
TEXT_DIM = 8


def text_vectors(seed: int = 0) -> np.ndarray:
    """Items 0-9 point along +e0, items 10-19 along +e1, plus small noise: text tells blocks."""
    rng = np.random.default_rng(seed)
    vectors = 0.1 * rng.standard_normal((N, TEXT_DIM)).astype(np.float32)
    vectors[:10, 0] += 1.0
    vectors[10:, 1] += 1.0
    return vectors


def blocks(held_out_per_user: int = 2, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Users 0-9 have items 0-9, users 10-19 items 10-19, minus a few held-out in-block items
    per user (the second matrix)."""
    rng = np.random.default_rng(seed)
    train = np.zeros((N, N), dtype=np.float32)
    held = np.zeros_like(train)
    for user in range(N):
        block = np.arange(10) + (0 if user < 10 else 10)
        hidden = rng.choice(block, size=held_out_per_user, replace=False)
        train[user, block] = 1.0
        train[user, hidden] = 0
        held[user, hidden] = 1
    return sp.csr_matrix(train), sp.csr_matrix(held)


def small(**options) -> BertHybrid:
    """Settings that fit the tiny shop in a fraction of a second. One torch thread: tiny
    operations gain nothing from two, and two threads stall when another process keeps a
    core busy."""
    settings = {
        "item_text_vectors": text_vectors(),
        "factors": 8,
        "hidden": 16,
        "epochs": 15,
        "threads": 1,
        "batch_size": 64,
        "learning_rate": 0.02,
        "embedding_l2": 0.0,
        **options,
    }
    return BertHybrid(**settings)


@pytest.fixture(scope="module")
def fitted() -> BertHybrid:
    train, _ = blocks()
    return small(epochs=3).fit(train)


def forward_scores(model: BertHybrid, keep: np.ndarray | None = None) -> np.ndarray:
    """(n_users, n_items) logits from the network's own per-pair forward pass."""
    users, items = np.meshgrid(np.arange(model.n_users_), np.arange(model.n_items_), indexing="ij")
    if keep is None:
        keep = model.item_has_interactions_.astype(np.float32)
    keep_pairs = torch.from_numpy(np.broadcast_to(keep, users.shape).ravel().astype(np.float32))
    text = None
    if model.item_text_vectors_ is not None:
        text = torch.from_numpy(model.item_text_vectors_[items.ravel()])
    with torch.inference_mode():
        logits = model.module_(
            torch.from_numpy(users.ravel()), torch.from_numpy(items.ravel()), keep_pairs, text
        )
    return logits.numpy().reshape(users.shape)


# --------------------------------------------------------------------------------------------
# The interface and the separable scoring
# --------------------------------------------------------------------------------------------


def test_score_and_recommend_shapes(fitted: BertHybrid) -> None:
    scores = fitted.score([0, 5, 19])
    assert scores.shape == (3, N) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    recommended = fitted.recommend(np.arange(N), k=5)
    assert recommended.shape == (N, 5) and recommended.dtype == np.int64
    for user in range(N):
        assert not set(fitted.train_[user].indices) & set(recommended[user])
    assert fitted.name == "BERT hybrid"
    assert len(fitted.history_) == 3 and all(np.isfinite(fitted.history_))
    assert "<20 x 8 array>" in repr(fitted) and "dot=True" in repr(fitted)


@pytest.mark.parametrize(
    "options",
    [
        {"dot": True},
        {"dot": False},
        {"use_text": False},
        {"use_ids": False},
        {"use_ids": False, "dot": False},
    ],
)
def test_separable_scoring_equals_the_per_pair_forward(options: dict) -> None:
    train, _ = blocks()
    model = small(epochs=2, **options).fit(train)
    scores = model.score(np.arange(N))
    np.testing.assert_allclose(scores, forward_scores(model), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        model.score_pairs([0, 3, 19], [1, 12, 19]), scores[[0, 3, 19], [1, 12, 19]], atol=1e-5
    )


def test_scoring_in_blocks_gives_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = blocks()
    model = small(epochs=2).fit(train)
    whole = model.score(np.arange(N))
    monkeypatch.setattr("recutils.models.hybrid.SCORE_BLOCK_NUMBERS", 3 * N * 16)  # 3 users
    np.testing.assert_allclose(model.score(np.arange(N)), whole, rtol=1e-6, atol=1e-6)


def test_cold_items_are_scored_from_text_alone() -> None:
    train, _ = blocks()
    train = train.tolil()
    train[:, [8, 18]] = 0  # two items nobody bought: new products
    model = small(epochs=5).fit(sp.csr_matrix(train))
    assert not model.item_has_interactions_[[8, 18]].any()
    assert model.item_has_interactions_.sum() == N - 2
    keep = model.item_has_interactions_.astype(np.float32)
    np.testing.assert_allclose(model.score(np.arange(N)), forward_scores(model, keep), atol=1e-5)
    before = model.score(np.arange(N))
    with torch.no_grad():  # the ID embedding of a cold item is never used
        model.module_.item_embedding.weight[[8, 18]] = 5.0
    model._prepare_scoring()
    after = model.score(np.arange(N))
    np.testing.assert_allclose(after[:, [8, 18]], before[:, [8, 18]], atol=1e-6)


def test_cold_items_are_ranked_by_their_text() -> None:
    """Hide items 7-9 (block A) and 17-19 (block B) from training entirely: their text says
    which block they are in, and the users of each block should get their own block's."""
    train, _ = blocks(held_out_per_user=0)
    train = train.tolil()
    cold = [7, 8, 9, 17, 18, 19]
    train[:, cold] = 0
    model = small(epochs=40, item_id_dropout=0.5).fit(sp.csr_matrix(train))
    scores = model.score(np.arange(N))[:, cold]
    assert (scores[:10, :3].mean(axis=1) > scores[:10, 3:].mean(axis=1)).all()
    assert (scores[10:, 3:].mean(axis=1) > scores[10:, :3].mean(axis=1)).all()


def test_ids_only_gives_every_cold_item_the_same_score() -> None:
    train, _ = blocks()
    train = train.tolil()
    train[:, [8, 18]] = 0
    model = small(use_text=False, item_text_vectors=None, epochs=3).fit(sp.csr_matrix(train))
    scores = model.score(np.arange(N))
    np.testing.assert_allclose(scores[:, 8], scores[:, 18], atol=1e-6)
    assert model.item_text_vectors_ is None


# --------------------------------------------------------------------------------------------
# Learning, reproducibility
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"dot": False}, {"use_text": False, "item_text_vectors": None}, {"use_ids": False}],
)
def test_learns_the_two_groups(options: dict) -> None:
    train, held = blocks()
    result = evaluate(small(**options), train, held, k=2)
    # random ranking of the 10 unseen items (2 relevant of them): nDCG@2 = 0.2; perfect: 1
    assert result.loc[2, "ndcg"] > 0.9
    model = small(**options).fit(train)
    assert model.history_[-1] < model.history_[0]


def test_same_seed_same_scores_other_seed_differs() -> None:
    train, _ = blocks()
    first = small(epochs=3, seed=3).fit(train).score(np.arange(N))
    second = small(epochs=3, seed=3).fit(train).score(np.arange(N))
    other = small(epochs=3, seed=4).fit(train).score(np.arange(N))
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_fit_leaves_global_rng_and_threads_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = blocks()
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small(epochs=1).fit(train)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
    assert torch.get_num_threads() == threads

    calls: list[int] = []
    real_set = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real_set(n)))
    monkeypatch.setattr("recutils.environment.configured_threads", lambda: (1, 1))
    small(epochs=1, threads=None).fit(train)
    assert calls == [1, threads]  # the recutils.setup setting, then the previous one restored


def test_progress_bar_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = blocks()
    small(epochs=2).fit(train)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    small(epochs=2, progress=True).fit(train)
    captured = capsys.readouterr()
    assert "BERT hybrid" in captured.err and "2/2" in captured.err


def test_negative_sampler_avoids_training_items_and_is_reproducible() -> None:
    train, _ = blocks()
    users = np.repeat(np.arange(N), 200)
    items = sample_negatives(train, users, np.random.default_rng(0))
    assert not np.asarray(train[users, items]).any()  # never an item the user has
    for user in (0, 15):  # roughly uniform over the items the user does not have
        counts = np.bincount(items[users == user], minlength=N)
        assert set(np.flatnonzero(counts)) == set(range(N)) - set(train[user].indices)
    np.testing.assert_array_equal(items, sample_negatives(train, users, np.random.default_rng(0)))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"use_ids": False, "use_text": False}, "use_ids and use_text are both False"),
        ({"item_text_vectors": None}, "use_text=True needs item_text_vectors"),
        ({"negatives": 0}, "negatives must be a positive integer"),
        ({"negatives": 2.5}, "negatives must be a positive integer"),
        ({"item_id_dropout": 1.0}, r"item_id_dropout must be a number in \[0, 1\)"),
        ({"item_id_dropout": -0.1}, r"item_id_dropout must be a number in \[0, 1\)"),
        ({"item_id_dropout": float("nan")}, r"item_id_dropout"),
        ({"factors": 0}, "factors must be a positive integer"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
        ({"embedding_l2": -1.0}, "embedding_l2 must be a finite number >= 0"),
        ({"dot": "yes"}, "dot must be True or False"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"finetune_top_layer": True}, "finetune_top_layer=True needs item_texts"),
        (
            {"finetune_top_layer": True, "item_texts": ["a"] * N},
            "pass item_text_vectors=None",
        ),
    ],
)
def test_bad_arguments_are_named(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        small(**options)


def test_bad_text_vectors_are_named() -> None:
    vectors = text_vectors()
    vectors[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"1 row\(s\) with NaN or infinite values.*rows \[3\]"):
        small(item_text_vectors=vectors)
    with pytest.raises(ValueError, match="2-D numeric"):
        small(item_text_vectors=np.ones(N))
    with pytest.raises(TypeError, match="dense numpy"):
        small(item_text_vectors=sp.csr_matrix(text_vectors()))


def test_wrong_number_of_text_rows_is_named_at_fit() -> None:
    train, _ = blocks()
    with pytest.raises(ValueError, match="item_text_vectors has 19 rows but the training matrix"):
        small(item_text_vectors=text_vectors()[:19]).fit(train)


def test_unknown_user_and_bad_k(fitted: BertHybrid) -> None:
    with pytest.raises(ValueError, match=r"unknown user\(s\) \[20\]"):
        fitted.score([0, 20])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fitted.recommend([0], k=0)
    with pytest.raises(ValueError, match="same length"):
        fitted.score_pairs([0, 1], [2])
    with pytest.raises(RuntimeError, match="not fitted"):
        small().score([0])


# --------------------------------------------------------------------------------------------
# Fine-tuning the encoder's top layer (the real bundled encoder, a few steps)
# --------------------------------------------------------------------------------------------

TEXTS = [
    *(f"{colour} cotton t-shirt, relaxed fit" for colour in ("red", "blue", "grey", "white")),
    *(f"solid oak {thing} for the dining room" for thing in ("table", "chair", "bench", "shelf")),
]


def test_top_layer_inputs_reproduce_the_encoder() -> None:
    inputs = top_layer_inputs(TEXTS, threads=1)
    np.testing.assert_allclose(inputs.vectors, encode_texts(TEXTS, cache=False), atol=1e-5)
    tokens = [len(ids) for ids in load_encoder()[0](TEXTS)["input_ids"]]
    assert inputs.states.shape == (sum(tokens), 384)
    assert inputs.nbytes == 4 * sum(tokens) * 384
    hidden, mask = inputs.padded(np.array([0, 5]))
    assert hidden.shape == (2, max(tokens[0], tokens[5]), 384)
    assert mask.sum().item() == tokens[0] + tokens[5]


def test_finetuning_the_top_layer_a_few_steps() -> None:
    _, encoder = load_encoder()
    shared_top = encoder.encoder.layer[-1].output.dense.weight.detach().clone()
    train = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 4))).astype(np.float32))  # 6 x 8
    model = BertHybrid(
        item_texts=TEXTS,
        finetune_top_layer=True,
        factors=4,
        hidden=8,
        epochs=2,
        batch_size=16,
        finetune_steps=3,
        finetune_batch_size=8,
        finetune_learning_rate=1e-3,
        threads=1,
    ).fit(train)
    assert model.top_layer_ is not None and len(model.finetune_history_) == 3
    vectors = model.item_text_vectors_
    assert vectors.shape == (8, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    frozen = encode_texts(TEXTS, cache=False)
    assert 1e-6 < np.abs(vectors - frozen).max() < 0.5  # tuned, a little
    # the shared encoder (used by encode_texts) is untouched
    torch.testing.assert_close(encoder.encoder.layer[-1].output.dense.weight, shared_top)
    np.testing.assert_allclose(model.score(np.arange(6)), forward_scores(model), atol=1e-5)


def test_finetuning_needs_one_text_per_item() -> None:
    train = sp.csr_matrix(np.eye(5, 9, dtype=np.float32))
    model = BertHybrid(item_texts=TEXTS, finetune_top_layer=True, epochs=1, threads=1)
    with pytest.raises(ValueError, match="item_texts has 8 rows but the training matrix has 9"):
        model.fit(train)


@pytest.mark.parametrize("way", ["frozen", "top_layer", "full"])
def test_training_step_seconds(way: str) -> None:
    inputs = top_layer_inputs(TEXTS[:4], threads=1) if way != "full" else None
    seconds = training_step_seconds(
        TEXTS[:4], way, batch_size=4, repeats=2, warmup=0, n_users=5, inputs=inputs, threads=1
    )
    assert seconds.shape == (2,) and (seconds > 0).all()
    with pytest.raises(ValueError, match=r"way must be one of \['full', 'top_layer', 'frozen'\]"):
        training_step_seconds(TEXTS[:4], "all")  # type: ignore[arg-type]
