"""Recommenders behind one interface (:class:`recutils.models.base.Recommender`).

=================  =====================================================  ==================
model              idea                                                   module
=================  =====================================================  ==================
MostPopular        the most-bought items, for everybody                   base
UserKNN            the post's formula 3.2: ratings of similar users       neighbors
ItemKNN            items similar to what the user has                     neighbors
EASE               closed-form item-item regression (Steck, 2019)         ease
ALS, BPR           matrix factorisation with the implicit library         factorization
ContentBased       similarity of item vectors (text embeddings, TF-IDF)   content
LightGCN           propagation over the user-item graph, BPR              graph
SASRec             causal Transformer over the item sequence: next item   sequential
BertHybrid         user + item IDs + pretrained text vector -> MLP        hybrid
Oracle             the synthetic shop's true preferences (upper bound)    oracle
Switching          one model for new users, another for the rest          switching
=================  =====================================================  ==================

Every model is used the same way::

    model = ALS().fit(train)                 # train: (n_users, n_items) sparse matrix
    model.recommend(users, k=10)             # (len(users), 10) item numbers, seen items left out
    model.score(users)                       # (len(users), n_items) scores
    model.similar_items(items, k=10)         # (neighbours, similarities), where defined
"""

from recutils.models.base import MostPopular, Recommender
from recutils.models.content import ContentBased, tfidf_item_vectors
from recutils.models.ease import EASE
from recutils.models.factorization import ALS, BPR
from recutils.models.graph import LightGCN
from recutils.models.hybrid import BertHybrid
from recutils.models.neighbors import ItemKNN, UserKNN
from recutils.models.oracle import Oracle
from recutils.models.sequential import SASRec, user_sequences
from recutils.models.switching import Switching

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "BertHybrid",
    "ContentBased",
    "ItemKNN",
    "LightGCN",
    "MostPopular",
    "Oracle",
    "Recommender",
    "SASRec",
    "Switching",
    "UserKNN",
    "tfidf_item_vectors",
    "user_sequences",
]
