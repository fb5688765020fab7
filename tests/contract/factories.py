"""Small builders of domain values for the contract suites."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from adpilot.domain import (
    Ad,
    AdAccount,
    AdSet,
    Campaign,
    DailyInsight,
    DateWindow,
    InsightWindow,
    Money,
    Platform,
    Status,
)
from adpilot.domain.entities import LearningStatus

DAY0 = date(2026, 3, 1)


def window(platform: Platform = Platform.META, account: str = "act_1", start: int = 0, days: int = 7) -> InsightWindow:
    return InsightWindow(platform, account, DateWindow(DAY0 + timedelta(start), DAY0 + timedelta(start + days - 1)))


def insight(
    ad: str,
    day: int,
    *,
    platform: Platform = Platform.META,
    account: str = "act_1",
    currency: str = "USD",
    impressions: int = 1000,
    clicks: int = 20,
    spend: int = 1234,
    conversions: str = "2",
    value: int = 5000,
    ad_set: str = "s1",
    campaign: str = "c1",
) -> DailyInsight:
    return DailyInsight(
        platform, account, campaign, ad_set, ad, DAY0 + timedelta(day), impressions, clicks,
        Money(currency, spend), Decimal(conversions), Money(currency, value), "7d_click,1d_view",
    )  # fmt: skip


def account(platform: Platform = Platform.META, account_id: str = "act_1", currency: str = "USD") -> AdAccount:
    return AdAccount(platform, account_id, f"Account {account_id}", currency, "America/New_York", Status.ACTIVE, "1")


def campaign(platform: Platform = Platform.META, cid: str = "c1", currency: str = "USD") -> Campaign:
    return Campaign(platform, "act_1", cid, "Spring", Status.ACTIVE, "ACTIVE", currency, "OUTCOME_SALES", None)


def ad_set(
    budget: int | None = 5000,
    *,
    status: Status = Status.ACTIVE,
    bid: int | None = None,
    sid: str = "s1",
    learning: LearningStatus | None = None,
) -> AdSet:
    budget_money = None if budget is None else Money("USD", budget)
    bid_money = None if bid is None else Money("USD", bid)
    return AdSet(
        Platform.META, "act_1", "c1", sid, "Prospecting", status, str(status).upper(), "USD",
        budget_money, bid_money, "OFFSITE_CONVERSIONS", learning,
    )  # fmt: skip


def ad(ad_id: str = "a1", creative: str | None = "cr1", platform: Platform = Platform.META) -> Ad:
    return Ad(platform, "act_1", "c1", "s1", ad_id, f"Ad {ad_id}", Status.ACTIVE, "ACTIVE", creative)
