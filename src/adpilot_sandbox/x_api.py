"""The X Ads API (v11 and v12) in sandbox form: accounts, campaigns, line items, promoted tweets, the
creative flow (media upload, media library, cards, tweets) and, through :mod:`x_reports`, analytics.

Every request goes through :func:`adpilot_sandbox.x_oauth.endpoint` (OAuth 1.0a, rate limits, faults,
native errors). Money is in micros (JSON integers), times are ISO-8601 UTC with ``Z``, lists page with
``cursor``/``next_cursor``. A promoted tweet is the sandbox's Ad; its tweet is the Ad's creative.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import orjson
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from adpilot_sandbox.control import media_url
from adpilot_sandbox.entities import Account, Ad, AdSet, Campaign, Creative, Image
from adpilot_sandbox.http import json_response
from adpilot_sandbox.noise import stable_key
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.x_oauth import (
    Ctx,
    Handler,
    RateLimiter,
    XError,
    endpoint,
    invalid,
    oauth_routes,
    paginate,
)
from adpilot_sandbox.x_reports import (
    XReports,
    funding_instrument_id,
    iso,
    local_midnight,
    micros_factor,
)

VERSIONS = ("11", "12")
STATUSES = ("ACTIVE", "PAUSED", "DRAFT")
OBJECTIVES = (
    "APP_ENGAGEMENTS", "APP_INSTALLS", "REACH", "FOLLOWERS", "ENGAGEMENTS", "VIDEO_VIEWS", "PREROLL_VIEWS",
    "WEBSITE_CLICKS", "WEBSITE_CONVERSIONS",
)  # fmt: skip
PRODUCT_TYPES = ("PROMOTED_TWEETS", "PROMOTED_ACCOUNT", "MEDIA")
PLACEMENT_VALUES = (
    "ALL_ON_TWITTER", "PUBLISHER_NETWORK", "TAP_BANNER", "TAP_FULL", "TAP_FULL_LANDSCAPE", "TAP_NATIVE",
    "TAP_MRECT", "TWITTER_PROFILE", "TWITTER_REPLIES", "TWITTER_SEARCH", "TWITTER_TIMELINE",
)  # fmt: skip
GOALS = (
    "APP_CLICKS", "APP_INSTALLS", "ENGAGEMENT", "FOLLOWERS", "LINK_CLICKS", "MAX_REACH", "PREROLL",
    "PREROLL_STARTS", "REACH_WITH_ENGAGEMENT", "SITE_VISITS", "VIDEO_VIEW", "VIEW_3S_100PCT", "VIEW_6S",
    "VIEW_15S", "WEBSITE_CONVERSIONS",
)  # fmt: skip
ENUMS = {
    "bid_strategy": ("AUTO", "MAX", "TARGET"), "goal": GOALS, "objective": OBJECTIVES,
    "pay_by": ("APP_CLICK", "IMPRESSION", "LINK_CLICK"), "product_type": PRODUCT_TYPES,
}  # fmt: skip
MEDIA_CATEGORIES = ("TWEET_IMAGE", "TWEET_GIF", "TWEET_VIDEO", "AMPLIFY_VIDEO", "DM_IMAGE")
CAMPAIGN_EXTRAS = (
    "total_budget_amount_local_micro",
    "standard_delivery",
    "frequency_cap",
    "duration_in_days",
)
LINE_ITEM_EXTRAS = (
    "total_budget_amount_local_micro", "bid_strategy", "goal", "pay_by", "start_time", "end_time",
    "placements", "advertiser_domain", "categories", "primary_web_event_tag",
)  # fmt: skip
INSERTION_ORDER_MICROS = 5_000_000 * 10**6  # each account's funding: a 5,000,000 insertion order


@dataclass
class XState:
    """What X keeps that the market does not: cards, tweet texts, media-library metadata, drafts."""

    limiter: RateLimiter = field(default_factory=RateLimiter)
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)  # creative id -> text, card, media
    library: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (account, media_key)
    drafts: set[str] = field(default_factory=set)
    before_delete: dict[str, str] = field(default_factory=dict)  # entity_status when deleted
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # stored-only fields per entity
    spent: dict[tuple[str, int], int] = field(default_factory=dict)  # (account, day) -> spend to date


def state_of(sandbox: Sandbox) -> XState:
    """The X surface's state for ``sandbox``, kept with it (every app over one sandbox shares it).

    ``Sandbox(..., rate_limits=False)`` lifts the rate limits (e.g. for a benchmark).
    """
    holder = sandbox.jobs.setdefault("x:state", {"platform": "x", "kind": "surface-state"})
    state = holder.get("state")
    if not isinstance(state, XState):
        state = holder["state"] = XState()
        state.limiter.enabled = sandbox.rate_limits
    return state


def tweet_id_of(creative_id: str) -> str:
    """The numeric id of the tweet behind a creative (stable)."""
    return str(1_400_000_000_000_000_000 + stable_key("x-tweet", creative_id) % 10**17)


def media_id_of(img: Image) -> int:
    return 1_600_000_000_000_000_000 + int(img.hash[:15], 16) % 10**17


def image_type(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def parse_instant(value: str, name: str) -> str:
    """An ISO 8601 time in any offset, in X's form (UTC, ``Z``)."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(name, f'{name} must be an ISO 8601 time like 2026-03-01T05:00:00Z, got "{value}"') from None
    return iso(dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt)


