"""`adpilot creatives generate` and `launch` as a person runs them, against a served sandbox."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson

from adpilot_sandbox.entities import synthetic_png
from adpilot_sandbox.sandbox import Sandbox
from tests.cli import run_cli, succeeded


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, data_dir=data_dir)


def ok(data_dir: Path, *args: str) -> str:
    return succeeded(run(data_dir, *args))


def added_id(data_dir: Path, image: Path) -> str:
    listed: list[dict[str, Any]] = orjson.loads(
        ok(data_dir, "creatives", "list", "--kind", "image", "--format", "json")
    )
    ids = [a["asset_id"] for a in listed if a["name"] == image.stem]
    assert len(ids) == 1, listed
    return str(ids[0])


def test_generate_previews_then_launch_once_on_each_platform(served_demo: tuple[str, Sandbox], tmp_path: Path) -> None:
    url, sandbox = served_demo
    m = sandbox.market
    data = tmp_path / "ws"
    ok(data, "init")
    ok(data, "accounts", "use-sandbox", url)
    image = tmp_path / "hero.png"
    image.write_bytes(synthetic_png("studio hero", size=1080))
    ok(data, "creatives", "add", str(image), "--name", "hero")
    asset = added_id(data, image)

    previews = tmp_path / "previews"
    out = ok(data, "creatives", "generate", asset[:16], "--headline", "Clean water, anywhere", "--n", "2",
             "--out", str(previews))  # fmt: skip
    assert "copy variants" in out and "image variants" in out
    pngs = sorted(previews.glob("*.png"))
    assert {p.name.split("-")[1] for p in pngs} == {"meta", "x", "tiktok"}
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)

    for platform in ("meta", "x", "tiktok"):
        account = next(a for a in m.accounts.values() if a.platform == platform)
        ad_set = m.ad_sets_of(platform, account.id)[0]
        before = len(m.ads_of(platform, account.id))
        args = ("creatives", "launch", asset[:16], "--platform", platform, "--account", account.id,
                "--ad-set", ad_set.id, "--headline", "Clean water, anywhere", "--cta", "SHOP_NOW",
                "--link", "https://example.com/bottle")  # fmt: skip
        launched = ok(data, *args)
        assert "launched" in launched and "paused" in launched
        ads = m.ads_of(platform, account.id)
        assert len(ads) == before + 1
        new = ads[-1]
        assert new.ad_set_id == ad_set.id and new.status == "PAUSED"
        again = run(data, *args)  # the same launch is one record: no second ad
        assert again.returncode == 0, again.stderr
        assert len(m.ads_of(platform, account.id)) == before + 1


def test_a_spec_violation_is_refused_before_anything_is_uploaded(
    served_demo: tuple[str, Sandbox], tmp_path: Path
) -> None:
    url, sandbox = served_demo
    m = sandbox.market
    data = tmp_path / "ws"
    ok(data, "init")
    ok(data, "accounts", "use-sandbox", url)
    small = tmp_path / "tiny.png"
    small.write_bytes(synthetic_png("tiny", size=100))
    ok(data, "creatives", "add", str(small), "--name", "tiny")
    asset = added_id(data, small)
    account = next(a for a in m.accounts.values() if a.platform == "meta")
    ad_set = m.ad_sets_of("meta", account.id)[0]
    refused = run(data, "creatives", "launch", asset[:16], "--platform", "meta", "--account", account.id,
                  "--ad-set", ad_set.id, "--headline", "Hi")  # fmt: skip
    assert refused.returncode == 1
    assert "600" in refused.stderr and "Traceback" not in refused.stderr
    assert m.write_log == [] and not [i for i in m.images.values() if i.name.startswith("tiny")]
