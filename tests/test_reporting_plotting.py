"""The leaderboard's layout (recutils.reporting) and the labelled scatter (recutils.plotting)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from recutils.plotting import scatter_labelled
from recutils.reporting import with_interval, write_leaderboard

NBSP = "\u00a0"


def test_with_interval_is_estimate_and_half_width():
    assert with_interval(0.0774, 0.0713, 0.0838) == f"0.077{NBSP}±{NBSP}0.006"
    assert with_interval(1.5, 1.0, 2.0, digits=1) == f"1.5{NBSP}±{NBSP}0.5"
    assert with_interval(float("nan"), 0.0, 1.0) == "-"
    with pytest.raises(ValueError, match="low must not exceed high"):
        with_interval(0.5, 0.6, 0.4)


def test_leaderboard_in_sections_with_intervals(tmp_path):
    table = pd.DataFrame(
        {
            "nDCG@10": [0.0774, 0.0321],
            "nDCG@10 low": [0.0713, 0.0284],
            "nDCG@10 high": [0.0838, 0.0358],
            "coverage@20": [0.211, 0.014],
        },
        index=["ALS", "most popular"],
    )
    markdown, csv = write_leaderboard(
        table,
        tmp_path,
        "shop",
        ["the protocol"],
        sections={"accuracy": ["nDCG@10"], "beyond accuracy": ["coverage@20"]},
        intervals={"nDCG@10": ("nDCG@10 low", "nDCG@10 high")},
    )
    text = markdown.read_text()
    assert text.startswith("**accuracy**\n\n| model | nDCG@10 |\n| --- | --- |\n")
    assert f"| ALS | 0.077{NBSP}±{NBSP}0.006 |" in text
    assert "**beyond accuracy**\n\n| model | coverage@20 |" in text
    assert "low" not in text and text.endswith("\n\nthe protocol\n")
    # the CSV keeps every column, as numbers
    assert pd.read_csv(csv, index_col="model").loc["ALS", "nDCG@10 low"] == 0.0713
    # without sections: one table, the bounds left out
    markdown, _ = write_leaderboard(
        table, tmp_path, "other", intervals={"nDCG@10": ("nDCG@10 low", "nDCG@10 high")}
    )
    assert markdown.read_text().splitlines()[0] == "| model | nDCG@10 | coverage@20 |"
    with pytest.raises(ValueError, match=r"column\(s\) \['recall'\]"):
        write_leaderboard(table, tmp_path, "shop", sections={"a": ["recall"]})


def _text_boxes(texts, fig):
    fig.canvas.draw()  # places the annotations
    renderer = fig.canvas.get_renderer()
    return [Text.get_window_extent(text, renderer) for text in texts]  # text only, no leader


def test_scatter_labels_do_not_overlap_in_a_cluster():
    # five models within a hair of each other (the leaderboard's ALS, BPR, EASE, kNNs)
    x = np.array([0.211, 0.203, 0.212, 0.167, 0.224, 0.014, 0.948])
    y = np.array([0.077, 0.075, 0.073, 0.071, 0.070, 0.032, 0.015])
    labels = ["ALS", "BPR", "EASE", "UserKNN", "ItemKNN", "most popular", "content-based"]
    fig, ax = plt.subplots(figsize=(7, 4))
    texts = scatter_labelled(ax, x, y, labels)
    assert [t.get_text() for t in texts] == labels
    boxes = _text_boxes(texts, fig)
    assert not [
        (labels[i], labels[j])
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]
    # the far-right point's label is inside the axes, to the left of its point
    assert texts[-1].get_ha() == "right"
    # clustered labels have leader lines; a lone point's label does not
    assert texts[0].arrow_patch is not None and texts[5].arrow_patch is None
    plt.close(fig)


def test_scatter_labelled_rejects_bad_input():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="one entry per point"):
        scatter_labelled(ax, [1, 2], [1, 2], ["a"])
    with pytest.raises(ValueError, match="finite"):
        scatter_labelled(ax, [1, np.nan], [1, 2], ["a", "b"])
    plt.close(fig)
