"""The flow template: every flow is one module, its declaration is the asset graph's truth, and it
can neither read a table nor use a flow it did not declare."""

from __future__ import annotations

import dagster as dg
import pytest

from o2c_pipeline import keys
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.context import SyncContext
from o2c_pipeline.sync.flow import Flow, FlowDeclarationError
from o2c_pipeline.sync.flows import FLOWS, FLOWS_BY_NAME, base_flow
from o2c_pipeline.warehouse import Warehouse

EXPECTED = {
    "customers",
    "contacts",
    "products",
    "orders",
    "opportunities",
    "deal_status",
    "fulfillments",
    "invoices",
    "payments",
    "review_queue",
}


@pytest.fixture
def ctx(tmp_path) -> SyncContext:
    """A context without API resources: the declaration checks fail before any call."""
    return SyncContext(
        settings=SyncSettings(),
        salesforce=None,  # type: ignore[arg-type]
        netsuite=None,  # type: ignore[arg-type]
        checkpoints=None,  # type: ignore[arg-type]
        warehouse=Warehouse(tmp_path / "warehouse.duckdb"),
    )


def test_each_flow_is_one_module_of_the_flows_package() -> None:
    assert {f.name for f in FLOWS} == EXPECTED
    for flow in FLOWS:
        assert flow.__module__ == f"o2c_pipeline.sync.flows.{flow.name}"
        assert issubclass(flow, Flow) and flow.description and flow.pool.name


def test_flows_come_after_the_flows_they_run_after() -> None:
    position = {f.name: i for i, f in enumerate(FLOWS)}
    for flow in FLOWS:
        assert all(position[before] < position[flow.name] for before in flow.after)
    assert base_flow("orders.writeback") is FLOWS_BY_NAME["orders"]


def test_asset_dependencies_are_the_declared_reads_and_flows() -> None:
    from o2c_pipeline.sync.assets import FLOW_ASSETS

    by_key = {a.key: a for a in FLOW_ASSETS}
    for flow in FLOWS:
        asset = by_key[keys.flow_key(flow.name)]
        expected = {keys.table_key(t) for t in flow.reads()} | {
            keys.flow_key(f) for f in flow.after
        }
        assert set(asset.dependency_keys) == expected, flow.name
        assert next(iter(asset.specs)).description == flow.description
    # what the hand-kept list used to miss: invoices read orders and accounts too
    invoices = by_key[keys.flow_key("invoices")].dependency_keys
    assert {
        dg.AssetKey(["salesforce", "sf_orders"]),
        dg.AssetKey(["salesforce", "sf_accounts"]),
    } <= set(invoices)


def test_a_flow_cannot_read_a_table_it_did_not_declare(ctx) -> None:
    customers = FLOWS_BY_NAME["customers"](ctx, only=[])
    assert customers.lookup("netsuite.customers", "externalid", []) == []  # declared: fine
    with pytest.raises(FlowDeclarationError, match="reads salesforce.orders without declaring"):
        customers.lookup("salesforce.orders", "Id", ["801A"])


def test_a_flow_cannot_use_a_flow_it_does_not_run_after(ctx) -> None:
    products = FLOWS_BY_NAME["products"](ctx, only=[])
    with pytest.raises(FlowDeclarationError, match="does not run after it"):
        products.require("customers", ["001A"])
