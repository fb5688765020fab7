"""``adpilot bench sync``: full backfill of three platforms from the in-process sandbox, then a daily run.

Everything a real sync does is timed: requests through each platform's adapter (paging, async report
jobs, retries), raw pages written compressed to the lake, mapping, validation and window replacement in
the warehouse. The sandbox serves from the same process, so its own work is inside the wall time too.
Poll sleeps are skipped: the sandbox's report jobs advance per poll, not per second.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from adpilot.lake import Lake
from adpilot.platforms._http import CallStats
from adpilot.sync.runner import SyncEngine
from adpilot.sync.service import run_sync
from adpilot.warehouse._sql import SqlWarehouse

GOALS: dict[str, dict[str, float]] = {
    "duckdb": {"ad_days_per_s": 50_000, "incremental_seconds": 30, "peak_rss_mb": 1536},
    "postgres": {"ad_days_per_s": 30_000, "incremental_seconds": 30, "peak_rss_mb": 1536},
}


async def _no_sleep(seconds: float) -> None:
    return None


def _open(engine: str, postgres_url: str, workdir: str) -> SqlWarehouse:
    if engine == "duckdb":
        from adpilot.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(Path(workdir) / "bench.duckdb")
    from adpilot.warehouse.postgres import PostgresWarehouse

    return PostgresWarehouse(postgres_url, schema=f"adpilot_bench_sync_{os.getpid()}")


def run_engine(engine: str, ads: int, days: int, postgres_url: str) -> dict[str, Any]:
    """The whole benchmark for one engine; meant to run in its own process."""
    from adpilot_sandbox.app import create_app
    from adpilot_sandbox.generate import synthetic_scenario
    from adpilot_sandbox.sandbox import Sandbox

    # X's wall-clock request windows (e.g. 100 stats jobs a minute) would turn this into a test of waiting;
    # honouring them is covered by the fault tests.
    sandbox = Sandbox(synthetic_scenario(ads_per_platform=ads, history_days=days), rate_limits=False)
    m = sandbox.market
    app = create_app(sandbox)
    # The simulated market (days of delivery records, every entity) lives in this process only because the
    # sandbox serves from here; in production it is another service. Freeze it out of the cyclic garbage
    # collector, whose full passes would otherwise walk it again and again during the sync.
    gc.collect()
    gc.freeze()
    try:
        connections = connections_for(sandbox)
        with tempfile.TemporaryDirectory(prefix="adpilot-bench-sync-") as workdir:
            wh = _open(engine, postgres_url, workdir)
            try:
                wh.migrate()
                engine_ = SyncEngine(wh, Lake(Path(workdir) / "lake"), clock=lambda: m.now, backfill_days=days)

                async def once() -> tuple[float, int, CallStats, list[str]]:
                    transport = httpx.ASGITransport(app=app)
                    async with httpx.AsyncClient(
                        transport=transport, base_url="http://sandbox.bench", timeout=600
                    ) as c:
                        t0 = time.perf_counter()
                        summary = await run_sync(
                            engine_, connections, client=c, adapter_options={"sleep": _no_sleep, "poll_interval": 0}
                        )
                        seconds = time.perf_counter() - t0
                    stats = CallStats()
                    for s in summary.stats.values():
                        stats.add(s)
                    rows = sum(r.rows for r in summary.results if r.stream == "insights")
                    problems = [
                        f"{r.platform}/{r.account_id}/{r.stream}: {r.status} {r.message}"
                        for r in summary.results
                        if r.status != "ok"
                    ]
                    return seconds, rows, stats, problems

                full_s, full_rows, full_stats, problems = asyncio.run(once())
                m.advance(1)
                inc_s, inc_rows, inc_stats, inc_problems = asyncio.run(once())
                total = wh.stats().tables["insights"]
            finally:
                if engine == "postgres":
                    wh.drop_schema()  # type: ignore[attr-defined]
                wh.close()
    finally:
        gc.unfreeze()
    expected = sum(len(m.reported(a.platform, a.id, 0, m.day - 1)["ads"]) for a in m.accounts.values())
    return {
        "engine": engine,
        "ads_per_platform": ads,
        "days": days,
        "backfill_ad_days": full_rows,
        "backfill_seconds": round(full_s, 2),
        "ad_days_per_s": round(full_rows / full_s) if full_s else None,
        "backfill_requests": full_stats.requests,
        "backfill_retries": full_stats.retries,
        "incremental_ad_days": inc_rows,
        "incremental_seconds": round(inc_s, 2),
        "incremental_requests": inc_stats.requests,
        "rows_in_warehouse": total,
        "rows_expected": expected,
        "problems": problems + inc_problems,
    }


def check_goals(result: dict[str, Any]) -> list[str]:
    goals = GOALS[result["engine"]]
    misses = []
    if (result["ad_days_per_s"] or 0) < goals["ad_days_per_s"]:
        misses.append(f"{result['ad_days_per_s']:,} ad-days/s < {goals['ad_days_per_s']:,.0f}")
    if result["incremental_seconds"] > goals["incremental_seconds"]:
        misses.append(f"incremental {result['incremental_seconds']} s > {goals['incremental_seconds']:.0f} s")
    if result["peak_rss_mb"] > goals["peak_rss_mb"]:
        misses.append(f"peak RSS {result['peak_rss_mb']} MiB > {goals['peak_rss_mb']:.0f}")
    if result["rows_in_warehouse"] != result["rows_expected"]:
        misses.append(f"{result['rows_in_warehouse']:,} rows stored, {result['rows_expected']:,} expected")
    if result["problems"]:
        misses.append("; ".join(result["problems"][:3]))
    return misses


def connections_for(sandbox: Any) -> list[Any]:
    """One connection per sandbox account, credentials as the sandbox lists them."""
    from adpilot.accounts import CREDENTIAL_KEYS
    from adpilot.domain.ids import Platform
    from adpilot.ports.platform import Connection

    out: list[Any] = []
    for platform in Platform:
        creds = dict(sandbox.auth.credentials()[str(platform)])
        accounts = creds.pop("accounts")
        required, optional = CREDENTIAL_KEYS[platform]
        picked = {k: str(creds[k]) for k in (*required, *optional) if creds.get(k)}
        out.extend(Connection(platform, a, a, "http://sandbox.bench", picked) for a in accounts)
    return out
