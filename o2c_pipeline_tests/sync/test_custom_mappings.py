"""Custom field mappings from the configuration file: validated against the flows and field
ownership when the definitions load, applied through the flow template to every payload, with
the built-in mappings' transforms; a lookup miss dead-letters the record with its reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from o2c_pipeline.cli.run import execute
from o2c_pipeline.config import ConfigError, LoadedConfig, parse
from o2c_pipeline.definitions import build_definitions
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.resources.factory import build_resources
from o2c_pipeline.sync import custom_fields, flows
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.context import sync_context
from o2c_pipeline.sync.mapping import DataError
from o2c_sandbox.customize import netsuite_field
from o2c_sandbox.schema import NsColumn

MAPPINGS = """
mappings:
  customers:
    - source: Industry
      target: custentity_o2c_industry
      lookup: {Technology: TECH, Manufacturing: MFG}
    - source: Name
      target: custentity_o2c_short_name
      truncate: 12
    - target: custentity_o2c_source
      constant: Salesforce
    - source: CreatedDate
      target: custentity_o2c_since
      date_in_timezone: netsuite
"""
FIELDS = ("custentity_o2c_industry", "custentity_o2c_short_name", "custentity_o2c_source",
          "custentity_o2c_since")  # fmt: skip


def loaded(text: str) -> LoadedConfig:
    return LoadedConfig(parse(text, "o2c.yaml"), Path("o2c.yaml"))


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        custom_fields.validate(loaded(text), flows.FLOWS_BY_NAME)
    return str(err.value)


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("mappings:\n  custmers: [{source: Name, target: x}]\n", "mappings.custmers: no such flow"),
        ("mappings:\n  review_queue: [{source: id, target: x}]\n", "mappings.review_queue: the flow writes no record"),
        ("mappings:\n  customers: [{source: Name, target: companyName}]\n", "mappings.customers[0].target: netsuite.customer.companyName is written by the flow's own mapping"),
        ("ownership:\n  netsuite.customer: {custentity_credit: netsuite}\nmappings:\n  customers: [{source: Name, target: custentity_credit}]\n",
         "mappings.customers[0].target: netsuite masters netsuite.customer.custentity_credit (ownership), so salesforce may not write it"),
        ("mappings:\n  customers: [{source: Name, target: custentity_a}, {source: Phone, target: custentity_a}]\n", "mappings.customers[1].target: custentity_a is mapped twice"),
        ("mappings:\n  invoices: [{source: memo, target: Note__c}]\n  payments: [{source: memo, target: Note__c}]\n", None),
        ("mappings:\n  customers: [{source: Name, target: custentity_a, truncate: 5, constant: x}]\n", "mappings.customers[0]: one transform per mapping, not truncate and constant"),
        ("mappings:\n  customers: [{target: custentity_a}]\n", "mappings.customers[0]: source is required (or a constant)"),
        ("mappings:\n  customers: [{source: Name, target: custentity_a, date_in_timezone: Mars/Base}]\n", "mappings.customers[0].date_in_timezone: must be an IANA time zone (e.g. America/Los_Angeles) or 'netsuite', not 'Mars/Base'"),
    ],
)  # fmt: skip
def test_bad_mappings_are_named_with_the_file_and_key(text, wanted):
    if wanted is None:  # two flows from the same system may write one field
        custom_fields.validate(loaded(text), flows.FLOWS_BY_NAME)
        return
    with pytest.raises(ConfigError) as err:  # from the schema, or from the flows' check
        custom_fields.validate(loaded(text), flows.FLOWS_BY_NAME)
    assert f"o2c.yaml: {wanted}" in str(err.value)


def test_two_systems_may_not_claim_one_field():
    text = (
        "mappings:\n  fulfillments: [{source: memo, target: Note__c}]\n"
        "  orders: [{source: Name, target: custbody_note}]\n"
    )
    custom_fields.validate(loaded(text), flows.FLOWS_BY_NAME)  # different targets: fine
    clash = "ownership:\n  salesforce.Order: {Note__c: salesforce}\nmappings:\n  fulfillments: [{source: memo, target: Note__c}]\n"
    assert "salesforce masters salesforce.Order.Note__c" in problems(clash)


def test_the_transforms_of_the_built_in_mappings():
    maps = custom_fields.validate(loaded(MAPPINGS), flows.FLOWS_BY_NAME)["customers"]
    settings = SyncSettings(netsuite_timezone="Asia/Tokyo")
    row = {"Industry": "Technology", "Name": "Acme Corporation International",
           "CreatedDate": dt.datetime(2025, 3, 1, 20, 30)}  # fmt: skip
    got = custom_fields.fields(
        maps, row, settings, target="netsuite.customer", source_system="salesforce"
    )
    assert got == {
        "custentity_o2c_industry": "TECH",
        "custentity_o2c_short_name": "Acme Corpora",
        "custentity_o2c_source": "Salesforce",
        "custentity_o2c_since": "2025-03-02",  # 20:30 UTC is the next day in Tokyo
    }
    with pytest.raises(DataError) as err:
        custom_fields.fields(maps, {**row, "Industry": "Mining"}, settings, target="netsuite.customer", source_system="salesforce")  # fmt: skip
    assert err.value.code == "UNMAPPED_VALUE" and "mappings.customers[0]" in err.value.reason


def test_custom_mappings_reach_netsuite_once_and_a_miss_is_dead_lettered(
    private_sandbox, private_pipeline_env, tmp_path, monkeypatch
):
    config = tmp_path / "o2c.yaml"
    config.write_text(MAPPINGS)
    monkeypatch.setenv("O2C_CONFIG", str(config))
    columns = [NsColumn(name, "VARCHAR", name) for name in FIELDS]
    with (
        netsuite_field(private_sandbox, "customer", columns[0]),
        netsuite_field(private_sandbox, "customer", columns[1]),
        netsuite_field(private_sandbox, "customer", columns[2]),
        netsuite_field(private_sandbox, "customer", columns[3]),
    ):
        with dg.build_resources(build_resources()) as live:
            sf = live.salesforce.client()
            ids = {
                industry: sf.Account.create(
                    {"Name": f"Mapped {industry} Incorporated", "Industry": industry}
                )["id"]
                for industry in ("Technology", "Mining")
            }
            defs = build_definitions()
            job = defs.resolve_job_def("o2c_sync").get_subset(
                asset_selection={dg.AssetKey(["salesforce", "sf_accounts"]), dg.AssetKey(["netsuite", "ns_customers"])}
            )  # fmt: skip
            today = open_partition_key()
            assert execute(job, dg.DagsterInstance.ephemeral(), start=today, end=today, progress=False).success  # fmt: skip
            ctx = sync_context(live.salesforce, live.netsuite, live.checkpoints)
            first = flows.sync(ctx, "customers", list(ids.values()))
            assert first.failed == 1  # the Mining account; Technology's written (and its id back)
            customer = live.netsuite.suiteql_page(
                f"SELECT {', '.join(FIELDS)} FROM customer WHERE externalid = 'SF_ACCT_{ids['Technology']}'"
            )["items"][0]
            assert customer["custentity_o2c_industry"] == "TECH"
            assert customer["custentity_o2c_short_name"] == "Mapped Techn"
            assert customer["custentity_o2c_source"] == "Salesforce"
            assert customer["custentity_o2c_since"] == today or customer["custentity_o2c_since"]
            letters = ctx.store.dlq(flow="customers", source_ids=[ids["Mining"]])
            assert [e.error_code for e in letters] == ["UNMAPPED_VALUE"]
            assert (
                "'Mining' has no entry in the lookup table of mappings.customers[0]"
                in letters[0].reason
            )
            again = flows.sync(ctx, "customers", [ids["Technology"]])
            assert (again.written, again.unchanged) == (0, 1)  # the same request: no call
