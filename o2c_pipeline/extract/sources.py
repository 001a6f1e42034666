"""Per-system fetch planning: which queries cover a window, and how they page.

A source turns ``(entity, window)`` into :class:`FetchTask` s, each an independent stream of
normalised pages, so the generic runner can fetch them concurrently. Both sources filter with
``cursor >= start AND cursor < end`` (never a strict ``>`` on a watermark).

- Salesforce: one ``SELECT COUNT()`` (queryAll, so deletions count) picks the path: Bulk API 2.0
  for big windows, REST (queryAll, split into concurrent sub-windows) for small ones; an empty
  window costs that one call.
- NetSuite: SuiteQL ordered by key. A full window is read in chunks of up to 100,000 rows
  (``key > last key of the previous chunk``) whose pages are fetched concurrently by offset and
  checked for shifts (:mod:`~o2c_pipeline.extract.suiteql_paging`); small incremental windows page
  by keyset (``key > last`` with offset 0); deletions come from ``deletedrecord``.

Incremental loads start with a *probe*: one call listing the identities ``(group, stamp,
deleted)`` the source holds in the look-back window (Salesforce: ``queryAll`` of key, stamp and
``IsDeleted``; NetSuite: the records' and ``deletedrecord``'s identities in one ``UNION ALL``). If
the warehouse already holds every one, nothing changed and nothing is fetched. Identities rather
than a count and a max stamp: a late commit can re-stamp a record already inside the window to a
stamp at or before the watermark, which leaves the count and the max as they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.staging import normalize_records, normalize_table
from o2c_pipeline.extract.suiteql_paging import ChunkedSuiteQLReader
from o2c_pipeline.extract.windows import (
    Window,
    pages_to_windows,
    parse_stamp,
    soql_literal,
    suiteql_literal,
)

SUITEQL_PAGE_SIZE = 1000
SUITEQL_STAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS"
SUITEQL_DATE_FORMAT = "YYYY-MM-DD"
#: A probe answers in one call or not at all: a window holding more versions is simply fetched.
PROBE_MAX_VERSIONS = 1000
PROBE_DELETED = "_deleted"


@dataclass(frozen=True)
class FetchTask:
    """One independently fetchable stream of staging pages."""

    label: str
    pages: Callable[[], Iterator[pa.Table]]


@dataclass(frozen=True)
class FetchPlan:
    tasks: list[FetchTask]
    path: str  # "rest", "bulk" or "suiteql"
    expected_rows: int | None = None


@dataclass(frozen=True)
class FetchTuning:
    """Knobs for splitting a load; defaults suit both APIs' limits."""

    rows_per_window: int = 20_000  # concurrent windows are sized to hold about this many rows
    max_windows: int = 8
    bulk_threshold_rows: int | None = None  # None: the Salesforce resource's own threshold
    incremental: bool = False  # small delta windows: skip sizing queries
    known_rows: int | None = None  # the window's row count, when a probe already counted it


@dataclass(frozen=True)
class Probe:
    """A probe's answer: the ``(group, cursor, _deleted)`` identities in the window, values as
    staged (strings); ``rows`` is what fetching the window would return, when that is known."""

    identities: pa.Table
    rows: int | None = None


def probe_table(
    entity: Entity, groups: list[Any], stamps: list[Any], deleted: list[bool]
) -> pa.Table:
    return pa.table(
        {
            entity.group_column: pa.array(
                [None if g is None else str(g) for g in groups], pa.string()
            ),
            entity.cursor: pa.array([None if m is None else str(m) for m in stamps], pa.string()),
            PROBE_DELETED: pa.array(deleted, pa.bool_()),
        }
    )


class Source(Protocol):
    def plan(self, entity: Entity, window: Window, tuning: FetchTuning) -> FetchPlan: ...

    def probe(self, entity: Entity, window: Window) -> Probe | None:
        """In one call, every ``(group, stamp, deleted)`` identity the source holds in ``window``,
        or ``None`` when there are more than fit in one answer."""
        ...

    def earliest(self, entity: Entity) -> dt.datetime | None:
        """The oldest stamp the source still reports for ``entity`` (deletions included)."""
        ...

    @property
    def api_calls(self) -> int: ...


# ---------------------------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------------------------


