"""X Ads analytics: synchronous stats, asynchronous stats jobs (gzip files) and active entities.

Figures come from ``Market.reported`` (what the platform reports now, per ad and day). A day is the
account's local day, expressed in UTC (``2026-03-01T05:00:00Z`` for New York in winter). HOUR figures
split each day deterministically over its local hours, exactly (the hours of a day add up to the day),
so every granularity and every entity level agrees with the ad-level truth.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
from numpy.typing import NDArray
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from adpilot_sandbox.entities import Account, exponent
from adpilot_sandbox.http import json_response
from adpilot_sandbox.noise import stable_key
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.x_oauth import Ctx, Params, XError, invalid, missing, paginate

ENTITIES = (
    "ACCOUNT", "FUNDING_INSTRUMENT", "CAMPAIGN", "LINE_ITEM", "PROMOTED_TWEET", "ORGANIC_TWEET",
    "PROMOTED_ACCOUNT", "MEDIA_CREATIVE",
)  # fmt: skip
GRANULARITIES = ("HOUR", "DAY", "TOTAL")
PLACEMENTS = ("ALL_ON_TWITTER", "PUBLISHER_NETWORK", "SPOTLIGHT", "TREND")
METRIC_GROUPS = (
    "ENGAGEMENT", "BILLING", "VIDEO", "MEDIA", "WEB_CONVERSION", "MOBILE_CONVERSION",
    "LIFE_TIME_VALUE_MOBILE_CONVERSION",
)  # fmt: skip
ACTIVE_ENTITIES = (
    "CAMPAIGN", "FUNDING_INSTRUMENT", "LINE_ITEM", "MEDIA_CREATIVE", "PROMOTED_ACCOUNT", "PROMOTED_TWEET",
)  # fmt: skip
_AGES = (
    ("13 to 24", "AGE_13_TO_24", 21), ("25 to 34", "AGE_25_TO_34", 31), ("35 to 44", "AGE_35_TO_44", 22),
    ("45 to 54", "AGE_45_TO_54", 15), ("55 and over", "AGE_OVER_55", 11),
)  # fmt: skip
# segmentation the sandbox can split deterministically: (segment_name, segment_value, weight)
SEGMENTS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "GENDER": (("Male", "m", 52), ("Female", "f", 46), ("Unknown", "u", 2)),
    "AGE": _AGES,
    "PLATFORMS": (("iOS", "0", 47), ("Android", "1", 38), ("Desktop and web", "4", 15)),
}
VIDEO_METRICS = (
    "video_total_views", "video_views_25", "video_views_50", "video_views_75", "video_views_100",
    "video_cta_clicks", "video_content_starts", "video_3s100pct_views", "video_6s_views", "video_15s_views",
)  # fmt: skip
MAX_IDS = 20
CONCURRENT_JOBS = 100
JOB_POLLS_TO_FINISH = 2  # the second poll of a job sees it done
JOB_POLLS_STALLED = 25
ASYNC_PREFIX = "/advertiser-api-async-analytics/"

# relative delivery by local hour of day (a deterministic diurnal curve)
_AM = (35, 25, 20, 18, 20, 30, 50, 75, 90, 100, 100, 100)
_PM = (105, 100, 95, 95, 100, 110, 125, 135, 140, 130, 100, 60)
_HOUR_PROFILE = np.array(_AM + _PM, dtype=np.int64)
_METRICS = ("impressions", "clicks", "spend", "conversions", "value")
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)

IntArray = NDArray[np.int64]


def funding_instrument_id(acc: Account) -> str:
    """The account's one funding instrument (an insertion order), a stable base-36 id."""
    n = stable_key("x-funding-instrument", acc.id) % (36**5) + 36**4
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out


@functools.lru_cache(maxsize=4096)
def iso(dt: datetime) -> str:
    """An instant as X writes it (UTC, whole seconds); job listings repeat a few instants many times."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micros_factor(currency: str) -> int:
    return int(10 ** (6 - exponent(currency)))


def local_midnight(tz: ZoneInfo, d: date) -> datetime:
    return datetime.combine(d, time(0), tz).astimezone(UTC)


def parse_time(value: str, name: str, tz: ZoneInfo) -> datetime:
    """ISO 8601; a bare date is the account's local midnight. Must be a whole hour."""
    try:
        if len(value) == 10:
            return local_midnight(tz, date.fromisoformat(value))
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(name, f'{name} must be an ISO 8601 time, e.g. 2026-03-01T05:00:00Z, got "{value}"') from None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if dt.minute or dt.second or dt.microsecond:
        raise invalid(name, f"{name} must be expressed in whole hours (0 minutes and 0 seconds)")
    return dt


