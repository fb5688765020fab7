"""A malformed platform payload is quarantined with the reason, counted, and never half-written."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from adpilot.domain import DateWindow, InsightWindow, Platform
from adpilot.lake import Lake
from adpilot.sync.runner import SyncEngine
from adpilot.warehouse._sql import SqlWarehouse
from tests.harness import PLATFORMS, Harness, connection_for

REPORT_PATHS = ("/insights", "report/integrated/get", "/stats/accounts/")
IMPRESSIONS = re.compile(rb'("impressions":\s*\[?)"?\d+"?')


class Corrupting(httpx.AsyncBaseTransport):
    """Passes traffic to the sandbox, but breaks the impressions of the first report page it sees."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.corrupted = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if self.corrupted == 0 and any(p in request.url.path for p in REPORT_PATHS) and IMPRESSIONS.search(body):
            body = IMPRESSIONS.sub(rb'\1"oops"', body, count=1)
            self.corrupted += 1
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_malformed_report_page_is_quarantined(
    harness: Harness, warehouse: SqlWarehouse, platform: Platform, tmp_path: Path
) -> None:
    m = harness.sandbox.market
    transport = Corrupting(harness.client._transport)  # type: ignore[attr-defined]
    harness.client._transport = transport  # type: ignore[attr-defined]
    lake = Lake(tmp_path / "lake")
    engine = SyncEngine(warehouse, lake, clock=lambda: m.now, backfill_days=14, chunk_days=7)
    account = connection_for(harness.sandbox, platform).account_id
    results = harness.run(engine.sync_account(harness.adapter(platform), account))
    insights = next(r for r in results if r.stream == "insights")
    assert transport.corrupted == 1
    assert insights.status == "skipped" and insights.quarantined == 1
    assert "impressions" in insights.message
    assert lake.stats()["quarantined"] == 1
    window = InsightWindow(platform, account, DateWindow(m.date_of(0), m.date_of(m.day - 1)))
    assert warehouse.read_insights(window) == []  # the broken window and the ones after it wait
    assert warehouse.get_bookmark(platform, account, "insights") is None

    results = harness.run(engine.sync_account(harness.adapter(platform), account))  # the next run recovers
    assert [r.status for r in results] == ["ok", "ok"]
    truth = {(t["ad_id"], t["date"]) for t in m.truth(str(platform)) if t["date"] >= m.date_of(m.day - 14).isoformat()}
    assert {(r.ad_id, r.day.isoformat()) for r in warehouse.read_insights(window)} == truth
