"""Bayesian creative testing within each ad set: which ads to pause, resume or launch.

The platform splits an ad set's impressions among its *active* ads (Meta, TikTok and X rotate creatives
themselves), so the agent's levers are Pause, Resume and LaunchAd. Every such change puts the ad set back
in its learning phase, so this policy changes an ad set rarely and in batches.

**Model.** Within an ad set every ad pays the same price per impression, so the quantity to compare is
conversions per impression, ``theta = CTR x CVR``. It is modelled as the product of two Beta posteriors,
CTR from clicks per impression and CVR from conversions per click: the likelihood of (clicks,
conversions) factorizes exactly that way, and modelling conversions per impression directly would throw
away what the (many more) clicks say about CTR. The priors are **empirical Bayes**: their mean is the ad
set's pooled rate, their relative spread is learned from all ads of the same platform in the snapshot
(method of moments, shrunk toward the reference spread of creative multipliers when few ads exist).

Counts are **lag-aware** (a day's click exposure for CVR is discounted by its reported share, so
unreported conversions are not counted as failures), **compared day by day** (exposures carry day
effects shared by the ad set's ads, so an ad that only ran during a learning reset or a slump is not
judged against another's good weeks), **recency-weighted** (creatives drift; CTR over the last week or
so where fatigue shows in the ad set, since a worn ad's past is not its present) and **tempered** for each
ad's own day-level noise (a day of 2,000 clicks is not worth 2,000 independent trials when the day's rate
itself moves by ~10 %).

**Decisions.** Monte-Carlo draws give each ad's P(best) and expected relative loss. The policy then picks the
set of active ads with the best expected conversions per impression: the platform re-divides a paused ad's
share of impressions among the ads that stay, so each candidate set (the best ``m`` ads by posterior mean) is
worth its impression-weighted rate in every draw. The ad set changes, in one batch, only when the new set
gains with probability ``gain_confidence``, by more than ``min_gain`` and more than the cost of the learning
reset the change starts. Ads still plausibly best (P(best) at least ``pause_p_best``) or with too little
traffic to judge always stay; when the change pays a reset that costs something, ads under ``batch_p_best``
leave with it (each later pause would start another reset). A winner is declared by the top-two rule (P(best)
>= ``confidence`` with minimum evidence for the leader and runner-up); a paused ad is resumed only when it
ranks among the best and the agent did not pause or resume it within ``resume_after_days`` (no pause -> resume
-> pause churn). A paused ad's evidence is weighed from its last delivery, and its rate loses an unknown share
(uniform on 0-1, in log terms) of the CTR decline its siblings showed since: they wore from exposure it was
spared, and aged as it did. When nothing else changes, a rested ad may come back for a **trial** beside the
running ones (``rested_trials``): the share of the ad set's CTR fall that was the running ads' own wear is
unknown, one Thompson draw of it values the rested ad today, and it is resumed when that draw says it beats
the best running ad (in ad sets still learning, where the reset costs little). A candidate creative is
launched when a winner is declared or too few ads remain in contention. An ad set changed by the agent
within ``cooldown_days`` is left alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from adpilot.domain.actions import ActionKind, Pause, Resume
from adpilot.domain.entities import LEARNING_EVENTS, LEARNING_WINDOW_DAYS
from adpilot.domain.ids import EntityRef, Platform
from adpilot.domain.snapshot import AdSetView, AdView, Proposal, Series, Snapshot, decision_key
from adpilot.domain.status import Status
from adpilot.policies._stats import (
    CandidatePrior,
    Counts,
    FloatArray,
    best_arm_stats,
    beta_prior,
    choose_candidate,
    conversions_per_day,
    day_effects,
    eligible_candidates,
    launch_action,
    launch_worth,
    launches_left,
    learning_cost,
    overdispersion_factor,
    pooled_rate,
    recency_weight,
    relative_dispersion,
)
from adpilot.policies.fatigue import FatigueParams, FatiguePolicy

_FATIGUE_DEFAULTS = FatigueParams()
_DETECTOR = FatiguePolicy(_FATIGUE_DEFAULTS)
_AD_CHANGES = frozenset({ActionKind.PAUSE.value, ActionKind.RESUME.value, ActionKind.LAUNCH_AD.value})


@dataclass(frozen=True, slots=True)
class CreativeParams:
    """Tunables of the creative test. Defaults follow market-science §1, §4, §6."""

    window_days: int = 42  # days of history considered
    half_life_days: float = 21.0  # a day's weight halves every half-life, for CVR (creatives drift, slowly)
    # CTR is what fatigue wears, and it is measured on thousands of impressions a day: in an ad set where an
    # ad's CTR has fallen ``wear`` below its own peak, CTR is judged on recent days (so an ad that was good
    # last month but is worn now is not kept over a fresh one); elsewhere over ``half_life_days``.
    ctr_half_life_days: float = 7.0
    wear: float = 0.15
    ctr_day_sigma: float = 0.10  # ad-level day noise of CTR (relative), tempers the counts
    cvr_day_sigma: float = 0.10  # ad-level day noise of CVR, tempers the counts
    ctr_common_sigma: float = 0.10  # day effects on CTR shared by an ad set's ads (0: none)
    cvr_common_sigma: float = 0.15  # shared day effects on CVR: noise, learning resets, outages (0.10–0.20)
    ctr_prior_sd: float = 0.30  # reference spread of creative CTR multipliers (LogNormal sd 0.25–0.35)
    cvr_prior_sd: float = 0.20  # reference spread of creative CVR multipliers (LogNormal sd 0.15–0.25)
    prior_weight: float = 5.0  # how many ads' worth of belief the reference spreads carry
    draws: int = 4000  # Monte-Carlo draws per ad set
    confidence: float = 0.95  # P(best) that declares a winner (top-two rule)
    min_days: int = 7  # delivering days the leader and the runner-up need before a winner is named
    min_conversions: float = 30.0  # lag-adjusted conversions the two need together
    keep_p_best: float = 0.05  # an ad with at least this P(best) is still in contention
    # Clearly not the best. At 0.05 one of several equal ads is paused in about one market in eight (unit
    # test), at a learning reset's cost; 0.02 avoids that but pauses losers days later: it scored 4 points
    # of the oracle lower in the creative bake-off (seeds 0-7) and 1.4 lower in the full stack (seeds 6-9).
    pause_p_best: float = 0.05
    # When a change pays a learning reset anyway, ads below this P(best) leave in the same batch: each later
    # pause would start a reset of its own. Creative bake-off seeds 0-15: 92.3 -> 94.7 % of the oracle,
    # resets 2.6 -> 1.9; full stack seeds 0-7 and fatigue-refresh 0-3 unchanged (their resets cost nothing:
    # the ad sets there are learning-limited anyway).
    batch_p_best: float = 0.15
    pause_min_days: int = 4  # delivering days before an ad can be judged
    gain_confidence: float = 0.9  # P(the new set of active ads beats the current one) needed to change it
    min_gain: float = 0.03  # expected relative gain in conversions per impression below which nothing changes
    pause_min_conversions: float = 10.0  # conversions it was expected to have at the ad set's rate
    resume_max_idle_days: int = 42  # older evidence about a paused ad is not trusted
    resume_after_days: float = 14.0  # an ad the agent paused or resumed stays as it is this long
    min_active: int = 2  # active ads kept while the test runs (1 once a winner is declared)
    max_active: int = 6  # no launch beyond this many active ads
    # Leave an ad set alone this long after the agent changed its ads. 3 rather than 5: creative bake-off
    # seeds 0-7 91.1 -> 92.7 % of the oracle; full stack seeds 0-3 and fatigue 0-7 within 0.3 points.
    cooldown_days: float = 3.0
    horizon_days: float = 14.0  # days over which a pause's gain is weighed against a learning reset
    learning_penalty: float = 0.2  # relative conversion loss while learning (reference: CPA x1.2–1.5)
    learning_events: float = LEARNING_EVENTS  # conversions within learning_window_days that end learning
    learning_window_days: int = LEARNING_WINDOW_DAYS
    candidates: CandidatePrior = field(default_factory=CandidatePrior)  # how challengers are picked
    rested_trials: bool = True  # try a rested ad again when it may now beat the worn running ones

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.draws < 100:
            raise ValueError("window_days: at least 1; draws: at least 100")
        if not 0.5 < self.confidence < 1:
            raise ValueError("confidence: must be in (0.5, 1)")
        if not 0 <= self.pause_p_best <= self.keep_p_best < 1:
            raise ValueError("need 0 <= pause_p_best <= keep_p_best < 1")
        if not self.pause_p_best <= self.batch_p_best < 1:
            raise ValueError("batch_p_best: need pause_p_best <= batch_p_best < 1")
        if not 0.5 <= self.gain_confidence < 1:
            raise ValueError("gain_confidence: must be in [0.5, 1)")
        if self.min_active < 1 or self.max_active < self.min_active:
            raise ValueError("need 1 <= min_active <= max_active")


@dataclass(frozen=True, slots=True)
class AdPosterior:
    """What the test believes about one ad (rates per impression unless named otherwise)."""

    ad: EntityRef
    name: str
    active: bool
    days: int  # delivering days in the window
    impressions: int
    clicks: int
    conversions: float  # as reported
    conversions_adjusted: float  # reported / expected reported share, per day
    spend: float
    impression_share: float  # of the ad set's impressions over the last 7 days
    ctr: float  # posterior means
    cvr: float
    rate: float
    rate_low: float  # 90 % credible interval of the rate
    rate_high: float
    p_best: float
    expected_loss: float  # expected share of the best ad's rate given up by this one
    resumable: bool = True  # active, or paused and the agent may bring it back
    rest_factor: float = 1.0  # paused: expected share of its last-seen rate left after its siblings' decline

    def evidence(self) -> dict[str, Any]:
        return {
            "ad": str(self.ad),
            "name": self.name,
            "p_best": round(self.p_best, 4),
            "expected_loss": round(self.expected_loss, 4),
            "days": self.days,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions_reported": round(self.conversions, 2),
            "conversions_lag_adjusted": round(self.conversions_adjusted, 2),
            "spend": round(self.spend, 2),
            "impression_share_7d": round(self.impression_share, 4),
            "ctr_mean": round(self.ctr, 6),
            "cvr_mean": round(self.cvr, 6),
            "conversions_per_1000_impressions": round(self.rate * 1000, 4),
            "interval_90_per_1000": [round(self.rate_low * 1000, 4), round(self.rate_high * 1000, 4)],
            "rested_rate_factor": round(self.rest_factor, 4),
        }


@dataclass(frozen=True, slots=True)
class AdSetPosterior:
    """The state of one ad set's creative test."""

    ad_set: EntityRef
    name: str
    ads: tuple[AdPosterior, ...]
    leader: EntityRef  # highest P(best)
    winner: EntityRef | None  # declared by the top-two rule, else None
    enough_evidence: bool  # leader and runner-up have the minimum evidence
    draws: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), compare=False, repr=False)  # rate draws

    def of(self, ad: EntityRef) -> AdPosterior:
        return next(a for a in self.ads if a.ad == ad)


