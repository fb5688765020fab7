"""Sandbox fixtures: the demo scenario in-process (httpx ASGI transport) and served on a real port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from adpilot_sandbox.app import create_app
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.scenario import load_scenario
from adpilot_sandbox.transport import SyncASGITransport


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh demo sandbox (60 days of history) per test."""
    return Sandbox(load_scenario("demo"))


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A synchronous httpx client talking to the sandbox in-process."""
    with httpx.Client(transport=SyncASGITransport(create_app(sandbox)), base_url="http://sandbox.test") as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_url(sandbox: Sandbox) -> Iterator[str]:
    """The sandbox served by uvicorn on a free loopback port, for SDKs that bring their own HTTP stack."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(sandbox), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
