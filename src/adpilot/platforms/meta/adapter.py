"""The Meta adapter: the platform port on top of the Graph client and the pure mapping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

import httpx

from adpilot.domain.actions import Action, LaunchAd
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.metrics import DailyInsight, DateWindow, InsightWindow
from adpilot.domain.money import Money
from adpilot.domain.status import normalize_status
from adpilot.platforms._http import RetryPolicy
from adpilot.platforms.errors import MalformedPage, RequestInvalid
from adpilot.platforms.meta import mapping
from adpilot.platforms.meta import settings as S
from adpilot.platforms.meta.client import MetaClient
from adpilot.ports.assets import ImageSource
from adpilot.ports.insight_batch import InsightBatch, InsightColumns
from adpilot.ports.platform import ApplyResult, Connection, EntitySnapshot, LiveState, PageSink

AssetBytes = Callable[[str], bytes]
IMAGE_FIELDS = "hash,name,url,permalink_url,width,height"
IMAGE_HASHES_PER_REQUEST = 50

# Insight rows asked for per page. Graph treats ``limit`` as a maximum and edges may cap it lower; each page
# is a request and a raw file in the lake, so 140,000 ad-days are 28 pages rather than 280 at the list
# default. When a page is too heavy Meta answers "reduce the amount of data" and the client halves the
# limit for the rest of the listing (see ``MetaClient.pages``).
INSIGHTS_PAGE_LIMIT = 5000


class MetaAdapter:
    platform = Platform.META

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
        self.api = MetaClient(
            connection.base_url,
            dict(connection.credentials),
            client,
            policy=policy,
            sleep=sleep,
            poll_interval=poll_interval,
        )
        self.asset_bytes = asset_bytes
        self._accounts: dict[str, AdAccount] = {}
        self._image_refs: dict[str, dict[str, str]] = {}  # account → creative id → image hash

    @property
    def stats(self) -> Any:
        return self.api.http.stats

    async def accounts(self) -> list[AdAccount]:
        found: list[AdAccount] = []
        async for rows in self.api.pages(
            "me/adaccounts", {"fields": S.ACCOUNT_FIELDS}, stream="accounts", day=date.today(), sink=lambda page: None
        ):
            found.extend(mapping.account(r) for r in rows)
        self._accounts = {a.account_id: a for a in found}
        return found

    async def _account(self, account_id: str) -> AdAccount:
        if account_id not in self._accounts:
            row = await self.api.get(account_id, {"fields": S.ACCOUNT_FIELDS})
            self._accounts[account_id] = mapping.account(row)
        return self._accounts[account_id]

    async def entities(self, account: AdAccount, sink: PageSink) -> EntitySnapshot:
        today = date.today()
        statuses = {"effective_status": S.ALL_EFFECTIVE_STATUSES}
        out: dict[str, list[Any]] = {"campaigns": [], "adsets": [], "ads": [], "adcreatives": []}
        fields = {
            "campaigns": S.CAMPAIGN_FIELDS,
            "adsets": S.ADSET_FIELDS,
            "ads": S.AD_FIELDS,
            "adcreatives": S.CREATIVE_FIELDS,
        }
        mappers: dict[str, Callable[[dict[str, Any], AdAccount], Any]] = {
            "campaigns": mapping.campaign,
            "adsets": mapping.ad_set,
            "ads": mapping.ad,
            "adcreatives": mapping.creative,
        }
        skipped: list[str] = []
        image_refs: dict[str, str] = {}
        for edge in out:
            params: dict[str, Any] = {"fields": fields[edge], **(statuses if edge != "adcreatives" else {})}
            async for rows in self.api.pages(f"{account.account_id}/{edge}", params, stream=edge, day=today, sink=sink):
                for row in rows:
                    try:
                        out[edge].append(mappers[edge](row, account))
                    except (mapping.MappingError, ValueError) as exc:
                        skipped.append(f"{edge} {row.get('id', '?') if isinstance(row, dict) else '?'}: {exc}")
                        continue
                    if edge == "adcreatives" and (ref := mapping.creative_image_ref(row)) is not None:
                        image_refs[out[edge][-1].creative_id] = ref
        self._image_refs[account.account_id] = image_refs
        campaigns: list[Campaign] = out["campaigns"]
        ad_sets: list[AdSet] = out["adsets"]
        ads: list[Ad] = out["ads"]
        creatives: list[Creative] = out["adcreatives"]
        return EntitySnapshot(account, campaigns, ad_sets, ads, creatives, skipped=skipped)

    # -- creative images (the asset library's links) -----------------------------------------------------
    def creative_image_refs(self, account_id: str) -> dict[str, str]:
        return dict(self._image_refs.get(account_id, {}))

    async def image_sources(self, account: AdAccount, refs: Sequence[str]) -> dict[str, ImageSource]:
        """``GET act_<id>/adimages?hashes=[...]``: each image's URL, a batch of hashes at a time."""
        found: dict[str, ImageSource] = {}
        wanted = set(refs)
        ordered = sorted(wanted)
        for start in range(0, len(ordered), IMAGE_HASHES_PER_REQUEST):
            params = {"fields": IMAGE_FIELDS, "hashes": ordered[start : start + IMAGE_HASHES_PER_REQUEST]}
            async for rows in self.api.pages(
                f"{account.account_id}/adimages", params, stream="adimages", day=date.today(), sink=lambda page: None
            ):
                for ref, (url, name) in mapping.image_sources(rows).items():
                    if ref in wanted:
                        found[ref] = ImageSource(ref, url, name)
        return found

    async def download_image(self, source: ImageSource) -> bytes:
        return await self.api.download(source.url)

    def _insight_params(self, window: DateWindow) -> dict[str, Any]:
        return {
            "level": "ad",
            "time_increment": "1",
            "time_range": {"since": window.start.isoformat(), "until": window.end.isoformat()},
            "fields": S.INSIGHT_FIELDS,
            "action_attribution_windows": S.ATTRIBUTION_WINDOWS,
        }

    async def _collect(
        self,
        path: str,
        params: dict[str, Any],
        account: AdAccount,
        window: DateWindow,
        sink: PageSink,
        into: InsightColumns,
    ) -> None:
        """Every page of a report, mapped to columns as it arrives. A page the column mapper does not vouch
        for, or with a day outside the window, is mapped row by row, which names the first problem."""
        async for page in self.api.pages(path, params, stream="insights", day=window.start, sink=sink):
            cols = mapping.insight_columns(page, account)
            if cols is None or cols.first_outside(window) is not None:
                cols = InsightColumns(Platform.META, account.account_id, account.currency)
                cols.add_insights(self._rows(page, account, window, path))
            into.extend(cols)

    @staticmethod
    def _rows(page: list[Any], account: AdAccount, window: DateWindow, path: str) -> list[DailyInsight]:
        rows: list[DailyInsight] = []
        for raw in page:
            try:
                row = mapping.insight(raw, account)
            except (mapping.MappingError, ValueError) as exc:
                raise MalformedPage(
                    "meta",
                    str(exc),
                    stream="insights",
                    body={"data": page},
                    request={"path": path, "window": str(window)},
                ) from None
            if row.day not in window:
                raise MalformedPage(
                    "meta",
                    f"date_start: {row.day} outside {window.start}..{window.end}",
                    stream="insights",
                    body={"data": page},
                    request={"path": path},
                )
            rows.append(row)
        return rows

    async def _report(
        self, account: AdAccount, window: DateWindow, sink: PageSink, into: InsightColumns, depth: int = 0
    ) -> None:
        """An async job for the window; a job that fails twice is split in halves (down to single days)."""
        params = self._insight_params(window)
        for _ in range(2):
            run_id = await self.api.run_report(account.account_id, params)
            if run_id is not None:
                await self._collect(f"{run_id}/insights", {"limit": INSIGHTS_PAGE_LIMIT}, account, window, sink, into)
                return
        if window.days == 1 or depth > 6:
            raise RequestInvalid("meta", f"the insights job for {window.start}..{window.end} keeps failing")
        half = window.days // 2
        first = DateWindow(window.start, date.fromordinal(window.start.toordinal() + half - 1))
        second = DateWindow(date.fromordinal(first.end.toordinal() + 1), window.end)
        await self._report(account, first, sink, into, depth + 1)
        await self._report(account, second, sink, into, depth + 1)

    async def insights(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightBatch:
        rows = InsightColumns(Platform.META, account.account_id, account.currency)
        if window.days <= S.SYNC_INSIGHTS_MAX_DAYS:
            params = {**self._insight_params(window), "limit": INSIGHTS_PAGE_LIMIT}
            await self._collect(f"{account.account_id}/insights", params, account, window, sink, rows)
        else:
            await self._report(account, window, sink, rows)
        return rows.batch(InsightWindow(Platform.META, account.account_id, window))

    async def live_state(self, ref: EntityRef) -> LiveState:
        account = await self._account(ref.account_id)
        fields = {
            Level.AD_SET: "id,status,effective_status,daily_budget,bid_amount",
            Level.CAMPAIGN: "id,status,effective_status,daily_budget",
        }.get(ref.level, "id,status,effective_status")
        row = await self.api.get(ref.entity_id, {"fields": fields})
        raw = str(row.get("status", ""))
        budget, bid = row.get("daily_budget"), row.get("bid_amount")
        return LiveState(
            ref,
            normalize_status(Platform.META, raw),
            raw,
            None if budget in (None, "", "0") else Money.of_minor(budget, account.currency),
            None if bid in (None, "", 0, "0") else Money.of_minor(int(bid), account.currency),
        )

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
        before = await self.live_state(action.target)
        path, form = mapping.action_request(action)
        await self.api.post(path, form)
        after = await self.live_state(action.target)
        return ApplyResult(action.target, True, self._state_dict(before), self._state_dict(after))

    async def upload_image(self, account: AdAccount, data: bytes, name: str) -> str:
        body = await self.api.post(f"{account.account_id}/adimages", {}, files={"filename": (name, data, "image/png")})
        images = body.get("images") or {}
        if not images:
            raise RequestInvalid("meta", "image upload returned no image")
        return str(next(iter(images.values()))["hash"])

    async def _launch(self, action: LaunchAd) -> ApplyResult:
        account = await self._account(action.target.account_id)
        image_hash = None
        if action.asset_ids and self.asset_bytes is not None:
            image_hash = await self.upload_image(account, self.asset_bytes(action.asset_ids[0]), f"{action.name}.png")
        page_id = str(self.connection.credentials.get("page_id", "0"))
        creative_params, ad_params = mapping.launch_requests(action, image_hash, page_id)
        created = await self.api.post(f"{account.account_id}/adcreatives", creative_params)
        ad = await self.api.post(f"{account.account_id}/ads", {**ad_params, "creative": {"creative_id": created["id"]}})
        ref = EntityRef(Platform.META, account.account_id, Level.AD, str(ad["id"]))
        return ApplyResult(
            ref, True, {}, {"creative_id": created["id"], "image_hash": image_hash}, created_id=str(ad["id"])
        )

    async def aclose(self) -> None:
        return None
