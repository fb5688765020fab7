"""A warehouse rebuilt from the lake, with no network, equals the one the live sync wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from adpilot.bootstrap import Container
from adpilot.config import load_settings
from adpilot.domain import DateWindow, InsightWindow, Level, Platform
from adpilot.lake import Lake
from adpilot.services import rebuild_warehouse
from adpilot.sync.runner import SyncEngine
from adpilot.warehouse._sql import SqlWarehouse
from adpilot.warehouse.duckdb import DuckDBWarehouse
from tests.harness import PLATFORMS, Harness, connection_for


@pytest.mark.parametrize("platform", PLATFORMS)
def test_rebuild_equals_the_live_sync(
    harness: Harness, warehouse: SqlWarehouse, platform: Platform, tmp_path: Path
) -> None:
    m = harness.sandbox.market
    lake = Lake(tmp_path / "lake")
    engine = SyncEngine(warehouse, lake, clock=lambda: m.now, backfill_days=m.day)
    account = connection_for(harness.sandbox, platform).account_id
    harness.run(engine.sync_account(harness.adapter(platform), account))
    m.advance(2)
    harness.run(engine.sync_account(harness.adapter(platform), account))

    rebuilt = DuckDBWarehouse(tmp_path / "rebuilt.duckdb")
    rebuilt.migrate()
    mappers = Container(load_settings()).page_mappers()
    report = rebuild_warehouse(rebuilt, lake, mappers)
    assert report.commits >= 4 and report.insight_rows > 0

    window = InsightWindow(platform, account, DateWindow(m.date_of(0), m.date_of(m.day - 1)))
    assert rebuilt.read_insights(window) == warehouse.read_insights(window)
    for level in (Level.CAMPAIGN, Level.AD_SET, Level.AD):
        assert rebuilt.get_entities(level, platform) == warehouse.get_entities(level, platform)
