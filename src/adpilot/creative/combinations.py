"""Dynamic creative optimization: which untried headline × image × call-to-action combinations to launch.

Launching every combination spreads traffic thin (5 headlines × 4 images × 3 buttons is 60 ads). Elements
recur across combinations, so results of a few launched combinations say something about the untried
ones. The model, fitted separately to CTR (clicks per impression) and CVR (conversions per click), the two
factors of conversions per impression:

    log rate(h, i, a) = mu + headline_h + image_i + cta_a + pair_hi + rest_hia

with Gaussian priors on every effect (element effects, a headline × image interaction, and a residual per
combination that also absorbs overdispersion) and Poisson counts given exposure. The prior spreads split
the reference spread of whole creatives (market-science.md: CTR multipliers LogNormal(0, 0.25-0.35), CVR
LogNormal(0, 0.15-0.25)) among the terms; one common scale for each rate is then chosen by the Laplace
approximation of the marginal likelihood over a grid (type-II maximum likelihood, with a lognormal
hyperprior centred on the reference), so markets where creatives matter more or less are learned.

The posterior is the Laplace approximation at the mode (Newton's method). Untried pairs and combinations
take their interaction and residual from the prior, which is what makes an untried combination uncertain
even when each of its elements is well known. Proposals come from posterior draws of every combination's
conversions per impression: Thompson sampling launches an untried combination with the probability that
it is the best of all (a draw whose best is already live proposes nothing), so testing stops when the
live combinations are confidently the best; expected improvement over the best live combination is
reported beside it.

Pure: no I/O, no clock; randomness only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular

FloatArray = NDArray[np.float64]
KINDS = ("headline", "image", "call_to_action")


@dataclass(frozen=True, slots=True, order=True)
class Combo:
    """One creative as its elements: headline text, image asset id, call to action."""

    headline: str
    image: str
    call_to_action: str


@dataclass(frozen=True, slots=True)
class ComboResult:
    """What a launched combination delivered (summed over ads and days; conversions may be lag-adjusted)."""

    combo: Combo
    impressions: float
    clicks: float
    conversions: float

    def __post_init__(self) -> None:
        if min(self.impressions, self.clicks, self.conversions) < 0:
            raise ValueError(f"{self.combo}: counts must be non-negative")


@dataclass(frozen=True, slots=True)
class DcoPrior:
    """Prior spreads (standard deviations of log multipliers) of whole creatives, and how they split."""

    ctr_sd: float = 0.30  # reference: creative CTR multipliers LogNormal(0, 0.25-0.35)
    cvr_sd: float = 0.20  # reference: creative CVR multipliers LogNormal(0, 0.15-0.25)
    interaction_share: float = 0.20  # of the variance: the headline × image interaction
    residual_share: float = 0.10  # of the variance: what is particular to one combination
    learn_scale: bool = True  # choose a common scale of the spreads by marginal likelihood
    scale_sd: float = 0.5  # hyperprior: log scale ~ N(0, scale_sd^2)

    def __post_init__(self) -> None:
        if self.ctr_sd <= 0 or self.cvr_sd <= 0 or self.scale_sd <= 0:
            raise ValueError("ctr_sd, cvr_sd and scale_sd: must be positive")
        if self.interaction_share < 0 or self.residual_share <= 0 or self.interaction_share + self.residual_share >= 1:
            raise ValueError("interaction_share >= 0, residual_share > 0, their sum < 1")

    def spreads(self, total: float) -> tuple[float, float, float]:
        """(element, pair, residual) standard deviations whose variances sum to ``total``² over one combo."""
        element = total * math.sqrt((1 - self.interaction_share - self.residual_share) / len(KINDS))
        return element, total * math.sqrt(self.interaction_share), total * math.sqrt(self.residual_share)


@dataclass(frozen=True, slots=True)
class ElementEffect:
    """An element's posterior effect: mean and standard deviation of its log multiplier on CTR and CVR."""

    kind: str  # headline, image or call_to_action
    element: str
    ctr: float
    ctr_sd: float
    cvr: float
    cvr_sd: float

    @property
    def multiplier(self) -> float:
        """Its posterior-mean multiplier on conversions per impression."""
        return math.exp(self.ctr + self.cvr)


