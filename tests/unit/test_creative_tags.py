"""Auto-tags: dominant colours, aspect ratio, text length, offers, call-to-action type."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from adpilot.creative import tags
from adpilot.creative.specs import SPECS
from adpilot.domain import Platform


def two_tone(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int], split: float
) -> Image.Image:
    img = Image.new("RGB", size, left)
    ImageDraw.Draw(img).rectangle([round(size[0] * split), 0, size[0], size[1]], fill=right)
    return img


def test_palette_finds_the_dominant_colours_and_their_shares() -> None:
    img = two_tone((400, 400), (230, 30, 30), (30, 60, 220), 0.7)
    swatches = tags.palette(img)
    assert swatches[0].share == pytest.approx(0.7, abs=0.02) and swatches[0].name == "red"
    assert swatches[1].share == pytest.approx(0.3, abs=0.02) and swatches[1].name == "blue"
    assert swatches[0].hex == "#e61e1e"  # (230, 30, 30)
    assert sum(s.share for s in swatches) == pytest.approx(1.0)


def test_small_colours_are_not_tagged_and_one_colour_is_one_tag() -> None:
    img = two_tone((500, 500), (250, 250, 250), (20, 160, 40), 0.95)  # 5% green
    assert [t for t in tags.image_tags(img) if t.startswith("colour:")] == ["colour:white"]
    assert tags.palette(Image.new("RGB", (50, 50), (10, 10, 10))) == (tags.Swatch("#0a0a0a", 1.0, "black"),)


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((0, 0, 0), "black"),
        ((255, 255, 255), "white"),
        ((128, 128, 128), "grey"),
        ((220, 20, 20), "red"),
        ((250, 140, 10), "orange"),
        ((240, 220, 20), "yellow"),
        ((30, 180, 40), "green"),
        ((20, 180, 190), "teal"),
        ((30, 60, 220), "blue"),
        ((130, 40, 200), "purple"),
        ((240, 80, 170), "pink"),
        ((120, 70, 30), "brown"),
    ],
)
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    assert tags.colour_name(*rgb) == name


@pytest.mark.parametrize(
    ("size", "label", "orientation"),
    [
        ((1080, 1080), "1:1", "square"),
        ((1080, 1350), "4:5", "portrait"),
        ((1080, 1920), "9:16", "portrait"),
        ((1920, 1080), "16:9", "landscape"),
        ((1200, 628), "1.91:1", "landscape"),
        ((1000, 300), "3.33:1", "landscape"),
    ],
)
def test_aspect_labels(size: tuple[int, int], label: str, orientation: str) -> None:
    assert tags.aspect_label(*size) == label
    assert tags.orientation(*size) == orientation
    img = Image.new("RGB", size, (40, 40, 200))
    assert {f"aspect:{label}", f"orientation:{orientation}"} <= set(tags.image_tags(img))


def test_length_buckets_follow_the_platform_specs() -> None:
    headline = SPECS[Platform.META].texts["headline"].max_chars
    body = SPECS[Platform.META].texts["body"].max_chars
    assert tags.length_bucket("x" * headline) == "short"
    assert tags.length_bucket("x" * (headline + 1)) == "medium"
    assert tags.length_bucket("x" * body) == "medium"
    assert tags.length_bucket("x" * (body + 1)) == "long"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Now 20% off", ("percent", "discount")),
        ("Save 15 percent today", ("percent", "discount")),
        ("Only $19.99", ("price",)),
        ("From 25 EUR a month", ("price",)),
        ("Free shipping this week", ("free",)),
        ("$10 off your first order", ("price", "discount")),
        ("Summer sale starts now", ("discount",)),
        ("Built for the trail", ()),
        ("Offered to 4.9 stars", ()),
    ],
)
def test_offer_mentions(text: str, found: tuple[str, ...]) -> None:
    assert tags.offers(text) == found


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("SHOP_NOW", "purchase"),
        ("LEARN_MORE", "learn"),
        ("sign up", "signup"),
        ("INSTALL_MOBILE_APP", "install"),
        ("BOOK_TRAVEL", "book"),
        ("NO_BUTTON", "none"),
        ("Shop the collection today", "purchase"),
        ("Learn more about filters", "learn"),
        ("Download the app", "install"),
        ("Clean water, anywhere", None),
    ],
)
def test_call_to_action_types(value: str, kind: str | None) -> None:
    assert tags.cta_type(value) == kind


def test_every_platform_call_to_action_has_a_type() -> None:
    for specs in SPECS.values():
        assert all(tags.cta_type(cta) is not None for cta in specs.calls_to_action), specs.platform


def test_text_tags_combine_length_offers_and_cta() -> None:
    assert tags.text_tags("Shop now: 20% off") == ("length:short", "offer:percent", "offer:discount", "cta:purchase")
    assert tags.text_tags("Built for the trail") == ("length:short",)
