"""The simulator: each advance is a batch of O2C events whose every touched record carries the
step's stamp, and the summary names exactly those records — what a delta load must pick up."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from o2c_sandbox.core import Store
from o2c_sandbox.schema import SF_OBJECTS
from o2c_sandbox.simulator import advance
from o2c_sandbox.world import build_world

ANCHOR = dt.datetime(2025, 3, 14, 15, 0, 0)

#: NetSuite delta sources: table -> (key columns, modification stamp column)
NS_DELTA = {
    "customer": (["id"], "lastmodifieddate"),
    "customersubsidiaryrelationship": (["id"], "lastmodifieddate"),
    "contact": (["id"], "lastmodifieddate"),
    "currency": (["id"], "lastmodifieddate"),
    "currencyrate": (["id"], "lastmodifieddate"),
    "transaction": (["id"], "lastmodifieddate"),
    "transactionline": (["transaction", "id"], "linelastmodifieddate"),
    "previoustransactionlink": (["previousdoc", "nextdoc"], "lastmodifieddate"),
    "deletedrecord": (["recordtypeid", "recordid"], "deleteddate"),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One built world per module; each test advances its own copy."""
    path = tmp_path_factory.mktemp("template") / "world.duckdb"
    built = Store(path)
    build_world(built, scale="small", seed=42, anchor=ANCHOR)
    built.close()
    return path


def fresh_store(template: Path, path: Path) -> Store:
    shutil.copyfile(template, path)
    return Store(path)


@pytest.fixture
def store(template, tmp_path) -> Store:
    store = fresh_store(template, tmp_path / "world.duckdb")
    yield store
    store.close()


def key_of(row: tuple) -> Any:
    return row[0] if len(row) == 1 else list(row)


def delta_since(store: Store, since: dt.datetime) -> dict[str, list[Any]]:
    """What a delta load with a strict ``> since`` watermark would fetch, per table."""
    cur = store.cursor()
    out: dict[str, list[Any]] = {}
    for obj in SF_OBJECTS:
        rows = cur.execute(
            f'SELECT "Id" FROM sf."{obj}" WHERE "SystemModstamp" > ? ORDER BY 1', [since]
        ).fetchall()
        if rows:
            out[f"sf.{obj}"] = [r[0] for r in rows]
    for table, (keys, stamp) in NS_DELTA.items():
        cols = ", ".join(keys)
        rows = cur.execute(
            f"SELECT {cols} FROM ns.{table} WHERE {stamp} > ? ORDER BY {cols}", [since]
        ).fetchall()
        if rows:
            out[f"ns.{table}"] = [key_of(r) for r in rows]
    return out


def test_summary_names_exactly_what_a_delta_load_finds(store):
    summary = advance(store, steps=2)
    assert summary["steps"] == 2
    expected: dict[str, list[Any]] = {}
    for section in ("changed", "deleted"):
        for table, keys in summary[section].items():
            if table == "ns.customer" and section == "deleted":
                continue  # hard-deleted: found through deletedrecord instead
            expected[table] = sorted(expected.get(table, []) + keys)
    assert delta_since(store, ANCHOR) == expected
    counts = summary["counts"]
    for event in (
        "new_accounts",
        "changed_accounts",
        "new_contacts",
        "changed_contacts",
        "changed_ns_contacts",
        "new_opportunities",
        "advanced_opportunities",
        "closed_opportunities",
        "new_orders",
        "activated_orders",
        "shipments",
        "invoices",
        "payments",
        "rate_changes",
        "deletes",
    ):
        assert counts[event] > 0, event


def test_every_touched_record_carries_the_step_stamp(store):
    summary = advance(store)
    at = dt.datetime.fromisoformat(summary["at"].rstrip("Z"))
    assert at > ANCHOR
    cur = store.cursor()
    for table, ids in summary["changed"].items():
        schema, name = table.split(".")
        if schema != "sf":
            continue
        system = set(summary["system"].get(table, []))
        user = [i for i in ids if i not in system]
        stamps = cur.execute(
            f'SELECT DISTINCT "SystemModstamp", "LastModifiedDate" FROM sf."{name}" '
            f'WHERE "Id" IN (SELECT unnest(?))',
            [user],
        ).fetchall()
        assert not user or stamps == [(at, at)], table
        # roll-ups the org recalculated: a system save, so only SystemModstamp moved
        stamps = cur.execute(
            f'SELECT DISTINCT "SystemModstamp", "LastModifiedDate" < ? FROM sf."{name}" '
            f'WHERE "Id" IN (SELECT unnest(?))',
            [at, sorted(system)],
        ).fetchall()
        assert not system or stamps == [(at, True)], table
    assert summary["system"]["sf.Account"]  # activations and rate changes move roll-ups
    stamps = cur.execute(
        "SELECT DISTINCT lastmodifieddate FROM ns.transaction WHERE id IN (SELECT unnest(?))",
        [summary["changed"]["ns.transaction"]],
    ).fetchall()
    assert stamps == [(at,)]


def test_steps_are_counted_and_later_steps_are_stamped_later(store):
    first = advance(store)
    second = advance(store, steps=3)
    assert store.get_meta("sim_step") == "4"
    assert second["at"] > first["at"]
    assert not set(first["changed"]["sf.Order"]) >= set(second["changed"]["sf.Order"])


def test_same_seed_same_events(template, tmp_path, store):
    other = fresh_store(template, tmp_path / "other.duckdb")
    try:
        ours, theirs = advance(store, steps=2), advance(other, steps=2)
        assert ours["changed"] == theirs["changed"]
        assert ours["deleted"] == theirs["deleted"]
        assert ours["counts"] == theirs["counts"]
    finally:
        other.close()


