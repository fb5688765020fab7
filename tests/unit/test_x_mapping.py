"""X's wire format to the domain and back: pure functions on hand-written Ads API v12 JSON."""

from __future__ import annotations

import asyncio
import gzip
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from adpilot.domain import (
    AdAccount,
    DateWindow,
    EntityRef,
    Level,
    Money,
    Pause,
    Platform,
    Resume,
    SetBid,
    SetBudget,
    Status,
)
from adpilot.domain.actions import LaunchAd
from adpilot.platforms.errors import (
    AccountFatal,
    PlatformError,
    RateLimited,
    RequestInvalid,
    RetryableError,
    SkippableError,
)
from adpilot.platforms.x import mapping
from adpilot.platforms.x.client import Job, XClient, classify, rate_limit_wait
from adpilot.ports.platform import RawPage

ACC_ID = "18ce54d4x5t"
USD = AdAccount(Platform.X, ACC_ID, "Shop US", "USD", "America/New_York")
JPY = AdAccount(Platform.X, ACC_ID, "Shop JP", "JPY", "Asia/Tokyo")
KEYS = {
    "consumer_key": "ck-123",
    "consumer_secret": "cs-secret",
    "access_token": "4242-token",
    "access_token_secret": "ats-secret",
}
PARENTS = {"8u94t": ("2wap7", "l1ne"), "8u95a": ("2wap7", "l2ne")}
WEEK = DateWindow(date(2024, 3, 1), date(2024, 3, 3))


def stats_doc(*items: dict[str, Any], n: int = 3) -> dict[str, Any]:
    return {"data_type": "stats", "time_series_length": n, "data": list(items), "request": {"params": {}}}


def item(ad_id: str = "8u94t", **metrics: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "impressions": [1000, None, 500],
        "clicks": [10, None, None],
        "retweets": None,
        "billed_charge_local_micro": [12_345_000, None, 1_000_000],
        "conversion_purchases": {"metric": [2, None, 0], "post_view": None, "sale_amount": [140_000_000, None, None]},
    }
    base.update(metrics)
    return {"id": ad_id, "id_data": [{"segment": None, "metrics": base}]}


# -- stats ----------------------------------------------------------------------------------------------------------
def test_stats_arrays_with_nulls_become_daily_rows() -> None:
    rows = mapping.stats_rows(stats_doc(item()), USD, WEEK, PARENTS)
    assert [(r.day, r.impressions, r.clicks, r.spend, r.conversions, r.conversion_value) for r in rows] == [
        (date(2024, 3, 1), 1000, 10, Money("USD", 1234), Decimal(2), Money("USD", 14000)),
        # 2024-03-02: every value null, no delivery: not a row
        (date(2024, 3, 3), 500, 0, Money("USD", 100), Decimal(0), Money("USD", 0)),
    ]
    first = rows[0]
    assert (first.campaign_id, first.ad_set_id, first.ad_id, first.account_id) == ("2wap7", "l1ne", "8u94t", ACC_ID)
    assert first.platform is Platform.X and first.attribution_setting


@pytest.mark.parametrize(
    ("metrics", "days"),
    [
        ({"impressions": None, "clicks": None, "billed_charge_local_micro": None, "conversion_purchases": None}, []),
        ({"impressions": [0, 0, 3], "billed_charge_local_micro": None}, [3]),
        ({"impressions": None, "billed_charge_local_micro": [0, 7, 0]}, [2]),  # charged without impressions
        ({"impressions": None, "billed_charge_local_micro": None, "clicks": [5, 5, 5]}, []),  # no delivery
        ({"impressions": [0, 0, 0], "billed_charge_local_micro": [0, 0, 0]}, []),
    ],
)
def test_only_days_with_delivery_are_rows(metrics: dict[str, Any], days: list[int]) -> None:
    rows = mapping.stats_rows(stats_doc(item(**metrics)), USD, WEEK, PARENTS)
    assert [r.day.day for r in rows] == days


