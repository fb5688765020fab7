"""Creative fatigue: detect an ad whose CTR (or relative CVR) has fallen well below its own baseline, and
refresh it.

Fatigue is judged against **each ad's own history** (market-science §3.2), not against other ads: an ad
that was always mediocre is the creative test's business. For every active ad:

* **Peak.** The ad's log CTR at its first delivering day, from a weighted linear fit over its first
  ``baseline_days`` (slope shrunk toward zero by a prior, clipped at zero). Frequency and age fatigue
  start on day one, so the plain first-week average already sits several percent under the peak and
  would delay detection by days.
* **Now.** Pooled clicks over pooled impressions of the last ``recent_days`` delivering days (counts, not
  averaged percentages).
* **Noise.** Each day's log CTR varies by its binomial variance plus an overdispersion ``sigma`` estimated
  from the ad's own day-to-day differences (robust: median-based), shrunk toward ``sigma_prior``.
* **Decision.** Retire when the decline is *large* (point estimate at least ``drop`` below the peak) and
  *significant* (a one-sided test rejects "within ``tolerance`` of the peak" at level ``alpha``): the
  second condition is what keeps retirements of still-healthy ads rare when days are noisy.
* **CVR**, lag-free: the ad's conversions per click relative to its siblings' *on the same days* (both
  share the day's reporting lag, learning phase and tracking outages, which cancel), now vs its first
  weeks; a stricter level applies because conversions are sparse.

A worn ad is refreshed by launching a candidate derived from it (``parent_key``), else any eligible
candidate, when a fresh child is expected to beat the worn parent by more than its trial and the learning
reset cost. The worn ad keeps running: a new ad can take days to pass review, and a worn ad may still be
the best one the ad set has, so pausing it is left to the creative test, which compares conversions per
impression. With ``retire_alone`` this policy also pauses worn ads that are clearly worse than their
siblings (never the last active one).
Evidence: peak and recent CTR/CVR, the test statistic, and when the decline began (a one-sided CUSUM's
last zero, the usual change-point estimate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist
from typing import Any

import numpy as np

from adpilot.domain.actions import ActionKind, Pause
from adpilot.domain.snapshot import AdSetView, AdView, Proposal, Snapshot, decision_key
from adpilot.policies._stats import (
    CandidateChoice,
    CandidatePrior,
    choose_candidate,
    launch_action,
    launch_worth,
    launches_left,
    learning_cost,
)


@dataclass(frozen=True, slots=True)
class FatigueParams:
    """Tunables of fatigue detection (defaults from market-science §3, §4, §7 S3)."""

    drop: float = 0.30  # retire at this decline below the ad's own peak
    tolerance: float = 0.10  # a decline this small is normal; retiring such an ad is a false retirement
    alpha: float = 0.02  # one-sided level of the CTR test against ``tolerance`` (each daily look)
    cvr_alpha: float = 0.001  # stricter for CVR: sparse counts, more confounders
    baseline_days: int = 7  # first delivering days that define the peak
    recent_days: int = 3  # last delivering days that define "now"
    cvr_baseline_days: int = 14
    cvr_recent_days: int = 7
    cvr_min_conversions: float = 10.0  # the ad's conversions needed in each CVR window
    sigma_prior: float = 0.15  # day-level CTR noise (reference: 0.10–0.20)
    sigma_prior_days: float = 10.0  # weight of the prior, in days of data
    sigma_bounds: tuple[float, float] = (0.02, 0.6)
    slope_prior_sd: float = 0.04  # early decline per day, log CTR (reference: "healthy" decay 20–30 %/week)
    max_gap_days: int = 2  # the ad must have delivered within this many days of as_of
    cooldown_days: float = 3.0  # after the agent paused or resumed this ad
    launch_cooldown_days: float = 7.0  # at most one refresh launch per ad set in this many days
    refresh: bool = True
    refresh_horizon_days: float = 14.0  # days over which a refresh's gain is weighed against a learning reset
    # Pause worn ads itself. Off by default: which ads run is the creative test's call, on conversions per
    # impression with recent CTR (a worn ad may still be the best one there is); this policy detects wear
    # and launches refreshes.
    retire_alone: bool = False
    sibling_margin: float = 0.15  # without a replacement, retire only an ad this much worse than its siblings
    candidates: CandidatePrior = field(default_factory=CandidatePrior)  # how the replacement is picked

    def __post_init__(self) -> None:
        if not 0 < self.tolerance < self.drop < 1:
            raise ValueError("need 0 < tolerance < drop < 1")
        if not (0 < self.alpha < 0.5 and 0 < self.cvr_alpha < 0.5):
            raise ValueError("alpha, cvr_alpha: must be in (0, 0.5)")
        if min(self.baseline_days, self.recent_days, self.cvr_baseline_days, self.cvr_recent_days) < 2:
            raise ValueError("windows: at least 2 days each")


@dataclass(frozen=True, slots=True)
class _Day:
    day: date
    impressions: int
    clicks: int
    conversions: float


@dataclass(frozen=True, slots=True)
class Finding:
    """One fatigue verdict with its evidence."""

    ad: AdView
    metric: str  # "ctr" or "cvr"
    baseline: float  # peak CTR, or the baseline CVR relative to siblings
    recent: float
    ratio: float  # recent / baseline
    z: float  # evidence against "within tolerance of the baseline"
    sigma: float  # day-level noise used (CTR)
    cusum: float  # accumulated decline beyond tolerance (log units)
    decline_began: date | None
    retire: bool

    def evidence(self, as_of: date) -> dict[str, Any]:
        return {
            "ad": str(self.ad.ref),
            "name": self.ad.name,
            "metric": self.metric,
            "baseline": round(self.baseline, 6),
            "recent": round(self.recent, 6),
            "change": round(self.ratio - 1.0, 4),
            "z": round(self.z, 3),
            "day_noise_sigma": round(self.sigma, 4),
            "cusum": round(self.cusum, 4),
            "decline_began": self.decline_began.isoformat() if self.decline_began else None,
            "days_since_decline_began": (as_of - self.decline_began).days if self.decline_began else None,
        }


def _delivering(ad: AdView, as_of: date) -> list[_Day]:
    h = ad.history
    return [
        _Day(d, int(i), int(k), float(c))
        for d, i, k, c in zip(h.days, h.impressions, h.clicks, h.conversions, strict=True)
        if i > 0 and d <= as_of
    ]


def _log_rate(successes: float, trials: float) -> float:
    return math.log((successes + 0.5) / (trials + 1.0))


def _sigma(rows: Sequence[_Day], rate: float, p: FatigueParams) -> float:
    """Day-level overdispersion of log CTR, from consecutive days' differences (trend-robust, median-based)."""
    if len(rows) < 2:
        return p.sigma_prior
    x = [_log_rate(r.clicks, r.impressions) for r in rows]
    b = [1.0 / max(r.impressions * rate, 0.5) for r in rows]  # binomial variance of each day's log CTR
    squares = [(x[k] - x[k - 1]) ** 2 for k in range(1, len(x))]
    binomial = float(np.median([b[k] + b[k - 1] for k in range(1, len(x))]))
    # the median of a chi-square(1) is 0.455: median(d^2)/0.455 estimates Var(d) = 2 sigma^2 + binomial part
    s2 = max((float(np.median(squares)) / 0.455 - binomial) / 2.0, 0.0)
    n = len(squares)
    s2 = (n * s2 + p.sigma_prior_days * p.sigma_prior**2) / (n + p.sigma_prior_days)
    lo, hi = p.sigma_bounds
    return min(max(math.sqrt(s2), lo), hi)


