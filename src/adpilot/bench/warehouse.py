"""``adpilot bench warehouse``: bulk load and window replacement on DuckDB and PostgreSQL, and the action ledger.

Loads ``ads × days`` synthetic ad-day rows (default 50,000 × 20 = 1,000,000) as consecutive window
replacements, then replaces the last 7 days for every ad (350,000 rows) a few times. Then the ledger: records
``actions`` budget changes in one batch and moves each through the executor's path (approved → applying →
applied, each move a compare-and-set with its audit entry), as an agent cycle that applies them does.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from adpilot.domain.actions import SetBudget
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import ActionState, ApprovalMode, new_record
from adpilot.domain.metrics import DateWindow, InsightWindow
from adpilot.domain.money import Money
from adpilot.ports.insight_batch import CONVERSIONS_TYPE, InsightBatch
from adpilot.warehouse._sql import SqlWarehouse

START = date(2026, 1, 1)
ACCOUNT = "act_bench"
# Ledger: a cycle of 1,000 actions (an agency's accounts on a busy morning) spends at most 20 s on its two moves each.
GOALS: dict[str, dict[str, float]] = {
    "duckdb": {"load_rows_per_s": 500_000, "replace_seconds": 2.0, "peak_rss_mb": 1024, "ledger_moves_per_s": 100},
    "postgres": {"load_rows_per_s": 100_000, "peak_rss_mb": 1024, "ledger_moves_per_s": 100},
}


def synthetic_batch(ads: int, first_day: date, days: int, seed: int) -> InsightBatch:
    """Insight rows for every ad on every day of a window, from a seeded generator."""
    window, columns = synthetic_columns(ads, first_day, days, seed)
    return InsightBatch.from_columns(window, columns)


def synthetic_columns(ads: int, first_day: date, days: int, seed: int) -> tuple[InsightWindow, dict[str, Any]]:
    """The raw columns of :func:`synthetic_batch`, before validation."""
    rng = np.random.default_rng(seed)
    n = ads * days
    ad_idx = np.tile(np.arange(ads), days)
    ad_ids = pa.array([f"{i:08d}" for i in range(ads)])
    impressions = rng.integers(0, 20_000, n)
    clicks = rng.binomial(impressions, 0.012)
    conversions = rng.binomial(clicks, 0.05)
    window = InsightWindow(Platform.META, ACCOUNT, DateWindow(first_day, first_day + timedelta(days=days - 1)))
    return (
        window,
        {
            "platform": pa.array(np.full(n, "meta", dtype=object), pa.string()),
            "account_id": pa.array(np.full(n, ACCOUNT, dtype=object), pa.string()),
            "campaign_id": pa.array([f"c{i:06d}" for i in range(ads // 50 + 1)]).take(pa.array(ad_idx // 50)),
            "ad_set_id": pa.array([f"s{i:07d}" for i in range(ads // 5 + 1)]).take(pa.array(ad_idx // 5)),
            "ad_id": ad_ids.take(pa.array(ad_idx)),
            "day": pa.array(np.repeat(np.datetime64(first_day, "D") + np.arange(days), ads)),
            "impressions": impressions,
            "clicks": clicks,
            "spend_minor": rng.integers(0, 50_000, n),
            "currency": pa.array(np.full(n, "USD", dtype=object), pa.string()),
            "conversions": pa.array(conversions).cast(pa.decimal128(25, 6)).cast(CONVERSIONS_TYPE),
            "conversion_value_minor": conversions * rng.integers(1_000, 9_000, n),
            "attribution_setting": pa.array(np.full(n, "7d_click,1d_view", dtype=object), pa.string()),
        },
    )


def _open(engine: str, postgres_url: str, workdir: str) -> SqlWarehouse:
    if engine == "duckdb":
        from adpilot.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(Path(workdir) / "bench.duckdb")
    from adpilot.warehouse.postgres import PostgresWarehouse

    return PostgresWarehouse(postgres_url, schema=f"adpilot_bench_{os.getpid()}")


def ledger_run(wh: SqlWarehouse, actions: int) -> dict[str, Any]:
    """Record ``actions`` budget changes at once, then move each approved → applying → applied, as the
    executor does (before and after values included): the seconds of each part and the moves per second."""
    now = datetime(2026, 1, 1, 6, tzinfo=UTC)
    records = [
        new_record(
            SetBudget(
                target=EntityRef(Platform.META, ACCOUNT, Level.AD_SET, f"s{i:07d}"),
                new_budget=Money("USD", 10_000 + i),
                reason="bench: a budget change",
                idempotency_key=f"bench-ledger-{i}",
            ),
            cycle_id="bench",
            policy="budget",
            mode=ApprovalMode.AUTO,
            now=now,
        )
        for i in range(actions)
    ]
    t0 = time.perf_counter()
    recorded = wh.record_actions(records)
    record_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    moved = 0
    before, after = {"daily_budget_minor": 9_000}, {"daily_budget_minor": 10_000}
    for r in records:
        claimed = wh.transition_action(r.action_id, [ActionState.APPROVED], ActionState.APPLYING, before=before)
        done = wh.transition_action(r.action_id, [ActionState.APPLYING], ActionState.APPLIED, after=after)
        moved += (claimed is not None) + (done is not None)
    move_seconds = time.perf_counter() - t0
    if recorded != actions or moved != 2 * actions:
        raise RuntimeError(f"ledger: recorded {recorded} of {actions}, moved {moved} of {2 * actions}")
    return {
        "ledger_actions": actions,
        "ledger_record_seconds": round(record_seconds, 3),
        "ledger_move_seconds": round(move_seconds, 3),
        "ledger_moves_per_s": round(moved / move_seconds),
    }


def run_engine(
    engine: str, ads: int, days: int, load_window_days: int, replaces: int, postgres_url: str, actions: int = 500
) -> dict[str, Any]:
    """The whole benchmark for one engine; meant to run in its own process."""
    with tempfile.TemporaryDirectory(prefix="adpilot-bench-") as workdir:
        wh = _open(engine, postgres_url, workdir)
        try:
            wh.migrate()
            loaded = 0
            load_seconds = 0.0
            for offset in range(0, days, load_window_days):
                span = min(load_window_days, days - offset)
                window, columns = synthetic_columns(ads, START + timedelta(days=offset), span, seed=offset)
                t0 = time.perf_counter()  # validation counts: it is part of every load
                loaded += wh.replace_insights(InsightBatch.from_columns(window, columns))
                load_seconds += time.perf_counter() - t0
            replace_times = []
            replaced = 0
            for i in range(replaces):
                window, columns = synthetic_columns(ads, START + timedelta(days=days - 7), 7, seed=1000 + i)
                t0 = time.perf_counter()
                replaced = wh.replace_insights(InsightBatch.from_columns(window, columns))
                replace_times.append(time.perf_counter() - t0)
            total = wh.stats().tables["insights"]
            ledger = ledger_run(wh, actions)
        finally:
            if engine == "postgres":
                wh.drop_schema()  # type: ignore[attr-defined]
            wh.close()
    if total != ads * days:
        raise RuntimeError(f"expected {ads * days} rows after the replaces, found {total}")
    return {
        "engine": engine,
        "rows_loaded": loaded,
        "load_seconds": round(load_seconds, 3),
        "load_rows_per_s": round(loaded / load_seconds),
        "replace_rows": replaced,
        "replace_seconds_median": round(statistics.median(replace_times), 3),
        "replace_seconds_max": round(max(replace_times), 3),
        "rows_after": total,
        **ledger,
    }


def check_goals(result: dict[str, Any]) -> list[str]:
    """Which goals a result misses, in words (empty when all are met)."""
    goals = GOALS[result["engine"]]
    misses = []
    if result["load_rows_per_s"] < goals["load_rows_per_s"]:
        misses.append(f"load {result['load_rows_per_s']:,} rows/s < {goals['load_rows_per_s']:,}")
    if "replace_seconds" in goals and result["replace_seconds_max"] > goals["replace_seconds"]:
        misses.append(f"replace {result['replace_seconds_max']} s > {goals['replace_seconds']} s")
    if result["ledger_moves_per_s"] < goals["ledger_moves_per_s"]:
        misses.append(f"ledger {result['ledger_moves_per_s']:,} moves/s < {goals['ledger_moves_per_s']:,}")
    if result["peak_rss_mb"] > goals["peak_rss_mb"]:
        misses.append(f"peak RSS {result['peak_rss_mb']} MiB > {goals['peak_rss_mb']} MiB")
    return misses
