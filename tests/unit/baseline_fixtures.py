"""Small synthetic snapshots for the baseline and rules tests: every figure is set by the test itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import AdSetView, AdView, Goal, PastAction, Series, Snapshot
from adpilot.domain.status import Status

AS_OF = date(2026, 3, 10)  # a Tuesday
NOW = datetime(2026, 3, 11, 10, 30, tzinfo=ZoneInfo("America/New_York"))  # Wednesday 10:30
ACCOUNTS = {Platform.META: "1000000001", Platform.X: "18ce54", Platform.TIKTOK: "7000000001"}

Daily = float | Sequence[float]


def _per_day(v: Daily, n: int) -> list[float]:
    if isinstance(v, int | float):
        return [float(v)] * n
    if len(v) != n:
        raise ValueError(f"{len(v)} values for {n} days")
    return [float(x) for x in v]


def series(
    days: int,
    *,
    spend: Daily = 0.0,
    impressions: Daily = 0,
    clicks: Daily = 0,
    conversions: Daily = 0.0,
    value: Daily = 0.0,
    end: date = AS_OF,
) -> Series:
    """``days`` daily rows ending on ``end``; a scalar repeats, a sequence is oldest first."""
    ds = tuple(end - timedelta(days=days - 1 - i) for i in range(days))
    return Series(
        ds,
        tuple(_per_day(spend, days)),
        tuple(int(x) for x in _per_day(impressions, days)),
        tuple(int(x) for x in _per_day(clicks, days)),
        tuple(_per_day(conversions, days)),
        tuple(_per_day(value, days)),
    )


def ref(platform: Platform, level: Level, entity_id: str) -> EntityRef:
    return EntityRef(platform, ACCOUNTS[platform], level, entity_id)


def ad(
    entity_id: str,
    *,
    status: Status = Status.ACTIVE,
    history: Series | None = None,
    platform: Platform = Platform.META,
    name: str | None = None,
) -> AdView:
    """An ad; ``ad_set()`` re-parents it."""
    placeholder = ref(platform, Level.AD_SET, "unset")
    return AdView(
        ref=ref(platform, Level.AD, entity_id),
        ad_set=placeholder,
        name=name or f"ad {entity_id}",
        status=status,
        creative_key=f"creative-{entity_id}",
        history=history or Series(),
    )


def ad_set(
    entity_id: str,
    *,
    platform: Platform = Platform.META,
    status: Status = Status.ACTIVE,
    budget: float | None = 100.0,
    currency: str = "USD",
    fx_rate: float = 1.0,
    campaign_budget: str | None = None,
    history: Series | None = None,
    ads: Sequence[AdView] = (),
    name: str | None = None,
) -> AdSetView:
    """An ad set; ``campaign_budget`` names a campaign that holds the budget (then ``budget`` is its budget)."""
    own = ref(platform, Level.AD_SET, entity_id)
    campaign = ref(platform, Level.CAMPAIGN, campaign_budget or f"c-{entity_id}")
    return AdSetView(
        ref=own,
        campaign=campaign,
        name=name or f"set {entity_id}",
        status=status,
        currency=currency,
        budget_holder=campaign if campaign_budget else own,
        daily_budget=None if budget is None else Money.of_major(repr(budget), currency),
        fx_rate=fx_rate,
        history=history or Series(),
        ads=tuple(replace(a, ad_set=own) for a in ads),
    )


def snapshot(
    *ad_sets: AdSetView,
    goal: Goal | None = None,
    cycle: int = 0,
    now: datetime = NOW,
    applied: Sequence[PastAction] = (),
) -> Snapshot:
    return Snapshot(
        now=now,
        as_of=AS_OF,
        cycle=cycle,
        reporting_currency="USD",
        goal=goal or Goal(),
        ad_sets=tuple(ad_sets),
        applied=tuple(applied),
    )


def active_ads_after(snap: Snapshot, actions: Sequence[object]) -> dict[EntityRef, int]:
    """How many ads of each ad set are active once the given Pause/Resume actions apply."""
    status = {a.ref: a.status for s in snap.ad_sets for a in s.ads}
    for act in actions:
        target = getattr(act, "target", None)
        kind = str(getattr(act, "kind", ""))
        if target in status and kind in ("pause", "resume"):
            status[target] = Status.PAUSED if kind == "pause" else Status.ACTIVE
    return {s.ref: sum(1 for a in s.ads if status[a.ref] is Status.ACTIVE) for s in snap.ad_sets}
