"""``query/`` and ``queryAll/``: run compiled SOQL, hold each result as a server-side cursor, and
serve it in pages that follow ``nextRecordsUrl``.

A query's rows are materialized once, as an Arrow table of JSON-ready values (DuckDB formats
datetimes), so ``totalSize`` is exact and later pages never shift under concurrent writes — the
way a Salesforce query locator behaves. A page is an Arrow slice turned into records; child
sub-queries run per page, for that page's parents only.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from o2c_sandbox.core import Store
from o2c_sandbox.salesforce.model import SfError, record_url
from o2c_sandbox.salesforce.soql import ChildPlan, CompiledQuery, Shape, compile_soql

DEFAULT_BATCH = 2000
MIN_BATCH, MAX_BATCH = 200, 2000
CURSOR_IDLE_S = 15 * 60  # Salesforce drops a query locator after 15 idle minutes
MAX_CURSORS = 64


@dataclass
class _Cursor:
    id: str
    plan: CompiledQuery
    rows: pa.Table
    include_deleted: bool
    batch: int
    last_used: float


class QueryEngine:
    def __init__(self, store: Store):
        self.store = store
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- public --------------------------------------------------------------------------------
    def run(self, soql: str, *, include_deleted: bool, batch: int, version: str) -> dict[str, Any]:
        """First page of a new query."""
        plan = compile_soql(soql)
        con = self.store.cursor()
        try:
            sql, params = plan.sql(include_deleted=include_deleted)
            if plan.count_only:
                total = con.execute(sql, params).fetchone()[0]
                return {"totalSize": total, "done": True, "records": []}
            rows = con.sql(sql, params=params).to_arrow_table()
        finally:
            con.close()
        if plan.aggregate_keys is not None:
            return {
                "totalSize": rows.num_rows,
                "done": True,
                "records": [_aggregate_record(plan, row) for row in _tuples(rows)],
            }
        cursor = _Cursor(
            f"01g{next(self._ids):012d}AAA",
            plan,
            rows,
            include_deleted,
            _clamp_batch(batch),
            time.monotonic(),
        )
        return self._page(cursor, 0, version)

    def more(self, locator: str, *, version: str) -> dict[str, Any]:
        """A later page: ``<cursor id>-<offset>`` as handed out in ``nextRecordsUrl``."""
        cursor_id, _, offset_text = locator.partition("-")
        with self._lock:
            self._expire()
            cursor = self._cursors.get(cursor_id)
        if cursor is None or not offset_text.isdigit():
            raise SfError("INVALID_QUERY_LOCATOR", "invalid query locator", status=400)
        return self._page(cursor, int(offset_text), version)

    # -- paging --------------------------------------------------------------------------------
    def _page(self, cursor: _Cursor, offset: int, version: str) -> dict[str, Any]:
        total = cursor.rows.num_rows
        page = cursor.rows.slice(offset, cursor.batch)
        records = self._records(cursor.plan, page, cursor.include_deleted, version)
        end = offset + page.num_rows
        done = end >= total
        out: dict[str, Any] = {"totalSize": total, "done": done}
        with self._lock:
            if done:
                self._cursors.pop(cursor.id, None)
            else:
                cursor.last_used = time.monotonic()
                self._cursors[cursor.id] = cursor
                self._cursors.move_to_end(cursor.id)
                while len(self._cursors) > MAX_CURSORS:
                    self._cursors.popitem(last=False)
                out["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor.id}-{end}"
        out["records"] = records
        return out

    def _expire(self) -> None:
        cutoff = time.monotonic() - CURSOR_IDLE_S
        for key in [k for k, c in self._cursors.items() if c.last_used < cutoff]:
            del self._cursors[key]

    def _records(
        self, plan: CompiledQuery, page: pa.Table, include_deleted: bool, version: str
    ) -> list[dict[str, Any]]:
        assert plan.shape is not None
        rows = list(_tuples(page))
        children = {
            child.relationship: self._children(
                child, [r[plan.shape.id_col] for r in rows], include_deleted, version
            )
            for child in plan.children
        }
        return [_build(plan.shape, row, version, children) for row in rows]

    def _children(
        self, child: ChildPlan, parent_ids: list[str], include_deleted: bool, version: str
    ) -> dict[str, dict[str, Any]]:
        """Child records for one page of parents, grouped per parent."""
        if not parent_ids:
            return {}
        q = child.query
        sql, params = q.sql(
            include_deleted=include_deleted,
            parent_filter=f't0."{child.fk_field}"',
            per_parent_limit=True,
        )
        con = self.store.cursor()
        try:
            table = con.sql(sql, params=[parent_ids, *params]).to_arrow_table()
        finally:
            con.close()
        grouped: dict[str, list[dict[str, Any]]] = {}
        assert q.shape is not None and q.fk_col is not None
        for row in _tuples(table):
            grouped.setdefault(row[q.fk_col], []).append(_build(q.shape, row, version, {}))
        return {
            pid: {"totalSize": len(recs), "done": True, "records": recs}
            for pid, recs in grouped.items()
        }


def _clamp_batch(batch: int) -> int:
    return max(MIN_BATCH, min(MAX_BATCH, batch))


def parse_batch_size(header: str | None) -> int:
    """``Sforce-Query-Options: batchSize=N`` (200..2000; others fall back to the default)."""
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return _clamp_batch(int(value))
    return DEFAULT_BATCH


def _tuples(table: pa.Table):
    columns = [col.to_pylist() for col in table.columns]
    return zip(*columns, strict=True) if columns else iter(())


def _build(
    shape: Shape, row: tuple, version: str, children: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    record_id = row[shape.id_col]
    record: dict[str, Any] = {
        "attributes": {
            "type": shape.obj.name,
            "url": record_url(version, shape.obj.name, record_id),
        }
    }
    for key, entry in shape.entries:
        if isinstance(entry, int):
            record[key] = row[entry]
        elif isinstance(entry, Shape):
            record[key] = None if row[entry.id_col] is None else _build(entry, row, version, {})
        else:
            record[key] = children.get(entry.relationship, {}).get(record_id)
    return record


def _aggregate_record(plan: CompiledQuery, row: tuple) -> dict[str, Any]:
    assert plan.aggregate_keys is not None
    record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for key, col in plan.aggregate_keys:
        record[key] = row[col]
    return record
