"""The warehouse's asset library: every engine (DuckDB, PostgreSQL) must pass every test here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adpilot.domain import (
    Asset,
    AssetKind,
    Creative,
    DateWindow,
    FxRate,
    Level,
    Money,
    Platform,
    asset_id_for_bytes,
)
from adpilot.ports.assets import AssetRecord, AssetVersion, CreativeLink, ImageRefLink
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.warehouse import Grain, PerformanceQuery
from adpilot.warehouse._sql import SqlWarehouse

from .factories import DAY0, ad, insight, window

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
GRID = bytes(range(256)) * 3


def image(token: str, *, phash: int | None = None, **kw: Any) -> AssetRecord:
    asset = Asset(asset_id_for_bytes(token.encode()), AssetKind.IMAGE, kw.pop("name", token), width=800, height=800)
    return AssetRecord(asset, phash=phash, grid=GRID if phash is not None else None, **kw)


def text(copy: str, **kw: Any) -> AssetRecord:
    return AssetRecord(Asset(asset_id_for_bytes(copy.encode()), AssetKind.TEXT, "", text=copy), **kw)


def replace(wh: SqlWarehouse, win: Any, rows: list[Any]) -> int:
    return wh.replace_insights(InsightBatch.from_insights(win, rows))


def test_assets_round_trip_with_metadata(warehouse: SqlWarehouse) -> None:
    parent = image("parent", phash=7)
    child = image(
        "child",
        phash=(1 << 64) - 3,  # above 2**63: stored signed, read back unsigned
        tags=("colour:blue", "aspect:1:1"),
        user_tags=("summer",),
        format="png",
        size_bytes=12345,
        palette=("#112233 0.60", "#ffffff 0.40"),
        parent_id=parent.asset_id,
        derivation="crop 1:1 around the subject",
        source="generated",
    )
    assert warehouse.upsert_assets([parent, child], at=T0) == 2
    got = warehouse.get_asset(child.asset_id)
    assert got is not None
    assert got.asset == child.asset
    assert (got.phash, got.grid, got.format, got.size_bytes) == (child.phash, GRID, "png", 12345)
    assert got.palette == child.palette and got.parent_id == parent.asset_id
    assert (got.derivation, got.source, got.created_at) == ("crop 1:1 around the subject", "generated", T0)
    assert set(got.tags) == {"colour:blue", "aspect:1:1"} and got.user_tags == ("summer",)
    assert warehouse.get_asset(asset_id_for_bytes(b"nothing")) is None


def test_upsert_replaces_computed_tags_keeps_peoples_and_first_creation(warehouse: SqlWarehouse) -> None:
    first = image("a", phash=1, tags=("colour:red", "length:short"), user_tags=("hero",))
    warehouse.upsert_assets([first], at=T0)
    later = image("a", phash=1, name="renamed", tags=("colour:blue", "hero"), user_tags=("q3",))
    assert warehouse.upsert_assets([later], at=T0 + timedelta(days=1)) == 0
    got = warehouse.get_asset(first.asset_id)
    assert got is not None and got.asset.name == "renamed" and got.created_at == T0
    assert set(got.tags) == {"colour:blue"}  # "hero" is a person's tag already: it stays theirs
    assert set(got.user_tags) == {"hero", "q3"}
    assert got.all_tags == ("colour:blue", "hero", "q3")


def test_only_new_leaves_stored_assets_alone(warehouse: SqlWarehouse) -> None:
    warehouse.upsert_assets([text("Buy now", user_tags=("mine",))], at=T0)
    again = text("Buy now", tags=("length:short",))
    fresh = text("Free shipping", tags=("offer:free",))
    assert warehouse.upsert_assets([again, fresh], at=T0, only_new=True) == 1
    kept = warehouse.get_asset(again.asset_id)
    assert kept is not None and kept.tags == () and kept.user_tags == ("mine",)
    got = warehouse.get_asset(fresh.asset_id)
    assert got is not None and got.tags == ("offer:free",)


def test_list_assets_filters_and_orders_newest_first(warehouse: SqlWarehouse) -> None:
    parent = image("p", phash=1)
    warehouse.upsert_assets([parent], at=T0)
    warehouse.upsert_assets([image("c", phash=2, parent_id=parent.asset_id, tags=("colour:red",))], at=T0)
    warehouse.upsert_assets([text("Hello", user_tags=("summer",))], at=T0 + timedelta(hours=1))
    assert warehouse.list_assets()[0].asset.text == "Hello"  # the newest
    assert {r.asset.name for r in warehouse.list_assets(kind=AssetKind.IMAGE)} == {"p", "c"}
    assert [r.asset.name for r in warehouse.list_assets(tag="colour:red")] == ["c"]
    assert [r.asset.text for r in warehouse.list_assets(tag="summer")] == ["Hello"]
    assert [r.asset.name for r in warehouse.list_assets(parent_id=parent.asset_id)] == ["c"]
    prefix = parent.asset_id[:14]
    assert [r.asset_id for r in warehouse.list_assets(id_prefix=prefix)] == [parent.asset_id]
    assert warehouse.list_assets(kind=AssetKind.VIDEO) == []


def test_find_by_phash_returns_images_within_the_distance_closest_first(warehouse: SqlWarehouse) -> None:
    base = 0xF0F0_F0F0_F0F0_F0F0
    near, nearer, far = image("near", phash=base ^ 0b111), image("nearer", phash=base ^ 0b1), image("far", phash=~base)
    warehouse.upsert_assets([near, nearer, far, text("no hash")], at=T0)
    found = warehouse.find_by_phash(base, 3)
    assert [(r.asset.name, d) for r, d in found] == [("nearer", 1), ("near", 3)]
    assert warehouse.find_by_phash(base, 0) == []
    assert [r.asset.name for r, _ in warehouse.find_by_phash(~base & ((1 << 64) - 1), 0)] == ["far"]


def test_versions_first_record_wins_and_resolve_files(warehouse: SqlWarehouse) -> None:
    original = image("orig", phash=5)
    warehouse.upsert_assets([original], at=T0)
    copy_sha = asset_id_for_bytes(b"re-encoded")
    versions = [
        AssetVersion(original.asset_id, original.asset_id, "exact", 0, "png", 800, 800, 100, "cli", T0),
        AssetVersion(copy_sha, original.asset_id, "perceptual", 4, "jpeg", 400, 400, 40, "sync:meta", T0),
        AssetVersion(copy_sha, "sha256:" + "0" * 64, "perceptual", 9, "jpeg", 1, 1, 1, "later", T0),
    ]
    assert warehouse.put_asset_versions(versions) == 2
    assert warehouse.put_asset_versions(versions[:1]) == 0
    got = warehouse.asset_versions(original.asset_id)  # by first sight, then file hash
    expected = sorted([(original.asset_id, "exact", 0, "png"), (copy_sha, "perceptual", 4, "jpeg")])
    assert [(v.sha256, v.match, v.distance, v.format) for v in got] == expected
    assert {v.first_seen for v in got} == {T0}
    assert warehouse.asset_for_file(copy_sha) == original.asset_id
    assert warehouse.asset_for_file(original.asset_id) == original.asset_id
    assert warehouse.asset_for_file(asset_id_for_bytes(b"never seen")) is None


def test_image_refs_are_known_per_platform_and_account(warehouse: SqlWarehouse) -> None:
    a, b = image("a"), image("b")
    refs = [
        ImageRefLink(Platform.META, "act_1", "hash1", a.asset_id, a.asset_id),
        ImageRefLink(Platform.TIKTOK, "adv", "img9", b.asset_id, asset_id_for_bytes(b"copy")),
    ]
    assert warehouse.put_image_refs(refs, at=T0) == 2
    known = warehouse.known_image_refs(Platform.META, "act_1", ["hash1", "hash2"])
    assert known == {"hash1": refs[0]}
    assert warehouse.known_image_refs(Platform.META, "act_2", ["hash1"]) == {}
    assert warehouse.known_image_refs(Platform.TIKTOK, "adv", ["img9"])["img9"].sha256 == asset_id_for_bytes(b"copy")
    moved = ImageRefLink(Platform.META, "act_1", "hash1", b.asset_id, b.asset_id)
    warehouse.put_image_refs([moved], at=T0)
    assert warehouse.known_image_refs(Platform.META, "act_1", ["hash1"]) == {"hash1": moved}
    assert warehouse.known_image_refs(Platform.META, "act_1", []) == {}


def _links(platform: Platform, creative: str, **roles: str) -> list[CreativeLink]:
    return [
        CreativeLink(platform, "act_1", creative, role, asset, "text" if role != "image" else "exact")
        for role, asset in roles.items()
    ]


def test_creative_links_replace_a_creatives_set_and_show_usage(warehouse: SqlWarehouse) -> None:
    img, other, head = image("img").asset_id, image("other").asset_id, text("Hi").asset_id
    warehouse.upsert_entities(
        [
            ad("a1", "cr1"),
            ad("a2", "cr1"),
            ad("p1", "t1", platform=Platform.X),
            Creative(Platform.META, "act_1", "cr1"),
        ],
        source="sync",
        at=T0,
    )
    links = _links(Platform.META, "cr1", image=img, headline=head) + _links(Platform.X, "t1", image=img)
    assert warehouse.set_creative_links([(Platform.META, "cr1"), (Platform.X, "t1")], links, at=T0) == 3
    usage = warehouse.asset_usage(img)
    assert [(u.platform, u.creative_id, u.role, u.ad_id) for u in usage] == [
        (Platform.META, "cr1", "image", "a1"),
        (Platform.META, "cr1", "image", "a2"),
        (Platform.X, "t1", "image", "p1"),
    ]
    assert usage[0].status == "active" and usage[0].ad_name == "Ad a1"
    # the Meta creative now shows another image and no headline; the X creative is not named: untouched
    warehouse.set_creative_links([(Platform.META, "cr1")], _links(Platform.META, "cr1", image=other), at=T0)
    assert [u.platform for u in warehouse.asset_usage(img)] == [Platform.X]
    assert warehouse.asset_usage(head) == []
    # a creative named without links loses them all
    warehouse.set_creative_links([(Platform.X, "t1")], [], at=T0)
    assert warehouse.asset_usage(img) == []
    # a rebuild replays creatives without their asset id: relinking restores it from the image link
    assert warehouse.relink_creatives() == 1
    (creative,) = warehouse.get_entities(Level.CREATIVE)
    assert isinstance(creative, Creative) and creative.asset_id == other
    assert warehouse.relink_creatives() == 0


def test_performance_by_asset_counts_each_ad_once_per_asset_across_platforms(warehouse: SqlWarehouse) -> None:
    img, head, cta = image("hero").asset_id, text("Clean water").asset_id, text("SHOP_NOW").asset_id
    warehouse.upsert_assets([image("hero", tags=("colour:blue",)), text("Clean water", tags=("length:short",))], at=T0)
    warehouse.upsert_assets([text("SHOP_NOW", tags=("cta:purchase", "colour:blue"))], at=T0)
    warehouse.upsert_entities(
        [
            ad("a1", "cr1"),
            ad("a9", "cr9"),  # an ad whose creative is linked to nothing
            ad("p1", "t1", platform=Platform.X),
            Creative(Platform.META, "act_1", "cr1", asset_id=img),  # image from the creative row, no link
        ],
        source="sync",
        at=T0,
    )
    warehouse.set_creative_links(
        [(Platform.META, "cr1"), (Platform.X, "t1")],
        _links(Platform.META, "cr1", headline=head, cta=cta) + _links(Platform.X, "t1", image=img, headline=head),
        at=T0,
    )
    warehouse.put_fx_rates([FxRate(DAY0, "EUR", "USD", Decimal("1.1"))])
    replace(warehouse, window(), [insight("a1", 0, spend=1000, clicks=10), insight("a9", 0, spend=300)])
    replace(
        warehouse,
        window(Platform.X),
        [insight("p1", 0, platform=Platform.X, currency="EUR", spend=2000, clicks=4, impressions=500)],
    )
    win = DateWindow(DAY0, DAY0)
    rows = warehouse.read_performance(PerformanceQuery(win, Grain.ASSET, by_day=False), reporting_currency="USD")
    by = {r.key["asset_id"]: r for r in rows}
    assert set(by) == {img, head, cta, None}
    assert (by[img].impressions, by[img].clicks, by[img].spend_reporting) == (1500, 14, Money("USD", 1000 + 2200))
    assert by[img].spend is None  # two account currencies: no single-currency total
    assert by[head].spend_reporting == by[img].spend_reporting
    assert (by[cta].impressions, by[cta].spend) == (1000, Money("USD", 1000))
    assert by[None].spend_reporting == Money("USD", 300)
    # by tag: the Meta ad shows two assets tagged colour:blue, and counts once there
    tags = warehouse.read_performance(PerformanceQuery(win, Grain.TAG, by_day=False), reporting_currency="USD")
    by_tag = {r.key["tag"]: r for r in tags}
    assert by_tag["colour:blue"].spend_reporting == Money("USD", 3200)
    assert by_tag["cta:purchase"].spend_reporting == Money("USD", 1000)
    assert by_tag["length:short"].impressions == 1500
    assert by_tag[None].spend_reporting == Money("USD", 300)
    # other grains filtered by assets: each ad once, however many of the assets it shows
    q = PerformanceQuery(win, Grain.PLATFORM, by_day=False, asset_ids=(img, head, cta))
    perf = {r.key["platform"]: r.spend_reporting for r in warehouse.read_performance(q, reporting_currency="USD")}
    assert perf == {"meta": Money("USD", 1000), "x": Money("USD", 2200)}
    only = PerformanceQuery(win, Grain.ASSET, by_day=False, asset_ids=(cta,))
    assert [r.key["asset_id"] for r in warehouse.read_performance(only, reporting_currency="USD")] == [cta]
    # the view people can query directly holds the same rows
    with warehouse._transaction() as tx:
        (total,) = tx.query("SELECT sum(spend_minor) FROM asset_performance WHERE asset_id = ?", (img,))[0]
    assert int(total) == 1000 + 2000