@dataclass
class StatsQuery:
    entity: str
    ids: list[str]
    start: datetime
    end: datetime
    granularity: str
    placement: str
    groups: list[str]
    segmentation: str | None = None

    def echo(self, account_id: str) -> dict[str, Any]:
        return {
            "account_id": account_id, "entity": self.entity, "entity_ids": self.ids,
            "start_time": iso(self.start), "end_time": iso(self.end), "granularity": self.granularity,
            "placement": self.placement, "metric_groups": self.groups,
            **({"segmentation_type": self.segmentation} if self.segmentation else {}),
        }  # fmt: skip


def parse_query(params: Params, acc: Account, *, max_days: int, job: bool = False) -> StatsQuery:
    tz = ZoneInfo(acc.timezone)
    entity = params.enum("entity", ENTITIES)
    if entity is None:
        raise missing("entity")
    ids = list(dict.fromkeys(params.id_list("entity_ids", limit=MAX_IDS) or []))
    if not ids:
        raise missing("entity_ids")
    start = parse_time(params.require("start_time"), "start_time", tz)
    end = parse_time(params.require("end_time"), "end_time", tz)
    granularity = params.enum("granularity", GRANULARITIES)
    if granularity is None:
        raise missing("granularity")
    placement = params.enum("placement", PLACEMENTS)
    if placement is None:
        raise missing("placement")
    raw_groups = params.require("metric_groups")
    groups = list(dict.fromkeys(g.strip().upper() for g in raw_groups.split(",") if g.strip()))
    bad = [g for g in groups if g not in METRIC_GROUPS]
    if bad or not groups:
        raise invalid("metric_groups", f"metric_groups must be among {', '.join(METRIC_GROUPS)}, got {raw_groups}")
    segmentation = None
    if job:
        segmentation = params.get("segmentation_type")
        if segmentation is not None:
            segmentation = segmentation.upper()
            if segmentation not in SEGMENTS:
                raise invalid(
                    "segmentation_type",
                    f"segmentation_type {segmentation} is not available in the sandbox; use one of "
                    + ", ".join(SEGMENTS),
                )
            max_days = 45
    elif params.get("segmentation_type") is not None:
        raise invalid("segmentation_type", "segmentation is only available through asynchronous stats jobs")
    if end <= start:
        raise invalid("end_time", "end_time must be after start_time")
    if end - start > timedelta(days=max_days, hours=1):
        raise invalid("end_time", f"The time range between start_time and end_time must not exceed {max_days} days")
    if granularity == "DAY":
        for name, moment in (("start_time", start), ("end_time", end)):
            local = moment.astimezone(tz)
            if local_midnight(tz, local.date()) != moment:
                raise invalid(
                    name,
                    f"{name} must be aligned with midnight in the account's time zone ({acc.timezone}) "
                    f"for DAY granularity, e.g. {iso(local_midnight(tz, local.date()))}",
                )
    return StatsQuery(entity, ids, start, end, granularity, placement, groups, segmentation)


# -- exact integer splitting ---------------------------------------------------------------------------
def split_exact(totals: IntArray, weights: IntArray) -> IntArray:
    """Split each total over its row of positive integer weights exactly (largest remainder)."""
    n, k = weights.shape
    if n == 0:
        return np.zeros((0, k), dtype=np.int64)
    wsum = weights.sum(axis=1, keepdims=True)
    num = totals[:, None] * weights
    base = num // wsum
    rem = num % wsum
    left = totals - base.sum(axis=1)
    order = np.argsort(-rem, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(k), (n, k)).copy(), axis=1)
    return np.asarray(base + (rank < left[:, None]), dtype=np.int64)


def _hash_u(keys: NDArray[np.uint64], day: int, hours: NDArray[np.int64]) -> NDArray[np.float64]:
    with np.errstate(over="ignore"):
        x = keys[:, None] ^ (np.uint64(day + 1) * _GOLD) ^ (hours[None, :].astype(np.uint64) * _M1)
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        x = x ^ (x >> np.uint64(31))
    return np.asarray((x >> np.uint64(11)).astype(np.float64) / 9007199254740992.0)


