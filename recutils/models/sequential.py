"""Sequential recommendation: predict the *next* item from the order of a user's events.

Every other model of the course sees a user as a *set* of items (a row of the user-item
matrix). In a shop the order carries a lot: after a phone come a case and a charger, not
another phone. :class:`SASRec` (Kang & McAuley, 2018, "Self-Attentive Sequential
Recommendation") reads a user's history ``s_1, s_2, ..., s_n`` (item numbers, oldest first,
from :func:`user_sequences`) with a causal Transformer and scores every item as the next one.

**The network.** With ``d`` = ``factors``, ``L`` = ``max_length`` and ``E`` the (n_items, d)
item embedding, a history is cut to its last ``L`` items and *left*-padded, so that the most
recent item always sits at the last position ``L - 1``::

    x_t   = E[s_t] + P[t]                         (d,)  P: (L, d) learned position vectors
    x    <- x + MHA(LN(x))                        causal multi-head self-attention
    x    <- x + FFN(LN(x)),  FFN(z) = W2 GELU(W1 z + b1) + b2      (W1, W2: d x d)
                                                  (both repeated for each of ``layers`` blocks)
    h_t   = LN(x_t)                               (d,)  the state after item t
    score(next = i | s_1..s_t) = h_t . E[i]       output layer tied to the input embedding

One attention head ``k`` with ``d_k = d / heads`` computes, for the (T, d) inputs ``Z = LN(x)``
and ``Q = Z W_Q^k``, ``K = Z W_K^k``, ``V = Z W_V^k`` (each (T, d_k)),

    A = softmax(Q K^T / sqrt(d_k) + M) V,   M[t, j] = 0 if j <= t and s_j is an item, else -inf

so position ``t`` mixes only itself and *earlier* real items (the causal mask; padding is
masked as a key). The heads are concatenated and projected back to ``d``. Dropout acts on the
embeddings, the attention weights and the outputs of both sub-layers while training.

**The loss.** Every prefix of a history is a training example: for the last ``L + 1`` items of
each user, the inputs are ``s_1..s_{n-1}`` and the targets ``s_2..s_n``, and the loss is the
full softmax cross-entropy over the whole catalog at every (non-padding) position::

    loss = - mean_{u, t} log( exp(h_t . E[s_{t+1}]) / sum_{i=1}^{n_items} exp(h_t . E[i]) )

**Why cross-entropy, not SASRec's original loss.** The paper used a binary cross-entropy with
one uniformly sampled negative item per position: it pushes the true next item up against a
single random item, mostly an easy one, so the ranking at the top of the list is learned
slowly and poorly. Klenitskiy & Vasilev (2023, "Turning Dross Into Gold Loss: is BERT4Rec
really better than SASRec?") showed that the same SASRec trained with the full softmax over the
catalog beats BERT4Rec and trains faster. With ~4,000 items the full softmax is a
(positions x d) @ (d x n_items) product per batch: cheap.

**Shapes and cost.** A batch of ``B`` users is a (B, L) matrix of item numbers; the hidden
states are (B, L, d). One block costs O(B L^2 d) for attention and O(B L d^2) for the rest; the
output layer, O(B L d n_items), dominates for a catalog of thousands of items.
``history_`` records the seconds of every epoch. On a 2-core CPU that another process kept
busy, ``threads=2`` was many times slower than ``threads=1`` (timings in
``bench/results/tuning.md``): torch's two threads meet at every one of the many small
operations of a step, and each meeting waits for the other process to give a core back. On a
shared machine, pass ``threads=1``.

Scoring a user runs the network once over their (stored) history and takes the state after
the last item, ``h_n``; ``h_n . E^T`` is the (n_items,) score vector. Because nothing is
retrained, :meth:`SASRec.score_sequences` scores *any* history, e.g. a session that grows by
one event at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from recutils import checks
from recutils.environment import DEFAULT_SEED, torch_threads
from recutils.interactions import IdIndex
from recutils.models.training import TorchRecommender
from recutils.schema import ITEM, TIMESTAMP, USER, is_order

#: Histories (users) run through the network at once when scoring.
SCORE_BATCH_SIZE = 256
#: Logits (positions x items) computed at once by the training loss.
SOFTMAX_CHUNK = 2**22


# --------------------------------------------------------------------------------------------
# Histories from an interaction table
# --------------------------------------------------------------------------------------------


def user_sequences(
    interactions: pd.DataFrame,
    index: IdIndex,
    before: pd.Timestamp | str | None = None,
    collapse_repeats: bool = True,
) -> list[np.ndarray]:
    """Each user's items in time order: ``sequences[u]`` is an int64 array of item numbers.

    Args:
        interactions: one row per event, with the columns ``user_id``, ``item_id`` and
            ``timestamp`` of the course schema. Every id must be in ``index``.
        index: the numbering of users (rows) and items (columns), as for the train matrix.
        before: keep only events strictly before this time (e.g. the split's cut-off, so that
            the histories hold training events only); ``None`` keeps all. For an order
            instead of times (integer timestamps), a position.
        collapse_repeats: merge consecutive events on the same item into one step (a view,
            then a cart, then a purchase of one product is one step of the sequence).

    Returns:
        A list of length ``index.n_users``; entry ``u`` holds the item columns of user row
        ``u``'s events, oldest first. Events with equal timestamps keep their order in
        ``interactions`` (stable sort). Users without events get an empty array.
    """
    if not isinstance(interactions, pd.DataFrame):
        raise TypeError(
            f"interactions must be a pandas DataFrame, got {type(interactions).__name__}"
        )
    missing = [c for c in (USER, ITEM, TIMESTAMP) if c not in interactions.columns]
    if missing:
        raise ValueError(
            f"interactions lacks the column(s) {missing}; it needs {[USER, ITEM, TIMESTAMP]} "
            "(the course schema, recutils.schema)"
        )
    ordered_only = is_order(interactions[TIMESTAMP])  # an order instead of times (schema)
    times = interactions[TIMESTAMP] if ordered_only else pd.to_datetime(interactions[TIMESTAMP])
    if times.isna().any():
        rows = list(interactions.index[times.isna().to_numpy()][:3])
        raise ValueError(
            f"interactions has {int(times.isna().sum())} rows without a timestamp (e.g. index "
            f"labels {rows}); drop them or fill in their time"
        )
    keep = np.ones(len(interactions), dtype=bool)
    if before is not None and ordered_only:
        if not isinstance(before, (int, np.integer)) or isinstance(before, bool):
            raise ValueError(
                f"before must be a whole-number position when the timestamps are an order "
                f"(integers), got {before!r}"
            )
        keep = (times < before).to_numpy()
    elif before is not None:
        try:
            cutoff = pd.Timestamp(before)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"before must be a time (pd.Timestamp or a string like '2011-09-01'), got "
                f"{before!r}"
            ) from error
        keep = (times < cutoff).to_numpy()
    frame = interactions.loc[keep]
    users = index.user_positions(frame[USER])
    items = index.item_positions(frame[ITEM]).astype(np.int64)
    stamps = times.to_numpy()[keep]
    stamps = (
        stamps.astype(np.int64)
        if ordered_only
        else stamps.astype("datetime64[ns]").astype(np.int64)
    )
    order = np.lexsort((stamps, users))  # by user, then time; lexsort is stable
    users, items = users[order], items[order]
    if collapse_repeats and users.size:
        same = np.zeros(users.size, dtype=bool)
        same[1:] = (users[1:] == users[:-1]) & (items[1:] == items[:-1])
        users, items = users[~same], items[~same]
    bounds = np.cumsum(np.bincount(users, minlength=index.n_users))[:-1]
    return [part.copy() for part in np.split(items, bounds)]


def _check_history(history: Any, what: str) -> np.ndarray:
    """``history`` as a 1-D int64 array of non-negative item numbers."""
    array = np.asarray(history)
    if array.ndim != 1:
        raise ValueError(
            f"{what} must be a 1-D sequence of item numbers (oldest first), got shape {array.shape}"
        )
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{what} must hold integer item numbers (columns of the train matrix), got dtype "
            f"{array.dtype}; map ids with IdIndex.item_positions or use user_sequences"
        )
    array = array.astype(np.int64)
    if (array < 0).any():
        raise ValueError(
            f"{what} holds negative item numbers {[int(v) for v in array[array < 0][:3]]}; "
            "item numbers are 0..n_items-1"
        )
    return array


def checked_sequences(sequences: Any, n_users: int, n_items: int) -> list[np.ndarray]:
    """``sequences`` (side data of the sequential models) checked against the train matrix's
    shape: a list of one 1-D int64 array of item numbers per user row, each in ``0..n_items-1``.

    Raises ``TypeError`` for anything but a list-like of histories, ``ValueError`` naming the
    first bad history otherwise.
    """
    if isinstance(sequences, (str, bytes, np.ndarray)) or not isinstance(sequences, Sequence):
        raise TypeError(
            "sequences must be a list with one array of item numbers per user row (from "
            f"user_sequences), got {type(sequences).__name__}"
        )
    checked = [_check_history(h, f"sequences[{u}]") for u, h in enumerate(sequences)]
    if len(checked) != n_users:
        raise ValueError(
            f"sequences has {len(checked)} histories but train has {n_users} users; "
            "pass one (possibly empty) history per user row, e.g. "
            "user_sequences(interactions, index) with the IdIndex of the train matrix"
        )
    for user, history in enumerate(checked):
        if history.size and history.max() >= n_items:
            bad = [int(v) for v in np.unique(history[history >= n_items])[:3]]
            raise ValueError(
                f"sequences[{user}] holds item numbers {bad} but train has {n_items} items "
                f"(0..{n_items - 1}); build the sequences with the train matrix's IdIndex"
            )
    return checked


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------


class _Block(nn.Module):
    """One pre-LayerNorm Transformer block: causal self-attention, then a feed-forward net."""

    def __init__(self, factors: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(factors)
        self.attention = nn.MultiheadAttention(factors, heads, dropout=dropout, batch_first=True)
        self.feed_forward_norm = nn.LayerNorm(factors)
        self.feed_forward = nn.Sequential(
            nn.Linear(factors, factors),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(factors, factors),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, keep_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T, d); mask: (B * heads, T, T) bool, True = may not attend.

        Returns the new (B, T, d) states and, if ``keep_weights``, the (B, heads, T, T)
        attention weights.
        """
        z = self.attention_norm(x)
        attended, weights = self.attention(
            z,
            z,
            z,
            attn_mask=mask,
            need_weights=keep_weights,
            average_attn_weights=False,
        )
        x = x + self.dropout(attended)
        x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        return x, weights


