"""Launchable candidates from live creatives: copy variants of the best ads, on the same image.

The agent's creative and fatigue policies launch ``CreativeCandidate`` values; this module makes them
from the ads an account already runs (the parent's image stays, the copy and call to action change),
so a winner can be challenged and a fatigued creative refreshed. Deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from adpilot.creative.generate_text import BrandRules, SourceCopy, generate_text_variants
from adpilot.domain.entities import asset_id_for_text
from adpilot.domain.ids import Platform
from adpilot.domain.snapshot import AdView, CreativeCandidate, Snapshot


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
