"""The budget policy: curve fitting, the equal-marginal allocator, moves, and a small simulated market.

The market below is self-contained (it imports nothing of the sandbox): Hill delivery curves per ad set,
lognormal CPM shocks, binomial clicks and conversions with day-level CVR noise, conversions reported with a
lag, optional CPM regime shifts and tracking outages. Its noise is a pure function of (seed, day, ad set), so
two runs differing only in one event see the same noise elsewhere (common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.actions.guardrails import Approved, Change, GuardContext, GuardrailConfig, guard
from adpilot.domain.actions import SetBudget
from adpilot.domain.fx import FxRate, FxTable
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import AdSetView, Goal, Objective, PastAction, Proposal, Series, Snapshot
from adpilot.domain.status import Status
from adpilot.policies.budget import (
    BudgetParams,
    BudgetPolicy,
    _days_to_leave,
    _fit,
    _gates,
    _held,
    _moves,
    _reason,
    _target,
    _Unit,
    _units,
    _within_step,
)
from adpilot.policies.curves import (
    DeliveryPosterior,
    RatePosterior,
    allocate,
    allocate_gated,
    best_response,
    curve_marginal,
    curve_value,
    fit_delivery,
    fit_rate,
    local_level,
    rate_prior,
    shape_prior,
)

LAG = (0.6, 0.2, 0.1, 0.05, 0.05)  # share of a day's conversions reported 0, 1, 2, ... days later
COMPLETENESS = tuple(float(x) for x in np.cumsum(LAG))
UNDER = 0.03  # mean under-delivery


def hill(x: np.ndarray | float, i_max: float, k: float, alpha: float) -> np.ndarray:
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    return i_max * x**alpha / (x**alpha + k**alpha)


# -- a small simulated market ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    name: str
    platform: Platform
    i_max: float
    k: float  # half-saturation spend, account currency
    alpha: float
    ctr: float = 0.01
    cvr: float = 0.025
    currency: str = "USD"
    fx: float = 1.0  # reporting per account currency


MARKET = (
    Truth("m1", Platform.META, 160_000, 1500, 1.2),
    Truth("m2", Platform.META, 60_000, 600, 1.5),
    Truth("t1", Platform.TIKTOK, 120_000, 1200, 1.0, currency="EUR", fx=1.08),
    Truth("t2", Platform.TIKTOK, 40_000, 500, 2.0, currency="EUR", fx=1.08),
    Truth("x1", Platform.X, 50_000, 900, 0.9, cvr=0.02),
)


@dataclass
class Market:
    truths: tuple[Truth, ...]
    total: float
    seed: int
    history: int = 14
    cpm_shifts: dict[tuple[Platform, int], float] = field(default_factory=dict)  # (platform, from day) -> factor
    outage: tuple[Platform, int, int, float] | None = None  # platform, first day, days, attributed share
    start: date = date(2026, 3, 2)

    def __post_init__(self) -> None:
        self.day = 0
        self.budget = {t.name: self.total / len(self.truths) for t in self.truths}  # reporting currency
        self.rows: dict[str, list[tuple[float, int, int, int]]] = {t.name: [] for t in self.truths}
        self.applied: list[PastAction] = []
        for _ in range(self.history):
            self.step()

    def cpm(self, t: Truth, day: int) -> float:
        return math.prod(f for (pl, first), f in self.cpm_shifts.items() if pl == t.platform and day >= first)

    def expected(self, budgets: dict[str, float], day: int | None = None) -> float:
        """Expected conversions a day for reporting-currency budgets (no shocks), as the oracle sees them."""
        d = self.day if day is None else day
        return float(
            sum(
                t.ctr * t.cvr * hill(budgets[t.name] / t.fx * (1 - UNDER) / self.cpm(t, d), t.i_max, t.k, t.alpha)
                for t in self.truths
            )
        )

    def optimum(self, day: int | None = None, steps: int = 100) -> float:
        """The best expected conversions for the total, by brute force: exact dynamic programming on a grid
        of 1 % steps of the total (right for S-curves too, which the policy's own solver must also handle)."""
        d = self.day if day is None else day
        grid = np.arange(steps + 1) * (self.total / steps)
        best = np.zeros(steps + 1)
        for t in self.truths:
            val = t.ctr * t.cvr * hill(grid / t.fx * (1 - UNDER) / self.cpm(t, d), t.i_max, t.k, t.alpha)
            best = np.array([np.max(best[: s + 1][::-1] + val[: s + 1]) for s in range(steps + 1)])
        return float(best[-1])

    def step(self) -> None:
        for j, t in enumerate(self.truths):
            rng = np.random.default_rng([self.seed, self.day, j])
            spend = self.budget[t.name] * (1 - 2 * UNDER * rng.random())
            factor = self.cpm(t, self.day) * math.exp(0.1 * rng.standard_normal())
            impressions = int(hill(spend / t.fx / factor, t.i_max, t.k, t.alpha))
            clicks = int(rng.binomial(impressions, t.ctr))
            cvr = min(1.0, t.cvr * math.exp(0.15 * rng.standard_normal() - 0.5 * 0.15**2))
            conversions = int(rng.binomial(clicks, cvr))
            o = self.outage
            if o is not None and o[0] == t.platform and o[1] <= self.day < o[1] + o[2]:
                conversions = int(rng.binomial(conversions, o[3]))
            self.rows[t.name].append((spend, impressions, clicks, conversions))
        self.day += 1

    def view(self, t: Truth, as_of_day: int, *, learning: bool = False, limited: bool = False) -> AdSetView:
        rows = self.rows[t.name]
        days = tuple(self.start + timedelta(days=d) for d in range(len(rows)))
        reported = tuple(
            float(math.floor(r[3] * COMPLETENESS[min(as_of_day - d, len(LAG) - 1)] + 0.5)) for d, r in enumerate(rows)
        )
        history = Series(
            days,
            tuple(r[0] for r in rows),
            tuple(r[1] for r in rows),
            tuple(r[2] for r in rows),
            reported,
            tuple(c * 80.0 for c in reported),
        )
        account = f"act-{t.platform}-{t.currency}"
        ref = EntityRef(t.platform, account, Level.AD_SET, t.name)
        return AdSetView(
            ref=ref,
            campaign=EntityRef(t.platform, account, Level.CAMPAIGN, "c-" + t.name),
            name=t.name,
            status=Status.ACTIVE,
            currency=t.currency,
            budget_holder=ref,
            daily_budget=Money.of_major(Decimal(repr(round(self.budget[t.name] / t.fx, 2))), t.currency),
            fx_rate=t.fx,
            learning=learning,
            learning_limited=limited,
            learning_days=frozenset(days) if limited else frozenset(),
            history=history,
        )

    def snapshot(
        self, *, learning: frozenset[str] = frozenset(), limited: frozenset[str] = frozenset(), goal: Goal | None = None
    ) -> Snapshot:
        as_of_day = self.day - 1
        as_of = self.start + timedelta(days=as_of_day)
        return Snapshot(
            now=datetime.combine(as_of + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=6),
            as_of=as_of,
            cycle=self.day,
            reporting_currency="USD",
            goal=goal or Goal(total_daily_budget=self.total),
            ad_sets=tuple(
                self.view(t, as_of_day, learning=t.name in learning, limited=t.name in limited) for t in self.truths
            ),
            completeness=dict.fromkeys(Platform, COMPLETENESS),
            applied=tuple(self.applied),
        )

    def apply(self, proposals: list[Proposal], now: datetime) -> None:
        fx = {t.name: t.fx for t in self.truths}
        for pr in proposals:
            action = pr.action
            assert isinstance(action, SetBudget)
            name = action.target.entity_id
            self.budget[name] = float(action.new_budget.to_major()) * fx[name]
            self.applied.append(PastAction(action.target, str(action.kind), pr.policy, now))


def run(market: Market, days: int, seed: int, policy: BudgetPolicy | None = None) -> list[float]:
    """Let the policy manage the market for ``days``; each day's expected conversions / that day's optimum."""
    policy = policy or BudgetPolicy()
    rng = np.random.default_rng(seed)
    shares = []
    optimum: dict[tuple[float, ...], float] = {}
    for _ in range(days):
        snap = market.snapshot()
        market.apply(policy(snap, rng), snap.now)
        key = tuple(market.cpm(t, market.day) for t in market.truths)
        if key not in optimum:
            optimum[key] = market.optimum()
        shares.append(market.expected(market.budget) / optimum[key])
        market.step()
    return shares


# -- the simulated market: learning the allocation from a uniform start ------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moves_a_uniform_allocation_to_the_optimum(seed: int) -> None:
    market = Market(MARKET, 5000.0, seed)
    uniform = market.expected(market.budget) / market.optimum()
    assert uniform < 0.93  # the test is only worth something if uniform leaves a real gap
    shares = run(market, 30, seed)
    assert np.mean(shares[15:]) >= 0.97, [round(s, 3) for s in shares]
    assert np.mean(shares[15:]) > uniform + 0.6 * (1 - uniform)  # most of the headroom captured


def test_a_tracking_outage_moves_little_budget() -> None:
    """Meta loses 95 % of its attributed conversions for 3 days: compared with the same market (same noise)
    without the outage, at most 10 % of the total budget may leave Meta over the following week."""
    seed, first = 3, 14 + 12
    calm = Market(MARKET, 5000.0, seed)
    hit = Market(MARKET, 5000.0, seed, outage=(Platform.META, first, 3, 0.05))
    meta = [t.name for t in MARKET if t.platform is Platform.META]
    rng_calm, rng_hit = np.random.default_rng(seed), np.random.default_rng(seed)
    policy = BudgetPolicy()
    worst = 0.0
    for _ in range(12 + 3 + 7):
        for m, rng in ((calm, rng_calm), (hit, rng_hit)):
            snap = m.snapshot()
            m.apply(policy(snap, rng), snap.now)
            m.step()
        worst = max(worst, sum(calm.budget[n] for n in meta) - sum(hit.budget[n] for n in meta))
    assert worst <= 0.10 * 5000.0


def test_adapts_within_a_week_of_a_cpm_regime_shift() -> None:
    """X's CPM halves and TikTok's rises 30 %. A week later the fitted return of the X ad set at its budget
    matches the new market (it moved far from the old one), and the allocation never strayed from the moving
    optimum meanwhile (in Hill markets a CPM shift changes returns far more than the optimal split)."""
    seed, shift = 4, 14 + 16
    shifts = {(Platform.X, shift): 0.5, (Platform.TIKTOK, shift): 1.3}
    market = Market(MARKET, 5000.0, seed, cpm_shifts=shifts)
    run(market, 16, seed)
    after = run(market, 7, seed + 100)
    assert min(after) >= 0.95 and np.mean(after) >= 0.97
    snap = market.snapshot()
    props = BudgetPolicy(BudgetParams(dead_band=0.0))(snap, np.random.default_rng(seed))
    x1 = next(p for p in props if p.action.target.entity_id == "x1")
    t = MARKET[-1]
    budget = x1.evidence["budget_current"]

    def truth(day: int) -> float:
        return t.ctr * t.cvr * float(hill(budget * (1 - UNDER) / market.cpm(t, day), t.i_max, t.k, t.alpha))

    assert truth(market.day) / truth(shift - 1) > 1.3
    assert x1.evidence["expected_per_day_current"]["median"] == pytest.approx(truth(market.day), rel=0.2)


# -- fitting ----------------------------------------------------------------------------------------------------


def test_delivery_fit_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(7)
    i_max, k, alpha = 100_000.0, 800.0, 1.4
    spend = np.exp(rng.uniform(np.log(200), np.log(2400), 40))
    impressions = hill(spend * np.exp(-0.08 * rng.standard_normal(40)), i_max, k, alpha)
    grid = fit_delivery(np.log(spend), np.log(impressions), np.ones(40))
    post = DeliveryPosterior.of(grid, shape_prior(1.2, 0.45, 1.2))
    a, log_kappa, log_imax = post.sample(rng, 4000)
    for draws, truth in ((a, alpha), (np.exp(log_kappa), k), (np.exp(log_imax), i_max)):
        lo, mid, hi = np.quantile(draws, [0.05, 0.5, 0.95])
        assert lo <= truth <= hi
        assert abs(mid / truth - 1) < 0.15
    # and the marginal impression per unit of spend, what allocation needs, within 5 % at typical spend
    b = np.full(4000, 1000.0)
    fitted = np.median(curve_marginal(b, np.exp(log_imax), np.exp(log_kappa), a))
    true = curve_marginal(np.array([1000.0]), np.array([i_max]), np.array([k]), np.array([alpha]))[0]
    assert abs(fitted / true - 1) < 0.05


def test_delivery_fit_without_spend_variation_stays_on_the_prior() -> None:
    """A constant spend cannot identify the shape: the posterior spread of α stays near the prior's."""
    rng = np.random.default_rng(8)
    spend = np.full(20, 600.0)
    impressions = hill(spend * np.exp(-0.1 * rng.standard_normal(20)), 50_000, 700, 1.0)
    prior = shape_prior(1.2, 0.45, 1.2)
    a, _, _ = DeliveryPosterior.of(fit_delivery(np.log(spend), np.log(impressions), np.ones(20)), prior).sample(
        rng, 4000
    )
    assert np.std(np.log(a)) > 0.3


def test_rate_fit_is_lag_aware_and_measures_overdispersion() -> None:
    rng = np.random.default_rng(9)
    q, days = 2.5e-4, 60
    impressions = rng.uniform(40_000, 80_000, days)
    share = np.ones(days)
    share[-5:] = COMPLETENESS[:5][::-1]  # the last days are still being reported
    poisson = rng.poisson(q * impressions * share).astype(float)
    fit = fit_rate(poisson, impressions * share, np.ones(days), prior_mean=1e-4)
    assert abs(fit.mean / q - 1) < 0.05
    assert fit.dispersion < 1.3
    noisy = rng.poisson(q * impressions * share * np.exp(0.3 * rng.standard_normal(days))).astype(float)
    wide = fit_rate(noisy, impressions * share, np.ones(days), prior_mean=1e-4)
    assert wide.dispersion > 1.5
    assert np.std(wide.sample(rng, 4000)) > np.std(fit.sample(rng, 4000))  # the same data count as less


def test_rate_prior_pools_units_that_are_alike_and_not_those_that_differ() -> None:
    rng = np.random.default_rng(12)

    def posterior(q: float, events: float) -> RatePosterior:
        return RatePosterior(events, events / q, 1.0)

    alike = [posterior(2.5e-4 * float(np.exp(0.02 * rng.standard_normal())), 200) for _ in range(8)]
    mean, strength = rate_prior(alike, min_spread=0.15)
    assert mean == pytest.approx(2.5e-4, rel=0.05)
    assert strength == pytest.approx(1 / 0.15**2)  # as alike as the floor allows: pooled strongly
    differ = [posterior(2.5e-4 * float(np.exp(0.6 * rng.standard_normal())), 200) for _ in range(8)]
    _, weak = rate_prior(differ, min_spread=0.15)
    assert weak < 10  # a spread of ~0.6 in log rate: the prior is worth a few events only
    assert rate_prior(alike[:2], min_spread=0.15)[1] == 1.0  # too few units to estimate a spread


def test_cpm_level_follows_a_shift_within_a_week_and_ignores_a_blip() -> None:
    rng = np.random.default_rng(13)
    days = 40
    truth = np.where(np.arange(days) >= 30, np.log(0.5), 0.0)
    obs = truth + 0.05 * rng.standard_normal(days)
    obs[15] += 0.3  # one odd day
    level = local_level(obs, np.full(days, 0.05**2), drift=0.05)
    assert abs(level[-1] - np.log(0.5)) < 0.1  # ten days after the shift
    assert abs(level[15]) < 0.15
    on_day_7 = local_level(obs[:37], np.full(37, 0.05**2), drift=0.05)[-1]
    assert abs(on_day_7 - np.log(0.5)) < 0.15


# -- the allocator ----------------------------------------------------------------------------------------------


def test_allocator_matches_the_closed_form_for_alpha_one() -> None:
    """For f = V b/(b + K): f' = V K/(b + K)² = λ, so B = sqrt(V K / λ) − K where positive."""
    rng = np.random.default_rng(10)
    v, k = rng.uniform(5, 50, 6), rng.uniform(200, 2000, 6)
    a = np.ones(6)
    total = 4000.0
    alloc = allocate(total, v, k, a, np.zeros(6), np.full(6, total))
    closed = np.maximum(np.sqrt(v * k / alloc.lam) - k, 0.0)
    assert np.allclose(alloc.budgets, closed, rtol=1e-4, atol=1e-2)
    assert alloc.budgets.sum() == pytest.approx(total, rel=1e-9)
    on = alloc.budgets > 0
    assert np.allclose(curve_marginal(alloc.budgets[on], v[on], k[on], a[on]), alloc.lam, rtol=1e-5)


def test_allocator_respects_bounds_with_kkt_conditions() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        n = int(rng.integers(2, 8))
        v, k, a = rng.uniform(2, 40, n), rng.uniform(100, 3000, n), rng.uniform(0.6, 1.0, n)
        lo = rng.uniform(0, 300, n)
        hi = lo + rng.uniform(50, 2000, n)
        total = float(rng.uniform(lo.sum(), hi.sum()))
        alloc = allocate(total, v, k, a, lo, hi)
        b, m = alloc.budgets, curve_marginal(alloc.budgets, v, k, a)
        assert np.all(b >= lo - 1e-9) and np.all(b <= hi + 1e-9)
        assert b.sum() == pytest.approx(total, rel=1e-7)
        interior = (b > lo + 1e-6) & (b < hi - 1e-6)
        assert np.allclose(m[interior], alloc.lam, rtol=1e-4)
        assert np.all(m[b >= hi - 1e-6] >= alloc.lam * (1 - 1e-4))
        assert np.all(m[b <= lo + 1e-6] <= alloc.lam * (1 + 1e-4))
    # infeasible bounds: everything at the binding bound
    assert np.allclose(allocate(10.0, v, k, a, lo + 100, hi + 100).budgets, np.minimum(lo + 100, hi + 100))
    assert np.allclose(allocate(1e9, v, k, a, lo, hi).budgets, hi)


@pytest.mark.parametrize("total", [300.0, 900.0, 2000.0, 4000.0])
def test_allocator_handles_s_curves_like_brute_force(total: float) -> None:
    """A steep S-curve (α = 3) beside concave curves: off, or on its efficient branch, whichever nets more."""
    v = np.array([30.0, 12.0, 8.0])
    k = np.array([900.0, 500.0, 700.0])
    a = np.array([3.0, 1.0, 0.8])
    alloc = allocate(total, v, k, a, np.zeros(3), np.full(3, total))
    got = float(curve_value(alloc.budgets, v, k, a).sum())
    steps = 400
    grid = np.arange(steps + 1) * total / steps
    b0, b1 = np.meshgrid(grid, grid, indexing="ij")
    b2 = total - b0 - b1
    ok = b2 >= 0
    best = curve_value(b0[ok], v[0], k[0], a[0]) + curve_value(b1[ok], v[1], k[1], a[1])
    best = float(np.max(best + curve_value(b2[ok], v[2], k[2], a[2])))
    assert got >= best * (1 - 1e-3)
    assert alloc.budgets.sum() == pytest.approx(total, rel=1e-7)


@pytest.mark.parametrize("total", [600.0, 1500.0, 3000.0])
@pytest.mark.parametrize("gates", [(0.0, 700.0, 400.0), (900.0, np.inf, 300.0), (2500.0, 800.0, 0.0)])
def test_gated_allocator_finds_which_units_to_lift_out_of_learning(total: float, gates: tuple[float, ...]) -> None:
    """Below its gate a unit earns 80 % of its curve (learning); the allocation must match brute force."""
    v = np.array([30.0, 14.0, 9.0])
    k = np.array([900.0, 500.0, 700.0])
    a = np.array([1.2, 1.0, 2.0])
    gate = np.array(gates)
    alloc, lifted = allocate_gated(total, v, k, a, np.zeros(3), np.full(3, total), gate, 0.8)

    def worth(b: np.ndarray, j: int) -> np.ndarray:
        return np.asarray(curve_value(b, v[j], k[j], a[j]) * np.where(b >= gate[j], 1.0, 0.8))

    got = sum(float(worth(alloc.budgets[j : j + 1], j)[0]) for j in range(3))
    steps = 300
    grid = np.arange(steps + 1) * total / steps
    b0, b1 = np.meshgrid(grid, grid, indexing="ij")
    b2 = total - b0 - b1
    ok = b2 >= -1e-9
    best = float(np.max(worth(b0[ok], 0) + worth(b1[ok], 1) + worth(np.maximum(b2[ok], 0), 2)))
    assert got >= best * (1 - 5e-3)
    assert alloc.budgets.sum() == pytest.approx(total, rel=1e-6)
    assert np.all(alloc.budgets[lifted] >= gate[lifted] * (1 - 1e-9))
    assert not np.any(lifted & (gate == 0))  # a unit past learning is not "lifted"


@pytest.mark.parametrize(("commit", "lifted_expected"), [(None, False), (10.0, True), (30.0, False)])
def test_a_lift_out_of_learning_is_valued_as_an_investment(commit: float | None, lifted_expected: bool) -> None:
    """A learning S-curve unit whose gate (1,500) lies far above its best budget: held for good, the lift is
    not worth it; as an investment (10 days at the gate, then its full curve free for the rest of 28) it is,
    and the target holds the gate; a commitment beyond the horizon is held for good again. The choice is the
    better of the two values computed by hand."""
    v, k, a = np.array([30.0, 12.0]), np.array([900.0, 450.0]), np.array([1.0, 2.0])
    lo, hi, gate, total = np.zeros(2), np.full(2, 2000.0), np.array([0.0, 1500.0]), 2000.0
    plan = None if commit is None else np.array([7.0, commit])
    alloc, lifted = allocate_gated(total, v, k, a, lo, hi, gate, 0.8, plan, 28.0 if plan is not None else math.inf)
    assert bool(lifted[1]) is lifted_expected

    def worth(b: np.ndarray, scale: np.ndarray) -> float:
        return float(curve_value(b, v * scale, k, a).sum())

    learning, full = np.array([1.0, 0.8]), np.ones(2)
    stay = worth(allocate(total, v * learning, k, a, lo, hi).budgets, learning)
    gated = worth(allocate(total, v, k, a, np.maximum(lo, gate), hi).budgets, full)
    free = worth(allocate(total, v, k, a, lo, hi).budgets, full)
    share = 1.0 if commit is None or commit >= 28 else commit / 28
    assert (share * gated + (1 - share) * free > stay) is lifted_expected
    if lifted_expected:
        assert alloc.budgets[1] == pytest.approx(1500.0)  # while it climbs, the target holds the gate


def _gated_unit(spend_by_age: dict[int, float], budget: float, *, learning: bool = False) -> _Unit:
    """A unit on its learning gate's way: limited (the default), or still learning after a recent reset."""
    ages = np.array(sorted(spend_by_age, reverse=True), dtype=np.float64)
    spend = np.array([spend_by_age[int(x)] for x in ages])
    zeros = np.zeros(len(ages))
    ref = EntityRef(Platform.TIKTOK, "7100", Level.AD_SET, "t3")
    view = AdSetView(
        ref,
        EntityRef(Platform.TIKTOK, "7100", Level.CAMPAIGN, "c3"),
        "t3",
        Status.ACTIVE,
        "USD",
        ref,
        Money("USD", round(budget * 100)),
        1.0,
        learning=learning,
        learning_limited=not learning,
    )
    return _Unit(
        ref,
        (view,),
        budget,
        ages,
        spend,
        zeros,
        zeros,
        zeros,
        zeros,
        np.ones(len(ages)),
        np.ones(len(ages)),
    )


@pytest.mark.parametrize(
    ("served_days", "start_below", "expected", "expected_learning"),
    [
        (0, 0, 7.0, 7.0),  # at its gate from today: a whole window
        (4, 0, 3.0, 7.0),  # four days at the gate are bought: three left (none if its phase just restarted)
        (7, 0, 1.0, 7.0),  # a window's worth already (it leaves with today's events)
        (0, 3, 9.0, 9.0),  # three steps below: the climb's last day is at the gate and counts, so 2 + 7
    ],
)
def test_the_days_a_lift_still_costs_count_the_events_already_had(
    served_days: int, start_below: int, expected: float, expected_learning: float
) -> None:
    """A lift's commitment is the days until the last window's events reach the threshold, on the draw's
    curve: days already served at the gate are sunk, and the climb's own days count."""
    p = BudgetParams()
    v, k, a = 20.0, 1000.0, 1.0
    gate = float(_gates(1.0, False, np.array([v]), np.array([k]), np.array([a]), p)[0])
    # the gate is where a window at the learning factor makes exactly the events needed
    assert p.learning_window_days * p.learning_factor * float(curve_value(np.array([gate]), v, k, a)[0]) == (
        pytest.approx(p.learning_events)
    )
    cur = gate / (1 + p.max_step) ** start_below
    past = dict.fromkeys(range(served_days), gate * 0.9)  # spend at a delivery ratio of 0.9 is the gate
    past.update(dict.fromkeys(range(served_days, 20), 1.0))  # long before: almost nothing
    unit = _gated_unit(past, cur)
    assert _days_to_leave(unit, (v, k, a), gate, cur, 1.0, 0.9, p) == expected
    assert _days_to_leave(unit, (v, k, a), math.inf, cur, 1.0, 0.9, p) == 0.0  # cannot: no commitment
    # Still learning, its phase restarted within the window on a day not known: nothing served counts.
    fresh = _gated_unit(past, cur, learning=True)
    assert _days_to_leave(fresh, (v, k, a), gate, cur, 1.0, 0.9, p) == expected_learning


@pytest.mark.parametrize("horizon", [28.0, None])
def test_a_lift_says_what_it_costs_and_why_it_pays(horizon: float | None) -> None:
    snap = Market(MARKET, 5000.0, 7).snapshot()
    phase = {"state": "limited", "budget_to_end_it": 1200.0, "target_ends_it": True, "lift_horizon_days": horizon}
    reason = _reason(snap, {"change_pct": 19.0, "budget_target": 1500.0, "learning": phase}, 0.01)
    assert reason.startswith("Raise the daily budget +19% towards 1,500.00 USD")
    assert "from about 1,200.00 a day" in reason and "limited now" in reason
    assert reason.endswith("worth more than the same money spent elsewhere")
    assert ("over the next 28 days" in reason) == (horizon is not None)


def test_held_draws_give_every_cycle_of_a_week_the_same_target() -> None:
    """With draws held (the default, a week) the targets do not depend on the cycle's own random numbers
    (only the evidence's intervals do); redrawn every cycle they do. The held numbers are keyed by the week
    and the budget holder."""
    snap = Market(MARKET, 5000.0, 7).snapshot()

    def budgets(params: BudgetParams, seed: int) -> dict[str, int]:
        props = BudgetPolicy(params)(snap, np.random.default_rng(seed))
        return {str(p.action.target): p.action.new_budget.minor for p in props if isinstance(p.action, SetBudget)}

    held = [budgets(BudgetParams(), seed) for seed in range(4)]
    assert held[0] and all(h == held[0] for h in held)
    daily = [budgets(BudgetParams(draw_hold_days=1), seed) for seed in range(4)]
    assert any(d != daily[0] for d in daily)

    def first(day: date, holder: EntityRef, salt: int = 0) -> float:
        return float(_held(replace(snap, as_of=day), holder, BudgetParams(draw_seed=salt)).random())

    a, b = (v.budget_holder for v in snap.ad_sets[:2])
    monday = date(2026, 6, 1) - timedelta(days=date(2026, 6, 1).toordinal() % 7)  # a block starts
    assert len({first(monday + timedelta(days=i), a) for i in range(7)}) == 1
    assert first(monday + timedelta(days=7), a) != first(monday, a)
    assert first(monday, b) != first(monday, a) and first(monday, a, salt=1) != first(monday, a)


@pytest.mark.parametrize("factor", [1.0, 0.8, 0.5])
def test_p_on_judges_a_learning_unit_on_the_curve_it_earns(factor: float) -> None:
    """A learning-limited S-curve unit (it can never reach its gate) earns ``factor`` of its curve: with a
    certain posterior, the evidence's P(on) agrees with the target, which turns it off at half its rate."""
    v, k, a = np.array([40.0, 5.0]), np.array([1500.0, 300.0]), np.array([1.0, 2.0])
    post = [tuple(np.full(50, x) for x in (v[j], k[j], a[j])) for j in range(2)]  # a certain posterior
    lo, hi = np.full(2, 1.0), np.full(2, 2000.0)
    target, _, p_on, lifted = _target(2000.0, (v, k, a), post, lo, hi, np.array([0.0, np.inf]), factor)
    on = target[1] > lo[1] * (1 + 1e-6) + 1e-9
    assert on == (factor > 0.5)
    assert p_on[1] == (1.0 if on else 0.0)
    assert not lifted.any()


@pytest.mark.parametrize("keep_on", [None, 0.5, 0.9])
def test_an_unlikely_draw_does_not_switch_off_a_unit_the_posterior_puts_on(keep_on: float | None) -> None:
    """The held draw says the S-curve unit is worth a fifth of what 80 % of its posterior says, which turns
    it off. With ``keep_on`` at most 0.8 the posterior overrules the draw: the target is the median of the
    posterior's on-branch budgets, within the bounds. A draw that turns a unit *on* is never overruled."""
    k, a = np.array([1500.0, 600.0]), np.array([1.0, 1.5])
    lo, hi, gate = np.full(2, 1.0), np.full(2, 2000.0), np.zeros(2)
    good, bad = 12.0, 2.4
    post_v = np.where(np.arange(50) < 40, good, bad)  # P(on) = 0.8 at the λ the first unit sets
    post = [tuple(np.full(50, x) for x in (40.0, k[0], a[0])), (post_v, np.full(50, k[1]), np.full(50, a[1]))]
    draw = (np.array([40.0, bad]), k, a)
    target, _, p_on, _ = _target(2000.0, draw, post, lo, hi, gate, 1.0, keep_on=keep_on)
    assert p_on[1] == pytest.approx(0.8)
    if keep_on is None or keep_on > 0.8:
        assert target[1] == pytest.approx(lo[1])  # the draw decides: off
    else:
        _, lam, _, _ = _target(2000.0, draw, post, lo, hi, gate, 1.0)  # the λ at which the draw turned it off
        on_budget = float(best_response(lam, np.array([good]), k[1:], a[1:], lo[1:], hi[1:])[0])
        assert target[1] == pytest.approx(on_budget) and lo[1] < target[1] <= hi[1]
        # the first unit gets the rest of the room, not the money the draw meant to free
        assert target.sum() == pytest.approx(2000.0, rel=1e-6)
    # The other way round: a draw that turns the unit on is followed even though most of the posterior says off.
    post_off = [post[0], (np.where(np.arange(50) < 10, good, bad), np.full(50, k[1]), np.full(50, a[1]))]
    target, _, p_on, _ = _target(2000.0, (np.array([40.0, good]), k, a), post_off, lo, hi, gate, 1.0, keep_on=keep_on)
    assert p_on[1] == pytest.approx(0.2) and target[1] > lo[1]


def test_a_kept_unit_that_does_not_fit_the_room_leaves_the_draw_to_decide() -> None:
    """Keeping the unit on would need more than the room left beside the other unit's lower bound: the
    draw's allocation stands (off), rather than targets that sum past the total."""
    k, a = np.array([1500.0, 600.0]), np.array([1.0, 1.5])
    post = [tuple(np.full(50, x) for x in (40.0, k[0], a[0])), tuple(np.full(50, x) for x in (12.0, k[1], a[1]))]
    lo, hi, gate = np.array([1.0, 1.0]), np.full(2, 2000.0), np.zeros(2)
    draw = (np.array([40.0, 2.4]), k, a)
    kept, _, p_on, _ = _target(2000.0, draw, post, lo, hi, gate, 1.0, keep_on=0.5)
    assert p_on[1] == 1.0 and kept[1] > lo[1]  # it fits: kept on
    crowded = np.array([1900.0, 1.0])  # the first unit's floor leaves 100 for the second
    target, _, _, _ = _target(2000.0, draw, post, crowded, hi, gate, 1.0, keep_on=0.5)
    assert kept[1] > 100.0 and target[1] == pytest.approx(1.0) and target.sum() <= 2000.0 + 1e-6


def test_keep_on_is_validated() -> None:
    with pytest.raises(ValueError, match="keep_on"):
        BudgetParams(keep_on=0.0)


# -- moves ------------------------------------------------------------------------------------------------------


def test_moves_cap_each_step_and_skip_small_changes() -> None:
    p = BudgetParams()
    cur = np.array([100.0, 100.0, 100.0, 100.0])
    new = _moves(cur, np.array([200.0, 50.0, 101.0, 149.0]), 400.0, p)
    assert new[2] == 100.0  # a 1 % change is not worth a write
    assert new[1] == pytest.approx(100 * (1 - p.max_step))  # the cut is capped
    assert np.all(np.abs(new / cur - 1) <= p.max_step + 1e-12)
    assert new.sum() == pytest.approx(400.0)  # raises scaled to what the cut freed
    assert new[0] > 100 and new[3] > 100


def test_moves_fund_a_raise_from_small_cuts() -> None:
    """Every unit wants a cut under the dead band and one a big raise: the raise is funded by a minimum cut."""
    p = BudgetParams()
    cur = np.full(5, 100.0)
    target = np.array([180.0, 98.0, 98.0, 97.5, 98.0])
    new = _moves(cur, target, 500.0, p)
    assert new[0] > 100.0 + p.dead_band * 100
    assert new.sum() <= 500.0 + 1e-9
    moved = np.abs(new - cur) > 1e-9
    assert np.all(np.abs(new[moved] / cur[moved] - 1) >= p.dead_band - 1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(5.0, 5000.0), min_size=1, max_size=8).flatmap(
        lambda cur: st.tuples(
            st.just(cur),
            st.lists(st.floats(0.0, 8000.0), min_size=len(cur), max_size=len(cur)),
            st.floats(0.5, 1.5),
        )
    )
)
def test_moves_never_break_the_cap_the_dead_band_or_the_room(case: tuple[list[float], list[float], float]) -> None:
    cur_l, target_l, room_factor = case
    p = BudgetParams()
    cur, target = np.array(cur_l), np.array(target_l)
    room = float(cur.sum()) * room_factor
    new = _moves(cur, target, room, p)
    change = np.abs(new / cur - 1)
    assert np.all(change <= p.max_step + 1e-9)
    assert np.all((change < 1e-12) | (change >= p.dead_band - 1e-9))
    if np.any(new > cur + 1e-9):
        assert new.sum() <= room + 1e-6
    moved = np.abs(new - cur) > 1e-9
    assert np.all(np.sign(new - cur)[moved] == np.sign(target - cur)[moved])  # always towards the target


