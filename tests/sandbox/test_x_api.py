"""The X Ads API surface over HTTP: OAuth 1.0a, entities, paging, writes, stats, jobs, faults, the flow."""

from __future__ import annotations

import gzip
import json
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oauthlib.oauth1 import Client as OAuth1Client

from adpilot_sandbox.entities import synthetic_png
from adpilot_sandbox.sandbox import Sandbox

BASE = "http://sandbox.test"
ACCOUNT = "18ce54d4x5t"
WEEK = {"start_time": "2026-02-26T05:00:00Z", "end_time": "2026-03-05T05:00:00Z"}  # New York midnights
METRICS = "ENGAGEMENT,BILLING,WEB_CONVERSION"


class X:
    """Signs and sends requests the way the X SDK does: every parameter in the query string."""

    def __init__(self, client: httpx.Client, sandbox: Sandbox, **override: Any) -> None:
        creds = sandbox.auth.credentials()["x"]
        self.client = client
        self.keys = {
            "client_key": creds["consumer_key"],
            "client_secret": creds["consumer_secret"],
            "resource_owner_key": creds["access_token"],
            "resource_owner_secret": creds["access_token_secret"],
            **override,
        }

    def signed(
        self, method: str, path: str, params: dict[str, Any] | None = None, **signer: Any
    ) -> tuple[str, dict[str, str]]:
        query = f"?{httpx.QueryParams(params)}" if params else ""
        url, headers, _ = OAuth1Client(**{**self.keys, **signer}).sign(f"{BASE}{path}{query}", method)
        return url, headers

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        url, headers = self.signed(method, path, params)
        return self.client.request(method, url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.call("GET", path, params)

    def stats(self, **params: Any) -> httpx.Response:
        base = {"entity": "PROMOTED_TWEET", "granularity": "DAY", "placement": "ALL_ON_TWITTER"}
        return self.get(f"/12/stats/accounts/{ACCOUNT}", **{**base, "metric_groups": METRICS, **params})


@pytest.fixture
def x(client: httpx.Client, sandbox: Sandbox) -> X:
    return X(client, sandbox)


def error_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert "request" in body and isinstance(body["errors"], list)
    return dict(body["errors"][0])


def ads(sandbox: Sandbox) -> list[str]:
    return [a.id for a in sandbox.market.ads_of("x", ACCOUNT)]


def truth_by(client: httpx.Client, key: str, since: str, until: str) -> dict[tuple[str, str], dict[str, int]]:
    rows = client.get("/_sandbox/truth", params={"platform": "x", "since": since, "until": until}).json()["rows"]
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        agg = out[(r[key], r["date"])]
        for name in ("impressions", "clicks", "spend_minor", "reported_conversions", "reported_value_minor"):
            agg[name] += r[name]
    return out


# -- OAuth 1.0a ----------------------------------------------------------------------------------------
def test_signature_checks(x: X, client: httpx.Client, sandbox: Sandbox) -> None:
    assert x.get(f"/12/accounts/{ACCOUNT}").status_code == 200
    assert x.get(f"/11/accounts/{ACCOUNT}/campaigns", count=5).status_code == 200  # v11 too

    wrong_secret = X(client, sandbox, resource_owner_secret="not-the-secret").get(f"/12/accounts/{ACCOUNT}")
    stale_url, stale = x.signed("GET", "/12/accounts", timestamp=str(int(time.time()) - 1000))
    url, headers = x.signed("GET", "/12/accounts")
    first, replay = client.get(url, headers=headers), client.get(url, headers=headers)
    tampered_url, tampered = x.signed("GET", "/12/accounts", {"count": "5"})
    other_host_url, other_host = x.signed("GET", "/12/accounts")
    refused = {
        "wrong token secret": wrong_secret,
        "stale timestamp": client.get(stale_url, headers=stale),
        "reused nonce": replay,
        "no header": client.get("/12/accounts"),
        "not OAuth": client.get("/12/accounts", headers={"authorization": "Bearer abc"}),
        "unknown consumer": X(client, sandbox, client_key="nobody").get("/12/accounts"),
        "unknown token": X(client, sandbox, resource_owner_key="1-nope").get("/12/accounts"),
        "tampered query": client.get(tampered_url.replace("count=5", "count=6"), headers=tampered),
        "other host": client.get(other_host_url, headers={**other_host, "host": "evil.test"}),
    }
    assert first.status_code == 200
    for why, r in refused.items():
        assert r.status_code == 401, why
        assert r.json() == {
            "errors": [{"code": "UNAUTHORIZED_ACCESS", "message": r.json()["errors"][0]["message"]}],
            "request": {"params": {}},
        }, why


def test_revoked_token_is_refused(x: X, client: httpx.Client) -> None:
    client.post("/_sandbox/tokens", json={"platform": "x", "action": "revoke"})
    r = x.get("/12/accounts")
    assert r.status_code == 401 and "revoked" in error_of(r)["message"]
    client.post("/_sandbox/tokens", json={"platform": "x", "action": "restore"})
    assert x.get("/12/accounts").status_code == 200


def test_form_parameters_are_signed(x: X, client: httpx.Client) -> None:
    path = f"/12/accounts/{ACCOUNT}/campaigns"
    body = "name=Form+made&funding_instrument_id=x&daily_budget_amount_local_micro=5000000"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    url, headers, _ = OAuth1Client(**x.keys).sign(f"{BASE}{path}", "POST", body, form)
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == 404 and error_of(r)["code"] == "FUNDING_INSTRUMENT_NOT_FOUND"  # signed, then read
    url, headers, _ = OAuth1Client(**x.keys).sign(f"{BASE}{path}", "POST", body, form)
    r = client.post(url, content=body.replace("Form", "Farm"), headers=headers)
    assert r.status_code == 401


# -- entities, paging, deletion ------------------------------------------------------------------------
def test_entities_read(x: X, sandbox: Sandbox) -> None:
    accounts = x.get("/12/accounts").json()
    assert [a["id"] for a in accounts["data"]] == [ACCOUNT] and accounts["data_type"] == "account"
    acc = x.get(f"/12/accounts/{ACCOUNT}").json()["data"]
    assert acc["timezone"] == "America/New_York" and acc["deleted"] is False and acc["approval_status"]
    fi = x.get(f"/12/accounts/{ACCOUNT}/funding_instruments").json()["data"][0]
    assert fi["currency"] == "USD" and fi["able_to_fund"] is True
    assert isinstance(fi["funded_amount_local_micro"], int) and isinstance(fi["credit_limit_local_micro"], int)
    camps = x.get(f"/12/accounts/{ACCOUNT}/campaigns").json()
    assert camps["request"]["params"]["account_id"] == ACCOUNT and camps["next_cursor"] is None
    camp = camps["data"][0]
    market = sandbox.market.campaigns[camp["id"]]
    assert camp["daily_budget_amount_local_micro"] == market.daily_budget_minor * 10_000
    assert camp["funding_instrument_id"] == fi["id"] and camp["servable"] is True
    assert camp["created_at"].endswith("Z") and camp["entity_status"] == "ACTIVE"
    items = x.get(f"/12/accounts/{ACCOUNT}/line_items", campaign_ids=camp["id"]).json()["data"]
    assert {i["campaign_id"] for i in items} == {camp["id"]} and len(items) == 2
    assert all(i["product_type"] == "PROMOTED_TWEETS" and i["placements"] for i in items)
    tweets = x.get(f"/12/accounts/{ACCOUNT}/promoted_tweets", line_item_ids=items[0]["id"]).json()["data"]
    assert {t["line_item_id"] for t in tweets} == {items[0]["id"]} and all(t["tweet_id"].isdigit() for t in tweets)
    again = x.get(f"/12/accounts/{ACCOUNT}/promoted_tweets/{tweets[0]['id']}").json()["data"]
    assert again["tweet_id"] == tweets[0]["tweet_id"]  # stable per creative
    media = x.get(f"/12/accounts/{ACCOUNT}/media_library").json()["data"]
    assert media and all(m["media_key"].startswith("3_") for m in media)
    assert x.get(f"/12/accounts/{ACCOUNT}/line_items/{items[0]['id']}").json()["data"]["id"] == items[0]["id"]


def test_paging_total_count_and_bad_paging(x: X) -> None:
    path = f"/12/accounts/{ACCOUNT}/line_items"
    everything = [i["id"] for i in x.get(path).json()["data"]]
    for n in range(3):  # five line items in all
        x.call(
            "POST",
            path,
            {
                "campaign_id": "70011",
                "objective": "WEBSITE_CLICKS",
                "product_type": "PROMOTED_TWEETS",
                "placements": "ALL_ON_TWITTER",
                "name": f"n{n}",
            },
        )
    everything = [i["id"] for i in x.get(path).json()["data"]]
    assert len(everything) == 5
    seen, cursor, pages = [], None, 0
    while True:
        body = x.get(path, count=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [i["id"] for i in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(body["data"]) == 2
    assert seen == everything and pages == 3
    total = x.get(path, count=1, with_total_count="true").json()
    assert total["total_count"] == 5 and len(total["data"]) == 1
    assert "total_count" not in x.get(path).json()
    both = x.get(path, with_total_count="true", cursor=cursor or "c-1o")
    assert both.status_code == 400 and error_of(both)["code"] == "EXCLUSIVE_PARAMETERS"
    for params, name in (
        ({"count": "0"}, "count"),
        ({"count": "1001"}, "count"),
        ({"count": "ten"}, "count"),
        ({"cursor": "garbage"}, "cursor"),
        ({"with_deleted": "maybe"}, "with_deleted"),
        ({"sort_by": "sideways"}, "sort_by"),
        ({"line_item_ids": ",".join(["a"] * 201)}, "line_item_ids"),
    ):
        r = x.get(path, **params)
        assert r.status_code == 400 and error_of(r)["parameter"] == name, params
    desc = [i["id"] for i in x.get(path, sort_by="name-desc").json()["data"]]
    assert len(desc) == 5 and desc != everything


def test_deleted_objects_need_with_deleted(x: X, client: httpx.Client) -> None:
    path = f"/12/accounts/{ACCOUNT}/promoted_tweets"
    victim = x.get(path).json()["data"][0]
    gone = x.call("DELETE", f"{path}/{victim['id']}").json()["data"]
    assert gone["deleted"] is True and gone["id"] == victim["id"]
    assert victim["id"] not in [t["id"] for t in x.get(path).json()["data"]]
    listed = {t["id"]: t for t in x.get(path, with_deleted="true").json()["data"]}
    assert listed[victim["id"]]["deleted"] is True
    assert x.get(f"{path}/{victim['id']}").status_code == 404
    assert x.get(f"{path}/{victim['id']}", with_deleted="true").json()["data"]["deleted"] is True
    assert x.call("DELETE", f"{path}/{victim['id']}").status_code == 404
    writes = client.get("/_sandbox/writes", params={"platform": "x"}).json()["writes"]
    assert writes[-1]["id"] == victim["id"] and writes[-1]["new"] == "DELETED"


# -- writes --------------------------------------------------------------------------------------------
def test_campaign_and_line_item_writes_read_back(x: X, client: httpx.Client, sandbox: Sandbox) -> None:
    acc_path = f"/12/accounts/{ACCOUNT}"
    camp = x.get(f"{acc_path}/campaigns").json()["data"][0]
    put = x.call(
        "PUT",
        f"{acc_path}/campaigns/{camp['id']}",
        {"daily_budget_amount_local_micro": 150_000_000, "entity_status": "PAUSED", "name": "Timeline 2"},
    )
    assert put.status_code == 200 and put.json()["data"]["daily_budget_amount_local_micro"] == 150_000_000
    back = x.get(f"{acc_path}/campaigns/{camp['id']}").json()["data"]
    assert (back["entity_status"], back["name"], back["servable"]) == ("PAUSED", "Timeline 2", False)
    assert sandbox.market.campaigns[camp["id"]].daily_budget_minor == 15_000
    item = x.get(f"{acc_path}/line_items").json()["data"][0]
    r = x.call(
        "PUT",
        f"{acc_path}/line_items/{item['id']}",
        {"bid_amount_local_micro": 1_500_000, "entity_status": "PAUSED"},
    )
    assert r.json()["data"]["bid_amount_local_micro"] == 1_500_000
    assert x.get(f"{acc_path}/line_items/{item['id']}").json()["data"]["entity_status"] == "PAUSED"
    writes = client.get("/_sandbox/writes", params={"platform": "x"}).json()["writes"]
    logged = {(w["id"], w["field"], w["new"]) for w in writes}
    assert {
        (camp["id"], "daily_budget", 15_000),
        (camp["id"], "status", "PAUSED"),
        (camp["id"], "name", "Timeline 2"),
        (item["id"], "bid", 150),
        (item["id"], "status", "PAUSED"),
    } <= logged

    fi = x.get(f"{acc_path}/funding_instruments").json()["data"][0]["id"]
    made = x.call(
        "POST",
        f"{acc_path}/campaigns",
        {
            "name": "Launch",
            "funding_instrument_id": fi,
            "daily_budget_amount_local_micro": 25_000_000,
            "entity_status": "DRAFT",
        },
    )
    new = made.json()["data"]
    assert (
        made.status_code == 200
        and new["entity_status"] == "DRAFT"
        and new["daily_budget_amount_local_micro"] == 25_000_000
    )
    assert new["id"] not in [c["id"] for c in x.get(f"{acc_path}/campaigns").json()["data"]]
    assert new["id"] in [c["id"] for c in x.get(f"{acc_path}/campaigns", with_draft="true").json()["data"]]
    li = x.call(
        "POST",
        f"{acc_path}/line_items",
        {
            "campaign_id": new["id"],
            "objective": "WEBSITE_CLICKS",
            "product_type": "PROMOTED_TWEETS",
            "placements": "ALL_ON_TWITTER",
            "bid_amount_local_micro": 2_000_000,
            "name": "LI",
        },
    ).json()["data"]
    assert (
        li["campaign_id"] == new["id"] and li["bid_amount_local_micro"] == 2_000_000 and li["entity_status"] == "ACTIVE"
    )
    launched = x.call("PUT", f"{acc_path}/campaigns/{new['id']}", {"entity_status": "ACTIVE"}).json()["data"]
    assert launched["entity_status"] == "ACTIVE"
    back_to_draft = x.call("PUT", f"{acc_path}/campaigns/{new['id']}", {"entity_status": "DRAFT"})
    assert back_to_draft.status_code == 400 and error_of(back_to_draft)["parameter"] == "entity_status"


def test_bad_writes_answer_natively(x: X) -> None:
    acc_path = f"/12/accounts/{ACCOUNT}"
    fi = x.get(f"{acc_path}/funding_instruments").json()["data"][0]["id"]
    cases = [
        (
            "PUT",
            f"{acc_path}/campaigns/70011",
            {"daily_budget_amount_local_micro": "lots"},
            400,
            "daily_budget_amount_local_micro",
        ),
        (
            "PUT",
            f"{acc_path}/campaigns/70011",
            {"daily_budget_amount_local_micro": "-5"},
            400,
            "daily_budget_amount_local_micro",
        ),
        ("PUT", f"{acc_path}/campaigns/70011", {"entity_status": "ARCHIVED"}, 400, "entity_status"),
        (
            "PUT",
            f"{acc_path}/line_items/70022",
            {"bid_amount_local_micro": "0"},
            400,
            "bid_amount_local_micro",
        ),
        ("PUT", f"{acc_path}/line_items/70022", {"campaign_id": "zzzzz"}, 400, "campaign_id"),
        ("PUT", f"{acc_path}/line_items/70022", {"placements": "MOON"}, 400, "placements"),
        (
            "POST",
            f"{acc_path}/campaigns",
            {"name": "No budget", "funding_instrument_id": fi},
            400,
            "daily_budget_amount_local_micro",
        ),
        (
            "POST",
            f"{acc_path}/line_items",
            {"campaign_id": "nope", "objective": "WEBSITE_CLICKS"},
            404,
            "campaign_id",
        ),
        ("POST", f"{acc_path}/line_items", {"campaign_id": "70011", "objective": "SALES"}, 400, "objective"),
        ("PUT", f"{acc_path}/campaigns/nope", {"entity_status": "PAUSED"}, 404, "campaign_id"),
        (
            "POST",
            f"{acc_path}/promoted_tweets",
            {"line_item_id": "70022", "tweet_ids": "123"},
            400,
            "tweet_ids",
        ),
    ]
    for method, path, params, status, name in cases:
        r = x.call(method, path, params)
        assert r.status_code == status, (path, params, r.text)
        assert error_of(r).get("parameter") == name, (path, params, r.text)
        assert r.json()["request"]["params"]
    unknown_account = x.get("/12/accounts/zzzzzzzz/campaigns")
    assert unknown_account.status_code == 403 and error_of(unknown_account)["code"] == "ACCOUNT_NOT_FOUND"
    assert x.get("/12/accounts/18ce54d4x5t/nothing").status_code == 404
    assert x.call("PATCH", f"{acc_path}/campaigns/70011").status_code in (404, 405)


def test_creative_flow(x: X, client: httpx.Client, sandbox: Sandbox) -> None:
    acc_path = f"/12/accounts/{ACCOUNT}"
    png = synthetic_png("x-upload-test")
    url, headers = x.signed("POST", "/1.1/media/upload.json", {"media_category": "TWEET_IMAGE"})
    up = client.post(url, headers=headers, files={"media": ("shot.png", png, "image/png")}).json()
    assert up["media_key"] == f"3_{up['media_id']}" and up["media_id_string"] == str(up["media_id"])
    assert up["size"] == len(png) and up["image"] == {"image_type": "image/png", "w": 64, "h": 64}
    added = x.call("POST", f"{acc_path}/media_library", {"media_key": up["media_key"], "name": "Shot"}).json()["data"]
    assert added["name"] == "Shot" and added["media_type"] == "IMAGE"
    assert client.get(urlsplit(added["media_url"]).path).content == png
    card_body = {
        "name": "Shop card",
        "components": [
            {"type": "MEDIA", "media_key": up["media_key"]},
            {
                "type": "DETAILS",
                "title": "Filter anywhere",
                "destination": {"type": "WEBSITE", "url": "https://shop.example/x"},
            },
        ],
    }
    url, headers = x.signed("POST", f"{acc_path}/cards")
    card = client.post(url, headers=headers, json=card_body).json()["data"]
    assert card["card_uri"] == f"card://{card['id']}" and card["components"][0]["media_key"] == up["media_key"]
    assert x.get(f"{acc_path}/cards/{card['id']}").json()["data"]["name"] == "Shop card"
    tweet = x.call("POST", f"{acc_path}/tweet", {"text": "New bottle", "card_uri": card["card_uri"]}).json()["data"]
    assert tweet["id_str"].isdigit() and tweet["card_uri"] == card["card_uri"]
    promoted = x.call("POST", f"{acc_path}/promoted_tweets", {"line_item_id": "70022", "tweet_ids": tweet["id_str"]})
    made = promoted.json()["data"]
    assert len(made) == 1 and made[0]["tweet_id"] == tweet["id_str"] and made[0]["line_item_id"] == "70022"
    listed = x.get(f"{acc_path}/promoted_tweets", line_item_ids="70022").json()["data"]
    assert made[0]["id"] in [t["id"] for t in listed]
    ad = sandbox.market.ads[made[0]["id"]]
    creative = sandbox.market.creatives[ad.creative_id]
    assert creative.headline == "Filter anywhere" and creative.link_url == "https://shop.example/x"
    writes = client.get("/_sandbox/writes", params={"platform": "x"}).json()["writes"]
    assert {("creative", creative.id), ("ad", ad.id)} <= {(w["entity"], w["id"]) for w in writes}
    bad_card = client.post(
        *x.signed("POST", f"{acc_path}/cards")[:1],
        headers=x.signed("POST", f"{acc_path}/cards")[1],
        json={"name": "x", "components": [{"type": "MEDIA", "media_key": "3_1"}]},
    )
    assert bad_card.status_code == 404 and "media_key" in error_of(bad_card)["parameter"]
    url, headers = x.signed("POST", "/1.1/media/upload.json")
    not_image = client.post(url, headers=headers, files={"media": ("a.txt", b"hello", "text/plain")})
    assert not_image.status_code == 400 and error_of(not_image)["parameter"] == "media"


# -- stats ---------------------------------------------------------------------------------------------
def test_sync_stats_day_match_truth(x: X, client: httpx.Client, sandbox: Sandbox) -> None:
    ids = ads(sandbox)
    body = x.stats(entity_ids=",".join(ids), **WEEK).json()
    assert body["data_type"] == "stats" and body["time_series_length"] == 7
    assert body["request"]["params"]["entity_ids"] == ids
    truth = truth_by(client, "ad_id", "2026-02-26", "2026-03-04")
    days = [f"2026-0{'2' if d < 29 else '3'}-{d if d < 29 else d - 28:02d}" for d in range(26, 33)]
    for item in body["data"]:
        metrics = item["id_data"][0]["metrics"]
        assert item["id_data"][0]["segment"] is None
        want = [truth.get((item["id"], d), {}) for d in days]
        assert metrics["impressions"] == [w.get("impressions", 0) for w in want]
        assert metrics["clicks"] == [w.get("clicks", 0) for w in want]
        assert metrics["billed_charge_local_micro"] == [w.get("spend_minor", 0) * 10_000 for w in want]
        purchases = metrics["conversion_purchases"]
        assert (purchases["metric"] or [0] * 7) == [w.get("reported_conversions", 0) for w in want]
        assert (purchases["sale_amount"] or [0] * 7) == [w.get("reported_value_minor", 0) * 10_000 for w in want]
        assert metrics["retweets"] is None  # nothing of the kind: null, not zeros

    by_line = truth_by(client, "ad_set_id", "2026-02-26", "2026-03-04")
    lines = [s.id for s in sandbox.market.ad_sets_of("x", ACCOUNT)]
    total = x.stats(entity="LINE_ITEM", entity_ids=",".join(lines), granularity="TOTAL", **WEEK).json()
    assert total["time_series_length"] == 1
    for item in total["data"]:
        spend = sum(v["spend_minor"] for (k, _), v in by_line.items() if k == item["id"])
        assert item["id_data"][0]["metrics"]["billed_charge_local_micro"] == [spend * 10_000]
    account = x.stats(entity="ACCOUNT", entity_ids=ACCOUNT, granularity="TOTAL", **WEEK).json()
    assert account["data"][0]["id_data"][0]["metrics"]["impressions"] == [
        sum(v["impressions"] for v in by_line.values())
    ]
    network = x.stats(entity_ids=ids[0], placement="PUBLISHER_NETWORK", **WEEK).json()
    assert network["data"][0]["id_data"][0]["metrics"]["impressions"] is None
    dates = x.stats(entity_ids=ids[0], start_time="2026-02-26", end_time="2026-03-05").json()  # SDK's DAY form
    assert dates["data"] == body["data"][:1]


def test_hour_stats_add_up_to_days(x: X, client: httpx.Client, sandbox: Sandbox) -> None:
    ids = ",".join(ads(sandbox))
    window = {"start_time": "2026-03-03T05:00:00Z", "end_time": "2026-03-05T05:00:00Z"}
    day = x.stats(entity_ids=ids, **window).json()
    hour = x.stats(entity_ids=ids, granularity="HOUR", **window).json()
    assert hour["time_series_length"] == 48
    for d_item, h_item in zip(day["data"], hour["data"], strict=True):
        dm, hm = d_item["id_data"][0]["metrics"], h_item["id_data"][0]["metrics"]
        for name in ("impressions", "clicks", "billed_charge_local_micro"):
            hours = hm[name]
            assert [sum(hours[:24]), sum(hours[24:])] == dm[name]
            assert len(set(hours)) > 2  # actually spread over the day
    # a partial window (TOTAL over 6 hours) is the sum of those hours
    six = {"start_time": "2026-03-03T17:00:00Z", "end_time": "2026-03-03T23:00:00Z"}
    part = x.stats(entity_ids=ids, granularity="TOTAL", **six).json()
    for p_item, h_item in zip(part["data"], hour["data"], strict=True):
        hours = h_item["id_data"][0]["metrics"]["impressions"]
        assert p_item["id_data"][0]["metrics"]["impressions"] == [sum(hours[12:18])]
    # the day daylight saving starts has 23 hours in New York
    client.post("/_sandbox/advance", json={"days": 4})
    dst = x.stats(
        entity_ids=ids, granularity="HOUR", start_time="2026-03-08T05:00:00Z", end_time="2026-03-09T04:00:00Z"
    )
    whole = x.stats(entity_ids=ids, start_time="2026-03-08", end_time="2026-03-09").json()
    assert dst.json()["time_series_length"] == 23
    for h_item, d_item in zip(dst.json()["data"], whole["data"], strict=True):
        assert [sum(h_item["id_data"][0]["metrics"]["impressions"])] == d_item["id_data"][0]["metrics"]["impressions"]


def test_stats_limits_answer_natively(x: X, sandbox: Sandbox) -> None:
    one = ads(sandbox)[0]
    cases = [
        (
            {"entity_ids": one, "start_time": "2026-02-20T05:00:00Z", "end_time": "2026-03-01T05:00:00Z"},
            "end_time",
        ),
        (
            {"entity_ids": ",".join(["70066"] * 19 + [f"id{i}" for i in range(2)] + ["x"]), **WEEK},
            "entity_ids",
        ),
        (
            {"entity_ids": one, "start_time": "2026-03-01T05:30:00Z", "end_time": "2026-03-02T05:00:00Z"},
            "start_time",
        ),
        (
            {"entity_ids": one, "start_time": "2026-03-01T00:00:00Z", "end_time": "2026-03-02T05:00:00Z"},
            "start_time",
        ),
        ({"entity_ids": one, "start_time": "yesterday", "end_time": "2026-03-02T05:00:00Z"}, "start_time"),
        ({"entity_ids": one, "metric_groups": "ENGAGEMENT,FUN", **WEEK}, "metric_groups"),
        ({"entity_ids": one, "granularity": "WEEK", **WEEK}, "granularity"),
        ({"entity_ids": "nope", **WEEK}, "entity_ids"),
        ({"entity_ids": one, "entity": "LINE_ITEM", **WEEK}, "entity_ids"),
        (
            {"entity_ids": one, "start_time": "2026-03-02T05:00:00Z", "end_time": "2026-03-01T05:00:00Z"},
            "end_time",
        ),
        ({"entity_ids": one, **WEEK, "segmentation_type": "AGE"}, "segmentation_type"),
        ({"start_time": WEEK["start_time"], "end_time": WEEK["end_time"]}, "entity_ids"),
    ]
    for params, name in cases:
        r = x.stats(**params)
        assert r.status_code == 400 and error_of(r)["parameter"] == name, (params, r.text)
    twenty = x.stats(
        entity="LINE_ITEM", entity_ids=",".join(s.id for s in sandbox.market.ad_sets_of("x", ACCOUNT)), **WEEK
    )
    assert twenty.status_code == 200


def test_async_job_lifecycle_and_gzip(x: X, client: httpx.Client, sandbox: Sandbox) -> None:
    path = f"/12/stats/jobs/accounts/{ACCOUNT}"
    ids = ads(sandbox)
    params = {
        "entity": "PROMOTED_TWEET",
        "entity_ids": ",".join(ids),
        "granularity": "DAY",
        "placement": "ALL_ON_TWITTER",
        "metric_groups": METRICS,
        "start_time": "2026-01-06T05:00:00Z",
        "end_time": "2026-03-06T05:00:00Z",
    }
    made = x.call("POST", path, params)
    job = made.json()["data"]
    assert made.status_code == 200 and job["status"] == "PROCESSING" and job["url"] is None
    assert job["id_str"] == str(job["id"]) and job["entity_ids"] == ids and job["granularity"] == "DAY"
    assert made.headers["x-concurrent-job-limit"] == "100"
    first = x.get(path, job_ids=job["id_str"]).json()["data"][0]
    second = x.get(path, job_ids=job["id_str"]).json()["data"][0]
    assert first["status"] == "PROCESSING" and second["status"] == "SUCCESS" and second["url"]
    assert second["expires_at"].endswith("Z")
    download = client.get(urlsplit(second["url"]).path)
    assert download.status_code == 200 and download.headers["content-type"] == "application/gzip"
    data = json.loads(gzip.decompress(download.content))
    assert data["data_type"] == "stats" and data["time_series_length"] == 59
    truth = truth_by(client, "ad_id", "2026-01-06", "2026-03-05")
    for item in data["data"]:
        got = sum(item["id_data"][0]["metrics"]["billed_charge_local_micro"] or [])
        assert got == sum(v["spend_minor"] for (k, _), v in truth.items() if k == item["id"]) * 10_000
    too_long = x.call("POST", path, {**params, "start_time": "2025-12-01T05:00:00Z"})
    assert too_long.status_code == 400 and error_of(too_long)["parameter"] == "end_time"
    segmented = x.call("POST", path, {**params, "segmentation_type": "GENDER", "start_time": "2026-02-20T05:00:00Z"})
    seg_job = segmented.json()["data"]
    x.get(path, job_ids=seg_job["id_str"])
    seg_url = x.get(path, job_ids=seg_job["id_str"]).json()["data"][0]["url"]
    seg = json.loads(gzip.decompress(client.get(urlsplit(seg_url).path).content))
    segs = seg["data"][0]["id_data"]
    assert [s["segment"]["segment_name"] for s in segs] == ["Male", "Female", "Unknown"]
    unsplit = sum(sum(s["metrics"]["impressions"] or []) for s in segs)
    assert unsplit == sum(v["impressions"] for (k, d), v in truth.items() if k == ids[0] and d >= "2026-02-20")
    listed = x.get(path, count=1).json()
    assert len(listed["data"]) == 1 and listed["next_cursor"]
    active = x.get(f"/12/stats/accounts/{ACCOUNT}/active_entities", entity="PROMOTED_TWEET", **WEEK).json()["data"]
    assert {a["entity_id"] for a in active} == set(ids)
    assert all(a["activity_start_time"] >= WEEK["start_time"] for a in active)


# -- rate limits and faults ----------------------------------------------------------------------------
def test_rate_limit_headers_and_exhaustion(x: X, sandbox: Sandbox) -> None:
    r = x.get(f"/12/accounts/{ACCOUNT}/campaigns")
    assert r.headers["x-rate-limit-limit"] and int(r.headers["x-rate-limit-reset"]) > time.time()
    assert r.headers["x-account-rate-limit-remaining"]
    params = {"entity_ids": ads(sandbox)[0], "granularity": "TOTAL", **WEEK}
    first = x.stats(**params)
    assert first.headers["x-rate-limit-limit"] == "250" and first.headers["x-rate-limit-remaining"] == "249"
    reset = int(first.headers["x-rate-limit-reset"])
    assert 880 <= reset - time.time() <= 901  # a 15-minute window
    for _ in range(249):
        last = x.stats(**params)
    assert last.status_code == 200 and last.headers["x-rate-limit-remaining"] == "0"
    over = x.stats(**params)
    assert over.status_code == 429 and error_of(over)["code"] == "TOO_MANY_REQUESTS"
    assert over.headers["x-rate-limit-reset"] == str(reset)
    assert x.get(f"/12/accounts/{ACCOUNT}").status_code == 200  # other endpoints keep their own window


def test_throttle_and_server_error_faults(x: X, client: httpx.Client) -> None:
    client.post("/_sandbox/faults", json={"x": {"throttle": 1.0}})
    r = x.get(f"/12/accounts/{ACCOUNT}/campaigns")
    assert r.status_code == 429 and error_of(r)["code"] == "TOO_MANY_REQUESTS"
    assert r.headers["x-rate-limit-remaining"] == "0" and int(r.headers["x-rate-limit-reset"]) >= time.time()
    client.post("/_sandbox/faults", json={"x": {"throttle": 0.0, "server_error": 1.0}})
    statuses = set()
    for _ in range(4):
        r = x.get(f"/12/accounts/{ACCOUNT}/campaigns")
        statuses.add(r.status_code)
        assert error_of(r)["code"] in ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE")
        if r.status_code == 503:
            assert r.headers["retry-after"]
    assert statuses == {500, 503}
    client.post("/_sandbox/faults", json={"x": None})
    assert x.get(f"/12/accounts/{ACCOUNT}/campaigns").status_code == 200


def test_truncate_and_repeat_faults(x: X, client: httpx.Client) -> None:
    path = f"/12/accounts/{ACCOUNT}/promoted_tweets"
    everything = [t["id"] for t in x.get(path).json()["data"]]
    client.post("/_sandbox/faults", json={"x": {"truncate": 1.0}})
    short = x.get(path, count=4).json()
    assert len(short["data"]) == 2 and short["next_cursor"] is not None
    seen, cursor = [t["id"] for t in short["data"]], short["next_cursor"]
    while cursor:
        body = x.get(path, count=4, cursor=cursor).json()
        seen += [t["id"] for t in body["data"]]
        cursor = body["next_cursor"]
    assert seen == everything
    client.post("/_sandbox/faults", json={"x": {"truncate": 0.0, "repeat": 1.0}})
    page1 = x.get(path, count=2).json()
    again = x.get(path, count=2, cursor=page1["next_cursor"]).json()
    assert again["data"] == page1["data"] and again["next_cursor"] == page1["next_cursor"]


def test_async_fail_and_stall(x: X, client: httpx.Client, sandbox: Sandbox) -> None:
    path = f"/12/stats/jobs/accounts/{ACCOUNT}"
    params = {
        "entity": "CAMPAIGN",
        "entity_ids": "70011",
        "granularity": "TOTAL",
        "placement": "ALL_ON_TWITTER",
        "metric_groups": "ENGAGEMENT",
        **WEEK,
    }
    client.post("/_sandbox/faults", json={"x": {"async_fail": 1.0}})
    failed = x.call("POST", path, params).json()["data"]["id_str"]
    statuses = [x.get(path, job_ids=failed).json()["data"][0]["status"] for _ in range(3)]
    assert statuses == ["PROCESSING", "FAILED", "FAILED"]
    client.post("/_sandbox/faults", json={"x": {"async_fail": 0.0, "async_stall": 1.0}})
    stalled = x.call("POST", path, params).json()["data"]["id_str"]
    assert {x.get(path, job_ids=stalled).json()["data"][0]["status"] for _ in range(10)} == {"PROCESSING"}
    cancelled = x.call("DELETE", f"{path}/{stalled}").json()["data"]
    assert cancelled["status"] == "CANCELLED"


# -- the authorization flow ----------------------------------------------------------------------------
def test_oauth_flow_end_to_end(client: httpx.Client, sandbox: Sandbox) -> None:
    creds = sandbox.auth.credentials()["x"]
    app = {"client_key": creds["consumer_key"], "client_secret": creds["consumer_secret"]}
    url, headers, _ = OAuth1Client(**app, callback_uri="https://app.example/cb").sign(
        f"{BASE}/oauth/request_token", "POST"
    )
    issued = client.post(url, headers=headers)
    assert issued.status_code == 200
    request_token = {k: v[0] for k, v in parse_qs(issued.text).items()}
    assert request_token["oauth_callback_confirmed"] == "true"
    redirect = client.get("/oauth/authorize", params={"oauth_token": request_token["oauth_token"]})
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["location"])
    granted = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.netloc == "app.example" and granted["oauth_token"] == request_token["oauth_token"]
    signer = OAuth1Client(
        **app,
        resource_owner_key=request_token["oauth_token"],
        resource_owner_secret=request_token["oauth_token_secret"],
        verifier=granted["oauth_verifier"],
    )
    url, headers, _ = signer.sign(f"{BASE}/oauth/access_token", "POST")
    access = client.post(url, headers=headers)
    assert access.status_code == 200
    token = {k: v[0] for k, v in parse_qs(access.text).items()}
    assert token["oauth_token"].startswith(f"{token['user_id']}-") and token["screen_name"]
    user = X(
        client,
        sandbox,
        resource_owner_key=token["oauth_token"],
        resource_owner_secret=token["oauth_token_secret"],
    )
    assert user.get("/12/accounts").json()["data"][0]["id"] == ACCOUNT
    url, headers, _ = signer.sign(f"{BASE}/oauth/access_token", "POST")
    assert client.post(url, headers=headers).status_code == 401  # a request token works once
    request_only = X(
        client,
        sandbox,
        resource_owner_key=request_token["oauth_token"],
        resource_owner_secret=request_token["oauth_token_secret"],
    )
    assert request_only.get("/12/accounts").status_code == 401
    bad = OAuth1Client(creds["consumer_key"], client_secret="wrong", callback_uri="oob")
    url, headers, _ = bad.sign(f"{BASE}/oauth/request_token", "POST")
    assert client.post(url, headers=headers).status_code == 401
    assert client.get("/oauth/authorize", params={"oauth_token": "nope"}).status_code == 401
