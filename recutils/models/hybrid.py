"""The post's "best practice" model, made to work: user ID + item ID + item text -> MLP -> logit.

**What the post shows** (section 4): a PyTorch model that concatenates a user ID embedding, an
item ID embedding and BERT's ``[CLS]`` vector of the item's text, passes the result through
``Linear -> Linear`` to one logit, and trains it with ``BCEWithLogitsLoss`` and Adam on batches
of 64 (user, item, label) triples. As published it cannot run, and would not learn much if it
did:

==============================================  ===============================================
defect in the post                              what :class:`BertHybrid` does instead
==============================================  ===============================================
``num_users`` (and ``num_items``) undefined     sizes come from the training matrix in ``fit``
item texts never tokenized, and never passed    the catalog's texts are encoded once (frozen
by the DataLoader (``self.bert(item_texts)``    features, ``encode_texts``) or their lower-layer
gets a list of strings)                         states cached (fine-tuning); a batch only
                                                carries user and item *numbers*
no negative samples: every label is 1, so       ``negatives`` uniformly sampled items per
"always say yes" is optimal                     observed pair, label 0 (sampler below)
no non-linearity between the two ``Linear``     ``ReLU`` between them (and an optional dot
layers: they collapse into one linear map,      product term, see ``dot``)
so user and item never interact (the logit is
``a . e_u + b . e_i + c . t_i``: the same
ranking for every user)
BERT runs, and is fine-tuned, on every batch:   frozen features by default (one catalog pass,
a forward and backward pass through 6 (here)    cached on disk); optionally only the top layer
or 12 (BERT-base) layers per step               is fine-tuned, on cached lower-layer states
``bert-base-uncased`` downloaded at run time    the bundled all-MiniLM-L6-v2 (offline)
==============================================  ===============================================

**The model.** For user ``u`` and item ``i``, with ``f`` = ``factors`` and ``H`` = ``hidden``::

    e_u = E_user[u]              (f,)   user ID embedding
    e_i = E_item[i]              (f,)   item ID embedding
    t_i                          (d,)   the item's text vector (d = 384 for MiniLM, unit length)
    x   = [e_u ; k_i e_i ; P t_i]  (3f,)  k_i in {0, 1}: 0 = item ID dropped; P: (f, d) learned
    h   = ReLU(W1 x + b1)        (H,)   W1: (H, 3f)
    s(u, i) = w2 . h + b2  [+ e_u . (k_i e_i + P t_i)  if dot]

trained on observed pairs (label 1) and sampled negatives (label 0) with the binary
cross-entropy of ``sigmoid(s)`` and Adam. ``use_ids=False`` drops the ``k_i e_i`` block and
``use_text=False`` the ``P t_i`` block (the user embedding is always there: it is the only thing
that tells users apart).

**Cold items.** During training each pair's item ID embedding is replaced by zeros with
probability ``item_id_dropout`` (``k_i = 0``), so the network also learns to score an item from
its text alone. An item without any training interaction (an empty column of ``train``: a new
product) is always scored with ``k_i = 0``, i.e. from its text; with ``use_text=False`` such an
item still gets a score, but it is the same for every new item and carries no information.

**Full-catalog scoring without n_users x n_items forward passes.** The first layer is separable,
``W1 x = A e_u + B k_i e_i + C P t_i`` (A, B, C: the column blocks of W1), so ``score`` computes
the user part ``U = E_user A^T + b1`` (users, H) and the item part ``I = k (E_item B^T) + (T P^T)
C^T`` (items, H) once and broadcasts::

    S = ReLU(U[:, None, :] + I[None, :, :]) @ w2 + b2        (users, items)

in blocks of at most 2^24 numbers (64 MB), so memory stays bounded. The tests check it against
the network's own per-pair forward pass.

**Negative sampler.** Each epoch, every observed (user, item) pair (nonzero cell of ``train``;
its value is ignored) is paired with ``negatives`` items drawn uniformly from the catalog; a
draw that hits one of the user's training items is drawn again, until none is left
(:func:`recutils.models.sampling.sample_negatives`, shared with LightGCN). Positives and
negatives are shuffled together and cut into batches of ``batch_size`` labelled pairs. All of
it is vectorised
NumPy, seeded by ``seed`` (together with the initial weights and the ID dropout), so a fit is
reproducible. Uniform negatives make the model learn popularity too: the logit that minimises
the loss is ``log(P(i | u) / (negatives * q(i)))`` with ``q`` uniform, which ranks items by
``P(i | u)`` itself, popularity included.

**Pooling.** The post takes BERT's ``[CLS]`` vector; all-MiniLM-L6-v2 was trained for mean
pooling, which ``encode_texts`` uses by default (``encode_texts(..., pooling="cls")`` gives the
post's choice). On the shop's validation split ``[CLS]`` vectors scored slightly lower in the
hybrid: nDCG@10 0.056 vs 0.057 (IDs + text) and 0.040 vs 0.043 (text only); their mean cosine
to the mean-pooled vectors is 0.59.

**Fine-tuning the top layer** (``finetune_top_layer=True``, optional). The post fine-tunes all of
BERT on every batch. Here the standard transfer-learning recipe is used instead: first train the
recommender with the text features frozen (``epochs``), then unfreeze only the encoder's top
(6th) layer for ``finetune_steps`` steps with a small learning rate. The catalog's texts go
through the frozen encoder once (:func:`top_layer_inputs`); the hidden states entering its top
layer (``4 x tokens x 384`` bytes: about 300 MB for the shop's 206,000 tokens) stay in memory,
and each step runs only the top layer (a trainable copy), mean pooling and L2 normalisation for
the batch's items. Afterwards every item's text vector is recomputed once through the tuned layer.
``bench/hybrid_bench.py`` (and :func:`training_step_seconds`) measures the cost per step of the
three ways.

See :class:`BertHybrid` for the arguments, the measured defaults, the comparison with ALS and
the ranking of new items.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp

from recutils import environment
from recutils.models.base import Recommender, check_positions
from recutils.models.factorization import _non_negative_float, _positive_int, _seed
from recutils.models.sampling import sample_negatives

if TYPE_CHECKING:
    import torch
    from torch import nn

#: Largest number of floats in one block of the broadcast ``ReLU(U + I)`` of full-catalog scoring.
SCORE_BLOCK_NUMBERS = 2**24
#: The three ways of using the encoder during training (see :func:`training_step_seconds`).
TRAINING_WAYS: tuple[str, ...] = ("full", "top_layer", "frozen")


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_bool(value: Any, name: str, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False ({what}), got {value!r}")
    return bool(value)


def _check_text_vectors(vectors: Any) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 (n_items, d) array, checked: 2-D, finite."""
    if sp.issparse(vectors):
        raise TypeError(
            "item_text_vectors must be a dense numpy (n_items, d) array, got a sparse matrix; "
            "use dense text embeddings, e.g. encode_texts(item_texts(dataset.items))"
        )
    try:
        array = np.asarray(vectors)
    except (TypeError, ValueError):
        array = np.asarray([])
    if array.ndim != 2 or 0 in array.shape or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            "item_text_vectors must be a 2-D numeric (n_items, d) array with one row per item, "
            f"got {type(vectors).__name__} of shape {getattr(array, 'shape', None)}; e.g. "
            "encode_texts(item_texts(dataset.items))"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"item_text_vectors has {bad_rows.size} row(s) with NaN or infinite values (e.g. "
            f"rows {[int(r) for r in bad_rows[:3]]}); every item needs a finite vector (use a "
            "zero row for an item without text)"
        )
    return array


