"""Launchable candidates from the best live ads: deterministic, within each platform's specs, no repeats."""

from __future__ import annotations

import numpy as np

from adpilot.creative.candidates import SourceAd, best_ad_sources, candidate_key, variant_candidates
from adpilot.creative.specs import SPECS, check_text
from adpilot.domain.ids import Platform
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
