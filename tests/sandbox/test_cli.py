"""`adpilot-sandbox` as a user runs it: a real process serving HTTP, credentials, clear scenario errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from tests.cli import run_cli

SANDBOX = [sys.executable, "-c", "from adpilot_sandbox.cli import main; main()"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=120, program=SANDBOX)


def test_credentials_json_lists_every_account() -> None:
    result = run("credentials", "--scenario", "demo", "--json")
    assert result.returncode == 0, result.stderr
    creds = orjson.loads(result.stdout)
    assert creds["meta"]["accounts"] == ["act_1000000001"]
    assert set(creds["x"]) >= {"consumer_key", "consumer_secret", "access_token", "access_token_secret"}
    assert creds["tiktok"]["access_token"]


def test_bad_scenario_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstart_date: 2026-01-01\naccounts: []\n")
    result = run("credentials", "--scenario", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {bad}: accounts:")
    missing = run("credentials", "--scenario", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_serve_answers_on_its_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*SANDBOX, "serve", "--scenario", "demo", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                clock = httpx.get(f"http://127.0.0.1:{port}/_sandbox/clock", timeout=2).json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert clock["scenario"] == "demo" and clock["today"] == "2026-03-06"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
