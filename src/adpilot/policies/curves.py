"""Response curves for budget allocation: fitting with uncertainty, and the equal-marginal allocator.

A unit's daily return is modelled as ``f(b) = V · b^α / (b^α + K^α)`` (a Hill curve: ``V`` the return at
saturation, ``K`` the half-saturation budget, ``α`` the shape; ``α > 1`` is an S-curve). It is fitted in two
parts that fail in different ways:

* **delivery** (impressions vs CPM-normalized spend, ``I = I_max · H(x / κ; α)``): impressions are final on
  the day and hardly noisy, so this is where the curve's shape is identified. The shape is a grid posterior
  over ``(α, z)``, ``z`` = logit of the saturation at the unit's typical spend, with ``log I_max``
  integrated analytically (Gaussian, flat prior) and the noise variance profiled out;
* **return per impression** (conversions or value per impression): a Gamma posterior from lag-corrected,
  recency- and robustly-weighted days, scaled by a quasi-Poisson dispersion (conversions are overdispersed).

The allocator maximizes ``Σ f_j(b_j)`` subject to ``Σ b_j = total`` and per-unit bounds by bisection on the
shadow price λ (KKT: ``f_j'(b_j) = λ`` inside the bounds). Each unit answers λ with its exact argmax of
``f(b) − λ b`` over its bounds, which handles S-curves (a unit is either at its lower bound or on the
decreasing-marginal branch, whichever nets more). Where an S-curve's switch makes ``Σ b(λ)`` jump past the
total, both choices for that unit are solved and the better kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# The shape grid: α over the range the literature fits (Robyn's demo bounds 0.5-3), z = logit of the share of
# saturation reached at the unit's typical spend (0.02-0.98).
GRID_LOG_ALPHA: FloatArray = np.linspace(np.log(0.5), np.log(3.0), 19)
GRID_Z: FloatArray = np.linspace(-4.0, 4.0, 33)
_STEP_LOG_ALPHA = float(GRID_LOG_ALPHA[1] - GRID_LOG_ALPHA[0])
_STEP_Z = float(GRID_Z[1] - GRID_Z[0])
_NOISE_FLOOR = 0.02  # log-impression noise never assumed below 2 %: a perfect fit is luck, not certainty


def log_hill(log_x: FloatArray, log_kappa: FloatArray, alpha: FloatArray) -> FloatArray:
    """``log(x^α / (x^α + κ^α))``, stable for any magnitudes (broadcasting)."""
    return np.asarray(-np.logaddexp(0.0, alpha * (log_kappa - log_x)), dtype=np.float64)


def effective_size(w: FloatArray) -> float:
    """Kish's effective number of observations of weights ``w``."""
    s2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ShapeGrid:
    """The delivery fit on the (log α, z) grid, before the prior: what pooling and the posterior need."""

    log_x_ref: float  # log of the typical (recency-weighted geometric mean) normalized spend
    loglik: FloatArray  # (A, Z) log marginal likelihood
    mean_log_imax: FloatArray  # (A, Z) conditional posterior mean of log I_max
    var_log_imax: FloatArray  # (A, Z) its variance
    noise: FloatArray  # (A, Z) residual standard deviation of log impressions


def fit_delivery(log_x: FloatArray, log_impr: FloatArray, w: FloatArray) -> ShapeGrid:
    """Likelihood of every grid shape for observed (log normalized spend, log impressions) with weights ``w``.

    ``w`` (recency) is rescaled to sum to its effective size, so down-weighted days count as fewer days.
    """
    n_eff = effective_size(w)
    log_x_ref = float(np.sum(w * log_x) / np.sum(w)) if n_eff > 0 else 0.0
    alpha = np.exp(GRID_LOG_ALPHA)[:, None]
    log_kappa = log_x_ref - GRID_Z[None, :] / alpha  # (A, Z)
    if n_eff <= 0:
        zeros = np.zeros((len(GRID_LOG_ALPHA), len(GRID_Z)))
        return ShapeGrid(log_x_ref, zeros, zeros, np.full_like(zeros, 1e6), np.full_like(zeros, 1.0))
    wn = w * (n_eff / np.sum(w))
    g = log_hill(log_x[None, None, :], log_kappa[..., None], alpha[..., None])  # (A, Z, T)
    d = log_impr[None, None, :] - g
    m = np.sum(wn * d, axis=-1) / n_eff
    rss = np.sum(wn * (d - m[..., None]) ** 2, axis=-1)
    s2 = rss / n_eff + _NOISE_FLOOR**2
    # Flat prior on log I_max integrated out: the concentrated likelihood keeps (n_eff - 1) / 2 of log s2.
    loglik = -0.5 * max(n_eff - 1.0, 0.0) * np.log(s2)
    return ShapeGrid(log_x_ref, loglik, m, s2 / n_eff, np.sqrt(s2))


