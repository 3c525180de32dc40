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
from recutils.models import Recommendations
from recutils.models.hybrid import BertHybrid, HybridNetwork, hybrid_loss
from recutils.models.hybrid_cost import TRAINING_WAYS, training_step_seconds
from recutils.models.sampling import sample_negatives
from recutils.text import encode_texts, load_encoder, top_layer_inputs

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


VECTORS = text_vectors()


def small(**options) -> BertHybrid:
    """Settings that fit the tiny shop in a fraction of a second. One torch thread: tiny
    operations gain nothing from two, and two threads stall when another process keeps a
    core busy. Seed 0 explicitly (the tests' numbers were checked with it; the default is 42)."""
    settings = {
        "factors": 8,
        "hidden": 16,
        "epochs": 15,
        "threads": 1,
        "batch_size": 64,
        "learning_rate": 0.02,
        "embedding_l2": 0.0,
        "seed": 0,
        **options,
    }
    return BertHybrid(**settings)


def fit_small(train: sp.csr_matrix, vectors: np.ndarray | None = VECTORS, **options) -> BertHybrid:
    """``small(**options)`` fitted on ``train`` with the text vectors ``vectors`` (None: none)."""
    side = {} if vectors is None else {"item_vectors": vectors}
    return small(**options).fit(train, **side)


@pytest.fixture(scope="module")
def fitted() -> BertHybrid:
    train, _ = blocks()
    return fit_small(train, epochs=3)


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
    np.testing.assert_array_equal(fitted.score([0, 5, 19], items=[2, 11]), scores[:, [2, 11]])
    recommended = fitted.recommend(np.arange(N), k=5)
    assert isinstance(recommended, Recommendations)
    assert recommended.items.shape == (N, 5) and recommended.items.dtype == np.int64
    assert recommended.scores.shape == (N, 5) and recommended.scores.dtype == np.float32
    for user in range(N):
        assert not set(fitted.train_[user].indices) & set(recommended.items[user])
    np.testing.assert_array_equal(
        recommended.scores,
        np.take_along_axis(fitted.score(np.arange(N)), recommended.items, axis=1),
    )
    assert fitted.name == "BERT hybrid"
    assert isinstance(fitted.module_, HybridNetwork)
    assert [h["epoch"] for h in fitted.history_] == [1, 2, 3]
    assert all(set(h) == {"epoch", "loss", "seconds"} for h in fitted.history_)
    assert all(np.isfinite(h["loss"]) and h["seconds"] > 0 for h in fitted.history_)
    assert fitted.best_epoch_ == 3
    assert isinstance(fitted.fit_seconds_, float) and fitted.fit_seconds_ > 0
    assert fitted.finetune_seconds_ == 0.0 and fitted.finetune_history_ == []
    np.testing.assert_array_equal(fitted.item_text_vectors_, VECTORS)
    # side data is not a setting: the repr shows the settings and no array
    assert "dot=True" in repr(fitted) and "seed=0" in repr(fitted)
    assert "array" not in repr(fitted) and "item_vectors" not in fitted.get_params()


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
    model = fit_small(
        train, VECTORS if options.get("use_text", True) else None, epochs=2, **options
    )
    scores = model.score(np.arange(N))
    np.testing.assert_allclose(scores, forward_scores(model), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        model.score_pairs([0, 3, 19], [1, 12, 19]), scores[[0, 3, 19], [1, 12, 19]], atol=1e-5
    )


def test_scoring_in_blocks_gives_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = blocks()
    model = fit_small(train, epochs=2)
    whole = model.score(np.arange(N))
    monkeypatch.setattr("recutils.models.hybrid.SCORE_BLOCK_NUMBERS", 3 * N * 16)  # 3 users
    np.testing.assert_allclose(model.score(np.arange(N)), whole, rtol=1e-6, atol=1e-6)


def test_cold_items_are_scored_from_text_alone() -> None:
    train, _ = blocks()
    train = train.tolil()
    train[:, [8, 18]] = 0  # two items nobody bought: new products
    model = fit_small(sp.csr_matrix(train), epochs=5)
    assert not model.item_has_interactions_[[8, 18]].any()
    assert model.item_has_interactions_.sum() == N - 2
    keep = model.item_has_interactions_.astype(np.float32)
    np.testing.assert_allclose(model.score(np.arange(N)), forward_scores(model, keep), atol=1e-5)
    before = model.score(np.arange(N))
    with torch.no_grad():  # the ID embedding of a cold item is never used
        model.module_.item_embedding.weight[[8, 18]] = 5.0
    model._prepare_scoring(model.module_)
    after = model.score(np.arange(N))
    np.testing.assert_allclose(after[:, [8, 18]], before[:, [8, 18]], atol=1e-6)


