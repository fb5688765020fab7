"""The CLI as a user meets it: a real process, real files, real PostgreSQL."""

from __future__ import annotations

import stat
import subprocess
import uuid
from pathlib import Path

import orjson
import pytest
from cryptography.fernet import Fernet

from adpilot.warehouse.migrations import LATEST_VERSION
from tests.cli import run_cli


def adpilot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, columns=200, env=env)


def test_init_creates_data_dir_warehouse_and_private_key(clean_environment: Path) -> None:
    result = adpilot("init")
    assert result.returncode == 0, result.stderr
    assert "(created)" in result.stdout
    key = clean_environment / "adpilot.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (clean_environment / "warehouse.duckdb").exists()
    again = adpilot("init")
    assert again.returncode == 0 and "(kept)" in again.stdout
    stats = adpilot("warehouse", "stats")
    assert stats.returncode == 0 and "insights" in stats.stdout and f"schema version {LATEST_VERSION}" in stats.stdout


def test_config_show_masks_every_secret() -> None:
    key = Fernet.generate_key().decode()
    env = {"ADPILOT_ENCRYPTION_KEY": key, "ADPILOT_WAREHOUSE_URL": "postgresql://ads:hunter2@db.internal/ads"}
    result = adpilot("config", "show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    view = orjson.loads(result.stdout)
    assert view["warehouse_url"] == "postgresql://ads:***@db.internal/ads"
    assert view["encryption_key"] == "**********"
    assert key not in result.stdout and "hunter2" not in result.stdout


def test_invalid_setting_is_one_line_naming_the_key() -> None:
    result = adpilot("config", "show", env={"ADPILOT_REPORTING_CURRENCY": "DOLLARS"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: invalid configuration: ADPILOT_REPORTING_CURRENCY: currency: unknown ISO 4217 code 'DOLLARS'"
    ]


def test_unreachable_postgres_is_one_line_with_password_masked() -> None:
    env = {"ADPILOT_WAREHOUSE_URL": "postgresql://ads:hunter2@127.0.0.1:1/adsdb"}
    result = adpilot("warehouse", "stats", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1, database 'adsdb' as user 'ads'")
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.postgres
def test_migrate_and_stats_on_postgres(postgres_url: str) -> None:
    schema = f"adpilot_cli_{uuid.uuid4().hex[:10]}"
    env = {"ADPILOT_WAREHOUSE_URL": postgres_url, "ADPILOT_WAREHOUSE_SCHEMA": schema}
    try:
        result = adpilot("warehouse", "migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert f"(schema {schema}): schema version {LATEST_VERSION}" in result.stdout
        assert adpilot("warehouse", "stats", env=env).returncode == 0
    finally:
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_rebuild_of_an_empty_lake() -> None:
    result = adpilot("warehouse", "rebuild")
    assert result.returncode == 0, result.stderr
    assert "committed runs" in result.stdout


@pytest.mark.postgres
def test_bench_warehouse_writes_json(tmp_path: Path, postgres_url: str) -> None:
    out = tmp_path / "bench.json"
    args = ["--ads", "300", "--days", "10", "--replaces", "1", "--actions", "40", "--postgres-url", postgres_url]
    result = adpilot("bench", "warehouse", *args, "--json", str(out))
    assert result.returncode == 0, result.stderr
    doc = orjson.loads(out.read_bytes())
    assert {r["engine"] for r in doc["results"]} == {"duckdb", "postgres"}
    for r in doc["results"]:
        assert r["rows_loaded"] == 3000 and r["rows_after"] == 3000 and r["replace_rows"] == 2100
        assert r["load_rows_per_s"] > 0 and r["peak_rss_mb"] > 0
        assert r["ledger_actions"] == 40 and r["ledger_moves_per_s"] > 0
    assert "rows/s" in result.stdout and "ledger moves/s" in result.stdout


def test_bench_policies_runs_with_overrides_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "policies.json"
    args = ["--scenario", "creative-bakeoff", "--days", "3", "--seeds", "2", "--policies", "adpilot"]
    result = adpilot("bench", "policies", *args, "--set", "creative.min_gain=0.05", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "adpilot ran with creative.min_gain=0.05" in result.stdout
    doc = orjson.loads(out.read_bytes())
    assert doc["seeds"] == 2 and doc["overrides"] == {"creative": {"min_gain": 0.05}}
    figures = doc["scenarios"]["creative-bakeoff"]
    assert set(figures) == {"adpilot", "uniform"}  # uniform always runs: headroom is measured against it
    adp = figures["adpilot"]
    assert 0 < adp["pct_oracle"]["mean"] <= 100
    # per seed, for paired comparisons of variants: the mean is theirs
    per_seed = [run["pct_oracle"] for run in adp["per_seed"].values()]
    assert len(per_seed) == 2 and sum(per_seed) / 2 == pytest.approx(adp["pct_oracle"]["mean"])
    bad = adpilot("bench", "policies", *args, "--set", "budget.max_step=2")
    assert bad.returncode == 2 and "--set" in bad.stderr and "max_step" in bad.stderr
    unused = adpilot("bench", "policies", *args[:-1], "uniform", "--set", "budget.max_step=0.1")
    assert unused.returncode == 2 and "--set" in unused.stderr and "adpilot" in unused.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = adpilot("warehouse", "explode")
    assert result.returncode == 2