def test_a_learning_unit_moves_in_steps_that_keep_its_phase_and_a_cooling_unit_is_held() -> None:
    """A unit in its learning phase moves like the others, by at most the step (19 %): under the platforms'
    threshold for a significant edit, so the guardrails' learning protection lets it through; with
    ``move_learning`` off it is held. A unit changed within the cooldown is held."""
    market = Market(MARKET, 5000.0, 5)
    snap = market.snapshot(learning=frozenset({"m1"}))
    props = BudgetPolicy()(snap, np.random.default_rng(5))
    moved = [p.action for p in props if p.action.target.entity_id == "m1"]
    assert len(moved) == 1 and isinstance(moved[0], SetBudget)
    view = next(v for v in snap.ad_sets if v.name == "m1")
    assert view.learning and view.daily_budget is not None
    assert abs(moved[0].new_budget.minor / view.daily_budget.minor - 1) <= BudgetParams().max_step + 1e-6
    ctx = GuardContext(
        now=snap.now,
        today=snap.as_of,
        fx=FxTable.build("USD", []),
        budgets={view.budget_holder: view.daily_budget},
        learning=frozenset({view.budget_holder}),
    )
    assert isinstance(guard(moved, GuardrailConfig(budget_floor=None), ctx)[0], Approved)
    held = BudgetPolicy(BudgetParams(move_learning=False))(snap, np.random.default_rng(5))
    assert held and all(p.action.target.entity_id != "m1" for p in held)
    cooling = next(p.action.target for p in props)
    market.applied.append(PastAction(cooling, "set_budget", "budget", snap.now - timedelta(hours=3)))
    again = BudgetPolicy()(market.snapshot(), np.random.default_rng(5))
    assert all(p.action.target != cooling for p in again)


