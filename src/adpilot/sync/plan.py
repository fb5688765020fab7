"""Which days to (re)fetch: pure functions of bookmarks, the account's today and the lookback.

Platforms restate recent days as late conversions are attributed, so every incremental run re-reads a
lookback window even when it was synced before. The defaults:

* Meta, 28 days: Meta freezes insight data 28 days after it was generated (its docs); conversions
  under the longest click window (28-day click) keep arriving until then.
* TikTok, 14 days: the default attribution is 7-day click + 1-day view, and conversions reach the
  report within a few days of the attributed day; 14 days covers the window twice.
* X, 14 days: engagement metrics lock after 24 hours and billed charges within 3 days, but web
  conversions use a 14-day post-engagement window by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DateWindow

LOOKBACK_DAYS = {Platform.META: 28, Platform.TIKTOK: 14, Platform.X: 14}
# The longest window one unit of sync covers: Meta async report jobs (28 days), X async stats jobs
# (30 days; the API allows 90, smaller windows commit progress sooner), TikTok daily reports (30 days).
CHUNK_DAYS = {Platform.META: 28, Platform.TIKTOK: 30, Platform.X: 30}


def account_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True, slots=True)
class InsightPlan:
    """The windows to fetch, oldest first; each is fetched, stored and committed on its own."""

    chunks: tuple[DateWindow, ...]
    reason: str

    @property
    def window(self) -> DateWindow | None:
        return DateWindow(self.chunks[0].start, self.chunks[-1].end) if self.chunks else None


def plan_insights(
    platform: Platform,
    *,
    today: date,
    synced_through: date | None,
    synced_from: date | None = None,
    since: date | None = None,
    backfill_days: int = 90,
    lookback_days: int | None = None,
    full: bool = False,
    chunk_days: int | None = None,
) -> InsightPlan:
    """Complete days only (through yesterday in the account's time zone).

    * ``full`` or no bookmark: from ``since`` (default: ``backfill_days`` ago).
    * otherwise: from the earlier of the day after the bookmark and the start of the lookback, but never
      before the first day ever synced (``synced_from``) or ``since``.
    """
    last = today - timedelta(days=1)
    lookback = LOOKBACK_DAYS[platform] if lookback_days is None else lookback_days
    if full or synced_through is None:
        first = since or today - timedelta(days=backfill_days)
        reason = "full backfill" if full else "first sync: backfill"
    else:
        first = min(synced_through + timedelta(days=1), today - timedelta(days=lookback))
        floor = max(d for d in (synced_from, since, date.min) if d is not None)
        first = max(first, floor)
        reason = f"incremental with {lookback}-day lookback"
    if first > last:
        return InsightPlan((), "nothing to fetch: already through yesterday")
    size = CHUNK_DAYS[platform] if chunk_days is None else chunk_days
    return InsightPlan(tuple(DateWindow(first, last).chunks(size)), reason)
