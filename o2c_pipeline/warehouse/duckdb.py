"""The embedded warehouse: one DuckDB file, the default for one machine.

DuckDB allows one writing process per file and Dagster's default executor runs steps in separate
processes, so every connection is taken under an inter-process file lock and held only for a
short transaction: fetching happens before, into Parquet staging files, which the commit reads in
one ``read_parquet`` statement (DuckDB's vectorised Parquet reader; no Python per row).

Opening the file costs 10-20 ms (and closing it a checkpoint); a quiet run's ~90 short reads paid
that each time. Inside :func:`lingering` (``o2c run``, the benchmarks' worker) a process keeps the
file open, and its lock held, for :data:`LINGER_S` after its last session, so back-to-back sessions
share one open; each session is still its own DuckDB connection (a cursor of the open database)
with its own transactions. The file is let go when idle for ``LINGER_S``, and after a session
ending more than :data:`MAX_HOLD_S` after it was opened, so another process waits little longer
than it did.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
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
#: inside :func:`lingering`: how long the file stays open after a session, and how long at most
#: one open serves sessions that keep coming
LINGER_S = 0.25
MAX_HOLD_S = 2.0
_linger = {"depth": 0}


class _OpenFile:
    """One process's open of one DuckDB file: the inter-process lock and the database, shared by
    the sessions that come while it is held (the sessions themselves one at a time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mutex = threading.RLock()
        # not thread-local: a session of any thread may open the file and the timer close it
        self.lock = FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S, thread_local=False)
        self.con: duckdb.DuckDBPyConnection | None = None
        self.opened = 0.0
        self.active = 0
        self.generation = 0

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to the database (the caller holds ``mutex``), opening it if closed."""
        if self.con is None:
            self.lock.acquire()
            try:
                self.con = duckdb.connect(str(self.path))
                self.con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
                # order of rows in a table means nothing here: lets DuckDB load in parallel
                self.con.execute("SET preserve_insertion_order = false")
            except BaseException:
                self.lock.release()
                raise
            self.opened = time.monotonic()
        return self.con.cursor()

    def done(self) -> None:
        """A session ended (``mutex`` held): close now, or once idle for ``LINGER_S``."""
        if self.active:
            return
        if not _linger["depth"] or time.monotonic() - self.opened > MAX_HOLD_S:
            self.close()
            return
        self.generation += 1
        timer = threading.Timer(LINGER_S, self._expire, args=(self.generation,))
        timer.daemon = True
        timer.start()

    def _expire(self, generation: int) -> None:
        with self.mutex:
            if not self.active and generation == self.generation:
                self.close()

    def close(self) -> None:
        with self.mutex:
            if self.con is not None:
                try:
                    self.con.close()
                finally:
                    self.con = None
                    self.lock.release()


_open_files: dict[Path, _OpenFile] = {}
_open_files_guard = threading.Lock()


def _open_file(path: Path) -> _OpenFile:
    with _open_files_guard:
        if path not in _open_files:
            _open_files[path] = _OpenFile(path)
        return _open_files[path]


def _close_all(wait_s: float | None = None) -> None:
    """Close every file held open; with ``wait_s``, skip one whose session does not end within
    it (at exit: a daemon thread stuck in a session must not keep the process alive)."""
    for open_file in list(_open_files.values()):
        if not open_file.mutex.acquire(timeout=-1 if wait_s is None else wait_s):
            continue
        try:
            open_file.close()
        finally:
            open_file.mutex.release()


def _forget_parents_files() -> None:
    """In a forked child: the parent's open files (and locks) are the parent's to close."""
    _open_files.clear()


atexit.register(_close_all, wait_s=5.0)
os.register_at_fork(after_in_child=_forget_parents_files)


@contextmanager
def lingering() -> Iterator[None]:
    """Within this block the process's DuckDB files stay open between sessions (``LINGER_S``);
    closed when it ends. For a process that runs a whole job itself (``o2c run``)."""
    _linger["depth"] += 1
    try:
        yield
    finally:
        _linger["depth"] -= 1
        if not _linger["depth"]:
            _close_all()


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
        open_file = _open_file(self.path.absolute())
        with open_file.mutex:
            con = open_file.cursor()
            open_file.active += 1
            try:
                con.execute("SET TimeZone = 'UTC'")
                yield DuckDBSession(con)
            finally:
                try:
                    con.close()
                finally:
                    open_file.active -= 1
                    open_file.done()

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
