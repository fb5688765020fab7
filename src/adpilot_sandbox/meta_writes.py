"""Meta Graph writes in the sandbox: updates, deletes, creates and image uploads, answered natively.

Each write validates every parameter first (Graph's code 100 with ``blame_field_specs`` naming the
field), then applies it to the market, which logs it. ``execution_options=["validate_only"]`` checks
without writing.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from adpilot_sandbox import control
from adpilot_sandbox.entities import Account, Ad, AdSet, Campaign, Creative
from adpilot_sandbox.market import SandboxError
from adpilot_sandbox.meta_objects import (
    PLATFORM,
    Graph,
    GraphError,
    invalid,
    param_int,
    param_json,
    param_list,
    param_str,
    required,
)

# -- writes ------------------------------------------------------------------------------------------------

OBJECTIVES = (
    "OUTCOME_APP_PROMOTION", "OUTCOME_AWARENESS", "OUTCOME_ENGAGEMENT", "OUTCOME_LEADS", "OUTCOME_SALES",
    "OUTCOME_TRAFFIC", "APP_INSTALLS", "BRAND_AWARENESS", "CONVERSIONS", "EVENT_RESPONSES", "LEAD_GENERATION",
    "LINK_CLICKS", "LOCAL_AWARENESS", "MESSAGES", "OFFER_CLAIMS", "PAGE_LIKES", "POST_ENGAGEMENT",
    "PRODUCT_CATALOG_SALES", "REACH", "STORE_VISITS", "VIDEO_VIEWS",
)  # fmt: skip
SPECIAL_AD_CATEGORIES = (
    "NONE", "EMPLOYMENT", "HOUSING", "CREDIT", "ISSUES_ELECTIONS_POLITICS", "ONLINE_GAMBLING_AND_GAMING",
    "FINANCIAL_PRODUCTS_SERVICES",
)  # fmt: skip
BILLING_EVENTS = (
    "APP_INSTALLS", "CLICKS", "IMPRESSIONS", "LINK_CLICKS", "LISTING_INTERACTION", "NONE", "OFFER_CLAIMS",
    "PAGE_LIKES", "POST_ENGAGEMENT", "PURCHASE", "THRUPLAY",
)  # fmt: skip
OPTIMIZATION_GOALS = (
    "NONE", "APP_INSTALLS", "AD_RECALL_LIFT", "ENGAGED_USERS", "EVENT_RESPONSES", "IMPRESSIONS",
    "LEAD_GENERATION", "QUALITY_LEAD", "LINK_CLICKS", "OFFSITE_CONVERSIONS", "PAGE_LIKES", "POST_ENGAGEMENT",
    "QUALITY_CALL", "REACH", "LANDING_PAGE_VIEWS", "VISIT_INSTAGRAM_PROFILE", "VALUE", "THRUPLAY",
    "CONVERSATIONS", "IN_APP_VALUE",
)  # fmt: skip
CTA_TYPES = (
    "SHOP_NOW", "LEARN_MORE", "SIGN_UP", "BOOK_TRAVEL", "CONTACT_US", "DOWNLOAD", "GET_OFFER", "GET_QUOTE",
    "SUBSCRIBE", "ORDER_NOW", "BUY_NOW", "APPLY_NOW", "WATCH_MORE", "NO_BUTTON",
)  # fmt: skip
STATUSES = ("ACTIVE", "PAUSED", "DELETED", "ARCHIVED")


def from_sandbox_error(exc: SandboxError) -> GraphError:
    """The native answer to a write the market refused."""
    name = exc.field
    if exc.kind == "rate_limited":
        return GraphError(
            17,
            "(#17) User request limit reached",
            subcode=2446079,
            user_title="Too Many Budget Changes",
            user_msg="You've changed this ad set's budget too many times in the last hour. Wait before "
            "changing it again.",
        )
    if exc.kind == "permission":
        return GraphError(200, f"(#200) {exc.message}")
    if exc.kind == "not_found":
        return invalid(name, f"{exc.message}.", title="Object Not Found")
    return invalid(name, f"{exc.message}.")


CONTROL_PARAMS = frozenset(
    [
        "access_token",
        "appsecret_proof",
        "fields",
        "method",
        "format",
        "pretty",
        "suppress_http_code",
        "execution_options",
        "locale",
        "include_headers",
        "debug",
        "transport",
    ]
)


def validate_only(params: dict[str, Any]) -> bool:
    opts = param_list(params, "execution_options") or []
    return "validate_only" in opts


def parse_budget(params: dict[str, Any], name: str = "daily_budget") -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        minor = int(str(value))
    except ValueError:
        raise invalid(name, f"{name} must be an integer number of the currency's minor units.") from None
    if minor <= 0:
        raise invalid(name, f"{name} must be greater than 0.", title="Budget Too Low")
    return minor


def parse_status(params: dict[str, Any]) -> str | None:
    value = param_str(params, "status")
    if value is None:
        return None
    if value not in STATUSES:
        raise GraphError(
            100, f"(#100) status must be one of the following values: {', '.join(STATUSES)}", blame="status"
        )
    return value


def check_unknown(params: dict[str, Any], allowed: set[str]) -> None:
    for key in params:
        if key not in allowed and key not in CONTROL_PARAMS:
            raise GraphError(100, f"(#100) Param {key} is not supported by this object in the sandbox", blame=key)


def update_object(g: Graph, entity: Campaign | AdSet | Ad | Creative, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /{id}``: name, status, daily_budget, bid_amount (budget first: it may be rate limited)."""
    allowed = {"name", "status"}
    if isinstance(entity, Campaign | AdSet):
        allowed |= {"daily_budget"}
    if isinstance(entity, AdSet):
        allowed |= {"bid_amount", "targeting", "billing_event"}
    check_unknown(params, allowed)
    budget = parse_budget(params)
    bid = param_int(params, "bid_amount")
    if bid is not None and bid <= 0:
        raise invalid("bid_amount", "bid_amount must be greater than 0.")
    status = parse_status(params)
    name = param_str(params, "name")
    if name is not None and not name.strip():
        raise invalid("name", "name cannot be empty.")
    targeting = param_json(params, "targeting")
    if targeting is not None and not isinstance(targeting, dict):
        raise invalid("targeting", "targeting must be a JSON object.")
    billing = param_str(params, "billing_event")
    if billing is not None and billing not in BILLING_EVENTS:
        raise invalid("billing_event", f"billing_event must be one of {', '.join(BILLING_EVENTS)}.")
    if entity.status == "DELETED":
        raise invalid("status", "A deleted object cannot be edited.", title="Object Deleted")
    if validate_only(params):
        return {"success": True}
    m = g.m
    try:
        if budget is not None:
            m.set_budget(entity.id, budget, edits_per_hour=4)
        if bid is not None:
            m.set_bid(entity.id, bid)
        if name is not None:
            m.rename(entity.id, name)
        if status is not None:
            m.set_status(entity.id, status)
    except SandboxError as exc:
        raise from_sandbox_error(exc) from None
    if targeting is not None:
        g.extras.targeting[entity.id] = targeting
    if billing is not None:
        g.extras.billing_event[entity.id] = billing
    return {"success": True}


