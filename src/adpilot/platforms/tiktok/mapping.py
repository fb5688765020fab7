"""Pure mapping between TikTok's wire format and adpilot's domain. No I/O.

TikTok sends money in major units: JSON numbers on entities (``"budget": 50.0``) and strings in reports
(``"spend": "10.50"``); both go through :meth:`Money.of_major`, the one place units convert. Reports show
``"-"`` for a metric without a value.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import islice, repeat
from typing import Any

from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid, SetBudget
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative, check_timezone
from adpilot.domain.ids import Level, Platform
from adpilot.domain.metrics import DailyInsight
from adpilot.domain.money import Money, check_currency, minor_from_major_strings
from adpilot.domain.status import Status, normalize_status, platform_status_for
from adpilot.platforms.tiktok import settings as S
from adpilot.ports.insight_batch import InsightColumns

TIKTOK = Platform.TIKTOK

# What each level is called in paths, ids and filters.
KIND = {Level.CAMPAIGN: "campaign", Level.AD_SET: "adgroup", Level.AD: "ad"}

# Advertiser (account) statuses; the entity status vocabulary does not cover them.
ADVERTISER_STATUS = {
    "STATUS_ENABLE": Status.ACTIVE,
    "STATUS_DISABLE": Status.LIMITED,
    "STATUS_LIMIT": Status.LIMITED,
    "STATUS_SELF_SERVICE_UNAUDITED": Status.PENDING,
    "STATUS_PENDING_CONFIRM": Status.PENDING,
    "STATUS_PENDING_VERIFIED": Status.PENDING,
    "STATUS_PENDING_CONFIRM_MODIFY": Status.PENDING,
    "STATUS_WAIT_FOR_BPM_AUDIT": Status.PENDING,
    "STATUS_CONFIRM_FAIL": Status.REJECTED,
    "STATUS_CONFIRM_FAIL_END": Status.REJECTED,
    "STATUS_CONFIRM_MODIFY_FAIL": Status.REJECTED,
}

_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ T]00:00:00)?")


class MappingError(ValueError):
    """A field is missing or has the wrong shape; the message names it."""


class ReportFormatError(MappingError):
    """A downloaded report file is not laid out as requested (missing columns): the file, not a row, is wrong."""


# -- envelope and paging ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PageInfo:
    page: int
    page_size: int
    total_number: int
    total_page: int

    def expected_rows(self, page: int) -> int:
        """How many rows page ``page`` should hold when nothing is lost."""
        if page < 1 or page > self.total_page:
            return 0
        if page < self.total_page:
            return self.page_size
        return self.total_number - (self.total_page - 1) * self.page_size


def envelope(body: Any) -> dict[str, Any]:
    """The ``data`` of a successful envelope ``{code, message, request_id, data}``."""
    if not isinstance(body, dict):
        raise MappingError("envelope: expected a JSON object")
    code = body.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise MappingError(f"code: {code!r} is not an integer")
    if code not in S.OK_CODES:
        raise MappingError(f"code: {code} ({body.get('message', '')})")
    data = body.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MappingError("data: expected an object")
    return data


def _whole(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MappingError(f"{where}: {value!r} is not a whole number")
    try:
        number = int(value)
    except ValueError:
        raise MappingError(f"{where}: {value!r} is not a whole number") from None
    if number < 0:
        raise MappingError(f"{where}: {value!r} is negative")
    return number


def page_info(data: Mapping[str, Any]) -> PageInfo:
    info = data.get("page_info")
    if not isinstance(info, dict):
        raise MappingError("page_info: missing")
    values = {k: _whole(f"page_info.{k}", info.get(k)) for k in ("page", "page_size", "total_number", "total_page")}
    if values["page_size"] < 1:
        raise MappingError("page_info.page_size: must be at least 1")
    return PageInfo(**values)


def page_list(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = data.get("list")
    if rows is None:
        return []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MappingError("list: expected a list of objects")
    return rows


# -- fields ---------------------------------------------------------------------------------------------------------
def _get(row: Mapping[str, Any], key: str, where: str = "") -> Any:
    name = f"{where}{key}"
    try:
        value = row[key]
    except (KeyError, TypeError):
        raise MappingError(f"{name}: missing") from None
    if value is None:
        raise MappingError(f"{name}: null")
    return value


def _id(row: Mapping[str, Any], key: str, where: str = "") -> str:
    value = _get(row, key, where)
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value) in ("", S.NO_VALUE):
        raise MappingError(f"{where}{key}: {value!r} is not an id")
    return str(value)


def amount(row: Mapping[str, Any], key: str, currency: str) -> Money | None:
    """A major-unit entity amount (budget, bid); absent or zero means none."""
    value = row.get(key)
    if value in (None, "", S.NO_VALUE):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingError(f"{key}: {value!r} is not a number")
    try:
        money = Money.of_major(value.strip() if isinstance(value, str) else value, currency)
    except ValueError as exc:
        raise MappingError(f"{key}: {exc}") from None
    if money.minor < 0:
        raise MappingError(f"{key}: {value!r} is negative")
    return None if money.minor == 0 else money


def daily_budget(row: Mapping[str, Any], currency: str) -> Money | None:
    """``budget`` when ``budget_mode`` makes it a daily one (lifetime and unlimited budgets are not daily)."""
    mode = row.get("budget_mode")
    if mode is not None and str(mode) not in S.DAILY_BUDGET_MODES:
        return None
    return amount(row, "budget", currency)


def _positive(row: Mapping[str, Any], key: str) -> bool:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        return Decimal(str(value).strip()) > 0
    except InvalidOperation:
        return False


def bid_field(row: Mapping[str, Any]) -> str:
    """Where an ad group keeps its bid: ``bid_price``, or ``conversion_bid_price`` for a target-CPA group."""
    if _positive(row, "conversion_bid_price") and not _positive(row, "bid_price"):
        return "conversion_bid_price"
    return "bid_price"


def bid(row: Mapping[str, Any], currency: str) -> Money | None:
    return amount(row, bid_field(row), currency)


def entity_status(row: Mapping[str, Any]) -> tuple[Status, str]:
    """The normalized status and the raw value it came from.

    ``operation_status`` is what the advertiser set (ENABLE, DISABLE, DELETE); for an enabled object the
    read-only ``secondary_status`` tells what delivery is doing (in review, over budget, parent paused).
    """
    operation = str(_get(row, "operation_status"))
    status = normalize_status(TIKTOK, operation)
    secondary = row.get("secondary_status")
    if status is not Status.ACTIVE or not secondary:
        return status, operation
    secondary = str(secondary)
    delivery = normalize_status(TIKTOK, secondary)
    if delivery is Status.UNKNOWN and "_STATUS_" in secondary:
        suffix = secondary.split("_STATUS_", 1)[1]
        if suffix.startswith(("CAMPAIGN_", "ADGROUP_")):
            delivery = Status.LIMITED  # stopped by its parent (paused or deleted)
    if delivery is Status.UNKNOWN:
        return status, operation
    return delivery, secondary


# -- entities -------------------------------------------------------------------------------------------------------
def account(row: Mapping[str, Any]) -> AdAccount:
    advertiser_id = _id(row, "advertiser_id")
    currency = str(_get(row, "currency"))
    try:
        check_currency(currency)
    except ValueError as exc:
        raise MappingError(str(exc)) from None
    timezone = None
    for key in ("timezone", "display_timezone"):
        candidate = row.get(key)
        if candidate:
            try:
                timezone = check_timezone(str(candidate))
                break
            except ValueError:
                continue
    if timezone is None:
        raise MappingError(f"timezone: {row.get('timezone')!r} is not an IANA time zone")
    raw = str(row.get("status") or "")
    return AdAccount(
        TIKTOK,
        advertiser_id,
        str(row.get("name") or ""),
        currency,
        timezone,
        ADVERTISER_STATUS.get(raw, Status.UNKNOWN),
        raw,
    )


def campaign(row: Mapping[str, Any], acc: AdAccount) -> Campaign:
    status, raw = entity_status(row)
    return Campaign(
        TIKTOK,
        acc.account_id,
        _id(row, "campaign_id"),
        str(row.get("campaign_name") or ""),
        status,
        raw,
        acc.currency,
        str(row.get("objective_type") or ""),
        daily_budget(row, acc.currency),
    )


def ad_set(row: Mapping[str, Any], acc: AdAccount) -> AdSet:
    """An ad group."""
    status, raw = entity_status(row)
    return AdSet(
        TIKTOK,
        acc.account_id,
        _id(row, "campaign_id"),
        _id(row, "adgroup_id"),
        str(row.get("adgroup_name") or ""),
        status,
        raw,
        acc.currency,
        daily_budget(row, acc.currency),
        bid(row, acc.currency),
        str(row.get("optimization_goal") or ""),
    )


def ad(row: Mapping[str, Any], acc: AdAccount) -> Ad:
    """An ad; its creative fields are inline, so its creative carries the ad's id."""
    status, raw = entity_status(row)
    ad_id = _id(row, "ad_id")
    return Ad(
        TIKTOK,
        acc.account_id,
        _id(row, "campaign_id"),
        _id(row, "adgroup_id"),
        ad_id,
        str(row.get("ad_name") or ""),
        status,
        raw,
        ad_id,
    )


