"""Worked solutions of notebook 00's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.vectors``,
``nb.similarity``, ...); ``make test`` runs every one through the notebook's check.
"""

import numpy as np

from recutils.text import encode_texts


def exercise_1(nb):
    """The most similar pair is the largest entry above the diagonal of ``similarity``.

    The diagonal is each text with itself (cosine 1) and the matrix is symmetric, so only the
    upper triangle holds distinct pairs.
    """
    upper = np.triu(nb.similarity, k=1)
    i, j = np.unravel_index(np.argmax(upper), upper.shape)
    return {nb.PRODUCT_TEXTS[i], nb.PRODUCT_TEXTS[j]}


def exercise_2(nb):
    """cos(v_1, v_2) = v_1 . v_2 / (||v_1|| ||v_2||).

    The encoder returns unit vectors, so the norms are 1 and the cosine is the dot product; the
    division is kept to show the formula.
    """
    v1, v2 = nb.vectors[0], nb.vectors[1]
    return float(v1 @ v2 / (np.linalg.norm(v1) * np.linalg.norm(v2)))


def exercise_3(nb):
    """Faux leather: the encoder puts the pair that shares words closer (cosine about 0.89
    against 0.73 for suede).

    A text encoder learns meaning from how words are used; "faux leather jacket" contains the
    whole phrase "leather jacket", and nothing in the text says that it is a different product
    at a different price. A shop that recommends by text alone will show imitation leather to a
    leather buyer; behaviour (who buys what) or attributes (material, price) must correct it.
    """
    jackets = encode_texts(["leather jacket", "faux leather jacket", "suede jacket"])
    faux_closer = jackets[0] @ jackets[1] > jackets[0] @ jackets[2]
    return "faux leather jacket" if faux_closer else "suede jacket"
