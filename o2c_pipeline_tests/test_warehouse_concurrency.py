"""Commits from separate processes on the PostgreSQL warehouse: different partitions proceed side
by side, the same partition waits its turn, and parallel first commits race on DDL without harm.

The test holds a partition's advisory lock itself (the lock name is the warehouse's documented
``<table>/<day>``), so "waits" and "proceeds" are observed, not inferred from timings.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from o2c_pipeline.warehouse import open_warehouse
from o2c_pipeline_tests.test_warehouse import ACCOUNTS, acct, stage

pytestmark = pytest.mark.postgres

CHILD = """
import datetime as dt, json, sys
from pathlib import Path
from o2c_pipeline.entities import entity
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.warehouse import open_warehouse
url, files = sys.argv[1], [Path(f) for f in sys.argv[2:]]
extraction = Extraction(entity("salesforce.accounts"), Window(dt.datetime(2024, 1, 1),
    dt.datetime(2024, 1, 3)), files, "rest", 0, 0, 1, 1, 0.0, False)
result = open_warehouse(url).commit(extraction)
print(json.dumps({"new": result.new_versions, "current": result.current_rows}))
"""


def commit_in_process(url: str, files: list[Path]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outcome(proc: subprocess.Popen, timeout: float = 60) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def day(tmp_path: Path, date: str, n: int, prefix: str) -> list[Path]:
    records = [acct(f"{prefix}{i:05d}", f"{date}T10:{i % 60:02d}:00Z") for i in range(n)]
    return stage(tmp_path, ACCOUNTS, records).files


def test_other_partitions_proceed_while_one_is_locked_and_the_same_waits(
    tmp_path: Path, postgres_server
) -> None:
    url = postgres_server.database()
    warehouse = open_warehouse(url)
    # the tables exist first, so both writers below meet only the partition locks
    assert outcome(commit_in_process(url, day(tmp_path, "2024-01-05", 1, "001Z"))) == {
        "new": 1,
        "current": 1,
    }
    holder = warehouse.connection()
    with holder.cursor() as cur:
        cur.execute(
            "SELECT pg_advisory_lock(hashtextextended(%s, 0))", ["salesforce.accounts/2024-01-01"]
        )
    try:
        same = commit_in_process(url, day(tmp_path, "2024-01-01", 300, "001A"))
        other = commit_in_process(url, day(tmp_path, "2024-01-02", 300, "001B"))
        assert outcome(other)["new"] == 300  # a different day commits while 2024-01-01 is held
        time.sleep(1.0)
        assert same.poll() is None, "a writer of the locked day did not wait"
        # nothing of the waiting load is visible: a partition is never seen half-written
        assert warehouse.query(
            'SELECT count(*) FROM salesforce.accounts WHERE "_partition" = ?',
            [dt.date(2024, 1, 1)],
        ) == [(0,)]
    finally:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock_all()")
        holder.close()
    assert outcome(same)["new"] == 300
    assert warehouse.row_counts(ACCOUNTS) == (601, 601)


def test_two_processes_writing_the_same_partition_serialize_into_one_result(
    tmp_path: Path, postgres_server
) -> None:
    """Both start on an empty database (CREATE SCHEMA/TABLE race) with the same day's load:
    one writes it, the other then finds every version held; no duplicates either way."""
    url = postgres_server.database()
    files = day(tmp_path, "2024-01-01", 2000, "001C")
    first, second = commit_in_process(url, files), commit_in_process(url, files)
    results = sorted([outcome(first), outcome(second)], key=lambda r: r["new"])
    assert results == [{"new": 0, "current": 2000}, {"new": 2000, "current": 2000}]
    warehouse = open_warehouse(url)
    assert warehouse.row_counts(ACCOUNTS) == (2000, 2000)
    assert warehouse.duplicate_keys(ACCOUNTS, 5) == []


def test_a_lingering_duckdb_file_lets_another_process_in_once_idle(tmp_path: Path) -> None:
    """Inside ``lingering`` back-to-back sessions share one open of the file; another process
    that wants it waits no longer than the linger, and the file is let go when the block ends."""
    from o2c_pipeline.warehouse.duckdb import LINGER_S, lingering

    path = tmp_path / "warehouse.duckdb"
    wh = open_warehouse(str(path))
    reader = (
        "import sys, time; from o2c_pipeline.warehouse import open_warehouse; "
        "t = time.monotonic(); open_warehouse(sys.argv[1]).query('SELECT 1'); "
        "print(time.monotonic() - t)"
    )
    with lingering():
        wh.query("CREATE TABLE t AS SELECT 1 AS x")
        assert wh.query("SELECT count(*) FROM t") == [(1,)]
        other = subprocess.run(
            [sys.executable, "-c", reader, str(path)], capture_output=True, text=True, timeout=60
        )
        assert other.returncode == 0, other.stderr
        # the other process got the file once this one had been idle for the linger
        assert float(other.stdout.strip()) < LINGER_S + 5
        assert wh.query("SELECT x FROM t") == [(1,)]  # and this one opens it again
    raw = "import duckdb, sys; print(duckdb.connect(sys.argv[1]).execute('SELECT x FROM t').fetchall())"
    # closed with the block: even a process that takes no lock opens it at once
    plain = subprocess.run(
        [sys.executable, "-c", raw, str(path)], capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "[(1,)]"
