"""TikTok constants: API version, fields, report shape, error codes, limits (facts from the v1.3 reference)."""

from __future__ import annotations

API_VERSION = "v1.3"
API_PREFIX = f"/open_api/{API_VERSION}"  # every path ends with a slash, else the gateway answers 404
TOKEN_HEADER = "Access-Token"  # never "Authorization: Bearer" (TikTok answers 40105)

ADVERTISER_FIELDS = ["advertiser_id", "name", "status", "currency", "timezone", "display_timezone"]
CAMPAIGN_FIELDS = [
    "campaign_id",
    "campaign_name",
    "objective_type",
    "budget",
    "budget_mode",
    "operation_status",
    "secondary_status",
    "modify_time",
]
ADGROUP_FIELDS = [
    "campaign_id",
    "adgroup_id",
    "adgroup_name",
    "budget",
    "budget_mode",
    "bid_type",
    "bid_price",
    "conversion_bid_price",
    "optimization_goal",
    "operation_status",
    "secondary_status",
    "modify_time",
]
AD_FIELDS = [
    "campaign_id",
    "adgroup_id",
    "ad_id",
    "ad_name",
    "ad_format",
    "image_ids",
    "video_id",
    "ad_text",
    "call_to_action",
    "landing_page_url",
    "display_name",
    "operation_status",
    "secondary_status",
    "modify_time",
]
# Every object, deleted ones included (the default, STATUS_NOT_DELETE, hides them).
ALL_STATUSES = "STATUS_ALL"

# Daily budgets: the modes whose ``budget`` is a per-day amount. TOTAL is a lifetime budget; INFINITE has none.
DAILY_BUDGET_MODES = frozenset({"BUDGET_MODE_DAY", "BUDGET_MODE_DYNAMIC_DAILY_BUDGET"})

# The ad-level daily report.
REPORT_TYPE = "BASIC"
SERVICE_TYPE = "AUCTION"
DATA_LEVEL = "AUCTION_AD"
REPORT_DIMENSIONS = ["ad_id", "stat_time_day"]
REPORT_METRICS = [
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "total_purchase_value",
    "campaign_id",
    "adgroup_id",
    "currency",
]
# Deleted ads delivered too: their days must be reported (the report hides them by default).
REPORT_FILTERING = [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}]
# TikTok's default attribution (7-day click, 1-day view); the report does not echo it.
ATTRIBUTION_SETTING = "7d_click,1d_view"
NO_VALUE = "-"  # what reports show for a metric without a value

# Error codes (envelope "code", HTTP 200) by what to do.
OK_CODES = frozenset({0, 20001})  # 20001: partial success, the body says what failed
RATE_LIMIT_CODES = frozenset({40016, 40100, 40133})  # app and advertiser throttling; no reset headers
RETRYABLE_CODES = frozenset({50000, 50002, 40200, 40201, 40202, 51305, 60001})
TOKEN_CODES = frozenset({40101, 40102, 40104, 40105, 40106})
PERMISSION_CODES = frozenset({40001})
INVALID_CODES = frozenset({40000, 40002, 40011})
NOT_FOUND_CODES = frozenset({40007})

PAGE_SIZE = 1000  # the maximum for entity lists and reports
MAX_PAGE_ROUNDS = 8  # re-fetch rounds without a new row before a short listing counts as malformed
SYNC_INSIGHTS_MAX_DAYS = 7  # longer windows prefer an asynchronous report task
MAX_REPORT_DAYS = 30  # stat_time_day reports cover at most 30 days
MAX_POLLS = 20  # report/task/check calls before a task counts as stalled
MAX_POLL_INTERVAL = 30.0
