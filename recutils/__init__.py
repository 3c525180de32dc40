"""recutils: the shared code of the course "Large pretrained models in e-commerce recommendation".

Modules, by pipeline stage:

* :mod:`recutils.environment` -- ``setup()``: seeds, threads, quiet logging, data/cache folders
* :mod:`recutils.schema` -- the interactions/items schema, validation, :class:`Dataset`
* :mod:`recutils.datasets` -- ``load("shop")``, ``load("online-retail")``, ``from_frames``
  (your data)
* :mod:`recutils.interactions` -- events to user-item pairs, id <-> row/column numbering,
  sparse user-item matrices
* :mod:`recutils.splitting` -- random, temporal and leave-last-n-out splits
* :mod:`recutils.metrics` -- full-catalog ranking metrics, coverage, novelty, popularity,
  diversity, Gini/Lorenz
* :mod:`recutils.uncertainty` -- bootstrap intervals and paired tests of per-user metrics
* :mod:`recutils.text` -- the bundled all-MiniLM-L6-v2 encoder with an embedding cache
* :mod:`recutils.cache` -- atomic, checksum-verified on-disk caches of arrays
* :mod:`recutils.plotting` -- the course's recurring plots

A typical pipeline::

    import recutils
    from recutils.datasets import load
    from recutils.interactions import IdIndex, user_item_pairs
    from recutils.splitting import temporal_split
    from recutils.metrics import top_k_items, ranking_metrics

    recutils.setup(seed=42)
    shop = load("shop")
    index = IdIndex.from_dataset(shop)
    split = temporal_split(user_item_pairs(shop.interactions), test_start="2024-12-01")
    train, test = index.matrix(split.train), index.matrix(split.test)
    scores = ...  # (users x items) from any model
    ranking_metrics(top_k_items(scores, k=20, exclude=train), test, k=[10, 20], train=train)
"""

from recutils.environment import cache_dir, data_dir, setup
from recutils.schema import Dataset

__version__ = "0.1.0"
__all__ = ["Dataset", "__version__", "cache_dir", "data_dir", "setup"]
