"""The local asset store and the library service over a DuckDB warehouse."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from adpilot.assets_store import LocalAssetStore
from adpilot.creative.identity import text_asset_id
from adpilot.creative.library import AssetLibrary
from adpilot.domain import (
    Ad,
    AssetKind,
    Creative,
    DailyInsight,
    DateWindow,
    InsightWindow,
    Money,
    Platform,
    Status,
    asset_id_for_bytes,
)
from adpilot.ports.assets import AssetError, AssetNotFound
from adpilot.ports.insight_batch import InsightBatch
from adpilot.warehouse.duckdb import DuckDBWarehouse

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = date(2026, 3, 9)


def png(seed: int, size: tuple[int, int] = (400, 400), fmt: str = "PNG", **options: object) -> bytes:
    img = Image.new("RGB", size, ((seed * 70) % 256, (seed * 130) % 256, (seed * 190) % 256))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse([w * 0.1, h * 0.2, w * 0.6, h * 0.7], fill=((seed * 30) % 256, 240, 40))
    draw.rectangle([w * 0.55, h * 0.05, w * 0.95, h * (0.3 + 0.05 * (seed % 5))], fill=(20, 20, (seed * 90) % 256))
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> LocalAssetStore:
    return LocalAssetStore(tmp_path / "assets")


@pytest.fixture
def library(tmp_path: Path, store: LocalAssetStore) -> Iterator[AssetLibrary]:
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    wh.migrate()
    yield AssetLibrary(wh, store, clock=lambda: T0)
    wh.close()


# -- the store ------------------------------------------------------------------------------------------------------
def test_store_is_content_addressed_and_idempotent(store: LocalAssetStore, tmp_path: Path) -> None:
    data = b"some image bytes"
    asset_id = store.put(data)
    hexdigest = hashlib.sha256(data).hexdigest()
    assert asset_id == f"sha256:{hexdigest}"
    path = tmp_path / "assets" / "sha256" / hexdigest[:2] / hexdigest[2:4] / hexdigest
    assert store.path_for(asset_id) == path and path.read_bytes() == data
    mtime = path.stat().st_mtime_ns
    assert store.put(data) == asset_id and path.stat().st_mtime_ns == mtime  # not written again
    assert store.exists(asset_id) and store.get(asset_id) == data and store.uri(asset_id) == str(path)
    assert [p.name for p in path.parent.iterdir()] == [hexdigest]  # no temporary file left behind


def test_store_refuses_unknown_corrupt_and_malformed_ids(store: LocalAssetStore) -> None:
    missing = asset_id_for_bytes(b"never stored")
    assert not store.exists(missing)
    with pytest.raises(AssetNotFound, match="not in the store"):
        store.get(missing)
    asset_id = store.put(b"original")
    store.path_for(asset_id).write_bytes(b"tampered")
    with pytest.raises(AssetError, match="corrupt"):
        store.get(asset_id)
    with pytest.raises(AssetError, match="is not 'sha256:"):
        store.path_for("md5:abc")


# -- adding ---------------------------------------------------------------------------------------------------------
def test_a_new_image_is_stored_tagged_and_recorded_as_its_own_version(library: AssetLibrary) -> None:
    data = png(1, (1080, 1920))
    added = library.add_image(data, name="hero", user_tags=["summer"])
    rec = added.record
    assert added.match == "new" and rec.asset_id == asset_id_for_bytes(data)
    assert (rec.asset.kind, rec.asset.width, rec.asset.height, rec.format) == (AssetKind.IMAGE, 1080, 1920, "png")
    assert {"aspect:9:16", "orientation:portrait"} <= set(rec.tags) and rec.user_tags == ("summer",)
    assert any(t.startswith("colour:") for t in rec.tags) and rec.palette
    assert library.store.get(rec.asset_id) == data
    stored = library.warehouse.get_asset(rec.asset_id)
    assert stored is not None and stored.phash == rec.phash and stored.source == "cli"
    assert [(v.sha256, v.match) for v in library.warehouse.asset_versions(rec.asset_id)] == [(rec.asset_id, "exact")]


def test_the_same_file_again_is_the_same_asset_with_new_name_and_tags(library: AssetLibrary) -> None:
    data = png(2)
    first = library.add_image(data, name="first")
    again = library.add_image(data, name="renamed", user_tags=["q3", "q3"])
    assert again.match == "exact" and again.record.asset_id == first.record.asset_id
    stored = library.warehouse.get_asset(first.record.asset_id)
    assert stored is not None and stored.asset.name == "renamed" and stored.user_tags == ("q3",)
    assert library.add_image(data, file_name="x.png").record.asset.name == "renamed"  # only a given name renames
    fresh = library.add_image(png(9), file_name="fresh.png")
    assert fresh.match == "new" and fresh.record.asset.name == "fresh.png"


def test_a_reencoded_copy_resolves_to_the_original_and_is_kept_as_a_version(library: AssetLibrary) -> None:
    original = library.add_image(png(3, (800, 800)), name="hero").record
    copy = png(3, (600, 600), "JPEG", quality=80)
    added = library.add_image(copy, name="")
    assert added.match == "perceptual" and added.record.asset_id == original.asset_id
    assert 0 <= added.distance <= 20
    versions = library.warehouse.asset_versions(original.asset_id)
    assert {(v.sha256, v.match, v.format) for v in versions} == {
        (original.asset_id, "exact", "png"),
        (asset_id_for_bytes(copy), "perceptual", "jpeg"),
    }
    assert library.store.get(asset_id_for_bytes(copy)) == copy
    assert library.add_image(copy).match == "exact"  # the copy's bytes are known now
    other = library.add_image(png(4, (800, 800)))
    assert other.match == "new" and other.record.asset_id != original.asset_id


def test_what_is_not_an_image_is_refused_and_nothing_is_stored(library: AssetLibrary, tmp_path: Path) -> None:
    with pytest.raises(AssetError, match=r"notes\.txt: not a readable image"):
        library.add_image(b"hello", name="notes.txt")
    assert library.assets() == [] and not (tmp_path / "assets").exists()


def test_copy_is_a_text_asset_by_its_normalized_form(library: AssetLibrary) -> None:
    added = library.add_text("Now 20% off!", name="offer")
    rec = added.record
    assert added.match == "new" and rec.asset_id == text_asset_id("now 20% OFF")
    assert rec.asset.text == "Now 20% off!" and {"offer:percent", "offer:discount"} <= set(rec.tags)
    assert library.store.get(rec.asset_id) == b"now 20% off"
    again = library.add_text("  now 20%   OFF ", user_tags=["promo"])
    assert again.match == "exact" and again.record.asset.text == "Now 20% off!"
    with pytest.raises(AssetError, match="text: must not be empty"):
        library.add_text(" ?! ")


def test_lineage_and_prefix_resolution(library: AssetLibrary) -> None:
    parent = library.add_image(png(5), name="base").record
    child = library.add_image(png(6), parent_id=parent.asset_id, derivation="blue button", source="generated")
    view = library.show(child.record.asset_id[len("sha256:") :][:10])
    assert view.record.asset_id == child.record.asset_id
    assert view.parent is not None and view.parent.asset_id == parent.asset_id
    assert view.record.derivation == "blue button" and view.record.source == "generated"
    assert [c.asset_id for c in library.show(parent.asset_id).children] == [child.record.asset_id]
    assert view.uri is not None and view.uri.endswith(child.record.asset_id.split(":")[1])
    with pytest.raises(AssetError, match="parent: no asset"):
        library.add_image(png(7), parent_id=asset_id_for_bytes(b"none"))
    with pytest.raises(AssetError, match="no asset starts with"):
        library.resolve("ffffffffffffffff")
    with pytest.raises(AssetError, match="not an asset id"):
        library.resolve("hero.png")
    for i in range(20):  # more assets than hex digits: some first digit is shared
        library.add_text(f"copy {i}")
    firsts = [r.asset_id[len("sha256:")] for r in library.assets()]
    shared = next(d for d in firsts if firsts.count(d) > 1)
    with pytest.raises(AssetError, match="ambiguous"):
        library.resolve(shared)


# -- the sync engine's port and the report --------------------------------------------------------------------------
def test_register_link_and_report_across_platforms(library: AssetLibrary) -> None:
    wh = library.warehouse
    data = png(8)
    meta_id = library.register_image(Platform.META, "act_1", "hash1", data, name="hero.png")
    tiktok_copy = png(8, fmt="JPEG", quality=85)
    tiktok_id = library.register_image(Platform.TIKTOK, "adv1", "img1", tiktok_copy, name="")
    assert meta_id == tiktok_id == asset_id_for_bytes(data)
    assert wh.known_image_refs(Platform.TIKTOK, "adv1", ["img1"])["img1"].sha256 == asset_id_for_bytes(tiktok_copy)
    creatives = [
        Creative(Platform.META, "act_1", "cr1", asset_id=meta_id, headline="Clean water", call_to_action="SHOP_NOW"),
        Creative(Platform.TIKTOK, "adv1", "ad9", asset_id=tiktok_id, body="Clean water!", call_to_action="SHOP_NOW"),
    ]
    ads = [
        Ad(Platform.META, "act_1", "c1", "s1", "a1", "Meta ad", Status.ACTIVE, "ACTIVE", "cr1"),
        Ad(Platform.TIKTOK, "adv1", "c2", "s2", "ad9", "TikTok ad", Status.PAUSED, "DISABLE", "ad9"),
    ]
    wh.upsert_entities([*ads, *creatives], source="sync", at=T0)
    refs = {"cr1": "hash1", "ad9": "img1"}
    assert library.link_creatives(creatives, at=T0, image_refs=refs) == 6
    usage = library.show(meta_id).usage
    assert [(u.platform, u.ad_id, u.match) for u in usage] == [
        (Platform.META, "a1", "exact"),
        (Platform.TIKTOK, "ad9", "perceptual"),
    ]
    copy = library.resolve(text_asset_id("clean water"))
    assert copy.asset.kind is AssetKind.TEXT and copy.source == "sync:meta"
    assert [(u.platform, u.role) for u in library.show(copy.asset_id).usage] == [
        (Platform.META, "headline"),
        (Platform.TIKTOK, "body"),
    ]
    cta = library.resolve(text_asset_id("SHOP_NOW"))
    assert "cta:purchase" in cta.tags
    for platform, account, ad_id, spend in (
        (Platform.META, "act_1", "a1", 1500),
        (Platform.TIKTOK, "adv1", "ad9", 900),
    ):
        wh.replace_insights(
            InsightBatch.from_insights(
                InsightWindow(platform, account, DateWindow(DAY, DAY)),
                [
                    DailyInsight(
                        platform, account, "c", "s", ad_id, DAY, 1000, 25, Money("USD", spend), Decimal(3),
                        Money("USD", spend * 4), "7d_click,1d_view",
                    )
                ],
            )
        )  # fmt: skip
    rows = {r.key: r for r in library.report(DateWindow(DAY, DAY), reporting_currency="USD")}
    hero = rows[meta_id]
    assert (hero.kind, hero.impressions, hero.clicks, hero.spend) == ("image", 2000, 50, Money("USD", 2400))
    assert hero.spend_by_platform == {"meta": Money("USD", 1500), "tiktok": Money("USD", 900)}
    assert hero.ctr == Decimal("0.025") and hero.cpa == Decimal(24) / Decimal(6) and hero.roas == Decimal(4)
    assert rows[copy.asset_id].spend == hero.spend and rows[cta.asset_id].name == "SHOP_NOW"
    images = library.report(DateWindow(DAY, DAY), reporting_currency="USD", kind=AssetKind.IMAGE)
    assert [r.key for r in images] == [meta_id]
    by_tag = {r.key: r for r in library.report(DateWindow(DAY, DAY), reporting_currency="USD", by="tag")}
    assert by_tag["cta:purchase"].spend == Money("USD", 2400)
    meta_only = library.report(DateWindow(DAY, DAY), reporting_currency="USD", platforms=[Platform.META])
    assert {r.key: r.spend for r in meta_only}[meta_id] == Money("USD", 1500)
