"""The embedded warehouse: one DuckDB file, the default for one machine.

DuckDB allows one writing process per file and Dagster's default executor runs steps in separate
processes, so every connection is taken under an inter-process file lock and held only for a
short transaction: fetching happens before, into Parquet staging files, which the commit reads in
one ``read_parquet`` statement (DuckDB's vectorised Parquet reader; no Python per row).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from filelock import FileLock

from o2c_pipeline.warehouse.base import Warehouse
from o2c_pipeline.warehouse.tables import q

LOCK_TIMEOUT_S = 600.0
#: DuckDB's own cap (its default is 80% of RAM): commits spill to disk beyond it, so a million-row
#: load keeps the pipeline process under 1 GiB (benchmarks/bench_warehouse.py reports its peak).
DUCKDB_MEMORY_LIMIT = "512MB"


class DuckDBSession:
    """A DuckDB connection speaking the shared SQL (DuckDB takes ``?`` placeholders as they are)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        # fetchall() always: an open result would block unregister() and the next statement
        return self.con.execute(sql, list(params)).fetchall()

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class DuckDBWarehouse(Warehouse):
    """A DuckDB file with serialized, short-lived connections."""

    IN_TEXT_ARRAY = "IN (SELECT unnest(?::VARCHAR[]))"
    EXCLUSIVE = True  # the file lock

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.lock_file = FileLock(f"{self.path}.lock", timeout=LOCK_TIMEOUT_S)

    @classmethod
    def handles(cls, location: str) -> bool:
        return "://" not in location  # any path; URLs belong to the server backends

    @property
    def location(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"DuckDBWarehouse({self.location!r})"

    @contextmanager
    def session(self) -> Iterator[DuckDBSession]:
        """A connection held under the warehouse lock (readers and writers alike)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_file:
            con = duckdb.connect(str(self.path))
            try:
                con.execute("SET TimeZone = 'UTC'")
                con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
                # order of rows in a table means nothing here: lets DuckDB load in parallel
                con.execute("SET preserve_insertion_order = false")
                yield DuckDBSession(con)
            finally:
                con.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The raw DuckDB connection, under the lock (for people poking at the file)."""
        with self.session() as s:
            yield s.con

    def lock(self, s: DuckDBSession, *names: str) -> None:  # type: ignore[override]
        """Nothing to do: the file lock already makes the session the only one."""

    def load_temp(
        self,
        s: DuckDBSession,  # type: ignore[override]
        name: str,
        files: Sequence[Path],
        columns: Sequence[str],
    ) -> str:
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        return f"read_parquet([{listed}], union_by_name = true)"

    def load_arrow(self, s: DuckDBSession, name: str, table: pa.Table) -> str:  # type: ignore[override]
        s.con.register(name, table)
        return name

    def sql_type(self, type_: str) -> str:
        return type_

    def cast_expr(self, column: str, type_: str) -> str:
        """A stamp of exactly ``YYYY-MM-DD HH:MM:SS`` (SuiteQL's; no room for an offset or a
        zone) is UTC wall time already: the plain cast, a third of the zone-aware one's cost,
        which every other form keeps (same values either way)."""
        general = super().cast_expr(column, type_)
        if type_ != "TIMESTAMP":
            return general
        c = q(column)
        return f"CASE WHEN length({c}) = 19 AND {c}[17] = ':' THEN CAST({c} AS TIMESTAMP) ELSE {general} END"

    def column_types(self, s: DuckDBSession, qualified: str) -> dict[str, str]:  # type: ignore[override]
        schema, name = qualified.split(".", 1)
        return dict(
            s.run(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, name],
            )
        )

    def staging_dir(self, label: str) -> Path:
        return self.path.parent / f"{self.path.stem}.staging" / label

    def insert_into(self, s: Any, target: str, columns: Sequence[str], rows: list[dict]) -> None:
        import pandas as pd  # only the sync's row inserts need it: not imported with the module

        s.con.register("_frame", pd.DataFrame(rows, columns=list(columns)))
        try:
            s.run(f"INSERT INTO {target} BY NAME SELECT * FROM _frame")
        finally:
            s.con.unregister("_frame")
