"""Guardrails: pure checks that every proposed change must pass. A rejection is a value with a reason.

Rules, in the order they are applied (the first that fails names the rejection):

1. kill switch: nothing passes.
2. allowlist: only accounts the agent may touch.
3. cooldown: one change per entity within ``cooldown_hours``.
4. daily change count: at most ``max_changes_per_day`` changes (applied today plus approved now).
5. learning-phase protection: on an ad set that is still learning, no budget or bid change larger than
   ``learning_max_change`` of its current value. The platforms restart the phase on a significant edit,
   and a budget edit counts as one from about 20 % (market-science §4): a smaller step leaves the phase
   running, and holding the budget of an ad set whose creatives change every week or two would freeze it
   for good. 0 refuses every change while learning. Pauses stay allowed: stopping waste never waits. A
   *limited* ad set (still learning a full window after its reset) is not protected: it has no phase to
   lose, and more budget is what can end it.
6. per-change cap: a budget or bid moves by at most ``max_change`` of its current value.
7. platform minimums: a budget never goes below what the platform accepts (TikTok: 20 per ad group).
   Then floors and ceilings: a daily budget stays within [``budget_floor``, ``budget_ceiling``] (reporting
   currency, converted at today's rate).
8. total daily spend cap: an increase may not take the sum of all daily budgets above
   ``total_daily_cap`` (reporting currency); a decrease always passes this rule.
9. launches: at most ``max_launches_per_ad_set_per_week`` new ads per ad set in seven days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from adpilot.domain.actions import Action, LaunchAd, SetBid, SetBudget
from adpilot.domain.fx import FxTable
from adpilot.domain.ids import EntityRef
from adpilot.domain.money import Money


@dataclass(frozen=True, slots=True)
class GuardrailConfig:
    max_change: Decimal = Decimal("0.20")
    max_changes_per_day: int = 50
    cooldown_hours: float = 20.0
    budget_floor: Decimal | None = Decimal("1")  # reporting currency, major units
    budget_ceiling: Decimal | None = None
    total_daily_cap: Decimal | None = None
    allowed_accounts: frozenset[str] | None = None  # None: every connected account
    protect_learning: bool = True
    learning_max_change: Decimal = Decimal("0.20")  # the largest edit an ad set still learning takes
    max_launches_per_ad_set_per_week: int = 2
    kill_switch: bool = False

    def __post_init__(self) -> None:
        if not Decimal(0) < self.max_change <= Decimal(1):
            raise ValueError("max_change: a fraction in (0, 1]")
        if not Decimal(0) <= self.learning_max_change <= Decimal(1):
            raise ValueError("learning_max_change: a fraction in [0, 1]")
        if self.max_changes_per_day < 0 or self.cooldown_hours < 0:
            raise ValueError("max_changes_per_day, cooldown_hours: must not be negative")
        if (
            self.budget_floor is not None
            and self.budget_ceiling is not None
            and self.budget_floor > self.budget_ceiling
        ):
            raise ValueError("budget_floor: above budget_ceiling")

    @property
    def learning_edit_limit(self) -> float:
        """The largest relative budget or bid edit these guardrails let through on an ad set still learning
        (1: any, when learning is not protected): what the budget policy's learning moves must stay under."""
        return float(self.learning_max_change) if self.protect_learning else 1.0


@dataclass(frozen=True, slots=True)
class Change:
    """A change already applied (from the ledger), for cooldowns and counts."""

    ref: EntityRef
    at: datetime
    kind: str


@dataclass(frozen=True)
class GuardContext:
    """What the rules need to know about the world right now."""

    now: datetime
    today: date
    fx: FxTable
    budgets: Mapping[EntityRef, Money]  # current daily budgets of every active budget holder
    bids: Mapping[EntityRef, Money] = field(default_factory=dict)
    learning: frozenset[EntityRef] = frozenset()
    applied: Sequence[Change] = ()
    minimums: Mapping[EntityRef, Money] = field(default_factory=dict)  # platform minimum daily budgets


@dataclass(frozen=True, slots=True)
class Approved:
    action: Action


@dataclass(frozen=True, slots=True)
class Rejected:
    action: Action
    rule: str
    reason: str


Verdict = Approved | Rejected


def _ratio_ok(old: Money, new: Money, cap: Decimal) -> bool:
    if old.minor == 0:
        return False
    return abs(Decimal(new.minor - old.minor)) <= cap * Decimal(old.minor)


def _learning_safe(
    action: Action, budgets: Mapping[EntityRef, Money], bids: Mapping[EntityRef, Money], cap: Decimal
) -> bool:
    """Whether ``action`` leaves a learning phase running: anything but a budget or bid edit does (pauses and
    launches have their own rules), and an edit does when it moves the current value by at most ``cap``.
    An edit from a value not known, or in another currency, is left to the rules that name that problem."""
    if isinstance(action, SetBudget):
        old, new = budgets.get(action.target), action.new_budget
    elif isinstance(action, SetBid):
        old, new = bids.get(action.target), action.new_bid
    else:
        return True
    return old is None or old.currency != new.currency or _ratio_ok(old, new, cap)