# -- the stats computation -----------------------------------------------------------------------------
def _entity_lookup(sandbox: Sandbox, acc: Account, q: StatsQuery) -> NDArray[np.int64]:
    """slot -> index of the requested entity the ad rolls up to (-1: not requested)."""
    m = sandbox.market
    objects: Mapping[str, Any] = {}
    if q.entity == "PROMOTED_TWEET":
        objects = m.ads
    elif q.entity == "LINE_ITEM":
        objects = m.ad_sets
    elif q.entity == "CAMPAIGN":
        objects = m.campaigns
    elif q.entity in ("ACCOUNT", "FUNDING_INSTRUMENT"):
        objects = {acc.id if q.entity == "ACCOUNT" else funding_instrument_id(acc): acc}
    found = {i: objects.get(i) for i in q.ids}
    unknown = [
        i for i, o in found.items() if o is None or o.platform != "x" or getattr(o, "account_id", o.id) != acc.id
    ]
    if unknown:
        raise invalid("entity_ids", f"{q.entity} entities not found in account {acc.id}: {', '.join(unknown)}")
    lookup = np.full(len(m.slots), -1, dtype=np.int64)
    if q.entity == "PROMOTED_TWEET":  # no need to scan the account's ads
        for i, eid in enumerate(q.ids):
            lookup[m.ads[eid].slot] = i
        return lookup
    index = {eid: i for i, eid in enumerate(q.ids)}
    attr = {"LINE_ITEM": "ad_set_id", "CAMPAIGN": "campaign_id"}.get(q.entity)
    for ad in m.ads_of("x", acc.id):
        j = index.get(getattr(ad, attr)) if attr else 0
        if j is not None:
            lookup[ad.slot] = j
    return lookup


def compute(sandbox: Sandbox, acc: Account, q: StatsQuery) -> tuple[int, IntArray]:
    """(time_series_length, values[entity, metric, bucket]) in minor units for money."""
    m = sandbox.market
    tz = ZoneInfo(acc.timezone)
    if q.granularity == "HOUR":
        n_buckets = int((q.end - q.start) / timedelta(hours=1))
    elif q.granularity == "DAY":
        n_buckets = (q.end.astimezone(tz).date() - q.start.astimezone(tz).date()).days
    else:
        n_buckets = 1
    values = np.zeros((len(q.ids), len(_METRICS), n_buckets), dtype=np.int64)
    lookup = _entity_lookup(sandbox, acc, q)
    if q.placement != "ALL_ON_TWITTER":
        return n_buckets, values  # the sandbox delivers on X itself only
    first_date = q.start.astimezone(tz).date()
    last_date = (q.end - timedelta(hours=1)).astimezone(tz).date()
    first, last = m.day_of(first_date), m.day_of(last_date)
    # only the requested entities' ads: a job of 20 promoted tweets must not build the whole account's rows
    wanted = None if q.entity in ("ACCOUNT", "FUNDING_INSTRUMENT") else np.flatnonzero(lookup >= 0)
    rep = m.reported("x", acc.id, first, last, slots=wanted)
    if not len(rep["slot"]):
        return n_buckets, values
    ent = lookup[rep["slot"]]
    keep = ent >= 0
    ent, days = ent[keep], rep["day"][keep]
    cols = np.stack([np.asarray(rep[k], dtype=np.int64)[keep] for k in _METRICS])  # metric x row
    aligned = local_midnight(tz, first_date) == q.start and local_midnight(tz, q.end.astimezone(tz).date()) == q.end
    if aligned and q.granularity != "HOUR":
        bucket = days - m.day_of(first_date) if q.granularity == "DAY" else np.zeros_like(days)
        for k in range(len(_METRICS)):
            np.add.at(values[:, k, :], (ent, bucket), cols[k])
        return n_buckets, values
    slots = rep["slot"][keep]
    keys = np.array([m.slots[int(s)].key for s in slots], dtype=np.uint64)
    for t in np.unique(days):
        rows = np.nonzero(days == t)[0]
        d = m.date_of(int(t))
        midnight = local_midnight(tz, d)
        n_hours = int((local_midnight(tz, d + timedelta(days=1)) - midnight) / timedelta(hours=1))
        utc_hours = [midnight + timedelta(hours=h) for h in range(n_hours)]
        local_hours = np.array([h.astimezone(tz).hour for h in utc_hours], dtype=np.int64)
        u = _hash_u(keys[rows], int(t), np.arange(n_hours, dtype=np.int64))
        weights = (_HOUR_PROFILE[local_hours][None, :] * (800 + (400 * u).astype(np.int64))).astype(np.int64)
        offset = int((midnight - q.start) / timedelta(hours=1)) + np.arange(n_hours)
        inside = (offset >= 0) & (offset < int((q.end - q.start) / timedelta(hours=1)))
        bucket = offset if q.granularity == "HOUR" else np.zeros_like(offset)
        target = (ent[rows][:, None], bucket[inside][None, :])
        for k in range(len(_METRICS)):
            parts = split_exact(cols[k, rows], weights)  # row x hour
            np.add.at(values[:, k, :], target, parts[:, inside])
    return n_buckets, values