def test_a_limited_unit_is_moved_and_its_rate_read_as_the_learned_rate() -> None:
    """Days spent learning convert at the learning factor: the fitted rate is theirs divided by it, and a
    limited unit (stuck in learning, unlike one still learning) may be moved."""
    market = Market(MARKET, 5000.0, 8)
    p = BudgetParams()
    plain = _fit(_units(market.snapshot(), p), p)
    limited_units = _units(market.snapshot(limited=frozenset({"m1"})), p)
    read = _fit(limited_units, p)
    i = next(j for j, u in enumerate(limited_units) if u.holder.entity_id == "m1")
    assert not limited_units[i].hold and not limited_units[i].learned
    before, after = plain[i], read[i]
    assert before is not None and after is not None
    # Up by the learning factor's inverse, less what pooling with the other units shrinks it by.
    assert 1.1 < after.rate.mean / before.rate.mean <= 1.01 / p.learning_factor
    props = BudgetPolicy()(market.snapshot(limited=frozenset({"m1"})), np.random.default_rng(8))
    ev = next(pr.evidence for pr in props if pr.action.target.entity_id == "m1")
    assert ev["learning"]["state"] == "limited"
    assert ev["learning"]["budget_to_end_it"] is None or ev["learning"]["budget_to_end_it"] > 0


