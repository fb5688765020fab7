"""What the agent knows at the start of a cycle, as plain values, and what a policy proposes.

A snapshot is built from the warehouse after a sync (``adpilot.agent.snapshot``). Policies are pure
functions of (snapshot, parameters, seeded RNG) and return proposals; they never read storage or the
clock themselves, so the same snapshot and seed always give the same proposals.

Money in a snapshot's daily series is in the **reporting currency, major units, as float**: policies do
statistics on it. Budgets keep their exact ``Money`` in the account currency, because proposals turn
back into exact platform writes (``AdSetView.budget_from_reporting``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from adpilot.domain.actions import Action, idempotency_key
from adpilot.domain.fx import FxTable
from adpilot.domain.ids import EntityRef, Platform
from adpilot.domain.money import Money
from adpilot.domain.status import Status


class Objective(StrEnum):
    CONVERSIONS = "conversions"  # maximize conversions for the budget (CPA goal)
    VALUE = "value"  # maximize conversion value (ROAS goal)


@dataclass(frozen=True, slots=True)
class Goal:
    """What the account owner wants, in the reporting currency."""

    objective: Objective = Objective.CONVERSIONS
    total_daily_budget: float | None = None  # None: keep the current total
    target_cpa: float | None = None
    target_roas: float | None = None

    def __post_init__(self) -> None:
        for name in ("total_daily_budget", "target_cpa", "target_roas"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be a positive number, got {v!r}")


@dataclass(frozen=True, slots=True)
class Series:
    """Daily totals of one entity, oldest day first; money in reporting-currency major units."""

    days: tuple[date, ...] = ()
    spend: tuple[float, ...] = ()
    impressions: tuple[int, ...] = ()
    clicks: tuple[int, ...] = ()
    conversions: tuple[float, ...] = ()
    value: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.days)
        for name in ("spend", "impressions", "clicks", "conversions", "value"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name}: {len(getattr(self, name))} values for {n} days")
        if any(b <= a for a, b in zip(self.days, self.days[1:], strict=False)):
            raise ValueError("days: must be strictly increasing")

    def __len__(self) -> int:
        return len(self.days)

    def since(self, first: date) -> Series:
        """The days on or after ``first``."""
        i = next((k for k, d in enumerate(self.days) if d >= first), len(self.days))
        return Series(
            self.days[i:],
            self.spend[i:],
            self.impressions[i:],
            self.clicks[i:],
            self.conversions[i:],
            self.value[i:],
        )

    def totals(self) -> dict[str, float]:
        return {
            "spend": math.fsum(self.spend),
            "impressions": float(sum(self.impressions)),
            "clicks": float(sum(self.clicks)),
            "conversions": math.fsum(self.conversions),
            "value": math.fsum(self.value),
        }


@dataclass(frozen=True, slots=True)
class AdView:
    """One ad with its creative's content and its daily history."""

    ref: EntityRef
    ad_set: EntityRef
    name: str
    status: Status
    creative_key: str  # asset identity when known, else the platform creative id
    headline: str = ""
    call_to_action: str = ""
    history: Series = field(default_factory=Series)

    @property
    def active(self) -> bool:
        return self.status is Status.ACTIVE

    @property
    def first_day(self) -> date | None:
        """The first day the ad delivered (had impressions)."""
        return next((d for d, i in zip(self.history.days, self.history.impressions, strict=True) if i > 0), None)


@dataclass(frozen=True, slots=True)
class AdSetView:
    """One ad set (X line item, TikTok ad group): where budget is spent, with its ads.

    ``budget_holder`` is the entity whose daily budget governs this ad set's spend: the ad set itself,
    or its campaign when the campaign holds the budget (X campaign budgets, Meta CBO). Ad sets sharing a
    holder move together; a budget proposal always targets the holder.
    """

    ref: EntityRef
    campaign: EntityRef
    name: str
    status: Status
    currency: str
    budget_holder: EntityRef
    daily_budget: Money | None  # the holder's current daily budget, account currency
    fx_rate: float  # reporting-currency units per account-currency unit (today)
    # The learning phase (see ``adpilot.domain.entities.LearningStatus``): ``learning`` while it may still end
    # (an edit would restart it), ``learning_limited`` once the ad set failed to end it in its window; both
    # deliver at a lower conversion rate, as on ``learning_days`` (the days of the history it spent so).
    learning: bool = False
    learning_limited: bool = False
    learning_days: frozenset[date] = frozenset()
    bid: Money | None = None
    min_budget: Money | None = None  # the platform's smallest daily budget for the holder
    history: Series = field(default_factory=Series)
    ads: tuple[AdView, ...] = ()

    @property
    def active(self) -> bool:
        return self.status is Status.ACTIVE

    @property
    def platform(self) -> Platform:
        return self.ref.platform

    @property
    def budget_reporting(self) -> float:
        """The holder's daily budget in reporting-currency major units (0 when unknown)."""
        return 0.0 if self.daily_budget is None else self.to_reporting(self.daily_budget)

    @property
    def min_budget_reporting(self) -> float:
        """The platform's minimum daily budget in reporting-currency major units (0 when none)."""
        return 0.0 if self.min_budget is None else self.to_reporting(self.min_budget)

    def to_reporting(self, money: Money) -> float:
        """An amount of the account's currency in reporting-currency major units."""
        return float(money.to_major()) * self.fx_rate

    def budget_from_reporting(self, amount: float) -> Money:
        """An exact account-currency budget for ``amount`` reporting-currency units (half-even)."""
        return Money.of_major(Decimal(repr(amount / self.fx_rate)), self.currency)


