"""Worked solutions of notebook 03's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.user_knn``,
``nb.grid_values``, ...); ``make test`` runs every one through the notebook's check.
"""

from recutils.evaluation import ranked_lists
from recutils.uncertainty import paired_test


def exercise_1(nb):
    """The post's formula 3.2 for one user and one item, from the stored neighbours.

    Row ``user`` of ``user_knn.similarity_`` is a CSR row holding only the user's 50 most similar
    users (``.indices``) and their cosines (03.1) (``.data``): that row *is* ``similar(u)``. With
    binary interactions ``r_{v,i}`` is 1 when item ``i`` is among ``v``'s items, else 0, so the
    score is the sum of the similarities of the neighbours who have the item.
    """
    row = nb.user_knn.similarity_[nb.user]
    return sum(
        float(sim)
        for v, sim in zip(row.indices, row.data, strict=True)
        if nb.top_item in nb.items_of[v]
    )


def exercise_2(nb):
    """Smaller: fewer candidates leave less room for luck.

    The optimism is the expected maximum of the candidates' segment noise (minus nothing on the
    other users, where the noise averages out). The maximum of fewer noisy numbers is smaller,
    and the 5 settings with 64 factors are also more alike than the whole grid. With one
    candidate the optimism is zero on average: a score measured once, on a choice made
    elsewhere, is unbiased. Every extra candidate tried on the test buys a little more of it.
    """
    keys = list(nb.grid_per_user)
    columns = [position for position, key in enumerate(keys) if key[0] == 64]
    size = nb.SEGMENT_SIZES[0]
    few = nb.optimism(nb.grid_values[:, columns], size)["optimism"]
    many = nb.optimism(nb.grid_values, size)["optimism"]
    return "smaller" if few < many else "larger"


def exercise_3(nb):
    """100 neighbours on the course's shop.

    Too few neighbours: each user's scores rest on a handful of votes, noisy, and many items get
    no vote at all. Too many: the votes of barely similar users (whose tastes differ) drown the
    close ones and the lists drift towards what is popular among everybody. The best number
    sits between, and the curve is flat around it (50 to 400 are close).
    """
    curve = nb.neighbour_curve.sort_values(f"ndcg@{nb.K}", ascending=False, kind="stable")
    return int(curve["neighbors"].iloc[0])


def exercise_4(nb):
    """No: ItemKNN's lead over UserKNN on Online Retail is far inside the noise.

    The difference of the means is a few ten-thousandths of nDCG, its 95% interval spans zero
    on both sides by far more than that, and the permutation test's p-value is large: another
    month of test users could as well put UserKNN ahead. Two models this close are a tie; prefer
    the cheaper or simpler one.
    """
    d = nb.data["online-retail"]
    models = nb.fitted["online-retail"]

    def per_user(name):
        lists = ranked_lists(models[name], d.train_and_valid, d.test, k=nb.K, fit=False)
        return lists.per_user(nb.K)[f"ndcg@{nb.K}"]

    result = paired_test(per_user("ItemKNN"), per_user("UserKNN (formula 3.2)"))
    return "yes" if result.p_value < 0.05 else "no"
