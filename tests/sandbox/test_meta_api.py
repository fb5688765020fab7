"""The Meta Marketing API surface, driven over HTTP the way a Graph client meets it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from adpilot_sandbox.app import create_app
from adpilot_sandbox.auth import Token
from adpilot_sandbox.entities import synthetic_png
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.scenario import parse_scenario
from adpilot_sandbox.transport import SyncASGITransport

V = "/v21.0"
ACT = "act_1000000001"
ACCOUNT_ID = "1000000001"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$")


def token(sandbox: Sandbox) -> str:
    return sandbox.auth.primary("meta").value


def get(client: httpx.Client, sandbox: Sandbox, path: str, **params: Any) -> httpx.Response:
    params.setdefault("access_token", token(sandbox))
    return client.get(f"{V}/{path}", params={k: v for k, v in params.items() if v is not None})


def post(client: httpx.Client, sandbox: Sandbox, path: str, **data: Any) -> httpx.Response:
    data.setdefault("access_token", token(sandbox))
    return client.post(f"{V}/{path}", data=data)


def error_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert {"message", "type", "code", "is_transient", "fbtrace_id"} <= set(err), err
    return err


def pages(client: httpx.Client, sandbox: Sandbox, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of an edge, continued with ``after`` the way the SDK's Cursor does."""
    out = []
    for _ in range(100):
        body = get(client, sandbox, path, **params).json()
        out.append(body)
        if "next" not in body.get("paging", {}):
            return out
        params["after"] = body["paging"]["cursors"]["after"]
    raise AssertionError("paging did not end")


def faults(client: httpx.Client, **values: float) -> None:
    assert client.post("/_sandbox/faults", json={"meta": values}).status_code == 200


def truth(client: httpx.Client, since: str, until: str) -> list[dict[str, Any]]:
    q = {"platform": "meta", "since": since, "until": until}
    rows: list[dict[str, Any]] = client.get("/_sandbox/truth", params=q).json()["rows"]
    return rows


