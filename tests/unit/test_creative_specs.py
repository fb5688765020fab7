"""Creative specs: every violation names its rule; nothing off-spec would reach an upload."""

from __future__ import annotations

import pytest

from adpilot.creative.specs import SPECS, SpecError, check_creative, check_image, check_text, image_format
from adpilot.domain import Platform
from adpilot_sandbox.entities import synthetic_png

META, X, TIKTOK = Platform.META, Platform.X, Platform.TIKTOK


@pytest.mark.parametrize(
    ("platform", "w", "h", "size", "fmt", "rules"),
    [
        (META, 1080, 1080, 500_000, "jpeg", []),
        (META, 1080, 1350, 500_000, "png", []),  # 4:5
        (META, 1200, 628, 500_000, "png", []),  # 1.91:1
        (META, 1080, 1920, 500_000, "png", []),  # 9:16
        (META, 1080, 1080, 31 * 1024 * 1024, "png", ["image.max_bytes"]),
        (META, 500, 500, 1000, "png", ["image.min_size"]),
        (META, 1000, 300, 1000, "png", ["image.aspect_ratio"]),
        (META, 1080, 1080, 1000, "gif", ["image.format"]),
        (X, 800, 418, 1000, "webp", []),
        (X, 800, 800, 6 * 1024 * 1024, "png", ["image.max_bytes"]),
        (X, 1080, 1920, 1000, "png", ["image.aspect_ratio"]),
        (TIKTOK, 720, 1280, 1000, "jpeg", []),
        (TIKTOK, 500, 889, 1000, "jpeg", ["image.min_size"]),
        (TIKTOK, 1080, 1350, 1000, "jpeg", ["image.aspect_ratio"]),
    ],
)
def test_images(platform: Platform, w: int, h: int, size: int, fmt: str, rules: list[str]) -> None:
    assert [v.rule for v in check_image(platform, w, h, size, fmt)] == rules


@pytest.mark.parametrize(
    ("platform", "field", "text", "rules"),
    [
        (META, "body", "x" * 125, []),
        (META, "body", "x" * 126, ["text.body.max_chars"]),
        (META, "headline", "Clean water, anywhere", []),
        (META, "headline", "A headline that is far too long for the feed", ["text.headline.max_chars"]),
        (X, "body", "y" * 256 + " https://shop.example/a/very/long/path/that/counts/as/23", []),  # 256 + 1 + 23
        (X, "body", "y" * 257 + " https://shop.example/x", ["text.body.max_chars"]),
        (X, "headline", "t" * 71, ["text.headline.max_chars"]),
        (TIKTOK, "body", "", ["text.body.min_chars"]),
        (TIKTOK, "body", "Drink from any stream \U0001f4a7", ["text.body.emoji"]),
        (TIKTOK, "body", "#ad {now}", ["text.body.characters"]),
        (TIKTOK, "display_name", "L", ["text.display_name.min_chars"]),
        (TIKTOK, "headline", "x", ["text.headline"]),
    ],
)
def test_texts(platform: Platform, field: str, text: str, rules: list[str]) -> None:
    assert [v.rule for v in check_text(platform, field, text)] == rules


def test_check_creative_names_every_broken_rule() -> None:
    png = synthetic_png("spec", size=64)
    assert image_format(png) == "png"
    with pytest.raises(SpecError) as info:
        check_creative(
            TIKTOK, image=png, width=64, height=64, texts={"body": "#1 " + "x" * 120}, call_to_action="BUY_IT"
        )
    rules = [v.rule for v in info.value.violations]
    assert rules == ["image.min_size", "text.body.max_chars", "text.body.characters", "call_to_action"]
    assert "tiktok image.min_size: 64x64 is below 640x640 for 1:1" in str(info.value)


def test_a_good_creative_passes_everywhere_it_fits() -> None:
    check_creative(META, texts={"body": "Built for the trail.", "headline": "Clean water"}, call_to_action="SHOP_NOW")
    check_creative(X, texts={"body": "Built for the trail https://shop.example", "headline": "Clean water"})
    check_creative(TIKTOK, texts={"body": "Built for the trail", "display_name": "Lumen"}, call_to_action="SHOP_NOW")


def test_every_platform_has_specs() -> None:
    assert set(SPECS) == set(Platform)
    for specs in SPECS.values():
        assert specs.ratios and specs.max_bytes > 0 and "body" in specs.texts and specs.calls_to_action
