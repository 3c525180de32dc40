"""Graph neural networks on the user-item graph: the post's formula 3.3 and LightGCN.

The training matrix ``R`` (n_users x n_items) is a bipartite graph: one node per user, one per
item, an edge where the user interacted with the item. Nodes are numbered users first
(``0..n_users-1``), then items (``n_users..n_users+n_items-1``); its adjacency matrix is

    A = [[0, R], [R^T, 0]]                          (n_nodes x n_nodes, symmetric)

and the symmetrically normalised adjacency, with ``|N(i)|`` the degree of node ``i``, is

    A_hat[i, j] = 1 / (sqrt(|N(i)|) sqrt(|N(j)|))   if i and j are linked, else 0.

* Formula 3.3 of the post, one graph-convolution layer with weight ``W`` (d_out x d_in)::

      h_i^(l+1) = sigma( W h_i^(l) + sum_{j in N(i)} A_hat[i, j] W h_j^(l) )
      H^(l+1)   = sigma( (H^(l) + A_hat H^(l)) W^T )                  (all nodes at once)

  :func:`gcn_layer` computes it; notebook 04 checks it against loops on a toy graph and
  against ``torch_geometric.nn.GCNConv``.
* LightGCN (He et al., 2020) drops ``W``, ``sigma`` and the self term: layer ``l + 1`` is
  ``E^(l+1) = A_hat E^(l)``, and a node's final vector averages its layers,
  ``E = sum_l alpha_l E^(l)`` with ``alpha_l = 1 / (L + 1)``. Only the layer-0 vectors ``E^(0)``
  are learned, with the BPR ranking loss. :class:`LightGCN` wraps
  ``torch_geometric.nn.LightGCN`` (the embedding table and the layer weights ``alpha``) behind
  the course's :class:`~recutils.models.base.Recommender` interface.

Speed on a CPU. ``torch_geometric`` can propagate over an ``edge_index`` (2 x n_edges: gather,
multiply, scatter) or over a sparse adjacency (one sparse-dense matrix product). Here the
second is much faster. Because ``A_hat`` is symmetric, the gradient of ``A_hat X`` with
respect to ``X`` is ``A_hat G`` again; :func:`propagate` tells autograd so (torch otherwise
transposes the sparse matrix on every backward pass), which saves more time again. The result
is identical; ``bench/lightgcn_bench.py`` measures all three (``bench/results/lightgcn_bench.md``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch

from recutils import checks
from recutils.environment import DEFAULT_SEED
from recutils.models.base import SparseMatrix, as_train_matrix
from recutils.models.factorization import cosine_rows
from recutils.models.sampling import sample_negatives
from recutils.models.training import TorchRecommender

#: Ways :class:`LightGCN` can propagate: the fast symmetric product, or torch_geometric's
#: ``LGConv`` on the sparse adjacency or on an ``edge_index`` (same numbers, slower).
PROPAGATIONS: tuple[str, ...] = ("symmetric", "pyg", "pyg-edge-index")
#: Ways :class:`LightGCN` can use item text vectors (see its ``text_mode`` argument).
TEXT_MODES: tuple[str, ...] = ("add", "init")


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------


def bipartite_adjacency(train: SparseMatrix, normalize: bool = True) -> sp.csr_matrix:
    """The user-item graph's adjacency ``[[0, R], [R^T, 0]]``, optionally ``A_hat``.

    Args:
        train: (n_users, n_items) sparse matrix; every entry > 0 is an edge (weights ignored).
        normalize: return ``A_hat = D^-1/2 A D^-1/2`` (``D`` = node degrees; isolated nodes keep
            an all-zero row) instead of the 0/1 adjacency.

    Returns:
        float32 CSR of shape (n_users + n_items, n_users + n_items), symmetric, users first.
    """
    binary = as_train_matrix(train)
    binary.data[:] = 1.0
    adjacency = sp.bmat([[None, binary], [binary.T, None]], format="csr", dtype=np.float32)
    if normalize:
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        scale = np.zeros_like(degree)
        np.power(degree, -0.5, out=scale, where=degree > 0)
        adjacency = sp.csr_matrix(sp.diags(scale) @ adjacency @ sp.diags(scale), dtype=np.float32)
    adjacency.sort_indices()
    return adjacency


def to_torch_sparse(matrix: sp.spmatrix | sp.sparray) -> torch.Tensor:
    """A scipy sparse matrix as a torch sparse CSR tensor (float32, int64 indices)."""
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it works for A @ X
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr.astype(np.int64)),
            torch.from_numpy(csr.indices.astype(np.int64)),
            torch.from_numpy(csr.data),
            size=csr.shape,
        )


class _SymmetricProduct(torch.autograd.Function):
    """``A @ X`` for a constant symmetric sparse ``A``; backward is ``A @ grad`` (no transpose)."""

    @staticmethod
    def forward(ctx: Any, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, ctx.adjacency @ grad


def propagate(adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``A_hat @ x`` with a gradient, for a *symmetric* sparse ``A_hat`` (n, n) and x (n, d).

    Same value and gradient as ``adjacency @ x``; faster backward because ``A_hat^T = A_hat``.
    Only valid for symmetric matrices (such as :func:`bipartite_adjacency`).
    """
    return _SymmetricProduct.apply(adjacency, x)


