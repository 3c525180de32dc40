"""One training loop for the neural models (LightGCN, BertHybrid, SASRec, TIGER).

Every neural model of the course trains the same way, so the loop lives here once
(the ``calculate_loss`` idea of RecBole): a model says how to build its network, which batches
an epoch has and what the loss of a batch is; :class:`TorchRecommender` does the rest::

    for epoch in 1..epochs:
        for batch in model._epoch_batches(rng):           # the model's batches (and negatives)
            objective, reported, n = model._loss(network, batch)
            Adam step on objective
        history_ += {epoch, loss: mean of reported weighted by n, seconds}
        every eval_every epochs, with valid: nDCG@valid_k on valid pairs;
            keep the best state, stop after patience evaluations without improvement
    restore the best state; model._prepare_scoring(network)

* Reproducible: one NumPy generator (``seed``) draws orders, negatives and dropout masks; the
  network's initial weights and torch's own randomness (dropout layers) come from
  ``torch.manual_seed(seed)`` inside :func:`torch.random.fork_rng`, so the caller's torch
  random state is left as it was.
* Threads: :func:`recutils.environment.torch_threads` (``threads``, default the setting of
  :func:`recutils.setup`), restored afterwards; torch's deterministic algorithms on
  (:func:`recutils.environment.deterministic_torch`), so two fits with the same seed and the
  same number of threads give the same bits.
* Progress: ``progress=True`` shows a tqdm bar over epochs with the loss (and validation nDCG);
  ``False`` shows nothing, whatever the environment.
* History: ``history_`` is a list of dicts with the same keys for every model: ``epoch``,
  ``loss``, ``seconds`` (training time of the epoch) and ``valid_ndcg`` when measured;
  ``best_epoch_`` is the epoch whose state was kept.
"""

from __future__ import annotations

import copy
import time
from abc import abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recutils import checks
from recutils.environment import deterministic_torch, torch_threads
from recutils.metrics import ranking_metrics
from recutils.models.base import Recommender

if TYPE_CHECKING:
    import torch


def validation_ndcg(model: Recommender, valid: sp.csr_matrix, k: int) -> float:
    """Early stopping's measure: nDCG@k of ``model``'s lists (training items excluded) for the
    users with validation pairs, averaged over them (:func:`recutils.metrics.ranking_metrics`).

    Args:
        model: a fitted (or, mid-training, scoring) recutils model.
        valid: (n_users, n_items) validation pairs, rows by user number.
        k: list length.

    Example::

        validation_ndcg(als, d.valid, k=20)  # the nDCG@20 that LightGCN stops on
    """
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    recommended = model.recommend(users, k=k).items
    return float(ranking_metrics(recommended, valid[users], k=k)["ndcg"].iloc[0])