def test_cold_items_are_ranked_by_their_text() -> None:
    """Hide items 7-9 (block A) and 17-19 (block B) from training entirely: their text says
    which block they are in, and the users of each block should get their own block's."""
    train, _ = blocks(held_out_per_user=0)
    train = train.tolil()
    cold = [7, 8, 9, 17, 18, 19]
    train[:, cold] = 0
    model = fit_small(sp.csr_matrix(train), epochs=40, item_id_dropout=0.5)
    scores = model.score(np.arange(N))[:, cold]
    assert (scores[:10, :3].mean(axis=1) > scores[:10, 3:].mean(axis=1)).all()
    assert (scores[10:, 3:].mean(axis=1) > scores[10:, :3].mean(axis=1)).all()


def test_ids_only_gives_every_cold_item_the_same_score() -> None:
    train, _ = blocks()
    train = train.tolil()
    train[:, [8, 18]] = 0
    model = fit_small(sp.csr_matrix(train), None, use_text=False, epochs=3)
    scores = model.score(np.arange(N))
    np.testing.assert_allclose(scores[:, 8], scores[:, 18], atol=1e-6)
    assert model.item_text_vectors_ is None


# --------------------------------------------------------------------------------------------
# Learning, reproducibility
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"dot": False}, {"use_text": False}, {"use_ids": False}],
)
def test_learns_the_two_groups(options: dict) -> None:
    train, held = blocks()
    side = {"item_vectors": VECTORS} if options.get("use_text", True) else {}
    model = small(**options)
    result = evaluate(model, train, held, k=2, **side)
    # random ranking of the 10 unseen items (2 relevant of them): nDCG@2 = 0.2; perfect: 1
    assert result.loc[2, "ndcg"] > 0.9
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]


def test_same_seed_same_scores_other_seed_differs() -> None:
    train, _ = blocks()
    model = small(epochs=3, seed=3)
    first = model.fit(train, item_vectors=VECTORS).score(np.arange(N))
    history = [h["loss"] for h in model.history_]
    # the same object fitted again: nothing of the first fit carries over
    second = model.fit(train, item_vectors=VECTORS).score(np.arange(N))
    np.testing.assert_array_equal(first, second)
    assert [h["loss"] for h in model.history_] == history
    # a fresh object with the same settings, and an unfitted copy from with_params
    np.testing.assert_array_equal(first, fit_small(train, epochs=3, seed=3).score(np.arange(N)))
    copy = model.with_params()
    assert copy is not model and copy.get_params() == model.get_params()
    with pytest.raises(RuntimeError, match="not fitted"):
        copy.score([0])
    other = model.with_params(seed=4).fit(train, item_vectors=VECTORS).score(np.arange(N))
    assert not np.allclose(first, other)


def test_default_seed_is_42() -> None:
    assert BertHybrid().seed == 42 and BertHybrid().get_params()["seed"] == 42


def test_early_stopping_on_valid_keeps_the_best_epoch() -> None:
    train, held = blocks()
    model = small(epochs=30, eval_every=1, patience=2, valid_k=5)
    model.fit(train, valid=held, item_vectors=VECTORS)
    measured = [h["valid_ndcg"] for h in model.history_]  # every epoch measured
    assert all(set(h) == {"epoch", "loss", "seconds", "valid_ndcg"} for h in model.history_)
    assert model.best_epoch_ == model.history_[int(np.argmax(measured))]["epoch"]
    assert model.best_epoch_ < model.history_[-1]["epoch"] < 30  # it stopped early
    # the best state was restored: its nDCG is the best one measured, and its scores are those
    # of a fit of best_epoch_ epochs without validation (validation draws no random numbers)
    quality = evaluate(model, train, held, k=5, fit=False)
    assert quality.loc[5, "ndcg"] == pytest.approx(max(measured), abs=1e-6)
    shorter = model.with_params(epochs=model.best_epoch_).fit(train, item_vectors=VECTORS)
    np.testing.assert_array_equal(shorter.score(np.arange(N)), model.score(np.arange(N)))


