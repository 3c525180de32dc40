"""Datasets in the course schema (:mod:`recutils.schema`).

* ``load("shop")`` -- the embedded synthetic shop (:mod:`recutils.datasets.shop`), generated
  from a seed in about two seconds; nothing to download.
* ``load("online-retail")`` -- UCI Online Retail, real transactions of a UK online shop
  (:mod:`recutils.datasets.online_retail`); the raw table ships with recutils (CC BY 4.0).
* ``load("movielens-100k")`` -- GroupLens MovieLens 100K ratings as binary interactions
  (:mod:`recutils.datasets.movielens`), read from the data directory; ``download=True``
  fetches it (it may not be redistributed).
* :func:`from_frames` / :func:`from_files` -- your own interaction log and catalog
  (:mod:`recutils.datasets.own_data`).

Notebooks load through :func:`load_available` and :func:`load_or_fallback`: a dataset that is
not on this machine (MovieLens not downloaded, a wrong path to your own files) is skipped with
a message saying how to get it, so the notebook still runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recutils.datasets.own_data import from_files, from_frames
from recutils.schema import Dataset

#: Names accepted by :func:`load`, with a one-line description.
DATASETS: dict[str, str] = {
    "shop": "synthetic two-domain shop with product text, a funnel and ground truth (embedded)",
    "online-retail": "UCI Online Retail: 2010-2011 purchases of a UK gift shop (ships with "
    "recutils; CC BY 4.0)",
    "movielens-100k": "GroupLens MovieLens 100K: 1997-98 movie ratings (data directory; "
    "not redistributable, download=True fetches it)",
    "files": "your own CSV/parquet files, mapped to the schema by from_files(**options)",
}


def load(name: str = "shop", **options: Any) -> Dataset:
    """Load a dataset by name.

    Args:
        name: one of :data:`DATASETS`: ``"shop"``, ``"online-retail"``, ``"movielens-100k"``
            or ``"files"``.
        **options: passed on: for ``"shop"`` to :func:`recutils.datasets.shop.generate_shop`
            (``n_users``, ``n_items``, ``seed``, ...); for ``"online-retail"`` to
            :func:`recutils.datasets.online_retail.load_online_retail` (``data_dir``,
            ``download``, ...); for ``"movielens-100k"`` to
            :func:`recutils.datasets.movielens.load_movielens_100k` (``data_dir``, ``download``,
            ``verify``); for ``"files"`` to :func:`from_files` (``interactions_path``,
            ``items_path``, ``columns``, ...), so a notebook's ``parameters`` cell can point at
            your own data.
    """
    if name == "shop":
        from recutils.datasets.shop import generate_shop

        return generate_shop(**options)
    if name == "online-retail":
        from recutils.datasets.online_retail import load_online_retail

        return load_online_retail(**options)
    if name == "movielens-100k":
        from recutils.datasets.movielens import load_movielens_100k

        return load_movielens_100k(**options)
    if name == "files":
        return from_files(**options)
    raise ValueError(
        f"unknown dataset {name!r}; valid names: {sorted(DATASETS)} "
        "(for your own pandas frames use recutils.datasets.from_frames)"
    )


def load_available(
    specs: Mapping[str, Mapping[str, Any]], *, fallback: str | None = None
) -> dict[str, Dataset]:
    """Load every dataset of ``specs`` that is on this machine; skip the others with a message.

    A dataset is skipped when its loader raises :class:`FileNotFoundError` (its file is not in
    the data directory: MovieLens not downloaded, a wrong path to your own files); the
    loader's message, which says where to put the file or how to download it, is printed.
    Every other error (a damaged file, a wrong column mapping) is raised as usual: bad input is
    never skipped silently.

    Args:
        specs: dataset name -> options for :func:`load`, e.g. a notebook's ``DATASETS``
            parameter ``{"shop": {}, "online-retail": {}}``.
        fallback: a dataset to load instead when none of ``specs`` could be loaded (the
            notebooks use ``"shop"``, which is generated and always available); ``None``
            returns an empty dict then.

    Returns:
        ``{dataset.name: dataset}`` in the order of ``specs``.

    Example:
        >>> datasets = load_available({"shop": {}, "movielens-100k": {}})  # doctest: +SKIP
        Skipped movielens-100k: No MovieLens 100K file in .../data/movielens-100k. ...
        >>> list(datasets)  # doctest: +SKIP
        ['shop']
    """
    if not isinstance(specs, Mapping) or not specs:
        raise ValueError(
            "specs must be a non-empty dict of dataset name -> options, e.g. "
            f'{{"shop": {{}}}}; got {specs!r}'
        )
    loaded: dict[str, Dataset] = {}
    for name, options in specs.items():
        try:
            dataset = load(name, **dict(options))
        except FileNotFoundError as error:
            print(f"Skipped {name}: {error}")
            continue
        loaded[dataset.name] = dataset
    if not loaded and fallback is not None:
        print(f"None of {list(specs)} is available, so this run uses {fallback!r} instead.")
        dataset = load(fallback)
        loaded[dataset.name] = dataset
    return loaded


def load_or_fallback(
    name: str, options: Mapping[str, Any] | None = None, *, fallback: str = "shop"
) -> Dataset:
    """Load ``name``, or, if it is not on this machine, say so and load ``fallback`` instead.

    :func:`load_available` for a notebook's single ``DATASET``: the message says what was
    skipped and how to get it, and the notebook runs on ``fallback`` (use ``dataset.name`` to
    label results). Other errors are raised.
    """
    return next(iter(load_available({name: options or {}}, fallback=fallback).values()))


__all__ = [
    "DATASETS",
    "Dataset",
    "from_files",
    "from_frames",
    "load",
    "load_available",
    "load_or_fallback",
]
