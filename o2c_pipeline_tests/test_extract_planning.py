"""Window arithmetic, query text and path choice, with recording fakes of the resources."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from o2c_pipeline.assets.extract import ExtractConfig, plan_window
from o2c_pipeline.entities import ENTITIES, entity
from o2c_pipeline.extract.plan import FetchTuning
from o2c_pipeline.extract.runner import extract
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.netsuite.queries import records_query as suiteql_records_query
from o2c_pipeline.netsuite.source import NetSuiteSource
from o2c_pipeline.salesforce.source import SalesforceSource

UTC = dt.UTC
DAY = Window(dt.datetime(2024, 3, 1, tzinfo=UTC), dt.datetime(2024, 3, 2, tzinfo=UTC))


def test_windows_split_contiguously_at_whole_seconds() -> None:
    parts = DAY.split(7)
    assert parts[0].start == DAY.start and parts[-1].end == DAY.end
    assert all(a.end == b.start for a, b in zip(parts, parts[1:], strict=False))
    assert all(p.start.microsecond == 0 for p in parts) and len(parts) == 7
    assert Window(DAY.start, DAY.start + dt.timedelta(seconds=2)).split(10) == [
        Window(DAY.start, DAY.start + dt.timedelta(seconds=1)),
        Window(DAY.start + dt.timedelta(seconds=1), DAY.start + dt.timedelta(seconds=2)),
    ]


def test_open_partition_loads_from_watermark_minus_lookback() -> None:
    now = dt.datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
    mark = dt.datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    window, incremental = plan_window(DAY, mark, ExtractConfig(), now)
    assert incremental and window == Window(mark - dt.timedelta(minutes=10), DAY.end)
    # a watermark just before midnight re-reads the tail of yesterday too (late committers)
    late = dt.datetime(2024, 2, 29, 23, 55, tzinfo=UTC)
    assert plan_window(DAY, late, ExtractConfig(), now) == (
        Window(late - dt.timedelta(minutes=10), DAY.end),
        True,
    )
    # closed partitions, ranges, stale watermarks and full refreshes fetch the whole window
    assert plan_window(DAY, mark, ExtractConfig(), now + dt.timedelta(days=1)) == (DAY, False)
    assert plan_window(DAY, None, ExtractConfig(), now) == (DAY, False)
    assert plan_window(DAY, mark - dt.timedelta(days=2), ExtractConfig(), now) == (DAY, False)
    assert plan_window(DAY, mark, ExtractConfig(full_refresh=True), now) == (DAY, False)


class FakeSalesforce:
    bulk_threshold_rows = 100

    def __init__(self, total: int) -> None:
        self.total, self.api_calls, self.queries = total, 0, []

    def count(self, sobject: str, where: str = "", *, include_deleted: bool = False) -> int:
        self.api_calls += 1
        self.queries.append(("count", sobject, where, include_deleted))
        return self.total

    def query_pages(self, soql: str, *, include_deleted: bool = False):
        self.api_calls += 1
        self.queries.append(("rest", soql, include_deleted))
        yield [
            {
                "Id": "001X",
                "SystemModstamp": "2024-03-01T00:00:00.000+0000",
                "IsDeleted": True,
                "Name": "Gone",
                "Account": {"Name": "nested values are dropped"},
            }
        ]

    def bulk_query_frames(self, soql: str, *, include_deleted: bool = False):
        self.api_calls += 2
        self.queries.append(("bulk", soql, include_deleted))
        yield pa.table(
            {"Id": ["001Y"], "SystemModstamp": ["2024-03-01T01:00:00.000Z"], "IsDeleted": ["false"]}
        )


def test_salesforce_path_choice_and_boundaries(tmp_path: Path) -> None:
    accounts = entity("salesforce.accounts")
    small = FakeSalesforce(total=5)
    result = extract(SalesforceSource(small), accounts, DAY, tmp_path / "a")
    assert (result.path, result.rows, result.deletes, result.api_calls) == ("rest", 1, 1, 2)
    _, sobject, where, include_deleted = small.queries[0]
    assert (sobject, include_deleted) == ("Account", True)
    assert (
        where == "SystemModstamp >= 2024-03-01T00:00:00Z AND SystemModstamp < 2024-03-02T00:00:00Z"
    )
    big = FakeSalesforce(total=100)
    assert extract(SalesforceSource(big), accounts, DAY, tmp_path / "b").path == "bulk"
    assert big.queries[1][2] is True  # queryAll in Bulk too
    forced = FakeSalesforce(total=5)
    assert (
        extract(
            SalesforceSource(forced),
            accounts,
            DAY,
            tmp_path / "c",
            tuning=FetchTuning(bulk_threshold_rows=1),
        ).path
        == "bulk"
    )
    empty = FakeSalesforce(total=0)
    assert (
        extract(SalesforceSource(empty), accounts, DAY, tmp_path / "d").api_calls == 1
    )  # nothing changed: one call


class FakeSuiteQL:
    """Serves ids 1..n from a pretend table; records every query it answers."""

    def __init__(self, n: int) -> None:
        self.n, self.api_calls, self.queries = n, 0, []

    def suiteql_page(self, q: str, *, limit: int = 1000, offset: int = 0, tally=None) -> dict:
        self.api_calls += 1
        if tally is not None:
            tally.increment()
        self.queries.append((q, limit, offset))
        assert offset + limit <= 100_000, "a page past the SuiteQL ceiling"
        if "COUNT(*)" in q:
            return {"items": [{"links": [], "n": str(self.n)}], "hasMore": False}
        if "deletedrecord" in q:
            return {
                "items": [{"links": [], "id": "5", "lastmodifieddate": "2024-03-01 05:00:00"}],
                "hasMore": False,
            }
        after = int(q.split("c.id > ")[1].split(" ")[0]) if "c.id >" in q else 0
        first = after + offset + 1
        ids = list(range(first, min(self.n, first + limit - 1) + 1))
        items = [
            {"links": [], "id": str(i), "lastmodifieddate": "2024-03-01 00:00:00"} for i in ids
        ]
        return {
            "items": items,
            "hasMore": ids[-1] < self.n if ids else False,
            "totalResults": self.n - after,
        }


def test_netsuite_full_load_pages_id_chunks_by_offset_below_the_ceiling(tmp_path: Path) -> None:
    customers = entity("netsuite.customers")
    fake = FakeSuiteQL(n=250_500)
    result = extract(NetSuiteSource(fake), customers, DAY, tmp_path / "n")
    assert (result.rows, result.deletes) == (250_501, 1)
    pages = [q for q in fake.queries if "ORDER BY c.id" in q[0]]
    # three chunks of one query text each, the later ones starting after the previous chunk's
    # last id; every page below the 100,000-row ceiling
    texts = list(dict.fromkeys(q for q, _, _ in pages))
    assert len(texts) == 3 and " > " not in texts[0].split(" WHERE ")[-1].split("ORDER BY")[0]
    assert "c.id > 100000 ORDER BY" in texts[1] and "c.id > 200000 ORDER BY" in texts[2]
    offsets = sorted(offset for q, _, offset in pages if q == texts[1])
    assert offsets == list(range(0, 100_000, 1000))
    # no sizing COUNT: ceil(rows / 1000) record pages plus the deletes page
    assert not any("COUNT(*)" in q for q, _, _ in fake.queries)
    assert result.api_calls == 251 + 1


def test_suiteql_selects_stamps_with_to_char_and_filters_half_open() -> None:
    q = suiteql_records_query(entity("netsuite.sales_order_lines"), DAY)
    assert "TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodifieddate" in q
    assert "t.lastmodifieddate >= TO_TIMESTAMP('2024-03-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')" in q
    assert "t.lastmodifieddate < TO_TIMESTAMP('2024-03-02 00:00:00', 'YYYY-MM-DD HH24:MI:SS')" in q
    assert "tl.mainline = 'F'" in q and " > " not in q


def test_every_entity_is_declared_consistently() -> None:
    assert len({e.table for e in ENTITIES}) == 19
    for e in ENTITIES:
        names = e.column_names
        assert len(names) == len(set(names)), e.table
        assert {e.key, e.cursor, e.group_column} <= set(names), e.table
        assert e.column(e.cursor).type == "TIMESTAMP"
        # exchange rates are not recorded in deletedrecord (see entities.py)
        no_delete_source = e.table == "netsuite.currency_rates"
        assert (e.deleted_flag is not None) or e.deleted_record_types or no_delete_source, (
            f"{e.table} has no delete source"
        )


def test_an_entity_of_several_record_types_reads_its_deletions_in_one_query(
    tmp_path: Path,
) -> None:
    items = entity("netsuite.items")
    fake = FakeSuiteQL(n=10)
    result = extract(NetSuiteSource(fake), items, DAY, tmp_path / "i")
    deletes = [q for q, _, _ in fake.queries if "FROM deletedrecord" in q]
    assert len(deletes) == 1, deletes
    assert "recordtypeid IN (" in deletes[0]
    assert all(f"'{t}'" in deletes[0] for t in items.deleted_record_types)
    assert result.api_calls == 2  # the one records page and the one deletions page


class FakeColumns:
    """SuiteQL over one table that refuses one column by name, as NetSuite does."""

    def __init__(self, refused: str) -> None:
        self.refused, self.probes = refused, []

    def suiteql_page(self, q: str, *, limit: int = 1000, offset: int = 0, tally=None) -> dict:
        from o2c_pipeline.netsuite.errors import NetSuiteApiError

        self.probes.append(q)
        if f" AS {self.refused}" in q:
            raise NetSuiteApiError(
                400, "INVALID_PARAMETER", f"Field '{self.refused}' for record 'x' was not found."
            )
        return {"items": [], "hasMore": False}


def test_entities_reading_one_table_share_its_column_verdicts(tmp_path: Path) -> None:
    import dataclasses

    from o2c_pipeline.entities import Column
    from o2c_pipeline.extract.columns import ColumnVerdicts
    from o2c_pipeline.netsuite.fields import queryable
    from o2c_pipeline.resources.checkpoints import CheckpointStore

    verdicts = ColumnVerdicts(CheckpointStore(url=f"sqlite:///{tmp_path / 'c.sqlite'}"))
    orders, invoices = entity("netsuite.sales_orders"), entity("netsuite.invoices")
    assert orders.source == invoices.source
    extra = [Column("total", "DOUBLE", core=False), Column("shipdate", "DATE", core=False)]
    fake = FakeColumns(refused="total")
    first = queryable(fake, orders, [*orders.columns, *extra], verdicts)
    assert "total" not in first and "shipdate" in first
    sent = len(fake.probes)
    assert sent == 2  # refused naming the column, then taken without it
    # the invoices read the same table: nothing left to try for the same columns
    second = queryable(fake, invoices, [*invoices.columns, *extra], verdicts)
    assert "total" not in second and "shipdate" in second
    assert len(fake.probes) == sent + 1  # only the invoices' own core columns were unknown
    third = queryable(fake, dataclasses.replace(invoices), [*invoices.columns, *extra], verdicts)
    assert third == second and len(fake.probes) == sent + 1
