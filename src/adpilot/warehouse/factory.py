"""Open the warehouse a URL names: DuckDB by default, PostgreSQL for ``postgresql://``."""

from __future__ import annotations

from adpilot.config import Settings
from adpilot.warehouse._sql import SqlWarehouse
from adpilot.warehouse.duckdb import DuckDBWarehouse


def open_warehouse(settings: Settings, *, migrate: bool = True) -> SqlWarehouse:
    url = settings.effective_warehouse_url
    wh: SqlWarehouse
    if url.startswith(("postgresql://", "postgres://")):
        from adpilot.warehouse.postgres import PostgresWarehouse

        wh = PostgresWarehouse(url, schema=settings.warehouse_schema, pool_size=settings.warehouse_pool_size)
    else:
        wh = DuckDBWarehouse.from_url(url)
    if migrate:
        wh.migrate()
    return wh
