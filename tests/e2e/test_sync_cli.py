"""`adpilot accounts`, `sync` and `report` as a person runs them against a served sandbox."""

from __future__ import annotations

import csv
import io
import subprocess
from decimal import Decimal
from pathlib import Path

import orjson

from adpilot_sandbox.sandbox import Sandbox
from tests.cli import run_cli


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, data_dir=data_dir)


def test_use_sandbox_sync_and_report(served_demo: tuple[str, Sandbox], tmp_path: Path) -> None:
    url, sandbox = served_demo
    m = sandbox.market
    assert run(tmp_path, "init").returncode == 0
    added = run(tmp_path, "accounts", "use-sandbox", url)
    assert added.returncode == 0, added.stderr
    assert "3 account(s), 1 FX rate(s)" in added.stdout

    listed = run(tmp_path, "accounts", "list")
    creds = sandbox.auth.credentials()
    for platform in ("meta", "x", "tiktok"):
        assert creds[platform]["access_token"] not in listed.stdout + listed.stderr

    synced = run(tmp_path, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "sync summary" in synced.stdout and "insights" in synced.stdout

    since, until = m.date_of(0).isoformat(), m.date_of(m.day - 1).isoformat()
    report = run(tmp_path, "report", "--by", "platform", "--since", since, "--until", until, "--format", "json")
    assert report.returncode == 0, report.stderr
    rows = {r["platform"]: r for r in orjson.loads(report.stdout)}
    for platform in ("meta", "x", "tiktok"):
        truth = m.truth(platform)
        fx = Decimal(str(m.fx(truth[0]["currency"])))
        spend_usd = sum(Decimal(t["spend_minor"]) / 100 * fx for t in truth)
        assert abs(Decimal(rows[platform]["spend_USD"]) - spend_usd) < Decimal("0.01") * len({t["date"] for t in truth})
        assert rows[platform]["impressions"] == sum(t["impressions"] for t in truth)
        assert Decimal(rows[platform]["conversions"]) == sum(t["reported_conversions"] for t in truth)

    by_day = run(tmp_path, "report", "--by", "day", "--since", since, "--until", until, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(by_day.stdout)))
    assert len(table) == 3 * m.day and {"platform", "day", "spend_USD", "ctr_pct", "roas"} <= set(table[0])


def test_revoked_platform_fails_alone(served_demo: tuple[str, Sandbox], tmp_path: Path) -> None:
    url, sandbox = served_demo
    run(tmp_path, "init")
    run(tmp_path, "accounts", "use-sandbox", url)
    sandbox.auth.set_revoked("tiktok", True)
    synced = run(tmp_path, "sync")
    assert synced.returncode == 1
    assert "auth_failed" in synced.stdout and "reconnect" in synced.stdout
    listed = run(tmp_path, "accounts", "list").stdout
    assert "auth_failed" in listed
    report = run(
        tmp_path, "report", "--by", "platform", "--format", "json", "--since", sandbox.market.date_of(0).isoformat()
    )
    assert {r["platform"] for r in orjson.loads(report.stdout)} == {"meta", "x"}
