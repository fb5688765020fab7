"""Build the agent's ``Snapshot`` from entities and daily rows, wherever they come from.

The warehouse is the source in production (``inputs_from_warehouse``). The benchmark can feed the same
``SnapshotInputs`` straight from the in-process sandbox (``adpilot.bench.market_feed``); a test shows
both sources give identical inputs, hence identical snapshots and decisions.

Statuses are reduced to what a decision needs: an ad set counts as active only when it and its campaign
are, an ad only when it and its ad set are. Recent days are kept (they are censored, not bad: the
snapshot's ``completeness`` says how much of them is reported yet).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from adpilot.domain.actions import ActionKind
from adpilot.domain.entities import (
    LEARNING_EVENTS,
    LEARNING_WINDOW_DAYS,
    Ad,
    AdAccount,
    AdSet,
    Campaign,
    Creative,
    LearningStatus,
)
from adpilot.domain.fx import FxTable
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import currency_exponent
from adpilot.domain.platform_limits import min_daily_budget
from adpilot.domain.snapshot import (
    AdSetView,
    AdView,
    CreativeCandidate,
    Goal,
    PastAction,
    Series,
    Snapshot,
)
from adpilot.domain.status import Status
from adpilot.ports.warehouse import Warehouse

# Changes that put an ad set back into its learning phase on the platforms (Meta's "significant edits").
LEARNING_RESETS = frozenset({ActionKind.PAUSE, ActionKind.RESUME, ActionKind.LAUNCH_AD})

INSIGHT_FIELDS = (
    "platform",
    "account_id",
    "ad_id",
    "day",
    "impressions",
    "clicks",
    "spend_minor",
    "conversions",
    "value_minor",
    "currency",
)

Completeness = Callable[[Sequence[AdSetView], date], Mapping[Platform, tuple[float, ...]]]


@dataclass(frozen=True)
class SnapshotInputs:
    """Everything a snapshot is made of. ``insights`` has the columns of ``INSIGHT_FIELDS``, account currency."""

    now: datetime
    accounts: Sequence[AdAccount]
    campaigns: Sequence[Campaign]
    ad_sets: Sequence[AdSet]
    ads: Sequence[Ad]
    creatives: Sequence[Creative]
    insights: pa.Table
    fx: FxTable
    goal: Goal
    cycle: int = 0
    applied: Sequence[PastAction] = ()
    candidates: Sequence[CreativeCandidate] = ()
    window_days: int = 60

    def fingerprint(self) -> tuple[object, ...]:
        """A comparable summary (entities, sorted rows): what the identity test compares."""
        rows = self.insights.sort_by([("platform", "ascending"), ("ad_id", "ascending"), ("day", "ascending")])
        return (
            self.now,
            sorted(map(repr, self.accounts)),
            sorted(map(repr, self.campaigns)),
            sorted(map(repr, self.ad_sets)),
            sorted(map(repr, self.ads)),
            sorted(map(repr, self.creatives)),
            rows.to_pydict(),
        )


def last_complete_day(now: datetime, accounts: Sequence[AdAccount]) -> date:
    """The latest account-local yesterday: every account's days up to it are over (or about to be)."""
    if not accounts:
        return (now - timedelta(days=1)).date()
    return max((now.astimezone(ZoneInfo(a.timezone)).date() - timedelta(days=1)) for a in accounts)


def window_of(now: datetime, accounts: Sequence[AdAccount], window_days: int) -> tuple[date, date]:
    """The first and last report day a snapshot covers: ``window_days`` complete days."""
    as_of = last_complete_day(now, accounts)
    return as_of - timedelta(days=window_days - 1), as_of


def inputs_from_warehouse(
    warehouse: Warehouse,
    *,
    now: datetime,
    fx: FxTable,
    goal: Goal,
    cycle: int = 0,
    applied: Sequence[PastAction] = (),
    candidates: Sequence[CreativeCandidate] = (),
    window_days: int = 60,
) -> SnapshotInputs:
    """Read entities and the last ``window_days`` of daily ad rows from the warehouse."""
    wh = warehouse
    accounts = [e for e in wh.get_entities(Level.ACCOUNT) if isinstance(e, AdAccount)]
    first, last = window_of(now, accounts, window_days)
    return SnapshotInputs(
        now=now,
        accounts=accounts,
        campaigns=[e for e in wh.get_entities(Level.CAMPAIGN) if isinstance(e, Campaign)],
        ad_sets=[e for e in wh.get_entities(Level.AD_SET) if isinstance(e, AdSet)],
        ads=[e for e in wh.get_entities(Level.AD) if isinstance(e, Ad)],
        creatives=[e for e in wh.get_entities(Level.CREATIVE) if isinstance(e, Creative)],
        insights=wh.insight_columns(first, last),
        fx=fx,
        goal=goal,
        cycle=cycle,
        applied=applied,
        candidates=candidates,
        window_days=window_days,
    )


def _series(days: list[date], cols: dict[str, np.ndarray], idx: np.ndarray) -> Series:
    if not len(idx):
        return Series()
    order = idx[np.argsort(np.array([days[i].toordinal() for i in idx]), kind="stable")]
    return Series(
        tuple(days[i] for i in order),
        tuple(float(x) for x in cols["spend"][order]),
        tuple(int(x) for x in cols["impressions"][order]),
        tuple(int(x) for x in cols["clicks"][order]),
        tuple(float(x) for x in cols["conversions"][order]),
        tuple(float(x) for x in cols["value"][order]),
    )


def _sum_series(parts: Sequence[Series]) -> Series:
    acc: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
    for s in parts:
        for k, d in enumerate(s.days):
            row = acc[d]
            row[0] += s.spend[k]
            row[1] += s.impressions[k]
            row[2] += s.clicks[k]
            row[3] += s.conversions[k]
            row[4] += s.value[k]
    days = sorted(acc)
    return Series(
        tuple(days),
        tuple(acc[d][0] for d in days),
        tuple(int(acc[d][1]) for d in days),
        tuple(int(acc[d][2]) for d in days),
        tuple(acc[d][3] for d in days),
        tuple(acc[d][4] for d in days),
    )


def _reporting_columns(inputs: SnapshotInputs, first: date, last: date) -> tuple[list[date], dict[str, np.ndarray]]:
    """Rows inside the window, money in reporting-currency major units (rate of each row's day)."""
    t = inputs.insights
    days: list[date] = t.column("day").to_pylist() if t.num_rows else []
    keep = np.array([first <= d <= last for d in days], dtype=bool)
    currency = t.column("currency").to_pylist() if t.num_rows else []
    rate_cache: dict[tuple[str, date], float] = {}
    factor = np.empty(len(days))
    for i, (c, d) in enumerate(zip(currency, days, strict=True)):
        r = rate_cache.get((c, d))
        if r is None:
            r = float(inputs.fx.rate(c, d)) / 10 ** currency_exponent(c)
            rate_cache[(c, d)] = r
        factor[i] = r
    num = {k: (t.column(k).to_numpy() if t.num_rows else np.zeros(0)) for k in INSIGHT_FIELDS[4:9]}
    cols = {
        "platform": np.array(t.column("platform").to_pylist() if t.num_rows else [], dtype=object),
        "ad_id": np.array(t.column("ad_id").to_pylist() if t.num_rows else [], dtype=object),
        "impressions": num["impressions"].astype(np.int64),
        "clicks": num["clicks"].astype(np.int64),
        "spend": num["spend_minor"].astype(np.float64) * factor,
        "conversions": num["conversions"].astype(np.float64),
        "value": num["value_minor"].astype(np.float64) * factor,
        "keep": keep,
    }
    return days, cols


def _learning_phase(
    snapshot: Snapshot, ad_set: AdSetView, reported: LearningStatus | None, resets: set[date]
) -> AdSetView:
    """The ad set's learning phase: the platform's word for today where it gives one, and for the days of
    its history an estimate by the platforms' rule.

    Learning starts at each reset (the ad set's first delivery in the window, an ad's first delivery, and
    the agent's own pauses, resumes and launches) and ends once ``LEARNING_EVENTS`` conversions fall within
    ``LEARNING_WINDOW_DAYS`` days since it; an ad set still learning a full window after its reset is *limited*
    and stays so until it gets there (or is reset). Recent days count their lag-adjusted conversions: the
    platform counts events as they happen, not as they are reported.
    """
    h = ad_set.history
    first = next((d for d, n in zip(h.days, h.impressions, strict=True) if n > 0), None)
    starts = sorted(set(resets) | {d for d in (first, *(a.first_day for a in ad_set.ads)) if d is not None})
    since: date | None = None  # the start of the learning phase under way (None: not learning)
    window: list[tuple[date, float]] = []  # (day, conversions) since ``since``, within the last window
    days_in: list[date] = []
    k = 0
    for d, conversions in zip(h.days, h.conversions, strict=True):
        while k < len(starts) and starts[k] <= d:
            since, window, k = starts[k], [], k + 1
        if since is None:
            continue
        window = [(x, c) for x, c in window if (d - x).days < LEARNING_WINDOW_DAYS]
        window.append((d, conversions / max(snapshot.reported_share(ad_set.platform, d), 0.05)))
        days_in.append(d)
        if math.fsum(c for _, c in window) >= LEARNING_EVENTS:
            since = None
    if k < len(starts):  # a reset after the last reported day (today's changes)
        since = starts[-1]
    learning = since is not None
    limited = since is not None and (snapshot.as_of - since).days >= LEARNING_WINDOW_DAYS
    if reported is not None:
        learning, limited = reported is LearningStatus.LEARNING, reported is LearningStatus.LIMITED
    return replace(
        ad_set, learning=learning and not limited, learning_limited=limited, learning_days=frozenset(days_in)
    )