def _peak(rows: Sequence[_Day], sigma: float, slope_sd: float) -> tuple[float, float]:
    """Log CTR at the first day of ``rows`` and its variance.

    A weighted linear fit of daily log CTR whose slope is shrunk toward 0 by a N(0, ``slope_sd``^2) prior
    (a noisy week must not invent a steep early decline, which would inflate the peak) and clipped at 0
    (a rising start means the plain average is the better baseline).
    """
    rate = sum(r.clicks for r in rows) / sum(r.impressions for r in rows)
    t = np.array([(r.day - rows[0].day).days for r in rows], dtype=np.float64)
    y = np.array([_log_rate(r.clicks, r.impressions) for r in rows])
    w = np.array([1.0 / (sigma**2 + 1.0 / max(r.impressions * rate, 0.5)) for r in rows])
    sw = float(w.sum())
    tbar = float((w * t).sum() / sw)
    ybar = float((w * y).sum() / sw)
    stt = float((w * (t - tbar) ** 2).sum())
    if stt <= 0 or slope_sd <= 0:
        return ybar, 1.0 / sw
    var_slope = 1.0 / stt
    shrink = slope_sd**2 / (slope_sd**2 + var_slope)
    slope = float((w * (t - tbar) * (y - ybar)).sum() / stt) * shrink
    if slope >= 0:
        return ybar, 1.0 / sw
    return ybar - slope * tbar, 1.0 / sw + (shrink * tbar) ** 2 * var_slope


