"""The synthetic world: deterministic, consistent across both systems, dirty where real orgs are,
and with the time spread and stamp ties that catch delta-load boundary bugs."""

from __future__ import annotations

import datetime as dt
import re
import time

import duckdb
import pytest

from o2c_sandbox.core import Store
from o2c_sandbox.schema import NS_STATUSES, NS_TABLES, SF_OBJECTS
from o2c_sandbox.world import HISTORY_DAYS, SCALES, build_world

ANCHOR = dt.datetime(2025, 3, 14, 15, 0, 0)
WINDOW_START = ANCHOR - dt.timedelta(days=HISTORY_DAYS)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("world") / "world.duckdb")
    build_world(store, scale="small", seed=42, anchor=ANCHOR)
    yield store
    store.close()


@pytest.fixture
def cur(store) -> duckdb.DuckDBPyConnection:
    return store.cursor()


def one(cur: duckdb.DuckDBPyConnection, sql: str) -> object:
    return cur.execute(sql).fetchall()[0][0]


def table_contents(store: Store) -> dict[str, list[tuple]]:
    cur = store.cursor()
    out = {
        f"sf.{o}": cur.execute(f'SELECT * FROM sf."{o}" ORDER BY "Id"').fetchall()
        for o in SF_OBJECTS
    }
    for name, table in NS_TABLES.items():
        keys = ", ".join(f'"{k}"' for k in table.primary_key)
        out[f"ns.{name}"] = cur.execute(f'SELECT * FROM ns."{name}" ORDER BY {keys}').fetchall()
    return out