@pytest.mark.parametrize(
    ("micros", "currency", "minor"),
    [
        (12_345_000, "USD", 1234),  # 1234.5 cents: half to even, down
        (12_355_000, "USD", 1236),  # 1235.5 cents: half to even, up
        (5_000, "USD", 0),  # half a cent
        (15_000, "USD", 2),  # one and a half cents
        (1_000_000, "USD", 100),
        (1_500_000, "JPY", 2),  # 1.5 yen
        (2_500_000, "JPY", 2),  # 2.5 yen
        (123_456_789, "JPY", 123),
        (1_000_000, "JPY", 1),
    ],
)
def test_micros_to_minor_units_half_to_even(micros: int, currency: str, minor: int) -> None:
    acc = USD if currency == "USD" else JPY
    rows = mapping.stats_rows(
        stats_doc(item(billed_charge_local_micro=[micros, 0, 0], impressions=[1, 0, 0])), acc, WEEK, PARENTS
    )
    assert rows[0].spend == Money(currency, minor)
    camp = mapping.campaign(
        {"id": "c1", "name": "C", "entity_status": "ACTIVE", "daily_budget_amount_local_micro": micros}, acc
    )
    assert camp.daily_budget == Money(currency, minor)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "body"),
        ({"data": []}, "time_series_length"),
        (stats_doc(item(), n=2), "time_series_length"),
        ({**stats_doc(), "time_series_length": "3"}, "time_series_length"),
        ({**stats_doc(), "data": {"id": "8u94t"}}, "data"),
        (stats_doc({"id_data": []}), "id"),
        (stats_doc(item("nobody")), "id"),
        (stats_doc({"id": "8u94t", "id_data": {}}), "id_data"),
        (stats_doc({"id": "8u94t", "id_data": []}), "id_data"),
        (stats_doc({"id": "8u94t", "id_data": [{"segment": {"segment_name": "Male"}, "metrics": {}}]}), "id_data"),
        (stats_doc({"id": "8u94t", "id_data": [{"segment": None}]}), "metrics"),
        (stats_doc({"id": "8u94t", "id_data": [{"segment": None, "metrics": []}]}), "metrics"),
        (stats_doc(item(impressions=[1, 2])), "impressions"),
        (stats_doc(item(impressions="1000")), "impressions"),
        (stats_doc(item(impressions=["1000", 0, 0])), "impressions"),
        (stats_doc(item(impressions=[1.5, 0, 0])), "impressions"),
        (stats_doc(item(impressions=[-1, 0, 0])), "impressions"),
        (stats_doc(item(clicks=[True, 0, 0])), "clicks"),
        (stats_doc(item(billed_charge_local_micro=[12.5, 0, 0])), "billed_charge_local_micro"),
        (stats_doc(item(conversion_purchases=[1, 2, 3])), "conversion_purchases"),
        (stats_doc(item(conversion_purchases={"metric": [1, 2]})), "conversion_purchases.metric"),
        (stats_doc(item(conversion_purchases={"sale_amount": "10"})), "conversion_purchases.sale_amount"),
    ],
)
def test_bad_stats_name_the_field(doc: Any, field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapping.stats_rows(doc, USD, WEEK, PARENTS)


@pytest.mark.parametrize(
    ("window", "timezone", "start", "end"),
    [
        (DateWindow(date(2017, 5, 19), date(2017, 5, 25)), "America/Los_Angeles", "2017-05-19T07:00:00Z",
         "2017-05-26T07:00:00Z"),
        (DateWindow(date(2026, 3, 1), date(2026, 3, 1)), "America/New_York", "2026-03-01T05:00:00Z",
         "2026-03-02T05:00:00Z"),
        # daylight saving starts on 2026-03-08 in New York: that day has 23 hours
        (DateWindow(date(2026, 3, 7), date(2026, 3, 8)), "America/New_York", "2026-03-07T05:00:00Z",
         "2026-03-09T04:00:00Z"),
        (DateWindow(date(2024, 1, 1), date(2024, 1, 30)), "Asia/Tokyo", "2023-12-31T15:00:00Z",
         "2024-01-30T15:00:00Z"),
        (DateWindow(date(2024, 1, 1), date(2024, 1, 1)), "UTC", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
    ],
)  # fmt: skip
def test_stats_times_are_local_midnights_in_utc(window: DateWindow, timezone: str, start: str, end: str) -> None:
    assert mapping.stats_times(window, timezone) == (start, end)
    assert mapping.stats_window({"start_time": start, "end_time": end}, timezone) == window


def test_half_hour_time_zones_cannot_be_asked_by_day() -> None:
    with pytest.raises(mapping.MappingError, match=r"^start_time"):
        mapping.stats_times(WEEK, "Asia/Kolkata")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end_time": "2024-03-04T05:00:00Z"}, "start_time"),
        ({"start_time": "yesterday", "end_time": "2024-03-04T05:00:00Z"}, "start_time"),
        ({"start_time": "2024-03-04T05:00:00Z", "end_time": "2024-03-04T05:00:00Z"}, "end_time"),
    ],
)
def test_bad_stats_windows_name_the_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapping.stats_window(params, "America/New_York")