def soql_window_filter(entity: Entity, window: Window) -> str:
    return (
        f"{entity.cursor} >= {soql_literal(window.start)} "
        f"AND {entity.cursor} < {soql_literal(window.end)}"
    )


def soql_query(entity: Entity, window: Window) -> str:
    fields = ", ".join(entity.column_names)
    return f"SELECT {fields} FROM {entity.source} WHERE {soql_window_filter(entity, window)}"


def _sf_deleted(table: pa.Table, flag: str | None) -> pa.Array | bool:
    if flag is None:
        return False
    return pc.fill_null(pc.equal(pc.utf8_lower(table.column(flag)), "true"), False)


class SalesforceSource:
    """Plans Salesforce extraction over a ``SalesforceResource`` (see docs/resources_contract.md)."""

    def __init__(self, resource: Any) -> None:
        self.resource = resource

    @property
    def api_calls(self) -> int:
        return int(getattr(self.resource, "api_calls", 0))

    def threshold(self, tuning: FetchTuning) -> int:
        if tuning.bulk_threshold_rows is not None:
            return tuning.bulk_threshold_rows
        return int(getattr(self.resource, "bulk_threshold_rows", None) or 50_000)

    def plan(self, entity: Entity, window: Window, tuning: FetchTuning) -> FetchPlan:
        total = tuning.known_rows
        if total is None:
            total = self.resource.count(
                entity.source, soql_window_filter(entity, window), include_deleted=True
            )
        if total == 0:
            return FetchPlan([], "rest", 0)
        if total >= self.threshold(tuning):
            return FetchPlan([self._bulk_task(entity, window)], "bulk", total)
        parts = (
            1
            if tuning.incremental
            else pages_to_windows(total, tuning.rows_per_window, tuning.max_windows)
        )
        return FetchPlan([self._rest_task(entity, w) for w in window.split(parts)], "rest", total)

    def probe(self, entity: Entity, window: Window) -> Probe | None:
        """``queryAll`` of key, stamp and deleted flag (a deletion bumps ``SystemModstamp``), one
        page: ``LIMIT`` stays below the REST batch size, so the answer is always complete. One row
        per record, so its size is also the window's ``COUNT()``, which planning can skip."""
        fields = [entity.group_column, entity.cursor, *filter(None, [entity.deleted_flag])]
        soql = (
            f"SELECT {', '.join(dict.fromkeys(fields))} FROM {entity.source} "
            f"WHERE {soql_window_filter(entity, window)} LIMIT {PROBE_MAX_VERSIONS + 1}"
        )
        pages = self.resource.query_pages(soql, include_deleted=True)
        records = next(pages, [])
        pages.close()
        if len(records) > PROBE_MAX_VERSIONS:
            return None
        identities = probe_table(
            entity,
            [r[entity.group_column] for r in records],
            [r[entity.cursor] for r in records],
            [bool(entity.deleted_flag and r.get(entity.deleted_flag)) for r in records],
        )
        return Probe(identities, rows=len(records))

    def earliest(self, entity: Entity) -> dt.datetime | None:
        soql = f"SELECT {entity.cursor} FROM {entity.source} ORDER BY {entity.cursor} ASC LIMIT 1"
        for records in self.resource.query_pages(soql, include_deleted=True):
            for record in records:
                return parse_stamp(record[entity.cursor])
        return None

    def _rest_task(self, entity: Entity, window: Window) -> FetchTask:
        def pages() -> Iterator[pa.Table]:
            for records in self.resource.query_pages(
                soql_query(entity, window), include_deleted=True
            ):
                table = normalize_records(records, entity.column_names)
                yield normalize_table(
                    table, entity.column_names, deleted=_sf_deleted(table, entity.deleted_flag)
                )

        return FetchTask(f"{entity.table} REST {window}", pages)

    def _bulk_task(self, entity: Entity, window: Window) -> FetchTask:
        def pages() -> Iterator[pa.Table]:
            for frame in self.resource.bulk_query_frames(
                soql_query(entity, window), include_deleted=True
            ):
                yield normalize_table(
                    frame, entity.column_names, deleted=_sf_deleted(frame, entity.deleted_flag)
                )

        return FetchTask(f"{entity.table} Bulk 2.0 {window}", pages)


