"""The plan: a dry-run cycle makes no write and lists exactly what the following apply writes."""

from __future__ import annotations

import json

import dagster as dg

from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.sync.store import SyncStore, audit_table, dlq_table


def _store(world) -> SyncStore:  # noqa: ANN001
    return SyncStore(CheckpointStore(url=world.env["O2C_CHECKPOINT_URL"]).engine())


def test_plan_writes_nothing_and_apply_writes_exactly_the_plan(world) -> None:  # noqa: ANN001
    before = world.writes()
    result = world.cycle(dry_run=True)
    assert world.writes() == before, "a plan makes no write call"
    store = _store(world)
    assert store.frame(audit_table) == [] and store.frame(dlq_table) == []

    rows = world.warehouse.query(
        "SELECT flow, source_id, action, changes FROM sync.plan WHERE run_id = ?",
        [result.run_id],
    )
    writes = {(f, s) for f, s, a, _ in rows if a != "dead_letter"}
    letters = {(f, s) for f, s, a, _ in rows if a == "dead_letter"}
    assert writes and letters
    # creates list every field; an update only those that change, each old -> new
    for flow, _, action, changes in rows:
        if action == "update":
            assert json.loads(changes), f"{flow}: an update without a change"
    # the plan is in the materialization metadata too, per flow
    meta = {
        m.materialization.asset_key.path[1]: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.materialization.asset_key.path[0] == "sync"
    }
    assert meta["customers"]["planned_creates"].value == sum(
        1 for f, _, a, _ in rows if f == "customers" and a == "create"
    )
    assert isinstance(meta["customers"]["plan_sample"], dg.TableMetadataValue)

    world.cycle()  # apply, the sources unchanged
    attempted = {(r["flow"], r["source_id"]) for r in store.frame(audit_table)}
    assert attempted == writes
    refused = {(r["flow"], r["source_id"]) for r in store.frame(dlq_table)} - attempted
    assert refused == letters
