"""The baselines adpilot's own policies must beat, implemented exactly as specified (not improved).

Four policies, each one ``Policy`` that proposes both budgets and creative switches:

* ``uniform``: B/N per active budget holder; every creative on.
* ``seed-rules``: the naive automated-rule pattern on trailing-3-day reported CPA; pause below-mean-CTR ads.
* ``seed-bandit``: ε-greedy over UCB1 for creatives (conversions per click) and budgets (per unit spend).
* ``thompson``: Beta-Bernoulli Thompson sampling over creatives; budgets untouched.

``baseline(name, params)`` returns them as a one-element list, so a caller can treat a baseline like any
other set of policies. They all read **reported** figures (no lag correction): that is what they are.

Shared conventions:

* The creative part acts on every active ad set with at least two *arms*: ads that are active or
  paused (rejected, archived or deleted ads cannot be switched on). "The chosen ad is active, the
  others paused" means Resume for the chosen ad if it is paused, Pause for every other active arm; the
  Resume comes first, so an ad set never loses its last active ad, and nothing is proposed when nothing
  changes.
* Budgets move on the budget holder (the ad set, or its campaign under a campaign budget); a holder's
  figures are the sum of its active ad sets. New budgets are computed as a factor of the current exact
  budget and rounded toward it, so a step of 0.19 or ×0.8 never exceeds the 20 % guardrail after
  rounding. A holder with no known budget gets no budget proposal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

import numpy as np

from adpilot.domain.actions import Pause, Resume, SetBudget
from adpilot.domain.ids import EntityRef
from adpilot.domain.money import Money
from adpilot.domain.snapshot import AdSetView, AdView, Proposal, Series, Snapshot, decision_key
from adpilot.domain.status import Status
from adpilot.policies import Policy

BASELINE_NAMES = ("uniform", "seed-rules", "seed-bandit", "thompson")


# -- shared pieces -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetHolder:
    """The entity whose daily budget governs one or more active ad sets."""

    ref: EntityRef
    budget: Money | None
    budget_reporting: float
    ad_sets: tuple[AdSetView, ...]

    def totals(self, snapshot: Snapshot, days: int) -> dict[str, float]:
        """Reported sums over the trailing ``days`` of every ad set the holder funds."""
        sums = {"spend": 0.0, "impressions": 0.0, "clicks": 0.0, "conversions": 0.0, "value": 0.0}
        for s in self.ad_sets:
            for k, v in trailing(s.history, snapshot, days).totals().items():
                sums[k] += v
        return sums


def budget_holders(snapshot: Snapshot) -> list[BudgetHolder]:
    """The active budget holders, in the order their first active ad set appears."""
    grouped: dict[EntityRef, list[AdSetView]] = {}
    for s in snapshot.active_ad_sets():
        grouped.setdefault(s.budget_holder, []).append(s)
    return [
        BudgetHolder(ref, sets[0].daily_budget, sets[0].budget_reporting, tuple(sets)) for ref, sets in grouped.items()
    ]


def trailing(series: Series, snapshot: Snapshot, days: int) -> Series:
    """The last ``days`` report days up to ``snapshot.as_of`` (inclusive)."""
    return series.since(snapshot.as_of - timedelta(days=days - 1))


def arms(ad_set: AdSetView) -> list[AdView]:
    """The ads a policy can switch between: active or paused."""
    return [a for a in ad_set.ads if a.status in (Status.ACTIVE, Status.PAUSED)]


def creative_ad_sets(snapshot: Snapshot) -> list[tuple[AdSetView, list[AdView]]]:
    """Active ad sets with at least two arms: where the creative part of a baseline acts."""
    out = []
    for s in snapshot.active_ad_sets():
        a = arms(s)
        if len(a) >= 2:
            out.append((s, a))
    return out


def ucb1_scores(successes: Sequence[float], trials: Sequence[float]) -> list[float]:
    """UCB1: mean + sqrt(2 ln t / n), t = total trials, n = the arm's; an unplayed arm scores +inf.

    ``ln t`` is floored at 0 so the bonus stays real when t < 1 (trials measured in money).
    """
    t = math.fsum(trials)
    log_t = max(math.log(t), 0.0) if t > 0 else 0.0
    return [math.inf if n <= 0 else s / n + math.sqrt(2.0 * log_t / n) for s, n in zip(successes, trials, strict=True)]


def argmax_first(scores: Sequence[float]) -> int:
    """Index of the highest score; ties go to the first (so the first unplayed arm is played first)."""
    best = 0
    for i, v in enumerate(scores):
        if v > scores[best]:
            best = i
    return best


def _scaled(old: Money, factor: float) -> Money:
    """``old × factor`` in exact minor units, rounded toward ``old`` so the change never exceeds the factor."""
    # Quantized to a millionth of a minor unit first, so float noise in the factor (10 / 11 × 1100 =
    # 1000.00000000000001) does not push the directed rounding a whole unit.
    exact = (Decimal(old.minor) * Decimal(repr(factor))).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    rounding = ROUND_CEILING if exact < old.minor else ROUND_FLOOR
    return Money(old.currency, int(exact.to_integral_value(rounding=rounding)))


def budget_proposal(
    snapshot: Snapshot, holder: BudgetHolder, factor: float, policy: str, reason: str, evidence: dict[str, Any]
) -> Proposal | None:
    """A SetBudget on the holder for ``current × factor``, or None when the budget is unknown or unchanged."""
    old = holder.budget
    if old is None or old.minor <= 0 or not math.isfinite(factor) or factor <= 0:
        return None
    new = _scaled(old, factor)
    if new.minor == old.minor or new.minor <= 0:
        return None
    action = SetBudget(
        target=holder.ref,
        new_budget=new,
        reason=reason,
        idempotency_key=decision_key(snapshot, "set_budget", holder.ref, new.minor),
    )
    figures = {**evidence, "budget_before": str(old), "budget_after": str(new), "factor": round(factor, 6)}
    return Proposal(action, policy, figures)


def step_toward(
    snapshot: Snapshot,
    holder: BudgetHolder,
    target: float,
    max_step: float,
    policy: str,
    reason: str,
    evidence: dict[str, Any],
) -> Proposal | None:
    """Move the holder's budget toward ``target`` (reporting currency) by at most ``max_step`` of it."""
    if holder.budget_reporting <= 0:
        return None
    factor = min(max(target / holder.budget_reporting, 1.0 - max_step), 1.0 + max_step)
    figures = {**evidence, "target": round(target, 2), "current": round(holder.budget_reporting, 2)}
    return budget_proposal(snapshot, holder, factor, policy, reason, figures)


