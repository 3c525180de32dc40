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
=================  =====================================================  ==================
"""

from recutils.models.base import MostPopular, Recommender
from recutils.models.content import ContentBased, tfidf_item_vectors
from recutils.models.ease import EASE
from recutils.models.factorization import ALS, BPR
from recutils.models.neighbors import ItemKNN, UserKNN

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "ContentBased",
    "ItemKNN",
    "MostPopular",
    "Recommender",
    "UserKNN",
    "tfidf_item_vectors",
]
