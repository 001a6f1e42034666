"""Asset checks on a real load from the sandbox: they pass on a faithful copy and fail on a broken one."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import duckdb

from o2c_pipeline.checks import FRESH, ROW_COUNT, UNIQUE
from o2c_pipeline.partitions import open_partition_key

CUSTOMERS = dg.AssetKey(["netsuite", "ns_customers"])


def run_checks(
    defs, instance, partition: str | None, *, materialize: bool
) -> dict[str, dg.AssetCheckEvaluation]:
    checks = dg.AssetSelection.checks_for_assets(CUSTOMERS)
    selection = dg.AssetSelection.assets(CUSTOMERS) | checks if materialize else checks
    job = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        resources=defs.resources,
        jobs=[dg.define_asset_job("customers_with_checks", selection=selection)],
    ).resolve_job_def("customers_with_checks")
    result = job.execute_in_process(instance=instance, partition_key=partition)
    evaluations = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return {e.check_name: e for e in evaluations}


def test_entity_checks_pass_on_a_fresh_load_and_catch_drift(defs, instance, pipeline_env):
    today = open_partition_key()
    # yesterday first: just after midnight UTC today's partition may hold no customer yet
    yesterday = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
    run_checks(defs, instance, yesterday, materialize=True)
    evaluations = run_checks(defs, instance, today, materialize=True)

    assert set(evaluations) == {ROW_COUNT, FRESH, UNIQUE}
    count = evaluations[ROW_COUNT]
    assert count.passed, count.metadata
    assert count.metadata["source_count"].value == count.metadata["warehouse_count"].value
    assert evaluations[FRESH].passed
    assert evaluations[UNIQUE].passed

    # break the copy: a key twice in the current table
    with duckdb.connect(pipeline_env["O2C_WAREHOUSE"]) as con:
        (inserted,) = con.execute(
            "INSERT INTO netsuite.customers_current SELECT * FROM netsuite.customers_current LIMIT 1"
        ).fetchone()
    assert inserted == 1

    broken = run_checks(
        defs, instance, None, materialize=False
    )  # checks only, like the nightly run
    assert not broken[UNIQUE].passed
    assert broken[UNIQUE].severity == dg.AssetCheckSeverity.ERROR
    assert broken[UNIQUE].metadata["duplicated_keys"].value == 1


def test_yesterday_reconciles_with_the_source_until_a_row_goes_missing(
    defs, instance, pipeline_env
):
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    evaluations = run_checks(defs, instance, yesterday.isoformat(), materialize=True)
    assert evaluations[ROW_COUNT].passed, evaluations[ROW_COUNT].metadata
    assert evaluations[ROW_COUNT].metadata["window"].value == yesterday.isoformat()
    assert not evaluations[FRESH].passed  # today's partition was never loaded
    assert evaluations[FRESH].metadata["last_loaded"].value == "never"

    start = dt.datetime.combine(yesterday, dt.time())
    with duckdb.connect(pipeline_env["O2C_WAREHOUSE"]) as con:
        con.execute("SET TimeZone = 'UTC'")
        deleted = con.execute(
            "DELETE FROM netsuite.customers_current WHERE id = (SELECT min(id) FROM netsuite.customers_current "
            "WHERE lastmodifieddate >= ? AND lastmodifieddate < ?) RETURNING id",
            [start, start + dt.timedelta(days=1)],
        ).fetchall()
    assert len(deleted) == 1, "the sandbox world has customers stamped yesterday"

    broken = run_checks(defs, instance, None, materialize=False)  # no partition: checks yesterday
    assert not broken[ROW_COUNT].passed
    assert broken[ROW_COUNT].metadata["difference"].value == -1


def test_an_open_day_run_checks_freshness_and_keys_without_counting(defs, instance, pipeline_env):
    from o2c_pipeline.cli.run import without_open_day_counts

    selection = dg.AssetSelection.assets(CUSTOMERS) | dg.AssetSelection.checks_for_assets(CUSTOMERS)
    job = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        resources=defs.resources,
        jobs=[dg.define_asset_job("customers_today", selection=selection)],
    ).resolve_job_def("customers_today")
    result = without_open_day_counts(job).execute_in_process(
        instance=instance, partition_key=open_partition_key()
    )
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert set(evaluations) == {FRESH, UNIQUE}
    assert evaluations[FRESH].passed and evaluations[UNIQUE].passed