def choose_ad(
    snapshot: Snapshot, candidates: list[AdView], chosen: AdView, policy: str, reason: str, evidence: dict[str, Any]
) -> list[Proposal]:
    """The chosen ad active, the other arms paused: Resume first, then the Pauses; nothing if nothing changes."""
    out: list[Proposal] = []
    if chosen.status is Status.PAUSED:
        action: Resume | Pause = Resume(
            target=chosen.ref, reason=reason, idempotency_key=decision_key(snapshot, "resume", chosen.ref)
        )
        out.append(Proposal(action, policy, {**evidence, "chosen": str(chosen.ref)}))
    for ad in candidates:
        if ad.ref != chosen.ref and ad.active:
            action = Pause(
                target=ad.ref,
                reason=f"{reason}; {ad.name} is not the choice",
                idempotency_key=decision_key(snapshot, "pause", ad.ref),
            )
            out.append(Proposal(action, policy, {**evidence, "chosen": str(chosen.ref)}))
    return out


def _ratio(num: float, den: float) -> float | None:
    """num / den; +inf when only the denominator is 0; None (no data) when both are."""
    if den > 0:
        return num / den
    return math.inf if num > 0 else None


def _check_step(max_step: float) -> None:
    if not 0 < max_step < 1:
        raise ValueError(f"max_step: a fraction in (0, 1), got {max_step!r}")


def _json(x: float | None) -> float | str | None:
    if x is None:
        return None
    return "inf" if math.isinf(x) else round(x, 6)


# -- uniform -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UniformParams:
    max_step: float = 0.19  # below the 20 % guardrail cap, so every step is accepted

    def __post_init__(self) -> None:
        _check_step(self.max_step)


