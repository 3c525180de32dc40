"""Worked solutions of notebook 16's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.d``,
``nb.SEED``, ``nb.private_model``, ...); ``make test`` runs every one through the notebook's
check.
"""

from recutils.models import ALS
from recutils.privacy import dp_epsilon, membership_attack


def exercise_1(nb):
    """Much less: close to chance. A five times stronger penalty shrinks every vector towards
    zero, so the model can no longer fit individual pairs and scores a user's training and
    held-out products alike. The price is quality: its test nDCG@10 falls by about half,
    towards most popular's (measure it with
    ``ranked_lists(model, nb.d.train_and_valid, nb.d.test, k=nb.K)``). Regularisation is a
    privacy lever, but a blunt one with no guarantee; differential privacy (section 3) is the
    one with a proof."""
    model = ALS(regularization=100.0, seed=nb.SEED)
    return round(membership_attack(model, nb.d.train_and_valid, nb.HELD_OUT, seed=nb.SEED).auc, 2)


def exercise_2(nb):
    """Larger: a user who joins more rounds is exposed more often. With q = 0.1 each round's
    noise hides a user who, most of the time, is not even there (privacy amplification by
    sampling); with q about 1/3 that protection is weaker, and the per-round costs add up over
    the same 60 rounds."""
    population = int((nb.d.train.getnnz(axis=1) > 0).sum())
    return round(dp_epsilon(min(1.0, 1000 / population), 2.0, nb.ROUNDS, nb.DELTA), 2)


def exercise_3(nb):
    """Lower still, close to chance: tighter clipping bounds every user's influence on Y, so Y
    memorises less of any one user's pairs (and validation nDCG falls too, section 3's clip
    table). It is no guarantee: without noise, a user's clipped gradient can still be read
    from the sum (one user's change moves it by up to C), and no epsilon can be stated."""
    clipped = nb.private_model(2.0, 0.0).fit(nb.kept)
    return round(nb.shared_model_attack(clipped).auc, 2)