# ---------------------------------------------------------------------------------------------
# NetSuite
# ---------------------------------------------------------------------------------------------


def _select_expr(entity: Entity, name: str, type_: str, expr: str | None) -> str:
    source = expr or (f"{entity.alias}.{name}" if entity.alias else name)
    if type_ == "TIMESTAMP":
        source = f"TO_CHAR({source}, '{SUITEQL_STAMP_FORMAT}')"
    elif type_ == "DATE":
        source = f"TO_CHAR({source}, '{SUITEQL_DATE_FORMAT}')"
    return f"{source} AS {name}"


def _cursor_expr(entity: Entity) -> str:
    return entity.cursor_expr or (
        f"{entity.alias}.{entity.cursor}" if entity.alias else entity.cursor
    )


def _column_expr(entity: Entity, name: str) -> str:
    column = entity.column(name)
    return column.expr or (f"{entity.alias}.{name}" if entity.alias else name)


def _key_expr(entity: Entity) -> str:
    return entity.key_expr or _column_expr(entity, entity.key)


def suiteql_where(entity: Entity, window: Window) -> str:
    cursor = _cursor_expr(entity)
    clauses = [
        *entity.where,
        f"{cursor} >= {suiteql_literal(window.start)}",
        f"{cursor} < {suiteql_literal(window.end)}",
    ]
    return " AND ".join(clauses)


def suiteql_records_query(entity: Entity, window: Window) -> str:
    select = ", ".join(_select_expr(entity, c.name, c.type, c.expr) for c in entity.columns)
    return f"SELECT {select} FROM {entity.source} WHERE {suiteql_where(entity, window)}"


def suiteql_count_query(entity: Entity, window: Window) -> str:
    return f"SELECT COUNT(*) AS n FROM {entity.source} WHERE {suiteql_where(entity, window)}"


def suiteql_deletes_query(entity: Entity, record_type: str, window: Window) -> str:
    stamp = f"TO_CHAR(deleteddate, '{SUITEQL_STAMP_FORMAT}')"
    return (
        f"SELECT recordid AS {entity.group_column}, {stamp} AS {entity.cursor} FROM deletedrecord "
        f"WHERE recordtypeid = '{record_type}' "
        f"AND deleteddate >= {suiteql_literal(window.start)} AND deleteddate < {suiteql_literal(window.end)}"
    )


def suiteql_probe_query(entity: Entity, window: Window) -> str:
    """The identities of the records (per group: every save re-stamps a transaction and all its
    lines) and of the ``deletedrecord`` rows in ``window``, as one statement."""
    stamp = f"TO_CHAR({_cursor_expr(entity)}, '{SUITEQL_STAMP_FORMAT}')"
    distinct = "DISTINCT " if entity.group else ""
    records = (
        f"SELECT {distinct}{_column_expr(entity, entity.group_column)} AS g, {stamp} AS m, 'F' AS d "
        f"FROM {entity.source} WHERE {suiteql_where(entity, window)}"
    )
    if not entity.deleted_record_types:
        return records
    types = ", ".join(f"'{t}'" for t in entity.deleted_record_types)
    return (
        f"{records} UNION ALL "
        f"SELECT recordid AS g, TO_CHAR(deleteddate, '{SUITEQL_STAMP_FORMAT}') AS m, 'T' AS d "
        f"FROM deletedrecord WHERE recordtypeid IN ({types}) "
        f"AND deleteddate >= {suiteql_literal(window.start)} AND deleteddate < {suiteql_literal(window.end)}"
    )


