"""The course's recurring plots. Each draws on a given matplotlib ``Axes`` and returns it (or
the artists it added)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.text import Text

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


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Two boxes (x0, y0, x1, y1) overlap."""
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def scatter_labelled(
    ax: Axes,
    x: Any,
    y: Any,
    labels: Sequence[str],
    fontsize: float = 8.0,
    gap: float = 4.0,
    far: float = 24.0,
    iterations: int = 300,
    **style: Any,
) -> list[Text]:
    """Scatter ``(x, y)`` and write ``labels[i]`` beside point ``i`` so that no two labels overlap.

    Each label starts level with its point, ``gap`` points to its right (to its left in the
    right third of the axes, so it stays inside). Labels that collide there move out to
    ``far`` points, then labels whose boxes overlap are pushed apart vertically, half the
    overlap each, and off the other points' markers, until none overlaps (at most
    ``iterations`` passes). A label away from its point gets a thin leader line. The boxes
    are measured on the figure's renderer, so set the figure size and axis limits before
    calling. Deterministic: the same input gives the same picture.

    Args:
        ax: the axes to draw on.
        x, y: (n,) coordinates in data units.
        labels: n texts.
        fontsize: of the labels, in points.
        gap: horizontal distance between a point and its label, in points.
        far: the same distance for labels that collide with another where they start; they
            are joined to their points by a leader line.
        iterations: most passes of the overlap removal.
        **style: passed to ``ax.scatter`` (e.g. ``color``, ``s``).

    Returns:
        The n label ``Text`` artists (annotations), in the order of ``labels``.

    Example::

        fig, ax = plt.subplots(figsize=(7, 4))
        scatter_labelled(ax, table["coverage@20"], table["nDCG@10"], table.index)
    """
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    names = [str(label) for label in labels]
    if not (xs.size == ys.size == len(names)):
        raise ValueError(
            f"x, y and labels must have one entry per point, got {xs.size}, {ys.size} and "
            f"{len(names)}"
        )
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError("x and y must be finite numbers (drop the rows with NaN first)")
    ax.scatter(xs, ys, **style)
    ax.margins(x=0.08, y=0.1)
    x_limits = ax.get_xlim()  # applies the autoscaling, so the transforms below are final
    scale = ax.figure.dpi / 72.0  # pixels per point
    anchors = ax.transData.transform(np.column_stack([xs, ys]))  # pixels
    edges = ax.transData.transform([(x_limits[0], ys[0]), (x_limits[1], ys[0])])[:, 0]
    # side -1: the label is left of its point (in the right third of the axes), +1: right
    side = np.where(anchors[:, 0] > edges[0] + (edges[1] - edges[0]) * 2 / 3, -1.0, 1.0)

    def label(i: int, offset: float, shift: float, leader: bool) -> Text:
        return ax.annotate(
            names[i],
            (xs[i], ys[i]),
            xytext=(offset, shift),
            textcoords="offset points",
            ha="right" if offset < 0 else "left",
            va="center",
            fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6} if leader else None,
        )

    renderer = ax.figure.canvas.get_renderer()
    drafts = [label(i, side[i] * gap, 0.0, False) for i in range(len(names))]  # to measure
    extents = [text.get_window_extent(renderer) for text in drafts]
    for text in drafts:
        text.remove()
    widths = np.array([extent.width for extent in extents])
    height = max(extent.height for extent in extents) * 1.1
    centre = anchors[:, 1].copy()

    def boxes(offsets: np.ndarray) -> np.ndarray:
        """(n, 4) label boxes in pixels for horizontal offsets in points."""
        near = anchors[:, 0] + offsets * scale
        left = np.where(offsets < 0, near - widths, near)
        return np.column_stack([left, centre - height / 2, left + widths, centre + height / 2])

    def colliding(box: np.ndarray) -> list[tuple[int, int]]:
        n = len(names)
        return [(i, j) for i in range(n) for j in range(i + 1, n) if _overlaps(box[i], box[j])]

    radius = 4.0 * scale  # a marker's half-size, in pixels
    markers = np.column_stack([anchors - radius, anchors + radius])  # (n, 4) boxes

    def on_markers(box: np.ndarray) -> list[tuple[int, int]]:
        n = len(names)
        return [
            (i, p) for i in range(n) for p in range(n) if p != i and _overlaps(box[i], markers[p])
        ]

    # Labels that collide where they start move out to `far`: those left of the middle of the
    # colliding points to the left, the others to the right, so a cluster's labels fan out.
    crowded = np.zeros(len(names), dtype=bool)
    for i, j in colliding(boxes(side * gap)):
        crowded[[i, j]] = True
    for i, _ in on_markers(boxes(side * gap)):
        crowded[i] = True
    if crowded.any():
        middle = np.median(anchors[crowded, 0])
        fan = np.where(anchors[:, 0] < middle, -1.0, 1.0)
        side = np.where(crowded, fan, side)
    offsets = side * np.where(crowded, far, gap)  # points
    for _ in range(iterations):
        pairs, hits = colliding(boxes(offsets)), on_markers(boxes(offsets))
        if not pairs and not hits:
            break
        for i, j in pairs:  # push apart along y: the label of the higher point goes up
            up = 1.0 if (anchors[i, 1], -i) > (anchors[j, 1], -j) else -1.0
            push = (height - abs(centre[i] - centre[j])) / 2 + 0.01
            centre[i] += up * push
            centre[j] -= up * push
        for i, p in hits:  # a label off another point's marker, on the side it already is
            up = 1.0 if centre[i] >= anchors[p, 1] else -1.0
            centre[i] = anchors[p, 1] + up * (radius + height / 2 + 0.01)
    shifts = centre - anchors[:, 1]  # pixels
    # a label away from its point gets a leader line that shows which point it names
    return [
        label(i, offsets[i], shifts[i] / scale, crowded[i] or abs(shifts[i]) > height / 2)
        for i in range(len(names))
    ]
