"""The shared warehouse: PostgreSQL, for a team deployment where runs are pods on any node.

The same tables and SQL as DuckDB (:mod:`.base`); what differs is how work is kept apart. There is
no file lock: each commit is one transaction that takes transaction-scoped advisory locks, one per
``(table, partition)`` it touches and then one on the table's current state for the short
``_current`` refresh, so loads of different partitions from different processes and machines
stage, compare and write concurrently while two loads of the same partition serialize (and a
partition is never seen half-written: readers see the transaction's result or nothing of it).
DDL takes a lock of its own and is issued only for what is missing, so parallel steps creating or
widening one table do not collide.

Staged Parquet files are bulk-loaded with ``COPY ... FROM STDIN (FORMAT csv)``, the CSV written by
Arrow's C++ writer batch by batch (no Python per row, memory one batch), into a temporary table;
the casts, comparisons and writes are then set-based statements in the same transaction.
"""

from __future__ import annotations

import contextlib
import io
import queue
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy.engine import make_url

from o2c_pipeline.warehouse.base import Warehouse
from o2c_pipeline.warehouse.tables import q

SCHEMES = ("postgresql", "postgresql+psycopg2", "postgres")
CONNECT_TIMEOUT_S = 10
#: Rows per COPY chunk: a few MB of CSV, enough to keep the server busy between chunks.
COPY_BATCH_ROWS = 50_000
#: PostgreSQL's names for the declared types that it spells differently.
TYPES = {"DOUBLE": "DOUBLE PRECISION"}
#: information_schema's names back to the declared ones (a kept type is compared by these).
DECLARED = {
    "character varying": "VARCHAR",
    "text": "VARCHAR",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "boolean": "BOOLEAN",
    "date": "DATE",
}


def is_postgres_url(location: str) -> bool:
    return location.split("://", 1)[0] in SCHEMES and "://" in location


