"""How domain entities map to warehouse tables, both ways, for both engines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from adpilot.domain.entities import (
    Ad,
    AdAccount,
    AdSet,
    Asset,
    AssetKind,
    Campaign,
    Creative,
    Entity,
    LearningStatus,
)
from adpilot.domain.ids import Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.status import Status


def _money_minor(m: Money | None) -> int | None:
    return None if m is None else m.minor


def _money(minor: int | None, currency: str) -> Money | None:
    return None if minor is None else Money(currency, int(minor))


def _optional_str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _learning(value: str | None) -> LearningStatus | None:
    return None if value is None else LearningStatus(value)


@dataclass(frozen=True)
class EntityTable:
    """One entity table: columns in order, the key, the fields whose changes are kept as history."""

    table: str
    level: Level | None  # None for assets, which belong to no platform
    entity_type: type
    id_column: str
    columns: tuple[tuple[str, pa.DataType], ...]
    tracked: tuple[str, ...]
    to_row: Callable[[Any], tuple[Any, ...]]
    from_row: Callable[[dict[str, Any]], Entity]

    @property
    def key(self) -> tuple[str, ...]:
        return (self.id_column,) if self.level is None else ("platform", self.id_column)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def arrow(self, entities: Sequence[Entity]) -> pa.Table:
        rows = [self.to_row(e) for e in entities]
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in self.columns]
        return pa.Table.from_arrays(
            [pa.array(list(c), type=t) for c, (_, t) in zip(cols, self.columns, strict=True)],
            names=list(self.names),
        )


S, I64, I32 = pa.string(), pa.int64(), pa.int32()

ACCOUNTS = EntityTable(
    "accounts",
    Level.ACCOUNT,
    AdAccount,
    "account_id",
    (("platform", S), ("account_id", S), ("name", S), ("currency", S), ("timezone", S),
     ("status", S), ("platform_status", S)),
    ("status", "platform_status"),
    lambda e: (str(e.platform), e.account_id, e.name, e.currency, e.timezone, str(e.status),
               e.platform_status),
    lambda r: AdAccount(Platform(r["platform"]), r["account_id"], r["name"], r["currency"], r["timezone"],
                        Status(r["status"]), r["platform_status"]),
)  # fmt: skip

CAMPAIGNS = EntityTable(
    "campaigns",
    Level.CAMPAIGN,
    Campaign,
    "campaign_id",
    (("platform", S), ("account_id", S), ("campaign_id", S), ("name", S), ("status", S),
     ("platform_status", S), ("currency", S), ("objective", S), ("daily_budget_minor", I64)),
    ("status", "platform_status", "daily_budget_minor"),
    lambda e: (str(e.platform), e.account_id, e.campaign_id, e.name, str(e.status), e.platform_status,
               e.currency, e.objective, _money_minor(e.daily_budget)),
    lambda r: Campaign(Platform(r["platform"]), r["account_id"], r["campaign_id"], r["name"],
                       Status(r["status"]), r["platform_status"], r["currency"], r["objective"],
                       _money(r["daily_budget_minor"], r["currency"])),
)  # fmt: skip

# ``learning`` is the platform's current word (Meta's learning_stage_info; NULL where none is reported): state,
# not history, so it is not tracked in entity_changes.
AD_SETS = EntityTable(
    "ad_sets",
    Level.AD_SET,
    AdSet,
    "ad_set_id",
    (("platform", S), ("account_id", S), ("campaign_id", S), ("ad_set_id", S), ("name", S), ("status", S),
     ("platform_status", S), ("currency", S), ("daily_budget_minor", I64), ("bid_minor", I64),
     ("optimization_goal", S), ("learning", S)),
    ("status", "platform_status", "daily_budget_minor", "bid_minor"),
    lambda e: (str(e.platform), e.account_id, e.campaign_id, e.ad_set_id, e.name, str(e.status),
               e.platform_status, e.currency, _money_minor(e.daily_budget), _money_minor(e.bid),
               e.optimization_goal, _optional_str(e.learning)),
    lambda r: AdSet(Platform(r["platform"]), r["account_id"], r["campaign_id"], r["ad_set_id"], r["name"],
                    Status(r["status"]), r["platform_status"], r["currency"],
                    _money(r["daily_budget_minor"], r["currency"]), _money(r["bid_minor"], r["currency"]),
                    r["optimization_goal"], _learning(r["learning"])),
)  # fmt: skip

ADS = EntityTable(
    "ads",
    Level.AD,
    Ad,
    "ad_id",
    (("platform", S), ("account_id", S), ("campaign_id", S), ("ad_set_id", S), ("ad_id", S), ("name", S),
     ("status", S), ("platform_status", S), ("creative_id", S)),
    ("status", "platform_status", "creative_id"),
    lambda e: (str(e.platform), e.account_id, e.campaign_id, e.ad_set_id, e.ad_id, e.name, str(e.status),
               e.platform_status, e.creative_id),
    lambda r: Ad(Platform(r["platform"]), r["account_id"], r["campaign_id"], r["ad_set_id"], r["ad_id"],
                 r["name"], Status(r["status"]), r["platform_status"], r["creative_id"]),
)  # fmt: skip

CREATIVES = EntityTable(
    "creatives",
    Level.CREATIVE,
    Creative,
    "creative_id",
    (("platform", S), ("account_id", S), ("creative_id", S), ("name", S), ("asset_id", S), ("headline", S),
     ("body", S), ("call_to_action", S), ("link_url", S)),
    ("asset_id",),
    lambda e: (str(e.platform), e.account_id, e.creative_id, e.name, e.asset_id, e.headline, e.body,
               e.call_to_action, e.link_url),
    lambda r: Creative(Platform(r["platform"]), r["account_id"], r["creative_id"], r["name"], r["asset_id"],
                       r["headline"], r["body"], r["call_to_action"], r["link_url"]),
)  # fmt: skip

ASSETS = EntityTable(
    "assets",
    None,
    Asset,
    "asset_id",
    (("asset_id", S), ("kind", S), ("name", S), ("text", S), ("width", I32), ("height", I32),
     ("duration_ms", I64)),
    (),
    lambda e: (e.asset_id, str(e.kind), e.name, e.text, e.width, e.height, e.duration_ms),
    lambda r: Asset(r["asset_id"], AssetKind(r["kind"]), r["name"], r["text"], r["width"], r["height"],
                    r["duration_ms"]),
)  # fmt: skip

ENTITY_TABLES: tuple[EntityTable, ...] = (ACCOUNTS, CAMPAIGNS, AD_SETS, ADS, CREATIVES, ASSETS)
TABLE_FOR_TYPE: dict[type, EntityTable] = {t.entity_type: t for t in ENTITY_TABLES}
TABLE_FOR_LEVEL: dict[Level, EntityTable] = {t.level: t for t in ENTITY_TABLES if t.level is not None}

# What a rebuild from the lake empties and refills. Assets are not in it: the library holds content people
# added or the studio generated, which no lake page could bring back (creatives are relinked after replay).
SYNCED_TABLES = (*(t.table for t in ENTITY_TABLES if t.table != "assets"), "insights")
LIBRARY_TABLES = ("assets", "asset_tags", "asset_versions", "asset_image_refs", "creative_assets")
ALL_TABLES = (*SYNCED_TABLES, *LIBRARY_TABLES, "entity_changes", "sync_state", "audit_log", "fx_rates", "connections",
              "agent_actions")  # fmt: skip
