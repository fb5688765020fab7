"""User rules ("if CPA over 7 days > 60, pause the ad set") as pure values, and their evaluation.

A rule file (``adpilot.rules_file``) becomes a tuple of ``Rule``; ``RulesPolicy(rules)`` evaluates them
on a snapshot. Each proposal names ``rule:<name>`` as its policy, so approvals and cooldowns are per
rule, and carries the rule's approval mode in ``evidence["approval"]``.

Metrics are computed from **sums over the window** (CPA = Σspend / Σconversions, never a mean of
daily CPAs), from reported figures, money in the reporting currency. A ratio whose denominator is 0 is
+inf when its numerator is positive (spend without conversions: CPA = inf) and *undefined* when both
are 0 (no data). A condition on an undefined metric is false, whatever its operator.

Rules do not clamp their budget moves: the guardrails (``adpilot.actions.guardrails``) reject a change
above the per-change cap, below the floor or over the total cap, and a rule's proposal meets them
like any other.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

import numpy as np

from adpilot.domain.actions import Pause, Resume, SetBudget
from adpilot.domain.ids import EntityRef, Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import AdSetView, Proposal, Series, Snapshot, decision_key
from adpilot.domain.status import Status


class Metric(StrEnum):
    SPEND = "spend"
    IMPRESSIONS = "impressions"
    CLICKS = "clicks"
    CONVERSIONS = "conversions"
    VALUE = "value"
    CTR = "ctr"  # clicks / impressions
    CPC = "cpc"  # spend / clicks
    CPM = "cpm"  # 1000 × spend / impressions
    CVR = "cvr"  # conversions / clicks
    CPA = "cpa"  # spend / conversions
    ROAS = "roas"  # value / spend


# numerator, denominator, scale of each derived metric
_DERIVED: dict[Metric, tuple[str, str, float]] = {
    Metric.CTR: ("clicks", "impressions", 1.0),
    Metric.CPC: ("spend", "clicks", 1.0),
    Metric.CPM: ("spend", "impressions", 1000.0),
    Metric.CVR: ("conversions", "clicks", 1.0),
    Metric.CPA: ("spend", "conversions", 1.0),
    Metric.ROAS: ("value", "spend", 1.0),
}


class Op(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


OP_WORDS: dict[str, Op] = {"gt": Op.GT, "gte": Op.GE, "ge": Op.GE, "lt": Op.LT, "lte": Op.LE, "le": Op.LE}
OP_WORDS |= {"eq": Op.EQ, "ne": Op.NE}
_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}


class RuleLevel(StrEnum):
    AD_SET = "ad_set"
    AD = "ad"


class Scope(StrEnum):
    EACH = "each"  # one evaluation per matched entity
    BLENDED = "blended"  # one evaluation over the sum of every matched entity


class Approval(StrEnum):
    AUTO = "auto"  # applied once the guardrails pass it
    APPROVE = "approve"  # waits for a person
    DRY_RUN = "dry-run"  # recorded, never applied


@dataclass(frozen=True, slots=True)
class Condition:
    metric: Metric
    op: Op
    value: float
    window_days: int = 7

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError("window_days: at least 1 day")
        if not math.isfinite(self.value):
            raise ValueError("value: must be a finite number")

    def describe(self) -> str:
        return f"{self.metric}({self.window_days}d) {self.op} {self.value:g}"


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[When, ...]

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ValueError("conditions: at least one")

    def describe(self) -> str:
        return "(" + " and ".join(c.describe() for c in self.conditions) + ")"


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[When, ...]

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ValueError("conditions: at least one")

    def describe(self) -> str:
        return "(" + " or ".join(c.describe() for c in self.conditions) + ")"


When = Condition | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class PauseEntity:
    def describe(self) -> str:
        return "pause"


@dataclass(frozen=True, slots=True)
class ResumeEntity:
    def describe(self) -> str:
        return "resume"


@dataclass(frozen=True, slots=True)
class ScaleBudget:
    """Multiply the budget holder's daily budget by ``1 + fraction`` (0.15 = +15 %, -0.2 = -20 %)."""

    fraction: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fraction) and self.fraction > -1 and self.fraction != 0):
            raise ValueError("scale_budget: a non-zero fraction above -1 (0.15 = +15 %)")

    def describe(self) -> str:
        return f"scale budget {self.fraction:+.0%}"


