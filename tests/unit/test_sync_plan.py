"""Sync planning: complete days, lookback for restatement, chunking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain import DateWindow, Platform
from adpilot.sync.plan import CHUNK_DAYS, account_today, plan_insights

TODAY = date(2026, 3, 10)


def test_first_sync_backfills_through_yesterday() -> None:
    plan = plan_insights(Platform.META, today=TODAY, synced_through=None, backfill_days=30)
    assert plan.window == DateWindow(TODAY - timedelta(days=30), TODAY - timedelta(days=1))
    assert [c.days for c in plan.chunks] == [28, 2]


def test_lookback_never_reaches_before_the_first_synced_day() -> None:
    plan = plan_insights(
        Platform.META, today=TODAY, synced_through=TODAY - timedelta(days=1), synced_from=TODAY - timedelta(days=10)
    )
    assert plan.window == DateWindow(TODAY - timedelta(days=10), TODAY - timedelta(days=1))


def test_incremental_rereads_the_lookback() -> None:
    plan = plan_insights(Platform.META, today=TODAY, synced_through=TODAY - timedelta(days=1))
    assert plan.window == DateWindow(TODAY - timedelta(days=28), TODAY - timedelta(days=1))
    x = plan_insights(Platform.X, today=TODAY, synced_through=TODAY - timedelta(days=1))
    assert x.window is not None and x.window.start == TODAY - timedelta(days=14)


def test_a_long_gap_is_caught_up_from_the_bookmark() -> None:
    plan = plan_insights(Platform.TIKTOK, today=TODAY, synced_through=TODAY - timedelta(days=50))
    assert plan.window is not None and plan.window.start == TODAY - timedelta(days=49)
    assert [c.days for c in plan.chunks] == [30, 19]


def test_since_and_full() -> None:
    plan = plan_insights(
        Platform.META, today=TODAY, synced_through=TODAY - timedelta(days=1), full=True, since=date(2026, 1, 1)
    )
    assert plan.window == DateWindow(date(2026, 1, 1), TODAY - timedelta(days=1))
    assert plan.reason == "full backfill"


def test_nothing_to_do_before_any_complete_day() -> None:
    plan = plan_insights(Platform.META, today=TODAY, synced_through=None, since=TODAY)
    assert plan.chunks == () and plan.window is None


def test_account_today_uses_the_account_time_zone() -> None:
    at = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    assert account_today(at, "America/Los_Angeles") == date(2026, 3, 9)
    assert account_today(at, "Asia/Tokyo") == date(2026, 3, 10)


@given(
    platform=st.sampled_from(list(Platform)),
    gap=st.integers(0, 400),
    lookback=st.integers(1, 60),
)
def test_plans_cover_a_contiguous_range_ending_yesterday(platform: Platform, gap: int, lookback: int) -> None:
    plan = plan_insights(platform, today=TODAY, synced_through=TODAY - timedelta(days=gap), lookback_days=lookback)
    if not plan.chunks:
        return
    assert plan.chunks[-1].end == TODAY - timedelta(days=1)
    for a, b in zip(plan.chunks, plan.chunks[1:], strict=False):
        assert b.start == a.end + timedelta(days=1)
    assert all(c.days <= CHUNK_DAYS[platform] for c in plan.chunks)
    assert plan.chunks[0].start <= TODAY - timedelta(days=lookback)
