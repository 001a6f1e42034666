"""The sync against the shared session sandbox, over real HTTPS with the real clients.

The shared world is used by other tests too, so these tests create their own Accounts and Orders
in Salesforce, land today's changes through the real delta-load job, and drive the flows over
their own records only (``only=``, the replay entry point). A full cycle over the whole small
world lives in ``test_full_cycle.py`` (slow, private sandbox).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from o2c_pipeline.cli.run import execute
from o2c_pipeline.definitions import build_definitions
from o2c_pipeline.keys import table_key
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.resources.factory import build_resources
from o2c_pipeline.sync import flows
from o2c_pipeline.sync.assets import mirror_to_warehouse
from o2c_pipeline.sync.context import SyncContext, sync_context
from o2c_pipeline.sync.store import SyncStore

#: Entities the order-to-cash flows under test read.
LANDED = ("accounts", "products", "orders", "order_items", "customers", "items", "sales_orders")


@dataclass
class World:
    """The records this module created, and how to reach both systems."""

    env: dict[str, str]
    ctx: SyncContext
    sf: Any  # simple_salesforce.Salesforce
    sandbox: Any
    accounts: dict[str, str]
    orders: dict[str, str]
    skus: list[tuple[str, str, str, float]]  # (Product2 Id, PricebookEntry Id, SKU, price)

    def land(self, names: tuple[str, ...] = LANDED, *, days: int = 0) -> None:
        """Run the real delta loads for today's partition (what a sync cycle starts with), or
        for the last ``days`` days (the product catalogue, which orders look SKUs up in)."""
        defs = build_definitions(self.env)
        job = defs.resolve_job_def("o2c_sync").get_subset(
            asset_selection={
                table_key(f"{'salesforce' if n in SF_NAMES else 'netsuite'}.{n}") for n in names
            }
        )
        today = open_partition_key()
        start = (dt.date.fromisoformat(today) - dt.timedelta(days=days)).isoformat()
        result = execute(
            job, dg.DagsterInstance.ephemeral(), start=start, end=today, progress=False
        )
        assert result.success

    def counters(self) -> dict[str, Any]:
        return requests.get(
            f"{self.sandbox.sf_url}/__sandbox__/counters",
            verify=str(self.sandbox.ca_path),
            timeout=10,
        ).json()

    def sales_orders(self, order_id: str) -> list[dict[str, Any]]:
        q = f"SELECT id, otherrefnum, trandate, entity FROM transaction WHERE type = 'SalesOrd' AND externalid = 'SF_ORDER_{order_id}'"
        return [r for page in self.ctx.netsuite.suiteql_pages(q) for r in page]


SF_NAMES = {
    "accounts",
    "contacts",
    "products",
    "orders",
    "order_items",
    "opportunities",
    "opportunity_line_items",
}
#: NetSuite's setup, which the customers and sales-order flows check against
SETUP = ("subsidiaries", "currencies", "currency_rates")


def _create(sf: Any, sobject: str, fields: dict[str, Any]) -> str:
    return getattr(sf, sobject).create(fields)["id"]


@pytest.fixture(scope="module")
def world(sandbox, tmp_path_factory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("sync")
    env = {
        **sandbox.credentials(),
        "O2C_WAREHOUSE": str(tmp / "warehouse.duckdb"),
        "O2C_CHECKPOINT_URL": f"sqlite:///{tmp / 'checkpoints.sqlite'}",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        with dg.build_resources(build_resources(env)) as live:
            ctx = sync_context(live.salesforce, live.netsuite, live.checkpoints)
            sf = live.salesforce.client()
            products = sf.query(
                "SELECT Id, ProductCode, NetSuite_Item_ID__c FROM Product2 "
                "WHERE IsActive = true AND NetSuite_Item_ID__c != null LIMIT 40"
            )["records"]
            skus = []
            for p in products:
                # only SKUs NetSuite knows as active items (the world has a few stale mirrors)
                item = ctx.netsuite.suiteql_page(
                    f"SELECT isinactive FROM item WHERE itemid = '{p['ProductCode']}'"
                )["items"]
                pbe = sf.query(
                    f"SELECT Id, UnitPrice FROM PricebookEntry WHERE Product2Id = '{p['Id']}'"
                )["records"]
                if item and item[0]["isinactive"] == "F" and pbe:
                    skus.append((p["Id"], pbe[0]["Id"], p["ProductCode"], pbe[0]["UnitPrice"]))
                if len(skus) == 2:
                    break
            accounts = {
                "clean": _create(
                    sf,
                    "Account",
                    {
                        "Name": "Zeta Sync Test " + "Long Name " * 10,
                        "BillingStreet": "1 Main St\nSuite 5\nBuilding C\nRear Entrance",
                        "BillingCity": "Berlin",
                        "BillingPostalCode": "10115",
                        "BillingCountry": "Deutschland",
                    },
                ),
                "dirty": _create(
                    sf, "Account", {"Name": "Atlantis Sync Test", "BillingCountry": "Atlantis"}
                ),
                "fresh": _create(
                    sf,
                    "Account",
                    {"Name": "Fresh Sync Test", "BillingCountry": "US", "BillingState": "CA"},
                ),
            }
            pricebook = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0][
                "Id"
            ]
            today = dt.date.today().isoformat()

            def order(account: str, lines: list[tuple[int, float]]) -> str:
                order_id = _create(
                    sf,
                    "Order",
                    {
                        "AccountId": accounts[account],
                        "Status": "Draft",
                        "EffectiveDate": today,
                        "Pricebook2Id": pricebook,
                    },
                )
                for (product, entry, _, price), (qty, rate) in zip(skus, lines, strict=False):
                    _create(
                        sf,
                        "OrderItem",
                        {
                            "OrderId": order_id,
                            "Product2Id": product,
                            "PricebookEntryId": entry,
                            "Quantity": qty,
                            "UnitPrice": rate or price,
                        },
                    )
                sf.Order.update(order_id, {"Status": "Activated"})
                return order_id

            orders = {
                "good": order("clean", [(3, 12.5), (1, 99.0)]),
                "negative": order("clean", [(2, 10.0), (-1, 10.0)]),
                "crash": order("clean", [(5, 7.25)]),
                "on_the_spot": order("fresh", [(4, 20.0)]),
            }
            w = World(env, ctx, sf, sandbox, accounts, orders, skus)
            w.land(("products", "items", *SETUP), days=150)
            w.land(("accounts", "orders", "order_items"))
            yield w


def _writes(snapshot: dict[str, Any]) -> int:
    """Write calls the sandbox counted: NetSuite record API and Salesforce composite/bulk."""
    calls = snapshot["calls"]
    return calls.get("netsuite", {}).get("record", 0) + sum(
        n
        for family, n in calls.get("salesforce", {}).items()
        if family in ("composite", "sobjects", "bulk2")
    )


def test_accounts_become_customers_and_dirty_ones_wait_in_the_dlq(world: World) -> None:
    ids = [world.accounts["clean"], world.accounts["dirty"]]
    stats = flows.sync(world.ctx, "customers", ids)
    assert stats.considered == 2 and stats.failed == 1

    customer = world.ctx.netsuite.get_record(
        "customer", f"eid:SF_ACCT_{world.accounts['clean']}", expand=True
    )
    assert len(customer["companyName"]) == 83
    address = customer["addressbook"]["items"][0]["addressbookAddress"]
    assert (address["addr1"], address["addr2"], address["addr3"]) == (
        "1 Main St",
        "Suite 5",
        "Building C, Rear Entrance",
    )
    assert (
        address["country"] in ("_germany", {"id": "_germany"})
        or address["country"].get("id") == "_germany"
    )
    account = world.sf.Account.get(world.accounts["clean"])
    assert account["NetSuite_Customer_ID__c"] == customer["id"]

    (entry,) = world.ctx.store.dlq(flow="customers", source_ids=[world.accounts["dirty"]])
    assert entry.error_code == "UNKNOWN_COUNTRY" and "'Atlantis'" in entry.reason
    assert entry.payload["BillingCountry"] == "Atlantis" and entry.attempts == 1


def test_activated_orders_become_exactly_one_sales_order_and_bad_lines_are_dead_lettered(
    world: World,
) -> None:
    good, negative, spot = (
        world.orders["good"],
        world.orders["negative"],
        world.orders["on_the_spot"],
    )
    stats = flows.sync(world.ctx, "orders", [good, negative, spot])
    assert stats.failed == 1

    (so,) = world.sales_orders(good)
    order = world.sf.Order.get(good)
    assert so["otherrefnum"] == order["OrderNumber"]
    assert order["NetSuite_Sales_Order_ID__c"] == so["id"]
    record = world.ctx.netsuite.get_record("salesOrder", so["id"], expand=True)
    lines = sorted(
        (li["item"]["id"], float(li["quantity"]), float(li["rate"]))
        for li in record["item"]["items"]
    )
    item_ids = {
        sku: world.ctx.netsuite.suiteql_page(f"SELECT id FROM item WHERE itemid = '{sku}'")[
            "items"
        ][0]["id"]
        for _, _, sku, _ in world.skus
    }
    expected = sorted(
        [(item_ids[world.skus[0][2]], 3.0, 12.5), (item_ids[world.skus[1][2]], 1.0, 99.0)]
    )
    assert lines == expected
    assert record["tranDate"] == order["EffectiveDate"]

    # the order on an account without a customer: the customer was synced on the spot
    assert len(world.sales_orders(spot)) == 1
    assert world.ctx.netsuite.get_record("customer", f"eid:SF_ACCT_{world.accounts['fresh']}")["id"]

    assert world.sales_orders(negative) == []
    (entry,) = world.ctx.store.dlq(flow="orders", source_ids=[negative])
    assert entry.error_code == "NEGATIVE_QUANTITY" and "quantity -1.0" in entry.reason


def test_second_cycle_makes_no_writes(world: World) -> None:
    # the write-backs of the first cycle reach the warehouse: the echo a naive sync would chase
    world.land(("accounts", "orders", "customers", "sales_orders"))
    before = world.counters()
    customers = flows.sync(
        world.ctx, "customers", [world.accounts["clean"], world.accounts["fresh"]]
    )
    orders = flows.sync(world.ctx, "orders", [world.orders["good"], world.orders["on_the_spot"]])
    assert customers.write_calls == orders.write_calls == 0
    assert customers.unchanged == 2 and orders.unchanged == 2
    assert _writes(world.counters()) == _writes(before)


def test_crash_between_write_and_checkpoint_creates_no_duplicate(world: World, monkeypatch) -> None:
    crash = world.orders["crash"]
    real = SyncStore.record_written

    def crash_after_netsuite_write(self, flow, entries, now):  # noqa: ANN001
        if flow == "orders":
            raise RuntimeError("simulated crash after the write, before the ledger")
        return real(self, flow, entries, now)

    monkeypatch.setattr(SyncStore, "record_written", crash_after_netsuite_write)
    with pytest.raises(RuntimeError, match="simulated crash"):
        flows.sync(world.ctx, "orders", [crash])
    assert len(world.sales_orders(crash)) == 1  # the write went through
    monkeypatch.setattr(SyncStore, "record_written", real)

    flows.sync(world.ctx, "orders", [crash])  # the re-run: same warehouse, no ledger entry
    (so,) = world.sales_orders(crash)
    assert world.ctx.store.ledger("orders", [crash])[crash].target_id == so["id"]
    assert world.sf.Order.get(crash)["NetSuite_Sales_Order_ID__c"] == so["id"]


def test_replay_after_fixing_the_record_empties_its_dlq_entry(world: World) -> None:
    dirty = world.accounts["dirty"]
    world.sf.Account.update(dirty, {"BillingCountry": "U.K."})
    world.land(("accounts",))
    results = flows.replay(world.ctx, "customers", [dirty])
    assert results["customers"].written >= 1
    assert world.ctx.store.dlq(flow="customers", source_ids=[dirty]) == []
    customer = world.ctx.netsuite.get_record("customer", f"eid:SF_ACCT_{dirty}", expand=True)
    country = customer["addressbook"]["items"][0]["addressbookAddress"]["country"]
    assert "_unitedKingdom" in str(country)

    # audit rows of every write, mirrored into the warehouse with correlation ids
    mirror_to_warehouse(world.ctx)
    rows = world.ctx.warehouse.query(
        "SELECT flow, outcome, source_id, target_id, correlation_id, request_id FROM sync.audit_log "
        "WHERE source_id = ? ORDER BY id",
        [dirty],
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("customers", "written"),
        ("customers.writeback", "written"),
    ]
    assert all(r[3] and r[4] and r[5] for r in rows)
    assert rows[0][4] == rows[1][4]  # the write-back carries the correlation id of the write
    assert rows[0][3] == customer["id"] and rows[1][3] == dirty  # NetSuite id, then the Account


def test_transient_faults_change_nothing_in_the_end_state(world: World) -> None:
    sf, knobs = world.sf, world.sandbox.knobs
    account = _create(sf, "Account", {"Name": "Faulty Weather Sync Test", "BillingCountry": "FR"})
    pricebook = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    product, entry, _, price = world.skus[0]
    orders = []
    for n in range(4):
        order_id = _create(
            sf,
            "Order",
            {
                "AccountId": account,
                "Status": "Draft",
                "EffectiveDate": dt.date.today().isoformat(),
                "Pricebook2Id": pricebook,
            },
        )
        _create(
            sf,
            "OrderItem",
            {
                "OrderId": order_id,
                "Product2Id": product,
                "PricebookEntryId": entry,
                "Quantity": n + 1,
                "UnitPrice": price,
            },
        )
        sf.Order.update(order_id, {"Status": "Activated"})
        orders.append(order_id)
    world.land(("accounts", "orders", "order_items"))
    knobs.update({"fault_429_rate": 0.1, "fault_500_rate": 0.05, "fault_503_rate": 0.05, "seed": 7})
    try:
        flows.sync(world.ctx, "orders", orders)
        flows.sync(world.ctx, "orders", orders)  # a retry run, as the next cycle would be
    finally:
        knobs.update({"fault_429_rate": 0.0, "fault_500_rate": 0.0, "fault_503_rate": 0.0})
    for order_id in orders:
        assert len(world.sales_orders(order_id)) == 1
    assert world.ctx.store.dlq(flow="orders", source_ids=orders) == []
    assert world.ctx.store.dlq(flow="customers", source_ids=[account]) == []


def test_dagster_assets_report_per_run_metadata(world: World) -> None:
    """The assets themselves, over the change feed (here: an empty-handed review queue run)."""
    from o2c_pipeline.sync.assets import ASSETS

    defs = build_definitions(world.env)
    resources = {
        k: v for k, v in defs.resources.items() if k in ("salesforce", "netsuite", "checkpoints")
    }
    review = next(a for a in ASSETS if a.key == dg.AssetKey(["sync", "credits_to_queue"]))
    result = dg.materialize([review], resources=resources, instance=dg.DagsterInstance.ephemeral())
    (mat,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in mat.materialization.metadata.items()}
    assert {"considered", "written", "unchanged", "failed", "api_calls"} <= metadata.keys()
    assert metadata["api_calls"] >= 1
    assert os.environ["O2C_WAREHOUSE"] == world.env["O2C_WAREHOUSE"]


def test_cli_lists_and_replays_the_dlq(world: World) -> None:
    import json

    from click.testing import CliRunner

    from o2c_pipeline.cli import main

    negative = world.orders["negative"]
    listed = CliRunner().invoke(main, ["dlq", "list", "--flow", "orders", "--json"])
    assert listed.exit_code == 0, listed.output
    entries = {e["source_id"]: e for e in map(json.loads, listed.stdout.splitlines())}
    assert entries[negative]["error_code"] == "NEGATIVE_QUANTITY"
    assert entries[negative]["record_ids"]["OrderNumber"]

    replayed = CliRunner().invoke(main, ["dlq", "replay", "--flow", "orders", negative])
    assert replayed.exit_code == 0, replayed.output
    assert '"failed": 1' in replayed.stdout  # still negative: it stays, attempts counted up
    (entry,) = world.ctx.store.dlq(flow="orders", source_ids=[negative])
    assert entry.attempts == 2


def test_salesforce_writes_above_the_threshold_go_through_bulk_api(world: World) -> None:
    from dataclasses import replace

    from o2c_pipeline.sync.config import SyncSettings

    account = _create(world.sf, "Account", {"Name": "Bulk Path Sync Test", "BillingCountry": "CA"})
    world.land(("accounts",))
    bulk_ctx = replace(world.ctx, settings=SyncSettings(salesforce_bulk_threshold=0))
    before = world.counters()["calls"]["salesforce"].get("bulk2", 0)
    stats = flows.sync(bulk_ctx, "customers", [account])
    assert stats.failed == 0 and stats.written == 2  # the customer, and its id written back
    assert world.counters()["calls"]["salesforce"].get("bulk2", 0) > before
    customer = world.ctx.netsuite.get_record("customer", f"eid:SF_ACCT_{account}")
    assert world.sf.Account.get(account)["NetSuite_Customer_ID__c"] == customer["id"]


def test_replay_job_and_mirror_append_only_new_audit_rows(world: World) -> None:
    mirror_to_warehouse(world.ctx)
    (before,) = world.ctx.warehouse.query("SELECT count(*) FROM sync.audit_log")[0]
    negative = world.orders["negative"]
    job = build_definitions(world.env).resolve_job_def("sync_dlq_replay")
    config = {
        "ops": {"replay_dead_letters": {"config": {"flow": "orders", "source_ids": [negative]}}}
    }
    result = job.execute_in_process(run_config=config, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert result.output_for_node("replay_dead_letters")["orders"]["failed"] == 1
    after = world.ctx.warehouse.query("SELECT count(*), count(DISTINCT id) FROM sync.audit_log")[0]
    assert after[0] == after[1] >= before  # appended, never duplicated
    (queued,) = world.ctx.warehouse.query(
        "SELECT error_code, attempts FROM sync.dead_letter_queue WHERE source_id = ?", [negative]
    )
    assert queued[0] == "NEGATIVE_QUANTITY" and queued[1] >= 2


@pytest.mark.parametrize("flow", ["payments", "invoices", "fulfillments"])
def test_dead_letters_of_records_deleted_at_the_source_leave_the_queue(
    world: World, flow: str
) -> None:
    """Every feed-driven flow forgets a dead letter whose source record is gone (payments used
    to keep theirs forever)."""
    gone = "999999901"  # no such NetSuite transaction
    for name in (flow, f"{flow}.writeback"):
        world.ctx.store.dead_letter(
            flow=name,
            source_id=gone,
            record_ids={"invoice.id": gone},
            correlation_id="c-gone",
            error_class="data",
            error_code="INVOICE_NOT_SYNCED",
            reason="waiting for the invoice",
            payload=None,
            now=world.ctx.clock(),
            retry_after_s=60,
        )
    assert len(world.ctx.store.dlq(flow=flow, source_ids=[gone], with_follow_ups=True)) == 2
    stats = flows.sync(world.ctx, flow, [gone])
    assert stats.considered == 0
    assert world.ctx.store.dlq(flow=flow, source_ids=[gone], with_follow_ups=True) == []


KILLED_RUN = """
import os, signal, sys
import dagster as dg
from o2c_pipeline.resources.factory import build_resources
from o2c_pipeline.sync import flows
from o2c_pipeline.sync.context import sync_context
from o2c_pipeline.sync.store import SyncStore

