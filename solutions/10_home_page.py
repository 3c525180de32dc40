"""Worked solutions of notebook 10's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.serve_pool``,
``nb.ranker``, ``nb.learn_features``, ...); ``make test`` runs every one through the
notebook's check.
"""

import numpy as np

from recutils.homepage import apply_business_rules
from recutils.metrics import ranking_metrics


def exercise_1(nb):
    """The union's recall computed from the pairs the other three sources proposed.

    A found test product stays found without the sequence source if any other source proposed
    it too; only the products the sequence source alone proposed are lost (section 2's last
    column gives their share of the found products). Dividing by each user's number of test
    products and averaging over users gives the recall. It drops by a couple of points: SASRec's
    unique finds are few, so for recall the pool could do without it, while the ranker may still
    use its score as a feature.
    """
    others = [f"{name} rank" for name in nb.CANDIDATES if name != "sequence"]
    found = nb.serve_pool[nb.serve_pool["relevant"]]
    kept = found[found[others].notna().any(axis=1)]
    per_user = kept.groupby("user").size().reindex(nb.with_test, fill_value=0).to_numpy()
    return float((per_user / nb.test_items_per_user).mean())


def exercise_2(nb):
    """The same rules with ``max_per_category=1``, the page measured as in section 5.

    Intuition says a page spread over ten categories reaches more users; the measurement says
    no: the shop's users browse one category at a time, so with one product per category the
    page loses most of the products of the category the user is in, and fewer users find any
    product they touch. Two per category keeps the best two of that category and still spreads
    the rest: a cap is a setting to measure, not a principle.
    """
    strict = apply_business_rules(
        nb.serve_pool,
        k=nb.K,
        item_category=nb.categories,
        max_per_category=1,
        blocked=nb.recent_purchases,
        available=nb.available,
    )
    hit_rate = {
        name: ranking_metrics(nb.as_lists(page, "score"), nb.relevant, k=nb.K).loc[nb.K, "hit_rate"]
        for name, page in {"strict": strict, "notebook": nb.page}.items()
    }
    return bool(hit_rate["strict"] > hit_rate["notebook"])


def exercise_3(nb):
    """In-sample nDCG@10 of each ranker on the learn users, minus ALS's order on the same users.

    The first ranker's in-sample lead is large and turns into a loss on held-out users: it has
    learned the users it was fitted on. The chosen ranker (shallow trees, fewer rounds) leads
    ALS in-sample by much less, and its held-out result (the curves of section 3.1) is close to
    that lead: a small gap between in-sample and held-out is what a model that generalises
    looks like.
    """
    als = nb.learn_ndcg(nb.learn_pool, nb.als_learn_order, nb.with_valid).mean()

    def lead(model):
        scores = model.predict_proba(nb.learn_features)[:, 1]
        return nb.learn_ndcg(nb.learn_pool, scores, nb.with_valid).mean() - als

    return bool(np.abs(lead(nb.ranker)) < lead(nb.first_ranker))
