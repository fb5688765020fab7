"""Sync as a use case: connections → adapters → the engine, with auth failures recorded per account."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from adpilot.domain.ids import Platform
from adpilot.platforms._http import CallStats
from adpilot.ports.platform import Connection, PlatformAdapter
from adpilot.sync.runner import StreamResult, SyncEngine

AdapterFactory = Callable[[Connection, httpx.AsyncClient], PlatformAdapter]


@dataclass
class SyncSummary:
    results: list[StreamResult] = field(default_factory=list)
    stats: dict[tuple[str, str], CallStats] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.status in ("ok", "skipped") for r in self.results)


ADAPTERS = {Platform.META: "MetaAdapter", Platform.X: "XAdapter", Platform.TIKTOK: "TikTokAdapter"}


def adapter_factory(platform: Platform) -> Callable[..., PlatformAdapter]:
    """The adapter class of a platform (``adpilot.platforms.<platform>.adapter``)."""
    module = importlib.import_module(f"adpilot.platforms.{platform}.adapter")
    factory: Callable[..., PlatformAdapter] = getattr(module, ADAPTERS[platform])
    return factory


async def run_sync(
    engine: SyncEngine,
    connections: list[Connection],
    *,
    client: httpx.AsyncClient,
    since: date | None = None,
    full: bool = False,
    on_auth_failure: Callable[[Connection, str], None] | None = None,
    adapter_options: dict[str, Any] | None = None,
) -> SyncSummary:
    summary = SyncSummary()
    jobs: list[tuple[PlatformAdapter, str]] = []
    by_key: dict[tuple[str, str], Connection] = {}
    adapters: list[tuple[Connection, PlatformAdapter]] = []
    for conn in connections:
        adapter = adapter_factory(conn.platform)(conn, client, **(adapter_options or {}))
        adapters.append((conn, adapter))
        jobs.append((adapter, conn.account_id))
        by_key[(str(conn.platform), conn.account_id)] = conn
    summary.results = await engine.sync_many(jobs, since=since, full=full)
    for conn, adapter in adapters:
        stats = getattr(adapter, "stats", None)
        if isinstance(stats, CallStats):
            summary.stats[(str(conn.platform), conn.account_id)] = stats
    for r in summary.results:
        if r.status == "auth_failed" and on_auth_failure is not None:
            on_auth_failure(by_key[(r.platform, r.account_id)], r.message)
    return summary


def sync_blocking(
    engine: SyncEngine, connections: list[Connection], *, transport: Any = None, **kwargs: Any
) -> SyncSummary:
    """Run a sync from synchronous code (the CLI) with one shared HTTP client."""

    async def main() -> SyncSummary:
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(120.0)) as client:
            return await run_sync(engine, connections, client=client, **kwargs)

    return asyncio.run(main())