@dataclass(frozen=True, slots=True)
class _Day:
    day: date
    impressions: int
    clicks: int
    conversions: float
    spend: float
    share: float  # expected reported share of its conversions
    weight: float  # recency weight (CVR)
    ctr_weight: float  # recency weight (CTR)


@dataclass(frozen=True, slots=True)
class _Arm:
    ad: AdView
    rows: tuple[_Day, ...]
    ctr: Counts
    cvr: Counts
    resumable: bool  # active, or paused and the agent may bring it back
    decline: float = 1.0  # paused: how much its active siblings' CTR fell since its last delivery


# -- data ------------------------------------------------------------------------------------------------


def _rows(snapshot: Snapshot, platform: Platform, ad: AdView, anchor: date, p: CreativeParams) -> tuple[_Day, ...]:
    """An ad's delivering days within the window ending at ``anchor``, with weights and reported shares."""
    h = ad.history
    out = []
    for d, sp, i, k, c in zip(h.days, h.spend, h.impressions, h.clicks, h.conversions, strict=True):
        age = (anchor - d).days
        w = recency_weight(age, p.half_life_days, p.window_days)
        if w <= 0 or i <= 0:
            continue
        share = max(snapshot.reported_share(platform, d), 0.05)
        w_ctr = recency_weight(age, p.ctr_half_life_days, p.window_days)
        out.append(_Day(d, int(i), int(k), float(c), float(sp), share, w, w_ctr))
    return tuple(out)


