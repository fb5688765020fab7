"""A sync through the real adapters into both warehouse engines equals the sandbox's ground truth."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adpilot.domain import AdSet, DateWindow, FxRate, FxTable, InsightWindow, Level, Money, Platform
from adpilot.domain.entities import LearningStatus
from adpilot.lake import Lake
from adpilot.ports.warehouse import Grain, PerformanceQuery
from adpilot.sync.runner import SyncEngine
from adpilot.warehouse._sql import SqlWarehouse
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.scenario import load_scenario
from tests.harness import PLATFORMS, Harness, connection_for


def sync(h: Harness, wh: SqlWarehouse, platform: Platform, lake: Path, **kw: Any) -> list[Any]:
    m = h.sandbox.market
    engine = SyncEngine(wh, Lake(lake), clock=lambda: m.now, backfill_days=m.day)
    adapter = h.adapter(platform, **kw)
    account = connection_for(h.sandbox, platform).account_id
    return h.run(engine.sync_account(adapter, account))


def warehouse_rows(wh: SqlWarehouse, h: Harness, platform: Platform) -> dict[tuple[str, str], tuple[int, ...]]:
    m = h.sandbox.market
    account = connection_for(h.sandbox, platform).account_id
    rows = wh.read_insights(InsightWindow(platform, account, DateWindow(m.date_of(0), m.date_of(m.day - 1))))
    return {
        (r.ad_id, r.day.isoformat()): (
            r.impressions,
            r.clicks,
            r.spend.minor,
            int(r.conversions),
            r.conversion_value.minor,
        )
        for r in rows
    }


def truth_rows(h: Harness, platform: Platform) -> dict[tuple[str, str], tuple[int, ...]]:
    return {
        (t["ad_id"], t["date"]): (
            t["impressions"],
            t["clicks"],
            t["spend_minor"],
            t["reported_conversions"],
            t["reported_value_minor"],
        )
        for t in h.sandbox.market.truth(str(platform))
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_sync_equals_ground_truth_then_follows_restatement(
    harness: Harness, warehouse: SqlWarehouse, platform: Platform, tmp_path: Path
) -> None:
    results = sync(harness, warehouse, platform, tmp_path / "lake")
    assert [r.status for r in results] == ["ok", "ok"], results
    assert warehouse_rows(warehouse, harness, platform) == truth_rows(harness, platform)
    harness.sandbox.market.advance(3)
    sync(harness, warehouse, platform, tmp_path / "lake")
    assert warehouse_rows(warehouse, harness, platform) == truth_rows(harness, platform)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_reporting_currency_is_exact(
    harness: Harness, warehouse: SqlWarehouse, platform: Platform, tmp_path: Path
) -> None:
    m = harness.sandbox.market
    sync(harness, warehouse, platform, tmp_path / "lake")
    rates = [FxRate(m.scenario.start_date, cur, "USD", Decimal(str(r))) for cur, r in m.scenario.fx_rates.items()]
    warehouse.put_fx_rates(rates)
    fx = FxTable.build("USD", rates)
    window = DateWindow(m.date_of(0), m.date_of(m.day - 1))
    perf = warehouse.read_performance(
        PerformanceQuery(window, Grain.AD, platforms=(platform,)), reporting_currency="USD"
    )
    truth = {(t["ad_id"], t["date"]): t for t in m.truth(str(platform))}
    assert len(perf) == len(truth)
    for row in perf:
        assert row.day is not None
        t = truth[(str(row.key["ad_id"]), row.day.isoformat())]
        assert row.spend == Money(t["currency"], t["spend_minor"])
        assert row.spend_reporting == fx.convert(Money(t["currency"], t["spend_minor"]), row.day)


FAULTS = {
    "server_error": 0.15,
    "throttle": 0.15,
    "truncate": 0.25,
    "repeat": 0.15,
    "async_fail": 0.3,
    "async_stall": 0.1,
    "reduce_data": 0.1,
}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_sync_under_faults_equals_one_without(
    harness: Harness, warehouse: SqlWarehouse, platform: Platform, tmp_path: Path
) -> None:
    clean_h = Harness(Sandbox(load_scenario("demo")))
    try:
        from adpilot.warehouse.duckdb import DuckDBWarehouse

        clean_wh = DuckDBWarehouse(tmp_path / "clean.duckdb")
        clean_wh.migrate()
        sync(clean_h, clean_wh, platform, tmp_path / "clean-lake")
        expected = warehouse_rows(clean_wh, clean_h, platform)
        clean_wh.close()
    finally:
        clean_h.close()
    spec = harness.sandbox.faults.spec(str(platform))
    spec.update(FAULTS)
    spec.update({"revoke_after": 6, "restore_after": 9})  # the token dies mid-sync and comes back later
    first = sync(harness, warehouse, platform, tmp_path / "lake")
    for _ in range(5):
        if all(r.status == "ok" for r in first):
            break
        harness.sandbox.before_request(str(platform))  # time passes: the token comes back at request 9
        first = sync(harness, warehouse, platform, tmp_path / "lake")
    assert warehouse_rows(warehouse, harness, platform) == expected


def test_meta_learning_phase_reaches_the_warehouse(warehouse: SqlWarehouse, tmp_path: Path) -> None:
    """Meta's learning_stage_info, through the adapter, lands in ad_sets.learning and follows the market: learned,
    back to learning after a significant budget edit, limited a window later; none while paused."""
    scenario = load_scenario("demo")
    meta = scenario.platform("meta").model_copy(update={"learning_events": 15})  # the demo's ad sets get there
    h = Harness(Sandbox(scenario.model_copy(update={"platforms": {**scenario.platforms, "meta": meta}})))
    m = h.sandbox.market

    def learning() -> dict[str, LearningStatus | None]:
        sets = warehouse.get_entities(Level.AD_SET, Platform.META)
        return {s.name: s.learning for s in sets if isinstance(s, AdSet)}

    try:
        sync(h, warehouse, Platform.META, tmp_path / "lake")
        assert learning() == dict.fromkeys(
            ("Broad 25-54", "Interests outdoor", "Site visitors 30d"), LearningStatus.LEARNED
        )
        broad, interests, _ = m.ad_sets_of("meta", "1000000001")
        m.set_budget(broad.id, broad.daily_budget_minor // 2)  # a significant edit: learning starts over
        m.set_status(interests.id, "PAUSED")
        sync(h, warehouse, Platform.META, tmp_path / "lake")
        expected = {"Broad 25-54": LearningStatus.LEARNING, "Interests outdoor": None}
        assert learning() == {**expected, "Site visitors 30d": LearningStatus.LEARNED}
        m.advance(7)  # a whole window at half the budget is not enough
        sync(h, warehouse, Platform.META, tmp_path / "lake")
        expected = {"Broad 25-54": LearningStatus.LIMITED, "Interests outdoor": None}
        assert learning() == {**expected, "Site visitors 30d": LearningStatus.LEARNED}
    finally:
        h.close()
