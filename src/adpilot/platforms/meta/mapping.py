"""Pure mapping between Meta's wire format and adpilot's domain. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid, SetBudget
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight
from adpilot.domain.money import Money
from adpilot.domain.status import normalize_status
from adpilot.platforms.meta.settings import CONVERSION_ACTION

META = Platform.META


class MappingError(ValueError):
    """A field is missing or has the wrong shape; the message names it."""


def _get(row: Mapping[str, Any], key: str) -> Any:
    try:
        value = row[key]
    except (KeyError, TypeError):
        raise MappingError(f"{key}: missing") from None
    if value is None:
        raise MappingError(f"{key}: null")
    return value


def _int(row: Mapping[str, Any], key: str, default: int | None = None) -> int:
    if default is not None and row.get(key) in (None, ""):
        return default
    value = _get(row, key)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"{key}: {value!r} is not a number") from None
    if number != number.to_integral_value() or number < 0:
        raise MappingError(f"{key}: {value!r} is not a non-negative whole number")
    return int(number)


def _status(row: Mapping[str, Any]) -> tuple[Any, str]:
    raw = str(row.get("effective_status") or _get(row, "status"))
    return normalize_status(META, raw), raw


def account(row: Mapping[str, Any]) -> AdAccount:
    status = "ACTIVE" if str(row.get("account_status", "1")) == "1" else "DISABLED"
    return AdAccount(
        META,
        str(_get(row, "id")),
        str(row.get("name", "")),
        str(_get(row, "currency")),
        str(_get(row, "timezone_name")),
        normalize_status(META, status),
        status,
    )


def campaign(row: Mapping[str, Any], acc: AdAccount) -> Campaign:
    status, raw = _status(row)
    budget = row.get("daily_budget")
    return Campaign(
        META,
        acc.account_id,
        str(_get(row, "id")),
        str(row.get("name", "")),
        status,
        raw,
        acc.currency,
        str(row.get("objective", "")),
        None if budget in (None, "", "0") else Money.of_minor(budget, acc.currency),
    )


def ad_set(row: Mapping[str, Any], acc: AdAccount) -> AdSet:
    status, raw = _status(row)
    budget, bid = row.get("daily_budget"), row.get("bid_amount")
    return AdSet(
        META,
        acc.account_id,
        str(_get(row, "campaign_id")),
        str(_get(row, "id")),
        str(row.get("name", "")),
        status,
        raw,
        acc.currency,
        None if budget in (None, "", "0") else Money.of_minor(budget, acc.currency),
        None if bid in (None, "", 0, "0") else Money.of_minor(int(bid), acc.currency),
        str(row.get("optimization_goal", "")),
    )


def ad(row: Mapping[str, Any], acc: AdAccount) -> Ad:
    status, raw = _status(row)
    creative = row.get("creative") or {}
    return Ad(
        META,
        acc.account_id,
        str(_get(row, "campaign_id")),
        str(_get(row, "adset_id")),
        str(_get(row, "id")),
        str(row.get("name", "")),
        status,
        raw,
        str(creative["id"]) if creative.get("id") else None,
    )


def creative(row: Mapping[str, Any], acc: AdAccount) -> Creative:
    spec = row.get("object_story_spec") or {}
    link = spec.get("link_data") or {}
    cta = row.get("call_to_action_type") or (link.get("call_to_action") or {}).get("type", "")
    return Creative(
        META,
        acc.account_id,
        str(_get(row, "id")),
        str(row.get("name", "")),
        None,
        str(row.get("title") or link.get("name") or ""),
        str(row.get("body") or link.get("message") or ""),
        str(cta),
        str(row.get("link_url") or link.get("link") or ""),
    )


def _action_value(entries: Any, action_type: str) -> Decimal:
    if entries in (None, ""):
        return Decimal(0)
    if not isinstance(entries, list):
        raise MappingError("actions: expected a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("action_type") == action_type:
            try:
                return Decimal(str(entry.get("value", "0")))
            except InvalidOperation:
                raise MappingError(f"actions: {entry.get('value')!r} is not a number") from None
    return Decimal(0)


def insight(row: Mapping[str, Any], acc: AdAccount, *, action_type: str = CONVERSION_ACTION) -> DailyInsight:
    """One ad-day row (level=ad, time_increment=1) in the account's currency."""
    day_text = str(_get(row, "date_start"))
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise MappingError(f"date_start: {day_text!r} is not a date") from None
    if str(row.get("date_stop", day_text)) != day_text:
        raise MappingError("date_stop: rows must be daily (time_increment=1)")
    currency = str(row.get("account_currency") or acc.currency)
    if currency != acc.currency:
        raise MappingError(f"account_currency: {currency} differs from the account's {acc.currency}")
    try:
        spend = Money.of_major(str(_get(row, "spend")), currency)
    except ValueError as exc:
        raise MappingError(f"spend: {exc}") from None
    conversions = _action_value(row.get("actions"), action_type)
    value = _action_value(row.get("action_values"), action_type)
    return DailyInsight(
        META,
        acc.account_id,
        str(_get(row, "campaign_id")),
        str(_get(row, "adset_id")),
        str(_get(row, "ad_id")),
        day,
        _int(row, "impressions"),
        _int(row, "clicks", 0),
        spend,
        conversions,
        Money.of_major(value, currency),
        str(row.get("attribution_setting") or "7d_click,1d_view"),
    )


def action_request(action: Action) -> tuple[str, dict[str, str]]:
    """(path, form params) of the POST that applies a change to an existing object."""
    target = action.target.entity_id
    if isinstance(action, SetBudget):
        return target, {"daily_budget": str(action.new_budget.minor)}
    if isinstance(action, SetBid):
        return target, {"bid_amount": str(action.new_bid.minor)}
    if isinstance(action, Pause):
        return target, {"status": "PAUSED"}
    if isinstance(action, Resume):
        return target, {"status": "ACTIVE"}
    raise TypeError(f"{type(action).__name__} is not a field update")


def launch_requests(action: LaunchAd, image_hash: str | None, page_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ad creative params, ad params without the creative id) for a new ad."""
    link: dict[str, Any] = {
        "link": action.link_url or "https://example.com",
        "message": action.body,
        "name": action.headline,
    }
    if image_hash:
        link["image_hash"] = image_hash
    if action.call_to_action:
        link["call_to_action"] = {"type": action.call_to_action}
    creative_params = {"name": action.name, "object_story_spec": {"page_id": page_id, "link_data": link}}
    ad_params = {
        "name": action.name,
        "adset_id": action.target.entity_id,
        "status": "PAUSED" if action.start_paused else "ACTIVE",
    }
    return creative_params, ad_params
