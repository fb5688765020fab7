"""The X adapter: the platform port on top of the X Ads API client and the pure mapping.

X's hierarchy is account → campaign (daily budget) → line item (bid; adpilot's ad set) → promoted tweet
(adpilot's ad) → tweet (+ website card; adpilot's creative). Stats are asked per promoted tweet and day:
windows of up to 7 days synchronously, longer ones through asynchronous jobs whose gzip files hold the
same JSON. Stats carry no parents, so the line item and promoted tweet pages that tie each promoted
tweet to its campaign go into every insights run's pages too: a rebuild from the lake needs nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from adpilot.domain.actions import Action, LaunchAd
from adpilot.domain.entities import AdAccount
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.metrics import DateWindow, InsightWindow
from adpilot.platforms._http import CallStats, RetryPolicy
from adpilot.platforms.errors import AccountFatal, MalformedPage, RequestInvalid, SkippableError
from adpilot.platforms.x import mapping
from adpilot.platforms.x import settings as S
from adpilot.platforms.x.client import PLATFORM, Job, XClient
from adpilot.ports.assets import ImageSource
from adpilot.ports.insight_batch import InsightBatch, InsightColumns
from adpilot.ports.platform import ApplyResult, Connection, EntitySnapshot, LiveState, PageSink, RawPage

AssetBytes = Callable[[str], bytes]
Parents = dict[str, tuple[str, str]]  # promoted tweet -> (campaign, line item)
Rows = InsightColumns  # the rows of a window, gathered as columns


@dataclass
class _Tree:
    """An account's line item and promoted tweet pages, and what they say: promoted tweet → parents."""

    pages: list[RawPage] = field(default_factory=list)
    parents: Parents = field(default_factory=dict)


class _Keep:
    """A page sink that also keeps the pages of some streams."""

    def __init__(self, sink: PageSink | None, streams: tuple[str, ...]) -> None:
        self.sink, self.streams = sink, streams
        self.kept: list[RawPage] = []

    def __call__(self, page: RawPage) -> None:
        if page.stream in self.streams:
            self.kept.append(page)
        if self.sink is not None:
            self.sink(page)


