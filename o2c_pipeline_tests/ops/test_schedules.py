"""Schedules evaluated through Dagster's own APIs: the runs they request are valid for their jobs."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.keys import RANGE_END_TAG, RANGE_START_TAG

TICK = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, name: str) -> dg.RunRequest:
    schedule = defs.resolve_schedule_def(name)
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=TICK, repository_def=defs.get_repository_def()
    )
    result = schedule.evaluate_tick(context)
    (request,) = result.run_requests
    job = defs.resolve_job_def(schedule.job_name)
    assert dg.validate_run_config(job, request.run_config) is not None
    return request


def selected_keys(defs: dg.Definitions, job_name: str) -> set[str]:
    job = defs.resolve_job_def(job_name)
    return {key.to_user_string() for key in job.asset_layer.executable_asset_keys}


def test_daily_invoice_payment_batch_is_one_run_over_yesterday_and_today(defs, instance):
    request = tick(defs, instance, "daily_invoice_payment_batch")
    assert request.tags[RANGE_START_TAG] == "2026-02-28"
    assert request.tags[RANGE_END_TAG] == "2026-03-01"
    assert request.run_key == "invoice_payment_batch:2026-03-01"
    keys = selected_keys(defs, "invoice_payment_batch")
    assert {
        "sync/invoices_to_sf",
        "sync/payments_to_sf",
        "netsuite/ns_invoices",
        "netsuite/ns_payments",
    } <= keys
    assert "sync/orders_to_ns" not in keys  # other flows keep their own cadence
    # the range is valid for the job's partitions
    partitions = defs.resolve_job_def("invoice_payment_batch").partitions_def
    assert partitions.has_partition_key("2026-02-28") and partitions.has_partition_key("2026-03-01")


def test_hourly_item_price_sync_loads_today_then_syncs_products(defs, instance):
    request = tick(defs, instance, "hourly_item_price_sync")
    assert request.partition_key == "2026-03-01"
    assert request.run_key == "item_price_sync:2026-03-01T06"
    keys = selected_keys(defs, "item_price_sync")
    assert {"sync/items_to_sf", "netsuite/ns_items"} <= keys
    assert not any(k.startswith("sync/") and k != "sync/items_to_sf" for k in keys)


def test_nightly_reconciliation_runs_every_check_and_no_materialization(defs, instance):
    request = tick(defs, instance, "nightly_reconciliation")
    assert request.run_key == "reconciliation:2026-03-01"
    job = defs.resolve_job_def("reconciliation")
    assert job.asset_layer.executable_asset_keys == set()  # checks only: nothing is materialized
    # per entity three, the sync's four, the three O2C stage SLAs
    assert len(job.asset_layer.asset_graph.asset_check_keys) == 3 * len(ENTITIES) + 4 + 3
    ops = {node.name for node in job.graph.node_defs}
    assert {"netsuite_checks", "sync__audit_log_dead_letter_queue_drained"} <= ops


def test_default_statuses_keep_write_back_off(defs):
    statuses = {s.name: s.default_status for s in defs.schedules}
    assert statuses == {
        "daily_invoice_payment_batch": dg.DefaultScheduleStatus.STOPPED,
        "hourly_item_price_sync": dg.DefaultScheduleStatus.STOPPED,
        "nightly_reconciliation": dg.DefaultScheduleStatus.RUNNING,
        # reads Salesforce, writes only the warehouse
        "formula_field_refresh": dg.DefaultScheduleStatus.RUNNING,
    }
