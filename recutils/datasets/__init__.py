"""Datasets in the course schema (:mod:`recutils.schema`).

* ``load("shop")`` -- the embedded synthetic shop (:mod:`recutils.datasets.shop`), generated
  from a seed in about two seconds; nothing to download.
* ``load("online-retail")`` -- UCI Online Retail, real transactions of a UK online shop
  (:mod:`recutils.datasets.online_retail`), read from the data directory.
* ``load("movielens-100k")`` -- GroupLens MovieLens 100K ratings as binary interactions
  (:mod:`recutils.datasets.movielens`), read from the data directory; ``download=True``
  fetches it (it may not be redistributed).
* :func:`from_frames` / :func:`from_files` -- your own interaction log and catalog
  (:mod:`recutils.datasets.own_data`).
"""

from __future__ import annotations

from typing import Any

from recutils.datasets.own_data import from_files, from_frames
from recutils.schema import Dataset

#: Names accepted by :func:`load`, with a one-line description.
DATASETS: dict[str, str] = {
    "shop": "synthetic two-domain shop with product text, a funnel and ground truth (embedded)",
    "online-retail": "UCI Online Retail: 2010-2011 purchases of a UK gift shop (data directory)",
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


__all__ = ["DATASETS", "Dataset", "from_files", "from_frames", "load"]
