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

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from recutils.datasets.own_data import from_files, from_frames
from recutils.schema import Dataset


@dataclass(frozen=True)
class DatasetLoader:
    """A registered dataset: its loader (``"module:function"``, imported when first used, so
    ``import recutils.datasets`` stays light) and a one-line description."""

    loader: str
    description: str

    def __call__(self, **options: Any) -> Dataset:
        module, _, function = self.loader.partition(":")
        return getattr(importlib.import_module(module), function)(**options)


_REGISTRY: dict[str, DatasetLoader] = {}


def register(name: str, loader: str, description: str) -> None:
    """Make ``load(name, **options)`` call ``loader(**options)``.

    Args:
        name: the dataset's name, e.g. ``"my-shop"``.
        loader: ``"package.module:function"``; the function returns a validated
            :class:`~recutils.schema.Dataset` and raises :class:`FileNotFoundError` (with a
            message saying how to get the data) when its file is not on this machine.
        description: one line for :data:`DATASETS`.

    Example::

        register("my-shop", "myshop.loader:load_my_shop", "our orders, exported nightly")
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(loader, str) or ":" not in loader:
        raise ValueError(f"loader must look like 'package.module:function', got {loader!r}")
    _REGISTRY[name] = DatasetLoader(loader, description)


register(
    "shop",
    "recutils.datasets.shop:generate_shop",
    "synthetic two-domain shop with product text, a funnel and ground truth (generated)",
)
register(
    "online-retail",
    "recutils.datasets.online_retail:load_online_retail",
    "UCI Online Retail: 2010-2011 purchases of a UK gift shop (ships with recutils; CC BY 4.0)",
)
register(
    "movielens-100k",
    "recutils.datasets.movielens:load_movielens_100k",
    "GroupLens MovieLens 100K: 1997-98 movie ratings (data directory; not redistributable, "
    "download=True fetches it)",
)
register(
    "files",
    "recutils.datasets.own_data:from_files",
    "your own CSV/parquet files, mapped to the schema by from_files(**options)",
)


class _Descriptions(Mapping[str, str]):
    """The registered names and their descriptions, read from the registry when asked."""

    def __getitem__(self, name: str) -> str:
        return _REGISTRY[name].description

    def __iter__(self) -> Iterator[str]:
        return iter(_REGISTRY)

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))


#: Names accepted by :func:`load`, with their one-line description (includes registered ones).
DATASETS: Mapping[str, str] = _Descriptions()


def load(name: str = "shop", **options: Any) -> Dataset:
    """Load a dataset by name.

    Args:
        name: one of :data:`DATASETS`: ``"shop"``, ``"online-retail"``, ``"movielens-100k"``,
            ``"files"``, or a name you added with :func:`register`.
        **options: passed to the dataset's loader: for ``"shop"``
            :func:`recutils.datasets.shop.generate_shop` (``n_users``, ``n_items``, ``seed``,
            ...); for ``"online-retail"``
            :func:`recutils.datasets.online_retail.load_online_retail` (``data_dir``,
            ``download``, ...); for ``"movielens-100k"``
            :func:`recutils.datasets.movielens.load_movielens_100k` (``data_dir``,
            ``download``, ``verify``); for ``"files"`` :func:`from_files`
            (``interactions_path``, ``items_path``, ``columns``, ...), so a notebook's
            ``parameters`` cell can point at your own data.

    Example::

        shop = load("shop", n_users=1000, seed=1)
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ValueError(
            f"unknown dataset {name!r}; valid names: {sorted(_REGISTRY)} "
            "(for your own pandas frames use recutils.datasets.from_frames; to add a dataset, "
            "recutils.datasets.register)"
        )
    return entry(**options)


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
    "DatasetLoader",
    "from_files",
    "from_frames",
    "load",
    "load_available",
    "load_or_fallback",
    "register",
]
