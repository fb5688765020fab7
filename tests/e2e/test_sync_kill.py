"""Kill test: `adpilot sync` killed with SIGKILL at random moments, restarted, ends identical to a clean sync."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from adpilot.domain import DateWindow, InsightWindow, Level, Platform
from adpilot.warehouse.duckdb import DuckDBWarehouse
from adpilot_sandbox.sandbox import Sandbox

KILLS = 10


def cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "adpilot", *args]


def env_for(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "ADPILOT_DATA_DIR": str(data_dir), "COLUMNS": "200"}


def snapshot(data_dir: Path, sandbox: Sandbox) -> tuple[object, ...]:
    m = sandbox.market
    wh = DuckDBWarehouse(data_dir / "warehouse.duckdb")
    try:
        window = DateWindow(m.date_of(0), m.date_of(m.day - 1))
        insights = []
        for acc in m.accounts.values():
            account_id = f"act_{acc.id}" if acc.platform == "meta" else acc.id
            insights.extend(wh.read_insights(InsightWindow(Platform(acc.platform), account_id, window)))
        ents = [wh.get_entities(level) for level in (Level.CAMPAIGN, Level.AD_SET, Level.AD)]
        return (insights, ents)
    finally:
        wh.close()


def setup(data_dir: Path, url: str) -> None:
    for args in (("init",), ("accounts", "use-sandbox", url)):
        done = subprocess.run(cli(data_dir, *args), env=env_for(data_dir), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_sync_killed_ten_times_ends_identical(served_demo: tuple[str, Sandbox], tmp_path: Path) -> None:
    url, sandbox = served_demo
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    setup(clean, url)
    done = subprocess.run(cli(clean, "sync"), env=env_for(clean), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = snapshot(clean, sandbox)
    assert expected[0], "the clean sync must have written insights"

    setup(killed, url)
    rng = random.Random(20261124)
    kills = 0
    while kills < KILLS:
        proc = subprocess.Popen(
            cli(killed, "sync"), env=env_for(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.4, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    final = subprocess.run(cli(killed, "sync"), env=env_for(killed), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert snapshot(killed, sandbox) == expected
