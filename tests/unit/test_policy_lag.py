"""The completeness (reporting-lag) curve: recovered from censored synthetic data, prior when data are thin."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adpilot.domain.ids import Platform
from adpilot.domain.snapshot import AdSetView
from adpilot.policies.lag import DEFAULT_PRIORS, LagParams, estimate_completeness
from tests.unit.policy_fixtures import AS_OF, AdTruth, Market, simulated_set

TRUE_META = (0.35, 0.62, 0.78, 0.87, 0.93, 0.97, 1.0)  # deliberately far from the Meta prior


def market_sets(
    seed: int,
    curve: tuple[float, ...],
    *,
    n_sets: int,
    impressions: int,
    platform: Platform = Platform.META,
    n_days: int = 35,
) -> list[AdSetView]:
    rng = np.random.default_rng(seed)
    m = Market(n_days=n_days, impressions_per_day=impressions, cvr_sigma=0.15, completeness=curve)
    out = []
    for j in range(n_sets):
        cvr = float(rng.uniform(0.015, 0.04))
        ads = [AdTruth("a", ctr=0.012, cvr=cvr), AdTruth("b", ctr=0.010, cvr=cvr * 0.9)]
        out.append(simulated_set(rng, m, ads, set_id=f"{platform}-{j}", platform=platform))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recovers_a_known_lag_curve_from_many_ad_sets(seed: int) -> None:
    sets = market_sets(seed, TRUE_META, n_sets=30, impressions=400_000)
    curve = estimate_completeness(sets, AS_OF)[Platform.META]
    assert curve[-1] == 1.0
    for age, truth in enumerate(TRUE_META):
        got = curve[age] if age < len(curve) else 1.0
        assert got == pytest.approx(truth, abs=0.06), (age, curve)
    # far closer to the truth than to the prior it started from
    prior = DEFAULT_PRIORS[Platform.META]
    err_truth = sum(abs(curve[a] - TRUE_META[a]) for a in range(3))
    err_prior = sum(abs(curve[a] - prior[a]) for a in range(3))
    assert err_truth < err_prior / 3


def test_thin_data_falls_back_to_the_prior() -> None:
    sets = market_sets(4, TRUE_META, n_sets=1, impressions=2_000)  # a couple of conversions a day
    curve = estimate_completeness(sets, AS_OF)[Platform.META]
    prior = DEFAULT_PRIORS[Platform.META]
    for age in range(3):
        assert curve[age] == pytest.approx(prior[age], abs=0.05)


def test_no_data_gives_each_platform_its_prior_and_overrides_apply() -> None:
    custom = {Platform.X: (0.5, 0.9, 1.0)}
    out = estimate_completeness([], AS_OF, prior=custom)
    assert out[Platform.META] == DEFAULT_PRIORS[Platform.META]
    assert out[Platform.TIKTOK] == DEFAULT_PRIORS[Platform.TIKTOK]
    assert out[Platform.X] == (0.5, 0.9, 1.0)


def test_platforms_are_estimated_separately() -> None:
    quick = (0.9, 1.0)
    sets = market_sets(5, TRUE_META, n_sets=25, impressions=300_000) + market_sets(
        6, quick, n_sets=25, impressions=300_000, platform=Platform.TIKTOK
    )
    out = estimate_completeness(sets, AS_OF)
    assert out[Platform.META][0] == pytest.approx(0.35, abs=0.07)
    assert out[Platform.TIKTOK][0] == pytest.approx(0.9, abs=0.07)
    assert out[Platform.TIKTOK][1] > 0.93


def test_mature_reference_is_needed() -> None:
    """Ad sets younger than the horizon carry no reference rate: the prior stands, however much data."""
    young = market_sets(7, TRUE_META, n_sets=20, impressions=300_000, n_days=7)
    assert estimate_completeness(young, AS_OF)[Platform.META] == DEFAULT_PRIORS[Platform.META]
    # one more day makes the oldest day mature, and the estimate moves off the prior
    older = market_sets(7, TRUE_META, n_sets=20, impressions=300_000, n_days=8)
    assert estimate_completeness(older, AS_OF, params=LagParams(mature_days=1))[Platform.META][0] < 0.5


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_sets=st.integers(0, 6),
    impressions=st.integers(0, 200_000),
    head=st.floats(0.05, 1.0),
)
def test_curves_are_monotone_clamped_and_end_at_one(seed: int, n_sets: int, impressions: int, head: float) -> None:
    curve_true = tuple(min(1.0, head + (1 - head) * a / 5) for a in range(6))
    sets = market_sets(seed, curve_true, n_sets=n_sets, impressions=impressions)
    for curve in estimate_completeness(sets, AS_OF).values():
        assert curve[-1] == 1.0
        assert all(0.05 <= v <= 1.0 for v in curve)
        assert all(b >= a for a, b in itertools.pairwise(curve))
