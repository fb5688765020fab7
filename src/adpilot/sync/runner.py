"""The sync engine: for each connected account, entities then insights, window by window.

Per window: fetch every page (each written to the lake as received), map, validate, replace the
window in the warehouse in one transaction, record the run in the lake, move the bookmark. A sync
killed at any moment resumes from the bookmark: windows are either wholly replaced or untouched, so
there are neither gaps nor duplicates. An account whose token is expired or revoked stops with a clear
message; the others go on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from adpilot.domain.entities import AdAccount
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DateWindow
from adpilot.lake import Lake
from adpilot.platforms._http import CallStats
from adpilot.platforms.errors import AccountFatal, MalformedPage, PlatformError
from adpilot.ports.assets import AssetError, AssetLinker, CreativeImageSource, ImageSource
from adpilot.ports.lake import LakeCommit, PageKey
from adpilot.ports.platform import EntitySnapshot, PlatformAdapter, RawPage
from adpilot.ports.warehouse import SYNC_SOURCE, Bookmark, Warehouse
from adpilot.sync.plan import account_today, plan_insights

Clock = Callable[[], datetime]
IMAGE_BATCH = 16  # images downloaded at once (each held in memory until it is stored)


@dataclass
class StreamResult:
    """One account's stream in the summary table."""

    platform: str
    account_id: str
    stream: str
    status: str = "ok"  # ok | skipped | failed | auth_failed
    rows: int = 0
    pages: int = 0
    windows: int = 0
    quarantined: int = 0
    window: DateWindow | None = None
    message: str = ""
    stats: CallStats = field(default_factory=CallStats)


@dataclass(frozen=True)
class Progress:
    platform: str
    account_id: str
    stream: str
    done: int
    total: int
    note: str = ""


ProgressSink = Callable[[Progress], None]


# Pages handed to the lake writer and not yet written; a sync that gets further ahead waits for the oldest.
# Each holds its decoded page (tens of MB for 5,000 insight rows), so few: the writer keeps up anyway.
_IN_FLIGHT = 3


class _PageRecorder:
    """Writes every page to the lake as it arrives and remembers the paths for the run's commit.

    With a ``writer`` (a thread pool), encoding, compressing and syncing a page to disk overlap with fetching
    and mapping the next one; :meth:`flush` waits until every page handed over is in the lake, which the
    engine does before it writes anything to the warehouse.
    """

    def __init__(
        self,
        lake: Lake | None,
        platform: str,
        account_id: str,
        stream: str,
        run_id: str,
        at: datetime,
        writer: Executor | None = None,
    ):
        self.lake, self.platform, self.account_id, self.stream = lake, platform, account_id, stream
        self.run_id, self.at, self.writer = run_id, at, writer
        self.paths: list[str] = []
        self.count = 0
        self._pending: list[Future[Path]] = []

    def __call__(self, page: RawPage) -> None:
        self.count += 1
        if self.lake is None:
            return
        key = PageKey(self.platform, self.account_id, page.stream, page.day, self.at, self.run_id, self.count)
        if self.writer is None:
            self.paths.append(str(self.lake.write_page(key, page.body, request=page.request, status=page.status)))
            return
        if len(self._pending) >= _IN_FLIGHT:
            self.paths.append(str(self._pending.pop(0).result()))  # a write error surfaces here, as it did inline
        write = self.lake.write_page
        self._pending.append(self.writer.submit(write, key, page.body, request=page.request, status=page.status))

    async def flush(self) -> None:
        """Wait until every page handed over is in the lake; raises the first write error."""
        while self._pending:
            path: Path = await asyncio.wrap_future(self._pending.pop(0))
            self.paths.append(str(path))

    def settle(self) -> None:
        """Let the writes in flight finish (their errors do not matter: the run is being abandoned)."""
        pending, self._pending = self._pending, []
        wait(pending)

    def commit(self, window: DateWindow | None, context: dict[str, str]) -> None:
        if self.lake is not None:
            self.lake.commit(
                LakeCommit(
                    self.platform,
                    self.account_id,
                    self.stream,
                    self.run_id,
                    self.at,
                    window,
                    tuple(self.paths),
                    context,
                )
            )
        self.paths = []

    def quarantine(self, error: MalformedPage, day: date) -> None:
        self.settle()
        if self.lake is not None:
            key = PageKey(self.platform, self.account_id, error.stream, day, self.at, self.run_id, self.count + 1)
            self.lake.quarantine(key, error.body, reason=error.detail, request=error.request)