def major(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def purchases(row: dict[str, Any]) -> int:
    counts = {a["action_type"]: int(a["value"]) for a in row.get("actions", [])}
    assert counts.get("purchase", 0) == counts.get("offsite_conversion.fb_pixel_purchase", 0)
    return counts.get("purchase", 0)


# -- reads and paging --------------------------------------------------------------------------------------


def test_paging_serves_every_row_exactly_once(client: httpx.Client, sandbox: Sandbox) -> None:
    all_ads = {a.id for a in sandbox.market.ads_of("meta", ACCOUNT_ID)}
    for limit in (1, 2, 3, 7, 25):
        bodies = pages(client, sandbox, f"{ACT}/ads", limit=limit, fields="id,name")
        ids = [row["id"] for b in bodies for row in b["data"]]
        assert sorted(ids) == sorted(all_ads)
        for b in bodies:
            assert set(b["paging"]["cursors"]) == {"before", "after"}
            assert len(b["data"]) <= limit
        assert "next" not in bodies[-1]["paging"]
        assert all("next" in b["paging"] for b in bodies[:-1])
    # paging.next is a full URL that works as it is
    first = get(client, sandbox, f"{ACT}/ads", limit=3, fields="id").json()
    nxt = first["paging"]["next"]
    query = parse_qs(urlsplit(nxt).query)
    assert nxt.startswith("http://sandbox.test/v21.0/act_1000000001/ads?")
    assert query["after"] == [first["paging"]["cursors"]["after"]] and query["limit"] == ["3"]
    assert "access_token" in query
    second = client.get(nxt).json()
    assert not {r["id"] for r in second["data"]} & {r["id"] for r in first["data"]}
    assert "previous" in second["paging"]


def test_accounts_nodes_and_default_fields(client: httpx.Client, sandbox: Sandbox) -> None:
    me = get(client, sandbox, "me/adaccounts").json()
    assert me["data"] == [{"account_id": ACCOUNT_ID, "id": ACT}]
    assert get(client, sandbox, ACT).json() == {"account_id": ACCOUNT_ID, "id": ACT}
    acc = get(client, sandbox, ACT, fields="name,currency,timezone_name,account_status,amount_spent").json()
    assert acc["id"] == ACT and acc["currency"] == "USD" and acc["timezone_name"] == "America/Los_Angeles"
    assert acc["account_status"] == 1 and acc["amount_spent"].isdigit()
    camp = sandbox.market.campaigns_of("meta", ACCOUNT_ID)[0]
    assert get(client, sandbox, camp.id).json() == {"id": camp.id}
    node = get(client, sandbox, camp.id + "/", fields="name,account_id,created_time,effective_status").json()
    assert node["account_id"] == ACCOUNT_ID and node["name"] == camp.name
    assert TIME_RE.match(node["created_time"]) and node["created_time"].endswith("-0800")

    ad_set = sandbox.market.ad_sets_of("meta", ACCOUNT_ID)[0]
    row = get(client, sandbox, ad_set.id, fields="daily_budget,budget_remaining,campaign_id,targeting").json()
    assert row["daily_budget"] == str(ad_set.daily_budget_minor) and row["campaign_id"] == ad_set.campaign_id
    assert isinstance(row["targeting"], dict)
    ad = sandbox.market.ads_of("meta", ACCOUNT_ID)[0]
    ad_row = get(client, sandbox, ad.id, fields="adset_id,creative{id},status,configured_status").json()
    assert ad_row == {
        "adset_id": ad.ad_set_id,
        "creative": {"id": ad.creative_id},
        "status": "ACTIVE",
        "configured_status": "ACTIVE",
        "id": ad.id,
    }
    creative = get(client, sandbox, ad.creative_id, fields="title,image_hash,object_story_spec,image_url").json()
    assert creative["object_story_spec"]["link_data"]["image_hash"] == creative["image_hash"]
    assert client.get(creative["image_url"]).content[:4] == b"\x89PNG"
    images = get(client, sandbox, f"{ACT}/adimages").json()["data"]
    assert images and set(images[0]) == {"hash", "id"} and images[0]["id"].endswith(":" + images[0]["hash"])
    children = get(client, sandbox, f"{camp.id}/adsets", fields="campaign_id").json()["data"]
    assert children and all(c["campaign_id"] == camp.id for c in children)
    ads = get(client, sandbox, f"{ad.ad_set_id}/ads", fields="adset_id").json()["data"]
    assert ads and all(a["adset_id"] == ad.ad_set_id for a in ads)


def test_summary_filters_and_json_params(client: httpx.Client, sandbox: Sandbox) -> None:
    m = sandbox.market
    body = get(client, sandbox, f"{ACT}/adsets", summary="true", limit=1).json()
    assert body["summary"] == {"total_count": len(m.ad_sets_of("meta", ACCOUNT_ID))} and len(body["data"]) == 1
    retargeting = next(c for c in m.campaigns_of("meta", ACCOUNT_ID) if c.name == "Retargeting")
    assert post(client, sandbox, retargeting.id, status="PAUSED").json() == {"success": True}
    rows = get(client, sandbox, f"{ACT}/adsets", fields="effective_status,campaign_id,status").json()["data"]
    for row in rows:
        paused = row["campaign_id"] == retargeting.id
        assert row["status"] == "ACTIVE"
        assert row["effective_status"] == ("CAMPAIGN_PAUSED" if paused else "ACTIVE")
    ad_rows = get(client, sandbox, f"{ACT}/ads", fields="effective_status", effective_status='["CAMPAIGN_PAUSED"]')
    assert len(ad_rows.json()["data"]) == len(
        [a for a in m.ads_of("meta", ACCOUNT_ID) if a.campaign_id == retargeting.id]
    )
    filtering = orjson.dumps([{"field": "campaign.id", "operator": "EQUAL", "value": retargeting.id}]).decode()
    only = get(client, sandbox, f"{ACT}/ads", fields="campaign_id", filtering=filtering).json()["data"]
    assert only and {r["campaign_id"] for r in only} == {retargeting.id}
    name_filter = orjson.dumps([{"field": "name", "operator": "CONTAIN", "value": "hero"}]).decode()
    heroes = get(client, sandbox, f"{ACT}/ads", fields="name", filtering=name_filter).json()["data"]
    assert heroes and all("Hero" in r["name"] for r in heroes)

    # deleted objects leave lists unless asked for
    ad = m.ads_of("meta", ACCOUNT_ID)[0]
    assert client.delete(f"{V}/{ad.id}", params={"access_token": token(sandbox)}).json() == {"success": True}
    listed = [r["id"] for b in pages(client, sandbox, f"{ACT}/ads") for r in b["data"]]
    assert ad.id not in listed
    deleted = orjson.dumps([{"field": "ad.effective_status", "operator": "IN", "value": ["DELETED"]}]).decode()
    assert [r["id"] for r in get(client, sandbox, f"{ACT}/ads", filtering=deleted).json()["data"]] == [ad.id]
    assert get(client, sandbox, ad.id, fields="status").json()["status"] == "DELETED"


# -- insights ----------------------------------------------------------------------------------------------


def test_daily_ad_rows_match_truth_exactly(client: httpx.Client, sandbox: Sandbox) -> None:
    since, until = "2026-02-20", "2026-03-05"
    expected = {(t["ad_id"], t["date"]): t for t in truth(client, since, until)}
    time_range = orjson.dumps({"since": since, "until": until}).decode()
    bodies = pages(
        client,
        sandbox,
        f"{ACT}/insights",
        level="ad",
        time_increment=1,
        time_range=time_range,
        fields="ad_id,ad_name,adset_id,campaign_id,impressions,clicks,spend,actions,account_currency",
        limit=50,
    )
    rows = [r for b in bodies for r in b["data"]]
    assert len(rows) == len(expected) > 50
    for row in rows:
        t = expected[(row["ad_id"], row["date_start"])]
        assert row["date_stop"] == row["date_start"]
        assert row["spend"] == t["spend"] and row["impressions"] == str(t["impressions"])
        assert row["clicks"] == str(t["clicks"]) and purchases(row) == t["reported_conversions"]
        assert row["adset_id"] == t["ad_set_id"] and row["account_currency"] == "USD"


@pytest.mark.parametrize("level", ["account", "campaign", "adset"])
def test_aggregated_levels_match_truth(client: httpx.Client, sandbox: Sandbox, level: str) -> None:
    since, until = "2026-02-01", "2026-03-05"
    key = {"account": "account_id", "campaign": "campaign_id", "adset": "ad_set_id"}[level]
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for t in truth(client, since, until):
        s = sums[t[key]]
        for i, name in enumerate(
            ("impressions", "clicks", "spend_minor", "reported_conversions", "reported_value_minor")
        ):
            s[i] += t[name]
    id_field = {"account": "account_id", "campaign": "campaign_id", "adset": "adset_id"}[level]
    time_range = orjson.dumps({"since": since, "until": until}).decode()
    rows = get(
        client,
        sandbox,
        f"{ACT}/insights",
        level=level,
        time_range=time_range,
        fields=f"{id_field},impressions,clicks,spend,actions,action_values,ctr,cpc,cpm",
    ).json()["data"]
    assert {r[id_field] for r in rows} == set(sums)
    for row in rows:
        impressions, clicks, spend, conversions, value = sums[row[id_field]]
        assert (row["date_start"], row["date_stop"]) == (since, until)
        assert row["impressions"] == str(impressions) and row["clicks"] == str(clicks)
        assert row["spend"] == major(spend) and purchases(row) == conversions
        values = {a["action_type"]: a["value"] for a in row["action_values"]}
        assert values["purchase"] == values["offsite_conversion.fb_pixel_purchase"] == major(value)
        assert row["ctr"] == f"{100 * clicks / impressions:.6f}"
        assert row["cpc"] == f"{spend / 100 / clicks:.6f}" and row["cpm"] == f"{1000 * spend / 100 / impressions:.6f}"


def test_restatement_is_visible_after_the_clock_moves(client: httpx.Client, sandbox: Sandbox) -> None:
    day = orjson.dumps({"since": "2026-03-05", "until": "2026-03-05"}).decode()

    def conversions() -> int:
        rows = get(client, sandbox, f"{ACT}/insights", time_range=day, fields="actions,spend").json()["data"]
        return purchases(rows[0])

    before = conversions()
    assert before == sum(t["reported_conversions"] for t in truth(client, "2026-03-05", "2026-03-05"))
    client.post("/_sandbox/advance", json={"days": 6})
    after = conversions()
    assert after > before
    assert after == sum(t["reported_conversions"] for t in truth(client, "2026-03-05", "2026-03-05"))


def test_insights_parameters(client: httpx.Client, sandbox: Sandbox) -> None:
    camp = sandbox.market.campaigns_of("meta", ACCOUNT_ID)[0]
    r = get(
        client,
        sandbox,
        f"{camp.id}/insights",
        date_preset="last_7d",
        time_increment="1",
        action_attribution_windows='["7d_click","1d_view"]',
        fields="campaign_id,actions,attribution_setting",
    )
    rows = r.json()["data"]
    assert [row["date_start"] for row in rows] == [f"2026-02-{d}" for d in (27, 28)] + [
        f"2026-03-0{d}" for d in range(1, 6)
    ]
    assert {row["campaign_id"] for row in rows} == {camp.id}
    action = rows[0]["actions"][0]
    assert action["7d_click"] == action["value"] and action["1d_view"] == "0"
    assert rows[0]["attribution_setting"] == "7d_click_1d_view"
    throttle = orjson.loads(r.headers["x-fb-ads-insights-throttle"])
    assert {"app_id_util_pct", "acc_id_util_pct"} <= set(throttle)

    # default: last 30 days, account level, impressions and spend, one row
    default = get(client, sandbox, f"{ACT}/insights").json()["data"]
    assert len(default) == 1 and set(default[0]) == {"impressions", "spend", "date_start", "date_stop"}
    assert (default[0]["date_start"], default[0]["date_stop"]) == ("2026-02-04", "2026-03-05")
    ranges = orjson.dumps(
        [{"since": "2026-03-01", "until": "2026-03-02"}, {"since": "2026-03-02", "until": "2026-03-03"}]
    ).decode()
    two = get(client, sandbox, f"{ACT}/insights", time_ranges=ranges, fields="spend").json()["data"]
    assert [(x["date_start"], x["date_stop"]) for x in two] == [
        ("2026-03-01", "2026-03-02"),
        ("2026-03-02", "2026-03-03"),
    ]
    monthly = get(client, sandbox, f"{ACT}/insights", date_preset="last_month", fields="spend").json()["data"]
    assert (monthly[0]["date_start"], monthly[0]["date_stop"]) == ("2026-02-01", "2026-02-28")
    assert get(client, sandbox, f"{ACT}/insights", date_preset="today").json()["data"] == []
    filtered = orjson.dumps([{"field": "campaign.id", "operator": "IN", "value": [camp.id]}]).decode()
    by_campaign = get(
        client, sandbox, f"{ACT}/insights", level="campaign", filtering=filtered, fields="campaign_id"
    ).json()["data"]
    assert [x["campaign_id"] for x in by_campaign] == [camp.id]

    bad = get(client, sandbox, f"{ACT}/insights", breakdowns='["age"]')
    err = error_of(bad)
    assert bad.status_code == 400 and err["code"] == 100 and "age" in err["message"]
    assert orjson.loads(err["error_data"]) == {"blame_field_specs": [["breakdowns"]]}
    old = get(client, sandbox, f"{ACT}/insights", time_range='{"since":"2022-12-01","until":"2023-01-01"}')
    assert old.status_code == 400 and error_of(old)["code"] == 3018
    assert error_of(get(client, sandbox, f"{ACT}/insights", fields="spend,bogus"))["code"] == 100
    assert error_of(get(client, sandbox, f"{ACT}/insights", level="country"))["code"] == 100
    assert error_of(get(client, sandbox, f"{ACT}/insights", date_preset="last_3_weeks"))["code"] == 100
    bad_range = get(client, sandbox, f"{ACT}/insights", time_range='{"since":"2026-03-05","until":"2026-03-01"}')
    assert error_of(bad_range)["code"] == 100


def test_async_report_lifecycle(client: httpx.Client, sandbox: Sandbox) -> None:
    params = {
        "level": "ad",
        "time_increment": "1",
        "fields": "ad_id,spend,actions",
        "time_range": '{"since":"2026-03-01","until":"2026-03-05"}',
    }
    run_id = post(client, sandbox, f"{ACT}/insights", **params).json()["report_run_id"]
    early = get(client, sandbox, f"{run_id}/insights")
    assert early.status_code == 400 and error_of(early)["code"] == 2601 and error_of(early)["is_transient"]
    seen = []
    for _ in range(3):
        node = get(client, sandbox, run_id).json()
        seen.append((node["async_status"], node["async_percent_completion"], node["is_running"]))
        assert node["id"] == run_id and node["account_id"] == ACCOUNT_ID
        assert (node["date_start"], node["date_stop"]) == ("2026-03-01", "2026-03-05")
    assert seen == [("Job Started", 0, True), ("Job Running", 100, True), ("Job Completed", 100, False)]
    assert isinstance(node["time_completed"], int) and node["time_completed"] >= node["time_ref"]
    client.post("/_sandbox/advance", json={"days": 3})  # the result was computed when the job was created
    result = [r for b in pages(client, sandbox, f"{run_id}/insights", limit=10) for r in b["data"]]
    expected = {(t["ad_id"], t["date"]): t for t in truth(client, "2026-03-01", "2026-03-05")}
    assert len(result) == len(expected)
    assert all(r["spend"] == expected[(r["ad_id"], r["date_start"])]["spend"] for r in result)
    restated = sum(t["reported_conversions"] for t in expected.values())
    assert sum(purchases(r) for r in result) < restated
    assert get(client, sandbox, run_id, fields="async_status").json() == {"id": run_id, "async_status": "Job Completed"}


def test_async_failure_and_stall(client: httpx.Client, sandbox: Sandbox) -> None:
    faults(client, async_fail=1.0)
    failed = post(client, sandbox, f"{ACT}/insights", date_preset="last_7d").json()["report_run_id"]
    statuses = [get(client, sandbox, failed).json() for _ in range(4)]
    assert [s["async_status"] for s in statuses] == ["Job Started", "Job Running", "Job Failed", "Job Failed"]
    assert statuses[-1]["error_code"] and statuses[-1]["error_message"] and not statuses[-1]["is_running"]
    assert error_of(get(client, sandbox, f"{failed}/insights"))["code"] == 2601

    faults(client, async_fail=0.0, async_stall=1.0)
    stalled = post(client, sandbox, f"{ACT}/insights", date_preset="last_7d").json()["report_run_id"]
    polls = [get(client, sandbox, stalled).json() for _ in range(25)]
    stuck = {(p["async_status"], p["async_percent_completion"]) for p in polls[1:]}
    assert len(stuck) == 1 and next(iter(stuck))[0] == "Job Running" and next(iter(stuck))[1] < 100
    for _ in range(30):
        if get(client, sandbox, stalled).json()["async_status"] == "Job Completed":
            break
    else:
        raise AssertionError("a stalled job completes eventually")
    assert get(client, sandbox, f"{stalled}/insights").json()["data"]


# -- batch and writes --------------------------------------------------------------------------------------


def test_batch(client: httpx.Client, sandbox: Sandbox) -> None:
    ad_set = sandbox.market.ad_sets_of("meta", ACCOUNT_ID)[0]
    batch = [
        {"method": "GET", "relative_url": f"{ACT}?fields=name,currency"},
        {"method": "GET", "relative_url": f"v21.0/{ad_set.id}?fields=daily_budget"},
        {"method": "POST", "relative_url": ad_set.id, "body": "name=Renamed%20in%20batch"},
        {"method": "GET", "relative_url": "nonexistent123"},
    ]
    r = post(client, sandbox, "", batch=orjson.dumps(batch).decode())
    assert r.status_code == 200
    items = r.json()
    assert [i["code"] for i in items] == [200, 200, 200, 400]
    assert orjson.loads(items[0]["body"])["currency"] == "USD"
    assert orjson.loads(items[1]["body"])["daily_budget"] == str(ad_set.daily_budget_minor)
    assert orjson.loads(items[2]["body"]) == {"success": True} and ad_set.name == "Renamed in batch"
    assert orjson.loads(items[3]["body"])["error"]["error_subcode"] == 33
    names = {h["name"] for h in items[0]["headers"]}
    assert {"x-ad-account-usage", "x-business-use-case-usage", "x-app-usage"} <= names
    too_many = post(client, sandbox, "", batch=orjson.dumps([batch[0]] * 51).decode())
    assert too_many.status_code == 400 and "50" in error_of(too_many)["message"]
    assert error_of(post(client, sandbox, "", batch="not json"))["code"] == 100


def test_writes_are_read_back_and_logged(client: httpx.Client, sandbox: Sandbox) -> None:
    ad_set = sandbox.market.ad_sets_of("meta", ACCOUNT_ID)[0]
    r = post(client, sandbox, ad_set.id, daily_budget="33300", bid_amount="250", name="Broad (edited)")
    assert r.json() == {"success": True}
    node = get(client, sandbox, ad_set.id, fields="daily_budget,bid_amount,name,bid_strategy").json()
    assert node["daily_budget"] == "33300" and node["bid_amount"] == 250 and node["name"] == "Broad (edited)"
    assert node["bid_strategy"] == "LOWEST_COST_WITH_BID_CAP"
    assert post(client, sandbox, ad_set.id, status="PAUSED").json() == {"success": True}
    ads = get(client, sandbox, f"{ad_set.id}/ads", fields="effective_status").json()["data"]
    assert ads and {a["effective_status"] for a in ads} == {"ADSET_PAUSED"}
    log = client.get("/_sandbox/writes", params={"platform": "meta"}).json()["writes"]
    assert [(w["id"], w["field"], w["new"]) for w in log[-4:]] == [
        (ad_set.id, "daily_budget", 33300),
        (ad_set.id, "bid", 250),
        (ad_set.id, "name", "Broad (edited)"),
        (ad_set.id, "status", "PAUSED"),
    ]
    assert post(client, sandbox, ad_set.id, daily_budget="1", execution_options='["validate_only"]').json() == {
        "success": True
    }
    assert ad_set.daily_budget_minor == 33300
    as_json = client.post(f"{V}/{ad_set.id}", params={"access_token": token(sandbox)}, json={"daily_budget": 34000})
    assert as_json.json() == {"success": True} and ad_set.daily_budget_minor == 34000


def test_create_campaign_ad_set_creative_and_ad(client: httpx.Client, sandbox: Sandbox) -> None:
    camp_id = post(
        client,
        sandbox,
        f"{ACT}/campaigns",
        name="Spring",
        objective="OUTCOME_SALES",
        status="PAUSED",
        special_ad_categories="[]",
    ).json()["id"]
    targeting = orjson.dumps({"geo_locations": {"countries": ["US"]}, "age_min": 25}).decode()
    set_id = post(
        client,
        sandbox,
        f"{ACT}/adsets",
        name="Spring 25+",
        campaign_id=camp_id,
        daily_budget="5000",
        billing_event="IMPRESSIONS",
        optimization_goal="OFFSITE_CONVERSIONS",
        bid_amount="300",
        targeting=targeting,
        status="ACTIVE",
    ).json()["id"]
    image_hash = sandbox.market.images_of("meta", ACCOUNT_ID)[0].hash
    spec = {
        "page_id": "123456",
        "link_data": {
            "image_hash": image_hash,
            "link": "https://shop.example/spring",
            "message": "Fresh for spring",
            "name": "Spring bottles",
            "call_to_action": {"type": "SHOP_NOW"},
        },
    }
    creative_id = post(
        client, sandbox, f"{ACT}/adcreatives", name="Spring creative", object_story_spec=orjson.dumps(spec).decode()
    ).json()["id"]
    ad_id = post(
        client,
        sandbox,
        f"{ACT}/ads",
        name="Spring ad",
        adset_id=set_id,
        status="ACTIVE",
        creative=orjson.dumps({"creative_id": creative_id}).decode(),
    ).json()["id"]

    assert get(client, sandbox, camp_id, fields="status,objective,special_ad_categories").json() == {
        "id": camp_id,
        "status": "PAUSED",
        "objective": "OUTCOME_SALES",
        "special_ad_categories": [],
    }
    s = get(client, sandbox, set_id, fields="targeting,effective_status,billing_event,bid_amount").json()
    assert s["targeting"]["age_min"] == 25 and s["effective_status"] == "CAMPAIGN_PAUSED" and s["bid_amount"] == 300
    c = get(client, sandbox, creative_id, fields="title,body,call_to_action_type,object_story_spec").json()
    assert (c["title"], c["body"], c["call_to_action_type"]) == ("Spring bottles", "Fresh for spring", "SHOP_NOW")
    assert c["object_story_spec"]["page_id"] == "123456"
    a = get(client, sandbox, ad_id, fields="creative,adset_id,campaign_id,effective_status").json()
    assert a["creative"] == {"id": creative_id} and a["campaign_id"] == camp_id
    assert a["effective_status"] == "CAMPAIGN_PAUSED"
    created = [w for w in client.get("/_sandbox/writes").json()["writes"] if w["field"] == "created"]
    assert {w["id"] for w in created} >= {camp_id, set_id, creative_id, ad_id}
    simple = post(
        client,
        sandbox,
        f"{ACT}/adcreatives",
        name="Plain",
        title="Hi",
        body="There",
        image_hash=image_hash,
        link_url="https://shop.example/",
    )
    assert simple.status_code == 200 and "id" in simple.json()

    missing = post(client, sandbox, f"{ACT}/campaigns", name="No objective", special_ad_categories="[]")
    err = error_of(missing)
    assert err["code"] == 100 and "objective" in err["message"]
    assert orjson.loads(err["error_data"])["blame_field_specs"] == [["objective"]]
    no_targeting = post(
        client, sandbox, f"{ACT}/adsets", name="x", campaign_id=camp_id, daily_budget="100", billing_event="IMPRESSIONS"
    )
    assert "targeting" in error_of(no_targeting)["message"]
    bad_creative = post(client, sandbox, f"{ACT}/ads", name="x", adset_id=set_id, creative='{"creative_id":"42"}')
    assert orjson.loads(error_of(bad_creative)["error_data"])["blame_field_specs"] == [["creative"]]
    bad_hash = post(client, sandbox, f"{ACT}/adcreatives", name="x", title="t", image_hash="0" * 32)
    assert error_of(bad_hash)["error_user_title"] == "Image Not Found"
    assert error_of(post(client, sandbox, camp_id, status="RUNNING"))["code"] == 100
    assert error_of(post(client, sandbox, set_id, daily_budget="-3"))["code"] == 100
    assert error_of(post(client, sandbox, set_id, lifetime_budget="100"))["code"] == 100


def test_budget_edits_are_limited_to_four_per_hour(client: httpx.Client, sandbox: Sandbox) -> None:
    ad_set = sandbox.market.ad_sets_of("meta", ACCOUNT_ID)[1]
    for budget in (20000, 21000, 22000, 23000):
        assert post(client, sandbox, ad_set.id, daily_budget=str(budget)).json() == {"success": True}
    blocked = post(client, sandbox, ad_set.id, daily_budget="24000")
    err = error_of(blocked)
    assert blocked.status_code == 400 and (err["code"], err["error_subcode"]) == (17, 2446079)
    assert "User request limit reached" in err["message"] and ad_set.daily_budget_minor == 23000
    assert post(client, sandbox, ad_set.id, name="Still editable").json() == {"success": True}
    client.post("/_sandbox/advance", json={"hours": 1.5})
    assert post(client, sandbox, ad_set.id, daily_budget="24000").json() == {"success": True}


def test_image_upload_multipart_and_bytes(client: httpx.Client, sandbox: Sandbox) -> None:
    png = synthetic_png("upload-test")
    r = client.post(
        f"{V}/{ACT}/adimages",
        params={"access_token": token(sandbox)},
        files={"source0": ("photo.png", png, "image/png")},
    )
    images = r.json()["images"]
    assert list(images) == ["photo.png"] and images["photo.png"]["hash"] == hashlib.md5(png).hexdigest()
    assert client.get(images["photo.png"]["url"]).content == png
    png2 = synthetic_png("upload-bytes")
    r2 = post(client, sandbox, f"{ACT}/adimages", bytes=base64.b64encode(png2).decode(), name="b.png")
    assert r2.json()["images"]["b.png"]["hash"] == hashlib.md5(png2).hexdigest()
    listed = get(
        client,
        sandbox,
        f"{ACT}/adimages",
        fields="hash,name,width",
        hashes=orjson.dumps([hashlib.md5(png2).hexdigest()]).decode(),
    ).json()["data"]
    assert [(i["name"], i["width"]) for i in listed] == [("b.png", 64)]
    assert error_of(post(client, sandbox, f"{ACT}/adimages", bytes="!!!not base64"))["code"] == 100
    assert error_of(post(client, sandbox, f"{ACT}/adimages"))["code"] == 100


# -- faults, usage, auth -----------------------------------------------------------------------------------


def test_usage_headers_rise_with_calls(client: httpx.Client, sandbox: Sandbox) -> None:
    first = get(client, sandbox, f"{ACT}/campaigns")
    for _ in range(30):
        last = get(client, sandbox, f"{ACT}/campaigns")
    usage0 = orjson.loads(first.headers["x-ad-account-usage"])
    usage1 = orjson.loads(last.headers["x-ad-account-usage"])
    assert usage1["acc_id_util_pct"] > usage0["acc_id_util_pct"] and usage1["reset_time_duration"] > 0
    buc = orjson.loads(last.headers["x-business-use-case-usage"])
    assert buc[ACCOUNT_ID][0]["type"] == "ads_management"
    assert set(orjson.loads(last.headers["x-app-usage"])) == {"call_count", "total_cputime", "total_time"}
    insights = get(client, sandbox, f"{ACT}/insights")
    assert orjson.loads(insights.headers["x-business-use-case-usage"])[ACCOUNT_ID][0]["type"] == "ads_insights"


def test_server_error_and_throttle_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    faults(client, server_error=1.0)
    r = get(client, sandbox, f"{ACT}/campaigns")
    err = error_of(r)
    assert r.status_code == 500 and err["code"] == 2 and err["is_transient"] is True
    faults(client, server_error=0.0, throttle=1.0)
    r = get(client, sandbox, f"{ACT}/campaigns")
    err = error_of(r)
    assert r.status_code == 400 and (err["code"], err["error_subcode"]) == (80004, 2446079)
    assert orjson.loads(r.headers["x-ad-account-usage"])["acc_id_util_pct"] >= 100
    buc = orjson.loads(r.headers["x-business-use-case-usage"])[ACCOUNT_ID][0]
    assert buc["call_count"] >= 100 and buc["estimated_time_to_regain_access"] > 0
    me = get(client, sandbox, "me/adaccounts")
    assert error_of(me)["code"] == 17 and orjson.loads(me.headers["x-app-usage"])["call_count"] >= 100
    faults(client, throttle=0.0)
    assert get(client, sandbox, f"{ACT}/campaigns").status_code == 200


def test_reduce_data_fault(client: httpx.Client, sandbox: Sandbox) -> None:
    faults(client, reduce_data=1.0)
    r = get(client, sandbox, f"{ACT}/insights", level="ad", time_increment="1")
    err = error_of(r)
    assert r.status_code == 500 and err["code"] == 1
    assert err["message"] == "Please reduce the amount of data you're asking for, then retry your request"
    assert get(client, sandbox, f"{ACT}/ads", limit=500).status_code == 500
    assert get(client, sandbox, f"{ACT}/ads", limit=25).status_code == 200


def test_truncate_and_repeat_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    all_ads = sorted(a.id for a in sandbox.market.ads_of("meta", ACCOUNT_ID))
    faults(client, truncate=1.0)
    bodies = pages(client, sandbox, f"{ACT}/ads", limit=4)
    assert len(bodies[0]["data"]) < 4 and "next" in bodies[0]["paging"]
    assert sorted(r["id"] for b in bodies for r in b["data"]) == all_ads  # no row lost, none twice

    faults(client, truncate=0.0, repeat=1.0)
    first = get(client, sandbox, f"{ACT}/ads", limit=3).json()
    after = first["paging"]["cursors"]["after"]
    again = get(client, sandbox, f"{ACT}/ads", limit=3, after=after).json()
    assert again["data"] == first["data"] and again["paging"]["cursors"]["after"] == after
    faults(client, repeat=0.0)
    nxt = get(client, sandbox, f"{ACT}/ads", limit=3, after=after).json()
    assert not {r["id"] for r in nxt["data"]} & {r["id"] for r in first["data"]}


def test_auth_errors(client: httpx.Client, sandbox: Sandbox) -> None:
    missing = client.get(f"{V}/{ACT}")
    assert missing.status_code == 400 and error_of(missing)["code"] == 104
    invalid = get(client, sandbox, ACT, access_token="EAABnotatoken")
    assert (
        invalid.status_code == 400
        and error_of(invalid)["code"] == 190
        and error_of(invalid)["type"] == ("OAuthException")
    )
    bearer = client.get(f"{V}/{ACT}", headers={"Authorization": f"Bearer {token(sandbox)}"})
    assert bearer.status_code == 200
    creds = sandbox.auth.credentials()["meta"]
    proof = hmac.new(creds["app_secret"].encode(), token(sandbox).encode(), hashlib.sha256).hexdigest()
    assert get(client, sandbox, ACT, appsecret_proof=proof).status_code == 200
    bad_proof = get(client, sandbox, ACT, appsecret_proof="0" * 64)
    assert bad_proof.status_code == 400 and "appsecret_proof" in error_of(bad_proof)["message"]

    short = sandbox.auth.mint("meta", lifetime=timedelta(hours=2), now=sandbox.market.now, kind="user")
    assert get(client, sandbox, ACT, access_token=short.value).status_code == 200
    client.post("/_sandbox/advance", json={"hours": 3})
    expired = error_of(get(client, sandbox, ACT, access_token=short.value))
    assert (expired["code"], expired["error_subcode"]) == (190, 463) and "expired" in expired["message"]

    client.post("/_sandbox/tokens", json={"platform": "meta", "action": "revoke"})
    revoked = error_of(get(client, sandbox, ACT))
    assert (revoked["code"], revoked["error_subcode"]) == (190, 460)
    client.post("/_sandbox/tokens", json={"platform": "meta", "action": "restore"})
    assert get(client, sandbox, ACT).status_code == 200

    sandbox.auth.add(Token("EAABelsewhere", "meta", ("2000000002",)))
    forbidden = get(client, sandbox, ACT, access_token="EAABelsewhere")
    assert forbidden.status_code == 400 and error_of(forbidden)["code"] == 200
    assert get(client, sandbox, "me/adaccounts", access_token="EAABelsewhere").json()["data"] == []


def test_oauth_flow(client: httpx.Client, sandbox: Sandbox) -> None:
    creds = sandbox.auth.credentials()["meta"]
    app_id, secret = creds["app_id"], creds["app_secret"]
    redirect = "https://app.example/callback"
    r = client.get(
        f"{V}/dialog/oauth",
        params={"client_id": app_id, "redirect_uri": redirect, "state": "xyz", "scope": "ads_read,ads_management"},
    )
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    code = query["code"][0]
    exchange = {"client_id": app_id, "client_secret": secret, "redirect_uri": redirect, "code": code}
    short = client.get(f"{V}/oauth/access_token", params=exchange).json()
    assert short["token_type"] == "bearer" and short["expires_in"] == 7200
    assert get(client, sandbox, ACT, access_token=short["access_token"]).status_code == 200
    reused = client.get(f"{V}/oauth/access_token", params=exchange)
    assert reused.status_code == 400 and error_of(reused)["code"] == 100

    long = client.get(
        f"{V}/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": app_id,
            "client_secret": secret,
            "fb_exchange_token": short["access_token"],
        },
    ).json()
    assert long["expires_in"] == 5184000 and long["access_token"] != short["access_token"]
    client.post("/_sandbox/advance", json={"hours": 5})
    assert error_of(get(client, sandbox, ACT, access_token=short["access_token"]))["error_subcode"] == 463
    assert get(client, sandbox, ACT, access_token=long["access_token"]).status_code == 200

    wrong_secret = client.get(f"{V}/oauth/access_token", params={**exchange, "client_secret": "nope"})
    assert error_of(wrong_secret)["code"] == 1 and "client secret" in error_of(wrong_secret)["message"]
    wrong_code = client.get(f"{V}/oauth/access_token", params={**exchange, "code": "abc"})
    assert error_of(wrong_code)["code"] == 100
    wrong_app = client.get(f"{V}/dialog/oauth", params={"client_id": "1", "redirect_uri": redirect})
    assert error_of(wrong_app)["code"] == 101
    bad_exchange = client.get(
        f"{V}/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": app_id,
            "client_secret": secret,
            "fb_exchange_token": "EAABbogus",
        },
    )
    assert error_of(bad_exchange)["code"] == 190


