"""Pure mapping between Meta's wire format and adpilot's domain. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import compress, repeat
from operator import is_not, itemgetter
from typing import Any

from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid, SetBudget
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative, LearningStatus
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight
from adpilot.domain.money import Money, minor_from_major_strings
from adpilot.domain.status import normalize_status
from adpilot.platforms.meta.settings import CONVERSION_ACTION
from adpilot.ports.insight_batch import InsightColumns

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


# ``learning_stage_info.status`` (AdCampaignLearningStageInfo); FAIL is Ads Manager's "Learning limited".
_LEARNING = {
    "LEARNING": LearningStatus.LEARNING,
    "FAIL": LearningStatus.LIMITED,
    "SUCCESS": LearningStatus.LEARNED,
}


def learning_status(info: Any) -> LearningStatus | None:
    """An ad set's ``learning_stage_info`` as the domain's learning phase. None when the field is absent
    (Graph sends it for active ad sets only), is not an object, or carries a status not known here: the ad
    set is mapped all the same (the raw page in the lake keeps what was sent)."""
    status = info.get("status") if isinstance(info, Mapping) else None
    return _LEARNING.get(status) if isinstance(status, str) else None


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
        learning_status(row.get("learning_stage_info")),
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


def creative_image_ref(row: Mapping[str, Any]) -> str | None:
    """The image hash an ad creative shows (top level, or in its link ad's story spec), if any."""
    spec = row.get("object_story_spec") or {}
    link = spec.get("link_data") if isinstance(spec, Mapping) else None
    value = row.get("image_hash") or (link.get("image_hash") if isinstance(link, Mapping) else None)
    return str(value) if isinstance(value, str) and value else None


def image_sources(rows: list[Any]) -> dict[str, tuple[str, str]]:
    """``adimages`` rows as hash → (download URL, name). ``url`` is the full image (``url_128`` a thumbnail,
    which would be a different file); ``permalink_url`` serves the same bytes."""
    out: dict[str, tuple[str, str]] = {}
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("hash"), str):
            continue
        url = row.get("url") or row.get("permalink_url")
        if isinstance(url, str) and url:
            out[row["hash"]] = (url, str(row.get("name") or ""))
    return out


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


DEFAULT_ATTRIBUTION = "7d_click,1d_view"
_MISSING = object()
_REQUIRED = ("date_start", "campaign_id", "adset_id", "ad_id", "spend", "impressions")


def _strings(values: list[Any]) -> bool:
    """Whether every value is a string (``str.join`` refuses anything else, at C speed)."""
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _digits(values: list[Any]) -> list[int] | None:
    """Whole numbers sent as ASCII digit strings (``"1234"``), as :func:`_int` reads them; None if any is not."""
    if not values:
        return []
    if not _strings(values) or "" in values:
        return None
    joined = "".join(values)
    return list(map(int, values)) if joined.isascii() and joined.isdigit() else None


def _field(rows: list[dict[str, Any]], key: str, default: Any = None) -> list[Any]:
    return list(map(dict.get, rows, repeat(key), repeat(default)))


def _action_strings(rows: list[dict[str, Any]], key: str, action_type: str) -> list[str] | None:
    """The value of ``action_type`` in each row's ``key`` list as sent ("0" when absent), as
    :func:`_action_value` finds it; None when a row holds anything else than the usual shape."""
    column = _field(rows, key)
    out = ["0"] * len(column)
    for i in compress(range(len(column)), map(is_not, column, repeat(None))):  # rows that converted
        entries = column[i]
        if entries == "":
            continue
        if type(entries) is not list:
            return None
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if type(entry) is not dict:
                return None
            if entry.get("action_type") == action_type:
                value = entry.get("value", "0")
                if type(value) is not str:
                    return None
                out[i] = value
                break
    return out


def insight_columns(rows: list[Any], acc: AdAccount, *, action_type: str = CONVERSION_ACTION) -> InsightColumns | None:
    """A page of ad-day rows (level=ad, time_increment=1) as columns, or None when a row is not plainly
    well-formed: such a page goes through :func:`insight` row by row, which maps it or names the problem.

    What this accepts, it maps exactly as :func:`insight` does (digit-string counts, major-unit amounts
    through :func:`minor_from_major_strings`, whole conversion counts).
    """
    if not set(map(type, rows)) <= {dict}:
        return None
    try:
        texts, campaign_ids, ad_set_ids, ad_ids, spend_text, impression_text = (
            list(map(itemgetter(key), rows)) for key in _REQUIRED
        )
        stops = _field(rows, "date_stop", _MISSING)
        if _MISSING in stops:
            stops = [t if s is _MISSING else s for s, t in zip(stops, texts, strict=True)]
        if not _strings(texts) or stops != texts:
            return None
        days = {t: date.fromisoformat(t).toordinal() for t in set(texts)}
        if not set(_field(rows, "account_currency")) <= {None, "", acc.currency}:
            return None
        ids = [campaign_ids, ad_set_ids, ad_ids]
        if not all(_strings(column) and "" not in column for column in ids) or not _strings(spend_text):
            return None
        clicks_text = _field(rows, "clicks")
        if None in clicks_text or "" in clicks_text:
            clicks_text = ["0" if v is None or v == "" else v for v in clicks_text]
        attribution = _field(rows, "attribution_setting")
        if None in attribution or "" in attribution:
            attribution = [v or DEFAULT_ATTRIBUTION for v in attribution]
        actions = _action_strings(rows, "actions", action_type)
        value_text = _action_strings(rows, "action_values", action_type)
        impressions, clicks = _digits(impression_text), _digits(clicks_text)
        conversions = None if actions is None else _digits(actions)
        if impressions is None or clicks is None or conversions is None or value_text is None:
            return None
        if not _strings(attribution):
            return None
        spend = minor_from_major_strings(spend_text, acc.currency)
        value = minor_from_major_strings(value_text, acc.currency)
    except (KeyError, TypeError, ValueError):  # a missing field, a date or an amount the row path will name
        return None
    if min(spend, default=0) < 0 or min(value, default=0) < 0:
        return None
    cols = InsightColumns(META, acc.account_id, acc.currency)
    cols.campaign_id, cols.ad_set_id, cols.ad_id = ids
    cols.day = [days[t] for t in texts]
    cols.impressions, cols.clicks, cols.spend_minor = impressions, clicks, spend
    cols.conversions, cols.conversion_value_minor = list(conversions), value
    cols.attribution_setting = attribution
    return cols


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