def _series(values: list[int], factor: int = 1) -> list[int] | None:
    """A metric's values as JSON integers (Python's, so micros never overflow), or null when all are zero."""
    if not any(values):
        return None
    return values if factor == 1 else [v * factor for v in values]


def metrics_of(v: IntArray, groups: list[str], currency: str) -> dict[str, Any]:
    """One entity's metrics: v[metric, bucket] → the X metric groups (arrays or null).

    Each distinct series is rendered once and shared by the metrics that report it (clicks are also
    engagements, URL clicks and billed engagements): the document is only ever serialized.
    """
    f = micros_factor(currency)
    rows = v.tolist()  # one conversion for the entity's five series
    impressions, clicks, conversions = _series(rows[0]), _series(rows[1]), _series(rows[3])
    spend, value = _series(rows[2], f), _series(rows[4], f)
    out: dict[str, Any] = {}
    for group in groups:
        if group == "ENGAGEMENT":
            out.update(
                impressions=impressions, engagements=clicks, clicks=clicks,
                url_clicks=clicks, retweets=None, replies=None, likes=None, follows=None,
                unfollows=None, card_engagements=None, app_clicks=None, qualified_impressions=None,
                carousel_swipes=None, poll_card_vote=None, tweets_send=None, media_engagements=None,
            )  # fmt: skip
        elif group == "BILLING":
            out.update(billed_engagements=clicks, billed_charge_local_micro=spend)
        elif group == "VIDEO":
            out.update(dict.fromkeys(VIDEO_METRICS))
        elif group == "MEDIA":
            out.update(media_views=None, media_engagements=None)
        elif group == "WEB_CONVERSION":
            purchases = {
                "metric": conversions, "post_view": None, "post_engagement": conversions,
                "assisted": None, "order_quantity": conversions, "sale_amount": value,
            }  # fmt: skip
            empty = dict.fromkeys(purchases)  # all-zero series are null
            out["conversion_purchases"] = purchases
            for other in ("sign_ups", "site_visits", "downloads", "custom"):
                out[f"conversion_{other}"] = dict(empty)
        elif group == "MOBILE_CONVERSION":
            for name in ("installs", "purchases", "sign_ups"):
                out[f"mobile_conversion_{name}"] = {
                    "post_view": None,
                    "post_engagement": None,
                    "assisted": None,
                }
        elif group == "LIFE_TIME_VALUE_MOBILE_CONVERSION":
            out.update(
                mobile_conversion_lifetime_value_purchases=None,
                mobile_conversion_lifetime_value_sign_ups=None,
            )
    return out


def stats_body(sandbox: Sandbox, acc: Account, q: StatsQuery) -> dict[str, Any]:
    n, values = compute(sandbox, acc, q)
    data: list[dict[str, Any]] = []
    for i, eid in enumerate(q.ids):
        if q.segmentation is None:
            id_data = [{"segment": None, "metrics": metrics_of(values[i], q.groups, acc.currency)}]
        else:
            segs = SEGMENTS[q.segmentation]
            weights = np.array([[w for _, _, w in segs]], dtype=np.int64)
            flat = values[i].reshape(-1)
            parts = split_exact(flat, np.repeat(weights, len(flat), axis=0))  # (metric*bucket) x segment
            id_data = [
                {
                    "segment": {"segment_name": name, "segment_value": value},
                    "metrics": metrics_of(parts[:, s].reshape(values[i].shape), q.groups, acc.currency),
                }
                for s, (name, value, _) in enumerate(segs)
            ]
        data.append({"id": eid, "id_data": id_data})
    return {
        "data_type": "stats",
        "time_series_length": n,
        "data": data,
        "request": {"params": q.echo(acc.id)},
    }


