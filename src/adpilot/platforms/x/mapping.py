"""Pure mapping between the X Ads API's wire format and adpilot's domain. No I/O.

X money is integer micros everywhere (``*_local_micro``); it becomes :class:`Money` through
``Money.of_micros`` only. Deleted objects carry ``deleted: true`` next to their last ``entity_status``.
Stats are arrays with one value per day bucket (``null`` = nothing to report).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid, SetBudget
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative
from adpilot.domain.ids import Level, Platform
from adpilot.domain.metrics import DailyInsight, DateWindow
from adpilot.domain.money import CurrencyError, Money, minor_from_micros
from adpilot.domain.status import Status, normalize_status
from adpilot.platforms.x import settings as S
from adpilot.ports.insight_batch import InsightColumns
from adpilot.ports.platform import EntitySnapshot

X = Platform.X

Row = Mapping[str, Any]


class MappingError(ValueError):
    """A field is missing or has the wrong shape; the message names it."""


# -- field access ------------------------------------------------------------------------------------
def _get(row: Any, key: str) -> Any:
    if not isinstance(row, Mapping):
        raise MappingError(f"{key}: the object holding it is not a JSON object")
    if key not in row:
        raise MappingError(f"{key}: missing")
    value = row[key]
    if value is None:
        raise MappingError(f"{key}: null")
    return value


def _id(row: Any, key: str) -> str:
    value = _get(row, key)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise MappingError(f"{key}: {value!r} is not an id")
    return str(value)


def _text(row: Row, key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MappingError(f"{key}: {value!r} is not a string")
    return value


def _micros(row: Row, key: str) -> int | None:
    """A ``*_local_micro`` field: a non-negative JSON integer, or null/absent."""
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MappingError(f"{key}: {value!r} is not a non-negative whole number of micros")
    return value


def _money(row: Row, key: str, currency: str) -> Money | None:
    micros = _micros(row, key)
    if micros is None:
        return None
    try:
        return Money.of_micros(micros, currency)
    except CurrencyError as exc:
        raise MappingError(f"{key}: {exc}") from None


def _deleted(row: Row) -> bool:
    value = row.get("deleted", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MappingError(f"deleted: {value!r} is not a boolean")
    return value


def status_of(row: Row) -> tuple[Status, str]:
    """(normalized, raw) status: ``DELETED`` when ``deleted: true``, else ``entity_status``."""
    if _deleted(row):
        return Status.DELETED, "DELETED"
    raw = _get(row, "entity_status")
    if not isinstance(raw, str):
        raise MappingError(f"entity_status: {raw!r} is not a string")
    return normalize_status(X, raw), raw


# -- accounts ----------------------------------------------------------------------------------------
_APPROVAL = {"ACCEPTED": Status.ACTIVE, "PENDING": Status.PENDING, "UNDER_REVIEW": Status.PENDING}


def currency_of(funding_instruments: Iterable[Any]) -> str:
    """The account's currency: the one its (non-deleted) funding instruments are in."""
    found: list[str] = []
    for fi in funding_instruments:
        if not isinstance(fi, Mapping) or _deleted(fi):
            continue
        found.append(str(_get(fi, "currency")))
    if not found:
        raise MappingError("funding_instruments: the account has no funding instrument, so no currency")
    if len(set(found)) > 1:
        raise MappingError(f"currency: funding instruments disagree ({', '.join(sorted(set(found)))})")
    return found[0]


def account(row: Row, funding_instruments: Iterable[Any]) -> AdAccount:
    raw = "DELETED" if _deleted(row) else str(row.get("approval_status") or "ACCEPTED")
    status = Status.DELETED if raw == "DELETED" else _APPROVAL.get(raw, Status.LIMITED)
    timezone = _get(row, "timezone")
    try:
        return AdAccount(X, _id(row, "id"), _text(row, "name"), currency_of(funding_instruments), timezone, status, raw)
    except MappingError:
        raise
    except ValueError as exc:  # an unknown currency or time zone
        raise MappingError(str(exc)) from None


# -- the hierarchy -----------------------------------------------------------------------------------
def campaign(row: Row, acc: AdAccount) -> Campaign:
    status, raw = status_of(row)
    return Campaign(
        X,
        acc.account_id,
        _id(row, "id"),
        _text(row, "name"),
        status,
        raw,
        acc.currency,
        _text(row, "objective"),
        _money(row, "daily_budget_amount_local_micro", acc.currency),
    )


