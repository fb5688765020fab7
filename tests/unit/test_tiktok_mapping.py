"""TikTok's wire format to the domain and back: pure functions on hand-written Business API v1.3 JSON."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adpilot.domain import AdAccount, EntityRef, Level, Money, Pause, Platform, Resume, SetBid, SetBudget, Status
from adpilot.domain.actions import LaunchAd
from adpilot.platforms.errors import (
    AccountFatal,
    PlatformError,
    RateLimited,
    RequestInvalid,
    RetryableError,
    SkippableError,
)
from adpilot.platforms.tiktok import mapping
from adpilot.platforms.tiktok.client import classify, encode_query

ADV = "7100000000000000001"
EUR = AdAccount(Platform.TIKTOK, ADV, "Shop EU", "EUR", "Europe/Berlin")
JPY = AdAccount(Platform.TIKTOK, ADV, "Shop JP", "JPY", "Asia/Tokyo")
KWD = AdAccount(Platform.TIKTOK, ADV, "Shop KW", "KWD", "Asia/Kuwait")


def envelope(data: Any, code: int = 0, message: str = "OK") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "2024030108301101021515704", "data": data}


def report_row(**over: Any) -> dict[str, Any]:
    dims = {"ad_id": "1790000000000000123", "stat_time_day": "2024-03-01 00:00:00"}
    metrics = {
        "spend": "10.50",
        "impressions": "1000",
        "clicks": "50",
        "conversion": "3",
        "total_purchase_value": "120.00",
        "campaign_id": "1790000000000000001",
        "adgroup_id": "1790000000000000010",
        "currency": "EUR",
    }
    for key, value in over.items():
        where = dims if key in dims else metrics
        if value is None:
            where.pop(key, None)
        else:
            where[key] = value
    return {"dimensions": dims, "metrics": metrics}


def ref(level: Level, entity_id: str = "1790000000000000010") -> EntityRef:
    return EntityRef(Platform.TIKTOK, ADV, level, entity_id)


# -- envelope and paging --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (envelope({"list": [], "page_info": {}}), {"list": [], "page_info": {}}),
        (envelope({"ad_ids": ["1"]}, code=20001, message="Partial success"), {"ad_ids": ["1"]}),
        (envelope(None), {}),
    ],
)
def test_envelope_returns_data(body: Any, expected: dict[str, Any]) -> None:
    assert mapping.envelope(body) == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "envelope"),
        ({"message": "OK", "data": {}}, "code"),
        ({"code": "0", "data": {}}, "code"),
        ({"code": True, "data": {}}, "code"),
        (envelope({}, code=40002, message="Missing required field(s): advertiser_id"), "code: 40002"),
        (envelope([1, 2]), "data"),
    ],
)
def test_bad_envelopes_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapping.envelope(body)


def test_page_info_and_expected_rows() -> None:
    data = {
        "list": [{"campaign_id": "1"}],
        "page_info": {"page": 2, "page_size": 1000, "total_number": 2500, "total_page": 3},
    }
    info = mapping.page_info(data)
    assert info == mapping.PageInfo(2, 1000, 2500, 3)
    assert [info.expected_rows(p) for p in (1, 2, 3, 4)] == [1000, 1000, 500, 0]
    assert mapping.page_list(data) == [{"campaign_id": "1"}]
    assert mapping.page_list({"page_info": {}}) == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"list": []}, "page_info"),
        ({"page_info": {"page": 1, "page_size": 10, "total_number": 1}}, "page_info.total_page"),
        ({"page_info": {"page": 1, "page_size": 10, "total_number": "x", "total_page": 1}}, "page_info.total_number"),
        ({"page_info": {"page": 1, "page_size": 0, "total_number": 0, "total_page": 0}}, "page_info.page_size"),
    ],
)
def test_bad_page_info_names_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapping.page_info(data)


def test_page_list_must_be_objects() -> None:
    with pytest.raises(mapping.MappingError, match=r"^list"):
        mapping.page_list({"list": ["1", "2"]})


# -- money ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "currency", "minor"),
    [
        ({"budget": 50.1, "budget_mode": "BUDGET_MODE_DAY"}, "EUR", 5010),
        ({"budget": 50.0, "budget_mode": "BUDGET_MODE_DAY"}, "EUR", 5000),
        ({"budget": "50.10", "budget_mode": "BUDGET_MODE_DAY"}, "EUR", 5010),
        ({"budget": 0.1, "budget_mode": "BUDGET_MODE_DAY"}, "EUR", 10),
        ({"budget": 5000.0, "budget_mode": "BUDGET_MODE_DAY"}, "JPY", 5000),
        ({"budget": 12000, "budget_mode": "BUDGET_MODE_DAY"}, "KRW", 12000),
        ({"budget": 12.345, "budget_mode": "BUDGET_MODE_DAY"}, "KWD", 12345),
        ({"budget": 80.5, "budget_mode": "BUDGET_MODE_DYNAMIC_DAILY_BUDGET"}, "EUR", 8050),
        ({"budget": 80.5}, "EUR", 8050),  # no budget_mode asked for: the budget is taken as daily
        ({"budget": 900.0, "budget_mode": "BUDGET_MODE_TOTAL"}, "EUR", None),  # lifetime, not daily
        ({"budget": 0.0, "budget_mode": "BUDGET_MODE_INFINITE"}, "EUR", None),
        ({"budget": 0.0, "budget_mode": "BUDGET_MODE_DAY"}, "EUR", None),
        ({"budget_mode": "BUDGET_MODE_DAY"}, "EUR", None),
    ],
)
def test_daily_budget_major_units_to_minor(row: dict[str, Any], currency: str, minor: int | None) -> None:
    got = mapping.daily_budget(row, currency)
    assert got == (None if minor is None else Money(currency, minor))


@pytest.mark.parametrize("value", ["fifty", True, [50], -5.0, "NaN", {"amount": 5}])
def test_bad_budgets_name_the_field(value: Any) -> None:
    with pytest.raises(mapping.MappingError, match=r"^budget"):
        mapping.daily_budget({"budget": value, "budget_mode": "BUDGET_MODE_DAY"}, "EUR")


@pytest.mark.parametrize(
    ("row", "field", "minor"),
    [
        ({"bid_price": 1.25, "conversion_bid_price": 0.0}, "bid_price", 125),
        ({"bid_price": 0.0, "conversion_bid_price": 12.5}, "conversion_bid_price", 1250),
        ({"bid_price": 2.0, "conversion_bid_price": 2.0}, "bid_price", 200),
        ({"bid_price": 0.0, "conversion_bid_price": 0.0}, "bid_price", None),
        ({}, "bid_price", None),
    ],
)
def test_bid_reads_the_field_that_holds_it(row: dict[str, Any], field: str, minor: int | None) -> None:
    assert mapping.bid_field(row) == field
    assert mapping.bid(row, "EUR") == (None if minor is None else Money("EUR", minor))


@pytest.mark.parametrize(
    ("money", "number"),
    [
        (Money("EUR", 5010), 50.1),
        (Money("EUR", 5000), 50),
        (Money("EUR", 1), 0.01),
        (Money("JPY", 5000), 5000),
        (Money("KWD", 12345), 12.345),
        (Money("USD", 123456789012), 1234567890.12),
    ],
)
def test_major_number_is_exact(money: Money, number: float) -> None:
    sent = mapping.major_number(money)
    assert sent == number and Money.of_major(sent, money.currency) == money


# -- statuses and entities ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("operation", "secondary", "status", "raw"),
    [
        ("ENABLE", "ADGROUP_STATUS_DELIVERY_OK", Status.ACTIVE, "ADGROUP_STATUS_DELIVERY_OK"),
        ("ENABLE", "CAMPAIGN_STATUS_ENABLE", Status.ACTIVE, "CAMPAIGN_STATUS_ENABLE"),
        ("ENABLE", "AD_STATUS_AUDIT", Status.PENDING, "AD_STATUS_AUDIT"),
        ("ENABLE", "AD_STATUS_AUDIT_DENY", Status.REJECTED, "AD_STATUS_AUDIT_DENY"),
        ("ENABLE", "ADGROUP_STATUS_BUDGET_EXCEED", Status.LIMITED, "ADGROUP_STATUS_BUDGET_EXCEED"),
        ("ENABLE", "ADGROUP_STATUS_CAMPAIGN_DISABLE", Status.LIMITED, "ADGROUP_STATUS_CAMPAIGN_DISABLE"),
        ("ENABLE", "AD_STATUS_CAMPAIGN_DELETE", Status.LIMITED, "AD_STATUS_CAMPAIGN_DELETE"),
        ("ENABLE", "AD_STATUS_SOMETHING_NEW", Status.ACTIVE, "ENABLE"),
        ("ENABLE", None, Status.ACTIVE, "ENABLE"),
        ("DISABLE", "ADGROUP_STATUS_DISABLE", Status.PAUSED, "DISABLE"),
        ("DISABLE", "ADGROUP_STATUS_CAMPAIGN_DISABLE", Status.PAUSED, "DISABLE"),
        ("DELETE", "AD_STATUS_DELETE", Status.DELETED, "DELETE"),
        ("FROZEN", None, Status.LIMITED, "FROZEN"),
    ],
)
def test_entity_status(operation: str, secondary: str | None, status: Status, raw: str) -> None:
    assert mapping.entity_status({"operation_status": operation, "secondary_status": secondary}) == (status, raw)


def test_account_from_advertiser_info() -> None:
    row = {
        "advertiser_id": ADV,
        "name": "Shop EU",
        "status": "STATUS_ENABLE",
        "currency": "EUR",
        "timezone": "Europe/Berlin",
        "display_timezone": "Europe/Berlin",
    }
    acc = mapping.account(row)
    assert (acc.account_id, acc.currency, acc.timezone, acc.status) == (ADV, "EUR", "Europe/Berlin", Status.ACTIVE)
    # a non-IANA ``timezone`` falls back to ``display_timezone``
    assert mapping.account({**row, "timezone": "GMT+01:00"}).timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"advertiser_id": None}, "advertiser_id"),
        ({"currency": "EURO"}, "currency"),
        ({"timezone": "Mars/Olympus", "display_timezone": None}, "timezone"),
    ],
)
def test_bad_accounts_name_the_field(over: dict[str, Any], field: str) -> None:
    row = {"advertiser_id": ADV, "name": "x", "currency": "EUR", "timezone": "Europe/Berlin", **over}
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapping.account(row)


def test_campaign_ad_group_ad_and_creative() -> None:
    camp = mapping.campaign(
        {
            "campaign_id": "1790000000000000001",
            "campaign_name": "Spring",
            "objective_type": "WEB_CONVERSIONS",
            "budget": 150.5,
            "budget_mode": "BUDGET_MODE_DAY",
            "operation_status": "ENABLE",
            "secondary_status": "CAMPAIGN_STATUS_ENABLE",
        },
        EUR,
    )
    assert (camp.campaign_id, camp.name, camp.objective, camp.daily_budget) == (
        "1790000000000000001",
        "Spring",
        "WEB_CONVERSIONS",
        Money("EUR", 15050),
    )
    group = mapping.ad_set(
        {
            "campaign_id": "1790000000000000001",
            "adgroup_id": "1790000000000000010",
            "adgroup_name": "DE 18-34",
            "budget": 50.1,
            "budget_mode": "BUDGET_MODE_DAY",
            "bid_price": 0.35,
            "optimization_goal": "CONVERT",
            "operation_status": "DISABLE",
            "secondary_status": "ADGROUP_STATUS_DISABLE",
        },
        EUR,
    )
    assert (group.ad_set_id, group.daily_budget, group.bid, group.status, group.optimization_goal) == (
        "1790000000000000010",
        Money("EUR", 5010),
        Money("EUR", 35),
        Status.PAUSED,
        "CONVERT",
    )
    row = {
        "campaign_id": 1790000000000000001,  # ids sometimes arrive as numbers: kept as strings
        "adgroup_id": "1790000000000000010",
        "ad_id": "1790000000000000123",
        "ad_name": "Unboxing",
        "ad_text": "Clean water, anywhere",
        "call_to_action": "SHOP_NOW",
        "landing_page_url": "https://shop.example/",
        "operation_status": "ENABLE",
        "secondary_status": "AD_STATUS_DELIVERY_OK",
    }
    ad, creative = mapping.ad(row, EUR), mapping.creative(row, EUR)
    assert (ad.campaign_id, ad.ad_id, ad.creative_id, ad.status) == (
        "1790000000000000001",
        "1790000000000000123",
        "1790000000000000123",
        Status.ACTIVE,
    )
    assert (creative.creative_id, creative.body, creative.call_to_action, creative.link_url) == (
        "1790000000000000123",
        "Clean water, anywhere",
        "SHOP_NOW",
        "https://shop.example/",
    )


def test_zero_decimal_ad_group() -> None:
    row = {
        "campaign_id": "1",
        "adgroup_id": "2",
        "budget": 3000.0,
        "budget_mode": "BUDGET_MODE_DAY",
        "conversion_bid_price": 450.0,
        "operation_status": "ENABLE",
    }
    group = mapping.ad_set(row, JPY)
    assert (group.daily_budget, group.bid) == (Money("JPY", 3000), Money("JPY", 450))


@pytest.mark.parametrize(
    ("mapper", "row", "field"),
    [
        (mapping.campaign, {"campaign_name": "x", "operation_status": "ENABLE"}, "campaign_id"),
        (mapping.campaign, {"campaign_id": "1"}, "operation_status"),
        (mapping.ad_set, {"adgroup_id": "2", "operation_status": "ENABLE"}, "campaign_id"),
        (mapping.ad_set, {"campaign_id": "1", "adgroup_id": "-", "operation_status": "ENABLE"}, "adgroup_id"),
        (
            mapping.ad_set,
            {"campaign_id": "1", "adgroup_id": "2", "operation_status": "ENABLE", "bid_price": "cheap"},
            "bid_price",
        ),
        (mapping.ad, {"campaign_id": "1", "adgroup_id": "2", "operation_status": "ENABLE"}, "ad_id"),
        (mapping.ad, {"campaign_id": "1", "ad_id": "3", "operation_status": "ENABLE"}, "adgroup_id"),
        (mapping.creative, {"ad_name": "x"}, "ad_id"),
    ],
)
def test_bad_entities_name_the_field(mapper: Any, row: dict[str, Any], field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapper(row, EUR)


# -- report rows ------------------------------------------------------------------------------------------------------
def test_report_row_to_daily_insight() -> None:
    row = mapping.insight(report_row(), EUR)
    assert (row.ad_id, row.ad_set_id, row.campaign_id, row.day) == (
        "1790000000000000123",
        "1790000000000000010",
        "1790000000000000001",
        date(2024, 3, 1),
    )
    assert (row.impressions, row.clicks, row.spend, row.conversions, row.conversion_value) == (
        1000,
        50,
        Money("EUR", 1050),
        Decimal(3),
        Money("EUR", 12000),
    )


@pytest.mark.parametrize(
    ("over", "account", "expected"),
    [
        # "-" means no value: zero for counts and amounts
        ({"clicks": "-", "conversion": "-", "total_purchase_value": "-"}, EUR, (1000, 0, 1050, Decimal(0), 0)),
        ({"spend": "-", "impressions": "-"}, EUR, (0, 50, 0, Decimal(3), 12000)),
        ({"spend": "0.1"}, EUR, (1000, 50, 10, Decimal(3), 12000)),
        ({"conversion": "2.5"}, EUR, (1000, 50, 1050, Decimal("2.5"), 12000)),
        ({"spend": "1234", "total_purchase_value": "5000", "currency": "JPY"}, JPY, (1000, 50, 1234, Decimal(3), 5000)),
        ({"spend": "1.234", "total_purchase_value": "0.5", "currency": "KWD"}, KWD, (1000, 50, 1234, Decimal(3), 500)),
        ({"currency": None}, EUR, (1000, 50, 1050, Decimal(3), 12000)),  # currency not asked for
        ({"stat_time_day": "2024-03-01"}, EUR, (1000, 50, 1050, Decimal(3), 12000)),  # CSV files may drop the time
    ],
)
def test_report_values(over: dict[str, Any], account: AdAccount, expected: tuple[Any, ...]) -> None:
    r = mapping.insight(report_row(**over), account)
    assert (r.impressions, r.clicks, r.spend.minor, r.conversions, r.conversion_value.minor) == expected
    assert r.spend.currency == account.currency


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (report_row(spend=None), "metrics.spend: missing"),
        (report_row(spend="ten"), "metrics.spend"),
        (report_row(impressions="1,000"), "metrics.impressions"),
        (report_row(impressions="-3"), "metrics.impressions"),
        (report_row(clicks="1.5"), "metrics.clicks"),
        (report_row(conversion="NaN"), "metrics.conversion"),
        (report_row(total_purchase_value=True), "metrics.total_purchase_value"),
        (report_row(adgroup_id="-"), "metrics.adgroup_id"),
        (report_row(campaign_id=None), "metrics.campaign_id"),
        (report_row(ad_id=None), "dimensions.ad_id"),
        (report_row(stat_time_day="2024-03-01 13:00:00"), "dimensions.stat_time_day"),
        (report_row(stat_time_day="01/03/2024"), "dimensions.stat_time_day"),
        (report_row(stat_time_day="2024-02-30 00:00:00"), "dimensions.stat_time_day"),
        (report_row(currency="USD"), "metrics.currency"),
        ({"metrics": {}}, "dimensions"),
        ({"dimensions": {}}, "metrics"),
    ],
)
def test_bad_report_rows_name_the_field(row: dict[str, Any], field: str) -> None:
    with pytest.raises(mapping.MappingError, match=f"^{field}"):
        mapping.insight(row, EUR)


def test_report_key() -> None:
    assert mapping.report_key(report_row()) == ("1790000000000000123", "2024-03-01 00:00:00")
    assert mapping.report_key({"metrics": {}}) is None
    assert mapping.report_key("row") is None


DIMS, METRICS = ["ad_id", "stat_time_day"], ["spend", "impressions", "adgroup_id"]


def test_report_csv_rows() -> None:
    text = "\ufeffstat_time_day,ad_id,impressions,spend,adgroup_id,extra\n2024-03-01 00:00:00,9,100,1.50,8,x\n\n"
    assert mapping.report_csv(text, DIMS, METRICS) == [
        {
            "dimensions": {"ad_id": "9", "stat_time_day": "2024-03-01 00:00:00"},
            "metrics": {"spend": "1.50", "impressions": "100", "adgroup_id": "8"},
        }
    ]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", mapping.ReportFormatError, "csv: empty"),
        ("ad_id,spend\n1,2\n", mapping.ReportFormatError, "csv: missing column"),
        ("ad_id,stat_time_day,spend,impressions,adgroup_id\n1,2024-03-01,2\n", mapping.MappingError, "csv line 2"),
    ],
)
def test_bad_report_csv(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^{message}"):
        mapping.report_csv(text, DIMS, METRICS)


# -- writes -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "path", "body"),
    [
        (
            SetBudget(target=ref(Level.AD_SET), new_budget=Money("EUR", 5010), reason="r", idempotency_key="k"),
            "adgroup/budget/update/",
            {"advertiser_id": ADV, "budget": [{"adgroup_id": "1790000000000000010", "budget": 50.1}]},
        ),
        (
            SetBudget(target=ref(Level.CAMPAIGN, "1"), new_budget=Money("EUR", 10000), reason="r", idempotency_key="k"),
            "campaign/update/",
            {"advertiser_id": ADV, "campaign_id": "1", "budget": 100},
        ),
        (
            SetBid(target=ref(Level.AD_SET), new_bid=Money("EUR", 35), reason="r", idempotency_key="k"),
            "adgroup/update/",
            {"advertiser_id": ADV, "adgroup_id": "1790000000000000010", "bid_price": 0.35},
        ),
        (
            Pause(target=ref(Level.AD, "3"), reason="r", idempotency_key="k"),
            "ad/status/update/",
            {"advertiser_id": ADV, "ad_ids": ["3"], "operation_status": "DISABLE"},
        ),
        (
            Resume(target=ref(Level.AD_SET, "2"), reason="r", idempotency_key="k"),
            "adgroup/status/update/",
            {"advertiser_id": ADV, "adgroup_ids": ["2"], "operation_status": "ENABLE"},
        ),
        (
            Pause(target=ref(Level.CAMPAIGN, "1"), reason="r", idempotency_key="k"),
            "campaign/status/update/",
            {"advertiser_id": ADV, "campaign_ids": ["1"], "operation_status": "DISABLE"},
        ),
    ],
)
def test_action_requests(action: Any, path: str, body: dict[str, Any]) -> None:
    assert mapping.action_request(action, ADV, "EUR") == (path, body)


def test_set_bid_on_a_cost_cap_group_and_currency_checks() -> None:
    bid = SetBid(target=ref(Level.AD_SET), new_bid=Money("JPY", 450), reason="r", idempotency_key="k")
    _, body = mapping.action_request(bid, ADV, "JPY", bid_to="conversion_bid_price")
    assert body["conversion_bid_price"] == 450 and "bid_price" not in body
    with pytest.raises(mapping.MappingError, match=r"^new_bid"):
        mapping.action_request(bid, ADV, "EUR")
    budget = SetBudget(target=ref(Level.AD_SET), new_budget=Money("USD", 100), reason="r", idempotency_key="k")
    with pytest.raises(mapping.MappingError, match=r"^new_budget"):
        mapping.action_request(budget, ADV, "EUR")


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"adgroup_ids": ["2"], "status": "DISABLE", "error_list": []}, []),
        ({"adgroup_ids": [], "error_list": [{"adgroup_id": "2", "error_message": "deleted"}]}, ["deleted"]),
        ({"adgroup_ids": ["9"], "status": "DISABLE"}, ["adgroup_ids: 2 was not updated"]),
        ({}, []),
    ],
)
def test_status_update_errors(data: dict[str, Any], errors: list[str]) -> None:
    assert mapping.status_update_errors(data, "adgroup", "2") == errors


def launch(**over: Any) -> LaunchAd:
    values: dict[str, Any] = {
        "target": ref(Level.AD_SET, "2"),
        "name": "New",
        "asset_ids": ("sha256:" + "0" * 64,),
        "body": "Clean water",
        "call_to_action": "SHOP_NOW",
        "link_url": "https://shop.example/",
        "reason": "r",
        "idempotency_key": "k",
    }
    return LaunchAd(**{**values, **over})


def test_launch_request() -> None:
    body = mapping.launch_request(launch(start_paused=True), ADV, "img1", identity_id="77")
    assert body == {
        "advertiser_id": ADV,
        "adgroup_id": "2",
        "operation_status": "DISABLE",
        "creatives": [
            {
                "ad_name": "New",
                "ad_format": "SINGLE_IMAGE",
                "image_ids": ["img1"],
                "ad_text": "Clean water",
                "landing_page_url": "https://shop.example/",
                "call_to_action": "SHOP_NOW",
                "identity_type": "CUSTOMIZED_USER",
                "identity_id": "77",
            }
        ],
    }
    with pytest.raises(mapping.MappingError, match=r"^link_url"):
        mapping.launch_request(launch(link_url=""), ADV, "img1")
    with pytest.raises(mapping.MappingError, match=r"^body"):
        mapping.launch_request(launch(body="", headline=""), ADV, "img1")


@pytest.mark.parametrize(
    ("data", "ad_id"),
    [({"ad_ids": ["5"]}, "5"), ({"creatives": [{"ad_id": 6}]}, "6")],
)
def test_created_ad_id(data: dict[str, Any], ad_id: str) -> None:
    assert mapping.created_ad_id(data) == ad_id


def test_created_ad_id_missing() -> None:
    with pytest.raises(mapping.MappingError, match=r"^ad_ids"):
        mapping.created_ad_id({})


def test_image_upload_form_is_signed_with_md5() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    form = mapping.image_upload_form(ADV, png, "a.png")
    assert form == {
        "advertiser_id": ADV,
        "upload_type": "UPLOAD_BY_FILE",
        "image_signature": hashlib.md5(png).hexdigest(),
        "file_name": "a.png",
    }
    assert (mapping.image_mime(png), mapping.image_mime(b"\xff\xd8\xff\xe0")) == ("image/png", "image/jpeg")


# -- the client's pure parts: error classification and query encoding -------------------------------------------------
def response(
    status: int, body: Any = None, *, text: str | None = None, ctype: str = "application/json"
) -> httpx.Response:
    if text is None:
        return httpx.Response(status, json=body)
    return httpx.Response(status, text=text, headers={"content-type": ctype})


@pytest.mark.parametrize(
    ("resp", "error"),
    [
        (response(200, envelope({})), None),
        (response(200, envelope({}, code=20001)), None),
        (response(200, text="ad_id,spend\n1,2\n", ctype="text/csv"), None),
        (response(200, envelope({}, code=40100)), RateLimited),
        (response(200, envelope({}, code=40133)), RateLimited),
        *[
            (response(200, envelope({}, code=c)), RetryableError)
            for c in (50000, 50002, 40200, 40201, 40202, 51305, 60001)
        ],
        *[(response(200, envelope({}, code=c)), AccountFatal) for c in (40102, 40104, 40105, 40106, 40001, 40101)],
        *[(response(200, envelope({}, code=c)), RequestInvalid) for c in (40002, 40000, 40011, 40900)],
        (response(200, envelope({}, code=40007)), SkippableError),
        (response(500, text="upstream error", ctype="text/plain"), RetryableError),
        (response(503, envelope({}, code=0)), RetryableError),
        (response(404, text="404 page not found", ctype="text/plain"), RequestInvalid),
        (response(200, text="{not json", ctype="application/json"), RetryableError),
    ],
)
def test_classify(resp: httpx.Response, error: type[PlatformError] | None) -> None:
    got = classify(resp)
    assert (type(got) if got is not None else None) is error


def test_rate_limits_have_no_reset_time_and_auth_errors_say_reconnect() -> None:
    throttled = classify(response(200, envelope({}, code=40100)))
    assert isinstance(throttled, RateLimited) and throttled.retry_after is None
    for code in (40104, 40105, 40001):
        fatal = classify(response(200, envelope({}, code=code, message="Access token is incorrect")))
        assert isinstance(fatal, AccountFatal) and "reconnect" in str(fatal)


def test_get_parameters_are_json_encoded() -> None:
    assert encode_query(
        {
            "advertiser_id": ADV,
            "fields": ["campaign_id", "budget"],
            "filtering": {"primary_status": "STATUS_ALL"},
            "page": 2,
            "enable_total_metrics": False,
            "skip": None,
        }
    ) == {
        "advertiser_id": ADV,
        "fields": '["campaign_id","budget"]',
        "filtering": '{"primary_status":"STATUS_ALL"}',
        "page": "2",
        "enable_total_metrics": "false",
    }
