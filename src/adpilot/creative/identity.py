"""Asset identity: when two files, or two pieces of copy, are the same asset.

Pure (bytes and text in, values out). Three rules, tried in order:

1. **Exact**: the sha256 of the bytes (:func:`adpilot.domain.entities.asset_id_for_bytes`) is the asset id.
2. **Perceptual**, for images whose bytes differ (a platform re-encoded the upload, PNG became JPEG, a
   copy was resized): a 64-bit DCT perceptual hash of the 32 × 32 greyscale image, compared by Hamming
   distance. Because greyscale structure alone cannot tell a red button from a blue one, a match must
   also keep the aspect ratio and a 16 × 16 grid of mean colours: a colour variant or a crop is a new
   asset (with lineage), not a copy.
3. **Text**: copy reduced to what a reader sees (Unicode NFKC, case-folded, whitespace collapsed,
   trailing punctuation dropped), then hashed.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from adpilot.domain.entities import asset_id_for_bytes, asset_id_for_text, normalize_copy

HASH_SIDE = 32  # the greyscale image the DCT runs on
LOW_SIDE = 8  # the lowest 8 × 8 frequencies make the 64 bits
GRID_SIDE = 16  # mean colours on a 16 × 16 grid confirm what the greyscale hash proposes
# Unrelated images differ in about half of 64 bits (Binomial(64, ½): mean 32, sd 4). A copy flips few
# bits of a textured image but up to a quarter of a flat, blocky one, whose low frequencies sit near the
# median. 20 bits (3 sd below chance) admits those copies; the few unrelated images that come that close
# by chance (about 1 in 500) are rejected by the colour grid, which decides.
PHASH_MAX_DISTANCE = 20
# A copy moves each cell's mean colour by a few levels (JPEG at quality 40 and a 2x resize stay under
# ~10% of the range); an overlaid headline, a recoloured button or a hue change moves some cells more.
GRID_MAX_DIFFERENCE = 32
GRID_MEAN_DIFFERENCE = 6.0
ASPECT_TOLERANCE = 0.02  # relative, plus one pixel of rounding on the shorter side
MAX_PIXELS = 100_000_000  # refuse decompression bombs rather than decode them
TRAILING_PUNCTUATION = ".!?,;:。、"  # after NFKC ("…" is "...", "！" is "!")


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can decode (or are too large to decode safely)."""


@dataclass(frozen=True, slots=True)
class ImageFingerprint:
    """What perceptual matching compares: the hash, the colour grid and the shape."""

    phash: int  # 64 bits, unsigned
    grid: bytes  # GRID_SIDE × GRID_SIDE × RGB mean colours, row-major
    width: int
    height: int

    def __post_init__(self) -> None:
        if not 0 <= self.phash < 1 << 64:
            raise ValueError("phash: must be a 64-bit unsigned integer")
        if len(self.grid) != GRID_SIDE * GRID_SIDE * 3:
            raise ValueError(f"grid: must hold {GRID_SIDE * GRID_SIDE * 3} bytes")
        if self.width <= 0 or self.height <= 0:
            raise ValueError("width, height: must be positive")


@dataclass(frozen=True, slots=True)
class ImageIdentity:
    """One decoded image file: its exact id, its fingerprint and its format."""

    asset_id: str
    format: str  # jpeg, png, webp, gif
    size_bytes: int
    fingerprint: ImageFingerprint

    @property
    def width(self) -> int:
        return self.fingerprint.width

    @property
    def height(self) -> int:
        return self.fingerprint.height


@dataclass(frozen=True, slots=True)
class Match:
    """A perceptual match: the asset and how far its hash is (0 = identical hash)."""

    asset_id: str
    distance: int
    grid_difference: float


@cache
def _dct_matrix(n: int) -> NDArray[np.float64]:
    """The orthonormal DCT-II matrix: ``D @ x`` transforms a column, ``D @ X @ D.T`` an image."""
    k = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0, :] /= math.sqrt(2)
    return d