class _SASRecNetwork(nn.Module):
    """Item + position embeddings, ``layers`` causal blocks, a final LayerNorm.

    Item ``i`` of the catalog is row ``i + 1`` of ``item_embedding``; row 0 is the padding.
    """

    def __init__(
        self, n_items: int, max_length: int, factors: int, layers: int, heads: int, dropout: float
    ) -> None:
        super().__init__()
        self.max_length = max_length
        self.heads = heads
        self.item_embedding = nn.Embedding(n_items + 1, factors, padding_idx=0)
        self.position_embedding = nn.Embedding(max_length, factors)
        std = 1.0 / math.sqrt(factors)  # scores h . E[i] start with a variance of about 1
        nn.init.normal_(self.item_embedding.weight, std=std)
        nn.init.normal_(self.position_embedding.weight, std=std)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(factors, heads, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(factors)

    def item_vectors(self) -> torch.Tensor:
        """(n_items, d): the output layer, tied to the input embedding (padding row left out)."""
        return self.item_embedding.weight[1:]

    def forward(
        self, inputs: torch.Tensor, keep_weights: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """inputs: (B, T) shifted item numbers (0 = padding, on the left), T <= max_length.

        Returns the (B, T, d) states ``h`` and, if ``keep_weights``, one (B, heads, T, T)
        attention-weight tensor per block.
        """
        width = inputs.shape[1]
        positions = torch.arange(self.max_length - width, self.max_length)  # last = L - 1
        x = self.item_embedding(inputs) + self.position_embedding(positions)
        x = self.dropout(x)
        padding = inputs == 0  # (B, T)
        causal = torch.ones(width, width, dtype=torch.bool).triu(1)  # j > t: the future
        mask = causal.unsqueeze(0) | padding.unsqueeze(1)  # (B, T, T): query t, key j
        # A padding position would have no key left (a row of -inf gives NaN); let it see
        # itself. Real positions never attend to padding, and padding outputs are not used.
        mask = mask & ~torch.eye(width, dtype=torch.bool)
        mask = mask.repeat_interleave(self.heads, dim=0)  # (B * heads, T, T)
        weights = []
        for block in self.blocks:
            x, block_weights = block(x, mask, keep_weights)
            if keep_weights:
                assert block_weights is not None
                weights.append(block_weights)
        return self.final_norm(x), weights


def _full_softmax_loss(
    hidden: torch.Tensor, item_vectors: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of the next items over the whole catalog.

    hidden: (P, d) states at the P real positions; item_vectors: (n_items, d), the tied output
    layer; targets: (P,) the true next items. The (P, n_items) logits are computed in chunks of
    about 4 million numbers: the same sum, but each chunk's memory is reused from step to
    step, where one big block is fresh memory every time (about twice as slow on the CPU).
    """
    rows = max(1, SOFTMAX_CHUNK // item_vectors.shape[0])
    total = hidden.new_zeros(())
    for start in range(0, hidden.shape[0], rows):
        logits = hidden[start : start + rows] @ item_vectors.T  # (rows, n_items)
        total = total + nn.functional.cross_entropy(
            logits, targets[start : start + rows], reduction="sum"
        )
    return total / hidden.shape[0]


def _left_padded(histories: Sequence[np.ndarray], max_length: int) -> torch.Tensor:
    """(B, T) int64 tensor: the last ``max_length`` items of each history, shifted by +1 and
    left-padded with 0 to the longest of them (T <= max_length)."""
    cut = [h[-max_length:] for h in histories]
    width = max(1, max(len(h) for h in cut))
    padded = np.zeros((len(cut), width), dtype=np.int64)
    for row, h in enumerate(cut):
        if len(h):
            padded[row, width - len(h) :] = h + 1
    return torch.from_numpy(padded)


# --------------------------------------------------------------------------------------------
# The recommender
# --------------------------------------------------------------------------------------------


class SASRec(TorchRecommender):
    """SASRec: a causal Transformer over each user's item sequence, full-softmax loss.

    See the module docstring for the network, the loss and the cost.

    Side data of ``fit``:
        sequences: ``sequences[u]`` = the items of user row ``u``, oldest first (int item
            numbers, e.g. from :func:`user_sequences` with ``before`` = the split's cut-off);
            one entry per row of the train matrix, empty for users without history.

    Args:
        max_length: ``L``, the most recent items the network reads (and trains on) per user.
        factors: ``d``, the length of item, position and hidden vectors; divisible by
            ``heads``.
        layers: Transformer blocks.
        heads: attention heads per block (each of size ``factors / heads``).
        dropout: dropout rate while training, in [0, 1).
        epochs: passes over all users' sequences.
        batch_size: users (sequences) per Adam step.
        learning_rate: Adam's step size.
        eval_every, patience, valid_k: early stopping, when ``fit`` gets ``valid`` (the
            training loop of :class:`~recutils.models.training.TorchRecommender`).
        seed: fixes the initial weights, the order of users and the dropout masks.
        threads: torch threads while fitting and scoring (default: the setting of
            :func:`recutils.setup`); the previous setting is restored afterwards.
        progress: show a progress bar over epochs with the loss.

    The defaults (learning rate 0.003, 10 epochs) were chosen on the shop's validation items;
    the runs are in ``bench/results/tuning.md``. ``train`` fixes the sizes and the popularity
    used for users with an empty history; the network learns from ``sequences`` only.

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        module_: the trained network (in eval mode).
        item_vectors_: float32 (n_items, factors), the item embedding = the output layer.
        user_vectors_: float32 (n_users, factors), the state ``h`` after each user's last
            item (zeros for an empty history); ``score = user_vectors_ @ item_vectors_.T``.
        history_: one dict per epoch: ``epoch``, ``loss`` (mean cross-entropy per predicted
            item), ``seconds`` (its training time).
        fit_seconds_: wall-clock seconds of the whole ``fit``.
    """

    name = "SASRec"
    side_data: ClassVar = {"sequences": "one array of item numbers per user row, oldest first"}
    new_users = "own"  # an empty history gets the training popularity

    def __init__(
        self,
        max_length: int = 50,
        factors: int = 64,
        layers: int = 2,
        heads: int = 2,
        dropout: float = 0.2,
        epochs: int = 10,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        eval_every: int = 1,
        patience: int = 3,
        valid_k: int = 20,
        seed: int = DEFAULT_SEED,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.max_length = checks.positive_int(max_length, "max_length", "most recent items read")
        self.factors = checks.positive_int(factors, "factors", "length of every vector")
        self.layers = checks.positive_int(layers, "layers", "Transformer blocks")
        self.heads = checks.positive_int(heads, "heads", "attention heads per block")
        checks.divisible_by_heads(self.factors, "factors", self.heads)
        self.dropout = checks.fraction(
            dropout, "dropout", "the share of activations zeroed while training"
        )
        self.batch_size = checks.positive_int(batch_size, "batch_size", "sequences per Adam step")
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

    def _prepare(self, train: sp.csr_matrix, *, sequences: Any = None) -> None:
        if sequences is None:
            raise TypeError(
                "SASRec.fit needs sequences=, one history per user row, e.g. "
                "fit(train, sequences=user_sequences(events, index, before=test_start))"
            )
        self.sequences_ = checked_sequences(sequences, *train.shape)
        if not any(h.size >= 2 for h in self.sequences_):
            raise ValueError(
                "no sequence has 2 or more items, so there is no next item to learn from; "
                "check the sequences (and their before= cut-off)"
            )
        # (inputs, targets), each (n_sequences, max_length) int64, left-padded: inputs hold
        # shifted items (0 = padding), targets item numbers (-1 = no target).
        windows = [h[-(self.max_length + 1) :] for h in self.sequences_ if h.size >= 2]
        self._inputs = np.zeros((len(windows), self.max_length), dtype=np.int64)
        self._targets = np.full((len(windows), self.max_length), -1, dtype=np.int64)
        for row, window in enumerate(windows):
            n = window.size - 1
            self._inputs[row, self.max_length - n :] = window[:-1] + 1
            self._targets[row, self.max_length - n :] = window[1:]
        self._empty_history = np.array([h.size == 0 for h in self.sequences_], dtype=bool)

    def _build_network(self) -> nn.Module:
        return _SASRecNetwork(
            self.n_items_, self.max_length, self.factors, self.layers, self.heads, self.dropout
        )

    def _epoch_batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        order = rng.permutation(len(self._inputs))
        for start in range(0, order.size, self.batch_size):
            rows = order[start : start + self.batch_size]
            batch_targets = self._targets[rows]
            width = int((batch_targets >= 0).sum(axis=1).max())
            yield (
                torch.from_numpy(self._inputs[rows, -width:]),
                torch.from_numpy(batch_targets[:, -width:]),
            )

    def _loss(self, network: nn.Module, batch: Any) -> tuple[torch.Tensor, Any, float]:
        x, y = batch
        hidden, _ = network(x)  # (B, T, d)
        real = y >= 0
        loss = _full_softmax_loss(hidden[real], network.item_vectors(), y[real])
        return loss, loss.item(), int(real.sum())

    def _prepare_scoring(self, network: nn.Module) -> None:
        self.module_ = network
        with torch.no_grad():
            self.item_vectors_ = network.item_vectors().numpy().astype(np.float32, copy=True)
        self.user_vectors_ = self._last_states(self.sequences_)

    # ----------------------------------------------------------------------------------------

    def _last_states(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """float32 (len(histories), d): the state after each history's last item (0 if empty),
        computed in batches of SCORE_BATCH_SIZE histories."""
        states = np.zeros((len(histories), self.factors), dtype=np.float32)
        filled = [i for i, h in enumerate(histories) if len(h)]
        with torch_threads(self.threads), torch.no_grad():
            for start in range(0, len(filled), SCORE_BATCH_SIZE):
                rows = filled[start : start + SCORE_BATCH_SIZE]
                hidden, _ = self.module_(
                    _left_padded([histories[i] for i in rows], self.max_length)
                )
                states[rows] = hidden[:, -1].numpy()
        return states

    def _position_states(self, history: np.ndarray) -> np.ndarray:
        """float32 (T, d): the state after each of the last T = min(len, max_length) items."""
        self._check_fitted()
        history = self._checked_histories([history])[0]
        if history.size == 0:
            return np.zeros((0, self.factors), dtype=np.float32)
        with torch_threads(self.threads), torch.no_grad():
            hidden, _ = self.module_(_left_padded([history], self.max_length))
        return hidden[0].numpy().astype(np.float32)

    def _checked_histories(self, histories: Any) -> list[np.ndarray]:
        if (
            isinstance(histories, np.ndarray)
            and histories.ndim == 1
            and histories.size
            and (np.issubdtype(histories.dtype, np.integer))
        ):
            raise TypeError(
                "histories must be a list of histories (one array of item numbers each), got "
                "a single 1-D array of integers; to score one history pass [history]"
            )
        checked = [_check_history(h, f"histories[{k}]") for k, h in enumerate(histories)]
        for k, history in enumerate(checked):
            outside = history >= self.n_items_
            if outside.any():
                bad = [int(v) for v in np.unique(history[outside])[:5]]
                raise ValueError(
                    f"histories[{k}] holds items {bad} outside the catalog: the model was "
                    f"fitted on {self.n_items_} items, numbered 0..{self.n_items_ - 1}"
                )
        return checked

    def _score(self, users: np.ndarray) -> np.ndarray:
        scores = self.user_vectors_[users] @ self.item_vectors_.T
        empty = self._empty_history[users]
        if empty.any():
            scores[empty] = self.popularity_
        return scores

    def score_sequences(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of every item as the next one after each history, without retraining.

        Args:
            histories: item numbers per history, oldest first (any users, e.g. a live session
                fed one event at a time); only the last ``max_length`` items are read.

        Returns:
            float32 (len(histories), n_items), ``h_last . E^T`` per history; an empty history
            gets the training popularity.
        """
        self._check_fitted()
        checked = self._checked_histories(histories)
        scores = self._last_states(checked) @ self.item_vectors_.T
        empty = np.array([h.size == 0 for h in checked], dtype=bool)
        if empty.any():
            scores[empty] = self.popularity_
        return scores.astype(np.float32, copy=False).reshape(len(checked), self.n_items_)

    def attention_weights(self, history: np.ndarray) -> np.ndarray:
        """How much each position of ``history`` attends to each earlier one, per layer and head.

        Args:
            history: item numbers, oldest first (non-empty); the last
                ``T = min(len(history), max_length)`` items are read.

        Returns:
            float32 (layers, heads, T, T): entry ``[l, k, t, j]`` is the softmax weight that
            position ``t`` gives to position ``j`` in head ``k`` of block ``l``. Each row sums
            to 1, and entries with ``j > t`` (the future) are 0.
        """
        self._check_fitted()
        checked = self._checked_histories([history])[0]
        if checked.size == 0:
            raise ValueError("history is empty: attention needs at least one item")
        with torch_threads(self.threads), torch.no_grad():
            _, weights = self.module_(_left_padded([checked], self.max_length), keep_weights=True)
        return torch.stack([w[0] for w in weights]).numpy().astype(np.float32)
