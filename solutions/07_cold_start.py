"""Worked solutions of notebook 07's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.cold``,
``nb.per_user_ndcg``, ``nb.item_models``, ...); ``make test`` runs every one through the
notebook's check.
"""

import numpy as np

from recutils.metrics import ranking_metrics_per_user
from recutils.models.onboarding import Onboarding


def exercise_1(nb):
    """ALS under the usual rule: the share of its top-10 slots on the user's first 20 products.

    Section 2.3's cell, for ALS at ``n = 5``: ``per_user_ndcg(..., exclude=None)`` fits the
    model on the training matrix with the 5 revealed pairs and lets its lists leave out only
    what it saw; ``recommend`` without ``exclude`` then ranks the same way. A slot that holds
    one of the user's first 20 products is a sure miss: those pairs are not in the test.
    ALS ranks high what resembles the 5 revealed products, and the other 15 of the first 20
    are exactly such products: about one slot in eight goes to them, more than popularity
    spends at ``n = 0`` and less than onboarding (``exclusion_table``). Under that rule those
    slots would be freed one by one as ``n`` grows towards 20, lifting ALS's curve with no
    better model behind it; leaving out all of the first 20 at every ``n`` (section 2.2)
    removes that part of the rise.
    """
    model = nb.cold_models(5, nb.BETA)["ALS"]
    nb.per_user_ndcg(model, 5, exclude=None)
    lists = model.recommend(nb.report_users, k=10).items
    on_first_20 = nb.first_20[nb.report_users].toarray() > 0
    return float(np.take_along_axis(on_first_20, lists, axis=1).mean())


def exercise_2(nb):
    """One pick: each user's single most likely category, popularity within it, then the rest.

    The same protocol as section 2.2 (``per_user_ndcg`` leaves out the first 20 products and
    judges on the same test pairs), at ``n = 0``. One category fills the top 10 with its
    best-sellers; three spread the list over the three categories the user is most likely to
    browse. Whether that helps depends on how concentrated a user's interest is: compare the
    result with onboarding's row at ``n = 0`` of the curve table.
    """
    single = {
        int(user): {str(nb.leaf_names[np.argmax(row)])}
        for user, row in zip(nb.cold.users, nb.interest, strict=True)
    }
    values = nb.per_user_ndcg(Onboarding(nb.item_categories, single), 0)
    return float(values.loc[nb.report_users].mean())


def exercise_3(nb):
    """Form and history: the ticked categories plus those of the user's ten products.

    ``history="categories"`` adds every category the user touched to the ticked ones, all with
    the same weight (07.1), and orders them together by popularity. The ticked categories are
    exact (the simulated user knows their interests), while ten products also touch categories
    the user browsed once; adding those spreads the list over more categories and lets their
    best-sellers push out those of the ticked ones. Measured at ``n = 10`` on the report users.
    """
    both = nb.per_user_ndcg(Onboarding(nb.item_categories, nb.picks, history="categories"), 10)
    return bool(both.loc[nb.report_users].mean() > nb.curve.loc[10, "onboarding"])


def exercise_4(nb):
    """Reserve two slots: ALS's best 8 known products, then the content model's best 2 new ones.

    ``items=`` restricts each model's ranking to a subset of the catalog (known products for
    ALS, new ones for the content model), so the two parts never overlap. Recall@10 on new
    products counts the users' new test products found in the ten slots. ALS finds none of them
    (section 1), so everything comes from the two reserved slots: compare with the content
    model's "new only" recall@10, which uses ten slots for new products.
    """
    users = nb.new_users
    known = nb.item_models["ALS"].recommend(users, k=8, items=~nb.cold_items.new).items
    fresh = (
        nb.item_models["content-based (MiniLM)"]
        .recommend(users, k=2, items=nb.cold_items.new)
        .items
    )
    lists = np.concatenate([known, fresh], axis=1)
    frame = ranking_metrics_per_user(lists, nb.cold_items.test_new[users], k=10)
    return float(frame["recall@10"].mean())
