"""X Ads API constants: version, paging, stats limits, enums, error codes (facts from the Ads API v11/v12 reference)."""

from __future__ import annotations

API_VERSION = "12"

# Where the media upload endpoint lives for the real API (upload.twitter.com is user-scoped, not part of
# ads-api); any other base URL (a sandbox, a proxy) serves /1.1/media/upload.json itself.
UPLOAD_BASE_URLS = {
    "https://ads-api.twitter.com": "https://upload.twitter.com",
    "https://ads-api.x.com": "https://upload.twitter.com",
    "https://ads-api-sandbox.twitter.com": "https://upload.twitter.com",
}
UPLOAD_PATH = "/1.1/media/upload.json"
MEDIA_CATEGORY = "TWEET_IMAGE"

# Lists: `count` (1..1000) and `cursor` until `next_cursor` is null.
PAGE_COUNT = 1000
MAX_PAGES = 10_000  # a guard against a cursor that never ends
MAX_SAME_CURSOR = 8  # the same cursor handed back this often in a row is a broken list, not a retry
MAX_FILTER_IDS = 200  # tweet_ids, card_ids, job_ids per request

# Stats: ≤ 20 entity ids per request or job; synchronous ≤ 7 days, asynchronous ≤ 90 days.
ENTITY = "PROMOTED_TWEET"
GRANULARITY = "DAY"
PLACEMENT = "ALL_ON_TWITTER"
METRIC_GROUPS = "ENGAGEMENT,BILLING,WEB_CONVERSION"
MAX_STATS_IDS = 20
SYNC_STATS_MAX_DAYS = 7
ASYNC_STATS_MAX_DAYS = 90
JOB_ATTEMPTS = 2  # a failed or stalled job is created once more, then its window is split
MAX_POLLS = 20  # polls of one job before it counts as stalled (interval grows 1.5x up to MAX_POLL_INTERVAL)
MAX_POLL_INTERVAL = 60.0
JOB_DONE = "SUCCESS"
JOB_FAILED = frozenset({"FAILED", "CANCELLED", "CANCELED", "EXPIRED"})

# X's default web conversion attribution (post-engagement 30 days, post-view 1 day); `metric` of a
# conversion group counts both.
ATTRIBUTION_SETTING = "30d_engagement,1d_view"

# Error codes (`errors[].code`) of an HTTP 403 that end the account's sync.
FATAL_403_CODES = frozenset({"ACCOUNT_NOT_FOUND", "UNAUTHORIZED_ACCESS"})

# Rate-limit headers: the per-account window (preferred) and the per-user window, epoch seconds.
RESET_HEADERS = ("x-account-rate-limit-reset", "x-rate-limit-reset")
MIN_RETRY_AFTER = 1.0

# Which path segment each writable level lives under.
LEVEL_PATHS = {"campaign": "campaigns", "ad_set": "line_items", "ad": "promoted_tweets"}

# X runs at most 100 stats jobs per account at once; leave room for another client of the same account.
MAX_CONCURRENT_JOBS = 80
