"""recutils.text: parity with sentence-transformers, input checks, the embedding cache.

The model is loaded at most three times: once by sentence-transformers (module fixture), once
by recutils (cached for the process) and once in a fresh process that checks the warm path.
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils import text
from recutils.cache import CacheWarning, write_arrays
from recutils.text import (
    EMBEDDING_DIM,
    MAX_LENGTH,
    encode_texts,
    item_texts,
    model_fingerprint,
    shard_key,
    text_keys,
)

LONG_SENTENCE = "Stainless steel kettle with automatic shut-off and a 1.7 litre capacity. "
TEXTS = [
    "hello world",
    "",
    "Trail running shoe. Category: Sports > Shoes > Running. Brand: Acme.",
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "ünïcödé café — naïve façade",
    "日本語のテキスト、商品説明。",
    "🚀🔥 best deal!!! 50% off???",
    "   leading and trailing spaces   ",
    "tab\tseparated\nnew line text",
    LONG_SENTENCE * 40,  # about 600 tokens: truncated at 256
    " ".join(f"word{i}" for i in range(400)),
    "a",
    "The quick brown fox jumps over the lazy dog.",
    "USB-C cable 2m, 100W PD, braided nylon (black)",
    "$19.99 / €17,50 / £15",
    "Kinder-Regenjacke, wasserdicht, Größe 128",
    "Запасной ремень для пылесоса",
    "<b>HTML</b> &amp; markup",
    ".",
    "hello world",  # a duplicate
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """sentence-transformers' embeddings of TEXTS (the model this course bundles)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(text.model_dir()), device="cpu")
    assert model.max_seq_length == MAX_LENGTH
    embeddings = model.encode(TEXTS, batch_size=8, convert_to_numpy=True)
    del model
    return np.asarray(embeddings)


@pytest.fixture(scope="module")
def ours() -> np.ndarray:
    return encode_texts(TEXTS, cache=False)


def fail_if_called(*args, **kwargs):
    raise AssertionError("the model was loaded although the result should come from the cache")


# -- the encoder -----------------------------------------------------------------------------


def test_long_texts_exceed_max_length():
    tokenizer, _ = text.load_encoder()
    lengths = [len(tokenizer(t)["input_ids"]) for t in TEXTS]
    assert max(lengths) > 2 * MAX_LENGTH
    assert sum(n > MAX_LENGTH for n in lengths) >= 2


def test_matches_sentence_transformers(ours, reference):
    assert reference.shape == (len(TEXTS), EMBEDDING_DIM)
    assert np.abs(ours - reference).max() <= 1e-5


def test_output_shape_dtype_and_unit_norm(ours):
    assert ours.shape == (len(TEXTS), EMBEDDING_DIM)
    assert ours.dtype == np.float32
    assert ours.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(ours[0], ours[-1])  # duplicates get the same vector


def test_a_texts_vector_does_not_depend_on_its_batch(ours):
    """Equal-length batches have no padding and always hold ``batch_size`` rows, so every text
    gets the same bits alone or in another order: what makes caching text by text exact. Another
    batch size changes the shape of the matrix products, which some CPUs (AVX-512 kernels) sum
    in another order: equal to float rounding only, which is why the batch size is part of the
    cache key."""
    one_by_one = np.vstack([encode_texts([t], cache=False) for t in TEXTS])
    np.testing.assert_array_equal(ours, one_by_one)
    reversed_order = encode_texts(TEXTS[::-1], cache=False)[::-1]
    np.testing.assert_array_equal(ours, reversed_order)
    reversed_small_batches = encode_texts(TEXTS[::-1], cache=False, batch_size=3)[::-1]
    np.testing.assert_allclose(ours, reversed_small_batches, atol=1e-6)


def test_equal_length_batches_have_no_padding():
    lengths = np.array([5, 7, 5, 256, 7, 5, 256, 3] + [50] * 20)
    batches = list(text._equal_length_batches(lengths, batch_size=8))
    for batch in batches:
        assert len(set(lengths[batch].tolist())) == 1  # one length: no padding
        assert len(batch) <= 8
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(len(lengths)))
    assert [len(b) for b in batches if lengths[b[0]] == 50] == [8, 8, 4]
    assert [int(lengths[b[0]]) for b in batches][:2] == [256, 50]  # longest first


