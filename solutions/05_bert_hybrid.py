"""Worked solutions of notebook 05's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.fc``,
``nb.final``, ``nb.sub_train``, ...); ``make test`` runs every one through the notebook's check.
"""

import numpy as np
import torch


def exercise_1(nb):
    """Put ``torch.relu`` between the two layers and score the same inputs ``x`` (users 0 and 1
    against every item), then count the items the two top 10s share::

        with torch.no_grad():
            scores = nb.output(torch.relu(nb.fc(nb.x))).squeeze(1).reshape(2, nb.num_items)

    Without the ReLU the two lists were identical (10 shared items): the user only added a
    constant to every score. With it, the user's vector changes which hidden units are active
    for each item, so the rankings can differ, even with weights trained without the ReLU. The
    architecture *can* now personalise; whether it learns to is a matter of training and
    negatives (section 2).
    """
    with torch.no_grad():
        scores = nb.output(torch.relu(nb.fc(nb.x))).squeeze(1).reshape(2, nb.num_items)
    top_0 = set(torch.argsort(scores[0], descending=True)[:10].tolist())
    top_1 = set(torch.argsort(scores[1], descending=True)[:10].tolist())
    return len(top_0 & top_1)


def exercise_2(nb):
    """Score every user for the new product with the final hybrid, take the 5 highest
    (``np.argsort(-scores, kind="stable")[:5]``), pool their training items
    (``nb.d.train_and_valid[top_users].indices``) and take the share in the product's category.

    The product has no interactions, so its score comes from the text path alone (its ID
    embedding is dropped, ``k_i = 0`` in equation 05.1). The users it picks buy in its
    category many times more often than the average user (the share printed above the
    check): the text vector places the product where those users' tastes are.
    """
    n_users = nb.d.train_and_valid.shape[0]
    scores = nb.final.score(np.arange(n_users))[:, nb.item]
    top_users = np.argsort(-scores, kind="stable")[:5]
    rows = nb.d.train_and_valid[top_users]
    return float((nb.categories[rows.indices] == nb.categories[nb.item]).mean())


def exercise_3(nb):
    """About 0.14 of one epoch.

    Fine-tuning took ``FINETUNE_STEPS`` steps of ``FINETUNE_BATCH`` labelled pairs. One epoch of
    the recommender on the department is every observed training pair with its ``negatives``
    (4) sampled items: ``sub_train.nnz * (1 + 4)`` labelled pairs. The encoder's top layer
    therefore saw a small fraction of one pass over the department's data, with a learning rate
    far below the network's: no wonder the text vectors barely moved (the cosine distance
    printed in section 4) and the scores did not change measurably. Fine-tuning that could
    change the vectors needs many epochs of such steps, at the cost per step of section 1.
    """
    labelled_pairs = nb.FINETUNE_STEPS * nb.FINETUNE_BATCH
    return labelled_pairs / (nb.sub_train.nnz * (1 + nb.finetuned.negatives))


def exercise_4(nb):
    """(a): one ranking shared by every user.

    Without a non-linearity the logit is ``a . e_u + b . e_i + c . t_i + const``. The user term
    is the same for every item, so it moves all of a user's scores up or down together and
    never changes their order: every user gets the item ranking of ``b . e_i + c . t_i``. That
    ranking can still be learned (for example popularity, which the bias-like item term
    captures), so (c) is wrong; (b) is wrong because nothing in the score depends on the user
    and the item together. The cell of defect 4 shows it: users 0 and 1 get the same top 10.
    """
    if torch.equal(nb.top_0, nb.top_1):
        return "a"
    return "b"
