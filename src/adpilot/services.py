"""Use cases every entry point calls: set up a workspace, rebuild the warehouse from the lake."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from adpilot.config import Settings
from adpilot.errors import LakeError
from adpilot.lake import Lake
from adpilot.ports.lake import PageMapper
from adpilot.ports.warehouse import SYNC_SOURCE, Warehouse
from adpilot.secrets import create_key_file


@dataclass(frozen=True)
class InitReport:
    data_dir: str
    warehouse: str
    schema_version: int
    key_file: str
    key_created: bool


def init_workspace(settings: Settings, warehouse: Warehouse, location: str) -> InitReport:
    """Create the data dir, the key file (0600) and the warehouse schema; safe to run again."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = False if settings.encryption_key is not None else create_key_file(settings.key_file)
    version = warehouse.migrate()
    key = "ADPILOT_ENCRYPTION_KEY (environment)" if settings.encryption_key is not None else str(settings.key_file)
    return InitReport(str(settings.data_dir), location, version, key, created)


@dataclass(frozen=True)
class RebuildReport:
    commits: int = 0
    pages: int = 0
    entities: int = 0
    insight_rows: int = 0
    by_stream: dict[str, int] = field(default_factory=dict)


MapperKey = tuple[str, str]  # (platform, stream)


def rebuild_warehouse(warehouse: Warehouse, lake: Lake, mappers: Mapping[MapperKey, PageMapper]) -> RebuildReport:
    """Empty the synced tables and replay every committed run of the lake, oldest first.

    Refuses before touching the warehouse when a committed run has no mapper or a page is unreadable,
    so a rebuild never trades data it has for data it cannot read.
    """
    commits = list(lake.commits())
    missing = sorted({f"{c.platform}/{c.stream}" for c in commits if (c.platform, c.stream) not in mappers})
    if missing:
        raise LakeError(f"no page mapper for {', '.join(missing)}; the warehouse was left untouched")
    pages_by_run = [[lake.read_page(p) for p in c.pages] for c in commits]
    warehouse.clear_synced_data()
    entities = rows = pages = 0
    by_stream: Counter[str] = Counter()
    for commit, pages_of_run in zip(commits, pages_by_run, strict=True):
        replay = mappers[(commit.platform, commit.stream)](commit, pages_of_run)
        if replay.entities:
            warehouse.upsert_entities(replay.entities, source=SYNC_SOURCE, at=commit.fetched_at)
            entities += len(replay.entities)
        if replay.insights is not None:
            rows += warehouse.replace_insights(replay.insights)
        pages += len(pages_of_run)
        by_stream[f"{commit.platform}/{commit.stream}"] += 1
    warehouse.relink_creatives()  # replayed creatives carry no asset ids; the library's links put them back
    return RebuildReport(len(commits), pages, entities, rows, dict(by_stream))