def _image_type(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _halves(window: DateWindow) -> list[DateWindow]:
    first = DateWindow(window.start, date.fromordinal(window.start.toordinal() + window.days // 2 - 1))
    return [first, DateWindow(date.fromordinal(first.end.toordinal() + 1), window.end)]


class XAdapter:
    platform = Platform.X

    def __init__(
        self,
        connection: Connection,
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_interval: float = 2.0,
        asset_bytes: AssetBytes | None = None,
        max_polls: int = S.MAX_POLLS,
    ) -> None:
        self.connection = connection
        self.api = XClient(
            connection.base_url,
            connection.credentials,
            client,
            policy=policy,
            sleep=sleep,
            poll_interval=poll_interval,
            max_polls=max_polls,
        )
        self.asset_bytes = asset_bytes
        self._accounts: dict[str, AdAccount] = {}
        self._account_pages: dict[str, list[RawPage]] = {}
        self._trees: dict[str, _Tree] = {}
        self._images: dict[str, dict[str, tuple[str, str | None]]] = {}  # account → tweet → (media key, URL)

    @property
    def stats(self) -> CallStats:
        return self.api.http.stats

    # -- accounts ----------------------------------------------------------------------------------------
    async def _load_account(self, row: dict[str, Any], pages: list[RawPage], *, required: bool) -> AdAccount | None:
        account_id = str(row.get("id") or "")
        keep = _Keep(None, ("funding_instruments",))
        fis = await self.api.rows(
            f"accounts/{account_id}/funding_instruments",
            {},
            stream="funding_instruments",
            day=date.today(),
            sink=keep,
        )
        try:
            acc = mapping.account(row, fis)
        except mapping.MappingError as exc:
            if required:
                raise AccountFatal(PLATFORM, f"account {account_id or '?'} cannot be used: {exc}") from None
            return None
        self._accounts[acc.account_id] = acc
        self._account_pages[acc.account_id] = [*pages, *keep.kept]
        return acc

    async def accounts(self) -> list[AdAccount]:
        today = date.today()
        wanted = self.connection.account_id
        if wanted:
            return [await self._fetch_account(wanted)]
        keep = _Keep(None, ("accounts",))
        rows = await self.api.rows("accounts", {}, stream="accounts", day=today, sink=keep)
        found: list[AdAccount] = []
        for row in mapping.unique(rows):
            acc = await self._load_account(dict(row), list(keep.kept), required=False)
            if acc is not None:
                found.append(acc)
        return found

    async def _fetch_account(self, account_id: str) -> AdAccount:
        """``GET /12/accounts/:id`` and its funding instruments (the currency)."""
        path = f"accounts/{account_id}"
        body = await self.api.get(path)
        request = self.api.public("GET", path, {})
        row = body.get("data") if isinstance(body, dict) else None
        if not isinstance(row, dict):
            raise MalformedPage(PLATFORM, "data: expected an object", stream="accounts", body=body, request=request)
        acc = await self._load_account(row, [RawPage("accounts", date.today(), request, 200, body)], required=True)
        assert acc is not None  # required=True raises instead
        return acc

    async def _account(self, account_id: str) -> AdAccount:
        if account_id not in self._accounts:
            self._accounts[account_id] = await self._fetch_account(account_id)
        return self._accounts[account_id]

    # -- entities ----------------------------------------------------------------------------------------
    async def entities(self, account: AdAccount, sink: PageSink) -> EntitySnapshot:
        today = date.today()
        acc_id = account.account_id
        for page in self._account_pages.get(acc_id, []):
            sink(page)  # the account as read: a rebuild maps it like the live sync did
        keep = _Keep(sink, ("line_items", "promoted_tweets"))
        rows: dict[str, list[dict[str, Any]]] = {}
        lists = {
            "campaigns": {"with_deleted": "true", "with_draft": "true"},
            "line_items": {"with_deleted": "true", "with_draft": "true"},
            "promoted_tweets": {"with_deleted": "true"},
        }
        for stream, params in lists.items():
            path = f"accounts/{acc_id}/{stream}"
            rows[stream] = await self.api.rows(path, params, stream=stream, day=today, sink=keep)
        self._trees[acc_id] = _Tree(keep.kept, mapping.ad_parents(rows["line_items"], rows["promoted_tweets"]))
        notes: list[str] = []
        try:
            rows.update(await self._creatives(acc_id, rows["promoted_tweets"], sink))
        except (SkippableError, RequestInvalid) as exc:
            notes.append(f"creatives: tweets could not be read ({exc})")
        snap = mapping.snapshot(account, rows)
        self._images[acc_id] = mapping.tweet_images(rows.get("tweets", []), rows.get("cards", []))
        if not notes:
            return snap
        return EntitySnapshot(
            snap.account, snap.campaigns, snap.ad_sets, snap.ads, snap.creatives, skipped=[*snap.skipped, *notes]
        )

    async def _creatives(
        self, acc_id: str, promoted: list[dict[str, Any]], sink: PageSink
    ) -> dict[str, list[dict[str, Any]]]:
        """The promoted tweets' tweets, and the website cards they carry."""
        today = date.today()
        tweet_ids = sorted({str(r["tweet_id"]) for r in promoted if isinstance(r.get("tweet_id"), str | int)})
        tweets: list[dict[str, Any]] = []
        for start in range(0, len(tweet_ids), S.MAX_FILTER_IDS):
            params = {
                "tweet_type": "PUBLISHED",
                "tweet_ids": ",".join(tweet_ids[start : start + S.MAX_FILTER_IDS]),
                "count": S.MAX_FILTER_IDS,
            }
            tweets += await self.api.rows(f"accounts/{acc_id}/tweets", params, stream="tweets", day=today, sink=sink)
        card_ids = sorted(
            {cid for t in tweets if (cid := mapping.card_id_of(str(t.get("card_uri") or ""))) is not None}
        )
        cards: list[dict[str, Any]] = []
        for start in range(0, len(card_ids), S.MAX_FILTER_IDS):
            params = {"card_ids": ",".join(card_ids[start : start + S.MAX_FILTER_IDS]), "count": S.MAX_FILTER_IDS}
            cards += await self.api.rows(f"accounts/{acc_id}/cards", params, stream="cards", day=today, sink=sink)
        return {"tweets": tweets, "cards": cards}

    # -- creative images (the asset library's links) -----------------------------------------------------
    def creative_image_refs(self, account_id: str) -> dict[str, str]:
        return {tweet: key for tweet, (key, _) in self._images.get(account_id, {}).items()}

    async def image_sources(self, account: AdAccount, refs: Sequence[str]) -> dict[str, ImageSource]:
        """A card's media metadata gives the URL; otherwise the account's media library entry does."""
        urls = {key: url for key, url in self._images.get(account.account_id, {}).values() if url}
        found: dict[str, ImageSource] = {}
        for key in sorted(set(refs)):
            if key in urls:
                found[key] = ImageSource(key, urls[key])
                continue
            path = f"accounts/{account.account_id}/media_library/{key}"
            try:
                row = await self.api.data(path, stream="media_library")
            except SkippableError:  # not in the library (deleted, or another account's): left out
                continue
            url = row.get("media_url")
            if isinstance(url, str) and url:
                found[key] = ImageSource(key, url, str(row.get("name") or row.get("file_name") or ""))
        return found

    async def download_image(self, source: ImageSource) -> bytes:
        return await self.api.download_file(source.url)

    async def _tree(self, account: AdAccount) -> _Tree:
        """The line item and promoted tweet pages (read once per account, deleted objects included)."""
        acc_id = account.account_id
        if acc_id not in self._trees:
            keep = _Keep(None, ("line_items", "promoted_tweets"))
            found: dict[str, list[dict[str, Any]]] = {}
            for stream in ("line_items", "promoted_tweets"):
                params = {"with_deleted": "true", **({"with_draft": "true"} if stream == "line_items" else {})}
                found[stream] = await self.api.rows(
                    f"accounts/{acc_id}/{stream}", params, stream=stream, day=date.today(), sink=keep
                )
            self._trees[acc_id] = _Tree(keep.kept, mapping.ad_parents(found["line_items"], found["promoted_tweets"]))
        return self._trees[acc_id]

    # -- insights ----------------------------------------------------------------------------------------
    def _stats_params(self, account: AdAccount, window: DateWindow, ids: list[str]) -> dict[str, str]:
        try:
            start, end = mapping.stats_times(window, account.timezone)
        except mapping.MappingError as exc:
            raise RequestInvalid(PLATFORM, str(exc)) from None
        return {
            "entity": S.ENTITY,
            "entity_ids": ",".join(ids),
            "start_time": start,
            "end_time": end,
            "granularity": S.GRANULARITY,
            "placement": S.PLACEMENT,
            "metric_groups": S.METRIC_GROUPS,
        }

    def _map(
        self,
        doc: Any,
        account: AdAccount,
        window: DateWindow,
        parents: Parents,
        request: dict[str, Any],
    ) -> InsightColumns:
        try:
            return mapping.stats_columns(doc, account, window, parents)
        except (ValueError, TypeError, OverflowError):
            pass  # the row mapper names the problem (or maps what the column mapper would not vouch for)
        try:
            rows = mapping.stats_rows(doc, account, window, parents)
        except ValueError as exc:  # MappingError, or a value the domain refuses
            raise MalformedPage(PLATFORM, str(exc), stream="stats", body=doc, request=request) from None
        cols = InsightColumns(Platform.X, account.account_id, account.currency)
        cols.add_insights(rows)
        return cols

    async def _sync_stats(
        self, account: AdAccount, window: DateWindow, ids: list[str], parents: Parents, sink: PageSink, out: Rows
    ) -> None:
        path = f"stats/accounts/{account.account_id}"
        for start in range(0, len(ids), S.MAX_STATS_IDS):
            params = self._stats_params(account, window, ids[start : start + S.MAX_STATS_IDS])
            body = await self.api.get(path, params)
            request = self.api.public("GET", path, params)
            sink(RawPage("stats", window.start, request, 200, body))
            out.extend(self._map(body, account, window, parents, request))

    async def _job_stats(
        self, account: AdAccount, window: DateWindow, ids: list[str], parents: Parents, sink: PageSink, out: Rows
    ) -> None:
        """Asynchronous jobs of ≤ 20 promoted tweets each; a job that fails (or stalls) twice has its
        window split in halves, down to windows the synchronous endpoint serves."""
        path = f"stats/jobs/accounts/{account.account_id}"
        pending = [ids[i : i + S.MAX_STATS_IDS] for i in range(0, len(ids), S.MAX_STATS_IDS)]
        for _ in range(S.JOB_ATTEMPTS):
            jobs = [Job(self._stats_params(account, window, chunk)) for chunk in pending]
            await self.api.run_jobs(account.account_id, jobs)
            failed: list[list[str]] = []
            for job, chunk in zip(jobs, pending, strict=True):
                if job.status != S.JOB_DONE or job.url is None:
                    failed.append(chunk)
                    continue
                try:
                    doc = await self.api.download(job.url)
                except (SkippableError, RequestInvalid):  # the file expired or went missing: ask again
                    failed.append(chunk)
                    continue
                request = {**self.api.public("POST", path, job.params), "job_id": job.job_id}
                sink(RawPage("stats", window.start, request, 200, doc))
                out.extend(self._map(doc, account, window, parents, request))
            pending = failed
            if not pending:
                return
        for chunk in pending:
            for half in _halves(window):
                await self._stats(account, half, chunk, parents, sink, out)

    async def _stats(
        self, account: AdAccount, window: DateWindow, ids: list[str], parents: Parents, sink: PageSink, out: Rows
    ) -> None:
        if window.days <= S.SYNC_STATS_MAX_DAYS:
            await self._sync_stats(account, window, ids, parents, sink, out)
        elif window.days > S.ASYNC_STATS_MAX_DAYS:
            for part in window.chunks(S.ASYNC_STATS_MAX_DAYS):
                await self._stats(account, part, ids, parents, sink, out)
        else:
            await self._job_stats(account, window, ids, parents, sink, out)

    async def insights(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightBatch:
        tree = await self._tree(account)
        for page in tree.pages:
            sink(page)  # what ties each promoted tweet to its line item and campaign, for the rebuild
        rows = InsightColumns(Platform.X, account.account_id, account.currency)
        if tree.parents:  # a document served twice collapses onto itself in the batch
            await self._stats(account, window, sorted(tree.parents), tree.parents, sink, rows)
        return rows.batch(InsightWindow(Platform.X, account.account_id, window))

    # -- live state and writes ---------------------------------------------------------------------------
    def _path(self, ref: EntityRef) -> str:
        try:
            return f"accounts/{ref.account_id}/{mapping.entity_path(ref.level, ref.entity_id)}"
        except mapping.MappingError as exc:
            raise RequestInvalid(PLATFORM, str(exc)) from None

    async def live_state(self, ref: EntityRef) -> LiveState:
        account = await self._account(ref.account_id)
        row = await self.api.data(self._path(ref), {"with_deleted": "true"}, stream="live_state")
        try:
            status, raw, budget, bid = mapping.live_values(row, ref.level, account)
        except ValueError as exc:
            raise MalformedPage(
                PLATFORM, str(exc), stream="live_state", body=row, request=self.api.public("GET", self._path(ref), {})
            ) from None
        return LiveState(ref, status, raw, budget, bid)

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
        try:
            path, params = mapping.action_request(action)
        except mapping.MappingError as exc:
            raise RequestInvalid(PLATFORM, str(exc)) from None
        before = await self.live_state(action.target)
        await self.api.put(f"accounts/{action.target.account_id}/{path}", params)
        after = await self.live_state(action.target)
        return ApplyResult(action.target, True, self._state_dict(before), self._state_dict(after))

    async def upload_image(self, account: AdAccount, data: bytes, name: str) -> str:
        """Upload to the user's media, then add it to the account's media library; returns the media key."""
        body = await self.api.upload(data, name, _image_type(data))
        key = body.get("media_key")
        if not key and body.get("media_id_string"):
            key = f"3_{body['media_id_string']}"  # 3 = image
        if not isinstance(key, str) or not key:
            raise RequestInvalid(PLATFORM, "media upload returned no media_key")
        await self.api.post(f"accounts/{account.account_id}/media_library", {"media_key": key, "name": name[:100]})
        return key

    async def _launch(self, action: LaunchAd) -> ApplyResult:
        """Image → media library → website card → tweet → promoted tweet in the target line item."""
        account = await self._account(action.target.account_id)
        acc_path = f"accounts/{account.account_id}"
        media_key = None
        if action.asset_ids and self.asset_bytes is not None:
            media_key = await self.upload_image(account, self.asset_bytes(action.asset_ids[0]), f"{action.name}.png")
        card_uri: str | None = None
        if media_key:
            card = await self.api.post(f"{acc_path}/cards", json=mapping.card_body(action, media_key))
            card_uri = str(self._created(card, "card_uri", "cards"))
        tweet = await self.api.post(f"{acc_path}/tweet", mapping.tweet_params(action, card_uri, self.api.user_id))
        tweet_id = str(self._created(tweet, "id_str", "tweet", fallback="id"))
        promoted = await self.api.post(
            f"{acc_path}/promoted_tweets", {"line_item_id": action.target.entity_id, "tweet_ids": tweet_id}
        )
        data = promoted.get("data") if isinstance(promoted, dict) else None
        first = data[0] if isinstance(data, list) and data else data
        ad_id = str(self._created({"data": first}, "id", "promoted_tweets"))
        if action.start_paused:
            await self.api.put(f"{acc_path}/promoted_tweets/{ad_id}", {"entity_status": "PAUSED"})
        self._trees.pop(account.account_id, None)  # a new promoted tweet: read the hierarchy again
        ref = EntityRef(Platform.X, account.account_id, Level.AD, ad_id)
        after = {"tweet_id": tweet_id, "card_uri": card_uri, "media_key": media_key}
        return ApplyResult(ref, True, {}, after, created_id=ad_id)

    @staticmethod
    def _created(body: Any, key: str, what: str, *, fallback: str | None = None) -> Any:
        data = body.get("data") if isinstance(body, dict) else None
        value = None
        if isinstance(data, dict):
            value = data.get(key)
            if value in (None, "") and fallback is not None:
                value = data.get(fallback)
        if value in (None, ""):
            raise RequestInvalid(PLATFORM, f"{what}: the answer has no {key}")
        return value

    async def aclose(self) -> None:
        return None