def test_rounding_to_whole_minor_units_never_carries_a_step_past_the_cap() -> None:
    """8 JPY raised 19 % is 9.52 JPY; rounded half-even that is 10 (+25 %, which the guardrail refuses):
    the step rounds towards the current budget instead. Found by the property test below."""
    p = BudgetParams()
    assert _within_step(Money("JPY", 10), Money("JPY", 8), p) == Money("JPY", 9)
    assert _within_step(Money("JPY", 6), Money("JPY", 8), p) == Money("JPY", 7)
    assert _within_step(Money("JPY", 3), Money("JPY", 3), p) == Money("JPY", 3)  # no whole step: no move
    assert _within_step(Money("USD", 11_900), Money("USD", 10_000), p) == Money("USD", 11_900)  # within: kept
    assert _within_step(Money("USD", 500), None, p) == Money("USD", 500)


def test_total_is_never_exceeded_and_a_smaller_goal_only_cuts() -> None:
    market = Market(MARKET, 5000.0, 6)
    snap = market.snapshot(goal=Goal(total_daily_budget=3000.0))
    props = BudgetPolicy()(snap, np.random.default_rng(6))
    assert props and all(p.evidence["change_pct"] < 0 for p in props)
    assert all(p.evidence["change_pct"] >= -19.0 - 1e-6 for p in props)
    run(market, 5, 6)
    assert sum(market.budget.values()) <= 5000.0 + 1e-6


