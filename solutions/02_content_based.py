"""Worked solutions of notebook 02's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.embeddings``,
``nb.per_user_valid``, ...); ``make test`` runs every one through the notebook's check.
"""

import numpy as np
import pandas as pd

from recutils.evaluation import compare
from recutils.interactions import IdIndex, recency_weighted
from recutils.models import ContentBased, MostPopular
from recutils.splitting import pair_split, temporal_split
from recutils.text import encode_texts, item_texts


def exercise_1(nb):
    """Centre, normalise, take the dot product.

    ``ContentBased()`` (``center=True``) subtracts the catalog's mean vector ``m`` from every
    embedding and scales the result to length 1, ``u_i = (v_i - m) / ||v_i - m||``; the
    similarity of two products is then ``u_i . u_j``. The mean is over *all* products, so
    centring one pair on its own mean would give another number.
    """
    centred = nb.embeddings - nb.embeddings.mean(axis=0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    return float(centred[nb.product] @ centred[nb.neighbour])


def exercise_2(nb):
    """Centred, on the shop.

    Raw sentence embeddings share a common direction, so every raw cosine carries the same
    positive offset and the differences that tell products apart are a small part of it.
    Removing the mean leaves those differences, and a user's profile (a mean of unit vectors)
    then points towards what is special about their items rather than towards the average
    product. Read the paired test printed in the cell too: it says whether the gain is larger
    than the noise of the test users.
    """
    means = {label: values.mean() for label, values in nb.per_user_centring.items()}
    return max(means, key=means.get)


def exercise_3(nb):
    """365 days: on this shop the longest memory wins on validation, the 7-day one is worst.

    A profile is a weighted mean of the user's items. With a 7-day half-life it rests on the
    last few interactions, a small and noisy sample, and most of the history counts almost
    nothing. The shop's tastes do drift, but slowly (notebook 01: over a whole year a minority
    of users move far), so within a few months the gain of forgetting old taste is smaller than
    the loss of data. A short memory pays off when tastes change faster than data accumulates,
    e.g. a session's intent; that is what the sequence models of notebook 08 exploit.
    """
    means = {key: values.mean() for key, values in nb.per_user_valid.items()}
    return max(
        (half_life for half_life, name in means if name == "content: MiniLM"),
        key=lambda half_life: means[(half_life, "content: MiniLM")],
    )


def exercise_4(nb):
    """No: on Online Retail, MiniLM content profiles beat the popularity list on nDCG@10.

    Online Retail's customers (many of them shops) buy many related products, often of one
    range ("SPACEBOY", "REGENCY", "JUMBO BAG"), whose shared words the title encoder catches;
    and its best-sellers are less dominant than the shop's (notebook 01: a lower Gini). So even
    short capitalised titles carry enough to beat a list that is the same for everybody. The
    same code as section 4, with the dataset switched.
    """
    retail = nb.retail
    index = IdIndex.from_dataset(retail)
    last_day = retail.interactions["timestamp"].max().normalize()
    test_start = last_day - pd.Timedelta(days=nb.TEST_DAYS - 1)
    split = pair_split(
        temporal_split(retail.interactions, test_start=test_start),
        event_weights=nb.EVENT_WEIGHTS,
    )
    train = index.matrix(recency_weighted(split.train, half_life_days=nb.HALF_LIFE_DAYS))
    test = index.matrix(split.test)
    vectors = encode_texts(item_texts(retail.items.reset_index(drop=True)))
    quality = compare(
        {"most popular": MostPopular(), "content: MiniLM": ContentBased()},
        train,
        test,
        k=nb.K,
        metrics=("ndcg",),
        item_vectors=vectors,
    )[0].iloc[:, 0]
    return "yes" if quality["most popular"] > quality["content: MiniLM"] else "no"