def _context(account: AdAccount) -> dict[str, str]:
    return {"currency": account.currency, "timezone": account.timezone, "name": account.name}


class SyncEngine:
    def __init__(
        self,
        warehouse: Warehouse,
        lake: Lake | None,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        backfill_days: int = 90,
        chunk_days: int | None = None,
        progress: ProgressSink | None = None,
        assets: AssetLinker | None = None,
    ) -> None:
        self.chunk_days = chunk_days
        self.assets = assets
        self.warehouse = warehouse
        self.lake = lake
        self.clock = clock
        self.backfill_days = backfill_days
        self.progress = progress or (lambda p: None)
        # Raw pages are written by two threads: compressing and fsyncing release the GIL, so they overlap
        # with fetching and mapping (the pool's threads end when the engine is collected).
        self._writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="adpilot-lake") if lake else None

    def _recorder(self, platform: str, account_id: str, stream: str, run_id: str, at: datetime) -> _PageRecorder:
        return _PageRecorder(self.lake, platform, account_id, stream, run_id, at, self._writer)

    async def sync_account(
        self,
        adapter: PlatformAdapter,
        account_id: str,
        *,
        since: date | None = None,
        full: bool = False,
        streams: tuple[str, ...] = ("entities", "insights"),
    ) -> list[StreamResult]:
        platform = str(adapter.platform)
        results: list[StreamResult] = []
        run_id = uuid.uuid4().hex[:12]
        try:
            accounts = {a.account_id: a for a in await adapter.accounts()}
            account = accounts.get(account_id)
            if account is None:
                raise AccountFatal(platform, f"account {account_id} is not reachable with these credentials")
            if "entities" in streams:
                results.append(await self._entities(adapter, account, run_id))
            if "insights" in streams:
                results.append(await self._insights(adapter, account, run_id, since=since, full=full))
        except AccountFatal as exc:
            results.append(StreamResult(platform, account_id, "account", "auth_failed", message=exc.detail))
        except PlatformError as exc:
            results.append(StreamResult(platform, account_id, "account", "failed", message=str(exc)))
        return results

    async def _entities(self, adapter: PlatformAdapter, account: AdAccount, run_id: str) -> StreamResult:
        platform = str(adapter.platform)
        result = StreamResult(platform, account.account_id, "entities")
        at = self.clock()
        recorder = self._recorder(platform, account.account_id, "entities", run_id, at)
        self.progress(Progress(platform, account.account_id, "entities", 0, 1))
        try:
            snapshot = await adapter.entities(account, recorder)
            await recorder.flush()
        except MalformedPage as exc:
            recorder.quarantine(exc, at.date())
            result.status, result.quarantined, result.message = "skipped", 1, exc.detail
            return result
        except BaseException:
            recorder.settle()
            raise
        refs = adapter.creative_image_refs(account.account_id) if isinstance(adapter, CreativeImageSource) else {}
        snapshot, unlinked = await self._link_images(adapter, account, snapshot, refs)
        entities = snapshot.all()
        self.warehouse.upsert_entities(entities, source=SYNC_SOURCE, at=at)
        if self.assets is not None and snapshot.creatives:
            self.assets.link_creatives(snapshot.creatives, at=at, image_refs=refs)
        recorder.commit(None, _context(account))
        result.rows, result.pages = len(entities), recorder.count
        result.quarantined = len(snapshot.skipped)
        notes = []
        if snapshot.skipped:
            notes.append(f"{len(snapshot.skipped)} object(s) skipped: {snapshot.skipped[0]}")
        if unlinked:
            notes.append(f"{len(unlinked)} image(s) not linked yet (retried next sync): {unlinked[0]}")
        result.message = "; ".join(notes)
        self.progress(Progress(platform, account.account_id, "entities", 1, 1))
        return result

    async def _link_images(
        self, adapter: PlatformAdapter, account: AdAccount, snapshot: EntitySnapshot, refs: Mapping[str, str]
    ) -> tuple[EntitySnapshot, list[str]]:
        """Set each creative's ``asset_id`` from the image it shows. References resolved before cost nothing;
        with an asset library, the others are downloaded once and resolved. A failure only leaves that
        creative unlinked until the next sync: it never fails the entities. Returns the failures."""
        if not refs or not snapshot.creatives:
            return snapshot, []
        known = {
            ref: link.asset_id
            for ref, link in self.warehouse.known_image_refs(
                adapter.platform, account.account_id, refs.values()
            ).items()
        }
        failed: list[str] = []
        missing = sorted(set(refs.values()) - set(known))
        if missing and self.assets is not None and isinstance(adapter, CreativeImageSource):
            await self._resolve_images(adapter, adapter.platform, account, missing, known, failed)
        creatives = [
            replace(c, asset_id=known.get(refs.get(c.creative_id, ""), c.asset_id)) for c in snapshot.creatives
        ]
        return replace(snapshot, creatives=creatives), failed

    async def _resolve_images(
        self,
        adapter: CreativeImageSource,
        platform: Platform,
        account: AdAccount,
        missing: list[str],
        known: dict[str, str],
        failed: list[str],
    ) -> None:
        """Download the missing images a batch at a time and register each with the library."""
        assert self.assets is not None
        try:
            sources = await adapter.image_sources(account, missing)
        except PlatformError as exc:
            failed.extend(f"image {ref}: {exc}" for ref in missing)
            return
        failed.extend(f"image {ref}: the platform does not know it" for ref in missing if ref not in sources)

        async def fetch(source: ImageSource) -> tuple[ImageSource, bytes | None, str]:
            try:
                return source, await adapter.download_image(source), ""
            except PlatformError as exc:
                return source, None, str(exc)

        ordered = [sources[ref] for ref in missing if ref in sources]
        for start in range(0, len(ordered), IMAGE_BATCH):
            for source, data, error in await asyncio.gather(*map(fetch, ordered[start : start + IMAGE_BATCH])):
                if data is None:
                    failed.append(f"image {source.ref}: {error}")
                    continue
                try:
                    known[source.ref] = self.assets.register_image(
                        platform, account.account_id, source.ref, data, name=source.name
                    )
                except AssetError as exc:
                    failed.append(f"image {source.ref}: {exc}")

    async def _insights(
        self, adapter: PlatformAdapter, account: AdAccount, run_id: str, *, since: date | None, full: bool
    ) -> StreamResult:
        platform = str(adapter.platform)
        result = StreamResult(platform, account.account_id, "insights")
        bookmark = self.warehouse.get_bookmark(adapter.platform, account.account_id, "insights")
        state = bookmark.state if bookmark else {}
        through = date.fromisoformat(state["through"]) if "through" in state else None
        first = date.fromisoformat(state["from"]) if "from" in state else None
        plan = plan_insights(
            adapter.platform,
            today=account_today(self.clock(), account.timezone),
            synced_through=through,
            synced_from=first,
            since=since,
            backfill_days=self.backfill_days,
            full=full,
            chunk_days=self.chunk_days,
        )
        result.window = plan.window
        result.message = plan.reason
        total = len(plan.chunks)
        for done, chunk in enumerate(plan.chunks):
            self.progress(
                Progress(platform, account.account_id, "insights", done, total, f"{chunk.start}..{chunk.end}")
            )
            at = self.clock()
            recorder = self._recorder(platform, account.account_id, "insights", run_id, at)
            try:
                batch = await adapter.insights(account, chunk, recorder)
                await recorder.flush()  # every raw page is in the lake before the window reaches the warehouse
            except MalformedPage as exc:
                recorder.quarantine(exc, chunk.start)
                result.quarantined += 1
                result.status = "skipped"
                result.message = f"window {chunk.start}..{chunk.end} quarantined: {exc.detail}"
                break  # later windows wait: the bookmark must not pass a window that is not stored
            except BaseException:
                recorder.settle()
                raise
            result.rows += self.warehouse.replace_insights(batch)
            recorder.commit(chunk, _context(account))
            result.pages += recorder.count
            result.windows += 1
            through = chunk.end if through is None else max(through, chunk.end)
            first = chunk.start if first is None else min(first, chunk.start)
            state = {"from": first.isoformat(), "through": through.isoformat(), "run": run_id}
            self.warehouse.set_bookmark(Bookmark(adapter.platform, account.account_id, "insights", state, self.clock()))
        self.progress(Progress(platform, account.account_id, "insights", total, total))
        return result

    async def sync_many(
        self,
        jobs: list[tuple[PlatformAdapter, str]],
        *,
        since: date | None = None,
        full: bool = False,
        concurrency: int = 4,
    ) -> list[StreamResult]:
        """Sync several accounts at once; each account's failure stays its own."""
        gate = asyncio.Semaphore(concurrency)

        async def one(adapter: PlatformAdapter, account_id: str) -> list[StreamResult]:
            async with gate:
                return await self.sync_account(adapter, account_id, since=since, full=full)

        batches = await asyncio.gather(*(one(a, acc) for a, acc in jobs))
        return [r for batch in batches for r in batch]
