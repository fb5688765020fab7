"""How the warehouse's domain values become table rows and back: timestamps, JSON, the action ledger's rows,
audit events, performance folding and the asset library's rows (shared by both engines via ``_sql``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from adpilot.domain.actions import action_from_dict, action_to_dict
from adpilot.domain.entities import Asset, AssetKind
from adpilot.domain.events import AuditEvent
from adpilot.domain.fx import FxTable
from adpilot.domain.ids import Level, Platform
from adpilot.domain.ledger import (
    ActionRecord,
    ActionState,
    ApprovalMode,
)
from adpilot.domain.money import Money
from adpilot.ports.assets import AssetRecord
from adpilot.ports.warehouse import (
    Grain,
    PerformanceRow,
)

Row = tuple[Any, ...]


def utc_naive(at: datetime) -> datetime:
    """A UTC wall-clock value for a ``TIMESTAMP`` column; refuses naive input."""
    if at.tzinfo is None:
        raise ValueError("at: must be timezone-aware")
    return at.astimezone(UTC).replace(tzinfo=None)


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _audit_table(events: Sequence[AuditEvent]) -> pa.Table:
    return pa.table(
        {
            "occurred_at": pa.array([utc_naive(e.at) for e in events], pa.timestamp("us")),
            "actor": [e.actor for e in events],
            "kind": [e.kind for e in events],
            "subject": [e.subject for e in events],
            "details": [_json(dict(e.details)) for e in events],
        }
    )


# -- the action ledger's rows ------------------------------------------------------------------------------

_ACTION_COLUMNS = (
    "action_id", "cycle_id", "policy", "kind", "platform", "account_id", "level", "entity_id", "action",
    "evidence", "expected_impact", "mode", "state", "rule", "reason", "before_state", "after_state", "error",
    "created_at", "updated_at", "expires_at", "decided_by", "rollback_of", "applied_at",
)  # fmt: skip
_TIME_COLUMNS = ("created_at", "updated_at", "expires_at", "applied_at")
# Record fields a transition may set, and their columns.
_SETTABLE = {
    "rule": "rule",
    "reason": "reason",
    "before": "before_state",
    "after": "after_state",
    "error": "error",
    "decided_by": "decided_by",
    "expires_at": "expires_at",
}
_BORN = frozenset({ActionState.PENDING, ActionState.APPROVED, ActionState.REJECTED, ActionState.DRY_RUN})


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Platform | Level):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _json(value: Any) -> str:
    option = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, option=option, default=_json_default).decode()


def _column_value(name: str, value: Any) -> Any:
    if name in ("before", "after"):
        return _json(dict(value or {}))
    if name == "expires_at":
        return None if value is None else utc_naive(value)
    return None if value is None else str(value)


def _action_row(r: ActionRecord) -> dict[str, Any]:
    t = r.action.target
    return {
        "action_id": r.action_id,
        "cycle_id": r.cycle_id,
        "policy": r.policy,
        "kind": str(r.action.kind),
        "platform": str(t.platform),
        "account_id": t.account_id,
        "level": str(t.level),
        "entity_id": t.entity_id,
        "action": _json(action_to_dict(r.action)),
        "evidence": _json(dict(r.evidence)),
        "expected_impact": r.expected_impact,
        "mode": str(r.mode),
        "state": str(r.state),
        "rule": r.rule,
        "reason": r.reason,
        "before_state": _json(dict(r.before)),
        "after_state": _json(dict(r.after)),
        "error": r.error,
        "created_at": utc_naive(r.created_at),
        "updated_at": utc_naive(r.updated_at),
        "expires_at": None if r.expires_at is None else utc_naive(r.expires_at),
        "decided_by": r.decided_by,
        "rollback_of": r.rollback_of,
        "applied_at": None if r.applied_at is None else utc_naive(r.applied_at),
    }


def _actions_table(records: Sequence[ActionRecord]) -> pa.Table:
    rows = [_action_row(r) for r in records]
    return pa.table(
        {
            c: pa.array([row[c] for row in rows], pa.timestamp("us") if c in _TIME_COLUMNS else pa.string())
            for c in _ACTION_COLUMNS
        }
    )


def _record_from_row(row: Row) -> ActionRecord:
    d = dict(zip(_ACTION_COLUMNS, row, strict=True))

    def when(name: str) -> datetime | None:
        value = d[name]
        return None if value is None else as_utc(value)

    created, updated = when("created_at"), when("updated_at")
    assert created is not None and updated is not None  # NOT NULL columns
    return ActionRecord(
        action_id=d["action_id"],
        cycle_id=d["cycle_id"],
        policy=d["policy"],
        action=action_from_dict(orjson.loads(d["action"])),
        mode=ApprovalMode(d["mode"]),
        state=ActionState(d["state"]),
        created_at=created,
        updated_at=updated,
        evidence=orjson.loads(d["evidence"]),
        expected_impact=d["expected_impact"],
        rule=d["rule"],
        reason=d["reason"],
        before=orjson.loads(d["before_state"]),
        after=orjson.loads(d["after_state"]),
        error=d["error"],
        expires_at=when("expires_at"),
        decided_by=d["decided_by"],
        rollback_of=d["rollback_of"],
        applied_at=when("applied_at"),
    )


def _record_event(r: ActionRecord) -> AuditEvent:
    details: dict[str, Any] = {"to": str(r.state), "target": str(r.target), "kind": str(r.action.kind)}
    details |= {"policy": r.policy, "cycle_id": r.cycle_id, "mode": str(r.mode)}
    if r.rule:
        details["rule"] = r.rule
    if r.reason:
        details["reason"] = r.reason
    if r.rollback_of:
        details["rollback_of"] = r.rollback_of
    return AuditEvent(r.created_at, r.decided_by or "agent", f"action.{r.state}", r.action_id, details)


def _transition_event(
    r: ActionRecord, previous: ActionState, actor: str, at: datetime, fields: dict[str, Any]
) -> AuditEvent:
    """What changed in one step: the states, and the fields this step set (before/after, reason, error)."""
    details: dict[str, Any] = {"from": str(previous), "to": str(r.state), "target": str(r.target)}
    for name, value in fields.items():
        if value is None:
            continue
        if name in ("before", "after"):
            details[name] = dict(value)
        elif isinstance(value, datetime):
            details[name] = as_utc(value).isoformat()
        else:
            details[name] = str(value)
    return AuditEvent(at, actor or "agent", f"action.{r.state}", r.action_id, details)


def _fold_performance(
    rows: list[Row], keys: tuple[str, ...], by_day: bool, fx: FxTable | None, reporting: str
) -> list[PerformanceRow]:
    """Convert each (group, day, currency) total to the reporting currency and fold currencies together."""

    class Acc:
        __slots__ = (
            "clicks",
            "conv",
            "currencies",
            "impressions",
            "spend",
            "spend_rep",
            "value",
            "value_rep",
        )

        def __init__(self) -> None:
            self.impressions = self.clicks = self.spend = self.value = self.spend_rep = self.value_rep = 0
            self.conv = Decimal(0)
            self.currencies: set[str] = set()

    groups: dict[tuple[Any, ...], Acc] = {}
    n = len(keys)
    for r in rows:
        key_values, day, currency = r[:n], r[n], r[n + 1]
        impressions, clicks, spend, conv, value = r[n + 2 :]
        acc = groups.setdefault((*key_values, day if by_day else None), Acc())
        acc.impressions += int(impressions)
        acc.clicks += int(clicks)
        acc.spend += int(spend)
        acc.value += int(value)
        acc.conv += Decimal(conv)
        acc.currencies.add(currency)
        assert fx is not None
        acc.spend_rep += fx.convert(Money(currency, int(spend)), day).minor
        acc.value_rep += fx.convert(Money(currency, int(value)), day).minor
    out = []
    for gk, acc in groups.items():
        (only,) = acc.currencies if len(acc.currencies) == 1 else (None,)
        out.append(
            PerformanceRow(
                key=dict(zip(keys, gk[:n], strict=True)),
                day=gk[n],
                impressions=acc.impressions,
                clicks=acc.clicks,
                conversions=acc.conv.normalize() if acc.conv else Decimal(0),
                spend=Money(only, acc.spend) if only else None,
                conversion_value=Money(only, acc.value) if only else None,
                spend_reporting=Money(reporting, acc.spend_rep),
                conversion_value_reporting=Money(reporting, acc.value_rep),
            )
        )
    return out


# -- the asset library's rows --------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_ASSET_COLUMNS = (
    "asset_id", "kind", "name", "text", "width", "height", "duration_ms", "format", "size_bytes", "phash",
    "grid", "palette", "parent_id", "derivation", "source", "created_at",
)  # fmt: skip
_ASSET_TYPES = (
    pa.string(), pa.string(), pa.string(), pa.string(), pa.int32(), pa.int32(), pa.int64(), pa.string(),
    pa.int64(), pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.timestamp("us"),
)  # fmt: skip
_VERSION_COLUMNS = (
    "sha256", "asset_id", "match", "distance", "format", "width", "height", "size_bytes", "source", "first_seen",
)  # fmt: skip
_VERSION_TYPES = (
    pa.string(), pa.string(), pa.string(), pa.int32(), pa.string(), pa.int32(), pa.int32(), pa.int64(),
    pa.string(), pa.timestamp("us"),
)  # fmt: skip
_REF_COLUMNS = ("platform", "account_id", "ref", "asset_id", "sha256", "updated_at")
_REF_TYPES = (pa.string(),) * 5 + (pa.timestamp("us"),)
_LINK_COLUMNS = ("platform", "creative_id", "role", "account_id", "asset_id", "match", "updated_at")
_LINK_TYPES = (pa.string(),) * 6 + (pa.timestamp("us"),)


def _table(names: Sequence[str], rows: Sequence[Row], types: Sequence[pa.DataType] | None = None) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    kinds = types or [pa.string()] * len(names)
    return pa.table({n: pa.array(list(c), type=t) for n, c, t in zip(names, cols, kinds, strict=True)})


def _chunks(values: Sequence[str], size: int) -> list[list[str]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def _signed64(value: int | None) -> int | None:
    if value is None:
        return None
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def _assets_table(records: Sequence[AssetRecord], created: datetime) -> pa.Table:
    rows = [
        (r.asset_id, str(r.asset.kind), r.asset.name, r.asset.text, r.asset.width, r.asset.height,
         r.asset.duration_ms, r.format, r.size_bytes, _signed64(r.phash), None if r.grid is None else r.grid.hex(),
         "|".join(r.palette) or None, r.parent_id, r.derivation or None, r.source or None,
         utc_naive(r.created_at) if r.created_at else created)
        for r in records
    ]  # fmt: skip
    return _table(_ASSET_COLUMNS, rows, _ASSET_TYPES)


def _asset_record(row: Row, tags: tuple[list[str], list[str]]) -> AssetRecord:
    d = dict(zip(_ASSET_COLUMNS, row, strict=True))
    return AssetRecord(
        asset=Asset(d["asset_id"], AssetKind(d["kind"]), d["name"], d["text"], d["width"], d["height"],
                    d["duration_ms"]),
        tags=tuple(tags[0]),
        user_tags=tuple(tags[1]),
        format=d["format"],
        size_bytes=None if d["size_bytes"] is None else int(d["size_bytes"]),
        phash=None if d["phash"] is None else int(d["phash"]) & _MASK64,
        grid=None if d["grid"] is None else bytes.fromhex(d["grid"]),
        palette=tuple(d["palette"].split("|")) if d["palette"] else (),
        parent_id=d["parent_id"],
        derivation=d["derivation"] or "",
        source=d["source"] or "",
        created_at=None if d["created_at"] is None else as_utc(d["created_at"]),
    )  # fmt: skip


def _asset_joins(grain: Grain) -> tuple[str, list[str]]:
    """The joins and group keys that put each insight row beside the assets (or tags) its ad shows."""
    ads = " LEFT JOIN ads a ON a.platform = i.platform AND a.ad_id = i.ad_id"
    if grain is Grain.ASSET:
        return ads + " LEFT JOIN creative_asset_map m ON m.platform = a.platform AND m.creative_id = a.creative_id", [
            "m.asset_id"
        ]
    if grain is Grain.TAG:
        tags = (
            " LEFT JOIN (SELECT DISTINCT tm.platform, tm.creative_id, tg.tag FROM creative_asset_map tm "
            "JOIN asset_tags tg ON tg.asset_id = tm.asset_id) t "
            "ON t.platform = a.platform AND t.creative_id = a.creative_id"
        )
        return ads + tags, ["t.tag"]
    return "", []