def gcn_layer(
    adjacency: torch.Tensor,
    h: torch.Tensor,
    weight: torch.Tensor,
    activation: Any = torch.relu,
) -> torch.Tensor:
    """The post's formula 3.3 for all nodes at once: ``sigma((H + A_hat H) W^T)``.

    Args:
        adjacency: ``A_hat``, (n, n) torch sparse (or dense) normalised adjacency.
        h: node vectors ``H^(l)``, (n, d_in).
        weight: ``W^(l)``, (d_out, d_in) (the layout of ``torch.nn.Linear.weight``).
        activation: ``sigma``; ``None`` for none.

    Returns:
        ``H^(l+1)``, (n, d_out).
    """
    if h.ndim != 2 or weight.ndim != 2 or weight.shape[1] != h.shape[1]:
        raise ValueError(
            f"h must be (n, d_in) and weight (d_out, d_in); got h {tuple(h.shape)} and weight "
            f"{tuple(weight.shape)}"
        )
    if adjacency.shape != (h.shape[0], h.shape[0]):
        raise ValueError(
            f"adjacency must be (n, n) with n = {h.shape[0]} rows of h, got "
            f"{tuple(adjacency.shape)}"
        )
    transformed = h @ weight.T  # W h_j for every node j
    out = transformed + adjacency @ transformed
    return out if activation is None else activation(out)


# --------------------------------------------------------------------------------------------
# LightGCN
# --------------------------------------------------------------------------------------------


