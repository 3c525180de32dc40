"""A cheaper text encoder: ONNX Runtime, int8 weights, fewer dimensions, and what each costs.

The course's encoder (:mod:`recutils.text`, all-MiniLM-L6-v2) runs in torch with float32
weights and gives 384 numbers per text. Three ways to make it cheaper, each a drop-in
replacement for :func:`recutils.text.encode_texts` (float32 rows of L2 norm 1):

1. **ONNX Runtime** (:class:`OnnxTextEncoder`, ``precision="float32"``): the same network,
   exported once to an ONNX file (:func:`onnx_encoder_file`) and run by ONNX Runtime, a runtime
   made for inference only (no autograd, fused kernels). Same weights, same arithmetic up to
   rounding: the vectors agree with ``encode_texts`` to about 1e-6.
2. **int8 dynamic quantisation** (``precision="int8"``): every weight matrix ``W`` is stored as
   8-bit integers with one float scale per output column, ``W ~ s_j * q_ij`` (``q`` in
   [-127, 127]); each activation matrix is quantised the same way on the fly ("dynamic": no
   calibration data), and the products run in integer arithmetic. The file is about 4x smaller
   and the matrix products cheaper; the vectors move a little (measure it with
   :func:`cosine_agreement`). Made by ONNX Runtime's quantiser from the float32 file.
   (torch has ``torch.ao.quantization.quantize_dynamic`` too; it is deprecated in favour of
   torchao, so the course uses ONNX Runtime's.)
3. **Fewer dimensions** (:class:`PcaProjection`): project the 384-dimensional vectors on the
   ``d`` directions that carry most of the catalog's vectors, then re-normalise. A catalog of
   1M items then needs ``4 d`` bytes per item instead of 1,536, and every similarity costs
   ``d`` multiplications instead of 384; the encoder itself is unchanged.

How much each costs in quality, measured where it matters:

* :func:`cosine_agreement` -- the cosine between the full model's vector and the cheap one of
  the same text (1 = the same direction);
* :func:`pair_cosine_error` -- how far the cheap cosine of two texts is from the full one (what
  a similarity threshold sees; works across dimensions);
* :func:`similar_items_overlap` -- notebook 02's similar items: the share of the full model's
  10 most similar items that the cheap vectors also put in their top 10.

``bench/encoder_cost_bench.py`` puts speed, memory and these measures in one table
(``bench/results/encoder_cost_bench.md``).

Example::

    encoder = OnnxTextEncoder(precision="int8")          # exported and quantised once, cached
    vectors = encoder.encode(item_texts(shop.items))     # (n_items, 384) float32, unit rows
    cosine_agreement(encode_texts(texts), vectors).min()  # how far the worst text moved
"""

from __future__ import annotations

import functools
import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils import checks, environment, text
from recutils.cache import (
    CacheEntryError,
    CacheWarning,
    cached_arrays,
    course_cache_wanted,
    package_versions,
    stable_key,
)
from recutils.files import atomic_path, sha256_of, write_text_atomic
from recutils.ranking import top_k_items

#: Precisions of :class:`OnnxTextEncoder`: the exported float32 network, or its int8 copy.
PRECISIONS: tuple[str, ...] = ("float32", "int8")
#: ONNX operator set of the export (17 has LayerNormalization as one operator).
ONNX_OPSET = 17
#: Version of the cache layout (file + manifest); another version is rebuilt.
CACHE_FORMAT = 1
#: Sub-folder of :func:`recutils.environment.cache_dir` holding the ONNX files.
CACHE_SUBDIR = "onnx"
#: ... and the vectors :meth:`OnnxTextEncoder.encode` keeps.
VECTORS_SUBDIR = "onnx-vectors"
#: Settings of ONNX Runtime's dynamic quantiser. Per-channel scales (one per output column of
#: a weight matrix): one scale for the whole matrix moved the vectors several times more.
QUANTISATION = {"weight_type": "QInt8", "per_channel": True, "reduce_range": False}


