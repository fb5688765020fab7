"""How complete recent days' conversions are: the reporting-lag curve, estimated from the data itself.

Platforms report a day's conversions over the following days (Meta's 7-day click window, TikTok's,
X's shorter one), so the last few days always look worse than they will. ``estimate_completeness`` gives,
per platform, the expected share of a day's final conversions already reported at age 0, 1, 2, …
(age = ``(as_of - day).days``), which ``Snapshot.completeness`` carries to every policy.

The estimate is cross-sectional: a snapshot holds one vintage of the data, so restatements are not seen
directly, but at any moment the ad sets' recent days (age ``a``) are censored by ``c[a]`` while their
mature days (age ≥ horizon) are final. Conversions per click at age ``a`` over conversions per click on
each ad set's mature days estimates ``c[a]``; clicks are reported at once, which makes them the
exposure. Each age rests on one calendar day per ad set, so the estimate is noisy (Poisson counts, the
day's own conversion-rate noise, platform-wide day effects) and is shrunk toward a prior curve with
precision weights; the curve is then clamped and made non-decreasing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from adpilot.domain.ids import Platform
from adpilot.domain.snapshot import AdSetView, Series
from adpilot.policies._stats import isotonic_increasing

# Cumulative share reported by age, from the reference ranges (market-science §4, §6.3): Meta reports
# ~60 % the same day, ~80 % the next, ~90 % by day 2–3 and is final by day 7 (7-day click window);
# TikTok's default window is the same, its same-day share at the lower end of the 55–70 % range; X's
# attribution is shorter.
DEFAULT_PRIORS: Mapping[Platform, tuple[float, ...]] = {
    Platform.META: (0.60, 0.80, 0.88, 0.91, 0.94, 0.97, 1.0),
    Platform.TIKTOK: (0.55, 0.78, 0.88, 0.92, 0.95, 0.98, 1.0),
    Platform.X: (0.80, 0.95, 1.0),
}


@dataclass(frozen=True, slots=True)
class LagParams:
    """Tunables of the completeness estimate (defaults from market-science §4)."""

    horizon_days: int = 7  # ages estimated; a day this old or older counts as final
    mature_days: int = 14  # final days used as the reference (two whole weeks: weekday effects cancel)
    prior_sd: float = 0.15  # how far a platform's curve may plausibly sit from the prior, per age
    day_sigma: float = 0.15  # day-level conversion-rate noise of one ad set (reference: 0.10–0.20)
    common_sigma: float = 0.03  # day effects shared by a platform's ad sets, not averaged away
    floor: float = 0.05  # never claim less than this share is reported (avoids 20x blow-ups downstream)

    def __post_init__(self) -> None:
        if self.horizon_days < 1 or self.mature_days < 1:
            raise ValueError("horizon_days, mature_days: must be at least 1")
        if min(self.prior_sd, self.day_sigma, self.common_sigma) < 0 or self.prior_sd == 0:
            raise ValueError("prior_sd must be positive; day_sigma, common_sigma must not be negative")
        if not 0 < self.floor <= 1:
            raise ValueError("floor: must be in (0, 1]")


def _by_day(ad_set: AdSetView) -> dict[date, tuple[float, float]]:
    """(clicks, conversions) per day of an ad set: its own history, else the sum of its ads'."""
    series: Sequence[Series] = [ad_set.history] if len(ad_set.history) else [a.history for a in ad_set.ads]
    out: dict[date, tuple[float, float]] = {}
    for s in series:
        for d, k, c in zip(s.days, s.clicks, s.conversions, strict=True):
            k0, c0 = out.get(d, (0.0, 0.0))
            out[d] = (k0 + k, c0 + c)
    return out


def _prior_at(curve: Sequence[float], age: int) -> float:
    return float(curve[age]) if age < len(curve) else 1.0


def _estimate_platform(
    ad_sets: Sequence[AdSetView], as_of: date, prior: Sequence[float], p: LagParams
) -> tuple[float, ...]:
    horizon = max(p.horizon_days, len(prior))
    # per ad set: mature conversions per click, and (clicks, conversions) at each censored age
    units: list[tuple[float, float, list[tuple[float, float]]]] = []
    for s in ad_sets:
        days = _by_day(s)
        mature = [days[d] for a in range(horizon, horizon + p.mature_days) if (d := as_of - timedelta(a)) in days]
        m_clicks = math.fsum(k for k, _ in mature)
        m_conv = math.fsum(c for _, c in mature)
        if m_clicks <= 0 or m_conv <= 0:
            continue  # no reference rate: this ad set says nothing about the lag
        recent = [days.get(as_of - timedelta(a), (0.0, 0.0)) for a in range(horizon)]
        units.append((m_conv / m_clicks, m_conv, recent))

    estimates: list[float] = []
    precisions: list[float] = []
    for age in range(horizon):
        prior_a = _prior_at(prior, age)
        expected = [(rate * recent[age][0], m_conv, recent[age][1]) for rate, m_conv, recent in units]
        total_e = math.fsum(e for e, _, _ in expected)
        prior_precision = 1.0 / p.prior_sd**2
        if total_e <= 0:
            estimates.append(prior_a)
            precisions.append(prior_precision)
            continue
        ratio = math.fsum(c for _, _, c in expected) / total_e
        share2 = math.fsum((e / total_e) ** 2 for e, _, _ in expected)
        reference2 = math.fsum((e / total_e) ** 2 / m for e, m, _ in expected)  # noise of the mature rates
        level = max(prior_a, 0.05)
        var = level / total_e + level**2 * (reference2 + p.day_sigma**2 * share2 + p.common_sigma**2)
        data_precision = 1.0 / var
        post = (ratio * data_precision + prior_a * prior_precision) / (data_precision + prior_precision)
        estimates.append(min(max(post, p.floor), 1.0))
        precisions.append(data_precision + prior_precision)

    curve = [min(max(v, p.floor), 1.0) for v in isotonic_increasing(estimates, precisions)]
    curve.append(1.0)
    while len(curve) > 1 and curve[-2] >= 1.0:
        curve.pop()
    return tuple(round(v, 6) for v in curve)


def estimate_completeness(
    ad_sets: Sequence[AdSetView],
    as_of: date,
    prior: Mapping[Platform, tuple[float, ...]] | None = None,
    params: LagParams | None = None,
) -> dict[Platform, tuple[float, ...]]:
    """Per platform, the expected share of a day's final conversions reported at age 0, 1, 2, ….

    Each curve is non-decreasing, within ``[floor, 1]``, and ends at 1.0 (ages past its end are final).
    Platforms with no usable data get their prior; ``prior`` overrides the defaults per platform.
    """
    p = params or LagParams()
    priors: dict[Platform, tuple[float, ...]] = {**DEFAULT_PRIORS, **(prior or {})}
    by_platform: dict[Platform, list[AdSetView]] = {}
    for s in ad_sets:
        by_platform.setdefault(s.platform, []).append(s)
    out: dict[Platform, tuple[float, ...]] = {}
    for platform in sorted(set(priors) | set(by_platform)):
        curve = priors.get(platform, (1.0,))
        out[platform] = _estimate_platform(by_platform.get(platform, []), as_of, curve, p)
    return out