def shape_prior(alpha_median: float, alpha_sd_log: float, z_sd: float) -> FloatArray:
    """Log prior on the grid: log-normal α, normal z (typical spend at 30-70 % of saturation is z ≈ ±0.85)."""
    la = -0.5 * ((GRID_LOG_ALPHA - np.log(alpha_median)) / alpha_sd_log) ** 2
    lz = -0.5 * (GRID_Z / z_sd) ** 2
    return np.asarray(la[:, None] + lz[None, :], dtype=np.float64)


def alpha_evidence(grid: ShapeGrid, prior: FloatArray) -> FloatArray:
    """Log marginal likelihood of each α (z integrated over the prior), for pooling the shape across units."""
    joint = grid.loglik + prior
    zmax = joint.max(axis=1, keepdims=True)
    lz = np.log(np.sum(np.exp(joint - zmax), axis=1)) + zmax[:, 0]
    zp = prior.max(axis=1, keepdims=True)
    norm = np.log(np.sum(np.exp(prior - zp), axis=1)) + zp[:, 0]
    return np.asarray(lz - norm, dtype=np.float64)


def pooled_alpha_priors(evidence: list[FloatArray], strength: float) -> list[FloatArray]:
    """Leave-one-out empirical-Bayes log prior on α for each unit: ``strength`` × the mean of the others' evidence.

    The shape is shared across units (one market, similar mechanics) while each keeps its own scale; the
    mean of the log evidence is one "typical unit" worth of information, so strength 1 counts it as one unit.
    """
    n = len(evidence)
    if n < 2 or strength <= 0:
        return [np.zeros(len(GRID_LOG_ALPHA)) for _ in evidence]
    centred = [e - e.max() for e in evidence]
    total = np.sum(centred, axis=0)
    return [strength * (total - c) / (n - 1) for c in centred]


