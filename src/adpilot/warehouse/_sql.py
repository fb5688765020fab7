"""The warehouse logic both engines share; each engine supplies transactions and bulk Arrow paths.

SQL here is written once with ``?`` placeholders; PostgreSQL's engine rewrites them. Timestamps are
stored as UTC (DuckDB ``TIMESTAMP``, PostgreSQL ``TIMESTAMPTZ`` with the session in UTC).
"""

from __future__ import annotations

import abc
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import orjson
import pyarrow as pa

from adpilot.domain.entities import AssetKind, Entity
from adpilot.domain.events import AuditEvent, EntityChange
from adpilot.domain.fx import FxRate, FxTable
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import (
    ActionRecord,
    ActionState,
    AppliedChange,
    check_transition,
)
from adpilot.domain.metrics import DailyInsight, InsightWindow
from adpilot.domain.money import Money
from adpilot.errors import InvalidRows, MigrationError
from adpilot.ports.assets import AssetRecord, AssetUsage, AssetVersion, CreativeLink, ImageRefLink
from adpilot.ports.insight_batch import INSIGHT_COLUMNS, InsightBatch
from adpilot.ports.warehouse import (
    GRAIN_KEYS,
    SYNC_SOURCE,
    Bookmark,
    ConnectionRecord,
    Grain,
    PerformanceQuery,
    PerformanceRow,
    UpsertResult,
    WarehouseStats,
)
from adpilot.warehouse._rows import (
    _ACTION_COLUMNS,
    _ASSET_COLUMNS,
    _BORN,
    _LINK_COLUMNS,
    _LINK_TYPES,
    _MASK64,
    _REF_COLUMNS,
    _REF_TYPES,
    _SETTABLE,
    _VERSION_COLUMNS,
    _VERSION_TYPES,
    Row,
    _actions_table,
    _asset_joins,
    _asset_record,
    _assets_table,
    _audit_table,
    _chunks,
    _column_value,
    _fold_performance,
    _record_event,
    _record_from_row,
    _table,
    _transition_event,
    as_utc,
    utc_naive,
)
from adpilot.warehouse.migrations import MIGRATIONS, Migration
from adpilot.warehouse.schema import ALL_TABLES, SYNCED_TABLES, TABLE_FOR_LEVEL, TABLE_FOR_TYPE, EntityTable


class Tx(Protocol):
    """One open transaction of an engine."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def stage(self, name: str, table: pa.Table) -> None:
        """Make ``table`` readable as ``name`` until the transaction ends."""
        ...

    def append(self, target: str, table: pa.Table) -> None:
        """Bulk-append ``table``'s columns (by name) to ``target``."""
        ...


def _in(column: str, values: Sequence[Any], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('?' * len(values))})"