def case_safe_suffix(id15: str) -> str:
    """Salesforce's 15 -> 18 character checksum: one letter per 5-char chunk, bit i = uppercase."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    return "".join(
        alphabet[sum(1 << i for i, ch in enumerate(id15[c : c + 5]) if ch.isupper())]
        for c in (0, 5, 10)
    )


# -- determinism and shape ---------------------------------------------------------------------


def test_same_seed_gives_identical_world_and_another_seed_does_not(store, tmp_path):
    again = Store(tmp_path / "again.duckdb")
    build_world(again, scale="small", seed=42, anchor=ANCHOR)
    other = Store(tmp_path / "other.duckdb")
    build_world(other, scale="small", seed=7, anchor=ANCHOR)
    expected = table_contents(store)
    assert table_contents(again) == expected
    other_contents = table_contents(other)
    assert other_contents["sf.Account"] != expected["sf.Account"]
    assert other_contents["ns.transaction"] != expected["ns.transaction"]


def test_rebuilding_replaces_the_world(store, tmp_path):
    box = Store(tmp_path / "twice.duckdb")
    first = build_world(box, scale="small", seed=1, anchor=ANCHOR)
    second = build_world(box, scale="small", seed=1, anchor=ANCHOR)
    assert first == second


def test_meta_and_small_scale_sizes(store, cur):
    assert store.get_meta("scale") == "small"
    assert store.get_meta("seed") == "42"
    assert store.get_meta("anchor") == ANCHOR.isoformat()
    assert store.get_meta("built_at") is not None
    small = SCALES["small"]
    assert one(cur, 'SELECT count(*) FROM sf."Account"') == small.accounts
    assert one(cur, 'SELECT count(*) FROM sf."Order"') == small.orders
    assert one(cur, "SELECT count(*) FROM ns.item") == small.items
    # more than one default query page (2000 rows) so paging is exercised
    assert one(cur, 'SELECT count(*) FROM sf."OrderItem"') > 2000
    assert one(cur, "SELECT count(*) FROM ns.transactionline") > 2000


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown scale"):
        build_world(Store(tmp_path / "x.duckdb"), scale="huge")


def test_salesforce_ids_are_valid_case_safe_18_char_ids(cur):
    for name, obj in SF_OBJECTS.items():
        ids = [r[0] for r in cur.execute(f'SELECT "Id" FROM sf."{name}"').fetchall()]
        assert ids, name
        pattern = re.compile(rf"^{re.escape(obj.key_prefix)}\d{{12}}[A-Z0-5]{{3}}$")
        for sf_id in ids:
            assert pattern.match(sf_id), sf_id
            assert sf_id[15:] == case_safe_suffix(sf_id[:15]), sf_id
    assert (
        one(
            cur,
            """SELECT count(*) FROM sf."Order" WHERE NOT regexp_full_match("OrderNumber", '\\d{8}')""",
        )
        == 0
    )
    assert (
        one(
            cur,
            """SELECT count(*) FROM sf."OrderItem" WHERE NOT regexp_full_match("OrderItemNumber", '\\d{10}')""",
        )
        == 0
    )
    assert one(cur, 'SELECT count(DISTINCT "OrderNumber") = count(*) FROM sf."Order"')


# -- cross-system consistency ------------------------------------------------------------------


def test_linked_accounts_point_at_their_customers(cur):
    linked, total = cur.execute(
        'SELECT count("NetSuite_Customer_ID__c"), count(*) FROM sf."Account"'
    ).fetchall()[0]
    assert 0.6 < linked / total < 0.8
    broken = one(
        cur,
        """
        SELECT count(*) FROM sf."Account" a
        LEFT JOIN ns.customer c ON c.id::VARCHAR = a."NetSuite_Customer_ID__c"
        WHERE a."NetSuite_Customer_ID__c" IS NOT NULL
          AND (c.id IS NULL OR c.externalid IS DISTINCT FROM 'SF_ACCT_' || a."Id"
               OR c.companyname IS DISTINCT FROM left(a."Name", 83))""",
    )
    assert broken == 0
    assert one(cur, "SELECT count(*) FROM ns.customer WHERE externalid IS NULL") > 0  # ERP-only
    assert one(cur, "SELECT max(length(companyname)) FROM ns.customer") <= 83


def test_accounts_with_orders_are_customers(cur):
    wrong = one(
        cur,
        """
        SELECT count(*) FROM sf."Account" a
        WHERE EXISTS (SELECT 1 FROM sf."Order" o WHERE o."AccountId" = a."Id" AND NOT o."IsDeleted")
          AND a."Type" <> 'Customer'""",
    )
    assert wrong == 0


def test_items_are_mirrored_as_products_with_a_standard_price_book(cur):
    assert (
        one(
            cur,
            "SELECT count(*) FROM ns.item WHERE itemid IS DISTINCT FROM coalesce(externalid, itemid) "
            "OR NOT regexp_full_match(itemid, 'SKU-\\d{5}')",
        )
        == 0
    )
    inactive = one(cur, "SELECT avg((isinactive = 'T')::INT) FROM ns.item")
    assert 0.01 <= inactive <= 0.12
    mismatched = one(
        cur,
        """
        SELECT count(*) FROM sf."Product2" p JOIN ns.item i ON i.id::VARCHAR = p."NetSuite_Item_ID__c"
        WHERE p."ProductCode" <> i.itemid OR p."IsActive" <> (i.isinactive = 'F')""",
    )
    assert mismatched == 0
    mirrored = one(
        cur, 'SELECT count(*) FROM sf."Product2" WHERE "NetSuite_Item_ID__c" IS NOT NULL'
    )
    assert mirrored >= 0.9 * one(cur, "SELECT count(*) FROM ns.item")
    unknown = one(
        cur,
        'SELECT count(*) FROM sf."Product2" WHERE "ProductCode" NOT IN (SELECT itemid FROM ns.item)',
    )
    assert unknown >= 3
    assert one(cur, 'SELECT count(*) FROM sf."Pricebook2" WHERE "IsStandard"') == 1
    assert (
        one(
            cur,
            """SELECT count(*) FROM sf."Product2" p WHERE NOT EXISTS (
        SELECT 1 FROM sf."PricebookEntry" e JOIN sf."Pricebook2" b ON b."Id" = e."Pricebook2Id"
        WHERE e."Product2Id" = p."Id" AND b."IsStandard")""",
        )
        == 0
    )


def test_orders_exist_at_every_stage(cur):
    stages = dict(
        cur.execute("""
        SELECT CASE WHEN "Status" IN ('Draft', 'Cancelled') THEN 'draft'
                    WHEN "NetSuite_Sales_Order_ID__c" IS NULL THEN 'activated, not synced'
                    WHEN "Status" = 'Shipped' THEN 'shipped (reflected)'
                    ELSE 'synced' END, count(*)
        FROM sf."Order" GROUP BY 1""").fetchall()
    )
    assert set(stages) == {"draft", "activated, not synced", "shipped (reflected)", "synced"}
    ns_stages = {
        (t, s)
        for t, s in cur.execute("SELECT DISTINCT type, status FROM ns.transaction").fetchall()
    }
    for expected in [
        ("SalesOrd", "B"),
        ("SalesOrd", "F"),
        ("SalesOrd", "G"),
        ("ItemShip", "C"),
        ("CustInvc", "A"),
        ("CustInvc", "B"),
        ("CustCred", "A"),
        ("CustPymt", "C"),
    ]:
        assert expected in ns_stages
    assert one(cur, "SELECT count(*) FROM ns.transaction WHERE type = 'CustRfnd'") > 0
    for tx_type, status in ns_stages:
        assert status is None and tx_type == "CustRfnd" or status in NS_STATUSES[tx_type], (
            tx_type,
            status,
        )


def test_sales_orders_mirror_their_salesforce_orders(cur):
    assert (
        one(
            cur,
            """
        SELECT count(*) FROM sf."Order" o
        JOIN sf."Account" a ON a."Id" = o."AccountId"
        LEFT JOIN ns.transaction so ON so.id::VARCHAR = o."NetSuite_Sales_Order_ID__c" AND so.type = 'SalesOrd'
        WHERE o."NetSuite_Sales_Order_ID__c" IS NOT NULL
          AND (so.id IS NULL OR so.externalid <> 'SF_ORDER_' || o."Id" OR so.otherrefnum <> o."OrderNumber"
               OR so.entity::VARCHAR <> a."NetSuite_Customer_ID__c"
               OR abs(so.foreigntotal - o."TotalAmount") > 0.005)""",
        )
        == 0
    )
    # every sales order belongs to a Salesforce order, even where the id was not written back
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction so WHERE so.type = 'SalesOrd'
        AND NOT EXISTS (SELECT 1 FROM sf."Order" o WHERE so.externalid = 'SF_ORDER_' || o."Id")""",
        )
        == 0
    )
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction so WHERE type = 'SalesOrd' AND NOT EXISTS (
        SELECT 1 FROM sf."Order" o WHERE o."NetSuite_Sales_Order_ID__c" = so.id::VARCHAR)""",
        )
        > 0
    )
    # item lines: (item, -quantity, rate, -amount) as a multiset, order by order
    mismatched = one(
        cur,
        """
        WITH sf_lines AS (
            SELECT 'SF_ORDER_' || oi."OrderId" AS ext, p."NetSuite_Item_ID__c"::BIGINT AS item,
                   -oi."Quantity" AS quantity, oi."UnitPrice" AS rate, -oi."TotalPrice" AS amount
            FROM sf."OrderItem" oi JOIN sf."Product2" p ON p."Id" = oi."Product2Id"
            WHERE 'SF_ORDER_' || oi."OrderId" IN (SELECT externalid FROM ns.transaction WHERE type = 'SalesOrd')),
        ns_lines AS (
            SELECT t.externalid AS ext, l.item, l.quantity, l.rate, l.foreignamount AS amount
            FROM ns.transactionline l JOIN ns.transaction t ON t.id = l.transaction
            WHERE t.type = 'SalesOrd' AND l.mainline = 'F')
        SELECT count(*) FROM ((SELECT * FROM sf_lines EXCEPT ALL SELECT * FROM ns_lines)
                              UNION ALL (SELECT * FROM ns_lines EXCEPT ALL SELECT * FROM sf_lines))""",
    )
    assert mismatched == 0
    assert (
        one(
            cur,
            "SELECT count(*) FROM ns.transactionline l JOIN ns.transaction t ON t.id = l.transaction "
            "WHERE t.type = 'SalesOrd' AND l.mainline = 'F' AND (l.quantity >= 0 OR l.foreignamount >= 0)",
        )
        == 0
    )


def test_transaction_lines_have_one_mainline_and_unique_keys(cur):
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction t WHERE
        (SELECT count(*) FROM ns.transactionline l WHERE l.transaction = t.id AND l.mainline = 'T') <> 1""",
        )
        == 0
    )
    assert one(cur, "SELECT count(DISTINCT uniquekey) = count(*) FROM ns.transactionline")


