"""The platform port: what the sync engine and the executor may ask of Meta, X or TikTok."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from adpilot.domain.actions import Action
from adpilot.domain.entities import Ad, AdAccount, AdSet, Asset, Campaign, Creative, Entity
from adpilot.domain.ids import EntityRef, Platform
from adpilot.domain.metrics import DateWindow
from adpilot.domain.money import Money
from adpilot.domain.status import Status
from adpilot.ports.insight_batch import InsightBatch


@dataclass(frozen=True)
class Connection:
    """A decrypted connection, for adapters only. ``repr`` never shows the credentials."""

    platform: Platform
    account_id: str
    name: str
    base_url: str
    credentials: Mapping[str, str]
    status: str = "ok"
    last_error: str | None = None
    clock_url: str | None = None

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.credentials))
        return f"Connection({self.platform}/{self.account_id} at {self.base_url}, credentials: {keys})"


@dataclass(frozen=True, slots=True)
class RawPage:
    """One response as received, before mapping: what the lake keeps."""

    stream: str
    day: date  # first report day of the page, or the fetch day for entity lists
    request: dict[str, Any]
    status: int
    body: Any


PageSink = Callable[[RawPage], None]


@dataclass(frozen=True)
class EntitySnapshot:
    """Everything under one account as the platform shows it now."""

    account: AdAccount
    campaigns: Sequence[Campaign] = ()
    ad_sets: Sequence[AdSet] = ()
    ads: Sequence[Ad] = ()
    creatives: Sequence[Creative] = ()
    assets: Sequence[Asset] = ()
    skipped: Sequence[str] = ()  # objects that could not be mapped, with the reason

    def all(self) -> list[Entity]:
        return [self.account, *self.campaigns, *self.ad_sets, *self.ads, *self.creatives, *self.assets]


@dataclass(frozen=True, slots=True)
class LiveState:
    """The live values the executor re-reads before writing."""

    ref: EntityRef
    status: Status
    platform_status: str
    daily_budget: Money | None = None
    bid: Money | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    ref: EntityRef
    applied: bool
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    created_id: str | None = None
    note: str = ""


class PlatformAdapter(Protocol):
    """One connection (credentials + base URL) to one platform."""

    platform: Platform

    async def accounts(self) -> list[AdAccount]:
        """The ad accounts these credentials reach."""
        ...

    async def entities(self, account: AdAccount, sink: PageSink) -> EntitySnapshot: ...

    async def insights(self, account: AdAccount, window: DateWindow, sink: PageSink) -> InsightBatch:
        """Daily ad-level insights of the whole window (all pages, all chunks), validated."""
        ...

    async def live_state(self, ref: EntityRef) -> LiveState: ...

    async def apply(self, action: Action) -> ApplyResult: ...

    async def upload_image(self, account: AdAccount, data: bytes, name: str) -> str:
        """Upload an image; returns the platform's reference (Meta hash, X media key, TikTok image id)."""
        ...

    async def aclose(self) -> None: ...