def _last_delivery(ad: AdView) -> date | None:
    h = ad.history
    return next((d for d, i in zip(reversed(h.days), reversed(h.impressions), strict=True) if i > 0), None)


def _clicks_impressions(h: Series, first: date, last: date) -> tuple[int, int]:
    """Clicks and impressions of ``h`` on the days ``first`` to ``last``, both included."""
    days = [(k, i) for d, i, k in zip(h.days, h.impressions, h.clicks, strict=True) if first <= d <= last]
    return sum(k for k, _ in days), sum(i for _, i in days)


def _sibling_decline(ad_set: AdSetView, ad: AdView, last: date | None, as_of: date, days: int = 7) -> float:
    """How much the CTR of ``ad``'s siblings fell between its last delivering week (ending ``last``, its
    last delivery) and the last week.

    The ratio of pooled clicks per impression of the siblings that delivered in both weeks, at most 1 (a
    rising CTR says nothing about the rested ad's wear) and at least 0.05; 1 without such siblings or when
    the ad delivered within the last ``days``.
    """
    if last is None or (as_of - last).days < days:
        return 1.0
    then_first, now_first = last - timedelta(days=days - 1), as_of - timedelta(days=days - 1)
    ck_then = ci_then = ck_now = ci_now = 0
    for sib in ad_set.ads:
        if sib.ref == ad.ref:
            continue
        k_then, i_then = _clicks_impressions(sib.history, then_first, last)
        k_now, i_now = _clicks_impressions(sib.history, now_first, as_of)
        if i_then <= 0 or i_now <= 0:
            continue
        ck_then, ci_then, ck_now, ci_now = ck_then + k_then, ci_then + i_then, ck_now + k_now, ci_now + i_now
    if ck_then <= 0 or ci_now <= 0:
        return 1.0
    return min(max((ck_now / ci_now) / (ck_then / ci_then), 0.05), 1.0)


def _raw_ctr(ads: Sequence[AdView], first: date, last: date) -> float:
    """Pooled clicks per impression of ``ads`` on the days ``first`` to ``last``."""
    clicks = impressions = 0
    for ad in ads:
        k, i = _clicks_impressions(ad.history, first, last)
        clicks, impressions = clicks + k, impressions + i
    return clicks / impressions if impressions > 0 else 0.0


def _agent_touched(snapshot: Snapshot, ref: EntityRef, kinds: frozenset[str], days: float) -> bool:
    since = snapshot.now - timedelta(days=days)
    return any(a.target == ref and a.kind in kinds and a.at > since for a in snapshot.applied)


_STATUS_CHANGES = frozenset({ActionKind.PAUSE.value, ActionKind.RESUME.value})


def _resumable(snapshot: Snapshot, ad: AdView, p: CreativeParams) -> bool:
    """Whether a paused ad may come back into the test.

    Its evidence is weighed from its last delivery (idle days add nothing) and discounted by part of the
    decline its siblings showed since (``_sibling_decline``): in a fatiguing market a rested ad, spared the
    exposure that wore the running ones, can again be the best one, and only a clear expected gain brings
    it back. An ad the agent paused or resumed within ``resume_after_days`` stays paused (no pause ->
    resume -> pause churn).
    """
    if ad.status is not Status.PAUSED:
        return False
    if _agent_touched(snapshot, ad.ref, _STATUS_CHANGES, p.resume_after_days):
        return False
    last = _last_delivery(ad)
    return last is not None and (snapshot.as_of - last).days <= p.resume_max_idle_days