# -- accounts and entities ------------------------------------------------------------------------------------------
ACCOUNT_ROW = {"id": ACC_ID, "name": "Shop US", "timezone": "America/New_York", "approval_status": "ACCEPTED",
               "deleted": False}  # fmt: skip
FI = {"id": "lygyi", "currency": "USD", "entity_status": "ACTIVE", "deleted": False}


@pytest.mark.parametrize(
    ("row", "fis", "currency", "status"),
    [
        (ACCOUNT_ROW, [FI], "USD", Status.ACTIVE),
        ({**ACCOUNT_ROW, "timezone": "Asia/Tokyo"}, [{**FI, "currency": "JPY"}], "JPY", Status.ACTIVE),
        (ACCOUNT_ROW, [{**FI, "currency": "EUR", "deleted": True}, FI], "USD", Status.ACTIVE),
        ({**ACCOUNT_ROW, "deleted": True}, [FI], "USD", Status.DELETED),
        ({**ACCOUNT_ROW, "approval_status": "PENDING"}, [FI], "USD", Status.PENDING),
    ],
)
def test_account_currency_comes_from_funding_instruments(
    row: dict[str, Any], fis: list[dict[str, Any]], currency: str, status: Status
) -> None:
    acc = mapping.account(row, fis)
    assert (acc.account_id, acc.currency, acc.timezone, acc.status) == (ACC_ID, currency, row["timezone"], status)


