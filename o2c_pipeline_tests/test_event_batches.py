"""A run without ``DAGSTER_HOME`` (``o2c run``, the benchmarks): Dagster's ephemeral instance with
asset events stored a batch at once records what Dagster's own in-memory storage records."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster import DagsterEventType

from o2c_pipeline.assets import EXTRACT_ASSETS
from o2c_pipeline.cli.run import execute
from o2c_pipeline.event_storage import BatchedInMemoryEventLogStorage, ephemeral_instance
from o2c_pipeline.keys import table_key
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.resources.factory import build_resources

PRODUCTS = table_key("salesforce.products")


def _recorded(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    records = instance.get_records_for_run(run_id, limit=100_000).records
    kinds = [r.event_log_entry.dagster_event_type for r in records]
    planned = DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    return {
        "planned": kinds.count(planned),
        "materialized": kinds.count(DagsterEventType.ASSET_MATERIALIZATION),
        "partitions": sorted(instance.get_materialized_partitions(PRODUCTS)),
        "latest": instance.get_latest_materialization_event(PRODUCTS).dagster_event.partition,
        "by_partition": sorted(
            r.partition_key for r in instance.fetch_materializations(PRODUCTS, limit=100).records
        ),
    }


def test_a_range_run_records_the_same_events_as_dagsters_own_storage(pipeline_env) -> None:
    end = dt.date.fromisoformat(open_partition_key())
    start = (end - dt.timedelta(days=3)).isoformat()
    job = dg.Definitions(
        assets=EXTRACT_ASSETS,
        jobs=[dg.define_asset_job("products", selection=dg.AssetSelection.assets(PRODUCTS))],
        resources=dict(build_resources(check=False)),
    ).resolve_job_def("products")
    seen, batches = {}, []
    for name, make in (("dagster", dg.DagsterInstance.ephemeral), ("batched", ephemeral_instance)):
        with make() as instance:
            if name == "batched":
                storage = instance.event_log_storage
                whole = storage.store_event_batch
                storage.store_event_batch = lambda events, whole=whole: (
                    batches.append(len(events)),
                    whole(events),
                )[1]
            result = execute(job, instance, start=start, end=end.isoformat(), progress=False)
            assert result.success
            seen[name] = _recorded(instance, result.run_id)
            if name == "batched":
                assert isinstance(instance.event_log_storage, BatchedInMemoryEventLogStorage)
    assert seen["batched"] == seen["dagster"]
    assert max(batches) >= 4  # the planned events and the materializations came as batches
    assert seen["batched"]["planned"] == seen["batched"]["materialized"] == 4
    assert seen["batched"]["latest"] == end.isoformat()
