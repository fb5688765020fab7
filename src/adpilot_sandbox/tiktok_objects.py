"""TikTok entities over the market: campaign/adgroup/ad documents, their reads (filtering, fields, paging),
writes (create, update, budgets, statuses) and the image library (upload, info)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from adpilot_sandbox.control import media_url
from adpilot_sandbox.entities import Account, Ad, AdSet, Campaign, Image, exponent, synthetic_png
from adpilot_sandbox.market import Market, SandboxError
from adpilot_sandbox.noise import stable_key
from adpilot_sandbox.tiktok_core import (
    MAX_PAGE_SIZE,
    PLATFORM,
    ApiError,
    Ctx,
    Params,
    State,
    major,
    major_number,
    page_slice,
    param_error,
    to_minor,
)
from adpilot_sandbox.tiktok_reports import objective_type

MAX_STATUS_IDS = 20
STATUS_IN = {"ENABLE": "ACTIVE", "DISABLE": "PAUSED", "DELETE": "DELETED"}
STATUS_OUT = {"ACTIVE": "ENABLE", "PAUSED": "DISABLE", "ARCHIVED": "DISABLE", "DELETED": "DELETE"}
OPTIMIZATION_GOALS = {"CONVERSIONS": "CONVERT", "OFFSITE_CONVERSIONS": "CONVERT", "LINK_CLICKS": "CLICK",
                      "CLICKS": "CLICK", "REACH": "REACH", "VALUE": "VALUE"}  # fmt: skip
BILLING_EVENTS = {"CONVERT": "OCPM", "VALUE": "OCPM", "CLICK": "CPC", "REACH": "CPM"}
CALLS_TO_ACTION = ("LEARN_MORE", "SHOP_NOW", "SIGN_UP", "CONTACT_US", "DOWNLOAD_NOW", "BOOK_NOW", "ORDER_NOW",
                   "BUY_NOW", "GET_QUOTE", "SUBSCRIBE", "APPLY_NOW", "WATCH_NOW", "VISIT_STORE", "INSTALL_NOW",
                   "PLAY_GAME", "READ_MORE", "VIEW_NOW", "INTERESTED", "GET_TICKETS_NOW", "EXPERIENCE_NOW")  # fmt: skip
PRIMARY_STATUSES = ("STATUS_ALL", "STATUS_NOT_DELETE", "STATUS_DELETE", "STATUS_DELIVERY_OK", "STATUS_DISABLE",
                    "STATUS_NOT_DELIVERY", "STATUS_TIME_DONE", "STATUS_NO_SCHEDULE", "STATUS_AUDIT",
                    "STATUS_REAUDIT", "STATUS_AUDIT_DENY", "STATUS_FROZEN", "STATUS_LIMIT")  # fmt: skip
MIN_DAILY_BUDGET = {"adgroup": 20, "campaign": 50}  # major units (x100 for zero-decimal currencies)
COUNTRIES = {"Europe/Berlin": "DE", "Europe/Paris": "FR", "Europe/London": "GB", "Europe/Madrid": "ES",
             "Europe/Rome": "IT", "Asia/Tokyo": "JP", "Asia/Seoul": "KR", "Asia/Singapore": "SG"}  # fmt: skip


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


# -- entity documents ------------------------------------------------------------------------------------------
CAMPAIGN_FIELDS = ("advertiser_id", "campaign_id", "campaign_name", "campaign_type", "objective_type", "budget",
                   "budget_mode", "operation_status", "secondary_status", "budget_optimize_on",
                   "is_new_structure", "is_smart_performance_campaign", "deep_bid_type", "roas_bid",
                   "special_industries", "rta_id", "create_time", "modify_time")  # fmt: skip
ADGROUP_FIELDS = ("advertiser_id", "campaign_id", "campaign_name", "adgroup_id", "adgroup_name", "placement_type",
                  "placements", "location_ids", "budget_mode", "budget", "scheduled_budget", "schedule_type",
                  "schedule_start_time", "schedule_end_time", "optimization_goal", "billing_event", "bid_type",
                  "bid_price", "conversion_bid_price", "deep_cpa_bid", "pacing", "operation_status",
                  "secondary_status", "promotion_type", "is_new_structure", "create_time", "modify_time")  # fmt: skip
AD_FIELDS = ("advertiser_id", "campaign_id", "campaign_name", "adgroup_id", "adgroup_name", "ad_id", "ad_name",
             "identity_type", "identity_id", "ad_format", "image_ids", "video_id", "ad_text", "call_to_action",
             "landing_page_url", "display_name", "tracking_pixel_id", "creative_type", "operation_status",
             "secondary_status", "is_aco", "create_time", "modify_time")  # fmt: skip
ADVERTISER_FIELDS = ("advertiser_id", "name", "status", "currency", "timezone", "display_timezone", "balance",
                     "company", "country", "industry", "role", "language", "create_time")  # fmt: skip


def _campaign_secondary(c: Campaign) -> str:
    return "CAMPAIGN_STATUS_" + STATUS_OUT[c.status]


def _adgroup_secondary(m: Market, s: AdSet) -> str:
    camp = m.campaigns[s.campaign_id]
    if s.status == "DELETED":
        return "ADGROUP_STATUS_DELETE"
    if camp.status == "DELETED":
        return "ADGROUP_STATUS_CAMPAIGN_DELETE"
    if s.status != "ACTIVE":
        return "ADGROUP_STATUS_DISABLE"
    if camp.status != "ACTIVE":
        return "ADGROUP_STATUS_CAMPAIGN_DISABLE"
    return "ADGROUP_STATUS_DELIVERY_OK"


def _ad_secondary(m: Market, a: Ad) -> str:
    ad_set, camp = m.ad_sets[a.ad_set_id], m.campaigns[a.campaign_id]
    if a.status == "DELETED":
        return "AD_STATUS_DELETE"
    if camp.status == "DELETED":
        return "AD_STATUS_CAMPAIGN_DELETE"
    if ad_set.status == "DELETED":
        return "AD_STATUS_ADGROUP_DELETE"
    if a.status != "ACTIVE":
        return "AD_STATUS_DISABLE"
    if camp.status != "ACTIVE":
        return "AD_STATUS_CAMPAIGN_DISABLE"
    if ad_set.status != "ACTIVE":
        return "AD_STATUS_ADGROUP_DISABLE"
    return "AD_STATUS_DELIVERY_OK"


def campaign_doc(m: Market, c: Campaign, acc: Account) -> dict[str, Any]:
    return {
        "advertiser_id": acc.id, "campaign_id": c.id, "campaign_name": c.name, "campaign_type": "REGULAR_CAMPAIGN",
        "objective_type": objective_type(c.objective), "budget": major_number(c.daily_budget_minor, acc.currency),
        "budget_mode": "BUDGET_MODE_INFINITE" if c.daily_budget_minor is None else "BUDGET_MODE_DAY",
        "operation_status": STATUS_OUT[c.status], "secondary_status": _campaign_secondary(c),
        "budget_optimize_on": c.daily_budget_minor is not None, "is_new_structure": True,
        "is_smart_performance_campaign": False, "deep_bid_type": None, "roas_bid": 0.0, "special_industries": [],
        "rta_id": None, "create_time": _time(c.created_at), "modify_time": _time(c.updated_at),
    }  # fmt: skip


def adgroup_doc(m: Market, s: AdSet, acc: Account) -> dict[str, Any]:
    goal = OPTIMIZATION_GOALS.get(s.optimization_goal, s.optimization_goal)
    bid = major_number(s.bid_minor, acc.currency)
    return {
        "advertiser_id": acc.id, "campaign_id": s.campaign_id, "campaign_name": m.campaigns[s.campaign_id].name,
        "adgroup_id": s.id, "adgroup_name": s.name, "placement_type": "PLACEMENT_TYPE_NORMAL",
        "placements": ["PLACEMENT_TIKTOK"], "location_ids": [], "budget_mode": "BUDGET_MODE_DAY",
        "budget": major_number(s.daily_budget_minor, acc.currency), "scheduled_budget": 0.0,
        "schedule_type": "SCHEDULE_FROM_NOW", "schedule_start_time": _time(s.created_at), "schedule_end_time": None,
        "optimization_goal": goal, "billing_event": BILLING_EVENTS.get(goal, "OCPM"),
        "bid_type": "BID_TYPE_NO_BID" if s.bid_minor is None else "BID_TYPE_CUSTOM", "bid_price": bid,
        "conversion_bid_price": bid if goal in ("CONVERT", "VALUE") else 0.0, "deep_cpa_bid": 0.0,
        "pacing": "PACING_MODE_SMOOTH", "operation_status": STATUS_OUT[s.status],
        "secondary_status": _adgroup_secondary(m, s), "promotion_type": "WEBSITE", "is_new_structure": True,
        "create_time": _time(s.created_at), "modify_time": _time(s.updated_at),
    }  # fmt: skip


def _identity(acc: Account) -> str:
    return str(7_000_000_000_000_000_000 + stable_key("tiktok-identity", acc.id) % 10**18)


def ad_doc(m: Market, a: Ad, acc: Account, state: State) -> dict[str, Any]:
    creative = m.creatives[a.creative_id]
    extra = state.ad_extra.get(a.id, {})
    image_ids = [m.image(PLATFORM, acc.id, creative.image_hash).id] if creative.image_hash else []
    return {
        "advertiser_id": acc.id, "campaign_id": a.campaign_id, "campaign_name": m.campaigns[a.campaign_id].name,
        "adgroup_id": a.ad_set_id, "adgroup_name": m.ad_sets[a.ad_set_id].name, "ad_id": a.id, "ad_name": a.name,
        "identity_type": extra.get("identity_type", "CUSTOMIZED_USER"),
        "identity_id": extra.get("identity_id", _identity(acc)), "ad_format": "SINGLE_IMAGE",
        "image_ids": image_ids, "video_id": None, "ad_text": creative.headline or creative.body,
        "call_to_action": creative.cta, "landing_page_url": creative.link_url,
        "display_name": extra.get("display_name", acc.name), "tracking_pixel_id": 0, "creative_type": None,
        "operation_status": STATUS_OUT[a.status], "secondary_status": _ad_secondary(m, a), "is_aco": False,
        "create_time": _time(a.created_at), "modify_time": _time(a.updated_at),
    }  # fmt: skip


def _image_format(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    return None


def image_doc(img: Image, base_url: str) -> dict[str, Any]:
    url = media_url(base_url, PLATFORM, img.account_id, img.id)
    at = img.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "image_id": img.id, "material_id": str(7_200_000_000_000_000_000 + stable_key("material", img.hash) % 10**17),
        "width": img.width, "height": img.height, "format": _image_format(img.data) or "png", "image_url": url,
        "url": url, "signature": img.hash, "size": len(img.data), "file_name": img.name,
        "is_carousel_usable": True, "displayable": True, "create_time": at, "modify_time": at,
    }  # fmt: skip


def _select_fields(docs: list[dict[str, Any]], p: Params, allowed: tuple[str, ...]) -> list[dict[str, Any]]:
    wanted = p.strings("fields")
    if not wanted:
        return docs
    unknown = [f for f in wanted if f not in allowed]
    if unknown:
        raise param_error(f"fields: Invalid field(s) {', '.join(unknown)}.")
    return [{f: d[f] for f in wanted} for d in docs]


# -- reads -------------------------------------------------------------------------------------------------------
_KNOWN_UNMODELLED_FILTERS = {"buying_types", "campaign_type", "billing_events", "campaign_system_origins",
                             "is_smart_performance_campaign", "split_test_enabled", "creative_material_mode",
                             "destination", "optimization_events", "is_new_structure"}  # fmt: skip


def _creation_time(filters: dict[str, Any], name: str) -> datetime | None:
    value = filters.get(name)
    if value is None:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise param_error(f"filtering.{name}: Not a valid datetime, expected YYYY-MM-DD HH:MM:SS.") from None


def _filtered(
    ctx: Ctx, entities: list[Any], kind: str, accepted: tuple[str, ...], secondary: Callable[[Any], str]
) -> list[Any]:
    """Apply ``filtering`` (campaign_ids, adgroup_ids, ad_ids, names, statuses, creation time)."""
    filters = ctx.params.mapping("filtering") or {}
    for key in filters:
        if key not in accepted and key not in _KNOWN_UNMODELLED_FILTERS:
            raise param_error(f"filtering.{key}: Unknown field.")
    sub = Params(filters)
    id_sets = {k: set(sub.strings(k, max_n=100) or []) for k in ("campaign_ids", "adgroup_ids", "ad_ids")
               if k in accepted and sub.present(k)}  # fmt: skip
    name = sub.text(f"{kind}_name")
    primary = sub.choice("primary_status", PRIMARY_STATUSES, default="STATUS_NOT_DELETE")
    wanted_secondary = sub.text("secondary_status")
    objective = sub.text("objective_type")
    goal = sub.text("optimization_goal") if "optimization_goal" in accepted else None
    since = _creation_time(filters, "creation_filter_start_time")
    until = _creation_time(filters, "creation_filter_end_time")
    out = []
    for e in entities:
        own = {"campaign_ids": e.campaign_id if kind != "campaign" else e.id,
               "adgroup_ids": getattr(e, "ad_set_id", e.id), "ad_ids": e.id}  # fmt: skip
        if any(own[k] not in ids for k, ids in id_sets.items()):
            continue
        if name is not None and name.casefold() not in e.name.casefold():
            continue
        status2 = secondary(e)
        deleted = e.status == "DELETED"
        if wanted_secondary is not None:
            if status2 != wanted_secondary:
                continue
        elif not _primary_ok(primary or "STATUS_NOT_DELETE", e.status, deleted, status2):
            continue
        camp = ctx.m.campaigns[e.campaign_id if kind != "campaign" else e.id]
        if objective is not None and objective_type(camp.objective) != objective:
            continue
        if goal is not None and OPTIMIZATION_GOALS.get(e.optimization_goal, e.optimization_goal) != goal:
            continue
        created = e.created_at.replace(tzinfo=None)
        if (since is not None and created < since) or (until is not None and created > until):
            continue
        out.append(e)
    return out


def _primary_ok(primary: str, status: str, deleted: bool, secondary: str) -> bool:
    if primary == "STATUS_ALL":
        return True
    if primary == "STATUS_DELETE":
        return deleted
    if deleted:
        return False
    delivering = secondary.endswith("DELIVERY_OK") or secondary == "CAMPAIGN_STATUS_ENABLE"
    return {
        "STATUS_NOT_DELETE": True,
        "STATUS_DELIVERY_OK": delivering,
        "STATUS_DISABLE": status != "ACTIVE",
        "STATUS_NOT_DELIVERY": not delivering,
    }.get(primary, False)


def _paged(ctx: Ctx, docs: list[dict[str, Any]]) -> dict[str, Any]:
    page = ctx.params.integer("page", 1, 1, 10**9)
    page_size = ctx.params.integer("page_size", 10, 1, MAX_PAGE_SIZE)
    chunk, info = page_slice(docs, page, page_size, ctx.sandbox.faults)
    return {"list": chunk, "page_info": info}


def _by_id(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda e: (len(e.id), e.id))


async def advertiser_info(ctx: Ctx) -> dict[str, Any]:
    ids = ctx.params.strings("advertiser_ids", required=True, max_n=100) or []
    docs = []
    for advertiser_id in ids:
        acc = ctx.account(advertiser_id)
        created = acc.created_at or ctx.m.now
        docs.append({
            "advertiser_id": acc.id, "name": acc.name,
            "status": "STATUS_ENABLE" if acc.status == "ACTIVE" else "STATUS_DISABLE", "currency": acc.currency,
            "timezone": acc.timezone, "display_timezone": acc.timezone, "balance": 50000.0, "company": acc.name,
            "country": COUNTRIES.get(acc.timezone, "US"), "industry": "", "role": "ROLE_ADVERTISER",
            "language": "en", "create_time": int(created.timestamp()),
        })  # fmt: skip
    return {"list": _select_fields(docs, ctx.params, ADVERTISER_FIELDS)}


async def campaign_get(ctx: Ctx) -> dict[str, Any]:
    acc = ctx.advertiser()
    accepted = ("campaign_ids", "campaign_name", "primary_status", "secondary_status", "objective_type",
                "creation_filter_start_time", "creation_filter_end_time")  # fmt: skip
    rows = _filtered(ctx, _by_id(ctx.m.campaigns_of(PLATFORM, acc.id)), "campaign", accepted, _campaign_secondary)
    docs = _select_fields([campaign_doc(ctx.m, c, acc) for c in rows], ctx.params, CAMPAIGN_FIELDS)
    return _paged(ctx, docs)


async def adgroup_get(ctx: Ctx) -> dict[str, Any]:
    acc, m = ctx.advertiser(), ctx.m
    accepted = ("campaign_ids", "adgroup_ids", "adgroup_name", "primary_status", "secondary_status", "objective_type",
                "optimization_goal", "creation_filter_start_time", "creation_filter_end_time")  # fmt: skip
    rows = _filtered(ctx, _by_id(m.ad_sets_of(PLATFORM, acc.id)), "adgroup", accepted,
                     lambda s: _adgroup_secondary(m, s))  # fmt: skip
    docs = _select_fields([adgroup_doc(m, s, acc) for s in rows], ctx.params, ADGROUP_FIELDS)
    return _paged(ctx, docs)


async def ad_get(ctx: Ctx) -> dict[str, Any]:
    acc, m = ctx.advertiser(), ctx.m
    accepted = ("campaign_ids", "adgroup_ids", "ad_ids", "ad_name", "primary_status", "secondary_status",
                "objective_type", "creation_filter_start_time", "creation_filter_end_time")  # fmt: skip
    rows = _filtered(ctx, _by_id(m.ads_of(PLATFORM, acc.id)), "ad", accepted, lambda a: _ad_secondary(m, a))
    docs = _select_fields([ad_doc(m, a, acc, ctx.state) for a in rows], ctx.params, AD_FIELDS)
    return _paged(ctx, docs)


async def image_info(ctx: Ctx) -> dict[str, Any]:
    acc = ctx.advertiser()
    ids = ctx.params.strings("image_ids", required=True, max_n=100) or []
    docs = []
    for image_id in ids:
        try:
            img = ctx.m.image(PLATFORM, acc.id, image_id)
        except SandboxError:
            continue
        if img.id == image_id:
            docs.append(image_doc(img, ctx.base_url))
    return {"list": docs}


# -- writes ------------------------------------------------------------------------------------------------------
def _own(ctx: Ctx, acc: Account, kind: str, entity_id: str) -> Any:
    tables: dict[str, dict[str, Any]] = {"campaign": ctx.m.campaigns, "adgroup": ctx.m.ad_sets, "ad": ctx.m.ads}
    table = tables[kind]
    entity = table.get(entity_id)
    if entity is None or entity.account_id != acc.id or entity.platform != PLATFORM:
        raise ApiError(40007, f"{kind.capitalize()} {entity_id} does not exist under advertiser {acc.id}.")
    return entity


def _not_deleted(entity: Any, kind: str) -> None:
    if entity.status == "DELETED":
        raise param_error(f"{kind}_id: {kind.capitalize()} {entity.id} has been deleted and cannot be modified.")


def _budget(ctx: Ctx, acc: Account, name: str, value: Any, kind: str) -> int:
    minor = to_minor(name, value, acc.currency)
    floor = MIN_DAILY_BUDGET[kind] * 10 ** exponent(acc.currency)
    if exponent(acc.currency) == 0:
        floor *= 100
    if minor < floor:
        raise param_error(f"{name}: The daily budget must be at least {major(floor, acc.currency)} "
                          f"{acc.currency}.")  # fmt: skip
    return minor


def _status_update(ctx: Ctx, kind: str, ids_name: str) -> tuple[list[str], str, list[dict[str, str]], bool]:
    acc = ctx.advertiser()
    ids = ctx.params.strings(ids_name, required=True, max_n=MAX_STATUS_IDS) or []
    op = ctx.params.choice("operation_status", tuple(STATUS_IN), required=True)
    assert op is not None
    partial = ctx.params.flag("allow_partial_success")
    target = STATUS_IN[op]
    ok: list[str] = []
    errors: list[dict[str, str]] = []
    for entity_id in ids:
        try:
            entity = _own(ctx, acc, kind, entity_id)
            if entity.status == "DELETED" and target != "DELETED":
                raise param_error(f"{ids_name}: {kind.capitalize()} {entity_id} has been deleted.")
            if kind != "campaign" and ctx.m.campaigns[entity.campaign_id].status == "DELETED" and target != "DELETED":
                raise param_error(f"{ids_name}: the campaign of {kind} {entity_id} has been deleted.")
            ok.append(entity_id)
        except ApiError as exc:
            if not partial:
                raise
            errors.append({f"{kind}_id": entity_id, "error_message": exc.message})
    for entity_id in ok:
        ctx.m.set_status(entity_id, target)
    return ok, op, errors, partial


async def campaign_status_update(ctx: Ctx) -> dict[str, Any]:
    ok, op, errors, partial = _status_update(ctx, "campaign", "campaign_ids")
    out: dict[str, Any] = {"campaign_ids": ok, "status": op,
                           "campaign_list": [{"campaign_id": i, "status": op} for i in ok]}  # fmt: skip
    if partial:
        out["error_list"] = errors
    return out


async def adgroup_status_update(ctx: Ctx) -> dict[str, Any]:
    ok, op, errors, _ = _status_update(ctx, "adgroup", "adgroup_ids")
    return {"adgroup_ids": ok, "status": op, "error_list": errors}


async def ad_status_update(ctx: Ctx) -> dict[str, Any]:
    ok, op, errors, partial = _status_update(ctx, "ad", "ad_ids")
    out: dict[str, Any] = {"ad_ids": ok, "status": op}
    if partial:
        out["error_list"] = errors
    return out


async def campaign_create(ctx: Ctx) -> dict[str, Any]:
    p, acc = ctx.params, ctx.advertiser()
    name = p.req("campaign_name", max_len=512)
    objective = p.req("objective_type")
    mode = p.choice("budget_mode", ("BUDGET_MODE_INFINITE", "BUDGET_MODE_DAY"), default="BUDGET_MODE_INFINITE")
    budget = None
    if mode == "BUDGET_MODE_DAY":
        if not p.present("budget"):
            raise param_error("budget: Missing data for required field when budget_mode is BUDGET_MODE_DAY.")
        budget = _budget(ctx, acc, "budget", p.raw["budget"], "campaign")
    status = STATUS_IN[p.choice("operation_status", ("ENABLE", "DISABLE"), default="ENABLE") or "ENABLE"]
    camp = ctx.m.create_campaign(PLATFORM, acc.id, name=name, objective=objective, status=status,
                                 daily_budget_minor=budget)  # fmt: skip
    return campaign_doc(ctx.m, camp, acc)


async def campaign_update(ctx: Ctx) -> dict[str, Any]:
    p, acc = ctx.params, ctx.advertiser()
    camp = _own(ctx, acc, "campaign", p.req("campaign_id"))
    _not_deleted(camp, "campaign")
    name = p.text("campaign_name", max_len=512)
    budget = None
    if p.present("budget"):
        if camp.daily_budget_minor is None:
            raise param_error("budget: The campaign has no budget (BUDGET_MODE_INFINITE); it cannot be set.")
        budget = _budget(ctx, acc, "budget", p.raw["budget"], "campaign")
    if budget is not None:
        ctx.m.set_budget(camp.id, budget)
    if name is not None:
        ctx.m.rename(camp.id, name)
    return campaign_doc(ctx.m, camp, acc)


async def adgroup_create(ctx: Ctx) -> dict[str, Any]:
    p, acc = ctx.params, ctx.advertiser()
    camp = _own(ctx, acc, "campaign", p.req("campaign_id"))
    _not_deleted(camp, "campaign")
    name = p.req("adgroup_name", max_len=512)
    p.choice("budget_mode", ("BUDGET_MODE_DAY",), default="BUDGET_MODE_DAY")
    if not p.present("budget"):
        raise param_error("budget: Missing data for required field.")
    budget = _budget(ctx, acc, "budget", p.raw["budget"], "adgroup")
    bid = p.amount("bid_price", acc.currency) or p.amount("conversion_bid_price", acc.currency)
    goal = p.choice("optimization_goal", ("CONVERT", "CLICK", "REACH", "VALUE"), default="CONVERT") or "CONVERT"
    status = STATUS_IN[p.choice("operation_status", ("ENABLE", "DISABLE"), default="ENABLE") or "ENABLE"]
    ad_set = ctx.m.create_ad_set(camp.id, name=name, daily_budget_minor=budget, status=status, bid_minor=bid,
                                 optimization_goal=goal)  # fmt: skip
    return adgroup_doc(ctx.m, ad_set, acc)


async def adgroup_update(ctx: Ctx) -> dict[str, Any]:
    p, acc = ctx.params, ctx.advertiser()
    ad_set = _own(ctx, acc, "adgroup", p.req("adgroup_id"))
    _not_deleted(ad_set, "adgroup")
    name = p.text("adgroup_name", max_len=512)
    budget = _budget(ctx, acc, "budget", p.raw["budget"], "adgroup") if p.present("budget") else None
    bid = p.amount("bid_price", acc.currency)
    conversion_bid = p.amount("conversion_bid_price", acc.currency)
    if budget is not None:
        ctx.m.set_budget(ad_set.id, budget)
    for value in (bid, conversion_bid):
        if value is not None:
            ctx.m.set_bid(ad_set.id, value)
    if name is not None:
        ctx.m.rename(ad_set.id, name)
    return adgroup_doc(ctx.m, ad_set, acc)


async def adgroup_budget_update(ctx: Ctx) -> dict[str, Any]:
    p, acc = ctx.params, ctx.advertiser()
    if p.present("schedule_budget"):
        raise param_error("schedule_budget: scheduled budget changes are not supported by this sandbox.")
    items = p.records("budget", required=True) or []
    if len(items) > MAX_STATUS_IDS:
        raise ApiError(40011, f"budget: Too many ad groups, at most {MAX_STATUS_IDS} are allowed.")
    changes: list[tuple[str, int]] = []
    for i, item in enumerate(items):
        sub = Params(item)
        ad_set = _own(ctx, acc, "adgroup", sub.req("adgroup_id"))
        _not_deleted(ad_set, "adgroup")
        if not sub.present("budget"):
            raise param_error(f"budget[{i}].budget: Missing data for required field.")
        changes.append((ad_set.id, _budget(ctx, acc, f"budget[{i}].budget", item["budget"], "adgroup")))
    for ad_set_id, minor in changes:
        ctx.m.set_budget(ad_set_id, minor)
    return {}


def _creative_fields(ctx: Ctx, acc: Account, item: dict[str, Any], i: int, *, creating: bool) -> dict[str, Any]:
    sub = Params(item)
    where = f"creatives[{i}]"
    fmt = sub.choice("ad_format", ("SINGLE_IMAGE",), default="SINGLE_IMAGE" if not creating else None,
                     required=creating)  # fmt: skip
    image_ids = sub.strings("image_ids", required=creating, max_n=10)
    images = []
    for image_id in image_ids or []:
        try:
            images.append(ctx.m.image(PLATFORM, acc.id, image_id))
        except SandboxError:
            raise param_error(f"{where}.image_ids: Image {image_id} does not exist.") from None
    landing = sub.text("landing_page_url", required=creating, max_len=2048)
    if landing is not None and urlsplit(landing).scheme not in ("http", "https"):
        raise param_error(f"{where}.landing_page_url: Not a valid URL.")
    return {
        "ad_name": sub.text("ad_name", required=creating, max_len=512), "ad_format": fmt,
        "images": images, "ad_text": sub.text("ad_text", required=creating, max_len=100),
        "call_to_action": sub.choice("call_to_action", CALLS_TO_ACTION, default="LEARN_MORE" if creating else None),
        "landing_page_url": landing, "display_name": sub.text("display_name", max_len=40),
        "identity_type": sub.choice("identity_type", ("CUSTOMIZED_USER", "AUTH_CODE", "TT_USER", "BC_AUTH_TT")),
        "identity_id": sub.text("identity_id"),
    }  # fmt: skip


def _remember(ctx: Ctx, ad_id: str, fields: dict[str, Any]) -> None:
    extra = ctx.state.ad_extra.setdefault(ad_id, {})
    for key in ("display_name", "identity_type", "identity_id"):
        if fields.get(key) is not None:
            extra[key] = fields[key]


async def ad_create(ctx: Ctx) -> dict[str, Any]:
    p, acc, m = ctx.params, ctx.advertiser(), ctx.m
    ad_set = _own(ctx, acc, "adgroup", p.req("adgroup_id"))
    _not_deleted(ad_set, "adgroup")
    items = p.records("creatives", required=True) or []
    if len(items) > 20:
        raise ApiError(40011, "creatives: Too many creatives, at most 20 per request.")
    specs = [_creative_fields(ctx, acc, item, i, creating=True) for i, item in enumerate(items)]
    status = STATUS_IN[p.choice("operation_status", ("ENABLE", "DISABLE"), default="ENABLE") or "ENABLE"]
    ads = []
    for spec in specs:
        creative = m.create_creative(PLATFORM, acc.id, name=spec["ad_name"], headline=spec["ad_text"],
                                     body=spec["ad_text"], cta=spec["call_to_action"],
                                     image_hash=spec["images"][0].hash, link_url=spec["landing_page_url"])  # fmt: skip
        ad = m.create_ad(ad_set.id, creative.id, name=spec["ad_name"], status=status)
        _remember(ctx, ad.id, spec)
        ads.append(ad)
    return {"ad_ids": [a.id for a in ads], "creatives": [ad_doc(m, a, acc, ctx.state) for a in ads]}


async def ad_update(ctx: Ctx) -> dict[str, Any]:
    """Names and identity fields change in place; the sandbox cannot swap an ad's creative content."""
    p, acc, m = ctx.params, ctx.advertiser(), ctx.m
    ad_set = _own(ctx, acc, "adgroup", p.req("adgroup_id"))
    items = p.records("creatives", required=True) or []
    changes = []
    for i, item in enumerate(items):
        ad = _own(ctx, acc, "ad", Params(item).req("ad_id"))
        if ad.ad_set_id != ad_set.id:
            raise param_error(f"creatives[{i}].ad_id: Ad {ad.id} does not belong to ad group {ad_set.id}.")
        _not_deleted(ad, "ad")
        spec = _creative_fields(ctx, acc, item, i, creating=False)
        current = ad_doc(m, ad, acc, ctx.state)
        proposed = {"ad_text": spec["ad_text"], "call_to_action": spec["call_to_action"],
                    "landing_page_url": spec["landing_page_url"],
                    "image_ids": [img.id for img in spec["images"]] if spec["images"] else None}  # fmt: skip
        for key, value in proposed.items():
            if value is not None and value != current[key]:
                raise param_error(f"creatives[{i}].{key}: changing creative content in place is not supported by "
                                  "this sandbox; create a new ad instead.")  # fmt: skip
        changes.append((ad, spec))
    for ad, spec in changes:
        if spec["ad_name"] is not None:
            m.rename(ad.id, spec["ad_name"])
        _remember(ctx, ad.id, spec)
    done = [ad for ad, _ in changes]
    return {"ad_ids": [a.id for a in done], "creatives": [ad_doc(m, a, acc, ctx.state) for a in done]}


