"""The warehouse: one interface (:class:`Warehouse`, in :mod:`.base`), one module per backend.

``O2C_WAREHOUSE`` chooses: a file path opens the embedded DuckDB warehouse (:mod:`.duckdb`, the
default, for one machine); a ``postgresql+psycopg2://`` URL opens the shared PostgreSQL one
(:mod:`.postgres`, for runs on many processes and machines). A third backend is one more module
with a :class:`Warehouse` subclass that says which locations it ``handles``; see docs/warehouse.md.
"""

from __future__ import annotations

from pathlib import Path

from o2c_pipeline.warehouse.base import Session, Warehouse
from o2c_pipeline.warehouse.duckdb import DuckDBWarehouse
from o2c_pipeline.warehouse.postgres import PostgresWarehouse, is_postgres_url
from o2c_pipeline.warehouse.tables import (
    BOOKKEEPING,
    CommitResult,
    SchemaChange,
    cast_expr,
    q,
    table_ref,
)

__all__ = [
    "BOOKKEEPING",
    "CommitResult",
    "DuckDBWarehouse",
    "PostgresWarehouse",
    "SchemaChange",
    "Session",
    "Warehouse",
    "cast_expr",
    "is_postgres_url",
    "open_warehouse",
    "q",
    "table_ref",
]


def open_warehouse(location: str | Path) -> Warehouse:
    """The warehouse ``location`` (an ``O2C_WAREHOUSE`` value) names."""
    return Warehouse(location)