def guard(actions: Sequence[Action], cfg: GuardrailConfig, ctx: GuardContext) -> list[Verdict]:
    """Judge proposals in order; each approval counts against the limits the next ones see."""
    verdicts: list[Verdict] = []
    budgets = dict(ctx.budgets)
    changes = list(ctx.applied)
    day_start = ctx.now - timedelta(hours=24)
    week_start = ctx.now - timedelta(days=7)

    def reporting(m: Money) -> Decimal:
        return ctx.fx.convert(m, ctx.today).to_major()

    for action in actions:
        ref = action.target
        verdict: Verdict | None = None
        recent = [
            c
            for c in changes
            if c.ref == ref and c.kind != "launch_ad" and c.at > ctx.now - timedelta(hours=cfg.cooldown_hours)
        ]
        if cfg.kill_switch:
            verdict = Rejected(action, "kill_switch", "the kill switch is on: the agent changes nothing")
        elif cfg.allowed_accounts is not None and ref.account_id not in cfg.allowed_accounts:
            verdict = Rejected(action, "allowlist", f"account {ref.account_id} is not on the agent's allowlist")
        elif not isinstance(action, LaunchAd) and recent:
            verdict = Rejected(
                action, "cooldown", f"{ref} changed at {recent[-1].at.isoformat()}; cooldown {cfg.cooldown_hours:g} h"
            )
        elif sum(1 for c in changes if c.at > day_start) >= cfg.max_changes_per_day:
            verdict = Rejected(action, "daily_count", f"{cfg.max_changes_per_day} changes in 24 h already")
        elif (
            cfg.protect_learning
            and ref in ctx.learning
            and not _learning_safe(action, budgets, ctx.bids, cfg.learning_max_change)
        ):
            verdict = Rejected(
                action,
                "learning",
                f"{ref} is in its learning phase; a budget or bid edit of more than "
                f"{cfg.learning_max_change:.0%} would restart it",
            )
        elif isinstance(action, SetBudget):
            old = budgets.get(ref)
            new = action.new_budget
            if old is None:
                verdict = Rejected(action, "unknown_budget", f"{ref} has no known current budget")
            elif old.currency != new.currency:
                verdict = Rejected(action, "currency", f"new budget in {new.currency}, account spends {old.currency}")
            elif not _ratio_ok(old, new, cfg.max_change):
                verdict = Rejected(action, "change_cap", f"{old} -> {new} moves more than {cfg.max_change:.0%}")
            elif ref in ctx.minimums and new.minor < ctx.minimums[ref].minor:
                verdict = Rejected(
                    action,
                    "platform_min",
                    f"{new} is below {ref.platform}'s minimum daily budget of {ctx.minimums[ref]}",
                )
            elif cfg.budget_floor is not None and reporting(new) < cfg.budget_floor:
                verdict = Rejected(
                    action, "floor", f"{new} is below the floor of {cfg.budget_floor} {ctx.fx.reporting}"
                )
            elif cfg.budget_ceiling is not None and reporting(new) > cfg.budget_ceiling:
                verdict = Rejected(
                    action, "ceiling", f"{new} is above the ceiling of {cfg.budget_ceiling} {ctx.fx.reporting}"
                )
            elif cfg.total_daily_cap is not None and new.minor > old.minor:  # a cut never waits for the cap
                total = sum((reporting(m) for r, m in budgets.items() if r != ref), Decimal(0)) + reporting(new)
                if total > cfg.total_daily_cap:
                    verdict = Rejected(
                        action,
                        "total_cap",
                        f"daily budgets would total {total:.2f} "
                        f"{ctx.fx.reporting}, above the cap of {cfg.total_daily_cap}",
                    )
        elif isinstance(action, SetBid):
            old_bid = ctx.bids.get(ref)
            if old_bid is not None and not _ratio_ok(old_bid, action.new_bid, cfg.max_change):
                verdict = Rejected(
                    action, "change_cap", f"bid {old_bid} -> {action.new_bid} moves more than {cfg.max_change:.0%}"
                )
        elif isinstance(action, LaunchAd):
            launched = sum(1 for c in changes if c.ref == ref and c.kind == "launch_ad" and c.at > week_start)
            if launched >= cfg.max_launches_per_ad_set_per_week:
                verdict = Rejected(action, "launch_cap", f"{launched} ads launched in {ref} this week already")
        if verdict is None:
            verdict = Approved(action)
            if isinstance(action, SetBudget):
                budgets[ref] = action.new_budget
            changes.append(Change(ref, ctx.now, str(action.kind)))
        verdicts.append(verdict)
    return verdicts