def line_item(row: Row, acc: AdAccount) -> AdSet:
    """An X line item is adpilot's ad set; its daily budget lives on the campaign (None here)."""
    status, raw = status_of(row)
    return AdSet(
        X,
        acc.account_id,
        _id(row, "campaign_id"),
        _id(row, "id"),
        _text(row, "name"),
        status,
        raw,
        acc.currency,
        None,
        _money(row, "bid_amount_local_micro", acc.currency),
        _text(row, "goal") or _text(row, "objective"),
    )


def promoted_tweet(row: Row, acc: AdAccount, campaign_of: Mapping[str, str]) -> Ad:
    """A promoted tweet is adpilot's ad; its creative is the tweet. ``campaign_of``: line item → campaign."""
    status, raw = status_of(row)
    line = _id(row, "line_item_id")
    if line not in campaign_of:
        raise MappingError(f"line_item_id: line item {line} is not among the account's line items")
    return Ad(
        X,
        acc.account_id,
        campaign_of[line],
        line,
        _id(row, "id"),
        _text(row, "name"),
        status,
        raw,
        _id(row, "tweet_id"),
    )


def card_id_of(card_uri: str) -> str | None:
    return card_uri.removeprefix("card://") if card_uri.startswith("card://") else None


def tweet_id(row: Row) -> str:
    return str(row.get("id_str") or _id(row, "id"))


def creative(row: Row, acc: AdAccount, cards: Mapping[str, Row]) -> Creative:
    """A tweet as a creative: its text, and the headline and link of its website card when it has one."""
    headline = link = ""
    card_uri = _text(row, "card_uri")
    card = cards.get(card_id_of(card_uri) or "") if card_uri else None
    if card is not None:
        components = card.get("components") or []
        if not isinstance(components, list):
            raise MappingError("components: expected a list")
        for comp in components:
            if isinstance(comp, Mapping) and comp.get("type") == "DETAILS":
                headline = _text(comp, "title")
                dest = comp.get("destination")
                link = _text(dest, "url") if isinstance(dest, Mapping) else ""
    return Creative(
        X,
        acc.account_id,
        tweet_id(row),
        _text(row, "name"),
        None,
        headline,
        _text(row, "full_text") or _text(row, "text"),
        "",
        link,
    )


def card_media(card: Row) -> tuple[str, str | None] | None:
    """A website card's image: (media key, URL from its media metadata, when given)."""
    components = card.get("components")
    for comp in components if isinstance(components, list) else []:
        if not isinstance(comp, Mapping) or comp.get("type") != "MEDIA":
            continue
        key = comp.get("media_key")
        if not isinstance(key, str) or not key:
            continue
        meta = comp.get("media_metadata")
        entry = meta.get(key) if isinstance(meta, Mapping) else None
        url = entry.get("url") if isinstance(entry, Mapping) else None
        return key, url if isinstance(url, str) and url else None
    return None


def tweet_images(tweets: Iterable[Any], cards: Iterable[Any]) -> dict[str, tuple[str, str | None]]:
    """Tweet id → (media key, URL if known) of the image it shows: its website card's, else its first
    attached media."""
    by_card = {str(c["id"]): c for c in unique(cards)}
    out: dict[str, tuple[str, str | None]] = {}
    for row in unique(tweets):
        card = by_card.get(card_id_of(_text(row, "card_uri")) or "") if isinstance(row.get("card_uri"), str) else None
        found = card_media(card) if card is not None else None
        if found is None:
            keys = row.get("media_keys")
            first = keys[0] if isinstance(keys, list) and keys else None
            found = (first, None) if isinstance(first, str) and first else None
        if found is not None:
            try:
                out[tweet_id(row)] = found
            except MappingError:
                continue
    return out


def unique(rows: Iterable[Any], key: str = "id") -> list[Row]:
    """JSON objects by id, the last copy of a repeated object winning (a page served twice)."""
    out: dict[str, Row] = {}
    for row in rows:
        if isinstance(row, Mapping) and isinstance(row.get(key), str | int):
            out[str(row.get("id_str") or row[key])] = row
    return list(out.values())


def _label(stream: str, row: Any) -> str:
    ident = row.get("id_str") or row.get("id") if isinstance(row, Mapping) else None
    return f"{stream} {ident if ident is not None else '?'}"


