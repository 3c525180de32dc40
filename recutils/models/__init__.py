"""Recommenders behind one contract (:mod:`recutils.models.base`).

===================  =======================================================  ==============
model                idea                                                     module
===================  =======================================================  ==============
MostPopular          the most-bought items, for everybody                     base
UserKNN              the post's formula 3.2: ratings of similar users         neighbors
ItemKNN              items similar to what the user has                       neighbors
EASE                 closed-form item-item regression (Steck, 2019)           ease
ALS, BPR             matrix factorisation with the implicit library           factorization
FederatedMF          ALS's loss trained by devices that keep their vectors    federated
ContentBased         similarity of item vectors (text embeddings, TF-IDF)     content
IPSBPR               BPR with pairs weighted by inverse propensity            debiasing
LightGCN             propagation over the user-item graph, BPR                graph
SASRec               causal Transformer over the item sequence: next item     sequential
TIGER                T5 writes the next item's semantic ID, token by token    generative
BertHybrid           user + item IDs + pretrained text vector -> MLP          hybrid
Oracle               the synthetic shop's true preferences (upper bound)      oracle
Onboarding           best-sellers of the categories a new user ticked         onboarding
LastCategoryPopular  best-sellers of the last event's category (no training)  sequence_rules
RecentlyViewed       the user's most recent distinct items                    sequence_rules
LastItemTransitions  what followed the last item in training histories        sequence_rules
Switching            one model for new users, another for the rest            switching
LLMReranker          a model's candidates re-ordered by a language model      reranking
===================  =======================================================  ==============

The neural models share one training loop (:mod:`recutils.models.training`). Every model is
used the same way::

    model = ContentBased().fit(train, item_vectors=vectors)  # side data by name, if any
    items, scores = model.recommend(users, k=10)             # seen items left out
    model.score(users)                                       # (len(users), n_items) scores
    model.similar_items(items, k=10)                         # where the model defines it

Adding a model: one file with a :class:`Recommender` subclass (``name``, ``side_data``,
``new_users``, ``_fit``, ``_score``), and its name in this module's imports; the contract
test (``tests/test_contract.py``) then checks it with every other model.
"""

from recutils.models.base import (
    MostPopular,
    Recommendations,
    Recommender,
    as_train_matrix,
    fit_model,
)
from recutils.models.content import ContentBased, centred_unit_rows, tfidf_item_vectors
from recutils.models.debiasing import IPSBPR
from recutils.models.ease import EASE
from recutils.models.factorization import ALS, BPR
from recutils.models.federated import FederatedMF
from recutils.models.generative import TIGER
from recutils.models.graph import LightGCN
from recutils.models.hybrid import BertHybrid
from recutils.models.neighbors import ItemKNN, UserKNN
from recutils.models.onboarding import Onboarding
from recutils.models.oracle import Oracle
from recutils.models.reranking import LLMReranker
from recutils.models.sequence_rules import LastCategoryPopular, LastItemTransitions, RecentlyViewed
from recutils.models.sequential import SASRec, user_sequences
from recutils.models.switching import Switching
from recutils.models.training import TorchRecommender

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "IPSBPR",
    "TIGER",
    "BertHybrid",
    "ContentBased",
    "FederatedMF",
    "ItemKNN",
    "LLMReranker",
    "LastCategoryPopular",
    "LastItemTransitions",
    "LightGCN",
    "MostPopular",
    "Onboarding",
    "Oracle",
    "RecentlyViewed",
    "Recommendations",
    "Recommender",
    "SASRec",
    "Switching",
    "TorchRecommender",
    "UserKNN",
    "as_train_matrix",
    "centred_unit_rows",
    "fit_model",
    "tfidf_item_vectors",
    "user_sequences",
]