def _placeholders(sql: str) -> str:
    """The shared SQL's ``?`` as psycopg2's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresSession:
    """A psycopg2 connection in autocommit mode; :meth:`Warehouse.transaction` opens
    explicit transactions, so reads outside one hold no snapshot."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.cur = conn.cursor()

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self.cur.execute(_placeholders(sql), list(params))
        return self.cur.fetchall() if self.cur.description else []

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        rows = self.run(sql, params)
        names = [d[0] for d in self.cur.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def copy(self, sql: str, source: Any) -> None:
        self.cur.copy_expert(sql, source)


class _CsvStream(io.RawIOBase):
    """Arrow record batches as one CSV byte stream for ``copy_expert``. A thread encodes the next
    batches (Arrow's writer releases the GIL) while the server parses the previous one; at most
    :data:`AHEAD` encoded batches wait in memory."""

    AHEAD = 2

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(self.AHEAD)
        self._stop = threading.Event()
        self._buffer = memoryview(b"")
        self._done = False
        self._thread = threading.Thread(target=self._encode, args=(batches,), daemon=True)
        self._thread.start()

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _encode(self, batches: Iterator[pa.RecordBatch]) -> None:
        options = pacsv.WriteOptions(include_header=False)
        try:
            for batch in batches:
                if self._stop.is_set():
                    return
                sink = io.BytesIO()
                pacsv.write_csv(batch, sink, options)
                self._put(sink.getvalue())
            self._put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading side
            self._put(exc)

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._done:
            item = self._queue.get()
            if item is None:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise item
            else:
                self._buffer = memoryview(item)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def read(self, size: int = -1) -> bytes:  # copy_expert asks for fixed-size chunks
        if size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        super().close()


def _batches(files: Sequence[Path], columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The staged files' batches with exactly ``columns`` + ``_deleted`` (missing are null)."""
    wanted = [*columns, "_deleted"]
    for path in files:
        parquet = pq.ParquetFile(path)
        present = [c for c in wanted if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=COPY_BATCH_ROWS, columns=present):
            n = batch.num_rows
            arrays = [batch.column(c) if c in present else pa.nulls(n, pa.string()) for c in wanted]
            yield pa.RecordBatch.from_arrays(arrays, names=wanted)


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database named by a SQLAlchemy URL (``postgresql+psycopg2://…``)."""

    IN_TEXT_ARRAY = "= ANY(CAST(? AS TEXT[]))"

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername not in ("postgresql", "postgresql+psycopg2"):
            raise ValueError(
                f"O2C_WAREHOUSE names the driver {parsed.drivername!r}; "
                "use postgresql+psycopg2://user@host:port/database"
            )
        self._url = parsed
        args = parsed.translate_connect_args(username="user", database="dbname")
        self._connect = {**args, **{k: v for k, v in parsed.query.items() if isinstance(v, str)}}

    @classmethod
    def handles(cls, location: str) -> bool:
        return is_postgres_url(location)

    @property
    def location(self) -> str:
        return self._url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"PostgresWarehouse({self.location!r})"

    def connection(self, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
        """A raw psycopg2 connection (UTC session, autocommit)."""
        conn = psycopg2.connect(
            **self._connect,
            connect_timeout=int(timeout_s),
            application_name="o2c_pipeline",
            # sorts and hashes of a million-row commit in memory, not in temporary files
            options="-c TimeZone=UTC -c work_mem=256MB -c temp_buffers=256MB",
        )
        conn.autocommit = True
        return conn

    def ping(self, timeout_s: float = 5.0) -> None:
        conn = self.connection(timeout_s=timeout_s)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            conn.close()

    @contextmanager
    def session(self) -> Iterator[PostgresSession]:
        conn = self.connection()
        try:
            yield PostgresSession(conn)
        finally:
            conn.close()

    def alive(self, s: Any) -> bool:
        return not s.conn.closed

    def lock(self, s: PostgresSession, *names: str) -> None:  # type: ignore[override]
        """Advisory locks held to the end of the transaction, taken in one order (no deadlock
        between commits: partitions sorted, then the current state, as :meth:`commit` asks)."""
        for name in sorted(set(names)):
            s.run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [name])

    def load_temp(
        self,
        s: PostgresSession,  # type: ignore[override]
        name: str,
        files: Sequence[Path],
        columns: Sequence[str],
    ) -> str:
        ddl = ", ".join([*(f"{q(c)} TEXT" for c in columns), '"_deleted" BOOLEAN'])
        s.run(f"DROP TABLE IF EXISTS {q(name)}")
        s.run(f"CREATE TEMP TABLE {q(name)} ({ddl})")
        names = ", ".join([*(q(c) for c in columns), '"_deleted"'])
        with contextlib.closing(_CsvStream(_batches(files, columns))) as stream:
            s.copy(f"COPY {q(name)} ({names}) FROM STDIN WITH (FORMAT csv)", stream)
        return q(name)

    def load_arrow(self, s: PostgresSession, name: str, table: pa.Table) -> str:  # type: ignore[override]
        columns = [f for f in table.schema if f.name != "_deleted"]
        ddl = ", ".join(
            [*(f"{q(f.name)} TEXT" for f in columns), '"_deleted" BOOLEAN']
            if "_deleted" in table.column_names
            else [f"{q(f.name)} TEXT" for f in columns]
        )
        s.run(f"DROP TABLE IF EXISTS {q(name)}")
        s.run(f"CREATE TEMP TABLE {q(name)} ({ddl})")
        names = ", ".join(q(n) for n in table.column_names)
        with contextlib.closing(_CsvStream(iter(table.to_batches(COPY_BATCH_ROWS)))) as stream:
            s.copy(f"COPY {q(name)} ({names}) FROM STDIN WITH (FORMAT csv)", stream)
        s.run(f"ANALYZE {q(name)}")
        return q(name)

    def sql_type(self, type_: str) -> str:
        return TYPES.get(type_, type_)

    def column_types(self, s: PostgresSession, qualified: str) -> dict[str, str]:  # type: ignore[override]
        schema, name = qualified.split(".", 1)
        rows = s.run(
            "SELECT column_name, data_type, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [schema, name],
        )
        return {
            column: (
                f"DECIMAL({precision},{scale})"
                if kind == "numeric"
                else DECLARED.get(kind, kind.upper())
            )
            for column, kind, precision, scale in rows
        }

    def created(self, s: PostgresSession, qualified: str, entity: Any) -> None:  # type: ignore[override]
        """Index the group column: a small load's look-ups and ``_current`` refresh touch only
        its groups instead of scanning the table."""
        schema, name = qualified.split(".", 1)
        s.run(
            f"CREATE INDEX IF NOT EXISTS {q(name + '_group')} "
            f"ON {q(schema)}.{q(name)} ({q(entity.group_column)})"
        )

    def staged(self, s: PostgresSession) -> None:  # type: ignore[override]
        s.run("ANALYZE _stage")  # temporary tables get no statistics otherwise

    def staging_dir(self, label: str) -> Path:
        """Local to the step's process (a pod's own disk): staged, committed, removed."""
        return Path(tempfile.gettempdir()) / "o2c-staging" / label

    def insert_into(self, s: Any, target: str, columns: Sequence[str], rows: list[dict]) -> None:
        names = ", ".join(q(c) for c in columns)
        psycopg2.extras.execute_values(
            s.cur,
            f"INSERT INTO {target} ({names}) VALUES %s",
            [tuple(row.get(c) for c in columns) for row in rows],
            page_size=1000,
        )
