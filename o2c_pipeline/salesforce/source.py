"""Salesforce as an extraction source: one ``SELECT COUNT()`` (queryAll, so deletions count)
picks the path, Bulk API 2.0 for big windows, REST (queryAll, split into concurrent sub-windows)
for small ones; an empty window costs that one call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.plan import PROBE_MAX_VERSIONS, FetchPlan, FetchTask, FetchTuning, Probe
from o2c_pipeline.extract.staging import normalize_records, normalize_table
from o2c_pipeline.extract.windows import Window, pages_to_windows, parse_stamp
from o2c_pipeline.salesforce import queries


def _deleted(table: pa.Table, flag: str | None) -> pa.Array | bool:
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
                entity.source, queries.window_filter(entity, window), include_deleted=True
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

    def count(self, entity: Entity, window: Window) -> int:
        return int(self.resource.count(entity.source, queries.window_filter(entity, window)))

    def changes_since(self, marks: Sequence[tuple[Entity, dt.datetime]]) -> dict[str, int]:
        """``SELECT COUNT()`` per object through queryAll, so deletions count as changes too."""
        return {
            entity.table: self.resource.count(
                entity.source, queries.changed_since_filter(entity, mark), include_deleted=True
            )
            for entity, mark in marks
        }

    def probe(self, entity: Entity, window: Window) -> Probe | None:
        """``queryAll`` of key, stamp and deleted flag (a deletion bumps ``SystemModstamp``), one
        page: ``LIMIT`` stays below the REST batch size, so the answer is always complete. One row
        per record, so its size is also the window's ``COUNT()``, which planning can skip."""
        soql = queries.probe_query(entity, window, PROBE_MAX_VERSIONS + 1)
        pages = self.resource.query_pages(soql, include_deleted=True)
        records = next(pages, [])
        pages.close()
        if len(records) > PROBE_MAX_VERSIONS:
            return None
        flag = entity.deleted_flag
        return Probe.of(
            entity,
            [
                (r[entity.group_column], r[entity.cursor], bool(flag and r.get(flag)))
                for r in records
            ],
            rows=len(records),
        )

    def earliest(self, entity: Entity) -> dt.datetime | None:
        for records in self.resource.query_pages(
            queries.earliest_query(entity), include_deleted=True
        ):
            for record in records:
                return parse_stamp(record[entity.cursor])
        return None

    def _rest_task(self, entity: Entity, window: Window) -> FetchTask:
        def pages() -> Iterator[pa.Table]:
            for records in self.resource.query_pages(
                queries.records_query(entity, window), include_deleted=True
            ):
                table = normalize_records(records, entity.column_names)
                yield normalize_table(
                    table, entity.column_names, deleted=_deleted(table, entity.deleted_flag)
                )

        return FetchTask(f"{entity.table} REST {window}", pages)

    def _bulk_task(self, entity: Entity, window: Window) -> FetchTask:
        def pages() -> Iterator[pa.Table]:
            for frame in self.resource.bulk_query_frames(
                queries.records_query(entity, window), include_deleted=True
            ):
                yield normalize_table(
                    frame, entity.column_names, deleted=_deleted(frame, entity.deleted_flag)
                )

        return FetchTask(f"{entity.table} Bulk 2.0 {window}", pages)
