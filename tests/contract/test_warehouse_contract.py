"""The warehouse contract: every engine (DuckDB, PostgreSQL) must pass every test here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.domain import (
    Asset,
    AssetKind,
    AuditEvent,
    Creative,
    DateWindow,
    FxRate,
    Level,
    Money,
    Platform,
    Status,
    asset_id_for_bytes,
)
from adpilot.domain.entities import LearningStatus
from adpilot.errors import MigrationError
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.warehouse import Bookmark, ConnectionRecord, Grain, PerformanceQuery
from adpilot.warehouse._sql import SqlWarehouse
from adpilot.warehouse.duckdb import DuckDBWarehouse
from adpilot.warehouse.migrations import LATEST_VERSION, MIGRATIONS, Migration
from adpilot.warehouse.postgres import PostgresWarehouse

from .factories import DAY0, account, ad, ad_set, campaign, insight, window

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def replace(wh: SqlWarehouse, win: Any, rows: list[Any]) -> int:
    return wh.replace_insights(InsightBatch.from_insights(win, rows))


# -- migrations ----------------------------------------------------------------------------------------
def test_migrate_is_idempotent(warehouse: SqlWarehouse) -> None:
    assert warehouse.migrate() == LATEST_VERSION
    assert warehouse.migrate() == LATEST_VERSION
    assert warehouse.schema_version() == LATEST_VERSION


def test_failed_migration_leaves_schema_as_it_was(warehouse: SqlWarehouse) -> None:
    bad = Migration(LATEST_VERSION + 1, "half good", ("CREATE TABLE would_exist (x INTEGER)", "CREATE TABLE broken ("))
    with pytest.raises(MigrationError, match=rf"migration {LATEST_VERSION + 1} \(half good\) failed"):
        warehouse.migrate([*MIGRATIONS, bad])
    assert warehouse.schema_version() == LATEST_VERSION
    with pytest.raises(Exception, match="would_exist"), warehouse._transaction() as tx:
        tx.query("SELECT * FROM would_exist")
    # and a good follow-up migration still applies
    good = Migration(LATEST_VERSION + 1, "fine", ("CREATE TABLE fine_table (x INTEGER)",))
    assert warehouse.migrate([*MIGRATIONS, good]) == LATEST_VERSION + 1


# -- entities and history ------------------------------------------------------------------------------
def test_entities_round_trip(warehouse: SqlWarehouse) -> None:
    image = Asset(asset_id_for_bytes(b"png"), AssetKind.IMAGE, "hero.png", width=1080, height=1080)
    creative = Creative(
        Platform.META, "act_1", "cr1", "hero", image.asset_id, "Buy now", "Body", "SHOP_NOW", "https://x"
    )
    entities = [account(), campaign(), ad_set(bid=150), ad(), creative, image]
    result = warehouse.upsert_entities(entities, source="sync", at=T0)
    assert (result.inserted, result.updated) == (6, 0)
    assert warehouse.get_entities(Level.ACCOUNT) == [account()]
    assert warehouse.get_entities(Level.CAMPAIGN) == [campaign()]
    assert warehouse.get_entities(Level.AD_SET) == [ad_set(bid=150)]
    assert warehouse.get_entities(Level.AD, Platform.META) == [ad()]
    assert warehouse.get_entities(Level.AD, Platform.X) == []
    assert warehouse.get_entities(Level.CREATIVE) == [creative]


def test_history_records_budget_status_and_bid_changes(warehouse: SqlWarehouse) -> None:
    warehouse.upsert_entities([ad_set(5000)], source="sync", at=T0)
    first = warehouse.entity_history(Platform.META, Level.AD_SET, "s1")
    assert {(c.field, c.old_value, c.new_value) for c in first} == {
        ("status", None, "active"),
        ("platform_status", None, "ACTIVE"),
        ("daily_budget_minor", None, "5000"),
    }
    same = warehouse.upsert_entities([ad_set(5000)], source="sync", at=T0 + timedelta(hours=1))
    assert (same.inserted, same.updated, same.changes) == (0, 0, 0)
    later = T0 + timedelta(days=1)
    changed = warehouse.upsert_entities([ad_set(6000, status=Status.PAUSED, bid=120)], source="agent:budget", at=later)
    assert (changed.inserted, changed.updated, changed.changes) == (0, 1, 4)
    new = [c for c in warehouse.entity_history(Platform.META, Level.AD_SET, "s1") if c.changed_at == later]
    assert {(c.field, c.old_value, c.new_value, c.source) for c in new} == {
        ("status", "active", "paused", "agent:budget"),
        ("platform_status", "ACTIVE", "PAUSED", "agent:budget"),
        ("daily_budget_minor", "5000", "6000", "agent:budget"),
        ("bid_minor", None, "120", "agent:budget"),
    }
    assert warehouse.get_entities(Level.AD_SET) == [ad_set(6000, status=Status.PAUSED, bid=120)]


def test_ad_set_learning_round_trips_as_state_not_history(warehouse: SqlWarehouse) -> None:
    """Every learning phase and its absence (X, TikTok, paused Meta ad sets) read back as written; a change
    updates the row but is not history (the platform's current word, not an edit)."""
    sets = [ad_set(sid=f"s{i}", learning=learning) for i, learning in enumerate([None, *LearningStatus])]
    assert warehouse.upsert_entities(sets, source="sync", at=T0).inserted == 4
    assert warehouse.get_entities(Level.AD_SET) == sets
    assert warehouse.upsert_entities(sets, source="sync", at=T0 + timedelta(hours=1)).updated == 0
    learned = ad_set(sid="s1", learning=LearningStatus.LEARNED)  # s1 was learning
    result = warehouse.upsert_entities([learned], source="sync", at=T0 + timedelta(days=1))
    assert (result.inserted, result.updated, result.changes) == (0, 1, 0)
    assert warehouse.get_entities(Level.AD_SET)[1] == learned
    assert not [c for c in warehouse.entity_history(Platform.META, Level.AD_SET, "s1") if c.changed_at > T0]
    with warehouse._transaction() as tx:
        stored = dict(tx.query("SELECT ad_set_id, learning FROM ad_sets"))
    assert stored == {"s0": None, "s1": "learned", "s2": "limited", "s3": "learned"}


@pytest.fixture
def unmigrated(warehouse: SqlWarehouse, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SqlWarehouse]:
    """A second, empty and unmigrated warehouse on the same engine as ``warehouse``."""
    wh: SqlWarehouse
    if isinstance(warehouse, PostgresWarehouse):
        wh = PostgresWarehouse(request.getfixturevalue("postgres_url"), schema=f"adpilot_t_{uuid.uuid4().hex[:12]}")
    else:
        wh = DuckDBWarehouse(tmp_path / "unmigrated.duckdb")
    try:
        yield wh
    finally:
        if isinstance(wh, PostgresWarehouse):
            wh.drop_schema()
        wh.close()


def test_learning_column_reaches_ad_sets_stored_before_it(unmigrated: SqlWarehouse) -> None:
    assert unmigrated.migrate([m for m in MIGRATIONS if m.version < 6]) == 5
    with unmigrated._transaction() as tx:
        tx.execute(
            "INSERT INTO ad_sets (platform, account_id, campaign_id, ad_set_id, name, status, platform_status, "
            "currency, daily_budget_minor, bid_minor, optimization_goal, updated_at) "
            "VALUES ('meta', 'act_1', 'c1', 's1', 'Prospecting', 'active', 'ACTIVE', 'USD', 5000, NULL, "
            "'OFFSITE_CONVERSIONS', ?)",
            (T0.replace(tzinfo=None),),
        )
    assert unmigrated.migrate() == LATEST_VERSION
    assert unmigrated.get_entities(Level.AD_SET) == [ad_set()]
    unmigrated.upsert_entities([ad_set(learning=LearningStatus.LIMITED)], source="sync", at=T0)
    assert unmigrated.get_entities(Level.AD_SET) == [ad_set(learning=LearningStatus.LIMITED)]


def test_last_version_of_an_entity_in_one_call_wins(warehouse: SqlWarehouse) -> None:
    result = warehouse.upsert_entities([ad_set(100), ad_set(200)], source="sync", at=T0)
    assert result.inserted == 1
    assert warehouse.get_entities(Level.AD_SET) == [ad_set(200)]


# -- insights --------------------------------------------------------------------------------------------
def test_insights_round_trip_exactly(warehouse: SqlWarehouse) -> None:
    rows = [insight(f"a{i}", d, spend=1000 + i, conversions="1.25") for i in range(3) for d in range(7)]
    assert replace(warehouse, window(), rows) == 21
    got = warehouse.read_insights(window())
    assert sorted(got, key=lambda r: (r.day, r.ad_id)) == sorted(rows, key=lambda r: (r.day, r.ad_id))


def test_restated_window_replaces_without_duplicates_or_drops(warehouse: SqlWarehouse) -> None:
    replace(warehouse, window(days=14), [insight("a1", d, conversions="1") for d in range(14)])
    restated = [insight("a1", d, conversions="3") for d in range(7, 14)]
    replace(warehouse, window(start=7, days=7), restated)
    got = {r.day: r.conversions for r in warehouse.read_insights(window(days=14))}
    assert len(got) == 14
    assert all(got[DAY0 + timedelta(d)] == Decimal(1) for d in range(7))
    assert all(got[DAY0 + timedelta(d)] == Decimal(3) for d in range(7, 14))


def test_replace_touches_only_its_account_and_platform(warehouse: SqlWarehouse) -> None:
    replace(warehouse, window(account="act_1"), [insight("a1", 0)])
    replace(warehouse, window(account="act_2"), [insight("b1", 0, account="act_2")])
    replace(warehouse, window(Platform.X, "x1"), [insight("p1", 0, platform=Platform.X, account="x1")])
    replace(warehouse, window(account="act_1"), [])
    assert warehouse.read_insights(window(account="act_1")) == []
    assert len(warehouse.read_insights(window(account="act_2"))) == 1
    assert len(warehouse.read_insights(window(Platform.X, "x1"))) == 1


def test_a_failed_replace_leaves_the_old_window(warehouse: SqlWarehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    original = [insight("a1", d) for d in range(7)]
    replace(warehouse, window(), original)
    real = warehouse._transaction

    @contextmanager
    def failing_append() -> Iterator[Any]:
        with real() as tx:

            class Proxy:
                def __getattr__(self, name: str) -> Any:
                    return getattr(tx, name)

                def append(self, target: str, table: Any) -> None:
                    raise RuntimeError("disk full while appending")

            yield Proxy()

    monkeypatch.setattr(warehouse, "_transaction", failing_append)
    with pytest.raises(RuntimeError, match="disk full"):
        replace(warehouse, window(), [insight("a1", d, spend=1) for d in range(7)])
    monkeypatch.undo()
    assert warehouse.read_insights(window()) == original


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(
        st.tuples(
            st.integers(0, 20),  # window start
            st.integers(1, 10),  # window length
            st.sets(st.integers(0, 4), max_size=5),  # ads present
            st.integers(0, 10_000),  # spend seed
        ),
        min_size=1,
        max_size=6,
    )
)
def test_window_replacement_matches_a_model(warehouse: SqlWarehouse, ops: list[Any]) -> None:
    """Any sequence of replacements ends equal to a dict that applies the same replacements."""
    warehouse.clear_synced_data()
    model: dict[tuple[str, date], int] = {}
    for start, length, ads, seed in ops:
        win = window(start=start, days=length)
        rows = [insight(f"a{a}", start + d, spend=seed + a * 7 + d) for a in sorted(ads) for d in range(length)]
        for key in [k for k in model if k[1] in win.window]:
            del model[key]
        model.update({(r.ad_id, r.day): r.spend.minor for r in rows})
        replace(warehouse, win, rows)
    everything = window(days=40)
    assert {(r.ad_id, r.day): r.spend.minor for r in warehouse.read_insights(everything)} == model


# -- performance reads -----------------------------------------------------------------------------------
def _load_two_currencies(wh: SqlWarehouse) -> None:
    wh.put_fx_rates(
        [
            FxRate(DAY0 - timedelta(days=30), "EUR", "USD", Decimal("1.10")),
            FxRate(DAY0 + timedelta(days=1), "EUR", "USD", Decimal("1.20")),
            FxRate(DAY0 - timedelta(days=30), "USD", "JPY", Decimal("150")),
        ]
    )
    replace(wh, window(), [insight("a1", 0, spend=1000, value=3000), insight("a1", 1, spend=1000, value=3000)])
    replace(
        wh,
        window(Platform.TIKTOK, "tt1"),
        [
            insight("t1", d, platform=Platform.TIKTOK, account="tt1", currency="EUR", spend=1000, value=2000)
            for d in (0, 1)
        ],
    )
    replace(
        wh,
        window(Platform.X, "xj"),
        [insight("x1", 0, platform=Platform.X, account="xj", currency="JPY", spend=1500, value=0)],
    )


def test_performance_by_platform_converts_each_day_at_its_rate(warehouse: SqlWarehouse) -> None:
    _load_two_currencies(warehouse)
    q = PerformanceQuery(DateWindow(DAY0, DAY0 + timedelta(days=6)), Grain.PLATFORM)
    rows = {(r.key["platform"], r.day): r for r in warehouse.read_performance(q, reporting_currency="USD")}
    tt0, tt1 = rows[("tiktok", DAY0)], rows[("tiktok", DAY0 + timedelta(days=1))]
    assert tt0.spend == Money("EUR", 1000) and tt0.spend_reporting == Money("USD", 1100)
    assert tt1.spend_reporting == Money("USD", 1200)  # the new rate applies from its day on
    x0 = rows[("x", DAY0)]
    assert x0.spend == Money("JPY", 1500) and x0.spend_reporting == Money("USD", 1000)  # 1500 / 150 = 10.00


def test_performance_totals_across_currencies(warehouse: SqlWarehouse) -> None:
    _load_two_currencies(warehouse)
    q = PerformanceQuery(DateWindow(DAY0, DAY0 + timedelta(days=6)), Grain.PLATFORM, by_day=False)
    (total,) = warehouse.read_performance(
        PerformanceQuery(q.window, Grain.ACCOUNT, by_day=False, platforms=(Platform.TIKTOK,)),
        reporting_currency="EUR",
    )
    assert total.spend == Money("EUR", 2000) and total.spend_reporting == Money("EUR", 2000)
    rows = warehouse.read_performance(q, reporting_currency="USD")
    assert sum(r.spend_reporting.minor for r in rows) == 2000 + 1100 + 1200 + 1000
    assert {r.day for r in rows} == {None}


def test_performance_by_asset_spans_platforms(warehouse: SqlWarehouse) -> None:
    image = asset_id_for_bytes(b"one hero image")
    warehouse.upsert_entities(
        [
            Asset(image, AssetKind.IMAGE, "hero"),
            ad("a1", "cr1"),
            ad("p1", "xc1", platform=Platform.X),
            Creative(Platform.META, "act_1", "cr1", asset_id=image),
            Creative(Platform.X, "act_1", "xc1", asset_id=image),
        ],
        source="sync",
        at=T0,
    )
    replace(warehouse, window(), [insight("a1", 0, impressions=100, clicks=5)])
    replace(warehouse, window(Platform.X), [insight("p1", 0, platform=Platform.X, impressions=50, clicks=1)])
    q = PerformanceQuery(DateWindow(DAY0, DAY0), Grain.ASSET, by_day=False)
    (row,) = warehouse.read_performance(q, reporting_currency="USD")
    assert row.key == {"asset_id": image}
    assert (row.impressions, row.clicks) == (150, 6)
    filtered = PerformanceQuery(DateWindow(DAY0, DAY0), Grain.AD, asset_ids=(image,), platforms=(Platform.X,))
    assert [r.key["ad_id"] for r in warehouse.read_performance(filtered, reporting_currency="USD")] == ["p1"]


def test_performance_filters_and_grains(warehouse: SqlWarehouse) -> None:
    replace(
        warehouse,
        window(),
        [insight("a1", 0, ad_set="s1"), insight("a2", 0, ad_set="s2"), insight("a3", 1, ad_set="s2")],
    )
    win = DateWindow(DAY0, DAY0 + timedelta(days=6))
    by_set = warehouse.read_performance(PerformanceQuery(win, Grain.AD_SET, by_day=False), reporting_currency="USD")
    assert {r.key["ad_set_id"]: r.impressions for r in by_set} == {"s1": 1000, "s2": 2000}
    only = warehouse.read_performance(
        PerformanceQuery(win, Grain.AD, ad_set_ids=("s2",), ad_ids=("a3",)), reporting_currency="USD"
    )
    assert [(r.key["ad_id"], r.day) for r in only] == [("a3", DAY0 + timedelta(days=1))]


# -- bookmarks, audit, fx, maintenance -------------------------------------------------------------------
def test_bookmarks_round_trip_and_overwrite(warehouse: SqlWarehouse) -> None:
    assert warehouse.get_bookmark(Platform.META, "act_1", "insights") is None
    b = Bookmark(Platform.META, "act_1", "insights", {"through": "2026-03-01", "pages": [1, 2]}, T0)
    warehouse.set_bookmark(b)
    assert warehouse.get_bookmark(Platform.META, "act_1", "insights") == b
    b2 = Bookmark(Platform.META, "act_1", "insights", {"through": "2026-03-02"}, T0 + timedelta(hours=1))
    warehouse.set_bookmark(b2)
    assert warehouse.get_bookmark(Platform.META, "act_1", "insights") == b2
    assert warehouse.get_bookmark(Platform.X, "act_1", "insights") is None


def test_audit_appends_and_reads_newest_first(warehouse: SqlWarehouse) -> None:
    events = [AuditEvent(T0 + timedelta(minutes=i), "agent", "action.applied", f"s{i}", {"i": i}) for i in range(3)]
    assert warehouse.append_audit(events) == 3
    warehouse.append_audit([AuditEvent(T0, "alice", "action.approved", "s9", {"note": "ok"})])
    got = warehouse.read_audit(limit=10, kind="action.applied")
    assert [e.subject for e in got] == ["s2", "s1", "s0"]
    assert got[0] == events[2]
    assert len(warehouse.read_audit(limit=2)) == 2
    assert (warehouse.count_audit("action.applied"), warehouse.count_audit("action.approved")) == (3, 1)
    assert warehouse.count_audit("nothing.such") == 0


def test_fx_rates_upsert(warehouse: SqlWarehouse) -> None:
    warehouse.put_fx_rates([FxRate(DAY0, "EUR", "USD", Decimal("1.1"))])
    warehouse.put_fx_rates([FxRate(DAY0, "EUR", "USD", Decimal("1.123456789012"))])
    assert warehouse.fx_rates() == [FxRate(DAY0, "EUR", "USD", Decimal("1.123456789012"))]


def test_clear_synced_data_keeps_bookmarks_audit_fx_and_others_history(warehouse: SqlWarehouse) -> None:
    warehouse.upsert_entities([ad_set()], source="sync", at=T0)
    warehouse.upsert_entities([ad_set(9000)], source="agent:budget", at=T0 + timedelta(hours=1))
    replace(warehouse, window(), [insight("a1", 0)])
    warehouse.set_bookmark(Bookmark(Platform.META, "act_1", "insights", {}, T0))
    warehouse.append_audit([AuditEvent(T0, "me", "k", "s")])
    warehouse.put_fx_rates([FxRate(DAY0, "EUR", "USD", Decimal("1.1"))])
    warehouse.clear_synced_data()
    stats = warehouse.stats().tables
    assert stats["ad_sets"] == stats["insights"] == 0
    assert stats["sync_state"] == stats["audit_log"] == stats["fx_rates"] == stats["entity_changes"] == 1
    (kept,) = warehouse.entity_history(Platform.META, Level.AD_SET, "s1")
    assert (kept.source, kept.old_value, kept.new_value) == ("agent:budget", "5000", "9000")


def test_connections_round_trip(warehouse: SqlWarehouse) -> None:
    rec = ConnectionRecord(Platform.X, "18ce54d4x5t", "Shop X", "http://127.0.0.1:8800", "gAAAA-cipher", "ok", None, T0)
    warehouse.save_connection(rec)
    assert warehouse.connections() == [rec]
    warehouse.set_connection_status(Platform.X, "18ce54d4x5t", "auth_failed", "token revoked")
    (got,) = warehouse.connections(Platform.X)
    assert (got.status, got.last_error, got.credentials) == ("auth_failed", "token revoked", "gAAAA-cipher")
    assert warehouse.connections(Platform.META) == []
    assert warehouse.delete_connection(Platform.X, "18ce54d4x5t") is True
    assert warehouse.delete_connection(Platform.X, "18ce54d4x5t") is False


def test_stats(warehouse: SqlWarehouse) -> None:
    replace(warehouse, window(), [insight("a1", 0), insight("a1", 3)])
    stats = warehouse.stats()
    assert stats.schema_version == LATEST_VERSION
    assert stats.tables["insights"] == 2
    assert stats.insight_days == (DAY0, DAY0 + timedelta(days=3))