class NetSuiteSource:
    """Plans NetSuite extraction over a ``NetSuiteResource`` (see docs/resources_contract.md)."""

    def __init__(self, resource: Any, page_size: int = SUITEQL_PAGE_SIZE) -> None:
        self.resource = resource
        self.page_size = page_size

    @property
    def api_calls(self) -> int:
        return int(getattr(self.resource, "api_calls", 0))

    def keyset_pages(self, query: str, key_expr: str, key_column: str) -> Iterator[list[dict]]:
        """Page ``query`` by its integer key: each page restarts at ``key > last`` with offset 0."""
        last: int | None = None
        joiner = " AND " if " WHERE " in query else " WHERE "
        while True:
            bound = f"{joiner}{key_expr} > {last}" if last is not None else ""
            answer = self.resource.suiteql_page(
                f"{query}{bound} ORDER BY {key_expr}", limit=self.page_size, offset=0
            )
            items = [
                {k: v for k, v in item.items() if k != "links"} for item in answer.get("items", [])
            ]
            yield items
            if not answer.get("hasMore") or not items:
                return
            last = int(items[-1][key_column])

    def count(self, entity: Entity, window: Window) -> int:
        answer = self.resource.suiteql_page(suiteql_count_query(entity, window), limit=1, offset=0)
        items = answer.get("items") or [{}]
        return int(next(iter(v for k, v in items[0].items() if k != "links"), 0) or 0)

    def _min_stamp(self, query: str) -> dt.datetime | None:
        items = self.resource.suiteql_page(query, limit=1, offset=0).get("items") or []
        stamp = items[0].get("m") if items else None
        return parse_stamp(stamp) if stamp else None

    def probe(self, entity: Entity, window: Window) -> Probe | None:
        answer = self.resource.suiteql_page(
            suiteql_probe_query(entity, window), limit=PROBE_MAX_VERSIONS, offset=0
        )
        if answer.get("hasMore"):
            return None
        items = answer.get("items") or []
        return Probe(
            probe_table(
                entity,
                [i.get("g") for i in items],
                [i.get("m") for i in items],
                [i.get("d") == "T" for i in items],
            )
        )

    def earliest(self, entity: Entity) -> dt.datetime | None:
        cursor = _cursor_expr(entity)
        where = f" WHERE {' AND '.join(entity.where)}" if entity.where else ""
        stamps = [
            self._min_stamp(
                f"SELECT TO_CHAR(MIN({cursor}), '{SUITEQL_STAMP_FORMAT}') AS m FROM {entity.source}{where}"
            ),
            *(
                self._min_stamp(
                    f"SELECT TO_CHAR(MIN(deleteddate), '{SUITEQL_STAMP_FORMAT}') AS m FROM deletedrecord "
                    f"WHERE recordtypeid = '{record_type}'"
                )
                for record_type in entity.deleted_record_types
            ),
        ]
        return min((s for s in stamps if s is not None), default=None)

    def plan(self, entity: Entity, window: Window, tuning: FetchTuning) -> FetchPlan:
        tasks: list[FetchTask] = []
        total: int | None = None
        if tuning.incremental:
            tasks.append(self._records_task(entity, window))
        else:  # no sizing COUNT: each chunk's first page reports its totalResults
            tasks.append(self._chunked_records_task(entity, window))
        tasks += [self._deletes_task(entity, rt, window) for rt in entity.deleted_record_types]
        return FetchPlan(tasks, "suiteql", total)

    def _records_task(self, entity: Entity, window: Window) -> FetchTask:
        def pages() -> Iterator[pa.Table]:
            query = suiteql_records_query(entity, window)
            for items in self.keyset_pages(query, _key_expr(entity), entity.key):
                yield normalize_records(items, entity.column_names)

        return FetchTask(f"{entity.table} SuiteQL {window}", pages)

    def _chunked_records_task(self, entity: Entity, window: Window) -> FetchTask:
        """A whole window as one stream whose pages are fetched concurrently (see
        :mod:`~o2c_pipeline.extract.suiteql_paging`): up to the client's concurrency limit."""
        reader = ChunkedSuiteQLReader(
            self.resource,
            page_size=self.page_size,
            parallel=int(getattr(self.resource, "concurrency_limit", 1)),
        )

        def pages() -> Iterator[pa.Table]:
            yield from reader.pages(
                suiteql_records_query(entity, window),
                _key_expr(entity),
                entity.key,
                lambda items: normalize_records(items, entity.column_names),
            )

        return FetchTask(f"{entity.table} SuiteQL chunks {window}", pages)

    def _deletes_task(self, entity: Entity, record_type: str, window: Window) -> FetchTask:
        def pages() -> Iterator[pa.Table]:
            query = suiteql_deletes_query(entity, record_type, window)
            for items in self.keyset_pages(query, "recordid", entity.group_column):
                yield normalize_records(items, entity.column_names, deleted=True)

        return FetchTask(f"{entity.table} deletedrecord({record_type}) {window}", pages)