def _open(data: bytes) -> tuple[Image.Image, str]:
    """The decoded image as a viewer shows it (EXIF orientation applied, transparency flattened on
    white, RGB) and its file format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.width * probe.height > MAX_PIXELS:
                raise NotAnImage(f"{probe.width}x{probe.height} pixels is more than {MAX_PIXELS:,}")
            fmt = (probe.format or "").lower()
            probe.verify()  # a truncated or corrupt file fails here, before a full decode
            loaded = Image.open(io.BytesIO(data))
            loaded.load()
    except NotAnImage:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise NotAnImage(f"not a readable image ({type(exc).__name__}: {exc})") from None
    img: Image.Image = ImageOps.exif_transpose(loaded)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        return flat.convert("RGB"), fmt
    return img.convert("RGB"), fmt


def decode(data: bytes) -> Image.Image:
    """The image as a viewer shows it; :class:`NotAnImage` if the bytes are not a readable image."""
    return _open(data)[0]


def fingerprint(img: Image.Image) -> ImageFingerprint:
    """The perceptual hash (DCT of the 32 × 32 greyscale image, bits above the median of the lowest
    8 × 8 frequencies, DC excluded from the median) and the mean-colour grid."""
    grey = np.asarray(img.convert("L").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS), np.float64)
    d = _dct_matrix(HASH_SIDE)
    low = (d @ grey @ d.T)[:LOW_SIDE, :LOW_SIDE].ravel()
    median = float(np.median(low[1:]))
    bits = 0
    for above in low > median:
        bits = (bits << 1) | int(above)
    grid = img.resize((GRID_SIDE, GRID_SIDE), Image.Resampling.BOX).tobytes()
    return ImageFingerprint(bits, grid, img.width, img.height)


def identify(data: bytes) -> tuple[ImageIdentity, Image.Image]:
    """Decode ``data`` and identify it, returning the decoded image too (for tagging);
    :class:`NotAnImage` if it is not a readable image."""
    if not data:
        raise NotAnImage("empty file")
    img, fmt = _open(data)
    return ImageIdentity(asset_id_for_bytes(data), fmt, len(data), fingerprint(img)), img


def image_identity(data: bytes) -> ImageIdentity:
    return identify(data)[0]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def grid_difference(a: bytes, b: bytes) -> tuple[int, float]:
    """(largest, mean) absolute difference between two colour grids, in levels of 0-255."""
    diff = np.abs(np.frombuffer(a, np.uint8).astype(np.int16) - np.frombuffer(b, np.uint8).astype(np.int16))
    return int(diff.max()), float(diff.mean())


def same_shape(a: ImageFingerprint, b: ImageFingerprint) -> bool:
    """Aspect ratios equal within :data:`ASPECT_TOLERANCE` plus a pixel of rounding."""
    slack = ASPECT_TOLERANCE + 1 / min(a.width, a.height, b.width, b.height)
    ra, rb = a.width / a.height, b.width / b.height
    return abs(ra - rb) <= slack * rb


def perceptual_match(a: ImageFingerprint, b: ImageFingerprint) -> tuple[int, float] | None:
    """(hash distance, mean grid difference) when ``a`` and ``b`` show the same image, else None."""
    if not same_shape(a, b):
        return None
    distance = hamming(a.phash, b.phash)
    if distance > PHASH_MAX_DISTANCE:
        return None
    largest, mean = grid_difference(a.grid, b.grid)
    if largest > GRID_MAX_DIFFERENCE or mean > GRID_MEAN_DIFFERENCE:
        return None
    return distance, mean


def best_match(probe: ImageFingerprint, candidates: Iterable[tuple[str, ImageFingerprint]]) -> Match | None:
    """The closest candidate that passes :func:`perceptual_match` (hash distance first, then colours)."""
    best: Match | None = None
    for asset_id, fp in candidates:
        found = perceptual_match(probe, fp)
        if found is None:
            continue
        m = Match(asset_id, *found)
        if best is None or (m.distance, m.grid_difference, m.asset_id) < (
            best.distance,
            best.grid_difference,
            best.asset_id,
        ):
            best = m
    return best


def phash_to_signed(phash: int) -> int:
    """A 64-bit hash as a signed BIGINT (both engines store signed 64-bit integers)."""
    return phash - (1 << 64) if phash >= 1 << 63 else phash


def phash_from_signed(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def normalize_text(text: str) -> str:
    """Copy as a reader sees it: NFKC, case-folded, whitespace collapsed, sentence punctuation at the end
    dropped (``Now 20% off!`` and ``now 20% off`` are one asset). Closing quotes and brackets stay: they
    pair with an opening one inside the copy; ``%`` and currency signs are content."""
    return normalize_copy(text).rstrip(TRAILING_PUNCTUATION + " ")


def text_asset_id(text: str) -> str:
    """The asset id of copy: two texts that normalize alike are one asset."""
    return asset_id_for_text(normalize_text(text))