def _arms(snapshot: Snapshot, ad_set: AdSetView, p: CreativeParams) -> list[_Arm]:
    """The ads in the test: active and paused ads that delivered in the window. Paused ones count for P(best)
    and the winner (a winner is best among everything tested, not just what runs), but only those the agent
    may resume (``_resumable``) can be chosen to run again.

    Exposures are scaled by day effects shared by the ad set's ads (``day_effects``), then tempered for
    each ad's own day-level noise and weighted by recency.
    """
    raw: list[tuple[AdView, tuple[_Day, ...], date | None]] = []
    for ad in ad_set.ads:
        # A paused ad's evidence is weighed from its last delivery: idle days tell nothing new about it.
        last = _last_delivery(ad) if ad.status is Status.PAUSED else None
        rows = _rows(snapshot, ad_set.platform, ad, last or snapshot.as_of, p)
        if rows and (ad.active or ad.status is Status.PAUSED):
            raw.append((ad, rows, last))
    if not raw:
        return []
    days = sorted({r.day for _, rows, _ in raw for r in rows})
    col = {d: j for j, d in enumerate(days)}
    shape = (len(raw), len(days))
    impressions, clicks, conversions, exposure = (np.zeros(shape) for _ in range(4))
    for k, (_, rows, _) in enumerate(raw):
        for r in rows:
            j = col[r.day]
            impressions[k, j] = r.impressions * r.ctr_weight
            clicks[k, j] = r.clicks * r.ctr_weight
            conversions[k, j] = r.conversions * r.weight
            exposure[k, j] = r.clicks * r.share * r.weight
    g_ctr = day_effects(clicks, impressions, 1.0 / p.ctr_common_sigma**2 if p.ctr_common_sigma > 0 else 0.0)
    g_cvr = day_effects(conversions, exposure, 1.0 / p.cvr_common_sigma**2 if p.cvr_common_sigma > 0 else 0.0)
    ctr_set = float(clicks.sum() / impressions.sum()) if impressions.sum() > 0 else 0.0
    cvr_set = float(conversions.sum() / exposure.sum()) if exposure.sum() > 0 else 0.0
    arms = []
    for ad, rows, last in raw:
        cs = cn = vs = vn = 0.0
        for r in rows:
            j = col[r.day]
            n_ctr = r.impressions * g_ctr[j]
            f_ctr = overdispersion_factor(n_ctr * ctr_set, p.ctr_day_sigma) * r.ctr_weight
            cs += r.clicks * f_ctr
            cn += n_ctr * f_ctr
            n_cvr = r.clicks * r.share * g_cvr[j]
            f_cvr = overdispersion_factor(n_cvr * cvr_set, p.cvr_day_sigma) * r.weight
            vs += r.conversions * f_cvr
            vn += n_cvr * f_cvr
        resumable = ad.active or _resumable(snapshot, ad, p)
        decline = _sibling_decline(ad_set, ad, last, snapshot.as_of) if ad.status is Status.PAUSED else 1.0
        arms.append(_Arm(ad, rows, Counts(cs, max(cn, cs)), Counts(vs, max(vn, vs)), resumable, decline))
    return arms


@dataclass(frozen=True, slots=True)
class _Priors:
    ctr_var: float  # relative variance of ads' CTR around their ad set's
    cvr_var: float
    ctr_rate: float  # platform-wide pooled rates: fallbacks for ad sets without data
    cvr_rate: float


def _platform_priors(groups: Sequence[Sequence[_Arm]], p: CreativeParams) -> _Priors:
    ctr_groups = [[a.ctr for a in g] for g in groups]
    cvr_groups = [[a.cvr for a in g] for g in groups]
    every_ctr = [c for g in ctr_groups for c in g]
    every_cvr = [c for g in cvr_groups for c in g]
    return _Priors(
        ctr_var=relative_dispersion(ctr_groups, prior_sd=p.ctr_prior_sd, prior_weight=p.prior_weight),
        cvr_var=relative_dispersion(cvr_groups, prior_sd=p.cvr_prior_sd, prior_weight=p.prior_weight),
        ctr_rate=pooled_rate(every_ctr, fallback=0.01),
        cvr_rate=pooled_rate(every_cvr, fallback=0.02),
    )


def _posterior(
    snapshot: Snapshot,
    ad_set: AdSetView,
    arms: Sequence[_Arm],
    priors: _Priors,
    p: CreativeParams,
    rng: np.random.Generator,
) -> AdSetPosterior:
    ctr_mean = pooled_rate([a.ctr for a in arms], fallback=priors.ctr_rate)
    cvr_mean = pooled_rate([a.cvr for a in arms], fallback=priors.cvr_rate)
    a_ctr, b_ctr = beta_prior(ctr_mean, priors.ctr_var)
    a_cvr, b_cvr = beta_prior(cvr_mean, priors.cvr_var)
    samples = np.empty((p.draws, len(arms)), dtype=np.float64)
    post_ctr: list[float] = []
    post_cvr: list[float] = []
    for k, arm in enumerate(arms):
        ac, bc = a_ctr + arm.ctr.successes, b_ctr + max(arm.ctr.trials - arm.ctr.successes, 0.0)
        av, bv = a_cvr + arm.cvr.successes, b_cvr + max(arm.cvr.trials - arm.cvr.successes, 0.0)
        samples[:, k] = rng.beta(ac, bc, size=p.draws) * rng.beta(av, bv, size=p.draws)
        post_ctr.append(ac / (ac + bc))
        post_cvr.append(av / (av + bv))
    declines = np.array([a.decline for a in arms])
    rest = np.ones(len(arms))
    if np.any(declines < 1.0):
        # A rested ad did not wear from exposure while paused, but it may have aged as its siblings did: its
        # rate loses an unknown share theta ~ U(0, 1) of their decline (in log terms) since its last delivery.
        factor = np.power(declines[None, :], rng.uniform(size=(p.draws, 1)))
        samples *= factor
        rest = factor.mean(axis=0)
    p_best, loss = best_arm_stats(samples)
    low, high = np.quantile(samples, [0.05, 0.95], axis=0)

    week = snapshot.as_of - timedelta(days=7)
    recent = [sum(r.impressions for r in a.rows if r.day > week) if a.ad.active else 0 for a in arms]
    total_recent = sum(recent)
    ads = []
    for k, arm in enumerate(arms):
        rows = arm.rows
        ads.append(
            AdPosterior(
                ad=arm.ad.ref,
                name=arm.ad.name,
                active=arm.ad.active,
                days=len(rows),
                impressions=sum(r.impressions for r in rows),
                clicks=sum(r.clicks for r in rows),
                conversions=math.fsum(r.conversions for r in rows),
                conversions_adjusted=math.fsum(r.conversions / r.share for r in rows),
                spend=math.fsum(r.spend for r in rows),
                impression_share=recent[k] / total_recent if total_recent else 0.0,
                ctr=post_ctr[k],
                cvr=post_cvr[k],
                rate=float(samples[:, k].mean()),
                rate_low=float(low[k]),
                rate_high=float(high[k]),
                p_best=float(p_best[k]),
                expected_loss=float(loss[k]),
                resumable=arm.resumable,
                rest_factor=float(rest[k]),
            )
        )
    order = sorted(range(len(ads)), key=lambda k: -ads[k].p_best)
    leader = ads[order[0]]
    top_two = [ads[k] for k in order[:2]]
    enough = all(a.days >= p.min_days for a in top_two) and (
        math.fsum(a.conversions_adjusted for a in top_two) >= p.min_conversions
    )
    winner = leader.ad if enough and leader.active and leader.p_best >= p.confidence else None
    return AdSetPosterior(ad_set.ref, ad_set.name, tuple(ads), leader.ad, winner, enough, samples)


