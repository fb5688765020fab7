"""Launchable candidates from live creatives: copy variants of the best ads, and the untried element
combinations worth launching next.

The agent's creative and fatigue policies launch ``CreativeCandidate`` values; this module makes them
from the ads an account already runs. ``variant_candidates`` writes new copy for the best ad of each
ad set (its image stays). ``element_candidates`` then treats every ad set as a grid of headlines ×
images × calls to action (its live elements plus the new copy), fits the factor model of element
effects (``adpilot.creative.combinations``) to what the ad set's ads delivered, and offers only the
untried combinations the model proposes (Thompson sampling), each with the model's expected quality
relative to the ad set's current ads: dynamic creative optimization, instead of launching every
combination. Deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from adpilot.creative.combinations import Combo, ComboResult, fit_elements, propose_combinations
from adpilot.creative.generate_text import BrandRules, SourceCopy, generate_text_variants
from adpilot.domain.entities import asset_id_for_text
from adpilot.domain.ids import Platform
from adpilot.domain.snapshot import AdSetView, AdView, CreativeCandidate, Snapshot


@dataclass(frozen=True, slots=True)
class SourceAd:
    """A live creative worth varying."""

    platform: Platform
    key: str  # its creative key (asset identity or platform creative id)
    headline: str
    body: str
    call_to_action: str
    link_url: str
    image_asset_id: str | None  # sha256:… of its image; None for copy-only creatives


def candidate_key(image_asset_id: str | None, headline: str, call_to_action: str) -> str:
    """One identity per (image, copy, button): the same variant generated twice is one candidate."""
    return f"{image_asset_id or '-'}|{asset_id_for_text(headline)}|{call_to_action.upper()}"


def variant_candidates(
    sources: Sequence[SourceAd],
    *,
    per_source: int = 3,
    seed: int = 0,
    rules: BrandRules | None = None,
    taken: Sequence[tuple[str, str]] = (),
) -> list[CreativeCandidate]:
    """Up to ``per_source`` copy variants of each source. ``taken``: (headline, body) of copy already live
    or launched; variants too close to it are not proposed again."""
    out: list[CreativeCandidate] = []
    seen: set[str] = set()
    for i, src in enumerate(sources):
        body = src.body or (src.headline.rstrip(".!?") + ".")  # the templates build on the primary text
        copy = SourceCopy(headline=src.headline, body=body, call_to_action=src.call_to_action, key=src.key)
        variants = generate_text_variants(copy, src.platform, n=per_source, seed=seed + i, rules=rules, avoid=taken)
        for v in variants.variants:
            key = candidate_key(src.image_asset_id, v.headline, v.call_to_action)
            if key in seen:
                continue
            seen.add(key)
            assets = (src.image_asset_id,) if src.image_asset_id else (asset_id_for_text(v.headline),)
            out.append(
                CreativeCandidate(
                    key=key,
                    name=f"{v.framing} variant",
                    asset_ids=assets,
                    headline=v.headline,
                    body=v.body,
                    call_to_action=v.call_to_action,
                    link_url=src.link_url,
                    platforms=frozenset({src.platform}),
                    parent_key=src.key,
                )
            )
    return out


def best_ad_sources(
    snapshot: Snapshot, source_of: Callable[[AdView], SourceAd | None], *, days: int = 14
) -> list[SourceAd]:
    """Per running ad set, its active ad with the most conversions per impression over the last ``days``
    (reported), as a source to vary; ``source_of`` supplies its copy and image (None: not variable)."""
    out: list[SourceAd] = []
    first = snapshot.as_of - timedelta(days=days - 1)
    for s in snapshot.active_ad_sets():
        scored = [(a, a.history.since(first).totals()) for a in s.ads if a.active]
        scored = [(a, t) for a, t in scored if t["impressions"] > 0]
        if not scored:
            continue
        best, _ = max(scored, key=lambda at: at[1]["conversions"] / at[1]["impressions"])
        src = source_of(best)
        if src is not None:
            out.append(src)
    return out


_NO_IMAGE = "-"


@dataclass(frozen=True, slots=True)
class _Live:
    combo: Combo
    source: SourceAd
    result: ComboResult
    share: float  # of the ad set's recent impressions


def _live_combos(
    snapshot: Snapshot, s: AdSetView, source_of: Callable[[AdView], SourceAd | None], days: int
) -> list[_Live]:
    """The ad set's ads that delivered in the last ``days`` as element combinations, with lag-adjusted
    conversions (a day's conversions over its expected reported share)."""
    first = snapshot.as_of - timedelta(days=days - 1)
    rows = []
    for ad in s.ads:
        src = source_of(ad)
        h = ad.history.since(first)
        impressions = float(sum(h.impressions))
        if src is None or impressions <= 0:
            continue
        clicks = float(sum(h.clicks))
        conversions = snapshot.lag_adjusted_conversions(s.platform, h)
        combo = Combo(src.headline, src.image_asset_id or _NO_IMAGE, src.call_to_action.upper())
        recent = float(sum(ad.history.since(snapshot.as_of - timedelta(days=6)).impressions)) if ad.active else 0.0
        rows.append((combo, src, ComboResult(combo, impressions, clicks, min(conversions, clicks)), recent))
    total = sum(r[3] for r in rows)
    return [_Live(c, src, res, rec / total if total else 0.0) for c, src, res, rec in rows]


def element_candidates(
    snapshot: Snapshot,
    variants: Sequence[CreativeCandidate],
    source_of: Callable[[AdView], SourceAd | None],
    rng: np.random.Generator,
    *,
    per_ad_set: int = 2,
    days: int = 42,
    draws: int = 2000,
) -> tuple[list[CreativeCandidate], set[str]]:
    """Per running ad set, up to ``per_ad_set`` untried combinations of its elements (live headlines, images
    and calls to action, plus the headlines and buttons of ``variants`` made for its platform) that the
    element model proposes, as candidates carrying the model's expected quality relative to the ad set's
    current impression-weighted rate (``expected_relative``, ``relative_sd`` of its log). Ad sets whose ads
    cannot be read as elements (``source_of`` gives None) get nothing from here. Also returns the creative
    keys of the ads in the ad sets the model read."""
    out: list[CreativeCandidate] = []
    seen: set[str] = set()
    read: set[str] = set()
    for s in snapshot.active_ad_sets():
        live = _live_combos(snapshot, s, source_of, days)
        if not live or not any(x.share > 0 for x in live):
            continue
        read.update(a.creative_key for a in s.ads)
        copy = {x.combo.headline: (x.source.body, x.source.link_url) for x in live}
        mine = [v for v in variants if s.platform in v.platforms]
        for v in mine:
            copy.setdefault(v.headline, (v.body, v.link_url))
        images = {x.combo.image: x.source for x in live}
        model = fit_elements(
            [x.result for x in live],
            headlines=list(copy),
            images=list(images),
            calls_to_action=sorted({x.combo.call_to_action for x in live} | {v.call_to_action.upper() for v in mine}),
        )
        proposals = propose_combinations(model, rng, k=per_ad_set, draws=draws)
        if not proposals:
            continue
        running = [x for x in live if x.share > 0]
        rates = model.sample_rates([x.combo for x in running] + [p.combo for p in proposals], rng, draws)
        weights = np.array([x.share for x in running])
        current = rates[:, : len(running)] @ weights / weights.sum()
        for j, p in enumerate(proposals):
            combo = p.combo
            image = None if combo.image == _NO_IMAGE else combo.image
            key = candidate_key(image, combo.headline, combo.call_to_action)
            if key in seen:
                continue
            seen.add(key)
            log_rel = np.log(rates[:, len(running) + j] / current)
            body, link = copy[combo.headline]
            parent = images[combo.image]
            out.append(
                CreativeCandidate(
                    key=key,
                    name="element combination",
                    asset_ids=(image,) if image else (asset_id_for_text(combo.headline),),
                    headline=combo.headline,
                    body=body,
                    call_to_action=combo.call_to_action,
                    link_url=link or parent.link_url,
                    platforms=frozenset({s.platform}),
                    parent_key=parent.key,
                    expected_relative=float(np.exp(log_rel).mean()),
                    relative_sd=float(log_rel.std()),
                )
            )
    return out, read


def with_element_model(
    snapshot: Snapshot,
    variants: Sequence[CreativeCandidate],
    source_of: Callable[[AdView], SourceAd | None],
    rng: np.random.Generator,
    *,
    per_ad_set: int = 2,
) -> list[CreativeCandidate]:
    """What the agent offers its policies: the element model's proposals for every ad set it can read (and
    nothing else there: an untried combination the model does not propose is not worth a launch), and for
    the other ad sets the copy variants as they are."""
    proposed, read = element_candidates(snapshot, variants, source_of, rng, per_ad_set=per_ad_set)
    return [*proposed, *(v for v in variants if v.parent_key not in read)]
