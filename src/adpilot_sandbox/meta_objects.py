"""Meta Graph objects for the sandbox, read side: native errors, parameters, cursor paging, nodes, filters.

Everything here is synchronous and never awaits: the market is single-threaded. ``meta_api`` routes
requests here; ``meta_writes`` applies writes and ``meta_reports`` builds insights on the same helpers.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson

from adpilot_sandbox import control
from adpilot_sandbox.entities import Account, Ad, AdSet, Campaign, Creative, Image
from adpilot_sandbox.http import decode_json_param
from adpilot_sandbox.market import Market
from adpilot_sandbox.sandbox import Sandbox

PLATFORM = "meta"
DEFAULT_LIMIT = 25
MAX_LIMIT = 5000

# -- errors ------------------------------------------------------------------------------------------------


class GraphError(Exception):
    """An error answered in Graph's native shape: {"error": {message, type, code, ...}}."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        type_: str = "OAuthException",
        transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        blame: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.subcode = subcode
        self.type = type_
        self.transient = transient
        self.user_title = user_title
        self.user_msg = user_msg
        self.blame = blame
        self.headers = headers or {}

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        err["is_transient"] = self.transient
        if self.user_title is not None:
            err["error_user_title"] = self.user_title
        if self.user_msg is not None:
            err["error_user_msg"] = self.user_msg
        if self.blame is not None:
            err["error_data"] = orjson.dumps({"blame_field_specs": [[self.blame]]}).decode()
        err["fbtrace_id"] = fbtrace_id
        return {"error": err}


def invalid(param: str, detail: str, *, title: str = "Invalid Parameter") -> GraphError:
    return GraphError(100, "Invalid parameter", user_title=title, user_msg=detail, blame=param)


def required(param: str) -> GraphError:
    return GraphError(100, f"(#100) The parameter {param} is required", blame=param)


def unsupported(method: str, object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API documentation "
        "at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        type_="GraphMethodException",
    )


# -- the request as the object layer sees it --------------------------------------------------------------


@dataclass
class Call:
    """One Graph call (a top-level request or one batch item)."""

    method: str
    path: str  # after the version, no leading slash: "act_1/campaigns"
    params: dict[str, Any]
    base_url: str  # "http://host:port/"
    version: str  # "v21.0"
    bearer: str | None = None

    def url(self, **replace: str | None) -> str:
        """This call's full URL with some query parameters replaced (None drops one)."""
        query = {k: v for k, v in self.params.items() if isinstance(v, str)}
        for key, value in replace.items():
            query.pop(key, None)
            if value is not None:
                query[key] = value
        return f"{self.base_url.rstrip('/')}/{self.version}/{self.path}?{urlencode(query)}"


# -- parameters --------------------------------------------------------------------------------------------


def param_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, f"{name} must be a string")
    return value


