"""The code location loads offline and exposes the asset graph the issue describes."""

from __future__ import annotations

import datetime as dt
import socket

import dagster as dg
import pytest

from o2c_pipeline.assets import EXTRACT_ASSETS
from o2c_pipeline.definitions import build_definitions
from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.keys import table_key
from o2c_pipeline.partitions import DAILY, open_partition_key

EXPECTED = {
    "salesforce": {
        "sf_accounts",
        "sf_contacts",
        "sf_opportunities",
        "sf_opp_lines",
        "sf_products",
        "sf_orders",
        "sf_order_items",
        "sf_invoices",
    },
    "netsuite": {
        "ns_customers",
        "ns_contacts",
        "ns_subsidiaries",
        "ns_currencies",
        "ns_fx_rates",
        "ns_items",
        "ns_sales_orders",
        "ns_so_lines",
        "ns_fulfillments",
        "ns_invoices",
        "ns_payments",
    },
}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("definitions must load without network calls")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_definitions_load_offline_without_settings(no_network, monkeypatch) -> None:
    for name in ("SALESFORCE_CLIENT_ID", "NETSUITE_ACCOUNT_ID", "O2C_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)
    defs = build_definitions()
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("o2c_sync")
    keys = {tuple(k.path) for a in EXTRACT_ASSETS for k in a.keys}
    assert keys == {(system, name) for system, names in EXPECTED.items() for name in names}
    assert {tuple(k.path) for k in job.asset_layer.selected_asset_keys} >= keys


def test_every_extraction_asset_is_partitioned_described_and_typed() -> None:
    assert DAILY.timezone == "UTC" and open_partition_key() in DAILY.get_partition_keys()
    by_key = {tuple(s.key.path): (a, s) for a in EXTRACT_ASSETS for s in a.specs}
    for ent in ENTITIES:
        asset, spec = by_key[tuple(table_key(ent.table).path)]
        assert asset.partitions_def == DAILY
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()
        assert spec.freshness_policy == dg.FreshnessPolicy.time_window(
            fail_window=dt.timedelta(hours=36), warn_window=dt.timedelta(hours=25)
        )
        assert spec.group_name == ent.system and ent.system in spec.kinds and "duckdb" in spec.kinds
        assert spec.description == ent.description
        schema = spec.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns][: len(ent.columns)] == ent.column_names
        assert spec.metadata["dagster/table_name"] == ent.table
        assert asset.op.pool in ("salesforce_api", "netsuite_api")


def test_an_open_day_run_keeps_every_asset_and_check_but_the_source_counts() -> None:
    from o2c_pipeline.checks import ROW_COUNT
    from o2c_pipeline.cli.run import without_open_day_counts

    job = build_definitions().resolve_job_def("o2c_sync")
    day = without_open_day_counts(job)
    checks = set(job.asset_layer.asset_graph.asset_check_keys)
    assert day.asset_layer.executable_asset_keys == job.asset_layer.executable_asset_keys
    assert set(day.asset_layer.asset_graph.asset_check_keys) == {
        k for k in checks if k.name != ROW_COUNT
    }
    assert {k.name for k in checks} > {ROW_COUNT}  # the full job still counts


def test_the_ui_guide_names_every_pool_with_its_slots() -> None:
    from pathlib import Path

    from o2c_pipeline.pools import POOLS

    guide = (Path(__file__).resolve().parents[1] / "docs" / "ui.md").read_text()
    for pool in POOLS:
        assert f"`{pool.name}` ({pool.slots}" in guide, pool.name


def test_every_asset_name_is_unique_and_short() -> None:
    """The zoomed-out graph shows an asset by its key's last part, truncated beyond
    ``keys.ASSET_NAME_MAX`` characters: each must stand alone, whole."""
    from o2c_pipeline import keys

    names = [k.path[-1] for k in build_definitions().resolve_asset_graph().get_all_asset_keys()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    too_long = [n for n in names if len(n) > keys.ASSET_NAME_MAX]
    assert not too_long
    for entity in ENTITIES:
        assert keys.name_of(keys.table_key(entity.table)) == entity.table
