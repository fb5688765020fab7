"""Creatives found during sync are linked to assets: one image launched on Meta, X and TikTok (TikTok's
copy re-encoded as JPEG) is one asset after a sync, its creatives carry that id, and the asset report sums
the three platforms. Image downloads that fail leave creatives unlinked until the next sync, never the
sync itself."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from adpilot.assets_store import LocalAssetStore
from adpilot.creative.library import AssetLibrary
from adpilot.domain import Creative, DateWindow, FxRate, LaunchAd, Level, Platform, idempotency_key
from adpilot.domain.entities import Ad
from adpilot.domain.ids import EntityRef
from adpilot.lake import Lake
from adpilot.platforms.errors import RetryableError
from adpilot.ports.assets import ImageSource
from adpilot.ports.warehouse import Grain, PerformanceQuery
from adpilot.sync.runner import SyncEngine
from adpilot.warehouse._sql import SqlWarehouse
from tests.harness import Harness, connection_for


def photo() -> Image.Image:
    """A 1080 × 1080 photo-like image (gradient and shapes), valid on all three platforms."""
    rng = np.random.default_rng(42)
    x = np.linspace(0, 1, 1080)[None, :, None]
    y = np.linspace(0, 1, 1080)[:, None, None]
    c = rng.uniform(0, 255, (4, 3))
    arr = c[0] * (1 - x) * (1 - y) + c[1] * x * (1 - y) + c[2] * (1 - x) * y + c[3] * x * y
    img = Image.fromarray(arr.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    draw.ellipse([120, 200, 620, 760], fill=(240, 200, 30))
    draw.rectangle([600, 80, 1000, 420], fill=(20, 40, 160))
    return img


def encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture
def library(warehouse: SqlWarehouse, tmp_path: Path) -> AssetLibrary:
    return AssetLibrary(warehouse, LocalAssetStore(tmp_path / "assets"))


def engine(h: Harness, wh: SqlWarehouse, lake: Path, library: AssetLibrary | None) -> SyncEngine:
    m = h.sandbox.market
    return SyncEngine(wh, Lake(lake), clock=lambda: m.now, backfill_days=m.day, assets=library)


def sync(h: Harness, eng: SyncEngine, adapter: Any, platform: Platform) -> list[Any]:
    results = h.run(eng.sync_account(adapter, connection_for(h.sandbox, platform).account_id))
    assert [r.status for r in results] == ["ok", "ok"], results
    return results


def launch(h: Harness, adapter: Any, platform: Platform, asset_id: str) -> str:
    account = connection_for(h.sandbox, platform).account_id
    ad_set = h.sandbox.market.ad_sets_of(str(platform), account.removeprefix("act_"))[0].id
    target = EntityRef(platform, account, Level.AD_SET, ad_set)
    action = LaunchAd(
        target=target,
        name="Trail bottle",
        asset_ids=(asset_id,),
        headline="Built for the trail",
        body="Clean water anywhere. Now 20% off.",
        call_to_action="SHOP_NOW" if platform is not Platform.X else "",
        link_url="https://shop.example/trail",
        reason="one image everywhere",
        idempotency_key=idempotency_key("launch", target),
    )
    result = h.run(adapter.apply(action))
    assert result.created_id
    return str(result.created_id)


@pytest.fixture
def launched(harness: Harness, library: AssetLibrary) -> Iterator[tuple[str, dict[Platform, Any], dict[Platform, str]]]:
    """The image in the library, launched on the three platforms (TikTok gets a JPEG re-encode), then
    three days of delivery."""
    img = photo()
    canonical = library.add_image(encode(img, "PNG"), name="trail bottle").record.asset_id
    jpeg = encode(img, "JPEG", quality=82)
    files = {Platform.META: library.store.get, Platform.X: library.store.get, Platform.TIKTOK: lambda _id: jpeg}
    adapters = {p: harness.adapter(p, asset_bytes=files[p]) for p in Platform}
    ads = {p: launch(harness, adapters[p], p, canonical) for p in Platform}
    harness.sandbox.market.advance(3)
    yield canonical, adapters, ads


def test_one_image_on_three_platforms_is_one_asset_and_the_report_sums_them(
    harness: Harness, warehouse: SqlWarehouse, library: AssetLibrary, tmp_path: Path, launched: Any
) -> None:
    canonical, adapters, ads = launched
    eng = engine(harness, warehouse, tmp_path / "lake", library)
    for platform in Platform:
        sync(harness, eng, adapters[platform], platform)
    entities = {(e.platform, e.ad_id): e for e in warehouse.get_entities(Level.AD) if isinstance(e, Ad)}
    creatives = {(c.platform, c.creative_id): c for c in warehouse.get_entities(Level.CREATIVE)}
    for platform, ad_id in ads.items():
        creative = creatives[(platform, entities[(platform, ad_id)].creative_id)]
        assert isinstance(creative, Creative) and creative.asset_id == canonical, platform
    versions = {v.sha256: v for v in library.warehouse.asset_versions(canonical)}
    assert {v.match for v in versions.values()} == {"exact", "perceptual"}  # TikTok's JPEG is a version
    usage = library.show(canonical).usage
    assert {(u.platform, u.ad_id) for u in usage} == set(ads.items())
    assert {u.match for u in usage if u.platform is Platform.TIKTOK} == {"perceptual"}
    # the copy is one text asset too (Meta's primary text, the tweet, TikTok's ad text), however it is spaced
    body = library.add_text("clean water anywhere.  NOW 20% off!")
    assert body.match == "exact" and "offer:percent" in body.record.tags
    assert {(u.platform, u.role) for u in library.show(body.record.asset_id).usage} == {(p, "body") for p in Platform}

    m = harness.sandbox.market
    rates = [FxRate(m.scenario.start_date, cur, "USD", Decimal(str(r))) for cur, r in m.scenario.fx_rates.items()]
    warehouse.put_fx_rates(rates)
    window = DateWindow(m.date_of(0), m.date_of(m.day - 1))
    (row,) = [r for r in library.report(window, reporting_currency="USD") if r.key == canonical]
    truth = {(t["ad_id"], t["date"]): t for p in Platform for t in m.truth(str(p)) if t["ad_id"] in set(ads.values())}
    assert row.impressions == sum(t["impressions"] for t in truth.values()) > 0
    assert row.clicks == sum(t["clicks"] for t in truth.values())
    assert set(row.spend_by_platform) == {str(p) for p in Platform}
    per_ad = warehouse.read_performance(
        PerformanceQuery(window, Grain.AD, by_day=True, ad_ids=tuple(ads.values())), reporting_currency="USD"
    )
    for platform in Platform:
        expected = sum(r.spend_reporting.minor for r in per_ad if r.key["platform"] == str(platform))
        assert row.spend_by_platform[str(platform)].minor == expected > 0
    # platforms in one currency are converted as one total per day: at most a minor unit apart per day
    days = len({d for _, d in truth})
    assert abs(row.spend.minor - sum(m.minor for m in row.spend_by_platform.values())) <= days


def test_known_images_cost_nothing_and_stay_linked_without_the_library(
    harness: Harness, warehouse: SqlWarehouse, library: AssetLibrary, tmp_path: Path, launched: Any
) -> None:
    canonical, adapters, ads = launched
    downloads: list[str] = []
    meta = adapters[Platform.META]
    original = meta.download_image

    async def counted(source: ImageSource) -> bytes:
        downloads.append(source.ref)
        data: bytes = await original(source)
        return data

    meta.download_image = counted
    with_library = engine(harness, warehouse, tmp_path / "lake", library)
    sync(harness, with_library, meta, Platform.META)
    first = len(downloads)
    assert first == len(set(downloads)) > 1  # each image once: the seeded creatives' and ours
    sync(harness, with_library, meta, Platform.META)
    assert len(downloads) == first  # nothing new to download
    harness.sandbox.market.advance(1)
    sync(harness, engine(harness, warehouse, tmp_path / "lake", None), meta, Platform.META)  # no library
    creative_of = {e.ad_id: e.creative_id for e in warehouse.get_entities(Level.AD, Platform.META) if isinstance(e, Ad)}
    (creative,) = [
        c
        for c in warehouse.get_entities(Level.CREATIVE, Platform.META)
        if c.creative_id == creative_of[ads[Platform.META]]
    ]
    assert isinstance(creative, Creative) and creative.asset_id == canonical  # known by its hash: still linked


@pytest.mark.parametrize("platform", [pytest.param(p, id=str(p)) for p in Platform])
def test_failed_downloads_leave_creatives_unlinked_until_the_next_sync(
    harness: Harness,
    warehouse: SqlWarehouse,
    library: AssetLibrary,
    tmp_path: Path,
    launched: Any,
    platform: Platform,
) -> None:
    canonical, adapters, ads = launched
    adapter = adapters[platform]
    original = adapter.download_image

    async def failing(source: ImageSource) -> bytes:
        raise RetryableError(str(platform), "HTTP 503 from the image host")

    adapter.download_image = failing
    eng = engine(harness, warehouse, tmp_path / "lake", library)
    results = sync(harness, eng, adapter, platform)
    assert "not linked yet" in results[0].message and "503" in results[0].message

    def linked() -> str | None:
        ad_creative = {e.ad_id: e.creative_id for e in warehouse.get_entities(Level.AD, platform) if isinstance(e, Ad)}[
            ads[platform]
        ]
        (creative,) = [c for c in warehouse.get_entities(Level.CREATIVE, platform) if c.creative_id == ad_creative]
        assert isinstance(creative, Creative)
        return creative.asset_id

    assert linked() is None
    assert library.warehouse.get_asset(canonical) is not None  # added before launch; nothing else changed
    adapter.download_image = original
    harness.sandbox.market.advance(1)
    results = sync(harness, eng, adapter, platform)
    assert "not linked" not in results[0].message
    assert linked() == canonical


def test_an_unreadable_image_is_reported_and_the_sync_goes_on(
    harness: Harness, warehouse: SqlWarehouse, library: AssetLibrary, tmp_path: Path, launched: Any
) -> None:
    adapter = launched[1][Platform.TIKTOK]

    async def garbage(source: ImageSource) -> bytes:
        return b"<html>not an image</html>"

    adapter.download_image = garbage
    results = sync(harness, engine(harness, warehouse, tmp_path / "lake", library), adapter, Platform.TIKTOK)
    assert "not a readable image" in results[0].message
    assert results[1].rows > 0  # insights synced as usual
    assert all(
        c.asset_id is None for c in warehouse.get_entities(Level.CREATIVE, Platform.TIKTOK) if isinstance(c, Creative)
    )
