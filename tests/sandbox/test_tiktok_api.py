"""The TikTok Business API v1.3 surface, driven over HTTP as a client meets it (``Access-Token`` header)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections import defaultdict
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adpilot_sandbox.entities import synthetic_png
from adpilot_sandbox.sandbox import Sandbox

ADV = "7100000000000000001"
API = "/open_api/v1.3/"


def _headers(sandbox: Sandbox) -> dict[str, str]:
    return {"Access-Token": sandbox.auth.primary("tiktok").value}


def _get(client: httpx.Client, sandbox: Sandbox, path: str, **params: Any) -> dict[str, Any]:
    query = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in params.items()}
    r = client.get(API + path, params=query, headers=_headers(sandbox))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _post(client: httpx.Client, sandbox: Sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(API + path, json=body, headers=_headers(sandbox))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    assert body["code"] == 0 and body["message"] == "OK", body
    data: dict[str, Any] = body["data"]
    return data


def _report(client: httpx.Client, sandbox: Sandbox, **params: Any) -> dict[str, Any]:
    base = {"advertiser_id": ADV, "report_type": "BASIC", "service_type": "AUCTION"}
    return _get(client, sandbox, "report/integrated/get/", **(base | params))


def _faults(client: httpx.Client, **values: float) -> None:
    assert client.post("/_sandbox/faults", json={"tiktok": values}).status_code == 200


# -- paths, envelope, auth -------------------------------------------------------------------------------------
def test_trailing_slash_and_methods(client: httpx.Client, sandbox: Sandbox) -> None:
    for path in ("campaign/get", "report/integrated/get", "nothing/here/"):
        r = client.get(API + path, params={"advertiser_id": ADV}, headers=_headers(sandbox))
        assert r.status_code == 404 and r.text == "404 page not found"
        assert r.headers["content-type"].startswith("text/plain")
    assert client.post(API + "campaign/get/", json={}, headers=_headers(sandbox)).status_code == 404
    assert client.get(API + "adgroup/update/", headers=_headers(sandbox)).status_code == 404
    assert client.get("/open_api", headers=_headers(sandbox)).status_code == 404
    assert sandbox.faults.requests.get("tiktok", 0) == 0  # 404s never reach the API


def test_envelope_and_request_ids(client: httpx.Client, sandbox: Sandbox) -> None:
    first = _get(client, sandbox, "advertiser/info/", advertiser_ids=[ADV])
    second = _get(client, sandbox, "advertiser/info/", advertiser_ids=[ADV])
    assert set(first) == {"code", "message", "request_id", "data"}
    assert first["request_id"] != second["request_id"] and first["request_id"][:8] == "20260306"
    doc = _ok(first)["list"][0]
    assert doc["advertiser_id"] == ADV and doc["status"] == "STATUS_ENABLE" and doc["currency"] == "EUR"
    assert doc["timezone"] == "Europe/Berlin" and doc["display_timezone"] == "Europe/Berlin"
    assert {"balance", "company", "country", "role", "create_time", "name"} <= set(doc)
    fields = _ok(_get(client, sandbox, "advertiser/info/", advertiser_ids=[ADV], fields=["name", "currency"]))
    assert fields["list"] == [{"name": "Lumen Goods EU", "currency": "EUR"}]
    # the same request sequence on a fresh sandbox gets the same request ids
    from adpilot_sandbox.app import create_app
    from adpilot_sandbox.scenario import load_scenario
    from adpilot_sandbox.transport import SyncASGITransport

    other = Sandbox(load_scenario("demo"))
    with httpx.Client(transport=SyncASGITransport(create_app(other)), base_url="http://sandbox.test") as c2:
        again = _get(c2, other, "advertiser/info/", advertiser_ids=[ADV])
    assert again["request_id"] == first["request_id"]


def test_token_errors(client: httpx.Client, sandbox: Sandbox) -> None:
    token = sandbox.auth.primary("tiktok").value
    url = API + "campaign/get/"
    q = {"advertiser_id": ADV}
    missing = client.get(url, params=q).json()
    assert missing["code"] == 40104
    assert missing["message"] == "Access token is null, you should set it in http header with key Access-Token."
    for headers in ({"Access-Token": "nope"}, {"Access-Token": f"Bearer {token}"},
                    {"Authorization": f"Bearer {token}"}):  # fmt: skip
        r = client.get(url, params=q, headers=headers)
        assert r.status_code == 200 and r.json()["code"] == 40105
    expiring = sandbox.auth.mint("tiktok", lifetime=timedelta(hours=1), now=sandbox.market.now, kind="user")
    assert client.get(url, params=q, headers={"Access-Token": expiring.value}).json()["code"] == 0
    client.post("/_sandbox/advance", json={"hours": 2})
    assert client.get(url, params=q, headers={"Access-Token": expiring.value}).json()["code"] == 40102
    client.post("/_sandbox/tokens", json={"platform": "tiktok", "action": "revoke"})
    assert client.get(url, params=q, headers={"Access-Token": token}).json()["code"] == 40105
    client.post("/_sandbox/tokens", json={"platform": "tiktok", "action": "restore"})
    assert client.get(url, params=q, headers={"Access-Token": token}).json()["code"] == 0


def test_permission_and_parameter_errors(client: httpx.Client, sandbox: Sandbox) -> None:
    for other in ("1000000001", "7199999999999999999"):  # a Meta account, an unknown advertiser
        body = _get(client, sandbox, "campaign/get/", advertiser_id=other)
        assert body["code"] == 40001 and other in body["message"] and body["data"] == {}
    missing = _get(client, sandbox, "campaign/get/")
    assert missing["code"] == 40002 and missing["message"].startswith("advertiser_id:")
    assert _get(client, sandbox, "advertiser/info/", advertiser_ids=[ADV, "1000000001"])["code"] == 40001
    many = _get(client, sandbox, "advertiser/info/", advertiser_ids=[str(i) for i in range(101)])
    assert many["code"] == 40011
    ids = [str(i) for i in range(21)]
    too_many = _post(client, sandbox, "adgroup/status/update/",
                     {"advertiser_id": ADV, "adgroup_ids": ids, "operation_status": "DISABLE"})  # fmt: skip
    assert too_many["code"] == 40011
    unknown = _post(client, sandbox, "adgroup/update/", {"advertiser_id": ADV, "adgroup_id": "123", "budget": 100})
    assert unknown["code"] == 40007


def test_bad_input_is_answered_natively(client: httpx.Client, sandbox: Sandbox) -> None:
    h = _headers(sandbox)
    cases = [
        client.get(API + "campaign/get/", params={"advertiser_id": ADV, "fields": "campaign_id,budget"}, headers=h),
        client.get(API + "campaign/get/", params={"advertiser_id": ADV, "fields": '["campaign_id"'}, headers=h),
        client.get(API + "campaign/get/", params={"advertiser_id": ADV, "fields": '["nope"]'}, headers=h),
        client.get(API + "campaign/get/", params={"advertiser_id": ADV, "filtering": '["x"]'}, headers=h),
        client.get(API + "campaign/get/", params={"advertiser_id": ADV, "filtering": '{"colour": 1}'}, headers=h),
        client.get(API + "campaign/get/", params={"advertiser_id": ADV, "page": "two"}, headers=h),
        client.post(API + "adgroup/update/", content=b"{not json", headers=h | {"content-type": "application/json"}),
        client.post(API + "adgroup/update/", content=b"[1, 2]", headers=h | {"content-type": "application/json"}),
        client.get(API + "report/integrated/get/", params={"advertiser_id": ADV, "report_type": "BASIC"}, headers=h),
    ]
    for r in cases:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["code"] == 40002 and body["message"] and body["data"] == {}, body
    assert "fields" in cases[0].json()["message"] and "filtering" in cases[4].json()["message"]


# -- reads -------------------------------------------------------------------------------------------------------
def test_entities_json_params_paging_and_filters(client: httpx.Client, sandbox: Sandbox) -> None:
    campaigns = _ok(_get(client, sandbox, "campaign/get/", advertiser_id=ADV))["list"]
    assert [c["campaign_name"] for c in campaigns] == ["Spark EU"]
    camp_id = campaigns[0]["campaign_id"]
    assert isinstance(camp_id, str) and campaigns[0]["operation_status"] == "ENABLE"
    groups = _ok(_get(client, sandbox, "adgroup/get/", advertiser_id=ADV, filtering={"campaign_ids": [camp_id]}))
    assert groups["page_info"] == {"page": 1, "page_size": 10, "total_number": 2, "total_page": 1}
    de = next(g for g in groups["list"] if g["adgroup_name"] == "DE 18-34")
    assert de["budget"] == 300.0 and de["budget_mode"] == "BUDGET_MODE_DAY"
    assert de["secondary_status"] == "ADGROUP_STATUS_DELIVERY_OK" and len(de["create_time"]) == 19
    only = _ok(_get(client, sandbox, "adgroup/get/", advertiser_id=ADV, fields=["adgroup_id", "budget"],
                    filtering={"adgroup_ids": [de["adgroup_id"]]}))["list"]  # fmt: skip
    assert only == [{"adgroup_id": de["adgroup_id"], "budget": 300.0}]
    # paging through every ad one by one
    seen = []
    for page in (1, 2, 3, 4, 5, 6):
        data = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, page=page, page_size=1))
        assert data["page_info"]["total_number"] == 5 and data["page_info"]["total_page"] == 5
        seen += [a["ad_id"] for a in data["list"]]
    assert len(seen) == 5 == len(set(seen))
    ad = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, filtering={"ad_ids": [seen[0]]}))["list"][0]
    assert ad["ad_format"] == "SINGLE_IMAGE" and ad["image_ids"] and ad["landing_page_url"].startswith("https://")
    assert ad["secondary_status"] == "AD_STATUS_DELIVERY_OK" and ad["call_to_action"] in ("SHOP_NOW", "LEARN_MORE")
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 1001}):
        body = _get(client, sandbox, "ad/get/", advertiser_id=ADV, **bad)
        assert body["code"] == 40002 and next(iter(bad)) in body["message"]
    images = _ok(_get(client, sandbox, "file/image/ad/info/", advertiser_id=ADV, image_ids=ad["image_ids"]))["list"]
    assert images[0]["image_id"] == ad["image_ids"][0] and images[0]["format"] == "png"
    png = client.get(images[0]["image_url"].removeprefix("http://sandbox.test"))
    assert hashlib.md5(png.content).hexdigest() == images[0]["signature"]


def test_deleted_objects_need_a_filter(client: httpx.Client, sandbox: Sandbox) -> None:
    ads = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV))["list"]
    gone = ads[0]["ad_id"]
    data = _ok(_post(client, sandbox, "ad/status/update/",
                     {"advertiser_id": ADV, "ad_ids": [gone], "operation_status": "DELETE"}))  # fmt: skip
    assert data == {"ad_ids": [gone], "status": "DELETE"}
    visible = [a["ad_id"] for a in _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV))["list"]]
    assert gone not in visible and len(visible) == 4
    for status, expected in (("STATUS_ALL", 5), ("STATUS_DELETE", 1), ("STATUS_NOT_DELETE", 4)):
        rows = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, filtering={"primary_status": status}))["list"]
        assert len(rows) == expected
    deleted = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, filtering={"primary_status": "STATUS_DELETE"}))
    assert deleted["list"][0]["operation_status"] == "DELETE"
    assert deleted["list"][0]["secondary_status"] == "AD_STATUS_DELETE"
    again = _post(
        client, sandbox, "ad/status/update/", {"advertiser_id": ADV, "ad_ids": [gone], "operation_status": "ENABLE"}
    )
    assert again["code"] == 40002


# -- reporting ---------------------------------------------------------------------------------------------------
LEVEL_KEYS = {
    "AUCTION_ADVERTISER": ("advertiser_id", "account_id"),
    "AUCTION_CAMPAIGN": ("campaign_id", "campaign_id"),
    "AUCTION_ADGROUP": ("adgroup_id", "ad_set_id"),
    "AUCTION_AD": ("ad_id", "ad_id"),
}


def _expected(sandbox: Sandbox, truth_key: str, first: str, last: str) -> dict[tuple[str, str], list[int]]:
    m = sandbox.market
    rows = m.truth("tiktok", ADV, m.day_of(_date(first)), m.day_of(_date(last)))
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in rows:
        acc = out[(r[truth_key], r["date"])]
        for i, k in enumerate(("spend_minor", "impressions", "clicks", "reported_conversions", "reported_value_minor")):
            acc[i] += r[k]
    return out


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@pytest.mark.parametrize("level", list(LEVEL_KEYS))
def test_report_rows_match_truth_at_each_level(client: httpx.Client, sandbox: Sandbox, level: str) -> None:
    dim, truth_key = LEVEL_KEYS[level]
    first, last = "2026-02-20", "2026-03-05"
    metrics = ["spend", "impressions", "clicks", "conversion", "total_purchase_value", "cpc", "currency"]
    data = _ok(_report(client, sandbox, data_level=level, dimensions=[dim, "stat_time_day"], metrics=metrics,
                       start_date=first, end_date=last, page_size=1000, enable_total_metrics=True))  # fmt: skip
    expected = _expected(sandbox, truth_key, first, last)
    assert data["page_info"]["total_number"] == len(expected) == len(data["list"])
    for row in data["list"]:
        assert set(row["dimensions"]) == {dim, "stat_time_day"} and row["dimensions"]["stat_time_day"].endswith(
            " 00:00:00"
        )
        spend, impressions, clicks, conversions, value = expected[
            (row["dimensions"][dim], row["dimensions"]["stat_time_day"][:10])
        ]
        got = row["metrics"]
        assert all(isinstance(v, str) for v in got.values())
        assert got["spend"] == _money(spend) and got["impressions"] == str(impressions)
        assert got["clicks"] == str(clicks) and got["conversion"] == str(conversions)
        assert got["total_purchase_value"] == _money(value) and got["currency"] == "EUR"
    totals = data["total_metrics"]
    assert totals["spend"] == _money(sum(v[0] for v in expected.values()))
    assert totals["conversion"] == str(sum(v[3] for v in expected.values()))


def test_report_attributes_ratios_order_and_filters(client: httpx.Client, sandbox: Sandbox) -> None:
    metrics = ["spend", "clicks", "conversion", "cost_per_conversion", "ctr", "cpm", "conversion_rate",
               "complete_payment_roas", "campaign_name", "adgroup_name", "ad_name"]  # fmt: skip
    day = "2026-03-01"
    data = _ok(_report(client, sandbox, data_level="AUCTION_AD", dimensions=["ad_id"], metrics=metrics, start_date=day,
                       end_date=day, order_field="spend", order_type="ASC"))  # fmt: skip
    rows = data["list"]
    spends = [float(r["metrics"]["spend"]) for r in rows]
    assert spends == sorted(spends) and rows[0]["metrics"]["campaign_name"] == "Spark EU"
    for r in rows:
        mt = r["metrics"]
        if mt["conversion"] == "0":
            assert mt["cost_per_conversion"] == "-"
        else:
            expected = round(float(mt["spend"]) / int(mt["conversion"]), 2)
            assert abs(float(mt["cost_per_conversion"]) - expected) < 0.006
    some = rows[0]["dimensions"]["ad_id"]
    only = [{"field_name": "ad_ids", "filter_type": "IN", "filter_value": json.dumps([some])}]
    filtered = _ok(_report(client, sandbox, data_level="AUCTION_AD", dimensions=["ad_id"], metrics=["spend"],
                           start_date=day, end_date=day, filtering=only))  # fmt: skip
    assert [r["dimensions"]["ad_id"] for r in filtered["list"]] == [some]
    no_id = _report(client, sandbox, data_level="AUCTION_AD", dimensions=["stat_time_day"], metrics=["ad_name"],
                    start_date=day, end_date=day)  # fmt: skip
    assert no_id["code"] == 40002 and "ad_name" in no_id["message"]
    bad_metric = _report(client, sandbox, data_level="AUCTION_AD", dimensions=["ad_id"], metrics=["colour"],
                         start_date=day, end_date=day)  # fmt: skip
    assert bad_metric["code"] == 40002 and "colour" in bad_metric["message"]
    with_adv = _ok(_report(client, sandbox, data_level="AUCTION_ADGROUP", dimensions=["advertiser_id", "adgroup_id"],
                           metrics=["spend"], start_date=day, end_date=day))  # fmt: skip
    assert all(r["dimensions"]["advertiser_id"] == ADV and r["dimensions"]["adgroup_id"] for r in with_adv["list"])
    default = _ok(_report(client, sandbox, data_level="AUCTION_CAMPAIGN", dimensions=["campaign_id"], start_date=day,
                          end_date=day))  # fmt: skip
    assert set(default["list"][0]["metrics"]) == {"spend", "impressions"} and default["total_metrics"] is None


def test_report_date_limits_and_hours(client: httpx.Client, sandbox: Sandbox) -> None:
    common = {"data_level": "AUCTION_ADVERTISER", "metrics": ["spend", "impressions"]}
    over = _report(
        client, sandbox, dimensions=["stat_time_day"], start_date="2026-02-01", end_date="2026-03-03", **common
    )
    assert over["code"] == 40002 and "2026-02-01" in over["message"] and "30" in over["message"]
    fine = _report(client, sandbox, dimensions=["stat_time_day"], start_date="2026-02-02", end_date="2026-03-03",
                   page_size=100, **common)  # fmt: skip
    assert _ok(fine)["page_info"]["total_number"] == 30
    lifetime = _ok(_report(client, sandbox, dimensions=["advertiser_id"], start_date="2026-01-05",
                           end_date="2026-03-05", **common))  # fmt: skip
    assert len(lifetime["list"]) == 1
    two_days = _report(client, sandbox, dimensions=["stat_time_hour"], start_date="2026-03-01", end_date="2026-03-02",
                       **common)  # fmt: skip
    assert two_days["code"] == 40002
    backwards = _report(client, sandbox, dimensions=["stat_time_day"], start_date="2026-03-02", end_date="2026-03-01",
                        **common)  # fmt: skip
    assert backwards["code"] == 40002
    bad_date = _report(client, sandbox, dimensions=["stat_time_day"], start_date="03/01/2026", end_date="2026-03-01",
                       **common)  # fmt: skip
    assert bad_date["code"] == 40002 and "start_date" in bad_date["message"]
    hours = _ok(_report(client, sandbox, dimensions=["stat_time_hour"], start_date="2026-03-01", end_date="2026-03-01",
                        page_size=24, **common))["list"]  # fmt: skip
    day = _ok(_report(client, sandbox, dimensions=["stat_time_day"], start_date="2026-03-01", end_date="2026-03-01",
                      **common))["list"][0]  # fmt: skip
    assert len(hours) == 24 and hours[13]["dimensions"]["stat_time_hour"] == "2026-03-01 13:00:00"
    assert sum(int(h["metrics"]["impressions"]) for h in hours) == int(day["metrics"]["impressions"])
    assert f"{sum(float(h['metrics']['spend']) for h in hours):.2f}" == day["metrics"]["spend"]


def test_restatement_after_the_clock_moves(client: httpx.Client, sandbox: Sandbox) -> None:
    first, last = "2026-03-01", "2026-03-05"
    args = {"data_level": "AUCTION_ADVERTISER", "dimensions": ["advertiser_id"], "start_date": first,
            "end_date": last, "metrics": ["spend", "conversion"]}  # fmt: skip
    before = _ok(_report(client, sandbox, **args))["list"][0]["metrics"]
    client.post("/_sandbox/advance", json={"days": 5})
    after = _ok(_report(client, sandbox, **args))["list"][0]["metrics"]
    assert after["spend"] == before["spend"] and int(after["conversion"]) > int(before["conversion"])
    truth = client.get("/_sandbox/truth", params={"platform": "tiktok", "since": first, "until": last}).json()["rows"]
    assert after["conversion"] == str(sum(r["reported_conversions"] for r in truth))


# -- async report tasks ------------------------------------------------------------------------------------------
TASK = {"advertiser_id": ADV, "report_type": "BASIC", "service_type": "AUCTION", "data_level": "AUCTION_AD",
        "dimensions": ["ad_id", "stat_time_day"], "metrics": ["spend", "impressions", "clicks", "conversion"],
        "start_date": "2026-02-25", "end_date": "2026-03-05"}  # fmt: skip


def _check(client: httpx.Client, sandbox: Sandbox, task_id: str) -> dict[str, Any]:
    return _ok(_get(client, sandbox, "report/task/check/", advertiser_id=ADV, task_id=task_id))


def test_async_task_lifecycle_and_csv(client: httpx.Client, sandbox: Sandbox) -> None:
    task_id = _ok(_post(client, sandbox, "report/task/create/", TASK | {"output_format": "CSV", "file_name": "ads"}))[
        "task_id"
    ]
    early = _get(client, sandbox, "report/task/download/", advertiser_id=ADV, task_id=task_id)
    assert early["code"] == 40201
    statuses = [_check(client, sandbox, task_id)["status"] for _ in range(4)]
    assert statuses == ["QUEUING", "PROCESSING", "SUCCESS", "SUCCESS"]
    data = _ok(_get(client, sandbox, "report/task/download/", advertiser_id=ADV, task_id=task_id))
    assert data["file_name"] == "ads.csv" and data["output_format"] == "CSV_DOWNLOAD"
    r = client.get(data["download_url"].removeprefix("http://sandbox.test"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["ad_id", "stat_time_day", "spend", "impressions", "clicks", "conversion"]
    sync = _ok(_report(client, sandbox, **{k: v for k, v in TASK.items() if k != "advertiser_id"}, page_size=1000))
    assert len(table) - 1 == len(sync["list"])
    by_key = {(row["dimensions"]["ad_id"], row["dimensions"]["stat_time_day"]): row["metrics"] for row in sync["list"]}
    for ad_id, day, spend, impressions, clicks, conversion in table[1:]:
        assert by_key[(ad_id, day)] == {"spend": spend, "impressions": impressions, "clicks": clicks,
                                        "conversion": conversion}  # fmt: skip
    assert _get(client, sandbox, "report/task/check/", advertiser_id=ADV, task_id="42")["code"] == 40007
    bad = _post(client, sandbox, "report/task/create/", TASK | {"start_date": "2026-01-05"})
    assert bad["code"] == 40002


def test_async_task_xlsx(client: httpx.Client, sandbox: Sandbox) -> None:
    task_id = _ok(_post(client, sandbox, "report/task/create/", TASK | {"output_format": "XLSX"}))["task_id"]
    for _ in range(3):
        _check(client, sandbox, task_id)
    data = _ok(_get(client, sandbox, "report/task/download/", advertiser_id=ADV, task_id=task_id))
    content = client.get(data["download_url"].removeprefix("http://sandbox.test")).content
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        assert "<t>ad_id</t>" in zf.read("xl/worksheets/sheet1.xml").decode()


def test_async_task_failure_stall_and_cancel(client: httpx.Client, sandbox: Sandbox) -> None:
    _faults(client, async_fail=1.0)
    failing = _ok(_post(client, sandbox, "report/task/create/", TASK))["task_id"]
    checks = [_check(client, sandbox, failing) for _ in range(3)]
    assert [c["status"] for c in checks] == ["QUEUING", "PROCESSING", "FAILED"] and checks[-1]["message"]
    assert _get(client, sandbox, "report/task/download/", advertiser_id=ADV, task_id=failing)["code"] == 40200
    _faults(client, async_fail=0.0, async_stall=1.0)
    stalled = _ok(_post(client, sandbox, "report/task/create/", TASK))["task_id"]
    statuses = [_check(client, sandbox, stalled)["status"] for _ in range(30)]
    assert statuses[0] == "QUEUING" and set(statuses[1:20]) == {"PROCESSING"} and statuses[-1] == "SUCCESS"
    _faults(client, async_stall=0.0)
    doomed = _ok(_post(client, sandbox, "report/task/create/", TASK))["task_id"]
    assert _check(client, sandbox, doomed)["status"] == "QUEUING"
    assert _ok(_post(client, sandbox, "report/task/cancel/", {"advertiser_id": ADV, "task_id": doomed})) == {
        "status": "CANCELED"
    }
    assert _check(client, sandbox, doomed)["status"] == "CANCELED"
    assert _get(client, sandbox, "report/task/download/", advertiser_id=ADV, task_id=doomed)["code"] == 40200
    again = _post(client, sandbox, "report/task/cancel/", {"advertiser_id": ADV, "task_id": doomed})
    assert again["code"] == 40200


# -- writes ------------------------------------------------------------------------------------------------------
def _adgroups(client: httpx.Client, sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    rows = _ok(_get(client, sandbox, "adgroup/get/", advertiser_id=ADV, filtering={"primary_status": "STATUS_ALL"}))
    return {g["adgroup_name"]: g for g in rows["list"]}


def test_adgroup_updates_read_back_and_log(client: httpx.Client, sandbox: Sandbox) -> None:
    de = _adgroups(client, sandbox)["DE 18-34"]
    body = {"advertiser_id": ADV, "adgroup_id": de["adgroup_id"], "budget": 50.1, "bid_price": 1.25,
            "adgroup_name": "DE 18-34 (trimmed)"}  # fmt: skip
    updated = _ok(_post(client, sandbox, "adgroup/update/", body))
    assert updated["budget"] == 50.1 and updated["adgroup_name"] == "DE 18-34 (trimmed)"
    back = _adgroups(client, sandbox)["DE 18-34 (trimmed)"]
    assert back["budget"] == 50.1 and back["bid_price"] == 1.25 and back["bid_type"] == "BID_TYPE_CUSTOM"
    writes = client.get("/_sandbox/writes", params={"platform": "tiktok"}).json()["writes"]
    budget = [w for w in writes if w["field"] == "daily_budget"]
    assert budget[-1]["id"] == de["adgroup_id"] and budget[-1]["old"] == 30000 and budget[-1]["new"] == 5010
    assert any(w["field"] == "bid" and w["new"] == 125 for w in writes)
    for bad in (50.123, -5, "lots", 5):  # too many decimals, negative, not a number, below the minimum
        r = _post(
            client, sandbox, "adgroup/update/", {"advertiser_id": ADV, "adgroup_id": de["adgroup_id"], "budget": bad}
        )
        assert r["code"] == 40002 and "budget" in r["message"]
    fr = _adgroups(client, sandbox)["FR 18-34"]
    batch = {"advertiser_id": ADV, "budget": [{"adgroup_id": fr["adgroup_id"], "budget": 75},
                                             {"adgroup_id": de["adgroup_id"], "budget": "120.5"}]}  # fmt: skip
    _ok(_post(client, sandbox, "adgroup/budget/update/", batch))
    groups = _adgroups(client, sandbox)
    assert groups["FR 18-34"]["budget"] == 75.0 and groups["DE 18-34 (trimmed)"]["budget"] == 120.5


def test_status_updates(client: httpx.Client, sandbox: Sandbox) -> None:
    de = _adgroups(client, sandbox)["DE 18-34"]
    body = {"advertiser_id": ADV, "adgroup_ids": [de["adgroup_id"]], "operation_status": "DISABLE"}
    assert _ok(_post(client, sandbox, "adgroup/status/update/", body)) == {
        "adgroup_ids": [de["adgroup_id"]], "status": "DISABLE", "error_list": []
    }  # fmt: skip
    back = _adgroups(client, sandbox)["DE 18-34"]
    assert back["operation_status"] == "DISABLE" and back["secondary_status"] == "ADGROUP_STATUS_DISABLE"
    ads = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, filtering={"adgroup_ids": [de["adgroup_id"]]}))
    assert {a["secondary_status"] for a in ads["list"]} == {"AD_STATUS_ADGROUP_DISABLE"}
    writes = client.get("/_sandbox/writes", params={"platform": "tiktok"}).json()["writes"]
    assert writes[-1] == writes[-1] | {"id": de["adgroup_id"], "field": "status", "old": "ACTIVE", "new": "PAUSED"}
    partial = _ok(_post(client, sandbox, "adgroup/status/update/",
                        {"advertiser_id": ADV, "adgroup_ids": [de["adgroup_id"], "999"], "operation_status": "ENABLE",
                         "allow_partial_success": True}))  # fmt: skip
    assert partial["adgroup_ids"] == [de["adgroup_id"]] and partial["error_list"][0]["adgroup_id"] == "999"
    both = [de["adgroup_id"], "999"]
    strict = _post(client, sandbox, "adgroup/status/update/",
                   {"advertiser_id": ADV, "adgroup_ids": both, "operation_status": "DISABLE"})  # fmt: skip
    assert strict["code"] == 40007 and _adgroups(client, sandbox)["DE 18-34"]["operation_status"] == "ENABLE"
    camp = de["campaign_id"]
    data = _ok(_post(client, sandbox, "campaign/status/update/",
                     {"advertiser_id": ADV, "campaign_ids": [camp], "operation_status": "DISABLE"}))  # fmt: skip
    assert data["campaign_list"] == [{"campaign_id": camp, "status": "DISABLE"}]
    assert _adgroups(client, sandbox)["DE 18-34"]["secondary_status"] == "ADGROUP_STATUS_CAMPAIGN_DISABLE"
    bad = _post(client, sandbox, "campaign/status/update/",
                {"advertiser_id": ADV, "campaign_ids": [camp], "operation_status": "PAUSE"})  # fmt: skip
    assert bad["code"] == 40002 and "operation_status" in bad["message"]


def _upload(client: httpx.Client, sandbox: Sandbox, data: bytes, signature: str, name: str) -> dict[str, Any]:
    files = {"image_file": (name, data, "image/png")}
    form = {"advertiser_id": ADV, "upload_type": "UPLOAD_BY_FILE", "image_signature": signature, "file_name": name}
    r = client.post(API + "file/image/ad/upload/", data=form, files=files, headers=_headers(sandbox))
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


def test_image_upload_signature(client: httpx.Client, sandbox: Sandbox) -> None:
    png = synthetic_png("tiktok-upload-test")
    wrong = _upload(client, sandbox, png, hashlib.md5(b"other").hexdigest(), "bad.png")
    assert wrong["code"] == 40900
    img = _ok(_upload(client, sandbox, png, hashlib.md5(png).hexdigest(), "fresh.png"))
    assert img["signature"] == hashlib.md5(png).hexdigest() and img["size"] == len(png)
    assert (img["width"], img["height"], img["format"], img["file_name"]) == (64, 64, "png", "fresh.png")
    assert {"image_id", "material_id", "image_url"} <= set(img)
    info = _ok(_get(client, sandbox, "file/image/ad/info/", advertiser_id=ADV, image_ids=[img["image_id"]]))
    assert info["list"][0]["image_id"] == img["image_id"]
    not_image = _upload(client, sandbox, b"hello", hashlib.md5(b"hello").hexdigest(), "x.txt")
    assert not_image["code"] == 40002
    url = "https://cdn.example/a.png"
    by_url = _ok(_post(client, sandbox, "file/image/ad/upload/",
                       {"advertiser_id": ADV, "upload_type": "UPLOAD_BY_URL", "image_url": url}))  # fmt: skip
    assert by_url["file_name"] == "a.png" and by_url["image_id"] != img["image_id"]


def test_create_campaign_adgroup_and_ads(client: httpx.Client, sandbox: Sandbox) -> None:
    camp = _ok(_post(client, sandbox, "campaign/create/",
                     {"advertiser_id": ADV, "campaign_name": "Spring", "objective_type": "WEB_CONVERSIONS",
                      "budget_mode": "BUDGET_MODE_DAY", "budget": 200}))  # fmt: skip
    assert camp["campaign_id"] and camp["budget"] == 200.0 and camp["budget_mode"] == "BUDGET_MODE_DAY"
    group = _ok(_post(client, sandbox, "adgroup/create/",
                      {"advertiser_id": ADV, "campaign_id": camp["campaign_id"], "adgroup_name": "AT 18-34",
                       "budget_mode": "BUDGET_MODE_DAY", "budget": 40.5, "optimization_goal": "CONVERT",
                       "operation_status": "DISABLE"}))  # fmt: skip
    assert group["adgroup_id"] and group["budget"] == 40.5 and group["operation_status"] == "DISABLE"
    png = synthetic_png("spring-hero")
    image_id = _ok(_upload(client, sandbox, png, hashlib.md5(png).hexdigest(), "spring.png"))["image_id"]
    creative = {"ad_name": "Spring hero", "ad_format": "SINGLE_IMAGE", "image_ids": [image_id],
                "ad_text": "Spring is here", "call_to_action": "SHOP_NOW", "landing_page_url": "https://shop.example/spring",
                "display_name": "Lumen", "identity_type": "CUSTOMIZED_USER", "identity_id": "123"}  # fmt: skip
    made = _ok(_post(client, sandbox, "ad/create/",
                     {"advertiser_id": ADV, "adgroup_id": group["adgroup_id"], "creatives": [creative]}))  # fmt: skip
    (ad_id,) = made["ad_ids"]
    ad = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, filtering={"ad_ids": [ad_id]}))["list"][0]
    assert ad["ad_text"] == "Spring is here" and ad["image_ids"] == [image_id] and ad["display_name"] == "Lumen"
    assert ad["identity_id"] == "123" and ad["secondary_status"] == "AD_STATUS_ADGROUP_DISABLE"
    renamed = _ok(_post(client, sandbox, "ad/update/",
                        {"advertiser_id": ADV, "adgroup_id": group["adgroup_id"],
                         "creatives": [{"ad_id": ad_id, "ad_name": "Spring hero v2"}]}))  # fmt: skip
    assert renamed["creatives"][0]["ad_name"] == "Spring hero v2"
    missing_image = _post(client, sandbox, "ad/create/",
                          {"advertiser_id": ADV, "adgroup_id": group["adgroup_id"],
                           "creatives": [creative | {"image_ids": ["404"]}]})  # fmt: skip
    assert missing_image["code"] == 40002 and "image_ids" in missing_image["message"]
    no_text = _post(client, sandbox, "ad/create/",
                    {"advertiser_id": ADV, "adgroup_id": group["adgroup_id"],
                     "creatives": [{k: v for k, v in creative.items() if k != "ad_text"}]})  # fmt: skip
    assert no_text["code"] == 40002 and "ad_text" in no_text["message"]
    kinds = [w["entity"] for w in client.get("/_sandbox/writes", params={"platform": "tiktok"}).json()["writes"]]
    assert {"campaign", "ad_set", "creative", "ad", "image"} <= set(kinds)


# -- faults ------------------------------------------------------------------------------------------------------
def test_throttle_and_server_error_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    _faults(client, throttle=1.0)
    throttled = client.get(API + "campaign/get/", params={"advertiser_id": ADV}, headers=_headers(sandbox))
    assert throttled.status_code == 200 and throttled.json()["code"] == 40100
    _faults(client, throttle=0.0, server_error=1.0)
    failed = client.get(API + "campaign/get/", params={"advertiser_id": ADV}, headers=_headers(sandbox))
    assert failed.status_code == 200 and failed.json()["code"] == 50000 and failed.json()["data"] == {}
    _faults(client, server_error=0.0)
    assert _get(client, sandbox, "campaign/get/", advertiser_id=ADV)["code"] == 0


def test_truncate_and_repeat_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    args = {"data_level": "AUCTION_AD", "dimensions": ["ad_id", "stat_time_day"], "metrics": ["spend"],
            "start_date": "2026-02-20", "end_date": "2026-03-05", "page_size": 6}  # fmt: skip
    clean = [_ok(_report(client, sandbox, page=p, **args)) for p in (1, 2)]
    _faults(client, truncate=1.0)
    short = _ok(_report(client, sandbox, page=1, **args))
    assert len(short["list"]) == 4 and short["page_info"] == clean[0]["page_info"]
    assert short["list"] == clean[0]["list"][:4]
    _faults(client, truncate=0.0, repeat=1.0)
    repeated = _ok(_report(client, sandbox, page=2, **args))
    assert repeated["list"] == clean[0]["list"] and repeated["page_info"] == clean[1]["page_info"]
    ads = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, page=2, page_size=2))
    first_page = _ok(_get(client, sandbox, "ad/get/", advertiser_id=ADV, page=1, page_size=2))
    assert ads["list"] == first_page["list"] and ads["page_info"]["page"] == 2


# -- authorization flow ------------------------------------------------------------------------------------------
def test_oauth_flow_end_to_end(client: httpx.Client, sandbox: Sandbox) -> None:
    app_id, secret = sandbox.auth.tiktok_app_id, sandbox.auth.tiktok_secret
    r = client.get("/portal/auth", params={"app_id": app_id, "state": "xyz", "redirect_uri": "https://app.example/cb"})
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert location.netloc == "app.example" and location.path == "/cb"
    query = parse_qs(location.query)
    code = query["auth_code"][0]
    assert query["state"] == ["xyz"]
    assert client.get("/portal/auth", params={"app_id": "1", "redirect_uri": "https://a/"}).status_code == 400
    wrong = client.post(API + "oauth2/access_token/", json={"app_id": app_id, "secret": "bad", "auth_code": code})
    assert wrong.json()["code"] == 40101
    granted = client.post(API + "oauth2/access_token/", json={"app_id": app_id, "secret": secret, "auth_code": code})
    data = _ok(granted.json())
    assert data["advertiser_ids"] == [ADV] and all(isinstance(s, int) for s in data["scope"])
    token = data["access_token"]
    reused = client.post(API + "oauth2/access_token/", json={"app_id": app_id, "secret": secret, "auth_code": code})
    assert reused.json()["code"] == 40110
    unknown = client.post(API + "oauth2/access_token/", json={"app_id": app_id, "secret": secret, "auth_code": "x"})
    assert unknown.json()["code"] == 40110
    campaigns = client.get(API + "campaign/get/", params={"advertiser_id": ADV}, headers={"Access-Token": token})
    assert _ok(campaigns.json())["list"]
    listed = client.get(API + "oauth2/advertiser/get/", params={"app_id": app_id, "secret": secret},
                        headers={"Access-Token": token})  # fmt: skip
    assert _ok(listed.json())["list"] == [{"advertiser_id": ADV, "advertiser_name": "Lumen Goods EU"}]
    bad_secret = client.get(API + "oauth2/advertiser/get/", params={"app_id": app_id, "secret": "no"},
                            headers={"Access-Token": token})  # fmt: skip
    assert bad_secret.json()["code"] == 40101
    revoked = client.post(
        API + "oauth2/revoke_token/", json={"app_id": app_id, "secret": secret, "access_token": token}
    )
    assert revoked.json()["code"] == 0
    after = client.get(API + "campaign/get/", params={"advertiser_id": ADV}, headers={"Access-Token": token})
    assert after.json()["code"] == 40105


def test_served_over_a_real_socket(live_url: str, sandbox: Sandbox) -> None:
    """The same surface behind uvicorn: no slash redirect sneaks in, JSON query params and uploads work."""
    with httpx.Client(base_url=live_url, headers=_headers(sandbox), follow_redirects=False) as http:
        slashless = http.get(API + "campaign/get", params={"advertiser_id": ADV})
        assert slashless.status_code == 404 and slashless.text == "404 page not found"
        report = _ok(_get(http, sandbox, "report/integrated/get/", advertiser_id=ADV, report_type="BASIC",
                          data_level="AUCTION_CAMPAIGN", dimensions=["campaign_id"], metrics=["spend"],
                          start_date="2026-03-01", end_date="2026-03-05"))  # fmt: skip
        assert report["list"][0]["metrics"]["spend"].count(".") == 1
        png = synthetic_png("over-the-wire")
        form = {"advertiser_id": ADV, "image_signature": hashlib.md5(png).hexdigest()}
        r = http.post(API + "file/image/ad/upload/", data=form, files={"image_file": ("w.png", png, "image/png")})
        assert _ok(r.json())["signature"] == hashlib.md5(png).hexdigest()