def _wearing(snapshot: Snapshot, s: AdSetView, p: CreativeParams) -> bool:
    """Whether an active ad of the ad set has lost ``wear`` of its own peak CTR (fatigue's measurement)."""
    return any(f.metric == "ctr" and f.ratio <= 1.0 - p.wear for f in _DETECTOR.findings(snapshot, s))


def _all_arms(snapshot: Snapshot, p: CreativeParams) -> tuple[dict[EntityRef, list[_Arm]], dict[Platform, _Priors]]:
    steady = replace(p, ctr_half_life_days=p.half_life_days)
    arms = {s.ref: _arms(snapshot, s, p if _wearing(snapshot, s, p) else steady) for s in snapshot.ad_sets}
    groups: dict[Platform, list[list[_Arm]]] = {}
    for s in snapshot.ad_sets:
        groups.setdefault(s.platform, []).append(arms[s.ref])
    return arms, {platform: _platform_priors(g, p) for platform, g in groups.items()}


def creative_posteriors(
    snapshot: Snapshot, rng: np.random.Generator, params: CreativeParams | None = None
) -> dict[EntityRef, AdSetPosterior]:
    """Per active ad set with at least two ads in the test: P(best), expected loss and the winner if any.

    Pure: the benchmark calls it daily to measure how long a correct confident winner takes.
    """
    p = params or CreativeParams()
    arms, priors = _all_arms(snapshot, p)
    return {
        s.ref: _posterior(snapshot, s, arms[s.ref], priors[s.platform], p, rng)
        for s in snapshot.ad_sets
        if s.active and len(arms[s.ref]) >= 2
    }


def _incumbent(post: AdSetPosterior | None) -> float:
    """The best active ad's rate relative to the ad set's impression-weighted average (1 without a test)."""
    if post is None:
        return 1.0
    active = [a for a in post.ads if a.active]
    shares = math.fsum(a.impression_share for a in active)
    if not active or shares <= 0:
        return 1.0
    mean = math.fsum(a.rate * a.impression_share for a in active) / shares
    best = max(a.rate for a in active)
    return best / mean if mean > 0 else 1.0


@dataclass(frozen=True, slots=True)
class _Change:
    """A change of an ad set's active ads: indices into its posterior's ads, with its expected relative gain
    in conversions per impression, the probability that it gains at all, and the learning cost it starts."""

    pause: tuple[int, ...]
    resume: tuple[int, ...]
    gain: float
    likely: float
    cost: float = 0.0


# -- the policy ------------------------------------------------------------------------------------------


def recently_changed(snapshot: Snapshot, ad_set: AdSetView, days: float) -> bool:
    """Did the agent pause, resume or launch an ad of this ad set (or pause/resume the set) lately?

    Budget and bid edits do not count: the budget policy makes small ones often, and they do not change
    which ads compete.
    """
    refs = {ad_set.ref} | {a.ref for a in ad_set.ads}
    since = snapshot.now - timedelta(days=days)
    return any(a.target in refs and a.kind in _AD_CHANGES and a.at > since for a in snapshot.applied)


def _learning_cost(snapshot: Snapshot, ad_set: AdSetView, p: CreativeParams) -> float:
    return learning_cost(
        snapshot, ad_set, penalty=p.learning_penalty, events=p.learning_events,
        window_days=p.learning_window_days, horizon_days=p.horizon_days,
    )  # fmt: skip


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 else f"{x:.1%}"


def _cpa(a: AdPosterior) -> float | None:
    """Posterior-mean cost per conversion: the ad's cost per impression over its conversions per impression."""
    if a.impressions <= 0 or a.rate <= 0:
        return None
    return a.spend / a.impressions / a.rate


