"""Every field by default: a custom field an administrator adds in the source (Salesforce
Account, NetSuite customer) reaches the warehouse with the next delta load, without touching the
configuration; a field removed later is kept and filled with NULL. Both are told in the
materialization metadata, and nothing fails."""

from __future__ import annotations

import time
from typing import Any

import dagster as dg
import requests

from o2c_pipeline.assets import EXTRACT_ASSETS
from o2c_pipeline.cli.run import execute
from o2c_pipeline.definitions import build_resources
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.warehouse import Warehouse
from o2c_sandbox.customize import netsuite_field, salesforce_field
from o2c_sandbox.schema import NsColumn, SfField

TABLES = ("salesforce/sf_accounts", "netsuite/ns_customers")
JOB = dg.define_asset_job(
    "fields_under_test",
    selection=dg.AssetSelection.assets(
        *(dg.AssetKey(t.split("/")) for t in TABLES)
    ).without_checks(),
)
REGION = SfField("Region__c", "picklist", 40, custom=True, picklist=("EMEA", "AMER", "APAC"))
TIER = NsColumn("custentity_o2c_tier", "VARCHAR", "custentity_o2c_tier")


class Loads:
    def __init__(self) -> None:
        defs = dg.Definitions(assets=EXTRACT_ASSETS, jobs=[JOB], resources=build_resources())
        self.job = defs.resolve_job_def(JOB.name)
        self.instance = dg.DagsterInstance.ephemeral()
        self.resources = build_resources()

    def run(self) -> dict[str, dict[str, Any]]:
        today = open_partition_key()
        result = execute(self.job, self.instance, start=today, end=today, progress=False)
        assert result.success
        return {
            "/".join(e.asset_key.path): {
                k: getattr(v, "value", v) for k, v in e.materialization.metadata.items()
            }
            for e in result.get_asset_materialization_events()
        }


def _calls(box: Any) -> dict[str, dict[str, int]]:
    """The sandbox's own count of calls per system and endpoint family."""
    answer = requests.get(
        f"{box.sf_url}/__sandbox__/counters", verify=str(box.ca_path), timeout=10
    ).json()
    return answer["calls"]


def _delta(before: dict, after: dict, system: str, family: str) -> int:
    return after.get(system, {}).get(family, 0) - before.get(system, {}).get(family, 0)


def _touch(live: Any, account_ids: list[str], customer_ids: list[str], tier: bool) -> None:
    """Edit records through the APIs, as users would: the edit stamps them."""
    sf = live.salesforce.client()
    for account_id in account_ids:
        sf.Account.update(account_id, {"Region__c": "EMEA"} if tier else {"Phone": "+1 555 0101"})
    for customer_id in customer_ids:
        body = {"custentity_o2c_tier": "Gold"} if tier else {"phone": "+1 555 0102"}
        live.netsuite.update_record("customer", customer_id, body)


def test_a_field_added_in_the_source_is_loaded_and_one_removed_is_kept(
    private_sandbox, private_pipeline_env, tmp_path
):
    loads = Loads()
    first = loads.run()
    warehouse = Warehouse(private_pipeline_env["O2C_WAREHOUSE"])
    with dg.build_resources(loads.resources) as live:
        accounts = [
            r["Id"]
            for r in live.salesforce.client().query("SELECT Id FROM Account ORDER BY Id LIMIT 3")[
                "records"
            ]
        ]
        customers = [
            r["id"]
            for r in live.netsuite.suiteql_page("SELECT id FROM customer ORDER BY id", limit=2)[
                "items"
            ]
        ]
        # every field the describe reports is there from the first load, beyond the core
        assert "OwnerId" in {c[0] for c in warehouse.query("DESCRIBE salesforce.accounts_current")}
        assert first["salesforce/sf_accounts"]["columns_added"] == "none"

        with (
            salesforce_field(private_sandbox, "Account", REGION),
            netsuite_field(private_sandbox, "customer", TIER),
        ):
            _touch(live, accounts, customers, tier=True)
            before = _calls(private_sandbox)
            added = loads.run()
            after = _calls(private_sandbox)
            # one describe and one catalog entry per object and run; the customer's columns SuiteQL
            # took on the first run are remembered, so only the new field is tried
            assert _delta(before, after, "salesforce", "describe") == 1
            assert _delta(before, after, "netsuite", "metadata") == 1
            assert _delta(before, after, "netsuite", "suiteql") <= 1 + 3  # the probe, then the load
            assert added["salesforce/sf_accounts"]["columns_added"] == "Region__c"
            assert added["netsuite/ns_customers"]["columns_added"] == "custentity_o2c_tier"
            assert added["salesforce/sf_accounts"]["mode"] == "incremental"
            regions = warehouse.query(
                'SELECT "Id", "Region__c" FROM salesforce.accounts_current '
                'WHERE "Region__c" IS NOT NULL ORDER BY 1'
            )
            tiers = warehouse.query(
                "SELECT id, custentity_o2c_tier FROM netsuite.customers_current "
                "WHERE custentity_o2c_tier IS NOT NULL ORDER BY 1"
            )
            assert regions == [(a, "EMEA") for a in sorted(accounts)]
            assert tiers == [(int(c), "Gold") for c in sorted(customers, key=int)]
            schema = added["salesforce/sf_accounts"]["dagster/column_schema"]
            assert "Region__c" in {c.name for c in schema.columns}

        # stamps have whole seconds: an edit in the second of the last one would carry the
        # stamp already loaded, which the probe rightly takes for nothing new
        time.sleep(1.05 - time.time() % 1)
        _touch(live, accounts[:1], customers[:1], tier=False)  # the fields are gone now
        removed = loads.run()
    assert removed["salesforce/sf_accounts"]["columns_vanished"] == "Region__c"
    assert removed["netsuite/ns_customers"]["columns_vanished"] == "custentity_o2c_tier"
    # the column stays; the record edited since has no value any more, the others keep theirs
    regions = dict(warehouse.query('SELECT "Id", "Region__c" FROM salesforce.accounts_current'))
    assert regions[accounts[0]] is None and regions[accounts[1]] == "EMEA"
    tiers = dict(warehouse.query("SELECT id, custentity_o2c_tier FROM netsuite.customers_current"))
    assert tiers[int(customers[0])] is None and tiers[int(customers[1])] == "Gold"
