"""The course's recurring plots. Each draws on a given matplotlib ``Axes`` and returns it."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from recutils import checks
from recutils.metrics import gini_index, lorenz_curve


def plot_lorenz(ax: Axes, counts: Any, label: str, unit: str = "items", **style: Any) -> Axes:
    """Lorenz curve of ``counts`` (see :func:`recutils.metrics.lorenz_curve`), with its Gini
    index in the legend and the line of perfect equality. ``unit`` names what is counted per
    (``"items"``, ``"users"``, ...) for the x label."""
    population, volume = lorenz_curve(counts)
    ax.plot(population, volume, label=f"{label} (Gini {gini_index(counts):.2f})", **style)
    if not any(line.get_label() == "perfect equality" for line in ax.get_lines()):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect equality")
    ax.set_xlabel(f"share of {unit} (least popular first)")
    ax.set_ylabel("share of interactions")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return ax


def plot_rank_frequency(ax: Axes, counts: Any, label: str, **style: Any) -> Axes:
    """Counts sorted from largest to smallest against their rank, both axes logarithmic: a long
    tail is a line that falls steadily over several decades. Zero counts are not drawn."""
    values = np.sort(checks.counts(counts))[::-1]
    values = values[values > 0]
    ax.loglog(np.arange(1, values.size + 1), values, label=label, **style)
    ax.set_xlabel("rank (1 = most popular)")
    ax.set_ylabel("interactions")
    ax.legend()
    return ax
