"""The baselines follow their specs exactly: thresholds, floors and caps, ε decay, UCB1 order, TS per seed."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal

import numpy as np
import pytest

from adpilot.actions.guardrails import Approved, GuardContext, GuardrailConfig, guard
from adpilot.domain.actions import Resume, SetBudget
from adpilot.domain.fx import FxRate, FxTable
from adpilot.domain.ids import Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import AdSetView, AdView, Goal, Proposal, Snapshot
from adpilot.domain.status import Status
from adpilot.policies.baselines import (
    BASELINE_NAMES,
    SeedBanditParams,
    SeedBanditPolicy,
    SeedRulesParams,
    SeedRulesPolicy,
    ThompsonParams,
    ThompsonPolicy,
    UniformParams,
    UniformPolicy,
    argmax_first,
    baseline,
    ucb1_scores,
)
from tests.unit.baseline_fixtures import AS_OF, NOW, active_ads_after, ad, ad_set, series, snapshot

RNG = np.random.default_rng(0)


def budgets(props: list[Proposal]) -> dict[str, Money]:
    return {p.action.target.entity_id: p.action.new_budget for p in props if isinstance(p.action, SetBudget)}


def kinds(props: list[Proposal]) -> list[tuple[str, str]]:
    return [(str(p.action.kind), p.action.target.entity_id) for p in props]


def usd(x: str) -> Money:
    return Money.of_major(x, "USD")


def test_every_proposal_names_its_policy_and_shows_evidence() -> None:
    snap = snapshot(
        ad_set("a", budget=100, history=series(14, spend=50, conversions=1)),
        ad_set(
            "b",
            budget=300,
            history=series(14, spend=50, conversions=5),
            ads=[
                ad("b1", status=Status.PAUSED, history=series(14, impressions=1000, clicks=30, conversions=3)),
                ad("b2", history=series(14, impressions=1000, clicks=5)),
            ],
        ),
    )
    for name in BASELINE_NAMES:
        (policy,) = baseline(name)
        assert policy.name == name
        props = policy(snap, np.random.default_rng(1))
        assert props, name
        for p in props:
            assert p.policy == name and p.evidence and p.action.reason.strip()


# -- uniform -------------------------------------------------------------------------------------------


def test_uniform_moves_each_holder_toward_b_over_n_in_capped_steps() -> None:
    snap = snapshot(ad_set("a", budget=100), ad_set("b", budget=300), ad_set("c", budget=195))
    # B = 595, N = 3: target 198.33; a rises by the 19 % step, b falls by it, c moves all the way.
    got = budgets(UniformPolicy()(snap, RNG))
    assert got == {"a": usd("119.00"), "b": usd("243.00"), "c": usd("198.33")}


def test_uniform_counts_a_shared_campaign_budget_once_and_ignores_paused_ad_sets() -> None:
    snap = snapshot(
        ad_set("s1", budget=200, campaign_budget="cbo"),
        ad_set("s2", budget=200, campaign_budget="cbo"),
        ad_set("s3", budget=100),
        ad_set("off", budget=900, status=Status.PAUSED),
    )
    # N = 2 holders (cbo, s3), B = 300: 150 each.
    got = budgets(UniformPolicy()(snap, RNG))
    assert got == {"cbo": usd("162.00"), "s3": usd("119.00")}


def test_uniform_uses_the_goal_budget_and_leaves_holders_already_there() -> None:
    snap = snapshot(ad_set("a", budget=250), ad_set("b", budget=250), goal=Goal(total_daily_budget=500))
    assert UniformPolicy()(snap, RNG) == []
    bigger = snapshot(ad_set("a", budget=250), ad_set("b", budget=250), goal=Goal(total_daily_budget=520))
    assert budgets(UniformPolicy()(bigger, RNG)) == {"a": usd("260.00"), "b": usd("260.00")}


def test_uniform_steps_in_the_account_currency() -> None:
    snap = snapshot(ad_set("eur", budget=100, currency="EUR", fx_rate=1.08), ad_set("usd", budget=300))
    got = budgets(UniformPolicy(UniformParams(max_step=0.1))(snap, RNG))
    assert got == {"eur": Money.of_major("110.00", "EUR"), "usd": usd("270.00")}


def test_uniform_turns_every_creative_on_where_there_is_a_choice() -> None:
    snap = snapshot(
        ad_set(
            "a",
            ads=[
                ad("on"),
                ad("off", status=Status.PAUSED),
                ad("rejected", status=Status.REJECTED),
                ad("archived", status=Status.ARCHIVED),
            ],
        ),
        ad_set("single", ads=[ad("lonely", status=Status.PAUSED)]),  # one arm: no creative decision
        ad_set("stopped", status=Status.PAUSED, ads=[ad("x1"), ad("x2", status=Status.PAUSED)]),
    )
    assert kinds(UniformPolicy()(snap, RNG)) == [("resume", "off")]


# -- seed-rules ----------------------------------------------------------------------------------------


def holder(name: str, spend3: float, conv3: float, budget: float = 100.0) -> AdSetView:
    # Older days carry a CPA that would flip every verdict: only the trailing 3 days may count.
    old = [500.0] * 4 + [spend3 / 3] * 3
    conv = [500.0] * 4 + [conv3 / 3] * 3
    return ad_set(name, budget=budget, history=series(7, spend=old, conversions=conv))


@pytest.mark.parametrize(
    ("spend", "conv", "expected"),
    [
        (300, 12, "80.00"),  # CPA 25 > 1.2 × 20: × 0.8
        (240, 10, None),  # CPA 24 = 1.2 × 20: not above
        (159, 10, "120.00"),  # CPA 15.9 < 0.8 × 20: × 1.2
        (160, 10, None),  # CPA 16 = 0.8 × 20: not below
        (200, 10, None),  # on target
        (45, 0, "80.00"),  # spend without conversions: CPA = inf
        (0, 0, None),  # no data: no CPA
    ],
)
def test_seed_rules_thresholds_on_trailing_three_day_reported_cpa(
    spend: float, conv: float, expected: str | None
) -> None:
    snap = snapshot(holder("h", spend, conv), goal=Goal(target_cpa=20))
    got = budgets(SeedRulesPolicy()(snap, RNG))
    assert got == ({} if expected is None else {"h": usd(expected)})


@pytest.mark.parametrize(
    ("budget", "cpa_high", "expected"),
    [
        (11.0, True, "10.00"),  # × 0.8 would be 8.80: floor 10
        (12.5, True, "10.00"),  # × 0.8 = exactly the floor
        (9.0, True, None),  # already under the floor: a cut never raises it
        (450.0, False, "500.00"),  # × 1.2 would be 540: cap 500
        (600.0, False, None),  # already over the cap: a raise never cuts it
    ],
)
def test_seed_rules_floor_10_and_cap_500(budget: float, cpa_high: bool, expected: str | None) -> None:
    spend, conv = (300, 10) if cpa_high else (90, 10)
    snap = snapshot(holder("h", spend, conv, budget=budget), goal=Goal(target_cpa=20))
    got = budgets(SeedRulesPolicy()(snap, RNG))
    assert got == ({} if expected is None else {"h": usd(expected)})


def test_seed_rules_floor_and_cap_are_in_the_reporting_currency() -> None:
    # 10 EUR = 12 USD: the cut may go to 10 USD = 8.33 EUR (× 0.8 = 8.00 EUR would be under it).
    snap = snapshot(
        ad_set("eur", budget=10, currency="EUR", fx_rate=1.2, history=series(3, spend=100, conversions=1)),
        goal=Goal(target_cpa=20),
    )
    assert budgets(SeedRulesPolicy()(snap, RNG)) == {"eur": Money.of_major("8.34", "EUR")}


def test_seed_rules_goal_defaults_to_blended_fourteen_day_cpa_of_active_ad_sets() -> None:
    # 14 days: a spends 14 × 30 for 14 conversions, b 14 × 10 for 14: blended CPA 20.
    # Trailing 3 days: a's CPA 30 > 24: cut; b's CPA 10 < 16: raise. The paused ad set (CPA 1) is ignored.
    snap = snapshot(
        ad_set("a", history=series(20, spend=[1000.0] * 6 + [30.0] * 14, conversions=1)),
        ad_set("b", history=series(14, spend=10, conversions=1)),
        ad_set("off", status=Status.PAUSED, history=series(14, spend=10, conversions=10)),
    )
    policy = SeedRulesPolicy()
    assert policy.goal_cpa(snap) == pytest.approx(20.0)
    props = policy(snap, RNG)
    assert budgets(props) == {"a": usd("80.00"), "b": usd("120.00")}
    assert {p.evidence["goal_cpa"] for p in props} == {20.0}
    assert props[0].evidence["cpa"] == 30.0 and props[0].evidence["window_days"] == 3


def test_seed_rules_does_nothing_on_budgets_without_a_computable_goal() -> None:
    snap = snapshot(ad_set("a", history=series(14, spend=10)), ad_set("b", history=series(14, spend=10)))
    assert SeedRulesPolicy().goal_cpa(snap) == math.inf
    assert budgets(SeedRulesPolicy()(snap, RNG)) == {}


def ctr_ad(entity_id: str, ctr: float, impressions: int = 10_000) -> AdView:
    return ad(entity_id, history=series(7, impressions=impressions, clicks=round(impressions * ctr)))


def test_seed_rules_pauses_ads_below_the_ad_set_mean_ctr() -> None:
    # 7-day CTRs 2 %, 1 %, 0.5 %: mean 1.1667 %; the UCB1 choice (lots of data) is the 2 % ad.
    snap = snapshot(ad_set("a", ads=[ctr_ad("hi", 0.02), ctr_ad("mid", 0.01), ctr_ad("lo", 0.005)]))
    props = SeedRulesPolicy()(snap, RNG)
    assert kinds(props) == [("pause", "mid"), ("pause", "lo")]
    assert props[0].evidence["mean_ctr"] == pytest.approx((0.02 + 0.01 + 0.005) / 3, abs=1e-6)


def test_seed_rules_spares_the_bandit_choice_and_keeps_one_ad_active() -> None:
    # "new" has 50 impressions in its life: UCB1's bonus makes it the choice though its CTR is below the mean.
    snap = snapshot(ad_set("a", ads=[ctr_ad("old", 0.02, impressions=20_000), ctr_ad("new", 0.0, impressions=50)]))
    props = SeedRulesPolicy()(snap, RNG)
    assert props == []
    # CTR window is 7 days: a bad ad whose bad days are older than that is not paused.
    snap2 = snapshot(
        ad_set(
            "b",
            ads=[
                ctr_ad("x", 0.02),
                ad("y", history=series(14, impressions=10_000, clicks=[0.0] * 7 + [300.0] * 7)),
            ],
        )
    )
    assert SeedRulesPolicy()(snap2, RNG) == []


def test_seed_rules_ctr_window_and_thresholds_are_parameters() -> None:
    snap = snapshot(holder("h", 300, 12), goal=Goal(target_cpa=20))
    assert budgets(SeedRulesPolicy(SeedRulesParams(high=1.3))(snap, RNG)) == {}
    with pytest.raises(ValueError, match="thresholds"):
        SeedRulesParams(low=1.5, high=1.2)


# -- seed-bandit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cycle", "expected"), [(0, 0.1), (1, 0.099), (10, 0.1 * 0.99**10), (300, 0.1 * 0.99**300)])
def test_seed_bandit_epsilon_decays_by_0_99_per_decision(cycle: int, expected: float) -> None:
    assert SeedBanditPolicy().epsilon(snapshot(cycle=cycle)) == pytest.approx(expected)


def test_ucb1_scores_and_order_with_unplayed_arms_first() -> None:
    scores = ucb1_scores([10, 5, 0, 0], [100, 20, 0, 0])
    t = 120
    assert scores[0] == pytest.approx(0.1 + math.sqrt(2 * math.log(t) / 100))
    assert scores[1] == pytest.approx(0.25 + math.sqrt(2 * math.log(t) / 20))
    assert scores[2:] == [math.inf, math.inf]
    assert argmax_first(scores) == 2  # the first unplayed arm
    assert argmax_first(ucb1_scores([10, 5], [100, 20])) == 1  # exploration bonus beats the higher mean
    assert argmax_first(ucb1_scores([300, 1], [1000, 10])) == 1
    assert argmax_first(ucb1_scores([3000, 10], [10_000, 1000])) == 0
    assert ucb1_scores([0.5], [0.5]) == [1.0]  # t < 1 (money trials): ln t floored at 0, no NaN


def test_seed_bandit_exploits_the_ucb1_argmax_with_epsilon_zero() -> None:
    greedy = SeedBanditPolicy(SeedBanditParams(epsilon0=0.0))
    played = series(10, impressions=1000, clicks=100, conversions=5)
    snap = snapshot(
        ad_set(
            "a",
            ads=[ad("best", history=played), ad("new1", status=Status.PAUSED), ad("new2", status=Status.PAUSED)],
        )
    )
    assert kinds(greedy(snap, RNG)) == [("resume", "new1"), ("pause", "best")]
    # Every arm played: the UCB1 argmax on conversions per click runs alone.
    snap2 = snapshot(
        ad_set(
            "a",
            ads=[
                ad("p", history=series(10, clicks=1000, conversions=10)),  # 1 %
                ad("q", status=Status.PAUSED, history=series(10, clicks=1000, conversions=30)),  # 3 %
                ad("r", history=series(10, clicks=1000, conversions=20)),  # 2 %
            ],
        )
    )
    assert kinds(greedy(snap2, RNG)) == [("resume", "q"), ("pause", "p"), ("pause", "r")]
    # Already the case: nothing to propose.
    snap3 = snapshot(
        ad_set(
            "a",
            ads=[
                ad("p", status=Status.PAUSED, history=series(10, clicks=1000, conversions=10)),
                ad("q", history=series(10, clicks=1000, conversions=30)),
            ],
        )
    )
    assert greedy(snap3, RNG) == []


def test_seed_bandit_explores_uniformly_with_probability_epsilon() -> None:
    arms = [ad(f"a{i}", history=series(10, clicks=1000, conversions=10 * (i + 1))) for i in range(4)]
    snap = snapshot(ad_set("s", ads=arms))  # the argmax is a3
    explorer = SeedBanditPolicy(SeedBanditParams(epsilon0=1.0))
    chosen: Counter[str] = Counter()
    for seed in range(400):
        props = explorer(snap, np.random.default_rng(seed))
        still = {a.ref.entity_id for a in arms} - {p.action.target.entity_id for p in props}
        # The same draws the policy made: one uniform for ε, then a uniformly random arm.
        rng = np.random.default_rng(seed)
        rng.random()
        assert still == {f"a{int(rng.integers(4))}"}
        chosen[still.pop()] += 1
    assert set(chosen) == {"a0", "a1", "a2", "a3"}
    assert all(60 <= n <= 140 for n in chosen.values()), chosen
    # With ε₀ = 0.5 and 0.5 per decision, cycle 1 explores with probability 0.25: exactly when u < 0.25.
    half = SeedBanditPolicy(SeedBanditParams(epsilon0=0.5, decay=0.5))
    snap1 = snapshot(ad_set("s", ads=arms), cycle=1)
    for seed in range(50):
        u = np.random.default_rng(seed).random()
        paused = {p.action.target.entity_id for p in half(snap1, np.random.default_rng(seed))}
        if u >= 0.25:
            assert paused == {"a0", "a1", "a2"}


def test_seed_bandit_budgets_epsilon_uniform_rest_by_ucb1_per_unit_spend() -> None:
    # 7-day window: a converts at 0.05 per dollar, b at 0.02; the day before the window is ignored.
    snap = snapshot(
        ad_set("a", budget=200, history=series(8, spend=[9999.0] + [100.0] * 7, conversions=[0.0] + [5.0] * 7)),
        ad_set("b", budget=200, history=series(8, spend=[1.0] + [100.0] * 7, conversions=[9999.0] + [2.0] * 7)),
        cycle=5,
    )
    policy = SeedBanditPolicy()
    eps = 0.1 * 0.99**5
    t = 1400.0
    bonus = math.sqrt(2 * math.log(t) / 700)
    sa, sb = 35 / 700 + bonus, 14 / 700 + bonus
    target_a = eps * 400 / 2 + (1 - eps) * 400 * sa / (sa + sb)
    target_b = eps * 400 / 2 + (1 - eps) * 400 * sb / (sa + sb)
    got = budgets(policy(snap, RNG))

    def step(target: float) -> Money:
        factor = min(max(target / 200, 0.81), 1.19)
        exact = Decimal(20000) * Decimal(repr(factor))
        return Money("USD", int(exact.to_integral_value(rounding="ROUND_FLOOR" if factor > 1 else "ROUND_CEILING")))

    assert got == {"a": step(target_a), "b": step(target_b)}
    assert got["a"].minor > 20000 > got["b"].minor


def test_seed_bandit_gives_the_greedy_share_to_unplayed_holders_first() -> None:
    snap = snapshot(
        ad_set("played", budget=200, history=series(7, spend=100, conversions=10)),
        ad_set("fresh", budget=200),
        goal=Goal(total_daily_budget=400),
    )
    got = budgets(SeedBanditPolicy()(snap, RNG))
    # targets: played 0.1 × 200 = 20 (a 19 % cut), fresh 20 + 360 = 380 (a 19 % raise)
    assert got == {"played": usd("162.00"), "fresh": usd("238.00")}


# -- thompson ------------------------------------------------------------------------------------------


def ts_snapshot() -> Snapshot:
    return snapshot(
        ad_set(
            "s",
            ads=[
                ad("a", history=series(5, clicks=100, conversions=3)),
                ad("b", history=series(5, clicks=100, conversions=3)),
                ad("c", status=Status.PAUSED, history=series(5, clicks=100, conversions=3)),
            ],
        ),
        ad_set(
            "t",
            ads=[ad("d", history=series(5, clicks=10, conversions=1)), ad("e", history=series(5, clicks=10))],
        ),
    )


def test_thompson_is_deterministic_per_seed_and_draws_beta_posteriors() -> None:
    snap = ts_snapshot()
    policy = ThompsonPolicy()
    for seed in range(20):
        first = policy(snap, np.random.default_rng(seed))
        assert first == policy(snap, np.random.default_rng(seed))
        # Replay the draws: Beta(1 + conversions, 1 + clicks - conversions), per ad set, per arm, in order.
        rng = np.random.default_rng(seed)
        s_draws = [rng.beta(16, 486) for _ in range(3)]
        t_draws = [rng.beta(6, 46), rng.beta(1, 51)]
        best_s = "abc"[int(np.argmax(s_draws))]
        best_t = "de"[int(np.argmax(t_draws))]
        after = active_ads_after(snap, [p.action for p in first])
        assert set(after.values()) == {1}
        touched = {p.action.target.entity_id: str(p.action.kind) for p in first}
        assert touched.get(best_s) in (None, "resume") and touched.get(best_t) in (None, "resume")
        assert all(k == "pause" for e, k in touched.items() if e not in (best_s, best_t))
    assert len({tuple(kinds(policy(snap, np.random.default_rng(s)))) for s in range(20)}) > 1


def test_thompson_with_flat_priors_picks_each_unseen_arm_about_equally() -> None:
    snap = snapshot(ad_set("s", ads=[ad("a"), ad("b", status=Status.PAUSED)]))
    picks = Counter(
        "b" if any(isinstance(p.action, Resume) for p in ThompsonPolicy()(snap, np.random.default_rng(s))) else "a"
        for s in range(1000)
    )
    assert 430 <= picks["a"] <= 570, picks


def test_thompson_follows_strong_evidence_and_leaves_budgets_alone() -> None:
    snap = snapshot(
        ad_set(
            "s",
            budget=123,
            ads=[
                ad("weak", history=series(10, clicks=1000, conversions=1)),
                ad("strong", status=Status.PAUSED, history=series(10, clicks=1000, conversions=50)),
            ],
        )
    )
    for seed in range(30):
        props = ThompsonPolicy()(snap, np.random.default_rng(seed))
        assert kinds(props) == [("resume", "strong"), ("pause", "weak")]
    prior = ThompsonPolicy(ThompsonParams(prior_alpha=2, prior_beta=50))(snap, np.random.default_rng(0))
    assert prior[0].evidence["posterior"][str(snap.ad_sets[0].ads[1].ref)] == [502.0, 9550.0]


# -- every baseline ------------------------------------------------------------------------------------


def busy_snapshot(cycle: int) -> Snapshot:
    """Several holders (odd budgets, two currencies, a shared campaign budget) and ad sets of 2-4 arms."""
    sets = []
    for i in range(6):
        arms = [
            ad(
                f"{i}-{k}",
                status=Status.PAUSED if (i + k) % 3 == 0 else Status.ACTIVE,
                history=series(9, impressions=2000 + 300 * k, clicks=20 + 7 * k + i, conversions=(i * k) % 4),
            )
            for k in range(2 + i % 3)
        ]
        sets.append(
            ad_set(
                f"s{i}",
                platform=list(Platform)[i % 3],
                budget=[0.13, 12.37, 77.77, 999.99, 450.0, 31.0][i],
                currency="EUR" if i % 2 else "USD",
                fx_rate=1.08 if i % 2 else 1.0,
                campaign_budget="shared" if i in (4, 5) else None,
                history=series(9, spend=[3.0 * i + 1] * 9, conversions=[float(i % 3)] * 9),
                ads=arms,
            )
        )
    return snapshot(*sets, cycle=cycle)


@pytest.mark.parametrize("name", BASELINE_NAMES)
def test_every_baseline_keeps_an_active_ad_and_passes_the_change_cap(name: str) -> None:
    for cycle, seed in [(0, 1), (3, 2), (40, 3)]:
        snap = busy_snapshot(cycle)
        (policy,) = baseline(name)
        props = policy(snap, np.random.default_rng(seed))
        after = active_ads_after(snap, [p.action for p in props])
        assert all(n >= 1 for n in after.values()), after
        actions = [p.action for p in props]
        assert len({a.idempotency_key for a in actions}) == len(actions)
        fx = FxTable.build("USD", [FxRate(AS_OF, "EUR", "USD", Decimal("1.08"))])
        held = {s.budget_holder: s.daily_budget for s in snap.active_ad_sets() if s.daily_budget}
        cfg = GuardrailConfig(budget_floor=None, cooldown_hours=0, max_changes_per_day=1000)
        ctx = GuardContext(now=NOW, today=AS_OF, fx=fx, budgets=held)
        verdicts = guard([a for a in actions if isinstance(a, SetBudget)], cfg, ctx)
        assert all(isinstance(v, Approved) for v in verdicts), verdicts


def test_baseline_registry() -> None:
    assert [p.name for n in BASELINE_NAMES for p in baseline(n)] == list(BASELINE_NAMES)
    (p,) = baseline("uniform", UniformParams(max_step=0.1))
    assert isinstance(p, UniformPolicy) and p.params.max_step == 0.1
    with pytest.raises(ValueError, match="unknown name 'greedy'"):
        baseline("greedy")
    with pytest.raises(TypeError, match="seed-rules takes SeedRulesParams"):
        baseline("seed-rules", UniformParams())
    with pytest.raises(ValueError, match="max_step"):
        UniformParams(max_step=0.25 * 4)
