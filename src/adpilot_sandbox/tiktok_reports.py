"""TikTok Business API v1.3 reporting: ``report/integrated/get/`` and the async ``report/task/*`` flow.

Figures come from ``Market.reported`` exactly: spend is the minor-unit sum rendered in major units with the
currency's decimals; conversions and purchase value are the platform's currently reported (restated) ones.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import orjson
from numpy.typing import NDArray
from starlette.responses import Response

from adpilot_sandbox.entities import Account, Ad, exponent
from adpilot_sandbox.market import Market
from adpilot_sandbox.noise import stable_key
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.tiktok_core import MAX_PAGE_SIZE, PLATFORM, ApiError, Params, major, page_slice, param_error, ratio

# -- report specification ----------------------------------------------------------------------------------
LEVELS = {
    "AUCTION_ADVERTISER": "advertiser_id",
    "AUCTION_CAMPAIGN": "campaign_id",
    "AUCTION_ADGROUP": "adgroup_id",
    "AUCTION_AD": "ad_id",
}
TIME_DIMENSIONS = ("stat_time_day", "stat_time_hour")
NUMERIC_METRICS = (
    "spend",
    "billed_cost",
    "cash_spend",
    "voucher_spend",
    "impressions",
    "clicks",
    "ctr",
    "cpc",
    "cpm",
    "conversion",
    "cost_per_conversion",
    "conversion_rate",
    "conversion_rate_v2",
    "result",
    "cost_per_result",
    "result_rate",
    "complete_payment",
    "cost_per_complete_payment",
    "complete_payment_rate",
    "total_purchase_value",
    "complete_payment_roas",
    "value_per_complete_payment",
)
# attribute metrics by the data levels that carry them (they need the level's ID dimension)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "advertiser_name": ("AUCTION_ADVERTISER",),
    "advertiser_id": ("AUCTION_ADVERTISER", "AUCTION_CAMPAIGN", "AUCTION_ADGROUP", "AUCTION_AD"),
    "campaign_name": ("AUCTION_CAMPAIGN", "AUCTION_ADGROUP", "AUCTION_AD"),
    "objective_type": ("AUCTION_CAMPAIGN", "AUCTION_ADGROUP", "AUCTION_AD"),
    "campaign_id": ("AUCTION_ADGROUP", "AUCTION_AD"),
    "adgroup_name": ("AUCTION_ADGROUP", "AUCTION_AD"),
    "adgroup_id": ("AUCTION_AD",),
    "ad_name": ("AUCTION_AD",),
    "ad_text": ("AUCTION_AD",),
    "call_to_action": ("AUCTION_AD",),
}
ORDER_TYPES = ("ASC", "DESC")
_STATUS_FILTERS = {"campaign_status": "campaign", "adgroup_status": "adgroup", "ad_status": "ad"}
_ID_FILTERS = {"campaign_ids": "campaign", "adgroup_ids": "adgroup", "ad_ids": "ad"}
_LEVEL_ENTITY = {"AUCTION_CAMPAIGN": "campaign", "AUCTION_ADGROUP": "adgroup", "AUCTION_AD": "ad"}
_FORBIDDEN_FILE_CHARS = set("/\t\b@#$%^&*()[]")


@dataclass
class ReportSpec:
    level: str
    dimensions: list[str]
    metrics: list[str]
    first: int  # day indices, inclusive
    last: int
    ids: dict[str, set[str]]  # "campaign" | "adgroup" | "ad" -> allowed ids
    statuses: dict[str, str]  # entity -> STATUS_ALL | STATUS_NOT_DELETE | STATUS_DELETE
    order_field: str | None
    order_type: str
    totals: bool

    @property
    def id_dimension(self) -> str | None:
        dim = LEVELS[self.level]
        return dim if dim in self.dimensions else None

    @property
    def time_dimension(self) -> str | None:
        return next((d for d in self.dimensions if d in TIME_DIMENSIONS), None)


def _date(p: Params, name: str) -> date:
    text = p.req(name)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise param_error(f"{name}: Not a valid date, expected YYYY-MM-DD.")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise param_error(f"{name}: Not a valid date, expected YYYY-MM-DD.") from None


def parse_spec(p: Params, m: Market) -> ReportSpec:
    """Validate report parameters (sync and async share them) the way TikTok does, with 40002 errors."""
    p.choice("report_type", ("BASIC",), required=True)
    p.choice("service_type", ("AUCTION",), default="AUCTION")
    level = p.choice("data_level", tuple(LEVELS), required=True)
    assert level is not None
    dimensions = p.strings("dimensions", required=True) or []
    allowed_dims = tuple(dict.fromkeys((LEVELS[level], "advertiser_id", *TIME_DIMENSIONS)))
    for dim in dimensions:
        if dim not in allowed_dims:
            raise param_error(
                f"dimensions: {dim} is not supported with data_level {level}; supported: {', '.join(allowed_dims)}."
            )
    if len(set(dimensions)) != len(dimensions):
        raise param_error("dimensions: Duplicate dimensions.")
    if all(d in dimensions for d in TIME_DIMENSIONS):
        raise param_error("dimensions: stat_time_day and stat_time_hour cannot be combined.")
    metrics = p.strings("metrics") or ["spend", "impressions"]
    has_id = LEVELS[level] in dimensions
    for metric in metrics:
        if metric in NUMERIC_METRICS or metric == "currency":
            continue
        levels = ATTRIBUTES.get(metric)
        if levels is None:
            raise param_error(f"metrics: Invalid metric field {metric}.")
        if level not in levels:
            raise param_error(f"metrics: {metric} is not supported with data_level {level}.")
        if not has_id:
            raise param_error(f"metrics: the attribute metric {metric} needs the {LEVELS[level]} dimension.")
    time_dim = next((d for d in dimensions if d in TIME_DIMENSIONS), None)
    if p.flag("query_lifetime"):
        if time_dim:
            raise param_error(f"dimensions: {time_dim} is not supported when query_lifetime is true.")
        first, last = 0, m.day - 1
    else:
        start, end = _date(p, "start_date"), _date(p, "end_date")
        if end < start:
            raise param_error("end_date: end_date must not be earlier than start_date.")
        span = (end - start).days + 1
        limit = {"stat_time_day": 30, "stat_time_hour": 1}.get(time_dim or "", 365)
        if span > limit:
            raise param_error(
                f"start_date, end_date: the time range {start} to {end} spans {span} days; at most "
                f"{limit} day{'s' if limit > 1 else ''} with dimensions {dimensions}."
            )
        first, last = m.day_of(start), m.day_of(end)
    ids: dict[str, set[str]] = {}
    statuses: dict[str, str] = {}
    for item in p.records("filtering") or []:
        _parse_filter(item, ids, statuses)
    order_field = p.text("order_field")
    if order_field is not None and order_field not in NUMERIC_METRICS:
        raise param_error(f"order_field: {order_field} cannot be used for sorting.")
    order_type = p.choice("order_type", ORDER_TYPES, default="DESC")
    assert order_type is not None
    if p.text("query_mode") not in (None, "REGULAR"):
        raise param_error("query_mode: Must be one of: REGULAR.")
    return ReportSpec(
        level, dimensions, metrics, first, last, ids, statuses, order_field, order_type, p.flag("enable_total_metrics")
    )


def _parse_filter(item: dict[str, Any], ids: dict[str, set[str]], statuses: dict[str, str]) -> None:
    name, kind, value = item.get("field_name"), item.get("filter_type", "IN"), item.get("filter_value")
    if name not in _ID_FILTERS and name not in _STATUS_FILTERS:
        supported = ", ".join([*_ID_FILTERS, *_STATUS_FILTERS])
        raise param_error(f"filtering: field_name {name!r} is not supported; supported: {supported}.")
    if kind != "IN":
        raise param_error(f"filtering: filter_type of {name} must be IN.")
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise param_error(f"filtering: filter_value of {name} must be a JSON array string.") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str | int) for v in value):
        raise param_error(f"filtering: filter_value of {name} must be a non-empty JSON array string.")
    values = [str(v) for v in value]
    if name in _ID_FILTERS:
        if len(values) > 100:
            raise ApiError(40011, f"filtering: Too many ids in {name}, at most 100 are allowed.")
        ids[_ID_FILTERS[name]] = set(values)
        return
    if len(values) != 1 or values[0] not in ("STATUS_ALL", "STATUS_NOT_DELETE", "STATUS_DELETE"):
        raise param_error(f"filtering: {name} takes one of STATUS_ALL, STATUS_NOT_DELETE, STATUS_DELETE.")
    statuses[_STATUS_FILTERS[name]] = values[0]


# -- computing a report --------------------------------------------------------------------------------------
# The share of a day's delivery in each hour (advertiser time zone): quiet nights, an evening peak.
_HOURLY = (2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 6, 5, 5, 5, 5, 6, 7, 8, 8, 7, 5, 3)
_FIELDS = ("impressions", "clicks", "spend", "conversions", "value")


def _split_hours(total: int) -> list[int]:
    """``total`` split over 24 hours by the diurnal profile, exactly (largest remainder)."""
    weight = sum(_HOURLY)
    raw = [total * w / weight for w in _HOURLY]
    base = [math.floor(x) for x in raw]
    left = total - sum(base)
    for h in sorted(range(24), key=lambda h: (-(raw[h] - base[h]), h))[:left]:
        base[h] += 1
    return base


def _entity_status(m: Market, kind: str, ad: Ad) -> str:
    if kind == "campaign":
        return m.campaigns[ad.campaign_id].status
    if kind == "adgroup":
        return m.ad_sets[ad.ad_set_id].status
    return ad.status


def _keep(m: Market, spec: ReportSpec, ad: Ad) -> bool:
    entity_ids = {"campaign": ad.campaign_id, "adgroup": ad.ad_set_id, "ad": ad.id}
    for kind, allowed in spec.ids.items():
        if entity_ids[kind] not in allowed:
            return False
    statuses = dict(spec.statuses)
    default_kind = _LEVEL_ENTITY.get(spec.level)
    if default_kind is not None:
        statuses.setdefault(default_kind, "STATUS_NOT_DELETE")
    for kind, wanted in statuses.items():
        deleted = _entity_status(m, kind, ad) == "DELETED"
        if (wanted == "STATUS_NOT_DELETE" and deleted) or (wanted == "STATUS_DELETE" and not deleted):
            return False
    return True


def _metric_values(totals: list[int], currency: str, metrics: list[str]) -> dict[str, str]:
    impressions, clicks, spend_minor, conversions, value_minor = totals
    unit = Decimal(10) ** exponent(currency)
    spend, value = Decimal(spend_minor) / unit, Decimal(value_minor) / unit
    conv, clk, imp = Decimal(conversions), Decimal(clicks), Decimal(impressions)
    out: dict[str, str] = {}
    for metric in metrics:
        if metric in ("spend", "billed_cost", "cash_spend"):
            out[metric] = major(spend_minor, currency)
        elif metric == "voucher_spend":
            out[metric] = major(0, currency)
        elif metric == "impressions":
            out[metric] = str(impressions)
        elif metric == "clicks":
            out[metric] = str(clicks)
        elif metric == "ctr":
            out[metric] = ratio(clk * 100, imp)
        elif metric == "cpc":
            out[metric] = ratio(spend, clk)
        elif metric == "cpm":
            out[metric] = ratio(spend * 1000, imp)
        elif metric in ("conversion", "result", "complete_payment"):
            out[metric] = str(conversions)
        elif metric in ("cost_per_conversion", "cost_per_result", "cost_per_complete_payment"):
            out[metric] = ratio(spend, conv, empty="-")
        elif metric in ("conversion_rate", "conversion_rate_v2", "result_rate", "complete_payment_rate"):
            out[metric] = ratio(conv * 100, clk if metric != "conversion_rate_v2" else imp)
        elif metric == "total_purchase_value":
            out[metric] = major(value_minor, currency)
        elif metric == "complete_payment_roas":
            out[metric] = ratio(value, spend)
        elif metric == "value_per_complete_payment":
            out[metric] = ratio(value, conv, empty="-")
        elif metric == "currency":
            out[metric] = currency
    return out


def _attributes(m: Market, acc: Account, level: str, entity_id: str, metrics: list[str]) -> dict[str, str]:
    wanted = [x for x in metrics if x in ATTRIBUTES]
    if not wanted:
        return {}
    campaign_id = adgroup_id = None
    ad = None
    if level == "AUCTION_CAMPAIGN":
        campaign_id = entity_id
    elif level == "AUCTION_ADGROUP":
        adgroup_id, campaign_id = entity_id, m.ad_sets[entity_id].campaign_id
    elif level == "AUCTION_AD":
        ad = m.ads[entity_id]
        adgroup_id, campaign_id = ad.ad_set_id, ad.campaign_id
    camp = m.campaigns[campaign_id] if campaign_id else None
    creative = m.creatives[ad.creative_id] if ad else None
    values = {
        "advertiser_name": acc.name,
        "advertiser_id": acc.id,
        "campaign_id": campaign_id or "-",
        "campaign_name": camp.name if camp else "-",
        "objective_type": objective_type(camp.objective) if camp else "-",
        "adgroup_id": adgroup_id or "-",
        "adgroup_name": m.ad_sets[adgroup_id].name if adgroup_id else "-",
        "ad_name": ad.name if ad else "-",
        "ad_text": (creative.headline or creative.body) if creative else "-",
        "call_to_action": creative.cta if creative else "-",
    }
    return {k: values[k] for k in wanted}


def objective_type(objective: str) -> str:
    """The TikTok objective_type of a sandbox objective (scenario names are mapped; TikTok's pass through)."""
    return {
        "CONVERSIONS": "WEB_CONVERSIONS",
        "OUTCOME_SALES": "WEB_CONVERSIONS",
        "LINK_CLICKS": "TRAFFIC",
        "OUTCOME_TRAFFIC": "TRAFFIC",
        "OUTCOME_AWARENESS": "REACH",
    }.get(objective, objective)


def _id_order(value: str) -> tuple[int, str]:
    return (len(value), value)


def spec_key(spec: ReportSpec) -> tuple[Any, ...]:
    """A canonical, hashable form of a report query (sets sorted), for the sandbox's memo."""
    return (
        spec.level,
        tuple(spec.dimensions),
        tuple(spec.metrics),
        spec.first,
        spec.last,
        tuple(sorted((k, tuple(sorted(v))) for k, v in spec.ids.items())),
        tuple(sorted(spec.statuses.items())),
        spec.order_field,
        spec.order_type,
        spec.totals,
    )


def compute(m: Market, acc: Account, spec: ReportSpec) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    """Every row of the report (ordered) and the total metrics when asked for."""
    if spec.time_dimension == "stat_time_hour":
        return _compute_rows(m, acc, spec)
    report = _compute_columns(m, acc, spec)
    names = list(report.dimensions)
    metric_names = list(report.metrics)
    rows = [
        {"dimensions": dict(zip(names, dims, strict=True)), "metrics": dict(zip(metric_names, mets, strict=True))}
        for dims, mets in zip(
            zip(*report.dimensions.values(), strict=True), zip(*report.metrics.values(), strict=True), strict=True
        )
    ]
    return rows, report.totals


@dataclass
class Columns:
    """A report as columns: the dimension and metric values of every row, in the report's order."""

    dimensions: dict[str, list[str]]
    metrics: dict[str, list[str]]
    totals: dict[str, str] | None


# metrics read straight off the totals; the rest (ratios) go through ``_metric_values`` row by row
_FIGURE_METRICS = {
    "spend": 2, "billed_cost": 2, "cash_spend": 2, "total_purchase_value": 4, "impressions": 0, "clicks": 1,
    "conversion": 3, "result": 3, "complete_payment": 3,
}  # fmt: skip


def _compute_columns(m: Market, acc: Account, spec: ReportSpec) -> Columns:
    """What the row loop computes, a column at a time: one row per (day, entity) group of the kept ads,
    ordered by day then id (shorter ids first), as TikTok orders report rows."""
    rep = m.reported(PLATFORM, acc.id, spec.first, spec.last)
    id_dim, time_dim = spec.id_dimension, spec.time_dimension
    entity_of: dict[int, str] = {}
    for ad in {ad.slot: ad for ad in rep["ads"]}.values():
        if _keep(m, spec, ad):
            ids = {"advertiser_id": acc.id, "campaign_id": ad.campaign_id, "adgroup_id": ad.ad_set_id, "ad_id": ad.id}
            entity_of[ad.slot] = ids[id_dim] if id_dim else ""
    slots: NDArray[np.int64] = rep["slot"]
    keep = np.array([s in entity_of for s in slots.tolist()], dtype=bool)
    slots = slots[keep]
    figures = np.stack([np.asarray(rep[f], dtype=np.int64)[keep] for f in _FIELDS])  # figure x row
    entities = sorted(set(entity_of.values()), key=_id_order)
    rank = {e: r for r, e in enumerate(entities)}
    slot_rank = np.zeros(int(slots.max()) + 1 if len(slots) else 0, dtype=np.int64)
    for slot, entity in entity_of.items():
        if slot < len(slot_rank):
            slot_rank[slot] = rank[entity]
    days = rep["day"][keep] if time_dim else np.zeros(len(slots), dtype=np.int64)
    group = days * max(len(entities), 1) + slot_rank[slots]
    keys, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    if len(keys) != len(group):  # several ads (or days) in a group: add them up
        sums = np.zeros((len(_FIELDS), len(keys)), dtype=np.int64)
        for k in range(len(_FIELDS)):
            np.add.at(sums[k], inverse, figures[k])
        figures = sums
    else:
        figures = figures[:, first]
    group_days = (keys // max(len(entities), 1)).tolist()
    group_entities = [entities[r] for r in slot_rank[slots[first]].tolist()]
    values = [figures[k].tolist() for k in range(len(_FIELDS))]
    n = len(group_entities)
    dims: dict[str, list[str]] = {}
    for d in spec.dimensions:
        if d == "advertiser_id":
            dims[d] = [acc.id] * n
        elif d == id_dim:
            dims[d] = group_entities
        elif d == "stat_time_day":
            labels = {t: f"{m.date_of(t).isoformat()} 00:00:00" for t in set(group_days)}
            dims[d] = [labels[t] for t in group_days]
    metrics = _metric_columns(m, acc, spec, values, group_entities)
    if spec.order_field:
        field = spec.order_field
        sort_keys = [_sort_value(list(t), acc.currency, field) for t in zip(*values, strict=True)]
        order = sorted(range(n), key=sort_keys.__getitem__, reverse=spec.order_type == "DESC")
        dims = {k: [col[i] for i in order] for k, col in dims.items()}
        metrics = {k: [col[i] for i in order] for k, col in metrics.items()}
    totals = None
    if spec.totals:
        sums_all = [sum(col) for col in values]
        totals = _metric_values(sums_all, acc.currency, spec.metrics)
        totals.update({k: "-" for k in spec.metrics if k in ATTRIBUTES})
        totals = {k: totals[k] for k in spec.metrics}
    return Columns(dims, metrics, totals)


def _metric_columns(
    m: Market, acc: Account, spec: ReportSpec, values: list[list[int]], entities: list[str]
) -> dict[str, list[str]]:
    """Each requested metric over the groups (``values``: impressions, clicks, spend, conversions, value)."""
    cur = acc.currency
    n = len(entities)
    ratios = [k for k in spec.metrics if k not in _FIGURE_METRICS and k not in ATTRIBUTES and k != "currency"]
    by_row: list[dict[str, str]] = []
    if ratios:  # the row-by-row formulas, exactly
        by_row = [_metric_values(list(t), cur, ratios) for t in zip(*values, strict=True)]
    attributes: dict[str, dict[str, str]] = {}
    if spec.id_dimension and any(k in ATTRIBUTES for k in spec.metrics):
        attributes = {e: _attributes(m, acc, spec.level, e, spec.metrics) for e in set(entities)}
    out: dict[str, list[str]] = {}
    for k in spec.metrics:
        if k in out:
            continue
        if k in ATTRIBUTES and spec.id_dimension:
            out[k] = [attributes[e][k] for e in entities]
        elif k in _FIGURE_METRICS:
            column = values[_FIGURE_METRICS[k]]
            out[k] = _major_column(column, cur) if k in _MONEY_METRICS else list(map(str, column))
        elif k == "currency":
            out[k] = [cur] * n
        else:
            out[k] = [row[k] for row in by_row]
    return out


_MONEY_METRICS = frozenset(("spend", "billed_cost", "cash_spend", "total_purchase_value"))


def _major_column(minor: list[int], currency: str) -> list[str]:
    """``major`` of a whole column."""
    digits = exponent(currency)
    if digits not in _FRACTIONS or min(minor, default=0) < 0:
        return [major(v, currency) for v in minor]
    unit, fractions = 10**digits, _FRACTIONS[digits]
    return [f"{v // unit}.{fractions[v % unit]}" for v in minor]


_FRACTIONS = {d: [f"{i:0{d}d}" for i in range(10**d)] for d in (1, 2, 3)}  # the minor digits as written


def _compute_rows(m: Market, acc: Account, spec: ReportSpec) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
    """The report row by row: hourly reports, which split each day over its hours."""
    rep = m.reported(PLATFORM, acc.id, spec.first, spec.last)
    id_dim, time_dim = spec.id_dimension, spec.time_dimension
    groups: dict[tuple[str, int, int], list[int]] = {}
    for i, ad in enumerate(rep["ads"]):
        if not _keep(m, spec, ad):
            continue
        entity = (
            {"advertiser_id": acc.id, "campaign_id": ad.campaign_id, "adgroup_id": ad.ad_set_id, "ad_id": ad.id}[id_dim]
            if id_dim
            else ""
        )
        day = int(rep["day"][i]) if time_dim else -1
        figures = [int(rep[f][i]) for f in _FIELDS]
        if time_dim == "stat_time_hour":
            per_hour = [_split_hours(x) for x in figures]
            for hour in range(24):
                hourly = [col[hour] for col in per_hour]
                if any(hourly):
                    acc_row = groups.setdefault((entity, day, hour), [0] * 5)
                    acc_row[:] = [a + b for a, b in zip(acc_row, hourly, strict=True)]
        else:
            acc_row = groups.setdefault((entity, day, -1), [0] * 5)
            acc_row[:] = [a + b for a, b in zip(acc_row, figures, strict=True)]
    keys = sorted(groups, key=lambda k: (k[1], k[2], _id_order(k[0])))
    rows: list[dict[str, Any]] = []
    for key in keys:
        entity, day, hour = key
        dims: dict[str, str] = {}
        if "advertiser_id" in spec.dimensions:
            dims["advertiser_id"] = acc.id
        if id_dim:
            dims[id_dim] = entity
        if time_dim == "stat_time_day":
            dims[time_dim] = f"{m.date_of(day).isoformat()} 00:00:00"
        elif time_dim == "stat_time_hour":
            dims[time_dim] = f"{m.date_of(day).isoformat()} {hour:02d}:00:00"
        metrics = _metric_values(groups[key], acc.currency, spec.metrics)
        if id_dim:
            metrics.update(_attributes(m, acc, spec.level, entity, spec.metrics))
        rows.append(
            {"dimensions": {d: dims[d] for d in spec.dimensions}, "metrics": {k: metrics[k] for k in spec.metrics}}
        )
    if spec.order_field:
        field = spec.order_field
        values = {id(r): _sort_value(groups[k], acc.currency, field) for r, k in zip(rows, keys, strict=True)}
        rows.sort(key=lambda r: values[id(r)], reverse=spec.order_type == "DESC")
    totals = None
    if spec.totals:
        sums = [sum(g[j] for g in groups.values()) for j in range(5)]
        totals = _metric_values(sums, acc.currency, spec.metrics)
        totals.update({k: "-" for k in spec.metrics if k in ATTRIBUTES})
        totals = {k: totals[k] for k in spec.metrics}
    return rows, totals


def _sort_value(figures: list[int], currency: str, field: str) -> Decimal:
    text = _metric_values(figures, currency, [field])[field]
    return Decimal("-Infinity") if text == "-" else Decimal(text)


# -- handlers (called by tiktok_api with the advertiser already authorized) ----------------------------------
def integrated_get(sandbox: Sandbox, acc: Account, p: Params) -> dict[str, Any]:
    spec = parse_spec(p, sandbox.market)
    page = p.integer("page", 1, 1, 10**9)
    page_size = p.integer("page_size", 10, 1, MAX_PAGE_SIZE)
    key = ("tiktok-report", acc.id, spec_key(spec))
    rows, totals = sandbox.memo(key, lambda: compute(sandbox.market, acc, spec))
    chunk, info = page_slice(rows, page, page_size, sandbox.faults)
    if page >= info["total_page"]:
        sandbox.forget(key)  # the last page: the client is done with this report
    return {"list": chunk, "page_info": info, "total_metrics": totals}


_OUTPUT_FORMATS = {
    "CSV": "CSV_DOWNLOAD",
    "CSV_DOWNLOAD": "CSV_DOWNLOAD",
    "CSV_STRING": "CSV_DOWNLOAD",
    "XLSX": "XLSX_DOWNLOAD",
    "XLSX_DOWNLOAD": "XLSX_DOWNLOAD",
}
STALL_POLLS = 25  # an ``async_stall`` task stays PROCESSING this many checks before it succeeds


def _job_key(task_id: str) -> str:
    return f"tiktok:{task_id}"


def task_create(sandbox: Sandbox, acc: Account, p: Params) -> dict[str, Any]:
    spec = parse_spec(p, sandbox.market)
    fmt = _OUTPUT_FORMATS.get(p.choice("output_format", tuple(_OUTPUT_FORMATS), default="CSV") or "CSV")
    file_name = p.text("file_name", max_len=255)
    if file_name is not None and _FORBIDDEN_FILE_CHARS & set(file_name):
        raise param_error("file_name: must not contain any of / \\t \\b @ # $ % ^ & * ( ) [ ].")
    header, columns = _table_columns(sandbox, acc, spec)
    n = sum(1 for k in sandbox.jobs if k.startswith("tiktok:"))
    task_id = str(7_300_000_000_000_000_000 + stable_key(sandbox.scenario.seed, "tiktok-task", n) % 10**17)
    fail = sandbox.faults.decide(PLATFORM, "async_fail")
    stall = sandbox.faults.decide(PLATFORM, "async_stall")
    sandbox.jobs[_job_key(task_id)] = {
        "platform": PLATFORM,
        "advertiser_id": acc.id,
        "task_id": task_id,
        "polls": 0,
        "fail": fail,
        "stall": stall,
        "canceled": False,
        # the file itself, kept as it will be served: a CSV's bytes are a fraction of the rows as objects
        "file": _csv_bytes(header, columns) if fmt == "CSV_DOWNLOAD" else _xlsx([header, *_table_rows(columns)]),
        "format": fmt,
        "file_name": file_name or f"report_{task_id}",
        "created_at": sandbox.market.now.isoformat(),
    }
    return {"task_id": task_id}


def _job(sandbox: Sandbox, acc: Account, p: Params) -> dict[str, Any]:
    task_id = p.req("task_id")
    job = sandbox.jobs.get(_job_key(task_id))
    if job is None or job["advertiser_id"] != acc.id:
        raise ApiError(40007, f"Task {task_id} does not exist under advertiser {acc.id}.")
    return job


def _status(job: dict[str, Any]) -> str:
    polls = int(job["polls"])
    if job["canceled"]:
        return "CANCELED"
    if polls <= 1:
        return "QUEUING"
    if job["stall"] and polls < STALL_POLLS:
        return "PROCESSING"
    if polls == 2:
        return "PROCESSING"
    return "FAILED" if job["fail"] else "SUCCESS"


def task_check(sandbox: Sandbox, acc: Account, p: Params) -> dict[str, Any]:
    job = _job(sandbox, acc, p)
    if not job["canceled"]:
        job["polls"] = int(job["polls"]) + 1
    status = _status(job)
    out: dict[str, Any] = {"status": status}
    if status == "FAILED":
        out["message"] = "The report task failed due to an internal error. Please create the task again."
    return out


def task_download(sandbox: Sandbox, acc: Account, p: Params, base_url: str) -> dict[str, Any]:
    job = _job(sandbox, acc, p)
    status = _status(job)
    if status in ("QUEUING", "PROCESSING"):
        raise ApiError(40201, f"The report task is not ready yet (status {status}). Please try again later.")
    if status != "SUCCESS":
        raise ApiError(40200, f"The report task cannot be downloaded (status {status}).")
    ext = "xlsx" if job["format"] == "XLSX_DOWNLOAD" else "csv"
    url = f"{base_url.rstrip('/')}/portal/report_download/{job['task_id']}.{ext}"
    return {"download_url": url, "file_name": f"{job['file_name']}.{ext}", "output_format": job["format"]}


def task_cancel(sandbox: Sandbox, acc: Account, p: Params) -> dict[str, Any]:
    job = _job(sandbox, acc, p)
    status = _status(job)
    if status not in ("QUEUING", "PROCESSING"):
        raise ApiError(40200, f"Only tasks in QUEUING or PROCESSING status can be canceled (status {status}).")
    job["canceled"] = True
    return {"status": "CANCELED"}


def task_file(sandbox: Sandbox, name: str) -> Response | None:
    """The file behind a ``download_url`` (no Access-Token: the URL itself is the credential)."""
    task_id, _, ext = name.partition(".")
    job = sandbox.jobs.get(_job_key(task_id))
    if job is None or _status(job) != "SUCCESS" or ext != ("xlsx" if job["format"] == "XLSX_DOWNLOAD" else "csv"):
        return None
    disposition = {"Content-Disposition": f'attachment; filename="{job["file_name"]}.{ext}"'}
    if ext == "xlsx":
        xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(job["file"], media_type=xlsx_type, headers=disposition)
    return Response(job["file"], media_type="text/csv", headers=disposition)


def _table_columns(sandbox: Sandbox, acc: Account, spec: ReportSpec) -> tuple[list[str], list[list[str]]]:
    """The task's header and its columns (dimensions, then metrics), computed for this task alone."""
    header = [*spec.dimensions, *spec.metrics]
    if spec.time_dimension == "stat_time_hour":
        rows, _ = compute(sandbox.market, acc, spec)
        columns = [[r["dimensions"][d] for r in rows] for d in spec.dimensions]
        return header, columns + [[r["metrics"][k] for r in rows] for k in spec.metrics]
    report = _compute_columns(sandbox.market, acc, spec)
    return header, [report.dimensions[d] for d in spec.dimensions] + [report.metrics[k] for k in spec.metrics]


def _table_rows(columns: list[list[str]]) -> list[list[str]]:
    return [list(row) for row in zip(*columns, strict=True)]


def _csv_bytes(header: list[str], columns: list[list[str]]) -> bytes:
    """The CSV file (``csv.writer``, ``\\n`` line ends); rows are joined directly when no value needs quoting."""
    if len(header) > 1 and not any(_NEEDS_QUOTES.search("\x1f".join(col)) for col in [header, *columns]):
        lines = [",".join(header), *map(",".join, zip(*columns, strict=True))]
        return ("\n".join(lines) + "\n").encode()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    return buf.getvalue().encode()


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _xlsx(table: list[list[str]]) -> bytes:
    """A minimal one-sheet workbook (inline strings) for XLSX_DOWNLOAD tasks."""

    def col(i: int) -> str:
        out = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            out = chr(65 + r) + out
        return out

    rows = "".join(
        f'<row r="{r + 1}">'
        + "".join(f'<c r="{col(c)}{r + 1}" t="inlineStr"><is><t>{escape(v)}</t></is></c>' for c, v in enumerate(row))
        + "</row>"
        for r, row in enumerate(table)
    )
    ns = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}/spreadsheetml/2006/main" '
        f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets><sheet name="Report" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships '
        f'xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        f'xmlns="{ns}/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>',
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()
