"""Daily performance rows and the windows they are reported in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from adpilot.domain.ids import Platform
from adpilot.domain.money import Money


@dataclass(frozen=True, slots=True)
class DateWindow:
    """An inclusive range of account-local days."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window: end {self.end} is before start {self.start}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and not isinstance(day, datetime) and self.start <= day <= self.end

    def __iter__(self) -> Iterator[date]:
        for i in range(self.days):
            yield self.start + timedelta(days=i)

    def chunks(self, max_days: int) -> list[DateWindow]:
        """Split into consecutive windows of at most ``max_days`` (X allows 7, TikTok 30)."""
        if max_days < 1:
            raise ValueError("max_days: must be at least 1")
        out: list[DateWindow] = []
        cur = self.start
        while cur <= self.end:
            stop = min(self.end, cur + timedelta(days=max_days - 1))
            out.append(DateWindow(cur, stop))
            cur = stop + timedelta(days=1)
        return out


def local_day(at: datetime, timezone: str) -> date:
    """The account-local calendar day of an aware instant."""
    if at.tzinfo is None:
        raise ValueError("at: must be timezone-aware")
    return at.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True, slots=True)
class InsightWindow:
    """The slice of insights a sync replaces as one unit: one account, one window of days."""

    platform: Platform
    account_id: str
    window: DateWindow

    def __post_init__(self) -> None:
        if not self.account_id:
            raise ValueError("account_id: must be a non-empty string")


@dataclass(frozen=True, slots=True)
class DailyInsight:
    """One ad's delivery on one account-local day, in the account's currency."""

    platform: Platform
    account_id: str
    campaign_id: str
    ad_set_id: str
    ad_id: str
    day: date
    impressions: int
    clicks: int
    spend: Money
    conversions: Decimal
    conversion_value: Money
    attribution_setting: str = ""

    def __post_init__(self) -> None:
        for f in ("account_id", "campaign_id", "ad_set_id", "ad_id"):
            if not getattr(self, f):
                raise ValueError(f"{f}: must be a non-empty string")
        for f in ("impressions", "clicks"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{f}: must be a non-negative int, got {v!r}")
        c = self.conversions
        if not isinstance(c, Decimal) or not c.is_finite() or c < 0:
            raise ValueError(f"conversions: must be a non-negative Decimal, finite, got {c!r}")
        if self.spend.minor < 0:
            raise ValueError("spend: must not be negative")
        if self.conversion_value.minor < 0:
            raise ValueError("conversion_value: must not be negative")
        if self.conversion_value.currency != self.spend.currency:
            raise ValueError("conversion_value: currency differs from spend")

    @property
    def currency(self) -> str:
        return self.spend.currency