@pytest.mark.parametrize(
    ("row", "fis", "field"),
    [
        (ACCOUNT_ROW, [], "funding_instruments"),
        (ACCOUNT_ROW, [{**FI, "deleted": True}], "funding_instruments"),
        (ACCOUNT_ROW, [FI, {**FI, "currency": "EUR"}], "currency"),
        (ACCOUNT_ROW, [{"id": "x"}], "currency"),
        (ACCOUNT_ROW, [{**FI, "currency": "XYZ"}], "currency"),
        ({**ACCOUNT_ROW, "timezone": None}, [FI], "timezone"),
        ({**ACCOUNT_ROW, "timezone": "Mars/Olympus"}, [FI], "timezone"),
        ({"name": "no id", "timezone": "UTC"}, [FI], "id"),
    ],
)
def test_bad_accounts_name_the_field(row: dict[str, Any], fis: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapping.account(row, fis)


CAMPAIGN = {"id": "2wap7", "name": "Timeline", "entity_status": "ACTIVE", "deleted": False,
            "daily_budget_amount_local_micro": 120_000_000, "total_budget_amount_local_micro": None}  # fmt: skip
LINE_ITEM = {"id": "l1ne", "campaign_id": "2wap7", "name": None, "entity_status": "PAUSED", "deleted": False,
             "bid_amount_local_micro": 1_500_000, "goal": "WEBSITE_CONVERSIONS",
             "objective": "WEBSITE_CONVERSIONS"}  # fmt: skip
PROMOTED = {"id": "8u94t", "line_item_id": "l1ne", "tweet_id": "1400000000000000123", "entity_status": "ACTIVE",
            "approval_status": "ACCEPTED", "deleted": False}  # fmt: skip


@pytest.mark.parametrize(
    ("row", "status", "raw", "budget"),
    [
        (CAMPAIGN, Status.ACTIVE, "ACTIVE", Money("USD", 12000)),
        ({**CAMPAIGN, "entity_status": "PAUSED"}, Status.PAUSED, "PAUSED", Money("USD", 12000)),
        ({**CAMPAIGN, "entity_status": "DRAFT"}, Status.DRAFT, "DRAFT", Money("USD", 12000)),
        ({**CAMPAIGN, "deleted": True}, Status.DELETED, "DELETED", Money("USD", 12000)),
        ({**CAMPAIGN, "daily_budget_amount_local_micro": None}, Status.ACTIVE, "ACTIVE", None),
        ({**CAMPAIGN, "entity_status": "SOMETHING_NEW"}, Status.UNKNOWN, "SOMETHING_NEW", Money("USD", 12000)),
    ],
)
def test_campaigns_carry_the_daily_budget(row: dict[str, Any], status: Status, raw: str, budget: Money | None) -> None:
    camp = mapping.campaign(row, USD)
    assert (camp.campaign_id, camp.status, camp.platform_status, camp.daily_budget) == ("2wap7", status, raw, budget)


@pytest.mark.parametrize(
    ("row", "status", "bid"),
    [
        (LINE_ITEM, Status.PAUSED, Money("USD", 150)),
        ({**LINE_ITEM, "bid_amount_local_micro": None}, Status.PAUSED, None),
        ({**LINE_ITEM, "deleted": True, "entity_status": "ACTIVE"}, Status.DELETED, Money("USD", 150)),
    ],
)
def test_line_items_are_ad_sets_without_a_daily_budget(row: dict[str, Any], status: Status, bid: Money | None) -> None:
    s = mapping.line_item(row, USD)
    assert (s.ad_set_id, s.campaign_id, s.status, s.bid, s.daily_budget) == ("l1ne", "2wap7", status, bid, None)
    assert s.name == "" and s.optimization_goal == "WEBSITE_CONVERSIONS"


def test_promoted_tweets_are_ads_showing_their_tweet() -> None:
    ad = mapping.promoted_tweet(PROMOTED, USD, {"l1ne": "2wap7"})
    assert (ad.ad_id, ad.ad_set_id, ad.campaign_id, ad.creative_id) == ("8u94t", "l1ne", "2wap7", PROMOTED["tweet_id"])
    gone = mapping.promoted_tweet({**PROMOTED, "deleted": True}, USD, {"l1ne": "2wap7"})
    assert (gone.status, gone.platform_status) == (Status.DELETED, "DELETED")


@pytest.mark.parametrize(
    ("kind", "row", "field"),
    [
        ("campaign", {**CAMPAIGN, "daily_budget_amount_local_micro": 12.5}, "daily_budget_amount_local_micro"),
        ("campaign", {**CAMPAIGN, "daily_budget_amount_local_micro": "120000000"}, "daily_budget_amount_local_micro"),
        ("campaign", {**CAMPAIGN, "daily_budget_amount_local_micro": -1}, "daily_budget_amount_local_micro"),
        ("campaign", {**CAMPAIGN, "entity_status": None}, "entity_status"),
        ("campaign", {k: v for k, v in CAMPAIGN.items() if k != "entity_status"}, "entity_status"),
        ("campaign", {**CAMPAIGN, "deleted": "no"}, "deleted"),
        ("campaign", {**CAMPAIGN, "id": None}, "id"),
        ("campaign", {**CAMPAIGN, "name": 5}, "name"),
        ("line_item", {**LINE_ITEM, "campaign_id": None}, "campaign_id"),
        ("line_item", {**LINE_ITEM, "bid_amount_local_micro": True}, "bid_amount_local_micro"),
        ("promoted_tweet", {**PROMOTED, "line_item_id": "elsewhere"}, "line_item_id"),
        ("promoted_tweet", {**PROMOTED, "tweet_id": None}, "tweet_id"),
        ("promoted_tweet", {**PROMOTED, "id": ""}, "id"),
    ],
)
def test_bad_entities_name_the_field(kind: str, row: dict[str, Any], field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        if kind == "campaign":
            mapping.campaign(row, USD)
        elif kind == "line_item":
            mapping.line_item(row, USD)
        else:
            mapping.promoted_tweet(row, USD, {"l1ne": "2wap7"})


def test_snapshot_collapses_repeated_rows_and_skips_what_cannot_be_mapped() -> None:
    tweet = {"id": 1400000000000000123, "id_str": "1400000000000000123", "text": "Why we built it",
             "full_text": "Why we built it", "name": "Thread", "card_uri": "card://1500"}  # fmt: skip
    card = {"id": "1500", "card_uri": "card://1500", "components": [
        {"type": "MEDIA", "media_key": "3_1"},
        {"type": "DETAILS", "title": "Better bottle", "destination": {"type": "WEBSITE", "url": "https://shop.example"}},
    ]}  # fmt: skip
    snap = mapping.snapshot(
        USD,
        {
            "campaigns": [CAMPAIGN, {**CAMPAIGN, "name": "Timeline 2"}, {**CAMPAIGN, "id": "bad", "entity_status": 3}],
            "line_items": [LINE_ITEM, {**LINE_ITEM, "id": "l2ne", "deleted": True}],
            "promoted_tweets": [PROMOTED, PROMOTED, {**PROMOTED, "id": "orphan", "line_item_id": "gone"}],
            "tweets": [tweet],
            "cards": [card],
        },
    )
    assert [(c.campaign_id, c.name) for c in snap.campaigns] == [("2wap7", "Timeline 2")]
    assert [(s.ad_set_id, s.status) for s in snap.ad_sets] == [("l1ne", Status.PAUSED), ("l2ne", Status.DELETED)]
    assert [a.ad_id for a in snap.ads] == ["8u94t"]
    (cr,) = snap.creatives
    assert (cr.creative_id, cr.headline, cr.body, cr.link_url) == (
        "1400000000000000123",
        "Better bottle",
        "Why we built it",
        "https://shop.example",
    )
    assert len(snap.skipped) == 2 and snap.skipped[0].startswith("campaign bad: entity_status")
    assert snap.skipped[1].startswith("promoted_tweet orphan: line_item_id")


def test_ad_parents_include_deleted_objects() -> None:
    parents = mapping.ad_parents(
        [LINE_ITEM, {**LINE_ITEM, "id": "l2ne", "deleted": True}, {"id": "broken"}],
        [PROMOTED, {**PROMOTED, "id": "8u95a", "line_item_id": "l2ne", "deleted": True}, {"id": "x"}],
    )
    assert parents == PARENTS


# -- writes ---------------------------------------------------------------------------------------------------------
def ref(level: Level, entity_id: str = "2wap7") -> EntityRef:
    return EntityRef(Platform.X, ACC_ID, level, entity_id)


@pytest.mark.parametrize(
    ("action", "path", "params"),
    [
        (
            SetBudget(target=ref(Level.CAMPAIGN), new_budget=Money("USD", 15000), reason="r", idempotency_key="k"),
            "campaigns/2wap7",
            {"daily_budget_amount_local_micro": "150000000"},
        ),
        (
            SetBudget(target=ref(Level.CAMPAIGN), new_budget=Money("JPY", 5000), reason="r", idempotency_key="k"),
            "campaigns/2wap7",
            {"daily_budget_amount_local_micro": "5000000000"},
        ),
        (
            SetBid(target=ref(Level.AD_SET, "l1ne"), new_bid=Money("USD", 150), reason="r", idempotency_key="k"),
            "line_items/l1ne",
            {"bid_amount_local_micro": "1500000"},
        ),
        (Pause(target=ref(Level.CAMPAIGN), reason="r", idempotency_key="k"), "campaigns/2wap7",
         {"entity_status": "PAUSED"}),
        (Resume(target=ref(Level.AD_SET, "l1ne"), reason="r", idempotency_key="k"), "line_items/l1ne",
         {"entity_status": "ACTIVE"}),
        (Pause(target=ref(Level.AD, "8u94t"), reason="r", idempotency_key="k"), "promoted_tweets/8u94t",
         {"entity_status": "PAUSED"}),
    ],
)  # fmt: skip
def test_actions_become_query_string_puts(action: Any, path: str, params: dict[str, str]) -> None:
    assert mapping.action_request(action) == (path, params)


def test_budgets_live_on_campaigns_only() -> None:
    action = SetBudget(target=ref(Level.AD_SET, "l1ne"), new_budget=Money("USD", 100), reason="r", idempotency_key="k")
    with pytest.raises(mapping.MappingError, match=r"^target"):
        mapping.action_request(action)


@pytest.mark.parametrize(
    ("level", "row", "expected"),
    [
        (Level.CAMPAIGN, CAMPAIGN, (Status.ACTIVE, "ACTIVE", Money("USD", 12000), None)),
        (Level.AD_SET, LINE_ITEM, (Status.PAUSED, "PAUSED", None, Money("USD", 150))),
        (Level.AD, {**PROMOTED, "deleted": True}, (Status.DELETED, "DELETED", None, None)),
    ],
)
def test_live_values(level: Level, row: dict[str, Any], expected: tuple[Any, ...]) -> None:
    assert mapping.live_values(row, level, USD) == expected


def test_launch_requests() -> None:
    action = LaunchAd(
        target=ref(Level.AD_SET, "l1ne"), name="Spring", asset_ids=("sha256:" + "0" * 64,), headline="Go",
        body="New bottle", link_url="https://shop.example/x", reason="r", idempotency_key="k",
    )  # fmt: skip
    body = mapping.card_body(action, "3_77")
    assert body["components"][0] == {"type": "MEDIA", "media_key": "3_77"}
    assert body["components"][1]["destination"] == {"type": "WEBSITE", "url": "https://shop.example/x"}
    assert mapping.tweet_params(action, "card://9", "4242") == {
        "text": "New bottle", "name": "Spring", "as_user_id": "4242", "card_uri": "card://9"
    }  # fmt: skip
    assert mapping.tweet_params(action, None, "4242")["text"] == "New bottle https://shop.example/x"


# -- errors ---------------------------------------------------------------------------------------------------------
def response(
    status: int, errors: list[dict[str, Any]] | None = None, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"errors": errors or [], "request": {"params": {}}}
    return httpx.Response(status, json=body, headers=headers)


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("resp", "kind", "text"),
    [
        (response(200), None, ""),
        (response(401, [{"code": "UNAUTHORIZED_ACCESS", "message": "Invalid or expired token"}]), AccountFatal,
         "reconnect"),
        (response(403, [{"code": "ACCOUNT_NOT_FOUND", "message": "Account 1 was not found"}]), AccountFatal,
         "reconnect"),
        (response(403, [{"code": "UNAUTHORIZED_ACCESS", "message": "No access"}]), AccountFatal, "No access"),
        (response(403, [{"code": "FORBIDDEN", "message": "Nope"}]), RequestInvalid, "Nope"),
        (response(429, [{"code": "TOO_MANY_REQUESTS", "message": "Rate limit exceeded"}]), RateLimited, "Rate"),
        (response(500, [{"code": "INTERNAL_ERROR", "message": "boom"}]), RetryableError, "boom"),
        (response(503, [{"code": "SERVICE_UNAVAILABLE", "message": "down"}]), RetryableError, "down"),
        (response(504), RetryableError, "HTTP 504"),
        (httpx.Response(502, text="<html>Bad gateway</html>"), RetryableError, "HTTP 502"),
        (response(404, [{"code": "NOT_FOUND", "message": "Campaign x was not found"}]), SkippableError, "Campaign"),
        (response(400, [{"code": "INVALID_PARAMETER", "message": "Expected an integer", "parameter": "count"}]),
         RequestInvalid, "count: Expected an integer"),
        (response(400, [{"code": "EXCLUSIVE_PARAMETERS", "message": "a and b"}]), RequestInvalid, "a and b"),
    ],
)  # fmt: skip
def test_classify(resp: httpx.Response, kind: type[PlatformError] | None, text: str) -> None:
    error = classify(resp, now=NOW)
    if kind is None:
        assert error is None
        return
    assert type(error) is kind and text in str(error)
    assert not isinstance(error, RateLimited) or error.retry_after is None  # no reset header given here


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"x-rate-limit-reset": str(int(NOW) + 90), "x-rate-limit-remaining": "0"}, 90.0),
        ({"x-account-rate-limit-reset": str(int(NOW) + 30), "x-rate-limit-reset": str(int(NOW) + 900)}, 30.0),
        (
            {"x-account-rate-limit-reset": str(int(NOW) + 30), "x-account-rate-limit-remaining": "12",
             "x-rate-limit-reset": str(int(NOW) + 900), "x-rate-limit-remaining": "0"},
            900.0,
        ),
        ({"x-rate-limit-reset": str(int(NOW) - 5)}, 1.0),  # already past: at least one second
        ({"x-rate-limit-reset": str(int(NOW))}, 1.0),
        ({}, None),
        ({"x-rate-limit-reset": "soon"}, None),
    ],
)  # fmt: skip
def test_rate_limit_waits_for_the_reset(headers: dict[str, str], wait: float | None) -> None:
    assert rate_limit_wait(httpx.Headers(headers), NOW) == wait
    error = classify(response(429, headers=headers), now=NOW)
    assert isinstance(error, RateLimited) and error.retry_after == wait


