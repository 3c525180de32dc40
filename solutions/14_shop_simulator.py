"""Worked solutions of notebook 14's exercises (read them after trying).

Each ``exercise_k(nb)`` computes the answer from the notebook's variables (``nb.simulator``,
``nb.online``, ``nb.log``, ...); ``make test`` runs every one through the notebook's check.
"""

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from recutils.bandits import LinUCB
from recutils.off_policy import ExtremeWeightsWarning, ips
from recutils.simulator import ModelPolicy, simulate


def exercise_1(nb):
    """Formula (14.1), summed over the slate's positions, for the reversed slate.

    Each position contributes e_r x P(click | examined) x P(buy | click), with the intent leaf
    averaged out. Reversing changes the sum: the positions' examination probabilities e_r
    fall with r, so the slate earns most when its best-selling products sit on top; the
    simulator's ``expected_purchases(visit, reversed)`` gives the same number.
    """
    policy = ModelPolicy(nb.models["most popular"])
    policy.start(nb.observed)
    slate = policy.choose(nb.visit, nb.K, np.random.default_rng(nb.SEED)).items[::-1]
    truth = nb.truth
    user = truth.user_index([nb.d.index.users[nb.visit.user]])
    products = truth.item_index(nb.d.index.items[slate])
    pref = truth.preference(nb.visit.time, user, products)[0]
    logit = truth.view_logits(pref[None, :], nb.visit.time, products)[0]
    intent = truth.leaf_interest_at(nb.visit.time, user)[0]
    p_leaf = (intent / intent.sum())[truth.item_leaf[products]]
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    a, c = nb.simulator.click_intercept, nb.simulator.intent_bonus
    click = (1 - p_leaf) * sigmoid(a + logit) + p_leaf * sigmoid(a + logit + c)
    buy = sigmoid(-4.2 + 0.9 * pref) * sigmoid(-0.6 + 0.5 * pref)
    return round(float((nb.position_bias(nb.K) * click * buy).sum()), 4)


def exercise_2(nb):
    """Negative again, and more so: counting any hit in the top 10 instead of nDCG's graded
    positions does not bring the offline ranking closer to the online one, because the
    disagreement is about *which* products win (the niche product a user touched next, against
    broadly appealing ones that sell to many), not about how positions are weighted."""
    offline = pd.DataFrame({name: frame[f"hit_rate@{nb.K}"]
                               for name, frame in nb.offline.items()}).mean()
    online = nb.online_per_visit.mean()
    return round(float(stats.kendalltau(offline, online[offline.index])[0]), 2)


def exercise_3(nb):
    """True, on this month: the greedy regression (alpha = 0) sold more than LinUCB with its
    bonus. The model is shared over features (text, popularity, the user's history), so every
    click moves the scores of all similar products: it explores implicitly, and the explicit
    bonus spends impressions on products whose features are merely unusual. What brought the
    linear bandits close to most-popular by the last week of section 3 is learning online over
    good features; the bonus is worth
    its price only when that implicit exploration is not enough (fewer features, a longer
    horizon, a catalog that changes)."""
    greedy = LinUCB(0.0, **nb.BANDIT_FEATURES)
    log = simulate(nb.simulator, greedy)
    greedy_rate = log.impressions["true_purchase_probability"].mean()
    with_bonus = nb.month.logs["LinUCB"].impressions["true_purchase_probability"].mean()
    return bool(greedy_rate > with_bonus)


def exercise_4(nb):
    """Clipping caps each weight at 10: the few impressions where the logging policy showed a
    popular product by chance no longer carry the whole estimate, so the spread shrinks, but
    every clipped weight is too small, so the estimate falls far below the true value (the
    weight the target deserves there is far above 10): clipping trades variance for bias, and
    with this little support the bias dominates."""
    shown = nb.log.impressions
    chosen = nb.target_item["most popular top 1"][: len(shown)]
    with warnings.catch_warnings():  # the weights are extreme: that is the exercise's point
        warnings.simplefilter("ignore", ExtremeWeightsWarning)
        value = ips(
            shown["clicked"].to_numpy(float),
            logging_propensities=shown["propensity"].to_numpy(),
            target_probabilities=(shown["item"].to_numpy() == chosen).astype(float),
            max_weight=10,
        )
    return round(1000 * value.estimate, 1)

