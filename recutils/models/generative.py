"""Recommendation as generation: a small T5 writes the next item's semantic ID (TIGER).

TIGER (Rajput et al., 2023, "Recommender Systems with Generative Retrieval") treats next-item
prediction as translation. Every item has a semantic ID of ``L = levels + 1`` tokens
(:mod:`recutils.semantic_ids`: residual k-means codes of its text vector plus a collision
token), and an encoder-decoder Transformer reads the IDs of a user's recent items and writes
the ID of the next one::

    source  x = ID(s_(t-H)) ID(s_(t-H+1)) ... ID(s_(t-1))     H = max_history items, flattened
    target  y = ID(s_t) <eos> = (y_1, ..., y_L, <eos>)

**The loss** is the usual one of a sequence-to-sequence model, the cross-entropy of every
target token given the tokens before it (teacher forcing), with a softmax over the whole
vocabulary (the ID tokens, padding and end of sequence)::

    loss = - mean over examples and target positions l of log p(y_l | y_<l, x)

For each user the targets are the last ``max_targets_per_user`` items of the sequence (the
first item has no history, so it is never a target).

**The score** of item ``i`` for a user with source ``x`` is the log-probability that the model
writes its ID::

    score(u, i) = log p(ID(i) | x) = sum_(l=1..L) log p(c_l(i) | c_<l(i), x)

The ``<eos>`` after an ID is trained but not scored: every ID has ``L`` tokens, so the end is
the only valid continuation of a complete ID and carries no choice. Because the softmax runs
over the whole vocabulary, ``sum_i exp(score(u, i)) <= 1``: mass on token sequences that are no
item's ID is lost (a trained model puts little there).

**Exact scores for every item, efficiently.** The decoder is causal, so one pass over the
tokens ``<start> c_1 ... c_(L-1)`` of a prefix gives all ``L`` next-token distributions of
every item whose ID starts with that prefix (items that differ only in the collision token
share it). :meth:`TIGER.score` runs the decoder once per distinct prefix and user, with
``PREFIXES_PER_PASS`` prefixes packed into one decoder row under a block-diagonal causal mask
(T5's position bias depends only on the distance between two tokens, so each block sees
exactly what a lone sequence would), and every row of a user reads that user's one encoder
output. The cost is about ``users x prefixes x L`` decoder tokens: far more than a dot
product per item (SASRec), which is why TIGER ranks by beam search instead.

**Beam search** (:meth:`TIGER.generate`) keeps the ``beams`` most probable partial IDs at
each of the ``L`` steps, with transformers' ``generate``; a prefix tree of the catalog's IDs
(:class:`recutils.semantic_ids.PrefixTrie`) lets only tokens that continue some item's ID
through, so every output is a real item. An item that was never a training target (a new
product with a text) has an ID in the tree all the same, and can be written.

**What differs from the paper.** The codes come from residual k-means, not from a trained
RQ-VAE; the source has no user token; the T5 is small and trained from scratch on the shop's
sequences; and besides beam search the model has exact scores for every item, so that it
keeps the course's model contract and is judged by the same ``evaluation`` as every model.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from recutils import checks
from recutils.environment import DEFAULT_SEED, torch_threads
from recutils.models.base import Recommendations
from recutils.models.sequential import checked_sequences
from recutils.models.training import TorchRecommender
from recutils.ranking import top_k_items
from recutils.semantic_ids import PrefixTrie, SemanticIds, semantic_ids

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from torch import nn

#: Token ids the model reserves before the semantic-ID tokens: padding, which T5 also uses as
#: the decoder's start token, and end of sequence. Semantic token ``t`` is model token ``t + 2``.
PAD, EOS, N_SPECIAL_TOKENS = 0, 1, 2
#: Users whose histories are encoded and scored together.
SCORE_USERS = 32
#: Prefixes packed into one decoder row when scoring (see the module docstring).
PREFIXES_PER_PASS = 16
#: Users per call of transformers' ``generate``.
GENERATE_USERS = 64


class TIGER(TorchRecommender):
    """TIGER-style generative retrieval: a T5 encoder-decoder writes the next item's semantic ID.

    See the module docstring for the examples, the loss, the exact score, beam search and
    what differs from the paper.

    Side data of ``fit``:
        sequences: ``sequences[u]`` = the items of user row ``u``, oldest first (int item
            numbers, e.g. from :func:`~recutils.models.sequential.user_sequences` with the
            split's cut-off); one entry per row of the train matrix, empty if no history.
        item_vectors: (n_items, d) content vectors, one per item column (e.g. text
            embeddings); ``fit`` turns them into the semantic IDs with
            :func:`recutils.semantic_ids.semantic_ids` (``levels``, ``codebook_size``,
            ``seed``). Taking the vectors rather than ready IDs keeps the model a function of
            its settings and its data (a grid search can vary ``codebook_size``); the IDs it
            built are ``semantic_ids_``, equal to ``semantic_ids(item_vectors, levels,
            codebook_size, seed)``.

    Args:
        levels: k-means levels of the semantic IDs (IDs have ``levels + 1`` tokens).
        codebook_size: codes per level, ``K``.
        max_history: ``H``, the most recent items read (their IDs form the source).
        max_targets_per_user: training targets per user: the last this-many items of the
            sequence (each with the ``H`` items before it as source).
        d_model, d_ff, heads: T5's hidden size, feed-forward size and attention heads
            (``d_model`` divisible by ``heads``; each head has ``d_model / heads`` numbers).
        encoder_layers, decoder_layers: Transformer blocks of the encoder and the decoder.
        dropout: T5's dropout rate while training, in [0, 1).
        epochs: passes over the training examples.
        batch_size: examples per Adam step.
        learning_rate: Adam's step size.
        eval_every, patience, valid_k: early stopping when ``fit`` gets ``valid``
            (:class:`~recutils.models.training.TorchRecommender`); each check scores every
            validation user exactly, which costs as much as :meth:`score` does.
        seed: fixes the semantic IDs, the initial weights, the order of examples and dropout.
        threads: torch threads while fitting, scoring and generating (default: the setting of
            :func:`recutils.setup`); the previous setting is restored afterwards.
        progress: show a progress bar over epochs with the loss.

    Users whose sequence is empty get the training popularity from :meth:`score` and the most
    popular items from :meth:`generate` (as :class:`~recutils.models.sequential.SASRec`).

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        semantic_ids_: the items' :class:`~recutils.semantic_ids.SemanticIds`.
        item_tokens_: int64 (n_items, L), each item's ID as model tokens (semantic token + 2).
        trie_: :class:`~recutils.semantic_ids.PrefixTrie` of ``item_tokens_``.
        module_: the trained ``T5ForConditionalGeneration`` (in eval mode).
        history_: one dict per epoch: ``epoch``, ``loss`` (mean cross-entropy per target
            token), ``seconds``; ``fit_seconds_``: the whole ``fit``.
    """

    name = "TIGER"
    side_data: ClassVar = {
        "sequences": "one array of item numbers per user row, oldest first",
        "item_vectors": "one content vector per item (the semantic IDs are built from them)",
    }
    new_users = "own"  # an empty history gets the training popularity

    def __init__(
        self,
        levels: int = 3,
        codebook_size: int = 32,
        max_history: int = 20,
        max_targets_per_user: int = 10,
        d_model: int = 128,
        d_ff: int = 256,
        encoder_layers: int = 2,
        decoder_layers: int = 2,
        heads: int = 4,
        dropout: float = 0.1,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        eval_every: int = 1,
        patience: int = 3,
        valid_k: int = 20,
        seed: int = DEFAULT_SEED,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.levels = checks.positive_int(levels, "levels", "k-means levels of the IDs")
        self.codebook_size = checks.integer(
            codebook_size, "codebook_size", "codes per level", minimum=2
        )
        self.max_history = checks.positive_int(max_history, "max_history", "items read")
        self.max_targets_per_user = checks.positive_int(
            max_targets_per_user, "max_targets_per_user", "training targets per user"
        )
        self.d_model = checks.positive_int(d_model, "d_model", "T5's hidden size")
        self.d_ff = checks.positive_int(d_ff, "d_ff", "T5's feed-forward size")
        self.encoder_layers = checks.positive_int(encoder_layers, "encoder_layers", "blocks")
        self.decoder_layers = checks.positive_int(decoder_layers, "decoder_layers", "blocks")
        self.heads = checks.positive_int(heads, "heads", "attention heads per block")
        checks.divisible_by_heads(self.d_model, "d_model", self.heads)
        self.dropout = checks.fraction(dropout, "dropout", "share of activations zeroed")
        self.batch_size = checks.positive_int(batch_size, "batch_size", "examples per Adam step")
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

    @property
    def id_length(self) -> int:
        """``L``: tokens per semantic ID (``levels + 1``)."""
        return self.levels + 1

    # -- the training loop's parts -----------------------------------------------------------

    def _prepare(
        self, train: sp.csr_matrix, *, sequences: Any = None, item_vectors: Any = None
    ) -> None:
        for given, what in ((sequences, "sequences"), (item_vectors, "item_vectors")):
            if given is None:
                raise TypeError(
                    f"TIGER.fit needs {what}=, e.g. fit(train, sequences="
                    "user_sequences(events, index, before=cut_off), item_vectors="
                    "encode_texts(item_texts(dataset.items)))"
                )
        self.sequences_ = checked_sequences(sequences, *train.shape)
        vectors = checks.dense_vectors(item_vectors, "item_vectors")
        self._check_item_rows(vectors.shape[0], "item_vectors")
        ids = semantic_ids(vectors, self.levels, self.codebook_size, self.seed)
        self.semantic_ids_: SemanticIds = ids
        self.item_tokens_ = ids.token_ids() + N_SPECIAL_TOKENS
        self.trie_ = PrefixTrie(self.item_tokens_)
        # the distinct prefixes of L - 1 tokens, and each item's prefix (for exact scores)
        self._prefixes, item_prefix = np.unique(
            self.item_tokens_[:, : self.levels], axis=0, return_inverse=True
        )
        self._item_prefix = item_prefix.ravel()
        self._items_by_prefix = np.argsort(self._item_prefix, kind="stable")
        self._prefix_starts = np.searchsorted(
            self._item_prefix[self._items_by_prefix], np.arange(len(self._prefixes) + 1)
        )
        self._empty_history = np.array([h.size == 0 for h in self.sequences_], dtype=bool)
        # training examples: (source tokens, right-padded), their lengths, target tokens
        sources, targets = [], []
        for history in self.sequences_:
            for t in range(max(1, history.size - self.max_targets_per_user), history.size):
                sources.append(self.item_tokens_[history[max(0, t - self.max_history) : t]].ravel())
                targets.append(np.append(self.item_tokens_[history[t]], EOS))
        if not sources:
            raise ValueError(
                "no sequence has 2 or more items, so there is no next item to learn from; "
                "check the sequences (and their before= cut-off)"
            )
        self._source_lengths = np.array([s.size for s in sources], dtype=np.int64)
        self._sources = _right_padded(sources)
        self._targets = np.stack(targets)

    def _build_network(self) -> nn.Module:
        from transformers import T5Config, T5ForConditionalGeneration

        config = T5Config(
            vocab_size=N_SPECIAL_TOKENS + self.semantic_ids_.vocab_size,
            d_model=self.d_model,
            d_kv=self.d_model // self.heads,
            d_ff=self.d_ff,
            num_layers=self.encoder_layers,
            num_decoder_layers=self.decoder_layers,
            num_heads=self.heads,
            dropout_rate=self.dropout,
            pad_token_id=PAD,
            eos_token_id=EOS,
            decoder_start_token_id=PAD,
        )
        return T5ForConditionalGeneration(config)

    def _epoch_batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        order = rng.permutation(len(self._sources))
        for start in range(0, order.size, self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(self._source_lengths[rows].max())
            sources = torch.from_numpy(self._sources[rows, :width])
            yield sources, sources != PAD, torch.from_numpy(self._targets[rows])

    def _loss(self, network: nn.Module, batch: Any) -> tuple[torch.Tensor, Any, float]:
        sources, mask, targets = batch
        loss = network(input_ids=sources, attention_mask=mask, labels=targets).loss
        return loss, loss.item(), int(targets.shape[0])

    def _prepare_scoring(self, network: nn.Module) -> None:
        self.module_ = network

    # -- scoring -----------------------------------------------------------------------------

    def _source_tokens(self, users: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) source tokens of the users' last ``max_history`` items (right-padded) and the
        (B, T) mask of real tokens; every user must have a history."""
        recent = [self.sequences_[user][-self.max_history :] for user in users]
        tokens = torch.from_numpy(
            _right_padded([self.item_tokens_[items].ravel() for items in recent])
        )
        return tokens, tokens != PAD

    def _log_probabilities(self, users: np.ndarray) -> np.ndarray:
        """float32 (len(users), n_items): ``log p(ID(i) | source of u)`` (module docstring)."""
        from transformers.modeling_outputs import BaseModelOutput

        length = self.id_length
        sources, source_mask = self._source_tokens(users)
        result = np.empty((users.size, self.n_items_), dtype=np.float32)
        positions = torch.arange(length)
        item_tokens = torch.from_numpy(self.item_tokens_)
        encoded = BaseModelOutput(
            last_hidden_state=self.module_.encoder(
                input_ids=sources, attention_mask=source_mask
            ).last_hidden_state
        )
        for first in range(0, len(self._prefixes), PREFIXES_PER_PASS):
            prefixes = self._prefixes[first : first + PREFIXES_PER_PASS]
            n_prefixes = len(prefixes)
            decoder_tokens = np.column_stack([np.full(n_prefixes, PAD), prefixes]).ravel()
            logits = self.module_(
                encoder_outputs=encoded,
                attention_mask=source_mask,
                decoder_input_ids=torch.from_numpy(decoder_tokens).expand(users.size, -1),
                decoder_attention_mask=_packed_causal_mask(n_prefixes, length).expand(
                    users.size, -1, -1, -1
                ),
            ).logits  # (B, n_prefixes * L, vocabulary)
            log_p = torch.log_softmax(logits, dim=-1).view(users.size, n_prefixes, length, -1)
            lo, hi = self._prefix_starts[first], self._prefix_starts[first + n_prefixes]
            items = torch.from_numpy(self._items_by_prefix[lo:hi])
            local = torch.from_numpy(self._item_prefix[items.numpy()] - first)
            # [b, j, l] = log p(token l of item j | its first l tokens, source b)
            per_token = log_p[:, local[:, None], positions[None, :], item_tokens[items]]
            result[:, items.numpy()] = per_token.sum(dim=-1).numpy()
        return result

    def _score(self, users: np.ndarray) -> np.ndarray:
        scores = np.empty((users.size, self.n_items_), dtype=np.float32)
        empty = self._empty_history[users]
        scores[empty] = self.popularity_
        known = np.flatnonzero(~empty)
        with torch_threads(self.threads), torch.no_grad():
            for start in range(0, known.size, SCORE_USERS):
                rows = known[start : start + SCORE_USERS]
                scores[rows] = self._log_probabilities(users[rows])
        return scores

    # -- generation --------------------------------------------------------------------------

    def generate(
        self, users: Any, k: int = 10, beams: int | None = None, exclude_seen: bool = True
    ) -> Recommendations:
        """The ``k`` best IDs of constrained beam search for each user, as items and scores.

        Beam search keeps the ``beams`` most probable partial IDs at each of the ``L`` steps
        (transformers' ``generate``), and a prefix tree of all items' IDs allows only tokens
        that lead to an item. The result approximates the top of :meth:`score`; with
        ``beams`` at least the number of items it is exact.

        Args:
            users: user numbers (rows of the training matrix).
            k: list length, at most ``beams``.
            beams: beam width (default ``2 * k``); wider is slower and closer to exact.
            exclude_seen: leave out items the user has in the training matrix, as
                :meth:`recommend` does; they are dropped after the search, so a list can hold
                fewer than ``k`` items (more ``beams`` leave more to choose from).

        Returns:
            :class:`~recutils.models.base.Recommendations`: item numbers (-1 = empty slot)
            and their scores ``log p(ID | history)`` (NaN in empty slots), best first. Users
            with an empty history get the most popular items, scored by popularity.
        """
        self._check_fitted()
        k = checks.positive_int(k, "k", "how many items to return")
        beams = 2 * k if beams is None else checks.positive_int(beams, "beams", "beam width")
        if beams < k:
            raise ValueError(
                f"beams ({beams}) must be at least k ({k}): beam search returns at most one "
                "item per beam"
            )
        exclude_seen = checks.boolean(exclude_seen, "exclude_seen", "leave out training items")
        rows = checks.positions(users, self.n_users_, "user")
        items = np.full((rows.size, k), -1, dtype=np.int64)
        scores = np.full((rows.size, k), np.nan, dtype=np.float32)
        empty = np.flatnonzero(self._empty_history[rows])
        if empty.size:
            popular = np.broadcast_to(self.popularity_, (empty.size, self.n_items_))
            seen = self.train_[rows[empty]] if exclude_seen else None
            items[empty] = top_k_items(popular, k, exclude=seen)
            filled = items[empty] >= 0
            scores[empty] = np.where(filled, self.popularity_[np.maximum(items[empty], 0)], np.nan)
        known = np.flatnonzero(~self._empty_history[rows])
        allowed = self.trie_.prefix_allowed_tokens_fn(PAD, EOS, PAD)
        with torch_threads(self.threads), torch.no_grad():
            for start in range(0, known.size, GENERATE_USERS):
                batch = known[start : start + GENERATE_USERS]
                sources, mask = self._source_tokens(rows[batch])
                output = self.module_.generate(
                    input_ids=sources,
                    attention_mask=mask,
                    num_beams=beams,
                    num_return_sequences=beams,
                    max_new_tokens=self.id_length,  # an ID, without the (certain) <eos>
                    prefix_allowed_tokens_fn=allowed,
                    length_penalty=0.0,  # sequence score = sum of token log-probabilities
                    do_sample=False,
                    output_scores=True,
                    return_dict_in_generate=True,
                )
                found = self.semantic_ids_.items_of(
                    output.sequences[:, 1:].numpy() - N_SPECIAL_TOKENS
                ).reshape(batch.size, beams)
                found_scores = output.sequences_scores.numpy().reshape(batch.size, beams)
                for row, user_items, user_scores in zip(batch, found, found_scores, strict=True):
                    seen = self.train_[rows[row]].indices if exclude_seen else ()
                    items[row], scores[row] = _first_distinct(user_items, user_scores, seen, k)
        return Recommendations(items, scores)


def _right_padded(rows: Sequence[np.ndarray]) -> np.ndarray:
    """int64 (len(rows), longest row): the rows of tokens, each followed by PAD."""
    padded = np.full((len(rows), max(row.size for row in rows)), PAD, dtype=np.int64)
    for number, row in enumerate(rows):
        padded[number, : row.size] = row
    return padded


def _first_distinct(
    items: np.ndarray, scores: np.ndarray, left_out: Sequence[int] | np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best distinct items of one user's beams that are not in ``left_out``, padded
    with -1 / NaN. (A beam search wider than the tree's branches repeats sequences.)"""
    chosen_items = np.full(k, -1, dtype=np.int64)
    chosen_scores = np.full(k, np.nan, dtype=np.float32)
    taken = set(int(item) for item in left_out)
    filled = 0
    for position in np.argsort(-scores, kind="stable"):
        item = int(items[position])
        if item in taken or not np.isfinite(scores[position]):
            continue
        taken.add(item)
        chosen_items[filled], chosen_scores[filled] = item, scores[position]
        filled += 1
        if filled == k:
            break
    return chosen_items, chosen_scores


@functools.lru_cache(maxsize=8)
def _packed_causal_mask(n_blocks: int, length: int) -> torch.Tensor:
    """(1, 1, n_blocks * length, n_blocks * length) additive mask: token ``j`` is visible to
    token ``t`` (0) when both are in the same block and ``j <= t``, else the lowest float."""
    visible = torch.block_diag(*[torch.ones(length, length).tril()] * n_blocks).bool()
    mask = torch.zeros(visible.shape).masked_fill(~visible, torch.finfo(torch.float32).min)
    return mask[None, None]
