"""Names, bookkeeping columns and result records shared by every warehouse module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from o2c_pipeline.resources.checkpoints import UtcDateTime

# ``_version_reason``: why a version was landed besides a new stamp: NULL for an extraction,
# 'formula_refresh' for formula values re-read under an unchanged stamp (a version of its own)
BOOKKEEPING = {
    "_deleted": "BOOLEAN",
    "_partition": "DATE",
    "_loaded_at": "TIMESTAMP",
    "_version_reason": "VARCHAR",
}
CURRENT_BOOKKEEPING = {
    "_partition": "DATE",
    "_loaded_at": "TIMESTAMP",
    "_version_reason": "VARCHAR",
}


def q(name: str) -> str:
    """Quote an identifier (Salesforce names are case-sensitive)."""
    return '"' + name.replace('"', '""') + '"'


def table_ref(qualified: str) -> str:
    schema, name = qualified.split(".", 1)
    return f"{q(schema)}.{q(name)}"


def cast_expr(column: str, type_: str, sql_type: Callable[[str], str] = str) -> str:
    """SQL turning a staged string into the declared type; '' is NULL on every path (Bulk CSV
    writes nulls as empty strings, REST and SuiteQL omit them). ``sql_type`` names a declared
    (DuckDB-style) type in the backend's dialect; staged files are read by DuckDB itself."""
    raw = f"NULLIF({q(column)}, '')"
    if type_ == "VARCHAR":
        return raw
    if type_ == "TIMESTAMP":
        return f"(CAST({raw} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    if type_ == "BOOLEAN":
        return f"CAST(CASE upper({raw}) WHEN 'T' THEN 'true' WHEN 'F' THEN 'false' ELSE {raw} END AS BOOLEAN)"
    if type_ in ("BIGINT", "INTEGER"):
        return f"CAST(CAST({raw} AS {sql_type('DOUBLE')}) AS {type_})"
    return f"CAST({raw} AS {sql_type(type_)})"


def naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class Session(Protocol):
    """One connection, as the shared SQL uses it (``?`` placeholders on every backend)."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict]: ...


@dataclass(frozen=True)
class SchemaChange:
    """How a load's columns differ from the table's: columns the source has grown (added to the
    table), columns it no longer sends (kept, NULL in new versions), and columns whose type the
    source now reports differently (the table keeps its type; values are cast to it)."""

    added: tuple[str, ...] = ()
    vanished: tuple[str, ...] = ()
    kept_types: tuple[tuple[str, str], ...] = ()

    def type_of(self, column: str, source_type: str) -> str:
        return dict(self.kept_types).get(column, source_type)


@dataclass(frozen=True)
class CommitResult:
    staged_rows: int  # distinct versions in this load
    new_versions: int  # of which not in the warehouse before
    written: int  # new or with changed values (the rest were already held as they are)
    deletes: int  # of which deletions
    max_stamp: dt.datetime | None  # newest cursor value committed (naive UTC)
    table_rows: int
    current_rows: int
    schema: SchemaChange = SchemaChange()


def mirror_type(column: sa.Column, double: str) -> str:
    """The warehouse type mirroring a checkpoint-store column (``double``: the backend's name)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return "BOOLEAN"
    if isinstance(kind, sa.Integer):
        return "BIGINT"
    if isinstance(kind, sa.Float):
        return double
    if isinstance(kind, sa.DateTime | UtcDateTime):
        return "TIMESTAMPTZ"
    return "VARCHAR"
