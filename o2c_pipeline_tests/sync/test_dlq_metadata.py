"""A sync asset's page shows its open dead letters: by error code, a sample with reasons, and the
replay command."""

from __future__ import annotations

import datetime as dt

from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.sync.dlq_metadata import dlq_metadata
from o2c_pipeline.sync.store import SyncStore


def _letter(store: SyncStore, flow: str, source_id: str, code: str, reason: str) -> None:
    store.dead_letter(
        flow=flow,
        source_id=source_id,
        record_ids={},
        correlation_id="c",
        error_class="data",
        error_code=code,
        reason=reason,
        payload={},
        now=dt.datetime.now(dt.UTC),
        retry_after_s=60,
    )


def test_breakdown_by_error_code_samples_and_replay(tmp_path) -> None:
    store = SyncStore(CheckpointStore(url=f"sqlite:///{tmp_path / 'c.sqlite'}").engine())
    for n in range(3):
        _letter(store, "orders", f"801{n}", "UNKNOWN_SKU", f"SKU X-{n} is not a NetSuite item")
    _letter(store, "orders", "8019", "NEGATIVE_QUANTITY", "line 2 has quantity -1")
    _letter(store, "contacts", "0031", "MISSING_LAST_NAME", "no last name")

    metadata = dlq_metadata(store, "orders")
    assert metadata["dlq_open"].value == 4
    by_code = [r.data for r in metadata["dlq_by_error_code"].value.records]
    assert [(r["error_code"], r["entries"]) for r in by_code] == [
        ("UNKNOWN_SKU", 3),
        ("NEGATIVE_QUANTITY", 1),
    ]
    assert by_code[1]["example"] == "line 2 has quantity -1"
    sample = {r.data["source_id"]: r.data["reason"] for r in metadata["dlq_sample"].value.records}
    assert sample["8010"] == "SKU X-0 is not a NetSuite item" and "0031" not in sample
    assert "o2c dlq replay --flow orders" in metadata["dlq_replay"].value
    assert dlq_metadata(store, "payments")["dlq_open"].value == 0
