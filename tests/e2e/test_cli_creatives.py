"""`adpilot creatives add|list|show|report` as a person runs them: real processes on a DuckDB workspace whose
creatives were synced (with asset linking) from the demo sandbox."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from adpilot.bootstrap import build_container
from adpilot.config import load_settings
from adpilot.domain import FxRate, Platform
from adpilot.sync.runner import SyncEngine
from adpilot_sandbox.entities import synthetic_png
from tests.cli import run_cli, succeeded
from tests.harness import Harness, connection_for

# The commands as `adpilot creatives` runs them (the module is the group's own entry point).
CLI = [sys.executable, "-m", "adpilot", "creatives"]


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, data_dir=data_dir, columns=240, program=CLI)


def ok(data_dir: Path, *args: str) -> str:
    return succeeded(run(data_dir, *args))


def as_json(data_dir: Path, *args: str) -> Any:
    return orjson.loads(ok(data_dir, *args, "--format", "json"))


@pytest.fixture
def workspace(harness: Harness, tmp_path: Path) -> Path:
    """`adpilot init`, then Meta and TikTok synced in-process with the asset library linking creatives."""
    data_dir = tmp_path / "ws"
    env = {**os.environ, "ADPILOT_DATA_DIR": str(data_dir)}
    init = subprocess.run([sys.executable, "-m", "adpilot", "init"], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    container = build_container(load_settings(data_dir=data_dir))
    m = harness.sandbox.market
    try:
        rates = [FxRate(m.scenario.start_date, c, "USD", Decimal(str(r))) for c, r in m.scenario.fx_rates.items()]
        container.warehouse.put_fx_rates(rates)
        engine = SyncEngine(
            container.warehouse,
            container.lake,
            clock=lambda: m.now,
            backfill_days=m.day,
            assets=container.asset_library,
        )
        for platform in (Platform.META, Platform.TIKTOK):
            adapter = harness.adapter(platform)
            results = harness.run(engine.sync_account(adapter, connection_for(harness.sandbox, platform).account_id))
            assert [r.status for r in results] == ["ok", "ok"], results
    finally:
        container.close()
    return data_dir


def png_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_add_list_show_and_report(workspace: Path, harness: Harness, tmp_path: Path) -> None:
    hero = png_file(tmp_path / "hero.png", synthetic_png("hero-bottle"))
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(synthetic_png("sale", 256))).convert("RGB").save(jpeg, "JPEG", quality=85)
    sale_copy = png_file(tmp_path / "sale-big.jpg", jpeg.getvalue())
    fresh = io.BytesIO()
    Image.new("RGB", (1080, 1350), (30, 90, 200)).save(fresh, "PNG")
    new_file = png_file(tmp_path / "new.png", fresh.getvalue())

    added = as_json(workspace, "add", str(hero), str(sale_copy), str(new_file), "--tag", "summer")
    assert [a["resolved"] for a in added] == ["exact", "perceptual", "new"]  # synced, a resized JPEG, unknown
    # a known image keeps its name (Meta's file name for it); a new one is named after its file
    assert [a["name"] for a in added] == ["hero-bottle.png", "sale.png", "new.png"]
    assert all("summer" in a["user_tags"] for a in added)
    assert {"aspect:4:5", "orientation:portrait", "colour:blue"} <= set(added[2]["tags"])
    hero_id = added[0]["asset_id"]

    text = as_json(workspace, "add", "--text", "Clean water,   ANYWHERE", "--name", "tagline")
    assert text[0]["resolved"] == "exact" and text[0]["kind"] == "text"  # the synced headline

    listed = as_json(workspace, "list")
    assert {"hero-bottle.png", "sale.png", "new.png", "tagline"} <= {r["name"] for r in listed}
    assert {r["kind"] for r in as_json(workspace, "list", "--kind", "text")} == {"text"}
    assert {r["name"] for r in as_json(workspace, "list", "--tag", "summer")} == {
        "hero-bottle.png",
        "sale.png",
        "new.png",
    }
    table = ok(workspace, "list", "--tag", "summer")
    assert hero_id.removeprefix("sha256:")[:12] in table and "3 asset(s)" in table

    shown = as_json(workspace, "show", hero_id.removeprefix("sha256:")[:10])
    assert shown["asset_id"] == hero_id and shown["stored_at"] and Path(shown["stored_at"]).is_file()
    meta_ads = {a.id for a in harness.sandbox.market.ads.values() if a.platform == "meta" and a.name == "Hero bottle"}
    assert {(x["platform"], x["ad_id"]) for x in shown["live"]} == {("meta", ad) for ad in meta_ads}
    assert "live on" in ok(workspace, "show", hero_id)

    sale = as_json(workspace, "show", added[1]["asset_id"])
    assert {v["match"] for v in sale["versions"]} == {"exact", "perceptual"}

    m = harness.sandbox.market
    since, until = m.date_of(0).isoformat(), m.date_of(m.day - 1).isoformat()
    report = as_json(workspace, "report", "--since", since, "--until", until)
    by_id = {r["asset"]: r for r in report}
    assert by_id[hero_id]["platforms"] == "meta" and by_id[hero_id]["impressions"] > 0
    truth = [t for t in m.truth("meta") if t["ad_id"] in meta_ads]
    assert by_id[hero_id]["impressions"] == sum(t["impressions"] for t in truth)
    assert Decimal(by_id[hero_id]["spend_USD"]) == sum(Decimal(t["spend_minor"]) for t in truth) / 100  # USD account
    tagline = by_id[text[0]["asset_id"]]
    assert tagline["impressions"] == by_id[hero_id]["impressions"]  # the same two ads show both
    tiktok_only = as_json(workspace, "report", "--since", since, "--until", until, "--platform", "tiktok")
    assert {r["platforms"] for r in tiktok_only} <= {"tiktok", ""}
    by_tag = {r["tag"]: r for r in as_json(workspace, "report", "--since", since, "--until", until, "--by", "tag")}
    assert by_tag["cta:purchase"]["impressions"] > 0 and by_tag["summer"]["impressions"] > 0
    csv_out = ok(workspace, "report", "--since", since, "--until", until, "--by", "tag", "--format", "csv")
    assert csv_out.splitlines()[0].startswith("tag,platforms,spend_USD")
    assert "ROAS".lower() in ok(workspace, "report", "--since", since, "--until", until)


def test_refusals_are_one_line_errors(workspace: Path, tmp_path: Path) -> None:
    not_image = png_file(tmp_path / "notes.png", b"these are notes, not pixels")
    refused = run(workspace, "add", str(not_image))
    assert refused.returncode == 1 and "notes.png: not a readable image" in refused.stderr
    assert "Traceback" not in refused.stderr
    missing = run(workspace, "add", str(tmp_path / "nowhere.png"))
    assert missing.returncode == 2
    assert run(workspace, "show", "ffffffffffff").returncode == 1
    assert run(workspace, "add").returncode == 2
    assert run(workspace, "report", "--by", "colour").returncode == 2