def to_minor(micros: int, currency: str, name: str) -> int:
    factor = micros_factor(currency)
    minor = (micros + factor // 2) // factor
    if minor <= 0:
        raise invalid(name, f"{name} must be a positive amount in micros, got {micros}")
    return minor


def public(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k != "account_id"}


class XSurface:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.m = sandbox.market
        self.state = state_of(sandbox)
        self.reports = XReports(sandbox)

    # -- rendering ---------------------------------------------------------------------------------------
    def status_of(self, entity: Campaign | AdSet | Ad) -> str:
        if entity.status == "DELETED":
            return self.state.before_delete.get(entity.id, "PAUSED")
        if entity.id in self.state.drafts:
            return "DRAFT"
        return "ACTIVE" if entity.status == "ACTIVE" else "PAUSED"

    def user_id(self) -> str:
        return self.sandbox.auth.primary("x").value.split("-")[0]

    def render_account(self, acc: Account) -> dict[str, Any]:
        created = acc.created_at or self.m.now
        tz = ZoneInfo(acc.timezone)
        return {
            "id": acc.id, "name": acc.name, "timezone": acc.timezone,
            "timezone_switch_at": iso(local_midnight(tz, created.astimezone(tz).date())),
            "approval_status": "ACCEPTED", "business_id": None, "business_name": None, "industry_type": None,
            "salt": hashlib.md5(f"x-salt:{acc.id}".encode()).hexdigest(),
            "created_at": iso(created), "updated_at": iso(created), "deleted": acc.status == "DELETED",
        }  # fmt: skip

    def render_funding_instrument(self, acc: Account) -> dict[str, Any]:
        created = iso(acc.created_at or self.m.now)
        key = (acc.id, self.m.day)
        if key not in self.state.spent:  # spend of a delivered day never changes
            self.state.spent[key] = int(self.m.reported("x", acc.id, 0, self.m.day - 1)["spend"].sum())
        remaining = INSERTION_ORDER_MICROS - self.state.spent[key] * micros_factor(acc.currency)
        return {
            "id": funding_instrument_id(acc), "name": f"{acc.name} insertion order",
            "type": "INSERTION_ORDER", "description": "Insertion order", "account_id": acc.id,
            "currency": acc.currency, "funded_amount_local_micro": INSERTION_ORDER_MICROS,
            "credit_limit_local_micro": INSERTION_ORDER_MICROS, "credit_remaining_local_micro": remaining,
            "able_to_fund": True, "reasons_not_able_to_fund": [], "entity_status": "ACTIVE",
            "io_header": None, "start_time": created, "end_time": None, "created_at": created,
            "updated_at": created, "deleted": False,
        }  # fmt: skip

    def live_campaigns(self, account_id: str) -> tuple[set[str], set[str]]:
        """(campaigns with an active line item, campaigns with an active line item and promoted tweet)."""
        live_sets = {s.id: s.campaign_id for s in self.m.ad_sets_of("x", account_id) if s.status == "ACTIVE"}
        with_ads = {live_sets[a.ad_set_id] for a in self.m.ads_of("x", account_id)
                    if a.status == "ACTIVE" and a.ad_set_id in live_sets}  # fmt: skip
        return set(live_sets.values()), with_ads

    def render_campaign(self, c: Campaign, live: tuple[set[str], set[str]] | None = None) -> dict[str, Any]:
        acc = self.m.account("x", c.account_id)
        with_items, with_ads = live or self.live_campaigns(c.account_id)
        status = self.status_of(c)
        reasons = []
        if c.status == "DELETED":
            reasons.append("DELETED_BY_ADVERTISER")
        elif status != "ACTIVE":
            reasons.append("PAUSED_BY_ADVERTISER")
        if c.id not in with_items:
            reasons.append("NO_ACTIVE_LINE_ITEMS")
        elif c.id not in with_ads:
            reasons.append("NO_ACTIVE_CREATIVES")
        extras = self.state.extras.get(c.id, {})
        budget, factor = c.daily_budget_minor, micros_factor(acc.currency)
        return {
            "id": c.id, "name": c.name, "account_id": c.account_id,
            "funding_instrument_id": funding_instrument_id(acc), "entity_status": status,
            "effective_status": "ACTIVE" if not reasons else status,
            "daily_budget_amount_local_micro": None if budget is None else budget * factor,
            "total_budget_amount_local_micro": extras.get("total_budget_amount_local_micro"),
            "budget_optimization": "CAMPAIGN", "standard_delivery": extras.get("standard_delivery", True),
            "frequency_cap": extras.get("frequency_cap"), "duration_in_days": extras.get("duration_in_days"),
            "currency": acc.currency, "servable": not reasons, "reasons_not_servable": reasons,
            "created_at": iso(c.created_at), "updated_at": iso(c.updated_at),
            "deleted": c.status == "DELETED",
        }  # fmt: skip

    def render_line_item(self, s: AdSet) -> dict[str, Any]:
        acc = self.m.account("x", s.account_id)
        camp = self.m.campaigns[s.campaign_id]
        extras = self.state.extras.get(s.id, {})
        objective = extras.get("objective", camp.objective if camp.objective in OBJECTIVES else "WEBSITE_CLICKS")
        goal = "WEBSITE_CONVERSIONS" if s.optimization_goal == "CONVERSIONS" else "LINK_CLICKS"
        pay_by = "LINK_CLICK" if objective == "WEBSITE_CLICKS" else "IMPRESSION"
        factor = micros_factor(acc.currency)
        return {
            "id": s.id, "name": s.name or None, "campaign_id": s.campaign_id,
            "entity_status": self.status_of(s),
            "objective": objective, "product_type": extras.get("product_type", "PROMOTED_TWEETS"),
            "placements": extras.get("placements", ["ALL_ON_TWITTER"]),
            "bid_strategy": extras.get("bid_strategy", "MAX" if s.bid_minor else "AUTO"),
            "bid_amount_local_micro": None if s.bid_minor is None else s.bid_minor * factor,
            "total_budget_amount_local_micro": extras.get("total_budget_amount_local_micro"),
            "pay_by": extras.get("pay_by", pay_by), "goal": extras.get("goal", goal),
            "currency": acc.currency,
            "start_time": extras.get("start_time", iso(s.created_at)), "end_time": extras.get("end_time"),
            "advertiser_domain": extras.get("advertiser_domain", "shop.example"),
            "advertiser_user_id": self.user_id(), "categories": extras.get("categories", []),
            "primary_web_event_tag": extras.get("primary_web_event_tag"), "target_cpa_local_micro": None,
            "creative_source": "MANUAL", "audience_expansion": None, "android_app_store_identifier": None,
            "ios_app_store_identifier": None, "tracking_tags": [], "created_at": iso(s.created_at),
            "updated_at": iso(s.updated_at), "deleted": s.status == "DELETED",
        }  # fmt: skip

    def render_promoted_tweet(self, a: Ad) -> dict[str, Any]:
        return {
            "id": a.id, "line_item_id": a.ad_set_id, "tweet_id": tweet_id_of(a.creative_id),
            "entity_status": self.status_of(a), "approval_status": "ACCEPTED",
            "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
            "deleted": a.status == "DELETED",
        }  # fmt: skip

    def render_media(self, ctx: Ctx, img: Image) -> dict[str, Any]:
        key = f"3_{media_id_of(img)}"
        meta = self.state.library.get((img.account_id, key), {})
        tweeted = any(c.image_hash == img.hash for c in self.m.creatives_of("x", img.account_id))
        g = math.gcd(img.width, img.height) or 1
        return {
            "media_key": key, "media_url": media_url(ctx.base_url, "x", img.account_id, img.hash),
            "media_type": "GIF" if img.name.lower().endswith(".gif") else "IMAGE",
            "media_status": "TRANSCODE_COMPLETED", "name": meta.get("name", img.name),
            "file_name": meta.get("file_name", img.name), "description": meta.get("description"),
            "title": meta.get("title"), "poster_media_key": None, "poster_media_url": None,
            "aspect_ratio": f"{img.width // g}:{img.height // g}", "duration": None, "tweeted": tweeted,
            "created_at": iso(img.created_at), "updated_at": iso(meta.get("updated_at", img.created_at)),
            "deleted": bool(meta.get("deleted", False)),
        }  # fmt: skip

    def render_tweet(self, c: Creative) -> dict[str, Any]:
        info = self.state.tweets.get(c.id, {})
        text = info.get("text", c.body or c.headline)
        tid = tweet_id_of(c.id)
        return {
            "id": int(tid), "id_str": tid, "text": text, "full_text": text, "name": c.name or None,
            "card_uri": info.get("card_uri"), "media_keys": info.get("media_keys", []),
            "tweet_type": "PUBLISHED", "nullcast": True, "user_id": self.user_id(),
            "created_at": iso(c.created_at),
        }  # fmt: skip

    # -- lookups (a deleted object is found only when asked for with_deleted) ----------------------------
    def campaign(self, ctx: Ctx, cid: str, *, name: str = "campaign_id", code: str = "NOT_FOUND") -> Campaign:
        c = self.m.campaigns.get(cid)
        if c is None or c.platform != "x" or c.account_id != ctx.acc.id or self._hidden(ctx, c.status):
            raise XError(404, code, f"Campaign {cid} was not found", name)
        return c

    def line_item(self, ctx: Ctx, sid: str, *, name: str = "line_item_id") -> AdSet:
        s = self.m.ad_sets.get(sid)
        if s is None or s.platform != "x" or s.account_id != ctx.acc.id or self._hidden(ctx, s.status):
            raise XError(404, "NOT_FOUND", f"Line item {sid} was not found", name)
        return s

    def promoted_tweet(self, ctx: Ctx, aid: str) -> Ad:
        a = self.m.ads.get(aid)
        if a is None or a.platform != "x" or a.account_id != ctx.acc.id or self._hidden(ctx, a.status):
            raise XError(404, "NOT_FOUND", f"Promoted tweet {aid} was not found", "promoted_tweet_id")
        return a

    def card(self, ctx: Ctx, card_id: str, name: str = "card_id") -> dict[str, Any]:
        card = self.state.cards.get(card_id)
        if card is None or card["account_id"] != ctx.acc.id or self._hidden(ctx, card["deleted"]):
            raise XError(404, "NOT_FOUND", f"Card {card_id} was not found", name)
        return card

    def image(self, ctx: Ctx, media_key: str, name: str = "media_key") -> Image:
        for img in self.m.images_of("x", ctx.acc.id):
            deleted = self.state.library.get((ctx.acc.id, media_key), {}).get("deleted")
            if f"3_{media_id_of(img)}" == media_key and not deleted:
                return img
        raise XError(404, "NOT_FOUND", f"Media {media_key} was not found in account {ctx.acc.id}", name)

    @staticmethod
    def _hidden(ctx: Ctx, status: str | bool) -> bool:
        deleted = status is True or status == "DELETED"
        return deleted and not (ctx.request.method == "GET" and ctx.params.boolean("with_deleted"))

    # -- reads -------------------------------------------------------------------------------------------
    async def accounts(self, ctx: Ctx) -> Response:
        ids, allowed = ctx.params.id_list("account_ids"), ctx.token.accounts
        accs = [a for a in self.m.accounts.values() if a.platform == "x"]
        accs = [a for a in accs if (not allowed or a.id in allowed) and (ids is None or a.id in ids)]
        return paginate(self.sandbox, ctx, [self.render_account(a) for a in accs], "account")

    async def account(self, ctx: Ctx) -> Response:
        return ctx.ok(self.render_account(ctx.acc))

    async def funding_instruments(self, ctx: Ctx) -> Response:
        ids = ctx.params.id_list("funding_instrument_ids")
        rows = [r for r in [self.render_funding_instrument(ctx.acc)] if ids is None or r["id"] in ids]
        return paginate(self.sandbox, ctx, rows, "funding_instrument")

    async def funding_instrument(self, ctx: Ctx) -> Response:
        fi = self.render_funding_instrument(ctx.acc)
        if ctx.entity_id != fi["id"]:
            raise XError(404, "NOT_FOUND", f"Funding instrument {ctx.entity_id} was not found")
        return ctx.ok(fi)

    async def campaigns(self, ctx: Ctx) -> Response:
        ids, fis = ctx.params.id_list("campaign_ids"), ctx.params.id_list("funding_instrument_ids")
        fi, live = funding_instrument_id(ctx.acc), self.live_campaigns(ctx.acc.id)
        rows = [self.render_campaign(c, live) for c in self.m.campaigns_of("x", ctx.acc.id)
                if (ids is None or c.id in ids) and (fis is None or fi in fis)]  # fmt: skip
        return paginate(self.sandbox, ctx, rows, "campaign", drafts=True)

    async def campaign_one(self, ctx: Ctx) -> Response:
        return ctx.ok(self.render_campaign(self.campaign(ctx, ctx.entity_id)))

    async def line_items(self, ctx: Ctx) -> Response:
        p, fi = ctx.params, funding_instrument_id(ctx.acc)
        ids, cids, fis = (
            p.id_list("line_item_ids"),
            p.id_list("campaign_ids"),
            p.id_list("funding_instrument_ids"),
        )
        rows = [self.render_line_item(s) for s in self.m.ad_sets_of("x", ctx.acc.id)
                if (ids is None or s.id in ids) and (cids is None or s.campaign_id in cids)
                and (fis is None or fi in fis)]  # fmt: skip
        return paginate(self.sandbox, ctx, rows, "line_item", drafts=True)

    async def line_item_one(self, ctx: Ctx) -> Response:
        return ctx.ok(self.render_line_item(self.line_item(ctx, ctx.entity_id)))

    async def promoted_tweets(self, ctx: Ctx) -> Response:
        ids, lids = ctx.params.id_list("promoted_tweet_ids"), ctx.params.id_list("line_item_ids")
        rows = [self.render_promoted_tweet(a) for a in self.m.ads_of("x", ctx.acc.id)
                if (ids is None or a.id in ids) and (lids is None or a.ad_set_id in lids)]  # fmt: skip
        return paginate(self.sandbox, ctx, rows, "promoted_tweet")

    async def promoted_tweet_one(self, ctx: Ctx) -> Response:
        return ctx.ok(self.render_promoted_tweet(self.promoted_tweet(ctx, ctx.entity_id)))

    async def cards(self, ctx: Ctx) -> Response:
        ids = ctx.params.id_list("card_ids")
        rows = [public(c) for c in self.state.cards.values()
                if c["account_id"] == ctx.acc.id and (ids is None or c["id"] in ids)]  # fmt: skip
        return paginate(self.sandbox, ctx, rows, "card")

    async def card_one(self, ctx: Ctx) -> Response:
        return ctx.ok(public(self.card(ctx, ctx.entity_id)))

    async def media_library(self, ctx: Ctx) -> Response:
        kind = ctx.params.enum("media_type", ("IMAGE", "GIF", "VIDEO"))
        rows = [self.render_media(ctx, i) for i in self.m.images_of("x", ctx.acc.id)]
        return paginate(self.sandbox, ctx, [r for r in rows if kind in (None, r["media_type"])], "media_library")

    async def media_one(self, ctx: Ctx) -> Response:
        return ctx.ok(self.render_media(ctx, self.image(ctx, ctx.entity_id)))

    async def tweets(self, ctx: Ctx) -> Response:
        kind = ctx.params.enum("tweet_type", ("PUBLISHED", "SCHEDULED", "DRAFT"), "PUBLISHED")
        ids = ctx.params.id_list("tweet_ids")
        creatives = self.m.creatives_of("x", ctx.acc.id) if kind == "PUBLISHED" else []
        rows = [self.render_tweet(c) for c in creatives if ids is None or tweet_id_of(c.id) in ids]
        return paginate(self.sandbox, ctx, rows, "tweet")

    # -- writes: campaigns and line items (validate everything, then write) ------------------------------
    def _status(self, ctx: Ctx, current: str | None) -> str | None:
        status = ctx.params.enum("entity_status", STATUSES)
        if status == "DRAFT" and current not in (None, "DRAFT"):
            raise invalid("entity_status", "A campaign or line item cannot go back to DRAFT once launched")
        return status

    def _apply_status(self, entity_id: str, status: str | None) -> None:
        if status is None:
            return
        self.m.set_status(entity_id, "ACTIVE" if status == "ACTIVE" else "PAUSED")
        if status == "DRAFT":
            self.state.drafts.add(entity_id)
        else:
            self.state.drafts.discard(entity_id)

    def _extras(self, ctx: Ctx, names: tuple[str, ...]) -> dict[str, Any]:
        """Fields the sandbox stores and shows back but that do not move the market, validated."""
        p, out = ctx.params, dict[str, Any]()
        for name in (n for n in names if p.get(n) is not None):
            value = p.require(name)
            if name.endswith("_local_micro") or name in ("frequency_cap", "duration_in_days"):
                out[name] = p.integer(name, low=1)
            elif name == "standard_delivery":
                out[name] = p.boolean(name)
            elif name in ("start_time", "end_time"):
                out[name] = parse_instant(value, name)
            elif name == "placements":
                values = [v.strip().upper() for v in value.split(",") if v.strip()]
                if not values or any(v not in PLACEMENT_VALUES for v in values):
                    raise invalid(name, f"placements must be among {', '.join(PLACEMENT_VALUES)}, got {value}")
                out[name] = values
            elif name == "categories":
                out[name] = [v for v in value.split(",") if v]
            elif name in ENUMS:
                out[name] = p.enum(name, ENUMS[name])
            else:
                out[name] = value
        return out

    def _name(self, ctx: Ctx) -> str | None:
        name = ctx.params.get("name")
        if name is not None and len(name) > 255:
            raise invalid("name", "name must be at most 255 characters")
        return name

    def _micros(self, ctx: Ctx, name: str) -> int | None:
        micros = ctx.params.integer(name, low=1)
        return None if micros is None else to_minor(micros, ctx.acc.currency, name)

    async def campaign_create(self, ctx: Ctx) -> Response:
        p = ctx.params
        name = self._name(ctx) or p.require("name")
        fi = p.require("funding_instrument_id")
        if fi != funding_instrument_id(ctx.acc):
            message = f"Funding instrument {fi} was not found"
            raise XError(404, "FUNDING_INSTRUMENT_NOT_FOUND", message, "funding_instrument_id")
        p.require("daily_budget_amount_local_micro")
        minor = self._micros(ctx, "daily_budget_amount_local_micro")
        status = self._status(ctx, None) or "ACTIVE"
        extras = self._extras(ctx, CAMPAIGN_EXTRAS)
        internal = "ACTIVE" if status == "ACTIVE" else "PAUSED"
        camp = self.m.create_campaign(
            "x", ctx.acc.id, name=name, objective="WEBSITE_CLICKS", status=internal, daily_budget_minor=minor
        )
        if status == "DRAFT":
            self.state.drafts.add(camp.id)
        self.state.extras[camp.id] = extras
        return ctx.ok(self.render_campaign(camp))

    async def campaign_update(self, ctx: Ctx) -> Response:
        camp = self.campaign(ctx, ctx.entity_id)
        status, name = self._status(ctx, self.status_of(camp)), self._name(ctx)
        minor = self._micros(ctx, "daily_budget_amount_local_micro")
        extras = self._extras(ctx, CAMPAIGN_EXTRAS)
        if minor is not None:
            self.m.set_budget(camp.id, minor)
        if name is not None:
            self.m.rename(camp.id, name)
        self._apply_status(camp.id, status)
        self.state.extras.setdefault(camp.id, {}).update(extras)
        return ctx.ok(self.render_campaign(camp))

    async def line_item_create(self, ctx: Ctx) -> Response:
        p = ctx.params
        camp = self.campaign(ctx, p.require("campaign_id"), code="CAMPAIGN_NOT_FOUND")
        objective = p.enum("objective", OBJECTIVES) or p.require("objective")
        product_type = p.enum("product_type", PRODUCT_TYPES) or p.require("product_type")
        p.require("placements")
        extras = {**self._extras(ctx, LINE_ITEM_EXTRAS), "objective": objective, "product_type": product_type}
        bid = self._micros(ctx, "bid_amount_local_micro")
        if extras.get("bid_strategy") in ("MAX", "TARGET") and bid is None:
            message = "bid_amount_local_micro is required for MAX and TARGET bidding"
            raise invalid("bid_amount_local_micro", message)
        status = self._status(ctx, None) or "ACTIVE"
        # line items share the campaign's daily budget; a new one weighs as much as its average sibling
        peers = [s.daily_budget_minor for s in self.m.ad_sets_of("x", ctx.acc.id) if s.campaign_id == camp.id]
        weight = round(sum(peers) / len(peers)) if peers else (camp.daily_budget_minor or 1)
        default_goal = "WEBSITE_CONVERSIONS" if objective == "WEBSITE_CONVERSIONS" else "LINK_CLICKS"
        goal = "CONVERSIONS" if extras.get("goal", default_goal) == "WEBSITE_CONVERSIONS" else "LINK_CLICKS"
        ad_set = self.m.create_ad_set(
            camp.id, name=self._name(ctx) or "", daily_budget_minor=max(weight, 1),
            status="ACTIVE" if status == "ACTIVE" else "PAUSED", bid_minor=bid, optimization_goal=goal,
        )  # fmt: skip
        if status == "DRAFT":
            self.state.drafts.add(ad_set.id)
        self.state.extras[ad_set.id] = extras
        return ctx.ok(self.render_line_item(ad_set))

    async def line_item_update(self, ctx: Ctx) -> Response:
        s = self.line_item(ctx, ctx.entity_id)
        current = self.render_line_item(s)
        for fixed in ("campaign_id", "objective", "product_type"):  # the SDK re-sends them unchanged
            value = ctx.params.get(fixed)
            if value is not None and value.upper() != str(current[fixed]).upper():
                raise invalid(fixed, f"{fixed} cannot be changed on an existing line item")
        status, name = self._status(ctx, current["entity_status"]), self._name(ctx)
        bid = self._micros(ctx, "bid_amount_local_micro")
        extras = self._extras(ctx, LINE_ITEM_EXTRAS)
        if bid is not None:
            self.m.set_bid(s.id, bid)
        if name is not None:
            self.m.rename(s.id, name)
        self._apply_status(s.id, status)
        self.state.extras.setdefault(s.id, {}).update(extras)
        return ctx.ok(self.render_line_item(s))

    async def delete(self, ctx: Ctx) -> Response:
        kind = ctx.request.url.path.split("/")[4]
        entity: Campaign | AdSet | Ad
        if kind == "campaigns":
            entity = self.campaign(ctx, ctx.entity_id)
        elif kind == "line_items":
            entity = self.line_item(ctx, ctx.entity_id)
        else:
            entity = self.promoted_tweet(ctx, ctx.entity_id)
        self.state.before_delete[entity.id] = self.status_of(entity)
        self.m.set_status(entity.id, "DELETED")
        self.state.drafts.discard(entity.id)
        if isinstance(entity, Campaign):
            return ctx.ok(self.render_campaign(entity))
        if isinstance(entity, AdSet):
            return ctx.ok(self.render_line_item(entity))
        return ctx.ok(self.render_promoted_tweet(entity))

    # -- writes: the creative flow -----------------------------------------------------------------------
    async def upload(self, ctx: Ctx) -> Response:
        fields: dict[str, Any] = dict(ctx.params.values)
        filename = None
        if ctx.request.headers.get("content-type", "").startswith("multipart/"):
            async with ctx.request.form() as form:
                for key, value in form.multi_items():
                    if isinstance(value, str):
                        fields[key] = value
                    else:
                        fields[key] = await value.read()
                        filename = value.filename if key == "media" else filename
        category = str(fields.get("media_category") or "TWEET_IMAGE").upper()
        if category not in MEDIA_CATEGORIES:
            raise invalid("media_category", f"media_category must be one of {', '.join(MEDIA_CATEGORIES)}")
        if category in ("TWEET_VIDEO", "AMPLIFY_VIDEO"):
            raise invalid("media_category", "The sandbox accepts images only (TWEET_IMAGE, TWEET_GIF, DM_IMAGE)")
        data = fields.get("media")
        if data is None and fields.get("media_data"):
            try:
                data = base64.b64decode(str(fields["media_data"]), validate=True)
            except (binascii.Error, ValueError):
                raise invalid("media_data", "media_data must be base64") from None
        if not isinstance(data, bytes) or not data:
            message = "media (a file) or media_data (base64) is required"
            raise invalid("media", message)
        kind = image_type(data)
        if kind is None:
            raise invalid("media", "Unsupported media type: upload a PNG, JPEG, GIF or WEBP image")
        name = str(filename or f"upload-{hashlib.md5(data).hexdigest()[:8]}.png")
        # upload.twitter.com is user-scoped: the media becomes usable in every account of the token
        owners = ctx.token.accounts or tuple(a.id for a in self.m.accounts.values() if a.platform == "x")
        images = [self.m.upload_image("x", account_id, data, name=name) for account_id in owners]
        mid = media_id_of(images[-1])
        for each in images:
            self.m.alias_image(each, f"3_{mid}")  # the media key finds the image in every owning account
        img = images[-1]
        return json_response({
            "media_id": mid, "media_id_string": str(mid), "media_key": f"3_{mid}", "size": len(data),
            "expires_after_secs": 86400, "image": {"image_type": kind, "w": img.width, "h": img.height},
        })  # fmt: skip

    def _media_meta(self, ctx: Ctx, img: Image, *, deleted: bool = False) -> Response:
        meta = self.state.library.setdefault((img.account_id, f"3_{media_id_of(img)}"), {})
        for name, limit in (("name", 100), ("description", 200), ("title", 70), ("file_name", 255)):
            value = ctx.params.get(name)
            if value is not None and len(value) > limit:
                raise invalid(name, f"{name} must be at most {limit} characters")
            if value is not None:
                meta[name] = value
        meta.update(updated_at=self.m.now, **({"deleted": True} if deleted else {}))
        return ctx.ok(self.render_media(ctx, img))

    async def media_add(self, ctx: Ctx) -> Response:
        return self._media_meta(ctx, self.image(ctx, ctx.params.require("media_key")))

    async def media_update(self, ctx: Ctx) -> Response:
        return self._media_meta(ctx, self.image(ctx, ctx.entity_id))

    async def media_delete(self, ctx: Ctx) -> Response:
        return self._media_meta(ctx, self.image(ctx, ctx.entity_id), deleted=True)

    async def card_create(self, ctx: Ctx) -> Response:
        try:
            body = orjson.loads(await ctx.request.body())
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise invalid("body", "The request body must be a JSON object")
        name, comps = body.get("name"), body.get("components")
        if not isinstance(name, str) or not name or len(name) > 80:
            raise invalid("name", "name is required (a string of at most 80 characters)")
        if not isinstance(comps, list) or not comps:
            raise invalid("components", "components must be a non-empty array")
        out = [self._component(ctx, i, comp) for i, comp in enumerate(comps)]
        if sorted(c["type"] for c in out) != ["DETAILS", "MEDIA"]:
            raise invalid("components", "A website card needs one MEDIA and one DETAILS component")
        card_id = str(1_500_000_000_000_000_000 + stable_key("x-card", ctx.acc.id, len(self.state.cards)) % 10**17)
        now = iso(self.m.now)
        card = {"id": card_id, "account_id": ctx.acc.id, "name": name, "card_uri": f"card://{card_id}",
                "card_type": "IMAGE_WEBSITE", "components": out, "created_at": now, "updated_at": now,
                "deleted": False}  # fmt: skip
        self.state.cards[card_id] = card
        return ctx.ok(public(card))

    def _component(self, ctx: Ctx, i: int, comp: Any) -> dict[str, Any]:
        kind = comp.get("type") if isinstance(comp, dict) else None
        if kind == "MEDIA":
            img = self.image(ctx, str(comp.get("media_key")), f"components[{i}].media_key")
            key = f"3_{media_id_of(img)}"
            src = media_url(ctx.base_url, "x", ctx.acc.id, img.hash)
            meta = {key: {"url": src, "width": img.width, "height": img.height}}
            return {"type": "MEDIA", "media_key": key, "media_metadata": meta}
        if kind == "DETAILS":
            title, dest = comp.get("title"), comp.get("destination")
            if not isinstance(title, str) or not title or len(title) > 70:
                raise invalid(f"components[{i}].title", "title is required (at most 70 characters)")
            url = dest.get("url") if isinstance(dest, dict) else None
            website = isinstance(dest, dict) and dest.get("type") == "WEBSITE"
            if not website or not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
                message = 'destination must be {"type": "WEBSITE", "url": "https://..."}'
                raise invalid(f"components[{i}].destination", message)
            return {"type": "DETAILS", "title": title, "destination": {"type": "WEBSITE", "url": url}}
        raise invalid(f"components[{i}].type", f"Unsupported component type {kind!r}; use MEDIA or DETAILS")

    async def card_delete(self, ctx: Ctx) -> Response:
        card = self.card(ctx, ctx.entity_id)
        card.update(deleted=True, updated_at=iso(self.m.now))
        return ctx.ok(public(card))

    async def tweet_create(self, ctx: Ctx) -> Response:
        p = ctx.params
        text, card_uri, keys = p.get("text") or "", p.get("card_uri"), p.id_list("media_keys", limit=4) or []
        if len(text) > 280:
            raise invalid("text", "text must be at most 280 characters")
        if not (text or card_uri or keys):
            message = "text is required unless card_uri or media_keys is given"
            raise invalid("text", message)
        if card_uri and keys:
            message = "card_uri and media_keys are exclusive parameters"
            raise XError(400, "EXCLUSIVE_PARAMETERS", message, "card_uri")
        headline, link, image = text, "", None
        if card_uri:
            if not card_uri.startswith("card://"):
                raise invalid("card_uri", f'card_uri must look like card://<id>, got "{card_uri}"')
            for comp in self.card(ctx, card_uri.removeprefix("card://"), "card_uri")["components"]:
                if comp["type"] == "MEDIA":
                    image = self.image(ctx, comp["media_key"], "card_uri")
                else:
                    headline, link = comp["title"], comp["destination"]["url"]
        images = [self.image(ctx, key, "media_keys") for key in keys]
        image = image or (images[0] if images else None)
        creative = self.m.create_creative(
            "x", ctx.acc.id, name=p.get("name") or text[:40] or "Tweet", headline=headline or text, body=text,
            cta="LEARN_MORE", image_hash=image.hash if image else None, link_url=link,
        )  # fmt: skip
        self.state.tweets[creative.id] = {"text": text, "card_uri": card_uri, "media_keys": keys}
        return ctx.ok(self.render_tweet(creative))

    async def promoted_tweet_create(self, ctx: Ctx) -> Response:
        s = self.line_item(ctx, ctx.params.require("line_item_id"))
        ctx.params.require("tweet_ids")
        ids = ctx.params.id_list("tweet_ids", limit=50) or []
        by_tweet = {tweet_id_of(c.id): c for c in self.m.creatives_of("x", ctx.acc.id)}
        missing = [t for t in ids if t not in by_tweet]
        if missing:
            message = f"Tweets not found or not promotable by account {ctx.acc.id}: {', '.join(missing)}"
            raise invalid("tweet_ids", message)
        existing = {a.creative_id: a for a in self.m.ads_of("x", ctx.acc.id)
                    if a.ad_set_id == s.id and a.status != "DELETED"}  # fmt: skip
        rows = []
        for tid in dict.fromkeys(ids):  # promoting a tweet twice in a line item returns the first
            c = by_tweet[tid]
            ad = existing.get(c.id) or self.m.create_ad(s.id, c.id, name=c.name, status="ACTIVE")
            rows.append(self.render_promoted_tweet(ad))
        return ctx.ok(rows, data_type="promoted_tweet", total_count=len(rows), next_cursor=None)

    async def promoted_tweet_update(self, ctx: Ctx) -> Response:
        a = self.promoted_tweet(ctx, ctx.entity_id)
        self._apply_status(a.id, ctx.params.enum("entity_status", ("ACTIVE", "PAUSED")))
        return ctx.ok(self.render_promoted_tweet(a))

    # -- routing -----------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        acct, r = "/accounts/{account_id}", self.reports
        table: list[tuple[str, str, Handler, str]] = [
            ("GET", "/accounts", self.accounts, "accounts"),
            ("GET", acct, self.account, "account"),
            ("GET", f"{acct}/funding_instruments", self.funding_instruments, "funding_instruments"),
            ("GET", f"{acct}/funding_instruments/{{funding_instrument_id}}", self.funding_instrument, "fi"),
            ("GET", f"{acct}/campaigns", self.campaigns, "campaigns"),
            ("POST", f"{acct}/campaigns", self.campaign_create, "campaigns"),
            ("GET", f"{acct}/campaigns/{{campaign_id}}", self.campaign_one, "campaign"),
            ("PUT", f"{acct}/campaigns/{{campaign_id}}", self.campaign_update, "campaign"),
            ("DELETE", f"{acct}/campaigns/{{campaign_id}}", self.delete, "campaign"),
            ("GET", f"{acct}/line_items", self.line_items, "line_items"),
            ("POST", f"{acct}/line_items", self.line_item_create, "line_items"),
            ("GET", f"{acct}/line_items/{{line_item_id}}", self.line_item_one, "line_item"),
            ("PUT", f"{acct}/line_items/{{line_item_id}}", self.line_item_update, "line_item"),
            ("DELETE", f"{acct}/line_items/{{line_item_id}}", self.delete, "line_item"),
            ("GET", f"{acct}/promoted_tweets", self.promoted_tweets, "promoted_tweets"),
            ("POST", f"{acct}/promoted_tweets", self.promoted_tweet_create, "promoted_tweets"),
            (
                "GET",
                f"{acct}/promoted_tweets/{{promoted_tweet_id}}",
                self.promoted_tweet_one,
                "promoted_tweet",
            ),
            (
                "PUT",
                f"{acct}/promoted_tweets/{{promoted_tweet_id}}",
                self.promoted_tweet_update,
                "promoted_tweet",
            ),
            ("DELETE", f"{acct}/promoted_tweets/{{promoted_tweet_id}}", self.delete, "promoted_tweet"),
            ("GET", f"{acct}/cards", self.cards, "cards"),
            ("POST", f"{acct}/cards", self.card_create, "cards"),
            ("GET", f"{acct}/cards/{{card_id}}", self.card_one, "card"),
            ("DELETE", f"{acct}/cards/{{card_id}}", self.card_delete, "card"),
            ("GET", f"{acct}/media_library", self.media_library, "media_library"),
            ("POST", f"{acct}/media_library", self.media_add, "media_library"),
            ("GET", f"{acct}/media_library/{{media_key}}", self.media_one, "media"),
            ("PUT", f"{acct}/media_library/{{media_key}}", self.media_update, "media"),
            ("DELETE", f"{acct}/media_library/{{media_key}}", self.media_delete, "media"),
            ("POST", f"{acct}/tweet", self.tweet_create, "tweet"),
            ("GET", f"{acct}/tweets", self.tweets, "tweets"),
            ("GET", "/stats/accounts/{account_id}", r.stats, "stats"),
            ("GET", "/stats/accounts/{account_id}/active_entities", r.active, "active_entities"),
            ("POST", "/stats/jobs/accounts/{account_id}", r.job_create, "stats_jobs"),
            ("GET", "/stats/jobs/accounts/{account_id}", r.jobs, "stats_jobs"),
            ("DELETE", "/stats/jobs/accounts/{account_id}/{job_id}", r.job_cancel, "stats_jobs"),
        ]
        limiter = self.state.limiter
        out: list[BaseRoute] = [*oauth_routes(self.sandbox)]
        for version in VERSIONS:
            for method, path, fn, family in table:
                handle = endpoint(self.sandbox, limiter, version, fn, family, scoped=not path.startswith("/stats"))
                out.append(Route(f"/{version}{path}", handle, methods=[method]))
        upload = endpoint(self.sandbox, limiter, "1.1", self.upload, "media_upload", scoped=False)
        out.append(Route("/1.1/media/upload.json", upload, methods=["POST"]))
        out.extend(r.file_routes())
        return out


def routes(sandbox: Sandbox) -> list[BaseRoute]:
    return XSurface(sandbox).routes()
