"""The shop as a simulator: deterministic, blind policies, exact expectations, clear errors."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.datasets.shop import ShopTruth, generate_shop
from recutils.interactions import IdIndex
from recutils.models import ALS, MostPopular
from recutils.schema import Dataset
from recutils.simulator import (
    Feedback,
    LoggingPolicy,
    ModelPolicy,
    ObservedShop,
    OraclePolicy,
    Policy,
    RandomPolicy,
    ShopSimulator,
    SimulationLog,
    Slate,
    Visit,
    ab_test,
    position_bias,
    simulate,
)

K = 4


@pytest.fixture(scope="module")
def shop():
    return generate_shop(n_users=150, n_items=200, seed=3)


@pytest.fixture(scope="module")
def index(shop):
    return IdIndex.from_dataset(shop)


@pytest.fixture(scope="module")
def simulator(shop, index):
    return ShopSimulator(shop, index, days=20, k=K, seed=7)


class FirstLaunched(Policy):
    """The k launched products with the lowest numbers, except on ``different_at``."""

    name = "first launched"

    def __init__(self, different_at: int | None = None) -> None:
        self.different_at = different_at

    def choose(self, visit, k, rng):
        launched = np.flatnonzero(self.observed_.launched(visit.time))
        if visit.number == self.different_at:
            return Slate(launched[-k:])
        return Slate(launched[:k])


def test_same_seed_same_log_other_seed_other_draws(simulator):
    first = simulate(simulator, RandomPolicy(), visits=60)
    again = simulate(simulator, RandomPolicy(), visits=60)
    pd.testing.assert_frame_equal(first.impressions, again.impressions)
    assert isinstance(first, SimulationLog) and len(first) == 60 * K
    assert list(first.impressions["position"][:K]) == list(range(K))
    other = simulate(simulator.with_seed(8), RandomPolicy(), visits=60)
    assert not np.array_equal(first.impressions["item"], other.impressions["item"])


def test_a_visits_draws_do_not_depend_on_other_visits_slates(simulator):
    same = simulate(simulator, FirstLaunched(), visits=40).impressions
    changed = simulate(simulator, FirstLaunched(different_at=5), visits=40).impressions
    other_visits = same["visit"] != 5
    assert not same.loc[~other_visits, "item"].equals(changed.loc[~other_visits, "item"])
    for column in ("clicked", "purchased", "true_click_probability"):
        pd.testing.assert_series_equal(
            same.loc[other_visits, column], changed.loc[other_visits, column]
        )
    # a visit keeps its number and its random numbers in a subset of the visits
    part = simulate(simulator, RandomPolicy(), visits=slice(20, 30)).impressions
    whole = simulate(simulator, RandomPolicy(), visits=30).impressions
    pd.testing.assert_frame_equal(
        part.reset_index(drop=True), whole[whole["visit"] >= 20].reset_index(drop=True)
    )
    # respond() draws the same as the run did
    visit, rows = simulator.visit(3), whole[whole["visit"] == 3]
    feedback = simulator.respond(visit, Slate(rows["item"].to_numpy()))
    np.testing.assert_array_equal(feedback.clicked, rows["clicked"])
    np.testing.assert_array_equal(feedback.purchased, rows["purchased"])


def test_an_ab_test_gives_every_policy_the_log_it_gets_alone(simulator):
    """ab_test runs the policies visit by visit and computes what a visit shares (the
    visitor's draws, the whole catalog's probabilities) once; each log is still exactly the
    one simulate() gives, a learning policy's and the oracle's included."""
    train = simulator.observed.train

    def policies():
        return {
            "random": RandomPolicy(),
            "ALS": ModelPolicy(ALS(factors=4, iterations=2, seed=1).fit(train)),
            "most popular, retrained": ModelPolicy(MostPopular(), retrain_every_days=2),
            "logging": LoggingPolicy(MostPopular(), temperature=0.5, epsilon=0.2),
            "oracle": OraclePolicy(simulator),
        }

    together = ab_test(simulator, policies(), visits=120)
    for name, policy in policies().items():
        alone = simulate(simulator, policy, visits=120)
        pd.testing.assert_frame_equal(
            together.logs[name].impressions, alone.impressions, check_exact=True
        )
    same = RandomPolicy()
    with pytest.raises(ValueError, match="'A' and 'B' are the same policy object"):
        ab_test(simulator, {"A": same, "B": same}, visits=5)
    # a replication (another seed) right after, over the same visits: its own draws, not the
    # ones this simulator computed for the last visits above
    other = simulator.with_seed(8)
    replication = ab_test(other, {"random": RandomPolicy(), "oracle": OraclePolicy(other)},
                          visits=slice(100, 130))  # fmt: skip
    for name, policy in {"random": RandomPolicy(), "oracle": OraclePolicy(other)}.items():
        alone = simulate(simulator.with_seed(8), policy, visits=slice(100, 130))
        pd.testing.assert_frame_equal(
            replication.logs[name].impressions, alone.impressions, check_exact=True
        )
    first_seed = together.logs["oracle"].impressions
    assert not np.array_equal(
        replication.logs["oracle"].impressions["clicked"][: 20 * K],
        first_seed[first_seed["visit"].between(100, 119)]["clicked"],
    )


def test_visits_are_the_logged_sessions_of_the_period_in_time_order(shop, simulator):
    visits = simulator.visits()
    events = shop.interactions
    starts = events.drop_duplicates("session_id")
    inside = starts[
        (starts["timestamp"] >= simulator.start) & (starts["timestamp"] < simulator.end)
    ]
    assert len(visits) == len(inside) == simulator.n_visits
    assert visits["time"].is_monotonic_increasing
    assert visits["time"].min() >= simulator.start and visits["time"].max() < simulator.end
    # the policies learn from the log before the start only
    before = events[events["timestamp"] < simulator.start]
    assert simulator.observed.train.nnz == before.groupby(["user_id", "item_id"]).ngroups


def _reachable(*roots):
    """Every object reachable from ``roots`` through attributes, containers and frames."""
    seen, stack, found = set(), list(roots), []
    while stack:
        value = stack.pop()
        if id(value) in seen or isinstance(value, (str, bytes, int, float, bool, type(None))):
            continue
        seen.add(id(value))
        found.append(value)
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, pd.DataFrame):
            stack.extend(value[column].to_numpy() for column in value.columns)
            stack.extend([value.attrs, value.index.to_numpy()])
        elif sp.issparse(value):
            stack.extend([value.data, value.indices, value.indptr])
        elif isinstance(value, np.ndarray):
            if value.dtype == object:
                stack.extend(value.ravel().tolist())
            if value.base is not None:
                stack.append(value.base)
        else:
            if dataclasses.is_dataclass(value):
                stack.extend(getattr(value, f.name) for f in dataclasses.fields(value))
            stack.extend(getattr(value, "__dict__", {}).values())
            stack.extend(getattr(value, name, None) for name in getattr(value, "__slots__", ()))
    return found


class Spy(Policy):
    """Keeps everything the simulator hands it."""

    name = "spy"

    def __init__(self) -> None:
        self.received = []

    def start(self, observed):
        super().start(observed)
        self.received.append(observed)

    def choose(self, visit, k, rng):
        self.received.extend([visit, rng])
        launched = np.flatnonzero(self.observed_.launched(visit.time))
        slate = Slate(rng.choice(launched, size=k, replace=False))
        self.received.append(slate)
        return slate

    def learn(self, visit, slate, feedback):
        self.received.extend([visit, slate, feedback])


def test_a_policy_cannot_reach_the_truth(shop, simulator):
    spy = Spy()
    simulate(simulator, spy, visits=15)
    kinds = {type(value) for value in spy.received}
    assert {ObservedShop, Visit, Slate, Feedback, np.random.Generator} <= kinds
    truth = shop.truth
    truth_arrays = [
        getattr(truth, f.name)
        for f in dataclasses.fields(truth)
        if isinstance(getattr(truth, f.name), np.ndarray)
    ]
    for value in _reachable(spy.received):
        assert not isinstance(value, (ShopTruth, ShopSimulator, Dataset)), type(value)
        if isinstance(value, np.ndarray) and value.dtype != object:
            assert not any(np.shares_memory(value, array) for array in truth_arrays)
    # the observed shop is a copy: changing it cannot change the simulator's next run
    observed = spy.received[0]
    assert observed.train is not simulator.observed.train
    assert observed.items is not simulator.observed.items


def test_expected_values_match_the_frequencies_of_many_draws(shop, index):
    # livelier clicks than the defaults, so the purchases are frequent enough to check
    simulator = ShopSimulator(shop, index, days=20, k=K, seed=0, click_intercept=-3.0)
    visit = simulator.visit(11)
    slate = OraclePolicy(simulator)
    slate.start(simulator.observe())
    items = slate.choose(visit, K, np.random.default_rng(0)).items
    expected = simulator.expected_per_position(visit, items)
    assert simulator.expected_purchases(visit, items) == pytest.approx(expected["purchases"].sum())
    np.testing.assert_allclose(expected["examined"], position_bias(K))
    draws = 20_000
    clicks, purchases = np.zeros(K), np.zeros(K)
    for seed in range(draws):
        feedback = simulator.with_seed(seed).respond(visit, Slate(items))
        clicks += feedback.clicked
        purchases += feedback.purchased
    for observed, column in ((clicks, "clicks"), (purchases, "purchases")):
        p = expected[column].to_numpy()
        assert (p > 0.001).all()
        # 6 binomial standard deviations: a chance failure has probability < 1e-8 per position
        bound = 6 * np.sqrt(p * (1 - p) / draws)
        assert np.all(np.abs(observed / draws - p) <= bound), (observed / draws, p, bound)


def test_the_oracle_has_the_highest_expected_value_on_every_visit(simulator):
    test = ab_test(
        simulator,
        [
            OraclePolicy(simulator),
            RandomPolicy(),
            ModelPolicy(MostPopular()),
            LoggingPolicy(MostPopular(), temperature=0.5, epsilon=0.2),
            FirstLaunched(),
        ],
        visits=50,
    )
    values = test.per_visit("expected_purchases")
    assert values.columns[0] == "oracle" and len(values) == 50
    others = values.drop(columns="oracle")
    assert (values["oracle"].to_numpy()[:, None] >= others.to_numpy() - 1e-12).all()
    summary = test.summary("expected_purchases")
    assert summary.index[summary["expected_purchases"].argmax()] == "oracle"
    assert (summary["low"] <= summary["expected_purchases"]).all()
    paired = test.compare("oracle", "random", value="expected_purchases")
    assert paired.difference > 0 and paired.n == 50


def test_logging_propensities_are_the_probabilities_of_the_draws(simulator):
    policy = LoggingPolicy(MostPopular(), temperature=2.0, epsilon=0.1)
    policy.start(simulator.observe())
    visit = simulator.visit(4)
    probabilities = policy.probabilities(visit)
    assert probabilities.sum() == pytest.approx(1.0)
    assert (probabilities[~simulator.observed.launched(visit.time)] == 0).all()
    one = policy.choose(visit, 1, np.random.default_rng(1))
    assert one.propensities[0] == pytest.approx(probabilities[one.items[0]])
    # k = 2: the second draw is from the items left, renormalised (epsilon part: uniform)
    policy = LoggingPolicy(MostPopular(), temperature=2.0)
    policy.start(simulator.observe())
    p = policy.probabilities(visit)
    two = policy.choose(visit, 2, np.random.default_rng(2))
    first, second = two.items
    assert two.propensities[0] == pytest.approx(p[first])
    assert two.propensities[1] == pytest.approx(p[second] / (1 - p[first]))
    # the frequency of the top item over many draws is its probability
    draws = 4000
    tops = np.array(
        [policy.choose(visit, 1, np.random.default_rng(s)).items[0] for s in range(draws)]
    )
    likeliest = int(np.argmax(p))
    bound = 6 * math.sqrt(p[likeliest] * (1 - p[likeliest]) / draws)
    assert abs((tops == likeliest).mean() - p[likeliest]) <= bound
    # a random slate reports 1 / (items left) at each position
    log = simulate(simulator, RandomPolicy(), visits=3)
    n = simulator.observed.launched(simulator.visit(0).time).sum()
    np.testing.assert_allclose(log.impressions["propensity"][:K], 1 / (n - np.arange(K)))


def test_retraining_happens_at_day_boundaries_with_what_was_learned(simulator):
    policy = ModelPolicy(MostPopular(), retrain_every_days=3)
    log = simulate(simulator, policy)
    days = (
        (log.impressions["time"].dt.normalize() - pd.Timestamp(simulator.start).normalize())
        .dt.days.unique()
        .tolist()
    )
    expected, last = [0], 0
    for day in sorted(days):
        if day >= last + 3:
            expected.append(day)
            last = day
    assert policy.fit_days_ == expected and len(expected) > 2
    # the last fit saw the original train plus every click (1) and purchase (5) before its day
    last_day = pd.Timestamp(simulator.start).normalize() + pd.Timedelta(days=expected[-1])
    before = log.impressions[log.impressions["time"] < last_day]
    learned = before["clicked"].sum() + 5 * before["purchased"].sum()
    assert policy.model_.train_.sum() == pytest.approx(simulator.observed.train.sum() + learned)
    # without retraining, a model fitted on exactly the observed matrix is used as it is
    fitted = MostPopular().fit(simulator.observed.train)
    static = ModelPolicy(fitted)
    static.start(simulator.observe())
    assert static.model_ is fitted


def test_a_static_model_policy_asks_the_model_once_per_visitor_and_products_on_sale(simulator):
    model = ALS(factors=4, iterations=2, seed=1).fit(simulator.observed.train)
    asked = []
    recommend = model.recommend

    def counted(users, k, **options):
        asked.append((int(users[0]), int(options["items"].sum())))
        return recommend(users, k, **options)

    model.recommend = counted
    log = simulate(simulator, ModelPolicy(model))
    visits = simulator.visits()
    on_sale = [int(simulator.observed.launched(t).sum()) for t in visits["time"]]
    distinct = set(zip(visits["user"].tolist(), on_sale, strict=True))
    assert len(asked) == len(distinct) < len(visits)  # returning visitors are looked up
    shown = log.impressions["item"].to_numpy().reshape(len(visits), K)
    for row, (user, time) in enumerate(zip(visits["user"], visits["time"], strict=True)):
        expected = recommend([user], K, items=simulator.observed.launched(time)).items[0]
        np.testing.assert_array_equal(shown[row], expected)  # the same slates as asking


class Returns(Policy):
    name = "returns"

    def __init__(self, answer) -> None:
        self.answer = answer

    def choose(self, visit, k, rng):
        launched = np.flatnonzero(self.observed_.launched(visit.time))
        return self.answer(launched, visit)


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (lambda launched, v: list(launched[:K]), TypeError, "must return a Slate"),
        (lambda launched, v: Slate(launched[: K - 1]), ValueError, "exactly k = 4"),
        (lambda launched, v: Slate(launched[[0, 0, 1, 2]]), ValueError, "twice"),
        (lambda launched, v: Slate(np.array([0, 1, 2, 10**6])), ValueError, "item number"),
        (lambda launched, v: Slate(launched[:K] + 0.5), ValueError, "integer item numbers"),
        (
            lambda launched, v: Slate(launched[:K], np.array([0.5, 0.5, 0.0, 1.0])),
            ValueError,
            "propensities",
        ),
    ],
)
def test_bad_slates_are_refused_naming_the_policy(simulator, answer, error, message):
    with pytest.raises(error, match=message):
        simulate(simulator, Returns(answer), visits=2)


def test_products_not_launched_yet_cannot_be_shown(shop, index):
    simulator = ShopSimulator(shop, index, start="2024-06-01", days=10, k=K)
    launch = simulator.observed.items["launch_time"].to_numpy()
    visit = simulator.visit(0)
    future = np.flatnonzero(launch > visit.time)
    assert future.size > 0
    launched = np.flatnonzero(launch <= visit.time)
    slate = Slate(np.concatenate([launched[: K - 1], future[:1]]))
    with pytest.raises(ValueError, match="before they launched"):
        simulator.respond(visit, slate)


def test_bad_input_is_refused_with_clear_errors(shop, index, simulator):
    without_truth = dataclasses.replace(shop, truth=None)
    with pytest.raises(ValueError, match="needs the shop's ground truth"):
        ShopSimulator(without_truth, index)
    with pytest.raises(ValueError, match="outside the shop's period"):
        ShopSimulator(shop, index, start="2024-12-20", days=30)
    with pytest.raises(ValueError, match="outside the shop's period"):
        ShopSimulator(shop, index, start="2023-06-01", days=10)
    with pytest.raises(ValueError, match="k must be"):
        ShopSimulator(shop, index, k=0)
    with pytest.raises(ValueError, match="examination"):
        ShopSimulator(shop, index, k=3, examination=[1.0, 0.5])
    with pytest.raises(TypeError, match="policy must be"):
        simulate(simulator, MostPopular())
    with pytest.raises(TypeError, match="visits must be"):
        simulate(simulator, RandomPolicy(), visits=2.5)
    with pytest.raises(ValueError, match="visits must be"):
        simulate(simulator, RandomPolicy(), visits=simulator.n_visits + 1)
    with pytest.raises(TypeError, match="may not see it"):
        from recutils.models import Oracle

        simulate(simulator, ModelPolicy(Oracle(at=simulator.start)), visits=1)
    with pytest.raises(ValueError, match="two policies are named"):
        ab_test(simulator, [RandomPolicy(), RandomPolicy()], visits=1)
    with pytest.raises(ValueError, match="not visit"):
        simulator.respond(Visit(number=0, user=10**5, time=simulator.start), Slate(np.arange(K)))
