"""NetSuite as an extraction source: SuiteQL ordered by key. A full window is read in chunks of up
to 100,000 rows whose pages are fetched concurrently by offset and checked for shifts
(:mod:`~o2c_pipeline.netsuite.paging`); small incremental windows page by keyset (``key > last``
with offset 0); deletions come from ``deletedrecord``. Fields beyond the core: see
:mod:`~o2c_pipeline.netsuite.fields`."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from o2c_pipeline.config import EntityConfig
from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.columns import ColumnVerdicts, SourceField
from o2c_pipeline.extract.plan import PROBE_MAX_VERSIONS, FetchPlan, FetchTask, FetchTuning, Probe
from o2c_pipeline.extract.staging import normalize_records
from o2c_pipeline.extract.windows import Window, parse_stamp
from o2c_pipeline.netsuite import queries
from o2c_pipeline.netsuite.fields import candidate_columns, catalog_fields, queryable
from o2c_pipeline.netsuite.paging import ChunkedSuiteQLReader, items_of, keyset_pages
from o2c_pipeline.netsuite.resource import SUITEQL_MAX_PAGE
from o2c_pipeline.resources.http import CallCounter

#: Reads of over ``GATED_ROWS`` rows in progress at once in this process (each holds up to a
#: 100,000-row chunk in memory until the chunk is checked): two keep the account's concurrency
#: busy (each has a request per concurrency slot), more would only add memory.
LARGE_READS = threading.BoundedSemaphore(2)


class TalliedResource:
    """The resource as one source sees it: every request sent for this source (retries
    included) is counted on its own tally, so entities extracted concurrently over one shared
    resource (and its one account governor) each report their own calls."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self.tally = CallCounter()

    def suiteql_page(
        self, q: str, *, limit: int = SUITEQL_MAX_PAGE, offset: int = 0
    ) -> dict[str, Any]:
        return self._resource.suiteql_page(q, limit=limit, offset=offset, tally=self.tally)

    def suiteql_pages(
        self, q: str, *, page_size: int = SUITEQL_MAX_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        return self._resource.suiteql_pages(q, page_size=page_size, tally=self.tally)

    def record_schema(self, record_type: str) -> dict[str, Any] | None:
        return self._resource.record_schema(record_type, tally=self.tally)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)


