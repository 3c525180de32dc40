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
post's choice; notebook 05 compares the two).

**Fine-tuning the top layer** (``finetune_top_layer=True``, optional). The post fine-tunes all of
BERT on every batch. Here the standard transfer-learning recipe is used instead: first train the
recommender with the text features frozen (``epochs``), then unfreeze only the encoder's top
(6th) layer for ``finetune_steps`` steps with a small learning rate. The catalog's texts go
through the frozen encoder once (:func:`recutils.text.top_layer_inputs`); the hidden states
entering its top layer (``4 x tokens x 384`` bytes: about 300 MB for the shop's 206,000 tokens)
stay in memory, and each step runs only the top layer (a trainable copy), mean pooling and L2
normalisation for the batch's items. Afterwards every item's text vector is recomputed once
through the tuned layer. :func:`recutils.models.hybrid_cost.training_step_seconds` (and
``bench/hybrid_bench.py``) measures the cost per step of the three ways.

See :class:`BertHybrid` for the arguments; how the defaults were chosen, and how the model
compares with ALS and ranks new items, is measured in notebook 05 and ``bench/results/tuning.md``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from recutils import checks
from recutils.environment import DEFAULT_SEED, torch_threads
from recutils.models.sampling import sample_negatives
from recutils.models.training import TorchRecommender
from recutils.text import (
    TopLayerInputs,
    run_top_layer,
    top_layer_copy,
    top_layer_inputs,
    top_layer_vectors,
)

#: Largest number of floats in one block of the broadcast ``ReLU(U + I)`` of full-catalog scoring.
SCORE_BLOCK_NUMBERS = 2**24


# --------------------------------------------------------------------------------------------
# The network and its loss
# --------------------------------------------------------------------------------------------


class HybridNetwork(nn.Module):
    """``s(u, i) = w2 . ReLU(W1 [e_u; k_i e_i; P t_i] + b1) + b2 [+ e_u . (k_i e_i + P t_i)]``.

    Layers: ``user_embedding`` (n_users, f), ``item_embedding`` (n_items, f) or None,
    ``text_projection`` (P, d -> f, no bias) or None, ``hidden_layer`` (W1, b1),
    ``output_layer`` (w2, b2). Text vectors are inputs, not parameters, so the same network
    serves frozen and fine-tuned text.

    Args:
        n_users, n_items: sizes of the ID embedding tables.
        text_dim: ``d``, the length of the text vectors (None: no text path).
        factors: ``f``; hidden: ``H``; dot: add the dot term; use_ids: use ``e_i``.
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


def hybrid_loss(
    network: HybridNetwork,
    users: torch.Tensor,
    items: torch.Tensor,
    labels: torch.Tensor,
    keep: torch.Tensor,
    text: torch.Tensor | None,
    embedding_l2: float,
) -> torch.Tensor:
    """Binary cross-entropy of ``sigmoid(s(u, i))`` against the labels, plus
    ``embedding_l2 * mean(||e_u||^2 + ||e_i||^2)``: one batch's loss (a scalar tensor)."""
    logits = network(users, items, keep, text)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    if embedding_l2 > 0:
        loss = loss + embedding_l2 * network.embedding_penalty(users, items)
    return loss


# --------------------------------------------------------------------------------------------
# The recommender
# --------------------------------------------------------------------------------------------


class BertHybrid(TorchRecommender):
    """User ID + item ID + pretrained text vector -> MLP (ReLU) -> logit; the post's model, fixed.

    See the module docstring for the formula, the defects of the post it fixes, the negative
    sampler, the separable full-catalog scoring and the optional top-layer fine-tuning.

    Side data of ``fit``:
        item_vectors: (n_items, d) float array, row ``i`` the text vector of column ``i`` of
            the training matrix (IdIndex item order), e.g.
            ``encode_texts(item_texts(dataset.items))``. Any finite values (a zero row for an
            item without text). Needed with ``use_text=True``, unless
            ``finetune_top_layer=True`` (then the vectors come from ``item_texts``).
        item_texts: one text per item (IdIndex item order), e.g. ``item_texts(dataset.items)``;
            needed (only) with ``finetune_top_layer=True``.

    Args:
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
        finetune_steps: Adam steps of the fine-tuning phase.
        finetune_batch_size: labelled pairs per fine-tuning step (the post's 64).
        finetune_learning_rate: Adam's step size for the top layer. The rest of the network
            continues with ``learning_rate * finetune_batch_size / batch_size`` (smaller batches,
            smaller steps; with the full rate, batches of 64 made the loss rise again).
        eval_every, patience, valid_k: early stopping, when ``fit`` gets ``valid`` (the
            training loop of :class:`~recutils.models.training.TorchRecommender`).
        seed: fixes the initial weights, the negatives, the shuffling and the ID dropout.
        threads: torch threads for fitting and scoring; default (None) the torch setting of
            :func:`recutils.setup`. The previous torch setting is restored afterwards.
        progress: show a tqdm progress bar over the epochs; nothing is printed when False.

    Example::

        hybrid = BertHybrid().fit(train, item_vectors=encode_texts(item_texts(shop.items)))
        hybrid.recommend(users, k=10)

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        module_: the trained torch network (eval mode): ``module_(users, items, keep, text)``
            returns the logits of pairs (see the module docstring).
        item_text_vectors_: float32 (n_items, d) text vectors used for scoring (after
            fine-tuning, the tuned ones); None without text.
        item_has_interactions_: bool (n_items,): False for items scored from text alone.
        history_: one dict per epoch (``epoch``, ``loss``, ``seconds``, ``valid_ndcg``).
        finetune_history_: mean loss of each block of fine-tuning steps (empty without).
        top_layer_: the fine-tuned top encoder layer (None without fine-tuning).
        fit_seconds_, finetune_seconds_: wall-clock seconds of the whole fit and of the
            fine-tuning phase (0 without).
    """

    name = "BERT hybrid"
    side_data: ClassVar = {
        "item_vectors": "(n_items, d) text vectors, one per column of train",
        "item_texts": "one text per item (for finetune_top_layer=True)",
    }
    # the encoder's hidden states of every text: needed only while fine-tuning
    transient_attributes = ("_inputs",)

    def __init__(
        self,
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
        finetune_steps: int = 100,
        finetune_batch_size: int = 64,
        finetune_learning_rate: float = 2e-5,
        eval_every: int = 1,
        patience: int = 3,
        valid_k: int = 20,
        seed: int = DEFAULT_SEED,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.use_ids = checks.boolean(use_ids, "use_ids", "use the item ID embedding")
        self.use_text = checks.boolean(use_text, "use_text", "use the item's text vector")
        if not (self.use_ids or self.use_text):
            raise ValueError(
                "use_ids and use_text are both False: the model would know nothing about items; "
                "switch on at least one (IDs only: use_text=False; text only: use_ids=False)"
            )
        self.finetune_top_layer = checks.boolean(
            finetune_top_layer, "finetune_top_layer", "fine-tune the encoder's top layer"
        )
        if self.finetune_top_layer and not self.use_text:
            raise ValueError("finetune_top_layer=True needs use_text=True (it tunes the text path)")
        self.factors = checks.positive_int(factors, "factors", "length of the ID embeddings")
        self.hidden = checks.positive_int(hidden, "hidden", "width of the ReLU layer")
        self.dot = checks.boolean(dot, "dot", "add e_u . (item vector) to the logit")
        self.negatives = checks.positive_int(negatives, "negatives", "negatives per positive")
        self.batch_size = checks.positive_int(batch_size, "batch_size", "labelled pairs per step")
        self.embedding_l2 = checks.non_negative_number(
            embedding_l2, "embedding_l2", "weight of the squared ID embeddings in the loss"
        )
        self.item_id_dropout = checks.fraction(
            item_id_dropout,
            "item_id_dropout",
            "the probability that a training pair's item ID embedding is zeroed",
        )
        self.finetune_steps = checks.positive_int(
            finetune_steps, "finetune_steps", "fine-tuning steps"
        )
        self.finetune_batch_size = checks.positive_int(
            finetune_batch_size, "finetune_batch_size", "labelled pairs per fine-tuning step"
        )
        self.finetune_learning_rate = checks.positive_number(
            finetune_learning_rate,
            "finetune_learning_rate",
            "Adam's step size for the top encoder layer, e.g. 2e-5",
        )
        self._set_training(
            epochs=epochs,
            learning_rate=learning_rate,
            seed=seed,
            threads=threads,
            progress=progress,
            eval_every=eval_every,
            patience=patience,
            valid_k=valid_k,
        )

    # -- the training loop's parts -----------------------------------------------------------

    def _prepare(
        self, train: sp.csr_matrix, *, item_vectors: Any = None, item_texts: Any = None
    ) -> None:
        self._inputs: TopLayerInputs | None = None
        vectors: np.ndarray | None = None
        if self.finetune_top_layer:
            if item_texts is None:
                raise TypeError(
                    "finetune_top_layer=True needs item_texts= in fit (one text per item, e.g. "
                    "item_texts(dataset.items)): the encoder's top layer runs on them"
                )
            if item_vectors is not None:
                raise ValueError(
                    "with finetune_top_layer=True the text vectors are computed from item_texts "
                    "by the encoder (mean pooling); do not pass item_vectors"
                )
            self._check_item_rows(len(item_texts), "item_texts")
            self._inputs = top_layer_inputs(item_texts, threads=self.threads)
            vectors = self._inputs.vectors
        elif self.use_text:
            if item_vectors is None:
                raise TypeError(
                    "use_text=True needs item_vectors= in fit, an (n_items, d) array, e.g. "
                    "encode_texts(item_texts(dataset.items)); or use_text=False for IDs only"
                )
            vectors = checks.dense_vectors(item_vectors, "item_vectors")
            self._check_item_rows(vectors.shape[0], "item_vectors")
        self.item_text_vectors_ = vectors if self.use_text else None
        self._text = None if self.item_text_vectors_ is None else torch.from_numpy(vectors)
        self.item_has_interactions_ = self.popularity_ > 0
        self._positives = (  # the nonzero cells of train, whatever their weight
            np.repeat(np.arange(self.n_users_, dtype=np.int64), np.diff(train.indptr)),
            train.indices.astype(np.int64),
        )
        self.finetune_history_: list[float] = []
        self.top_layer_: nn.Module | None = None
        self.finetune_seconds_ = 0.0

    def _build_network(self) -> nn.Module:
        text_dim = None if self.item_text_vectors_ is None else self.item_text_vectors_.shape[1]
        return HybridNetwork(
            self.n_users_,
            self.n_items_,
            text_dim,
            self.factors,
            self.hidden,
            self.dot,
            self.use_ids,
        )

    def _epoch_pairs(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """One epoch of shuffled (users, items, labels, keep) arrays (see the module docstring)."""
        pos_users, pos_items = self._positives
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

    def _batches(self, rng: np.random.Generator, batch_size: int) -> Iterator[tuple[Any, ...]]:
        arrays = [torch.from_numpy(a) for a in self._epoch_pairs(rng)]
        for start in range(0, arrays[0].shape[0], batch_size):
            yield tuple(a[start : start + batch_size] for a in arrays)

    def _epoch_batches(self, rng: np.random.Generator) -> Iterator[tuple[Any, ...]]:
        return self._batches(rng, self.batch_size)

    def _loss(self, network: nn.Module, batch: Any) -> tuple[torch.Tensor, Any, float]:
        users, items, labels, keep = batch
        text = None if self._text is None else self._text[items]
        loss = hybrid_loss(network, users, items, labels, keep, text, self.embedding_l2)
        return loss, loss.detach(), 1.0

    def _after_epochs(
        self, network: nn.Module, optimizer: torch.optim.Optimizer, rng: np.random.Generator
    ) -> None:
        """Phase 2: train the top encoder layer with the network (``finetune_top_layer``)."""
        if not self.finetune_top_layer:
            return
        started = time.perf_counter()
        inputs = self._inputs
        assert inputs is not None
        layer = top_layer_copy()
        # Smaller batches, smaller steps for the network (the linear scaling rule): with the
        # full learning rate, batches of 64 made the loss rise again.
        for group in optimizer.param_groups:
            group["lr"] = self.learning_rate * self.finetune_batch_size / self.batch_size
        optimizer.add_param_group(
            {"params": list(layer.parameters()), "lr": self.finetune_learning_rate}
        )
        network.train()
        batches = self._endless_batches(rng, self.finetune_batch_size)
        report_every = max(1, self.finetune_steps // 10)
        total, count = 0.0, 0
        for step in range(self.finetune_steps):
            users, items, labels, keep = next(batches)
            unique, inverse = np.unique(items.numpy(), return_inverse=True)
            hidden, mask = inputs.padded(unique)
            text = run_top_layer(layer, hidden, mask)[torch.from_numpy(inverse)]
            loss = hybrid_loss(network, users, items, labels, keep, text, self.embedding_l2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + float(loss.detach()), count + 1
            if (step + 1) % report_every == 0 or step + 1 == self.finetune_steps:
                self.finetune_history_.append(total / count)
                total, count = 0.0, 0
        layer.requires_grad_(False)
        self.top_layer_ = layer
        self.item_text_vectors_ = top_layer_vectors(layer, inputs)
        self._text = torch.from_numpy(self.item_text_vectors_)
        self.finetune_seconds_ = time.perf_counter() - started

    def empty_module(self, attribute: str) -> nn.Module:
        """``module_`` (the network) or ``top_layer_`` (the fine-tuned encoder layer), for
        ``recutils.persistence`` to load saved weights into."""
        if attribute == "top_layer_":
            return top_layer_copy()
        return super().empty_module(attribute)

    def _endless_batches(
        self, rng: np.random.Generator, batch_size: int
    ) -> Iterator[tuple[Any, ...]]:
        while True:
            yield from self._batches(rng, batch_size)

    def _prepare_scoring(self, network: nn.Module) -> None:
        """Precompute the item side of the separable first layer (see the module docstring)."""
        self.module_ = network
        keep = torch.from_numpy(self.item_has_interactions_.astype(np.float32))
        items = torch.arange(self.n_items_)
        with torch.inference_mode():
            blocks = network.item_blocks(items, keep, self._text)
            weight = network.hidden_layer.weight  # (H, f * blocks): [A | B | C]
            f = self.factors
            item_part = sum(
                block @ weight[:, f * (j + 1) : f * (j + 2)].T for j, block in enumerate(blocks)
            )
            self._item_part = item_part.contiguous()  # (n_items, H)
            self._item_vector = sum(blocks).contiguous() if self.dot else None  # (n_items, f)

    # -- scoring -----------------------------------------------------------------------------

    def _score(self, users: np.ndarray) -> np.ndarray:
        network = self.module_
        scores = np.empty((users.size, self.n_items_), dtype=np.float32)
        block = max(1, SCORE_BLOCK_NUMBERS // (self.n_items_ * self.hidden))
        with torch_threads(self.threads), torch.inference_mode():
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
        return scores

    def score_pairs(self, users: Any, items: Any) -> np.ndarray:
        """Logits ``s(users[b], items[b])`` by the network's own forward pass: float32 (batch,).

        Items without training interactions use ``k_i = 0``, as in :meth:`score`; unlike
        :meth:`score`, users without training interactions are *not* replaced by popularity.
        """
        self._check_fitted()
        user_rows = checks.positions(users, self.n_users_, "user")
        item_rows = checks.positions(items, self.n_items_, "item")
        if user_rows.size != item_rows.size:
            raise ValueError(
                f"users and items must have the same length, got {user_rows.size} and "
                f"{item_rows.size}"
            )
        keep = torch.from_numpy(self.item_has_interactions_[item_rows].astype(np.float32))
        text = None if self._text is None else self._text[torch.from_numpy(item_rows)]
        with torch.inference_mode():
            logits = self.module_(
                torch.from_numpy(user_rows), torch.from_numpy(item_rows), keep, text
            )
        return logits.numpy().astype(np.float32)
