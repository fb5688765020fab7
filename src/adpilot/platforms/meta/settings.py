"""Meta constants: API version, fields, error codes, units (facts from the Marketing API reference)."""

from __future__ import annotations

API_VERSION = "v21.0"

ACCOUNT_FIELDS = "id,account_id,name,currency,timezone_name,account_status"
CAMPAIGN_FIELDS = "id,name,status,effective_status,objective,daily_budget,account_id,updated_time"
ADSET_FIELDS = (
    "id,name,campaign_id,status,effective_status,daily_budget,bid_amount,optimization_goal,account_id,updated_time,"
    "learning_stage_info"
)
AD_FIELDS = "id,name,campaign_id,adset_id,status,effective_status,creative,account_id,updated_time"
CREATIVE_FIELDS = "id,name,title,body,image_hash,call_to_action_type,link_url,object_story_spec"
INSIGHT_FIELDS = (
    "account_id,campaign_id,adset_id,ad_id,date_start,date_stop,impressions,clicks,spend,actions,action_values,"
    "account_currency,attribution_setting"
)
# Every status, so paused, archived and deleted objects are seen too (Graph hides some by default).
ALL_EFFECTIVE_STATUSES = [
    "ACTIVE",
    "PAUSED",
    "DELETED",
    "ARCHIVED",
    "IN_PROCESS",
    "WITH_ISSUES",
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "DISAPPROVED",
    "PENDING_REVIEW",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
]

# The conversion that counts. Meta reports one purchase under several action types (purchase,
# offsite_conversion.fb_pixel_purchase, omni_purchase...); summing them double-counts, so exactly one
# is read.
CONVERSION_ACTION = "offsite_conversion.fb_pixel_purchase"
ATTRIBUTION_WINDOWS = ["7d_click", "1d_view"]

# Error codes (Graph "error.code") by what to do.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TOKEN_CODES = frozenset({190, 102, 2500})
PERMISSION_CODES = frozenset({10, 200, 294, 270})
TRANSIENT_CODES = frozenset({2, 1, 104, 960})
TOO_MANY_ROWS_SUBCODE = 1487534
REDUCE_DATA_MESSAGE = "reduce the amount of data"

SYNC_INSIGHTS_MAX_DAYS = 7  # longer windows go through an asynchronous report job
PAGE_LIMIT = 500
MIN_PAGE_LIMIT = 25
