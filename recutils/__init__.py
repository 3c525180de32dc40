"""recutils: the shared code of the course "Large pretrained models in e-commerce recommendation".

Modules, by pipeline stage (``recutils/README.md`` is the map, with the files to touch to add
a model or a dataset):

* :mod:`recutils.environment` -- ``setup()``: seeds, threads, quiet logging, data/cache folders
* :mod:`recutils.settings` -- settings chosen in one notebook and reused by later ones
* :mod:`recutils.schema` -- the interactions/items schema, validation, :class:`Dataset`
* :mod:`recutils.datasets` -- ``load("shop")``, ``load("online-retail")``, ``from_frames``
  (your data), a registry of loaders
* :mod:`recutils.interactions` -- events to user-item pairs, id <-> row/column numbering,
  sparse user-item matrices
* :mod:`recutils.splitting` -- every split: random, temporal, leave-last-n-out, pairs per
  part, the notebooks' protocol, cold-start splits
* :mod:`recutils.models` -- every recommender, behind one contract (``fit``, ``score``,
  ``recommend``, ``similar_items``)
* :mod:`recutils.evaluation` -- one protocol for every model, comparisons, grid search
* :mod:`recutils.ranking` -- top-k selection (one tie rule everywhere)
* :mod:`recutils.metrics` -- full-catalog ranking metrics, coverage, novelty, popularity,
  diversity, Gini/Lorenz
* :mod:`recutils.uncertainty` -- bootstrap intervals and paired tests of per-user metrics
* :mod:`recutils.text` -- the bundled all-MiniLM-L6-v2 encoder with a per-text embedding cache
* :mod:`recutils.encoder_compression` -- a cheaper encoder: ONNX Runtime (float32, int8), PCA
  to fewer dimensions, and what each costs in quality
* :mod:`recutils.homepage` -- candidates, merging and business rules of a home page
* :mod:`recutils.persistence` -- save and load every model without pickle, keyed by its data
* :mod:`recutils.service` -- a saved model behind HTTP (FastAPI, uvicorn), load tests
* :mod:`recutils.vector_search` -- exact and approximate (faiss) nearest neighbours, recall@k
* :mod:`recutils.simulator` -- the shop as an environment: policies, A/B tests, the oracle
* :mod:`recutils.bandits` -- epsilon-greedy, LinUCB and Thompson sampling policies
* :mod:`recutils.off_policy` -- IPS, SNIPS and doubly robust estimates from logs
* :mod:`recutils.spark` -- the pipeline on Apache Spark, each step checked against recutils
* :mod:`recutils.privacy` -- membership inference, the Gaussian mechanism and its accountant
* :mod:`recutils.fairness` -- exposure against relevance, calibrated re-ranking
* :mod:`recutils.checks`, :mod:`recutils.files`, :mod:`recutils.cache` -- argument checks,
  atomic files, verified caches
* :mod:`recutils.plotting`, :mod:`recutils.reporting` -- the recurring plots and result tables
* :mod:`recutils.exercises` -- exercise checks that do not reveal the answer

A typical pipeline (events are split first, then each part is paired on its own, so no
future interaction leaks into training)::

    import recutils
    from recutils.datasets import load
    from recutils.evaluation import evaluate
    from recutils.models import ALS
    from recutils.splitting import temporal_protocol

    recutils.setup(seed=42)
    protocol = temporal_protocol(load("shop"), test_days=30, valid_days=30)
    model = ALS().fit(protocol.train_and_valid)
    model.recommend([0, 1, 2], k=10)                              # item numbers and scores
    evaluate(model, protocol.train_and_valid, protocol.test, k=[10, 20], fit=False)
"""

from recutils.environment import cache_dir, data_dir, setup
from recutils.schema import Dataset

__version__ = "0.1.0"
__all__ = ["Dataset", "__version__", "cache_dir", "data_dir", "setup"]
