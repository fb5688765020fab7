"""Launchable candidates from the best live ads: deterministic, within each platform's specs, no repeats."""

from __future__ import annotations

from typing import Any

import numpy as np

from adpilot.creative.candidates import (
    SourceAd,
    best_ad_sources,
    candidate_key,
    element_candidates,
    variant_candidates,
    with_element_model,
)
from adpilot.creative.specs import SPECS, check_text
from adpilot.domain.ids import Platform
from adpilot.domain.snapshot import CreativeCandidate
from adpilot.policies._stats import CandidatePrior, choose_candidate
from tests.unit.policy_fixtures import AdTruth, Market, ad_set, simulate, snapshot

IMAGE = "sha256:" + "ab" * 32


def source(platform: Platform, headline: str = "Clean water, anywhere") -> SourceAd:
    return SourceAd(platform, "parent", headline, "", "SHOP_NOW", "https://example.com", IMAGE)


def test_variants_fit_their_platform_keep_the_image_and_are_deterministic() -> None:
    for platform in Platform:
        first = variant_candidates([source(platform)], per_source=3, seed=4)
        assert first == variant_candidates([source(platform)], per_source=3, seed=4)
        assert first and all(c.asset_ids == (IMAGE,) and c.platforms == frozenset({platform}) for c in first)
        assert all(c.parent_key == "parent" and c.call_to_action in SPECS[platform].calls_to_action for c in first)
        field = "headline" if "headline" in SPECS[platform].texts else "body"
        for c in first:
            assert not check_text(platform, field, c.headline if field == "headline" else c.body)
        assert len({c.key for c in first}) == len(first)


def test_copy_already_live_is_not_offered_again() -> None:
    first = variant_candidates([source(Platform.META)], per_source=2, seed=1)
    taken = [(c.headline, c.body) for c in first]
    again = variant_candidates([source(Platform.META)], per_source=2, seed=1, taken=taken)
    assert not {c.key for c in again} & {c.key for c in first}
    assert candidate_key(IMAGE, "Hi", "shop_now") == candidate_key(IMAGE, "Hi", "SHOP_NOW")


def test_the_source_of_each_ad_set_is_its_best_ad() -> None:
    rng = np.random.default_rng(3)
    truths = [AdTruth("Weak", cvr=0.01), AdTruth("Strong", cvr=0.05)]
    s = ad_set(
        "s1", list(zip(truths, simulate(rng, Market(n_days=21, impressions_per_day=200_000), truths), strict=True))
    )
    picked = best_ad_sources(snapshot([s]), lambda view: source(Platform.META, headline=view.name))
    assert [p.headline for p in picked] == ["Strong"]
    assert best_ad_sources(snapshot([s]), lambda view: None) == []


IMAGE_B = "sha256:" + "cd" * 32


def element_set() -> tuple[Any, dict[str, SourceAd]]:
    """Three live combinations of 2 headlines x 2 images x 1 button; "Fast" on image B does best."""
    rng = np.random.default_rng(5)
    truths = [
        AdTruth("Slow A", ctr=0.008, creative_key="k1"),
        AdTruth("Fast A", ctr=0.012, creative_key="k2"),
        AdTruth("Slow B", ctr=0.010, creative_key="k3"),
    ]
    s = ad_set(
        "s1", list(zip(truths, simulate(rng, Market(n_days=28, impressions_per_day=120_000), truths), strict=True))
    )
    elements = {"Slow A": ("Slow", IMAGE), "Fast A": ("Fast", IMAGE), "Slow B": ("Slow", IMAGE_B)}
    sources = {
        a.name: SourceAd(
            Platform.META, a.creative_key, elements[a.name][0], "", "SHOP_NOW", "https://x.test", elements[a.name][1]
        )
        for a in s.ads
    }
    return s, sources


def test_the_element_model_proposes_untried_combinations_with_their_expected_quality() -> None:
    s, sources = element_set()
    snap = snapshot([s])
    variants = variant_candidates([sources["Fast A"]], per_source=2, seed=1)

    def source_of(view: Any) -> SourceAd:
        return sources[view.name]

    proposed, read = element_candidates(snap, variants, source_of, np.random.default_rng(0), per_ad_set=3)
    assert read == {"k1", "k2", "k3"}
    live = {("Slow", IMAGE), ("Fast", IMAGE), ("Slow", IMAGE_B)}
    assert proposed and len(proposed) <= 3
    for c in proposed:
        assert (c.headline, c.asset_ids[0]) not in live and c.platforms == frozenset({Platform.META})
        assert c.expected_relative is not None and c.expected_relative > 0 and c.relative_sd and c.relative_sd > 0
        assert c.parent_key in {"k1", "k2", "k3"}
    # the untried "Fast" on image B combines the two better elements: the model ranks it above the others
    fast_b = next((c for c in proposed if c.headline == "Fast" and c.asset_ids == (IMAGE_B,)), None)
    assert fast_b is not None and fast_b.expected_relative is not None
    assert all(fast_b.expected_relative >= c.expected_relative - 1e-9 for c in proposed if c.expected_relative)
    # what the agent offers: the model's proposals replace the variants of the ad sets it read ...
    offered = with_element_model(snap, variants, source_of, np.random.default_rng(0), per_ad_set=3)
    assert {c.key for c in offered} == {c.key for c in proposed}
    # ... and an ad set it cannot read keeps its copy variants
    assert with_element_model(snap, variants, lambda v: None, np.random.default_rng(0)) == variants


def test_a_modelled_candidate_is_drawn_from_the_models_estimate() -> None:
    s, _ = element_set()
    good = CreativeCandidate("good", "good", (IMAGE,), "Good", expected_relative=1.5, relative_sd=0.05)
    poor = CreativeCandidate("poor", "poor", (IMAGE,), "Poor", expected_relative=0.6, relative_sd=0.05)
    snap = snapshot([s], candidates=[good, poor])
    picks = [choose_candidate(snap, s, np.random.default_rng(k), CandidatePrior()) for k in range(20)]
    assert all(p is not None and p.candidate.key == "good" and p.basis == "element model" for p in picks)
    assert picks[0] is not None and abs(picks[0].prior_mean - 1.5) < 1e-9