class CreativePolicy:
    """Pause clear losers, resume a paused ad that is plausibly best, launch a challenger; in batches.

    It runs beside the fatigue policy (``fatigue``: the same parameters the fatigue policy uses). By default
    fatigue only detects wear and launches refreshes, and this test decides which ads run, worn or not; an
    ad set with a worn ad gets its new creative from the fatigue refresh, not from here. With fatigue's
    ``retire_alone``, the ads it retires are left to it and count as leaving when this policy checks that
    an ad set keeps its active ads. So the two policies' proposals together never empty an ad set or launch
    twice into it. ``fatigue=None`` runs the creative test alone.
    """

    name = "creative"

    def __init__(self, params: CreativeParams | None = None, fatigue: FatigueParams | None = _FATIGUE_DEFAULTS) -> None:
        self.params = params or CreativeParams()
        self.fatigue = FatiguePolicy(fatigue) if fatigue is not None else None

    def __call__(self, snapshot: Snapshot, rng: np.random.Generator) -> list[Proposal]:
        p = self.params
        arms, priors = _all_arms(snapshot, p)
        out: list[Proposal] = []
        for s in snapshot.ad_sets:
            if not s.active or recently_changed(snapshot, s, p.cooldown_days):
                continue
            worn = [f for f in self.fatigue.findings(snapshot, s) if f.retire] if self.fatigue is not None else []
            leaving = (
                frozenset(f.ad.ref for f in self.fatigue.retiring(snapshot, s, worn))
                if self.fatigue is not None
                else frozenset()
            )
            refreshing = bool(worn)
            set_arms = arms[s.ref]
            if len(set_arms) >= 2:
                post = _posterior(snapshot, s, set_arms, priors[s.platform], p, rng)
                out.extend(self._decide(snapshot, s, post, rng, leaving, refreshing))
            elif (
                not refreshing
                and self._single_ad_needs_company(s, set_arms)
                and launches_left(snapshot, s, p.candidates.launch_cap) > 0
            ):
                why = f"'{s.name}' runs a single ad, nothing to test against"
                out.extend(self._launch(snapshot, s, None, rng, why, _learning_cost(snapshot, s, p)))
        return out

    # one ad set ----------------------------------------------------------------------------------------

    def _decide(
        self,
        snapshot: Snapshot,
        s: AdSetView,
        post: AdSetPosterior,
        rng: np.random.Generator,
        leaving: frozenset[EntityRef],
        refreshing: bool = False,
    ) -> list[Proposal]:
        p = self.params
        leader = post.of(post.leader)
        active = [a for a in s.ads if a.active]
        # A reset the fatigue policy's retirement starts anyway makes further changes in the same batch free.
        cost = 0.0 if leaving else _learning_cost(snapshot, s, p)
        change = self._best_change(post, leaving, cost)
        pauses = [post.ads[k] for k in change.pause]
        resume = [post.ads[k] for k in change.resume]

        in_contention = [
            a for a in post.ads if (a.active and a not in pauses and a.p_best >= p.keep_p_best) or a in resume
        ]
        pending = [a for a in active if all(x.ad != a.ref for x in post.ads)]  # active, not delivered yet
        active_after = len(active) - len(pauses) + len(resume)
        launch_reason = None
        can_launch = bool(eligible_candidates(snapshot, s)) and launches_left(snapshot, s, p.candidates.launch_cap) > 0
        if can_launch and not pending and not leaving and not refreshing and active_after < p.max_active:
            if post.winner is not None:
                launch_reason = (
                    f"'{leader.name}' is the confirmed winner in '{s.name}' ({_pct(leader.p_best)} chance of being "
                    "best), so a new challenger is tested against it"
                )
            elif post.enough_evidence and len(in_contention) < p.min_active:
                launch_reason = f"only {len(in_contention)} ad(s) in '{s.name}' are still in contention"

        trial = None
        quiet = not change.pause and not change.resume and launch_reason is None and not pending and not leaving
        if p.rested_trials and quiet:
            trial = self._rested_trial(snapshot, s, post, rng)
        out: list[Proposal] = []
        if trial is not None:
            out.append(self._resume(snapshot, s, post, post.ads[trial[0]], trial[1]))
        for a in resume:
            out.append(self._resume(snapshot, s, post, a))
        for a in pauses:
            out.append(self._pause(snapshot, s, post, a, change))
        if launch_reason is not None:
            # The launch resets learning unless the batch already does.
            launch_cost = 0.0 if out else _learning_cost(snapshot, s, p)
            out.extend(self._launch(snapshot, s, post, rng, launch_reason, launch_cost))
        return out

    def _best_change(self, post: AdSetPosterior, leaving: frozenset[EntityRef], cost: float) -> _Change:
        """The set of active ads with the best expected rate for the ad set, if it beats the current set.

        The platform shares an ad set's impressions among its active ads by its own predictions, and pausing
        ads re-divides their share among the others in proportion (the ads' recent impression shares). A
        candidate set is the best ``m`` ads by posterior mean (ads with P(best) at least ``pause_p_best`` and
        ads with too little evidence to judge always stay; a paused ad the agent may resume enters by rank,
        at most one); its value in each posterior draw is the impression-weighted rate. A change is made when
        the relative gain is positive with probability ``gain_confidence`` and its expectation beats both
        ``min_gain`` and ``cost``, the learning reset it starts.
        """
        p = self.params
        ads = post.ads
        q = post.draws
        n = len(ads)
        # Fatigue's retirements are leaving anyway; if it retires every active ad (a replacement is coming),
        # the comparison is with the ads as they run today.
        base = [k for k, a in enumerate(ads) if a.active and a.ad not in leaving] or [
            k for k, a in enumerate(ads) if a.active
        ]
        if not base or q.shape[1] != n:
            return _Change((), (), 0.0, 1.0)
        shares = np.array([a.impression_share for k, a in enumerate(ads)], dtype=np.float64)
        known = shares[base][shares[base] > 0]
        fill = float(known.mean()) if len(known) else 1.0 / len(base)
        weight = np.where(shares > 0, shares, fill)
        for k, a in enumerate(ads):
            if not a.active:  # a resumed ad competes as strongly as the strongest active one
                weight[k] = max(float(weight[base].max()), fill)

        def protected_at(p_best: float) -> set[int]:
            return {
                k
                for k in base
                if ads[k].ad == post.winner
                or ads[k].p_best >= p_best
                or ads[k].days < p.pause_min_days
                or self._expected_conversions(post, ads[k]) < p.pause_min_conversions
            }

        protected = protected_at(p.pause_p_best)

        def value(members: Sequence[int]) -> FloatArray:
            idx = np.array(sorted(members))
            w = weight[idx]
            return np.asarray(q[:, idx] @ w / w.sum(), dtype=np.float64)

        v0 = value(base)
        safe = np.where(v0 > 0, v0, 1.0)
        order = sorted(range(n), key=lambda k: -ads[k].rate)
        resumable = [k for k in order if not ads[k].active and ads[k].resumable][:1]
        ranked = [k for k in order if k in base or k in resumable]
        best: _Change = _Change((), (), 0.0, 1.0)
        for m in range(1, len(ranked) + 1):
            members = set(ranked[:m]) | protected
            if members == set(base):
                continue
            gain = value(sorted(members)) / safe - 1.0
            expected, likely = float(gain.mean()), float((gain > 0).mean())
            if likely >= p.gain_confidence and expected > max(cost, p.min_gain) and expected > best.gain:
                pause = tuple(k for k in base if k not in members)
                resume = tuple(k for k in members if k not in base)
                best = _Change(pause, resume, expected, likely, cost)
        if best.pause and cost > 0:
            # The change pays a learning reset: ads nearly out of contention leave with it rather than start
            # another reset days later (the best of the ads that stay always stays).
            kept = [k for k in base if k not in best.pause] + list(best.resume)
            top = max(kept, key=lambda k: ads[k].rate)
            loose = protected_at(p.batch_p_best)
            members = {k for k in kept if k in loose or k == top} | set(best.resume)
            gain = value(sorted(members)) / safe - 1.0
            expected, likely = float(gain.mean()), float((gain > 0).mean())
            if members != set(kept) and likely >= p.gain_confidence and expected >= best.gain:
                best = _Change(tuple(k for k in base if k not in members), best.resume, expected, likely, cost)
        return best

    @staticmethod
    def _expected_conversions(post: AdSetPosterior, a: AdPosterior) -> float:
        """Lag-adjusted conversions the ad would have had at its ad set's average rate."""
        impressions = sum(x.impressions for x in post.ads)
        conversions = math.fsum(x.conversions_adjusted for x in post.ads)
        return a.impressions * conversions / impressions if impressions else 0.0

    def _single_ad_needs_company(self, s: AdSetView, arms: Sequence[_Arm]) -> bool:
        active = [a for a in s.ads if a.active]
        return (
            len(arms) == 1
            and len(active) == 1
            and arms[0].ad.active
            and len(arms[0].rows) >= self.params.min_days
            and self.params.min_active > 1
        )

    def _pause(
        self, snapshot: Snapshot, s: AdSetView, post: AdSetPosterior, a: AdPosterior, change: _Change
    ) -> Proposal:
        best = post.of(post.leader)
        cur = snapshot.reporting_currency
        cpa_a, cpa_b = _cpa(a), _cpa(best)
        cpa_text = (
            f"; cost per conversion about {cpa_a:,.2f} {cur} vs {cpa_b:,.2f} {cur}"
            if cpa_a is not None and cpa_b is not None
            else ""
        )
        others = len(change.pause) - 1
        batch = f" (with {others} other ad(s) paused in the same change)" if others > 0 else ""
        reason = (
            f"Pause '{a.name}' in '{s.name}'{batch}: over its recent delivering days it converted "
            f"{a.rate * 1000:.3f} per 1,000 impressions vs {best.rate * 1000:.3f} for '{best.name}'{cpa_text}. "
            f"It has a {_pct(a.p_best)} chance of being the best ad; giving its "
            f"{a.impression_share:.0%} of impressions to the ads that stay raises the ad set's conversions per "
            f"impression with {_pct(change.likely)} probability, after allowing for conversions not reported yet."
        )
        per_day = conversions_per_day(snapshot, s)
        impact = (
            f"About {change.gain:+.1%} conversions in this ad set (~{change.gain * per_day:+.1f}/day) for the change "
            f"as a whole; the ad set re-enters learning (expected cost {change.cost:.1%} over the next "
            f"{self.params.horizon_days:g} days)."
        )
        return Proposal(
            action=Pause(
                target=a.ad,
                reason=reason,
                idempotency_key=decision_key(snapshot, ActionKind.PAUSE.value, a.ad),
            ),
            policy=self.name,
            evidence={
                "ad": a.evidence(),
                "best": best.evidence(),
                "winner_declared": post.winner is not None,
                "change_gain_expected": round(change.gain, 4),
                "change_gain_probability": round(change.likely, 4),
                "learning_cost": round(change.cost, 4),
            },
            expected_impact=impact,
        )

    def _rested_trial(
        self, snapshot: Snapshot, s: AdSetView, post: AdSetPosterior, rng: np.random.Generator
    ) -> tuple[int, dict[str, float]] | None:
        """A rested ad to try again beside the running ones (its index in ``post.ads`` and what the draw saw),
        or None.

        Ads wear with their own exposure and age with the market; a paused ad is spared the first. Since a
        rested ad's last delivering week the ad set's CTR (raw clicks per impression of the ads that ran)
        fell to ``rho`` of its level then. An unknown share ``u`` of that fall (in log terms, uniform on 0-1)
        was the running ads' own wear; the rested ad took the rest. Its conversions per impression today,
        relative to the best running ad's over the last week, are then ``q_then x rho^(1 - u) / best_now``,
        ``q_then`` its rate in its last week. Each rate is an ad's clicks per impression in the week named times
        its posterior mean CVR, not its raw conversions per click: at a few conversions per ad the raw best of
        several running ads is mostly luck (the winner's curse), and it set the bar too high for any trial.
        Thompson: one draw of ``u`` per decision, and the best rested ad at that draw is resumed when it beats
        the best running ad by more than ``min_gain`` and the learning cost. The platform then splits traffic
        between them and the test judges both on the same days.

        Only in ad sets still learning or learning-limited: one out of learning would give that up for a
        trial (everywhere, the full stack lost 2 points of the oracle). The idle limit on resuming does not
        apply: the trial is what renews the evidence. An ad the agent paused or resumed within
        ``resume_after_days`` is left alone.
        """
        p = self.params
        running = [a for a in s.ads if a.active]
        if not (s.learning or s.learning_limited) or not running:
            return None
        week = snapshot.as_of - timedelta(days=6)
        cvr = {a.ad: a.cvr for a in post.ads}
        tested = [a for a in running if a.ref in cvr]
        if not tested:
            return None
        best_now = max(_raw_ctr([a], week, snapshot.as_of) * cvr[a.ref] for a in tested)
        level_now = _raw_ctr(running, week, snapshot.as_of)
        if best_now <= 0 or level_now <= 0:
            return None
        options = []
        for k, ap in enumerate(post.ads):
            ad = next((a for a in s.ads if a.ref == ap.ad), None)
            if ad is None or ad.status is not Status.PAUSED:
                continue
            last = _last_delivery(ad)
            if last is None or (snapshot.as_of - last).days < 7:
                continue
            if _agent_touched(snapshot, ad.ref, _STATUS_CHANGES, p.resume_after_days):
                continue
            first = last - timedelta(days=6)
            then, level_then = _raw_ctr([ad], first, last) * ap.cvr, _raw_ctr(s.ads, first, last)
            if then > 0 and level_then > 0:
                options.append((k, then, min(level_now / level_then, 1.0)))
        if not options:
            return None
        u = float(rng.uniform())
        k, then, rho = max(options, key=lambda o: o[1] * o[2] ** (1.0 - u))
        ratio = then * rho ** (1.0 - u) / best_now
        if ratio - 1.0 <= max(p.min_gain, _learning_cost(snapshot, s, p)):
            return None
        return k, {
            "share_own_wear_drawn": round(u, 4),
            "ctr_level_ratio": round(rho, 4),
            "relative_rate": round(ratio, 4),
        }

    def _resume(
        self,
        snapshot: Snapshot,
        s: AdSetView,
        post: AdSetPosterior,
        a: AdPosterior,
        trial: dict[str, float] | None = None,
    ) -> Proposal:
        if trial is None:
            reason = (
                f"Resume '{a.name}' in '{s.name}': from its last {a.days} delivering days it is plausibly the best "
                f"ad here ({_pct(a.p_best)} chance; {a.rate * 1000:.3f} conversions per 1,000 impressions, 90 % "
                f"interval {a.rate_low * 1000:.3f}–{a.rate_high * 1000:.3f}). It was not paused by adpilot."
            )
        else:
            reason = (
                f"Resume '{a.name}' in '{s.name}' for a trial beside the running ads: since it last ran, the ad "
                f"set's CTR fell to {trial['ctr_level_ratio']:.0%} of its level then. If "
                f"{trial['share_own_wear_drawn']:.0%} of that fall (one draw of an unknown share) was the running "
                f"ads' own wear, which '{a.name}' was spared, it now converts about {trial['relative_rate']:.2f}x "
                "the best running ad. The test will compare them on the same days."
            )
        others = [x for x in post.ads if x.active]
        shares = math.fsum(x.impression_share for x in others)
        if shares > 0:
            mean_active = math.fsum(x.rate * x.impression_share for x in others) / shares
        else:
            mean_active = math.fsum(x.rate for x in others) / len(others) if others else a.rate
        lift = a.rate / mean_active - 1 if mean_active > 0 else 0.0
        if trial is None:
            impact = (
                f"Its estimated rate is {lift:+.0%} against the active ads' traffic-weighted average; the platform "
                "will shift impressions to it if it holds up."
            )
        else:  # the posterior discounts part of the fall whatever the draw: say both, so the two do not clash
            impact = (
                f"A trial: the test's posterior, from before its rest, puts its rate at {lift:+.0%} against the "
                f"active ads' traffic-weighted average; at this draw of the wear share it is "
                f"{trial['relative_rate'] - 1:+.0%} against the best running ad. The platform shares impressions "
                "between them while the test compares them."
            )
        return Proposal(
            action=Resume(
                target=a.ad,
                reason=reason,
                idempotency_key=decision_key(snapshot, ActionKind.RESUME.value, a.ad),
            ),
            policy=self.name,
            evidence={"ad": a.evidence(), "ads": [x.evidence() for x in post.ads]}
            | ({"trial": trial} if trial else {}),
            expected_impact=impact,
        )

    def _launch(
        self,
        snapshot: Snapshot,
        s: AdSetView,
        post: AdSetPosterior | None,
        rng: np.random.Generator,
        why: str,
        cost: float,
    ) -> list[Proposal]:
        choice = choose_candidate(snapshot, s, rng, self.params.candidates)
        if choice is None:
            return []
        incumbent = _incumbent(post)
        net, p_better = launch_worth(choice, incumbent, cost, rng)
        if net <= 0:
            return []  # the newcomer's expected upside does not pay for its trial and the reset
        c = choice.candidate
        basis = {
            "live elsewhere": f"it already runs elsewhere at ~{choice.prior_mean:.2f}x its neighbours' rate",
            "parent": (
                f"a variant of a proven creative, expected at ~{choice.prior_mean:.2f}x its neighbours' rate "
                "after regression to the mean"
            ),
            "no history": "no history yet, picked by a draw from the creatives' prior",
            "element model": (
                f"an untried combination of this ad set's headlines, images and buttons that the element model "
                f"proposes, expected at ~{choice.prior_mean:.2f}x the ad set's current rate"
            ),
        }[choice.basis]
        n = len(eligible_candidates(snapshot, s))
        reason = f"Launch '{c.name}' in '{s.name}': {why}. Chosen among {n} candidate(s): {basis}."
        evidence: dict[str, Any] = {
            "candidate": choice.evidence(),
            "incumbent_relative_rate": round(incumbent, 4),
            "p_beats_incumbent": round(p_better, 4),
            "expected_net_gain": round(net, 4),
            "learning_cost": round(cost, 4),
        }
        if post is not None:
            evidence["ads"] = [x.evidence() for x in post.ads]
            evidence["winner"] = str(post.winner) if post.winner else None
        return [
            Proposal(
                action=launch_action(snapshot, s, c, reason),
                policy=self.name,
                evidence=evidence,
                expected_impact=(
                    "A new creative gets a share of impressions while the platform learns it; it beats the best "
                    f"current ad with probability {p_better:.0%} (prior expectation {choice.prior_mean:.2f}x the "
                    f"ad set's average rate against the best ad's {incumbent:.2f}x), worth an expected "
                    f"{net:+.1%} of the ad set's conversions after its trial and the learning reset."
                ),
            )
        ]