flow, ids = sys.argv[1], sys.argv[2:]
real = SyncStore.record_written

def killed(self, name, entries, now):
    if name == flow:  # the write went out; its bookkeeping never happens
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, name, entries, now)

SyncStore.record_written = killed
with dg.build_resources(build_resources(dict(os.environ))) as live:
    flows.sync(sync_context(live.salesforce, live.netsuite, live.checkpoints), flow, ids)
"""


def _won_deal_and_contact(world: World) -> tuple[str, str]:
    """A Closed-Won Opportunity with one product, and a Contact, on the clean account."""
    product, _, _, price = world.skus[0]
    entry = world.sf.query(
        f"SELECT Id FROM PricebookEntry WHERE Product2Id = '{product}' AND CurrencyIsoCode = 'USD'"
    )["records"][0]["Id"]
    pricebook = world.sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]
    opp = _create(
        world.sf,
        "Opportunity",
        {
            "AccountId": world.accounts["clean"],
            "Name": "Kill Nine Deal",
            "StageName": "Prospecting",
            "CloseDate": dt.date.today().isoformat(),
            "Pricebook2Id": pricebook["Id"],
            "CurrencyIsoCode": "USD",
        },
    )
    _create(
        world.sf,
        "OpportunityLineItem",
        {"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": price},
    )
    world.sf.Opportunity.update(opp, {"StageName": "Closed Won"})
    contact = _create(
        world.sf,
        "Contact",
        {"AccountId": world.accounts["clean"], "FirstName": "Kim", "LastName": "Ninefold"},
    )
    world.land(("accounts", "opportunities", "opportunity_line_items", "orders", "contacts"))
    return opp, contact


def test_kill_9_between_write_and_bookkeeping_creates_no_duplicate_in_the_new_flows(
    world: World,
) -> None:
    import subprocess
    import sys

    opp, contact = _won_deal_and_contact(world)
    ns = world.ctx.netsuite

    def held(record: str, eid: str) -> list[dict[str, Any]]:
        table = "transaction" if record == "salesOrder" else "contact"
        q = f"SELECT id FROM {table} WHERE externalid = '{eid}'"
        return [r for page in ns.suiteql_pages(q) for r in page]

    cases = [
        ("opportunities", opp, "salesOrder", f"SF_OPP_{opp}"),
        ("contacts", contact, "contact", f"SF_CONTACT_{contact}"),
    ]
    for flow, source_id, record, eid in cases:
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_RUN, flow, source_id],
            env={**os.environ, **world.env},
            capture_output=True,
            timeout=300,
        )
        assert killed.returncode == -9, killed.stderr.decode()[-2000:]
        assert len(held(record, eid)) == 1  # the write went through, nothing was recorded
        assert world.ctx.store.ledger(flow, [source_id]) == {}
        flows.sync(world.ctx, flow, [source_id])  # the re-run: no ledger entry, same warehouse
        (row,) = held(record, eid)
        assert world.ctx.store.ledger(flow, [source_id])[source_id].target_id == str(row["id"])
    assert (
        world.sf.Opportunity.get(opp)["NetSuite_Sales_Order_ID__c"]
        == held("salesOrder", f"SF_OPP_{opp}")[0]["id"]
    )
    record = ns.get_record("contact", f"eid:SF_CONTACT_{contact}")
    customer = ns.get_record("customer", f"eid:SF_ACCT_{world.accounts['clean']}")
    assert record["company"]["id"] == customer["id"] and record["lastName"] == "Ninefold"