# --------------------------------------------------------------------------------------------
# The ONNX files: exported, quantised, cached and verified
# --------------------------------------------------------------------------------------------


#: Packages whose versions are part of a file's key (another version may write other bytes).
EXPORT_LIBRARIES = ("torch", "transformers", "onnx", "onnxruntime")


def _cache_key(precision: str) -> str:
    """Everything the file of ``precision`` depends on: the model, the export and quantiser
    settings, the library versions and the layout."""
    return stable_key(
        "recutils.encoder_compression onnx encoder",
        {
            "model": text.model_fingerprint(),
            "precision": precision,
            "opset": ONNX_OPSET,
            "quantisation": QUANTISATION if precision == "int8" else None,
            "format": CACHE_FORMAT,
            "versions": package_versions(EXPORT_LIBRARIES),
        },
    )


def _paths(directory: Path, precision: str) -> tuple[Path, Path]:
    """(model file, manifest) of ``precision`` in ``directory``."""
    fingerprint = text.model_fingerprint().split(":")[1][:12]
    stem = f"{text.MODEL_NAME}-{fingerprint}-{precision}"
    return directory / f"{stem}.onnx", directory / f"{stem}.json"


# path -> (size, mtime_ns, key): files already verified in this process (hashing 90 MB again on
# every encoder would cost ~0.2 s for nothing).
_verified: dict[Path, tuple[int, int, str]] = {}


def _verify(model_path: Path, manifest_path: Path, key: str) -> None:
    """Check the manifest (layout, key) and the model file's SHA-256.

    Raises ``FileNotFoundError`` (no entry) or :class:`~recutils.cache.CacheEntryError` (stale or
    damaged; the message names the file, not its folder)."""
    if not manifest_path.is_file() or not model_path.is_file():
        raise FileNotFoundError(model_path.name)
    status = model_path.stat()
    if _verified.get(model_path) == (status.st_size, status.st_mtime_ns, key):
        return
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        recorded_key, recorded_sha = str(manifest["key"]), str(manifest["sha256"])
    except (ValueError, KeyError, TypeError) as error:
        raise CacheEntryError(f"unreadable manifest {manifest_path.name}") from error
    if recorded_key != key:
        raise CacheEntryError(
            f"{model_path.name} was written for another model, library version or setting"
        )
    if sha256_of(model_path) != recorded_sha:
        raise CacheEntryError(f"{model_path.name} does not match its checksum")
    _verified[model_path] = (status.st_size, status.st_mtime_ns, key)


def _verified_digest(model_path: Path) -> str:
    """The SHA-256 of a verified ONNX file, as its manifest records it (the file was checked
    against it when :func:`onnx_encoder_file` returned it)."""
    manifest = json.loads(model_path.with_suffix(".json").read_text(encoding="utf-8"))
    return str(manifest["sha256"])


