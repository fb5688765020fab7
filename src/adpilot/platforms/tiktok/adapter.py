"""The TikTok adapter: the platform port on top of the Business API client and the pure mapping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import date
from typing import Any

import httpx

from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.metrics import DailyInsight, DateWindow, InsightWindow
from adpilot.domain.status import normalize_status
from adpilot.platforms._http import CallStats, RetryPolicy
from adpilot.platforms.errors import MalformedPage, RequestInvalid, SkippableError
from adpilot.platforms.tiktok import mapping
from adpilot.platforms.tiktok import settings as S
from adpilot.platforms.tiktok.client import TikTokClient
from adpilot.ports.assets import ImageSource
from adpilot.ports.insight_batch import InsightBatch, InsightColumns
from adpilot.ports.platform import ApplyResult, Connection, EntitySnapshot, LiveState, PageSink

AssetBytes = Callable[[str], bytes]
PLATFORM = "tiktok"
IMAGE_IDS_PER_REQUEST = 100  # file/image/ad/info/ takes at most 100 image ids

# stream, path, fields, id field of each entity list
ENTITY_LISTS = (
    ("campaigns", "campaign/get/", S.CAMPAIGN_FIELDS, "campaign_id"),
    ("adgroups", "adgroup/get/", S.ADGROUP_FIELDS, "adgroup_id"),
    ("ads", "ad/get/", S.AD_FIELDS, "ad_id"),
)
LIVE_FIELDS = {
    Level.CAMPAIGN: ["campaign_id", "operation_status", "secondary_status", "budget", "budget_mode"],
    Level.AD_SET: [
        "adgroup_id",
        "operation_status",
        "secondary_status",
        "budget",
        "budget_mode",
        "bid_price",
        "conversion_bid_price",
    ],
    Level.AD: ["ad_id", "operation_status", "secondary_status"],
}


def _by(field: str) -> Callable[[dict[str, Any]], Hashable | None]:
    def key(row: dict[str, Any]) -> Hashable | None:
        value = row.get(field)
        return None if value is None else str(value)

    return key


def _report_key(row: dict[str, Any]) -> Hashable | None:
    return mapping.report_key(row)


class TikTokAdapter:
    platform = Platform.TIKTOK

    def __init__(
        self,
        connection: Connection,
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_interval: float = 2.0,
        asset_bytes: AssetBytes | None = None,
    ) -> None:
        self.connection = connection
        self.api = TikTokClient(
            connection.base_url,
            dict(connection.credentials),
            client,
            policy=policy,
            sleep=sleep,
            poll_interval=poll_interval,
        )
        self.asset_bytes = asset_bytes
        self._accounts: dict[str, AdAccount] = {}
        self._image_refs: dict[str, dict[str, str]] = {}  # advertiser → ad (= creative) id → image id

    @property
    def stats(self) -> CallStats:
        return self.api.http.stats

    # -- accounts ---------------------------------------------------------------------------------------------------
    async def _advertisers(self, ids: list[str]) -> list[AdAccount]:
        params = {"advertiser_ids": ids, "fields": S.ADVERTISER_FIELDS}
        data = await self.api.get("advertiser/info/", params)
        try:
            found = [mapping.account(row) for row in mapping.page_list(data)]
        except mapping.MappingError as exc:
            raise MalformedPage(
                PLATFORM,
                str(exc),
                stream="accounts",
                body=data,
                request={"method": "GET", "path": "advertiser/info/", "params": params},
            ) from None
        self._accounts.update({a.account_id: a for a in found})
        return found

    async def accounts(self) -> list[AdAccount]:
        """The advertiser of this connection (``account_id`` is the advertiser id), if the token reaches it."""
        return await self._advertisers([self.connection.account_id])

    async def _account(self, account_id: str) -> AdAccount:
        if account_id not in self._accounts:
            await self._advertisers([account_id])
        if account_id not in self._accounts:
            raise SkippableError(PLATFORM, f"advertiser {account_id} is not reachable with this token")
        return self._accounts[account_id]

    # -- entities ---------------------------------------------------------------------------------------------------
    async def entities(self, account: AdAccount, sink: PageSink) -> EntitySnapshot:
        today = date.today()
        campaigns: list[Campaign] = []
        ad_sets: list[AdSet] = []
        ads: list[Ad] = []
        creatives: list[Creative] = []
        skipped: list[str] = []
        image_refs: dict[str, str] = {}
        for stream, path, fields, id_field in ENTITY_LISTS:
            params = {
                "advertiser_id": account.account_id,
                "fields": fields,
                "filtering": {"primary_status": S.ALL_STATUSES},
                "page_size": S.PAGE_SIZE,
            }
            rows = await self.api.collect(path, params, stream=stream, day=today, sink=sink, key=_by(id_field))
            for row in rows:
                try:
                    if stream == "campaigns":
                        campaigns.append(mapping.campaign(row, account))
                    elif stream == "adgroups":
                        ad_sets.append(mapping.ad_set(row, account))
                    else:
                        pair = mapping.ad(row, account), mapping.creative(row, account)
                        ads.append(pair[0])
                        creatives.append(pair[1])
                        if (ref := mapping.ad_image_ref(row)) is not None:
                            image_refs[pair[1].creative_id] = ref
                except ValueError as exc:  # MappingError, and the domain's own checks
                    skipped.append(f"{stream} {row.get(id_field, '?')}: {exc}")
        self._image_refs[account.account_id] = image_refs
        return EntitySnapshot(account, campaigns, ad_sets, ads, creatives, skipped=skipped)

    # -- creative images (the asset library's links) ----------------------------------------------------------------
    def creative_image_refs(self, account_id: str) -> dict[str, str]:
        return dict(self._image_refs.get(account_id, {}))

    async def image_sources(self, account: AdAccount, refs: Sequence[str]) -> dict[str, ImageSource]:
        """``file/image/ad/info/``: each image's URL, up to 100 image ids a request."""
        found: dict[str, ImageSource] = {}
        ordered = sorted(set(refs))
        for start in range(0, len(ordered), IMAGE_IDS_PER_REQUEST):
            params = {"advertiser_id": account.account_id, "image_ids": ordered[start : start + IMAGE_IDS_PER_REQUEST]}
            data = await self.api.get("file/image/ad/info/", params)
            try:
                sources = mapping.image_sources(data)
            except mapping.MappingError as exc:
                raise MalformedPage(
                    PLATFORM, str(exc), stream="images", body=data, request={"path": "file/image/ad/info/"}
                ) from None
            for ref, (url, name) in sources.items():
                if ref in params["image_ids"]:
                    found[ref] = ImageSource(ref, url, name)
        return found

    async def download_image(self, source: ImageSource) -> bytes:
        return await self.api.download_file(source.url)

    # -- insights ---------------------------------------------------------------------------------------------------
    def _report_params(self, account: AdAccount, window: DateWindow) -> dict[str, Any]:
        return {
            "advertiser_id": account.account_id,
            "report_type": S.REPORT_TYPE,
            "service_type": S.SERVICE_TYPE,
            "data_level": S.DATA_LEVEL,
            "dimensions": S.REPORT_DIMENSIONS,
            "metrics": S.REPORT_METRICS,
            "start_date": window.start.isoformat(),
            "end_date": window.end.isoformat(),
            "filtering": S.REPORT_FILTERING,
        }

    @staticmethod
    def _map_rows(
        raw: list[dict[str, Any]], account: AdAccount, window: DateWindow, request: dict[str, Any]
    ) -> InsightColumns:
        """Report rows row by row: the path for rows the column mappers leave, naming the first problem."""
        rows: list[DailyInsight] = []
        for item in raw:
            try:
                row = mapping.insight(item, account)
            except ValueError as exc:  # MappingError, and the domain's own checks
                raise MalformedPage(
                    PLATFORM, str(exc), stream="insights", body={"list": [item]}, request=request
                ) from None
            if row.day not in window:
                raise MalformedPage(
                    PLATFORM,
                    f"dimensions.stat_time_day: {row.day} outside {window.start}..{window.end}",
                    stream="insights",
                    body={"list": [item]},
                    request=request,
                )
            rows.append(row)
        cols = InsightColumns(Platform.TIKTOK, account.account_id, account.currency)
        cols.add_insights(rows)
        return cols

    async def _report(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightColumns:
        """The synchronous report, every page until ``total_page``."""
        params = {**self._report_params(account, window), "page_size": S.PAGE_SIZE}
        raw = await self.api.collect(
            "report/integrated/get/", params, stream="insights", day=window.start, sink=sink, key=_report_key
        )
        cols = mapping.insight_columns(raw, account)
        if cols is not None and cols.first_outside(window) is None:
            return cols
        request = {"method": "GET", "path": "report/integrated/get/", "params": params}
        return self._map_rows(raw, account, window, request)

    async def _task(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightColumns | None:
        """The asynchronous report task; None when it failed, stalled or came back in another layout."""
        params = self._report_params(account, window)
        text = await self.api.run_task(params, stream="insights", day=window.start, sink=sink)
        if text is None:
            return None
        cols = mapping.csv_insight_columns(text, account)
        if cols is not None and cols.first_outside(window) is None:
            return cols
        request: dict[str, Any] = {"method": "POST", "path": "report/task/create/", "params": params}
        try:
            raw = mapping.report_csv(text, S.REPORT_DIMENSIONS, S.REPORT_METRICS)
        except mapping.ReportFormatError:
            return None
        except mapping.MappingError as exc:
            raise MalformedPage(PLATFORM, str(exc), stream="insights", body=text, request=request) from None
        return self._map_rows(raw, account, window, request)

    async def insights(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightBatch:
        """Ad-level daily rows of the whole window: a report task for long windows, falling back to the
        synchronous report (30 days at most per request) when the task fails or stalls."""
        rows = InsightColumns(Platform.TIKTOK, account.account_id, account.currency)
        for chunk in window.chunks(S.MAX_REPORT_DAYS):
            got = await self._task(account, chunk, sink) if chunk.days > S.SYNC_INSIGHTS_MAX_DAYS else None
            if got is None:
                got = await self._report(account, chunk, sink)
            rows.extend(got)  # a row served twice collapses onto itself in the batch
        return rows.batch(InsightWindow(Platform.TIKTOK, account.account_id, window))

    # -- live state and writes --------------------------------------------------------------------------------------
    async def _read(self, ref: EntityRef) -> dict[str, Any]:
        """The object's live row (deleted ones included)."""
        kind = mapping.KIND.get(ref.level)
        if kind is None:
            raise RequestInvalid(PLATFORM, f"{ref}: TikTok has no live state for a {ref.level}")
        params = {
            "advertiser_id": ref.account_id,
            "fields": LIVE_FIELDS[ref.level],
            "filtering": {f"{kind}_ids": [ref.entity_id], "primary_status": S.ALL_STATUSES},
        }
        # paged like any list, so a short answer is asked again rather than read as "not found"
        rows = await self.api.collect(
            f"{kind}/get/", params, stream=f"{kind}s", day=date.today(), sink=lambda page: None, key=_by(f"{kind}_id")
        )
        for row in rows:
            if str(row.get(f"{kind}_id")) == ref.entity_id:
                return row
        raise SkippableError(PLATFORM, f"{kind} {ref.entity_id} not found under advertiser {ref.account_id}")

    def _live(self, ref: EntityRef, row: dict[str, Any], account: AdAccount) -> LiveState:
        try:
            raw = str(row.get("operation_status") or "")
            budget = mapping.daily_budget(row, account.currency) if ref.level is not Level.AD else None
            bid = mapping.bid(row, account.currency) if ref.level is Level.AD_SET else None
        except mapping.MappingError as exc:
            raise MalformedPage(PLATFORM, str(exc), stream="live_state", body=row, request={"ref": str(ref)}) from None
        return LiveState(ref, normalize_status(Platform.TIKTOK, raw), raw, budget, bid)

    async def live_state(self, ref: EntityRef) -> LiveState:
        account = await self._account(ref.account_id)
        return self._live(ref, await self._read(ref), account)

    @staticmethod
    def _state_dict(state: LiveState) -> dict[str, Any]:
        return {
            "status": state.platform_status,
            "daily_budget": None if state.daily_budget is None else state.daily_budget.minor,
            "bid": None if state.bid is None else state.bid.minor,
        }

    async def apply(self, action: Action) -> ApplyResult:
        if isinstance(action, LaunchAd):
            return await self._launch(action)
        ref = action.target
        account = await self._account(ref.account_id)
        row = await self._read(ref)
        before = self._live(ref, row, account)
        bid_to = mapping.bid_field(row) if isinstance(action, SetBid) else "bid_price"
        try:
            path, body = mapping.action_request(action, account.account_id, account.currency, bid_to=bid_to)
        except mapping.MappingError as exc:
            raise RequestInvalid(PLATFORM, f"{ref}: {exc}") from None
        data = await self.api.post(path, body)
        if isinstance(action, Pause | Resume):
            errors = mapping.status_update_errors(data, mapping.KIND[ref.level], ref.entity_id)
            if errors:
                raise RequestInvalid(PLATFORM, f"{ref}: {'; '.join(errors)}")
        after = await self.live_state(ref)
        return ApplyResult(ref, True, self._state_dict(before), self._state_dict(after))

    async def upload_image(self, account: AdAccount, data: bytes, name: str) -> str:
        form = mapping.image_upload_form(account.account_id, data, name)
        files = {"image_file": (name, data, mapping.image_mime(data))}
        answer = await self.api.post_form("file/image/ad/upload/", form, files)
        try:
            return mapping.uploaded_image_id(answer)
        except mapping.MappingError as exc:
            raise RequestInvalid(PLATFORM, f"image upload: {exc}") from None

    async def _launch(self, action: LaunchAd) -> ApplyResult:
        account = await self._account(action.target.account_id)
        if self.asset_bytes is None:
            raise RequestInvalid(PLATFORM, "a TikTok ad needs its image uploaded: no asset reader (asset_bytes) is set")
        data = self.asset_bytes(action.asset_ids[0])
        extension = "jpg" if mapping.image_mime(data) == "image/jpeg" else "png"
        image_id = await self.upload_image(account, data, f"{action.name}.{extension}")
        creds = self.connection.credentials
        try:
            body = mapping.launch_request(
                action,
                account.account_id,
                image_id,
                identity_id=creds.get("identity_id"),
                identity_type=creds.get("identity_type", "CUSTOMIZED_USER"),
                display_name=creds.get("display_name"),
            )
        except mapping.MappingError as exc:
            raise RequestInvalid(PLATFORM, f"{action.target}: {exc}") from None
        created = await self.api.post("ad/create/", body)
        try:
            ad_id = mapping.created_ad_id(created)
        except mapping.MappingError as exc:
            raise RequestInvalid(PLATFORM, f"ad/create/ answered without an ad id ({exc})") from None
        ref = EntityRef(Platform.TIKTOK, account.account_id, Level.AD, ad_id)
        after = self._state_dict(await self.live_state(ref))
        return ApplyResult(ref, True, {}, {**after, "creative_id": ad_id, "image_id": image_id}, created_id=ad_id)

    async def aclose(self) -> None:
        return None
