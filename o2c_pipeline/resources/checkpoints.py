"""Where the pipeline remembers how far it got: watermarks per stream, plus any table another
module declares with :func:`checkpoint_table` (the sync's dead-letter queue and ledger).

SQLAlchemy keeps one code path for the embedded SQLite file (the default, in WAL mode so readers
never block the writer) and a shared PostgreSQL server. Watermarks only move forward: the upsert
carries the comparison in its ``WHERE`` clause, so two concurrent runs can never move one back.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url

from o2c_pipeline import settings
from o2c_pipeline.resources.secrets import SecretFieldsReprMixin


class UtcDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out; stored as naive UTC so SQLite's string
    comparison and PostgreSQL's ``timestamp`` order them identically."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: checkpoints need timezone-aware values")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


checkpoint_metadata = sa.MetaData()
"""Every checkpoint-store table; other modules add theirs with :func:`checkpoint_table`."""


def checkpoint_table(name: str, *columns: sa.Column, **options: Any) -> sa.Table:
    """A table of the checkpoint store, declared on :data:`checkpoint_metadata`: it lives where
    the watermarks do and is created with them on first use (:func:`shared_engine`)."""
    return sa.Table(name, checkpoint_metadata, *columns, **options)


watermark_table = checkpoint_table(
    "o2c_watermarks",
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("modstamp", UtcDateTime(), nullable=False),
    # tie-breaker among records sharing one modstamp ('' rather than NULL so it compares)
    sa.Column("record_id", sa.String(64), nullable=False, default=""),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)


@dataclass(frozen=True)
class Watermark:
    modstamp: dt.datetime
    record_id: str | None
    updated_at: dt.datetime


_ENGINES: dict[tuple[str, str | None], Engine] = {}
_CREATED: dict[tuple[str, str | None], frozenset[str]] = {}
_ENGINES_LOCK = threading.Lock()


def _create_engine(url: str, schema: str | None) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        if schema:
            raise ValueError("db_schema applies to PostgreSQL only; use a separate SQLite file")
        return engine
    engine = sa.create_engine(parsed, pool_pre_ping=True)
    if schema:
        with engine.begin() as conn:
            conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def shared_engine(url: str, schema: str | None = None) -> Engine:
    """One pooled engine per (URL, schema) in the process, with every table on
    :data:`checkpoint_metadata` created (tables added later are created on the next call)."""
    key = (url, schema)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = _create_engine(url, schema)
        wanted = frozenset(checkpoint_metadata.tables)
        if not wanted <= _CREATED.get(key, frozenset()):
            _create_tables(engine)
            _CREATED[key] = wanted
        return engine


def _create_tables(engine: Engine, attempts: int = 5) -> None:
    """``create_all`` checks, then creates: parallel step processes opening a new store race
    between the two (one's CREATE finds the other's table, or a locked file), which a second look
    settles."""
    for attempt in range(attempts):
        try:
            checkpoint_metadata.create_all(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def dispose_engine(url: str, schema: str | None = None) -> None:
    """Close and forget the process-wide engine for (url, schema), e.g. before dropping it."""
    with _ENGINES_LOCK:
        engine = _ENGINES.pop((url, schema), None)
        _CREATED.pop((url, schema), None)
    if engine is not None:
        engine.dispose()


def _insert(dialect_name: str):  # noqa: ANN202 - the dialect's Insert class
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect_name]


class CheckpointStore(SecretFieldsReprMixin, dg.ConfigurableResource):
    """Watermarks and other run state in SQLite (embedded default) or PostgreSQL."""

    secret_fields: ClassVar[frozenset[str]] = frozenset()

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default O2C_CHECKPOINT_URL, else a SQLite file beside the warehouse.",
    )
    db_schema: str | None = Field(
        default=None, description="PostgreSQL schema for the tables (created if missing)."
    )

    @property
    def resolved_url(self) -> str:
        return self.url or settings.default_checkpoint_url()

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        for name, value in super().__repr_args__():
            if name == "url" and value:
                value = make_url(value).render_as_string(hide_password=True)
            yield name, value

    def engine(self) -> Engine:
        """The store's engine, tables created, for modules keeping their own tables here."""
        return shared_engine(self.resolved_url, self.db_schema)

    def get_watermark(self, key: str) -> Watermark | None:
        with self.engine().connect() as conn:
            row = conn.execute(
                sa.select(watermark_table).where(watermark_table.c.key == key)
            ).one_or_none()
        if row is None:
            return None
        return Watermark(row.modstamp, row.record_id or None, row.updated_at)

    def set_watermark(
        self, key: str, modstamp: dt.datetime, record_id: str | None = None, *, force: bool = False
    ) -> bool:
        """Store the watermark unless it would move back (``(modstamp, record_id)`` order);
        ``force`` moves it anyway (a deliberate re-read). Returns whether it was written."""
        engine = self.engine()
        now = dt.datetime.now(dt.UTC)
        values = {"key": key, "modstamp": modstamp, "record_id": record_id or "", "updated_at": now}
        stmt = _insert(engine.dialect.name)(watermark_table).values(**values)
        newer = sa.or_(
            watermark_table.c.modstamp < stmt.excluded.modstamp,
            sa.and_(
                watermark_table.c.modstamp == stmt.excluded.modstamp,
                watermark_table.c.record_id < stmt.excluded.record_id,
            ),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[watermark_table.c.key],
            set_={c: stmt.excluded[c] for c in ("modstamp", "record_id", "updated_at")},
            where=None if force else newer,
        )
        with engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    def delete_watermark(self, key: str) -> None:
        """Forget a stream's position, so its next run starts from the beginning."""
        with self.engine().begin() as conn:
            conn.execute(sa.delete(watermark_table).where(watermark_table.c.key == key))

    def watermarks(self, prefix: str = "") -> dict[str, Watermark]:
        """All watermarks whose key starts with ``prefix``."""
        query = sa.select(watermark_table)
        if prefix:
            query = query.where(watermark_table.c.key.startswith(prefix, autoescape=True))
        with self.engine().connect() as conn:
            return {
                row.key: Watermark(row.modstamp, row.record_id or None, row.updated_at)
                for row in conn.execute(query)
            }
