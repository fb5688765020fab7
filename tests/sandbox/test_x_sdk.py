"""Conformance: the official ``twitter_ads`` SDK (v11) works against the sandbox given only its domain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from twitter_ads.campaign import Campaign, LineItem, Tweet
from twitter_ads.client import Client
from twitter_ads.creative import PromotedTweet
from twitter_ads.enum import GRANULARITY, METRIC_GROUP
from twitter_ads.error import BadRequest, NotAuthorized
from twitter_ads.http import Request

from adpilot_sandbox.sandbox import Sandbox

ACCOUNT = "18ce54d4x5t"


@pytest.fixture
def creds(sandbox: Sandbox) -> dict[str, Any]:
    return dict(sandbox.auth.credentials()["x"])


@pytest.fixture
def client(live_url: str, creds: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    # the only change the SDK needs: its domain (paths are built from API_VERSION '11' at import)
    monkeypatch.setattr(Request, "_DEFAULT_DOMAIN", live_url)
    yield Client(creds["consumer_key"], creds["consumer_secret"], creds["access_token"], creds["access_token_secret"])


def truth(live_url: str, key: str, since: str, until: str) -> dict[tuple[str, str], dict[str, int]]:
    rows = httpx.get(f"{live_url}/_sandbox/truth", params={"platform": "x", "since": since, "until": until}).json()
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows["rows"]:
        for name in ("impressions", "clicks", "spend_minor"):
            out[(r[key], r["date"])][name] += r[name]
    return out


def test_accounts_campaigns_line_items_and_paging(client: Client, sandbox: Sandbox) -> None:
    account = client.accounts(ACCOUNT)
    assert (account.id, account.timezone) == (ACCOUNT, "America/New_York")
    assert [a.id for a in client.accounts()] == [ACCOUNT]
    campaigns = list(account.campaigns())
    assert [c.id for c in campaigns] == [c.id for c in sandbox.market.campaigns_of("x", ACCOUNT)]
    assert (
        campaigns[0].daily_budget_amount_local_micro
        == sandbox.market.campaigns[campaigns[0].id].daily_budget_minor * 10_000
    )
    funding = list(account.funding_instruments())
    assert funding[0].currency == "USD" and campaigns[0].funding_instrument_id == funding[0].id
    pages = account.line_items(count=1)  # one per page: the cursor follows next_cursor
    assert [li.id for li in pages] == [s.id for s in sandbox.market.ad_sets_of("x", ACCOUNT)]
    assert pages.fetched == 2
    total = account.line_items(with_total_count=True, count=1)
    assert total.count == 2  # from total_count
    tweets = list(PromotedTweet.all(account, line_item_ids=pages.first.id))
    assert tweets and {t.line_item_id for t in tweets} == {pages.first.id}
    assert Campaign.load(account, campaigns[0].id).name == campaigns[0].name


def test_sync_stats_match_truth(client: Client, sandbox: Sandbox, live_url: str) -> None:
    account = client.accounts(ACCOUNT)
    ids = [s.id for s in sandbox.market.ad_sets_of("x", ACCOUNT)]
    start, end = datetime(2026, 2, 27), datetime(2026, 3, 6)  # the SDK sends DAY bounds as dates
    data = LineItem.all_stats(
        account,
        ids,
        [METRIC_GROUP.ENGAGEMENT, METRIC_GROUP.BILLING],
        start_time=start,
        end_time=end,
        granularity=GRANULARITY.DAY,
    )
    want = truth(live_url, "ad_set_id", "2026-02-27", "2026-03-05")
    days = ["2026-02-27", "2026-02-28", *[f"2026-03-0{d}" for d in range(1, 6)]]
    for item in data:
        metrics = item["id_data"][0]["metrics"]
        assert metrics["impressions"] == [want[(item["id"], d)]["impressions"] for d in days]
        assert metrics["billed_charge_local_micro"] == [want[(item["id"], d)]["spend_minor"] * 10_000 for d in days]
    with pytest.raises(BadRequest) as too_long:
        LineItem.all_stats(
            account,
            ids,
            [METRIC_GROUP.ENGAGEMENT],
            start_time=datetime(2026, 2, 1),
            end_time=end,
            granularity=GRANULARITY.DAY,
        )
    assert too_long.value.details[0]["parameter"] == "end_time"


def test_line_item_update_reads_back(client: Client, live_url: str) -> None:
    account = client.accounts(ACCOUNT)
    item = account.line_items().first
    item.entity_status = "PAUSED"
    item.bid_amount_local_micro = 2_500_000
    item.save()  # the SDK PUTs every property it holds, in the query string
    again = account.line_items(item.id)
    assert (again.entity_status, again.bid_amount_local_micro) == ("PAUSED", 2_500_000)
    writes = httpx.get(f"{live_url}/_sandbox/writes", params={"platform": "x"}).json()["writes"]
    assert [(w["field"], w["new"]) for w in writes if w["id"] == item.id] == [
        ("bid", 250),
        ("status", "PAUSED"),
    ]


def test_create_campaign_line_item_and_promote_a_tweet(client: Client, sandbox: Sandbox) -> None:
    account = client.accounts(ACCOUNT)
    campaign = Campaign(account)
    campaign.name = "SDK launch"
    campaign.funding_instrument_id = next(iter(account.funding_instruments())).id
    campaign.daily_budget_amount_local_micro = 30_000_000
    campaign.entity_status = "PAUSED"
    campaign.save()
    assert campaign.id and sandbox.market.campaigns[campaign.id].daily_budget_minor == 3_000
    item = LineItem(account)
    item.campaign_id = campaign.id
    item.objective = "WEBSITE_CLICKS"
    item.product_type = "PROMOTED_TWEETS"
    item.placements = ["ALL_ON_TWITTER", "TWITTER_TIMELINE"]  # sent as a repeated parameter
    item.bid_amount_local_micro = 1_200_000
    item.name = "SDK line item"
    item.save()
    assert item.placements == ["ALL_ON_TWITTER", "TWITTER_TIMELINE"] and item.entity_status == "ACTIVE"
    tweet = Tweet.create(account, text="Made with the SDK")
    promoted = list(PromotedTweet.attach(account, line_item_id=item.id, tweet_ids=[tweet["id_str"]]))
    assert [p.tweet_id for p in promoted] == [tweet["id_str"]] and promoted[0].line_item_id == item.id
    assert sandbox.market.ads[promoted[0].id].ad_set_id == item.id


def test_async_stats_job(client: Client, sandbox: Sandbox, live_url: str) -> None:
    account = client.accounts(ACCOUNT)
    ids = [s.id for s in sandbox.market.ad_sets_of("x", ACCOUNT)]
    job = LineItem.queue_async_stats_job(
        account,
        ids,
        [METRIC_GROUP.ENGAGEMENT, METRIC_GROUP.BILLING],
        start_time=datetime(2026, 1, 10),
        end_time=datetime(2026, 3, 6),
        granularity=GRANULARITY.DAY,
    )
    assert job.status == "PROCESSING"
    for _ in range(5):
        result = next(iter(LineItem.async_stats_job_result(account, job_ids=[job.id])))
        if result.status == "SUCCESS":
            break
    assert result.status == "SUCCESS"
    data = LineItem.async_stats_job_data(account, url=result.url)  # gzip, content-type checked by the SDK
    assert data["time_series_length"] == 55 and {d["id"] for d in data["data"]} == set(ids)
    want = truth(live_url, "ad_set_id", "2026-01-10", "2026-03-05")
    for item in data["data"]:
        spend = sum(v["spend_minor"] for (k, _), v in want.items() if k == item["id"])
        assert sum(item["id_data"][0]["metrics"]["billed_charge_local_micro"]) == spend * 10_000


def test_wrong_token_secret_is_refused(live_url: str, creds: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Request, "_DEFAULT_DOMAIN", live_url)
    bad = Client(creds["consumer_key"], creds["consumer_secret"], creds["access_token"], "not-the-secret")
    with pytest.raises(NotAuthorized) as refused:
        bad.accounts(ACCOUNT)
    assert refused.value.code == 401 and refused.value.details[0]["code"] == "UNAUTHORIZED_ACCESS"