def delete_object(g: Graph, entity: Campaign | AdSet | Ad | Creative) -> dict[str, Any]:
    try:
        g.m.set_status(entity.id, "DELETED")
    except SandboxError as exc:
        raise from_sandbox_error(exc) from None
    return {"success": True}


def _need(params: dict[str, Any], name: str) -> str:
    value = param_str(params, name)
    if value is None or not value.strip():
        raise required(name)
    return value


def create_campaign(g: Graph, acc: Account, params: dict[str, Any]) -> dict[str, Any]:
    check_unknown(params, {"name", "objective", "status", "special_ad_categories", "daily_budget",
                           "buying_type", "bid_strategy"})  # fmt: skip
    name = _need(params, "name")
    objective = _need(params, "objective")
    if objective not in OBJECTIVES:
        raise GraphError(100, f"(#100) Objective {objective} is invalid. Use one of: {', '.join(OBJECTIVES)}.",
                         blame="objective")  # fmt: skip
    if "special_ad_categories" not in params:
        raise required("special_ad_categories")
    cats = param_list(params, "special_ad_categories") or []
    for i, cat in enumerate(cats):
        if cat not in SPECIAL_AD_CATEGORIES:
            raise GraphError(100, f"(#100) special_ad_categories[{i}] must be one of the following values: "
                             f"{', '.join(SPECIAL_AD_CATEGORIES)}", blame="special_ad_categories")  # fmt: skip
    status = parse_status(params) or "ACTIVE"
    budget = parse_budget(params)
    if validate_only(params):
        return {"success": True}
    try:
        camp = g.m.create_campaign(PLATFORM, acc.id, name=name, objective=objective, status=status,
                                   daily_budget_minor=budget)  # fmt: skip
    except SandboxError as exc:
        raise from_sandbox_error(exc) from None
    g.extras.special_ad_categories[camp.id] = [c for c in cats if c != "NONE"]
    return {"id": camp.id}