def creative(row: Mapping[str, Any], acc: AdAccount) -> Creative:
    """The creative fields of an ad (TikTok has no separate creative object): ``creative_id`` = ``ad_id``."""
    return Creative(
        TIKTOK,
        acc.account_id,
        _id(row, "ad_id"),
        str(row.get("ad_name") or ""),
        None,
        "",
        str(row.get("ad_text") or ""),
        str(row.get("call_to_action") or ""),
        str(row.get("landing_page_url") or ""),
    )


def ad_image_ref(row: Mapping[str, Any]) -> str | None:
    """The image an ad shows: the first of its ``image_ids`` (a single-image ad has one)."""
    ids = row.get("image_ids")
    first = ids[0] if isinstance(ids, list) and ids else None
    return str(first) if isinstance(first, str | int) and not isinstance(first, bool) and str(first) else None


def image_sources(data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """``file/image/ad/info/`` data as image id → (download URL, file name)."""
    out: dict[str, tuple[str, str]] = {}
    for row in page_list(data):
        image_id, url = row.get("image_id"), row.get("image_url") or row.get("url")
        if isinstance(image_id, str | int) and isinstance(url, str) and url:
            out[str(image_id)] = (url, str(row.get("file_name") or ""))
    return out


# -- reports --------------------------------------------------------------------------------------------------------
def report_day(text: Any) -> date:
    """``stat_time_day`` (``"YYYY-MM-DD 00:00:00"``, already in the advertiser's time zone) as a date."""
    match = _DAY.fullmatch(str(text).strip()) if isinstance(text, str) else None
    if match is None:
        raise MappingError(f"dimensions.stat_time_day: {text!r} is not a day")
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise MappingError(f"dimensions.stat_time_day: {text!r} is not a day") from None


def _parts(row: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    dims, metrics = row.get("dimensions"), row.get("metrics")
    if not isinstance(dims, dict):
        raise MappingError("dimensions: missing")
    if not isinstance(metrics, dict):
        raise MappingError("metrics: missing")
    return dims, metrics


def report_key(row: Any) -> tuple[str, str] | None:
    """(ad_id, stat_time_day) of a raw report row, or None when it has no such key."""
    if not isinstance(row, dict):
        return None
    dims = row.get("dimensions")
    if not isinstance(dims, dict) or dims.get("ad_id") is None or dims.get("stat_time_day") is None:
        return None
    return str(dims["ad_id"]), str(dims["stat_time_day"])


def _decimal(metrics: Mapping[str, Any], key: str) -> Decimal:
    value = _get(metrics, key, "metrics.")
    if isinstance(value, str) and value.strip() in (S.NO_VALUE, ""):
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingError(f"metrics.{key}: {value!r} is not a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingError(f"metrics.{key}: {value!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise MappingError(f"metrics.{key}: {value!r} is not a non-negative number")
    return number


def _count(metrics: Mapping[str, Any], key: str) -> int:
    number = _decimal(metrics, key)
    if number != number.to_integral_value():
        raise MappingError(f"metrics.{key}: {metrics[key]!r} is not a whole number")
    return int(number)


def _money(metrics: Mapping[str, Any], key: str, currency: str) -> Money:
    number = _decimal(metrics, key)
    try:
        return Money.of_major(number, currency)
    except ValueError as exc:
        raise MappingError(f"metrics.{key}: {exc}") from None


def insight(row: Mapping[str, Any], acc: AdAccount) -> DailyInsight:
    """One row of the ad-level daily report (``{dimensions, metrics}``) in the advertiser's currency."""
    dims, metrics = _parts(row)
    day = report_day(_get(dims, "stat_time_day", "dimensions."))
    currency = metrics.get("currency")
    if currency not in (None, "", S.NO_VALUE) and str(currency) != acc.currency:
        raise MappingError(f"metrics.currency: {currency} differs from the advertiser's {acc.currency}")
    return DailyInsight(
        TIKTOK,
        acc.account_id,
        _id(metrics, "campaign_id", "metrics."),
        _id(metrics, "adgroup_id", "metrics."),
        _id(dims, "ad_id", "dimensions."),
        day,
        _count(metrics, "impressions"),
        _count(metrics, "clicks"),
        _money(metrics, "spend", acc.currency),
        _decimal(metrics, "conversion"),
        _money(metrics, "total_purchase_value", acc.currency),
        S.ATTRIBUTION_SETTING,
    )


def report_csv(text: str, dimensions: Sequence[str], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """A downloaded report task file (header row of field names) as ``{dimensions, metrics}`` rows."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise ReportFormatError("csv: empty file, expected a header row")
    header = [h.strip() for h in header]
    missing = [name for name in (*dimensions, *metrics) if name not in header]
    if missing:
        raise ReportFormatError(f"csv: missing column(s) {', '.join(missing)}")
    where = {name: header.index(name) for name in (*dimensions, *metrics)}
    rows: list[dict[str, Any]] = []
    for line, values in enumerate(reader, start=2):
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise MappingError(f"csv line {line}: {len(values)} values for {len(header)} columns")
        rows.append(
            {
                "dimensions": {d: values[where[d]].strip() for d in dimensions},
                "metrics": {m: values[where[m]].strip() for m in metrics},
            }
        )
    return rows


# -- reports as columns --------------------------------------------------------------------------------------------
# The column mappers below accept what is plainly well-formed and map it exactly as :func:`insight` does;
# for anything else they answer None and the caller maps row by row, which names the problem.
_ID_FIELDS = ("ad_id", "campaign_id", "adgroup_id")


def insight_columns(rows: list[Any], acc: AdAccount) -> InsightColumns | None:
    """Rows of the ad-level daily report (``{dimensions, metrics}``, JSON) as columns, or None."""
    if not set(map(type, rows)) <= {dict}:
        return None
    dims = [r.get("dimensions") for r in rows]
    metrics = [r.get("metrics") for r in rows]
    if not set(map(type, dims)) <= {dict} or not set(map(type, metrics)) <= {dict}:
        return None
    columns: dict[str, list[Any]] = {name: [d.get(name) for d in dims] for name in S.REPORT_DIMENSIONS}
    columns.update({name: [m.get(name) for m in metrics] for name in S.REPORT_METRICS})
    return _report_columns(columns, acc)


def csv_insight_columns(text: str, acc: AdAccount) -> InsightColumns | None:
    """A downloaded report file as columns, or None when it is not plainly laid out: quoting, other line
    ends, blank or ragged lines and header surprises are left to :func:`report_csv`."""
    body = text.lstrip("\ufeff")
    if '"' in body or "\r" in body or "\x00" in body:
        return None
    lines = body.split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines:
        return None
    header = lines[0].split(",")
    names = (*S.REPORT_DIMENSIONS, *S.REPORT_METRICS)
    if any(h != h.strip() for h in header) or len(set(header)) != len(header) or not set(names) <= set(header):
        return None
    width = len(header)
    # Without quotes, csv reads a line as line.split(","): with width - 1 commas on every line, a run of lines
    # is one flat list of fields, width at a time. A few thousand lines at a time keep the fields few.
    if len(lines) > 1 and set(map(str.count, islice(lines, 1, None), repeat(","))) != {width - 1}:
        return None
    at = [header.index(name) for name in names]
    out = _report_columns({name: [] for name in names}, acc)
    for start in range(1, len(lines), _CSV_LINES):
        fields = ",".join(lines[start : start + _CSV_LINES]).split(",")
        part = _report_columns({name: fields[i::width] for name, i in zip(names, at, strict=True)}, acc)
        if part is None or out is None:
            return None
        out.extend(part)
    return out


_CSV_LINES = 8192


def _strings(values: list[Any]) -> bool:
    try:
        "".join(values)
    except TypeError:
        return False
    return True


def _digit_strings(values: list[Any]) -> bool:
    """Whether every value is a non-empty string of ASCII digits."""
    if not values:
        return True
    if not _strings(values):
        return False
    joined = "".join(values)
    return joined.isascii() and joined.isdigit() and "" not in values


def _no_value_as_zero(values: list[Any]) -> list[Any]:
    """TikTok's "-" (and an empty cell): no value, which reads as 0."""
    if S.NO_VALUE in values or "" in values:
        return ["0" if v == S.NO_VALUE or v == "" else v for v in values]
    return values


def _plain_counts(values: list[Any]) -> list[int] | None:
    """Digit strings, and "-" as 0, exactly as :func:`_count` reads them."""
    values = _no_value_as_zero(values)
    return list(map(int, values)) if _digit_strings(values) else None


def _report_columns(columns: dict[str, list[Any]], acc: AdAccount) -> InsightColumns | None:
    ids = [columns[name] for name in _ID_FIELDS]
    try:
        if not all(_digit_strings(column) for column in ids):
            return None
        if not set(columns["currency"]) <= {None, "", S.NO_VALUE, acc.currency}:
            return None
        texts = columns["stat_time_day"]
        distinct = set(texts)
        if not all(type(t) is str for t in distinct):
            return None
        days = {t: report_day(t).toordinal() for t in distinct}
        money = [_no_value_as_zero(columns[name]) for name in ("spend", "total_purchase_value")]
        if not all(map(_strings, money)):  # a JSON number is read otherwise by the row mapper
            return None
        spend, value = (minor_from_major_strings(column, acc.currency) for column in money)
    except (TypeError, ValueError):  # something the row mapper will name
        return None
    impressions, clicks = _plain_counts(columns["impressions"]), _plain_counts(columns["clicks"])
    conversions = _plain_counts(columns["conversion"])
    if impressions is None or clicks is None or conversions is None:
        return None
    if min(spend, default=0) < 0 or min(value, default=0) < 0:
        return None
    cols = InsightColumns(TIKTOK, acc.account_id, acc.currency)
    cols.ad_id, cols.campaign_id, cols.ad_set_id = ids
    cols.day = [days[t] for t in texts]
    cols.impressions, cols.clicks, cols.spend_minor = impressions, clicks, spend
    cols.conversions, cols.conversion_value_minor = list(conversions), value
    cols.attribution_setting = [S.ATTRIBUTION_SETTING] * len(texts)
    return cols


# -- writes ---------------------------------------------------------------------------------------------------------
def major_number(money: Money) -> int | float:
    """A JSON number in major units, exactly (``Money('EUR', 5010)`` → ``50.1``)."""
    value = money.to_major()
    if value == value.to_integral_value():
        return int(value)
    number = float(value)
    if Decimal(repr(number)) != value:
        raise MappingError(f"amount: {money} cannot be sent exactly as a JSON number")
    return number


def _kind(level: Level) -> str:
    try:
        return KIND[level]
    except KeyError:
        raise MappingError(f"target: TikTok has no writable {level}") from None


def _same_currency(field: str, money: Money, currency: str) -> None:
    if money.currency != currency:
        raise MappingError(f"{field}: {money.currency} differs from the advertiser's {currency}")


def action_request(
    action: Action, advertiser_id: str, currency: str, *, bid_to: str = "bid_price"
) -> tuple[str, dict[str, Any]]:
    """(path, JSON body) of the POST that applies a change to an existing object."""
    target = action.target.entity_id
    kind = _kind(action.target.level)
    if isinstance(action, SetBudget):
        _same_currency("new_budget", action.new_budget, currency)
        budget = major_number(action.new_budget)
        if kind == "adgroup":
            return "adgroup/budget/update/", {
                "advertiser_id": advertiser_id,
                "budget": [{"adgroup_id": target, "budget": budget}],
            }
        return "campaign/update/", {"advertiser_id": advertiser_id, "campaign_id": target, "budget": budget}
    if isinstance(action, SetBid):
        _same_currency("new_bid", action.new_bid, currency)
        return "adgroup/update/", {
            "advertiser_id": advertiser_id,
            "adgroup_id": target,
            bid_to: major_number(action.new_bid),
        }
    if isinstance(action, Pause | Resume):
        return f"{kind}/status/update/", {
            "advertiser_id": advertiser_id,
            f"{kind}_ids": [target],
            "operation_status": platform_status_for(TIKTOK, action.new_status),
        }
    raise TypeError(f"{type(action).__name__} is not a field update")


def status_update_errors(data: Mapping[str, Any], kind: str, entity_id: str) -> list[str]:
    """What a ``*/status/update/`` answer says went wrong for ``entity_id`` (empty when it was applied)."""
    errors = [
        str(e.get("error_message") or e)
        for e in data.get("error_list") or []
        if isinstance(e, dict) and str(e.get(f"{kind}_id", entity_id)) == entity_id
    ]
    done = data.get(f"{kind}_ids")
    if not errors and isinstance(done, list) and entity_id not in [str(i) for i in done]:
        errors.append(f"{kind}_ids: {entity_id} was not updated")
    return errors


def launch_request(
    action: LaunchAd,
    advertiser_id: str,
    image_id: str,
    *,
    identity_id: str | None = None,
    identity_type: str = "CUSTOMIZED_USER",
    display_name: str | None = None,
) -> dict[str, Any]:
    """The ``ad/create/`` body of a single-image ad in the target ad group."""
    text = action.body or action.headline
    if not text:
        raise MappingError("body: a TikTok ad needs ad text (body or headline)")
    if not action.link_url:
        raise MappingError("link_url: a TikTok ad needs a landing page URL")
    item: dict[str, Any] = {
        "ad_name": action.name,
        "ad_format": "SINGLE_IMAGE",
        "image_ids": [image_id],
        "ad_text": text,
        "landing_page_url": action.link_url,
    }
    if action.call_to_action:
        item["call_to_action"] = action.call_to_action
    if identity_id:
        item["identity_type"] = identity_type
        item["identity_id"] = identity_id
    if display_name:
        item["display_name"] = display_name
    return {
        "advertiser_id": advertiser_id,
        "adgroup_id": action.target.entity_id,
        "operation_status": "DISABLE" if action.start_paused else "ENABLE",
        "creatives": [item],
    }


def created_ad_id(data: Mapping[str, Any]) -> str:
    """The id of the ad ``ad/create/`` made (``ad_ids``; ``creatives[].ad_id`` as a fallback)."""
    ids = data.get("ad_ids")
    if isinstance(ids, list) and ids:
        return str(ids[0])
    made = data.get("creatives")
    if isinstance(made, list) and made and isinstance(made[0], dict) and made[0].get("ad_id"):
        return str(made[0]["ad_id"])
    raise MappingError("ad_ids: missing")


def image_upload_form(advertiser_id: str, data: bytes, name: str) -> dict[str, str]:
    """The form fields of ``file/image/ad/upload/`` (UPLOAD_BY_FILE, signed with the file's MD5)."""
    return {
        "advertiser_id": advertiser_id,
        "upload_type": "UPLOAD_BY_FILE",
        "image_signature": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "file_name": name,
    }


def image_mime(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    return "application/octet-stream"


def uploaded_image_id(data: Mapping[str, Any]) -> str:
    return _id(data, "image_id")
