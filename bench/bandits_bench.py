"""Benchmark: the bandits of recutils.bandits on a fake stream of visits at the shop's size.

Run from the repository root::

    python bench/bandits_bench.py                  # prints the table
    python bench/bandits_bench.py --output PATH    # also writes it (Markdown) for the README

The problem is seeded and independent of the simulator: 4,009 items with random unit
384-dimensional vectors (the MiniLM width), 3,000 users with a random training matrix (0.5%
dense), 10,000 visits of random users, k = 10 items per visit (100,000 impressions), random
feedback (5% clicks, a fifth of them purchases). Each policy runs ``start`` (the PCA to 16
dimensions and the user vectors) and then ``choose`` + ``learn`` for every visit.

The reference, measured in the same run, is the textbook vectorised LinUCB with user features:
each visit builds the (4,009, 33) pair features, inverts ``A`` with ``numpy.linalg.inv`` and
scores ``x . theta + alpha sqrt(x A^-1 x)`` on them (``((X @ A^-1) * X).sum(1)``; numpy's
three-operand ``einsum`` for the same quadratic form is another 10x slower); ``A`` and ``b``
get the k shown rows. It
must choose the same slates as ``recutils.bandits.LinUCB(features="items+user")`` (same rng),
else the script exits with 1.

BLAS is limited to one thread (threadpoolctl), as in the course notebooks.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from report import emit
from threadpoolctl import threadpool_limits

from recutils.bandits import EpsilonGreedy, LinUCB, ThompsonSampling, top_k_random_ties
from recutils.simulator import Feedback, ObservedShop, Policy, Slate, Visit

N_USERS = 3_000
N_ITEMS = 4_009
WIDTH = 384
K = 10
N_VISITS = 10_000
SEED = 0
START = np.datetime64("2024-01-01T00:00")


class TextbookLinUCB(Policy):
    """The reference: LinUCB with the pair features built and ``A`` inverted at every visit."""

    name = "textbook LinUCB"

    def __init__(self, alpha: float, projected: LinUCB) -> None:
        self.alpha = alpha
        self.items = projected.item_features_  # the same [1, PCA-16] features
        self.users = projected.user_features_

    def features(self, user: int) -> np.ndarray:
        z = self.items
        return np.hstack([z, z[:, 1:] * self.users[user, 1:]])

    def start(self, observed: ObservedShop) -> None:
        super().start(observed)
        size = 2 * self.items.shape[1] - 1
        self.a, self.b = np.eye(size), np.zeros(size)

    def choose(self, visit: Visit, k: int, rng: np.random.Generator) -> Slate:
        x = self.features(visit.user)
        a_inverse = np.linalg.inv(self.a)
        theta = a_inverse @ self.b
        scores = x @ theta + self.alpha * np.sqrt(((x @ a_inverse) * x).sum(axis=1))
        return Slate(top_k_random_ties(scores, k, rng))

    def learn(self, visit: Visit, slate: Slate, feedback: Feedback) -> None:
        x = self.features(visit.user)[slate.items]
        self.a += x.T @ x
        self.b += x.T @ feedback.purchased.astype(float)


def problem() -> tuple[ObservedShop, np.ndarray]:
    rng = np.random.default_rng(SEED)
    vectors = rng.normal(size=(N_ITEMS, WIDTH)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    train = sp.random(
        N_USERS, N_ITEMS, density=0.005, format="csr", random_state=SEED, dtype=np.float32
    )
    items = pd.DataFrame({"title": [f"item {i}" for i in range(N_ITEMS)]})
    return ObservedShop(train, items, vectors, START), rng.integers(0, N_USERS, N_VISITS)


def run(policy: Policy, observed: ObservedShop, users: np.ndarray) -> tuple[float, float, list]:
    """Seconds of ``start``, seconds of the visits, the slates shown."""
    started = time.perf_counter()
    policy.start(observed)
    loop = time.perf_counter()
    rng, world = np.random.default_rng(1), np.random.default_rng(2)
    slates = []
    for number, user in enumerate(users):
        visit = Visit(number, int(user), START + np.timedelta64(number, "s"))
        slate = policy.choose(visit, K, rng)
        clicked = world.random(K) < 0.05
        purchased = clicked & (world.random(K) < 0.2)
        policy.learn(visit, slate, Feedback(clicked, purchased))
        slates.append(slate.items)
    return loop - started, time.perf_counter() - loop, slates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    observed, users = problem()
    policies = {
        "EpsilonGreedy(0.1)": EpsilonGreedy(0.1),
        "EpsilonGreedy(0.1, exclude_seen)": EpsilonGreedy(0.1, exclude_seen=True),
        "LinUCB(items)": LinUCB(0.1),
        "LinUCB(items+user)": LinUCB(0.1, features="items+user"),
        "ThompsonSampling(items)": ThompsonSampling(0.1),
        "ThompsonSampling(items+user)": ThompsonSampling(0.1, features="items+user"),
    }
    rows, slates = [], {}
    with threadpool_limits(1):
        for label, policy in policies.items():
            start, loop, slates[label] = run(policy, observed, users)
            rows.append((label, start, loop))
        reference = TextbookLinUCB(0.1, policies["LinUCB(items+user)"])
        _, reference_loop, reference_slates = run(reference, observed, users)
    same = all(
        np.array_equal(a, b)
        for a, b in zip(reference_slates, slates["LinUCB(items+user)"], strict=True)
    )
    table = [
        f"| policy ({N_VISITS:,} visits x {N_ITEMS:,} items, k = {K}) | start (s) | visits (s) "
        "| ms per visit | vs textbook |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, start, loop in rows:
        table.append(
            f"| {label} | {start:.2f} | {loop:.2f} | {1000 * loop / N_VISITS:.3f} | "
            f"{reference_loop / loop:.1f}x |"
        )
    table.append(
        f"| textbook LinUCB(items+user) (reference) | | {reference_loop:.2f} | "
        f"{1000 * reference_loop / N_VISITS:.3f} | 1.0x |"
    )
    facts = (
        f"One BLAS thread; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}. "
        f"Start = the PCA 384 -> 16 and the user vectors (linear bandits). The textbook "
        f"reference chose {'the same' if same else 'DIFFERENT'} slates as "
        "LinUCB(items+user) on all visits."
    )
    emit("\n".join(table), facts, output=args.output)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