@contextmanager
def _quiet_conversion() -> Iterator[None]:
    """Silence the exporter's and the quantiser's messages, which say nothing about our model:

    * torch's ``DeprecationWarning`` that the TorchScript ("legacy") exporter is used: it is,
      on purpose -- the newer dynamo exporter needs the package onnxscript, not installed;
    * ``TracerWarning`` "converting a tensor to a Python boolean": transformers decides with
      shapes whether attention is causal (never, in an encoder) and whether the mask needs
      padding (never: it has as many columns as there are tokens); the trace keeps the
      answers, which are right for every batch and length;
    * a ``UserWarning`` on how ``aten::index`` is written in opset 17 (a slice of the position
      ids, with non-negative indices only);
    * ONNX Runtime's quantiser logging "please consider running pre-processing" (its symbolic
      shape inference fails on this graph, and the quantised vectors were the same with it).
    """
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _export_float32(target: Path) -> None:
    """Export the bundled encoder to ``target``: (input_ids, attention_mask) -> last hidden
    state, with batch and token axes of any size."""
    import torch

    _, model = text.load_encoder()

    class LastHiddenState(torch.nn.Module):
        """The encoder as ONNX sees it: two int64 inputs, one float32 output."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            token_type_ids = torch.zeros_like(input_ids)  # one segment, as in encode_texts
            output = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    # eval() matters: the exporter restores the wrapper's training flag afterwards, on every
    # submodule, and a new Module is in training mode: the shared encoder would keep dropout on.
    wrapper = LastHiddenState().eval()
    input_ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.int64)
    attention_mask = (input_ids != 0).to(torch.int64)  # one padded row: the mask is traced
    axes = {0: "batch", 1: "tokens"}
    with _quiet_conversion(), torch.inference_mode():
        torch.onnx.export(
            wrapper,
            (input_ids, attention_mask),
            str(target),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=ONNX_OPSET,
        )
    if model.training:  # the shared encoder must come back as it went in
        model.eval()


def _quantise_int8(source: Path, target: Path) -> None:
    """int8 dynamic quantisation of the float32 file ``source`` into ``target``
    (ONNX Runtime's ``quantize_dynamic`` with :data:`QUANTISATION`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_conversion():
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=getattr(QuantType, QUANTISATION["weight_type"]),
            per_channel=QUANTISATION["per_channel"],
            reduce_range=QUANTISATION["reduce_range"],
        )


def _build(model_path: Path, manifest_path: Path, key: str, precision: str, cache: Path) -> None:
    """Write the file of ``precision`` atomically, then its manifest (key and SHA-256); the
    int8 file is made from the (cached) float32 one."""
    with atomic_path(model_path, durable=True) as temporary:
        if precision == "float32":
            _export_float32(temporary)
        else:
            _quantise_int8(onnx_encoder_file("float32", cache), temporary)
        digest = sha256_of(temporary)
    manifest = {"format": CACHE_FORMAT, "key": key, "precision": precision, "sha256": digest}
    write_text_atomic(manifest_path, json.dumps(manifest, sort_keys=True, indent=1))
    status = model_path.stat()
    _verified[model_path] = (status.st_size, status.st_mtime_ns, key)