def test_valid_measured_every_eval_every_epochs_and_at_the_end() -> None:
    train, held = blocks()
    model = small(epochs=5, eval_every=2, patience=10, valid_k=5)
    model.fit(train, valid=held, item_vectors=VECTORS)
    assert [h["epoch"] for h in model.history_ if "valid_ndcg" in h] == [2, 4, 5]


def test_fit_leaves_global_rng_and_threads_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    train, _ = blocks()
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit_small(train, epochs=1)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
    assert torch.get_num_threads() == threads

    calls: list[int] = []
    real_set = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real_set(n)))
    monkeypatch.setattr("recutils.environment.configured_threads", lambda: (1, 1))
    fit_small(train, epochs=1, threads=None)
    assert calls == [1, threads]  # the recutils.setup setting, then the previous one restored


def test_progress_bar_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = blocks()
    fit_small(train, epochs=2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    fit_small(train, epochs=2, progress=True)
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
        ({"negatives": 0}, r"negatives must be a positive integer \(.*\), got 0"),
        ({"negatives": 2.5}, "negatives must be a positive integer"),
        (
            {"item_id_dropout": 1.0},
            r"item_id_dropout must be a finite number >= 0 and < 1 \(.*\), got 1\.0",
        ),
        ({"item_id_dropout": -0.1}, "item_id_dropout must be a finite number >= 0 and < 1"),
        ({"item_id_dropout": float("nan")}, "item_id_dropout must be a finite number"),
        ({"factors": 0}, "factors must be a positive integer"),
        ({"epochs": 0}, r"epochs must be a positive integer \(.*\), got 0"),
        ({"learning_rate": 0.0}, r"learning_rate must be a finite number > 0 \(.*\), got 0\.0"),
        ({"embedding_l2": -1.0}, "embedding_l2 must be a finite number >= 0"),
        ({"dot": "yes"}, r"dot must be True or False \(.*\), got 'yes'"),
        ({"seed": -1}, r"seed must be a non-negative integer \(.*\), got -1"),
        ({"eval_every": 0}, "eval_every must be a positive integer"),
        ({"patience": 0}, "patience must be a positive integer"),
        ({"finetune_steps": 0}, "finetune_steps must be a positive integer"),
        ({"finetune_learning_rate": 0.0}, "finetune_learning_rate must be a finite number > 0"),
        ({"finetune_top_layer": True, "use_text": False}, "needs use_text=True"),
    ],
)
def test_bad_arguments_are_named(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        small(**options)


def test_side_data_missing_or_unknown_is_a_type_error() -> None:
    train, _ = blocks()
    with pytest.raises(TypeError, match="use_text=True needs item_vectors= in fit"):
        small().fit(train)
    with pytest.raises(TypeError, match="finetune_top_layer=True needs item_texts= in fit"):
        small(finetune_top_layer=True).fit(train)
    with pytest.raises(TypeError, match="finetune_top_layer=True needs item_texts= in fit"):
        small(finetune_top_layer=True).fit(train, item_vectors=VECTORS)
    with pytest.raises(TypeError, match=r"side data it does not use: \['item_text_vectors'\]"):
        small().fit(train, item_text_vectors=VECTORS)  # the old constructor name
    with pytest.raises(TypeError, match=r"accepts: item_vectors, item_texts"):
        small().fit(train, item_vectors=VECTORS, sequences=[])
    with pytest.raises(TypeError, match="item_text_vectors"):
        BertHybrid(item_text_vectors=VECTORS)  # type: ignore[call-arg]
    # with fine-tuning the vectors come from the texts: passing both is an error, before the
    # encoder runs
    with pytest.raises(ValueError, match="do not pass item_vectors"):
        small(finetune_top_layer=True).fit(train, item_vectors=VECTORS, item_texts=["a"] * N)


def test_bad_text_vectors_are_named() -> None:
    train, _ = blocks()
    vectors = text_vectors()
    vectors[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"1 row\(s\) with NaN or infinite values.*rows \[3\]"):
        small().fit(train, item_vectors=vectors)
    with pytest.raises(ValueError, match="2-D numeric"):
        small().fit(train, item_vectors=np.ones(N))
    with pytest.raises(TypeError, match="dense numpy"):
        small().fit(train, item_vectors=sp.csr_matrix(text_vectors()))


def test_wrong_number_of_text_rows_is_named_at_fit() -> None:
    train, _ = blocks()
    with pytest.raises(ValueError, match="item_vectors has 19 rows but the training matrix"):
        small().fit(train, item_vectors=text_vectors()[:19])


def test_unknown_user_and_bad_k(fitted: BertHybrid) -> None:
    with pytest.raises(ValueError, match=r"unknown user\(s\) \[20\]"):
        fitted.score([0, 20])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        fitted.recommend([0], k=0)
    with pytest.raises(ValueError, match="same length"):
        fitted.score_pairs([0, 1], [2])
    with pytest.raises(RuntimeError, match="not fitted"):
        small().score([0])


def test_new_users_get_popularity() -> None:
    train, _ = blocks()
    train = train.tolil()
    train[4, :] = 0  # user 4 has no training interaction
    train = sp.csr_matrix(train)
    train.eliminate_zeros()
    model = fit_small(train, epochs=2)
    assert BertHybrid.new_users == "popularity"
    np.testing.assert_array_equal(model.score([4])[0], model.popularity_)
    top = model.recommend([4], k=3)
    np.testing.assert_array_equal(top.scores[0], np.sort(model.popularity_)[::-1][:3])
    assert not np.allclose(model.score([5])[0], model.popularity_)  # others are personal


def test_hybrid_loss_is_the_binary_cross_entropy_plus_the_penalty() -> None:
    network = HybridNetwork(5, 6, TEXT_DIM, factors=4, hidden=8, dot=True)  # random weights
    users, items = torch.tensor([0, 1, 4, 4]), torch.tensor([0, 5, 2, 3])
    labels, keep = torch.tensor([1.0, 0.0, 1.0, 0.0]), torch.tensor([1.0, 1.0, 0.0, 1.0])
    text = torch.from_numpy(VECTORS[items.numpy()])
    logits = network(users, items, keep, text)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    torch.testing.assert_close(
        hybrid_loss(network, users, items, labels, keep, text, 0.0), expected
    )
    penalty = (
        network.user_embedding(users).pow(2).sum(dim=1)
        + network.item_embedding(items).pow(2).sum(dim=1)
    ).mean()
    torch.testing.assert_close(
        hybrid_loss(network, users, items, labels, keep, text, 0.5), expected + 0.5 * penalty
    )
    with pytest.raises(ValueError, match="pass the items' text vectors"):
        network(users, items, keep)


# --------------------------------------------------------------------------------------------
# Fine-tuning the encoder's top layer (the real bundled encoder, a few steps)
# --------------------------------------------------------------------------------------------

TEXTS = [
    *(f"{colour} cotton t-shirt, relaxed fit" for colour in ("red", "blue", "grey", "white")),
    *(f"solid oak {thing} for the dining room" for thing in ("table", "chair", "bench", "shelf")),
]


def test_top_layer_inputs_reproduce_the_encoder() -> None:
    inputs = top_layer_inputs(TEXTS, threads=1)
    # the same equal-length batches as encode_texts: the same bits
    np.testing.assert_array_equal(inputs.vectors, encode_texts(TEXTS, cache=False, threads=1))
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
        finetune_top_layer=True,
        factors=4,
        hidden=8,
        epochs=2,
        batch_size=16,
        finetune_steps=3,
        finetune_batch_size=8,
        finetune_learning_rate=1e-3,
        seed=0,
        threads=1,
    ).fit(train, item_texts=TEXTS)
    assert model.top_layer_ is not None and len(model.finetune_history_) == 3
    assert len(model.history_) == 2 and model.best_epoch_ == 2
    assert 0 < model.finetune_seconds_ < model.fit_seconds_
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
    model = BertHybrid(finetune_top_layer=True, epochs=1, threads=1)
    with pytest.raises(ValueError, match="item_texts has 8 rows but the training matrix has 9"):
        model.fit(train, item_texts=TEXTS)


@pytest.mark.parametrize("way", TRAINING_WAYS)
def test_training_step_seconds(way: str) -> None:
    inputs = top_layer_inputs(TEXTS[:4], threads=1) if way != "full" else None
    seconds = training_step_seconds(
        TEXTS[:4], way, batch_size=4, repeats=2, warmup=0, n_users=5, inputs=inputs, threads=1
    )
    assert seconds.shape == (2,) and (seconds > 0).all()
    with pytest.raises(ValueError, match=r"way must be one of \['full', 'top_layer', 'frozen'\]"):
        training_step_seconds(TEXTS[:4], "all")  # type: ignore[arg-type]