def test_bad_input_is_answered_natively(client: httpx.Client, sandbox: Sandbox) -> None:
    for version in ("v17.0", "v2.8", "v21.5", "vX"):
        r = client.get(f"/{version}/{ACT}", params={"access_token": token(sandbox)})
        assert r.status_code == 400 and error_of(r)["code"] == 2635
    assert (
        get(client, sandbox, ACT).status_code == 200
        and client.get(f"/v18.0/{ACT}", params={"access_token": token(sandbox)}).status_code == 200
    )
    cases = [
        get(client, sandbox, f"{ACT}/ads", limit="many"),
        get(client, sandbox, f"{ACT}/ads", filtering="[not json"),
        get(client, sandbox, f"{ACT}/ads", filtering='[{"field":"bogus.id","operator":"IN","value":[1]}]'),
        get(client, sandbox, f"{ACT}/ads", filtering='[{"field":"ad.id","operator":"LIKE","value":1}]'),
        get(client, sandbox, f"{ACT}/ads", effective_status='["RUNNING"]'),
        get(client, sandbox, f"{ACT}/ads", after="%%%"),
        get(client, sandbox, f"{ACT}/nothing"),
        get(client, sandbox, f"{ACT}/campaigns", fields="id,budget"),
        get(client, sandbox, "12345"),
        get(client, sandbox, "act_42"),
        get(client, sandbox, f"{ACT}/campaigns/extra/parts"),
        post(client, sandbox, ACT, name="x"),
    ]
    for r in cases:
        assert r.status_code == 400, r.text
        assert error_of(r)["code"] == 100, r.text
    assert error_of(get(client, sandbox, "12345"))["error_subcode"] == 33
    assert (
        "nonexisting field (budget)" in error_of(get(client, sandbox, f"{ACT}/campaigns", fields="budget"))["message"]
    )


