"""``adpilot-sandbox bench``: serve a 90-day ad-level insights backfill for every platform, in-process.

Each platform is read the way its API demands: Meta insights pages (level=ad, daily), X asynchronous
stats jobs (≤ 90 days, ≤ 20 ids a job, ≤ 100 running; synchronous stats allow 250 requests per 15 minutes),
TikTok integrated reports (≤ 30 days, 1,000 rows a page). The rows received must equal the ground truth count.
"""

from __future__ import annotations

import gzip
import resource
import time
from collections.abc import Callable
from datetime import datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from oauthlib.oauth1 import Client as OAuth1Client  # type: ignore[import-untyped]

from adpilot_sandbox.app import create_app
from adpilot_sandbox.generate import synthetic_scenario
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.transport import SyncASGITransport

BASE = "http://sandbox.bench"
GOALS = {"seconds": 60.0, "peak_rss_mb": 1024.0}


def _meta(client: httpx.Client, sandbox: Sandbox, first: str, last: str) -> tuple[int, int]:
    creds = sandbox.auth.credentials()["meta"]
    rows = requests = 0
    params: dict[str, Any] = {
        "access_token": creds["access_token"],
        "level": "ad",
        "time_increment": "1",
        "time_range": orjson.dumps({"since": first, "until": last}).decode(),
        "fields": "ad_id,adset_id,campaign_id,date_start,impressions,clicks,spend,actions,action_values",
        "limit": "2000",
    }
    account = creds["accounts"][0]
    while True:
        body = client.get(f"/v21.0/{account}/insights", params=params).raise_for_status().json()
        requests += 1
        rows += len(body["data"])
        if "next" not in body.get("paging", {}):
            return rows, requests
        params["after"] = body["paging"]["cursors"]["after"]


def _x(client: httpx.Client, sandbox: Sandbox, first_day: int, last_day: int) -> tuple[int, int]:
    """X backfills go through async stats jobs: sync stats allow 250 requests per 15 minutes."""
    creds = sandbox.auth.credentials()["x"]
    signer = OAuth1Client(
        creds["consumer_key"], creds["consumer_secret"], creds["access_token"], creds["access_token_secret"]
    )
    m = sandbox.market
    account = creds["accounts"][0]
    tz = ZoneInfo(m.account("x", account).timezone)

    def utc(day: int) -> str:
        local = datetime.combine(m.date_of(day), clock_time(0), tz)
        return local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")

    def call(method: str, url: str) -> httpx.Response:
        signed_url, headers, _ = signer.sign(url, method)
        return client.request(method, signed_url, headers=headers).raise_for_status()

    ad_ids = [a.id for a in m.ads_of("x", account)]
    rows = requests = 0
    jobs_url = f"{BASE}/12/stats/jobs/accounts/{account}"
    batches = [(start, i) for start in range(first_day, last_day + 1, 90) for i in range(0, len(ad_ids), 20)]
    for wave in range(0, len(batches), 90):  # X allows 100 concurrent jobs per account
        pending: list[str] = []
        for start, i in batches[wave : wave + 90]:
            end = min(start + 90, last_day + 1)
            query = httpx.QueryParams(
                {
                    "entity": "PROMOTED_TWEET",
                    "entity_ids": ",".join(ad_ids[i : i + 20]),
                    "start_time": utc(start),
                    "end_time": utc(end),
                    "granularity": "DAY",
                    "placement": "ALL_ON_TWITTER",
                    "metric_groups": "ENGAGEMENT,BILLING,WEB_CONVERSION",
                }
            )
            pending.append(call("POST", f"{jobs_url}?{query}").json()["data"]["id_str"])
            requests += 1
        while pending:
            done: list[str] = []
            for i in range(0, len(pending), 200):
                ids = ",".join(pending[i : i + 200])
                body = call("GET", f"{jobs_url}?{httpx.QueryParams({'job_ids': ids, 'count': 1000})}").json()
                requests += 1
                for job in body["data"]:
                    if job["status"] == "SUCCESS":
                        data = orjson.loads(gzip.decompress(call("GET", job["url"]).content))
                        requests += 1
                        for item in data["data"]:
                            impressions = (item["id_data"][0]["metrics"] or {}).get("impressions") or []
                            rows += sum(1 for v in impressions if v)
                        done.append(job["id_str"])
                    elif job["status"] not in ("PROCESSING", "QUEUED"):
                        raise RuntimeError(f"x stats job {job['id_str']} ended {job['status']}")
            pending = [j for j in pending if j not in done]
    return rows, requests