@dataclass(frozen=True, slots=True)
class ComboScore:
    """An untried combination judged by the posterior."""

    combo: Combo
    expected_rate: float  # posterior mean conversions per impression
    p_best: float  # probability it is the best of all combinations, tried or not
    p_beats_live: float  # probability it beats the best combination already tried
    expected_improvement: float  # E[max(0, rate - best tried rate)] / the best tried rate's posterior mean


@dataclass(frozen=True)
class _RateFit:
    """One rate's Laplace posterior: mode, Cholesky factor of the precision, and the index maps."""

    mode: FloatArray
    chol: FloatArray  # lower-triangular L with precision = L Lᵀ
    pairs: dict[tuple[int, int], int]  # observed (headline, image) -> parameter index
    combos: dict[tuple[int, int, int], int]  # observed (h, i, a) -> parameter index
    pair_sd: float
    residual_sd: float
    scale: float  # the chosen scale of the prior spreads

    def draws(self, rng: np.random.Generator, n: int) -> FloatArray:
        z = rng.standard_normal((self.mode.size, n))
        spread: FloatArray = np.asarray(solve_triangular(self.chol.T, z, lower=False), dtype=np.float64)
        return self.mode[:, None] + spread

    def sd(self) -> FloatArray:
        inv: FloatArray = np.asarray(solve_triangular(self.chol, np.eye(self.mode.size), lower=True), dtype=np.float64)
        out: FloatArray = np.sqrt((inv**2).sum(axis=0))
        return out


@dataclass(frozen=True)
class ElementModel:
    """The fitted factor model over a universe of headlines × images × calls to action."""

    headlines: tuple[str, ...]
    images: tuple[str, ...]
    calls_to_action: tuple[str, ...]
    tried: frozenset[Combo]
    ctr: _RateFit
    cvr: _RateFit

    def universe(self) -> list[Combo]:
        return [Combo(h, i, a) for h in self.headlines for i in self.images for a in self.calls_to_action]

    def sample_rates(self, combos: Sequence[Combo], rng: np.random.Generator, n: int) -> FloatArray:
        """Posterior draws of conversions per impression: an array of shape (n, len(combos))."""
        index = [self._index(c) for c in combos]
        log_rate: FloatArray = self._log_rate(self.ctr, index, rng, n) + self._log_rate(self.cvr, index, rng, n)
        return np.exp(log_rate)

    def effects(self) -> list[ElementEffect]:
        """Every element's posterior effect, for reports (which headline, image, button works)."""
        ctr_sd, cvr_sd = self.ctr.sd(), self.cvr.sd()
        out = []
        offset = 1
        for kind, names in zip(KINDS, (self.headlines, self.images, self.calls_to_action), strict=True):
            for j, name in enumerate(names):
                k = offset + j
                out.append(
                    ElementEffect(
                        kind, name, float(self.ctr.mode[k]), float(ctr_sd[k]), float(self.cvr.mode[k]), float(cvr_sd[k])
                    )
                )
            offset += len(names)
        return out

    def _index(self, c: Combo) -> tuple[int, int, int]:
        return (
            self.headlines.index(c.headline),
            self.images.index(c.image),
            self.calls_to_action.index(c.call_to_action),
        )

    def _log_rate(
        self, fit: _RateFit, index: list[tuple[int, int, int]], rng: np.random.Generator, n: int
    ) -> FloatArray:
        theta = fit.draws(rng, n)  # (p, n)
        nh, ni = len(self.headlines), len(self.images)
        out = np.empty((n, len(index)))
        fresh_pairs: dict[tuple[int, int], FloatArray] = {}
        for col, (h, i, a) in enumerate(index):
            eta = theta[0] + theta[1 + h] + theta[1 + nh + i] + theta[1 + nh + ni + a]
            if (h, i) in fit.pairs:
                eta = eta + theta[fit.pairs[(h, i)]]
            else:  # an untried pair: its interaction from the prior, the same for each of its buttons
                if (h, i) not in fresh_pairs:
                    fresh_pairs[(h, i)] = rng.normal(0.0, fit.pair_sd, n)
                eta = eta + fresh_pairs[(h, i)]
            if (h, i, a) in fit.combos:
                eta = eta + theta[fit.combos[(h, i, a)]]
            else:
                eta = eta + rng.normal(0.0, fit.residual_sd, n)
            out[:, col] = eta
        return out


