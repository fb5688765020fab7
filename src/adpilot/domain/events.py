"""Audit records: what happened, to what, by whom, with the evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit log. ``details`` must be JSON-serializable."""

    at: datetime
    actor: str
    kind: str
    subject: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("at: must be timezone-aware")
        for name in ("actor", "kind", "subject"):
            if not getattr(self, name):
                raise ValueError(f"{name}: must be a non-empty string")


@dataclass(frozen=True, slots=True)
class EntityChange:
    """A tracked field of an entity changed between two syncs or by an action."""

    platform: str
    level: str
    entity_id: str
    field: str
    old_value: str | None
    new_value: str | None
    changed_at: datetime
    source: str