def _tiktok(client: httpx.Client, sandbox: Sandbox, first_day: int, last_day: int) -> tuple[int, int]:
    creds = sandbox.auth.credentials()["tiktok"]
    m = sandbox.market
    rows = requests = 0
    headers = {"Access-Token": creds["access_token"]}
    for start in range(first_day, last_day + 1, 30):
        end = min(start + 29, last_day)
        page = 1
        while True:
            params = {
                "advertiser_id": creds["accounts"][0],
                "report_type": "BASIC",
                "service_type": "AUCTION",
                "data_level": "AUCTION_AD",
                "dimensions": '["ad_id","stat_time_day"]',
                "metrics": '["spend","impressions","clicks","conversion","total_purchase_value"]',
                "start_date": m.date_of(start).isoformat(),
                "end_date": m.date_of(end).isoformat(),
                "page": str(page),
                "page_size": "1000",
            }
            body = client.get("/open_api/v1.3/report/integrated/get/", params=params, headers=headers).json()
            requests += 1
            if body["code"] != 0:
                raise RuntimeError(f"tiktok report failed: {body}")
            rows += len(body["data"]["list"])
            if page >= body["data"]["page_info"]["total_page"]:
                break
            page += 1
    return rows, requests


def run(ads_per_platform: int = 5000, days: int = 90) -> dict[str, Any]:
    t0 = time.perf_counter()
    # X's wall-clock request windows would make this a test of waiting; they are tested elsewhere.
    sandbox = Sandbox(synthetic_scenario(ads_per_platform=ads_per_platform, history_days=days), rate_limits=False)
    build = time.perf_counter() - t0
    m = sandbox.market
    first, last = 0, m.day - 1
    expected = {
        p: sum(len(m.reported(a.platform, a.id, first, last)["ads"]) for a in m.accounts.values() if a.platform == p)
        for p in ("meta", "x", "tiktok")
    }
    results: dict[str, Any] = {}
    with httpx.Client(transport=SyncASGITransport(create_app(sandbox)), base_url=BASE, timeout=120) as client:
        fetchers: tuple[tuple[str, Callable[[], tuple[int, int]]], ...] = (
            (
                "meta",
                lambda: _meta(client, sandbox, m.date_of(first).isoformat(), m.date_of(last).isoformat()),
            ),
            ("x", lambda: _x(client, sandbox, first, last)),
            ("tiktok", lambda: _tiktok(client, sandbox, first, last)),
        )
        for platform, fetch in fetchers:
            t = time.perf_counter()
            rows, requests = fetch()
            seconds = time.perf_counter() - t
            results[platform] = {
                "rows": rows,
                "expected_rows": expected[platform],
                "requests": requests,
                "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds) if seconds else None,
            }
    total = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "benchmark": "sandbox-backfill",
        "ads_per_platform": ads_per_platform,
        "days": days,
        "ad_days": sum(r["rows"] for r in results.values()),
        "market_build_seconds": round(build, 2),
        "total_seconds": round(total, 2),
        "peak_rss_mb": round(peak, 1),
        "platforms": results,
        "goals": GOALS,
        "goals_missed": [
            *([f"total {total:.1f} s > {GOALS['seconds']} s"] if total > GOALS["seconds"] else []),
            *([f"peak RSS {peak:.0f} MiB > {GOALS['peak_rss_mb']:.0f}"] if peak > GOALS["peak_rss_mb"] else []),
            *[
                f"{p}: {r['rows']} rows, expected {r['expected_rows']}"
                for p, r in results.items()
                if r["rows"] != r["expected_rows"]
            ],
        ],
    }
