"""The oracle: the expected-best allocation of the total budget on a day, knowing the true market.

It equalizes marginal conversions (or value) per unit of reporting currency across ad sets, using the
true Hill curves, the day's deterministic CPM factors (no shocks), the best live creative of each ad
set and no learning penalty. With S-shaped curves (alpha > 1) an ad set is either off or on the
decreasing-marginal branch, whichever nets more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from adpilot_sandbox.noise import FloatArray

if TYPE_CHECKING:
    from adpilot_sandbox.market import Market


def curve_value(
    b: FloatArray, v: FloatArray, c: FloatArray, i_max: FloatArray, k: FloatArray, a: FloatArray
) -> FloatArray:
    """Expected conversions (or value) for budgets ``b`` in reporting currency."""
    x = np.maximum(b, 0.0) / c
    xa = np.power(x, a)
    return np.asarray(v * i_max * xa / (xa + np.power(k, a)), dtype=np.float64)


def curve_marginal(
    b: FloatArray, v: FloatArray, c: FloatArray, i_max: FloatArray, k: FloatArray, a: FloatArray
) -> FloatArray:
    """d(curve_value)/d(budget)."""
    x = np.maximum(b, 1e-12) / c
    ka = np.power(k, a)
    return np.asarray(v / c * i_max * a * ka * np.power(x, a - 1) / np.power(np.power(x, a) + ka, 2), dtype=np.float64)


def _budget_at(
    lam: float, v: FloatArray, c: FloatArray, i_max: FloatArray, k: FloatArray, a: FloatArray, cap: float
) -> FloatArray:
    """Each ad set's best budget when a unit of budget is worth ``lam`` (maximizes value - lam * budget)."""
    peak = np.where(a > 1, k * np.power(np.maximum(a - 1, 0) / (a + 1), 1 / a), 0.0) * c
    lo = np.maximum(peak, 1e-9)
    hi = np.full_like(lo, cap)
    for _ in range(48):  # geometric bisection: (hi/lo)^(2^-48) is far below a cent
        mid = np.sqrt(lo * hi)
        go_right = curve_marginal(mid, v, c, i_max, k, a) > lam
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
    b = np.minimum(np.sqrt(lo * hi), cap)
    worth = curve_value(b, v, c, i_max, k, a) - lam * b > 0
    return np.where((v > 0) & worth, b, 0.0)


def allocate(total: float, v: FloatArray, c: FloatArray, i_max: FloatArray, k: FloatArray, a: FloatArray) -> FloatArray:
    """Split ``total`` to equalize marginal returns (λ-bisection on the budget constraint)."""
    if total <= 0 or not len(v) or not np.any(v > 0):
        return np.zeros(len(v))
    lam_lo, lam_hi = (
        1e-12,
        float(np.max(curve_marginal(np.full_like(v, 1e-6), v, c, i_max, k, a))) * 10 + 1e-9,
    )
    for _ in range(100):
        lam = np.sqrt(lam_lo * lam_hi)
        spent = float(np.sum(_budget_at(lam, v, c, i_max, k, a, total)))
        if spent > total:
            lam_lo = lam
        else:
            lam_hi = lam
        if lam_hi / lam_lo < 1 + 1e-7:
            break
    b = _budget_at(lam_hi, v, c, i_max, k, a, total)
    left = total - float(b.sum())
    if left > 0 and b.sum() > 0:  # a sliver lost to bisection tolerance: spread it pro rata
        b = b * (total / b.sum())
    return b


def oracle_inputs(market: Market, st: dict[str, Any], day: int, ctr: FloatArray) -> dict[str, Any]:
    """The true state of a morning the oracle needs: per-ad-set best quality, cost factor, curve."""
    sets = st["sets"]
    nset = len(sets)
    d = market.date_of(day)
    per_impr = np.zeros(nset)
    if st["n"]:
        quality = ctr * st["cvr"][st["ad_set_of"]] * st["m_cvr"]
        if market.scenario.objective == "value":
            quality = quality * (st["aov"] * st["fx"])[st["ad_set_of"]]
        np.maximum.at(per_impr, st["ad_set_of"], np.where(st["ad_exists"], quality, 0.0))
    usable = np.array([s.status != "DELETED" for s in sets], dtype=bool)
    factor = market.cpm_factors(sets, day)
    # Platforms pace a budget to ~(1 - underdelivery) of itself on average; the oracle's budgets meet the
    # same pacer as everyone's, so a unit of budget buys (1 - underdelivery) units of spend.
    delivered = np.array([1.0 - market.spec(s.platform).underdelivery for s in sets])
    return {
        "date": d.isoformat(),
        "ids": [s.id for s in sets],
        "v": np.where(usable, per_impr, 0.0),
        "c": st["fx"] * factor / delivered,  # reporting currency of budget per unit on the curve
        "i_max": st["i_max"],
        "k": st["k"],
        "alpha": st["alpha"],
    }


def solve_oracle(inputs: dict[str, Any], budget: float) -> dict[str, Any]:
    v, c, i_max, k, a = inputs["v"], inputs["c"], inputs["i_max"], inputs["k"], inputs["alpha"]
    b = allocate(budget, v, c, i_max, k, a)
    marginal = curve_marginal(b, v, c, i_max, k, a)
    return {
        "date": inputs["date"],
        "budget": round(budget, 2),
        "expected": float(curve_value(b, v, c, i_max, k, a).sum()),
        "allocation": {i: round(float(x), 2) for i, x in zip(inputs["ids"], b, strict=True) if x > 0},
        "marginal": {i: float(m) for i, m, x in zip(inputs["ids"], marginal, b, strict=True) if x > 0},
    }