def snapshot(acc: AdAccount, rows: Mapping[str, Sequence[Any]]) -> EntitySnapshot:
    """The account's entities from the raw rows of each list (``campaigns``, ``line_items``,
    ``promoted_tweets``, ``tweets``, ``cards``). Objects that cannot be mapped are skipped with the reason."""
    skipped: list[str] = []
    campaigns: list[Campaign] = []
    ad_sets: list[AdSet] = []
    ads: list[Ad] = []
    creatives: list[Creative] = []
    for row in unique(rows.get("campaigns", ())):
        try:
            campaigns.append(campaign(row, acc))
        except ValueError as exc:
            skipped.append(f"{_label('campaign', row)}: {exc}")
    for row in unique(rows.get("line_items", ())):
        try:
            ad_sets.append(line_item(row, acc))
        except ValueError as exc:
            skipped.append(f"{_label('line_item', row)}: {exc}")
    campaign_of = {s.ad_set_id: s.campaign_id for s in ad_sets}
    for row in unique(rows.get("promoted_tweets", ())):
        try:
            ads.append(promoted_tweet(row, acc, campaign_of))
        except ValueError as exc:
            skipped.append(f"{_label('promoted_tweet', row)}: {exc}")
    cards = {str(c["id"]): c for c in unique(rows.get("cards", ()))}
    for row in unique(rows.get("tweets", ())):
        try:
            creatives.append(creative(row, acc, cards))
        except ValueError as exc:
            skipped.append(f"{_label('tweet', row)}: {exc}")
    return EntitySnapshot(acc, campaigns, ad_sets, ads, creatives, skipped=skipped)


def ad_parents(line_items: Iterable[Any], promoted_tweets: Iterable[Any]) -> dict[str, tuple[str, str]]:
    """promoted tweet id → (campaign id, line item id), deleted objects included (they have history)."""
    campaign_of: dict[str, str] = {}
    for row in unique(line_items):
        try:
            campaign_of[_id(row, "id")] = _id(row, "campaign_id")
        except MappingError:
            continue
    out: dict[str, tuple[str, str]] = {}
    for row in unique(promoted_tweets):
        try:
            line = _id(row, "line_item_id")
            if line in campaign_of:
                out[_id(row, "id")] = (campaign_of[line], line)
        except MappingError:
            continue
    return out


# -- stats -------------------------------------------------------------------------------------------
def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def stats_times(window: DateWindow, timezone: str) -> tuple[str, str]:
    """``start_time``/``end_time`` of a DAY query: the account-local midnights around the window, in UTC."""
    start = local_midnight(window.start, timezone)
    end = local_midnight(window.end + timedelta(days=1), timezone)
    for name, moment in (("start_time", start), ("end_time", end)):
        if moment.minute or moment.second:
            raise MappingError(
                f"{name}: local midnight in {timezone} is not a whole UTC hour; X DAY stats need whole hours"
            )
    return _utc(start), _utc(end)


