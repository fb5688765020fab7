"""Adapters wired to an in-process sandbox: the async ASGI transport, no sockets, no real sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from adpilot.domain import Platform
from adpilot.ports.platform import Connection, PlatformAdapter
from adpilot.sync.service import adapter_factory
from adpilot_sandbox.app import create_app
from adpilot_sandbox.sandbox import Sandbox

T = TypeVar("T")
PLATFORMS = [pytest.param(p, id=str(p)) for p in Platform]
BASE = "http://sandbox.test"


async def no_sleep(seconds: float) -> None:
    return None


def connection_for(sandbox: Sandbox, platform: Platform) -> Connection:
    creds = dict(sandbox.auth.credentials()[str(platform)])
    accounts = creds.pop("accounts")
    keep = {
        Platform.META: ("access_token", "app_secret"),
        Platform.X: ("consumer_key", "consumer_secret", "access_token", "access_token_secret"),
        Platform.TIKTOK: ("access_token",),
    }[platform]
    return Connection(platform, accounts[0], "sandbox", BASE, {k: creds[k] for k in keep})


class Harness:
    """Runs coroutines on one event loop with one client per test."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sandbox)), base_url=BASE)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def adapter(self, platform: Platform, **options: Any) -> PlatformAdapter:
        factory = adapter_factory(platform)
        return factory(connection_for(self.sandbox, platform), self.client, sleep=no_sleep, poll_interval=0, **options)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
