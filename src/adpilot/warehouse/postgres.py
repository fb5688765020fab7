"""PostgreSQL engine: production, a connection pool, bulk loads through COPY fed by Arrow's CSV writer."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from adpilot.config import mask_url
from adpilot.errors import WarehouseError, WarehouseUnavailable
from adpilot.warehouse._rows import Row
from adpilot.warehouse._sql import SqlWarehouse

_CSV = pacsv.WriteOptions(include_header=False, batch_size=16384)
_COPY_CHUNK_ROWS = 100_000


def _pg_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "TEXT"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_decimal(t):
        return f"NUMERIC({t.precision}, {t.scale})"
    if pa.types.is_floating(t):
        return "DOUBLE PRECISION"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    raise WarehouseError(f"no PostgreSQL type for Arrow {t}")


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def describe_target(url: str) -> str:
    """``host:port, database 'db' as user 'u'`` from a URL, never with its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return mask_url(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}, database {info.get('dbname', '?')!r} as user {info.get('user', '?')!r}"


class _PgTx:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(_pg(sql), list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(_pg(sql), list(params)).fetchall()

    def stage(self, name: str, table: pa.Table) -> None:
        cols = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(f.name), pgsql.SQL(_pg_type(f.type))) for f in table.schema
        )
        self._conn.execute(pgsql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(pgsql.Identifier(name), cols))
        self.append(name, table)

    def append(self, target: str, table: pa.Table) -> None:
        stmt = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            pgsql.Identifier(target), pgsql.SQL(", ").join(pgsql.Identifier(c) for c in table.column_names)
        )
        with self._conn.cursor() as cur, cur.copy(stmt) as copy:
            for offset in range(0, table.num_rows, _COPY_CHUNK_ROWS):
                buf = io.BytesIO()
                pacsv.write_csv(table.slice(offset, _COPY_CHUNK_ROWS), buf, _CSV)
                copy.write(buf.getbuffer())


class PostgresWarehouse(SqlWarehouse):
    """Tables live in their own schema (``adpilot`` by default); sessions run in UTC."""

    engine = "postgres"
    timestamp_type = "TIMESTAMPTZ"
    insights_key = ", PRIMARY KEY (platform, account_id, day, ad_id)"

    def __init__(self, url: str, *, schema: str = "adpilot", pool_size: int = 4, connect_timeout: int = 5) -> None:
        self._url = url
        self._schema = schema
        target = describe_target(url)
        try:
            # One direct attempt first: a pool would retry silently until its timeout.
            with psycopg.connect(url, connect_timeout=connect_timeout) as probe:
                probe.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema)))
        except psycopg.Error as exc:
            reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
            password = conninfo_to_dict(url).get("password")
            if password:
                reason = reason.replace(str(password), "***")
            raise WarehouseUnavailable(f"cannot connect to PostgreSQL at {target}: {reason}") from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={
                "options": f"-c search_path={schema} -c TimeZone=UTC",
                "connect_timeout": connect_timeout,
            },
            open=False,
        )
        self._pool.open(wait=True, timeout=connect_timeout * 2)

    @property
    def location(self) -> str:
        return f"{mask_url(self._url)} (schema {self._schema})"

    @contextmanager
    def _transaction(self) -> Iterator[_PgTx]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

    def _prepare_migrations(self, tx: Any) -> None:
        # Two processes migrating at once queue here instead of racing.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"adpilot-migrate-{self._schema}",))

    def drop_schema(self) -> None:
        """Remove the whole schema (tests and benchmarks clean up with this)."""
        with self._pool.connection() as conn:
            conn.execute(pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(pgsql.Identifier(self._schema)))

    def close(self) -> None:
        self._pool.close()