def test_fulfilment_billing_and_payment_chain_is_consistent(cur):
    # fulfilments and invoices come from sales orders, with their links
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction t
        LEFT JOIN ns.transaction so ON so.id = t.createdfrom AND so.type = 'SalesOrd'
        LEFT JOIN ns.previoustransactionlink k ON k.previousdoc = so.id AND k.nextdoc = t.id
             AND k.linktype = CASE t.type WHEN 'ItemShip' THEN 'OrdFul' ELSE 'OrdBill' END
        WHERE t.type IN ('ItemShip', 'CustInvc') AND (so.id IS NULL OR k.nextdoc IS NULL)""",
        )
        == 0
    )
    assert (
        one(
            cur,
            "SELECT count(*) FROM ns.transaction WHERE type = 'ItemShip' AND trackingnumbers IS NULL",
        )
        == 0
    )
    # invoice amounts add up, and the payments linked to each invoice are what it says was paid
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction WHERE type = 'CustInvc' AND (
        abs(foreignamountpaid + foreignamountunpaid - foreigntotal) > 0.005 OR duedate IS NULL
        OR (status = 'B') <> (foreignamountunpaid = 0))""",
        )
        == 0
    )
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction i WHERE i.type = 'CustInvc' AND abs(i.foreignamountpaid
        - coalesce((SELECT sum(p.foreigntotal) FROM ns.previoustransactionlink k JOIN ns.transaction p ON p.id = k.nextdoc
                    WHERE k.previousdoc = i.id AND k.linktype = 'Payment'), 0)) > 0.005""",
        )
        == 0
    )
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction i WHERE type = 'CustInvc'
        AND foreignamountpaid > 0 AND foreignamountunpaid > 0""",
        )
        > 0
    )  # partly paid


