"""The warehouse interface: version tables, current-state tables, and every read and write the
pipeline makes of them (extraction commits, the sync's change feeds and look-ups, the audit mirror,
the checks' reconciliation). The SQL is written once, here, in the dialect DuckDB and PostgreSQL
share; a backend module (:mod:`.duckdb`, :mod:`.postgres`) supplies connections, transactions,
locks, bulk loading and its type names.

Layout per entity (see :mod:`o2c_pipeline.entities`):

- ``<system>.<entity>``: every version ever seen, one row per ``(group, key, stamp, deleted)``,
  plus ``_deleted``, ``_partition`` (UTC day of the stamp) and ``_loaded_at``. Versions are facts:
  a load upserts the versions it fetched and keeps every other row, so re-running a partition
  refreshes it without losing versions an earlier incremental run caught (a source answers only a
  record's newest state) and gives the same result twice.
- ``<system>.<entity>_current``: one row per live record, its newest version, deletions applied;
  recomputed from the versions for the groups a load touched, so out-of-order backfills stay right.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.warehouse import commit
from o2c_pipeline.warehouse.reconcile import ReconciliationReads
from o2c_pipeline.warehouse.tables import (
    BOOKKEEPING,
    CURRENT_BOOKKEEPING,
    CommitResult,
    SchemaChange,
    Session,
    cast_expr,
    mirror_type,
    naive_utc,
    q,
    table_ref,
)

__all__ = ["BOOKKEEPING", "CommitResult", "SchemaChange", "Session", "Warehouse", "q", "table_ref"]


class Warehouse(ReconciliationReads, ABC):
    """The interface every backend implements; ``Warehouse(location)`` opens the backend that
    handles ``location`` (a DuckDB file path or a PostgreSQL URL), like
    :func:`o2c_pipeline.warehouse.open_warehouse`."""

    #: Backends in the order they are asked whether they handle a location.
    BACKENDS: ClassVar[list[type[Warehouse]]] = []
    #: How ``column IN (text values)`` is written with one array parameter.
    IN_TEXT_ARRAY: ClassVar[str]
    #: Whether a session is the only one (no other commit can run beside it).
    EXCLUSIVE: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Warehouse.BACKENDS.insert(0, cls)  # the catch-all (DuckDB, any path) registers first

    def __new__(cls, location: str | Path | None = None, *args: Any, **kwargs: Any) -> Warehouse:
        if cls is Warehouse:
            for backend in Warehouse.BACKENDS:
                if backend.handles(str(location)):
                    return super().__new__(backend)
            raise ValueError("no warehouse backend handles this O2C_WAREHOUSE value")
        return super().__new__(cls)

    # -- what a backend supplies ------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def handles(cls, location: str) -> bool:
        """Whether ``location`` (the O2C_WAREHOUSE value) names this kind of warehouse."""

    @property
    @abstractmethod
    def location(self) -> str:
        """The O2C_WAREHOUSE value, fit to show (no password)."""

    @abstractmethod
    def session(self) -> AbstractContextManager[Session]:
        """A short-lived connection (DuckDB: under the file lock)."""

    @abstractmethod
    def lock(self, s: Session, *names: str) -> None:
        """Hold ``names`` until the transaction ends (a no-op where the session is exclusive)."""

    @abstractmethod
    def load_temp(
        self, s: Session, name: str, files: Sequence[Path], columns: Sequence[str]
    ) -> str:
        """Bulk-load staged Parquet ``files`` (string columns plus ``_deleted``) into a temporary
        relation; returns the SQL to select from it."""

    @abstractmethod
    def load_arrow(self, s: Session, name: str, table: pa.Table) -> str:
        """A small Arrow table as a temporary relation ``name``; returns the SQL to select it."""

    @abstractmethod
    def sql_type(self, type_: str) -> str:
        """The backend's name of a declared (DuckDB-style) column type."""

    @abstractmethod
    def column_types(self, s: Session, qualified: str) -> dict[str, str]:
        """A table's columns and their declared-style types, in order; empty when absent."""

    @abstractmethod
    def staging_dir(self, label: str) -> Path:
        """Where an extraction stages its Parquet files before the commit."""

    @abstractmethod
    def insert_into(self, s: Any, target: str, columns: Sequence[str], rows: list[dict]) -> None:
        """Insert (few) Python rows into the quoted table ``target``, for the sync mirror."""

    def alive(self, s: Any) -> bool:
        """Whether ``s`` can still take a ROLLBACK (a server may have closed it)."""
        return True

    def ping(self, timeout_s: float = 5.0) -> None:
        """Raise if the warehouse cannot be reached (a server); nothing for an embedded file."""

    def created(self, s: Session, qualified: str, entity: Entity) -> None:
        """Called once a table is created (e.g. to index it); nothing by default."""

    def staged(self, s: Session) -> None:
        """Called once ``_stage`` holds the load (e.g. to give the planner its statistics)."""

    # -- shared SQL ------------------------------------------------------------------------------
    @contextmanager
    def transaction(self, s: Session) -> Iterator[None]:
        """One transaction on ``s``: committed on success, rolled back on any failure."""
        s.run("BEGIN")
        try:
            yield
        except BaseException:
            if self.alive(s):
                s.run("ROLLBACK")
            raise
        s.run("COMMIT")

    def insert_rows(
        self, s: Session, qualified: str, columns: Sequence[str], rows: list[dict]
    ) -> None:
        """Insert (few) Python rows into ``schema.table``, for the sync mirror."""
        self.insert_into(s, table_ref(qualified), columns, rows)

    def cast_expr(self, column: str, type_: str) -> str:
        """:func:`~o2c_pipeline.warehouse.tables.cast_expr` in this backend's type names."""
        return cast_expr(column, type_, self.sql_type)

    def exists(self, s: Session, qualified: str) -> bool:
        schema, name = qualified.split(".", 1)
        return bool(
            s.run(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            )
        )

    # -- DDL -------------------------------------------------------------------------------------
    def ensure_tables(self, s: Session, entity: Entity) -> SchemaChange:
        """Create the entity's tables, and add the columns it has gained since (a declaration
        change, or a field the source grew): schema evolution is this one mechanism. A new table
        is laid out core columns, bookkeeping, then discovered ones (later additions append).
        Statements are issued only for what is missing, under a lock on the table's DDL."""
        before = self.column_types(s, entity.table)
        declared = [(c.name, c.type) for c in entity.columns]
        core = [(c.name, c.type) for c in entity.columns if c.core]
        wanted = {
            entity.table: declared + list(BOOKKEEPING.items()),
            entity.current_table: declared + list(CURRENT_BOOKKEEPING.items()),
        }
        held = {
            entity.table: before,
            entity.current_table: self.column_types(s, entity.current_table),
        }
        if any(n not in held[t] for t, cols in wanted.items() for n, _ in cols):
            with self.transaction(s):
                self.lock(s, f"ddl/{entity.system}")  # CREATE SCHEMA races too
                s.run(f"CREATE SCHEMA IF NOT EXISTS {q(entity.system)}")
                for table, extra in (
                    (entity.table, BOOKKEEPING),
                    (entity.current_table, CURRENT_BOOKKEEPING),
                ):
                    now = self.column_types(s, table)  # another process may have added some
                    if not now:
                        ddl = ", ".join(
                            f"{q(n)} {self.sql_type(t)}" for n, t in core + list(extra.items())
                        )
                        s.run(f"CREATE TABLE IF NOT EXISTS {table_ref(table)} ({ddl})")
                        self.created(s, table, entity)
                        now = dict(core + list(extra.items()))
                    for name, type_ in wanted[table]:
                        if name not in now:
                            s.run(
                                f"ALTER TABLE {table_ref(table)} ADD COLUMN IF NOT EXISTS "
                                f"{q(name)} {self.sql_type(type_)}"
                            )
        if not before:
            return SchemaChange()
        names = {n for n, _ in declared}
        return SchemaChange(
            added=tuple(n for n, _ in declared if n not in before),
            vanished=tuple(n for n in before if n not in names and n not in BOOKKEEPING),
            kept_types=tuple((n, before[n]) for n, t in declared if before.get(n, t) != t),
        )

    # -- writes ----------------------------------------------------------------------------------
    def commit(
        self,
        extraction: Extraction,
        *,
        loaded_at: dt.datetime | None = None,
        reason: str | None = None,
    ) -> CommitResult:
        """Upsert the staged versions and refresh the current state, in one transaction; a
        ``reason`` (``_version_reason``) makes them versions apart from those stamped alike.

        The staged files are bulk-loaded and cast in the database; the partitions the load touches
        are locked (other partitions commit concurrently where the backend allows it), then the
        current rows of the touched groups under a lock on the table's current state. The SQL is
        in :mod:`.commit`."""
        return commit.commit(self, extraction, loaded_at=loaded_at, reason=reason)

    def _refresh_current(self, s: Session, entity: Entity, *, fresh: bool = False) -> None:
        """Recompute the current rows of every group ``_stage`` touched (:mod:`.commit`)."""
        commit.refresh_current(s, entity, fresh=fresh)

    # -- reads -----------------------------------------------------------------------------------
    def holds_all(self, entity: Entity, identities: pa.Table, window: Window) -> bool:
        """Whether every ``(group, cursor, _deleted)`` identity a probe found in ``window`` is
        already a held version (values as staged, cast as a commit casts them)."""
        if identities.num_rows == 0:
            return True
        grp, cursor = entity.group_column, entity.cursor
        g_type, c_type = entity.column(grp).type, entity.column(cursor).type
        with self.session() as s:
            if not self.exists(s, entity.table):
                return False
            probe = self.load_arrow(s, "_probe", identities)
            ((missing,),) = s.run(
                f"""SELECT count(*) FROM (
                    SELECT {self.cast_expr(grp, g_type)} AS g, {self.cast_expr(cursor, c_type)} AS c,
                        "_deleted" FROM {probe}) p
                WHERE NOT EXISTS (
                    SELECT 1 FROM {table_ref(entity.table)} v
                    WHERE v.{q(cursor)} >= ? AND v.{q(cursor)} = p.c
                    AND v.{q(grp)} = p.g AND v."_deleted" = p."_deleted")""",
                [window.start.replace(tzinfo=None)],
            )
        return missing == 0

    def row_counts(self, entity: Entity) -> tuple[int, int]:
        """Rows of the versions table and of the current-state table."""
        with self.session() as s:
            if not self.exists(s, entity.table):
                return 0, 0
            return tuple(  # type: ignore[return-value]
                int(s.run(f"SELECT count(*) FROM {table_ref(t)}")[0][0])
                for t in (entity.table, entity.current_table)
            )

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Any read, for people and tests poking at the warehouse (``?`` placeholders); pipeline
        code uses the methods above and below, so a backend is one class."""
        with self.session() as s:
            return s.run(sql, params or [])

    def table_exists(self, qualified: str) -> bool:
        with self.session() as s:
            return self.exists(s, qualified)

    # -- the sync's reads ------------------------------------------------------------------------
    def current_rows(self, entity: Entity, column: str, values: Sequence[str]) -> list[dict]:
        """Current rows of ``entity`` whose ``column`` is one of ``values`` (compared as text)."""
        if not values:
            return []
        with self.session() as s:
            if not self.exists(s, entity.current_table):
                return []
            return s.dicts(
                f"SELECT * FROM {table_ref(entity.current_table)} "
                f"WHERE CAST({q(column)} AS VARCHAR) {self.IN_TEXT_ARRAY}",
                [list(values)],
            )

    def all_current_rows(self, entity: Entity) -> list[dict]:
        """Every current row of a small setup table (currencies, subsidiaries, rates)."""
        with self.session() as s:
            if not self.exists(s, entity.current_table):
                return []
            return s.dicts(f"SELECT * FROM {table_ref(entity.current_table)}")

    def loaded_since(
        self, entity: Entity, column: str, since: dt.datetime
    ) -> tuple[list[str], dt.datetime | None]:
        """Distinct non-null ``column`` values (as text) of the versions loaded after ``since``,
        and the newest ``_loaded_at`` among them (aware UTC); nothing when never loaded."""
        with self.session() as s:
            if not self.exists(s, entity.table):
                return [], None
            rows = s.run(
                f'SELECT DISTINCT CAST({q(column)} AS VARCHAR), max("_loaded_at") OVER () '
                f'FROM {table_ref(entity.table)} WHERE "_loaded_at" > ? AND {q(column)} IS NOT NULL',
                [naive_utc(since)],
            )
        newest = rows[-1][1].replace(tzinfo=dt.UTC) if rows else None
        return [key for key, _ in rows], newest

    def mirror(
        self,
        tables: Mapping[str, sa.Table],
        rows_after: Callable[[sa.Table, tuple[str, Any] | None], list[dict]],
        append_only: Mapping[str, str],
    ) -> dict[str, int]:
        """Bring ``sync.<name>`` up to date with ``tables`` (of the checkpoint store); returns
        row counts. Tables in ``append_only`` (name -> increasing key) get only rows past their
        newest key; the others are replaced whole. One transaction under the mirror's lock from
        first read to commit, so two mirrors cannot both append."""
        counts = {}
        with self.session() as s:
            with self.transaction(s):
                self.lock(s, "ddl/sync")
                s.run("CREATE SCHEMA IF NOT EXISTS sync")
                for name, table in tables.items():
                    held = self.column_types(s, f"sync.{name}")
                    if not held:
                        ddl = ", ".join(
                            f"{q(c.name)} {mirror_type(c, self.sql_type('DOUBLE'))}"
                            for c in table.columns
                        )
                        s.run(f"CREATE TABLE IF NOT EXISTS sync.{q(name)} ({ddl})")
                    for c in table.columns:  # columns the store gained since the mirror was made
                        if held and c.name not in held:
                            s.run(
                                f"ALTER TABLE sync.{q(name)} ADD COLUMN IF NOT EXISTS "
                                f"{q(c.name)} {mirror_type(c, self.sql_type('DOUBLE'))}"
                            )
            with self.transaction(s):
                self.lock(s, "mirror/sync")
                for name, table in tables.items():
                    key = append_only.get(name)
                    if key:
                        ((last,),) = s.run(f"SELECT coalesce(max({q(key)}), 0) FROM sync.{q(name)}")
                        rows = rows_after(table, (key, last))
                    else:
                        s.run(f"DELETE FROM sync.{q(name)}")
                        rows = rows_after(table, None)
                    if rows:
                        self.insert_rows(s, f"sync.{name}", [c.name for c in table.columns], rows)
                    ((counts[name],),) = s.run(f"SELECT count(*) FROM sync.{q(name)}")
        return counts

    # -- the checks' reads -----------------------------------------------------------------------
    def count_in_window(self, entity: Entity, window: Window) -> int | None:
        """Current rows stamped in ``window``; None when the entity was never loaded."""
        cursor = q(entity.cursor)
        with self.session() as s:
            if not self.exists(s, entity.current_table):
                return None
            ((n,),) = s.run(
                f"SELECT count(*) FROM {table_ref(entity.current_table)} "
                f"WHERE {cursor} >= ? AND {cursor} < ?",
                [naive_utc(window.start), naive_utc(window.end)],
            )
        return int(n)

    def duplicate_keys(self, entity: Entity, limit: int) -> list[tuple[Any, int]]:
        """Keys held more than once in the current table, most copies first."""
        key = q(entity.key)
        with self.session() as s:
            if not self.exists(s, entity.current_table):
                return []
            return s.run(
                f"SELECT {key}, count(*) AS n FROM {table_ref(entity.current_table)} "
                f"GROUP BY {key} HAVING count(*) > 1 ORDER BY n DESC LIMIT {int(limit)}"
            )

    @contextmanager
    def reading(self, *tables: str) -> Iterator[Session | None]:
        """A session when every one of ``tables`` exists, else None (nothing loaded yet)."""
        with self.session() as s:
            yield s if all(self.exists(s, t) for t in tables) else None
