"""Image variants: platform sizes and ratios, text inside the safe area, the subject kept whole in every crop."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from adpilot.creative.generate_image import (
    Box,
    BrandStyle,
    crop_box,
    cta_label,
    find_subject,
    load_image,
    render,
    render_variants,
)
from adpilot.creative.specs import SPECS, Ratio, check_image, image_format, matching_ratio
from adpilot.domain import Platform, asset_id_for_bytes

ALL_RATIOS = [pytest.param(p, r, id=f"{p}-{r}") for p in Platform for r in SPECS[p].ratios]
BACKDROP = (236, 232, 224)
RED = (200, 30, 40)
LONG_HEADLINE = "Dry feet on every trail, rated 4.8 by 2,000 runners: Supercalifragilisticexpialidocious"


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def scene(size: tuple[int, int], subject: Box, *, backdrop: tuple[int, int, int] = BACKDROP) -> bytes:
    """A plain backdrop with a red subject (a disc on a rectangle) filling ``subject``."""
    img = Image.new("RGB", size, backdrop)
    d = ImageDraw.Draw(img)
    mid = subject.top + subject.height // 2
    d.ellipse((subject.left, subject.top, subject.right - 1, mid), fill=RED)
    d.rectangle(
        (subject.left + subject.width // 4, mid, subject.right - 1 - subject.width // 4, subject.bottom - 1), fill=RED
    )
    return png(img)


def red_pixels(data: bytes) -> int:
    a = np.asarray(load_image(data)).astype(int)
    return int((np.abs(a - np.array(RED)).sum(axis=2) < 30).sum())


OFF_CENTRE = Box(1250, 120, 1500, 520)  # top right of a 1600 x 900 landscape
PHOTO = scene((1600, 900), OFF_CENTRE)


@pytest.mark.parametrize(("platform", "ratio"), ALL_RATIOS)
def test_every_ratio_meets_the_platform_specs(platform: Platform, ratio: Ratio) -> None:
    v = render(PHOTO, platform, ratio, headline="Dry feet on every trail", call_to_action="SHOP_NOW")
    with Image.open(io.BytesIO(v.png)) as img:
        assert img.size == (v.width, v.height)
    assert image_format(v.png) == "png"
    assert check_image(platform, v.width, v.height, len(v.png), "png") == []
    assert matching_ratio(platform, v.width, v.height) == ratio
    assert v.width >= ratio.min_width and v.height >= ratio.min_height
    assert max(v.width, v.height) >= 1200
    assert v.ratio == str(ratio)
    assert v.derived_from == asset_id_for_bytes(PHOTO)
    assert v.asset_id == asset_id_for_bytes(v.png)


@pytest.mark.parametrize(
    ("platform", "ratio"),
    [
        (Platform.TIKTOK, SPECS[Platform.TIKTOK].ratios[0]),  # 9:16
        (Platform.TIKTOK, SPECS[Platform.TIKTOK].ratios[2]),  # 16:9
        (Platform.META, SPECS[Platform.META].ratios[0]),  # 1.91:1
        (Platform.X, SPECS[Platform.X].ratios[1]),  # 1:1
    ],
)
@pytest.mark.parametrize("headline", ["Dry feet", LONG_HEADLINE])
def test_overlay_pixels_lie_inside_the_safe_area(platform: Platform, ratio: Ratio, headline: str) -> None:
    cta, colours = "INSTALL_MOBILE_APP", ("#14213D", "#E8710A")
    with_text = render(PHOTO, platform, ratio, headline=headline, call_to_action=cta, colours=colours)
    bare = render(PHOTO, platform, ratio, headline=headline, call_to_action=cta, colours=colours, overlay=False)
    changed = np.argwhere((np.asarray(load_image(with_text.png)) != np.asarray(load_image(bare.png))).any(axis=2))
    assert len(changed) > 0
    top, left = changed.min(axis=0)
    bottom, right = changed.max(axis=0) + 1
    safe = with_text.safe_area
    assert safe.contains(Box(int(left), int(top), int(right), int(bottom)))
    assert with_text.headline_box is not None and with_text.button_box is not None
    assert safe.contains(with_text.headline_box) and safe.contains(with_text.button_box)
    assert with_text.headline_box.overlap(with_text.button_box) == 0
    w, h = with_text.width, with_text.height
    assert safe.left >= 0.1 * w - 1 and safe.top >= 0.1 * h - 1
    if platform is Platform.TIKTOK:  # clear of the right-hand buttons and the caption at the bottom
        assert safe.right <= 0.85 * w and safe.bottom <= 0.78 * h
    else:
        assert safe.right <= 0.9 * w + 1 and safe.bottom <= 0.9 * h + 1


@pytest.mark.parametrize(
    "subject",
    [Box(40, 60, 300, 460), Box(1250, 120, 1500, 520), Box(60, 470, 330, 860), Box(1280, 430, 1560, 880)],
    ids=["top-left", "top-right", "bottom-left", "bottom-right"],
)
def test_an_off_centre_subject_stays_inside_every_crop(subject: Box) -> None:
    data = scene((1600, 900), subject)
    found = find_subject(load_image(data))
    assert found.contains(subject) and found.width <= subject.width * 1.2 and found.height <= subject.height * 1.2
    centred_misses = 0
    for platform in Platform:
        for ratio in SPECS[platform].ratios:
            crop, padded = crop_box(1600, 900, found, ratio.value)
            assert not padded and crop.contains(subject)
            assert Box(0, 0, 1600, 900).contains(crop)
            cl, ct = 800 - crop.width // 2, 450 - crop.height // 2
            centred = Box(cl, ct, cl + crop.width, ct + crop.height)
            centred_misses += not centred.contains(subject)
    assert centred_misses >= 5  # a blind centre crop would have cut this subject
    # and in pixels: the whole subject is in the output, scaled
    ratio = SPECS[Platform.TIKTOK].ratios[0]
    v = render(data, Platform.TIKTOK, ratio, headline="", call_to_action="", overlay=False)
    scale = (v.width / v.crop.width) * (v.height / v.crop.height)
    assert red_pixels(v.png) == pytest.approx(red_pixels(data) * scale, rel=0.03)


def test_a_textured_subject_is_found_by_its_edges() -> None:
    """A subject in the backdrop's own average colour, told apart only by its texture."""
    rng = np.random.default_rng(0)
    a = np.full((600, 900, 3), 128, dtype=np.uint8)
    tile = (np.indices((200, 160)).sum(axis=0) // 8 % 2 * 120 + 68).astype(np.uint8)  # mean 128: same colour
    a[330:530, 620:780] = tile[..., None]
    a = np.clip(a.astype(int) + rng.integers(-3, 4, a.shape), 0, 255).astype(np.uint8)
    found = find_subject(Image.fromarray(a))
    truth = Box(620, 330, 780, 530)
    iou = found.overlap(truth) / (found.width * found.height + truth.width * truth.height - found.overlap(truth))
    assert iou > 0.7


def test_a_subject_wider_than_the_crop_is_padded_not_cut() -> None:
    wide = Box(100, 300, 1500, 600)
    data = scene((1600, 900), wide)
    v = render(data, Platform.TIKTOK, SPECS[Platform.TIKTOK].ratios[0], headline="Dry", call_to_action="SHOP_NOW")
    assert v.how.startswith("crop:pad")
    assert v.crop.contains(wide) and v.crop.top < 0 < 900 < v.crop.bottom
    a = np.asarray(load_image(v.png))
    assert tuple(a[2, v.width // 2]) == (255, 255, 255)  # the margin takes the background colour (white)


def test_no_distinct_subject_means_the_whole_frame() -> None:
    flat = png(Image.new("RGB", (800, 600), BACKDROP))
    assert find_subject(load_image(flat)) == Box(0, 0, 800, 600)


def test_colour_variants_paint_the_button_and_the_panel() -> None:
    style = BrandStyle(backgrounds=("#FFFFFF", "#14213D"), buttons=("#1A73E8", "#E8710A"))
    out = render_variants(PHOTO, Platform.X, headline="Dry feet", call_to_action="SHOP_NOW", style=style)
    assert len(out) == 2 * 2 * len(SPECS[Platform.X].ratios)
    assert len({v.asset_id for v in out}) == len(out)
    for v in out:
        a = np.asarray(load_image(v.png)).astype(int)
        assert v.button_box is not None and v.headline_box is not None
        b = v.button_box
        button_rgb = tuple(int(v.button[i : i + 2], 16) for i in (1, 3, 5))
        assert tuple(a[b.top + b.height // 2, b.left + 4]) == button_rgb
        hb = v.headline_box
        mid = hb.top + hb.height // 2  # left of the text, clear of the rounded corners
        panel = a[mid - 5 : mid + 5, hb.left + 2 : hb.left + 6].reshape(-1, 3).mean(axis=0)
        bg = np.array([int(v.background[i : i + 2], 16) for i in (1, 3, 5)])
        assert np.abs(panel - bg).max() < 0.2 * 255  # 85 % panel over the photo
        assert f"colours:{v.background}/{v.button}" in v.how


def test_only_the_ratios_asked_for_and_unknown_ones_refused() -> None:
    out = render_variants(PHOTO, Platform.META, headline="Dry", call_to_action="SHOP_NOW", ratios=["9:16"])
    assert [v.ratio for v in out] == ["9:16"] * len(BrandStyle().colourways())
    with pytest.raises(ValueError, match="accepts"):
        render_variants(PHOTO, Platform.X, headline="Dry", call_to_action="SHOP_NOW", ratios=["9:16"])


def test_fonts_come_from_configuration() -> None:
    ratio = SPECS[Platform.X].ratios[1]
    with pytest.raises(ValueError, match="font_path"):
        render(
            PHOTO,
            Platform.X,
            ratio,
            headline="Dry",
            call_to_action="SHOP_NOW",
            style=BrandStyle(font_path="/no/such.ttf"),
        )
    font = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    if not font.exists():
        pytest.skip("no DejaVu font on this machine")
    default = render(PHOTO, Platform.X, ratio, headline="Dry feet", call_to_action="SHOP_NOW")
    custom = render(
        PHOTO, Platform.X, ratio, headline="Dry feet", call_to_action="SHOP_NOW", style=BrandStyle(font_path=str(font))
    )
    assert custom.png != default.png
    assert custom.headline_box is not None and custom.safe_area.contains(custom.headline_box)


def test_transparent_and_rotated_sources_are_flattened_and_turned_upright() -> None:
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buf = io.BytesIO()
    rgba.convert("RGB").save(buf, "JPEG", exif=exif.tobytes())
    assert load_image(buf.getvalue()).size == (200, 300)
    assert load_image(png(rgba)).getpixel((5, 5)) == (255, 255, 255)


def test_cta_labels() -> None:
    assert cta_label("SHOP_NOW") == "Shop now"
    assert cta_label("NO_BUTTON") == cta_label("") == ""