def _check_texts(texts: Any) -> list[str]:
    from recutils.text import _as_text_list

    return _as_text_list(texts)


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


def _network_class() -> type:
    """The torch module class, created on first use so that importing recutils stays light."""
    global _HybridNetwork
    if _HybridNetwork is not None:
        return _HybridNetwork
    import torch
    from torch import nn

    class HybridNetwork(nn.Module):
        """``s(u, i) = w2 . ReLU(W1 [e_u; k_i e_i; P t_i] + b1) + b2 [+ e_u . (k_i e_i + P t_i)]``.

        Layers: ``user_embedding`` (n_users, f), ``item_embedding`` (n_items, f) or None,
        ``text_projection`` (P, d -> f, no bias) or None, ``hidden_layer`` (W1, b1),
        ``output_layer`` (w2, b2). Text vectors are inputs, not parameters, so the same
        network serves frozen and fine-tuned text.
        """

        def __init__(
            self,
            n_users: int,
            n_items: int,
            text_dim: int | None,
            factors: int,
            hidden: int,
            dot: bool,
            use_ids: bool = True,
        ) -> None:
            super().__init__()
            self.factors, self.dot = factors, dot
            self.user_embedding = nn.Embedding(n_users, factors)
            self.item_embedding = nn.Embedding(n_items, factors) if use_ids else None
            self.text_projection = (
                nn.Linear(text_dim, factors, bias=False) if text_dim is not None else None
            )
            blocks = 1 + (self.item_embedding is not None) + (self.text_projection is not None)
            self.hidden_layer = nn.Linear(blocks * factors, hidden)
            self.output_layer = nn.Linear(hidden, 1)
            # Small random embeddings (N(0, 0.1^2)), so that the first logits are near 0.
            nn.init.normal_(self.user_embedding.weight, std=0.1)
            if self.item_embedding is not None:
                nn.init.normal_(self.item_embedding.weight, std=0.1)

        def item_blocks(
            self, items: torch.Tensor, keep: torch.Tensor, text: torch.Tensor | None
        ) -> list[torch.Tensor]:
            """The item's part of ``x``: ``[k_i e_i]`` and/or ``[P t_i]``, each (batch, f)."""
            blocks = []
            if self.item_embedding is not None:
                blocks.append(self.item_embedding(items) * keep[:, None])
            if self.text_projection is not None:
                if text is None:
                    raise ValueError("this network uses text: pass the items' text vectors")
                blocks.append(self.text_projection(text))
            return blocks

        def forward(
            self,
            users: torch.Tensor,
            items: torch.Tensor,
            keep: torch.Tensor,
            text: torch.Tensor | None = None,
        ) -> torch.Tensor:
            """Logits (batch,) of the pairs ``(users[b], items[b])``.

            Args:
                users, items: int64 (batch,).
                keep: float (batch,), ``k_i``: 1 uses the item ID embedding, 0 replaces it by 0.
                text: float (batch, d), the items' text vectors (None without text).
            """
            user = self.user_embedding(users)
            item_blocks = self.item_blocks(items, keep, text)
            hidden = torch.relu(self.hidden_layer(torch.cat([user, *item_blocks], dim=1)))
            logits = self.output_layer(hidden).squeeze(1)
            if self.dot:
                logits = logits + (user * sum(item_blocks)).sum(dim=1)
            return logits

        def embedding_penalty(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
            """Mean over the batch of ``||e_u||^2 + ||e_i||^2`` (the ID embeddings it touches)."""
            penalty = self.user_embedding(users).pow(2).sum(dim=1)
            if self.item_embedding is not None:
                penalty = penalty + self.item_embedding(items).pow(2).sum(dim=1)
            return penalty.mean()

    _HybridNetwork = HybridNetwork
    return HybridNetwork


_HybridNetwork: type | None = None


# --------------------------------------------------------------------------------------------
# The encoder's top layer on cached lower-layer states
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopLayerInputs:
    """What the encoder's lower layers make of each text, kept so that only the top layer reruns.

    Attributes:
        states: float32 tensor (total tokens, 384): the hidden states entering the top layer,
            the texts' tokens end to end (no padding).
        offsets: int64 (n_texts + 1,): text ``r`` is ``states[offsets[r]:offsets[r + 1]]``.
        vectors: float32 (n_texts, 384): the frozen encoder's text vectors (mean pooling, L2
            normalisation), equal to :func:`recutils.text.encode_texts` to float rounding.
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
    texts: Sequence[str], batch_size: int = 64, threads: int | None = None
) -> TopLayerInputs:
    """Run the bundled encoder once over ``texts``; keep the hidden states entering its top layer.

    The tokens of each text (at most 256, as in :func:`recutils.text.encode_texts`) go through
    the frozen encoder; the output of layer 5 of 6 is stored per token, and the last layer's
    output is mean-pooled and L2-normalised into the frozen text vectors. Cost: one encoder
    pass over the texts (about 25 s for the shop's 4,000 texts on 2 cores) and ``4 x 384`` bytes
    per token of memory.

    Returns:
        :class:`TopLayerInputs`.
    """
    import torch

    from recutils import text as text_module

    values = _check_texts(texts)
    if not values:
        raise ValueError("texts is empty; give one text per item")
    tokenizer, encoder = text_module.load_encoder()
    layers = len(encoder.encoder.layer)
    token_ids = tokenizer(
        values,
        truncation=True,
        max_length=text_module.MAX_LENGTH,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(values))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    states = torch.empty((int(offsets[-1]), encoder.config.hidden_size), dtype=torch.float32)
    vectors = np.empty((len(values), encoder.config.hidden_size), dtype=np.float32)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = np.argsort(-lengths, kind="stable")
    n_threads = int(threads) if threads is not None else environment.configured_threads()[1]
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with torch.inference_mode():
            batches = text_module._batches(order, lengths, batch_size, text_module.MAX_BATCH_TOKENS)
            for rows in batches:
                width = int(lengths[rows].max())
                input_ids = torch.full((len(rows), width), pad_id, dtype=torch.int64)
                mask = torch.zeros((len(rows), width), dtype=torch.int64)
                for j, row in enumerate(rows.tolist()):
                    input_ids[j, : lengths[row]] = torch.tensor(token_ids[row])
                    mask[j, : lengths[row]] = 1
                output = encoder(
                    input_ids=input_ids,
                    attention_mask=mask,
                    token_type_ids=torch.zeros_like(mask),
                    output_hidden_states=True,
                )
                below_top = output.hidden_states[layers - 1]  # the input of the top layer
                for j, row in enumerate(rows.tolist()):
                    states[offsets[row] : offsets[row + 1]] = below_top[j, : lengths[row]]
                pooled = text_module.mean_pooling(output.last_hidden_state, mask)
                vectors[rows] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    finally:
        torch.set_num_threads(previous_threads)
    return TopLayerInputs(states=states, offsets=offsets, vectors=vectors)


def top_layer_copy() -> nn.Module:
    """A trainable deep copy of the bundled encoder's top ``BertLayer`` (the shared model is
    left untouched)."""
    from recutils.text import load_encoder

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

    from recutils.text import mean_pooling

    additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    output = layer(hidden, attention_mask=additive)
    output = output[0] if isinstance(output, tuple) else output  # transformers 4.x: a tuple
    return torch.nn.functional.normalize(mean_pooling(output, mask), dim=1)


def _top_layer_vectors(
    layer: nn.Module, inputs: TopLayerInputs, batch_texts: int = 64
) -> np.ndarray:
    """Every text's vector through ``layer`` (no gradient), in length-sorted batches."""
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


class BertHybrid(Recommender):
    """User ID + item ID + pretrained text vector -> MLP (ReLU) -> logit; the post's model, fixed.

    See the module docstring for the formula, the defects of the post it fixes, the negative
    sampler, the separable full-catalog scoring and the optional top-layer fine-tuning.

    Args:
        item_text_vectors: (n_items, d) float array, row ``i`` the text vector of column ``i`` of
            the training matrix (IdIndex item order), e.g.
            ``encode_texts(item_texts(dataset.items))``. Any finite values (a zero row for an
            item without text). ``None`` is allowed with ``use_text=False``, or with
            ``finetune_top_layer=True`` (then the vectors come from ``item_texts``).
        use_ids: use the item ID embedding ``e_i``.
        use_text: use the projected text vector ``P t_i``. At least one of the two must be on.
        factors: ``f``, length of the user and item ID embeddings and of ``P t_i``.
        hidden: ``H``, width of the ReLU layer.
        dot: add the dot product ``e_u . (k_i e_i + P t_i)`` to the logit (a plain MLP learns
            dot products poorly: Rendle et al., 2020, "Neural Collaborative Filtering vs.
            Matrix Factorization Revisited").
        negatives: sampled negative items per observed pair.
        epochs: passes over the observed pairs (each with fresh negatives).
        batch_size: labelled pairs (positives and negatives together) per Adam step.
        learning_rate: Adam's step size.
        embedding_l2: weight of the mean ``||e_u||^2 + ||e_i||^2`` of the batch, added to the loss.
        item_id_dropout: probability ``p`` in [0, 1) that a training pair's item ID embedding is
            replaced by zeros (``k_i = 0``), so the network learns to score from text alone.
        finetune_top_layer: after the ``epochs``, fine-tune the encoder's top layer (needs
            ``item_texts``; see the module docstring).
        item_texts: one text per item (IdIndex item order), e.g. ``item_texts(dataset.items)``;
            only used (and then required) with ``finetune_top_layer=True``.
        finetune_steps: Adam steps of the fine-tuning phase.
        finetune_batch_size: labelled pairs per fine-tuning step (the post's 64).
        finetune_learning_rate: Adam's step size for the top layer. The rest of the network
            continues with ``learning_rate * finetune_batch_size / batch_size`` (smaller batches,
            smaller steps; with the full rate, batches of 64 made the loss rise again).
        seed: fixes the initial weights, the negatives, the shuffling and the ID dropout.
        threads: torch threads for fitting and scoring; default (None) the torch setting of
            :func:`recutils.setup` (:func:`recutils.environment.configured_threads`). The
            previous torch setting is restored afterwards.
        progress: show a tqdm progress bar over the epochs (and fine-tuning steps); nothing is
            printed when False.

    Defaults, chosen on the notebooks' validation split of the shop (temporal: train = all but
    the last 60 days, validation = the 30 days before the last 30; ~96,000 training pairs;
    validation nDCG@10 of full-catalog top-10 lists, seen items excluded; seed 0):

    =====================================  ==========  ==========
    items described by                     with dot    without
    =====================================  ==========  ==========
    IDs + text (the post's model)          **0.057**   0.045
    IDs only (``use_text=False``)          0.047       0.041
    text only (``use_ids=False``)          0.043       0.040
    =====================================  ==========  ==========

    Without the dot term the model learns more slowly, and at its best (IDs + text, 10 epochs,
    ``learning_rate=0.01``) reached 0.052: hence ``dot=True``. Epochs x learning rate in
    {3, 5, 10} x {0.001, 0.003, 0.01}: 5 and 0.003 were best (others 0.040-0.054; 10 epochs
    overfit). ``embedding_l2`` in {1e-4, 1e-3, 1e-2} x ``negatives`` in {4, 8}, and
    ``factors`` in {32, 128} x ``hidden`` in {64, 256}, all gave 0.055-0.059, no more than
    the spread between seeds (0.055-0.058 for seeds 0-3), so the cheaper settings stay.
    ``item_id_dropout`` 0 / 0.2 / 0.5: 0.057 / 0.057 / 0.053 here, but 0.2 ranks new items
    best (below). On the same split, most popular scores 0.032, ALS 0.067-0.068 and
    ContentBased (MiniLM) 0.016: on items with a history the hybrid is about 15% *below*
    plain matrix factorisation, as Rendle et al. (2020) would predict for a network trained
    with sampled negatives.

    Where the text pays off is new items. With 300 random items removed from training (their
    8,296 pairs dropped), the hybrid ranked those 300 for the 725 users who interacted with
    them in the validation period with nDCG@10 0.072 (AUC 0.71); random order gives 0.017,
    ContentBased 0.060, text only 0.061, ``item_id_dropout=0`` 0.061, and the same items
    *with* their history 0.180. In a full-catalog list, though, new items rarely make the top
    10 (0.4% of the slots for 7.5% of the catalog): without a history they get no share of
    the popularity the ID embeddings learn, so a shop wanting them seen needs a slot for
    them (notebook on cold start).

    Cost on 2 CPU cores (torch 2 threads): fitting the shop with the defaults takes about
    10 s (2,350 steps of 1,024 pairs); scoring the full catalog for 1,900 users 1.5 s.
    Fine-tuning the top layer adds about 25 s of caching and 0.25 s per step (100 steps:
    ~30 s); on the shop it changed nothing measurable (validation 0.055 after 100 steps,
    0.057 after 300, against 0.057 frozen): 100 x 64 pairs are 1% of one epoch, and with a
    learning rate of 2e-5 the text vectors barely move (mean cosine to the frozen ones
    0.998). See ``bench/hybrid_bench.py`` for the cost per step of the three ways.

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        module_: the trained torch network (eval mode): ``module_(users, items, keep, text)``
            returns the logits of pairs (see the module docstring).
        item_text_vectors_: float32 (n_items, d) text vectors used for scoring (after
            fine-tuning, the tuned ones); None without text.
        item_has_interactions_: bool (n_items,): False for items scored from text alone.
        history_: mean training loss per epoch (list of float).
        finetune_history_: mean loss of each block of fine-tuning steps (empty without).
        top_layer_: the fine-tuned top encoder layer (None without fine-tuning).
        fit_seconds_: wall-clock seconds of the fit (``{"epochs": ..., "finetune": ...}``).
    """

    name = "BERT hybrid"

    def __init__(
        self,
        item_text_vectors: np.ndarray | None = None,
        use_ids: bool = True,
        use_text: bool = True,
        factors: int = 64,
        hidden: int = 128,
        dot: bool = True,
        negatives: int = 4,
        epochs: int = 5,
        batch_size: int = 1024,
        learning_rate: float = 0.003,
        embedding_l2: float = 1e-3,
        item_id_dropout: float = 0.2,
        finetune_top_layer: bool = False,
        item_texts: Sequence[str] | None = None,
        finetune_steps: int = 100,
        finetune_batch_size: int = 64,
        finetune_learning_rate: float = 2e-5,
        seed: int = 0,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.use_ids = _check_bool(use_ids, "use_ids", "use the item ID embedding")
        self.use_text = _check_bool(use_text, "use_text", "use the item's text vector")
        if not (self.use_ids or self.use_text):
            raise ValueError(
                "use_ids and use_text are both False: the model would know nothing about items; "
                "switch on at least one (IDs only: use_text=False; text only: use_ids=False)"
            )
        self.finetune_top_layer = _check_bool(
            finetune_top_layer, "finetune_top_layer", "fine-tune the encoder's top layer"
        )
        if self.finetune_top_layer and not self.use_text:
            raise ValueError("finetune_top_layer=True needs use_text=True (it tunes the text path)")
        if self.finetune_top_layer:
            if item_texts is None:
                raise ValueError(
                    "finetune_top_layer=True needs item_texts (one text per item, e.g. "
                    "item_texts(dataset.items)): the encoder's top layer runs on them"
                )
            if item_text_vectors is not None:
                raise ValueError(
                    "with finetune_top_layer=True the text vectors are computed from item_texts "
                    "by the encoder (mean pooling); pass item_text_vectors=None"
                )
            self.item_texts: list[str] | None = _check_texts(item_texts)
        else:
            self.item_texts = None if item_texts is None else _check_texts(item_texts)
        if self.use_text and not self.finetune_top_layer:
            if item_text_vectors is None:
                raise ValueError(
                    "use_text=True needs item_text_vectors, an (n_items, d) array, e.g. "
                    "encode_texts(item_texts(dataset.items)); or use_text=False for IDs only"
                )
            self.item_text_vectors: np.ndarray | None = _check_text_vectors(item_text_vectors)
        else:
            self.item_text_vectors = (
                None if item_text_vectors is None else _check_text_vectors(item_text_vectors)
            )
        self.factors = _positive_int(factors, "factors", "length of the ID embeddings")
        self.hidden = _positive_int(hidden, "hidden", "width of the ReLU layer")
        self.dot = _check_bool(dot, "dot", "add e_u . (item vector) to the logit")
        self.negatives = _positive_int(negatives, "negatives", "sampled negatives per positive")
        self.epochs = _positive_int(epochs, "epochs", "passes over the training pairs")
        self.batch_size = _positive_int(batch_size, "batch_size", "labelled pairs per step")
        self.learning_rate = _non_negative_float(
            learning_rate, "learning_rate", "Adam's step size, e.g. 0.003", positive=True
        )
        self.embedding_l2 = _non_negative_float(
            embedding_l2, "embedding_l2", "weight of the squared ID embeddings in the loss"
        )
        dropout_ok = (
            isinstance(item_id_dropout, (int, float, np.integer, np.floating))
            and not isinstance(item_id_dropout, bool)
            and np.isfinite(item_id_dropout)
            and 0 <= item_id_dropout < 1
        )
        if not dropout_ok:
            raise ValueError(
                "item_id_dropout must be a number in [0, 1) (the probability that a training "
                f"pair's item ID embedding is zeroed), got {item_id_dropout!r}"
            )
        self.item_id_dropout = float(item_id_dropout)
        self.finetune_steps = _positive_int(finetune_steps, "finetune_steps", "fine-tuning steps")
        self.finetune_batch_size = _positive_int(
            finetune_batch_size, "finetune_batch_size", "labelled pairs per fine-tuning step"
        )
        self.finetune_learning_rate = _non_negative_float(
            finetune_learning_rate,
            "finetune_learning_rate",
            "Adam's step size for the top encoder layer, e.g. 2e-5",
            positive=True,
        )
        self.seed = _seed(seed)
        self.threads = (
            None if threads is None else _positive_int(threads, "threads", "torch threads")
        )
        self.progress = _check_bool(progress, "progress", "show a progress bar")

    def __repr__(self) -> str:
        params = self.get_params()
        if params["item_text_vectors"] is not None:
            n_rows, n_dims = params["item_text_vectors"].shape
            params["item_text_vectors"] = f"<{n_rows} x {n_dims} array>"
        if params["item_texts"] is not None:
            params["item_texts"] = f"<{len(params['item_texts'])} texts>"
        shown = ", ".join(
            f"{key}={value}"
            if key in ("item_text_vectors", "item_texts") and value is not None
            else f"{key}={value!r}"
            for key, value in params.items()
        )
        return f"{type(self).__name__}({shown})"

    # -- fitting ---------------------------------------------------------------------------

    def _torch_threads(self) -> int:
        return self.threads if self.threads is not None else environment.configured_threads()[1]

    def _check_item_rows(self, n_rows: int, what: str) -> None:
        if n_rows != self.n_items_:
            raise ValueError(
                f"{what} has {n_rows} rows but the training matrix has {self.n_items_} item "
                "columns; give one per column, in the item order of the IdIndex "
                "(IdIndex.from_dataset(dataset).items, i.e. the catalog order)"
            )

    def _epoch_pairs(
        self, positives: tuple[np.ndarray, np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, ...]:
        """One epoch of shuffled (users, items, labels, keep) arrays (see the module docstring)."""
        pos_users, pos_items = positives
        neg_users = np.repeat(pos_users, self.negatives)
        neg_items = sample_negatives(self.train_, neg_users, rng)
        users = np.concatenate([pos_users, neg_users])
        items = np.concatenate([pos_items, neg_items])
        labels = np.concatenate(
            [np.ones(pos_users.size, np.float32), np.zeros(neg_users.size, np.float32)]
        )
        keep = (rng.random(users.size) >= self.item_id_dropout) & self.item_has_interactions_[items]
        order = rng.permutation(users.size)
        return users[order], items[order], labels[order], keep[order].astype(np.float32)

    def _batches(
        self,
        positives: tuple[np.ndarray, np.ndarray],
        rng: np.random.Generator,
        batch_size: int,
    ) -> Iterator[tuple[torch.Tensor, ...]]:
        """Endless batches of (users, items, labels, keep) tensors, epoch after epoch."""
        import torch

        while True:
            arrays = [torch.from_numpy(a) for a in self._epoch_pairs(positives, rng)]
            for start in range(0, arrays[0].shape[0], batch_size):
                yield tuple(a[start : start + batch_size] for a in arrays)

    def _loss(
        self,
        network: nn.Module,
        batch: tuple[torch.Tensor, ...],
        text: torch.Tensor | None,
    ) -> torch.Tensor:
        import torch

        users, items, labels, keep = batch
        logits = network(users, items, keep, text)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        if self.embedding_l2 > 0:
            loss = loss + self.embedding_l2 * network.embedding_penalty(users, items)
        return loss

    def _train_epoch(
        self,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        batches: Iterator[tuple[torch.Tensor, ...]],
        steps: int,
        text: torch.Tensor | None,
    ) -> float:
        """``steps`` Adam steps on the frozen text vectors ``text``; returns the mean loss."""
        total = 0.0
        for _ in range(steps):
            batch = next(batches)
            loss = self._loss(network, batch, None if text is None else text[batch[1]])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        return total / steps

    def _fit(self, train: sp.csr_matrix) -> None:
        import torch

        started = time.perf_counter()
        self.item_has_interactions_ = self.popularity_ > 0
        inputs: TopLayerInputs | None = None
        text_vectors: np.ndarray | None = None
        if self.finetune_top_layer:
            assert self.item_texts is not None
            self._check_item_rows(len(self.item_texts), "item_texts")
        if self.use_text:
            if self.finetune_top_layer:
                inputs = top_layer_inputs(
                    self.item_texts,  # type: ignore[arg-type]
                    threads=self._torch_threads(),
                )
                text_vectors = inputs.vectors
            else:
                assert self.item_text_vectors is not None
                self._check_item_rows(self.item_text_vectors.shape[0], "item_text_vectors")
                text_vectors = self.item_text_vectors
        rng = np.random.default_rng(self.seed)
        positives = (  # the nonzero cells of train, whatever their weight
            np.repeat(np.arange(self.n_users_, dtype=np.int64), np.diff(train.indptr)),
            train.indices.astype(np.int64),
        )
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self._torch_threads())
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                network = _network_class()(
                    self.n_users_,
                    self.n_items_,
                    None if text_vectors is None else text_vectors.shape[1],
                    self.factors,
                    self.hidden,
                    self.dot,
                    self.use_ids,
                )
            text = None if text_vectors is None else torch.from_numpy(text_vectors)
            optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
            network.train()
            self.history_: list[float] = []
            steps_per_epoch = -(-positives[0].size * (1 + self.negatives) // self.batch_size)
            batches = self._batches(positives, rng, self.batch_size)
            epochs = range(self.epochs)
            if self.progress:
                from tqdm.auto import tqdm

                epochs = tqdm(epochs, desc=self.name, unit="epoch", disable=False)
            for _ in epochs:
                self.history_.append(
                    self._train_epoch(network, optimizer, batches, steps_per_epoch, text)
                )
                if self.progress:
                    epochs.set_postfix(loss=f"{self.history_[-1]:.4f}")  # type: ignore[union-attr]
            trained = time.perf_counter()
            self.finetune_history_: list[float] = []
            self.top_layer_: nn.Module | None = None
            if self.finetune_top_layer:
                assert inputs is not None
                text_vectors = self._finetune(network, optimizer, inputs, positives, rng)
            network.eval()
            self.module_ = network
            self.item_text_vectors_ = text_vectors
            self._prepare_scoring()
        finally:
            torch.set_num_threads(previous_threads)
        self.fit_seconds_ = {
            "epochs": trained - started,
            "finetune": time.perf_counter() - trained,
        }

    def _finetune(
        self,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        inputs: TopLayerInputs,
        positives: tuple[np.ndarray, np.ndarray],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Phase 2: train the top encoder layer with the network; return the new text vectors."""
        import torch

        layer = top_layer_copy()
        # Smaller batches, smaller steps for the network (the linear scaling rule): with the
        # full learning rate, batches of 64 made the loss rise again.
        for group in optimizer.param_groups:
            group["lr"] = self.learning_rate * self.finetune_batch_size / self.batch_size
        optimizer.add_param_group(
            {"params": list(layer.parameters()), "lr": self.finetune_learning_rate}
        )
        batches = self._batches(positives, rng, self.finetune_batch_size)
        steps = range(self.finetune_steps)
        if self.progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="fine-tuning the top layer", unit="step", disable=False)
        report_every = max(1, self.finetune_steps // 10)
        total, count = 0.0, 0
        for step in steps:
            batch = next(batches)
            unique, inverse = np.unique(batch[1].numpy(), return_inverse=True)
            hidden, mask = inputs.padded(unique)
            text = run_top_layer(layer, hidden, mask)[torch.from_numpy(inverse)]
            loss = self._loss(network, batch, text)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()), count + 1
            if (step + 1) % report_every == 0 or step + 1 == self.finetune_steps:
                self.finetune_history_.append(total / count)
                total, count = 0.0, 0
        layer.requires_grad_(False)
        self.top_layer_ = layer
        return _top_layer_vectors(layer, inputs)

    def _prepare_scoring(self) -> None:
        """Precompute the item side of the separable first layer (see the module docstring)."""
        import torch

        network = self.module_
        keep = torch.from_numpy(self.item_has_interactions_.astype(np.float32))
        items = torch.arange(self.n_items_)
        vectors = self.item_text_vectors_
        text = None if vectors is None else torch.from_numpy(vectors)
        with torch.inference_mode():
            blocks = network.item_blocks(items, keep, text)
            weight = network.hidden_layer.weight  # (H, f * blocks): [A | B | C]
            f = self.factors
            item_part = sum(
                block @ weight[:, f * (j + 1) : f * (j + 2)].T for j, block in enumerate(blocks)
            )
            self._item_part = item_part.contiguous()  # (n_items, H)
            self._item_vector = sum(blocks).contiguous() if self.dot else None  # (n_items, f)

    # -- scoring ---------------------------------------------------------------------------

    def _score(self, users: np.ndarray) -> np.ndarray:
        import torch

        network = self.module_
        scores = np.empty((users.size, self.n_items_), dtype=np.float32)
        block = max(1, SCORE_BLOCK_NUMBERS // (self.n_items_ * self.hidden))
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self._torch_threads())
        try:
            with torch.inference_mode():
                user = network.user_embedding(torch.from_numpy(users))
                user_part = user @ network.hidden_layer.weight[:, : self.factors].T
                user_part = user_part + network.hidden_layer.bias
                w2 = network.output_layer.weight[0]
                b2 = network.output_layer.bias[0]
                for start in range(0, users.size, block):
                    stop = min(start + block, users.size)
                    summed = user_part[start:stop, None, :] + self._item_part[None, :, :]
                    result = torch.relu_(summed) @ w2 + b2
                    if self._item_vector is not None:
                        result += user[start:stop] @ self._item_vector.T
                    scores[start:stop] = result.numpy()
        finally:
            torch.set_num_threads(previous_threads)
        return scores

    def score_pairs(self, users: Any, items: Any) -> np.ndarray:
        """Logits ``s(users[b], items[b])`` by the network's own forward pass: float32 (batch,).

        Items without training interactions use ``k_i = 0``, as in :meth:`score`; unlike
        :meth:`score`, users without training interactions are *not* replaced by popularity.
        """
        import torch

        self._check_fitted()
        user_rows = check_positions(users, self.n_users_, "user")
        item_rows = check_positions(items, self.n_items_, "item")
        if user_rows.size != item_rows.size:
            raise ValueError(
                f"users and items must have the same length, got {user_rows.size} and "
                f"{item_rows.size}"
            )
        keep = torch.from_numpy(self.item_has_interactions_[item_rows].astype(np.float32))
        text = (
            None
            if self.item_text_vectors_ is None
            else torch.from_numpy(self.item_text_vectors_[item_rows])
        )
        with torch.inference_mode():
            logits = self.module_(
                torch.from_numpy(user_rows), torch.from_numpy(item_rows), keep, text
            )
        return logits.numpy().astype(np.float32)


# --------------------------------------------------------------------------------------------
# Cost of one training step, three ways
# --------------------------------------------------------------------------------------------


def training_step_seconds(
    item_texts: Sequence[str],
    way: Literal["full", "top_layer", "frozen"],
    batch_size: int = 64,
    repeats: int = 5,
    warmup: int = 1,
    n_users: int = 1_000,
    inputs: TopLayerInputs | None = None,
    factors: int = 64,
    hidden: int = 128,
    seed: int = 0,
    threads: int | None = None,
) -> np.ndarray:
    """Seconds of single training steps of the hybrid, with the encoder used one of three ways.

    A step: draw ``batch_size`` random (user, item, label) triples (items from ``item_texts``),
    compute the batch items' text vectors, the hybrid network's logits, the BCE loss, the
    backward pass and an Adam update. The ways differ in how the text vectors are obtained:

    * ``"full"``: the post's way. Tokenise the batch items' texts and run the *whole* encoder
      (a trainable copy, 6 layers) forward and backward; Adam also updates the encoder
      (learning rate 2e-5).
    * ``"top_layer"``: run only the top layer (trainable copy) on cached lower-layer states
      (:func:`top_layer_inputs`; pass ``inputs`` to reuse them, else they are computed first,
      untimed), mean pooling and normalisation, forward and backward.
    * ``"frozen"``: look the vectors up in a cached array (``inputs.vectors``); only the
      recommender network trains.

    Args:
        item_texts: the catalog's texts (the batch items are drawn from them).
        way: one of :data:`TRAINING_WAYS`.
        batch_size: labelled pairs per step.
        repeats: timed steps (after ``warmup`` untimed ones).
        n_users: size of the user embedding table.
        inputs: the :func:`top_layer_inputs` of ``item_texts`` (for ``"top_layer"`` and
            ``"frozen"``), to avoid computing them again.
        threads: torch threads (default: :func:`recutils.environment.configured_threads`).

    Returns:
        float64 (repeats,) seconds of each timed step; take the median.
    """
    import torch

    from recutils.text import MAX_LENGTH, load_encoder, mean_pooling

    if way not in TRAINING_WAYS:
        raise ValueError(f"way must be one of {list(TRAINING_WAYS)}, got {way!r}")
    texts = _check_texts(item_texts)
    batch_size = _positive_int(batch_size, "batch_size", "labelled pairs per step")
    repeats = _positive_int(repeats, "repeats", "timed steps")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0 (untimed steps), got {warmup!r}")
    n_threads = (
        environment.configured_threads()[1]
        if threads is None
        else _positive_int(threads, "threads", "torch threads")
    )
    if way != "full" and inputs is None:
        inputs = top_layer_inputs(texts, threads=n_threads)
    if inputs is not None and inputs.vectors.shape[0] != len(texts):
        raise ValueError(
            f"inputs holds {inputs.vectors.shape[0]} texts but item_texts has {len(texts)}"
        )
    tokenizer, encoder = load_encoder()
    rng = np.random.default_rng(seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = _network_class()(
                n_users, len(texts), encoder.config.hidden_size, factors, hidden, True
            )
        parameters = [{"params": list(network.parameters()), "lr": 1e-3}]
        trainable: nn.Module | None = None
        if way == "full":
            trainable = copy.deepcopy(encoder)
        elif way == "top_layer":
            trainable = top_layer_copy()
        if trainable is not None:
            trainable.requires_grad_(True)
            parameters.append({"params": list(trainable.parameters()), "lr": 2e-5})
        optimizer = torch.optim.Adam(parameters)

        def step() -> None:
            users = torch.from_numpy(rng.integers(0, n_users, batch_size))
            items_np = rng.integers(0, len(texts), batch_size)
            labels = torch.from_numpy((rng.random(batch_size) < 0.2).astype(np.float32))
            keep = torch.ones(batch_size)
            unique, inverse = np.unique(items_np, return_inverse=True)
            if way == "full":
                tokens = tokenizer(
                    [texts[i] for i in unique.tolist()],
                    truncation=True,
                    max_length=MAX_LENGTH,
                    padding=True,
                    return_tensors="pt",
                )
                output = trainable(**tokens)
                pooled = mean_pooling(output.last_hidden_state, tokens["attention_mask"])
                vectors = torch.nn.functional.normalize(pooled, dim=1)
            elif way == "top_layer":
                hidden_states, mask = inputs.padded(unique)
                vectors = run_top_layer(trainable, hidden_states, mask)
            else:
                vectors = torch.from_numpy(inputs.vectors[unique])
            text = vectors[torch.from_numpy(inverse)]
            logits = network(users, torch.from_numpy(items_np), keep, text)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        for _ in range(warmup):
            step()
        seconds = np.empty(repeats)
        for r in range(repeats):
            start = time.perf_counter()
            step()
            seconds[r] = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous_threads)
    return seconds
