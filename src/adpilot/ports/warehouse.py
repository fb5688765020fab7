"""The warehouse port: what the rest of adpilot may ask of storage, whatever the engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import pyarrow as pa

from adpilot.domain.entities import AssetKind, Entity
from adpilot.domain.events import AuditEvent, EntityChange
from adpilot.domain.fx import FxRate
from adpilot.domain.ids import Level, Platform
from adpilot.domain.ledger import ActionRecord, ActionState, AppliedChange
from adpilot.domain.metrics import DailyInsight, DateWindow, InsightWindow
from adpilot.domain.money import Money
from adpilot.ports.assets import AssetRecord, AssetUsage, AssetVersion, CreativeLink, ImageRefLink
from adpilot.ports.insight_batch import InsightBatch

SYNC_SOURCE = "sync"  # entity changes observed by a sync (or its replay from the lake)


class Grain(StrEnum):
    """How performance rows are grouped. ``asset`` groups across platforms by content identity: an ad counts
    toward every asset it shows (its image and its copy)."""

    PLATFORM = "platform"
    ACCOUNT = "account"
    CAMPAIGN = "campaign"
    AD_SET = "ad_set"
    AD = "ad"
    ASSET = "asset"
    TAG = "tag"  # by asset tag: an ad counts once toward each tag of the assets it shows


GRAIN_KEYS: dict[Grain, tuple[str, ...]] = {
    Grain.PLATFORM: ("platform",),
    Grain.ACCOUNT: ("platform", "account_id"),
    Grain.CAMPAIGN: ("platform", "account_id", "campaign_id"),
    Grain.AD_SET: ("platform", "account_id", "campaign_id", "ad_set_id"),
    Grain.AD: ("platform", "account_id", "campaign_id", "ad_set_id", "ad_id"),
    Grain.ASSET: ("asset_id",),
    Grain.TAG: ("tag",),
}


@dataclass(frozen=True, slots=True)
class PerformanceQuery:
    """Which rows to read, grouped how. Empty filters mean "all"."""

    window: DateWindow
    grain: Grain = Grain.AD
    by_day: bool = True
    platforms: tuple[Platform, ...] = ()
    account_ids: tuple[str, ...] = ()
    campaign_ids: tuple[str, ...] = ()
    ad_set_ids: tuple[str, ...] = ()
    ad_ids: tuple[str, ...] = ()
    asset_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PerformanceRow:
    """Totals for one group (and day, when by day).

    ``spend`` and ``conversion_value`` are in the account currency when every row in the group shares
    one, else ``None``; the ``*_reporting`` amounts are always there, converted per day.
    """

    key: dict[str, str | None]
    day: date | None
    impressions: int
    clicks: int
    conversions: Decimal
    spend: Money | None
    conversion_value: Money | None
    spend_reporting: Money
    conversion_value_reporting: Money


@dataclass(frozen=True, slots=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    changes: int = 0


@dataclass(frozen=True, slots=True)
class Bookmark:
    """Where a sync stream got to, per (platform, account, stream). ``state`` is JSON-serializable."""

    platform: Platform
    account_id: str
    stream: str
    state: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """How to reach one ad account. ``credentials`` is ciphertext: the warehouse never sees a secret."""

    platform: Platform
    account_id: str
    name: str
    base_url: str
    credentials: str
    status: str  # ok | auth_failed | disabled
    last_error: str | None
    updated_at: datetime
    clock_url: str | None = None  # a sandbox's /_sandbox/clock: its simulated "now" governs this account


@dataclass(frozen=True, slots=True)
class WarehouseStats:
    engine: str
    location: str
    schema_version: int
    tables: dict[str, int] = field(default_factory=dict)
    insight_days: tuple[date, date] | None = None


class ActionLedger(Protocol):
    """The agent's actions and their states. Every state change is a compare-and-set plus an audit line."""

    def record_actions(self, records: Iterable[ActionRecord]) -> int:
        """Insert the records whose action id is new; an existing one is left untouched. Returns how many were new."""
        ...

    def transition_action(
        self,
        action_id: str,
        from_states: Iterable[ActionState],
        to_state: ActionState,
        *,
        actor: str = "agent",
        at: datetime | None = None,
        **fields: Any,
    ) -> ActionRecord | None:
        """Move a record to ``to_state`` only if its state is one of ``from_states``, in one transaction.

        ``fields`` may set ``rule``, ``reason``, ``before``, ``after``, ``error``, ``decided_by``,
        ``expires_at``. Returns the updated record, or ``None`` when the record is missing or its state did
        not match (another caller got there first). A step the state machine forbids raises ``ValueError``.
        """
        ...

    def get_action(self, action_id: str) -> ActionRecord | None: ...

    def list_actions(
        self,
        states: Iterable[ActionState] | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
        *,
        id_prefix: str | None = None,
    ) -> list[ActionRecord]:
        """Newest first; ``since`` bounds the creation time; ``limit=None`` returns all."""
        ...

    def applied_changes(self, since: datetime) -> list[AppliedChange]:
        """Changes applied on or after ``since`` (rolled-back ones included: they happened), oldest first."""
        ...

    def action_events(self, action_id: str) -> list[AuditEvent]:
        """The audit trail of one action, oldest first."""
        ...


