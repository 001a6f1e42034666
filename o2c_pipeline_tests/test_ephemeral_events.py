"""The ephemeral instance (``o2c run`` without a Dagster home): batched asset events, the same
records Dagster's own in-memory log keeps."""

# No `from __future__ import annotations`: Dagster reads the context annotation.
import dagster as dg

from o2c_pipeline.beta import accepted_beta_parameters
from o2c_pipeline.event_storage import BatchedInMemoryEventLogStorage, ephemeral_instance

DAYS = dg.DailyPartitionsDefinition(start_date="2024-03-01", end_date="2024-03-05")


with accepted_beta_parameters():

    @dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
    def daily(context: dg.AssetExecutionContext) -> None:
        for key in context.partition_keys:
            context.add_asset_metadata({"day": key}, partition_key=key)


def test_a_range_run_records_every_partition_in_batches() -> None:
    job = dg.Definitions(
        assets=[daily], jobs=[dg.define_asset_job("days", selection=[daily])]
    ).resolve_job_def("days")
    with ephemeral_instance() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, BatchedInMemoryEventLogStorage)
        batches: list[int] = []
        original = storage.store_event_batch

        def counting(events):  # type: ignore[no-untyped-def]
            batches.append(len(events))
            original(events)

        storage.store_event_batch = counting  # type: ignore[method-assign]
        result = job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2024-03-01",
                "dagster/asset_partition_range_end": "2024-03-04",
            },
        )
        assert result.success
        assert 4 in batches  # the four planned events, then the four materializations
        assert instance.get_materialized_partitions(daily.key) == {
            "2024-03-01",
            "2024-03-02",
            "2024-03-03",
            "2024-03-04",
        }
        latest = instance.get_latest_materialization_event(daily.key)
        assert latest is not None and latest.dagster_event.partition == "2024-03-04"
        materializations = instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        assert [r.event_log_entry.dagster_event.partition for r in materializations] == [
            "2024-03-01",
            "2024-03-02",
            "2024-03-03",
            "2024-03-04",
        ]