async def image_upload(ctx: Ctx) -> dict[str, Any]:
    p, acc = ctx.params, ctx.advertiser()
    kind = p.choice("upload_type", ("UPLOAD_BY_FILE", "UPLOAD_BY_URL", "UPLOAD_BY_FILE_ID"), default="UPLOAD_BY_FILE")
    name = p.text("file_name", max_len=100)
    if kind == "UPLOAD_BY_FILE_ID":
        raise param_error("upload_type: UPLOAD_BY_FILE_ID is not supported by this sandbox.")
    if kind == "UPLOAD_BY_URL":
        url = p.req("image_url", max_len=2048)
        if urlsplit(url).scheme not in ("http", "https"):
            raise param_error("image_url: Not a valid URL.")
        data = synthetic_png(url)  # the sandbox's stand-in for fetching the picture
        name = name or (urlsplit(url).path.rsplit("/", 1)[-1] or "image.png")
    else:
        upload = p.raw.get("image_file")
        if not isinstance(upload, dict) or not isinstance(upload.get("content"), bytes):
            raise param_error("image_file: Missing data for required field.")
        data = upload["content"]
        signature = p.req("image_signature")
        if hashlib.md5(data).hexdigest() != signature.lower():
            raise ApiError(40900, "The image signature does not match the file (image_signature must be the MD5 "
                                  "of image_file).")  # fmt: skip
        name = name or str(upload.get("filename") or "image")
    if not data or _image_format(data) is None:
        raise param_error("image_file: Unsupported image format; upload a JPG, JPEG or PNG file.")
    img = ctx.m.upload_image(PLATFORM, acc.id, data, name=name)
    return image_doc(img, ctx.base_url)
