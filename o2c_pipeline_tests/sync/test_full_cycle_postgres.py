"""The full cycle on the PostgreSQL warehouse (a fresh database on 127.0.0.1:5432, a private
sandbox): the history cycle brings both systems in line as on DuckDB, a second cycle makes zero
writes (exactly once), and every ``_current`` table holds exactly the sandbox's records.

One history cycle plus a quiet one (about the cost of ``make run``); the DuckDB module
(:mod:`.test_full_cycle`) covers the further cycles, which do not depend on the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from o2c_pipeline.resources.factory import build_resources
from o2c_pipeline.warehouse import open_warehouse
from o2c_pipeline_tests.sync import test_full_cycle as on_duckdb
from o2c_pipeline_tests.sync.test_full_cycle import (
    HISTORY_DAYS,
    Cycle,
    PrivateWorld,
    _private_world,
    end_state,
)
from o2c_sandbox.core import Knobs

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres_run(
    tmp_path_factory, postgres_server
) -> Iterator[tuple[PrivateWorld, dict, Cycle, Cycle]]:
    gen = _private_world(tmp_path_factory.mktemp("pg"), Knobs(), postgres_server.database())
    world = next(gen)
    first = world.cycle(days=HISTORY_DAYS)
    second = world.cycle(days=0)
    yield world, end_state(world), first, second
    gen.close()


def test_on_postgres_a_full_cycle_brings_both_systems_in_line(postgres_run) -> None:
    world, state, first, second = postgres_run
    assert world.env["O2C_WAREHOUSE"].startswith("postgresql+psycopg2://")
    on_duckdb.test_a_full_cycle_brings_both_systems_in_line((state, first, second))


def test_on_postgres_a_second_cycle_makes_zero_writes(postgres_run) -> None:
    _, _, first, second = postgres_run
    assert first.writes > 0
    assert second.success and second.writes == 0


#: (warehouse table, key column, the sandbox's query of the same records: key, stamp)
SALESFORCE = {
    "salesforce.accounts_current": "SELECT Id, SystemModstamp FROM Account",
    "salesforce.orders_current": "SELECT Id, SystemModstamp FROM Order",
    "salesforce.order_items_current": "SELECT Id, SystemModstamp FROM OrderItem",
    "salesforce.opportunities_current": "SELECT Id, SystemModstamp FROM Opportunity",
}
NETSUITE = {
    "netsuite.customers_current": "SELECT id, lastmodifieddate FROM customer",
    "netsuite.sales_orders_current": (
        "SELECT id, lastmodifieddate FROM transaction WHERE type = 'SalesOrd'"
    ),
    "netsuite.invoices_current": (
        "SELECT id, lastmodifieddate FROM transaction WHERE type = 'CustInvc'"
    ),
}


def _ids(rows: Any) -> set[str]:
    return {str(r) for r in rows}


def test_on_postgres_the_current_tables_equal_the_sandboxs_records(postgres_run) -> None:
    """After the quiet cycle (which wrote nothing), each ``_current`` table holds one row per
    record the sandbox has, with the record's own modification stamp."""
    world, _, _, second = postgres_run
    assert second.writes == 0
    warehouse = open_warehouse(world.env["O2C_WAREHOUSE"])
    with dg.build_resources(build_resources(world.env)) as live:
        for table, soql in SALESFORCE.items():
            source = {
                (r["Id"], r["SystemModstamp"][:19].replace("T", " "))
                for page in live.salesforce.query_pages(soql)
                for r in page
            }
            held = {
                (i, str(stamp)[:19])
                for i, stamp in warehouse.query(f'SELECT "Id", "SystemModstamp" FROM {table}')
            }
            assert source and held == source, table
        for table, suiteql in NETSUITE.items():
            source = _ids(r["id"] for page in live.netsuite.suiteql_pages(suiteql) for r in page)
            held = _ids(i for (i,) in warehouse.query(f"SELECT id FROM {table}"))
            assert source and held == source, table