class Warehouse(ActionLedger, Protocol):
    """Storage for entities, insights, bookmarks, audit and FX. Every write is all-or-nothing."""

    engine: str

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version."""
        ...

    def schema_version(self) -> int: ...

    def upsert_entities(self, entities: Sequence[Entity], *, source: str, at: datetime) -> UpsertResult:
        """Insert or update entities, recording budget/bid/status changes in the history."""
        ...

    def replace_insights(self, batch: InsightBatch) -> int:
        """Atomically replace every insight of ``batch.window`` with the batch's rows."""
        ...

    def read_insights(self, window: InsightWindow) -> list[DailyInsight]: ...

    def insight_columns(self, first: date, last: date) -> pa.Table:
        """Every daily ad row of the days as Arrow columns (platform, account_id, ad_id, day, impressions,
        clicks, spend_minor, conversions, value_minor, currency), account currency."""
        ...

    def read_performance(self, query: PerformanceQuery, *, reporting_currency: str) -> list[PerformanceRow]: ...

    def entity_history(self, platform: Platform, level: Level, entity_id: str) -> list[EntityChange]: ...

    def get_entities(self, level: Level, platform: Platform | None = None) -> list[Entity]: ...

    def get_bookmark(self, platform: Platform, account_id: str, stream: str) -> Bookmark | None: ...

    def set_bookmark(self, bookmark: Bookmark) -> None: ...

    def append_audit(self, events: Iterable[AuditEvent]) -> int: ...

    def read_audit(self, *, limit: int = 100, kind: str | None = None) -> list[AuditEvent]: ...

    def count_audit(self, kind: str) -> int:
        """How many audit events of ``kind`` there are (the agent numbers its cycles so)."""
        ...

    def put_fx_rates(self, rates: Iterable[FxRate]) -> int: ...

    def fx_rates(self) -> list[FxRate]: ...

    def save_connection(self, record: ConnectionRecord) -> None: ...

    def connections(self, platform: Platform | None = None) -> list[ConnectionRecord]: ...

    def delete_connection(self, platform: Platform, account_id: str) -> bool: ...

    def set_connection_status(self, platform: Platform, account_id: str, status: str, error: str | None) -> None: ...

    # -- the asset library (docs/creatives.md) ---------------------------------------------------------------
    def upsert_assets(self, records: Sequence[AssetRecord], *, at: datetime, only_new: bool = False) -> int:
        """Insert or update assets with their metadata; computed tags are replaced, people's tags added.
        ``created_at`` is kept from the first insert. With ``only_new``, assets already stored are left
        exactly as they are. Returns how many assets were new."""
        ...

    def get_asset(self, asset_id: str) -> AssetRecord | None: ...

    def list_assets(
        self,
        *,
        kind: AssetKind | None = None,
        tag: str | None = None,
        id_prefix: str | None = None,
        parent_id: str | None = None,
    ) -> list[AssetRecord]:
        """Assets by creation time, newest first; every filter given must hold."""
        ...

    def find_by_phash(self, phash: int, max_distance: int) -> list[tuple[AssetRecord, int]]:
        """Image assets whose perceptual hash is within ``max_distance`` bits of ``phash``, closest first."""
        ...

    def put_asset_versions(self, versions: Sequence[AssetVersion]) -> int:
        """Record files recognised as assets; a file already recorded keeps its first record."""
        ...

    def asset_versions(self, asset_id: str) -> list[AssetVersion]: ...

    def asset_for_file(self, sha256: str) -> str | None:
        """The asset a file's bytes (``sha256:<hex>``) were recognised as, if any."""
        ...

    def put_image_refs(self, refs: Sequence[ImageRefLink], *, at: datetime) -> int: ...

    def known_image_refs(self, platform: Platform, account_id: str, refs: Iterable[str]) -> dict[str, ImageRefLink]:
        """The references among ``refs`` already resolved to an asset."""
        ...

    def set_creative_links(
        self, creatives: Sequence[tuple[Platform, str]], links: Sequence[CreativeLink], *, at: datetime
    ) -> int:
        """Make ``links`` the whole set of links of each (platform, creative id) named; returns how many."""
        ...

    def asset_usage(self, asset_id: str) -> list[AssetUsage]:
        """The creatives showing the asset and the ads running them."""
        ...

    def relink_creatives(self) -> int:
        """Set each creative's ``asset_id`` from its image link (after a rebuild replayed creatives
        without them); returns how many creatives changed."""
        ...

    def clear_synced_data(self) -> None:
        """Empty entities, insights and sync-observed history: the start of a rebuild.

        Bookmarks, audit, FX and history written by other sources (the agent, people) stay.
        """
        ...

    def stats(self) -> WarehouseStats: ...

    def close(self) -> None: ...