class SqlWarehouse(abc.ABC):
    """Everything but connections: migrations, upserts with history, window replacement, reads."""

    engine: str
    timestamp_type: str
    insights_key: str

    @abc.abstractmethod
    def _transaction(self) -> AbstractContextManager[Tx]: ...

    @property
    @abc.abstractmethod
    def location(self) -> str: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def _prepare_migrations(self, tx: Tx) -> None:
        """Engine hook run in the migration transaction (schema creation, locks)."""
        return None

    # -- migrations ------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._transaction() as tx:
            return self._version(tx)

    def _version(self, tx: Tx) -> int:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            f"name VARCHAR NOT NULL, applied_at {self.timestamp_type} NOT NULL)"
        )
        (row,) = tx.query("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(row[0])

    def migrate(self, migrations: Sequence[Migration] = MIGRATIONS) -> int:
        """Apply each pending migration in its own transaction; a failure rolls that one back whole."""
        version = 0
        for m in sorted(migrations, key=lambda m: m.version):
            try:
                with self._transaction() as tx:
                    self._prepare_migrations(tx)
                    version = self._version(tx)
                    if m.version <= version:
                        continue
                    for statement in m.statements:
                        tx.execute(
                            statement.replace("{ts}", self.timestamp_type).replace("{insights_key}", self.insights_key)
                        )
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (m.version, m.name, utc_naive(datetime.now(UTC))),
                    )
                    version = m.version
            except MigrationError:
                raise
            except Exception as exc:
                raise MigrationError(f"migration {m.version} ({m.name}) failed and was rolled back: {exc}") from exc
        if not migrations:
            return self.schema_version()
        return max(version, self.schema_version())

    # -- entities --------------------------------------------------------------------------------------
    def upsert_entities(self, entities: Sequence[Entity], *, source: str, at: datetime) -> UpsertResult:
        groups: dict[EntityTable, dict[tuple[Any, ...], Entity]] = defaultdict(dict)
        for e in entities:
            spec = TABLE_FOR_TYPE.get(type(e))
            if spec is None:
                raise InvalidRows(f"entity: cannot store {type(e).__name__}")
            row = spec.to_row(e)
            key = tuple(row[spec.names.index(k)] for k in spec.key)
            groups[spec][key] = e  # the last version of an entity in one call wins
        inserted = updated = changes = 0
        when = utc_naive(at)
        with self._transaction() as tx:
            for spec, by_key in groups.items():
                stg = f"stg_{spec.table}"
                tx.stage(stg, spec.arrow(list(by_key.values())))
                join = " AND ".join(f"t.{k} = s.{k}" for k in spec.key)
                id_col = f"t.{spec.id_column}"
                differs = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in spec.names if c not in spec.key)
                change_of = {
                    f: f"({id_col} IS NULL AND s.{f} IS NOT NULL) "
                    f"OR ({id_col} IS NOT NULL AND t.{f} IS DISTINCT FROM s.{f})"
                    for f in spec.tracked
                }
                counted = "".join(f", count(*) FILTER (WHERE {cond})" for cond in change_of.values())
                (counts,) = tx.query(
                    f"SELECT count(*) FILTER (WHERE {id_col} IS NULL), "
                    f"count(*) FILTER (WHERE {id_col} IS NOT NULL AND ({differs})){counted} "
                    f"FROM {stg} s LEFT JOIN {spec.table} t ON {join}"
                )
                inserted += int(counts[0])
                updated += int(counts[1])
                changes += sum(int(c) for c in counts[2:])
                if not counts[0] and not counts[1]:
                    continue  # the usual daily case: nothing new, nothing changed, nothing to write
                for (field, cond), n in zip(change_of.items(), counts[2:], strict=True):
                    if spec.level is None:
                        break
                    if not n:
                        continue
                    tx.execute(
                        "INSERT INTO entity_changes (platform, level, entity_id, account_id, field, "
                        "old_value, new_value, changed_at, source) "
                        f"SELECT s.platform, ?, s.{spec.id_column}, s.account_id, ?, "
                        f"CAST(t.{field} AS VARCHAR), CAST(s.{field} AS VARCHAR), ?, ? "
                        f"FROM {stg} s LEFT JOIN {spec.table} t ON {join} WHERE {cond}",
                        (str(spec.level), field, when, source),
                    )
                cols = ", ".join(spec.names)
                sets = ", ".join(f"{c} = excluded.{c}" for c in (*spec.names, "updated_at") if c not in spec.key)
                tx.execute(
                    f"INSERT INTO {spec.table} ({cols}, updated_at) SELECT {cols}, ? FROM {stg} "
                    f"ON CONFLICT ({', '.join(spec.key)}) DO UPDATE SET {sets}",
                    (when,),
                )
        return UpsertResult(inserted, updated, changes)

    def get_entities(self, level: Level, platform: Platform | None = None) -> list[Entity]:
        spec = TABLE_FOR_LEVEL[level]
        params: list[Any] = []
        where = ""
        if platform is not None:
            where = " WHERE platform = ?"
            params.append(str(platform))
        with self._transaction() as tx:
            rows = tx.query(
                f"SELECT {', '.join(spec.names)} FROM {spec.table}{where} ORDER BY {', '.join(spec.key)}",
                params,
            )
        return [spec.from_row(dict(zip(spec.names, r, strict=True))) for r in rows]

    def entity_history(self, platform: Platform, level: Level, entity_id: str) -> list[EntityChange]:
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT platform, level, entity_id, field, old_value, new_value, changed_at, source "
                "FROM entity_changes WHERE platform = ? AND level = ? AND entity_id = ? "
                "ORDER BY changed_at, id",
                (str(platform), str(level), entity_id),
            )
        return [EntityChange(r[0], r[1], r[2], r[3], r[4], r[5], as_utc(r[6]), r[7]) for r in rows]

    # -- insights --------------------------------------------------------------------------------------
    def replace_insights(self, batch: InsightBatch) -> int:
        w = batch.window
        with self._transaction() as tx:
            tx.execute(
                "DELETE FROM insights WHERE platform = ? AND account_id = ? AND day BETWEEN ? AND ?",
                (str(w.platform), w.account_id, w.window.start, w.window.end),
            )
            if len(batch):
                tx.append("insights", batch.table)
        return len(batch)

    def read_insights(self, window: InsightWindow) -> list[DailyInsight]:
        with self._transaction() as tx:
            rows = tx.query(
                f"SELECT {', '.join(INSIGHT_COLUMNS)} FROM insights "
                "WHERE platform = ? AND account_id = ? AND day BETWEEN ? AND ? ORDER BY day, ad_id",
                (str(window.platform), window.account_id, window.window.start, window.window.end),
            )
        return [
            DailyInsight(
                Platform(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]), Money(r[9], int(r[8])),
                Decimal(r[10]).normalize() if r[10] else Decimal(0), Money(r[9], int(r[11])), r[12],
            )
            for r in rows
        ]  # fmt: skip

    def insight_columns(self, first: date, last: date) -> pa.Table:
        """Every daily ad row from ``first`` to ``last`` as columns (account currency): the agent's input."""
        names = ("platform", "account_id", "ad_id", "day", "impressions", "clicks", "spend_minor",
                 "conversions", "value_minor", "currency")  # fmt: skip
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT platform, account_id, ad_id, day, impressions, clicks, spend_minor, "
                "CAST(conversions AS DOUBLE PRECISION), conversion_value_minor, currency "
                "FROM insights WHERE day BETWEEN ? AND ? ORDER BY platform, account_id, ad_id, day",
                (first, last),
            )
        types = (pa.string(), pa.string(), pa.string(), pa.date32(), pa.int64(), pa.int64(), pa.int64(),
                 pa.float64(), pa.int64(), pa.string())  # fmt: skip
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({n: pa.array(list(c), type=t) for n, c, t in zip(names, cols, types, strict=True)})

    def read_performance(self, query: PerformanceQuery, *, reporting_currency: str) -> list[PerformanceRow]:
        keys = GRAIN_KEYS[query.grain]
        params: list[Any] = [query.window.start, query.window.end]
        where = ["i.day BETWEEN ? AND ?"]
        for column, values in (
            ("i.platform", [str(p) for p in query.platforms]),
            ("i.account_id", list(query.account_ids)),
            ("i.campaign_id", list(query.campaign_ids)),
            ("i.ad_set_id", list(query.ad_set_ids)),
            ("i.ad_id", list(query.ad_ids)),
        ):
            if values:
                where.append(_in(column, values, params))
        joins, select_keys = _asset_joins(query.grain)
        if not select_keys:
            select_keys = [f"i.{k}" for k in keys]
        if query.asset_ids:
            if query.grain is Grain.ASSET:
                where.append(_in("m.asset_id", list(query.asset_ids), params))
            else:  # an ad showing any of the assets, counted once
                where.append(
                    "EXISTS (SELECT 1 FROM ads fa JOIN creative_asset_map fm ON fm.platform = fa.platform "
                    "AND fm.creative_id = fa.creative_id WHERE fa.platform = i.platform AND fa.ad_id = i.ad_id "
                    f"AND {_in('fm.asset_id', list(query.asset_ids), params)})"
                )
        group = ", ".join([*select_keys, "i.day", "i.currency"])
        sql = (
            f"SELECT {group}, sum(i.impressions), sum(i.clicks), sum(i.spend_minor), sum(i.conversions), "
            f"sum(i.conversion_value_minor) FROM insights i{joins} WHERE {' AND '.join(where)} "
            f"GROUP BY {group} ORDER BY {group}"
        )
        with self._transaction() as tx:
            rows = tx.query(sql, params)
            fx = FxTable.build(reporting_currency, self._fx_rates(tx)) if rows else None
        return _fold_performance(rows, keys, query.by_day, fx, reporting_currency)

    # -- bookmarks, audit, fx ----------------------------------------------------------------------------
    def get_bookmark(self, platform: Platform, account_id: str, stream: str) -> Bookmark | None:
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT state, updated_at FROM sync_state WHERE platform = ? AND account_id = ? AND stream = ?",
                (str(platform), account_id, stream),
            )
        if not rows:
            return None
        return Bookmark(platform, account_id, stream, orjson.loads(rows[0][0]), as_utc(rows[0][1]))

    def set_bookmark(self, bookmark: Bookmark) -> None:
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO sync_state (platform, account_id, stream, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, account_id, stream) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at",
                (
                    str(bookmark.platform),
                    bookmark.account_id,
                    bookmark.stream,
                    orjson.dumps(bookmark.state, option=orjson.OPT_SORT_KEYS).decode(),
                    utc_naive(bookmark.updated_at),
                ),
            )

    def append_audit(self, events: Iterable[AuditEvent]) -> int:
        evs = list(events)
        if not evs:
            return 0
        with self._transaction() as tx:
            tx.append("audit_log", _audit_table(evs))
        return len(evs)

    def read_audit(self, *, limit: int = 100, kind: str | None = None) -> list[AuditEvent]:
        params: list[Any] = []
        where = ""
        if kind is not None:
            where = " WHERE kind = ?"
            params.append(kind)
        params.append(limit)
        with self._transaction() as tx:
            rows = tx.query(
                f"SELECT occurred_at, actor, kind, subject, details FROM audit_log{where} ORDER BY id DESC LIMIT ?",
                params,
            )
        return [AuditEvent(as_utc(r[0]), r[1], r[2], r[3], orjson.loads(r[4])) for r in rows]

    def count_audit(self, kind: str) -> int:
        with self._transaction() as tx:
            rows = tx.query("SELECT COUNT(*) FROM audit_log WHERE kind = ?", [kind])
        return int(rows[0][0])

    def put_fx_rates(self, rates: Iterable[FxRate]) -> int:
        latest = {(r.day, r.base, r.quote): r for r in rates}
        if not latest:
            return 0
        rs = list(latest.values())
        table = pa.table(
            {
                "day": pa.array([r.day for r in rs], pa.date32()),
                "base": [r.base for r in rs],
                "quote": [r.quote for r in rs],
                "rate": pa.array([r.rate for r in rs], pa.decimal128(28, 12)),
            }
        )
        with self._transaction() as tx:
            tx.stage("stg_fx", table)
            tx.execute(
                "INSERT INTO fx_rates (day, base, quote, rate) SELECT day, base, quote, rate FROM stg_fx "
                "ON CONFLICT (day, base, quote) DO UPDATE SET rate = excluded.rate"
            )
        return len(rs)

    def fx_rates(self) -> list[FxRate]:
        with self._transaction() as tx:
            return self._fx_rates(tx)

    @staticmethod
    def _fx_rates(tx: Tx) -> list[FxRate]:
        rows = tx.query("SELECT day, base, quote, rate FROM fx_rates ORDER BY day, base, quote")
        return [FxRate(r[0], r[1], r[2], Decimal(r[3]).normalize()) for r in rows]

    # -- connections -------------------------------------------------------------------------------------
    def save_connection(self, record: ConnectionRecord) -> None:
        with self._transaction() as tx:
            tx.execute(
                "INSERT INTO connections (platform, account_id, name, base_url, credentials, status, last_error, "
                "updated_at, clock_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, account_id) "
                "DO UPDATE SET name = excluded.name, base_url = excluded.base_url, "
                "credentials = excluded.credentials, status = excluded.status, last_error = excluded.last_error, "
                "updated_at = excluded.updated_at, clock_url = excluded.clock_url",
                (
                    str(record.platform),
                    record.account_id,
                    record.name,
                    record.base_url,
                    record.credentials,
                    record.status,
                    record.last_error,
                    utc_naive(record.updated_at),
                    record.clock_url,
                ),
            )

    def connections(self, platform: Platform | None = None) -> list[ConnectionRecord]:
        where, params = ("", []) if platform is None else (" WHERE platform = ?", [str(platform)])
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT platform, account_id, name, base_url, credentials, status, last_error, updated_at, clock_url "
                f"FROM connections{where} ORDER BY platform, account_id",
                params,
            )
        return [ConnectionRecord(Platform(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], as_utc(r[7]), r[8]) for r in rows]

    def delete_connection(self, platform: Platform, account_id: str) -> bool:
        with self._transaction() as tx:
            found = tx.query(
                "SELECT count(*) FROM connections WHERE platform = ? AND account_id = ?", (str(platform), account_id)
            )[0][0]
            tx.execute("DELETE FROM connections WHERE platform = ? AND account_id = ?", (str(platform), account_id))
        return bool(found)

    def set_connection_status(self, platform: Platform, account_id: str, status: str, error: str | None) -> None:
        with self._transaction() as tx:
            tx.execute(
                "UPDATE connections SET status = ?, last_error = ?, updated_at = ? "
                "WHERE platform = ? AND account_id = ?",
                (status, error, utc_naive(datetime.now(UTC)), str(platform), account_id),
            )

    # -- the action ledger -------------------------------------------------------------------------------
    def record_actions(self, records: Iterable[ActionRecord]) -> int:
        by_id: dict[str, ActionRecord] = {}
        for r in records:
            by_id.setdefault(r.action_id, r)  # the first of two records of one decision wins, as in the table
        if not by_id:
            return 0
        rows = list(by_id.values())
        for r in rows:
            if r.state not in _BORN:
                raise ValueError(f"state: a record cannot be created as {r.state}")
        with self._transaction() as tx:
            tx.stage("stg_agent_actions", _actions_table(rows))
            cols = ", ".join(_ACTION_COLUMNS)
            new = {
                row[0]
                for row in tx.query(
                    f"INSERT INTO agent_actions ({cols}) SELECT {cols} FROM stg_agent_actions "
                    "ON CONFLICT (action_id) DO NOTHING RETURNING action_id"
                )
            }
            events = [_record_event(r) for r in rows if r.action_id in new]
            if events:
                tx.append("audit_log", _audit_table(events))
        return len(new)

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
        sources = [ActionState(s) for s in from_states]
        to_state = ActionState(to_state)
        if not sources:
            raise ValueError("from_states: name at least one state")
        for s in sources:
            check_transition(s, to_state)
        unknown = sorted(set(fields) - set(_SETTABLE))
        if unknown:
            raise ValueError(f"fields: cannot set {', '.join(unknown)} on a transition")
        when = at or datetime.now(UTC)
        sets = ["state = ?", "updated_at = ?"]
        params: list[Any] = [str(to_state), utc_naive(when)]
        for name, value in fields.items():
            sets.append(f"{_SETTABLE[name]} = ?")
            params.append(_column_value(name, value))
        if to_state is ActionState.APPLIED:
            sets.append("applied_at = ?")
            params.append(utc_naive(when))
        single = len(sources) == 1  # then the compare-and-set below is the whole check, in one round
        with self._transaction() as tx:
            for _ in range(1 if single else len(sources) + 1):  # the state only moves forward: a few rounds at most
                if single:
                    current = sources[0]
                else:
                    found = tx.query("SELECT state FROM agent_actions WHERE action_id = ?", (action_id,))
                    if not found or ActionState(found[0][0]) not in sources:
                        return None
                    current = ActionState(found[0][0])
                # The state in the WHERE clause is the compare-and-set: a concurrent writer that got there
                # first changed it, and PostgreSQL re-checks the condition after waiting for its row lock.
                rows = tx.query(
                    f"UPDATE agent_actions SET {', '.join(sets)} WHERE action_id = ? AND state = ? "
                    f"RETURNING {', '.join(_ACTION_COLUMNS)}",
                    [*params, action_id, str(current)],
                )
                if rows:
                    record = _record_from_row(rows[0])
                    tx.append("audit_log", _audit_table([_transition_event(record, current, actor, when, fields)]))
                    return record
        return None

    def get_action(self, action_id: str) -> ActionRecord | None:
        with self._transaction() as tx:
            rows = tx.query(f"SELECT {', '.join(_ACTION_COLUMNS)} FROM agent_actions WHERE action_id = ?", (action_id,))
        return _record_from_row(rows[0]) if rows else None

    def list_actions(
        self,
        states: Iterable[ActionState] | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
        *,
        id_prefix: str | None = None,
    ) -> list[ActionRecord]:
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            wanted = sorted({str(ActionState(s)) for s in states})
            if not wanted:
                return []
            where.append(_in("state", wanted, params))
        if since is not None:
            where.append("created_at >= ?")
            params.append(utc_naive(since))
        if id_prefix is not None:
            where.append("substr(action_id, 1, ?) = ?")
            params.extend([len(id_prefix), id_prefix])
        sql = f"SELECT {', '.join(_ACTION_COLUMNS)} FROM agent_actions"
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        sql += " ORDER BY created_at DESC, action_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._transaction() as tx:
            rows = tx.query(sql, params)
        return [_record_from_row(r) for r in rows]

    def applied_changes(self, since: datetime) -> list[AppliedChange]:
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT platform, account_id, level, entity_id, kind, policy, applied_at FROM agent_actions "
                "WHERE applied_at IS NOT NULL AND applied_at >= ? ORDER BY applied_at, action_id",
                (utc_naive(since),),
            )
        return [
            AppliedChange(EntityRef(Platform(r[0]), r[1], Level(r[2]), r[3]), r[4], r[5], as_utc(r[6])) for r in rows
        ]

    def action_events(self, action_id: str) -> list[AuditEvent]:
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT occurred_at, actor, kind, subject, details FROM audit_log "
                "WHERE subject = ? AND kind LIKE 'action.%' ORDER BY id",
                (action_id,),
            )
        return [AuditEvent(as_utc(r[0]), r[1], r[2], r[3], orjson.loads(r[4])) for r in rows]

    # -- the asset library ---------------------------------------------------------------------------------
    def upsert_assets(self, records: Sequence[AssetRecord], *, at: datetime, only_new: bool = False) -> int:
        by_id = {r.asset_id: r for r in records}
        if not by_id:
            return 0
        when = utc_naive(at)
        cols = ", ".join(_ASSET_COLUMNS)
        sets = ", ".join(f"{c} = excluded.{c}" for c in _ASSET_COLUMNS if c not in ("asset_id", "created_at"))
        with self._transaction() as tx:
            if only_new:
                stored = set()
                for chunk in _chunks(sorted(by_id), 1000):
                    params: list[Any] = []
                    stored |= {
                        r[0]
                        for r in tx.query(f"SELECT asset_id FROM assets WHERE {_in('asset_id', chunk, params)}", params)
                    }
                by_id = {k: v for k, v in by_id.items() if k not in stored}
                if not by_id:
                    return 0
            rows = list(by_id.values())
            tx.stage("stg_assets", _assets_table(rows, when))
            (new,) = tx.query(
                "SELECT count(*) FROM stg_assets s WHERE NOT EXISTS "
                "(SELECT 1 FROM assets t WHERE t.asset_id = s.asset_id)"
            )[0]
            tx.execute(
                f"INSERT INTO assets ({cols}, updated_at) SELECT {cols}, ? FROM stg_assets "
                f"ON CONFLICT (asset_id) DO UPDATE SET {sets}, updated_at = excluded.updated_at",
                (when,),
            )
            tx.execute("DELETE FROM asset_tags WHERE source = 'auto' AND asset_id IN (SELECT asset_id FROM stg_assets)")
            tags = [(r.asset_id, t, "auto") for r in rows for t in dict.fromkeys(r.tags)]
            tags += [(r.asset_id, t, "user") for r in rows for t in dict.fromkeys(r.user_tags)]
            if tags:
                tx.stage("stg_asset_tags", _table(("asset_id", "tag", "source"), tags))
                # a person's tag wins over the same computed one: it must survive the next recomputation
                tx.execute(
                    "INSERT INTO asset_tags (asset_id, tag, source) SELECT DISTINCT asset_id, tag, source "
                    "FROM stg_asset_tags WHERE source = 'user' "
                    "ON CONFLICT (asset_id, tag) DO UPDATE SET source = excluded.source"
                )
                tx.execute(
                    "INSERT INTO asset_tags (asset_id, tag, source) SELECT DISTINCT asset_id, tag, source "
                    "FROM stg_asset_tags WHERE source = 'auto' ON CONFLICT (asset_id, tag) DO NOTHING"
                )
        return int(new)

    def _select_assets(self, tx: Tx, where: str, params: Sequence[Any], order: str) -> list[AssetRecord]:
        cols = ", ".join(f"a.{c}" for c in _ASSET_COLUMNS)
        rows = tx.query(f"SELECT {cols} FROM assets a{where} ORDER BY {order}", params)
        if not rows:
            return []
        tags: dict[str, tuple[list[str], list[str]]] = {}
        for asset_id, tag, source in tx.query(
            f"SELECT t.asset_id, t.tag, t.source FROM asset_tags t WHERE t.asset_id IN "
            f"(SELECT a.asset_id FROM assets a{where}) ORDER BY t.tag",
            params,
        ):
            auto, user = tags.setdefault(asset_id, ([], []))
            (user if source == "user" else auto).append(tag)
        return [_asset_record(r, tags.get(r[0], ([], []))) for r in rows]

    def get_asset(self, asset_id: str) -> AssetRecord | None:
        with self._transaction() as tx:
            found = self._select_assets(tx, " WHERE a.asset_id = ?", (asset_id,), "a.asset_id")
        return found[0] if found else None

    def list_assets(
        self,
        *,
        kind: AssetKind | None = None,
        tag: str | None = None,
        id_prefix: str | None = None,
        parent_id: str | None = None,
    ) -> list[AssetRecord]:
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("a.kind = ?")
            params.append(str(kind))
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM asset_tags g WHERE g.asset_id = a.asset_id AND g.tag = ?)")
            params.append(tag)
        if id_prefix is not None:
            where.append("substr(a.asset_id, 1, ?) = ?")
            params.extend([len(id_prefix), id_prefix])
        if parent_id is not None:
            where.append("a.parent_id = ?")
            params.append(parent_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._transaction() as tx:
            return self._select_assets(tx, clause, params, "a.created_at DESC, a.asset_id")

    def find_by_phash(self, phash: int, max_distance: int) -> list[tuple[AssetRecord, int]]:
        probe = phash & _MASK64
        with self._transaction() as tx:
            near = {
                str(asset_id): ((int(value) & _MASK64) ^ probe).bit_count()
                for asset_id, value in tx.query(
                    "SELECT asset_id, phash FROM assets WHERE phash IS NOT NULL AND kind = 'image'"
                )
            }
            near = {a: d for a, d in near.items() if d <= max_distance}
            if not near:
                return []
            params: list[Any] = []
            found = self._select_assets(tx, f" WHERE {_in('a.asset_id', sorted(near), params)}", params, "a.asset_id")
        return sorted(((r, near[r.asset_id]) for r in found), key=lambda p: (p[1], p[0].asset_id))

    def put_asset_versions(self, versions: Sequence[AssetVersion]) -> int:
        by_sha = {v.sha256: v for v in reversed(versions)}  # the first record of a file wins, as in the table
        if not by_sha:
            return 0
        now = utc_naive(datetime.now(UTC))
        rows = [
            (v.sha256, v.asset_id, v.match, v.distance, v.format, v.width, v.height, v.size_bytes, v.source,
             utc_naive(v.first_seen) if v.first_seen else now)
            for v in by_sha.values()
        ]  # fmt: skip
        with self._transaction() as tx:
            tx.stage("stg_asset_versions", _table(_VERSION_COLUMNS, rows, _VERSION_TYPES))
            cols = ", ".join(_VERSION_COLUMNS)
            new = tx.query(
                f"INSERT INTO asset_versions ({cols}) SELECT {cols} FROM stg_asset_versions "
                "ON CONFLICT (sha256) DO NOTHING RETURNING sha256"
            )
        return len(new)

    def asset_versions(self, asset_id: str) -> list[AssetVersion]:
        with self._transaction() as tx:
            rows = tx.query(
                f"SELECT {', '.join(_VERSION_COLUMNS)} FROM asset_versions WHERE asset_id = ? "
                "ORDER BY first_seen, sha256",
                (asset_id,),
            )
        return [AssetVersion(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], r[7], r[8], as_utc(r[9])) for r in rows]

    def asset_for_file(self, sha256: str) -> str | None:
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT asset_id FROM asset_versions WHERE sha256 = ? "
                "UNION SELECT asset_id FROM assets WHERE asset_id = ?",
                (sha256, sha256),
            )
        return str(rows[0][0]) if rows else None

    def put_image_refs(self, refs: Sequence[ImageRefLink], *, at: datetime) -> int:
        by_key = {(str(r.platform), r.account_id, r.ref): r for r in refs}
        if not by_key:
            return 0
        when = utc_naive(at)
        rows = [(*k, r.asset_id, r.sha256, when) for k, r in by_key.items()]
        with self._transaction() as tx:
            tx.stage("stg_image_refs", _table(_REF_COLUMNS, rows, _REF_TYPES))
            cols = ", ".join(_REF_COLUMNS)
            tx.execute(
                f"INSERT INTO asset_image_refs ({cols}) SELECT {cols} FROM stg_image_refs "
                "ON CONFLICT (platform, account_id, ref) DO UPDATE SET asset_id = excluded.asset_id, "
                "sha256 = excluded.sha256, updated_at = excluded.updated_at"
            )
        return len(rows)

    def known_image_refs(self, platform: Platform, account_id: str, refs: Iterable[str]) -> dict[str, ImageRefLink]:
        wanted = set(refs)
        if not wanted:
            return {}
        with self._transaction() as tx:  # an account's references, filtered here: no parameter list to outgrow
            rows = tx.query(
                "SELECT ref, asset_id, sha256 FROM asset_image_refs WHERE platform = ? AND account_id = ?",
                (str(platform), account_id),
            )
        return {r[0]: ImageRefLink(platform, account_id, r[0], r[1], r[2]) for r in rows if r[0] in wanted}

    def set_creative_links(
        self, creatives: Sequence[tuple[Platform, str]], links: Sequence[CreativeLink], *, at: datetime
    ) -> int:
        keys = {(str(p), c) for p, c in creatives} | {(str(k.platform), k.creative_id) for k in links}
        if not keys:
            return 0
        by_key = {(str(k.platform), k.creative_id, k.role): k for k in links}
        when = utc_naive(at)
        with self._transaction() as tx:
            tx.stage("stg_link_keys", _table(("platform", "creative_id"), sorted(keys)))
            kept = ""
            if by_key:
                rows = [(*key, k.account_id, k.asset_id, k.match, when) for key, k in by_key.items()]
                tx.stage("stg_links", _table(_LINK_COLUMNS, rows, _LINK_TYPES))
                kept = (
                    " AND NOT EXISTS (SELECT 1 FROM stg_links s WHERE s.platform = creative_assets.platform "
                    "AND s.creative_id = creative_assets.creative_id AND s.role = creative_assets.role)"
                )
            tx.execute(
                "DELETE FROM creative_assets WHERE EXISTS (SELECT 1 FROM stg_link_keys k "
                "WHERE k.platform = creative_assets.platform AND k.creative_id = creative_assets.creative_id)" + kept
            )
            if by_key:
                cols = ", ".join(_LINK_COLUMNS)
                tx.execute(
                    f"INSERT INTO creative_assets ({cols}) SELECT {cols} FROM stg_links "
                    "ON CONFLICT (platform, creative_id, role) DO UPDATE SET account_id = excluded.account_id, "
                    "asset_id = excluded.asset_id, match = excluded.match, updated_at = excluded.updated_at "
                    "WHERE creative_assets.asset_id IS DISTINCT FROM excluded.asset_id "
                    "OR creative_assets.match IS DISTINCT FROM excluded.match "
                    "OR creative_assets.account_id IS DISTINCT FROM excluded.account_id"
                )
        return len(by_key)

    def asset_usage(self, asset_id: str) -> list[AssetUsage]:
        with self._transaction() as tx:
            rows = tx.query(
                "SELECT m.platform, m.account_id, m.creative_id, m.role, m.match, a.ad_id, a.name, a.status "
                "FROM creative_asset_map m LEFT JOIN ads a "
                "ON a.platform = m.platform AND a.creative_id = m.creative_id "
                "WHERE m.asset_id = ? ORDER BY m.platform, m.account_id, m.creative_id, m.role, a.ad_id",
                (asset_id,),
            )
        return [AssetUsage(Platform(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]

    def relink_creatives(self) -> int:
        match = (
            "l.platform = creatives.platform AND l.creative_id = creatives.creative_id AND l.role = 'image' "
            "AND creatives.asset_id IS DISTINCT FROM l.asset_id"
        )
        with self._transaction() as tx:
            (n,) = tx.query(f"SELECT count(*) FROM creatives, creative_assets l WHERE {match}")[0]
            if n:
                tx.execute(f"UPDATE creatives SET asset_id = l.asset_id FROM creative_assets l WHERE {match}")
        return int(n)

    # -- maintenance -----------------------------------------------------------------------------------
    def clear_synced_data(self) -> None:
        with self._transaction() as tx:
            for table in SYNCED_TABLES:
                tx.execute(f"DELETE FROM {table}")
            tx.execute("DELETE FROM entity_changes WHERE source = ?", (SYNC_SOURCE,))

    def stats(self) -> WarehouseStats:
        with self._transaction() as tx:
            version = self._version(tx)
            counts: dict[str, int] = {}
            days = None
            if version:
                for table in ALL_TABLES:
                    counts[table] = int(tx.query(f"SELECT count(*) FROM {table}")[0][0])
                lo, hi = tx.query("SELECT min(day), max(day) FROM insights")[0]
                days = (lo, hi) if lo is not None else None
        return WarehouseStats(self.engine, self.location, version, counts, days)
