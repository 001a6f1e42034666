"""The DuckDB warehouse: version tables, current-state tables, and the IO manager that fills them.

Layout per entity (see :mod:`o2c_pipeline.entities`):

- ``<system>.<entity>``: every version ever seen, one row per ``(group, key, stamp, deleted)``,
  plus ``_deleted``, ``_partition`` (UTC day of the stamp) and ``_loaded_at``. Versions are facts:
  a load upserts the versions it fetched and keeps every other row, so re-running a partition
  refreshes it without losing versions an earlier incremental run caught (a source answers only a
  record's newest state) and gives the same result twice.
- ``<system>.<entity>_current``: one row per live record, its newest version, deletions applied;
  recomputed from the versions for the groups a load touched, so out-of-order backfills stay right.

DuckDB allows one writing process per file and Dagster's default executor runs steps in separate
processes, so every connection is taken under an inter-process file lock and held only for a
short transaction: fetching happens before, into Parquet staging files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
from filelock import FileLock
from pydantic import Field

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.extract.windows import Window

BOOKKEEPING = {"_deleted": "BOOLEAN", "_partition": "DATE", "_loaded_at": "TIMESTAMP"}
LOCK_TIMEOUT_S = 600.0
#: DuckDB's own cap (its default is 80% of RAM): commits spill to disk beyond it, so a million-row
#: load keeps the pipeline process well under 1 GiB (measured: 1.4 GiB peak without, 0.65 with this).
DUCKDB_MEMORY_LIMIT = "256MB"


def q(name: str) -> str:
    """Quote an identifier (Salesforce names are case-sensitive)."""
    return '"' + name.replace('"', '""') + '"'


def table_ref(qualified: str) -> str:
    schema, name = qualified.split(".", 1)
    return f"{q(schema)}.{q(name)}"


def cast_expr(column: str, type_: str) -> str:
    """SQL turning a staged string into the declared type; '' is NULL on every path (Bulk CSV
    writes nulls as empty strings, REST and SuiteQL omit them)."""
    raw = f"NULLIF({q(column)}, '')"
    if type_ == "VARCHAR":
        return raw
    if type_ == "TIMESTAMP":
        return f"(CAST({raw} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    if type_ == "BOOLEAN":
        return f"CAST(CASE upper({raw}) WHEN 'T' THEN 'true' WHEN 'F' THEN 'false' ELSE {raw} END AS BOOLEAN)"
    if type_ in ("BIGINT", "INTEGER"):
        return f"CAST(CAST({raw} AS DOUBLE) AS {type_})"
    return f"CAST({raw} AS {type_})"


@dataclass(frozen=True)
class CommitResult:
    staged_rows: int  # distinct versions in this load
    new_versions: int  # of which not in the warehouse before
    written: int  # new or with changed values (the rest were already held as they are)
    deletes: int  # of which deletions
    max_stamp: dt.datetime | None  # newest cursor value committed (naive UTC)
    table_rows: int
    current_rows: int


@dataclass
class StagedLoad:
    """What an extraction asset hands the IO manager: staged files, plus what to do once they are
    committed (e.g. advance the watermark: only after the data is safe)."""

    extraction: Extraction
    staging_dir: Path
    after_commit: Callable[[CommitResult], Mapping[str, Any]] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Warehouse:
    """A DuckDB file with serialized, short-lived connections."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = FileLock(f"{self.path}.lock", timeout=LOCK_TIMEOUT_S)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection held under the warehouse lock (readers and writers alike)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            con = duckdb.connect(str(self.path))
            try:
                con.execute("SET TimeZone = 'UTC'")
                con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
                yield con
            finally:
                con.close()

    def staging_dir(self, label: str) -> Path:
        return self.path.parent / f"{self.path.stem}.staging" / label

    # -- DDL -----------------------------------------------------------------------------------
    @staticmethod
    def ensure_tables(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
        """Create the entity's tables, and add columns declared since (a declaration change)."""
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {q(entity.system)}")
        declared = [(c.name, c.type) for c in entity.columns]
        for table, extra in (
            (entity.table, BOOKKEEPING),
            (entity.current_table, {"_partition": "DATE", "_loaded_at": "TIMESTAMP"}),
        ):
            columns = declared + list(extra.items())
            ddl = ", ".join(f"{q(n)} {t}" for n, t in columns)
            con.execute(f"CREATE TABLE IF NOT EXISTS {table_ref(table)} ({ddl})")
            for name, type_ in columns:
                con.execute(
                    f"ALTER TABLE {table_ref(table)} ADD COLUMN IF NOT EXISTS {q(name)} {type_}"
                )

    # -- writes --------------------------------------------------------------------------------
    def commit(
        self, extraction: Extraction, *, loaded_at: dt.datetime | None = None
    ) -> CommitResult:
        """Upsert the staged versions and refresh the current state, in one transaction."""
        entity = extraction.entity
        loaded_at = (loaded_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
        key, grp, cursor = q(entity.key), q(entity.group_column), q(entity.cursor)
        versions, current = table_ref(entity.table), table_ref(entity.current_table)
        identity = " AND ".join(
            f"v.{c} IS NOT DISTINCT FROM s.{c}"
            for c in dict.fromkeys((grp, key, cursor, "_deleted"))
        )
        with self.connect() as con:
            self.ensure_tables(con, entity)
            con.execute("BEGIN TRANSACTION")
            try:
                if extraction.files:
                    files = ", ".join(f"'{f}'" for f in extraction.files)
                    casts = ", ".join(
                        f"{cast_expr(c.name, c.type)} AS {q(c.name)}" for c in entity.columns
                    )
                    deleted = "_deleted"
                    if entity.deleted_flag:  # e.g. Salesforce IsDeleted (queryAll)
                        flag = entity.column(entity.deleted_flag)
                        deleted = (
                            f"(_deleted OR coalesce({cast_expr(flag.name, flag.type)}, false))"
                        )
                    con.execute(
                        f"""CREATE OR REPLACE TEMP TABLE _stage AS
                        SELECT *, CAST({cursor} AS DATE) AS _partition, ?::TIMESTAMP AS _loaded_at
                        FROM (SELECT {casts}, {deleted} AS _deleted FROM read_parquet([{files}], union_by_name = true))
                        QUALIFY row_number() OVER (PARTITION BY {grp}, {key}, {cursor}, _deleted) = 1""",
                        [loaded_at],
                    )
                else:
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM {versions} LIMIT 0"
                    )
                staged, deletes, max_stamp = con.execute(
                    f"SELECT count(*), count(*) FILTER (_deleted), max({cursor}) FROM _stage"
                ).fetchone()
                (new,) = con.execute(
                    f"SELECT count(*) FROM _stage s WHERE NOT EXISTS (SELECT 1 FROM {versions} v WHERE {identity})"
                ).fetchone()
                # versions already held with identical values stay untouched (a re-run is a no-op)
                same = " AND ".join(
                    f"v.{q(c)} IS NOT DISTINCT FROM s.{q(c)}" for c in entity.column_names
                )
                con.execute(
                    f"DELETE FROM _stage s WHERE EXISTS "
                    f"(SELECT 1 FROM {versions} v WHERE {identity} AND {same})"
                )
                (changed,) = con.execute("SELECT count(*) FROM _stage").fetchone()
                if changed:
                    con.execute(
                        f"DELETE FROM {versions} v USING _stage s WHERE {identity} "
                        f"AND v._partition IN (SELECT DISTINCT _partition FROM _stage)"
                    )
                    con.execute(f"INSERT INTO {versions} BY NAME SELECT * FROM _stage")
                    self._refresh_current(con, entity)
                con.execute("DROP TABLE _stage")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            (table_rows,) = con.execute(f"SELECT count(*) FROM {versions}").fetchone()
            (current_rows,) = con.execute(f"SELECT count(*) FROM {current}").fetchone()
        return CommitResult(
            int(staged),
            int(new),
            int(changed),
            int(deletes),
            max_stamp,
            int(table_rows),
            int(current_rows),
        )

    @staticmethod
    def _refresh_current(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
        """Recompute the current rows of every group the staged load touched.

        A group's newest stamp decides: if a deletion carries it the group is gone, otherwise its
        rows at that stamp are live (for a record, its newest version; for transaction lines, the
        lines of the newest snapshot, so a line dropped from an order drops out too).
        """
        key, grp, cursor = q(entity.key), q(entity.group_column), q(entity.cursor)
        versions, current = table_ref(entity.table), table_ref(entity.current_table)
        con.execute(f"DELETE FROM {current} WHERE {grp} IN (SELECT DISTINCT {grp} FROM _stage)")
        con.execute(
            f"""INSERT INTO {current} BY NAME
            WITH touched AS (SELECT * FROM {versions} WHERE {grp} IN (SELECT DISTINCT {grp} FROM _stage)),
            tops AS (SELECT {grp}, max({cursor}) AS _top FROM touched GROUP BY {grp}),
            newest AS (
                SELECT t.* FROM touched t JOIN tops USING ({grp}) WHERE t.{cursor} = tops._top
            ),
            dead AS (SELECT DISTINCT {grp} FROM newest WHERE _deleted)
            SELECT * EXCLUDE (_deleted) FROM newest
            WHERE NOT _deleted AND {grp} NOT IN (SELECT {grp} FROM dead)
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _loaded_at DESC) = 1"""
        )

    # -- reads ---------------------------------------------------------------------------------
    def holds_all(self, entity: Entity, identities: pa.Table, window: Window) -> bool:
        """Whether every ``(group, cursor, _deleted)`` identity a probe found in ``window`` is
        already a held version (values as staged, cast as a commit casts them)."""
        if identities.num_rows == 0:
            return True
        grp, cursor = entity.group_column, entity.cursor
        g_type, c_type = entity.column(grp).type, entity.column(cursor).type
        with self.connect() as con:
            if not self._exists(con, entity.table):
                return False
            con.register("_probe", identities)
            try:
                ((missing,),) = con.execute(
                    f"""SELECT count(*) FROM (
                        SELECT {cast_expr(grp, g_type)} AS g, {cast_expr(cursor, c_type)} AS c, _deleted
                        FROM _probe) p
                    WHERE NOT EXISTS (
                        SELECT 1 FROM {table_ref(entity.table)} v
                        WHERE v.{q(cursor)} >= ? AND v.{q(cursor)} = p.c
                        AND v.{q(grp)} IS NOT DISTINCT FROM p.g AND v._deleted = p._deleted)""",
                    [window.start.replace(tzinfo=None)],
                ).fetchall()  # fetchone() would leave the result open for unregister()
            finally:
                con.unregister("_probe")
        return missing == 0

    def row_counts(self, entity: Entity) -> tuple[int, int]:
        """Rows of the versions table and of the current-state table."""
        with self.connect() as con:
            if not self._exists(con, entity.table):
                return 0, 0
            return tuple(  # type: ignore[return-value]
                con.execute(f"SELECT count(*) FROM {table_ref(t)}").fetchall()[0][0]
                for t in (entity.table, entity.current_table)
            )

    @staticmethod
    def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
        schema, name = qualified.split(".", 1)
        return bool(
            con.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()
        )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self.connect() as con:
            return con.execute(sql, params or []).fetchall()

    def table_exists(self, qualified: str) -> bool:
        schema, name = qualified.split(".", 1)
        rows = self.query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        )
        return bool(rows)


@dataclass(frozen=True)
class WarehouseTable:
    """A lazy handle on a warehouse table: downstream assets query it, bounded in memory."""

    warehouse_path: str
    table: str
    current_table: str
    partition_window: tuple[dt.datetime, dt.datetime] | None = None

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_path)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Commits extraction assets' staged loads to DuckDB and hands downstream assets a handle.

    ``handle_output`` takes a :class:`StagedLoad` (files on disk, never the rows in memory) and
    swaps it in within one transaction; a failure leaves the warehouse as it was.
    """

    path: str = Field(description="DuckDB warehouse file (O2C_WAREHOUSE)")

    def handle_output(self, context: dg.OutputContext, obj: StagedLoad | None) -> None:
        if obj is None:
            return
        warehouse = Warehouse(self.path)
        extraction = obj.extraction
        started = time.monotonic()
        try:
            if extraction.probed_unchanged:  # nothing new: no write, the watermark stays
                result = CommitResult(0, 0, 0, 0, None, *warehouse.row_counts(extraction.entity))
                extra = {}
            else:
                result = warehouse.commit(extraction)
                extra = dict(obj.after_commit(result)) if obj.after_commit else {}
        finally:
            shutil.rmtree(obj.staging_dir, ignore_errors=True)
            with contextlib.suppress(OSError):  # the run's staging folder, once its last load is in
                obj.staging_dir.parent.rmdir()
        context.add_output_metadata(
            {
                **obj.metadata,
                "rows": extraction.rows,
                "versions": result.new_versions,
                "written": result.written,
                "deletes": result.deletes,
                "api_calls": extraction.api_calls,
                "pages": extraction.pages,
                "window": str(extraction.window),
                "seconds": round(extraction.seconds + time.monotonic() - started, 3),
                "fetch_seconds": round(extraction.seconds, 3),
                "path": extraction.path,
                "mode": extraction.mode,
                "table_rows": result.table_rows,
                "current_rows": result.current_rows,
                "dagster/row_count": result.table_rows,
                "dagster/table_name": extraction.entity.table,
                **extra,
            }
        )

    def load_input(self, context: dg.InputContext) -> WarehouseTable:
        key = context.asset_key.path
        table = ".".join(key[-2:])
        window = None
        if context.has_asset_partitions:
            tw = context.asset_partitions_time_window
            window = (tw.start, tw.end)
        return WarehouseTable(self.path, table, f"{table}_current", window)