def test_truncation_ignores_words_after_256_tokens():
    long = LONG_SENTENCE * 40
    a, b = encode_texts(
        [long, long + " Completely different ending about garden furniture."], cache=False
    )
    assert np.abs(a - b).max() <= 1e-6


def test_similar_products_are_closer_than_unrelated_ones():
    e = encode_texts(
        ["red running shoes", "crimson jogging sneakers", "stainless steel kettle"], cache=False
    )
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2


def test_series_and_array_inputs(ours):
    texts, expected = TEXTS[:9], ours[:9]  # the short ones: this test is about containers
    series = pd.Series(texts, index=[f"item{i}" for i in range(len(texts))][::-1])
    np.testing.assert_allclose(encode_texts(series, cache=False), expected, atol=1e-5)
    np.testing.assert_allclose(encode_texts(np.array(texts), cache=False), expected, atol=1e-5)
    np.testing.assert_allclose(encode_texts(tuple(texts), cache=False), expected, atol=1e-5)


def test_threads_are_set_and_restored(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        calls: list[int] = []
        real_set = torch.set_num_threads

        def recording_set(n: int) -> None:
            calls.append(n)
            real_set(n)

        monkeypatch.setattr(torch, "set_num_threads", recording_set)
        monkeypatch.setattr(text.environment, "configured_threads", lambda: (1, 2))
        encode_texts(["thread check"], cache=False)
        assert calls == [2, 1]  # the encoder setting, then the previous value
        assert torch.get_num_threads() == 1

        def broken_pooling(*args, **kwargs):
            raise RuntimeError("failure inside the forward pass")

        monkeypatch.setattr(text, "mean_pooling", broken_pooling)
        with pytest.raises(RuntimeError, match="forward pass"):
            encode_texts(["thread check"], cache=False, threads=2)
        assert torch.get_num_threads() == 1  # restored on the error path too
    finally:
        torch.set_num_threads(before)


def test_cls_pooling_is_the_normalised_cls_state_and_differs_from_mean(ours):
    import torch

    texts = TEXTS[:6]
    cls = encode_texts(texts, cache=False, pooling="cls")
    assert cls.shape == (len(texts), EMBEDDING_DIM) and cls.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(cls, axis=1), 1.0, atol=1e-6)
    tokenizer, model = text.load_encoder()
    with torch.inference_mode():
        state = model(**tokenizer([texts[2]], return_tensors="pt")).last_hidden_state[0, 0]
    expected = (state / state.norm()).numpy()
    np.testing.assert_allclose(cls[2], expected, atol=1e-5)
    # another vector than the mean of the tokens, though of the same text
    assert np.abs(cls - ours[:6]).max() > 0.1
    assert (np.sum(cls * ours[:6], axis=1) < 0.999).all()


def test_pooling_is_part_of_the_cache_key(tmp_path, monkeypatch):
    texts = TEXTS[:3]
    keys = text_keys(texts)
    assert shard_key(keys) == shard_key(keys, "mean")
    assert shard_key(keys, "cls") != shard_key(keys, "mean")
    mean = encode_texts(texts, cache_dir=tmp_path)
    cls = encode_texts(texts, cache_dir=tmp_path, pooling="cls")  # not the cached mean entry
    assert np.abs(cls - mean).max() > 0.1
    assert len(list(tmp_path.glob("*.npz"))) == 2
    monkeypatch.setattr(text, "load_encoder", fail_if_called)  # both now read from the cache
    np.testing.assert_array_equal(encode_texts(texts, cache_dir=tmp_path, pooling="cls"), cls)
    np.testing.assert_array_equal(encode_texts(texts, cache_dir=tmp_path), mean)


