"""The warehouse's write semantics, on staged files built by hand (no network), on both backends
(DuckDB and a fresh PostgreSQL database; SQL here is the dialect both speak)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from o2c_pipeline.entities import entity
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.extract.staging import Stager, normalize_records
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.warehouse import Warehouse, open_warehouse

ACCOUNTS = entity("salesforce.accounts")
LINES = entity("netsuite.sales_order_lines")
WINDOW = Window(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3))


def stage(tmp_path: Path, ent, records: list[dict], *, deleted: bool = False) -> Extraction:
    stager = Stager(
        tmp_path / "stage" / str(len(list((tmp_path).glob("stage/*")))), ent.column_names
    )
    with stager.open() as out:
        out.write(normalize_records(records, ent.column_names, deleted=deleted))
    return Extraction(
        ent,
        WINDOW,
        stager.written_files,
        "rest",
        stager.stats.rows,
        stager.stats.deletes,
        1,
        1,
        0.0,
        False,
    )


def acct(id_: str, stamp: str, name: str = "Acme", deleted: bool = False) -> dict:
    return {"Id": id_, "SystemModstamp": stamp, "Name": name, "IsDeleted": deleted}


#: every column of the versions but the load time, in a fixed order
VERSIONS_BUT_LOADED_AT = (
    "SELECT "
    + ", ".join(f'"{c}"' for c in (*ACCOUNTS.column_names, "_deleted", "_partition"))
    + ' FROM salesforce.accounts ORDER BY "Id", "SystemModstamp"'
)


def rows(wh: Warehouse, sql: str) -> list[tuple]:
    return [tuple(r) for r in wh.query(sql)]


def test_versions_are_upserted_and_rerun_is_idempotent(
    tmp_path: Path, warehouse_location: str
) -> None:
    wh = open_warehouse(warehouse_location)
    first = stage(
        tmp_path,
        ACCOUNTS,
        [
            acct("001A", "2024-01-01T10:00:00.000+0000"),
            acct("001B", "2024-01-01T11:00:00.000+0000"),
        ],
    )
    assert wh.commit(first).new_versions == 2
    # a later full fetch of the day sees only the newest state of 001A: the earlier version stays
    second = stage(
        tmp_path,
        ACCOUNTS,
        [
            acct("001A", "2024-01-01T14:00:00.000+0000", "Acme 2"),
            acct("001B", "2024-01-01T11:00:00.000+0000"),
        ],
    )
    result = wh.commit(second)
    assert (result.new_versions, result.table_rows, result.current_rows) == (1, 3, 2)
    before = rows(wh, VERSIONS_BUT_LOADED_AT)
    again = wh.commit(
        stage(
            tmp_path,
            ACCOUNTS,
            [
                acct("001A", "2024-01-01T14:00:00.000+0000", "Acme 2"),
                acct("001B", "2024-01-01T11:00:00.000+0000"),
            ],
        )
    )
    assert again.new_versions == 0
    assert rows(wh, VERSIONS_BUT_LOADED_AT) == before
    assert rows(
        wh, 'SELECT "Id", "Name", "SystemModstamp" FROM salesforce.accounts_current ORDER BY 1'
    ) == [
        ("001A", "Acme 2", dt.datetime(2024, 1, 1, 14)),
        ("001B", "Acme", dt.datetime(2024, 1, 1, 11)),
    ]
    assert result.max_stamp == dt.datetime(2024, 1, 1, 14)


def test_deletes_apply_and_out_of_order_backfills_stay_correct(
    tmp_path: Path, warehouse_location: str
) -> None:
    wh = open_warehouse(warehouse_location)
    # the later partition (with the delete) lands first, then the older one is backfilled
    wh.commit(stage(tmp_path, ACCOUNTS, [acct("001A", "2024-01-02T09:00:00.000Z", deleted=True)]))
    wh.commit(
        stage(
            tmp_path,
            ACCOUNTS,
            [acct("001A", "2024-01-01T09:00:00.000Z"), acct("001B", "2024-01-01T09:00:00.000Z")],
        )
    )
    assert rows(wh, 'SELECT "Id" FROM salesforce.accounts_current') == [("001B",)]
    assert rows(
        wh, "SELECT count(*), count(*) FILTER (WHERE _deleted) FROM salesforce.accounts"
    ) == [(3, 1)]
    assert rows(wh, "SELECT DISTINCT _partition FROM salesforce.accounts ORDER BY 1") == [
        (dt.date(2024, 1, 1),),
        (dt.date(2024, 1, 2),),
    ]


def test_line_snapshots_and_parent_deletes(tmp_path: Path, warehouse_location: str) -> None:
    wh = open_warehouse(warehouse_location)

    def line(key: int, stamp: str) -> dict:
        return {
            "uniquekey": str(key),
            "transaction": "7",
            "id": str(key),
            "lastmodifieddate": stamp,
            "quantity": "-2",
            "netamount": "-20.5",
        }

    wh.commit(
        stage(tmp_path, LINES, [line(1, "2024-01-01 10:00:00"), line(2, "2024-01-01 10:00:00")])
    )
    # the order is saved again without line 2: only line 1 is current
    wh.commit(stage(tmp_path, LINES, [line(1, "2024-01-01 12:00:00")]))
    assert rows(wh, "SELECT uniquekey, quantity FROM netsuite.sales_order_lines_current") == [
        (1, -2.0)
    ]
    # the sales order is deleted (deletedrecord gives the transaction id only)
    wh.commit(
        stage(
            tmp_path,
            LINES,
            [{"transaction": "7", "lastmodifieddate": "2024-01-02 08:00:00"}],
            deleted=True,
        )
    )
    assert rows(wh, "SELECT count(*) FROM netsuite.sales_order_lines_current") == [(0,)]


def test_a_failed_write_leaves_the_old_partition_intact(
    tmp_path: Path, monkeypatch, warehouse_location: str
) -> None:
    wh = open_warehouse(warehouse_location)
    wh.commit(stage(tmp_path, ACCOUNTS, [acct("001A", "2024-01-01T10:00:00Z")]))
    before = rows(wh, 'SELECT * FROM salesforce.accounts ORDER BY "Id", "SystemModstamp"')
    current_before = rows(wh, 'SELECT * FROM salesforce.accounts_current ORDER BY "Id"')

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Warehouse, "_refresh_current", staticmethod(boom))
    with pytest.raises(RuntimeError, match="disk full"):
        wh.commit(
            stage(
                tmp_path,
                ACCOUNTS,
                [
                    acct("001A", "2024-01-01T10:00:00Z", "Changed"),
                    acct("001C", "2024-01-01T12:00:00Z"),
                ],
            )
        )
    assert rows(wh, 'SELECT * FROM salesforce.accounts ORDER BY "Id", "SystemModstamp"') == before
    assert rows(wh, 'SELECT * FROM salesforce.accounts_current ORDER BY "Id"') == current_before
    # a value the declared type cannot hold fails the load the same way
    monkeypatch.undo()
    with pytest.raises(Exception, match="(?i)conver|cast|invalid input"):
        wh.commit(stage(tmp_path, ACCOUNTS, [acct("001D", "not a timestamp")]))
    assert rows(wh, 'SELECT * FROM salesforce.accounts ORDER BY "Id", "SystemModstamp"') == before


def test_a_new_declared_column_is_added(tmp_path: Path, warehouse_location: str) -> None:
    import dataclasses

    from o2c_pipeline.entities import Column

    wh = open_warehouse(warehouse_location)
    wh.commit(stage(tmp_path, ACCOUNTS, [acct("001A", "2024-01-01T10:00:00Z")]))
    wider = dataclasses.replace(
        ACCOUNTS, columns=ACCOUNTS.columns + (Column("Tier__c", "INTEGER"),)
    )
    wh.commit(stage(tmp_path, wider, [{**acct("001A", "2024-01-01T11:00:00Z"), "Tier__c": 3}]))
    assert rows(wh, 'SELECT "Tier__c" FROM salesforce.accounts_current') == [(3,)]