def _window(rows: Sequence[_Day], sigma: float) -> tuple[float, float]:
    """Pooled log CTR of ``rows`` and its variance (day noise averaged by impression weights + binomial)."""
    impressions = sum(r.impressions for r in rows)
    clicks = sum(r.clicks for r in rows)
    share2 = sum((r.impressions / impressions) ** 2 for r in rows)
    return _log_rate(clicks, impressions), sigma**2 * share2 + 1.0 / (clicks + 0.5)


def _cusum(rows: Sequence[_Day], peak: float, tolerance: float) -> tuple[float, date | None]:
    """One-sided CUSUM of each day's log-CTR shortfall beyond ``tolerance``; its last zero dates the change."""
    s, began = 0.0, None
    allowance = -math.log(1.0 - tolerance)
    for r in rows:
        s = max(0.0, s + (peak - _log_rate(r.clicks, r.impressions)) - allowance)
        if s == 0.0:
            began = None
        elif began is None:
            began = r.day
    return s, began


def ctr_finding(ad: AdView, as_of: date, p: FatigueParams) -> Finding | None:
    """The CTR verdict on one ad, or None when its history is too short or stale to judge."""
    rows = _delivering(ad, as_of)
    if len(rows) < p.baseline_days + p.recent_days or (as_of - rows[-1].day).days > p.max_gap_days:
        return None
    base_rows, recent_rows = rows[: p.baseline_days], rows[-p.recent_days :]
    if sum(r.clicks for r in base_rows) == 0:
        return None
    rate = sum(r.clicks for r in rows) / sum(r.impressions for r in rows)
    sigma = _sigma(rows, rate, p)
    peak, var_peak = _peak(base_rows, sigma, p.slope_prior_sd)
    now, var_now = _window(recent_rows, sigma)
    change = now - peak
    z = (math.log(1.0 - p.tolerance) - change) / math.sqrt(var_peak + var_now)
    cusum, began = _cusum(rows[p.baseline_days :], peak, p.tolerance)
    z_needed = NormalDist().inv_cdf(1.0 - p.alpha)
    retire = change <= math.log(1.0 - p.drop) and z >= z_needed
    return Finding(ad, "ctr", math.exp(peak), math.exp(now), math.exp(change), z, sigma, cusum, began, retire)


def cvr_finding(ad: AdView, siblings: Sequence[AdView], as_of: date, p: FatigueParams) -> Finding | None:
    """The ad's conversions per click relative to its siblings' on the same days, now vs its first weeks."""
    mine = {r.day: r for r in _delivering(ad, as_of)}
    others: dict[date, tuple[float, float]] = {}
    for s in siblings:
        for r in _delivering(s, as_of):
            k, c = others.get(r.day, (0.0, 0.0))
            others[r.day] = (k + r.clicks, c + r.conversions)
    days = [d for d in sorted(mine) if others.get(d, (0.0, 0.0))[0] > 0 and mine[d].clicks > 0]
    if len(days) < p.cvr_baseline_days + p.cvr_recent_days or (as_of - days[-1]).days > p.max_gap_days:
        return None

    def relative(window: Sequence[date]) -> tuple[float, float, float]:
        k_ad = sum(mine[d].clicks for d in window)
        c_ad = math.fsum(mine[d].conversions for d in window)
        k_sib = math.fsum(others[d][0] for d in window)
        c_sib = math.fsum(others[d][1] for d in window)
        log_rr = _log_rate(c_ad, k_ad) - _log_rate(c_sib, k_sib)
        return log_rr, 1.0 / (c_ad + 0.5) + 1.0 / (c_sib + 0.5), c_ad

    base, var_b, c_base = relative(days[: p.cvr_baseline_days])
    now, var_n, _ = relative(days[-p.cvr_recent_days :])
    if c_base < p.cvr_min_conversions:
        return None  # too few conversions to know where the ad started
    change = now - base
    z = (math.log(1.0 - p.tolerance) - change) / math.sqrt(var_b + var_n)
    retire = change <= math.log(1.0 - p.drop) and z >= NormalDist().inv_cdf(1.0 - p.cvr_alpha)
    return Finding(ad, "cvr", math.exp(base), math.exp(now), math.exp(change), z, 0.0, 0.0, None, retire)


