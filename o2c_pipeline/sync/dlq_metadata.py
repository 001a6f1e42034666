"""What a sync asset's page tells about its dead letters: the open entries by error code, a
sample with their reasons, and how to re-drive them once fixed. Read from the DLQ after the flow
ran, so the page shows what waits now, not only this run's count."""

from __future__ import annotations

from collections import Counter
from typing import Any

import dagster as dg

from o2c_pipeline.sync.store import DlqEntry, SyncStore

SAMPLE = 10
REASON_CHARS = 240

BY_CODE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("error_code", "string", description="Why the records cannot flow."),
        dg.TableColumn("error_class", "string", description="data, transient or dependency."),
        dg.TableColumn("entries", "int", description="Open entries with this code."),
        dg.TableColumn("example", "string", description="One entry's reason."),
    ]
)
SAMPLE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("source_id", "string"),
        dg.TableColumn("error_code", "string"),
        dg.TableColumn("attempts", "int"),
        dg.TableColumn("reason", "string"),
    ]
)


def by_error_code(entries: list[DlqEntry]) -> list[dg.TableRecord]:
    counts = Counter((e.error_code, e.error_class) for e in entries)
    example = {e.error_code: e.reason for e in reversed(entries)}
    return [
        dg.TableRecord(
            {
                "error_code": code,
                "error_class": error_class,
                "entries": n,
                "example": example[code][:REASON_CHARS],
            }
        )
        for (code, error_class), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def dlq_metadata(store: SyncStore, flow: str) -> dict[str, Any]:
    """Materialization metadata of ``flow``'s open DLQ entries (its follow-ups included)."""
    entries = store.dlq(flow=flow, with_follow_ups=True)
    sample = [
        dg.TableRecord(
            {
                "source_id": e.source_id,
                "error_code": e.error_code,
                "attempts": e.attempts,
                "reason": e.reason[:REASON_CHARS],
            }
        )
        for e in entries[:SAMPLE]
    ]
    return {
        "dlq_open": dg.MetadataValue.int(len(entries)),
        "dlq_by_error_code": dg.MetadataValue.table(by_error_code(entries), schema=BY_CODE_SCHEMA),
        "dlq_sample": dg.MetadataValue.table(sample, schema=SAMPLE_SCHEMA),
        "dlq_replay": dg.MetadataValue.md(
            f"Fix the records at the source, then re-drive them:\n\n"
            f"- `o2c dlq list --flow {flow}` (every entry and its reason)\n"
            f"- `o2c dlq replay --flow {flow}` (or launch the job `sync_dlq_replay` with "
            f"`ops: {{replay_dead_letters: {{config: {{flow: {flow}}}}}}}`)\n\n"
            "Entries are also the warehouse table `sync.dead_letter_queue` (mirrored by "
            "`sync/audit_log`)."
        ),
    }
