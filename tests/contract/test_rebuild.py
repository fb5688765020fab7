"""Rebuilding the warehouse from the lake reproduces what the live writes produced, on every engine."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adpilot.domain import AdSet, DailyInsight, DateWindow, InsightWindow, Level, Money, Platform, Status
from adpilot.errors import LakeError
from adpilot.lake import Lake
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.lake import LakeCommit, LakePage, PageKey, Replay
from adpilot.services import rebuild_warehouse
from adpilot.warehouse._sql import SqlWarehouse

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
START = date(2026, 2, 22)


def map_insights(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    """A toy wire format: pages of {"rows": [[ad, day_offset, spend_cents], ...]}."""
    assert commit.window is not None
    rows = [
        DailyInsight(
            Platform.META,
            commit.account_id,
            "c1",
            "s1",
            ad,
            START + timedelta(days=off),
            10,
            1,
            Money("USD", spend),
            Decimal(0),
            Money("USD", 0),
        )
        for page in pages
        for ad, off, spend in page.body["rows"]
    ]
    window = InsightWindow(Platform.META, commit.account_id, commit.window)
    return Replay(insights=InsightBatch.from_insights(window, rows))


def map_ad_sets(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    sets = []
    for page in pages:
        for a in page.body["data"]:
            budget = Money("USD", int(a["daily_budget"]))
            sets.append(
                AdSet(
                    Platform.META,
                    commit.account_id,
                    "c1",
                    a["id"],
                    a["id"],
                    Status.ACTIVE,
                    "ACTIVE",
                    "USD",
                    budget,
                )
            )
    return Replay(entities=sets)


MAPPERS = {("meta", "insights"): map_insights, ("meta", "ad_sets"): map_ad_sets}


def sync_run(wh: SqlWarehouse, lake: Lake, stream: str, run: str, at: datetime, bodies: list[object]) -> None:
    """What a sync does: pages to the lake, the mapped result to the warehouse, then the commit."""
    window = DateWindow(START, START + timedelta(days=6)) if stream == "insights" else None
    paths = tuple(
        str(lake.write_page(PageKey("meta", "act_1", stream, START, at, run, i), body)) for i, body in enumerate(bodies)
    )
    commit = LakeCommit("meta", "act_1", stream, run, at, window, paths)
    replay = MAPPERS[("meta", stream)](commit, [lake.read_page(p) for p in paths])
    if replay.entities:
        wh.upsert_entities(replay.entities, source="sync", at=at)
    if replay.insights is not None:
        wh.replace_insights(replay.insights)
    lake.commit(commit)


def snapshot(wh: SqlWarehouse) -> tuple[object, ...]:
    win = InsightWindow(Platform.META, "act_1", DateWindow(START, START + timedelta(days=30)))
    return (
        wh.read_insights(win),
        wh.get_entities(Level.AD_SET),
        wh.entity_history(Platform.META, Level.AD_SET, "s1"),
    )


def test_rebuild_reproduces_the_synced_state(warehouse: SqlWarehouse, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    sync_run(warehouse, lake, "ad_sets", "e1", T0, [{"data": [{"id": "s1", "daily_budget": "5000"}]}])
    sync_run(
        warehouse,
        lake,
        "insights",
        "i1",
        T0,
        [{"rows": [["a1", 0, 100], ["a1", 1, 200]]}, {"rows": [["a2", 0, 5]]}],
    )
    later = T0 + timedelta(days=1)
    sync_run(warehouse, lake, "ad_sets", "e2", later, [{"data": [{"id": "s1", "daily_budget": "7000"}]}])
    sync_run(warehouse, lake, "insights", "i2", later, [{"rows": [["a1", 0, 150], ["a1", 1, 250]]}])
    # an uncommitted run (the process died before its warehouse write) is not replayed
    lake.write_page(PageKey("meta", "act_1", "insights", START, later + timedelta(hours=1), "dead", 0), {"rows": []})
    before = snapshot(warehouse)

    report = rebuild_warehouse(warehouse, lake, MAPPERS)

    assert (report.commits, report.pages, report.insight_rows) == (4, 5, 5)
    assert snapshot(warehouse) == before


def test_rebuild_refuses_unknown_streams_and_touches_nothing(warehouse: SqlWarehouse, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    sync_run(warehouse, lake, "insights", "i1", T0, [{"rows": [["a1", 0, 100]]}])
    before = snapshot(warehouse)
    with pytest.raises(LakeError, match="no page mapper for meta/insights; the warehouse was left untouched"):
        rebuild_warehouse(warehouse, lake, {})
    assert snapshot(warehouse) == before
