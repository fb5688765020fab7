"""DuckDB engine: the embedded default, one file under the data directory, created on first use."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from adpilot.errors import WarehouseError, WarehouseUnavailable
from adpilot.warehouse._rows import Row
from adpilot.warehouse._sql import SqlWarehouse

_names = itertools.count()
_FEW_ROWS = 4  # appends up to this many rows are inserted as parameters, larger ones through Arrow


class _DuckTx:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._registered: list[str] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._con.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._con.execute(sql, list(params)).fetchall()

    def stage(self, name: str, table: pa.Table) -> None:
        self._con.register(name, table)
        self._registered.append(name)

    def append(self, target: str, table: pa.Table) -> None:
        cols = ", ".join(table.column_names)
        if table.num_rows <= _FEW_ROWS:
            # A row or two (an audit entry, a ledger transition): registering an Arrow view costs more than the
            # insert itself, so the values go as parameters of one statement.
            rows = [list(r.values()) for r in table.to_pylist()]
            if rows:
                marks = ", ".join(["(" + ", ".join("?" * table.num_columns) + ")"] * len(rows))
                self._con.execute(f"INSERT INTO {target} ({cols}) VALUES {marks}", [v for r in rows for v in r])
            return
        name = f"_append_{next(_names)}"
        self.stage(name, table)
        self._con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {name}")

    def close(self) -> None:
        for name in self._registered:
            self._con.unregister(name)


def duckdb_path(url: str) -> str:
    """``duckdb:///abs/file.duckdb`` → ``/abs/file.duckdb``; ``duckdb:///:memory:`` → ``:memory:``."""
    if not url.startswith("duckdb://"):
        raise WarehouseError(f"warehouse_url: {url!r} is not a duckdb:// URL")
    rest = url[len("duckdb://") :]
    if rest in ("", "/:memory:", ":memory:"):
        return ":memory:"
    return rest


class DuckDBWarehouse(SqlWarehouse):
    """One connection, serialized by a lock: DuckDB allows a single writing process per file."""

    engine = "duckdb"
    timestamp_type = "TIMESTAMP"
    insights_key = ""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"threads": threads} if threads else {}
        try:
            self._con = duckdb.connect(self._path, config=config)
        except duckdb.Error as exc:
            raise WarehouseUnavailable(f"cannot open DuckDB warehouse {self._path}: {exc}") from None
        self._lock = threading.RLock()

    @classmethod
    def from_url(cls, url: str) -> DuckDBWarehouse:
        return cls(duckdb_path(url))

    @property
    def location(self) -> str:
        return self._path

    @contextmanager
    def _transaction(self) -> Iterator[_DuckTx]:
        with self._lock:
            tx = _DuckTx(self._con)
            self._con.begin()
            try:
                yield tx
            except BaseException:
                self._con.rollback()
                raise
            else:
                self._con.commit()
            finally:
                tx.close()

    def close(self) -> None:
        with self._lock:
            self._con.close()
