"""Statistical helpers shared by the creative, fatigue and lag policies, and the Thompson pick of a
candidate creative (used by the creative test for challengers and by fatigue for refreshes).

Everything here is a pure function of its arguments (and of the ``numpy.random.Generator`` passed in),
so the policies that use them stay replayable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from adpilot.domain.actions import ActionKind, LaunchAd
from adpilot.domain.entities import LEARNING_EVENTS, LEARNING_WINDOW_DAYS
from adpilot.domain.snapshot import AdSetView, CreativeCandidate, Snapshot, decision_key

FloatArray = NDArray[np.float64]


def recency_weight(age: int, half_life_days: float, window_days: int) -> float:
    """The weight of a day ``age`` days old: halves every ``half_life_days``, zero past the window.

    Creatives and markets drift, so old days count for less; the window bounds the memory outright.
    """
    if age < 0 or age >= window_days:
        return 0.0
    if half_life_days <= 0 or math.isinf(half_life_days):
        return 1.0
    return float(0.5 ** (age / half_life_days))


def overdispersion_factor(expected_successes: float, relative_sigma: float) -> float:
    """How much one day's binomial counts are worth once day-level rate noise is admitted.

    If a day's rate varies by a relative ``sigma`` (lognormal day noise), the variance of its count is
    ``mu + mu**2 * sigma**2`` instead of ``mu``: the day carries the information of
    ``1 / (1 + mu * sigma**2)`` times its raw count. Without this, a month of large binomial counts looks
    far more certain than day-to-day swings allow.
    """
    if relative_sigma <= 0 or expected_successes <= 0:
        return 1.0
    return 1.0 / (1.0 + expected_successes * relative_sigma**2)


@dataclass(frozen=True, slots=True)
class Counts:
    """Effective (weighted, tempered, lag-discounted) successes and trials of one arm."""

    successes: float
    trials: float

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials > 0 else 0.0


def pooled_rate(counts: Sequence[Counts], fallback: float) -> float:
    """The pooled rate of several arms, pulled gently toward ``fallback`` so it is never 0 or 1.

    One pseudo-success at the fallback rate: enough to avoid degenerate priors when an ad set has no
    conversion yet, negligible once it has a few.
    """
    s = math.fsum(c.successes for c in counts)
    n = math.fsum(c.trials for c in counts)
    fb = min(max(fallback, 1e-9), 0.5)
    return min((s + 1.0) / (n + 1.0 / fb), 0.999)


def relative_dispersion(
    groups: Sequence[Sequence[Counts]],
    *,
    prior_sd: float,
    prior_weight: float,
    sd_bounds: tuple[float, float] = (0.03, 1.5),
) -> float:
    """Empirical-Bayes estimate of how much arms' true rates vary *relative to their group's rate*.

    Method of moments on ``r_i = rate_i / pooled_rate_group``: ``E[(r_i - 1)^2] ~ (1 - h_i)(v + 1/mu_i)``
    where ``mu_i`` is the arm's expected successes (sampling noise) and ``h_i`` its share of the group's
    trials (an arm pulls its own group mean toward itself). Each arm gives an unbiased ``v_i``; they are
    averaged with weights ``1/(v0 + 1/mu_i)^2`` (the variance of a squared deviation), and the result is
    shrunk toward ``prior_sd**2`` as if from ``prior_weight`` extra arms, so a handful of creatives cannot
    produce an absurdly tight or loose prior. Returns the relative variance ``v``.
    """
    v0 = prior_sd**2
    num = 0.0
    den = 0.0
    dof = 0
    for group in groups:
        arms = [c for c in group if c.trials > 0]
        if len(arms) < 2:
            continue
        p = pooled_rate(arms, fallback=0.01)
        total = math.fsum(c.trials for c in arms)
        dof += len(arms) - 1
        for c in arms:
            mu = c.trials * p
            if mu <= 0:
                continue
            h = c.trials / total
            if h >= 1.0:
                continue
            r = c.rate / p
            v_i = (r - 1.0) ** 2 / (1.0 - h) - 1.0 / mu
            w = 1.0 / (v0 + 1.0 / mu) ** 2
            num += w * v_i
            den += w
    v_hat = max(num / den, 0.0) if den > 0 else v0
    v = (dof * v_hat + prior_weight * v0) / (dof + prior_weight) if dof + prior_weight > 0 else v0
    lo, hi = sd_bounds
    return float(min(max(v, lo**2), hi**2))


def beta_prior(mean: float, relative_variance: float) -> tuple[float, float]:
    """Beta(a, b) with the given mean and variance ``relative_variance * mean**2`` (moment matching)."""
    m = min(max(mean, 1e-9), 1.0 - 1e-9)
    var = relative_variance * m * m
    kappa = m * (1.0 - m) / var - 1.0 if var > 0 else 1e6
    kappa = max(kappa, 2.0)  # at least a weakly informative Beta
    return kappa * m, kappa * (1.0 - m)


def best_arm_stats(samples: FloatArray) -> tuple[FloatArray, FloatArray]:
    """P(best) and expected relative loss per arm from posterior draws (rows = draws, columns = arms).

    The loss of arm k in a draw is ``(max_j theta_j - theta_k) / max_j theta_j``: the share of the best
    arm's rate given up by playing k. Its mean is the "potential value remaining" of Scott's bandit
    experiments, per arm.
    """
    n_draws, n_arms = samples.shape
    best = samples.max(axis=1)
    winners = samples.argmax(axis=1)
    p_best = np.bincount(winners, minlength=n_arms).astype(np.float64) / n_draws
    safe = np.where(best > 0, best, 1.0)
    loss = ((best[:, None] - samples) / safe[:, None]).mean(axis=0)
    return p_best, np.asarray(loss, dtype=np.float64)


def day_effects(successes: FloatArray, exposure: FloatArray, tau: float, iterations: int = 8) -> FloatArray:
    """Multiplicative effects of each day (columns) shared by all arms (rows), shrunk toward 1.

    Model: ``successes[k, d] ~ Poisson(exposure[k, d] * theta[k] * g[d])`` with ``g[d] ~ Gamma(tau, tau)``
    (mean 1, relative sd ``1/sqrt(tau)``). Alternating updates (iterative proportional fitting with a
    conjugate prior) give ``g[d] = (S_d + tau) / (E_d + tau)``. Scaling each arm's exposure by ``g`` compares
    arms *on the same days*: an ad that only ran during a slump (a learning reset, a tracking outage, a bad
    week) is not judged against another's good weeks, and a day on which one ad ran alone says little.
    """
    n_days = exposure.shape[1]
    g = np.ones(n_days, dtype=np.float64)
    if tau <= 0 or math.isinf(tau) or exposure.size == 0:
        return g
    per_day = successes.sum(axis=0)
    per_arm = successes.sum(axis=1)
    for _ in range(iterations):
        arm_exposure = (exposure * g[None, :]).sum(axis=1)
        theta = np.divide(per_arm, arm_exposure, out=np.zeros_like(per_arm), where=arm_exposure > 0)
        expected = (exposure * theta[:, None]).sum(axis=0)
        g = (per_day + tau) / (expected + tau)
    return np.asarray(g, dtype=np.float64)


def isotonic_increasing(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """Weighted least-squares non-decreasing fit (pool-adjacent-violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, max(w, 1e-12), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for mean, _, n in blocks:
        out.extend([mean] * int(n))
    return out


# -- candidate creatives -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CandidatePrior:
    """How a not-yet-live creative's quality is guessed (market-science §6.2: children regress to the mean)."""

    window_days: int = 42  # history used to judge a creative or its parent where it already runs
    relative_sd: float = 0.36  # spread of creatives' conversions per impression (CTR 0.30 and CVR 0.20 combined)
    heritability: float = 0.65  # child quality = parent quality^rho x noise (reference: rho 0.5–0.8)
    # Launches per ad set in 7 days the policies plan within, so a launch is proposed only when the guardrail
    # will let it pass: ``policy_set`` sets it from the guardrails' ``max_launches_per_ad_set_per_week``.
    launch_cap: int = 2

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.relative_sd <= 0 or not 0 <= self.heritability <= 1:
            raise ValueError("window_days >= 1, relative_sd > 0, heritability in [0, 1]")
        if self.launch_cap < 0:
            raise ValueError("launch_cap: must be >= 0")


def _relative_evidence(snapshot: Snapshot, key: str, window_days: int) -> tuple[float, float]:
    """(observed, expected) lag-adjusted conversions of ads with this creative key, across the snapshot.

    Expected = what their ad sets' average conversions per impression would have given them: the ratio
    is the creative's quality relative to the ads it ran beside.
    """
    first = snapshot.as_of - timedelta(days=window_days - 1)
    observed = expected = 0.0
    for s in snapshot.ad_sets:
        mine = [a for a in s.ads if a.creative_key == key]
        if not mine:
            continue
        windows = [a.history.since(first) for a in s.ads]
        set_impr = float(sum(sum(h.impressions) for h in windows))
        if set_impr <= 0:
            continue
        set_rate = math.fsum(snapshot.lag_adjusted_conversions(s.platform, h) for h in windows) / set_impr
        for a in mine:
            h = a.history.since(first)
            observed += snapshot.lag_adjusted_conversions(s.platform, h)
            expected += sum(h.impressions) * set_rate
    return observed, expected


@dataclass(frozen=True, slots=True)
class CandidateChoice:
    """The candidate a Thompson draw picked, and why."""

    candidate: CreativeCandidate
    basis: str  # "live elsewhere", "parent", "element model" or "no history"
    prior_mean: float  # expected quality relative to the ads it will run beside
    draw: float  # the winning draw
    shape: float = 1.0  # its Gamma(shape, rate) posterior (of the parent's quality for basis "parent")
    rate: float = 1.0
    rho: float = 1.0  # heritability for basis "parent", else 1
    noise_sd: float = 0.0  # lognormal noise of a child around its parent's quality^rho

    def sample(self, rng: np.random.Generator, n: int, *, versus_parent: bool = False) -> FloatArray:
        """``n`` draws of the candidate's quality relative to the ads it will run beside, or (``versus_parent``)
        relative to its parent when fresh: a child keeps ``parent^rho`` of its parent's quality."""
        parent = rng.gamma(self.shape, 1.0 / self.rate, size=n)
        noise = np.exp(rng.normal(0.0, self.noise_sd, size=n))
        if versus_parent and self.basis == "parent":
            return np.asarray(parent ** (self.rho - 1.0) * noise, dtype=np.float64)
        return np.asarray(parent**self.rho * noise, dtype=np.float64)

    def evidence(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate.key,
            "candidate_name": self.candidate.name,
            "parent": self.candidate.parent_key,
            "basis": self.basis,
            "prior_relative_quality": round(self.prior_mean, 4),
            "thompson_draw": round(self.draw, 4),
        }


def eligible_candidates(snapshot: Snapshot, ad_set: AdSetView) -> list[CreativeCandidate]:
    """Candidates allowed on the ad set's platform and not already an ad of it."""
    present = {a.creative_key for a in ad_set.ads}
    return [c for c in snapshot.candidates if ad_set.platform in c.platforms and c.key not in present]


def choose_candidate(
    snapshot: Snapshot,
    ad_set: AdSetView,
    rng: np.random.Generator,
    prior: CandidatePrior,
    *,
    parent_key: str | None = None,
) -> CandidateChoice | None:
    """Thompson-pick one candidate to launch in ``ad_set`` (None if none fits).

    Each candidate's quality relative to its future neighbours is drawn from the element model's estimate
    when it has one (``expected_relative``); else from a Gamma-Poisson posterior when the same creative runs
    elsewhere; else from its parent's posterior raised to the heritability
    ``rho`` times fresh lognormal noise (``m_child = m_parent^rho x LogNormal(0, sqrt((1 - rho^2) v))``, so
    children keep the creatives' overall spread ``v``); else from the prior spread alone. With
    ``parent_key``, the candidates derived from that creative are preferred, if any.
    """
    pool = eligible_candidates(snapshot, ad_set)
    if parent_key is not None:
        pool = [c for c in pool if c.parent_key == parent_key] or pool
    if not pool:
        return None
    best: CandidateChoice | None = None
    for c in pool:
        choice = _candidate_choice(snapshot, c, rng, prior)
        if best is None or choice.draw > best.draw:
            best = choice
    return best


def _candidate_choice(
    snapshot: Snapshot, c: CreativeCandidate, rng: np.random.Generator, prior: CandidatePrior
) -> CandidateChoice:
    """One Thompson draw of ``c``'s quality, from the best evidence there is about it (see ``choose_candidate``)."""
    v = prior.relative_sd**2
    kappa = 1.0 / v  # Gamma(kappa, kappa): mean 1, relative variance v
    rho = prior.heritability
    if c.expected_relative is not None:  # the element model's estimate, as a Gamma of the same mean and spread
        cv2 = max(math.expm1((c.relative_sd or prior.relative_sd) ** 2), 1e-6)
        shape, rate = 1.0 / cv2, 1.0 / (cv2 * max(c.expected_relative, 1e-9))
        return CandidateChoice(c, "element model", shape / rate, float(rng.gamma(shape, 1.0 / rate)), shape, rate)
    obs, exp = _relative_evidence(snapshot, c.key, prior.window_days)
    if exp > 0:
        shape, rate = kappa + obs, kappa + exp
        return CandidateChoice(c, "live elsewhere", shape / rate, float(rng.gamma(shape, 1.0 / rate)), shape, rate)
    parent = _relative_evidence(snapshot, c.parent_key, prior.window_days) if c.parent_key else (0.0, 0.0)
    if parent[1] > 0:
        shape, rate = kappa + parent[0], kappa + parent[1]
        noise_sd = math.sqrt((1 - rho**2) * v)
        draw = float(rng.gamma(shape, 1.0 / rate)) ** rho * math.exp(float(rng.normal(0.0, noise_sd)))
        return CandidateChoice(c, "parent", (shape / rate) ** rho, draw, shape, rate, rho, noise_sd)
    return CandidateChoice(c, "no history", 1.0, float(rng.gamma(kappa, 1.0 / kappa)), kappa, kappa)


def launches_left(snapshot: Snapshot, ad_set: AdSetView, cap: int) -> int:
    """Launches the ad set may still take within the guardrail's 7-day cap (``cap``)."""
    since = snapshot.now - timedelta(days=7)
    done = sum(
        1 for a in snapshot.applied if a.kind == ActionKind.LAUNCH_AD.value and a.target == ad_set.ref and a.at > since
    )
    return max(cap - done, 0)


def launch_worth(
    choice: CandidateChoice,
    incumbent: float,
    cost: float,
    rng: np.random.Generator,
    *,
    trial_share: float = 0.25,
    versus_parent: bool = False,
) -> tuple[float, float]:
    """Expected net relative gain of launching ``choice`` beside an ad set whose best ad runs at
    ``incumbent`` times the ad set's average rate (or, ``versus_parent``, at ``incumbent`` times the
    candidate's parent when that was fresh: a fatigued parent's decline), and the chance the newcomer beats it.

    The upside is the newcomer's expected improvement over the incumbent (kept if it wins); the downside is
    its shortfall on the share of traffic (``trial_share`` of the horizon) it takes while it is being
    judged, plus ``cost``, the learning reset a launch starts.
    """
    c = choice.sample(rng, 4000, versus_parent=versus_parent) / max(incumbent, 1e-9)
    upside = float(np.maximum(c - 1.0, 0.0).mean())
    downside = float(np.maximum(1.0 - c, 0.0).mean()) * trial_share
    return upside - downside - cost, float((c > 1.0).mean())


def launch_action(snapshot: Snapshot, ad_set: AdSetView, c: CreativeCandidate, reason: str) -> LaunchAd:
    """The LaunchAd of candidate ``c`` into ``ad_set``, keyed by the candidate so it is applied once."""
    return LaunchAd(
        target=ad_set.ref,
        reason=reason,
        idempotency_key=decision_key(snapshot, ActionKind.LAUNCH_AD.value, ad_set.ref, c.key),
        name=c.name,
        asset_ids=c.asset_ids,
        headline=c.headline,
        body=c.body,
        call_to_action=c.call_to_action,
        link_url=c.link_url,
    )


def conversions_per_day(snapshot: Snapshot, ad_set: AdSetView) -> float:
    """Lag-adjusted conversions per day over the last 7 days (the ad set's series, else its ads')."""
    first = snapshot.as_of - timedelta(days=6)
    parts = [ad_set.history] if len(ad_set.history) else [a.history for a in ad_set.ads]
    return math.fsum(snapshot.lag_adjusted_conversions(ad_set.platform, h.since(first)) for h in parts) / 7.0


def learning_cost(
    snapshot: Snapshot,
    ad_set: AdSetView,
    *,
    penalty: float = 0.2,
    events: float = LEARNING_EVENTS,
    window_days: int = LEARNING_WINDOW_DAYS,
    horizon_days: float = 14.0,
) -> float:
    """Expected share of the horizon's conversions lost to the learning phase an ad change starts.

    Learning ends after ``events`` conversions within ``window_days``; an ad set still learning that cannot
    reach that pace loses nothing more by another reset. A *limited* ad set is charged the full penalty even
    so: it may still leave learning in a good week (the platforms count any rolling window) or when the
    budget policy lifts it, and a reset throws that away. Measured on the full-stack scenario (seeds 2-5):
    charging it nothing tripled the resets (to 12-18 a run) and lost 2 points of the oracle. Charging it its
    chance to leave learning at its own pace (session 13, 20 seeds): -0.13 ± 0.90, resets 18.6 -> 31.4 a run
    (the creative policy reset ad sets the budget policy was lifting); the same with the full penalty while
    the spend climbs: +0.06 ± 0.79. At a few conversions a day per ad, the changes a cheaper reset lets
    through are as often wrong as right (docs/benchmarks.md, session 13).

    An ad set out of learning converts at its full rate now, and at ``1 - penalty`` of it once reset: that
    is the pace that must reach ``events`` again. One whose volume only just sufficed is trapped by a reset
    (its penalized pace falls short) and is charged the full penalty, like a limited one.
    """
    per_day = conversions_per_day(snapshot, ad_set)
    if not (ad_set.learning or ad_set.learning_limited):
        per_day *= 1.0 - penalty
    if per_day * window_days < events:
        return 0.0 if ad_set.learning else penalty
    return penalty * min(events / per_day, horizon_days) / horizon_days
