"""recutils: the shared code of the course "Large pretrained models in e-commerce recommendation".

Modules, by pipeline stage:

* :mod:`recutils.environment` -- ``setup()``: seeds, threads, quiet logging, data/cache folders
* :mod:`recutils.schema` -- the interactions/items schema, validation, :class:`Dataset`
* :mod:`recutils.datasets` -- ``load("shop")``, ``load("online-retail")``, ``from_frames``
  (your data)
* :mod:`recutils.splitting` -- random, temporal and leave-last-n-out splits
* :mod:`recutils.metrics` -- full-catalog ranking metrics, coverage, novelty
* :mod:`recutils.text` -- the bundled all-MiniLM-L6-v2 encoder with an embedding cache
* :mod:`recutils.plotting` -- the course's recurring plots
"""

from recutils.environment import cache_dir, data_dir, setup
from recutils.schema import Dataset

__version__ = "0.1.0"
__all__ = ["Dataset", "__version__", "cache_dir", "data_dir", "setup"]