@pytest.mark.parametrize("pooling", ["max", "CLS", "", None, 0])
def test_unknown_pooling_is_rejected_with_the_valid_values(pooling, monkeypatch):
    monkeypatch.setattr(text, "load_encoder", fail_if_called)
    with pytest.raises(ValueError, match=r"pooling must be one of \['mean', 'cls'\]"):
        encode_texts(["a"], cache=False, pooling=pooling)
    with pytest.raises(ValueError, match="pooling must be one of"):
        shard_key(text_keys(["a"]), pooling)


# -- input checks ----------------------------------------------------------------------------


def test_empty_input_gives_empty_array_without_the_model(monkeypatch):
    monkeypatch.setattr(text, "load_encoder", fail_if_called)
    for empty in ([], (), pd.Series([], dtype=object), np.array([], dtype=str)):
        result = encode_texts(empty)
        assert result.shape == (0, EMBEDDING_DIM) and result.dtype == np.float32


def test_missing_texts_are_rejected_with_positions(monkeypatch):
    monkeypatch.setattr(text, "load_encoder", fail_if_called)
    with pytest.raises(ValueError) as error:
        encode_texts(["ok", None, "fine", float("nan"), ""])
    message = str(error.value)
    assert "2 entries" in message and "2 missing" in message
    assert "position 1: None" in message and "position 3: nan" in message
    assert "replace missing text with ''" in message and "drop" in message


def test_missing_texts_in_series_name_the_index(monkeypatch):
    monkeypatch.setattr(text, "load_encoder", fail_if_called)
    series = pd.Series(["ok", np.nan, "fine"], index=["A1", "B17", "C3"])
    with pytest.raises(ValueError, match=r"1 entry .* position 1 \(index 'B17'\)"):
        encode_texts(series)


def test_non_string_entries_are_rejected():
    with pytest.raises(ValueError, match=r"1 entry .*0 missing.*position 2: 42.*str\(\)"):
        encode_texts(["a", "b", 42])
    with pytest.raises(ValueError, match="1 entry"):
        encode_texts(["a", b"bytes"])


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ("a single text", TypeError, "single str"),
        ({"a", "b"}, TypeError, "got set"),
        (np.array([["a", "b"]]), ValueError, "one-dimensional"),
        (None, TypeError, "got NoneType"),
    ],
)
def test_wrong_containers_are_rejected(bad, error, match):
    with pytest.raises(error, match=match):
        encode_texts(bad)


@pytest.mark.parametrize(
    "options", [{"batch_size": 0}, {"batch_size": True}, {"threads": 0}, {"batch_size": 2.5}]
)
def test_bad_options_are_rejected(options):
    with pytest.raises(ValueError, match="positive integer"):
        encode_texts(["a"], cache=False, **options)


# -- the cache -------------------------------------------------------------------------------


def test_fingerprint_identifies_the_model():
    fingerprint = model_fingerprint()
    assert fingerprint.startswith("all-MiniLM-L6-v2:")
    assert len(fingerprint.split(":")[1]) == 64
    assert model_fingerprint() == fingerprint


def test_text_keys_are_sha256_of_each_text():
    import hashlib

    keys = text_keys(["a", "b", "a", "", "a\x00"])
    assert keys.dtype == np.dtype("S32") and keys.shape == (5,)
    assert keys[0] == hashlib.sha256(b"a").digest() and keys[0] == keys[2]
    assert len(set(keys.tolist())) == 4


def test_shard_key_depends_on_texts_order_and_model(monkeypatch):
    key = shard_key(text_keys(["a", "b"]))
    assert key == shard_key(text_keys(["a", "b"]))
    assert key != shard_key(text_keys(["a", "b "]))
    assert key != shard_key(text_keys(["b", "a"]))
    assert key != shard_key(text_keys(["a", "b", ""]))
    monkeypatch.setattr(text, "model_fingerprint", lambda: "all-MiniLM-L6-v2:other-weights")
    assert key != shard_key(text_keys(["a", "b"]))


def shards(folder) -> list:
    return sorted(folder.glob("all-MiniLM-L6-v2-*.npz"))


