"""Asset identity: exact bytes, perceptual copies (re-encoded, converted, resized) and normalized copy."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from adpilot.creative import identity
from adpilot.creative.identity import (
    PHASH_MAX_DISTANCE,
    ImageFingerprint,
    NotAnImage,
    best_match,
    hamming,
    image_identity,
    normalize_text,
    perceptual_match,
    text_asset_id,
)
from adpilot.domain import asset_id_for_bytes
from adpilot_sandbox.entities import synthetic_png


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def blocks(token: str, side: int = 256) -> Image.Image:
    """The sandbox's stand-in images: 4 × 4 random colour blocks (flat, hard for a perceptual hash)."""
    return Image.open(io.BytesIO(synthetic_png(token, side))).convert("RGB")


def scene(seed: int, size: tuple[int, int]) -> Image.Image:
    """A photo-like image: a smooth four-colour gradient with a few filled shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    c = rng.uniform(0, 255, (4, 3))
    arr = c[0] * (1 - x) * (1 - y) + c[1] * x * (1 - y) + c[2] * (1 - x) * y + c[3] * x * y
    img = Image.fromarray(arr.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        x1, y1 = x0 + int(rng.integers(30, w // 2)), y0 + int(rng.integers(30, h // 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=fill)
    return img


ORIGINALS = {
    **{f"blocks-{i}": blocks(f"creative-{i}") for i in range(12)},
    **{f"scene-{i}": scene(i, ((600, 600), (1200, 628), (540, 960))[i % 3]) for i in range(12)},
}


def copies(img: Image.Image) -> list[tuple[str, bytes]]:
    """What platforms and people do to an image that is still the same image."""
    out = []
    for scale in (1.0, 0.5, 0.8, 1.5):
        size = (round(img.width * scale), round(img.height * scale))
        im = img if scale == 1.0 else img.resize(size, Image.Resampling.LANCZOS)
        for fmt, options in (("JPEG", {"quality": 60}), ("JPEG", {"quality": 90}), ("WEBP", {"quality": 80})):
            out.append((f"{fmt} q{options['quality']} x{scale}", encode(im, fmt, **options)))
        if scale != 1.0:
            out.append((f"PNG x{scale}", encode(im, "PNG")))
    return out


def fingerprint_of(data: bytes) -> ImageFingerprint:
    return image_identity(data).fingerprint


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_reencoded_converted_and_resized_copies_match_their_original(name: str) -> None:
    original = fingerprint_of(encode(ORIGINALS[name], "PNG"))
    for how, data in copies(ORIGINALS[name]):
        found = perceptual_match(original, fingerprint_of(data))
        assert found is not None, f"{name} {how} was not recognised"
        assert found[0] <= PHASH_MAX_DISTANCE


def test_different_images_never_match() -> None:
    prints = {name: fingerprint_of(encode(img, "PNG")) for name, img in ORIGINALS.items()}
    # and their copies: a copy of one image must not match another image either
    prints |= {f"{name} as jpeg": fingerprint_of(encode(img, "JPEG", quality=75)) for name, img in ORIGINALS.items()}
    for (a, fa), (b, fb) in itertools.combinations(prints.items(), 2):
        if a.split(" ")[0] != b.split(" ")[0]:
            assert perceptual_match(fa, fb) is None, f"{a} matched {b}"


def overlay(img: Image.Image, *, button: tuple[int, int, int] | None = None, words: str = "") -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    if button is not None:
        draw.rounded_rectangle([w * 0.3, h * 0.8, w * 0.7, h * 0.92], 12, fill=button)
    if words:
        draw.text((w * 0.08, h * 0.08), words, fill=(255, 255, 255), font_size=max(24, h // 12))
    return out


def test_variants_of_one_image_are_not_copies_of_it() -> None:
    """Button colours, headline overlays, a hue swap and a crop are new assets (with lineage), not copies."""
    base = ORIGINALS["scene-0"]
    variants = {
        "red button": overlay(base, button=(220, 30, 30)),
        "blue button": overlay(base, button=(30, 30, 220)),
        "headline A": overlay(base, words="Now 20% off"),
        "headline B": overlay(base, words="Free shipping today"),
        "hue swap": Image.fromarray(np.asarray(base)[:, :, ::-1].copy()),
        "crop 4:5": base.crop((60, 0, 540, 600)),
    }
    prints = {"base": fingerprint_of(encode(base, "PNG"))}
    prints |= {k: fingerprint_of(encode(v, "PNG")) for k, v in variants.items()}
    for (a, fa), (b, fb) in itertools.combinations(prints.items(), 2):
        assert perceptual_match(fa, fb) is None, f"{a} matched {b}"
    # while a re-encoded variant still finds its own variant, not the base
    again = fingerprint_of(encode(variants["headline A"], "JPEG", quality=85))
    found = best_match(again, prints.items())
    assert found is not None and found.asset_id == "headline A"


def test_exact_identity_is_the_sha256_of_the_bytes() -> None:
    data = encode(ORIGINALS["scene-4"], "PNG")
    ident = image_identity(data)
    assert ident.asset_id == asset_id_for_bytes(data)
    assert (ident.format, ident.size_bytes, ident.width, ident.height) == ("png", len(data), 1200, 628)
    assert image_identity(encode(ORIGINALS["scene-4"], "JPEG")).format == "jpeg"


def test_transparency_is_flattened_on_white_and_orientation_applied() -> None:
    rgba = Image.new("RGBA", (100, 60), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle([10, 10, 50, 50], fill=(200, 20, 20, 255))
    flat = Image.new("RGB", (100, 60), (255, 255, 255))
    ImageDraw.Draw(flat).rectangle([10, 10, 50, 50], fill=(200, 20, 20))
    assert perceptual_match(fingerprint_of(encode(rgba, "PNG")), fingerprint_of(encode(flat, "PNG"))) == (0, 0.0)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: a viewer turns it 90 degrees
    rotated = encode(flat.rotate(90, expand=True), "JPEG", quality=95, exif=exif.tobytes())
    ident = image_identity(rotated)
    assert (ident.width, ident.height) == (100, 60)
    assert perceptual_match(fingerprint_of(encode(flat, "PNG")), ident.fingerprint) is not None


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, encode(ORIGINALS["scene-1"], "PNG")[:300]],
)
def test_what_is_not_a_readable_image_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        image_identity(data)


def test_best_match_prefers_the_closest_candidate() -> None:
    probe = fingerprint_of(encode(ORIGINALS["blocks-1"], "JPEG", quality=70))
    candidates = [
        ("other", fingerprint_of(encode(ORIGINALS["blocks-2"], "PNG"))),
        ("resized", fingerprint_of(encode(ORIGINALS["blocks-1"].resize((128, 128)), "PNG"))),
        ("original", fingerprint_of(encode(ORIGINALS["blocks-1"], "PNG"))),
    ]
    found = best_match(probe, candidates)
    assert found is not None and found.asset_id in ("original", "resized")
    assert found.distance == min(hamming(probe.phash, fp.phash) for name, fp in candidates if name != "other")
    assert best_match(probe, candidates[:1]) is None


def test_signed_storage_of_the_hash_round_trips() -> None:
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1):
        signed = identity.phash_to_signed(value)
        assert -(1 << 63) <= signed < 1 << 63
        assert identity.phash_from_signed(signed) == value


# -- copy ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Now 20% off!", "now 20% OFF"),
        ("Free   shipping\nthis week.", "free shipping this week"),
        ("Ｆｒｅｅ ｓｈｉｐｐｉｎｇ", "free shipping"),  # full-width letters: NFKC
        ("Why wait…", "why wait"),
        ("Still thinking it over?", "still thinking it over"),
        ("Café", "Cafe\u0301"),  # composed and decomposed accents
    ],
)
def test_copy_that_reads_the_same_is_one_asset(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)
    assert text_asset_id(a) == text_asset_id(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Now 20% off", "Now 30% off"),
        ("Get 20%", "Get 20"),  # % is content, not punctuation
        ('"Best ever."', '"Best ever"'),  # inside the quotes, the full stop stays
        ("Shop now", "Shop now, today"),
    ],
)
def test_copy_that_says_something_else_is_another_asset(a: str, b: str) -> None:
    assert text_asset_id(a) != text_asset_id(b)


@given(st.text(max_size=80))
def test_normalizing_twice_changes_nothing(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert text_asset_id(once) == text_asset_id(text)