def test_salesforce_reflects_some_netsuite_progress_but_not_all(cur):
    shipped = cur.execute("""
        SELECT count(*), count(*) FILTER (WHERE f.trackingnumbers = o."Tracking_Number__c")
        FROM sf."Order" o JOIN ns.transaction f ON f.createdfrom::VARCHAR = o."NetSuite_Sales_Order_ID__c"
             AND f.type = 'ItemShip'
        WHERE o."Status" = 'Shipped'""").fetchall()[0]
    assert shipped[0] > 0 and shipped[0] == shipped[1]
    assert (
        one(
            cur,
            """SELECT count(*) FROM sf."Order" o JOIN ns.transaction f
        ON f.createdfrom::VARCHAR = o."NetSuite_Sales_Order_ID__c" AND f.type = 'ItemShip'
        WHERE o."Status" = 'Activated'""",
        )
        > 0
    )  # shipped in NetSuite, not yet in Salesforce
    assert (
        one(
            cur,
            """SELECT count(*) FROM sf."Invoice__c" v LEFT JOIN ns.transaction i
        ON i.id::VARCHAR = v."NetSuite_Invoice_ID__c" AND i.type = 'CustInvc'
        WHERE i.id IS NULL OR v."Amount__c" <> i.foreigntotal""",
        )
        == 0
    )
    assert (
        one(
            cur,
            """SELECT count(*) FROM ns.transaction i WHERE type = 'CustInvc' AND NOT EXISTS (
        SELECT 1 FROM sf."Invoice__c" v WHERE v."NetSuite_Invoice_ID__c" = i.id::VARCHAR)""",
        )
        > 0
    )
    stale = one(
        cur,
        """SELECT count(*) FROM sf."Invoice__c" v JOIN ns.transaction i
        ON i.id::VARCHAR = v."NetSuite_Invoice_ID__c" WHERE v."Amount_Paid__c" < i.foreignamountpaid""",
    )
    assert stale > 0  # payment status a sync still has to push
    assert one(cur, 'SELECT count(DISTINCT "Payment_Status__c") FROM sf."Invoice__c"') == 3
    totals = one(
        cur,
        """SELECT count(*) FROM sf."Order" o WHERE abs(o."TotalAmount" - (
        SELECT sum("TotalPrice") FROM sf."OrderItem" i WHERE i."OrderId" = o."Id")) > 0.005""",
    )
    assert totals == 0


# -- dirty data --------------------------------------------------------------------------------


def test_dirty_data_real_orgs_have(cur):
    accounts = one(cur, 'SELECT count(*) FROM sf."Account"')

    def share(where: str) -> float:
        return one(cur, f'SELECT count(*) FROM sf."Account" WHERE {where}') / accounts

    assert 0.005 < share('length("Name") > 83') < 0.1
    countries = {
        r[0] for r in cur.execute('SELECT DISTINCT "BillingCountry" FROM sf."Account"').fetchall()
    }
    assert {"United States", "Deutschland", "U.K.", "US", "DE", "GB"} <= countries
    assert share(""""Name" LIKE '%''%' OR "Name" LIKE '%"%'""") > 0
    assert share(""""Name" LIKE '%\\%'""") > 0
    assert share("""regexp_matches("Name", '[^\\x00-\\x7F]')""") > 0
    assert share("""regexp_matches("Name", '[\\x{1F300}-\\x{1FAFF}]')""") > 0  # emoji
    assert (
        share("""length("BillingStreet") - length(replace("BillingStreet", chr(10), '')) = 2""") > 0
    )
    assert share('"BillingStreet" IS NULL AND "BillingCountry" IS NULL') > 0
    activated_lines = """FROM sf."OrderItem" i JOIN sf."Order" o ON o."Id" = i."OrderId"
                         JOIN sf."Product2" p ON p."Id" = i."Product2Id" WHERE o."Status" = 'Activated'"""
    assert (
        one(
            cur,
            f'SELECT count(*) {activated_lines} AND p."ProductCode" NOT IN (SELECT itemid FROM ns.item)',
        )
        > 0
    )
    assert one(cur, f'SELECT count(*) {activated_lines} AND NOT p."IsActive"') > 0
    assert one(cur, 'SELECT count(*) FROM sf."OrderItem" WHERE "Quantity" < 0') > 0


