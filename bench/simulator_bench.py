"""Benchmark: the shop simulator's speed and its calibration (click and purchase rates).

Run from the repository root::

    python bench/simulator_bench.py                   # prints the tables
    python bench/simulator_bench.py --output PATH     # also writes them (Markdown)

``recutils.simulator.ShopSimulator`` on the course's shop (``load("shop")``), k = 10:

* **speed**: up to 10,000 visits (~100,000 impressions) of the shop's last 60 days, with policies
  from cheap to costly. The reference row, measured in the same run, is the simulator alone:
  a policy that shows the same launched products to everybody (no model), so its time is the
  environment's own (per-visit generators, the truth of the shown items, slate checks, the
  log). Building the simulator (sessions, the observed matrix) is timed on its own row.
* **calibration**: every visit of the last 30 days (the period of the notebooks' test month)
  with a random slate, the most-popular list, ALS (fitted on the log before the period) and
  the oracle: clicks and purchases per impression as drawn, and their expected values from
  the truth (the same visits and random numbers for every policy). The module docstring
  quotes these numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from report import emit

import recutils
from recutils.datasets import load
from recutils.interactions import IdIndex
from recutils.models import ALS, MostPopular
from recutils.simulator import (
    ModelPolicy,
    OraclePolicy,
    Policy,
    RandomPolicy,
    ShopSimulator,
    Slate,
    ab_test,
    simulate,
)

SPEED_VISITS = 10_000


class SameSlate(Policy):
    """The k launched products with the lowest numbers, for everybody (no model: the
    environment's own cost)."""

    name = "same slate (simulator alone)"

    def choose(self, visit, k, rng):
        return Slate(np.flatnonzero(self.observed_.launched(visit.time))[:k])


def speed_rows(shop, index) -> list[str]:
    started = time.perf_counter()
    simulator = ShopSimulator(shop, index, days=60, k=10, seed=0)
    build = time.perf_counter() - started
    visits = min(SPEED_VISITS, simulator.n_visits)
    als = ALS(seed=0).fit(simulator.observed.train)  # fitted outside the timing
    policies = [
        SameSlate(),
        RandomPolicy(),
        ModelPolicy(MostPopular()),
        ModelPolicy(als),
        OraclePolicy(simulator),
    ]
    rows = [f"| building the simulator (60 days, {simulator.n_visits} visits) | {build:.2f} | |"]
    reference = None
    for policy in policies:
        started = time.perf_counter()
        log = simulate(simulator, policy, visits=visits)
        seconds = time.perf_counter() - started
        reference = reference or seconds
        rows.append(
            f"| {policy.name}: {len(log):,} impressions | {seconds:.2f} | "
            f"{seconds / reference:.1f}x |"
        )
    return rows


def calibration_rows(shop, index) -> list[str]:
    simulator = ShopSimulator(shop, index, days=30, k=10, seed=0)
    als = ALS(seed=0).fit(simulator.observed.train)
    test = ab_test(
        simulator,
        {
            "random": RandomPolicy(),
            "most popular": ModelPolicy(MostPopular()),
            "ALS": ModelPolicy(als),
            "oracle": OraclePolicy(simulator),
        },
    )
    rows = []
    for name, log in test.logs.items():
        s = log.summary()
        rows.append(
            f"| {name} | {s['click rate']:.2%} | {s['expected click rate']:.2%} | "
            f"{s['purchase rate']:.3%} | {s['expected purchase rate']:.3%} | "
            f"{s['products shown']} |"
        )
    header = (
        f"Calibration: the shop's last 30 days ({simulator.n_visits:,} visits, k = 10, "
        "seed 0), per impression"
    )
    return [
        header,
        "",
        "| policy | clicks | expected clicks | purchases | expected purchases | products shown |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown tables here")
    args = parser.parse_args(argv)
    recutils.setup(model_cache=False, seed=0)
    shop = load("shop")
    index = IdIndex.from_dataset(shop)
    speed = "\n".join(
        [
            f"Speed: the first {SPEED_VISITS:,} visits (at most) of the shop's last 60 days, "
            "k = 10",
            "",
            "| run | seconds | x the simulator alone |",
            "| --- | ---: | ---: |",
            *speed_rows(shop, index),
        ]
    )
    calibration = "\n".join(calibration_rows(shop, index))
    facts = (
        f"{os.cpu_count()} CPUs ({platform.machine()}), one process; ALS fitted before the "
        "timing. Expected values are exact, from the truth; drawn values are one run."
    )
    emit(speed, calibration, facts, output=args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
