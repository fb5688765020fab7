"""adpilot's vocabulary: pure values, no I/O, importing nothing else of the project."""

from adpilot.domain.actions import (
    Action,
    ActionKind,
    LaunchAd,
    Pause,
    Resume,
    SetBid,
    SetBudget,
    idempotency_key,
)
from adpilot.domain.entities import (
    Ad,
    AdAccount,
    AdSet,
    Asset,
    AssetKind,
    Campaign,
    Creative,
    Entity,
    asset_id_for_bytes,
    asset_id_for_text,
    check_timezone,
    normalize_copy,
)
from adpilot.domain.events import AuditEvent, EntityChange
from adpilot.domain.fx import FxRate, FxRateMissing, FxTable
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.metrics import DailyInsight, DateWindow, InsightWindow, local_day
from adpilot.domain.money import CurrencyError, Money, check_currency, currency_exponent, sum_money
from adpilot.domain.status import Status, normalize_status, platform_status_for

__all__ = [
    "Action",
    "ActionKind",
    "Ad",
    "AdAccount",
    "AdSet",
    "Asset",
    "AssetKind",
    "AuditEvent",
    "Campaign",
    "Creative",
    "CurrencyError",
    "DailyInsight",
    "DateWindow",
    "Entity",
    "EntityChange",
    "EntityRef",
    "FxRate",
    "FxRateMissing",
    "FxTable",
    "InsightWindow",
    "LaunchAd",
    "Level",
    "Money",
    "Pause",
    "Platform",
    "Resume",
    "SetBid",
    "SetBudget",
    "Status",
    "asset_id_for_bytes",
    "asset_id_for_text",
    "check_currency",
    "check_timezone",
    "currency_exponent",
    "idempotency_key",
    "local_day",
    "normalize_copy",
    "normalize_status",
    "platform_status_for",
    "sum_money",
]
