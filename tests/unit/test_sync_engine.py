"""The sync engine against a fake platform: windows, bookmarks, lookback, isolation, quarantine, resume."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adpilot.domain import (
    Ad,
    AdAccount,
    AdSet,
    Campaign,
    DailyInsight,
    DateWindow,
    EntityRef,
    InsightWindow,
    Level,
    Money,
    Platform,
    Status,
)
from adpilot.lake import Lake
from adpilot.platforms.errors import AccountFatal, MalformedPage
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.platform import EntitySnapshot, PageSink, RawPage
from adpilot.sync.runner import SyncEngine
from adpilot.warehouse.duckdb import DuckDBWarehouse

TODAY = date(2026, 3, 10)


class FakePlatform:
    """One account, two ads; a day's conversions grow with the days that passed since (restatement)."""

    platform = Platform.META

    def __init__(self) -> None:
        self.today = TODAY
        self.fail_on: date | None = None
        self.malformed_on: date | None = None
        self.revoked = False
        self.calls: list[DateWindow] = []
        self.account = AdAccount(Platform.META, "act_1", "Shop", "EUR", "Europe/Berlin")

    async def accounts(self) -> list[AdAccount]:
        if self.revoked:
            raise AccountFatal("meta", "token revoked: reconnect with `adpilot accounts connect meta`", code=190)
        return [self.account]

    async def entities(self, account: AdAccount, sink: PageSink) -> EntitySnapshot:
        sink(RawPage("entities", self.today, {"url": "/ads"}, 200, {"data": ["a1", "a2"]}))
        camp = Campaign(Platform.META, "act_1", "c1", "C", Status.ACTIVE, "ACTIVE", "EUR")
        ad_set = AdSet(Platform.META, "act_1", "c1", "s1", "S", Status.ACTIVE, "ACTIVE", "EUR", Money("EUR", 5000))
        ads = [Ad(Platform.META, "act_1", "c1", "s1", a, a, Status.ACTIVE, "ACTIVE") for a in ("a1", "a2")]
        return EntitySnapshot(account, [camp], [ad_set], ads)

    def value(self, ad: str, day: date) -> int:
        age = (self.today - day).days
        return (3 if ad == "a1" else 5) * min(age, 7)

    async def insights(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightBatch:
        self.calls.append(window)
        if self.fail_on in window:
            raise RuntimeError("killed mid-sync")
        body = {"rows": [[ad, d.isoformat()] for d in window for ad in ("a1", "a2")]}
        sink(RawPage("insights", window.start, {"window": str(window)}, 200, body))
        if self.malformed_on in window:
            raise MalformedPage("meta", "spend: not a number", stream="insights", body=body, request={})
        rows = [
            DailyInsight(
                Platform.META,
                "act_1",
                "c1",
                "s1",
                ad,
                d,
                100,
                5,
                Money("EUR", 250),
                Decimal(self.value(ad, d)),
                Money("EUR", 1000),
                "7d_click",
            )
            for d in window
            for ad in ("a1", "a2")
        ]
        return InsightBatch.from_insights(InsightWindow(Platform.META, "act_1", window), rows)

    async def live_state(self, ref: EntityRef) -> None: ...


def engine(tmp_path: Path, fake: FakePlatform, name: str = "w") -> tuple[SyncEngine, DuckDBWarehouse]:
    wh = DuckDBWarehouse(tmp_path / f"{name}.duckdb")
    wh.migrate()
    clock = lambda: datetime.combine(fake.today, datetime.min.time(), UTC) + timedelta(hours=12)  # noqa: E731
    return SyncEngine(wh, Lake(tmp_path / f"{name}-lake"), clock=clock, backfill_days=20, chunk_days=7), wh


def all_rows(wh: DuckDBWarehouse) -> list[DailyInsight]:
    return wh.read_insights(InsightWindow(Platform.META, "act_1", DateWindow(date(2025, 1, 1), date(2027, 1, 1))))


def test_backfill_then_incremental_rereads_restated_days(tmp_path: Path) -> None:
    fake = FakePlatform()
    eng, wh = engine(tmp_path, fake)
    results = asyncio.run(eng.sync_account(fake, "act_1"))  # type: ignore[arg-type]
    assert [(r.stream, r.status) for r in results] == [("entities", "ok"), ("insights", "ok")]
    assert results[1].rows == 2 * 20 and results[1].windows == 3
    assert wh.get_bookmark(Platform.META, "act_1", "insights").state["through"] == "2026-03-09"  # type: ignore[union-attr]
    assert len(wh.get_entities(Level.AD)) == 2
    fake.today = TODAY + timedelta(days=2)
    asyncio.run(eng.sync_account(fake, "act_1"))  # type: ignore[arg-type]
    rows = {(r.ad_id, r.day): r.conversions for r in all_rows(wh)}
    assert len(rows) == 2 * 22
    yesterday = fake.today - timedelta(days=1)
    assert rows[("a1", yesterday)] == 3 and rows[("a1", TODAY - timedelta(days=1))] == 9  # restated upward
    # the 28-day lookback reaches before the backfill start, so the re-read starts where the backfill did
    assert fake.calls[-1].end == yesterday and fake.calls[3].start == TODAY - timedelta(days=20)


def test_revoked_token_stops_only_that_account(tmp_path: Path) -> None:
    good, bad = FakePlatform(), FakePlatform()
    bad.revoked = True
    eng, _wh = engine(tmp_path, good)
    results = asyncio.run(eng.sync_many([(bad, "act_1"), (good, "act_1")]))  # type: ignore[list-item]
    statuses = [(r.stream, r.status) for r in results]
    assert ("account", "auth_failed") in statuses and ("insights", "ok") in statuses
    failed = next(r for r in results if r.status == "auth_failed")
    assert "reconnect" in failed.message


def test_malformed_page_is_quarantined_and_the_window_kept(tmp_path: Path) -> None:
    fake = FakePlatform()
    eng, wh = engine(tmp_path, fake)
    asyncio.run(eng.sync_account(fake, "act_1"))  # type: ignore[arg-type]
    before = all_rows(wh)
    fake.today = TODAY + timedelta(days=1)
    fake.malformed_on = TODAY - timedelta(days=20)  # inside the first lookback window
    results = asyncio.run(eng.sync_account(fake, "act_1"))  # type: ignore[arg-type]
    insights = results[1]
    assert insights.status == "skipped" and insights.quarantined == 1 and "spend: not a number" in insights.message
    assert all_rows(wh) == before  # nothing half-written
    assert eng.lake is not None and eng.lake.stats()["quarantined"] == 1
    assert wh.get_bookmark(Platform.META, "act_1", "insights").state["through"] == "2026-03-09"  # type: ignore[union-attr]


def test_an_interrupted_sync_resumes_to_the_same_state(tmp_path: Path) -> None:
    clean = FakePlatform()
    eng, wh_clean = engine(tmp_path, clean, "clean")
    asyncio.run(eng.sync_account(clean, "act_1"))  # type: ignore[arg-type]

    broken = FakePlatform()
    broken.fail_on = TODAY - timedelta(days=5)
    eng2, wh = engine(tmp_path, broken, "broken")
    with pytest.raises(RuntimeError, match="killed"):
        asyncio.run(eng2.sync_account(broken, "act_1"))  # type: ignore[arg-type]
    assert 0 < len(all_rows(wh)) < len(all_rows(wh_clean))
    broken.fail_on = None
    asyncio.run(eng2.sync_account(broken, "act_1"))  # type: ignore[arg-type]
    assert all_rows(wh) == all_rows(wh_clean)
