"""Salesforce as an extraction source: one ``SELECT COUNT()`` (queryAll, so deletions count)
picks the path, Bulk API 2.0 for big windows, REST (queryAll, split into concurrent sub-windows)
for small ones; an empty window costs that one call.

Its fields come from ``describe()``: every field but compound ones (``address``, ``location``:
their components are fields of their own and kept) and ``base64`` blobs, which neither a SOQL
page nor Bulk API 2.0 returns as a value. A REST query travels in the URL, which Salesforce caps
at 16,384 bytes; a SELECT of a wide object that would not fit goes through Bulk API 2.0, whose
query travels in the request body."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote_plus

import pyarrow as pa
import pyarrow.compute as pc

from o2c_pipeline.config import EntityConfig
from o2c_pipeline.entities import SF_TYPES, Entity
from o2c_pipeline.extract.columns import ColumnVerdicts, SourceField, SourceSchemaError
from o2c_pipeline.extract.plan import PROBE_MAX_VERSIONS, FetchPlan, FetchTask, FetchTuning, Probe
from o2c_pipeline.extract.staging import normalize_records, normalize_table
from o2c_pipeline.extract.windows import Window, pages_to_windows, parse_stamp
from o2c_pipeline.resources.errors import ApiError
from o2c_pipeline.resources.http import SOURCE_TALLY, CallCounter
from o2c_pipeline.salesforce import queries

#: field types that are no column: compound views over their components, and binary blobs
NOT_COLUMNS = frozenset({"address", "location", "base64"})
#: longest URL-encoded SOQL sent through REST (the URL limit is 16,384 bytes, path included)
REST_QUERY_MAX_CHARS = 15_000


def describe_fields(describe: dict[str, Any]) -> list[SourceField]:
    """The columns a ``describe()`` answer offers, with their warehouse types."""
    return [
        SourceField(f["name"], SF_TYPES.get(f["type"], "VARCHAR"), bool(f.get("custom")))
        for f in describe.get("fields", [])
        if f.get("type") not in NOT_COLUMNS and not f.get("deprecatedAndHidden")
    ]


def _deleted(table: pa.Table, flag: str | None) -> pa.Array | bool:
    if flag is None:
        return False
    return pc.fill_null(pc.equal(pc.utf8_lower(table.column(flag)), "true"), False)


def _probe_of(entity: Entity, records: list[dict[str, Any]]) -> Probe | None:
    if len(records) > PROBE_MAX_VERSIONS:
        return None
    flag = entity.deleted_flag
    return Probe.of(
        entity,
        [(r[entity.group_column], r[entity.cursor], bool(flag and r.get(flag))) for r in records],
        rows=len(records),
    )


class SalesforceSource:
    """Plans Salesforce extraction over a ``SalesforceResource`` (see docs/resources_contract.md)."""

    def __init__(self, resource: Any) -> None:
        self.resource = resource
        counter = getattr(resource, "call_counter", None)
        self.tally = CallCounter() if counter is not None else None
        if counter is not None:  # this context's calls (and its fetching threads') are ours
            SOURCE_TALLY.set((counter, self.tally))

    @property
    def api_calls(self) -> int:
        """Calls this source's context sent (several sources may share one resource)."""
        if self.tally is not None:
            return self.tally.value
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
        too_long = len(quote_plus(queries.records_query(entity, window))) > REST_QUERY_MAX_CHARS
        if too_long or total >= self.threshold(tuning):
            return FetchPlan([self._bulk_task(entity, window)], "bulk", total)
        parts = (
            1
            if tuning.incremental
            else pages_to_windows(total, tuning.rows_per_window, tuning.max_windows)
        )
        return FetchPlan([self._rest_task(entity, w) for w in window.split(parts)], "rest", total)

    def count(self, entity: Entity, window: Window) -> int:
        return int(self.resource.count(entity.source, queries.window_filter(entity, window)))

    def fields(
        self, entity: Entity, rules: EntityConfig, verdicts: ColumnVerdicts | None
    ) -> list[SourceField]:
        """What ``describe()`` reports (one call); every field it lists can be queried."""
        try:
            answer = self.resource.describe(entity.source)
        except ApiError as err:
            if err.status == 404:
                raise SourceSchemaError(
                    f"{entity.table}: Salesforce has no object {entity.source} (or the "
                    "integration user may not see it)"
                ) from None
            raise
        return describe_fields(answer)

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
        return _probe_of(entity, records)

    def probe_many(self, items: Sequence[tuple[Entity, Window]]) -> dict[str, Probe | None]:
        """The probes of several entities through the Composite API (five queries a call); an
        entity whose query was refused is left out (it probes on its own)."""
        if not items or not hasattr(self.resource, "composite_queries"):
            return {}
        soqls = [queries.probe_query(e, w, PROBE_MAX_VERSIONS + 1) for e, w in items]
        pages = self.resource.composite_queries(soqls, include_deleted=True)
        return {
            entity.table: _probe_of(entity, page["records"])
            for (entity, _), page in zip(items, pages, strict=True)
            if page is not None
        }

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