def create_ad_set(g: Graph, acc: Account, params: dict[str, Any]) -> dict[str, Any]:
    check_unknown(params, {"name", "campaign_id", "daily_budget", "billing_event", "optimization_goal",
                           "bid_amount", "bid_strategy", "targeting", "status", "start_time", "end_time",
                           "promoted_object", "destination_type"})  # fmt: skip
    name = _need(params, "name")
    campaign_id = _need(params, "campaign_id")
    camp = g.m.campaigns.get(campaign_id)
    if camp is None or camp.platform != PLATFORM or camp.account_id != acc.id:
        raise invalid("campaign_id", f"Campaign {campaign_id} does not exist in this ad account.",
                      title="Campaign Not Found")  # fmt: skip
    billing = _need(params, "billing_event")
    if billing not in BILLING_EVENTS:
        raise invalid("billing_event", f"billing_event must be one of {', '.join(BILLING_EVENTS)}.")
    goal = param_str(params, "optimization_goal") or "OFFSITE_CONVERSIONS"
    if goal not in OPTIMIZATION_GOALS:
        raise invalid("optimization_goal", f"optimization_goal must be one of {', '.join(OPTIMIZATION_GOALS)}.")
    if "targeting" not in params:
        raise required("targeting")
    targeting = param_json(params, "targeting")
    if not isinstance(targeting, dict):
        raise invalid("targeting", "targeting must be a JSON object (a targeting spec).")
    budget = parse_budget(params)
    if budget is None:
        if camp.daily_budget_minor is None:
            raise required("daily_budget")
        budget = camp.daily_budget_minor  # campaign budget: the ad set's own figure is only a weight
    bid = param_int(params, "bid_amount")
    if bid is not None and bid <= 0:
        raise invalid("bid_amount", "bid_amount must be greater than 0.")
    status = parse_status(params) or "ACTIVE"
    if validate_only(params):
        return {"success": True}
    try:
        market_goal = "CONVERSIONS" if goal == "OFFSITE_CONVERSIONS" else goal
        ad_set = g.m.create_ad_set(
            camp.id, name=name, daily_budget_minor=budget, status=status, bid_minor=bid, optimization_goal=market_goal
        )
    except SandboxError as exc:
        raise from_sandbox_error(exc) from None
    g.extras.targeting[ad_set.id] = targeting
    g.extras.billing_event[ad_set.id] = billing
    return {"id": ad_set.id}


def create_creative(g: Graph, acc: Account, params: dict[str, Any]) -> dict[str, Any]:
    check_unknown(params, {"name", "object_story_spec", "title", "body", "image_hash", "link_url", "object_url",
                           "call_to_action_type", "url_tags"})  # fmt: skip
    name = param_str(params, "name") or ""
    spec = param_json(params, "object_story_spec")
    page_id = None
    if spec is not None:
        if not isinstance(spec, dict) or not isinstance(spec.get("link_data"), dict):
            raise invalid("object_story_spec", "object_story_spec must be a JSON object with page_id and link_data.")
        if not spec.get("page_id"):
            raise invalid("object_story_spec", "object_story_spec must include page_id.")
        page_id = str(spec["page_id"])
        link = spec["link_data"]
        headline, body = str(link.get("name", "")), str(link.get("message", ""))
        image_hash, url = link.get("image_hash"), str(link.get("link", ""))
        cta_spec = link.get("call_to_action")
        cta = str(cta_spec.get("type", "")) if isinstance(cta_spec, dict) else ""
        if not url:
            raise invalid("object_story_spec", "link_data.link is required.")
    else:
        headline = param_str(params, "title") or ""
        body = param_str(params, "body") or ""
        image_hash = param_str(params, "image_hash")
        url = param_str(params, "link_url") or param_str(params, "object_url") or ""
        cta = param_str(params, "call_to_action_type") or ""
        if not (headline or body or image_hash):
            raise required("object_story_spec")
    if cta and cta not in CTA_TYPES:
        raise invalid("call_to_action", f"call_to_action type must be one of {', '.join(CTA_TYPES)}.")
    if image_hash is not None:
        image_hash = str(image_hash)
        try:
            g.m.image(PLATFORM, acc.id, image_hash)
        except SandboxError:
            raise invalid("image_hash", f"Image with hash {image_hash} was not found in this ad account.",
                          title="Image Not Found") from None  # fmt: skip
    if validate_only(params):
        return {"success": True}
    try:
        cr = g.m.create_creative(PLATFORM, acc.id, name=name, headline=headline, body=body, cta=cta,
                                 image_hash=image_hash, link_url=url)  # fmt: skip
    except SandboxError as exc:
        raise from_sandbox_error(exc) from None
    if page_id is not None:
        g.extras.page_id[cr.id] = page_id
    return {"id": cr.id}