def param_json(params: dict[str, Any], name: str) -> Any:
    """A JSON-encoded parameter (list or object), or None when absent."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(name, f"{name} must be JSON")
    decoded = decode_json_param(value)
    if decoded is value and value[:1] in ("[", "{"):
        raise GraphError(100, f"(#100) param {name} must be a valid JSON value", blame=name)
    return decoded


def param_list(params: dict[str, Any], name: str) -> list[Any] | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    decoded = param_json(params, name)
    if isinstance(decoded, list):
        return decoded
    if isinstance(decoded, str):
        return [v for v in decoded.split(",") if v]
    raise GraphError(100, f"(#100) param {name} must be an array.", blame=name)


def param_int(params: dict[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise GraphError(100, f"(#100) param {name} must be an integer.", blame=name) from None
    if minimum is not None and number < minimum:
        raise GraphError(100, f"(#100) param {name} must be at least {minimum}.", blame=name)
    return number


def parse_fields(value: Any) -> list[tuple[str, str | None]] | None:
    """``fields=id,name,creative{id,name}`` as [(name, subfields)]; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.startswith("["):
        decoded = decode_json_param(value)
        if isinstance(decoded, list):
            value = ",".join(str(v) for v in decoded)
    if not isinstance(value, str):
        raise GraphError(100, "(#100) param fields must be a string", blame="fields")
    out: list[tuple[str, str | None]] = []
    depth, start = 0, 0
    for i, ch in enumerate(value + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            part = value[start:i].strip()
            start = i + 1
            if not part:
                continue
            m = re.fullmatch(r"([A-Za-z0-9_]+)(?:\.[A-Za-z0-9_]+\([^)]*\))*(?:\{(.*)\})?", part, re.S)
            if m is None:
                raise GraphError(100, f"(#100) Syntax error in fields near '{part}'", blame="fields")
            out.append((m.group(1), m.group(2)))
    if depth != 0:
        raise GraphError(100, "(#100) Syntax error: unbalanced braces in fields", blame="fields")
    return out


# -- cursors and pages -------------------------------------------------------------------------------------


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(name: str, value: str) -> str:
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphError(100, f"(#100) The {name} cursor is invalid", blame=name) from None
    if not key:
        raise GraphError(100, f"(#100) The {name} cursor is invalid", blame=name)
    return key


@dataclass
class PageFaults:
    truncate: bool = False
    repeat: bool = False


def _row_key(row: tuple[str, dict[str, Any]]) -> str:
    return row[0]


def page(
    call: Call,
    rows: list[tuple[str, dict[str, Any]]],
    *,
    faults: PageFaults | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One page of ``rows`` (sorted by their unique string key) the way Graph and the SDK's Cursor expect.

    ``after`` continues after the row with that key; ``paging.next`` appears only when rows follow.
    A truncated page holds fewer rows than ``limit`` with a valid cursor; a repeated page is the one
    that ended at ``after``, served again with the same cursor.
    """
    params = call.params
    limit = param_int(params, "limit", minimum=0)
    limit = DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)
    after = param_str(params, "after")
    before = param_str(params, "before")
    f = faults or PageFaults()
    if after:
        key = decode_cursor("after", after)
        start = bisect.bisect_right(rows, key, key=_row_key)  # rows are sorted by key: O(log n) a page
        if f.repeat and start > 0:
            start = max(0, start - max(limit, 1))
        chunk = rows[start : start + limit]
    elif before:
        key = decode_cursor("before", before)
        end = bisect.bisect_left(rows, key, key=_row_key)
        start = max(0, end - limit)
        chunk = rows[start:end]
    else:
        start = 0
        chunk = rows[:limit]
    if f.truncate and len(chunk) > 1:
        chunk = chunk[: max(1, len(chunk) // 2)]
    body: dict[str, Any] = {"data": [r for _, r in chunk]}
    if chunk:
        first, last = encode_cursor(chunk[0][0]), encode_cursor(chunk[-1][0])
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        if start > 0:
            paging["previous"] = call.url(before=first, after=None)
        if start + len(chunk) < len(rows):
            paging["next"] = call.url(after=last, before=None)
        body["paging"] = paging
    if summary is not None:
        body["summary"] = summary
    return body


def id_key(entity_id: str) -> str:
    """Sort key putting newer (larger) numeric ids first, as Graph lists objects."""
    digits = re.sub(r"\D", "", entity_id) or "0"
    return f"{10**24 - int(digits):024d}"


# -- times and money ---------------------------------------------------------------------------------------


def fmt_time(dt: datetime | None, tz: str) -> str | None:
    if dt is None:
        return None
    aware = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M:%S%z")


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def _words(text: str) -> list[str]:
    return text.split()


TIMEZONE_IDS = {
    "America/Los_Angeles": 1,
    "America/Denver": 2,
    "Pacific/Honolulu": 3,
    "America/Anchorage": 4,
    "America/Phoenix": 5,
    "America/Chicago": 6,
    "America/New_York": 7,
}

EFFECTIVE_STATUSES = (
    "ACTIVE", "PAUSED", "DELETED", "PENDING_REVIEW", "DISAPPROVED", "PREAPPROVED", "PENDING_BILLING_INFO",
    "CAMPAIGN_PAUSED", "ARCHIVED", "ADSET_PAUSED", "IN_PROCESS", "WITH_ISSUES",
)  # fmt: skip
HIDDEN_BY_DEFAULT = ("DELETED", "ARCHIVED")

DEFAULT_TARGETING: dict[str, Any] = {
    "age_min": 18,
    "age_max": 65,
    "geo_locations": {"countries": ["US"], "location_types": ["home", "recent"]},
    "targeting_automation": {"advantage_audience": 1},
}

# Fields each node type knows; requested names outside these sets are native errors, known names the
# sandbox has no value for are simply left out (as Graph leaves out unset fields).
ACCOUNT_FIELDS = frozenset(
    _words(
        "id account_id name account_status age amount_spent balance business business_name currency "
        "timezone_name timezone_id timezone_offset_hours_utc spend_cap disable_reason min_daily_budget "
        "min_campaign_group_spend_cap created_time is_personal is_prepay_account owner funding_source "
        "capabilities user_tasks attribution_spec end_advertiser media_agency partner"
    )
)
CAMPAIGN_FIELDS = frozenset(
    _words(
        "id name account_id status configured_status effective_status objective buying_type "
        "special_ad_categories special_ad_category daily_budget lifetime_budget budget_remaining spend_cap "
        "bid_strategy start_time stop_time created_time updated_time source_campaign_id pacing_type "
        "can_use_spend_cap smart_promotion_type issues_info recommendations adlabels boosted_object_id "
        "budget_rebalance_flag topline_id"
    )
)
ADSET_FIELDS = frozenset(
    _words(
        "id name account_id campaign_id campaign status configured_status effective_status daily_budget "
        "lifetime_budget budget_remaining bid_amount bid_strategy billing_event optimization_goal targeting "
        "start_time end_time created_time updated_time destination_type promoted_object pacing_type "
        "learning_stage_info attribution_spec is_dynamic_creative daily_min_spend_target daily_spend_cap "
        "lifetime_min_spend_target lifetime_spend_cap issues_info recommendations adlabels bid_info "
        "frequency_control_specs source_adset_id"
    )
)
AD_FIELDS = frozenset(
    _words(
        "id name account_id campaign_id adset_id campaign adset status configured_status effective_status "
        "creative bid_amount created_time updated_time tracking_specs conversion_specs issues_info "
        "recommendations adlabels source_ad_id preview_shareable_link ad_review_feedback last_updated_by_app_id "
        "conversion_domain"
    )
)
CREATIVE_FIELDS = frozenset(
    _words(
        "id name account_id body title image_hash image_url object_story_spec object_story_id "
        "effective_object_story_id object_type call_to_action_type link_url url_tags thumbnail_url video_id "
        "asset_feed_spec status actor_id instagram_permalink_url object_url degrees_of_freedom_spec "
        "link_og_id template_url"
    )
)
IMAGE_FIELDS = frozenset(
    _words(
        "id account_id hash name url url_128 permalink_url width height original_width original_height "
        "status created_time updated_time creatives is_associated_creatives_in_adgroups"
    )
)


# The attribution spec every sandbox ad set carries, and how Graph names its windows elsewhere
# (``learning_stage_info.attribution_windows``, insights' ``attribution_setting``).
ATTRIBUTION_SPEC: tuple[dict[str, Any], ...] = (
    {"event_type": "CLICK_THROUGH", "window_days": 7},
    {"event_type": "VIEW_THROUGH", "window_days": 1},
)
_WINDOW_KINDS = {"CLICK_THROUGH": "click", "VIEW_THROUGH": "view", "ENGAGED_VIDEO_VIEW": "ev"}


def attribution_windows(spec: tuple[dict[str, Any], ...] = ATTRIBUTION_SPEC) -> list[str]:
    """An attribution spec as window names: ``["7d_click", "1d_view"]``."""
    return [f"{w['window_days']}d_{_WINDOW_KINDS[w['event_type']]}" for w in spec]


def learning_stage_info(m: Market, s: AdSet) -> dict[str, Any] | None:
    """An ad set's ``learning_stage_info`` (Graph's AdCampaignLearningStageInfo) from the market's learning
    state, or None where Graph leaves the field out: ad sets that are not ACTIVE.

    ``status`` is LEARNING after a reset (creation or significant edit) until the ad set gathers the
    platform's ``learning_events`` attributed conversions within ``learning_window_days``; FAIL ("Learning
    limited") once a whole window has passed since the reset without that; SUCCESS once it has left learning.
    ``conversions`` are the events counted so far (delivered days since the reset, within the window),
    ``last_sig_edit_ts`` the reset's time in unix seconds, ``attribution_windows`` the ad set's attribution
    spec. The Graph surface serves this, and the benchmark's fast path reads it, so the two cannot differ.
    """
    if s.status != "ACTIVE":
        return None
    window = m.spec(s.platform).learning_window_days
    if not s.learning:
        status = "SUCCESS"
    elif m.day - s.learning_since >= window:
        status = "FAIL"
    else:
        status = "LEARNING"
    reset = s.learning_reset_at
    if reset is None:  # an ad set the market never reset itself: midnight of its reset day, account time
        tz = ZoneInfo(m.account(s.platform, s.account_id).timezone)
        reset = datetime.combine(m.date_of(s.learning_since), time(0), tz)
    return {
        "status": status,
        "conversions": m.learning_events(s),
        "last_sig_edit_ts": epoch(reset),
        "attribution_windows": attribution_windows(),
    }


@dataclass
class Extras:
    """What Meta knows about objects that the platform-neutral entities do not carry."""

    targeting: dict[str, dict[str, Any]] = field(default_factory=dict)
    billing_event: dict[str, str] = field(default_factory=dict)
    special_ad_categories: dict[str, list[str]] = field(default_factory=dict)
    page_id: dict[str, str] = field(default_factory=dict)
    deleted_images: set[tuple[str, str]] = field(default_factory=set)


# -- nodes -------------------------------------------------------------------------------------------------


class Graph:
    """Renders entities as Graph nodes and applies Graph writes to the market."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.extras = Extras()

    @property
    def m(self) -> Market:
        return self.sandbox.market

    # lookups
    def account(self, account_id: str) -> Account:
        acc = self.m.accounts.get((PLATFORM, account_id))
        if acc is None:
            raise unsupported("get", f"act_{account_id}")
        return acc

    def tz(self, account_id: str) -> str:
        return self.account(account_id).timezone

    def page_id(self, account_id: str) -> str:
        return str(100_000_000_000_000 + int(re.sub(r"\D", "", account_id) or "0") % 10**12)

    def effective_status(self, entity: Campaign | AdSet | Ad) -> str:
        if entity.status != "ACTIVE" or isinstance(entity, Campaign):
            return entity.status
        camp = self.m.campaigns.get(entity.campaign_id)
        if camp is not None and camp.status != "ACTIVE":
            return "CAMPAIGN_PAUSED" if camp.status == "PAUSED" else camp.status
        if isinstance(entity, Ad):
            ad_set = self.m.ad_sets.get(entity.ad_set_id)
            if ad_set is not None and ad_set.status != "ACTIVE":
                return "ADSET_PAUSED" if ad_set.status == "PAUSED" else ad_set.status
        return "ACTIVE"

    # full nodes (every field the sandbox can fill); select() trims them to the request
    def account_node(self, acc: Account, wanted: set[str]) -> dict[str, Any]:
        m = self.m
        tz = ZoneInfo(acc.timezone)
        offset = m.now.astimezone(tz).utcoffset() or timedelta(0)
        node: dict[str, Any] = {
            "id": f"act_{acc.id}",
            "account_id": acc.id,
            "name": acc.name,
            "account_status": 1 if acc.status == "ACTIVE" else 2,
            "currency": acc.currency,
            "timezone_name": acc.timezone,
            "timezone_offset_hours_utc": offset.total_seconds() / 3600,
            "balance": "0",
            "spend_cap": "0",
            "disable_reason": 0,
            "min_daily_budget": 100,
            "min_campaign_group_spend_cap": "10000",
            "is_personal": 0,
            "is_prepay_account": False,
            "business_name": acc.name,
            "attribution_spec": [
                {"event_type": "CLICK_THROUGH", "window_days": 7},
                {"event_type": "VIEW_THROUGH", "window_days": 1},
            ],
        }
        if acc.timezone in TIMEZONE_IDS:
            node["timezone_id"] = TIMEZONE_IDS[acc.timezone]
        if acc.created_at is not None:
            node["created_time"] = fmt_time(acc.created_at, acc.timezone)
            node["age"] = round((m.now - acc.created_at).total_seconds() / 86400, 6)
        if "amount_spent" in wanted:
            rep = m.reported(PLATFORM, acc.id, 0, m.day - 1)
            node["amount_spent"] = str(int(rep["spend"].sum()))
        return node

    def campaign_node(self, c: Campaign) -> dict[str, Any]:
        tz = self.tz(c.account_id)
        node: dict[str, Any] = {
            "id": c.id,
            "name": c.name,
            "account_id": c.account_id,
            "status": c.status,
            "configured_status": c.status,
            "effective_status": self.effective_status(c),
            "objective": c.objective,
            "buying_type": "AUCTION",
            "special_ad_categories": self.extras.special_ad_categories.get(c.id, []),
            "special_ad_category": (self.extras.special_ad_categories.get(c.id) or ["NONE"])[0],
            "budget_remaining": "0",
            "start_time": fmt_time(c.created_at, tz),
            "created_time": fmt_time(c.created_at, tz),
            "updated_time": fmt_time(c.updated_at, tz),
            "source_campaign_id": "0",
            "pacing_type": ["standard"],
            "can_use_spend_cap": True,
            "smart_promotion_type": "GUIDED_CREATION",
            "budget_rebalance_flag": False,
        }
        if c.daily_budget_minor is not None:
            node["daily_budget"] = str(c.daily_budget_minor)
            node["lifetime_budget"] = "0"
            node["budget_remaining"] = str(c.daily_budget_minor)
            node["bid_strategy"] = "LOWEST_COST_WITHOUT_CAP"
        return node

    def ad_set_node(self, s: AdSet) -> dict[str, Any]:
        tz = self.tz(s.account_id)
        goal = "OFFSITE_CONVERSIONS" if s.optimization_goal == "CONVERSIONS" else s.optimization_goal
        camp = self.m.campaigns.get(s.campaign_id)
        node: dict[str, Any] = {
            "id": s.id,
            "name": s.name,
            "account_id": s.account_id,
            "campaign_id": s.campaign_id,
            "campaign": {"id": s.campaign_id},
            "status": s.status,
            "configured_status": s.status,
            "effective_status": self.effective_status(s),
            "billing_event": self.extras.billing_event.get(s.id, "IMPRESSIONS"),
            "optimization_goal": goal,
            "targeting": self.extras.targeting.get(s.id, DEFAULT_TARGETING),
            "start_time": fmt_time(s.created_at, tz),
            "created_time": fmt_time(s.created_at, tz),
            "updated_time": fmt_time(s.updated_at, tz),
            "destination_type": "WEBSITE",
            "promoted_object": {"pixel_id": self.page_id(s.account_id)[::-1], "custom_event_type": "PURCHASE"},
            "pacing_type": ["standard"],
            "learning_stage_info": learning_stage_info(self.m, s),  # None (left out) unless ACTIVE
            "attribution_spec": [dict(w) for w in ATTRIBUTION_SPEC],
            "is_dynamic_creative": False,
            "source_adset_id": "0",
        }
        if camp is None or camp.daily_budget_minor is None:
            node["daily_budget"] = str(s.daily_budget_minor)
            node["lifetime_budget"] = "0"
            node["budget_remaining"] = str(s.daily_budget_minor)
        else:
            node["budget_remaining"] = "0"
        if s.bid_minor is not None:
            node["bid_amount"] = s.bid_minor
            node["bid_strategy"] = "LOWEST_COST_WITH_BID_CAP"
        elif camp is None or camp.daily_budget_minor is None:
            node["bid_strategy"] = "LOWEST_COST_WITHOUT_CAP"
        return node

    def ad_node(self, a: Ad) -> dict[str, Any]:
        tz = self.tz(a.account_id)
        node: dict[str, Any] = {
            "id": a.id,
            "name": a.name,
            "account_id": a.account_id,
            "campaign_id": a.campaign_id,
            "adset_id": a.ad_set_id,
            "campaign": {"id": a.campaign_id},
            "adset": {"id": a.ad_set_id},
            "status": a.status,
            "configured_status": a.status,
            "effective_status": self.effective_status(a),
            "creative": {"id": a.creative_id},
            "created_time": fmt_time(a.created_at, tz),
            "updated_time": fmt_time(a.updated_at, tz),
            "source_ad_id": "0",
            "conversion_domain": "shop.example",
        }
        ad_set = self.m.ad_sets.get(a.ad_set_id)
        if ad_set is not None and ad_set.bid_minor is not None:
            node["bid_amount"] = ad_set.bid_minor
        return node

    def creative_node(self, cr: Creative, base_url: str) -> dict[str, Any]:
        page_id = self.extras.page_id.get(cr.id, self.page_id(cr.account_id))
        link_data: dict[str, Any] = {"link": cr.link_url, "message": cr.body, "name": cr.headline}
        if cr.image_hash:
            link_data["image_hash"] = cr.image_hash
        if cr.cta:
            link_data["call_to_action"] = {"type": cr.cta, "value": {"link": cr.link_url}}
        node: dict[str, Any] = {
            "id": cr.id,
            "name": cr.name,
            "account_id": cr.account_id,
            "body": cr.body,
            "title": cr.headline,
            "object_story_spec": {"page_id": page_id, "link_data": link_data},
            "effective_object_story_id": f"{page_id}_{cr.id}",
            "object_type": "SHARE",
            "link_url": cr.link_url,
            "status": cr.status,
            "actor_id": page_id,
        }
        if cr.cta:
            node["call_to_action_type"] = cr.cta
        if cr.image_hash:
            node["image_hash"] = cr.image_hash
            url = control.media_url(base_url, PLATFORM, cr.account_id, cr.image_hash)
            node["image_url"] = url
            node["thumbnail_url"] = url
        return node

    def image_node(self, img: Image, base_url: str) -> dict[str, Any]:
        tz = self.tz(img.account_id)
        url = control.media_url(base_url, PLATFORM, img.account_id, img.hash)
        deleted = (img.account_id, img.hash) in self.extras.deleted_images
        return {
            "id": f"{img.account_id}:{img.hash}",
            "account_id": img.account_id,
            "hash": img.hash,
            "name": img.name,
            "url": url,
            "url_128": url,
            "permalink_url": url,
            "width": img.width,
            "height": img.height,
            "original_width": img.width,
            "original_height": img.height,
            "status": "DELETED" if deleted else "ACTIVE",
            "created_time": fmt_time(img.created_at, tz),
            "updated_time": fmt_time(img.created_at, tz),
            "creatives": [c.id for c in self.m.creatives_of(PLATFORM, img.account_id) if c.image_hash == img.hash],
            "is_associated_creatives_in_adgroups": any(
                c.image_hash == img.hash for c in self.m.creatives_of(PLATFORM, img.account_id)
            ),
        }


NODE_TYPES = {
    "account": ("AdAccount", ACCOUNT_FIELDS, ("account_id", "id")),
    "campaign": ("Campaign", CAMPAIGN_FIELDS, ("id",)),
    "adset": ("AdSet", ADSET_FIELDS, ("id",)),
    "ad": ("Ad", AD_FIELDS, ("id",)),
    "creative": ("AdCreative", CREATIVE_FIELDS, ("id",)),
    "image": ("AdImage", IMAGE_FIELDS, ("hash", "id")),
}


def wanted_fields(kind: str, params: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The requested fields of a node type (checked), or its default set."""
    type_name, known, default = NODE_TYPES[kind]
    fields = parse_fields(params.get("fields"))
    if fields is None:
        return [(f, None) for f in default]
    for name, _ in fields:
        if name not in known:
            raise GraphError(
                100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({type_name})", blame="fields"
            )
    return fields


def select(node: dict[str, Any], fields: list[tuple[str, str | None]], *, id_first: str = "id") -> dict[str, Any]:
    """The requested fields of a full node (id always; unset fields left out; {sub} selections applied)."""
    out: dict[str, Any] = {}
    for name, sub in fields:
        if name not in node or node[name] is None:
            continue
        value = node[name]
        if sub is not None and isinstance(value, dict):
            subs = {s.strip() for s in sub.split(",") if s.strip()}
            value = {k: v for k, v in value.items() if k in subs or k == "id"}
        out[name] = value
    if id_first in node and id_first not in out:
        out[id_first] = node[id_first]
    return out


# -- list filtering ----------------------------------------------------------------------------------------

OPERATORS = (
    "EQUAL", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL", "IN",
    "NOT_IN", "CONTAIN", "NOT_CONTAIN", "STARTS_WITH", "IN_RANGE", "NOT_IN_RANGE", "ANY", "ALL", "NONE",
)  # fmt: skip


def parse_filtering(params: dict[str, Any]) -> list[tuple[str, str, Any]]:
    raw = param_json(params, "filtering")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise GraphError(100, "(#100) param filtering must be an array.", blame="filtering")
    out: list[tuple[str, str, Any]] = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, dict) or "field" not in spec or "operator" not in spec:
            raise GraphError(
                100, f"(#100) param filtering[{i}] must be an object with field, operator and value",
                blame="filtering",
            )  # fmt: skip
        op = str(spec["operator"]).upper()
        if op not in OPERATORS:
            raise GraphError(
                100, f"(#100) filtering[{i}][operator] must be one of the following values: {', '.join(OPERATORS)}",
                blame="filtering",
            )  # fmt: skip
        out.append((str(spec["field"]), op, spec.get("value")))
    return out


def matches(actual: Any, op: str, value: Any) -> bool:
    """Whether ``actual`` satisfies one filtering clause."""
    values = value if isinstance(value, list) else [value]
    if op in ("IN", "ANY"):
        return str(actual) in {str(v) for v in values}
    if op in ("NOT_IN", "NONE"):
        return str(actual) not in {str(v) for v in values}
    if op == "ALL":
        return all(str(actual) == str(v) for v in values)
    if op == "EQUAL":
        return str(actual) == str(value)
    if op == "NOT_EQUAL":
        return str(actual) != str(value)
    if op == "CONTAIN":
        return str(value).casefold() in str(actual).casefold()
    if op == "NOT_CONTAIN":
        return str(value).casefold() not in str(actual).casefold()
    if op == "STARTS_WITH":
        return str(actual).casefold().startswith(str(value).casefold())
    try:
        a = float(actual)
        if op in ("IN_RANGE", "NOT_IN_RANGE"):
            lo, hi = (float(v) for v in values[:2])
            return (lo <= a <= hi) == (op == "IN_RANGE")
        v = float(value)
    except (TypeError, ValueError):
        return False
    return {"GREATER_THAN": a > v, "GREATER_THAN_OR_EQUAL": a >= v, "LESS_THAN": a < v,
            "LESS_THAN_OR_EQUAL": a <= v}[op]  # fmt: skip


ENTITY_FILTER_FIELDS = ("id", "name", "effective_status", "configured_status", "status", "objective",
                        "created_time", "updated_time", "daily_budget", "adlabels")  # fmt: skip


def filter_value(g: Graph, entity: Campaign | AdSet | Ad, field_name: str) -> Any:
    """The value a filtering field names, seen from ``entity`` (``campaign.id`` on an ad is its campaign's)."""
    prefix, _, attr = field_name.rpartition(".")
    target: Campaign | AdSet | Ad | None = entity
    if prefix in ("campaign", "campaign_group"):
        target = entity if isinstance(entity, Campaign) else g.m.campaigns.get(entity.campaign_id)
    elif prefix in ("adset", "ad_set", "campaign_set"):
        if isinstance(entity, Campaign):
            return None
        target = entity if isinstance(entity, AdSet) else g.m.ad_sets.get(entity.ad_set_id)
    elif prefix in ("ad", "adgroup"):
        if not isinstance(entity, Ad):
            return None
    elif prefix:
        raise GraphError(100, f"(#100) Filtering field {field_name} is invalid.", blame="filtering")
    if attr not in ENTITY_FILTER_FIELDS:
        raise GraphError(100, f"(#100) Filtering field {field_name} is invalid.", blame="filtering")
    if target is None:
        return None
    if attr == "effective_status":
        return g.effective_status(target)
    if attr in ("status", "configured_status"):
        return target.status
    if attr in ("created_time", "updated_time"):
        return epoch(target.created_at if attr == "created_time" else target.updated_at)
    if attr == "daily_budget":
        return target.daily_budget_minor if isinstance(target, Campaign | AdSet) else None
    if attr == "objective":
        camp = target if isinstance(target, Campaign) else g.m.campaigns.get(target.campaign_id)
        return camp.objective if camp else None
    if attr == "adlabels":
        return ""
    return getattr(target, attr)


def filter_entities(g: Graph, entities: list[Any], params: dict[str, Any]) -> list[Any]:
    """Apply ``effective_status``, ``filtering`` and ``updated_since``; hide deleted and archived
    objects unless a status filter asks for them."""
    statuses = param_list(params, "effective_status")
    if statuses is not None:
        for i, s in enumerate(statuses):
            if s not in EFFECTIVE_STATUSES:
                raise GraphError(
                    100, f"(#100) Param effective_status[{i}] must be one of {{{', '.join(EFFECTIVE_STATUSES)}}}",
                    blame="effective_status",
                )  # fmt: skip
    clauses = parse_filtering(params)
    since = param_int(params, "updated_since")
    status_filtered = statuses is not None or any(f.endswith("effective_status") for f, _, _ in clauses)
    out = []
    for e in entities:
        eff = g.effective_status(e)
        if statuses is not None and eff not in statuses:
            continue
        if not status_filtered and eff in HIDDEN_BY_DEFAULT:
            continue
        if since is not None and epoch(e.updated_at) < since:
            continue
        if all(matches(filter_value(g, e, f), op, v) for f, op, v in clauses):
            out.append(e)
    return out
