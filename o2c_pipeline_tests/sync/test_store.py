"""The sync store (ledger, DLQ, audit, review queue) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from o2c_pipeline.resources.checkpoints import shared_engine
from o2c_pipeline.sync.store import AuditRecord, SyncStore, redact, request_hash

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> Iterator[SyncStore]:
    if request.param == "sqlite":
        yield SyncStore(shared_engine(f"sqlite:///{tmp_path / 'cp.sqlite'}"))
        return
    schema = f"sync_test_{tmp_path.name[-8:].lower().replace('-', '_')}"
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield SyncStore(engine)
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _dead_letter(store: SyncStore, now: dt.datetime, **extra) -> None:
    store.dead_letter(
        flow="orders",
        source_id="801A",
        record_ids={"Order.Id": "801A"},
        correlation_id="c1",
        error_class="data",
        error_code="UNKNOWN_SKU",
        reason="SKU 'X' does not exist",
        payload={"Id": "801A", "session_token": "s3cr3t", "nested": [{"password": "p"}]},
        now=now,
        retry_after_s=60,
        **extra,
    )


def test_dead_letters_count_attempts_back_off_and_hide_secrets(store: SyncStore) -> None:
    _dead_letter(store, NOW)
    _dead_letter(store, NOW + dt.timedelta(minutes=5))
    (entry,) = store.dlq(flow="orders")
    assert entry.attempts == 2
    assert entry.first_seen == NOW and entry.last_seen == NOW + dt.timedelta(minutes=5)
    assert entry.next_retry_at == entry.last_seen + dt.timedelta(seconds=120)  # doubled
    assert entry.payload == {"Id": "801A", "session_token": "***", "nested": [{"password": "***"}]}
    assert store.dlq(due_before=NOW) == []
    assert store.make_due("orders", ["801A"], NOW) == 1
    assert [e.source_id for e in store.dlq(due_before=NOW)] == ["801A"]


def test_a_successful_write_clears_the_dlq_and_fills_the_ledger(store: SyncStore) -> None:
    _dead_letter(store, NOW)
    store.record_written("orders", [("801A", "5001", "h1", "c2")], NOW)
    assert store.dlq() == []
    entry = store.ledger("orders", ["801A", "801B"])["801A"]
    assert (entry.target_id, entry.request_hash, entry.correlation_id) == ("5001", "h1", "c2")
    store.record_written("orders", [("801A", "5001", "h2", "c3")], NOW)  # upsert, not a duplicate
    assert store.ledger("orders", ["801A"])["801A"].request_hash == "h2"


def test_audit_and_review_queue(store: SyncStore) -> None:
    record = AuditRecord(
        flow="customers",
        correlation_id="c",
        request_id="r",
        operation="upsert",
        source_system="salesforce",
        source_id="001A",
        target_system="netsuite",
        target_object="customer",
        target_id="9",
        outcome="written",
    )
    store.audit([record, record], run_id="run-1", now=NOW)
    from o2c_pipeline.sync.store import audit_table, review_table

    rows = store.frame(audit_table)
    assert len(rows) == 2 and rows[0]["run_id"] == "run-1" and rows[0]["target_id"] == "9"
    row = {
        "netsuite_id": "7",
        "record_type": "creditMemo",
        "tran_id": "CM1",
        "customer_id": "1",
        "salesforce_account_id": "001A",
        "amount": 5.0,
        "status": "Open",
        "tran_date": "2026-01-01",
    }
    store.queue_for_review([row], NOW)
    with store.engine.begin() as conn:
        conn.execute(review_table.update().values(reviewed=True))
    store.queue_for_review([{**row, "status": "Fully Applied"}], NOW + dt.timedelta(days=1))
    (queued,) = store.frame(review_table)
    assert queued["reviewed"] is True and queued["status"] == "Fully Applied"


def test_request_hash_is_canonical_and_redact_keeps_business_data() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    assert redact({"companyName": "Acme", "Authorization": "Bearer x"}) == {
        "companyName": "Acme",
        "Authorization": "***",
    }
