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
from o2c_sandbox.salesforce.model import NUMBER_TYPES, TEXT_TYPES, SfError, record_url, table_sql
from o2c_sandbox.salesforce.soql import ChildPlan, CompiledQuery, Selected, Shape, compile_soql
from o2c_sandbox.schema import SfField

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
                "records": [_aggregate_record(plan, row) for row in tuples(rows)],
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

    def columns(self, soql: str) -> dict[str, Any]:
        """``query?q=…&columns=true``: what the query would return, without running it."""
        plan = compile_soql(soql)
        return {
            "columnMetadata": [_column(s) for s in plan.selected],
            "entityName": plan.obj.name,
            "groupBy": bool(plan.group_sql),
            "idSelected": any(
                s.field is not None and s.field.name == "Id" and not s.path for s in plan.selected
            ),
            "keyPrefix": plan.obj.key_prefix,
        }

    def explain(self, soql: str) -> dict[str, Any]:
        """``query?explain=…``: the plan the optimizer would pick, with real cardinalities."""
        plan = compile_soql(soql)
        con = self.store.cursor()
        try:
            sql, params = plan.sql(include_deleted=False)
            matching = con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
            total = con.execute(
                f'SELECT count(*) FROM {table_sql(plan.obj)} WHERE NOT "IsDeleted"'
            ).fetchone()[0]
        finally:
            con.close()
        indexed = _indexed_filter(plan)
        return {
            "plans": [
                {
                    "cardinality": matching,
                    "fields": [indexed] if indexed else [],
                    "leadingOperationType": "Index" if indexed else "TableScan",
                    "notes": []
                    if indexed
                    else [
                        {
                            "description": "Not considering filter for optimization because "
                            "unindexed",
                            "fields": ["IsDeleted"],
                            "tableEnumOrId": plan.obj.name,
                        }
                    ],
                    "relativeCost": round(
                        (matching / max(total, 1)) * (0.1 if indexed else 1.0) + 0.1, 6
                    ),
                    "sobjectCardinality": total,
                    "sobjectType": plan.obj.name,
                }
            ],
            "sourceQuery": soql,
        }

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
        rows = list(tuples(page))
        children = {
            child.relationship: self._children(
                child, [r[plan.shape.id_col] for r in rows], include_deleted, version
            )
            for child in plan.children
        }
        return [build_record(plan.shape, row, version, children) for row in rows]

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
        for row in tuples(table):
            grouped.setdefault(row[q.fk_col], []).append(build_record(q.shape, row, version, {}))
        return {
            pid: {"totalSize": len(recs), "done": True, "records": recs}
            for pid, recs in grouped.items()
        }


_APEX_TYPES = {
    "id": "Id",
    "reference": "Id",
    "boolean": "Boolean",
    "datetime": "Datetime",
    "date": "Date",
    "double": "Double",
    "currency": "Decimal",
    "int": "Integer",
    "address": "Address",
}


def _column(item: Selected) -> dict[str, Any]:
    """One ``columnMetadata`` entry: parent paths nest as ``joinColumns``, sub-queries are
    aggregate columns whose ``joinColumns`` are the child's columns."""
    if item.child is not None:
        return _meta(
            item.key,
            item.key,
            None,
            aggregate=True,
            joins=[_column(s) for s in item.child.selected],
        )
    if item.field is None:  # an aggregate function
        return _meta(item.key, item.display, _type_only(item.result_type), aggregate=True)
    if item.path:
        leaf = _meta(item.field.name, ".".join([*item.path, item.field.name]), item.field)
        for depth in range(len(item.path) - 1, -1, -1):
            name = item.path[depth]
            leaf = _meta(name, ".".join(item.path[: depth + 1]), None, joins=[leaf])
        return leaf
    return _meta(item.key, item.key, item.field)


def _type_only(kind: str) -> SfField:
    return SfField("expr", kind, createable=False, updateable=False)


def _meta(
    name: str,
    display: str,
    fld: SfField | None,
    *,
    aggregate: bool = False,
    joins: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    kind = fld.type if fld else ""
    return {
        "aggregate": aggregate,
        "apexType": _APEX_TYPES.get(kind, "String") if fld else None,
        "booleanType": kind == "boolean",
        "columnName": name,
        "custom": bool(fld and fld.custom),
        "displayName": display,
        "foreignKeyName": None,
        "insertable": bool(fld and fld.createable),
        "joinColumns": joins or [],
        "numberType": kind in NUMBER_TYPES,
        "textType": kind in TEXT_TYPES,
        "updatable": bool(fld and fld.updateable),
    }


def _indexed_filter(plan: CompiledQuery) -> str | None:
    """The indexed field (Id, an external id or a unique field) the WHERE clause filters on."""
    where = plan.where_sql or ""
    for fld in plan.obj.fields:
        if (fld.name == "Id" or fld.external_id or fld.unique) and f't0."{fld.name}"' in where:
            return fld.name
    return None


def _clamp_batch(batch: int) -> int:
    return max(MIN_BATCH, min(MAX_BATCH, batch))


def parse_batch_size(header: str | None) -> int:
    """``Sforce-Query-Options: batchSize=N`` (200..2000; others fall back to the default)."""
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return _clamp_batch(int(value))
    return DEFAULT_BATCH


def tuples(table: pa.Table):
    columns = [col.to_pylist() for col in table.columns]
    return zip(*columns, strict=True) if columns else iter(())


def build_record(
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
            record[key] = (
                None if row[entry.id_col] is None else build_record(entry, row, version, {})
            )
        else:
            record[key] = children.get(entry.relationship, {}).get(record_id)
    return record


def _aggregate_record(plan: CompiledQuery, row: tuple) -> dict[str, Any]:
    assert plan.aggregate_keys is not None
    record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
    for key, col in plan.aggregate_keys:
        record[key] = row[col]
    return record
