"""Auto-tags, so reports can group assets by what they show: colours, shape, length, offers, calls to action.

Pure: a decoded image or a string in, tags out. A tag is ``key:value`` (``colour:blue``,
``aspect:9:16``, ``length:short``, ``offer:percent``, ``cta:purchase``); tags people add by hand have
no fixed form. Thresholds come from the platforms' specs (:mod:`adpilot.creative.specs`), not from data.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from adpilot.creative.specs import SPECS
from adpilot.domain.ids import Platform

THUMB_SIDE = 64  # colours are read from a 64 × 64 thumbnail (4,096 pixels)
PALETTE_SIZE = 4  # four dominant colours at most
KMEANS_ROUNDS = 12
MIN_COLOUR_SHARE = 0.10  # a colour covering less of the image is not tagged
ASPECT_TOLERANCE = 0.03  # Meta's tolerance on its own ratios, the loosest of the three platforms

# Ratios the platforms ask for (specs) and the common photo ones, so every image gets a readable label.
ASPECT_RATIOS: tuple[tuple[str, float], ...] = (
    ("1:1", 1.0),
    ("4:5", 4 / 5),
    ("9:16", 9 / 16),
    ("16:9", 16 / 9),
    ("1.91:1", 1.91),
    ("2:3", 2 / 3),
    ("3:2", 3 / 2),
    ("3:4", 3 / 4),
    ("4:3", 4 / 3),
)

# Length buckets from the specs: what fits Meta's headline, what Meta shows of primary text unfolded.
SHORT_CHARS = SPECS[Platform.META].texts["headline"].max_chars
MEDIUM_CHARS = SPECS[Platform.META].texts["body"].max_chars

# Call-to-action buttons of the three platforms (specs) by what they ask the viewer to do.
CTA_TYPES: dict[str, str] = {
    "SHOP_NOW": "purchase",
    "ORDER_NOW": "purchase",
    "GET_OFFER": "purchase",
    "LEARN_MORE": "learn",
    "READ_MORE": "learn",
    "SIGN_UP": "signup",
    "SUBSCRIBE": "signup",
    "APPLY_NOW": "signup",
    "DOWNLOAD": "install",
    "DOWNLOAD_NOW": "install",
    "INSTALL_MOBILE_APP": "install",
    "INSTALL_NOW": "install",
    "CONTACT_US": "contact",
    "GET_QUOTE": "contact",
    "BOOK_TRAVEL": "book",
    "BOOK_NOW": "book",
    "WATCH_MORE": "watch",
    "WATCH_NOW": "watch",
    "VIEW_NOW": "watch",
    "VISIT_SITE": "visit",
    "VISIT_STORE": "visit",
    "NO_BUTTON": "none",
}
# The same intents written in copy; the first phrase found wins, in this order.
CTA_PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("purchase", r"\b(?:shop|buy|order|get yours|add to cart|grab yours)\b"),
        ("install", r"\b(?:download|install|get the app)\b"),
        ("signup", r"\b(?:sign up|subscribe|join|register|apply)\b"),
        ("book", r"\b(?:book|reserve)\b"),
        ("contact", r"\b(?:contact us|call us|get a quote)\b"),
        ("learn", r"\b(?:learn more|find out|discover|read more|see how)\b"),
        ("watch", r"\b(?:watch)\b"),
        ("visit", r"\b(?:visit)\b"),
    )
)

_CURRENCY = r"[$€£¥₹₩]"
_CODES = r"(?:usd|eur|gbp|jpy|cad|aud|chf|inr|krw|dollars?|euros?|pounds?|yen)"
OFFERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("percent", r"\d\s?%|\b\d+\s?per\s?cent\b"),
        ("price", rf"{_CURRENCY}\s?\d|\b\d[\d.,]*\s?{_CODES}\b"),
        ("free", r"\bfree\b"),
        ("discount", rf"(?:%|\d|{_CODES})\s?off\b|\b(?:sale|discount|save|deal|coupon|promo)\w*\b"),
    )
)


@dataclass(frozen=True, slots=True)
class Swatch:
    """One dominant colour: hex, share of the image, and a plain name for tagging."""

    hex: str
    share: float
    name: str


def colour_name(r: int, g: int, b: int) -> str:
    """A plain colour name from RGB by hue, saturation and value (12 names)."""
    h, s, v = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
    if v < 0.2:
        return "black"
    if s < 0.15:
        return "white" if v > 0.85 else "grey"
    hue = h * 360
    if (hue < 40 or hue >= 345) and v < 0.6 and s > 0.3:
        return "brown"
    for limit, name in ((15, "red"), (40, "orange"), (70, "yellow"), (165, "green"), (200, "teal"), (255, "blue")):
        if hue < limit:
            return name
    for limit, name in ((290, "purple"), (345, "pink")):
        if hue < limit:
            return name
    return "red"


def _median_cut(pixels: NDArray[np.uint8], boxes: int) -> list[NDArray[np.uint8]]:
    """Split the pixel set ``boxes - 1`` times: each time the box with the widest channel range, at its
    median along that channel. Deterministic, unlike k-means with random starts."""
    parts = [pixels]
    while len(parts) < boxes:
        spans = [int(np.ptp(p, axis=0).max()) if len(p) > 1 else -1 for p in parts]
        i = int(np.argmax(spans))
        if spans[i] <= 0:
            break  # every box is one colour
        box = parts.pop(i)
        channel = int(np.argmax(np.ptp(box, axis=0)))
        ordered = box[np.argsort(box[:, channel], kind="stable")]
        half = len(ordered) // 2
        parts[i:i] = [ordered[:half], ordered[half:]]
    return parts


def _kmeans(pixels: NDArray[np.float64], centres: NDArray[np.float64], rounds: int) -> NDArray[np.intp]:
    """Lloyd's iterations from the given centres; returns each pixel's cluster."""
    labels = np.zeros(len(pixels), np.intp)
    for _ in range(rounds):
        distances = ((pixels[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = distances.argmin(axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for k in range(len(centres)):
            members = pixels[labels == k]
            if len(members):
                centres[k] = members.mean(axis=0)
    return labels


def palette(img: Image.Image, size: int = PALETTE_SIZE) -> tuple[Swatch, ...]:
    """The dominant colours of an image, largest share first: k-means on a thumbnail, started from a
    median cut (deterministic, and the median cut alone would split a two-colour image at its median)."""
    thumb = img.convert("RGB").resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(thumb, np.uint8).reshape(-1, 3)
    centres = np.array([box.mean(axis=0) for box in _median_cut(pixels, size)], np.float64)
    labels = _kmeans(pixels.astype(np.float64), centres, KMEANS_ROUNDS)
    total = len(pixels)
    swatches: dict[str, Swatch] = {}
    for k in range(len(centres)):
        count = int((labels == k).sum())
        if not count:
            continue
        r, g, b = (round(float(c)) for c in pixels[labels == k].mean(axis=0))
        hex_ = f"#{r:02x}{g:02x}{b:02x}"
        prior = swatches.get(hex_)
        swatches[hex_] = Swatch(hex_, count / total + (prior.share if prior else 0.0), colour_name(r, g, b))
    return tuple(sorted(swatches.values(), key=lambda s: (-s.share, s.hex)))


def aspect_label(width: int, height: int) -> str:
    """The nearest named ratio within :data:`ASPECT_TOLERANCE`, else ``w:h`` to two decimals."""
    if width <= 0 or height <= 0:
        raise ValueError("width, height: must be positive")
    ratio = width / height
    name, target = min(ASPECT_RATIOS, key=lambda r: abs(ratio / r[1] - 1))
    return name if abs(ratio / target - 1) <= ASPECT_TOLERANCE else f"{ratio:.2f}:1"


def orientation(width: int, height: int) -> str:
    ratio = width / height
    if abs(ratio - 1) <= ASPECT_TOLERANCE:
        return "square"
    return "landscape" if ratio > 1 else "portrait"


def image_tags(img: Image.Image, swatches: tuple[Swatch, ...] | None = None) -> tuple[str, ...]:
    """Colour names covering at least :data:`MIN_COLOUR_SHARE`, aspect ratio and orientation."""
    shares: dict[str, float] = {}
    for s in swatches if swatches is not None else palette(img):
        shares[s.name] = shares.get(s.name, 0.0) + s.share
    tags = [f"colour:{name}" for name, share in sorted(shares.items()) if share >= MIN_COLOUR_SHARE]
    tags += [f"aspect:{aspect_label(img.width, img.height)}", f"orientation:{orientation(img.width, img.height)}"]
    return tuple(tags)


def length_bucket(text: str) -> str:
    n = len(text.strip())
    if n <= SHORT_CHARS:
        return "short"
    return "medium" if n <= MEDIUM_CHARS else "long"


def offers(text: str) -> tuple[str, ...]:
    """Which kinds of offer the copy mentions: percent, price, free, discount."""
    return tuple(kind for kind, pattern in OFFERS if pattern.search(text))


def cta_type(value: str) -> str | None:
    """What a call to action asks for, from a button value (``SHOP_NOW``) or from copy ("Shop now")."""
    key = value.strip().upper().replace(" ", "_").replace("-", "_")
    if key in CTA_TYPES:
        return CTA_TYPES[key]
    for kind, pattern in CTA_PHRASES:
        if pattern.search(value):
            return kind
    return None


def text_tags(text: str) -> tuple[str, ...]:
    """Length bucket, offer mentions and call-to-action type of a piece of copy."""
    tags = [f"length:{length_bucket(text)}", *(f"offer:{o}" for o in offers(text))]
    cta = cta_type(text)
    if cta is not None:
        tags.append(f"cta:{cta}")
    return tuple(tags)