def onnx_encoder_file(
    precision: str = "float32", cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """The ONNX file of the course's encoder at ``precision``, made on first use and cached.

    ``"float32"``: the torch encoder exported (TorchScript exporter, opset 17) as
    ``(input_ids, attention_mask) -> last_hidden_state``, shapes ``(batch, tokens)`` int64 ->
    ``(batch, tokens, 384)`` float32, any batch size and length. ``"int8"``: that file
    quantised by ONNX Runtime's ``quantize_dynamic`` (int8 weights, one scale per output
    column). Files live in ``<cache_dir>/onnx/`` (default :func:`recutils.environment.cache_dir`),
    named by the model's fingerprint and the precision, each beside a JSON manifest with the
    key it was made for (model fingerprint, settings, library versions) and its SHA-256. A file
    is written atomically and verified when read (once per process); a damaged or stale one
    gives a :class:`~recutils.cache.CacheWarning` and is made again.

    Args:
        precision: one of :data:`PRECISIONS`.
        cache_dir: the cache folder (default: the course's).

    Returns:
        Path of the verified ``.onnx`` file (copy it into a service; ONNX Runtime alone runs it).
    """
    precision = checks.one_of(precision, "precision", PRECISIONS, "weights of the encoder")
    cache = environment.cache_dir(cache_dir)
    model_path, manifest_path = _paths(cache / CACHE_SUBDIR, precision)
    key = _cache_key(precision)
    try:
        _verify(model_path, manifest_path, key)
        return model_path
    except FileNotFoundError:
        pass
    except CacheEntryError as error:
        warnings.warn(
            f"{error}; making it again",
            CacheWarning,
            stacklevel=checks.stacklevel_outside_recutils(),
        )
    _build(model_path, manifest_path, key, precision, cache)
    return model_path


# --------------------------------------------------------------------------------------------
# Encoding with ONNX Runtime
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _session(path: str, size: int, mtime_ns: int, threads: int) -> Any:
    """An ONNX Runtime session of the file (one per file version and thread count)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads  # like torch's threads in recutils.setup()
    options.inter_op_num_threads = 1  # one operator at a time: no second pool of threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.use_deterministic_compute = True
    # Idle threads sleep instead of spinning: a spinning pool keeps both cores of a laptop busy
    # between operators, which slows every other program (and notebook) beside it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: the graph optimiser's notes are not for us
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


class OnnxTextEncoder:
    """The course's encoder run by ONNX Runtime: ``encode(texts)`` like ``encode_texts``.

    Tokenisation, batching (texts of one token length together, a short batch filled up:
    :func:`recutils.text.token_id_batches`), mean pooling and L2 normalisation
    (:func:`recutils.text.pool_and_normalize`) are those of :func:`recutils.text.encode_texts`;
    only the network runs elsewhere. So ``e_i = v_i / ||v_i||`` with ``v_i`` the mean of the
    last hidden states of text ``i``'s (at most 256) tokens. The same texts with the same file
    and threads give the same bits. While the course's cache is on
    (:func:`recutils.environment.model_cache_enabled`, after ``recutils.setup()``) the vectors
    of a list are kept in ``.cache/onnx-vectors/`` (:func:`recutils.cache.cached_arrays`), keyed
    by the file, the whole list (an int8 vector depends on its batch-mates), the pooling,
    batch size, threads and ONNX Runtime's version; a timing passes ``cache=False``.

    With ``"float32"`` a text's vector does not depend on the other texts in the list. With
    ``"int8"`` it does, slightly: dynamic quantisation takes one scale per activation matrix,
    i.e. per batch, so a text's numbers are rounded on a grid set by its batch-mates: the same
    text in another batch moves about as much as quantising moved it (cosine about 0.99 between
    the two). ``batch_size=1`` makes every int8 vector independent of the list, at some speed
    (``bench/encoder_cost_bench.py``).

    Args:
        precision: ``"float32"`` (the exported network) or ``"int8"`` (its quantised copy).
        threads: ONNX Runtime's threads inside an operator; default the torch setting of
            :func:`recutils.setup` (2, or 1 on a busy machine).
        batch_size: texts per run of the network (default as ``encode_texts``).
        cache_dir: where the ONNX files (and the vectors) are cached (:func:`onnx_encoder_file`).

    Attributes:
        model_path: the verified ``.onnx`` file the session runs.
        file_bytes: its size in bytes.

    Example:
        >>> encoder = OnnxTextEncoder(precision="int8")  # doctest: +SKIP
        >>> encoder.encode(["red running shoes", "blue kettle"]).shape  # doctest: +SKIP
        (2, 384)

    Note:
        int8 products use the CPU's integer instructions; a CPU without VNNI (most laptops
        before ~2019) takes another kernel whose intermediate sums can saturate, so int8
        vectors may differ slightly between machines. float32 vectors differ by rounding only.
    """

    def __init__(
        self,
        precision: str = "float32",
        threads: int | None = None,
        batch_size: int = text.DEFAULT_BATCH_SIZE,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.precision = checks.one_of(precision, "precision", PRECISIONS, "weights of the encoder")
        threads = checks.optional_positive_int(threads, "threads", "ONNX Runtime threads")
        self.threads = threads if threads is not None else environment.configured_threads()[1]
        self.batch_size = checks.positive_int(batch_size, "batch_size", "texts per forward pass")
        self.model_path = onnx_encoder_file(self.precision, cache_dir)
        self.vectors_cache = environment.cache_dir(cache_dir) / VECTORS_SUBDIR
        status = self.model_path.stat()
        self.file_bytes = int(status.st_size)
        self.session = _session(
            str(self.model_path), status.st_size, status.st_mtime_ns, self.threads
        )

    def __repr__(self) -> str:
        return (
            f"OnnxTextEncoder(precision={self.precision!r}, threads={self.threads}, "
            f"file={self.file_bytes / 1e6:.1f} MB)"
        )

    def encode(
        self,
        texts: Sequence[str] | pd.Series | np.ndarray,
        pooling: str = text.POOLING,
        cache: bool | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts``: float32 ``(len(texts), 384)``, rows of L2 norm 1.

        Same input rules as :func:`recutils.text.encode_texts` (a list, array or Series of str;
        ``""`` is fine, None/NaN are not); empty input gives shape ``(0, 384)``. ``pooling``:
        ``"mean"`` (default, the model's recipe) or ``"cls"``. ``cache``: keep and reuse the
        vectors of this list (default ``None``: while the course's cache is on; ``False`` to
        time the encoder).
        """
        values = checks.text_list(texts)
        pooling = checks.one_of(pooling, "pooling", text.POOLINGS, "how tokens become one vector")
        if not values:
            return np.zeros((0, text.EMBEDDING_DIM), dtype=np.float32)
        if not course_cache_wanted(cache):
            return self._encode(values, pooling)
        key = stable_key(
            {
                "file": _verified_digest(self.model_path),
                "texts": values,
                "pooling": pooling,
                "batch_size": self.batch_size,
                "threads": self.threads,
                **package_versions(["onnxruntime"]),
            }
        )
        return cached_arrays(
            key,
            lambda: {"vectors": self._encode(values, pooling)},
            self.vectors_cache,
            name=f"onnx-{self.precision}",
        )["vectors"]

    def _encode(self, values: list[str], pooling: str) -> np.ndarray:
        """:meth:`encode`'s computation, on checked input."""
        import torch

        unique = list(dict.fromkeys(values))  # duplicates are encoded once
        vectors = np.empty((len(unique), text.EMBEDDING_DIM), dtype=np.float32)
        for rows, input_ids in text.token_id_batches(unique, self.batch_size):
            mask = np.ones_like(input_ids)  # equal-length batches: no padding
            (hidden,) = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})
            pooled = text.pool_and_normalize(
                torch.from_numpy(hidden), torch.from_numpy(mask), pooling
            )
            vectors[rows] = pooled.numpy()[: len(rows)]
        row_of = {value: row for row, value in enumerate(unique)}
        return vectors[[row_of[value] for value in values]]