def test_same_seed_same_proposals() -> None:
    snap = Market(MARKET, 5000.0, 7).snapshot()
    first = BudgetPolicy()(snap, np.random.default_rng(42))
    second = BudgetPolicy()(snap, np.random.default_rng(42))
    assert first == second
    assert first


def test_fx_budgets_are_exact_money_in_the_account_currency() -> None:
    market = Market(MARKET, 5000.0, 8)
    snap = market.snapshot()
    props = BudgetPolicy()(snap, np.random.default_rng(8))
    views = {v.budget_holder: v for v in snap.ad_sets}
    eur = [p for p in props if views[p.action.target].currency == "EUR"]
    assert eur, "the EUR units are moved too"
    for p in props:
        action, view = p.action, views[p.action.target]
        assert isinstance(action, SetBudget)
        assert action.new_budget.currency == view.currency
        assert action.new_budget == view.budget_from_reporting(p.evidence["budget_new"])
        assert p.evidence["budget_current"] == pytest.approx(view.budget_reporting, abs=0.01)


def test_two_currencies_with_the_same_curve_get_the_same_reporting_budget() -> None:
    """The same market in USD and in EUR (curves scaled by the rate) is allocated alike in the reporting
    currency: the allocation works on reporting money, not on account-currency numbers."""
    usd = Truth("u", Platform.META, 80_000, 700, 1.1)
    eur = Truth("e", Platform.TIKTOK, 80_000, 700 / 1.25, 1.1, currency="EUR", fx=1.25)
    other = Truth("o", Platform.X, 40_000, 300, 1.0)
    market = Market((usd, eur, other), 2000.0, 9)
    run(market, 25, 9)
    assert market.budget["u"] == pytest.approx(market.budget["e"], rel=0.3)
    assert market.budget["o"] < min(market.budget["u"], market.budget["e"])


