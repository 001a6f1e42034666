"""The incremental probe without the network: its query text and the warehouse's comparison."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from o2c_pipeline.entities import entity
from o2c_pipeline.extract.plan import FetchTuning, probe_table
from o2c_pipeline.extract.runner import extract
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.netsuite.queries import probe_query as suiteql_probe_query
from o2c_pipeline.netsuite.queries import probes_query as suiteql_probes_query
from o2c_pipeline.salesforce.source import SalesforceSource
from o2c_pipeline.warehouse import Warehouse
from o2c_pipeline_tests.test_warehouse import acct, stage

ACCOUNTS, LINES = entity("salesforce.accounts"), entity("netsuite.sales_order_lines")
WINDOW = Window(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3))


class OnePageSalesforce:
    """Answers every query with the same records; counts calls like the resource does."""

    def __init__(self, records: list[dict]) -> None:
        self.records, self.api_calls, self.soql = records, 0, []

    def query_pages(self, soql: str, *, include_deleted: bool = False):
        assert include_deleted
        self.api_calls += 1
        self.soql.append(soql)
        yield self.records

    def count(self, *args, **kwargs) -> int:
        raise AssertionError("a complete probe already counted the window")


def test_a_probe_of_held_versions_ends_the_load_and_a_new_one_fetches_without_count(
    tmp_path: Path,
) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    held = [
        acct("001A", "2024-01-01T10:00:00.000+0000"),
        acct("001B", "2024-01-01T11:00:00.000+0000", deleted=True),
    ]
    wh.commit(stage(tmp_path, ACCOUNTS, held))
    source = OnePageSalesforce(held)
    quiet = extract(
        SalesforceSource(source),
        ACCOUNTS,
        WINDOW,
        tmp_path / "q",
        tuning=FetchTuning(incremental=True),
        all_held=lambda found: wh.holds_all(ACCOUNTS, found, WINDOW),
    )
    assert (quiet.mode, quiet.api_calls, quiet.files) == ("probe", 1, [])
    assert source.soql[0].startswith("SELECT Id, SystemModstamp, IsDeleted FROM Account WHERE")
    # a re-stamp inside the window (same count, same max) is a new identity: fetched, no COUNT()
    source.records = [acct("001A", "2024-01-01T10:30:00.000+0000"), held[1]]
    changed = extract(
        SalesforceSource(source),
        ACCOUNTS,
        WINDOW,
        tmp_path / "c",
        tuning=FetchTuning(incremental=True),
        all_held=lambda found: wh.holds_all(ACCOUNTS, found, WINDOW),
    )
    assert (changed.mode, changed.api_calls, changed.rows) == ("incremental", 2, 2)  # probe + query


def test_the_warehouse_compares_identities_with_deletions_and_groups(
    tmp_path: Path, warehouse_location: str
) -> None:
    wh = Warehouse(warehouse_location)
    assert not wh.holds_all(
        ACCOUNTS, probe_table(ACCOUNTS, ["001A"], ["2024-01-01T10:00:00Z"], [False]), WINDOW
    )
    wh.commit(stage(tmp_path, ACCOUNTS, [acct("001A", "2024-01-01T10:00:00.000+0000")]))
    assert wh.holds_all(ACCOUNTS, probe_table(ACCOUNTS, [], [], []), WINDOW)
    assert wh.holds_all(
        ACCOUNTS, probe_table(ACCOUNTS, ["001A"], ["2024-01-01T10:00:00.000+0000"], [False]), WINDOW
    )
    # the same stamp deleted, or another stamp, is not held
    assert not wh.holds_all(
        ACCOUNTS, probe_table(ACCOUNTS, ["001A"], ["2024-01-01T10:00:00Z"], [True]), WINDOW
    )
    assert not wh.holds_all(
        ACCOUNTS, probe_table(ACCOUNTS, ["001A"], ["2024-01-01T10:00:01Z"], [False]), WINDOW
    )
    line = {"uniquekey": 7, "transaction": 42, "id": 1, "lastmodifieddate": "2024-01-02 08:00:00"}
    wh.commit(stage(tmp_path, LINES, [line]))
    assert wh.holds_all(LINES, probe_table(LINES, ["42"], ["2024-01-02 08:00:00"], [False]), WINDOW)
    assert not wh.holds_all(
        LINES, probe_table(LINES, ["42"], ["2024-01-02 08:00:00"], [True]), WINDOW
    )


def test_the_netsuite_probe_is_one_statement_of_groups_and_deletions() -> None:
    sql = suiteql_probe_query(LINES, WINDOW)
    assert sql.startswith("SELECT DISTINCT tl.transaction AS g, TO_CHAR(t.lastmodifieddate")
    assert " UNION ALL SELECT recordid AS g" in sql and "recordtypeid IN ('salesOrder')" in sql
    assert sql.count("TO_TIMESTAMP('2024-01-01 00:00:00'") == 2
    assert "DISTINCT" not in suiteql_probe_query(entity("netsuite.customers"), WINDOW)


def test_the_netsuite_probes_of_several_entities_are_one_union_naming_each() -> None:
    customers = entity("netsuite.customers")
    sql = suiteql_probes_query([(customers, WINDOW), (LINES, WINDOW)])
    assert sql == " UNION ALL ".join(
        [
            suiteql_probe_query(customers, WINDOW, tag="netsuite.customers"),
            suiteql_probe_query(LINES, WINDOW, tag="netsuite.sales_order_lines"),
        ]
    )
    assert sql.startswith("SELECT 'netsuite.customers' AS e, c.id AS g")
    assert "SELECT DISTINCT 'netsuite.sales_order_lines' AS e, tl.transaction AS g" in sql
    assert "SELECT 'netsuite.sales_order_lines' AS e, recordid AS g" in sql