@dataclass(frozen=True, slots=True)
class DeliveryPosterior:
    """A unit's posterior over its delivery curve in normalized spend."""

    grid: ShapeGrid
    log_weights: FloatArray  # (A, Z), normalized: log posterior probability of each cell

    @classmethod
    def of(cls, grid: ShapeGrid, log_prior: FloatArray) -> DeliveryPosterior:
        lp = grid.loglik + log_prior
        lp = lp - lp.max()
        lp = lp - np.log(np.sum(np.exp(lp)))
        return cls(grid, lp)

    def sample(self, rng: np.random.Generator, n: int, scale: float = 1.0) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``n`` draws of (α, log κ, log I_max), jittered within their grid cell for a continuous posterior.

        ``scale`` < 1 samples a posterior reshaped to ``scale`` times its spread (tempered: log weights
        ÷ scale², Gaussian sd × scale), the same mode.
        """
        lw = self.log_weights / (scale * scale)
        p = np.exp(lw - lw.max()).ravel()
        cells = rng.choice(p.size, size=n, p=p / p.sum())
        ia, iz = np.unravel_index(cells, self.log_weights.shape)
        la = GRID_LOG_ALPHA[ia] + (rng.random(n) - 0.5) * _STEP_LOG_ALPHA
        z_cell = GRID_Z[iz]
        z = z_cell + (rng.random(n) - 0.5) * _STEP_Z
        alpha = np.exp(la)
        log_kappa = self.grid.log_x_ref - z / alpha
        # Keep the fitted level at the typical spend: shift log I_max by the jitter's change of log H there.
        shift = np.logaddexp(0.0, -z) - np.logaddexp(0.0, -z_cell)
        log_imax = (
            self.grid.mean_log_imax[ia, iz]
            + shift
            + rng.standard_normal(n) * scale * np.sqrt(self.grid.var_log_imax[ia, iz])
        )
        return alpha, log_kappa, log_imax

    def predict(self, log_x: FloatArray) -> tuple[FloatArray, FloatArray, float]:
        """Posterior-mean log impressions and elasticity d log I / d log x at ``log_x``, and the noise sd."""
        wgt = np.exp(self.log_weights)
        alpha = np.exp(GRID_LOG_ALPHA)[:, None]
        log_kappa = self.grid.log_x_ref - GRID_Z[None, :] / alpha
        g = log_hill(log_x[None, None, :], log_kappa[..., None], alpha[..., None])
        mean = np.einsum("az,azt->t", wgt, g + self.grid.mean_log_imax[..., None])
        elasticity = np.einsum("az,azt->t", wgt, alpha[..., None] * (1.0 - np.exp(g)))
        noise = float(np.sum(wgt * self.grid.noise))
        return np.asarray(mean, dtype=np.float64), np.asarray(elasticity, dtype=np.float64), noise


@dataclass(frozen=True, slots=True)
class RatePosterior:
    """Gamma posterior of the return per unit of exposure (conversions or value per impression)."""

    shape: float
    rate: float
    dispersion: float  # quasi-Poisson variance / mean of a day's outcome

    @property
    def mean(self) -> float:
        return self.shape / self.rate

    def sample(self, rng: np.random.Generator, n: int, scale: float = 1.0) -> FloatArray:
        """``n`` draws; ``scale`` < 1 keeps the mean and shrinks the sd by that factor."""
        s2 = scale * scale
        return np.asarray(rng.gamma(self.shape / s2, s2 / self.rate, size=n), dtype=np.float64)


def fit_rate(
    outcome: FloatArray, exposure: FloatArray, w: FloatArray, prior_mean: float, prior_strength: float = 1.0
) -> RatePosterior:
    """Gamma-Poisson posterior of ``outcome ≈ rate × exposure`` with day weights and overdispersion.

    The dispersion (Pearson χ² per weighted day, at least 1) divides both the outcome and the exposure, so an
    overdispersed series counts as fewer events: the same mean with an honest width. The prior is
    ``prior_strength`` pseudo-events at ``prior_mean`` (pooled across units).
    """
    ok = (w > 0) & (exposure > 0)
    w, y, e = w[ok], outcome[ok], exposure[ok]
    sw = float(np.sum(w))
    prior_mean = max(prior_mean, 1e-12)
    if sw <= 0:
        return RatePosterior(prior_strength, prior_strength / prior_mean, 1.0)
    q = float(np.sum(w * y)) / max(float(np.sum(w * e)), 1e-12)
    q = max(q, prior_mean * 1e-3)
    mu = q * e
    n_eff = effective_size(w)
    chi2 = float(np.sum(w * (y - mu) ** 2 / mu)) / sw
    # Shrink a dispersion estimated from few days towards 1 (Poisson) so one odd day cannot inflate it.
    dispersion = max(1.0, (chi2 * n_eff + 2.0) / (n_eff + 2.0))
    shape = prior_strength + float(np.sum(w * y)) / dispersion
    rate = prior_strength / prior_mean + float(np.sum(w * e)) / dispersion
    return RatePosterior(shape, rate, dispersion)


def rate_prior(raw: list[RatePosterior], min_spread: float) -> tuple[float, float]:
    """Empirical-Bayes prior of return per impression across units: (mean, strength in pseudo-events).

    ``log q_j ~ N(μ, τ²)``: μ is the precision-weighted mean of the units' log rates and τ² their spread
    beyond sampling noise (moments, as DerSimonian-Laird), at least ``min_spread``². Units alike pool
    strongly; units that differ keep their own rates. The Gamma prior with shape 1/τ² has that spread.
    """
    means = np.array([r.mean for r in raw])
    s2 = np.array([1.0 / r.shape for r in raw])  # Gamma: var(log q) ≈ 1/shape
    ok = means > 0
    if ok.sum() < 3:
        return (float(np.exp(np.mean(np.log(means[ok])))) if ok.any() else 1e-6), 1.0
    m, s2 = np.log(means[ok]), s2[ok]
    tau2 = max(float(np.var(m, ddof=1) - np.mean(s2)), min_spread**2)
    w = 1.0 / (s2 + tau2)
    mu = float(np.sum(w * m) / np.sum(w))
    return float(np.exp(mu + tau2 / 2)), 1.0 / tau2


# -- the allocator ---------------------------------------------------------------------------------------------


def curve_value(b: FloatArray, v: FloatArray, k: FloatArray, a: FloatArray) -> FloatArray:
    """``V · b^α / (b^α + K^α)`` (broadcasting)."""
    bb = np.maximum(b, 0.0)
    with np.errstate(divide="ignore"):
        lg = log_hill(np.log(bb), np.log(k), a)
    return np.asarray(v * np.exp(lg), dtype=np.float64)


def curve_marginal(b: FloatArray, v: FloatArray, k: FloatArray, a: FloatArray) -> FloatArray:
    """d/db of :func:`curve_value`: ``V α K^α b^(α-1) / (b^α + K^α)²``, written as ``V α H (1 - H) / b``."""
    bb = np.maximum(b, 1e-9)
    h = np.exp(log_hill(np.log(bb), np.log(k), a))
    return np.asarray(v * a * h * (1.0 - h) / bb, dtype=np.float64)


def budget_returning(need: FloatArray | float, v: FloatArray, k: FloatArray, a: FloatArray) -> FloatArray:
    """The budget at which ``f(b) = V b^α / (b^α + K^α)`` returns ``need`` per day (``inf`` where it never
    does: ``need >= V``). Broadcasts."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(
            np.where(need < v, k * np.power(need / np.maximum(v - need, 1e-300), 1.0 / a), np.inf), dtype=np.float64
        )


