"""What one training step of the BERT hybrid costs, with the text encoder used three ways.

The post runs (and fine-tunes) BERT on every batch. Notebook 05 and ``bench/hybrid_bench.py``
measure what that costs against the two alternatives :class:`~recutils.models.BertHybrid`
offers, with the model's own network (:class:`~recutils.models.hybrid.HybridNetwork`) and loss
(:func:`~recutils.models.hybrid.hybrid_loss`); only the way the batch's text vectors are made
differs:

* ``"full"``: the post's way. Tokenise the batch items' texts and run the *whole* encoder (a
  trainable copy, 6 layers) forward and backward; Adam also updates the encoder (2e-5).
* ``"top_layer"``: run only the top layer (a trainable copy) on cached lower-layer states
  (:func:`recutils.text.top_layer_inputs`), mean pooling and normalisation, forward and
  backward.
* ``"frozen"``: look the vectors up in a cached array; only the recommender network trains.

Example::

    inputs = top_layer_inputs(texts)
    np.median(training_step_seconds(texts, "frozen", inputs=inputs))
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from recutils import checks
from recutils.environment import DEFAULT_SEED, deterministic_torch, torch_threads
from recutils.models.hybrid import HybridNetwork, hybrid_loss
from recutils.text import (
    MAX_LENGTH,
    TopLayerInputs,
    load_encoder,
    mean_pooling,
    run_top_layer,
    top_layer_copy,
    top_layer_inputs,
)

#: The three ways of using the encoder during training (module docstring).
TRAINING_WAYS: tuple[str, ...] = ("full", "top_layer", "frozen")


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
    seed: int = DEFAULT_SEED,
    threads: int | None = None,
) -> np.ndarray:
    """Seconds of single training steps of the hybrid, with the encoder used one of three ways.

    A step: draw ``batch_size`` random (user, item, label) triples (items from ``item_texts``),
    make the batch items' text vectors (module docstring), compute the hybrid's loss, the
    backward pass and an Adam update.

    Args:
        item_texts: the catalog's texts (the batch items are drawn from them).
        way: one of :data:`TRAINING_WAYS`.
        batch_size: labelled pairs per step.
        repeats: timed steps (after ``warmup`` untimed ones).
        n_users: size of the user embedding table.
        inputs: the :func:`~recutils.text.top_layer_inputs` of ``item_texts`` (for
            ``"top_layer"`` and ``"frozen"``), to avoid computing them again.
        threads: torch threads (default: the setting of :func:`recutils.setup`).

    Returns:
        float64 (repeats,) seconds of each timed step; take the median.
    """
    way = checks.one_of(way, "way", TRAINING_WAYS)
    texts = list(item_texts)
    batch_size = checks.positive_int(batch_size, "batch_size", "labelled pairs per step")
    repeats = checks.positive_int(repeats, "repeats", "timed steps")
    warmup = checks.non_negative_int(warmup, "warmup", "untimed steps")
    if way != "full" and inputs is None:
        inputs = top_layer_inputs(texts, threads=threads)
    if inputs is not None and inputs.vectors.shape[0] != len(texts):
        raise ValueError(
            f"inputs holds {inputs.vectors.shape[0]} texts but item_texts has {len(texts)}"
        )
    tokenizer, encoder = load_encoder()
    rng = np.random.default_rng(seed)
    with torch_threads(threads), deterministic_torch():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = HybridNetwork(
                n_users, len(texts), encoder.config.hidden_size, factors, hidden, True
            )
        parameters = [{"params": list(network.parameters()), "lr": 1e-3}]
        trainable: torch.nn.Module | None = None
        if way == "full":
            trainable = copy.deepcopy(encoder)
        elif way == "top_layer":
            trainable = top_layer_copy()
        if trainable is not None:
            trainable.requires_grad_(True)
            parameters.append({"params": list(trainable.parameters()), "lr": 2e-5})
        optimizer = torch.optim.Adam(parameters)

        def text_vectors(unique: np.ndarray) -> torch.Tensor:
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
                return torch.nn.functional.normalize(pooled, dim=1)
            if way == "top_layer":
                hidden_states, mask = inputs.padded(unique)
                return run_top_layer(trainable, hidden_states, mask)
            return torch.from_numpy(inputs.vectors[unique])

        def step() -> None:
            users = torch.from_numpy(rng.integers(0, n_users, batch_size))
            items = rng.integers(0, len(texts), batch_size)
            labels = torch.from_numpy((rng.random(batch_size) < 0.2).astype(np.float32))
            unique, inverse = np.unique(items, return_inverse=True)
            text = text_vectors(unique)[torch.from_numpy(inverse)]
            keep = torch.ones(batch_size)
            loss = hybrid_loss(network, users, torch.from_numpy(items), labels, keep, text, 0.0)
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
    return seconds