class LightGCN(TorchRecommender):
    """LightGCN (He et al., 2020) trained with BPR, through ``torch_geometric.nn.LightGCN``.

    Model: layer-0 vectors ``E^(0)`` (n_users + n_items, ``factors``), propagated
    ``E^(l+1) = A_hat E^(l)`` for ``layers`` layers over the graph of
    :func:`bipartite_adjacency`, averaged ``E = sum_l E^(l) / (layers + 1)``;
    ``score(u, i) = e_u . e_i``.

    Training: every epoch visits every training pair ``(u, i)`` once in random order, pairs it
    with one item ``j`` the user does not have (uniform, :func:`sample_negatives`), and takes
    Adam steps on mini-batches of ``batch_size`` triples minimising::

        -mean ln sigmoid(e_u . e_i - e_u . e_j)
            + l2 * (||e_u^(0)||^2 + ||e_i^(0)||^2 + ||e_j^(0)||^2) / (2 * batch_size)

    (the regularisation of the paper's code: on the layer-0 vectors of the batch). Every step
    propagates the whole graph, so an epoch costs about ``n_pairs / batch_size`` sparse
    products per layer, forward and backward.

    Early stopping: ``fit(train, valid=...)`` measures nDCG@``valid_k`` on ``valid`` (items of a
    later period, or held-out pairs) after every ``eval_every``-th epoch (and the last), keeps
    the best vectors and stops after ``patience`` evaluations without improvement;
    ``best_epoch_`` then tells how many epochs to use when refitting on train + validation
    without a validation part (the loop of :class:`~recutils.models.training.TorchRecommender`).

    Text (the post's remark that a large model can encode the nodes): with ``text_mode`` set,
    ``fit`` needs the side data ``item_vectors`` (n_items, d), e.g.
    :func:`recutils.text.encode_texts` of the item texts, and layer 0 of an item is

    * ``text_mode="add"``: ``e_i^(0) = free_i + P t_i`` with a learned projection ``P``
      (``factors`` x d, not regularised): similar texts start close, and an item with few or no
      edges still has a meaningful vector. ``P`` starts uniform with 3 times the range that
      would give ``P t_i`` the free vectors' scale for a unit-length ``t_i`` (as
      :func:`recutils.text.encode_texts` returns), so the text part starts clearly visible;
    * ``text_mode="init"``: ``free_i`` starts at the first ``factors`` principal components of
      the text vectors (scaled to the random initialisation's size) and is then trained.

    With ``text_mode=None`` (the default) the model uses IDs only and declares no side data, so
    a pool of side data (:func:`recutils.models.fit_model`, ``evaluation.compare``) never turns
    it into a text model behind your back.

    Args:
        factors: length of every vector.
        layers: propagation layers ``L`` (0 = matrix factorisation trained with BPR).
        epochs: maximum passes over the training pairs.
        batch_size: triples per Adam step.
        learning_rate: Adam's step size.
        l2: weight of the regularisation above.
        eval_every, patience, valid_k: early stopping (only when ``fit`` gets ``valid``).
        text_mode: ``None`` (IDs only), ``"add"`` or ``"init"``: see above.
        propagation: ``"symmetric"`` (default, :func:`propagate`), ``"pyg"`` (the layers of
            ``torch_geometric.nn.LightGCN``, ``LGConv``, on the same sparse matrix) or
            ``"pyg-edge-index"`` (``LGConv`` on the edge list and edge weights, PyG's usual
            input): the same numbers, slower; kept to check them against each other and to
            measure the difference (``bench/lightgcn_bench.py``).
        seed: seeds the initial vectors, the pair order and the negatives.
        threads: torch threads while fitting (default: the torch setting of
            :func:`recutils.setup`); restored afterwards.
        progress: show a tqdm progress bar over epochs (for terminals; notebooks keep it off so
            that stored outputs do not depend on timing).

    Defaults: 64 factors, batch 2048, l2 1e-4 as in the paper; learning rate 0.005 (as
    Microsoft Recommenders; 0.001, the paper's, needed several times more epochs); and **one
    layer**, not the paper's three, chosen on the shop, Online Retail and MovieLens-100k
    because it was best or close to the best on each (on the shop, with the same epoch budget
    for every depth, 2 and 3 layers are level with 1; notebook 04 measures it); the runs are
    in ``bench/results/tuning.md``.
    ``epochs=50`` suits MovieLens-100k without validation; with a validation part, early
    stopping decides.

    Attributes set by :meth:`fit` (besides those of :class:`Recommender`):
        user_vectors_: float32 (n_users, factors), final (layer-averaged) user vectors.
        item_vectors_: float32 (n_items, factors).
        history_: list of dicts per epoch: ``epoch``, ``loss`` (mean BPR loss of the epoch),
            ``seconds`` (its training time, without the validation) and ``valid_ndcg`` when
            measured.
        best_epoch_: epoch whose vectors were kept (the last one without early stopping).
        module_: the trained ``torch_geometric.nn.LightGCN``.
        adjacency_: ``A_hat`` of the training graph, torch sparse CSR (n_nodes x n_nodes).
            Without text vectors (or with ``text_mode="init"``),
            ``module_.get_embedding(adjacency_)`` recomputes the final vectors; with
            ``text_mode="add"`` it would miss the text part, which lives outside PyG's module.
    """

    name = "LightGCN"
    #: The side data of a model with text (``text_mode`` set); without text there is none.
    TEXT_SIDE_DATA: ClassVar = {"item_vectors": "(n_items, d) text vectors as node features"}

    def __init__(
        self,
        factors: int = 64,
        layers: int = 1,
        epochs: int = 50,
        batch_size: int = 2048,
        learning_rate: float = 0.005,
        l2: float = 1e-4,
        eval_every: int = 2,
        patience: int = 3,
        valid_k: int = 20,
        text_mode: Literal["add", "init"] | None = None,
        propagation: Literal["symmetric", "pyg", "pyg-edge-index"] = "symmetric",
        seed: int = DEFAULT_SEED,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        self.factors = checks.positive_int(factors, "factors", "length of every vector")
        self.layers = checks.non_negative_int(layers, "layers", "propagation steps")
        self.batch_size = checks.positive_int(batch_size, "batch_size", "triples per Adam step")
        self.l2 = checks.non_negative_number(l2, "l2", "weight of the L2 penalty on layer 0")
        self.text_mode = checks.one_of(
            text_mode,
            "text_mode",
            (None, *TEXT_MODES),
            "None for IDs only, 'add' or 'init' to use item text vectors",
        )
        self.side_data = {} if self.text_mode is None else dict(self.TEXT_SIDE_DATA)
        self.propagation = checks.one_of(propagation, "propagation", PROPAGATIONS)
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

    def _prepare(self, train: sp.csr_matrix, *, item_vectors: Any = None) -> None:
        self.item_text_vectors_ = None
        if self.text_mode is not None:
            if item_vectors is None:
                raise TypeError(
                    f"LightGCN(text_mode={self.text_mode!r}).fit needs item_vectors=, one text "
                    "vector per item (e.g. encode_texts(item_texts(dataset.items))); "
                    "text_mode=None fits on IDs alone"
                )
            self.item_text_vectors_ = checks.dense_vectors(item_vectors, "item_vectors")
            self._check_item_rows(self.item_text_vectors_.shape[0], "item_vectors")
        a_hat = bipartite_adjacency(train)
        self.adjacency_ = to_torch_sparse(a_hat)
        self._propagation_input: Any = self.adjacency_
        if self.propagation == "pyg-edge-index":
            coo = a_hat.tocoo()
            edges = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
            self._propagation_input = (edges, torch.from_numpy(coo.data))
        coo = train.tocoo()
        self._pair_users = coo.row.astype(np.int64)
        self._pair_items = coo.col.astype(np.int64)
        self._pair_weights = self._training_pair_weights(train)

    def _training_pair_weights(self, train: sp.csr_matrix) -> np.ndarray | None:
        """A weight per training pair (``train.tocoo()`` order) in the BPR loss, or ``None`` for
        equal weights (override to re-weight pairs, as :class:`~recutils.models.debiasing.IPSBPR`
        does)."""
        return None

    def _build_network(self) -> torch.nn.Module:
        from torch_geometric.nn import LightGCN as PygLightGCN

        n_users, n_items = self.n_users_, self.n_items_
        module = PygLightGCN(n_users + n_items, self.factors, self.layers, normalize=False)
        generator = torch.Generator().manual_seed(self.seed)
        bound = math.sqrt(6.0 / (n_users + n_items + self.factors))  # xavier, as PyG does
        with torch.no_grad():
            module.embedding.weight.uniform_(-bound, bound, generator=generator)
        if self.item_text_vectors_ is not None:
            texts = torch.from_numpy(self.item_text_vectors_)
            if self.text_mode == "add":
                projection = torch.empty(self.factors, texts.shape[1])
                proj_bound = bound * math.sqrt(3.0 / texts.shape[1]) * 3.0
                with torch.no_grad():
                    projection.uniform_(-proj_bound, proj_bound, generator=generator)
                module.text_projection = torch.nn.Parameter(projection)
            else:
                centred = texts - texts.mean(dim=0, keepdim=True)
                _, _, components = torch.linalg.svd(centred, full_matrices=False)
                coords = centred @ components[: self.factors].T
                if coords.shape[1] < self.factors:
                    coords = torch.nn.functional.pad(coords, (0, self.factors - coords.shape[1]))
                coords = coords * (bound / math.sqrt(3.0) / coords.std().clamp(min=1e-12))
                with torch.no_grad():
                    module.embedding.weight[n_users:] = coords
            module.register_buffer("item_texts", texts, persistent=False)
        return module

    def _sample_negatives(
        self, train: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """One negative item per training pair (uniform; override to try other samplers)."""
        return sample_negatives(train, users, rng)

    def _epoch_batches(self, rng: np.random.Generator) -> Any:
        order = rng.permutation(self._pair_users.size)
        users = self._pair_users[order]
        positives = self._pair_items[order]
        weights = None if self._pair_weights is None else self._pair_weights[order]
        negatives = self._sample_negatives(self.train_, users, rng)
        n_users = self.n_users_
        for start in range(0, users.size, self.batch_size):
            batch = slice(start, start + self.batch_size)
            yield (
                torch.from_numpy(users[batch]),
                torch.from_numpy(positives[batch]) + n_users,
                torch.from_numpy(negatives[batch]) + n_users,
                None if weights is None else torch.from_numpy(weights[batch]),
            )

    def _loss(self, network: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, Any, float]:
        u, i, j, weights = batch
        layer0 = self._layer0(network)
        final = self._final_vectors(network, layer0)
        e_u, e_i, e_j = final[u], final[i], final[j]
        losses = -torch.nn.functional.logsigmoid((e_u * (e_i - e_j)).sum(dim=1))
        ranking = losses.mean() if weights is None else (weights * losses).mean()
        penalty = (layer0[u].pow(2).sum() + layer0[i].pow(2).sum() + layer0[j].pow(2).sum()) / (
            2 * u.numel()
        )
        return ranking + self.l2 * penalty, ranking.item(), u.numel()

    def _layer0(self, module: torch.nn.Module) -> torch.Tensor:
        weight = module.embedding.weight
        if self.item_text_vectors_ is None or self.text_mode != "add":
            return weight
        text_part = module.item_texts @ module.text_projection.T
        return torch.cat([weight[: self.n_users_], weight[self.n_users_ :] + text_part])

    def _final_vectors(
        self, module: torch.nn.Module, layer0: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self._layer0(module) if layer0 is None else layer0
        adjacency = self._propagation_input
        out = x * module.alpha[0]
        for layer in range(self.layers):
            if self.propagation == "symmetric":
                x = propagate(adjacency, x)
            elif self.propagation == "pyg":
                x = module.convs[layer](x, adjacency)
            else:
                x = module.convs[layer](x, *adjacency)
            out = out + x * module.alpha[layer + 1]
        return out

    def _prepare_scoring(self, network: torch.nn.Module) -> None:
        with torch.no_grad():
            final = self._final_vectors(network).numpy().astype(np.float32)
        self.user_vectors_ = np.ascontiguousarray(final[: self.n_users_])
        self.item_vectors_ = np.ascontiguousarray(final[self.n_users_ :])

    # -- scoring -----------------------------------------------------------------------------

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_vectors_[users] @ self.item_vectors_.T

    def _similar_items(self, items: np.ndarray) -> np.ndarray:
        return cosine_rows(self.item_vectors_, items)
