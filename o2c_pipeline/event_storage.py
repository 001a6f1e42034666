"""Dagster's embedded SQLite storage, with asset events written a batch per transaction.

Why: a range run of a daily-partitioned asset records one ``ASSET_MATERIALIZATION_PLANNED`` and
one ``ASSET_MATERIALIZATION`` per partition and asset. Dagster's SQLite event log stores each one
on its own: a new engine, a transaction on the run's file and another on the index file, each
committed (and synced) alone, about 10-25 ms an event on this machine. A 121-day history of 19
assets is 4,600 such events: over a minute spent on bookkeeping, growing with every partition.

Dagster already hands these events over in batches (``DagsterEventBatchMetadata``) when
``DAGSTER_EVENT_BATCH_SIZE`` is set; its SQLite storage then still stores them one by one. This
storage writes a whole batch in one transaction per file (the same rows, the same index and
tag updates as Dagster's own ``store_event``), and turns batching on for the processes that use it.
Everything else is Dagster's ``DagsterSqliteStorage``. Select it in ``dagster.yaml``::

    storage:
      custom:
        module: o2c_pipeline.event_storage
        class: BatchedSqliteStorage
        config:
          base_dir: {env: DAGSTER_HOME}  # optional: default the settings' Dagster home
"""

from __future__ import annotations

import os
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._core.events import ASSET_EVENTS
from dagster._core.storage.event_log import InMemoryEventLogStorage, SqliteEventLogStorage
from dagster._core.storage.event_log.base import EventLogCursor
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData

from o2c_pipeline import settings


def _is_asset_event(event: Any) -> bool:
    return event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS


def _asset_events_of(storage: Any, events: Sequence[Any]) -> list[Any]:
    """The batch's asset events; the others (e.g. check evaluations planned) are stored first,
    one by one, on Dagster's own path."""
    for event in events:
        if not _is_asset_event(event):
            storage.store_event(event)
    return [e for e in events if _is_asset_event(e)]


def _index_asset_events(
    storage: Any, conn: Any, events: Sequence[Any], inserts: Sequence[Any]
) -> None:
    """Within the index transaction ``conn``: the events' rows (``inserts``, one per event), their
    tags, and the asset rows, as ``store_event`` writes them. An asset's row keeps the latest
    event of each kind, so the batch's last one settles it."""
    ids = []
    for insert in inserts:
        with db_result(conn, insert) as result:
            ids.append(result.inserted_primary_key[0])
    storage._store_asset_event_tags(conn, list(events), ids)
    last: dict[tuple[Any, Any], tuple[Any, int]] = {}
    for event, event_id in zip(events, ids, strict=True):
        kind = (event.dagster_event.asset_key, event.dagster_event_type)
        last.pop(kind, None)
        last[kind] = (event, event_id)
    for event, event_id in last.values():
        storage._store_asset_event(conn, event, event_id)


#: engines (each with its pooled connection) kept per process: the index and the runs in flight
KEPT_ENGINES = 4


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log; a batch of asset events is one transaction per file, and the
    files' connections are kept open between events.

    Dagster's own storage builds an engine, opens the file, sets it up and closes it again for
    every statement it stores: a quiet run's ~300 events and concurrency-slot updates spent most
    of their time there. Here each shard (the index, a run's file) keeps its engine and pooled
    connection, the last :data:`KEPT_ENGINES` shards used, per process (a forked process starts
    with none). Every statement still runs in its own transaction, committed as before, under
    Dagster's lock; readers in other processes see the same WAL files."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._engines: OrderedDict[str, Any] = OrderedDict()
        self._engines_pid = os.getpid()

    def _engine(self, shard: str) -> Any:
        """The shard's kept engine (the caller holds ``_db_lock``)."""
        from sqlalchemy import create_engine

        if self._engines_pid != os.getpid():  # forked: the parent's connections are not ours
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._engines_pid = os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                pool_size=1,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            while len(self._engines) >= KEPT_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
        self._engines[shard] = engine  # the most recently used last
        return engine

    def _drop_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def wipe(self) -> None:
        self._drop_engines()  # the run files are deleted: no connection may keep one alive
        super().wipe()

    def upgrade(self) -> None:
        self._drop_engines()
        super().upgrade()

    def dispose(self) -> None:
        self._drop_engines()
        super().dispose()

    def store_event_batch(self, events: Sequence[Any]) -> None:
        events = _asset_events_of(self, events)
        if not events:
            return
        inserts = [self.prepare_insert_event(e) for e in events]  # serialized once per event
        by_run: dict[str, list[Any]] = defaultdict(list)
        for event, insert in zip(events, inserts, strict=True):
            by_run[event.run_id].append(insert)
        for run_id, run_inserts in by_run.items():
            with self.run_connection(run_id) as conn:
                for insert in run_inserts:
                    conn.execute(insert)
        with self.index_transaction() as conn:
            _index_asset_events(self, conn, events, inserts)


class BatchedSqliteStorage(DagsterSqliteStorage):
    """``DagsterSqliteStorage`` with :class:`BatchedSqliteEventLogStorage`."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        settings.enable_event_batching()
        super().__init__(base_dir, inst_data)
        self._event_log_storage = BatchedSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def config_type(cls) -> Any:
        """``base_dir`` may be left out: it defaults to the Dagster home the settings name, so the
        checkout's ``dagster.yaml`` also loads where ``DAGSTER_HOME`` is unset (``dg check defs``)."""
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: Any
    ) -> BatchedSqliteStorage:
        base_dir = config_value.get("base_dir") or str(settings.dagster_home())
        return cls.from_local(inst_data=inst_data, base_dir=base_dir)


class BatchedInMemoryEventLogStorage(InMemoryEventLogStorage):
    """Dagster's in-memory event log (one database for runs and index); a batch of asset events
    is one transaction, with the rows, tags and asset rows its ``store_event`` writes."""

    def store_event_batch(self, events: Sequence[Any]) -> None:
        events = _asset_events_of(self, events)
        if not events:
            return
        inserts = [self.prepare_insert_event(e) for e in events]
        with self.index_transaction() as conn:
            _index_asset_events(self, conn, events, inserts)
        for event in events:  # as store_event: the storage id advances, watchers are told
            self._storage_id += 1
            for handler in list(self._handlers[event.run_id]):
                handler(event, str(EventLogCursor.from_storage_id(self._storage_id)))


def ephemeral_instance() -> Any:
    """Dagster's ephemeral instance (in memory, gone with the process) with
    :class:`BatchedInMemoryEventLogStorage`: what a run without ``DAGSTER_HOME`` uses. A range run
    over a few small tables otherwise spends most of its time storing per-partition events."""
    from dagster import DagsterInstance
    from dagster._core.instance import InstanceType
    from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._core.storage.root import TemporaryLocalArtifactStorage
    from dagster._core.storage.runs import InMemoryRunStorage

    settings.enable_event_batching()
    return DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=BatchedInMemoryEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )
