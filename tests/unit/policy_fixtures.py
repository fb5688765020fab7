"""Synthetic snapshots for the creative, fatigue and lag policy tests: a tiny market with known truth."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from hypothesis import strategies as st

from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
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

AS_OF = date(2026, 3, 9)
LAG = (0.2, 0.35, 0.5, 0.7, 0.85, 1.0)  # a strong reporting lag: cumulative share by age
ACCOUNT = {Platform.META: "act_1", Platform.TIKTOK: "7100", Platform.X: "x1"}


def now_for(as_of: date) -> datetime:
    """The morning after the last complete day."""
    return datetime.combine(as_of + timedelta(days=1), time(9), tzinfo=UTC)


def ref(platform: Platform, level: Level, entity_id: str) -> EntityRef:
    return EntityRef(platform, ACCOUNT[platform], level, entity_id)


@dataclass(frozen=True)
class AdTruth:
    """One simulated ad: its true rates, when it delivers and how its CTR evolves."""

    name: str
    ctr: float = 0.012
    cvr: float = 0.025
    first: int = 0  # first delivering day index (0 = the oldest simulated day)
    last: int | None = None  # last delivering day index (None: up to as_of)
    weight: float = 1.0  # share of the ad set's impressions relative to the other delivering ads
    ctr_path: Callable[[int], float] | None = None  # multiplier on ctr by days since ``first``
    status: Status = Status.ACTIVE
    creative_key: str | None = None


@dataclass
class Market:
    """Knobs of the simulated market."""

    n_days: int = 28
    impressions_per_day: int = 150_000
    ctr_sigma: float = 0.0  # lognormal day noise of each ad's CTR
    cvr_sigma: float = 0.0  # lognormal day noise of the ad set's CVR (shared by its ads)
    completeness: Sequence[float] = ()  # cumulative reported share by age (1.0 past the end)
    as_of: date = AS_OF


def _share(curve: Sequence[float], age: int) -> float:
    return float(curve[age]) if age < len(curve) else 1.0


def simulate(rng: np.random.Generator, market: Market, ads: Sequence[AdTruth]) -> list[Series]:
    """Daily series per ad, conversions as reported at ``market.as_of`` (lag applied)."""
    days = [market.as_of - timedelta(days=market.n_days - 1 - t) for t in range(market.n_days)]
    cols: list[dict[str, list[float]]] = [
        {"impressions": [], "clicks": [], "conversions": [], "spend": []} for _ in ads
    ]
    for t in range(len(days)):
        live = [i for i, a in enumerate(ads) if a.first <= t and (a.last is None or t <= a.last)]
        total_w = sum(ads[i].weight for i in live)
        cvr_noise = float(np.exp(market.cvr_sigma * rng.standard_normal() - 0.5 * market.cvr_sigma**2))
        for i, a in enumerate(ads):
            if i not in live:
                impressions = clicks = 0
                conv = 0.0
            else:
                impressions = int(market.impressions_per_day * a.weight / total_w)
                path = a.ctr_path(t - a.first) if a.ctr_path else 1.0
                day_ctr = a.ctr * path * float(np.exp(market.ctr_sigma * rng.standard_normal()))
                clicks = int(rng.binomial(impressions, min(day_ctr, 1.0)))
                final = int(rng.binomial(clicks, min(a.cvr * cvr_noise, 1.0)))
                conv = float(rng.binomial(final, _share(market.completeness, market.n_days - 1 - t)))
            cols[i]["impressions"].append(impressions)
            cols[i]["clicks"].append(clicks)
            cols[i]["conversions"].append(conv)
            cols[i]["spend"].append(impressions / 1000 * 10.0)
    out = []
    for c in cols:
        keep = [k for k in range(len(days)) if c["impressions"][k] > 0]
        out.append(
            Series(
                days=tuple(days[k] for k in keep),
                spend=tuple(c["spend"][k] for k in keep),
                impressions=tuple(int(c["impressions"][k]) for k in keep),
                clicks=tuple(int(c["clicks"][k]) for k in keep),
                conversions=tuple(c["conversions"][k] for k in keep),
                value=tuple(0.0 for _ in keep),
            )
        )
    return out


def sum_series(parts: Sequence[Series]) -> Series:
    """The daily totals of several series (an ad set's history from its ads')."""
    acc: dict[date, list[float]] = {}
    for s in parts:
        for d, sp, i, k, c, v in zip(s.days, s.spend, s.impressions, s.clicks, s.conversions, s.value, strict=True):
            row = acc.setdefault(d, [0.0] * 5)
            for j, x in enumerate((sp, i, k, c, v)):
                row[j] += x
    days = sorted(acc)
    return Series(
        days=tuple(days),
        spend=tuple(acc[d][0] for d in days),
        impressions=tuple(int(acc[d][1]) for d in days),
        clicks=tuple(int(acc[d][2]) for d in days),
        conversions=tuple(acc[d][3] for d in days),
        value=tuple(acc[d][4] for d in days),
    )


def truncate(s: Series, last: date) -> Series:
    """The days up to and including ``last``."""
    k = sum(1 for d in s.days if d <= last)
    return Series(s.days[:k], s.spend[:k], s.impressions[:k], s.clicks[:k], s.conversions[:k], s.value[:k])


def ad_set(
    set_id: str,
    ads: Sequence[tuple[AdTruth, Series]],
    *,
    platform: Platform = Platform.META,
    status: Status = Status.ACTIVE,
    learning: bool = False,
) -> AdSetView:
    set_ref = ref(platform, Level.AD_SET, set_id)
    views = tuple(
        AdView(
            ref=ref(platform, Level.AD, f"{set_id}-{k}"),
            ad_set=set_ref,
            name=truth.name,
            status=truth.status,
            creative_key=truth.creative_key or f"key-{truth.name}",
            history=history,
        )
        for k, (truth, history) in enumerate(ads)
    )
    return AdSetView(
        ref=set_ref,
        campaign=ref(platform, Level.CAMPAIGN, f"c-{set_id}"),
        name=f"Ad set {set_id}",
        status=status,
        currency="USD",
        budget_holder=set_ref,
        daily_budget=Money("USD", 150_000),
        fx_rate=1.0,
        learning=learning,
        history=sum_series([h for _, h in ads]),
        ads=views,
    )


def snapshot(
    ad_sets: Sequence[AdSetView],
    *,
    as_of: date = AS_OF,
    completeness: Mapping[Platform, tuple[float, ...]] | None = None,
    applied: Sequence[PastAction] = (),
    candidates: Sequence[CreativeCandidate] = (),
    cycle: int = 0,
) -> Snapshot:
    return Snapshot(
        now=now_for(as_of),
        as_of=as_of,
        cycle=cycle,
        reporting_currency="USD",
        goal=Goal(),
        ad_sets=tuple(ad_sets),
        completeness=dict(completeness or {}),
        applied=tuple(applied),
        candidates=tuple(candidates),
    )


def simulated_set(
    rng: np.random.Generator,
    market: Market,
    ads: Sequence[AdTruth],
    *,
    set_id: str = "s1",
    platform: Platform = Platform.META,
) -> AdSetView:
    return ad_set(set_id, list(zip(ads, simulate(rng, market, ads), strict=True)), platform=platform)


def candidate(
    key: str, *, parent: str | None = None, platforms: frozenset[Platform] | None = None
) -> CreativeCandidate:
    return CreativeCandidate(
        key=key,
        name=f"Variant {key}",
        asset_ids=(f"sha256:{key}",),
        headline=f"Headline {key}",
        platforms=platforms if platforms is not None else frozenset(Platform),
        parent_key=parent,
    )


@st.composite
def random_snapshots(draw: st.DrawFn) -> Snapshot:
    """Random small markets: platforms, statuses, lags, candidates and past agent actions."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_days = draw(st.integers(1, 35))
    completeness = draw(st.sampled_from([(), LAG, (0.6, 0.8, 0.9, 1.0)]))
    market = Market(
        n_days=n_days,
        impressions_per_day=draw(st.integers(0, 300_000)),
        ctr_sigma=0.15,
        cvr_sigma=0.2,
        completeness=completeness,
    )
    sets = []
    keys: list[str] = []
    for j in range(draw(st.integers(1, 3))):
        platform = draw(st.sampled_from(list(Platform)))
        truths = []
        for k in range(draw(st.integers(1, 5))):
            first = draw(st.integers(0, max(n_days - 1, 0)))
            truths.append(
                AdTruth(
                    f"ad{j}{k}",
                    ctr=draw(st.floats(0.002, 0.03)),
                    cvr=draw(st.floats(0.0, 0.08)),
                    first=first,
                    last=draw(st.one_of(st.none(), st.integers(first, n_days))),
                    status=draw(st.sampled_from([Status.ACTIVE, Status.ACTIVE, Status.PAUSED, Status.ARCHIVED])),
                )
            )
        keys += [f"key-{t.name}" for t in truths]
        sets.append(
            ad_set(
                f"s{j}",
                list(zip(truths, simulate(rng, market, truths), strict=True)),
                platform=platform,
                status=draw(st.sampled_from([Status.ACTIVE, Status.ACTIVE, Status.PAUSED])),
                learning=draw(st.booleans()),
            )
        )
    cands = [
        candidate(
            f"c{i}",
            parent=draw(st.one_of(st.none(), st.sampled_from(keys))),
            platforms=frozenset(draw(st.sets(st.sampled_from(list(Platform)), min_size=1))),
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    ads = [a for s in sets for a in s.ads]
    applied = [
        PastAction(
            draw(st.sampled_from([a.ref for a in ads] + [s.ref for s in sets])),
            draw(st.sampled_from(["pause", "resume", "launch_ad", "set_budget"])),
            "creative",
            now_for(AS_OF) - timedelta(days=draw(st.floats(0.1, 40))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return snapshot(sets, completeness=dict.fromkeys(Platform, completeness), candidates=cands, applied=applied)