def fit_elements(
    results: Iterable[ComboResult],
    *,
    headlines: Sequence[str] = (),
    images: Sequence[str] = (),
    calls_to_action: Sequence[str] = (),
    prior: DcoPrior | None = None,
) -> ElementModel:
    """The factor model fitted to ``results``; the universe is the elements given plus those in the results."""
    prior = prior or DcoPrior()
    totals: dict[Combo, list[float]] = {}
    for r in results:
        t = totals.setdefault(r.combo, [0.0, 0.0, 0.0])
        t[0] += r.impressions
        t[1] += r.clicks
        t[2] += r.conversions
    heads = tuple(dict.fromkeys([*headlines, *(c.headline for c in totals)]))
    imgs = tuple(dict.fromkeys([*images, *(c.image for c in totals)]))
    ctas = tuple(dict.fromkeys([*calls_to_action, *(c.call_to_action for c in totals)]))
    if not (heads and imgs and ctas):
        raise ValueError("need at least one headline, image and call to action")
    rows = [
        ((heads.index(c.headline), imgs.index(c.image), ctas.index(c.call_to_action)), imp, clk, conv)
        for c, (imp, clk, conv) in sorted(totals.items())
    ]
    sizes = (len(heads), len(imgs), len(ctas))
    ctr = _fit_rate([(ix, clk, imp) for ix, imp, clk, _ in rows if imp > 0], sizes, prior, prior.ctr_sd, 0.01)
    cvr = _fit_rate([(ix, conv, clk) for ix, _, clk, conv in rows if clk > 0], sizes, prior, prior.cvr_sd, 0.02)
    return ElementModel(heads, imgs, ctas, frozenset(totals), ctr, cvr)


def score_untried(model: ElementModel, rng: np.random.Generator, *, draws: int = 2000) -> list[ComboScore]:
    """Every untried combination with its posterior mean rate, P(best), P(beats live) and expected improvement,
    best first by expected improvement."""
    universe = model.universe()
    rates = model.sample_rates(universe, rng, draws)
    tried = np.array([c in model.tried for c in universe])
    best_tried = rates[:, tried].max(axis=1) if tried.any() else np.zeros(draws)
    scale = float(best_tried.mean()) or float(rates.mean())
    winners = np.bincount(rates.argmax(axis=1), minlength=len(universe)) / draws
    out = [
        ComboScore(
            c,
            float(rates[:, j].mean()),
            float(winners[j]),
            float((rates[:, j] > best_tried).mean()),
            float(np.maximum(rates[:, j] - best_tried, 0.0).mean() / scale),
        )
        for j, c in enumerate(universe)
        if not tried[j]
    ]
    return sorted(out, key=lambda s: (-s.expected_improvement, s.combo))


def propose_combinations(
    model: ElementModel,
    rng: np.random.Generator,
    *,
    k: int = 3,
    rule: Literal["thompson", "expected_improvement"] = "thompson",
    draws: int = 2000,
) -> list[ComboScore]:
    """Up to ``k`` untried combinations to launch next.

    ``thompson``: each of ``k`` slots takes one posterior draw and proposes that draw's best combination
    if it is untried (and not proposed yet); a slot whose best is already live proposes nothing.
    ``expected_improvement``: the ``k`` untried combinations with the largest expected improvement.
    """
    scores = score_untried(model, rng, draws=draws)
    if rule == "expected_improvement":
        return scores[:k]
    by_combo = {s.combo: s for s in scores}
    universe = model.universe()
    rates = model.sample_rates(universe, rng, k)
    chosen: list[ComboScore] = []
    for slot in range(k):
        order = np.argsort(-rates[slot])
        taken = {s.combo for s in chosen}
        best = next((universe[j] for j in order if universe[j] not in taken), None)
        if best in by_combo:
            chosen.append(by_combo[best])
    return chosen