# -- active entities -----------------------------------------------------------------------------------
def active_entities(sandbox: Sandbox, acc: Account, params: Params) -> list[dict[str, Any]]:
    m = sandbox.market
    tz = ZoneInfo(acc.timezone)
    entity = params.enum("entity", ACTIVE_ENTITIES)
    if entity is None:
        raise missing("entity")
    start = parse_time(params.require("start_time"), "start_time", tz)
    end = parse_time(params.require("end_time"), "end_time", tz)
    if end <= start:
        raise invalid("end_time", "end_time must be after start_time")
    if end - start > timedelta(days=90, hours=1):
        raise invalid("end_time", "The time range between start_time and end_time must not exceed 90 days")
    filters = {name: params.id_list(name) for name in ("campaign_ids", "funding_instrument_ids", "line_item_ids")}
    first = m.day_of(start.astimezone(tz).date())
    last = m.day_of((end - timedelta(hours=1)).astimezone(tz).date())
    rep = m.reported("x", acc.id, first, last)
    fi = funding_instrument_id(acc)
    spans: dict[str, tuple[datetime, datetime]] = {}
    for i, ad in enumerate(rep["ads"]):
        if filters["campaign_ids"] is not None and ad.campaign_id not in filters["campaign_ids"]:
            continue
        if filters["line_item_ids"] is not None and ad.ad_set_id not in filters["line_item_ids"]:
            continue
        if filters["funding_instrument_ids"] is not None and fi not in filters["funding_instrument_ids"]:
            continue
        key = {"CAMPAIGN": ad.campaign_id, "LINE_ITEM": ad.ad_set_id, "PROMOTED_TWEET": ad.id,
               "FUNDING_INSTRUMENT": fi}.get(entity)  # fmt: skip
        if key is None:
            continue
        d = m.date_of(int(rep["day"][i]))
        lo = max(local_midnight(tz, d), start)
        hi = min(local_midnight(tz, d + timedelta(days=1)), end)
        if lo >= hi:
            continue
        old = spans.get(key)
        spans[key] = (min(old[0], lo), max(old[1], hi)) if old else (lo, hi)
    return [
        {
            "entity_id": key,
            "activity_start_time": iso(lo),
            "activity_end_time": iso(hi),
            "placements": ["ALL_ON_TWITTER"],
        }
        for key, (lo, hi) in spans.items()
    ]


# -- asynchronous jobs ---------------------------------------------------------------------------------
def _job_key(job_id: str) -> str:
    return f"x:job:{job_id}"


def create_job(sandbox: Sandbox, acc: Account, q: StatsQuery) -> dict[str, Any]:
    n = sum(1 for k in sandbox.jobs if k.startswith("x:job:")) + 1
    job_id = str(1_030_000_000_000_000_000 + n * 7919 + stable_key(sandbox.scenario.seed, "x-job") % 7919)
    stalled = sandbox.faults.decide("x", "async_stall")
    failed = sandbox.faults.decide("x", "async_fail")
    now = sandbox.market.now
    job: dict[str, Any] = {
        "platform": "x", "id": job_id, "account_id": acc.id, "query": q, "status": "PROCESSING",
        "polls": 0, "finish_after": JOB_POLLS_STALLED if stalled else JOB_POLLS_TO_FINISH, "fail": failed,
        "created_at": now, "updated_at": now, "url": None, "expires_at": None, "file": None, "name": None,
    }  # fmt: skip
    sandbox.jobs[_job_key(job_id)] = job
    return job


def jobs_of(sandbox: Sandbox, account_id: str) -> list[dict[str, Any]]:
    return [j for k, j in sandbox.jobs.items() if k.startswith("x:job:") and j["account_id"] == account_id]


def poll(sandbox: Sandbox, acc: Account, job: dict[str, Any], base_url: str) -> None:
    """A status read of a job: it finishes (or fails) after a fixed number of polls."""
    job["polls"] += 1
    if job["status"] != "PROCESSING" or job["polls"] < job["finish_after"]:
        return
    now = sandbox.market.now
    job["updated_at"] = now
    if job["fail"]:
        job["status"] = "FAILED"
        return
    body = stats_body(sandbox, acc, job["query"])
    name = hashlib.sha256(f"{sandbox.scenario.seed}:{job['id']}".encode()).hexdigest()[:40] + ".json.gz"
    # The file is gzip JSON, as X's are; the fastest level: the compressed bytes are no part of the contract.
    job["file"] = gzip.compress(orjson.dumps(body), compresslevel=1, mtime=0)
    job["name"] = name
    _file_index(sandbox)[name] = _job_key(job["id"])
    job["url"] = f"{base_url.rstrip('/')}{ASYNC_PREFIX}{name}"
    job["expires_at"] = now + timedelta(days=7)
    job["status"] = "SUCCESS"