def stats_window(params: Mapping[str, Any], timezone: str) -> DateWindow:
    """The account-local days a DAY query covered, from its ``start_time``/``end_time``."""
    tz = ZoneInfo(timezone)
    bounds: list[date] = []
    for name in ("start_time", "end_time"):
        text = str(_get(params, name))
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise MappingError(f"{name}: {text!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        bounds.append(moment.astimezone(tz).date())
    if bounds[1] <= bounds[0]:
        raise MappingError("end_time: not after start_time")
    return DateWindow(bounds[0], bounds[1] - timedelta(days=1))


def _series(metrics: Row, name: str, n: int, where: str = "") -> list[int]:
    """One metric's values per day bucket; ``null`` (the whole array or one value) is zero."""
    label = f"{where}{name}"
    values = metrics.get(name)
    if values is None:
        return [0] * n
    if not isinstance(values, list):
        raise MappingError(f"{label}: expected an array or null, got {type(values).__name__}")
    if len(values) != n:
        raise MappingError(f"{label}: {len(values)} values for {n} day buckets")
    plain = [0 if v is None else v for v in values] if None in values else values
    if set(map(type, plain)) <= {int} and min(plain, default=0) >= 0:  # the usual case, checked at C speed
        return list(plain)
    out: list[int] = []
    for v in values:
        if v is None:
            out.append(0)
        elif isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise MappingError(f"{label}: {v!r} is not a non-negative whole number")
        else:
            out.append(v)
    return out


def _metrics_of(item: Any) -> Row:
    id_data = _get(item, "id_data")
    if not isinstance(id_data, list):
        raise MappingError("id_data: expected a list")
    plain = [d for d in id_data if isinstance(d, Mapping) and d.get("segment") is None]
    if len(plain) != 1 or len(id_data) != 1:
        raise MappingError(f"id_data: expected one unsegmented entry, got {len(id_data)}")
    metrics = _get(plain[0], "metrics")
    if not isinstance(metrics, Mapping):
        raise MappingError("metrics: expected an object")
    return metrics


def stats_rows(
    doc: Any, acc: AdAccount, window: DateWindow, parents: Mapping[str, tuple[str, str]]
) -> list[DailyInsight]:
    """Daily PROMOTED_TWEET rows of a DAY stats document (sync response or async job file).

    A day is listed only when there was delivery (impressions or a charge), as the platform's other
    reports do; ``parents``: promoted tweet → (campaign, line item).
    """
    if not isinstance(doc, Mapping):
        raise MappingError("body: expected a JSON object")
    n = _get(doc, "time_series_length")
    if isinstance(n, bool) or not isinstance(n, int):
        raise MappingError(f"time_series_length: {n!r} is not an integer")
    if n != window.days:
        raise MappingError(f"time_series_length: {n} buckets for a window of {window.days} days")
    data = _get(doc, "data")
    if not isinstance(data, list):
        raise MappingError("data: expected a list")
    days = list(window)
    rows: list[DailyInsight] = []
    for item in data:
        ad_id = _id(item, "id")
        if ad_id not in parents:
            raise MappingError(f"id: promoted tweet {ad_id} is not among the account's promoted tweets")
        campaign_id, line_id = parents[ad_id]
        metrics = _metrics_of(item)
        impressions = _series(metrics, "impressions", n)
        clicks = _series(metrics, "clicks", n)
        spend = _series(metrics, "billed_charge_local_micro", n)
        purchases = metrics.get("conversion_purchases")
        if purchases is None:
            purchases = {}
        if not isinstance(purchases, Mapping):
            raise MappingError("conversion_purchases: expected an object or null")
        conversions = _series(purchases, "metric", n, "conversion_purchases.")
        value = _series(purchases, "sale_amount", n, "conversion_purchases.")
        for i, day in enumerate(days):
            if impressions[i] == 0 and spend[i] == 0:
                continue  # no delivery that day: not a row
            rows.append(
                DailyInsight(
                    X,
                    acc.account_id,
                    campaign_id,
                    line_id,
                    ad_id,
                    day,
                    impressions[i],
                    clicks[i],
                    Money.of_micros(spend[i], acc.currency),
                    Decimal(conversions[i]),
                    Money.of_micros(value[i], acc.currency),
                    S.ATTRIBUTION_SETTING,
                )
            )
    return rows


def stats_columns(
    doc: Any, acc: AdAccount, window: DateWindow, parents: Mapping[str, tuple[str, str]]
) -> InsightColumns:
    """:func:`stats_rows` as columns: the same checks on the same values, then the delivered days of every
    promoted tweet at once, money through :func:`minor_from_micros`.

    Raises on anything :func:`stats_rows` might treat differently (the caller then maps the document with it,
    which names the problem exactly).
    """
    if not isinstance(doc, Mapping):
        raise MappingError("body: expected a JSON object")
    n = _get(doc, "time_series_length")
    if isinstance(n, bool) or not isinstance(n, int):
        raise MappingError(f"time_series_length: {n!r} is not an integer")
    if n != window.days:
        raise MappingError(f"time_series_length: {n} buckets for a window of {window.days} days")
    data = _get(doc, "data")
    if not isinstance(data, list):
        raise MappingError("data: expected a list")
    owners: list[tuple[str, str, str]] = []
    series: list[list[int]] = [[], [], [], [], []]  # impressions, clicks, spend, conversions, value
    for item in data:
        ad_id = _id(item, "id")
        if ad_id not in parents:
            raise MappingError(f"id: promoted tweet {ad_id} is not among the account's promoted tweets")
        campaign_id, line_id = parents[ad_id]
        metrics = _metrics_of(item)
        values = [
            _series(metrics, "impressions", n),
            _series(metrics, "clicks", n),
            _series(metrics, "billed_charge_local_micro", n),
        ]
        purchases = metrics.get("conversion_purchases")
        if purchases is None:
            purchases = {}
        if not isinstance(purchases, Mapping):
            raise MappingError("conversion_purchases: expected an object or null")
        values.append(_series(purchases, "metric", n, "conversion_purchases."))
        values.append(_series(purchases, "sale_amount", n, "conversion_purchases."))
        owners.append((campaign_id, line_id, ad_id))
        for column, v in zip(series, values, strict=True):
            column.extend(v)
    impressions, clicks, spend, conversions, value = (np.array(c, dtype=np.int64) for c in series)
    delivered = np.flatnonzero((impressions != 0) | (spend != 0))  # no delivery that day: not a row
    item_of, day_of = np.divmod(delivered, n)  # n = window.days >= 1
    cols = InsightColumns(X, acc.account_id, acc.currency)
    rows = item_of.tolist()
    if not all(owners[i][0] and owners[i][1] for i in set(rows)):
        raise MappingError("parents: a promoted tweet without its campaign or line item")
    cols.campaign_id = [owners[i][0] for i in rows]
    cols.ad_set_id = [owners[i][1] for i in rows]
    cols.ad_id = [owners[i][2] for i in rows]
    cols.day = (day_of + window.start.toordinal()).tolist()
    cols.impressions = impressions[delivered].tolist()
    cols.clicks = clicks[delivered].tolist()
    cols.spend_minor = minor_from_micros(spend[delivered].tolist(), acc.currency)
    cols.conversions = conversions[delivered].tolist()
    cols.conversion_value_minor = minor_from_micros(value[delivered].tolist(), acc.currency)
    cols.attribution_setting = [S.ATTRIBUTION_SETTING] * len(rows)
    return cols


# -- live state and writes ---------------------------------------------------------------------------
def live_values(row: Row, level: Level, acc: AdAccount) -> tuple[Status, str, Money | None, Money | None]:
    """(status, raw status, daily budget, bid) of a campaign, line item or promoted tweet."""
    status, raw = status_of(row)
    budget = _money(row, "daily_budget_amount_local_micro", acc.currency) if level is Level.CAMPAIGN else None
    bid = _money(row, "bid_amount_local_micro", acc.currency) if level is Level.AD_SET else None
    return status, raw, budget, bid


def entity_path(level: Level, entity_id: str) -> str:
    """The account-relative path of a writable object (``campaigns/:id``, ``line_items/:id``...)."""
    segment = S.LEVEL_PATHS.get(str(level))
    if segment is None:
        raise MappingError(f"target: X has no writable {level} objects")
    return f"{segment}/{entity_id}"


def action_request(action: Action) -> tuple[str, dict[str, str]]:
    """(account-relative path, query params) of the PUT that applies a change to an existing object."""
    level = action.target.level
    path = entity_path(level, action.target.entity_id)
    if isinstance(action, SetBudget):
        if level is not Level.CAMPAIGN:
            raise MappingError("target: X keeps daily budgets on campaigns; set the campaign's budget")
        return path, {"daily_budget_amount_local_micro": str(action.new_budget.to_micros())}
    if isinstance(action, SetBid):
        return path, {"bid_amount_local_micro": str(action.new_bid.to_micros())}
    if isinstance(action, Pause):
        return path, {"entity_status": "PAUSED"}
    if isinstance(action, Resume):
        return path, {"entity_status": "ACTIVE"}
    raise MappingError(f"action: {type(action).__name__} is not a field update")


def card_body(action: LaunchAd, media_key: str) -> dict[str, Any]:
    """The JSON body of a website card: the image and the headline with its link."""
    return {
        "name": action.name[:80],
        "components": [
            {"type": "MEDIA", "media_key": media_key},
            {
                "type": "DETAILS",
                "title": (action.headline or action.name)[:70],
                "destination": {"type": "WEBSITE", "url": action.link_url or "https://example.com"},
            },
        ],
    }


def tweet_params(action: LaunchAd, card_uri: str | None, as_user_id: str) -> dict[str, str]:
    text = action.body or action.headline
    if card_uri is None and action.link_url:
        text = f"{text} {action.link_url}".strip()
    params = {"text": text, "name": action.name, "as_user_id": as_user_id}
    if card_uri:
        params["card_uri"] = card_uri
    return params