def create_ad(g: Graph, acc: Account, params: dict[str, Any]) -> dict[str, Any]:
    check_unknown(params, {"name", "adset_id", "creative", "status", "tracking_specs", "conversion_domain"})
    name = _need(params, "name")
    adset_id = _need(params, "adset_id")
    ad_set = g.m.ad_sets.get(adset_id)
    if ad_set is None or ad_set.platform != PLATFORM or ad_set.account_id != acc.id:
        raise invalid("adset_id", f"Ad set {adset_id} does not exist in this ad account.", title="Ad Set Not Found")
    if "creative" not in params:
        raise required("creative")
    creative = param_json(params, "creative")
    if not isinstance(creative, dict) or not creative.get("creative_id"):
        raise invalid("creative", 'creative must be a JSON object like {"creative_id": "<id>"}.')
    creative_id = str(creative["creative_id"])
    cr = g.m.creatives.get(creative_id)
    if cr is None or cr.platform != PLATFORM or cr.account_id != acc.id:
        raise invalid("creative", f"Creative {creative_id} does not exist in this ad account.",
                      title="Creative Not Found")  # fmt: skip
    status = parse_status(params) or "ACTIVE"
    if validate_only(params):
        return {"success": True}
    try:
        ad = g.m.create_ad(ad_set.id, creative_id, name=name, status=status)
    except SandboxError as exc:
        raise from_sandbox_error(exc) from None
    return {"id": ad.id}


def upload_images(g: Graph, acc: Account, params: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``POST act_<id>/adimages``: multipart file parts (any name) or ``bytes=<base64>``."""
    uploads: list[tuple[str, bytes]] = []
    for key, value in params.items():
        if isinstance(value, dict) and "content" in value:
            filename = str(value.get("filename") or key).replace("\\", "/").rsplit("/", 1)[-1]
            uploads.append((filename, bytes(value["content"])))
    raw = param_str(params, "bytes")
    if raw is not None:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("bytes", "bytes must be the base64 encoding of an image.", title="Invalid Image") from None
        uploads.append((param_str(params, "name") or "bytes", data))
    if not uploads:
        raise required("filename")
    images: dict[str, Any] = {}
    for filename, data in uploads:
        try:
            img = g.m.upload_image(PLATFORM, acc.id, data, name=filename)
        except SandboxError as exc:
            raise invalid(
                "bytes" if raw is not None else "filename", f"{exc.message}.", title="Invalid Image"
            ) from None
        g.extras.deleted_images.discard((acc.id, img.hash))
        images[filename] = {
            "hash": img.hash,
            "url": control.media_url(base_url, PLATFORM, acc.id, img.hash),
        }
    return {"images": images}


def delete_image(g: Graph, acc: Account, params: dict[str, Any]) -> dict[str, Any]:
    ref = param_str(params, "hash")
    if not ref:
        raise required("hash")
    try:
        img = g.m.image(PLATFORM, acc.id, ref)
    except SandboxError:
        raise invalid("hash", f"Image with hash {ref} was not found in this ad account.",
                      title="Image Not Found") from None  # fmt: skip
    g.extras.deleted_images.add((acc.id, img.hash))
    return {"success": True}
