"""recutils.datasets.load_available / load_or_fallback: a missing dataset is skipped with a
message that says how to get it; bad input still raises."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recutils.datasets import load_available, load_or_fallback

SMALL_SHOP = {"n_users": 200, "n_items": 300}


def test_missing_datasets_are_skipped_with_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECUTILS_DATA_DIR", str(tmp_path))
    specs = {
        "shop": SMALL_SHOP,
        "movielens-100k": {},
        "files": {"interactions_path": str(tmp_path / "my_events.csv")},
    }
    loaded = load_available(specs)
    assert list(loaded) == ["shop"]
    printed = capsys.readouterr().out
    assert "Skipped movielens-100k:" in printed and "download=True" in printed
    assert "Skipped files:" in printed and "my_events.csv" in printed


def test_fallback_when_nothing_is_available(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECUTILS_DATA_DIR", str(tmp_path))
    assert load_available({"movielens-100k": {}}) == {}
    dataset = load_or_fallback("movielens-100k")
    assert dataset.name == "shop"
    printed = capsys.readouterr().out
    assert "so this run uses 'shop' instead" in printed
    assert load_or_fallback("shop", SMALL_SHOP).name == "shop"  # available: no message
    assert capsys.readouterr().out == ""


def test_bad_input_is_not_skipped(tmp_path: Path):
    events = tmp_path / "events.csv"
    pd.DataFrame({"who": ["a"], "what": ["b"]}).to_csv(events, index=False)
    with pytest.raises(ValueError):  # a wrong column mapping is an error, not a missing file
        load_available(
            {"files": {"interactions_path": str(events), "columns": {"nope": "user_id"}}}
        )
    with pytest.raises(ValueError, match="unknown dataset"):
        load_available({"shopp": {}})
    with pytest.raises(ValueError, match="non-empty dict"):
        load_available({})


def test_a_dataset_is_one_registration_away(monkeypatch):
    from recutils import datasets

    monkeypatch.setattr(datasets, "_REGISTRY", dict(datasets._REGISTRY))
    datasets.register("tiny-shop", "recutils.datasets.shop:generate_shop", "a small shop")
    assert datasets.DATASETS["tiny-shop"] == "a small shop"
    tiny = load_available({"tiny-shop": {"n_users": 40, "n_items": 100}})
    assert list(tiny) == ["shop"] and len(tiny["shop"].users) == 40
    with pytest.raises(ValueError, match=r"package\.module:function"):
        datasets.register("broken", "no colon here", "?")
