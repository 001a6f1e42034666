"""Custom objects by configuration, no code: a Salesforce custom object and a NetSuite custom
record type named in the configuration file become daily-partitioned extraction assets with
their checks, materialized through Dagster's own command line (``dagster asset materialize``)
as a deployment would, with the custom fields the sources describe."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from o2c_pipeline.config import ConfigError, LoadedConfig, parse
from o2c_pipeline.definitions import build_resources
from o2c_pipeline.entities import configured_entities
from o2c_pipeline.warehouse import Warehouse
from o2c_sandbox.customize import netsuite_record_type, salesforce_object
from o2c_sandbox.schema import SfField, custom_column, custom_object, custom_record_table

SUBSCRIPTION = custom_object(
    "Subscription__c",
    "a07",
    SfField("Name", "string", 80, nillable=False),
    SfField("Account__c", "reference", 18, reference_to="Account", relationship_name="Account__r", custom=True),
    SfField("Plan__c", "picklist", 40, custom=True, picklist=("Team", "Business", "Enterprise")),
    SfField("Seats__c", "double", custom=True),
    SfField("Start_Date__c", "date", custom=True),
)  # fmt: skip
RECORD_TYPE = "customrecord_o2c_subscription"
NS_SUBSCRIPTION = custom_record_table(
    RECORD_TYPE,
    custom_column("custrecord_o2c_sub_customer", "BIGINT"),
    custom_column("custrecord_o2c_sub_seats", "DOUBLE"),
)
CONFIG = f"""
entities:
  salesforce.subscriptions:
    object: Subscription__c
    description: Subscriptions (a custom object)
    exclude: [LastModifiedById]
  netsuite.subscriptions:
    table: {RECORD_TYPE}
"""
ASSETS = ("salesforce/sf_subscriptions", "netsuite/ns_subscriptions")
CHECKS = ("matches_source_count", "open_partition_fresh", "unique_keys")


def test_custom_objects_of_the_file_are_entities_of_their_own():
    entities = configured_entities(LoadedConfig(parse(CONFIG, "o2c.yaml"), Path("o2c.yaml")))
    sf, ns = entities[-2:]
    assert (sf.table, sf.source, sf.key, sf.cursor, sf.deleted_flag) == (
        "salesforce.subscriptions",
        "Subscription__c",
        "Id",
        "SystemModstamp",
        "IsDeleted",
    )
    assert (ns.table, ns.source, ns.key, ns.cursor, ns.record_type) == (
        "netsuite.subscriptions",
        f"{RECORD_TYPE} r",
        "id",
        "lastmodified",  # NetSuite custom records stamp lastmodified, not lastmodifieddate
        RECORD_TYPE,
    )


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("entities:\n  salesforce.subs: {}\n", "entities.salesforce.subs: a new entity needs object"),
        ("entities:\n  netsuite.subs: {object: X}\n", "entities.netsuite.subs: a new entity needs table"),
        ("entities:\n  salesforce.accounts: {object: Account}\n", "entities.salesforce.accounts: a declared entity takes include/exclude only"),
        ("entities:\n  salesforce.subs: {object: X, columns: {Seats__c: NUMBER}}\n", "entities.salesforce.subs.columns.Seats__c"),
    ],
)  # fmt: skip
def test_a_bad_custom_object_is_named(text, wanted):
    with pytest.raises(ConfigError) as err:
        configured_entities(LoadedConfig(parse(text, "o2c.yaml"), Path("o2c.yaml")))
    assert f"o2c.yaml: {wanted}" in str(err.value)


def _seed(box, sf) -> str:
    """Three subscriptions on each side, as users would enter them; returns their UTC day."""
    account = sf.query("SELECT Id FROM Account ORDER BY Id LIMIT 1")["records"][0]["Id"]
    for n, plan in enumerate(("Team", "Business", "Enterprise")):
        sf.Subscription__c.create(
            {"Name": f"SUB-{n}", "Account__c": account, "Plan__c": plan, "Seats__c": 10 * (n + 1),
             "Start_Date__c": "2025-01-01"}
        )  # fmt: skip
    stamp = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(seconds=5)
    with box.ctx.store.writer() as cur:
        for n in range(3):
            cur.execute(
                f"INSERT INTO ns.\"{RECORD_TYPE}\" VALUES (?, ?, NULL, 'F', 1001, ?, ?, ?)",
                [n + 1, f"Subscription {n + 1}", 10.0 * (n + 1), stamp, stamp],
            )
    return stamp.date().isoformat()


def test_a_custom_object_in_the_file_is_materialized_with_its_checks(
    private_sandbox, private_pipeline_env, tmp_path
):
    config = tmp_path / "o2c.yaml"
    config.write_text(CONFIG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        **private_pipeline_env,
        "O2C_CONFIG": str(config),
        "DAGSTER_HOME": str(home),
    }
    with (
        salesforce_object(private_sandbox, SUBSCRIPTION),
        netsuite_record_type(private_sandbox, RECORD_TYPE, NS_SUBSCRIPTION),
    ):
        with dg.build_resources(build_resources()) as live:
            day = _seed(private_sandbox, live.salesforce.client())
        proc = subprocess.run(
            [sys.executable, "-m", "dagster", "asset", "materialize", "-m",
             "o2c_pipeline.definitions", "--select", ",".join(ASSETS), "--partition", day],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for asset in ASSETS:
            key = dg.AssetKey(asset.split("/"))
            event = instance.get_latest_materialization_event(key)
            assert event is not None, asset
            meta = {
                k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()
            }
            assert meta["rows"] == 3 and meta["current_rows"] == 3, (asset, meta)
            for check in CHECKS:
                record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                    [dg.AssetCheckKey(key, check)]
                )[dg.AssetCheckKey(key, check)]
                assert record.status.value == "SUCCEEDED", (asset, check, record)
                assert record.event.asset_check_evaluation.passed, (asset, check)
    warehouse = Warehouse(private_pipeline_env["O2C_WAREHOUSE"])
    sf_columns = {c[0] for c in warehouse.query("DESCRIBE salesforce.subscriptions_current")}
    assert {"Name", "Plan__c", "Seats__c", "Account__c", "OwnerId"} <= sf_columns
    assert "LastModifiedById" not in sf_columns  # excluded in the file
    assert sorted(warehouse.query('SELECT "Plan__c", "Seats__c" FROM salesforce.subscriptions_current')) == [
        ("Business", 20.0), ("Enterprise", 30.0), ("Team", 10.0)
    ]  # fmt: skip
    assert sorted(
        warehouse.query("SELECT custrecord_o2c_sub_seats, name FROM netsuite.subscriptions_current")
    ) == [(10.0, "Subscription 1"), (20.0, "Subscription 2"), (30.0, "Subscription 3")]