@dataclass(frozen=True, slots=True)
class SetBudgetTo:
    """Set the budget holder's daily budget to ``amount`` (reporting currency, major units)."""

    amount: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amount) and self.amount > 0):
            raise ValueError("set_budget: a positive amount in the reporting currency")

    def describe(self) -> str:
        return f"set budget {self.amount:g}"


RuleAction = PauseEntity | ResumeEntity | ScaleBudget | SetBudgetTo
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a rule may fire: weekdays (0 = Monday) and hours [start, end) of ``snapshot.now``'s time zone.

    ``start > end`` wraps past midnight (22 to 6 is the night).
    """

    weekdays: frozenset[int] = frozenset(range(7))
    start_hour: int = 0
    end_hour: int = 24

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("weekdays: a non-empty subset of 0..6 (Monday = 0)")
        if not (0 <= self.start_hour <= 23 and 1 <= self.end_hour <= 24 and self.start_hour != self.end_hour):
            raise ValueError("hours: start in 0..23, end in 1..24, start != end")

    def allows(self, now: datetime) -> bool:
        h = now.hour
        if self.start_hour < self.end_hour:
            in_hours = self.start_hour <= h < self.end_hour
            day = now.weekday()
        else:  # wraps: the early hours belong to the window that started the day before
            in_hours = h >= self.start_hour or h < self.end_hour
            day = now.weekday() if h >= self.start_hour else (now.weekday() - 1) % 7
        return in_hours and day in self.weekdays

    def describe(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in sorted(self.weekdays)) if len(self.weekdays) < 7 else "every day"
        return f"{days} {self.start_hour:02d}-{self.end_hour:02d}h"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: When
    action: RuleAction
    level: RuleLevel = RuleLevel.AD_SET
    scope: Scope = Scope.EACH
    platforms: frozenset[Platform] = frozenset(Platform)
    name_contains: str | None = None  # case-insensitive filter on the entity's name at ``level``
    cooldown_hours: float = 24.0
    schedule: Schedule | None = None
    approval: Approval = Approval.APPROVE
    min_spend: float | None = None  # over the rule's longest window; below it the rule does not fire
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name: a rule needs a name")
        if not self.platforms:
            raise ValueError("platforms: at least one platform")
        if isinstance(self.action, ScaleBudget | SetBudgetTo) and self.level is not RuleLevel.AD_SET:
            raise ValueError("action: budgets live on ad sets (or their campaigns); use level: ad_set")
        if self.cooldown_hours < 0 or (self.min_spend is not None and self.min_spend < 0):
            raise ValueError("cooldown_hours, min_spend: must not be negative")

    @property
    def policy(self) -> str:
        return f"rule:{self.name}"

    def longest_window(self) -> int:
        return max(c.window_days for c in _leaves(self.when))

    def describe(self) -> str:
        """The rule in one line, for ``adpilot rules validate`` and logs."""
        where = ",".join(p.value for p in Platform if p in self.platforms)
        parts = [f"{self.name} [{self.approval}]: {self.scope} {self.level} on {where}"]
        if self.name_contains:
            parts.append(f"named *{self.name_contains}*")
        parts.append(f"when {self.when.describe()}")
        if self.min_spend is not None:
            parts.append(f"with spend({self.longest_window()}d) >= {self.min_spend:g}")
        parts.append(f"-> {self.action.describe()}; cooldown {self.cooldown_hours:g}h")
        if self.schedule is not None:
            parts.append(f"; {self.schedule.describe()}")
        return " ".join(parts).replace(" ;", ";")


def _leaves(when: When) -> Iterable[Condition]:
    if isinstance(when, Condition):
        yield when
    else:
        for c in when.conditions:
            yield from _leaves(c)


# -- metrics -------------------------------------------------------------------------------------------


def window_totals(series: Iterable[Series], snapshot: Snapshot, days: int) -> dict[str, float]:
    """Reported sums over the last ``days`` report days (to ``as_of`` inclusive) of every series."""
    first = snapshot.as_of - timedelta(days=days - 1)
    sums = dict.fromkeys(("spend", "impressions", "clicks", "conversions", "value"), 0.0)
    for s in series:
        for k, v in s.since(first).totals().items():
            sums[k] += v
    return sums


def metric_value(metric: Metric, totals: dict[str, float]) -> float | None:
    """A metric from window sums: a ratio over 0 is +inf if its numerator is positive, else None (no data)."""
    if metric not in _DERIVED:
        return totals[metric.value]
    num_key, den_key, scale = _DERIVED[metric]
    num, den = totals[num_key], totals[den_key]
    if den > 0:
        return scale * num / den
    return math.inf if num > 0 else None


class _Evaluation:
    """One condition tree on one set of series, remembering the figures it looked at."""

    def __init__(self, series: Sequence[Series], snapshot: Snapshot) -> None:
        self.series = series
        self.snapshot = snapshot
        self.totals: dict[int, dict[str, float]] = {}
        self.figures: dict[str, float | None] = {}
        self.explained: list[str] = []

    def window(self, days: int) -> dict[str, float]:
        if days not in self.totals:
            self.totals[days] = window_totals(self.series, self.snapshot, days)
        return self.totals[days]

    def holds(self, when: When) -> bool:
        if isinstance(when, AllOf):
            results = [self.holds(c) for c in when.conditions]  # every leaf evaluated: full evidence
            return all(results)
        if isinstance(when, AnyOf):
            results = [self.holds(c) for c in when.conditions]
            return any(results)
        v = metric_value(when.metric, self.window(when.window_days))
        self.figures[f"{when.metric}_{when.window_days}d"] = v
        ok = v is not None and _COMPARE[when.op](v, when.value)
        shown = "no data" if v is None else _fmt(v)
        self.explained.append(f"{when.metric}({when.window_days}d) = {shown} {when.op} {when.value:g}: {ok}")
        return ok


def _fmt(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.4g}"


def _json(v: float | None) -> float | str | None:
    if v is None:
        return None
    return "inf" if math.isinf(v) else round(v, 6)


# -- the policy ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entity:
    ref: EntityRef
    name: str
    status: Status
    ad_set: AdSetView
    history: Series


@dataclass
class _Batch:
    """What one rule firing proposes, with the evidence shared by its proposals."""

    rule: Rule
    evidence: dict[str, Any]
    reason: str
    seen_holders: set[EntityRef] = field(default_factory=set)


class RulesPolicy:
    """Evaluates user rules; each proposal's policy is ``rule:<name>`` (approvals and cooldowns per rule)."""

    name = "rules"

    def __init__(self, rules: Sequence[Rule]) -> None:
        names = [r.name for r in rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rules: duplicate names {dup}")
        self.rules = tuple(rules)
        self._approval = {r.policy: r.approval for r in rules}

    def approval(self, policy: str) -> Approval | None:
        """The approval mode of the rule that produced a proposal (by its ``policy``), if it is one of ours."""
        return self._approval.get(policy)

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        out: list[Proposal] = []
        for rule in self.rules:
            out += self.evaluate(rule, snapshot)
        return out

    def evaluate(self, rule: Rule, snapshot: Snapshot) -> list[Proposal]:
        """The proposals of one rule on one snapshot."""
        if rule.schedule is not None and not rule.schedule.allows(snapshot.now):
            return []
        entities = _matched(rule, snapshot)
        if not entities:
            return []
        base = {"rule": rule.name, "approval": rule.approval.value, "scope": rule.scope.value}
        out: list[Proposal] = []
        if rule.scope is Scope.BLENDED:
            fired = _fires(rule, snapshot, [e.history for e in entities])
            if fired is not None:
                ev, why = fired
                platforms = sorted({e.ref.platform.value for e in entities})
                batch = _Batch(
                    rule,
                    {**base, **ev, "entities": len(entities), "platforms": platforms},
                    f"rule '{rule.name}': blended over {len(entities)} {rule.level}s on {'+'.join(platforms)}: {why}",
                )
                for e in entities:
                    out += _act(batch, e, snapshot)
            return out
        for e in entities:
            fired = _fires(rule, snapshot, [e.history])
            if fired is not None:
                ev, why = fired
                batch = _Batch(rule, {**base, **ev, "entity": str(e.ref)}, f"rule '{rule.name}': {e.name}: {why}")
                out += _act(batch, e, snapshot)
        return out


def _matched(rule: Rule, snapshot: Snapshot) -> list[_Entity]:
    """The ad sets (or ads) the rule looks at: on its platforms, with its name filter."""
    needle = rule.name_contains.casefold() if rule.name_contains else None
    out: list[_Entity] = []
    for s in snapshot.ad_sets:
        if s.platform not in rule.platforms:
            continue
        if rule.level is RuleLevel.AD_SET:
            candidates = [_Entity(s.ref, s.name, s.status, s, s.history)]
        else:
            candidates = [_Entity(a.ref, a.name, a.status, s, a.history) for a in s.ads]
        out += [e for e in candidates if needle is None or needle in e.name.casefold()]
    return out


def _fires(rule: Rule, snapshot: Snapshot, series: Sequence[Series]) -> tuple[dict[str, Any], str] | None:
    """(evidence, explanation) when the rule's guard and condition hold on these series, else None."""
    ev = _Evaluation(series, snapshot)
    if rule.min_spend is not None:
        days = rule.longest_window()
        spend = ev.window(days)["spend"]
        if spend < rule.min_spend:
            return None
    if not ev.holds(rule.when):
        return None
    figures: dict[str, Any] = {k: _json(v) for k, v in ev.figures.items()}
    if rule.min_spend is not None:
        figures["min_spend"] = rule.min_spend
    return {"figures": figures}, "; ".join(ev.explained)


def _cooling(rule: Rule, target: EntityRef, snapshot: Snapshot) -> bool:
    since = snapshot.now - timedelta(hours=rule.cooldown_hours)
    return any(p.source == rule.policy and p.target == target and p.at > since for p in snapshot.applied)


def _act(batch: _Batch, e: _Entity, snapshot: Snapshot) -> list[Proposal]:
    """The rule's action on one entity, when it changes something and the rule is not cooling down."""
    rule = batch.rule
    action: Pause | Resume | SetBudget
    if isinstance(rule.action, PauseEntity | ResumeEntity):
        pause = isinstance(rule.action, PauseEntity)
        if e.status is not (Status.ACTIVE if pause else Status.PAUSED) or _cooling(rule, e.ref, snapshot):
            return []
        kind = Pause if pause else Resume
        key = decision_key(snapshot, "pause" if pause else "resume", e.ref)
        action = kind(target=e.ref, reason=batch.reason, idempotency_key=key)
        return [Proposal(action, rule.policy, batch.evidence)]
    s = e.ad_set
    holder, old = s.budget_holder, s.daily_budget
    if not s.active or old is None or holder in batch.seen_holders or _cooling(rule, holder, snapshot):
        return []
    batch.seen_holders.add(holder)
    if isinstance(rule.action, ScaleBudget):
        exact = Decimal(old.minor) * (1 + Decimal(repr(rule.action.fraction)))
        new = Money(old.currency, int(exact.to_integral_value(rounding=ROUND_HALF_EVEN)))
    else:
        new = s.budget_from_reporting(rule.action.amount)
    if new.minor <= 0 or new == old:
        return []
    action = SetBudget(
        target=holder,
        new_budget=new,
        reason=f"{batch.reason} -> {rule.action.describe()} ({old} -> {new})",
        idempotency_key=decision_key(snapshot, "set_budget", holder, new.minor),
    )
    return [Proposal(action, rule.policy, {**batch.evidence, "budget_before": str(old), "budget_after": str(new)})]