def test_warm_cache_skips_the_model(tmp_path, monkeypatch):
    first = encode_texts(TEXTS, cache_dir=tmp_path)
    prefix = f"all-MiniLM-L6-v2-{model_fingerprint().split(':')[1][:12]}-mean-b8-"
    assert len(shards(tmp_path)) == 1 and shards(tmp_path)[0].name.startswith(prefix)
    monkeypatch.setattr(text, "load_encoder", fail_if_called)
    second = encode_texts(TEXTS, cache_dir=tmp_path)
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32
    # any subset, in any order, comes from the same stored vectors
    subset = [TEXTS[4], TEXTS[0], TEXTS[2]]
    np.testing.assert_array_equal(encode_texts(subset, cache_dir=tmp_path), first[[4, 0, 2]])
    with pytest.raises(AssertionError, match="model was loaded"):  # a new text needs the model
        encode_texts([*TEXTS[:-1], "hello world!"], cache_dir=tmp_path)


def record_encodings(monkeypatch) -> list[list[str]]:
    """The lists of texts the model encodes from now on (the texts of each call, in order)."""
    encoded: list[list[str]] = []
    real = text._encode_uncached

    def recording(texts, *args, **kwargs):
        encoded.append(list(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(text, "_encode_uncached", recording)
    return encoded


def test_only_new_texts_are_encoded(tmp_path, monkeypatch):
    first = encode_texts(TEXTS[:10], cache_dir=tmp_path)
    encoded = record_encodings(monkeypatch)
    both = encode_texts(["brand new text", *TEXTS[:10], "brand new text"], cache_dir=tmp_path)
    assert encoded == [["brand new text"]]  # once, although it appears twice
    np.testing.assert_array_equal(both[1:11], first)
    np.testing.assert_array_equal(both[0], both[11])
    np.testing.assert_array_equal(both[0], encode_texts(["brand new text"], cache=False)[0])
    assert len(shards(tmp_path)) == 2


def test_many_shards_are_merged(tmp_path, monkeypatch):
    monkeypatch.setattr(text, "MAX_SHARDS", 3)
    expected = encode_texts(TEXTS[:8], cache=False)
    for position in range(8):  # one new text per call: one new shard per call
        encode_texts([TEXTS[position]], cache_dir=tmp_path)
        assert len(shards(tmp_path)) <= 3
    monkeypatch.setattr(text, "load_encoder", fail_if_called)
    text._shard_memo.clear()
    np.testing.assert_array_equal(encode_texts(TEXTS[:8], cache_dir=tmp_path), expected)


def test_default_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RECUTILS_CACHE_DIR", str(tmp_path))
    encode_texts(["default folder"])
    assert len(shards(tmp_path / "embeddings")) == 1


def test_cache_disabled_writes_nothing(tmp_path):
    encode_texts(["no cache"], cache=False, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_shard_is_removed_and_rebuilt(tmp_path):
    texts = TEXTS[:6]
    first = encode_texts(texts, cache_dir=tmp_path)
    (path,) = shards(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle of the embeddings
    path.write_bytes(bytes(data))
    with pytest.warns(CacheWarning, match="corrupt.*removing") as record:
        rebuilt = encode_texts(texts, cache_dir=tmp_path)
    assert str(tmp_path) not in str(record[0].message)
    assert Path(record[0].filename).name == Path(__file__).name  # the caller's line
    np.testing.assert_array_equal(rebuilt, first)

    (path,) = shards(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    with pytest.warns(CacheWarning, match="corrupt"):
        encode_texts(texts, cache_dir=tmp_path)
    np.testing.assert_array_equal(encode_texts(texts, cache_dir=tmp_path), first)


def test_stale_shard_is_not_used(tmp_path):
    texts = TEXTS[:4]
    keys = text_keys(texts)
    name = text.EmbeddingStore(tmp_path).prefix + "-0123.npz"
    wrong = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    write_arrays(
        tmp_path / name, "written by another model", {"text_sha256": keys, "embeddings": wrong}
    )
    with pytest.warns(CacheWarning, match="stale"):
        result = encode_texts(texts, cache_dir=tmp_path)
    np.testing.assert_array_equal(result, encode_texts(texts, cache=False))
    assert not (tmp_path / name).exists()


def test_fresh_process_warm_path_and_silent_loading(tmp_path, fresh_python):
    """In a new process: the warm path does not load the model, nor import torch or
    transformers (what made a cold process slow: seconds, where reading the cache takes a
    fraction of one; speed itself is measured in bench/, not asserted here); loading the model
    afterwards prints nothing."""
    expected = encode_texts(TEXTS, cache_dir=tmp_path)
    script = textwrap.dedent(
        f"""
        import json, sys
        from recutils.text import encode_texts, load_encoder
        embeddings = encode_texts({TEXTS!r}, cache_dir={str(tmp_path)!r})
        heavy = sorted(name for name in ("torch", "transformers") if name in sys.modules)
        loaded = load_encoder.cache_info().currsize
        load_encoder()  # must be silent although setup() was not called
        print(json.dumps({{"heavy_imports": heavy, "model_loaded": loaded,
                          "checksum": float(embeddings.astype("float64").sum())}}))
        """
    )
    done = fresh_python(script)
    assert done.stderr == ""
    result = json.loads(done.stdout)
    assert result["model_loaded"] == 0
    assert result["heavy_imports"] == []  # the warm path reads files and hashes them, no more
    assert result["checksum"] == pytest.approx(float(expected.astype("float64").sum()), abs=1e-9)


# -- item texts ------------------------------------------------------------------------------


@pytest.fixture()
def items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["A", "B", "C", "D"],
            "title": ["Trail shoe", "Wow!", np.nan, "  Mug  "],
            "description": ["Light mesh upper", np.nan, None, "Multi\n line   text."],
            "category": ["Sports > Shoes", None, np.nan, "Home"],
            "brand": ["Acme", "", np.nan, np.nan],
            "price": [59.0, 1.0, np.nan, 8.5],
            "color": ["red", "blue", np.nan, np.nan],
        },
        index=pd.Index([10, 20, 30, 40], name="row"),
    )


def test_item_texts_template(items):
    result = item_texts(items)
    assert result.name == "text"
    assert result.index.equals(items.index)
    assert result.tolist() == [
        "Trail shoe. Category: Sports > Shoes. Brand: Acme. Light mesh upper.",
        "Wow!",
        "",
        "Mug. Category: Home. Multi line text.",
    ]


def test_item_texts_fields_and_labels(items):
    result = item_texts(items, fields=("description", "title", "color"))
    assert result.tolist() == [
        "Light mesh upper. Trail shoe. Color: red.",
        "Wow! Color: blue.",
        "",
        "Multi line text. Mug.",
    ]
    assert item_texts(items, fields="title").tolist() == ["Trail shoe.", "Wow!", "", "Mug."]


def test_item_texts_errors(items):
    with pytest.raises(ValueError, match=r"no column\(s\) \['colour'\]"):
        item_texts(items, fields=("title", "colour"))
    with pytest.raises(ValueError, match="at least one"):
        item_texts(items, fields=())
    with pytest.raises(TypeError, match="DataFrame"):
        item_texts(items["title"])


def test_item_texts_can_be_encoded(items, monkeypatch):
    texts = item_texts(items)
    embeddings = encode_texts(texts, cache=False)
    assert embeddings.shape == (len(items), EMBEDDING_DIM)


def test_count_tokens_counts_special_tokens_and_does_not_truncate():
    from recutils.text import MAX_LENGTH, count_tokens

    # "hello world" -> [CLS] hello world [SEP]
    assert count_tokens(["hello world", ""]).tolist() == [4, 2]
    long_text = "oak " * 400
    assert count_tokens([long_text])[0] == 402 > MAX_LENGTH
    assert count_tokens([]).shape == (0,)
    with pytest.raises(ValueError):
        count_tokens(["fine", None])


def unknown_share_by_tokenizing(values: list[str]) -> list[float]:
    """The definition: the share of [UNK] among each text's word pieces, every text tokenized."""
    tokenizer = text._word_pieces()
    unknown = tokenizer.token_to_id("[UNK]")
    encoded = tokenizer.encode_batch(values, add_special_tokens=False)
    return [sum(t == unknown for t in e.ids) / len(e.ids) if e.ids else 0.0 for e in encoded]


def test_unknown_share_skips_the_tokenizer_only_where_it_would_find_no_unknown_token() -> None:
    # the premise of the shortcut: every printable ASCII character is a known piece alone, as
    # a word's continuation and repeated, and a word is one [UNK] only past the longest length
    for character in map(chr, range(0x20, 0x7F)):
        samples = [character, "a" + character, character * 3, "x" + character + "y"]
        assert unknown_share_by_tokenizing(samples) == [0.0] * 4, repr(character)
    longest = text.MAX_WORD_CHARACTERS
    assert unknown_share_by_tokenizing(["a" * longest, "a" * (longest + 1)]) == [0.0, 1.0]
    rng = np.random.default_rng(0)
    ascii_letters = [chr(c) for c in range(0x20, 0x7F)] + ["\t", "\n", "\r"]
    others = ["é", "ß", "红", "😀", "\x01", "\u200b", "Ж", "\x7f", "\u00a0"]
    values = [
        "".join(rng.choice(ascii_letters + others * (k % 3 == 0), size=rng.integers(0, 40)))
        for k in range(600)
    ]
    values += [
        "a" * (longest - 1), "b" * longest, "c" * (longest + 1), "x " + "d" * 150 + " y",
        "ab\x01" + "e" * longest, "word_" * 30 + "z" * longest, "A" * (longest + 1),
        "9" * (longest + 1), "caf\u00e9", "tab\tand\nnewline", "", "[UNK]",
        "price [UNK] here", "[unk] in lower case", "[CLS] and [SEP] and [MASK]",
    ]  # fmt: skip
    assert text.unknown_token_share(values).tolist() == unknown_share_by_tokenizing(values)


def test_unknown_tokens_are_measured_and_warned_about(tmp_path) -> None:
    shares = text.unknown_token_share(["red running shoes", "红色跑步鞋", "shoes 😀", ""])
    assert shares.tolist() == [0.0, 1.0, 0.5, 0.0]
    with pytest.warns(
        text.UnknownTextWarning, match=r"1 of 2 texts are mostly tokens.*'红色跑步鞋'"
    ):
        vectors = text.encode_texts(["红色跑步鞋", "red running shoes"], cache_dir=tmp_path)
    # the warning comes on every call, whether the vectors are computed or read from the cache
    with pytest.warns(text.UnknownTextWarning):
        again = text.encode_texts(["红色跑步鞋", "red running shoes"], cache_dir=tmp_path)
    np.testing.assert_array_equal(vectors, again)
    with pytest.warns(text.UnknownTextWarning):
        emoji = text.encode_texts(["😀", "🎉"], cache=False)
    np.testing.assert_array_equal(emoji[0], emoji[1])  # two emoji, one vector: both are [UNK]


def test_texts_encoded_by_another_process_while_waiting_are_read(tmp_path, monkeypatch):
    expected = encode_texts(TEXTS[:4], cache=False)
    real_made_once = text.made_once

    @contextlib.contextmanager
    def another_process_encodes_three_meanwhile(folder, name, what, **kwargs):
        monkeypatch.setattr(text, "made_once", real_made_once)
        encode_texts(TEXTS[:3], cache_dir=folder)  # a notebook beside this one
        with real_made_once(folder, name, what, **kwargs) as held:
            yield held

    monkeypatch.setattr(text, "made_once", another_process_encodes_three_meanwhile)
    encoded = record_encodings(monkeypatch)
    got = encode_texts(TEXTS[:4], cache_dir=tmp_path)
    assert encoded == [TEXTS[:3], [TEXTS[3]]]  # the other's three, then only the fourth here
    np.testing.assert_array_equal(got, expected)