# -- the Laplace fit -----------------------------------------------------------------------------------------------
_SCALES = np.exp(np.linspace(math.log(0.25), math.log(4.0), 13))


def _fit_rate(
    rows: list[tuple[tuple[int, int, int], float, float]],
    sizes: tuple[int, int, int],
    prior: DcoPrior,
    total_sd: float,
    default_rate: float,
) -> _RateFit:
    """One rate (events per exposure) by Laplace approximation, the prior scale chosen by marginal likelihood."""
    nh, ni, na = sizes
    pairs: dict[tuple[int, int], int] = {}
    combos: dict[tuple[int, int, int], int] = {}
    base = 1 + nh + ni + na
    for (h, i, _a), _, _ in rows:
        pairs.setdefault((h, i), base + len(pairs))
    for (h, i, a), _, _ in rows:
        combos.setdefault((h, i, a), base + len(pairs) + len(combos))
    p = base + len(pairs) + len(combos)
    x = np.zeros((len(rows), p))
    y = np.array([r[1] for r in rows], dtype=float)
    exposure = np.array([r[2] for r in rows], dtype=float)
    for n, ((h, i, a), _, _) in enumerate(rows):
        x[n, [0, 1 + h, 1 + nh + i, 1 + nh + ni + a, pairs[(h, i)], combos[(h, i, a)]]] = 1.0
    pooled = (y.sum() + 0.5) / (exposure.sum() + 0.5 / default_rate) if rows else default_rate
    mean = np.zeros(p)
    mean[0] = math.log(pooled)
    offset = np.log(np.maximum(exposure, 1e-12))

    def precision(scale: float) -> FloatArray:
        element, pair, residual = prior.spreads(total_sd * scale)
        prec = np.empty(p)
        prec[0] = 1 / 2.0**2  # the base rate: weakly held around the pooled rate
        prec[1:base] = 1 / element**2
        prec[base : base + len(pairs)] = 1 / pair**2
        prec[base + len(pairs) :] = 1 / residual**2
        return prec

    scales = _SCALES if prior.learn_scale and rows else np.array([1.0])
    best: tuple[float, float, FloatArray, FloatArray] | None = None
    for scale in scales:
        prec = precision(float(scale))
        mode, hess, objective = _newton(x, y, offset, mean, prec)
        chol: FloatArray = np.linalg.cholesky(hess).astype(np.float64)
        log_evidence = -objective + 0.5 * float(np.log(prec).sum()) - float(np.log(np.diag(chol)).sum())
        log_evidence -= math.log(scale) ** 2 / (2 * prior.scale_sd**2)
        if best is None or log_evidence > best[0]:
            best = (log_evidence, float(scale), mode, chol)
    assert best is not None
    _, scale, mode, chol = best
    _, pair_sd, residual_sd = prior.spreads(total_sd * scale)
    return _RateFit(mode, chol, pairs, combos, pair_sd, residual_sd, scale)


def _newton(
    x: FloatArray, y: FloatArray, offset: FloatArray, mean: FloatArray, prec: FloatArray
) -> tuple[FloatArray, FloatArray, float]:
    """Mode of the Poisson log-linear posterior with Gaussian prior; the Hessian there; the objective."""

    def objective(theta: FloatArray) -> float:
        eta = np.minimum(offset + x @ theta, 50.0)
        return float((np.exp(eta) - y * eta).sum() + 0.5 * (prec * (theta - mean) ** 2).sum())

    theta = mean.copy()
    value = objective(theta)
    for _ in range(100):
        mu = np.exp(np.minimum(offset + x @ theta, 50.0))
        grad = x.T @ (mu - y) + prec * (theta - mean)
        step = np.linalg.solve((x.T * mu) @ x + np.diag(prec), grad)
        t = 1.0
        while t > 1e-6 and (new := objective(theta - t * step)) > value:
            t /= 2  # step halving keeps every iterate an improvement
        if t <= 1e-6:
            break
        theta, improvement, value = theta - t * step, value - new, new
        if improvement < 1e-10 or float(np.abs(t * step).max()) < 1e-9:
            break
    mu = np.exp(np.minimum(offset + x @ theta, 50.0))
    return theta, (x.T * mu) @ x + np.diag(prec), value