class NetSuiteSource:
    """Plans NetSuite extraction over a ``NetSuiteResource`` (see docs/resources_contract.md)."""

    def __init__(self, resource: Any, page_size: int = SUITEQL_MAX_PAGE) -> None:
        self.resource = TalliedResource(resource)
        self.page_size = page_size

    @property
    def api_calls(self) -> int:
        """Requests this source sent (not those of other sources sharing the resource)."""
        return self.resource.tally.value

    def _first(self, query: str, limit: int = 1) -> dict[str, Any]:
        return self.resource.suiteql_page(query, limit=limit, offset=0)

    def count(self, entity: Entity, window: Window) -> int:
        items = items_of(self._first(queries.count_query(entity, window))) or [{}]
        return int(next(iter(items[0].values()), 0) or 0)

    def fields(
        self, entity: Entity, rules: EntityConfig, verdicts: ColumnVerdicts | None
    ) -> list[SourceField]:
        """The catalog's fields of the entity's record type and the columns the rules name,
        as far as SuiteQL takes them (the core included, so a missing one is told)."""
        schema = self.resource.record_schema(entity.record_type) if entity.record_type else None
        offered = catalog_fields(schema) if schema else []
        candidates = candidate_columns(entity, offered, rules.named(), rules.wants)
        ok = queryable(self.resource, entity, candidates, verdicts)
        return [SourceField(c.name, c.type) for c in candidates if c.name in ok]

    def changes_since(self, marks: Sequence[tuple[Entity, dt.datetime]]) -> dict[str, int]:
        """One SuiteQL ``UNION ALL`` of counts, deletions included."""
        counts = {entity.table: 0 for entity, _ in marks}
        if not marks:
            return counts
        for page in self.resource.suiteql_pages(queries.changes_query(marks)):
            for item in page:
                counts[item["entity"]] += int(item["n"] or 0)
        return counts

    def probe(self, entity: Entity, window: Window) -> Probe | None:
        answer = self._first(queries.probe_query(entity, window), limit=PROBE_MAX_VERSIONS)
        if answer.get("hasMore"):
            return None
        items = answer.get("items") or []
        return Probe.of(entity, [(i.get("g"), i.get("m"), i.get("d") == "T") for i in items])

    def probe_many(self, items: Sequence[tuple[Entity, Window]]) -> dict[str, Probe | None]:
        """Every entity's probe in one SuiteQL ``UNION ALL`` (one page); when they hold more
        versions than a page, none is answered (each probes on its own)."""
        if not items:
            return {}
        answer = self._first(queries.probes_query(items), limit=PROBE_MAX_VERSIONS)
        if answer.get("hasMore"):
            return {}
        found: dict[str, list[tuple[Any, Any, bool]]] = {e.table: [] for e, _ in items}
        for i in answer.get("items") or []:
            found[i["e"]].append((i.get("g"), i.get("m"), i.get("d") == "T"))
        return {e.table: Probe.of(e, found[e.table]) for e, _ in items}

    def earliest(self, entity: Entity) -> dt.datetime | None:
        stamps = []
        for query in queries.earliest_queries(entity):
            items = self._first(query).get("items") or []
            stamp = items[0].get("m") if items else None
            stamps.append(parse_stamp(stamp) if stamp else None)
        return min((s for s in stamps if s is not None), default=None)

    def plan(self, entity: Entity, window: Window, tuning: FetchTuning) -> FetchPlan:
        tasks: list[FetchTask] = []
        if tuning.incremental:
            tasks.append(self._records_task(entity, window))
        else:  # no sizing COUNT: each chunk's first page reports its totalResults
            tasks.append(self._chunked_records_task(entity, window))
        tasks += [self._deletes_task(entity, rt, window) for rt in entity.deleted_record_types]
        return FetchPlan(tasks, "suiteql", None)

    def _keyset_task(
        self, label: str, query: str, key: str, key_column: str, deleted: bool, entity: Entity
    ) -> FetchTask:
        def pages() -> Iterator[pa.Table]:
            for items in keyset_pages(
                self.resource, query, key, key_column, page_size=self.page_size
            ):
                yield normalize_records(items, entity.column_names, deleted=deleted)

        return FetchTask(label, pages)

    def _records_task(self, entity: Entity, window: Window) -> FetchTask:
        return self._keyset_task(
            f"{entity.table} SuiteQL {window}",
            queries.records_query(entity, window),
            queries.key_expr(entity),
            entity.key,
            False,
            entity,
        )

    def _deletes_task(self, entity: Entity, record_type: str, window: Window) -> FetchTask:
        return self._keyset_task(
            f"{entity.table} deletedrecord({record_type}) {window}",
            queries.deletes_query(entity, record_type, window),
            "recordid",
            entity.group_column,
            True,
            entity,
        )

    def _chunked_records_task(self, entity: Entity, window: Window) -> FetchTask:
        """A whole window as one stream whose pages are fetched concurrently (see
        :mod:`~o2c_pipeline.netsuite.paging`): up to the client's concurrency limit."""
        reader = ChunkedSuiteQLReader(
            self.resource,
            page_size=self.page_size,
            parallel=int(getattr(self.resource, "concurrency_limit", 1)),
            gate=LARGE_READS,
        )

        def pages() -> Iterator[pa.Table]:
            yield from reader.pages(
                queries.records_query(entity, window),
                queries.key_expr(entity),
                entity.key,
                lambda items: normalize_records(items, entity.column_names),
            )

        return FetchTask(f"{entity.table} SuiteQL chunks {window}", pages)