@dataclass(frozen=True, slots=True)
class CreativeCandidate:
    """A creative ready to launch (from the asset library or the variant generator), not yet live."""

    key: str  # its asset identity (``sha256:...`` of the image) joined with its copy; unique
    name: str
    asset_ids: tuple[str, ...]
    headline: str
    body: str = ""
    call_to_action: str = ""
    link_url: str = ""
    platforms: frozenset[Platform] = frozenset(Platform)  # where its specs allow it
    parent_key: str | None = None  # the creative it was derived from
    # The element model's view (``adpilot.creative.candidates.element_candidates``): expected conversions per
    # impression relative to the ad set's current ads, and the spread (sd of its log); None when unmodelled.
    expected_relative: float | None = None
    relative_sd: float | None = None


@dataclass(frozen=True, slots=True)
class PastAction:
    """A change the agent applied earlier (from the ledger): for cooldowns and learning-phase estimates."""

    target: EntityRef
    kind: str  # an ActionKind value
    source: str  # the policy or rule that proposed it
    at: datetime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The agent's view at the start of one cycle.

    ``as_of`` is the last complete report day; a day's *age* is ``(as_of - day).days`` (0 for ``as_of``).
    ``completeness[platform][age]`` is the expected share of a day's final conversions already reported
    at that age (1.0 past the end of the tuple): recent days are censored, not bad.
    """

    now: datetime
    as_of: date
    cycle: int  # how many decision cycles came before this one
    reporting_currency: str
    goal: Goal
    ad_sets: tuple[AdSetView, ...]
    completeness: Mapping[Platform, tuple[float, ...]] = field(default_factory=dict)
    applied: tuple[PastAction, ...] = ()  # the agent's applied changes, oldest first
    candidates: tuple[CreativeCandidate, ...] = ()  # creatives the agent may launch
    fx: FxTable | None = None  # the rates the snapshot's reporting amounts were converted with

    def age(self, day: date) -> int:
        return (self.as_of - day).days

    def reported_share(self, platform: Platform, day: date) -> float:
        curve = self.completeness.get(platform, ())
        a = self.age(day)
        if a < 0:
            return 0.0
        return curve[a] if a < len(curve) else 1.0

    def lag_adjusted_conversions(self, platform: Platform, series: Series) -> float:
        """A series' conversions with each day divided by its expected reported share (floored at 5 %)."""
        return math.fsum(
            c / max(self.reported_share(platform, d), 0.05)
            for d, c in zip(series.days, series.conversions, strict=True)
        )

    def active_ad_sets(self) -> list[AdSetView]:
        return [s for s in self.ad_sets if s.active]

    def total_budget(self) -> float:
        """The daily budget to allocate (reporting currency): the goal's, else today's total."""
        if self.goal.total_daily_budget is not None:
            return self.goal.total_daily_budget
        holders = {s.budget_holder: s.budget_reporting for s in self.active_ad_sets()}
        return math.fsum(holders.values())


@dataclass(frozen=True, slots=True)
class Proposal:
    """A policy's proposed action, with the evidence behind it and what it expects to gain."""

    action: Action
    policy: str
    evidence: Mapping[str, Any] = field(default_factory=dict)  # JSON-able figures
    expected_impact: str = ""

    def __post_init__(self) -> None:
        if not self.policy:
            raise ValueError("policy: every proposal names the policy that made it")


def decision_key(snapshot: Snapshot, kind: str, target: EntityRef, value: object = "") -> str:
    """The idempotency key of one decision: the same data, target and value always give the same key,
    so a cycle that resumes (or runs twice on the same day's data) cannot apply a change twice."""
    return idempotency_key(snapshot.as_of.isoformat(), kind, str(target), value)