def _learning_scenario() -> Sandbox:
    """One Meta ad set whose conversions go untracked for its first 9 days (so it cannot leave learning in its
    7-day window), then are tracked; and one paused ad set. 20 events leave learning here."""
    ad_set = {"daily_budget": 300, "curve": {"i_max": 80000, "k": 600}, "ctr": 0.01, "cvr": 0.03}
    doc = {
        "name": "learning", "seed": 5, "start_date": "2026-05-04", "history_days": 0, "horizon_days": 60,
        "platforms": {"meta": {"learning_events": 20, "learning_window_days": 7}},
        "events": [{"kind": "tracking_outage", "platform": "meta", "day": 0, "days": 9, "factor": 0.01}],
        "accounts": [{"platform": "meta", "id": "1", "name": "A", "currency": "USD",
                      "timezone": "America/Los_Angeles", "campaigns": [{"name": "C", "ad_sets": [
                          {"name": "Learner", **ad_set, "ads": [{"name": "a"}]},
                          {"name": "Paused", **ad_set, "status": "PAUSED", "ads": [{"name": "b"}]}]}]}],
    }  # fmt: skip
    return Sandbox(parse_scenario(doc))


def test_learning_stage_info_follows_the_market() -> None:
    """LEARNING after the reset, FAIL ("Learning limited") once a window passed without enough events, SUCCESS
    once the ad set gathered them; only for ACTIVE ad sets; a resume is a new reset."""
    sb = _learning_scenario()
    m = sb.market
    learner, paused = m.ad_sets.values()
    fields = "status,learning_stage_info"
    with httpx.Client(transport=SyncASGITransport(create_app(sb)), base_url="http://sandbox.test") as client:

        def info() -> dict[str, Any]:
            row = get(client, sb, learner.id, fields=fields).json()
            assert row["status"] == "ACTIVE"
            value: dict[str, Any] = row["learning_stage_info"]
            return value

        created = int(datetime(2026, 5, 4, 9, 0, tzinfo=UTC).timestamp())  # the market's clock at creation
        assert info() == {
            "status": "LEARNING",
            "conversions": 0,
            "last_sig_edit_ts": created,
            "attribution_windows": ["7d_click", "1d_view"],
        }
        assert get(client, sb, paused.id, fields=fields).json() == {"status": "PAUSED", "id": paused.id}
        m.advance(6)
        assert info()["status"] == "LEARNING"
        m.advance(1)  # a whole 7-day window since the reset, still learning
        assert info()["status"] == "FAIL" and info()["conversions"] < 20
        seen = []
        while info()["status"] == "FAIL":
            seen.append(info()["conversions"])
            assert seen[-1] < 20 and len(seen) < 20
            m.advance(1)
        done = info()
        assert done["status"] == "SUCCESS" and done["conversions"] >= 20 and done["last_sig_edit_ts"] == created
        assert max(seen) > 0  # tracked conversions were counted toward it before it left
        assert get(client, sb, learner.id, fields="learning_stage_info{status}").json() == {
            "learning_stage_info": {"status": "SUCCESS"},
            "id": learner.id,
        }

        listed = get(client, sb, "act_1/adsets", fields=fields).json()["data"]
        assert {r["id"]: r.get("learning_stage_info", {}).get("status") for r in listed} == {
            learner.id: "SUCCESS",
            paused.id: None,
        }

        assert post(client, sb, learner.id, status="PAUSED").json() == {"success": True}
        assert "learning_stage_info" not in get(client, sb, learner.id, fields=fields).json()
        m.advance(hours=2)
        resumed_at = int(m.now.timestamp())
        assert post(client, sb, learner.id, status="ACTIVE").json() == {"success": True}
        assert info() == {
            "status": "LEARNING",
            "conversions": 0,
            "last_sig_edit_ts": resumed_at,
            "attribution_windows": ["7d_click", "1d_view"],
        }
