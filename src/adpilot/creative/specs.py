"""Each platform's creative constraints, checked before anything is uploaded.

Pure: give it sizes, bytes and text, it answers with violations that name the rule. Figures follow the
platforms' published ad specifications (feed placements; image ads):

* Meta (Facebook and Instagram feed): JPG or PNG, at most 30 MB, at least 600 px on each side, aspect
  1.91:1 to 4:5 or 9:16 (3 % tolerance); primary text shows 125 characters, the headline 27.
* X (image with a website card): JPG, PNG or WEBP, at most 5 MB, 1.91:1 (≥ 800 × 418) or 1:1
  (≥ 800 × 800); the post 280 characters with every link counted as 23; the website title 70.
* TikTok (in-feed): 9:16 (≥ 540 × 960), 1:1 (≥ 640 × 640) or 16:9 (≥ 960 × 540), JPG or PNG; the ad
  text 1 to 100 characters without emoji, braces or "#"; the display name 2 to 20 characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from adpilot.domain.ids import Platform

MB = 1024 * 1024
URL = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class Ratio:
    width: int
    height: int
    min_width: int
    min_height: int

    @property
    def value(self) -> float:
        return self.width / self.height

    def __str__(self) -> str:
        return f"{self.width}:{self.height}"


@dataclass(frozen=True, slots=True)
class TextRule:
    max_chars: int
    min_chars: int = 0
    link_chars: int | None = None  # a link counts as this many characters (X)
    no_emoji: bool = False
    forbidden: str = ""


@dataclass(frozen=True)
class PlatformSpecs:
    platform: Platform
    ratios: tuple[Ratio, ...]
    ratio_tolerance: float
    max_bytes: int
    formats: frozenset[str]
    texts: dict[str, TextRule]
    calls_to_action: frozenset[str]


SPECS: dict[Platform, PlatformSpecs] = {
    Platform.META: PlatformSpecs(
        Platform.META,
        (Ratio(191, 100, 600, 314), Ratio(1, 1, 600, 600), Ratio(4, 5, 600, 750), Ratio(9, 16, 600, 1067)),
        0.03,
        30 * MB,
        frozenset({"jpeg", "png"}),
        {"body": TextRule(125), "headline": TextRule(27), "description": TextRule(27)},
        frozenset(
            {
                "SHOP_NOW",
                "LEARN_MORE",
                "SIGN_UP",
                "SUBSCRIBE",
                "DOWNLOAD",
                "GET_OFFER",
                "ORDER_NOW",
                "BOOK_TRAVEL",
                "CONTACT_US",
                "APPLY_NOW",
                "GET_QUOTE",
                "WATCH_MORE",
                "INSTALL_MOBILE_APP",
                "NO_BUTTON",
            }
        ),
    ),
    Platform.X: PlatformSpecs(
        Platform.X,
        (Ratio(191, 100, 800, 418), Ratio(1, 1, 800, 800)),
        0.02,
        5 * MB,
        frozenset({"jpeg", "png", "webp"}),
        {"body": TextRule(280, link_chars=23), "headline": TextRule(70)},
        frozenset({"LEARN_MORE", "SHOP_NOW", "SIGN_UP", "BOOK_NOW", "ORDER_NOW", "VISIT_SITE"}),
    ),
    Platform.TIKTOK: PlatformSpecs(
        Platform.TIKTOK,
        (Ratio(9, 16, 540, 960), Ratio(1, 1, 640, 640), Ratio(16, 9, 960, 540)),
        0.02,
        100 * MB,
        frozenset({"jpeg", "png"}),
        {"body": TextRule(100, min_chars=1, no_emoji=True, forbidden="{}#"), "display_name": TextRule(20, 2)},
        frozenset(
            {
                "LEARN_MORE",
                "SHOP_NOW",
                "SIGN_UP",
                "DOWNLOAD_NOW",
                "CONTACT_US",
                "APPLY_NOW",
                "BOOK_NOW",
                "ORDER_NOW",
                "GET_QUOTE",
                "SUBSCRIBE",
                "WATCH_NOW",
                "INSTALL_NOW",
                "READ_MORE",
                "VIEW_NOW",
                "VISIT_STORE",
            }
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class Violation:
    platform: Platform
    rule: str  # e.g. "image.aspect_ratio", "text.body.max_chars", "call_to_action"
    message: str

    def __str__(self) -> str:
        return f"{self.platform} {self.rule}: {self.message}"


class SpecError(ValueError):
    """A creative refused before upload; the message lists every broken rule by name."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations


def image_format(data: bytes) -> str | None:
    """The image format from its first bytes (no decoding): jpeg, png, webp or gif."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def matching_ratio(platform: Platform, width: int, height: int) -> Ratio | None:
    specs = SPECS[platform]
    if width <= 0 or height <= 0:
        return None
    for ratio in specs.ratios:
        if abs(width / height - ratio.value) <= specs.ratio_tolerance * ratio.value:
            return ratio
    return None


def check_image(platform: Platform, width: int, height: int, size_bytes: int, fmt: str | None) -> list[Violation]:
    specs = SPECS[platform]
    out: list[Violation] = []
    if fmt not in specs.formats:
        out.append(Violation(platform, "image.format", f"{fmt or 'unknown'} is not one of {sorted(specs.formats)}"))
    if size_bytes > specs.max_bytes:
        out.append(Violation(platform, "image.max_bytes", f"{size_bytes:,} bytes exceeds {specs.max_bytes:,}"))
    ratio = matching_ratio(platform, width, height)
    if ratio is None:
        allowed = ", ".join(str(r) for r in specs.ratios)
        out.append(Violation(platform, "image.aspect_ratio", f"{width}x{height} is not {allowed}"))
    elif width < ratio.min_width or height < ratio.min_height:
        out.append(
            Violation(
                platform,
                "image.min_size",
                f"{width}x{height} is below {ratio.min_width}x{ratio.min_height} for {ratio}",
            )
        )
    return out


def text_length(text: str, rule: TextRule) -> int:
    if rule.link_chars is not None:
        text = URL.sub("x" * rule.link_chars, text)
    return len(text)


def _has_emoji(text: str) -> bool:
    return any(unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF for ch in text)


def check_text(platform: Platform, field: str, text: str) -> list[Violation]:
    rule = SPECS[platform].texts.get(field)
    if rule is None:
        return [Violation(platform, f"text.{field}", f"{platform} has no {field!r} text")]
    out: list[Violation] = []
    n = text_length(text, rule)
    if n > rule.max_chars:
        out.append(Violation(platform, f"text.{field}.max_chars", f"{n} characters, at most {rule.max_chars}"))
    if n < rule.min_chars:
        out.append(Violation(platform, f"text.{field}.min_chars", f"{n} characters, at least {rule.min_chars}"))
    if rule.no_emoji and _has_emoji(text):
        out.append(Violation(platform, f"text.{field}.emoji", "emoji are not allowed"))
    bad = sorted({ch for ch in text if ch in rule.forbidden})
    if bad:
        out.append(Violation(platform, f"text.{field}.characters", f"{''.join(bad)!r} not allowed"))
    return out


def check_creative(
    platform: Platform,
    *,
    image: bytes | None = None,
    width: int = 0,
    height: int = 0,
    texts: dict[str, str] | None = None,
    call_to_action: str | None = None,
) -> None:
    """Raise :class:`SpecError` naming every rule the creative breaks on ``platform``."""
    out: list[Violation] = []
    if image is not None:
        out.extend(check_image(platform, width, height, len(image), image_format(image)))
    for field, text in (texts or {}).items():
        out.extend(check_text(platform, field, text))
    if call_to_action is not None and call_to_action not in SPECS[platform].calls_to_action:
        out.append(
            Violation(
                platform,
                "call_to_action",
                f"{call_to_action!r} is not one of {sorted(SPECS[platform].calls_to_action)}",
            )
        )
    if out:
        raise SpecError(out)
