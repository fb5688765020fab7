"""Shared fixtures: a clean environment per test, and the warehouse engines the contract suite runs on."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvicorn

from adpilot.warehouse._sql import SqlWarehouse
from adpilot.warehouse.duckdb import DuckDBWarehouse
from adpilot.warehouse.postgres import PostgresWarehouse
from adpilot_sandbox.app import create_app
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.scenario import load_scenario
from tests.harness import Harness

POSTGRES_URL = os.environ.get("ADPILOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("ADPILOT_REQUIRE_SERVICES") == "1"
_KEEP_ENV = {"ADPILOT_REQUIRE_SERVICES", "ADPILOT_TEST_POSTGRES_URL"}


def _postgres_problem() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {str(exc).strip().splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_problem()
    if problem:
        if REQUIRE_SERVICES:
            pytest.fail(f"{problem} (ADPILOT_REQUIRE_SERVICES=1 forbids skipping)")
        pytest.skip(problem)
    return POSTGRES_URL


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ADPILOT_* from the developer's shell, no adpilot.toml from the working directory."""
    for key in list(os.environ):
        if key.startswith("ADPILOT_") and key not in _KEEP_ENV:
            monkeypatch.delenv(key)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ADPILOT_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)
    return data_dir


def open_engine(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SqlWarehouse]:
    wh: SqlWarehouse
    if engine == "duckdb":
        wh = DuckDBWarehouse(tmp_path / "contract.duckdb")
    else:
        url = request.getfixturevalue("postgres_url")
        wh = PostgresWarehouse(url, schema=f"adpilot_t_{uuid.uuid4().hex[:12]}")
    try:
        wh.migrate()
        yield wh
    finally:
        if isinstance(wh, PostgresWarehouse):
            wh.drop_schema()
        wh.close()


ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture
def demo_sandbox() -> Sandbox:
    """A fresh demo sandbox (60 days of history)."""
    return Sandbox(load_scenario("demo"))


@pytest.fixture
def harness(demo_sandbox: Sandbox) -> Iterator[Harness]:
    """Platform adapters wired to the in-process demo sandbox."""
    h = Harness(demo_sandbox)
    yield h
    h.close()


@pytest.fixture
def served_demo() -> Iterator[tuple[str, Sandbox]]:
    """The demo sandbox served by uvicorn on a free loopback port (for processes like the CLI)."""
    sandbox = Sandbox(load_scenario("demo"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(sandbox), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(params=ENGINES)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlWarehouse]:
    """Every warehouse engine, migrated and empty."""
    yield from open_engine(request.param, tmp_path, request)