def test_deletes_are_soft_in_salesforce_and_recorded_in_netsuite(store):
    summary = advance(store, steps=2)
    deleted = summary["deleted"]
    cur = store.cursor()
    for table in ("sf.Contact", "sf.Order", "sf.OrderItem"):
        ids = deleted[table]
        assert ids, table
        flags = cur.execute(
            f'SELECT DISTINCT "IsDeleted" FROM sf."{table[3:]}" WHERE "Id" IN (SELECT unnest(?))',
            [ids],
        ).fetchall()
        assert flags == [(True,)], table
    customers = deleted["ns.customer"]
    assert customers
    assert (
        cur.execute(
            "SELECT count(*) FROM ns.customer WHERE id IN (SELECT unnest(?))", [customers]
        ).fetchall()[0][0]
        == 0
    )
    recorded = cur.execute(
        "SELECT recordid FROM ns.deletedrecord WHERE recordtypeid = 'customer' "
        "AND recordid IN (SELECT unnest(?)) ORDER BY 1",
        [customers],
    ).fetchall()
    assert [r[0] for r in recorded] == customers


def test_derived_fields_stay_consistent(store):
    advance(store, steps=4)
    cur = store.cursor()

    def one(sql: str) -> Any:
        return cur.execute(sql).fetchall()[0][0]

    assert (
        one("""SELECT count(*) FROM sf."Order" o WHERE NOT o."IsDeleted" AND abs(o."TotalAmount" - (
        SELECT sum("TotalPrice") FROM sf."OrderItem" i WHERE i."OrderId" = o."Id")) > 0.005""")
        == 0
    )
    assert (
        one("""SELECT count(*) FROM ns.transaction WHERE type = 'CustInvc' AND (
        abs(foreignamountpaid + foreignamountunpaid - foreigntotal) > 0.005
        OR (status = 'B') <> (foreignamountunpaid <= 0))""")
        == 0
    )
    assert (
        one("""SELECT count(*) FROM ns.transaction i WHERE i.type = 'CustInvc' AND abs(i.foreignamountpaid
        - coalesce((SELECT sum(p.foreigntotal) FROM ns.previoustransactionlink k JOIN ns.transaction p ON p.id = k.nextdoc
                    WHERE k.previousdoc = i.id AND k.linktype = 'Payment'), 0)) > 0.005""")
        == 0
    )
    # a sales order is Billed exactly when it has an invoice, Pending Billing when shipped but not billed
    assert (
        one("""SELECT count(*) FROM ns.transaction so WHERE so.type = 'SalesOrd' AND
        (so.status = 'G') <> EXISTS (SELECT 1 FROM ns.transaction i WHERE i.createdfrom = so.id AND i.type = 'CustInvc')""")
        == 0
    )
    assert (
        one("""SELECT count(*) FROM ns.transaction so WHERE so.type = 'SalesOrd' AND so.status = 'F' AND NOT EXISTS
        (SELECT 1 FROM ns.transaction f WHERE f.createdfrom = so.id AND f.type = 'ItemShip')""")
        == 0
    )
    # new fulfilments and invoices mirror their sales order's item lines
    assert (
        one("""SELECT count(*) FROM ns.transaction t WHERE t.type IN ('ItemShip', 'CustInvc') AND
        (SELECT list(item ORDER BY id) FROM ns.transactionline WHERE transaction = t.id AND mainline = 'F')
        IS DISTINCT FROM
        (SELECT list(item ORDER BY id) FROM ns.transactionline WHERE transaction = t.createdfrom AND mainline = 'F')""")
        == 0
    )
    assert one("SELECT count(DISTINCT uniquekey) = count(*) FROM ns.transactionline")
    assert (
        one("""SELECT count(*) FROM ns.transaction t JOIN ns.deletedrecord d ON d.recordid = t.id
        AND d.type = t.type""")
        == 0
    )  # NetSuite never reuses a deleted record's id


def test_new_orders_are_drafts_of_active_products(store):
    summary = advance(store)
    cur = store.cursor()
    new = [
        r[0]
        for r in cur.execute(
            'SELECT "Id" FROM sf."Order" WHERE "CreatedDate" > ? ORDER BY 1', [ANCHOR]
        ).fetchall()
    ]
    counts = summary["counts"]
    assert len(new) == counts["new_orders"] + counts.get("opportunity_orders", 0)
    assert set(new) - set(summary["deleted"].get("sf.Order", [])) <= set(
        summary["changed"]["sf.Order"]
    )
    bad = cur.execute(
        """SELECT count(*) FROM sf."OrderItem" i JOIN sf."Product2" p ON p."Id" = i."Product2Id"
        WHERE i."OrderId" IN (SELECT unnest(?)) AND (NOT p."IsActive" OR i."Quantity" <= 0)""",
        [new],
    ).fetchall()[0][0]
    assert bad == 0
    # lines come from the price book entry of the order's currency, at its price unless the
    # order copies a won opportunity's (negotiated) lines
    mismatched = cur.execute(
        """SELECT count(*) FROM sf."OrderItem" i JOIN sf."Order" o ON o."Id" = i."OrderId"
        JOIN sf."PricebookEntry" e ON e."Id" = i."PricebookEntryId"
        WHERE o."Id" IN (SELECT unnest(?)) AND (e."CurrencyIsoCode" <> o."CurrencyIsoCode"
              OR i."CurrencyIsoCode" <> o."CurrencyIsoCode"
              OR (o."OpportunityId" IS NULL AND i."UnitPrice" <> e."UnitPrice"))""",
        [new],
    ).fetchall()[0][0]
    assert mismatched == 0


def test_steps_must_be_positive(store):
    with pytest.raises(ValueError):
        advance(store, steps=0)
