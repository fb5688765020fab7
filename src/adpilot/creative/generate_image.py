"""Image variants: each platform's aspect ratios cropped around the subject, with a headline and a button.

* **Subject.** A saliency map, colour distance from the border's median colour (the backdrop of most
  product shots) plus edge density, thresholded by Otsu's method; the subject box bounds the largest
  connected salient regions that together hold 95 % of the saliency, so specks do not stretch it.
* **Crop.** The largest box of the target ratio inside the image, centred on the subject and slid back
  inside the borders: the subject stays whole wherever it sits. When the subject is larger than that box
  the crop grows past the image and the margin is filled with the background colour ("pad").
* **Size.** The long side is ``BrandStyle.long_side`` (1200 px by default), raised when a platform's
  minimum for the ratio needs more.
* **Overlay.** The headline, wrapped and sized to fit, on a panel of the background colour, and a button
  with the call to action in the button colour, both inside the safe area: 10 % margins, and on TikTok
  more at the right (the like/comment/share rail) and the bottom (caption and button). The button sits at
  the bottom of the safe area, left or right; the headline at the top or above the button, full width or
  in a narrower column, left or right: whichever placement covers least of the subject.
* **Colour variants.** One image per (background, button) colour pair of the style.

Output: PNG bytes with their metadata (size, ratio, crop, subject, safe area, text boxes) and lineage.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont, ImageOps
from scipy import ndimage

from adpilot.creative.specs import SPECS, Ratio, check_image
from adpilot.domain.entities import asset_id_for_bytes
from adpilot.domain.ids import Platform

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class Box:
    """A pixel rectangle, right and bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def contains(self, other: Box) -> bool:
        return (
            self.left <= other.left
            and self.top <= other.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def overlap(self, other: Box) -> int:
        """Area shared with ``other``."""
        w = min(self.right, other.right) - max(self.left, other.left)
        h = min(self.bottom, other.bottom) - max(self.top, other.top)
        return max(w, 0) * max(h, 0)


@dataclass(frozen=True, slots=True)
class SafeMargins:
    """Fractions of the width (left, right) and height (top, bottom) that text keeps clear of."""

    left: float = 0.10
    top: float = 0.10
    right: float = 0.10
    bottom: float = 0.10

    def box(self, width: int, height: int) -> Box:
        return Box(
            round(width * self.left),
            round(height * self.top),
            round(width * (1 - self.right)),
            round(height * (1 - self.bottom)),
        )


# TikTok's in-feed UI covers the right edge (profile, like, comment, share) and the bottom (account name,
# caption, the ad's button): its published safe zones leave roughly the right 12-15 % and the bottom
# 20-25 % of a 9:16 screen to the app. Meta and X show a feed image without overlays: 10 % all round.
SAFE_MARGINS: dict[Platform, SafeMargins] = {
    Platform.META: SafeMargins(),
    Platform.X: SafeMargins(),
    Platform.TIKTOK: SafeMargins(left=0.10, top=0.10, right=0.17, bottom=0.25),
}


@dataclass(frozen=True, slots=True)
class BrandStyle:
    """Visual brand rules (filled from settings by the caller). Colours are CSS-style strings."""

    backgrounds: tuple[str, ...] = ("#FFFFFF", "#14213D")
    buttons: tuple[str, ...] = ("#1A73E8", "#E8710A")
    font_path: str | None = None  # a TrueType/OpenType file; None: Pillow's built-in font
    panel_opacity: float = 0.85
    long_side: int = 1200

    def __post_init__(self) -> None:
        if not self.backgrounds or not self.buttons:
            raise ValueError("backgrounds and buttons: at least one colour each")
        for colour in (*self.backgrounds, *self.buttons):
            ImageColor.getrgb(colour)  # raises ValueError naming the colour
        if not 0 <= self.panel_opacity <= 1 or self.long_side < 100:
            raise ValueError("panel_opacity in [0, 1], long_side >= 100")

    def colourways(self) -> list[tuple[str, str]]:
        """Every (background, button) pair."""
        return [(bg, btn) for bg in self.backgrounds for btn in self.buttons]


@dataclass(frozen=True, slots=True)
class ImageVariant:
    """One rendered image for one platform and ratio, with what was done to make it."""

    platform: Platform
    png: bytes
    width: int
    height: int
    ratio: str  # e.g. "9:16"
    crop: Box  # in source pixels (may reach past the source when padded)
    subject: Box  # in source pixels
    safe_area: Box  # in output pixels
    headline_box: Box | None  # the headline panel, output pixels
    button_box: Box | None
    background: str
    button: str
    derived_from: str  # the source image's asset id
    how: str  # e.g. "crop:subject ratio:9:16 overlay:headline-top colours:#FFFFFF/#1A73E8"

    @property
    def asset_id(self) -> str:
        return asset_id_for_bytes(self.png)


def load_image(data: bytes) -> Image.Image:
    """Decoded RGB, turned upright by its EXIF orientation, transparency flattened onto white."""
    with Image.open(io.BytesIO(data)) as opened:
        img = ImageOps.exif_transpose(opened)
        if img.mode in ("RGBA", "LA", "P"):
            rgba = img.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(flat, rgba).convert("RGB")
        return img.convert("RGB")


def find_subject(img: Image.Image) -> Box:
    """Where the subject is: the box of the salient pixels (colour off the border's, or edges)."""
    small = img.copy()
    small.thumbnail((192, 192))
    a = np.asarray(small, dtype=np.float64) / 255.0
    h, w = a.shape[:2]
    band = max(1, min(h, w) // 40)
    border = np.concatenate(
        [a[:band].reshape(-1, 3), a[-band:].reshape(-1, 3), a[:, :band].reshape(-1, 3), a[:, -band:].reshape(-1, 3)]
    )
    distance = np.linalg.norm(a - np.median(border, axis=0), axis=2)
    luminance = a @ np.array([0.299, 0.587, 0.114])
    edges = np.hypot(ndimage.sobel(luminance, axis=0), ndimage.sobel(luminance, axis=1))
    saliency = distance / (distance.max() + 1e-9) + ndimage.uniform_filter(edges, 5) / (edges.max() + 1e-9)
    saliency = ndimage.uniform_filter(saliency, 3)
    mask = saliency > _otsu(saliency)
    if mask.sum() < 0.002 * mask.size or saliency.max() - saliency.min() < 0.05:  # no distinct subject
        return Box(0, 0, img.width, img.height)
    # the connected salient regions that carry most of the saliency: specks and texture far out do not count
    labels, count = ndimage.label(mask)
    mass = np.asarray(ndimage.sum_labels(saliency, labels, index=np.arange(1, count + 1)))
    order = np.argsort(mass)[::-1]
    share = np.cumsum(mass[order]) / mass.sum()
    keep = order[: int(np.searchsorted(share, 0.95)) + 1] + 1
    ys, xs = np.nonzero(np.isin(labels, keep))
    grow = 0.01  # of each side: what the smoothing and threshold shave off a soft edge
    sx, sy = img.width / w, img.height / h
    return Box(
        max(0, int((xs.min() - grow * w) * sx)),
        max(0, int((ys.min() - grow * h) * sy)),
        min(img.width, int(np.ceil((xs.max() + 1 + grow * w) * sx))),
        min(img.height, int(np.ceil((ys.max() + 1 + grow * h) * sy))),
    )


def crop_box(width: int, height: int, subject: Box, ratio: float) -> tuple[Box, bool]:
    """The crop of ``ratio`` (width / height) around ``subject``, and whether it reaches past the image."""
    if width / height > ratio:
        cw, ch = round(height * ratio), height
    else:
        cw, ch = width, round(width / ratio)
    padded = subject.width > cw or subject.height > ch
    if padded:  # the smallest box of the ratio that holds the subject
        cw = max(subject.width, round(subject.height * ratio))
        ch = max(subject.height, round(cw / ratio))
        cw = max(cw, round(ch * ratio))
    cx, cy = (subject.left + subject.right) / 2, (subject.top + subject.bottom) / 2
    left = _slide(cx - cw / 2, cw, width)
    top = _slide(cy - ch / 2, ch, height)
    return Box(left, top, left + cw, top + ch), padded


def output_size(ratio: Ratio, long_side: int) -> tuple[int, int]:
    """Pixel size for ``ratio``: the long side ``long_side``, raised to the platform's minimum if needed."""
    scale = max(long_side / max(ratio.width, ratio.height), ratio.min_width / ratio.width)
    scale = max(scale, ratio.min_height / ratio.height)
    w, h = round(ratio.width * scale), round(ratio.height * scale)
    return max(w, ratio.min_width), max(h, ratio.min_height)


def render_variants(
    image: bytes,
    platform: Platform,
    *,
    headline: str,
    call_to_action: str,
    style: BrandStyle | None = None,
    ratios: Sequence[str] | None = None,
    colourways: Sequence[tuple[str, str]] | None = None,
) -> list[ImageVariant]:
    """Every ratio of ``platform`` (or those named, e.g. ``["9:16"]``) × every colour pair of the style."""
    style = style or BrandStyle()
    wanted = [r for r in SPECS[platform].ratios if ratios is None or str(r) in ratios]
    if ratios is not None and len(wanted) != len(set(ratios)):
        known = ", ".join(str(r) for r in SPECS[platform].ratios)
        raise ValueError(f"ratios: {platform} accepts {known}, not {sorted(set(ratios))}")
    return [
        render(image, platform, r, headline=headline, call_to_action=call_to_action, style=style, colours=c)
        for r in wanted
        for c in (colourways or style.colourways())
    ]


def render(
    image: bytes,
    platform: Platform,
    ratio: Ratio,
    *,
    headline: str,
    call_to_action: str,
    style: BrandStyle | None = None,
    colours: tuple[str, str] | None = None,
    margins: SafeMargins | None = None,
    overlay: bool = True,
) -> ImageVariant:
    """One image: ``image`` cropped to ``ratio`` around its subject, resized, with the overlays drawn."""
    style = style or BrandStyle()
    background, button = colours or style.colourways()[0]
    src = load_image(image)
    subject = find_subject(src)
    crop, padded = crop_box(src.width, src.height, subject, ratio.value)
    width, height = output_size(ratio, style.long_side)
    canvas = Image.new("RGB", (crop.width, crop.height), ImageColor.getrgb(background))
    canvas.paste(src, (-crop.left, -crop.top))
    out = canvas.resize((width, height), Image.Resampling.LANCZOS)
    safe = (margins or SAFE_MARGINS[platform]).box(width, height)
    sx, sy = width / crop.width, height / crop.height
    subject_out = Box(
        round((subject.left - crop.left) * sx), round((subject.top - crop.top) * sy),
        round((subject.right - crop.left) * sx), round((subject.bottom - crop.top) * sy),
    )  # fmt: skip
    how = [f"crop:{'pad' if padded else 'subject'}", f"ratio:{ratio}"]
    headline_box = button_box = None
    if overlay:
        out, headline_box, button_box, where = _draw_overlay(
            out, safe, subject_out, headline, call_to_action, style, background, button
        )
        how.append(f"overlay:headline-{where}")
    how.append(f"colours:{background}/{button}")
    buf = io.BytesIO()
    out.save(buf, "PNG", compress_level=6)
    png = buf.getvalue()
    problems = check_image(platform, width, height, len(png), "png")
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    return ImageVariant(
        platform, png, width, height, str(ratio), crop, subject, safe, headline_box, button_box, background,
        button, asset_id_for_bytes(image), " ".join(how),
    )  # fmt: skip


# -- overlay -------------------------------------------------------------------------------------------------------
def _draw_overlay(
    img: Image.Image,
    safe: Box,
    subject: Box,
    headline: str,
    call_to_action: str,
    style: BrandStyle,
    background: str,
    button: str,
) -> tuple[Image.Image, Box | None, Box | None, str]:
    unit = min(img.width, img.height)
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    gap = round(unit * 0.02)

    button_box = None
    label = cta_label(call_to_action)
    if label:
        start = round(unit * 0.045)
        font, size = _font_fitting(style, [label], safe.width - 2 * start, 1, start, round(unit * 0.025))
        tw, th = _text_size(draw, label, font)
        pad_x, pad_y = round(size * 0.9), round(size * 0.55)
        bw, bh = tw + 2 * pad_x, th + 2 * pad_y
        left = Box(safe.left, safe.bottom - bh, safe.left + bw, safe.bottom)
        right = Box(safe.right - bw, safe.bottom - bh, safe.right, safe.bottom)
        button_box = right if right.overlap(subject) < left.overlap(subject) else left
        rgb = ImageColor.getrgb(button)
        draw.rounded_rectangle(_xy(button_box), radius=round(size * 0.5), fill=(*rgb[:3], 255))
        draw.text((button_box.left + pad_x, button_box.top + pad_y), label, font=font, fill=_ink(rgb), anchor="lt")

    headline_box = None
    where = "none"
    if headline.strip():
        room_bottom = (button_box.top - gap) if button_box else safe.bottom
        pad = round(unit * 0.025)
        best: tuple[tuple[int, int, int], Box, list[str], Font, int, str] | None = None
        for rank, share in enumerate((1.0, 0.6)):  # full width, or a narrower column beside the subject
            width = round(safe.width * share) - 2 * pad
            font, size = _font_fitting(style, [headline], width, 4, round(unit * 0.085), round(unit * 0.03))
            lines = _wrap(draw, headline, font, width)
            while len(lines) > 1 and _block_height(draw, lines, font, size) + 2 * pad > (room_bottom - safe.top) / 2:
                lines = lines[:-1]  # too long for the room: the last lines go, never part of a word
            block_w = max(_text_size(draw, line, font)[0] for line in lines) + 2 * pad
            block_h = _block_height(draw, lines, font, size) + 2 * pad
            for vertical, y in (("top", safe.top), ("bottom", room_bottom - block_h)):
                for horizontal, x in (("left", safe.left), ("right", safe.right - block_w)):
                    box = Box(x, y, x + block_w, y + block_h)
                    score = (box.overlap(subject), rank, -size)
                    if best is None or score < best[0]:
                        best = (score, box, lines, font, size, f"{vertical}-{horizontal}")
        assert best is not None
        _, headline_box, lines, font, size, where = best
        rgb = ImageColor.getrgb(background)
        draw.rounded_rectangle(_xy(headline_box), radius=pad, fill=(*rgb[:3], round(255 * style.panel_opacity)))
        y = headline_box.top + pad
        for line in lines:
            draw.text((headline_box.left + pad, y), line, font=font, fill=_ink(rgb), anchor="lt")
            y += round(size * 1.2)
    composed = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    return composed, headline_box, button_box, where


def cta_label(call_to_action: str) -> str:
    """``SHOP_NOW`` → ``Shop now`` (``NO_BUTTON`` and empty: no button)."""
    if not call_to_action or call_to_action == "NO_BUTTON":
        return ""
    return call_to_action.replace("_", " ").capitalize()


def _font(style: BrandStyle, size: int) -> Font:
    if style.font_path is None:
        return ImageFont.load_default(size=size)
    try:
        return ImageFont.truetype(style.font_path, size=size)
    except OSError as exc:
        raise ValueError(f"font_path: cannot load {style.font_path!r}: {exc}") from None


def _font_fitting(
    style: BrandStyle, texts: list[str], width: float, max_lines: int, start: int, smallest: int
) -> tuple[Font, int]:
    """The largest size from ``start`` down to ``smallest`` at which every text wraps into ``max_lines``."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    size = start
    while True:
        font = _font(style, size)
        if size <= smallest or all(len(_wrap(probe, t, font, width)) <= max_lines for t in texts):
            return font, size
        size = max(smallest, round(size * 0.9))


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> list[str]:
    """Greedy word wrap; a word wider than a whole line is split between characters."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if _text_size(draw, candidate, font)[0] <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:
            if line and _text_size(draw, line + ch, font)[0] > width:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return lines


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: Font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, anchor="lt")
    return int(np.ceil(right - min(left, 0))), int(np.ceil(bottom - min(top, 0)))


def _block_height(draw: ImageDraw.ImageDraw, lines: list[str], font: Font, size: int) -> int:
    return round(size * 1.2) * (len(lines) - 1) + _text_size(draw, lines[-1] + "gy", font)[1]


def _ink(rgb: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Near-black or white, whichever contrasts more with ``rgb`` (WCAG relative luminance)."""
    channels = [c / 255 for c in rgb[:3]]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    dark = (luminance + 0.05) / (0.0137 + 0.05)  # against #111111
    light = 1.05 / (luminance + 0.05)
    return (17, 17, 17, 255) if dark >= light else (255, 255, 255, 255)


def _xy(box: Box) -> tuple[int, int, int, int]:
    return box.left, box.top, box.right - 1, box.bottom - 1  # Pillow's rectangles include their far edge


# -- geometry ------------------------------------------------------------------------------------------------------
def _otsu(values: np.ndarray) -> float:
    """The threshold that best separates ``values`` into two classes (Otsu 1979)."""
    hist, edges = np.histogram(values, bins=128)
    p = hist / hist.sum()
    omega = np.cumsum(p)
    mu = np.cumsum(p * (edges[:-1] + edges[1:]) / 2)
    between = (mu[-1] * omega - mu) ** 2 / (omega * (1 - omega) + 1e-12)
    return float(edges[int(np.argmax(between[:-1])) + 1])


def _slide(start: float, size: int, limit: int) -> int:
    """``start`` moved so ``[start, start + size)`` lies inside ``[0, limit)``; centred when it cannot."""
    if size >= limit:
        return -((size - limit) // 2)
    return int(min(max(round(start), 0), limit - size))
