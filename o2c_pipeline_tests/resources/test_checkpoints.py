"""CheckpointStore on the embedded SQLite file and on the PostgreSQL server, same tests."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import uuid

import pytest
import sqlalchemy as sa

from o2c_pipeline.resources.checkpoints import (
    CheckpointStore,
    checkpoint_metadata,
    dispose_engine,
)

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
T0 = dt.datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'nested' / 'checkpoints.sqlite'}"
        yield CheckpointStore(url=url)
        dispose_engine(url)
        return
    if not _postgres_answers():
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432")
    schema = f"o2c_test_{uuid.uuid4().hex[:12]}"  # parallel runs never share tables
    yield CheckpointStore(url=PG_URL, db_schema=schema)
    dispose_engine(PG_URL, schema)
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def test_watermark_round_trip_keeps_utc_and_microseconds(store):
    assert store.get_watermark("salesforce/accounts") is None
    assert store.set_watermark("salesforce/accounts", T0, "001A")
    mark = store.get_watermark("salesforce/accounts")
    assert mark.modstamp == T0 and mark.modstamp.tzinfo is not None
    assert mark.record_id == "001A"
    assert abs(mark.updated_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_other_time_zones_are_normalized(store):
    plus_two = dt.timezone(dt.timedelta(hours=2))
    store.set_watermark("k", T0.astimezone(plus_two))
    assert store.get_watermark("k").modstamp == T0
    with pytest.raises(Exception, match="timezone-aware"):
        store.set_watermark("k", dt.datetime(2024, 1, 1))


def test_watermark_never_moves_backwards_unless_forced(store):
    store.set_watermark("ns/customers", T0, "20")
    assert not store.set_watermark("ns/customers", T0 - dt.timedelta(seconds=1), "99")
    assert not store.set_watermark("ns/customers", T0, "10")  # same stamp, smaller id
    assert store.get_watermark("ns/customers").record_id == "20"
    assert store.set_watermark("ns/customers", T0, "30")  # same stamp, later id: forward
    assert store.set_watermark("ns/customers", T0 + dt.timedelta(seconds=1))
    assert store.get_watermark("ns/customers").record_id is None
    assert store.set_watermark("ns/customers", T0 - dt.timedelta(days=1), force=True)
    assert store.get_watermark("ns/customers").modstamp == T0 - dt.timedelta(days=1)


def test_concurrent_writers_leave_the_maximum(store):
    stamps = [T0 + dt.timedelta(seconds=i) for i in range(40)]

    def write(chunk):
        for stamp in chunk:
            store.set_watermark("race", stamp)

    threads = [threading.Thread(target=write, args=(stamps[i::4][::-1],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get_watermark("race").modstamp == max(stamps)


def test_listing_deleting_and_tables_added_later(store):
    store.set_watermark("sf/a", T0)
    store.set_watermark("sf/b", T0)
    store.set_watermark("ns/a", T0)
    assert sorted(store.watermarks("sf/")) == ["sf/a", "sf/b"]
    store.delete_watermark("sf/a")
    assert sorted(store.watermarks()) == ["ns/a", "sf/b"]

    name = f"extra_{uuid.uuid4().hex[:8]}"
    table = sa.Table(name, checkpoint_metadata, sa.Column("id", sa.Integer, primary_key=True))
    try:
        with store.engine().begin() as conn:
            conn.execute(table.insert().values(id=1))
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 1
    finally:
        checkpoint_metadata.remove(table)


def test_sqlite_file_is_created_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'cp.sqlite'}"
    store = CheckpointStore(url=url)
    store.set_watermark("k", T0)
    assert (tmp_path / "a" / "b" / "cp.sqlite").exists()
    with store.engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    dispose_engine(url)


def test_repr_hides_database_password():
    store = CheckpointStore(url="postgresql+psycopg2://etl:hunter2secret@db.example/o2c")
    assert "hunter2secret" not in repr(store)
    assert "db.example" in repr(store)
