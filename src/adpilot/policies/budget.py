"""Cross-platform budget allocation: equal marginal return across budget holders, learned online.

Each *unit* is a budget holder (an ad set, or a campaign whose budget its ad sets share) with its summed
history. Its daily return (conversions, or value for a VALUE goal) is a Hill curve of its budget, fitted as
delivery × return per impression (``adpilot.policies.curves``):

* delivery, impressions vs spend normalized by the platform's CPM level, carries the curve's shape; the shape
  posterior is pooled across units (a leave-one-out empirical-Bayes prior on α) because a unit whose spend
  moved only ±20 % cannot identify it alone;
* the platform CPM level is a random walk estimated from the units' common residuals, so a CPM regime shift
  moves the curves within days while their shape, learnt in normalized spend, is kept;
* return per impression is a Gamma posterior over recent days (half-life ``rate_half_life_days``), with
  each day's exposure multiplied by its expected reported share (recent days are censored, not bad), days
  whose conversions are implausibly low for their clicks (tracking outages) down-weighted by a Tukey
  biweight on the platform's and the unit's own z-scores, and an empirical-Bayes prior across units (units
  alike borrow strength, units that differ keep their own rate).

**Exploration: Thompson sampling on curves.** Each unit has one curve drawn from its posterior (held for a week,
below) and moves towards the allocation that is optimal for the draw. Optimism bonuses need a bonus scale that is
hard to set for a curve (it differs per parameter and per unit), while a posterior draw explores as much as the
uncertainty warrants: a unit whose elasticity is unknown sees its budget moved both ways, which is the spend
variation that identifies the curve; once it is known, draws agree and moves stop. Sampling is also robust to
delayed feedback, unlike optimism (market-science §1.1). Draws come from the posterior reshaped to
``posterior_scale`` of its spread (Chapelle & Li: α < 1 usually lowered finite-horizon regret); evidence quotes
the honest posterior.

**Held draws.** A budget moves at most ``max_step`` a day, so a draw's target takes days to reach. Redrawn every
cycle, a unit whose draws disagree about its side (an S-curve unit that is either off or on its efficient branch,
a learning unit that is either lifted out of learning or not) walks up and down at random and spends its days in
between: in the trough, the worst place on either view. So a unit's draw is held for ``draw_hold_days`` (a week,
the learning window: a plan's climb and the window it must then hold): the random numbers are keyed by the week
and the unit, and the posterior they map through is updated every cycle.

**Leaving learning is an investment.** An ad set that has had its events in a window stays out of learning
whatever its budget after, unless an edit resets it (and moves stay under the reset threshold). So a lift over
the learning gate is valued as the climb there and a learning window at the gate, then the full curve at the
budget that suits it for the rest of ``lift_horizon_days``, not as holding the gate for good, which
undervalues a unit whose gate lies far above its best budget (``curves.allocate_gated``).

**Moves.** Each unit steps towards its long-run target (the equal-marginal allocation for the draw, within the
floor and ceiling), by at most ``max_step``; steps under ``dead_band`` are not made. Raises and cuts are
balanced so the budgets sum to the total: a raise nothing funds is shrunk or dropped, never the reverse, so
the sum never exceeds the total (cuts may always be proposed). Units in cooldown or with too little history
are held. A unit in its learning phase is moved like any other (unless ``move_learning`` is off): a step
under the platforms' ~20 % threshold for a significant edit leaves the phase running (the guardrails refuse
larger ones there), and holding it instead froze the budget of every ad set whose creatives change every
week or two, for weeks on end (the full stack, docs/benchmarks.md "Session 11"). Cuts come first in the
returned list, so a guardrail judging in order sees the room they free.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from adpilot.domain.actions import ActionKind, SetBudget
from adpilot.domain.entities import LEARNING_EVENTS, LEARNING_WINDOW_DAYS
from adpilot.domain.ids import EntityRef, Platform
from adpilot.domain.money import Money, currency_exponent
from adpilot.domain.snapshot import AdSetView, Objective, Proposal, Snapshot, decision_key
from adpilot.policies.curves import (
    DeliveryPosterior,
    FloatArray,
    RatePosterior,
    allocate_gated,
    alpha_evidence,
    best_response,
    budget_returning,
    curve_marginal,
    curve_value,
    fit_delivery,
    fit_rate,
    local_level,
    pooled_alpha_priors,
    rate_prior,
    shape_prior,
)


@dataclass(frozen=True, slots=True)
class BudgetParams:
    """Tunables of the budget policy; defaults from market-science.md (§2, §4) and the guardrails."""

    max_step: float = 0.19  # per-change cap, under the guardrail's 20 % so proposals pass
    dead_band: float = 0.03  # smaller changes are not worth a write (and churn)
    floor: float = 1.0  # per-unit daily budget floor, reporting currency
    ceiling: float | None = None  # per-unit daily budget ceiling, reporting currency
    cooldown_hours: float = 20.0  # no change for a unit the agent changed this recently
    history_days: int = 56
    min_days: int = 3  # days with delivery before a unit is moved
    curve_half_life_days: float = 21.0  # recency of the delivery curve (shape and scale)
    rate_half_life_days: float = 10.0  # recency of return per impression (fatigue, CVR drift)
    min_reported_share: float = 0.2  # days reported less than this are too censored to use
    cpm_drift: float = 0.05  # daily sd of a platform's log CPM level (random walk)
    rate_min_spread: float = 0.15  # the least spread of return per impression across units (pooling)
    pool_strength: float = 0.5  # weight of the other units' evidence on the shape α
    alpha_prior_median: float = 1.2  # Hill shape: market-science §6.2 (0.8-2.0), Robyn bounds 0.5-3
    alpha_prior_sd_log: float = 0.45
    saturation_prior_sd: float = 1.2  # sd of logit(saturation at the typical spend); 30-70 % is ±0.85
    cvr_day_noise: float = 0.15  # day-level CVR overdispersion (σ 0.10-0.20), for outage z-scores
    outage_cutoff: float = 4.0  # Tukey biweight cutoff on those z-scores
    fit_rounds: int = 3  # alternations between the curves and the platforms' CPM levels
    posterior_scale: float = 0.5  # Thompson draws from the posterior reshaped to this spread (Chapelle & Li)
    interval: float = 0.8  # width of the intervals quoted in evidence
    evidence_draws: int = 200
    draw_hold_days: int = 7  # a unit's Thompson draw is held this many days (1: redrawn every cycle)
    draw_seed: int = 0  # salts the held draws' random numbers
    # The learning phase (Meta's rule; TikTok's is alike): an ad set earns its full conversion rate once it
    # gets ``learning_events`` within ``learning_window_days``; until then (and while "limited") it earns
    # ``learning_factor`` of it (market-science §4: CVR x0.7-0.85 while learning).
    learning_factor: float = 0.8
    learning_events: float = LEARNING_EVENTS
    learning_window_days: int = LEARNING_WINDOW_DAYS
    lift_horizon_days: float | None = 28.0  # a lift over the learning gate pays back over this (None: held for good)
    move_learning: bool = True  # move a unit still learning by steps (False: hold it until its phase ends)
    # A held draw that switches a unit off is overruled while the posterior puts the unit on its efficient
    # branch with at least this probability (None: never). See ``_target``.
    keep_on: float | None = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.max_step < 1:
            raise ValueError("max_step: a fraction in (0, 1)")
        if not 0 <= self.dead_band < self.max_step:
            raise ValueError("dead_band: a fraction in [0, max_step)")
        if self.floor < 0 or (self.ceiling is not None and self.ceiling <= self.floor):
            raise ValueError("floor, ceiling: need 0 <= floor < ceiling")
        if self.min_days < 2 or self.history_days < self.min_days or self.fit_rounds < 1:
            raise ValueError("min_days >= 2, history_days >= min_days, fit_rounds >= 1")
        if not 0 < self.posterior_scale <= 1:
            raise ValueError("posterior_scale: a fraction in (0, 1]")
        if not 0 < self.interval < 1 or self.evidence_draws < 10:
            raise ValueError("interval in (0, 1), evidence_draws >= 10")
        if not 0 < self.learning_factor <= 1 or self.learning_events < 0 or self.learning_window_days < 1:
            raise ValueError("learning_factor in (0, 1], learning_events >= 0, learning_window_days >= 1")
        if self.draw_hold_days < 1:
            raise ValueError("draw_hold_days: at least 1")
        if self.lift_horizon_days is not None and not 0 < self.lift_horizon_days < math.inf:
            raise ValueError("lift_horizon_days: a positive number of days, or None")
        if self.keep_on is not None and not 0 < self.keep_on <= 1:
            raise ValueError("keep_on: a probability in (0, 1], or None")


@dataclass(frozen=True, eq=False)
class _Unit:
    """A budget holder with its active ad sets' summed history (arrays over days, oldest first)."""

    holder: EntityRef
    views: tuple[AdSetView, ...]
    budget: float  # reporting currency per day
    age: FloatArray  # days before as_of
    spend: FloatArray
    impressions: FloatArray
    clicks: FloatArray
    conversions: FloatArray
    outcome: FloatArray  # conversions, or value for a VALUE goal
    share: FloatArray  # expected share of each day's conversions reported so far
    learning: FloatArray  # share of the unit's ad sets in their learning phase (or limited), per day
    hold: str = ""  # why the unit is not moved ("" if it may be)

    @property
    def learned(self) -> bool:
        """Every ad set of the unit has left its learning phase (none learning, none limited)."""
        return not any(v.learning or v.learning_limited for v in self.views)

    def events_per_outcome(self) -> float:
        """Conversions (the platforms' optimization events) per unit of outcome: 1, or per unit of value."""
        value = float(self.outcome.sum())
        return float(self.conversions.sum()) / value if value > 0 else 0.0

    @property
    def platform(self) -> Platform:
        return self.holder.platform

    @property
    def delivered(self) -> FloatArray:
        return np.asarray((self.spend > 0) & (self.impressions > 0), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Model:
    """A unit's posterior response curve, in budget terms once the platform's CPM level is applied."""

    delivery: DeliveryPosterior
    rate: RatePosterior
    log_cost: float  # log of the platform's current CPM level on the curve's spend axis
    delivery_ratio: float  # spend per unit of budget

    def draw(self, rng: np.random.Generator, n: int, scale: float = 1.0) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``n`` posterior draws of (V, K, α) for ``f(b) = V b^α / (b^α + K^α)`` in budget units."""
        alpha, log_kappa, log_imax = self.delivery.sample(rng, n, scale)
        q = self.rate.sample(rng, n, scale)
        v = q * np.exp(log_imax)
        k = np.exp(log_kappa + self.log_cost) / self.delivery_ratio
        return v, k, alpha


def _units(snapshot: Snapshot, p: BudgetParams) -> list[_Unit]:
    groups: dict[EntityRef, list[AdSetView]] = {}
    for s in snapshot.active_ad_sets():
        if s.daily_budget is not None and s.daily_budget.minor > 0:
            groups.setdefault(s.budget_holder, []).append(s)
    cooling = {
        a.target
        for a in snapshot.applied
        if a.kind != ActionKind.LAUNCH_AD and a.at > snapshot.now - timedelta(hours=p.cooldown_hours)
    }
    objective_value = snapshot.goal.objective is Objective.VALUE
    units = []
    for holder in sorted(groups, key=str):
        views = tuple(groups[holder])
        days = sorted({d for v in views for d in v.history.days if 0 <= snapshot.age(d) < p.history_days})
        index = {d: i for i, d in enumerate(days)}
        cols = np.zeros((5, len(days)))
        for v in views:
            h = v.history
            for t, d in enumerate(h.days):
                if d in index:
                    i = index[d]
                    cols[:, i] += (h.spend[t], h.impressions[t], h.clicks[t], h.conversions[t], h.value[t])
        share = np.array([snapshot.reported_share(holder.platform, d) for d in days], dtype=np.float64)
        learning = np.array([np.mean([d in v.learning_days for v in views]) for d in days], dtype=np.float64)
        hold = ""
        if not p.move_learning and any(v.learning for v in views):
            hold = "in its learning phase (move_learning is off)"
        elif holder in cooling:
            hold = f"changed within the last {p.cooldown_hours:g} h"
        elif int(np.sum((cols[0] > 0) & (cols[1] > 0))) < p.min_days:
            hold = f"fewer than {p.min_days} days of delivery"
        units.append(
            _Unit(
                holder=holder,
                views=views,
                budget=views[0].budget_reporting,
                age=np.array([snapshot.age(d) for d in days], dtype=np.float64),
                spend=cols[0],
                impressions=cols[1],
                clicks=cols[2],
                conversions=cols[3],
                outcome=cols[4] if objective_value else cols[3],
                share=share,
                learning=learning,
                hold=hold,
            )
        )
    return units


def _held(snapshot: Snapshot, holder: EntityRef, p: BudgetParams, stream: int = 0) -> np.random.Generator:
    """The random numbers of a unit's Thompson draw, the same in every cycle of a block of ``draw_hold_days``:
    keyed by the block (days since 0001-01-01 ÷ the hold), the holder and ``draw_seed``. The posterior they
    map through is updated every cycle; the draw's quantile is what is held. ``stream`` 1: the numbers of the
    posterior sample that judges P(on) and the keep-on rule (and the evidence's intervals), held alike so
    that a unit's target does not flip between cycles of a block on sampling noise alone."""
    block = snapshot.as_of.toordinal() // p.draw_hold_days
    return np.random.default_rng([p.draw_seed, block, zlib.crc32(str(holder).encode()), *([stream] if stream else [])])


def _tukey(z: FloatArray, c: float) -> FloatArray:
    return np.asarray(np.where(np.abs(z) < c, (1.0 - (z / c) ** 2) ** 2, 0.0), dtype=np.float64)


def _day_weights(units: list[_Unit], p: BudgetParams) -> list[FloatArray]:
    """Robust weights of each unit-day's conversions: a day far below what its clicks predict is an outage.

    Expected conversions come from the unit's recent conversions per click (× reported share); days are
    judged on the platform's total (outages are platform-wide, and the sum has the power) and on the unit's
    own count, with overdispersion ``cvr_day_noise``. Two reweighting passes keep an outage out of the
    baseline it is judged against. A persistent drop stops being flagged as it enters the baseline.
    """
    n_days = p.history_days
    omega = [np.ones(len(u.age)) for u in units]
    for _ in range(2):
        expected = []
        for u, om in zip(units, omega, strict=True):
            base = np.where(u.share >= p.min_reported_share, 0.5 ** (u.age / p.rate_half_life_days) * om, 0.0)
            clicks = u.clicks if u.clicks.sum() > 0 else u.impressions
            rate = float(np.sum(base * u.conversions)) / max(float(np.sum(base * clicks * u.share)), 1e-12)
            expected.append(rate * clicks * u.share)
        obs_p: dict[Platform, FloatArray] = {}
        exp_p: dict[Platform, FloatArray] = {}
        var_p: dict[Platform, FloatArray] = {}
        for u, e in zip(units, expected, strict=True):
            ages = u.age.astype(int)
            for acc, x in ((obs_p, u.conversions), (exp_p, e), (var_p, e + (p.cvr_day_noise * e) ** 2)):
                arr = acc.setdefault(u.platform, np.zeros(n_days))
                np.add.at(arr, ages, x)
        omega = []
        for u, e in zip(units, expected, strict=True):
            ages = u.age.astype(int)
            var_u = e + (p.cvr_day_noise * e) ** 2
            z_unit = np.where(var_u > 0, (u.conversions - e) / np.sqrt(np.maximum(var_u, 1e-12)), 0.0)
            vp = var_p[u.platform][ages]
            z_plat = np.where(vp > 0, (obs_p[u.platform][ages] - exp_p[u.platform][ages]) / np.sqrt(vp + 1e-12), 0.0)
            omega.append(np.minimum(_tukey(z_unit, p.outage_cutoff), _tukey(z_plat, p.outage_cutoff)))
    return omega


def _fit(units: list[_Unit], p: BudgetParams) -> list[_Model | None]:
    """Posterior curves for every unit with delivery (None for the others)."""
    fitted = [i for i, u in enumerate(units) if u.delivered.sum() >= 2]
    log_cost = {u.platform: np.zeros(p.history_days) for u in units}
    base_prior = shape_prior(p.alpha_prior_median, p.alpha_prior_sd_log, p.saturation_prior_sd)
    posts: dict[int, DeliveryPosterior] = {}
    for _ in range(p.fit_rounds):
        data = {}
        grids = {}
        for i in fitted:
            u = units[i]
            ok = u.delivered > 0
            ages = u.age[ok].astype(int)
            log_x = np.log(u.spend[ok]) - log_cost[u.platform][ages]
            w = 0.5 ** (u.age[ok] / p.curve_half_life_days)
            data[i] = (ages, np.log(u.spend[ok]), np.log(u.impressions[ok]))
            grids[i] = fit_delivery(log_x, data[i][2], w)
        evidence = [alpha_evidence(grids[i], base_prior) for i in fitted]
        pooled = pooled_alpha_priors(evidence, p.pool_strength)
        posts = {
            i: DeliveryPosterior.of(grids[i], base_prior + pool[:, None])
            for i, pool in zip(fitted, pooled, strict=True)
        }
        # The platforms' CPM levels: what the units' residuals share, as a slowly drifting random walk.
        num = {pl: np.zeros(p.history_days) for pl in log_cost}
        den = {pl: np.zeros(p.history_days) for pl in log_cost}
        for i in fitted:
            pl = units[i].platform
            ages, log_s, log_i = data[i]
            pred, el, noise = posts[i].predict(log_s - log_cost[pl][ages])
            np.add.at(num[pl], ages, el * (log_i - pred) / noise**2)
            np.add.at(den[pl], ages, el**2 / noise**2)
        for pl in log_cost:
            has = den[pl] > 1e-9
            if not has.any():
                continue
            obs = log_cost[pl] - np.where(has, num[pl] / np.where(has, den[pl], 1.0), 0.0)
            var = np.where(has, 1.0 / np.where(has, den[pl], 1.0), np.inf)
            level = local_level(obs[::-1], var[::-1], p.cpm_drift)[::-1]  # oldest first for the walk
            log_cost[pl] = level - float(np.sum(den[pl] * level) / np.sum(den[pl]))
    weights = _day_weights(units, p)
    rates: dict[int, tuple[FloatArray, FloatArray, FloatArray]] = {}
    for i in fitted:
        u = units[i]
        usable = (u.share >= p.min_reported_share) & (u.impressions > 0)
        w = np.where(usable, 0.5 ** (u.age / p.rate_half_life_days) * weights[i], 0.0)
        # Exposure on learning days counts at the learning factor: the rate fitted is the learned one.
        phase = 1.0 - (1.0 - p.learning_factor) * u.learning
        rates[i] = (u.outcome, u.impressions * u.share * phase, w)
    pooled_rate = sum(float(np.sum(w * y)) for y, _, w in rates.values()) / max(
        sum(float(np.sum(w * e)) for _, e, w in rates.values()), 1e-12
    )
    raw = {i: fit_rate(*rates[i], prior_mean=max(pooled_rate, 1e-12), prior_strength=0.5) for i in fitted}
    prior_mean, prior_strength = rate_prior(list(raw.values()), p.rate_min_spread)
    ratios = [u.spend[u.age == 0][0] / u.budget for u in units if u.budget > 0 and np.any(u.age == 0)]
    ratio = float(np.clip(np.median(ratios), 0.7, 1.0)) if ratios else 1.0
    models: list[_Model | None] = [None] * len(units)
    for i in fitted:
        u = units[i]
        rate = fit_rate(*rates[i], prior_mean=prior_mean, prior_strength=prior_strength)
        models[i] = _Model(posts[i], rate, float(log_cost[u.platform][0]), ratio)
    return models


def _step_bounds(cur: FloatArray, p: BudgetParams, floor: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    down, up = cur * (1.0 - p.max_step), cur * (1.0 + p.max_step)
    lo = np.clip(np.full_like(cur, p.floor) if floor is None else floor, down, up)
    hi = up if p.ceiling is None else np.clip(np.full_like(cur, p.ceiling), down, up)
    return np.minimum(lo, hi), hi


def _shrink(
    move: FloatArray, amount: float, side: float, minimum: FloatArray, want: FloatArray, desire: FloatArray
) -> tuple[FloatArray, float]:
    """Take ``amount`` off the moves in direction ``side`` (+1 raises, -1 cuts) without leaving any move
    between zero and its minimum: first from what lies above the minimums (pro rata), then by dropping the
    weakest wishes, giving back any over-drop to the moves that remain. Returns the new moves and what could
    not be taken (> 0) or was taken in excess (< 0)."""
    idx = np.flatnonzero(np.sign(move) == side)
    mags = np.abs(move[idx])
    slack = mags - minimum[idx]
    if float(slack.sum()) >= amount:
        if amount > 0:
            mags = mags - amount * slack / float(slack.sum())
        amount = 0.0
    else:
        amount -= float(slack.sum())
        mags = minimum[idx].copy()
        for o in np.argsort(np.abs(desire[idx]), kind="stable"):
            if amount <= 1e-9:
                break
            amount -= float(mags[o])
            mags[o] = 0.0
        if amount < 0:
            head = np.where(mags > 0, np.abs(want[idx]) - mags, 0.0)
            give = min(-amount, float(head.sum()))
            if give > 0:
                mags = mags + give * head / float(head.sum())
            amount += give
    out = move.copy()
    out[idx] = side * mags
    return out, amount


def _moves(
    cur: FloatArray, target: FloatArray, room: float, p: BudgetParams, floor: FloatArray | None = None
) -> FloatArray:
    """Each unit's step towards its target, capped at ±``max_step``, balanced to ``room``, with a dead band.

    Steps follow the long-run target rather than the best allocation inside the ±step box: an S-curve unit
    below its inflection has a tiny marginal return inside any small box, so box-optimal steps would ratchet
    it down to the floor even when it belongs on its efficient branch. No move is smaller than the dead band.
    Balancing: if the raises need more than the cuts free (or the cuts free more than the raises use), held
    units wishing to move the other way join at the dead band's minimum, strongest wish first; what is still
    unbalanced is taken off the over-supplied side. Raises never take the sum above ``room``; if current
    budgets are far above it, the cuts alone may not reach it.
    """
    lo, hi = _step_bounds(cur, p, floor)
    want = np.clip(target, lo, hi) - cur
    minimum = p.dead_band * cur
    desire = (target - cur) / cur
    move = np.where(np.abs(want) >= minimum, want, 0.0)
    excess = float(move.sum()) - (room - float(cur.sum()))  # > 0: raises unfunded; < 0: cuts unused
    for j in np.argsort(-np.abs(desire), kind="stable"):
        if move[j] != 0 or want[j] == 0:
            continue
        if excess > 0 and want[j] < 0 and excess >= minimum[j] and lo[j] <= cur[j] - minimum[j]:
            move[j], excess = -minimum[j], excess - minimum[j]
        elif excess < 0 and want[j] > 0 and -excess >= minimum[j] and hi[j] >= cur[j] + minimum[j]:
            move[j], excess = minimum[j], excess + minimum[j]
    if excess > 0:
        move, _ = _shrink(move, excess, 1.0, minimum, want, desire)
    elif excess < 0:
        move, left = _shrink(move, -excess, -1.0, minimum, want, desire)
        if left < 0:  # cuts dropped beyond the need: the raises give that back
            move, _ = _shrink(move, -left, 1.0, minimum, want, desire)
    return np.asarray(cur + move, dtype=np.float64)


def _gates(
    epo: FloatArray | float,
    learned: NDArray[np.bool_] | bool,
    v: FloatArray,
    k: FloatArray,
    a: FloatArray,
    p: BudgetParams,
) -> FloatArray:
    """The budget above which a unit would end its learning phase (the events it then gets a window, at the
    learning factor, reach ``learning_events``) on curves ``(v, k, a)``, given its events per unit of
    outcome ``epo`` and whether it has ``learned``: 0 for a unit that has ended it, ``inf`` for one that
    cannot on its curve. Broadcasts: one unit over posterior draws, or one draw over units."""
    with np.errstate(divide="ignore"):
        need = np.where(epo > 0, p.learning_events / (p.learning_window_days * p.learning_factor * epo), np.inf)
    return np.asarray(np.where(learned, 0.0, budget_returning(need, v, k, a)), dtype=np.float64)


def _days_to_leave(
    u: _Unit,
    curve: tuple[float, float, float],
    gate: float,
    cur: float,
    epo: float,
    ratio: float,
    p: BudgetParams,
) -> float:
    """The days until a unit climbing to its ``gate`` (at ``max_step`` a day, from ``cur``) ends its learning,
    on the draw's ``curve``: the first day its last ``learning_window_days`` of events reach
    ``learning_events``, counting the events it already had on the days before today (its spend ÷ the
    budget's delivery ``ratio`` on the curve, at the learning factor) and those of the climb's own days.
    Only a *limited* unit's days before today count: one still *learning* restarted its phase within the
    window, on a day the snapshot does not say, and the days before that restart count for nothing.

    What the days already served have bought is sunk: a lift that has nearly had its window costs only the
    days left. (Before, a commitment was the climb plus a whole window whatever had been served; the two
    score alike on the benchmarks, docs/benchmarks.md "Session 11", but this one is what the platforms
    count.) 0 for a unit without a finite gate above 0.
    """
    if not 0 < gate < math.inf:
        return 0.0
    window = p.learning_window_days
    v, k, a = (np.full(1, x, dtype=np.float64) for x in curve)

    def events(budget: FloatArray) -> FloatArray:
        return np.asarray(p.learning_factor * epo * curve_value(budget, v, k, a), dtype=np.float64)

    served = np.zeros(window)  # by age: 0 is the last day delivered
    if not any(view.learning for view in u.views):  # limited: its window rolls; learning: its phase began days ago
        recent = (u.age >= 0) & (u.age < window) & (u.spend > 0)
        served[u.age[recent].astype(int)] = events(u.spend[recent] / ratio)
    days = list(served[::-1])  # oldest first
    budget, top = cur, max(cur, gate)
    climb = math.ceil(math.log(top / cur) / math.log1p(p.max_step)) if cur > 0 else 0
    need = p.learning_events * (1 - 1e-9)
    for day in range(1, climb + window + 1):
        budget = min(budget * (1 + p.max_step), top)
        days.append(float(events(np.array([budget]))[0]))
        if math.fsum(days[-window:]) >= need:
            return float(day)
    return float(climb + window)


def _target(
    room: float,
    ts: tuple[FloatArray, FloatArray, FloatArray],
    post: list[tuple[FloatArray, FloatArray, FloatArray]],
    lo: FloatArray,
    hi: FloatArray,
    gate: FloatArray,
    factor: float,
    commit: FloatArray | None = None,
    horizon: float = math.inf,
    keep_on: float | None = None,
) -> tuple[FloatArray, float, FloatArray, NDArray[np.bool_]]:
    """The long-run target for the Thompson draws ``ts``, its λ, each unit's posterior P(on) at the draws' λ,
    and which units the target lifts over their learning gate (``curves.allocate_gated``).

    *On* means more than the lower bound: for an S-curve, being on its decreasing-marginal branch. A unit
    still learning that the target does not lift over its gate earns ``factor`` of its curve, and P(on) is
    judged on that reduced curve.

    The draw decides, with one exception. A draw that puts a unit *off* while its P(on) is at least
    ``keep_on`` is overruled: the unit's target is then the posterior median of its budget on the efficient
    branch at that λ, and the other units share the rest of the room on their draws. Exploring towards
    *off* teaches little and is costly to undo: an S-curve unit cut to its floor walks down through its
    trough, where its return per unit is worst and its days say least about the branch that matters, and a
    draw is held for a week (``draw_hold_days``), so one unlikely draw cut the full stack's retargeting ad
    set from its best budget to its floor in a week, and its poor days in the trough then kept it there
    (docs/benchmarks.md "Session 12"). Exploring towards *on* is what identifies that branch, so a draw that
    switches a unit on is always followed. (Forcing the posterior majority both ways was tried before draws
    were held, and lost: a majority driven by the prior stops exactly the exploration that would correct it.)
    """
    v, k, a = ts
    alloc, lifted = allocate_gated(room, v, k, a, lo, hi, gate, factor, commit, horizon)
    n, d = len(v), len(post[0][0])
    pv, pk, pa = (np.concatenate([draw[c] for draw in post]) for c in range(3))
    pv = pv * np.repeat(np.where(lifted | (gate <= 0), 1.0, factor), d)
    resp = best_response(alloc.lam, pv, pk, pa, np.repeat(lo, d), np.repeat(hi, d)).reshape(n, d)
    off = lo * (1 + 1e-6) + 1e-9  # at or under this, a budget is the lower bound: the unit is off
    on = resp > off[:, None]
    p_on = on.mean(axis=1)
    keep = (alloc.budgets <= off) & (p_on >= keep_on) if keep_on is not None else np.zeros(n, dtype=bool)
    if np.any(keep):
        # A kept unit has P(on) > 0, so some of its draws are on; the others keep their lower bound.
        on_median = np.array([np.median(r[o]) if k_ else b for r, o, b, k_ in zip(resp, on, lo, keep, strict=True)])
        fixed = np.where(keep, np.minimum(np.maximum(on_median, lo), hi), lo)
        # Only while the kept units and everyone else's lower bounds fit the room: the draw decides otherwise.
        if float(fixed.sum()) <= room:
            # The kept units are fixed at their budgets on the branch, and the rest of the room is allocated
            # again on the draws: the money the draw meant to free there is not spent twice.
            alloc, lifted = allocate_gated(
                room, v, k, a, fixed, np.where(keep, fixed, hi), gate, factor, commit, horizon
            )
    return alloc.budgets, alloc.lam, p_on, lifted


def _interval(x: FloatArray, width: float) -> dict[str, float]:
    lo, mid, hi = np.quantile(x, [(1 - width) / 2, 0.5, (1 + width) / 2])
    return {"median": round(float(mid), 6), "low": round(float(lo), 6), "high": round(float(hi), 6)}


@dataclass(frozen=True)
class BudgetPolicy:
    """Allocate the total daily budget across budget holders so marginal returns are equal (see module doc)."""

    params: BudgetParams = field(default_factory=BudgetParams)
    name: str = "budget"

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        p = self.params
        units = _units(snapshot, p)
        if not units:
            return []
        models = _fit(units, p)
        movable = [i for i, (u, m) in enumerate(zip(units, models, strict=True)) if m is not None and not u.hold]
        if not movable:
            return []
        fits = [m for m in (models[i] for i in movable) if m is not None]

        def numbers(i: int, stream: int = 0) -> np.random.Generator:
            return rng if p.draw_hold_days == 1 else _held(snapshot, units[i].holder, p, stream)

        draws = [m.draw(numbers(i), 1, p.posterior_scale) for m, i in zip(fits, movable, strict=True)]
        v, k, a = (np.array([d[j][0] for d in draws]) for j in range(3))
        post = [m.draw(numbers(i, 1), p.evidence_draws) for m, i in zip(fits, movable, strict=True)]
        total = snapshot.total_budget()
        held = math.fsum(u.budget for i, u in enumerate(units) if i not in movable)
        # Budgets round to minor units (here, and again when a guardrail converts them): keep a cent per unit aside.
        reporting_minor = 10.0 ** -currency_exponent(snapshot.reporting_currency)
        margin = math.fsum(_minor_unit(u) + reporting_minor for u in units)
        room = total - held - margin
        cur = np.array([units[i].budget for i in movable])
        hi_target = np.full_like(cur, p.ceiling if p.ceiling is not None else max(room, p.floor))
        # Per unit: the configured floor, or the platform's minimum when higher (TikTok refuses less).
        floor = np.array([max(p.floor, *(s.min_budget_reporting for s in units[i].views)) for i in movable])
        epo = np.array([units[i].events_per_outcome() for i in movable])
        gate = _gates(epo, np.array([units[i].learned for i in movable]), v, k, a, p)
        commit, horizon = None, math.inf
        if p.lift_horizon_days is not None:  # days a lift holds its gate: until its events are in (see _days_to_leave)
            ratio = fits[0].delivery_ratio  # one for all units (``_fit``)
            commit = np.array(
                [
                    _days_to_leave(units[i], (v[j], k[j], a[j]), gate[j], cur[j], epo[j], ratio, p)
                    for j, i in enumerate(movable)
                ]
            )
            horizon = p.lift_horizon_days
        target, lam, p_on, lifted = _target(
            room, (v, k, a), post, np.minimum(floor, hi_target), hi_target, gate, p.learning_factor, commit, horizon,
            p.keep_on,
        )  # fmt: skip
        new = _moves(cur, target, room, p, floor)
        proposals = []
        for j, i in enumerate(movable):
            u, model = units[i], models[i]
            assert model is not None
            if new[j] == cur[j]:
                continue
            money = _within_step(u.views[0].budget_from_reporting(float(new[j])), u.views[0].daily_budget, p)
            if money == u.views[0].daily_budget or money.minor <= 0:
                continue
            proposed = u.views[0].to_reporting(money)  # after rounding to the account's units
            ev, sentence = self._evidence(snapshot, u, model, post[j], (cur[j], proposed, target[j]), lam)
            ev["p_on_efficient_branch"] = round(float(p_on[j]), 3)
            ev["learning"] = _learning_evidence(u, _gates(epo[j], u.learned, *post[j], p), bool(lifted[j]))
            ev["learning"]["lift_horizon_days"] = p.lift_horizon_days
            proposals.append(
                Proposal(
                    action=SetBudget(
                        target=u.holder,
                        new_budget=money,
                        reason=_reason(snapshot, ev, lam),
                        idempotency_key=decision_key(snapshot, str(ActionKind.SET_BUDGET), u.holder, money.minor),
                    ),
                    policy=self.name,
                    evidence=ev,
                    expected_impact=sentence,
                )
            )
        # Cuts first: a guardrail judging in order then sees the room they free before any raise.
        return sorted(proposals, key=lambda pr: pr.evidence["change_pct"] > 0)

    def _evidence(
        self,
        snapshot: Snapshot,
        u: _Unit,
        model: _Model,
        draws: tuple[FloatArray, FloatArray, FloatArray],
        budgets: tuple[float, float, float],
        lam: float,
    ) -> tuple[dict[str, Any], str]:
        p = self.params
        v, k, a = draws
        cur, new, target = (float(b) for b in budgets)
        m_cur, m_new = curve_marginal(np.full_like(v, cur), v, k, a), curve_marginal(np.full_like(v, new), v, k, a)
        now_value = curve_value(np.full_like(v, cur), v, k, a)
        delta = curve_value(np.full_like(v, new), v, k, a) - now_value
        week = u.age < 7
        spend7 = float(u.spend[week].sum())
        reported7 = float(u.outcome[week].sum())
        exposure = float(np.sum(u.impressions[week] * u.share[week]))
        adjusted7 = reported7 * float(u.impressions[week].sum()) / exposure if exposure > 0 else reported7
        value_goal = snapshot.goal.objective is Objective.VALUE
        d = _interval(delta, p.interval)
        ccy = snapshot.reporting_currency
        what = f"{ccy} of conversion value" if value_goal else "conversions"
        names = ", ".join(sorted({s.name for s in u.views}))
        sentence = (
            f"Moving {names} from {cur:,.2f} to {new:,.2f} {ccy}/day should change {what} by about "
            f"{d['median']:+.2f} a day ({p.interval:.0%} interval {d['low']:+.2f} to {d['high']:+.2f}); "
            f"the model's long-run target for it is {target:,.2f} {ccy}/day."
        )
        evidence = {
            "unit": str(u.holder),
            "ad_sets": [s.name for s in u.views],
            "objective": str(snapshot.goal.objective),
            "budget_current": round(cur, 2),
            "budget_new": round(new, 2),
            "budget_target": round(target, 2),
            "change_pct": round(100.0 * (new / cur - 1.0), 2),
            "lambda": lam,
            "marginal_return_current": _interval(m_cur, p.interval),
            "marginal_return_new": _interval(m_new, p.interval),
            "expected_per_day_current": _interval(now_value, p.interval),
            "expected_delta_per_day": d,
            "interval": p.interval,
            "recent_7d": {
                "spend": round(spend7, 2),
                "reported": round(reported7, 3),
                "lag_adjusted": round(adjusted7, 3),
                ("roas" if value_goal else "cpa"): (
                    round(adjusted7 / spend7 if value_goal else spend7 / adjusted7, 4)
                    if spend7 > 0 and adjusted7 > 0
                    else None
                ),
            },
            "curve": {
                "alpha_median": round(float(np.median(a)), 3),
                "half_saturation_budget_median": round(float(np.median(k)), 2),
                "return_at_saturation_median": round(float(np.median(v)), 3),
                "cpm_level_log": round(model.log_cost, 4),
                "dispersion": round(model.rate.dispersion, 3),
            },
        }
        return evidence, sentence


def _learning_evidence(u: _Unit, gates: FloatArray, lifted: bool) -> dict[str, Any]:
    """The unit's learning phase as the move saw it: its state, the budget that would end it (median over
    the posterior; None when it cannot on its curve) and whether the target lifts it there."""
    state = "learned" if u.learned else ("learning" if any(v.learning for v in u.views) else "limited")
    finite = gates[np.isfinite(gates)]
    reachable = len(finite) * 2 > len(gates)
    return {
        "state": state,
        "budget_to_end_it": None if u.learned or not reachable else round(float(np.median(gates)), 2),
        "target_ends_it": lifted,
    }


def _within_step(money: Money, current: Money | None, p: BudgetParams) -> Money:
    """``money``, kept within ``max_step`` of ``current`` in whole minor units: rounding to the account's
    smallest unit must not carry a step past the cap (8 JPY raised 19 % is 9.52, which rounds to 10: +25 %),
    so it rounds towards the current budget instead."""
    if current is None or current.minor <= 0:
        return money
    lo = math.ceil(current.minor * (1.0 - p.max_step))
    hi = math.floor(current.minor * (1.0 + p.max_step))
    return Money(money.currency, min(max(money.minor, lo), hi))


def _minor_unit(u: _Unit) -> float:
    return float(10.0 ** -currency_exponent(u.views[0].currency)) * u.views[0].fx_rate


def _reason(snapshot: Snapshot, ev: dict[str, Any], lam: float) -> str:
    """Why the move: equal marginal return, or, when the fitted median disagrees with the sampled curve's
    direction, a test step that the curve's uncertainty warrants (Thompson sampling)."""
    verb = "Raise" if ev["change_pct"] > 0 else "Cut"
    phase = ev.get("learning", {})
    if ev["change_pct"] > 0 and phase.get("target_ends_it") and phase.get("budget_to_end_it"):
        return (
            f"Raise the daily budget {ev['change_pct']:+.0f}% towards {ev['budget_target']:,.2f} "
            f"{snapshot.reporting_currency}: from about {phase['budget_to_end_it']:,.2f} a day the ad set should "
            f"get the conversions a week that end its learning phase ({phase['state']} now, converting below "
            f"its full rate){_payback(phase)}"
        )
    m = ev["marginal_return_current"]
    label = "marginal ROAS" if snapshot.goal.objective is Objective.VALUE else "marginal CPA"
    here, there = _metric(m["median"], snapshot), _metric(lam, snapshot)
    if (ev["change_pct"] > 0) == (m["median"] >= lam):
        return (
            f"{verb} the daily budget {ev['change_pct']:+.0f}% towards equal marginal return: {label} "
            f"{here} here at the current budget vs {there} at the margin of the whole allocation"
        )
    ends = sorted((_metric(m["low"], snapshot), _metric(m["high"], snapshot)), key=lambda t: float(t.split()[0]))
    return (
        f"{verb} the daily budget {ev['change_pct']:+.0f}% as a test step: this unit's curve is still uncertain "
        f"({label} {here} here, {ev['interval']:.0%} interval {ends[0]} to {ends[1]}, vs {there} at the margin), "
        "and moving its budget is how it is learnt"
    )


def _payback(phase: dict[str, Any]) -> str:
    horizon = phase.get("lift_horizon_days")
    if horizon is None:
        return ", which is worth more than the same money spent elsewhere"
    return (
        ". Out of it, it keeps its full rate at whatever budget suits it: over the next "
        f"{horizon:g} days that is worth more than the same money spent elsewhere"
    )


def _metric(marginal: float, snapshot: Snapshot) -> str:
    """A marginal return as a marketer reads it: marginal CPA (reporting currency), or ROAS for a value goal."""
    if snapshot.goal.objective is Objective.VALUE:
        return f"{marginal:.2f}"
    return f"{1.0 / marginal:.2f} {snapshot.reporting_currency}" if marginal > 0 else "inf"