def build_snapshot(inputs: SnapshotInputs, completeness: Completeness | None = None) -> Snapshot:
    """The snapshot of ``inputs``; ``completeness`` estimates the reported share of recent days."""
    first, as_of = window_of(inputs.now, inputs.accounts, inputs.window_days)
    days, cols = _reporting_columns(inputs, first, as_of)
    by_ad: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in np.flatnonzero(cols["keep"]):
        by_ad[(cols["platform"][i], cols["ad_id"][i])].append(int(i))

    campaigns = {(c.platform, c.campaign_id): c for c in inputs.campaigns}
    creatives = {(c.platform, c.creative_id): c for c in inputs.creatives}
    ads_of: dict[tuple[Platform, str], list[Ad]] = defaultdict(list)
    for ad in inputs.ads:
        ads_of[(ad.platform, ad.ad_set_id)].append(ad)
    today = as_of

    views: list[AdSetView] = []
    for s in sorted(inputs.ad_sets, key=lambda s: (s.platform, s.account_id, s.ad_set_id)):
        camp = campaigns.get((s.platform, s.campaign_id))
        set_active = s.status is Status.ACTIVE and (camp is None or camp.status is Status.ACTIVE)
        ad_views: list[AdView] = []
        for ad in sorted(ads_of[(s.platform, s.ad_set_id)], key=lambda a: a.ad_id):
            cr = creatives.get((ad.platform, ad.creative_id)) if ad.creative_id else None
            key = (cr.asset_id if cr and cr.asset_id else None) or f"{ad.platform}:creative:{ad.creative_id}"
            status = ad.status if set_active or ad.status is not Status.ACTIVE else Status.LIMITED
            idx = np.array(by_ad.get((str(ad.platform), ad.ad_id), []), dtype=np.int64)
            ad_views.append(
                AdView(
                    ref=ad.ref,
                    ad_set=s.ref,
                    name=ad.name,
                    status=status,
                    creative_key=key,
                    headline=cr.headline if cr else "",
                    call_to_action=cr.call_to_action if cr else "",
                    history=_series(days, cols, idx),
                )
            )
        holder_is_campaign = camp is not None and camp.daily_budget is not None
        holder = camp.ref if holder_is_campaign and camp is not None else s.ref
        budget = camp.daily_budget if holder_is_campaign and camp is not None else s.daily_budget
        view = AdSetView(
            ref=s.ref,
            campaign=EntityRef(s.platform, s.account_id, Level.CAMPAIGN, s.campaign_id),
            name=s.name,
            status=s.status if set_active or s.status is not Status.ACTIVE else Status.LIMITED,
            currency=s.currency,
            budget_holder=holder,
            daily_budget=budget,
            fx_rate=float(inputs.fx.rate(s.currency, today)),
            bid=s.bid,
            min_budget=min_daily_budget(holder.platform, holder.level, s.currency),
            history=_sum_series([a.history for a in ad_views]),
            ads=tuple(ad_views),
        )
        views.append(view)

    snapshot = Snapshot(
        now=inputs.now,
        as_of=as_of,
        cycle=inputs.cycle,
        reporting_currency=inputs.fx.reporting,
        goal=inputs.goal,
        ad_sets=tuple(views),
        applied=tuple(inputs.applied),
        candidates=tuple(inputs.candidates),
        fx=inputs.fx,
    )
    if completeness is None:
        from adpilot.policies.lag import estimate_completeness

        completeness = estimate_completeness
    snapshot = replace(snapshot, completeness=dict(completeness(snapshot.ad_sets, as_of)))
    reported = {s.ref: s.learning for s in inputs.ad_sets}
    resets: dict[EntityRef, set[date]] = defaultdict(set)
    set_of = {a.ref: v.ref for v in snapshot.ad_sets for a in v.ads}
    for a in inputs.applied:
        if a.kind in LEARNING_RESETS:
            resets[set_of.get(a.target, a.target)].add(a.at.date())
    views = [_learning_phase(snapshot, v, reported.get(v.ref), resets[v.ref]) for v in snapshot.ad_sets]
    return replace(snapshot, ad_sets=tuple(views))
