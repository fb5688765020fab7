"""`adpilot agent run` and `adpilot demo` as a person runs them: real processes, a served sandbox."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson

from adpilot_sandbox.sandbox import Sandbox
from tests.cli import run_cli


def run(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, data_dir=data_dir, env=env, timeout=600)


def actions(data_dir: Path) -> list[dict[str, Any]]:
    listed = run(data_dir, "actions", "list", "--limit", "1000", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, Any]] = orjson.loads(listed.stdout)
    return rows


def test_agent_run_once_applies_each_change_once_and_explains_it(
    served_demo: tuple[str, Sandbox], tmp_path: Path
) -> None:
    url, sandbox = served_demo
    m = sandbox.market
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "accounts", "use-sandbox", url).returncode == 0
    dry = run(tmp_path, "agent", "run", "--once", "--dry-run", ADPILOT_AGENT__POLICIES="seed-rules")
    assert dry.returncode == 0, dry.stderr
    assert m.write_log == [], "a dry run changed the market"
    assert {a["state"] for a in actions(tmp_path)} <= {"dry_run", "rejected"}

    first = run(tmp_path, "agent", "run", "--once", ADPILOT_AGENT__POLICIES="seed-rules")
    assert first.returncode == 0, first.stderr
    assert "proposal(s)" in first.stdout
    applied = [a for a in actions(tmp_path) if a["state"] == "applied"]
    assert applied, "seed-rules changes budgets and creatives of the demo market on its first cycle"
    assert len(m.write_log) == len(applied)
    assert all(a["action"]["reason"] and a["evidence"] for a in applied)

    again = run(tmp_path, "agent", "run", "--once", ADPILOT_AGENT__POLICIES="seed-rules")  # same day, same data
    assert again.returncode == 0, again.stderr
    assert len(m.write_log) == len(applied), "the same decisions were applied twice"


def test_agent_run_without_accounts_is_one_clear_line(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    result = run(tmp_path, "agent", "run", "--once")
    assert result.returncode == 1
    assert "accounts: nothing to manage" in result.stderr and "Traceback" not in result.stderr


def test_demo_runs_the_agent_and_leaves_a_workspace_to_explore(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = run(data, "demo", "--days", "3", "--reset")
    assert result.returncode == 0, result.stderr
    assert "adpilot vs uniform vs the oracle" in result.stdout
    assert "oracle (expected)" in result.stdout
    assert actions(data), "the agent's decisions are in the ledger"
    report = run(data, "report", "--by", "platform", "--format", "json")
    assert report.returncode == 0, report.stderr
    assert {r["platform"] for r in orjson.loads(report.stdout)} == {"meta", "x", "tiktok"}
    refused = run(data, "demo", "--days", "1")  # a second demo would collide with the first one's ledger
    assert refused.returncode == 1 and "--reset" in refused.stderr


def test_agent_run_with_generation_offers_modelled_variants(served_demo: tuple[str, Sandbox], tmp_path: Path) -> None:
    """With ``agent.generation`` the cycle writes copy variants of each ad set's best ad, lets the element
    model pick which untried combinations to offer, and the policies may propose launching them."""
    url, sandbox = served_demo
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "accounts", "use-sandbox", url).returncode == 0
    result = run(tmp_path, "agent", "run", "--once", "--dry-run", ADPILOT_AGENT__GENERATION="true")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    launches = [a for a in actions(tmp_path) if a["action"]["kind"] == "launch_ad"]
    assert launches, "the demo's worn ads get refreshes proposed"
    assert {a["evidence"]["candidate"]["basis"] for a in launches} == {"element model"}
    assert all(a["state"] == "dry_run" for a in launches)
    assert sandbox.market.write_log == []