def marginal_peak(k: FloatArray, a: FloatArray) -> FloatArray:
    """Where the marginal return peaks: 0 for concave curves, ``K ((α-1)/(α+1))^(1/α)`` for S-curves."""
    return np.asarray(np.where(a > 1, k * np.power(np.maximum(a - 1, 0) / (a + 1), 1 / a), 0.0), dtype=np.float64)


def best_response(
    lam: float | FloatArray, v: FloatArray, k: FloatArray, a: FloatArray, lo: FloatArray, hi: FloatArray
) -> FloatArray:
    """Each unit's budget in [lo, hi] maximizing ``f(b) − λ b`` (``lam`` a number, or a column of several).

    On the decreasing-marginal branch (right of the marginal's peak) ``f' = λ`` has one root, found by
    geometric bisection; the answer is the best of that root and the two bounds, which is exact for concave
    and S-shaped Hill curves alike.
    """
    lam_arr = np.asarray(lam, dtype=np.float64)
    shape = np.broadcast_shapes(lam_arr.shape, v.shape)
    left = np.broadcast_to(np.maximum(np.clip(marginal_peak(k, a), lo, hi), 1e-9), shape)
    right = np.broadcast_to(np.maximum(hi, left), shape)
    lo_b, hi_b = left.copy(), right.copy()
    for _ in range(40):  # the log-range shrinks by 2^-40: far below a cent on any budget
        mid = np.sqrt(lo_b * hi_b)
        up = curve_marginal(mid, v, k, a) > lam_arr
        lo_b = np.where(up, mid, lo_b)
        hi_b = np.where(up, hi_b, mid)
    root = np.sqrt(lo_b * hi_b)
    root = np.where(curve_marginal(left, v, k, a) <= lam_arr, left, root)
    root = np.where(curve_marginal(right, v, k, a) >= lam_arr, right, root)
    cands = np.stack(np.broadcast_arrays(lo, root, hi))
    net = curve_value(cands, v, k, a) - lam_arr * cands
    return np.asarray(np.take_along_axis(cands, np.argmax(net, axis=0)[None], axis=0)[0], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Allocation:
    budgets: FloatArray
    lam: float  # the shadow price: marginal return per unit of budget at the optimum (0 if budget is slack)


def _fit_to_total(b: FloatArray, total: float, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Move ``b`` within [lo, hi] until it sums to ``total``: a gap is added pro rata to the units already
    spending (up to their ceilings) and a surplus cut pro rata to each unit's budget above its lower bound.
    It covers the bisection's last sliver and an S-curve's jump between two values of λ."""
    out = b.copy()
    tol = 1e-9 * max(total, 1.0)
    for _ in range(len(b) + 2):
        gap = total - float(out.sum())
        if abs(gap) <= tol:
            break
        if gap > 0:
            room = hi - out
            weight = np.where(out > lo, out, 0.0)
            if float(weight[room > 0].sum()) <= 0:
                weight = np.ones_like(out)
            weight = np.where(room > 0, weight, 0.0)
            if float(weight.sum()) <= 0:
                break
            out = out + np.minimum(gap * weight / float(weight.sum()), room)
        else:
            room = out - lo
            if float(room.sum()) <= 0:
                break
            out = out - np.minimum(-gap * room / float(room.sum()), room)
    return out


def allocate(total: float, v: FloatArray, k: FloatArray, a: FloatArray, lo: FloatArray, hi: FloatArray) -> Allocation:
    """Split ``total`` so marginal returns are equal (λ-bisection on ``Σ b = total``) within [lo, hi].

    If the bounds make that impossible the budgets sit at the binding bounds (``Σ lo > total``: every unit at
    its lower bound; ``Σ hi < total``: every unit at its upper bound, λ = 0).
    """
    lo = np.minimum(lo, hi)
    if float(lo.sum()) >= total:
        return Allocation(lo.copy(), float(np.max(curve_marginal(lo, v, k, a), initial=0.0)))
    if float(hi.sum()) <= total:
        return Allocation(hi.copy(), 0.0)
    grid = np.geomspace(np.maximum(lo, 1e-6), np.maximum(hi, 1e-6), 64)
    top = float(np.max(curve_marginal(grid, v[None, :], k[None, :], a[None, :])))
    lam_lo, lam_hi = 1e-15, max(top, 1e-12) * 2.0
    # Σ b(λ) falls as λ rises; bracket the λ where it crosses the total, 32 candidates at a time.
    for _ in range(12):
        lams = np.geomspace(lam_lo, lam_hi, 33)
        over = best_response(lams[:, None], v, k, a, lo, hi).sum(axis=1) > total
        i = int(np.flatnonzero(over)[-1]) if over.any() else 0
        lam_lo, lam_hi = float(lams[i]), float(lams[min(i + 1, 32)])
        if lam_hi / lam_lo < 1.0 + 1e-7:
            break
    low, high = best_response(lam_hi, v, k, a, lo, hi), best_response(lam_lo, v, k, a, lo, hi)
    # Σ b(λ) jumps where an S-curve unit switches between its lower bound and its efficient branch: no λ
    # spends exactly the total. Decide that unit's mode by solving both sub-problems (off: pinned to its
    # lower bound; on: kept right of its marginal's peak, where it is concave) and keep the better.
    jumpers = np.flatnonzero((high - low > 1e-6 * max(total, 1.0)) & (a > 1))
    if len(jumpers):
        j = int(jumpers[0])
        off_hi, on_lo = hi.copy(), lo.copy()
        off_hi[j] = lo[j]
        on_lo[j] = min(max(lo[j], float(marginal_peak(k[j : j + 1], a[j : j + 1])[0])), hi[j])
        options = [allocate(total, v, k, a, lo, off_hi)]
        if on_lo[j] > lo[j]:
            options.append(allocate(total, v, k, a, on_lo, hi))
        return max(options, key=lambda o: float(curve_value(o.budgets, v, k, a).sum()))
    return Allocation(_fit_to_total(low, total, lo, hi), lam_hi)


def allocate_gated(
    total: float,
    v: FloatArray,
    k: FloatArray,
    a: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    gate: FloatArray,
    factor: float,
    commit: FloatArray | None = None,
    horizon: float = math.inf,
) -> tuple[Allocation, NDArray[np.bool_]]:
    """:func:`allocate` when a unit returns only ``factor`` of its curve below its budget ``gate``.

    This is the learning phase: an ad set earns its full conversion rate only once it gets enough events a
    week, i.e. above some budget (``gate``: 0 for a unit that has left learning, ``inf`` for one that
    cannot). The value is then a curve with a step, and the best allocation is a choice of which units to
    lift over their gates. Greedily: start with every gated unit below its gate, and lift the unit whose lift
    (its budget at least its gate, at its full curve) adds most to the total, while one does. Returns the
    allocation and which units were lifted.

    Without ``commit`` a lift is valued as holding the gate for good. With ``commit`` (per unit, the days a
    lift must hold its gate: the climb there and a learning window) and a finite ``horizon`` in days it is
    valued as what it is on the platforms, an investment: an ad set that has had its events stays out of
    learning whatever its budget after, unless an edit large enough to reset it. A set of lifts then earns
    the gated allocation for the longest of their commitments and the free one (full curves, no gates) for
    the rest of the horizon; a commitment as long as the horizon is held for good. The budgets returned are
    the gated allocation's: what the units move towards while they climb.
    """
    gated = gate > 0
    lifted = ~gated

    def floors(up: NDArray[np.bool_]) -> FloatArray:
        return np.asarray(np.where(up & gated, np.minimum(np.maximum(lo, gate), hi), lo), dtype=np.float64)

    def solve(up: NDArray[np.bool_]) -> tuple[Allocation, float]:
        scale = np.where(up, 1.0, factor)
        alloc = allocate(total, v * scale, k, a, floors(up), hi)
        value = float(curve_value(alloc.budgets, v * scale, k, a).sum())
        held = math.inf if commit is None else float(np.max(np.where(up & gated, commit, 0.0), initial=0.0))
        if 0 < held < horizon:
            free = allocate(total, v * scale, k, a, lo, hi)
            share = held / horizon
            value = share * value + (1 - share) * float(curve_value(free.budgets, v * scale, k, a).sum())
        return alloc, value

    best, value = solve(lifted)
    while True:
        tries = [j for j in np.flatnonzero(~lifted) if np.isfinite(gate[j]) and gate[j] <= hi[j]]
        results = []
        for j in tries:
            up = lifted.copy()
            up[j] = True
            if float(floors(up).sum()) <= total:  # the gates fit the total
                results.append((*solve(up), up))
        if not results:
            break
        alloc, got, up = max(results, key=lambda r: r[1])
        if got <= value * (1 + 1e-9):
            break
        best, value, lifted = alloc, got, up
    return best, lifted & gated


def local_level(obs: FloatArray, var: FloatArray, drift: float) -> FloatArray:
    """Smoothed path of a random walk (daily step sd ``drift``) seen through noisy observations.

    A Kalman filter and Rauch-Tung-Striebel smoother; ``var = inf`` marks a day without an observation. The
    last value is the filtered level, the best guess for tomorrow. Used for a platform's CPM level: a
    persistent shift (a regime change) is followed within days, one day's blip mostly ignored.
    """
    n = len(obs)
    q = drift * drift
    mf, pf, mp, pp = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    x, p = 0.0, 1.0  # a broad start: the level is relative to the curve, any constant is absorbed there
    for t in range(n):
        if t:
            p += q
        mp[t], pp[t] = x, p
        if np.isfinite(var[t]):
            gain = p / (p + var[t])
            x += gain * (obs[t] - x)
            p *= 1.0 - gain
        mf[t], pf[t] = x, p
    out = mf.copy()
    for t in range(n - 2, -1, -1):
        c = pf[t] / pp[t + 1]
        out[t] = mf[t] + c * (out[t + 1] - mp[t + 1])
    return out