# --------------------------------------------------------------------------------------------
# Fewer dimensions
# --------------------------------------------------------------------------------------------


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class PcaProjection:
    """384 -> ``dims`` numbers per text: projection on the catalog's main directions, re-normalised.

    Fitted on the catalog's vectors ``X`` (n, 384), rows of norm 1: ``W`` (dims, 384) holds the
    top ``dims`` right singular vectors of ``X`` (PCA *without centring*, sklearn's
    ``TruncatedSVD``), and a vector becomes ``z = W x / ||W x||``. Since the rows of ``W`` are
    orthonormal, ``W x`` keeps what ``x`` has in those directions and drops the rest, so
    ``z_a . z_b ~ x_a . x_b``: the reduced cosine approximates the full one, the better the more
    of each vector the directions hold (:attr:`kept_share`).

    Why not centred PCA (``W (x - mean)``): sentence vectors share a common direction (their
    mean has a norm well above 0), and centring removes it, so the reduced cosine would measure
    the cosine of the centred vectors, systematically lower than the full cosine.

    Args:
        dims: numbers per text after the projection (1 <= dims < 384).
        seed: seed of the solver's start vector (the result is the same up to rounding).

    Attributes (after :meth:`fit`):
        components_: float32 (dims, 384), the ``W`` above.
        kept_share_: float, ``sum ||W x||^2 / sum ||x||^2`` over the fitted vectors: the share
            of the vectors' squared length the ``dims`` directions keep.

    Example:
        >>> projection = PcaProjection(dims=64).fit(catalog_vectors)  # doctest: +SKIP
        >>> projection.transform(catalog_vectors).shape  # doctest: +SKIP
        (4009, 64)
    """

    def __init__(self, dims: int = 64, seed: int = environment.DEFAULT_SEED) -> None:
        self.dims = checks.integer(
            dims, "dims", minimum=1, maximum=text.EMBEDDING_DIM - 1, meaning="numbers per text"
        )
        self.seed = checks.seed(seed)
        self.components_: np.ndarray | None = None
        self.kept_share_: float | None = None

    def __repr__(self) -> str:
        return f"PcaProjection(dims={self.dims})"

    def _vectors(self, vectors: Any, name: str) -> np.ndarray:
        array = checks.dense_vectors(vectors, name)
        if array.shape[1] != text.EMBEDDING_DIM:
            raise ValueError(
                f"{name} must have {text.EMBEDDING_DIM} columns (one encoder vector per row), got "
                f"shape {array.shape}"
            )
        return array

    def fit(self, vectors: Any) -> PcaProjection:
        """Learn ``W`` from the catalog's vectors, float (n, 384) with n > ``dims``."""
        from sklearn.decomposition import TruncatedSVD

        array = self._vectors(vectors, "vectors")
        if array.shape[0] <= self.dims:
            raise ValueError(
                f"vectors has {array.shape[0]} rows; fitting {self.dims} directions needs more "
                "rows than that (use the whole catalog, or a smaller dims)"
            )
        svd = TruncatedSVD(self.dims, algorithm="arpack", random_state=self.seed)
        svd.fit(array.astype(np.float64))
        self.components_ = svd.components_.astype(np.float32)
        projected = array.astype(np.float64) @ svd.components_.T
        self.kept_share_ = float((projected**2).sum() / (array.astype(np.float64) ** 2).sum())
        return self

    def _fitted(self) -> np.ndarray:
        if self.components_ is None:
            raise RuntimeError("this PcaProjection is not fitted yet; call fit(catalog_vectors)")
        return self.components_

    def transform(self, vectors: Any) -> np.ndarray:
        """``z = W x / ||W x||`` for every row: float32 (n, dims), rows of norm 1 (a vector
        with nothing in the kept directions stays 0)."""
        components = self._fitted()
        return _unit_rows(self._vectors(vectors, "vectors") @ components.T)

    def reconstruct(self, vectors: Any) -> np.ndarray:
        """Each 384-dimensional vector as the projection sees it: ``W^T W x``, re-normalised,
        float32 (n, 384). Its cosine with ``x`` is ``||W x|| / ||x||`` (how much of the vector
        the kept directions hold), and its cosines with other reconstructions equal those of
        :meth:`transform`."""
        components = self._fitted()
        return _unit_rows(self._vectors(vectors, "vectors") @ components.T @ components)