def _recent_ctr(ad: AdView, as_of: date, days: int) -> tuple[float, float]:
    recent = ad.history.since(as_of - timedelta(days=days - 1))
    return float(sum(recent.clicks)), float(sum(recent.impressions))


def _worth_retiring(snapshot: Snapshot, ad: AdView, s: AdSetView, p: FatigueParams) -> bool:
    """Without a replacement: the ad's recent CTR is at least ``sibling_margin`` below its active siblings'
    pooled recent CTR. (Weighing its traffic share x shortfall against the learning reset, as the creative
    test does, kept worn ads running for weeks in the full-stack market and cost more than it saved.)"""
    as_of = snapshot.as_of
    clicks, impressions = _recent_ctr(ad, as_of, p.recent_days)
    others = [_recent_ctr(a, as_of, p.recent_days) for a in s.ads if a.active and a.ref != ad.ref]
    other_clicks, other_impressions = sum(c for c, _ in others), sum(i for _, i in others)
    if not impressions or not other_impressions or not other_clicks:
        return False
    return 1 - (clicks / impressions) / (other_clicks / other_impressions) >= p.sibling_margin


def _touched(snapshot: Snapshot, refs: set[Any], kinds: set[str], days: float) -> bool:
    since = snapshot.now - timedelta(days=days)
    return any(a.target in refs and a.kind in kinds and a.at > since for a in snapshot.applied)