def test_soft_deleted_and_deleted_records(cur):
    for obj in ("Contact", "Order", "OrderItem"):
        assert one(cur, f'SELECT count(*) FROM sf."{obj}" WHERE "IsDeleted"') > 0, obj
    assert (
        one(
            cur,
            """SELECT count(*) FROM sf."OrderItem" i JOIN sf."Order" o ON o."Id" = i."OrderId"
                       WHERE o."IsDeleted" <> i."IsDeleted" """,
        )
        == 0
    )
    kinds = {
        r[0] for r in cur.execute("SELECT DISTINCT recordtypeid FROM ns.deletedrecord").fetchall()
    }
    assert {"customer", "salesOrder"} <= kinds
    assert (
        one(
            cur,
            "SELECT count(*) FROM ns.deletedrecord d JOIN ns.customer c ON c.id = d.recordid "
            "WHERE d.recordtypeid = 'customer'",
        )
        == 0
    )


# -- time --------------------------------------------------------------------------------------


def test_stamps_are_ordered_and_spread_over_the_history_window(cur):
    for obj in SF_OBJECTS:
        lo, hi, disordered = cur.execute(f"""
            SELECT min("LastModifiedDate"), max("SystemModstamp"),
                   count(*) FILTER (WHERE NOT ("CreatedDate" <= "LastModifiedDate"
                                               AND "LastModifiedDate" <= "SystemModstamp"))
            FROM sf."{obj}" """).fetchall()[0]
        assert disordered == 0, obj
        assert WINDOW_START <= lo and hi <= ANCHOR, obj
    for table, column in [
        ("customer", "lastmodifieddate"),
        ("item", "lastmodifieddate"),
        ("transaction", "lastmodifieddate"),
        ("deletedrecord", "deleteddate"),
    ]:
        lo, hi = cur.execute(f"SELECT min({column}), max({column}) FROM ns.{table}").fetchall()[0]
        assert WINDOW_START <= lo and hi <= ANCHOR, table
    lo, hi = cur.execute(
        'SELECT min("SystemModstamp"), max("SystemModstamp") FROM sf."OrderItem"'
    ).fetchall()[0]
    assert hi - lo > dt.timedelta(days=100)
    assert one(cur, "SELECT count(*) FROM ns.transaction WHERE createddate > lastmodifieddate") == 0


def test_stamps_tie_and_sit_on_midnight_boundaries(cur):
    for obj in ("Account", "Order", "OrderItem"):
        biggest_tie = one(
            cur, f'SELECT max(n) FROM (SELECT count(*) n FROM sf."{obj}" GROUP BY "SystemModstamp")'
        )
        assert biggest_tie >= 5, obj
        midnight = one(
            cur,
            f"""SELECT count(*) FROM sf."{obj}" WHERE "SystemModstamp" = date_trunc('day', "SystemModstamp")""",
        )
        assert midnight > 0, obj
    assert (
        one(
            cur,
            "SELECT max(n) FROM (SELECT count(*) n FROM ns.transaction GROUP BY lastmodifieddate)",
        )
        >= 5
    )
    assert (
        one(
            cur,
            "SELECT count(*) FROM ns.transaction WHERE lastmodifieddate = date_trunc('day', lastmodifieddate)",
        )
        > 0
    )


# -- large -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_large_world_builds_in_under_two_minutes(tmp_path):
    store = Store(tmp_path / "large.duckdb")
    started = time.perf_counter()
    counts = build_world(store, scale="large", seed=42)
    elapsed = time.perf_counter() - started
    print(f"large world: {elapsed:.1f}s, {counts}")
    assert elapsed < 120
    assert counts["ns.transactionline"] >= 1_000_000
    assert counts["sf.OrderItem"] >= 1_000_000
    assert counts["sf.Order"] == SCALES["large"].orders
    store.close()
