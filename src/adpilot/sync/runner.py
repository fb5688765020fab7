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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from adpilot.domain.entities import AdAccount
from adpilot.domain.metrics import DateWindow
from adpilot.lake import Lake
from adpilot.platforms._http import CallStats
from adpilot.platforms.errors import AccountFatal, MalformedPage, PlatformError
from adpilot.ports.lake import LakeCommit, PageKey
from adpilot.ports.platform import PlatformAdapter, RawPage
from adpilot.ports.warehouse import SYNC_SOURCE, Bookmark, Warehouse
from adpilot.sync.plan import account_today, plan_insights

Clock = Callable[[], datetime]


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


class _PageRecorder:
    """Writes every page to the lake as it arrives and remembers the paths for the run's commit."""

    def __init__(self, lake: Lake | None, platform: str, account_id: str, stream: str, run_id: str, at: datetime):
        self.lake, self.platform, self.account_id, self.stream = lake, platform, account_id, stream
        self.run_id, self.at = run_id, at
        self.paths: list[str] = []
        self.count = 0

    def __call__(self, page: RawPage) -> None:
        self.count += 1
        if self.lake is None:
            return
        key = PageKey(self.platform, self.account_id, page.stream, page.day, self.at, self.run_id, self.count)
        self.paths.append(str(self.lake.write_page(key, page.body, request=page.request, status=page.status)))

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
    ) -> None:
        self.chunk_days = chunk_days
        self.warehouse = warehouse
        self.lake = lake
        self.clock = clock
        self.backfill_days = backfill_days
        self.progress = progress or (lambda p: None)

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
        recorder = _PageRecorder(self.lake, platform, account.account_id, "entities", run_id, at)
        self.progress(Progress(platform, account.account_id, "entities", 0, 1))
        try:
            snapshot = await adapter.entities(account, recorder)
        except MalformedPage as exc:
            recorder.quarantine(exc, at.date())
            result.status, result.quarantined, result.message = "skipped", 1, exc.detail
            return result
        entities = snapshot.all()
        self.warehouse.upsert_entities(entities, source=SYNC_SOURCE, at=at)
        recorder.commit(None, _context(account))
        result.rows, result.pages = len(entities), recorder.count
        result.quarantined = len(snapshot.skipped)
        if snapshot.skipped:
            result.message = f"{len(snapshot.skipped)} object(s) skipped: {snapshot.skipped[0]}"
        self.progress(Progress(platform, account.account_id, "entities", 1, 1))
        return result

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
            recorder = _PageRecorder(self.lake, platform, account.account_id, "insights", run_id, at)
            try:
                batch = await adapter.insights(account, chunk, recorder)
            except MalformedPage as exc:
                recorder.quarantine(exc, chunk.start)
                result.quarantined += 1
                result.status = "skipped"
                result.message = f"window {chunk.start}..{chunk.end} quarantined: {exc.detail}"
                break  # later windows wait: the bookmark must not pass a window that is not stored
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