# --------------------------------------------------------------------------------------------
# What a cheaper encoder costs in quality
# --------------------------------------------------------------------------------------------


def _two_vector_sets(
    reference: Any, candidate: Any, same_width: bool
) -> tuple[np.ndarray, np.ndarray]:
    ref = checks.dense_vectors(reference, "reference")
    cand = checks.dense_vectors(candidate, "candidate")
    if ref.shape[0] != cand.shape[0]:
        raise ValueError(
            f"reference and candidate must have one row per text, in the same order; got "
            f"{ref.shape[0]} and {cand.shape[0]} rows"
        )
    if same_width and ref.shape[1] != cand.shape[1]:
        raise ValueError(
            f"reference and candidate must have the same number of columns, got {ref.shape[1]} "
            f"and {cand.shape[1]}; compare reduced vectors with PcaProjection.reconstruct, or use "
            "pair_cosine_error / similar_items_overlap, which compare across widths"
        )
    return _unit_rows(ref), _unit_rows(cand)


def cosine_agreement(reference: Any, candidate: Any) -> np.ndarray:
    """Cosine between the two vectors of each text: ``cos(r_i, c_i)``.

    Args:
        reference: float (n, d), the full model's vectors (e.g. ``encode_texts(texts)``).
        candidate: float (n, d), the cheap encoder's vectors of the same texts, same order.

    Returns:
        float32 (n,), in [-1, 1]; 1 = the cheap vector points the same way. Report ``.mean()``
        and ``.min()`` (the worst text).

    Example:
        >>> cosine_agreement(np.eye(2), np.array([[1.0, 0.0], [1.0, 1.0]])).round(3).tolist()
        [1.0, 0.707]
    """
    ref, cand = _two_vector_sets(reference, candidate, same_width=True)
    return np.einsum("ij,ij->i", ref, cand).astype(np.float32)