def test_evidence_says_what_a_marketer_needs() -> None:
    snap = Market(MARKET, 5000.0, 10).snapshot()
    props = BudgetPolicy()(snap, np.random.default_rng(10))
    assert props
    for p in props:
        ev = p.evidence
        for key in ("marginal_return_current", "marginal_return_new", "expected_delta_per_day"):
            assert ev[key]["low"] <= ev[key]["median"] <= ev[key]["high"]
        assert ev["lambda"] > 0
        assert ev["recent_7d"]["spend"] > 0 and ev["recent_7d"]["lag_adjusted"] >= ev["recent_7d"]["reported"]
        assert "conversions" in p.expected_impact and "interval" in p.expected_impact
        assert "marginal CPA" in p.action.reason and p.policy == "budget"
        raise_ = ev["budget_new"] > ev["budget_current"]
        assert (ev["expected_delta_per_day"]["median"] > 0) == raise_


def test_value_goal_uses_value() -> None:
    market = Market(MARKET, 5000.0, 11)
    snap = market.snapshot(goal=Goal(objective=Objective.VALUE, total_daily_budget=5000.0))
    props = BudgetPolicy()(snap, np.random.default_rng(11))
    assert props and all("conversion value" in p.expected_impact for p in props)
    assert all("marginal ROAS" in p.action.reason for p in props)
    assert all(p.evidence["objective"] == "value" for p in props)