class FatiguePolicy:
    """Retire fatigued ads (Pause) and refresh them (LaunchAd of a derived candidate)."""

    name = "fatigue"

    def __init__(self, params: FatigueParams | None = None) -> None:
        self.params = params or FatigueParams()

    def findings(self, snapshot: Snapshot, ad_set: AdSetView) -> list[Finding]:
        """Every judged active ad's most severe verdict (retirements first, then by decline)."""
        p = self.params
        out = []
        active = [a for a in ad_set.ads if a.active]
        for ad in active:
            if _touched(snapshot, {ad.ref}, {ActionKind.PAUSE.value, ActionKind.RESUME.value}, p.cooldown_days):
                continue
            siblings = [a for a in ad_set.ads if a.ref != ad.ref]
            verdicts = [
                ctr_finding(ad, snapshot.as_of, p),
                cvr_finding(ad, siblings, snapshot.as_of, p) if siblings else None,
            ]
            found = [f for f in verdicts if f is not None]
            if found:
                out.append(min(found, key=lambda f: (not f.retire, f.ratio)))
        return sorted(out, key=lambda f: (not f.retire, f.ratio))

    def retiring(self, snapshot: Snapshot, s: AdSetView, worn: Sequence[Finding] | None = None) -> list[Finding]:
        """The worn ads this policy pauses itself (only with ``retire_alone``): those now clearly worse than
        their siblings, never the last active one."""
        p = self.params
        if not p.retire_alone:
            return []
        if worn is None:
            worn = [f for f in self.findings(snapshot, s) if f.retire]
        # Retiring only helps when the worn ad is now worse than the ads that would take its traffic; ads that
        # all wore out alike keep running (each pause costs a reset). A CVR finding is relative already.
        fatigued = [f for f in worn if f.metric == "cvr" or _worth_retiring(snapshot, f.ad, s, p)]
        return fatigued[: max(sum(a.active for a in s.ads) - 1, 0)]

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        out: list[Proposal] = []
        for s in snapshot.ad_sets:
            if s.active:
                out.extend(self._ad_set(snapshot, s, rng))
        return out

    def _ad_set(self, snapshot: Snapshot, s: AdSetView, rng: np.random.Generator) -> list[Proposal]:
        worn = [f for f in self.findings(snapshot, s) if f.retire]
        if not worn:
            return []
        refresh = self._refresh(snapshot, s, worn, rng)
        fatigued = self.retiring(snapshot, s, worn)
        out = [self._retire(snapshot, s, f, refresh is not None) for f in fatigued]
        if refresh is not None:
            launch, worth = refresh
            c = launch.candidate
            tired = worn[0].ad.name
            origin = (
                f"a variant of the fatigued '{tired}'"
                if c.parent_key == worn[0].ad.creative_key
                else f"no variant of '{tired}' is available, so the best-rated eligible candidate ({launch.basis})"
            )
            reason = f"Refresh '{s.name}': launch '{c.name}', {origin}, to replace worn-out creative."
            out.append(
                Proposal(
                    action=launch_action(snapshot, s, c, reason),
                    policy=self.name,
                    evidence={
                        "candidate": launch.evidence(),
                        "expected_net_gain": round(worth[0], 4),
                        "p_beats_worn_ad": round(worth[1], 4),
                        "replaces": [str(f.ad.ref) for f in fatigued],
                        "fatigue": [f.evidence(snapshot.as_of) for f in worn],
                    },
                    expected_impact=(
                        "A fresh creative starts at its own full CTR instead of the fatigued ad's "
                        f"{worn[0].ratio - 1:+.0%}; the ad set re-enters learning for a few days."
                    ),
                )
            )
        return out

    def _refresh(
        self, snapshot: Snapshot, s: AdSetView, worn: Sequence[Finding], rng: np.random.Generator
    ) -> tuple[CandidateChoice, tuple[float, float]] | None:
        """The candidate to launch for the most worn ad, with its expected net gain and the chance it beats the
        worn ad; None when refreshing is off, the ad set launched lately or is at the launch cap, nothing fits,
        or the launch would not pay for itself."""
        p = self.params
        recently_launched = _touched(snapshot, {s.ref}, {ActionKind.LAUNCH_AD.value}, p.launch_cooldown_days)
        if not p.refresh or recently_launched or launches_left(snapshot, s, p.candidates.launch_cap) <= 0:
            return None
        choice = choose_candidate(snapshot, s, rng, p.candidates, parent_key=worn[0].ad.creative_key)
        if choice is None:
            return None
        # A fresh child against its worn parent (at ``ratio`` of its fresh self), net of its trial and the
        # learning reset the launch starts.
        cost = learning_cost(snapshot, s, horizon_days=p.refresh_horizon_days)
        versus_parent = choice.candidate.parent_key == worn[0].ad.creative_key
        worth = launch_worth(choice, worn[0].ratio, cost, rng, versus_parent=versus_parent)
        return (choice, worth) if worth[0] > 0 else None

    def _retire(self, snapshot: Snapshot, s: AdSetView, f: Finding, replaced: bool) -> Proposal:
        metric = "click-through rate" if f.metric == "ctr" else "conversion rate (relative to the other ads)"
        spec = ".2%" if f.metric == "ctr" else ".2f"
        unit = "" if f.metric == "ctr" else "x"
        days = self.params.recent_days if f.metric == "ctr" else self.params.cvr_recent_days
        since = (
            f", declining since {f.decline_began.isoformat()}"
            if f.decline_began is not None and f.metric == "ctr"
            else ""
        )
        reason = (
            f"Retire '{f.ad.name}' in '{s.name}': creative fatigue. Its {metric} is {f.recent:{spec}}{unit} over the "
            f"last {days} days vs {f.baseline:{spec}}{unit} at its start ({f.ratio - 1:+.0%}){since}; the drop is "
            f"beyond the {self.params.drop:.0%} retirement threshold and not explained by day-to-day noise "
            f"(z = {f.z:.1f})."
        )
        if replaced:
            reason += " A replacement is launched in the same batch."
        return Proposal(
            action=Pause(
                target=f.ad.ref,
                reason=reason,
                idempotency_key=decision_key(snapshot, ActionKind.PAUSE.value, f.ad.ref),
            ),
            policy=self.name,
            evidence={"fatigue": f.evidence(snapshot.as_of), "replacement_proposed": replaced},
            expected_impact=(
                f"Stops spending on a creative performing {1 - f.ratio:.0%} below its own baseline; its impressions "
                "go to the ad set's other ads" + (" and the new creative." if replaced else ".")
            ),
        )