def _file_index(sandbox: Sandbox) -> dict[str, str]:
    """Result file name → job key, kept beside the jobs (a backfill downloads hundreds of files)."""
    holder = sandbox.jobs.setdefault("x:files", {"platform": "x", "kind": "file-index", "names": {}})
    names: dict[str, str] = holder["names"]
    return names


def job_file(sandbox: Sandbox, name: str) -> bytes | None:
    job = sandbox.jobs.get(_file_index(sandbox).get(name, ""))
    if job is None or job.get("name") != name:
        return None
    return bytes(job["file"])


def render_job(job: dict[str, Any]) -> dict[str, Any]:
    q: StatsQuery = job["query"]
    return {
        "id": int(job["id"]), "id_str": job["id"], "status": job["status"], "url": job["url"],
        "expires_at": iso(job["expires_at"]) if job["expires_at"] else None, "account_id": job["account_id"],
        "entity": q.entity, "entity_ids": q.ids, "granularity": q.granularity, "placement": q.placement,
        "metric_groups": q.groups, "segmentation_type": q.segmentation, "country": None, "platform": None,
        "start_time": iso(q.start), "end_time": iso(q.end), "created_at": iso(job["created_at"]),
        "updated_at": iso(job["updated_at"]),
    }  # fmt: skip


# -- the analytics endpoints ---------------------------------------------------------------------------
class XReports:
    """Handlers of ``/stats/...`` (through the X request pipeline) and of the async result files."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def stats(self, ctx: Ctx) -> Response:
        q = parse_query(ctx.params, ctx.acc, max_days=7)
        return json_response(stats_body(self.sandbox, ctx.acc, q))

    async def active(self, ctx: Ctx) -> Response:
        return ctx.ok(active_entities(self.sandbox, ctx.acc, ctx.params))

    async def job_create(self, ctx: Ctx) -> Response:
        running = sum(1 for j in jobs_of(self.sandbox, ctx.acc.id) if j["status"] == "PROCESSING")
        if running >= CONCURRENT_JOBS:
            message = f"At most {CONCURRENT_JOBS} jobs may be processing at once"
            raise XError(429, "TOO_MANY_REQUESTS", message)
        q = parse_query(ctx.params, ctx.acc, max_days=90, job=True)
        job = create_job(self.sandbox, ctx.acc, q)
        response = json_response({"request": {"params": q.echo(ctx.acc.id)}, "data": render_job(job)})
        response.headers["x-concurrent-job-limit"] = str(CONCURRENT_JOBS)
        response.headers["x-concurrent-job-limit-remaining"] = str(CONCURRENT_JOBS - running - 1)
        return response

    async def jobs(self, ctx: Ctx) -> Response:
        ids = ctx.params.id_list("job_ids")
        rows = []
        for job in jobs_of(self.sandbox, ctx.acc.id):
            if ids is None or job["id"] in ids:
                poll(self.sandbox, ctx.acc, job, ctx.base_url)
                rows.append(render_job(job))
        return paginate(self.sandbox, ctx, rows, "analytics")

    async def job_cancel(self, ctx: Ctx) -> Response:
        job = next((j for j in jobs_of(self.sandbox, ctx.acc.id) if j["id"] == ctx.entity_id), None)
        if job is None:
            raise XError(404, "NOT_FOUND", f"Job {ctx.entity_id} was not found", "job_id")
        if job["status"] == "PROCESSING":
            job.update(status="CANCELLED", updated_at=self.sandbox.market.now)
        return ctx.ok(render_job(job))

    async def download(self, request: Request) -> Response:
        """The result file (the sandbox's stand-in for ton.twimg.com): gzip, no authentication needed."""
        data = job_file(self.sandbox, request.path_params["name"])
        if data is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return Response(data, media_type="application/gzip")

    def file_routes(self) -> list[BaseRoute]:
        return [Route(f"{ASYNC_PREFIX}{{name}}", self.download, methods=["GET"])]
