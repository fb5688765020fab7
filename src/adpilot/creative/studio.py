"""The creative studio's use cases: generate variants of an asset into the library, launch one as an ad.

Generation writes every variant to the library with its lineage (parent asset, how it was derived) and
PNG previews of the image variants to a folder. Launching checks the platform's specs first (nothing is
uploaded that the platform would refuse), then goes through the ledger and the executor like every
other change: one record per (asset, copy, ad set), applied exactly once, audited, reversible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adpilot.creative.generate_image import BrandStyle, render_variants
from adpilot.creative.generate_text import BrandRules, SourceCopy, generate_text_variants
from adpilot.creative.library import AssetLibrary
from adpilot.creative.specs import SPECS, SpecError, check_creative
from adpilot.domain.actions import LaunchAd, idempotency_key
from adpilot.domain.entities import AssetKind
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.errors import AdpilotError
from adpilot.ports.assets import AssetStore


class StudioError(AdpilotError):
    """A generation or launch request that cannot be met, naming the option at fault."""


@dataclass(frozen=True)
class GeneratedCopy:
    asset_id: str
    platform: Platform
    headline: str
    body: str
    call_to_action: str
    how: str


@dataclass(frozen=True)
class GeneratedImage:
    asset_id: str
    platform: Platform
    ratio: str
    width: int
    height: int
    preview: Path
    how: str


@dataclass
class Generated:
    source: str
    copies: list[GeneratedCopy] = field(default_factory=list)
    images: list[GeneratedImage] = field(default_factory=list)


def generate(
    library: AssetLibrary,
    store: AssetStore,
    asset: str,
    *,
    platforms: Sequence[Platform],
    headline: str,
    body: str = "",
    call_to_action: str = "LEARN_MORE",
    n: int = 4,
    seed: int = 0,
    images: bool = True,
    out_dir: Path,
    rules: BrandRules | None = None,
    style: BrandStyle | None = None,
) -> Generated:
    """Copy variants per platform and, for an image asset, image variants for each platform's ratios."""
    if not headline.strip():
        raise StudioError("--headline: the copy to vary is required")
    rec = library.resolve(asset)
    source = rec.asset.asset_id
    data = store.get(source) if rec.asset.kind is AssetKind.IMAGE else None
    out = Generated(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    for platform in platforms:
        copy = SourceCopy(headline=headline, body=body or headline.rstrip(".!?") + ".", call_to_action=call_to_action)
        variants = generate_text_variants(copy, platform, n=n, seed=seed, rules=rules).variants
        for v in variants:
            added = library.add_text(
                v.headline, name=f"{platform} {v.framing}", parent_id=source, derivation=v.how, source="generated"
            )
            out.copies.append(
                GeneratedCopy(added.record.asset.asset_id, platform, v.headline, v.body, v.call_to_action, v.how)
            )
        if data is None or not images:
            continue
        first = variants[0] if variants else None
        rendered = render_variants(
            data,
            platform,
            headline=first.headline if first else headline,
            call_to_action=first.call_to_action if first else call_to_action,
            style=style,
        )
        for img in rendered:
            added = library.add_image(
                img.png, name=f"{platform} {img.ratio}", parent_id=source, derivation=img.how, source="generated"
            )
            short = added.record.asset.asset_id.removeprefix("sha256:")[:12]
            preview = out_dir / f"{short}-{platform}-{img.ratio.replace(':', 'x')}.png"
            preview.write_bytes(img.png)
            out.images.append(
                GeneratedImage(
                    added.record.asset.asset_id, platform, img.ratio, img.width, img.height, preview, img.how
                )
            )
    return out


def launch_action(
    library: AssetLibrary,
    store: AssetStore,
    asset: str,
    *,
    target: EntityRef,
    headline: str,
    body: str = "",
    call_to_action: str = "LEARN_MORE",
    link_url: str = "",
    paused: bool = True,
    name: str = "",
) -> LaunchAd:
    """The ``LaunchAd`` for an image asset into an ad set, after the platform's specs accept it."""
    if target.level is not Level.AD_SET:
        raise StudioError("--ad-set: ads launch into ad sets (X line items, TikTok ad groups)")
    rec = library.resolve(asset)
    if rec.asset.kind is not AssetKind.IMAGE:
        raise StudioError(f"asset {rec.asset.asset_id[:19]}: only image assets launch as ads (copy goes in --headline)")
    if target.platform is Platform.TIKTOK and not link_url:
        raise StudioError("--link: a TikTok ad needs a landing page URL")
    data = store.get(rec.asset.asset_id)
    texts = {"body": body or headline}
    if "headline" in SPECS[target.platform].texts:  # TikTok has only the ad text
        texts["headline"] = headline
    try:
        check_creative(
            target.platform,
            image=data,
            width=rec.asset.width or 0,
            height=rec.asset.height or 0,
            texts=texts,
            call_to_action=call_to_action,
        )
    except SpecError as exc:  # nothing is uploaded that the platform would refuse
        raise StudioError(str(exc)) from None
    key = idempotency_key("launch", str(target), rec.asset.asset_id, headline, body, call_to_action, link_url)
    return LaunchAd(
        target=target,
        reason=f"launched from the asset library: {rec.asset.name or rec.asset.asset_id[:19]}",
        idempotency_key=key,
        name=name or f"{rec.asset.name or 'adpilot'} - {headline}"[:60],
        asset_ids=(rec.asset.asset_id,),
        headline=headline,
        body=body,
        call_to_action=call_to_action,
        link_url=link_url,
        start_paused=paused,
    )
