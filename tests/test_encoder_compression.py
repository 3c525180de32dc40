"""recutils.encoder_compression: ONNX export and int8 copy (cached, verified), the ONNX Runtime
encoder against encode_texts, the PCA projection, the quality measures, bad input.

The encoder is exported once per module into a temporary cache folder (a few seconds); the
rebuild tests monkeypatch the export instead of running it again.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from recutils import encoder_compression as compression
from recutils.cache import CacheWarning
from recutils.encoder_compression import (
    OnnxTextEncoder,
    PcaProjection,
    cosine_agreement,
    onnx_encoder_file,
    pair_cosine_error,
    similar_items_overlap,
)
from recutils.text import EMBEDDING_DIM, encode_texts

TEXTS = [
    "Trail running shoe. Category: Sports > Shoes > Running. Brand: Acme. Light mesh upper.",
    "Stainless steel kettle with automatic shut-off and a 1.7 litre capacity.",
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "Merino wool cardigan. Category: Fashion > Women > Knitwear.",
    "",
    "a",
    "USB-C cable 2m, 100W PD, braided nylon (black)",
    "Stainless steel kettle with automatic shut-off and a 1.7 litre capacity.",  # duplicate
    " ".join(f"word{i}" for i in range(300)),  # cut at 256 tokens
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache folder holding the float32 and int8 files (exported once for the module)."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exporting and quantising must not warn
        onnx_encoder_file("float32", folder)
        onnx_encoder_file("int8", folder)
    return folder


@pytest.fixture(scope="module")
def reference():
    return encode_texts(TEXTS, cache=False)


def test_export_prints_nothing(tmp_path, capfd):
    compression._verified.clear()
    onnx_encoder_file("float32", tmp_path)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_float32_agrees_with_encode_texts(cache, reference):
    vectors = OnnxTextEncoder("float32", cache_dir=cache).encode(TEXTS)
    assert vectors.shape == (len(TEXTS), EMBEDDING_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosine_agreement(reference, vectors).min() > 1 - 1e-5
    assert np.abs(vectors - reference).max() < 1e-4


def test_int8_agrees_loosely_and_is_smaller(cache, reference):
    full = OnnxTextEncoder("float32", cache_dir=cache)
    small = OnnxTextEncoder("int8", cache_dir=cache)
    vectors = small.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), EMBEDDING_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    agreement = cosine_agreement(reference, vectors)
    assert agreement.min() > 0.95 and agreement.mean() > 0.98
    assert small.file_bytes < full.file_bytes / 3


def test_deterministic_and_independent_of_the_list(cache):
    full = OnnxTextEncoder("float32", cache_dir=cache)
    vectors = full.encode(TEXTS)
    assert np.array_equal(vectors, full.encode(TEXTS))
    assert np.array_equal(vectors[::-1], full.encode(TEXTS[::-1]))
    assert np.array_equal(vectors[7], vectors[1])  # a duplicate gets the same vector
    small = OnnxTextEncoder("int8", cache_dir=cache, batch_size=1)
    int8 = small.encode(TEXTS)
    assert np.array_equal(int8, small.encode(TEXTS))
    assert np.array_equal(int8[2:4], small.encode(TEXTS[2:4]))  # batches of 1: per text


def test_vectors_are_kept_while_the_course_cache_is_on(cache, monkeypatch):
    from recutils import environment

    small = OnnxTextEncoder("int8", cache_dir=cache)
    monkeypatch.setitem(environment._state, "model_cache", 1)
    first = small.encode(TEXTS)
    (entry,) = (cache / compression.VECTORS_SUBDIR).glob("onnx-int8-*.npz")
    calls = []
    computing = small._encode
    monkeypatch.setattr(small, "_encode", lambda *args: calls.append(args) or computing(*args))
    assert np.array_equal(small.encode(TEXTS), first) and calls == []  # read, not computed
    small.encode(TEXTS[:3])  # another list (an int8 vector depends on its batch-mates)
    small.encode(TEXTS, cache=False)  # a timing
    assert len(calls) == 2
    entry.write_bytes(entry.read_bytes()[:-50])  # damaged: computed again, with a warning
    with pytest.warns(CacheWarning, match="onnx-int8-"):
        assert np.array_equal(small.encode(TEXTS), first)
    monkeypatch.setitem(environment._state, "model_cache", 0)  # the switch off: computed
    small.encode(TEXTS)
    assert len(calls) == 4


def test_cls_pooling_matches_encode_texts(cache):
    vectors = OnnxTextEncoder("float32", cache_dir=cache).encode(TEXTS[:3], pooling="cls")
    reference = encode_texts(TEXTS[:3], cache=False, pooling="cls")
    assert cosine_agreement(reference, vectors).min() > 1 - 1e-5


def test_empty_list_gives_no_rows(cache):
    assert OnnxTextEncoder("float32", cache_dir=cache).encode([]).shape == (0, EMBEDDING_DIM)


def test_cache_hit_does_not_export(cache, monkeypatch):
    compression._verified.clear()  # a new process: verify the checksum again

    def fail(*args, **kwargs):
        raise AssertionError("a cache hit must not export or quantise again")

    monkeypatch.setattr(compression, "_export_float32", fail)
    monkeypatch.setattr(compression, "_quantise_int8", fail)
    for precision in ("float32", "int8"):
        assert onnx_encoder_file(precision, cache).is_file()


def _copy_cache(cache, target):
    folder = target / compression.CACHE_SUBDIR
    folder.mkdir()
    for path in (cache / compression.CACHE_SUBDIR).iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_corrupt_file_is_rebuilt(cache, tmp_path, monkeypatch):
    folder = _copy_cache(cache, tmp_path)
    int8 = onnx_encoder_file("int8", tmp_path)
    good = int8.read_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    int8.write_bytes(bytes(damaged))
    compression._verified.clear()
    with pytest.warns(CacheWarning, match="does not match its checksum"):
        rebuilt = onnx_encoder_file("int8", tmp_path)
    assert rebuilt.read_bytes() == good  # quantising is deterministic
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".json", ".onnx", ".onnx"]


def test_stale_or_missing_manifest_is_rebuilt(cache, tmp_path, monkeypatch):
    folder = _copy_cache(cache, tmp_path)
    calls = []

    def export(target):
        calls.append(target)
        target.write_bytes(b"not really a model")

    monkeypatch.setattr(compression, "_export_float32", export)
    manifest = next(folder.glob("*float32.json"))
    record = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**record, "key": "another model"}))
    compression._verified.clear()
    with pytest.warns(CacheWarning, match="another model, library version or setting"):
        path = onnx_encoder_file("float32", tmp_path)
    assert len(calls) == 1 and path.read_bytes() == b"not really a model"
    assert onnx_encoder_file("float32", tmp_path) == path and len(calls) == 1  # now a hit
    manifest.unlink()  # e.g. a crash between the two writes: a miss, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        onnx_encoder_file("float32", tmp_path)
    assert len(calls) == 2


def test_failed_export_leaves_no_file(tmp_path, monkeypatch):
    def export(target):
        target.write_bytes(b"half a mod")
        raise RuntimeError("export failed")

    monkeypatch.setattr(compression, "_export_float32", export)
    with pytest.raises(RuntimeError, match="export failed"):
        onnx_encoder_file("float32", tmp_path)
    assert list((tmp_path / compression.CACHE_SUBDIR).iterdir()) == []


@pytest.mark.parametrize(
    ("texts", "error", "match"),
    [
        ("one string", TypeError, "single str"),
        (["ok", None], ValueError, "not strings"),
        (["ok", 3], ValueError, "not strings"),
    ],
)
def test_bad_texts(cache, texts, error, match):
    with pytest.raises(error, match=match):
        OnnxTextEncoder("float32", cache_dir=cache).encode(texts)


def test_bad_settings(cache):
    with pytest.raises(ValueError, match="precision must be one of"):
        OnnxTextEncoder("int4", cache_dir=cache)
    with pytest.raises(ValueError, match="precision must be one of"):
        onnx_encoder_file("float16", cache)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        OnnxTextEncoder("float32", threads=0, cache_dir=cache)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        OnnxTextEncoder("float32", batch_size=0, cache_dir=cache)
    with pytest.raises(ValueError, match="pooling must be one of"):
        OnnxTextEncoder("float32", cache_dir=cache).encode(["a"], pooling="max")


def _unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Vectors like sentence vectors: a common direction, most of the rest in 12 directions,
    a little noise; rows of norm 1."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(12, EMBEDDING_DIM))
    vectors = rng.normal(size=(n, 12)) @ directions + 0.3 * rng.normal(size=(n, EMBEDDING_DIM))
    vectors += 3.0  # the common direction
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_pca_shapes_and_unit_rows():
    vectors = _unit_vectors(300)
    projection = PcaProjection(dims=16).fit(vectors)
    reduced = projection.transform(vectors)
    assert reduced.shape == (300, 16) and reduced.dtype == np.float32
    assert np.allclose(np.linalg.norm(reduced, axis=1), 1.0, atol=1e-5)
    assert projection.components_.shape == (16, EMBEDDING_DIM)
    assert 0 < projection.kept_share_ < 1
    reconstructed = projection.reconstruct(vectors)
    assert reconstructed.shape == vectors.shape
    # the reduced cosines are those of the reconstructions, and approximate the full ones
    assert np.allclose(reduced @ reduced.T, reconstructed @ reconstructed.T, atol=1e-4)
    assert pair_cosine_error(vectors, reduced) < 0.1
    assert cosine_agreement(vectors, reconstructed).min() > 0.5


def test_pca_with_more_dims_approximates_better():
    vectors = _unit_vectors(400)
    errors = [
        pair_cosine_error(vectors, PcaProjection(dims=d).fit(vectors).transform(vectors))
        for d in (4, 32, 128)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert PcaProjection(dims=383).fit(vectors).kept_share_ > 0.999


def test_pca_bad_input():
    with pytest.raises(ValueError, match="dims must be an integer from 1 to 383"):
        PcaProjection(dims=384)
    with pytest.raises(ValueError, match="dims must be"):
        PcaProjection(dims=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        PcaProjection().transform(_unit_vectors(3))
    with pytest.raises(ValueError, match="needs more rows"):
        PcaProjection(dims=64).fit(_unit_vectors(10))
    with pytest.raises(ValueError, match="must have 384 columns"):
        PcaProjection(dims=4).fit(np.ones((20, 10)))
    with pytest.raises(ValueError, match="NaN"):
        PcaProjection(dims=4).fit(np.full((20, EMBEDDING_DIM), np.nan))


def test_quality_measures_by_hand():
    reference = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    assert cosine_agreement(reference, reference * 3).tolist() == pytest.approx([1, 1, 1])
    assert cosine_agreement(reference, reference[:, ::-1]).tolist() == pytest.approx([0, 0, 0.96])
    assert pair_cosine_error(reference, reference) == 0.0
    # cos(row 0, row 2) becomes 0.8 instead of 0.6, cos(row 1, row 2) 0.6 instead of 0.8
    moved = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]])
    assert 0 < pair_cosine_error(reference, moved) < 0.2
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert similar_items_overlap(vectors, vectors, k=1).tolist() == [1, 1, 1, 1]
    swapped = vectors[:, ::-1]  # neighbours stay the same pairs
    assert similar_items_overlap(vectors, swapped, k=1).tolist() == [1, 1, 1, 1]
    shuffled = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])  # other pairs
    assert similar_items_overlap(vectors, shuffled, k=1).tolist() == [0, 0, 0, 0]
    assert similar_items_overlap(vectors, shuffled, k=3).tolist() == [1, 1, 1, 1]


def test_quality_measures_bad_input():
    vectors = _unit_vectors(5)
    with pytest.raises(ValueError, match="one row per text"):
        cosine_agreement(vectors, vectors[:4])
    with pytest.raises(ValueError, match="same number of columns"):
        cosine_agreement(vectors, vectors[:, :10])
    with pytest.raises(ValueError, match="k must be smaller than the number of items"):
        similar_items_overlap(vectors, vectors, k=5)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        similar_items_overlap(vectors, vectors, k=0)
    with pytest.raises(ValueError, match="at least 2 texts"):
        pair_cosine_error(vectors[:1], vectors[:1])
    with pytest.raises(ValueError, match="2-D numeric"):
        pair_cosine_error([1.0, 2.0], [1.0, 2.0])