class TorchRecommender(Recommender):
    """Base of the neural models: the training loop of the module docstring.

    A subclass sets these attributes in ``__init__`` (checked by :meth:`_set_training`):
    ``epochs``, ``learning_rate``, ``seed``, ``threads``, ``progress``, ``eval_every``,
    ``patience``, ``valid_k``; and implements:

    * ``_prepare(train, **side_data)``: check the side data, build what the batches need;
    * ``_build_network()``: the torch module (initial weights drawn from torch's seeded RNG);
    * ``_epoch_batches(rng)``: one epoch of batches (any objects ``_loss`` understands);
    * ``_loss(network, batch)``: ``(objective, reported, n)`` -- the tensor to minimise, the
      value to record (a tensor or float) and its weight in the epoch's mean;
    * ``_prepare_scoring(network)``: store what ``_score`` needs (called before every
      validation and after training);
    * optionally ``_after_epochs(network, optimizer, rng)``: a second phase (fine-tuning).
    """

    uses_valid = True

    def _set_training(
        self,
        *,
        epochs: int,
        learning_rate: float,
        seed: int,
        threads: int | None,
        progress: bool,
        eval_every: int,
        patience: int,
        valid_k: int,
    ) -> None:
        """Check and store the settings every neural model shares."""
        self.epochs = checks.positive_int(epochs, "epochs", "passes over the training data")
        self.learning_rate = checks.positive_number(learning_rate, "learning_rate", "Adam's step")
        self.seed = checks.seed(seed)
        self.threads = checks.optional_positive_int(threads, "threads", "torch threads")
        self.progress = checks.boolean(progress, "progress", "show a progress bar")
        self.eval_every = checks.positive_int(eval_every, "eval_every", "epochs between checks")
        self.patience = checks.positive_int(patience, "patience", "checks without improvement")
        self.valid_k = checks.positive_int(valid_k, "valid_k", "list length of validation nDCG")

    # -- what a model supplies ---------------------------------------------------------------

    @abstractmethod
    def _prepare(self, train: sp.csr_matrix, **side_data: Any) -> None:
        """Check the side data against ``train`` and build what the batches need."""

    @abstractmethod
    def _build_network(self) -> torch.nn.Module:
        """The network, with its initial weights (drawn after ``torch.manual_seed(seed)``)."""

    @abstractmethod
    def _epoch_batches(self, rng: np.random.Generator) -> Iterable[Any]:
        """The batches of one epoch, drawn with ``rng``."""

    @abstractmethod
    def _loss(self, network: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, Any, float]:
        """``(objective, reported, n)`` of one batch (see the class docstring)."""

    @abstractmethod
    def _prepare_scoring(self, network: torch.nn.Module) -> None:
        """Store what :meth:`_score` needs from the network's current state."""

    def _after_epochs(
        self, network: torch.nn.Module, optimizer: torch.optim.Optimizer, rng: np.random.Generator
    ) -> None:
        """A second training phase after the epochs (default: none)."""

    def empty_module(self, attribute: str) -> torch.nn.Module:
        """A network of the fitted model's shape, for ``recutils.persistence`` to load saved
        weights into: ``module_`` as ``_build_network`` makes it (after the rest of the fitted
        state is back). The caller's torch random state is left as it was."""
        import torch

        if attribute != "module_":
            raise ValueError(f"{type(self).__name__} keeps no torch module in {attribute!r}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return self._build_network()

    # -- the loop ----------------------------------------------------------------------------

    def _fit(
        self, train: sp.csr_matrix, *, valid: sp.csr_matrix | None = None, **side: Any
    ) -> None:
        import torch

        self._prepare(train, **side)
        rng = np.random.default_rng(self.seed)
        self.history_: list[dict[str, float]] = []
        best: tuple[float, int, Any] = (-np.inf, 0, None)  # (valid nDCG, epoch, state)
        checks_without_gain = 0
        epochs: Any = range(1, self.epochs + 1)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc=self.name, unit="epoch", disable=False)
        try:
            with (
                torch_threads(self.threads),
                deterministic_torch(),
                torch.random.fork_rng(devices=[]),
            ):
                torch.manual_seed(self.seed)  # initial weights and dropout masks
                network = self._build_network()
                optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
                for epoch in epochs:
                    epoch_started = time.perf_counter()
                    network.train()
                    total, weight = 0.0, 0.0
                    for batch in self._epoch_batches(rng):
                        objective, reported, n = self._loss(network, batch)
                        optimizer.zero_grad(set_to_none=True)
                        objective.backward()
                        optimizer.step()
                        total += float(reported) * n
                        weight += n
                    record = {
                        "epoch": epoch,
                        "loss": total / weight,
                        "seconds": time.perf_counter() - epoch_started,
                    }
                    stop = False
                    if valid is not None and (epoch % self.eval_every == 0 or epoch == self.epochs):
                        network.eval()
                        self._prepare_scoring(network)
                        record["valid_ndcg"] = validation_ndcg(self, valid, self.valid_k)
                        if record["valid_ndcg"] > best[0]:
                            best = (
                                record["valid_ndcg"],
                                epoch,
                                copy.deepcopy(network.state_dict()),
                            )
                            checks_without_gain = 0
                        else:
                            checks_without_gain += 1
                            stop = checks_without_gain >= self.patience
                    self.history_.append(record)
                    if self.progress:
                        shown = {k: round(v, 4) for k, v in record.items() if k != "epoch"}
                        epochs.set_postfix(shown)
                    if stop:
                        break
                if best[2] is not None:
                    network.load_state_dict(best[2])
                    self.best_epoch_ = int(best[1])
                else:
                    self.best_epoch_ = int(self.history_[-1]["epoch"])
                self._after_epochs(network, optimizer, rng)
                network.eval()
                self._prepare_scoring(network)
        finally:
            if self.progress:
                epochs.close()
        self.module_ = network
