"""Conformance: the official facebook_business SDK, unchanged but for the base URL, against the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.campaign import Campaign
from facebook_business.adobjects.user import User
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from adpilot_sandbox.entities import synthetic_png
from adpilot_sandbox.sandbox import Sandbox

ACCOUNT = "act_1000000001"


@pytest.fixture
def api(live_url: str, sandbox: Sandbox) -> Iterator[FacebookAdsApi]:
    """The SDK pointed at the live sandbox; FacebookSession.GRAPH restored afterwards."""
    original = FacebookSession.GRAPH
    FacebookSession.GRAPH = live_url
    creds = sandbox.auth.credentials()["meta"]
    try:
        yield FacebookAdsApi.init(
            app_id=creds["app_id"],
            app_secret=creds["app_secret"],
            access_token=creds["access_token"],
            api_version="v21.0",
            crash_log=False,
        )
    finally:
        FacebookSession.GRAPH = original
        FacebookAdsApi.set_default_api(None)


def test_lists_accounts_campaigns_ad_sets_and_ads_across_pages(api: FacebookAdsApi, sandbox: Sandbox) -> None:
    accounts = list(User(fbid="me").get_ad_accounts(fields=["account_id", "name", "currency", "timezone_name"]))
    assert [a["id"] for a in accounts] == [ACCOUNT]
    assert accounts[0]["currency"] == "USD" and accounts[0]["timezone_name"] == "America/Los_Angeles"

    account = AdAccount(ACCOUNT)
    campaigns = account.get_campaigns(fields=["name", "status", "effective_status"], params={"limit": 1})
    seen = [c["id"] for c in campaigns]
    assert sorted(seen) == sorted(c.id for c in sandbox.market.campaigns_of("meta", "1000000001"))
    assert campaigns.total() == len(seen)

    ad_sets = list(account.get_ad_sets(fields=["name", "daily_budget", "campaign_id"], params={"limit": 2}))
    assert len(ad_sets) == len(sandbox.market.ad_sets_of("meta", "1000000001"))
    assert all(isinstance(s, AdSet) and s["daily_budget"].isdigit() for s in ad_sets)

    ads = list(account.get_ads(fields=["name", "adset_id", "creative", "effective_status"], params={"limit": 3}))
    market_ads = sandbox.market.ads_of("meta", "1000000001")
    assert sorted(a["id"] for a in ads) == sorted(a.id for a in market_ads)
    assert len({a["id"] for a in ads}) == len(ads)
    assert all(isinstance(a, Ad) and a["creative"]["id"] for a in ads)

    first_campaign = Campaign(seen[0]).api_get(fields=["name", "objective", "created_time"])
    assert first_campaign["objective"] == "OUTCOME_SALES" and first_campaign["created_time"].endswith("-0800")


def test_insights_sync_and_async(api: FacebookAdsApi, sandbox: Sandbox) -> None:
    account = AdAccount(ACCOUNT)
    params: dict[str, Any] = {
        "level": "ad",
        "time_range": {"since": "2026-03-01", "until": "2026-03-05"},
        "time_increment": 1,
        "limit": 7,
    }
    fields = ["ad_id", "spend", "impressions", "clicks", "actions"]
    sync_rows = [dict(r) for r in account.get_insights(fields=fields, params=params)]
    truth = sandbox.market.truth("meta", "1000000001", sandbox.market.day - 5, sandbox.market.day - 1)
    assert len(sync_rows) == len(truth) > 7
    assert sorted((r["ad_id"], r["date_start"], r["spend"]) for r in sync_rows) == sorted(
        (t["ad_id"], t["date"], t["spend"]) for t in truth
    )

    job = account.get_insights(fields=fields, params=params, is_async=True)
    assert isinstance(job, AdReportRun) and job["report_run_id"]
    for _ in range(10):
        job = job.api_get()
        if job["async_status"] == "Job Completed":
            break
    assert job["async_status"] == "Job Completed" and job["async_percent_completion"] == 100
    async_rows = [dict(r) for r in job.get_result(params={"limit": 5})]
    assert async_rows == sync_rows


def test_batch_through_the_sdk(api: FacebookAdsApi, sandbox: Sandbox) -> None:
    batch = api.new_batch()
    answers: dict[str, Any] = {}
    failures: list[Any] = []
    ad_sets = sandbox.market.ad_sets_of("meta", "1000000001")
    for s in ad_sets:
        AdSet(s.id).api_get(
            fields=["name", "daily_budget"],
            batch=batch,
            success=lambda r, sid=s.id: answers.__setitem__(sid, r.json()),
            failure=failures.append,
        )
    Campaign("404404").api_get(fields=["name"], batch=batch, success=answers.update, failure=failures.append)
    assert batch.execute() is None
    assert {k: v["daily_budget"] for k, v in answers.items()} == {s.id: str(s.daily_budget_minor) for s in ad_sets}
    assert len(failures) == 1 and failures[0].error().api_error_code() == 100


def test_budget_write_is_read_back(api: FacebookAdsApi, sandbox: Sandbox) -> None:
    ad_set_id = sandbox.market.ad_sets_of("meta", "1000000001")[0].id
    AdSet(ad_set_id).api_update(params={"daily_budget": 43210})
    assert AdSet(ad_set_id).api_get(fields=["daily_budget"])["daily_budget"] == "43210"
    assert sandbox.market.write_log[-1]["new"] == 43210


def test_image_upload(api: FacebookAdsApi, sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "product.png"
    path.write_bytes(synthetic_png("sdk-upload"))
    image = AdAccount(ACCOUNT).create_ad_image(params={"filename": str(path)})
    assert image["hash"] == sandbox.market.image("meta", "1000000001", image["hash"]).hash
    assert image["url"].startswith("http://127.0.0.1")


def test_errors_surface_as_facebook_request_error(api: FacebookAdsApi) -> None:
    with pytest.raises(FacebookRequestError) as info:
        AdAccount(ACCOUNT).get_insights(params={"breakdowns": ["age"]})
    assert info.value.api_error_code() == 100
    assert info.value.api_blame_field_specs() == [["breakdowns"]]
    with pytest.raises(FacebookRequestError) as info:
        AdAccount("act_999").api_get(fields=["name"])
    assert info.value.api_error_code() == 100 and info.value.api_error_subcode() == 33
    start = time.monotonic()
    with pytest.raises(FacebookRequestError) as info:
        AdSet("120210000000014").api_update(params={"daily_budget": -5})
    assert info.value.api_error_code() == 100 and time.monotonic() - start < 5
