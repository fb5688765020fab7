"""Raw pages are written by background threads, but a window reaches the warehouse only once all of its pages
are in the lake, and a page that cannot be written fails the window as it did when pages were written inline."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adpilot.domain import AdAccount, DailyInsight, DateWindow, InsightWindow, Money, Platform
from adpilot.lake import Lake
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.lake import PageKey
from adpilot.ports.platform import EntitySnapshot, PageSink, RawPage
from adpilot.sync.runner import SyncEngine
from adpilot.warehouse.duckdb import DuckDBWarehouse

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
PAGES = 7


class SlowLake(Lake):
    """A lake whose writes take a while (and may fail), recording what is written and from which thread."""

    def __init__(self, root: Path, fail_seq: int | None = None) -> None:
        super().__init__(root)
        self.fail_seq = fail_seq
        self.written: list[int] = []
        self.threads: set[str] = set()

    def write_page(self, key: PageKey, body: Any, *, request: Any = None, status: int = 200) -> Path:
        time.sleep(0.01)
        if key.seq == self.fail_seq:
            raise OSError("disk full")
        path = super().write_page(key, body, request=request, status=status)
        self.written.append(key.seq)
        self.threads.add(threading.current_thread().name)
        return path


class PagedPlatform:
    """One account whose insights come in several pages."""

    platform = Platform.META

    def __init__(self) -> None:
        self.account = AdAccount(Platform.META, "act_1", "Shop", "EUR", "Europe/Berlin")

    async def accounts(self) -> list[AdAccount]:
        return [self.account]

    async def entities(self, account: AdAccount, sink: PageSink) -> EntitySnapshot:
        return EntitySnapshot(account)

    async def insights(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightBatch:
        for i in range(PAGES):
            sink(RawPage("insights", window.start, {"page": i}, 200, {"data": [i] * 100}))
            await asyncio.sleep(0)
        rows = [
            DailyInsight(
                Platform.META, "act_1", "c1", "s1", "a1", d, 10, 1, Money("EUR", 100), Decimal(0), Money("EUR", 0)
            )
            for d in window
        ]
        return InsightBatch.from_insights(InsightWindow(Platform.META, "act_1", window), rows)


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    wh.migrate()
    return wh


def test_a_window_reaches_the_warehouse_after_all_its_pages(tmp_path: Path, warehouse: DuckDBWarehouse) -> None:
    lake = SlowLake(tmp_path / "lake")
    engine = SyncEngine(warehouse, lake, clock=lambda: NOW, backfill_days=3, chunk_days=3)
    seen_at_write: list[list[int]] = []
    replace = warehouse.replace_insights

    def replace_and_record(batch: InsightBatch) -> int:
        seen_at_write.append(sorted(lake.written))
        return replace(batch)

    warehouse.replace_insights = replace_and_record  # type: ignore[method-assign]
    results = asyncio.run(engine.sync_account(PagedPlatform(), "act_1", streams=("insights",)))
    assert [r.status for r in results] == ["ok"] and results[0].pages == PAGES
    assert seen_at_write == [list(range(1, PAGES + 1))]  # every page was in the lake before the warehouse write
    assert lake.threads and not lake.threads & {threading.main_thread().name}  # written off the event loop
    (commit,) = list(lake.commits())
    assert [int(Path(p).name.split("-")[-1].split(".")[0]) for p in commit.pages] == list(range(1, PAGES + 1))


def test_a_page_that_cannot_be_written_fails_the_window(tmp_path: Path, warehouse: DuckDBWarehouse) -> None:
    lake = SlowLake(tmp_path / "lake", fail_seq=2)
    engine = SyncEngine(warehouse, lake, clock=lambda: NOW, backfill_days=3, chunk_days=3)
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(engine.sync_account(PagedPlatform(), "act_1", streams=("insights",)))
    assert (
        warehouse.read_insights(InsightWindow(Platform.META, "act_1", DateWindow(date(2026, 3, 1), NOW.date()))) == []
    )
    assert warehouse.get_bookmark(Platform.META, "act_1", "insights") is None
    assert list(lake.commits()) == []