class UniformPolicy:
    """B/N per active budget holder, reached in capped steps; every paused creative resumed."""

    name = "uniform"

    def __init__(self, params: UniformParams | None = None) -> None:
        self.params = params or UniformParams()

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        out: list[Proposal] = []
        holders = budget_holders(snapshot)
        total = snapshot.total_budget()
        for h in holders:
            target = total / len(holders)
            reason = f"uniform: {total:.2f} / {len(holders)} holders = {target:.2f} per holder"
            ev = {"total_budget": round(total, 2), "holders": len(holders)}
            p = step_toward(snapshot, h, target, self.params.max_step, self.name, reason, ev)
            if p is not None:
                out.append(p)
        for s, candidates in creative_ad_sets(snapshot):
            for ad in candidates:
                if ad.status is Status.PAUSED:
                    action = Resume(
                        target=ad.ref,
                        reason=f"uniform: every creative of {s.name} on",
                        idempotency_key=decision_key(snapshot, "resume", ad.ref),
                    )
                    out.append(Proposal(action, self.name, {"ad_set": str(s.ref), "arms": len(candidates)}))
        return out


# -- seed-rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedRulesParams:
    cpa_window_days: int = 3
    goal_window_days: int = 14  # blended CPA window when the goal sets no target
    ctr_window_days: int = 7
    high: float = 1.2  # CPA above high × goal: cut
    low: float = 0.8  # CPA below low × goal: raise
    cut: float = 0.8
    raise_by: float = 1.2
    floor: float = 10.0  # reporting currency
    cap: float = 500.0  # reporting currency

    def __post_init__(self) -> None:
        if min(self.cpa_window_days, self.goal_window_days, self.ctr_window_days) < 1:
            raise ValueError("*_window_days: at least 1 day")
        if not (0 < self.low <= self.high and 0 < self.cut <= 1 <= self.raise_by and 0 < self.floor <= self.cap):
            raise ValueError("thresholds: need 0 < low <= high, 0 < cut <= 1 <= raise_by, 0 < floor <= cap")


class SeedRulesPolicy:
    """The naive CPA rule on reported trailing numbers, and a below-mean-CTR creative pause.

    The floor and cap bound the rule's own moves: a cut never goes below ``floor`` (and never raises a
    budget already under it); a raise never goes above ``cap`` (and never cuts one already over it).
    A holder with neither spend nor conversions in the window has no CPA and is left alone; so is
    every holder when the goal CPA cannot be computed (no target and no blended spend).

    Creatives: the ad set's mean CTR is the plain mean of the 7-day CTRs of its active ads that had
    impressions; the bandit's choice is the UCB1 argmax on lifetime CTR (clicks over impressions)
    among those active ads, so the ad the bandit would play next is never the one paused.
    """

    name = "seed-rules"

    def __init__(self, params: SeedRulesParams | None = None) -> None:
        self.params = params or SeedRulesParams()

    def goal_cpa(self, snapshot: Snapshot) -> float | None:
        """The goal's target CPA, else the blended CPA of all active ad sets over the goal window."""
        if snapshot.goal.target_cpa is not None:
            return snapshot.goal.target_cpa
        spend = conv = 0.0
        for s in snapshot.active_ad_sets():
            t = trailing(s.history, snapshot, self.params.goal_window_days).totals()
            spend += t["spend"]
            conv += t["conversions"]
        return _ratio(spend, conv)

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        return self.budgets(snapshot) + self.creatives(snapshot)

    def budgets(self, snapshot: Snapshot) -> list[Proposal]:
        p = self.params
        goal = self.goal_cpa(snapshot)
        if goal is None or math.isinf(goal):
            return []
        out: list[Proposal] = []
        for h in budget_holders(snapshot):
            t = h.totals(snapshot, p.cpa_window_days)
            cpa = _ratio(t["spend"], t["conversions"])
            if cpa is None or h.budget_reporting <= 0:
                continue
            ev = {
                "spend": round(t["spend"], 2),
                "conversions": round(t["conversions"], 4),
                "cpa": _json(cpa),
                "goal_cpa": round(goal, 4),
                "window_days": p.cpa_window_days,
            }
            cur = h.budget_reporting
            if cpa > p.high * goal:
                factor = min(1.0, max(p.cut, p.floor / cur))
                verdict = f"above {p.high:g} × goal {goal:.2f}: budget × {p.cut:g}, floor {p.floor:g}"
            elif cpa < p.low * goal:
                factor = max(1.0, min(p.raise_by, p.cap / cur))
                verdict = f"below {p.low:g} × goal {goal:.2f}: budget × {p.raise_by:g}, cap {p.cap:g}"
            else:
                continue
            reason = f"seed-rules: {p.cpa_window_days}-day reported CPA {_fmt(cpa)} {verdict}"
            prop = budget_proposal(snapshot, h, factor, self.name, reason, ev)
            if prop is not None:
                out.append(prop)
        return out

    def creatives(self, snapshot: Snapshot) -> list[Proposal]:
        p = self.params
        out: list[Proposal] = []
        for s, _ in creative_ad_sets(snapshot):
            active = [a for a in s.ads if a.active]
            if len(active) < 2:
                continue
            # The bandit's choice: UCB1 on lifetime CTR among the active ads (impressions are the trials).
            life = [a.history.totals() for a in active]
            choice = active[argmax_first(ucb1_scores([t["clicks"] for t in life], [t["impressions"] for t in life]))]
            window = [trailing(a.history, snapshot, p.ctr_window_days).totals() for a in active]
            ctrs = [t["clicks"] / t["impressions"] if t["impressions"] > 0 else None for t in window]
            known = [c for c in ctrs if c is not None]
            if not known:
                continue
            mean_ctr = math.fsum(known) / len(known)
            remaining = len(active)
            for ad, ctr in zip(active, ctrs, strict=True):
                if ctr is None or ctr >= mean_ctr or ad.ref == choice.ref or remaining <= 1:
                    continue
                remaining -= 1
                action = Pause(
                    target=ad.ref,
                    reason=(
                        f"seed-rules: {p.ctr_window_days}-day CTR {ctr:.4%} below the ad set's mean {mean_ctr:.4%}"
                    ),
                    idempotency_key=decision_key(snapshot, "pause", ad.ref),
                )
                ev = {"ctr": round(ctr, 6), "mean_ctr": round(mean_ctr, 6), "bandit_choice": str(choice.ref)}
                out.append(Proposal(action, self.name, ev))
        return out


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2f}"


