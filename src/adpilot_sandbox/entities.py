"""The sandbox's own records of accounts, campaigns, ad sets, ads, creatives and images.

Platform-neutral inside; each API surface renders them in its platform's wire format. Statuses are
ACTIVE, PAUSED, ARCHIVED or DELETED; money is integer minor units of the account's currency.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from adpilot_sandbox.scenario import Curve

STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED")

# Minor-unit exponents the sandbox needs (ISO 4217); the platforms themselves know them all.
EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "HUF": 2, "KWD": 3, "BHD": 3, "OMR": 3}


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency, 2)


@dataclass
class Account:
    platform: str
    id: str
    name: str
    currency: str
    timezone: str
    status: str = "ACTIVE"
    created_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.id)


@dataclass
class Campaign:
    id: str
    platform: str
    account_id: str
    name: str
    objective: str
    status: str
    daily_budget_minor: int | None
    created_at: datetime
    updated_at: datetime


@dataclass
class AdSet:
    id: str
    platform: str
    account_id: str
    campaign_id: str
    name: str
    status: str
    daily_budget_minor: int
    bid_minor: int | None
    optimization_goal: str
    curve: Curve
    ctr: float
    cvr: float
    aov: float
    audience: float
    created_at: datetime
    updated_at: datetime
    key: int = 0
    learning: bool = True
    learning_since: int = 0  # day index of the last reset (creation or significant edit)
    learning_reset_at: datetime | None = None  # the moment of that reset (the market's clock)
    budget_edits: list[datetime] = field(default_factory=list)


@dataclass
class Creative:
    id: str
    platform: str
    account_id: str
    name: str
    headline: str
    body: str
    cta: str
    image_hash: str | None
    link_url: str
    m_ctr: float
    m_cvr: float
    created_at: datetime
    status: str = "ACTIVE"


@dataclass
class Ad:
    id: str
    platform: str
    account_id: str
    campaign_id: str
    ad_set_id: str
    creative_id: str
    name: str
    status: str
    slot: int
    key: int
    created_day: int
    fatigue_beta: float
    half_life_days: float
    created_at: datetime
    updated_at: datetime
    impressions_to_date: int = 0


@dataclass
class Image:
    hash: str  # Meta's image hash: md5 of the bytes, hex
    platform: str
    account_id: str
    name: str
    data: bytes
    width: int
    height: int
    created_at: datetime
    id: str = ""  # TikTok image_id / X media_key

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def synthetic_png(token: str, size: int = 64) -> bytes:
    """A small valid PNG of 4x4 colour blocks from ``token``: a scenario's stand-in for a real image."""
    digest = hashlib.sha256(token.encode()).digest()
    block = size // 4
    rows = []
    for by in range(4):
        colours = [digest[(by * 4 + bx) * 2 : (by * 4 + bx) * 2 + 3].ljust(3, b"\x80") for bx in range(4)]
        row = b"\x00" + b"".join(c * block for c in colours)
        rows.append(row * block)
    raw = zlib.compress(b"".join(rows), 6)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", block * 4, block * 4, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG (0, 0 for anything else)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    return 0, 0