def test_503_honours_retry_after() -> None:
    error = classify(response(503, headers={"retry-after": "7"}), now=NOW)
    assert isinstance(error, RetryableError) and error.retry_after == 7.0


# -- the client over a scripted transport ---------------------------------------------------------------------------
def scripted(handler: Any) -> tuple[XClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result: httpx.Response = handler(request)
        return result

    async def no_sleep(seconds: float) -> None:
        return None

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return XClient("https://ads-api.x.com", KEYS, client, sleep=no_sleep, poll_interval=0), seen


def test_requests_are_signed_over_the_query_and_pages_keep_no_secret() -> None:
    pages_served = {
        None: {"data": [{"id": "a"}, {"id": "b"}], "next_cursor": "c-1"},
        "c-1": {"data": [{"id": "b"}], "next_cursor": "c-1"},  # a page served again
        "c-2": {"data": [{"id": "c"}], "next_cursor": None},
    }
    calls = {"c-1": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        if cursor == "c-1":
            calls["c-1"] += 1
            if calls["c-1"] > 1:
                cursor = "c-2"
        return httpx.Response(200, json=pages_served[cursor])

    api, seen = scripted(handler)
    sink: list[RawPage] = []
    rows = asyncio.run(api.rows(f"accounts/{ACC_ID}/campaigns", {"with_deleted": "true"}, stream="campaigns",
                                day=date(2024, 3, 1), sink=sink.append))  # fmt: skip
    assert [r["id"] for r in mapping.unique(rows)] == ["a", "b", "c"]
    assert len(sink) == 3 and all(p.stream == "campaigns" for p in sink)
    recorded = orjson.dumps([p.request for p in sink]).decode()
    for secret in KEYS.values():
        assert secret not in recorded
    assert "oauth" not in recorded.lower()
    nonces = set()
    for request in seen:
        assert str(request.url).startswith(f"https://ads-api.x.com/12/accounts/{ACC_ID}/campaigns?")
        assert request.url.params["count"] == "1000" and request.content == b""
        header = request.headers["authorization"]
        params = dict(
            oauth_signature.collect_parameters(headers={"Authorization": header}, exclude_oauth_signature=False)
        )
        nonces.add(params["oauth_nonce"])
        assert params["oauth_signature_method"] == "HMAC-SHA1" and params["oauth_token"] == KEYS["access_token"]
        oauth_request = OAuthRequest(str(request.url), request.method, headers={"Authorization": header})
        oauth_request.params = oauth_signature.collect_parameters(
            uri_query=request.url.query.decode(), headers={"Authorization": header}, exclude_oauth_signature=True
        )
        oauth_request.signature = params["oauth_signature"]
        assert oauth_signature.verify_hmac_sha1(oauth_request, KEYS["consumer_secret"], KEYS["access_token_secret"])
    assert len(nonces) == len(seen) == 3


def test_writes_put_every_parameter_in_the_query() -> None:
    api, seen = scripted(lambda request: httpx.Response(200, json={"data": {"id": "2wap7"}, "request": {}}))
    asyncio.run(api.put(f"accounts/{ACC_ID}/campaigns/2wap7", {"daily_budget_amount_local_micro": "150000000"}))
    (request,) = seen
    assert request.method == "PUT" and request.content == b""
    assert request.url.params["daily_budget_amount_local_micro"] == "150000000"


def test_a_job_is_polled_until_it_succeeds_and_its_gzip_file_read() -> None:
    doc = stats_doc(item())
    polls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert request.url.params["entity_ids"] == "8u94t" and request.content == b""
            return httpx.Response(200, json={"data": {"id": 111, "id_str": "111", "status": "PROCESSING"}})
        if request.url.host == "ton.twimg.com":
            assert request.headers["authorization"].startswith("OAuth ")
            return httpx.Response(200, content=gzip.compress(orjson.dumps(doc)),
                                  headers={"content-type": "application/gzip"})  # fmt: skip
        assert request.url.params["job_ids"] == "111"
        polls["n"] += 1
        done = polls["n"] >= 3
        row = {"id": 111, "id_str": "111", "status": "SUCCESS" if done else "PROCESSING",
               "url": "https://ton.twimg.com/advertiser-api-async-analytics/f.json.gz" if done else None}  # fmt: skip
        return httpx.Response(200, json={"data": [row], "next_cursor": None})

    api, _ = scripted(handler)
    job = Job({"entity": "PROMOTED_TWEET", "entity_ids": "8u94t"})
    asyncio.run(api.run_jobs(ACC_ID, [job]))
    assert (job.status, job.job_id, polls["n"]) == ("SUCCESS", "111", 3)
    assert job.url is not None and asyncio.run(api.download(job.url)) == doc


def test_a_job_that_never_finishes_stalls_and_is_cancelled() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"data": {"id_str": "222", "status": "PROCESSING"}})
        if request.method == "DELETE":
            return httpx.Response(200, json={"data": {"id_str": "222", "status": "CANCELLED"}})
        return httpx.Response(200, json={"data": [{"id_str": "222", "status": "PROCESSING"}], "next_cursor": None})

    api, seen = scripted(handler)
    api.max_polls = 4
    job = Job({"entity": "PROMOTED_TWEET"})
    asyncio.run(api.run_jobs(ACC_ID, [job]))
    assert job.status == "STALLED" and [r.method for r in seen] == ["POST", "GET", "GET", "GET", "GET", "DELETE"]


def test_missing_credentials_are_account_fatal() -> None:
    with pytest.raises(AccountFatal, match="access_token_secret"):
        XClient("https://ads-api.x.com", {k: v for k, v in KEYS.items() if k != "access_token_secret"},
                httpx.AsyncClient())  # fmt: skip
