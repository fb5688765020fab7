"""The asset library's ports: where asset bytes live, what the warehouse keeps about them, and what the
sync engine asks of adapters (the images their creatives show) and of the library (turn bytes into assets).

Bytes are content-addressed: an asset id is ``sha256:<hex>`` of the bytes (images, videos) or of the
normalized copy (texts). ``AssetStore`` has one local-folder implementation
(:mod:`adpilot.assets_store`); an S3-compatible store can implement the same four methods later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from adpilot.domain.entities import AdAccount, Asset, Creative
from adpilot.domain.ids import Platform
from adpilot.errors import AdpilotError

ROLES = ("image", "headline", "body", "cta")  # what part of a creative an asset plays
MATCHES = ("exact", "perceptual", "text")  # how a creative's content was recognised as the asset


class AssetError(AdpilotError):
    """An asset cannot be stored, read or identified; the message says which and why."""


class AssetNotFound(AssetError):
    pass


class AssetStore(Protocol):
    """Content-addressed bytes. Putting the same bytes twice is a no-op."""

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its asset id (``sha256:<hex>``)."""
        ...

    def get(self, asset_id: str) -> bytes:
        """The bytes; :class:`AssetNotFound` when the store does not hold them."""
        ...

    def exists(self, asset_id: str) -> bool: ...

    def uri(self, asset_id: str) -> str:
        """Where the bytes are, for people (a file path, later an ``s3://`` URL)."""
        ...


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """An asset with what the library knows about it.

    ``tags`` are computed (``key:value``) and replaced on every upsert; ``user_tags`` are people's and
    only ever added. ``phash`` and ``grid`` are the perceptual fingerprint of an image
    (:mod:`adpilot.creative.identity`). Lineage: ``parent_id`` and ``derivation`` say which asset this one
    was made from and how ("crop 9:16", "headline overlay").
    """

    asset: Asset
    tags: tuple[str, ...] = ()
    user_tags: tuple[str, ...] = ()
    format: str | None = None
    size_bytes: int | None = None
    phash: int | None = None
    grid: bytes | None = None
    palette: tuple[str, ...] = ()  # dominant colours, "#rrggbb share" largest first
    parent_id: str | None = None
    derivation: str = ""
    source: str = ""  # who added it: cli, sync:<platform>, generated
    created_at: datetime | None = None  # set by the warehouse on first insert

    @property
    def asset_id(self) -> str:
        return self.asset.asset_id

    @property
    def all_tags(self) -> tuple[str, ...]:
        return tuple(sorted({*self.tags, *self.user_tags}))


@dataclass(frozen=True, slots=True)
class AssetVersion:
    """One file whose content is the asset: the original (``exact``) or a re-encoded copy (``perceptual``,
    with its hash distance) seen on a platform."""

    sha256: str  # sha256:<hex> of this file's bytes
    asset_id: str
    match: str
    distance: int = 0
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    source: str = ""
    first_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImageRefLink:
    """A platform's reference to an image (Meta hash, X media key, TikTok image id) and its asset."""

    platform: Platform
    account_id: str
    ref: str
    asset_id: str
    sha256: str  # of the bytes downloaded for this reference


@dataclass(frozen=True, slots=True)
class CreativeLink:
    """One part of a synced creative (``role``) recognised as an asset."""

    platform: Platform
    account_id: str
    creative_id: str
    role: str
    asset_id: str
    match: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role: {self.role!r} is not one of {ROLES}")
        if self.match not in MATCHES:
            raise ValueError(f"match: {self.match!r} is not one of {MATCHES}")


@dataclass(frozen=True, slots=True)
class AssetUsage:
    """Where an asset is shown: a creative, and the ad that runs it (when the ad is known)."""

    platform: Platform
    account_id: str
    creative_id: str
    role: str
    match: str
    ad_id: str | None = None
    ad_name: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ImageSource:
    """Where a platform serves the bytes of one image it knows by ``ref``."""

    ref: str
    url: str
    name: str = ""


@runtime_checkable
class CreativeImageSource(Protocol):
    """What an adapter offers the sync engine about the images its creatives show. The engine decides
    which images to download (only references it has not resolved yet) and absorbs failures."""

    def creative_image_refs(self, account_id: str) -> Mapping[str, str]:
        """Creative id → platform image reference, as read by the last ``entities()`` call (no request)."""
        ...

    async def image_sources(self, account: AdAccount, refs: Sequence[str]) -> dict[str, ImageSource]:
        """Where each referenced image can be downloaded; references the platform does not know are left
        out. Raises the platform's errors."""
        ...

    async def download_image(self, source: ImageSource) -> bytes:
        """The image's bytes. Raises the platform's errors."""
        ...


class AssetLinker(Protocol):
    """What the sync engine asks of the asset library."""

    def register_image(self, platform: Platform, account_id: str, ref: str, data: bytes, *, name: str) -> str:
        """Store the bytes, resolve them to an asset (exact, then perceptual match, else a new asset),
        remember ``ref`` for it; returns the asset id. :class:`AssetError` when the bytes are no image."""
        ...

    def link_creatives(
        self, creatives: Sequence[Creative], *, at: datetime, image_refs: Mapping[str, str] | None = None
    ) -> int:
        """Record each creative's image (its ``asset_id``) and copy (headline, body, call to action, as
        text assets) as its links; ``image_refs`` maps creative id → platform image reference. Returns how
        many links the creatives have."""
        ...
