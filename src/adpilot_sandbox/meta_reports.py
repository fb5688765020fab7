"""Meta Ads Insights in the sandbox: ``/insights`` (sync) and AdReportRun jobs (async).

Figures come from ``Market.reported`` (what the platform reports now, restated as days pass): rows
for (level object, time bucket) with delivery, spend as a major-unit decimal string in the account
currency, counts as strings. Purchases appear under two action types, ``offsite_conversion.fb_pixel_purchase``
and ``purchase``, each carrying the same count, exactly as Meta reports one conversion under several
types: summing both double counts. The sandbox attributes every conversion to a click within a day,
so every click window carries the count and every view window "0".
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from adpilot_sandbox.entities import Account, Ad, AdSet, Campaign, exponent
from adpilot_sandbox.meta_objects import (
    HIDDEN_BY_DEFAULT,
    PLATFORM,
    Graph,
    GraphError,
    filter_value,
    matches,
    param_int,
    param_json,
    param_list,
    param_str,
    parse_fields,
    parse_filtering,
)

LEVELS = ("account", "campaign", "adset", "ad")
INSIGHT_FIELDS = (
    "account_id", "account_name", "account_currency", "campaign_id", "campaign_name", "adset_id", "adset_name",
    "ad_id", "ad_name", "date_start", "date_stop", "impressions", "reach", "frequency", "clicks", "unique_clicks",
    "inline_link_clicks", "spend", "cpc", "cpm", "cpp", "ctr", "unique_ctr", "inline_link_click_ctr",
    "cost_per_inline_link_click", "objective", "optimization_goal", "buying_type", "attribution_setting",
    "actions", "action_values", "conversions", "conversion_values", "cost_per_action_type",
    "cost_per_conversion", "purchase_roas", "website_purchase_roas", "created_time", "updated_time",
)  # fmt: skip
DEFAULT_INSIGHT_FIELDS = ("impressions", "spend")
LEVEL_FIELDS = {
    "account": ("account_id", "account_name"),
    "campaign": ("campaign_id", "campaign_name", "objective"),
    "adset": ("adset_id", "adset_name", "optimization_goal"),
    "ad": ("ad_id", "ad_name"),
}
BREAKDOWNS = (
    "ad_format_asset", "age", "app_id", "body_asset", "call_to_action_asset", "coarse_conversion_value",
    "country", "description_asset", "device_platform", "dma", "fidelity_type", "frequency_value",
    "gender", "hourly_stats_aggregated_by_advertiser_time_zone", "hourly_stats_aggregated_by_audience_time_zone",
    "hsid", "image_asset", "impression_device", "is_conversion_id_modeled", "landing_destination",
    "link_url_asset", "marketing_messages_btn_name", "mdsa_landing_destination", "media_asset_url",
    "media_creator", "media_destination_url", "media_format", "media_origin_url", "media_text_content",
    "media_type", "place_page_id", "platform_position", "postback_sequence_index", "product_id",
    "publisher_platform", "redownload", "region", "skan_campaign_id", "skan_conversion_id", "skan_version",
    "standard_event_content_type", "title_asset", "user_persona_id", "user_persona_name", "video_asset",
)  # fmt: skip
ACTION_BREAKDOWNS = ("action_type", "action_target_id", "action_destination")
OTHER_ACTION_BREAKDOWNS = (
    "action_canvas_component_name", "action_carousel_card_id", "action_carousel_card_name", "action_device",
    "action_reaction", "action_video_sound", "action_video_type", "conversion_destination",
    "standard_event_content_type",
)  # fmt: skip
WINDOWS = (
    "1d_view", "7d_view", "28d_view", "1d_click", "7d_click", "28d_click", "1d_ev", "dda", "default",
    "7d_view_first_conversion", "28d_view_first_conversion", "7d_view_all_conversions",
    "28d_view_all_conversions", "skan_view", "skan_click", "skan_click_second_postback",
    "skan_view_second_postback", "skan_click_third_postback", "skan_view_third_postback",
)  # fmt: skip
CARRYING_WINDOWS = ("1d_click", "7d_click", "28d_click", "dda", "default")
PRESETS = (
    "today", "yesterday", "this_month", "last_month", "this_quarter", "maximum", "data_maximum", "last_3d",
    "last_7d", "last_14d", "last_28d", "last_30d", "last_90d", "last_week_mon_sun", "last_week_sun_sat",
    "last_quarter", "last_year", "this_week_mon_today", "this_week_sun_today", "this_year",
)  # fmt: skip
PURCHASE_TYPES = ("offsite_conversion.fb_pixel_purchase", "purchase")
METRIC_FILTERS = ("impressions", "clicks", "spend", "reach", "ctr", "cpc", "cpm")
RETENTION_MONTHS = 37


def months_before(d: date, months: int) -> date:
    y, mth = divmod(d.year * 12 + d.month - 1 - months, 12)
    mth += 1
    return date(y, mth, min(d.day, calendar.monthrange(y, mth)[1]))


@dataclass
class Bucket:
    start: date
    stop: date


@dataclass
class Query:
    level: str
    fields: list[str]
    buckets: list[Bucket]
    overlapping: bool  # time_ranges may overlap: aggregate each separately
    windows: list[str]
    action_breakdowns: list[str]
    entity_clauses: list[tuple[str, str, Any]]
    metric_clauses: list[tuple[str, str, Any]]
    status_filtered: bool
    default_summary: bool

    @property
    def date_start(self) -> date:
        return min(b.start for b in self.buckets)

    @property
    def date_stop(self) -> date:
        return max(b.stop for b in self.buckets)


def _parse_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise GraphError(
            100, f"(#100) {name} must be a date in the format YYYY-MM-DD, not {value!r}", blame="time_range"
        ) from None


def _time_range(value: Any, name: str) -> Bucket:
    if not isinstance(value, dict) or "since" not in value or "until" not in value:
        raise GraphError(
            100, f'(#100) param {name} must be a JSON object like {{"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}}',
            blame=name,
        )  # fmt: skip
    since, until = _parse_date(value["since"], "since"), _parse_date(value["until"], "until")
    if since > until:
        raise GraphError(100, f"(#100) {name}: since ({since}) must not be after until ({until})", blame=name)
    return Bucket(since, until)


def _preset(name: str, today: date) -> Bucket:
    yesterday = today - timedelta(days=1)
    last_n = {"last_3d": 3, "last_7d": 7, "last_14d": 14, "last_28d": 28, "last_30d": 30, "last_90d": 90}
    if name in last_n:
        return Bucket(today - timedelta(days=last_n[name]), yesterday)
    if name == "today":
        return Bucket(today, today)
    if name == "yesterday":
        return Bucket(yesterday, yesterday)
    if name == "this_month":
        return Bucket(today.replace(day=1), today)
    if name == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return Bucket(end.replace(day=1), end)
    q_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if name == "this_quarter":
        return Bucket(q_start, today)
    if name == "last_quarter":
        end = q_start - timedelta(days=1)
        return Bucket(date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end)
    if name == "this_year":
        return Bucket(date(today.year, 1, 1), today)
    if name == "last_year":
        return Bucket(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))
    if name in ("maximum", "data_maximum"):
        return Bucket(months_before(today, RETENTION_MONTHS), yesterday)
    if name == "last_week_mon_sun":
        monday = today - timedelta(days=today.weekday() + 7)
        return Bucket(monday, monday + timedelta(days=6))
    if name == "last_week_sun_sat":
        sunday = today - timedelta(days=(today.weekday() + 1) % 7 + 7)
        return Bucket(sunday, sunday + timedelta(days=6))
    if name == "this_week_mon_today":
        return Bucket(today - timedelta(days=today.weekday()), today)
    return Bucket(today - timedelta(days=(today.weekday() + 1) % 7), today)  # this_week_sun_today


def _split(span: Bucket, increment: str) -> list[Bucket]:
    if increment == "all_days":
        return [span]
    out: list[Bucket] = []
    if increment == "monthly":
        d = span.start
        while d <= span.stop:
            end = min(date(d.year, d.month, calendar.monthrange(d.year, d.month)[1]), span.stop)
            out.append(Bucket(d, end))
            d = end + timedelta(days=1)
        return out
    step = int(increment)
    d = span.start
    while d <= span.stop:
        end = min(d + timedelta(days=step - 1), span.stop)
        out.append(Bucket(d, end))
        d = end + timedelta(days=1)
    return out


def parse_query(g: Graph, node_level: str, params: dict[str, Any]) -> Query:
    """Validate insights parameters the way Graph does, before any work is done."""
    today = g.m.today
    level = param_str(params, "level") or node_level
    if level not in LEVELS:
        raise GraphError(
            100, f"(#100) level must be one of the following values: {', '.join(reversed(LEVELS))}", blame="level"
        )
    parsed = parse_fields(params.get("fields"))
    fields = [f for f, _ in parsed] if parsed is not None else list(DEFAULT_INSIGHT_FIELDS)
    for name in fields:
        if name not in INSIGHT_FIELDS:
            raise GraphError(
                100,
                f"(#100) {name} is not valid for fields param. please check "
                "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values",
                blame="fields",
            )
    breakdowns = param_list(params, "breakdowns") or []
    for i, b in enumerate(breakdowns):
        if b not in BREAKDOWNS:
            raise GraphError(
                100, f"(#100) breakdowns[{i}] must be one of the following values: {', '.join(BREAKDOWNS)}",
                blame="breakdowns",
            )  # fmt: skip
    if breakdowns:
        names = ", ".join(str(b) for b in breakdowns)
        raise GraphError(
            100,
            f"(#100) Current combination of data breakdown columns (action_type, {names}) is invalid",
            user_title="Breakdown Not Available",
            user_msg=f"The breakdown {breakdowns[0]} is not available for this ad account's data. "
            "Request the report without it.",
            blame="breakdowns",
        )
    action_breakdowns = param_list(params, "action_breakdowns") or ["action_type"]
    for i, b in enumerate(action_breakdowns):
        if b not in ACTION_BREAKDOWNS + OTHER_ACTION_BREAKDOWNS:
            raise GraphError(
                100, f"(#100) action_breakdowns[{i}] must be one of the following values: "
                f"{', '.join(ACTION_BREAKDOWNS + OTHER_ACTION_BREAKDOWNS)}", blame="action_breakdowns",
            )  # fmt: skip
        if b not in ACTION_BREAKDOWNS:
            raise GraphError(
                100, f"(#100) Current combination of data breakdown columns (action_type, {b}) is invalid",
                blame="action_breakdowns",
            )  # fmt: skip
    windows = [str(w) for w in param_list(params, "action_attribution_windows") or []]
    for i, w in enumerate(windows):
        if w not in WINDOWS:
            raise GraphError(
                100, f"(#100) action_attribution_windows[{i}] must be one of the following values: "
                f"{', '.join(WINDOWS)}", blame="action_attribution_windows",
            )  # fmt: skip

    increment = param_str(params, "time_increment") or "all_days"
    if increment not in ("all_days", "monthly") and not (increment.isdigit() and 1 <= int(increment) <= 90):
        raise GraphError(
            100, "(#100) time_increment must be an integer between 1 and 90, 'monthly' or 'all_days'",
            blame="time_increment",
        )  # fmt: skip
    ranges = param_json(params, "time_ranges")
    overlapping = False
    if ranges is not None:
        if not isinstance(ranges, list) or not ranges:
            raise GraphError(100, "(#100) param time_ranges must be a non-empty array", blame="time_ranges")
        buckets = [_time_range(r, "time_ranges") for r in ranges]
        overlapping = True
    else:
        tr = param_json(params, "time_range")
        preset = param_str(params, "date_preset")
        if tr is not None:
            span = _time_range(tr, "time_range")
        elif preset is not None:
            if preset not in PRESETS:
                raise GraphError(
                    100, f"(#100) date_preset must be one of the following values: {', '.join(PRESETS)}",
                    blame="date_preset",
                )  # fmt: skip
            span = _preset(preset, today)
        else:
            span = _preset("last_30d", today)
        buckets = _split(span, increment)
    oldest = months_before(today, RETENTION_MONTHS)
    if min(b.start for b in buckets) < oldest:
        raise GraphError(
            3018,
            "(#3018) The start date of the time range cannot be beyond 37 months from the current date",
            user_title="Time Range Too Far Back",
            user_msg=f"Insights are kept for 37 months: the earliest date you can ask for is {oldest.isoformat()}.",
            blame="time_range",
        )

    entity_clauses, metric_clauses = [], []
    for f, op, v in parse_filtering(params):
        if f in METRIC_FILTERS:
            metric_clauses.append((f, op, v))
        else:
            entity_clauses.append((f, op, v))
    status_filtered = any(f.endswith("effective_status") for f, _, _ in entity_clauses)
    default_summary = str(params.get("default_summary", "")).lower() == "true"
    param_int(params, "limit", minimum=0)
    return Query(level, fields, buckets, overlapping, windows, action_breakdowns, entity_clauses, metric_clauses,
                 status_filtered, default_summary)  # fmt: skip


# -- computation -------------------------------------------------------------------------------------------


@dataclass
class Totals:
    impressions: int = 0
    clicks: int = 0
    spend: int = 0
    conversions: int = 0
    value: int = 0

    def add(self, impressions: int, clicks: int, spend: int, conversions: int, value: int) -> None:
        self.impressions += impressions
        self.clicks += clicks
        self.spend += spend
        self.conversions += conversions
        self.value += value


def _major(minor: int, currency: str) -> str:
    digits = exponent(currency)
    if digits == 0:
        return str(minor)
    unit = 10**digits
    sign = "-" if minor < 0 else ""
    q, r = divmod(abs(minor), unit)
    return f"{sign}{q}.{r:0{digits}d}"


def _ratio(num: float, den: float) -> str | None:
    return None if den == 0 else f"{num / den:.6f}"


def _reach(impressions: int) -> int:
    """The sandbox does not simulate unique people; reach is impressions over a fixed frequency of 1.18."""
    return 0 if impressions == 0 else max(1, round(impressions / 1.18))


_FIGURES = ("impressions", "clicks", "spend", "conversions", "value")
_ID_FIELDS = frozenset(f for fields in LEVEL_FIELDS.values() for f in fields)
_TIME_FIELDS = frozenset(("created_time", "updated_time", "date_start", "date_stop"))
# value fields the columnar path builds itself; the others (ratios, ROAS...) come from ``_values`` row by row
_FAST_VALUES = frozenset((
    "account_currency", "impressions", "clicks", "unique_clicks", "inline_link_clicks", "spend", "buying_type",
    "attribution_setting", "actions", "action_values", "conversions", "conversion_values",
))  # fmt: skip


def _major_column(minor: list[int], currency: str) -> list[str]:
    """``_major`` of a whole column (the account's currency decides the decimals once)."""
    digits = exponent(currency)
    if digits == 0:
        return list(map(str, minor))
    if digits not in _FRACTIONS or min(minor, default=0) < 0:
        return [_major(v, currency) for v in minor]
    unit, fractions = 10**digits, _FRACTIONS[digits]
    return [f"{v // unit}.{fractions[v % unit]}" for v in minor]


_FRACTIONS = {d: [f"{i:0{d}d}" for i in range(10**d)] for d in (1, 2, 3)}  # the minor digits as written


class Insights:
    def __init__(self, g: Graph) -> None:
        self.g = g

    def _level_entity(self, ad: Ad, level: str) -> Campaign | AdSet | Ad | None:
        m = self.g.m
        if level == "campaign":
            return m.campaigns.get(ad.campaign_id)
        if level == "adset":
            return m.ad_sets.get(ad.ad_set_id)
        if level == "ad":
            return ad
        return None

    def compute(
        self, acc: Account, scope: tuple[str, str], q: Query
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Rows (already trimmed to the requested fields) and the default summary if asked for."""
        m = self.g.m
        first = min(m.day_of(b.start) for b in q.buckets)
        last = max(m.day_of(b.stop) for b in q.buckets)
        rep = m.reported(PLATFORM, acc.id, max(first, 0), last) if last >= 0 else {"ads": []}
        kind, scope_id = scope
        keep: dict[str, bool] = {}

        def wanted(ad: Ad) -> bool:
            if ad.id in keep:
                return keep[ad.id]
            ok = (
                kind == "account"
                or (kind == "campaign" and ad.campaign_id == scope_id)
                or (kind == "adset" and ad.ad_set_id == scope_id)
                or (kind == "ad" and ad.id == scope_id)
            )
            if ok and q.level != "account" and not q.status_filtered:
                entity = self._level_entity(ad, q.level)
                ok = entity is not None and self.g.effective_status(entity) not in HIDDEN_BY_DEFAULT
            if ok:
                ok = all(matches(filter_value(self.g, ad, f), op, v) for f, op, v in q.entity_clauses)
            keep[ad.id] = ok
            return ok

        ads: list[Ad] = rep["ads"]
        if not ads:
            return [], self._summary(acc, q, Totals(), scope) if q.default_summary else None
        if not q.overlapping:  # one bucket per reported day: columns (the loop below serves time_ranges)
            return self._compute_columns(acc, scope, q, rep, wanted)
        days = rep["day"].tolist()
        cols = [rep[c].tolist() for c in ("impressions", "clicks", "spend", "conversions", "value")]
        groups: dict[tuple[int, str], tuple[Ad, Totals]] = {}
        total = Totals()
        bucket_days = [(i, m.day_of(b.start), m.day_of(b.stop)) for i, b in enumerate(q.buckets)]
        for j, ad in enumerate(ads):
            if not wanted(ad):
                continue
            t = days[j]
            hits = [i for i, lo, hi in bucket_days if lo <= t <= hi]
            values = (cols[0][j], cols[1][j], cols[2][j], cols[3][j], cols[4][j])
            level_id = acc.id if q.level == "account" else getattr(self._level_entity(ad, q.level), "id", "")
            for i in hits:
                key = (i, level_id)
                if key not in groups:
                    groups[key] = (ad, Totals())
                groups[key][1].add(*values)
            total.add(*values)
        rows = []
        for (i, _level_id), (ad, tot) in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if not all(matches(self._metric(acc, tot, f), op, v) for f, op, v in q.metric_clauses):
                continue
            rows.append(self._row(acc, ad, tot, q, q.buckets[i]))
        summary = self._summary(acc, q, total, scope) if q.default_summary else None
        return rows, summary

    # -- the columnar path: every bucketing but overlapping time ranges -------------------------------------
    def _compute_columns(
        self, acc: Account, scope: tuple[str, str], q: Query, rep: dict[str, Any], wanted: Callable[[Ad], bool]
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """What the row-by-row loop computes, column by column: each (bucket, level object) group is one row.

        Buckets do not overlap here, so every reported (ad, day) lands in exactly one group. Groups are
        ordered by (bucket, level id) and each keeps the first ad it met, as the loop does.
        """
        m = self.g.m
        slot_ad: dict[int, Ad] = {ad.slot: ad for ad in rep["ads"]}
        level_id = {s: self._level_id(acc, ad, q.level) for s, ad in slot_ad.items() if wanted(ad)}
        slots: NDArray[np.int64] = rep["slot"]
        keep = np.array([s in level_id for s in slots.tolist()], dtype=bool)
        slots = slots[keep]
        days = rep["day"][keep]
        figures = np.stack([np.asarray(rep[f], dtype=np.int64)[keep] for f in _FIGURES])  # figure x row
        if q.default_summary:
            summary = self._summary(acc, q, Totals(*(int(v) for v in figures.sum(axis=1))), scope)
        else:
            summary = None
        if not len(slots):
            return [], summary
        first_day = int(days.min())
        bucket_of = np.full(int(days.max()) - first_day + 1, -1, dtype=np.int64)
        for i, b in enumerate(q.buckets):
            lo, hi = max(m.day_of(b.start), first_day), min(m.day_of(b.stop), first_day + len(bucket_of) - 1)
            if lo <= hi:
                bucket_of[lo - first_day : hi - first_day + 1] = i
        ids = sorted(set(level_id.values()))
        rank = {v: r for r, v in enumerate(ids)}
        slot_rank = np.zeros(int(slots.max()) + 1, dtype=np.int64)
        for s, v in level_id.items():
            slot_rank[s] = rank[v]
        group = bucket_of[days - first_day] * len(ids) + slot_rank[slots]
        keys, first, inverse = np.unique(group, return_index=True, return_inverse=True)
        if len(keys) != len(group):  # several ads or days in one group: add them up
            sums = np.zeros((len(_FIGURES), len(keys)), dtype=np.int64)
            for k in range(len(_FIGURES)):
                np.add.at(sums[k], inverse, figures[k])
            figures = sums
        else:
            figures = figures[:, first]
        group_slots = slots[first]
        group_buckets = (keys // len(ids)).tolist()
        if q.metric_clauses:
            kept = [
                j
                for j, totals in enumerate(zip(*(f.tolist() for f in figures), strict=True))
                if all(matches(self._metric(acc, Totals(*totals), f), op, v) for f, op, v in q.metric_clauses)
            ]
            figures, group_slots = figures[:, kept], group_slots[kept]
            group_buckets = [group_buckets[j] for j in kept]
        return self._rows(acc, q, figures, [slot_ad[s] for s in group_slots.tolist()], group_buckets), summary

    def _level_id(self, acc: Account, ad: Ad, level: str) -> str:
        if level == "account":
            return acc.id
        return str(getattr(self._level_entity(ad, level), "id", ""))

    def _rows(
        self, acc: Account, q: Query, figures: NDArray[np.int64], ads: list[Ad], buckets: list[int]
    ) -> list[dict[str, Any]]:
        """The response rows of the groups, built a field at a time; a None value leaves the field out."""
        impressions, clicks, spend, conversions, value = (figures[k].tolist() for k in range(len(_FIGURES)))
        n = len(ads)
        allowed = {f for lvl in LEVELS[: LEVELS.index(q.level) + 1] for f in LEVEL_FIELDS[lvl]}
        id_cache: dict[str, dict[str, Any]] = {}
        ids = [id_cache.get(ad.id) or id_cache.setdefault(ad.id, self._ids(acc, ad)) for ad in ads]
        starts = [b.start.isoformat() for b in q.buckets]
        stops = [b.stop.isoformat() for b in q.buckets]
        cur = acc.currency
        slow = [f for f in q.fields if f not in _FAST_VALUES and f not in _ID_FIELDS and f not in _TIME_FIELDS]
        slow_values: list[dict[str, Any]] = []
        if slow:  # ratios and the like: the row-by-row formulas, exactly
            slow_values = [self._values(acc, Totals(*t), q) for t in zip(*(f.tolist() for f in figures), strict=True)]
        counts: dict[str, list[Any]] = {}  # actions and action_values, built once for the fields that show them

        def actions(kind: str) -> list[Any]:
            if kind not in counts:
                amounts = None if kind == "actions" else _major_column(value, cur)
                counts[kind] = self._action_column(acc, q, conversions, amounts)
            return counts[kind]

        columns: dict[str, list[Any]] = {}
        for f in q.fields:
            if f in columns or f in ("date_start", "date_stop") or (f in _ID_FIELDS and f not in allowed):
                continue
            if f in _ID_FIELDS:
                columns[f] = [row.get(f) for row in ids]
            elif f in ("created_time", "updated_time"):
                columns[f] = [starts[b] for b in buckets]
            elif f == "account_currency":
                columns[f] = [cur] * n
            elif f == "impressions":
                columns[f] = list(map(str, impressions))
            elif f in ("clicks", "unique_clicks", "inline_link_clicks"):
                columns[f] = list(map(str, clicks))
            elif f == "spend":
                columns[f] = _major_column(spend, cur)
            elif f in ("buying_type", "attribution_setting"):
                columns[f] = ["AUCTION" if f == "buying_type" else "7d_click_1d_view"] * n
            elif f in ("actions", "action_values"):
                columns[f] = actions(f)
            elif f in ("conversions", "conversion_values"):  # the first action type's entry only
                full = actions("actions" if f == "conversions" else "action_values")
                columns[f] = [None if a is None else a[:1] for a in full]
            else:
                columns[f] = [v.get(f) for v in slow_values]
        columns["date_start"] = [starts[b] for b in buckets]
        columns["date_stop"] = [stops[b] for b in buckets]
        names = list(columns)
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        for name, column in columns.items():
            if None in column:
                for i, v in enumerate(column):
                    if v is None:
                        del rows[i][name]
        return rows

    def _ids(self, acc: Account, ad: Ad) -> dict[str, Any]:
        """The id and name fields a row of ``ad`` can show (a level's fields only when its object exists)."""
        m = self.g.m
        camp = m.campaigns.get(ad.campaign_id)
        ad_set = m.ad_sets.get(ad.ad_set_id)
        ids: dict[str, Any] = {"account_id": acc.id, "account_name": acc.name}
        if camp is not None:
            ids.update(campaign_id=camp.id, campaign_name=camp.name, objective=camp.objective)
        if ad_set is not None:
            goal = "OFFSITE_CONVERSIONS" if ad_set.optimization_goal == "CONVERSIONS" else ad_set.optimization_goal
            ids.update(adset_id=ad_set.id, adset_name=ad_set.name, optimization_goal=goal)
        ids.update(ad_id=ad.id, ad_name=ad.name)
        return ids

    def _action_column(
        self, acc: Account, q: Query, conversions: list[int], amounts: list[str] | None
    ) -> list[list[dict[str, Any]] | None]:
        """``actions`` (counts) or ``action_values`` (amounts) per row; None where nothing converted.

        Equal counts share one list: the rows are only ever serialized.
        """
        pixel = self.g.page_id(acc.id)[::-1]
        head: dict[str, Any] = {}
        if "action_target_id" in q.action_breakdowns:
            head["action_target_id"] = pixel
        if "action_destination" in q.action_breakdowns:
            head["action_destination"] = pixel

        # one entry per action type, keys in Graph's order; copying a template is the cheapest way to a dict
        templates = [{"action_type": t, **head, "value": "", **dict.fromkeys(q.windows, "0")} for t in PURCHASE_TYPES]
        carrying = [w for w in dict.fromkeys(q.windows) if w in CARRYING_WINDOWS]

        def entries(value: str) -> list[dict[str, Any]]:
            out = []
            for template in templates:
                entry = template.copy()
                entry["value"] = value
                for w in carrying:
                    entry[w] = value
                out.append(entry)
            return out

        if amounts is None:
            shared: dict[int, list[dict[str, Any]]] = {}
            return [None if c <= 0 else shared.get(c) or shared.setdefault(c, entries(str(c))) for c in conversions]
        return [None if c <= 0 else entries(a) for c, a in zip(conversions, amounts, strict=True)]

    def _metric(self, acc: Account, t: Totals, name: str) -> float:
        unit: int = 10 ** exponent(acc.currency)
        spend = t.spend / unit
        if name == "spend":
            return spend
        if name == "ctr":
            return 100 * t.clicks / t.impressions if t.impressions else 0.0
        if name == "cpc":
            return spend / t.clicks if t.clicks else 0.0
        if name == "cpm":
            return 1000 * spend / t.impressions if t.impressions else 0.0
        if name == "reach":
            return float(_reach(t.impressions))
        count: int = getattr(t, name)
        return float(count)

    def _summary(self, acc: Account, q: Query, t: Totals, scope: tuple[str, str]) -> dict[str, Any]:
        metric_fields = [f for f in q.fields if not f.endswith(("_id", "_name")) and f not in ("objective",
                         "optimization_goal")]  # fmt: skip
        full = self._values(acc, t, q)
        out = {f: full[f] for f in metric_fields if f in full}
        out["date_start"] = q.date_start.isoformat()
        out["date_stop"] = q.date_stop.isoformat()
        return out

    def _action_list(self, q: Query, count: int, amount: str | None, pixel: str) -> list[dict[str, Any]]:
        out = []
        for action_type in PURCHASE_TYPES:
            value = str(count) if amount is None else amount
            entry: dict[str, Any] = {"action_type": action_type}
            if "action_target_id" in q.action_breakdowns:
                entry["action_target_id"] = pixel
            if "action_destination" in q.action_breakdowns:
                entry["action_destination"] = pixel
            entry["value"] = value
            for w in q.windows:
                entry[w] = value if w in CARRYING_WINDOWS else "0"
            out.append(entry)
        return out

    def _values(self, acc: Account, t: Totals, q: Query) -> dict[str, Any]:
        cur = acc.currency
        unit = 10 ** exponent(cur)
        spend = t.spend / unit
        pixel = self.g.page_id(acc.id)[::-1]
        reach = _reach(t.impressions)
        values: dict[str, Any] = {
            "account_currency": cur,
            "impressions": str(t.impressions),
            "reach": str(reach),
            "frequency": _ratio(t.impressions, reach),
            "clicks": str(t.clicks),
            "unique_clicks": str(t.clicks),
            "inline_link_clicks": str(t.clicks),
            "spend": _major(t.spend, cur),
            "cpc": _ratio(spend, t.clicks),
            "cost_per_inline_link_click": _ratio(spend, t.clicks),
            "cpm": _ratio(1000 * spend, t.impressions),
            "cpp": _ratio(1000 * spend, reach),
            "ctr": _ratio(100 * t.clicks, t.impressions),
            "unique_ctr": _ratio(100 * t.clicks, reach),
            "inline_link_click_ctr": _ratio(100 * t.clicks, t.impressions),
            "buying_type": "AUCTION",
            "attribution_setting": "7d_click_1d_view",
        }
        if t.conversions > 0:
            amount = _major(t.value, cur)
            values["actions"] = self._action_list(q, t.conversions, None, pixel)
            values["action_values"] = self._action_list(q, t.conversions, amount, pixel)
            values["conversions"] = values["actions"][:1]
            values["conversion_values"] = values["action_values"][:1]
            cost = _ratio(spend, t.conversions)
            values["cost_per_action_type"] = [{"action_type": a, "value": cost} for a in PURCHASE_TYPES]
            values["cost_per_conversion"] = values["cost_per_action_type"][:1]
            if t.spend > 0:
                roas = _ratio(t.value / unit, spend)
                values["purchase_roas"] = [{"action_type": "omni_purchase", "value": roas}]
                values["website_purchase_roas"] = [{"action_type": PURCHASE_TYPES[0], "value": roas}]
        return values

    def _row(self, acc: Account, ad: Ad, t: Totals, q: Query, bucket: Bucket) -> dict[str, Any]:
        m = self.g.m
        values = self._values(acc, t, q)
        allowed = {f for lvl in LEVELS[: LEVELS.index(q.level) + 1] for f in LEVEL_FIELDS[lvl]}
        camp = m.campaigns.get(ad.campaign_id)
        ad_set = m.ad_sets.get(ad.ad_set_id)
        ids: dict[str, Any] = {"account_id": acc.id, "account_name": acc.name}
        if camp is not None:
            ids.update(campaign_id=camp.id, campaign_name=camp.name, objective=camp.objective)
        if ad_set is not None:
            goal = "OFFSITE_CONVERSIONS" if ad_set.optimization_goal == "CONVERSIONS" else ad_set.optimization_goal
            ids.update(adset_id=ad_set.id, adset_name=ad_set.name, optimization_goal=goal)
        ids.update(ad_id=ad.id, ad_name=ad.name)
        row: dict[str, Any] = {}
        for f in q.fields:
            if f in ids:
                if f in allowed:
                    row[f] = ids[f]
            elif f in ("created_time", "updated_time"):
                row[f] = bucket.start.isoformat()
            elif f not in ("date_start", "date_stop") and values.get(f) is not None:
                row[f] = values[f]
        row["date_start"] = bucket.start.isoformat()
        row["date_stop"] = bucket.stop.isoformat()
        return row


# -- async report runs -------------------------------------------------------------------------------------

STATUS_NOT_STARTED = "Job Not Started"
STATUS_STARTED = "Job Started"
STATUS_RUNNING = "Job Running"
STATUS_COMPLETED = "Job Completed"
STATUS_FAILED = "Job Failed"
STATUS_SKIPPED = "Job Skipped"
STALL_POLLS = 40  # a stalled job stays "Job Running" at STALL_PERCENT for this many polls, then completes
STALL_PERCENT = 37
REPORT_RUN_FIELDS = (
    "id", "account_id", "async_percent_completion", "async_report_url", "async_status", "date_start",
    "date_stop", "emails", "error_code", "error_message", "error_subcode", "error_user_msg", "error_user_title",
    "friendly_name", "is_async_export", "is_bookmarked", "is_running", "schedule_id", "time_completed",
    "time_ref",
)  # fmt: skip


def job_key(report_run_id: str) -> str:
    return f"meta:{report_run_id}"


def progress(job: dict[str, Any]) -> tuple[str, int]:
    """The status and percentage a job shows at its current poll count (deterministic).

    Normal: Started 0 → Running 100 (Graph's brief "Running at 100 %") → Completed 100 on the 3rd poll.
    Failed: Started 0 → Running 50 → Failed. Stalled: Started 0, then Running at a stuck percentage.
    """
    polls, mode = int(job["polls"]), str(job["mode"])
    if polls == 0:
        return STATUS_NOT_STARTED, 0
    if polls == 1:
        return STATUS_STARTED, 0
    if mode == "fail":
        return (STATUS_RUNNING, 50) if polls == 2 else (STATUS_FAILED, 50)
    if mode == "stall":
        return (STATUS_RUNNING, STALL_PERCENT) if polls <= 1 + STALL_POLLS else (STATUS_COMPLETED, 100)
    return (STATUS_RUNNING, 100) if polls == 2 else (STATUS_COMPLETED, 100)


def report_run_node(job: dict[str, Any]) -> dict[str, Any]:
    status, pct = progress(job)
    node: dict[str, Any] = {
        "id": job["id"],
        "account_id": job["account_id"],
        "time_ref": job["time_ref"],
        "async_status": status,
        "async_percent_completion": pct,
        "date_start": job["date_start"],
        "date_stop": job["date_stop"],
        "emails": [],
        "friendly_name": job.get("friendly_name", ""),
        "is_async_export": 0,
        "is_bookmarked": False,
        "is_running": status in (STATUS_NOT_STARTED, STATUS_STARTED, STATUS_RUNNING),
    }
    if status == STATUS_COMPLETED:
        node["time_completed"] = int(job["time_ref"]) + 2 + int(job["polls"])
    if status == STATUS_FAILED:
        node["time_completed"] = int(job["time_ref"]) + 3
        node["error_code"] = 1
        node["error_subcode"] = 99
        node["error_message"] = "An unknown error occurred"
        node["error_user_title"] = "Report Generation Failed"
        node["error_user_msg"] = "The report could not be generated. Please try again with a smaller date range."
    return node


def report_not_ready() -> GraphError:
    return GraphError(
        2601,
        "Error accessing adreport job.",
        subcode=1815107,
        transient=True,
        user_title="Loading Async Ads Report Failed",
        user_msg="Sorry, the report cannot be loaded successfully. Please check if your job status is completed "
        "instead of failed or running before fetching the data.",
    )
