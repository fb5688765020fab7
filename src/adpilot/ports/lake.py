"""Raw-page records of the lake, and how a platform turns committed pages back into warehouse writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from adpilot.domain.entities import Entity
from adpilot.domain.metrics import DateWindow
from adpilot.ports.insight_batch import InsightBatch


@dataclass(frozen=True, slots=True)
class PageKey:
    """Where a page belongs: ``day`` is the first report day of the page, or the fetch day for lists."""

    platform: str
    account_id: str
    stream: str
    day: date
    fetched_at: datetime
    run_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class LakePage:
    key: PageKey
    request: dict[str, Any]
    status: int
    body: Any
    path: Path


@dataclass(frozen=True, slots=True)
class LakeCommit:
    """A run whose pages were applied to the warehouse: replay these pages as one unit."""

    platform: str
    account_id: str
    stream: str
    run_id: str
    fetched_at: datetime
    window: DateWindow | None
    pages: tuple[str, ...] = field(default=())
    context: dict[str, str] = field(default_factory=dict)  # what mapping needs: account currency, time zone


@dataclass(frozen=True)
class Replay:
    """What one committed run means for the warehouse: entities to upsert and/or a window to replace."""

    entities: Sequence[Entity] = ()
    insights: InsightBatch | None = None


class PageMapper(Protocol):
    """Maps the pages of one committed run (one platform and stream) to warehouse writes, offline."""

    def __call__(self, commit: LakeCommit, pages: Sequence[LakePage]) -> Replay: ...