# -- property: no proposal ever breaks the step cap, the total or a guardrail --------------------------------------

CURRENCIES = (("USD", 1.0), ("EUR", 1.08), ("JPY", 0.0067))


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[Snapshot, int]:
    n = draw(st.integers(1, 5))
    as_of = date(2026, 5, 1)
    views = []
    for j in range(n):
        platform = draw(st.sampled_from(list(Platform)))
        currency, fx = draw(st.sampled_from(CURRENCIES))
        account = f"acc{currency}{platform}"
        shared = j > 0 and draw(st.booleans()) and views[-1].platform is platform and views[-1].currency == currency
        holder = views[-1].budget_holder if shared else EntityRef(platform, account, Level.AD_SET, f"s{j}")
        budget = views[-1].daily_budget if shared else Money.of_major(draw(st.integers(5, 3000)), currency)
        assert budget is not None
        days = draw(st.integers(0, 20))
        base = float(budget.to_major()) * fx * draw(st.floats(0.3, 1.0))
        spend = [base * draw(st.floats(0.7, 1.3)) for _ in range(days)]
        impressions = [int(s * draw(st.floats(0.0, 200.0))) for s in spend]
        clicks = [int(i * draw(st.floats(0.0, 0.03))) for i in impressions]
        conversions = [float(int(c * draw(st.floats(0.0, 0.1)))) for c in clicks]
        day_list = tuple(as_of - timedelta(days=days - 1 - d) for d in range(days))
        ref = EntityRef(platform, account, Level.AD_SET, f"s{j}")
        views.append(
            AdSetView(
                ref=ref,
                campaign=EntityRef(platform, account, Level.CAMPAIGN, f"c{j}"),
                name=f"s{j}",
                status=draw(st.sampled_from([Status.ACTIVE, Status.ACTIVE, Status.ACTIVE, Status.PAUSED])),
                currency=currency,
                budget_holder=holder,
                daily_budget=budget,
                fx_rate=fx,
                learning=draw(st.integers(0, 5)) == 0,
                history=Series(
                    day_list,
                    tuple(spend),
                    tuple(impressions),
                    tuple(clicks),
                    tuple(conversions),
                    tuple(c * 50 for c in conversions),
                ),
            )
        )
    now = datetime(2026, 5, 2, 6, tzinfo=UTC)
    applied = tuple(
        PastAction(v.budget_holder, "set_budget", "budget", now - timedelta(hours=draw(st.integers(1, 40))))
        for v in views
        if draw(st.integers(0, 3)) == 0
    )
    goal_total = draw(st.one_of(st.none(), st.floats(50.0, 20_000.0)))
    snap = Snapshot(
        now=now,
        as_of=as_of,
        cycle=3,
        reporting_currency="USD",
        goal=Goal(total_daily_budget=goal_total),
        ad_sets=tuple(views),
        completeness=dict.fromkeys(Platform, COMPLETENESS),
        applied=applied,
    )
    return snap, draw(st.integers(0, 2**31))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_no_proposal_exceeds_the_step_cap_or_the_total(case: tuple[Snapshot, int]) -> None:
    snap, seed = case
    params = BudgetParams()
    props = BudgetPolicy(params)(snap, np.random.default_rng(seed))
    active = {v.budget_holder: v for v in snap.active_ad_sets() if v.daily_budget is not None}
    targets = [p.action.target for p in props]
    assert len(set(targets)) == len(targets)
    after = {h: v.budget_reporting for h, v in active.items()}
    raised = False
    for p in props:
        action = p.action
        assert isinstance(action, SetBudget)
        view = active[action.target]
        old = view.daily_budget
        assert old is not None and action.new_budget.currency == old.currency
        assert abs(action.new_budget.minor - old.minor) <= params.max_step * old.minor + 1
        assert not any(a.target == action.target and a.at > snap.now - timedelta(hours=20) for a in snap.applied)
        after[action.target] = float(action.new_budget.to_major()) * view.fx_rate
        raised |= action.new_budget.minor > old.minor
    if raised:
        assert math.fsum(after.values()) <= snap.total_budget() + 1e-9
    # and the guardrails, configured with the same total as a cap, approve every proposal in order
    fx = FxTable.build("USD", [FxRate(date(2026, 1, 1), c, "USD", Decimal(repr(r))) for c, r in CURRENCIES[1:]])
    ctx = GuardContext(
        now=snap.now,
        today=snap.as_of,
        fx=fx,
        budgets={h: v.daily_budget for h, v in active.items() if v.daily_budget is not None},
        learning=frozenset(v.budget_holder for v in snap.active_ad_sets() if v.learning),
        applied=[Change(a.target, a.at, a.kind) for a in snap.applied],
    )
    cap = Decimal(repr(snap.total_budget())) if raised else None
    verdicts = guard([p.action for p in props], GuardrailConfig(total_daily_cap=cap, budget_floor=None), ctx)
    assert all(isinstance(v, Approved) for v in verdicts), verdicts