# -- seed-bandit ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedBanditParams:
    epsilon0: float = 0.1
    decay: float = 0.99  # per decision (snapshot.cycle)
    budget_window_days: int = 7
    max_step: float = 0.19

    def __post_init__(self) -> None:
        if not (0 <= self.epsilon0 <= 1 and 0 < self.decay <= 1):
            raise ValueError("epsilon0: in [0, 1]; decay: in (0, 1]")
        if self.budget_window_days < 1:
            raise ValueError("budget_window_days: at least 1 day")
        _check_step(self.max_step)


class SeedBanditPolicy:
    """ε-greedy with UCB1 exploitation, for creatives (conversions per click) and budgets (per unit spend).

    Budgets: ε·B split evenly, (1 − ε)·B in proportion to each holder's UCB1 score on trailing
    conversions per unit spend; unplayed holders (no spend in the window) take the whole greedy share
    between them ("unplayed arms first"), and all-zero scores split it evenly.

    Random draws, per ad set with a creative choice in snapshot order: one uniform for ε, then, when
    exploring, one integer for the arm. Creative statistics are the ads' whole reported history.
    """

    name = "seed-bandit"

    def __init__(self, params: SeedBanditParams | None = None) -> None:
        self.params = params or SeedBanditParams()

    def epsilon(self, snapshot: Snapshot) -> float:
        return self.params.epsilon0 * self.params.decay**snapshot.cycle

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        return self.creatives(snapshot, rng) + self.budgets(snapshot)

    def creatives(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        eps = self.epsilon(snapshot)
        out: list[Proposal] = []
        for s, candidates in creative_ad_sets(snapshot):
            life = [a.history.totals() for a in candidates]
            scores = ucb1_scores([t["conversions"] for t in life], [t["clicks"] for t in life])
            if rng.random() < eps:
                chosen = candidates[int(rng.integers(len(candidates)))]
                how = f"explore (ε = {eps:.4f}): uniformly random ad {chosen.name}"
            else:
                chosen = candidates[argmax_first(scores)]
                how = f"exploit (ε = {eps:.4f}): UCB1 argmax on conversions per click {chosen.name}"
            ev = {
                "epsilon": round(eps, 6),
                "ucb1": {str(a.ref): _json(v) for a, v in zip(candidates, scores, strict=True)},
            }
            out += choose_ad(snapshot, candidates, chosen, self.name, f"seed-bandit in {s.name}: {how}", ev)
        return out

    def budgets(self, snapshot: Snapshot) -> list[Proposal]:
        p = self.params
        holders = budget_holders(snapshot)
        if not holders:
            return []
        eps = self.epsilon(snapshot)
        total = snapshot.total_budget()
        sums = [h.totals(snapshot, p.budget_window_days) for h in holders]
        scores = ucb1_scores([t["conversions"] for t in sums], [t["spend"] for t in sums])
        unplayed = [math.isinf(v) for v in scores]
        if any(unplayed):
            weights = [1.0 if u else 0.0 for u in unplayed]
        elif math.fsum(scores) > 0:
            weights = list(scores)
        else:
            weights = [1.0] * len(holders)
        wsum = math.fsum(weights)
        out: list[Proposal] = []
        for h, t, score, w in zip(holders, sums, scores, weights, strict=True):
            target = eps * total / len(holders) + (1.0 - eps) * total * w / wsum
            ev = {
                "epsilon": round(eps, 6),
                "ucb1": _json(score),
                "spend": round(t["spend"], 2),
                "conversions": round(t["conversions"], 4),
                "window_days": p.budget_window_days,
                "total_budget": round(total, 2),
            }
            reason = (
                f"seed-bandit: ε-share {eps:.4f} of {total:.2f} even, the rest by UCB1 on conversions per unit "
                f"spend ({_fmt(score)}): target {target:.2f}"
            )
            prop = step_toward(snapshot, h, target, p.max_step, self.name, reason, ev)
            if prop is not None:
                out.append(prop)
        return out


# -- thompson ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThompsonParams:
    prior_alpha: float = 1.0
    prior_beta: float = 1.0

    def __post_init__(self) -> None:
        if not (self.prior_alpha > 0 and self.prior_beta > 0):
            raise ValueError("prior_alpha, prior_beta: must be positive")


class ThompsonPolicy:
    """Beta-Bernoulli Thompson sampling on conversions per click; the sampled best ad runs alone."""

    name = "thompson"

    def __init__(self, params: ThompsonParams | None = None) -> None:
        self.params = params or ThompsonParams()

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        p = self.params
        out: list[Proposal] = []
        for s, candidates in creative_ad_sets(snapshot):
            life = [a.history.totals() for a in candidates]
            alphas = [p.prior_alpha + t["conversions"] for t in life]
            betas = [p.prior_beta + max(t["clicks"] - t["conversions"], 0.0) for t in life]
            draws = [float(rng.beta(a, b)) for a, b in zip(alphas, betas, strict=True)]
            chosen = candidates[argmax_first(draws)]
            ev = {
                "posterior": {
                    str(a.ref): [round(al, 4), round(be, 4)]
                    for a, al, be in zip(candidates, alphas, betas, strict=True)
                },
                "draws": {str(a.ref): round(d, 6) for a, d in zip(candidates, draws, strict=True)},
            }
            reason = f"thompson: {chosen.name} has the highest sampled conversion rate per click in {s.name}"
            out += choose_ad(snapshot, candidates, chosen, self.name, reason, ev)
        return out


# -- registry ------------------------------------------------------------------------------------------

BaselineParams = UniformParams | SeedRulesParams | SeedBanditParams | ThompsonParams
_P = TypeVar("_P", UniformParams, SeedRulesParams, SeedBanditParams, ThompsonParams)


def _params(name: str, params: BaselineParams | None, kind: type[_P]) -> _P | None:
    if params is not None and not isinstance(params, kind):
        raise TypeError(f"params: {name} takes {kind.__name__}, not {type(params).__name__}")
    return params


def baseline(name: str, params: BaselineParams | None = None) -> list[Policy]:
    """The named baseline as a list of policies (one policy each: budgets and creatives together)."""
    if name == "uniform":
        return [UniformPolicy(_params(name, params, UniformParams))]
    if name == "seed-rules":
        return [SeedRulesPolicy(_params(name, params, SeedRulesParams))]
    if name == "seed-bandit":
        return [SeedBanditPolicy(_params(name, params, SeedBanditParams))]
    if name == "thompson":
        return [ThompsonPolicy(_params(name, params, ThompsonParams))]
    raise ValueError(f"baseline: unknown name {name!r} (known: {', '.join(BASELINE_NAMES)})")