def pair_cosine_error(
    reference: Any,
    candidate: Any,
    n_pairs: int = 20_000,
    seed: int = environment.DEFAULT_SEED,
) -> float:
    """Mean ``|cos(r_a, r_b) - cos(c_a, c_b)|`` over random pairs of different texts ``a, b``.

    What a similarity threshold ("show items with cosine above 0.6") sees when the encoder is
    swapped. The two sets may have different widths (384 against a :class:`PcaProjection`).

    Args:
        reference, candidate: float (n, d_r) and (n, d_c), one row per text in the same order,
            n >= 2.
        n_pairs: number of pairs drawn (with replacement; fixed by ``seed``).
        seed: seed of the draw.

    Returns:
        The mean absolute difference of cosines (0 = the same similarities).
    """
    ref, cand = _two_vector_sets(reference, candidate, same_width=False)
    n_pairs = checks.positive_int(n_pairs, "n_pairs", "pairs of texts drawn")
    n = ref.shape[0]
    if n < 2:
        raise ValueError(f"pair_cosine_error needs at least 2 texts, got {n}")
    rng = np.random.default_rng(checks.seed(seed))
    first = rng.integers(0, n, n_pairs)
    second = (first + rng.integers(1, n, n_pairs)) % n  # never the same text
    full = np.einsum("ij,ij->i", ref[first], ref[second])
    cheap = np.einsum("ij,ij->i", cand[first], cand[second])
    return float(np.abs(full - cheap).mean())


def _top_k_neighbours(vectors: np.ndarray, k: int, block: int) -> np.ndarray:
    """The ``k`` most similar other rows of every row (cosine, the course's tie rule)."""
    n = vectors.shape[0]
    neighbours = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = vectors[start:stop] @ vectors.T
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not itself
        neighbours[start:stop] = top_k_items(scores, k)
    return neighbours


def similar_items_overlap(reference: Any, candidate: Any, k: int = 10) -> np.ndarray:
    """Notebook 02's similar items, kept: ``|N_k^ref(i) & N_k^cand(i)| / k`` for every item.

    ``N_k(i)`` is the ``k`` items with the highest cosine to item ``i`` (itself left out; ties
    by item number, as everywhere in the course), with the reference and with the candidate
    vectors of the same catalog.

    Args:
        reference: float (n_items, d_r), the full model's item vectors.
        candidate: float (n_items, d_c), the cheap ones (any width), same item order.
        k: length of a similar-items list, 1 <= k < n_items.

    Returns:
        float64 (n_items,), each in [0, 1]; ``.mean()`` is the share of the full model's
        similar items the cheap vectors keep.

    Example:
        >>> vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
        >>> similar_items_overlap(vectors, vectors, k=1).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    ref, cand = _two_vector_sets(reference, candidate, same_width=False)
    n = ref.shape[0]
    k = checks.positive_int(k, "k", "length of a similar-items list")
    if k >= n:
        raise ValueError(f"k must be smaller than the number of items ({n}), got {k}")
    block = max(1, 2**22 // n)  # about 16 MB of similarities at a time
    ref_lists = np.sort(_top_k_neighbours(ref, k, block), axis=1)
    cand_lists = np.sort(_top_k_neighbours(cand, k, block), axis=1)
    shared = [
        np.intersect1d(a, b, assume_unique=True).size
        for a, b in zip(ref_lists, cand_lists, strict=True)
    ]
    return np.asarray(shared, dtype=np.float64) / k
