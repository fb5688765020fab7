"""The ad hierarchy, platform-neutral: accounts, campaigns, ad sets, ads, creatives and assets."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money, check_currency
from adpilot.domain.status import Status


def _require(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: must be a non-empty string")


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone, else raise naming the field."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone: {name!r} is not an IANA time zone") from None
    return name


def _same_currency(field: str, money: Money | None, currency: str) -> None:
    if money is not None and money.currency != currency:
        raise ValueError(f"{field}: {money.currency} differs from the account currency {currency}")


class LearningStatus(StrEnum):
    """An ad set's learning phase as its platform reports it (Meta's ``learning_stage_info.status``).

    After a new ad set or a significant edit the platform's delivery model learns until about 50 optimization
    events within 7 days (``LEARNING``); an ad set that does not get there is *limited* (``LIMITED``, Meta's
    "Learning limited", status ``FAIL``) and stays so until it does or is reset; one that got there has
    ``LEARNED`` (Meta's ``SUCCESS``). Conversion rates run lower while learning or limited.
    """

    LEARNING = "learning"
    LIMITED = "limited"
    LEARNED = "learned"


# The platforms' rule for leaving learning (Meta's; TikTok's is alike): this many optimization events within
# this many days since the reset.
LEARNING_EVENTS = 50
LEARNING_WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class AdAccount:
    """An advertiser account; its currency and time zone govern every number under it."""

    platform: Platform
    account_id: str
    name: str
    currency: str
    timezone: str
    status: Status = Status.ACTIVE
    platform_status: str = ""

    def __post_init__(self) -> None:
        _require("account_id", self.account_id)
        check_currency(self.currency)
        check_timezone(self.timezone)

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.platform, self.account_id, Level.ACCOUNT, self.account_id)


@dataclass(frozen=True, slots=True)
class Campaign:
    platform: Platform
    account_id: str
    campaign_id: str
    name: str
    status: Status
    platform_status: str
    currency: str
    objective: str = ""
    daily_budget: Money | None = None

    def __post_init__(self) -> None:
        _require("account_id", self.account_id)
        _require("campaign_id", self.campaign_id)
        _same_currency("daily_budget", self.daily_budget, check_currency(self.currency))
        if self.daily_budget is not None and self.daily_budget.minor < 0:
            raise ValueError("daily_budget: must not be negative")

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.platform, self.account_id, Level.CAMPAIGN, self.campaign_id)


@dataclass(frozen=True, slots=True)
class AdSet:
    """Meta ad set, X line item, TikTok ad group: where budget, bid and optimization goal live."""

    platform: Platform
    account_id: str
    campaign_id: str
    ad_set_id: str
    name: str
    status: Status
    platform_status: str
    currency: str
    daily_budget: Money | None = None
    bid: Money | None = None
    optimization_goal: str = ""
    learning: LearningStatus | None = None  # None where the platform does not report it (X, TikTok)

    def __post_init__(self) -> None:
        for f in ("account_id", "campaign_id", "ad_set_id"):
            _require(f, getattr(self, f))
        check_currency(self.currency)
        _same_currency("daily_budget", self.daily_budget, self.currency)
        _same_currency("bid", self.bid, self.currency)
        if self.daily_budget is not None and self.daily_budget.minor < 0:
            raise ValueError("daily_budget: must not be negative")

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.platform, self.account_id, Level.AD_SET, self.ad_set_id)


@dataclass(frozen=True, slots=True)
class Ad:
    """An ad (X: a promoted tweet), pointing at the creative it shows."""

    platform: Platform
    account_id: str
    campaign_id: str
    ad_set_id: str
    ad_id: str
    name: str
    status: Status
    platform_status: str
    creative_id: str | None = None

    def __post_init__(self) -> None:
        for f in ("account_id", "campaign_id", "ad_set_id", "ad_id"):
            _require(f, getattr(self, f))

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.platform, self.account_id, Level.AD, self.ad_id)


class AssetKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"


def normalize_copy(text: str) -> str:
    """Copy reduced to what a reader sees: NFKC, case-folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def asset_id_for_bytes(data: bytes) -> str:
    """Content address of an image or video: ``sha256:<hex>`` of its bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def asset_id_for_text(text: str) -> str:
    """Content address of copy: the hash of its normalized form, so re-spaced copy is one asset."""
    return "sha256:" + hashlib.sha256(normalize_copy(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Asset:
    """One piece of content with one identity across platforms (an image used on three is one asset)."""

    asset_id: str
    kind: AssetKind
    name: str = ""
    text: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", self.asset_id):
            raise ValueError(f"asset_id: {self.asset_id!r} is not 'sha256:<64 hex digits>'")
        if (self.kind is AssetKind.TEXT) != (self.text is not None):
            raise ValueError("text: required for text assets and only for them")


@dataclass(frozen=True, slots=True)
class Creative:
    """A platform's creative object, linked to the asset it shows."""

    platform: Platform
    account_id: str
    creative_id: str
    name: str = ""
    asset_id: str | None = None
    headline: str = ""
    body: str = ""
    call_to_action: str = ""
    link_url: str = ""

    def __post_init__(self) -> None:
        _require("account_id", self.account_id)
        _require("creative_id", self.creative_id)

    @property
    def ref(self) -> EntityRef:
        return EntityRef(self.platform, self.account_id, Level.CREATIVE, self.creative_id)


Entity = AdAccount | Campaign | AdSet | Ad | Creative | Asset
