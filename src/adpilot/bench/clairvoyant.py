"""The clairvoyant reference: what an agent that knew the market's truth would achieve under its mechanics.

The dynamic oracle (``adpilot_sandbox.oracle``) is an upper bound nobody can reach: it moves any budget any
distance overnight, swaps creatives for free and never pays a learning phase. The clairvoyant knows what the
oracle knows (each ad set's true curve, the day's CPM factors, every ad's true rate today) but acts as an
agent must:

- **budgets** go to the learning-aware equal-marginal allocation on the true curves (an ad set below the
  budget that would end its learning phase earns the platform's learning penalty, as the agent's own
  allocator models it), each moved at most the agent's own step a day (under the guardrails' cap); a
  budget shared by a campaign is set on the campaign; never below the platform's minimum daily budget (an
  ad set it wants off is parked there, as the agent's must be);
- **creatives**: only each ad set's truly best ad today runs (kept while within 5 % of the best); switching
  pauses and resumes ads, which restarts the ad set's learning phase like any other change.

It has no noise to learn through, so the gap between it and the oracle is what the platforms' mechanics
(learning phases, the step cap, creative switches) cost by themselves, and an agent's score is best read
against both. It is a reference for the benchmark, not a policy: it reads and writes the sandbox directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from adpilot.domain.ids import Level, Platform
from adpilot.domain.platform_limits import min_daily_budget
from adpilot.policies.curves import allocate_gated, budget_returning
from adpilot_sandbox.oracle import oracle_inputs

SWITCH_MARGIN = 0.05  # a better ad replaces the running one only when it is this much better
MIN_BUDGET = 1.0  # reporting currency: where the platform has no minimum, a budget wanted at zero is parked here


def clairvoyant_morning(m: Any, max_step: float) -> None:
    """Set the morning's budgets and active ads of market ``m`` as the clairvoyant would (see module doc)."""
    st = m.live_state()
    ctr = m.ad_ctr_today(st, m.day)
    budgets = _allocation(m, st, ctr)
    holders: dict[str, _Holder] = {}
    for j, s in enumerate(st["sets"]):
        if s.status == "DELETED":
            continue
        _run_best_ad(m, st, ctr, s.id)
        campaign = m.campaigns[s.campaign_id]
        entity = campaign if campaign.daily_budget_minor is not None else s
        level = Level.CAMPAIGN if entity is campaign else Level.AD_SET
        holder = holders.setdefault(entity.id, _Holder(entity, _minor_per_unit(st, j), _minimum(m, st, j, level)))
        holder.wanted += float(budgets[j])
    if not holders:
        return
    cur = np.array([h.entity.daily_budget_minor / h.minor_per_unit for h in holders.values()])
    wanted = np.maximum([h.wanted for h in holders.values()], [h.minimum for h in holders.values()])
    want = np.clip(wanted, cur * (1 - max_step), cur * (1 + max_step))
    # Cuts capped by the step free less than the raises want: the raises shrink pro rata, so the budgets
    # never sum above the total (the cuts may leave it below for a day).
    excess = float(want.sum()) - max(float(m.oracle_budget()), float(cur.sum()))
    raise_ = np.maximum(want - cur, 0.0)
    if excess > 0 and raise_.sum() > 0:
        want = want - raise_ * min(excess / float(raise_.sum()), 1.0)
    for h, amount in zip(holders.values(), want, strict=True):
        current = h.entity.daily_budget_minor
        minor = amount * h.minor_per_unit
        # Round towards the current budget, so the step stays within the cap.
        minor = max(math.floor(minor) if minor > current else math.ceil(minor), 1)
        if minor != current:
            m.set_budget(h.entity.id, minor)


@dataclass
class _Holder:
    """A budget holder (an ad set, or a campaign its ad sets share) and what the allocation wants for it."""

    entity: Any
    minor_per_unit: float  # minor units of the account's currency per unit of reporting currency
    minimum: float  # the least daily budget, reporting currency
    wanted: float = 0.0  # reporting currency


def _minor_per_unit(st: dict[str, Any], j: int) -> float:
    """Minor units of ad set ``j``'s account currency per unit of reporting currency."""
    return float(st["unit"][j]) / float(st["fx"][j])


def _minimum(m: Any, st: dict[str, Any], j: int, level: Level) -> float:
    """The least daily budget the platform accepts for a ``level`` holder of ad set ``j``, in reporting
    currency (at least ``MIN_BUDGET``)."""
    ad_set = st["sets"][j]
    least = min_daily_budget(Platform(ad_set.platform), level, m.currency_of(ad_set.platform, ad_set.account_id))
    return max(MIN_BUDGET, 0.0 if least is None else least.minor / _minor_per_unit(st, j))


def _allocation(m: Any, st: dict[str, Any], ctr: Any) -> Any:
    """Today's learning-aware allocation of the total budget on the true curves (reporting currency)."""
    o = oracle_inputs(m, st, m.day, ctr)
    v = np.maximum(np.asarray(o["v"]) * o["i_max"], 1e-12)  # return at saturation
    k = np.maximum(np.asarray(o["k"]) * o["c"], 1e-9)  # half-saturation budget
    alpha = np.asarray(o["alpha"], dtype=np.float64)
    specs = [m.spec(s.platform) for s in st["sets"]]
    penalty = np.array([sp.learning_cvr_penalty for sp in specs])
    # Conversions a day that end learning, seen through the penalty and the platform's attribution.
    need = np.array([sp.learning_events / sp.learning_window_days / sp.attribution_rate for sp in specs]) / penalty
    gate = np.where(st["learning"], budget_returning(need, v, k, alpha), 0.0)
    total = float(m.oracle_budget())
    n = len(v)
    # One learning penalty for all: the platforms' penalties differ little, and allocate_gated takes one.
    factor = float(np.mean(penalty)) if n else 1.0
    # An ad set holding its own budget cannot go below its platform's minimum; one sharing its campaign's can.
    lo = np.array(
        [
            MIN_BUDGET
            if m.campaigns[s.campaign_id].daily_budget_minor is not None
            else _minimum(m, st, j, Level.AD_SET)
            for j, s in enumerate(st["sets"])
        ]
    )
    alloc, _ = allocate_gated(total, v, k, alpha, lo, np.full(n, total), gate, factor)
    return np.where([s.status == "DELETED" for s in st["sets"]], 0.0, alloc.budgets)


def _run_best_ad(m: Any, st: dict[str, Any], ctr: Any, ad_set_id: str) -> None:
    """Leave only the ad set's truly best ad today (conversions per impression) active; near-ties (within
    ``SWITCH_MARGIN``) keep the running ad, since a switch restarts learning (a switch on every 1 % lead made
    158 learning resets in 90 days of the full stack, seeds 0-1, and scored 0.5 point less)."""
    ads = [(i, a) for i, a in enumerate(m.slots) if a.ad_set_id == ad_set_id and a.status in ("ACTIVE", "PAUSED")]
    if not ads:
        return
    q = {a.id: float(ctr[i] * st["m_cvr"][i]) for i, a in ads}
    best = max((a for _, a in ads), key=lambda a: q[a.id])
    active = [a for _, a in ads if a.status == "ACTIVE"]
    if active and q[best.id] <= (1 + SWITCH_MARGIN) * max(q[a.id] for a in active):
        best = max(active, key=lambda a: q[a.id])
    if best.status != "ACTIVE":
        m.set_status(best.id, "ACTIVE")
    for _, ad in ads:
        if ad.id != best.id and ad.status == "ACTIVE":
            m.set_status(ad.id, "PAUSED")
