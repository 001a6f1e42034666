"""The flow template: every sync flow is a :class:`Flow` subclass in its own module under
:mod:`o2c_pipeline.sync.flows`, in the spirit of the Singer SDK's batch sinks.

The base owns what every flow repeats: the change feed and the keys to look at (changed records
plus due dead letters), the records' current rows, the :class:`~o2c_pipeline.sync.run.FlowRun`
bookkeeping, follow-up runs (write-backs), records deleted at the source leaving the DLQ, the
checkpoint commit and the API-call accounting. A flow *declares* what it reads (``feeds``, whose
first table holds its records, and ``lookups``) and overrides the hooks:

- ``plan(rows)``: batch look-ups before mapping (existing targets, the ledger);
- ``map(row)``: one record to a :class:`~o2c_pipeline.sync.run.Pending` that needs writing, or
  None (unchanged, skipped, dead-lettered);
- ``write(pending)``: hand the batch to a writer (:mod:`o2c_pipeline.sync.writers`);
- ``follow_up(rows)``: optional further writes (default: the declared ``write_back``).

A flow reads the warehouse only through :meth:`Flow.lookup`, which refuses a table the flow did
not declare, so the declaration (which also gives the asset its dependencies) cannot drift from
the code. A flow that needs another flow's records asks through :meth:`Flow.require`.

``only=None`` runs over what changed since the flow's checkpoint, then moves it; ``only={ids}``
re-drives exactly those source records (the DLQ replay) and leaves the checkpoint alone.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from o2c_pipeline.entities import Entity, entity
from o2c_pipeline.pools import Pool
from o2c_pipeline.sync import custom_fields
from o2c_pipeline.sync.context import FlowStats, SyncContext, index_by
from o2c_pipeline.sync.feed import ChangeFeed, Feed
from o2c_pipeline.sync.mapping import DataError, same_where_known
from o2c_pipeline.sync.plan import is_planned, planned_id
from o2c_pipeline.sync.run import FlowRun, Pending
from o2c_pipeline.sync.store import request_hash
from o2c_pipeline.sync.writers import write_salesforce
from o2c_pipeline.systems import SYSTEMS

#: Every flow class, by name (a subclass registers itself when its module is imported).
REGISTRY: dict[str, type[Flow]] = {}


class FlowDeclarationError(RuntimeError):
    """A flow did something its declaration does not allow (a programming error)."""


@dataclass(frozen=True)
class Target:
    """Where a flow writes: a system (``salesforce``, ``netsuite``, ``warehouse``) and the object."""

    system: str
    object: str


@dataclass(frozen=True)
class WriteBack:
    """After the writes, the target ids go back to ``field`` of the Salesforce ``sobject`` the
    flow's records come from (only where the record does not hold that value yet)."""

    sobject: str
    field: str


class Flow:
    """One sync flow; subclasses declare the class attributes below and override the hooks.

    Derived unless declared: ``description`` (the first paragraph of the flow module's
    docstring), ``source_system`` (the system of the first feed's table) and ``pool`` (the
    concurrency pool of the system written to).
    """

    name: ClassVar[str]
    writes: ClassVar[Target]
    #: Warehouse tables whose new versions drive the flow; the first holds its records.
    feeds: ClassVar[tuple[Feed, ...]] = ()
    #: Further warehouse tables the flow reads.
    lookups: ClassVar[tuple[str, ...]] = ()
    #: Flows that must run first in a cycle (and the only ones it may :meth:`require`).
    after: ClassVar[tuple[str, ...]] = ()
    write_back: ClassVar[WriteBack | None] = None
    #: Fields sent only when the target record is created (the target owns them afterwards): left
    #: out of the request's hash, so a create and the updates after it count as the same request.
    create_only: ClassVar[frozenset[str]] = frozenset()
    description: ClassVar[str]
    source_system: ClassVar[str]
    pool: ClassVar[Pool]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            return  # an intermediate base, not a flow
        if "description" not in cls.__dict__:
            module_doc = sys.modules[cls.__module__].__doc__ or ""
            cls.description = " ".join(module_doc.strip().split("\n\n")[0].split())
        if "source_system" not in cls.__dict__:
            cls.source_system = cls.primary().system
        if "pool" not in cls.__dict__:
            cls.pool = SYSTEMS[cls.writes.system].pool
        if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
            raise FlowDeclarationError(f"two flows are named {cls.name!r}")
        REGISTRY[cls.name] = cls

    # -- declarations, read by the assets too ------------------------------------------------------
    @classmethod
    def reads(cls) -> tuple[str, ...]:
        """Every warehouse table the flow reads: its feeds' tables, then its look-ups."""
        return tuple(dict.fromkeys([*(f.table for f in cls.feeds), *cls.lookups]))

    @classmethod
    def primary(cls) -> Entity:
        """The entity whose records the flow syncs (its first feed's table)."""
        if not cls.feeds:
            raise FlowDeclarationError(f"{cls.name} has no feed; override current()")
        return cls.feeds[0].entity

    # -- the template --------------------------------------------------------------------------------
    @classmethod
    def sync(cls, ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
        """Run the flow over what changed (``only=None``) or over exactly ``only``."""
        return cls(ctx, only).execute()

    def __init__(self, ctx: SyncContext, only: Iterable[str] | None = None) -> None:
        self.ctx, self.settings = ctx, ctx.settings
        self.only = list(dict.fromkeys(only)) if only is not None else None
        self.feed = (
            ChangeFeed(ctx, self.name, self.feeds) if self.only is None and self.feeds else None
        )
        self.run = FlowRun(
            ctx,
            self.name,
            source_system=self.source_system,
            target_system=self.writes.system,
            target_object=self.writes.object,
        )
        #: source id -> (target id, correlation id) of every record the target now holds
        self.links: dict[str, tuple[str, str]] = {}
        self._follow_ups: list[FlowRun] = []
        #: the configuration file's custom field mappings of this flow
        self.custom = custom_fields.for_flow(self.name, REGISTRY)

    def execute(self) -> FlowStats:
        calls_before = self.ctx.api_calls()
        keys = self.changed_keys()
        rows = self.current(keys)
        self.run.stats.considered = len(rows)
        if rows and self.custom:
            custom_fields.check_sources(
                custom_fields.load_config(), self.custom, rows[0], self.primary().current_table
            )
        self.process(rows)
        stats = self.run.finish()
        self.follow_up(rows)
        for follow_up in self._follow_ups:
            stats.add(follow_up.finish().as_follow_up())
        if self.ctx.plan is None:  # a dry run keeps the DLQ and the checkpoint as they are
            if self.feeds:
                self.resolve_vanished(keys, rows)
            if self.only is None:
                self.commit()
        sf_calls, ns_calls = self.ctx.api_calls()
        stats.salesforce_calls = sf_calls - calls_before[0]
        stats.netsuite_calls = ns_calls - calls_before[1]
        return stats

    def changed_keys(self) -> list[str]:
        """``only``, or the changed records plus due DLQ entries of the flow and its follow-ups."""
        if self.only is not None:
            return self.only
        keys = self.feed.changed_keys() if self.feed else []
        due = self.ctx.store.dlq(flow=self.name, with_follow_ups=True, due_before=self.ctx.clock())
        return list(dict.fromkeys([*keys, *(e.source_id for e in due)]))

    def current(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The current rows of the flow's records."""
        primary = self.primary()
        return self.lookup(primary.table, primary.key, keys)

    def process(self, rows: Sequence[dict[str, Any]]) -> None:
        self.plan(rows)
        pending = [p for row in rows if (p := self.map(row)) is not None]
        self.apply(self.run, pending, self.write)

    def apply(
        self, run: FlowRun, pending: list[Pending], write: Callable[[list[Pending]], Any]
    ) -> None:
        """``write(pending)``; in a dry run, the plan notes them instead and each record to be
        created stands under a placeholder id, linked as a write would link it."""
        if self.ctx.plan is None:
            write(pending)
            return
        self.ctx.plan.add_writes(run, pending)
        for p in pending:
            if not p.target_id:
                p.target_id = planned_id(run.flow, p.source_id)
            if run is self.run:
                self.link(p.source_id, p.target_id, p.correlation_id)

    def resolve_vanished(self, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
        """Records deleted at the source leave the DLQ: there is nothing left to sync."""
        present = {self.key_of(r) for r in rows}
        gone = [k for k in keys if k not in present]
        if gone:
            self.ctx.store.resolve(self.name, gone, with_follow_ups=True)

    def commit(self) -> None:
        """Move the checkpoint, after every outcome has been recorded."""
        if self.feed:
            self.feed.commit()

    # -- hooks -------------------------------------------------------------------------------------
    def plan(self, rows: Sequence[dict[str, Any]]) -> None:
        self.run.load_ledger(self.key_of(r) for r in rows)

    def map(self, row: dict[str, Any]) -> Pending | None:
        raise NotImplementedError

    def write(self, pending: list[Pending]) -> None:
        raise NotImplementedError

    def follow_up(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if self.write_back is not None:
            self._write_ids_back(self.write_back, rows)

    def existing_targets(self, source_ids: Sequence[str]) -> dict[str, str]:
        """Target ids the warehouse shows for these records beyond the ledger (for another
        flow's :meth:`require`); default none."""
        return {}

    # -- services for the hooks ---------------------------------------------------------------------
    def key_of(self, row: Mapping[str, Any]) -> str:
        return str(row[self.primary().key])

    def lookup(self, table: str, column: str, values: Iterable[Any]) -> list[dict[str, Any]]:
        """Current rows of the declared ``table`` whose ``column`` is one of ``values``."""
        self._check_reads(table)
        wanted = [str(v) for v in dict.fromkeys(values) if v is not None]
        return self.ctx.warehouse.current_rows(entity(table), column, wanted)

    def lookup_all(self, table: str) -> list[dict[str, Any]]:
        """Every current row of the declared small ``table`` (NetSuite's setup records)."""
        self._check_reads(table)
        return self.ctx.warehouse.all_current_rows(entity(table))

    def _check_reads(self, table: str) -> None:
        if table not in self.reads():
            raise FlowDeclarationError(
                f"flow {self.name} reads {table} without declaring it in feeds or lookups"
            )

    def index(self, table: str, column: str, values: Iterable[Any]) -> dict[str, Mapping[str, Any]]:
        """:meth:`lookup`, keyed by ``column``."""
        return index_by(self.lookup(table, column, values), column)

    def prepare(
        self, row: Mapping[str, Any], record_ids: Mapping[str, str], build: Any
    ) -> Pending | None:
        """Map one record (see :meth:`FlowRun.prepare`) and add the custom field mappings; the
        row is the DLQ payload on failure."""
        if not self.custom:
            return self._maintained(
                self.run.prepare(self.key_of(row), record_ids, build, source=row)
            )
        added: dict[str, Any] = {}

        def with_custom_fields() -> dict[str, Any]:
            payload = build()
            added.update(
                custom_fields.fields(
                    self.custom,
                    row,
                    self.settings,
                    target=f"{self.writes.system}.{self.writes.object}",
                    source_system=self.source_system,
                )
            )
            return {**payload, **added}

        p = self._maintained(
            self.run.prepare(self.key_of(row), record_ids, with_custom_fields, source=row)
        )
        if p is not None:
            p.custom = dict(added)
        return p

    def _maintained(self, p: Pending | None) -> Pending | None:
        """``p`` with its hash over the fields the flow keeps up to date (not ``create_only``)."""
        if p is not None and self.create_only:
            p.hash = request_hash({k: v for k, v in p.payload.items() if k not in self.create_only})
        return p

    def changed(
        self,
        p: Pending | None,
        target_id: str | None,
        current: Mapping[str, Any] | None = None,
        *,
        equal: bool | None = None,
    ) -> Pending | None:
        """``p`` when the target lacks it (``current`` is the target's row; ``equal`` overrides
        the comparison), else None, remembering the target for follow-ups."""
        if p is None:
            return None
        p.target_id = target_id
        p.before = current
        if equal is None:
            equal = current is not None and same_where_known(p.payload, current)
        # custom fields must show in the target's row, else the ledger's request hash decides
        if equal and p.custom:
            equal = current is not None and _shows(current, p.custom)
        if self.run.needs_write(p, target_equal=equal):
            return p
        if p.target_id:
            entry = self.run.ledger_entry(p.source_id)
            self.link(p.source_id, p.target_id, entry.correlation_id if entry else p.correlation_id)
        return None

    def link(self, source_id: str, target_id: str, correlation_id: str | None = None) -> None:
        """The target holds this record now, as ``target_id`` (written, or found unchanged)."""
        self.links[source_id] = (target_id, correlation_id or uuid.uuid4().hex)

    def linked(self, written: Iterable[Pending]) -> None:
        for p in written:
            self.link(p.source_id, p.target_id or "", p.correlation_id)

    def follow_up_run(self, suffix: str, writes: Target, *, source_system: str) -> FlowRun:
        """A run of further writes, bookkept as ``<flow>.<suffix>`` (its own ledger and DLQ
        entries, re-driven with the flow); its writes count in the flow's stats."""
        run = FlowRun(
            self.ctx,
            f"{self.name}.{suffix}",
            source_system=source_system,
            target_system=writes.system,
            target_object=writes.object,
        )
        self._follow_ups.append(run)
        return run

    def synced(self, flow: str, source_ids: Iterable[str]) -> dict[str, str]:
        """Target ids the ledger of ``flow`` (one this flow runs after) holds for these records."""
        self._check_after(flow)
        ids = list(source_ids)
        ledger = self.ctx.store.ledger(flow, ids)
        found = {source_id: e.target_id for source_id, e in ledger.items() if e.target_id}
        if self.ctx.plan is not None:  # a dry run: also what ``flow`` would have written by now
            found.update(
                {k: v for k, v in self.ctx.plan.targets(flow, ids).items() if k not in found}
            )
        return found

    def require(self, flow: str, source_ids: Iterable[str]) -> dict[str, str | DataError]:
        """Target ids of ``flow``'s records; records it has not synced yet are synced right now
        (as a replay of them would), and those it cannot sync come back as their DLQ reason."""
        wanted = list(dict.fromkeys(source_ids))
        found: dict[str, str | DataError] = dict(self.synced(flow, wanted))
        other = REGISTRY[flow]
        missing = [s for s in wanted if s not in found]
        found.update(other(self.ctx, missing).existing_targets(missing))
        missing = [s for s in wanted if s not in found]
        if missing:
            other.sync(self.ctx, missing)
            found.update(self.synced(flow, missing))
            if self.ctx.plan is not None:  # a dry run: the records as they would be written
                found.update(self.ctx.plan.targets(flow, missing))
            for entry in self.ctx.store.dlq(flow=flow, source_ids=missing):
                found.setdefault(entry.source_id, DataError(entry.error_code, entry.reason))
        return found

    def _check_after(self, flow: str) -> None:
        if flow not in self.after:
            raise FlowDeclarationError(
                f"flow {self.name} uses flow {flow}'s records but does not run after it"
            )

    def _write_ids_back(self, write_back: WriteBack, rows: Sequence[Mapping[str, Any]]) -> None:
        """Echo-safe: the flow that reads the record next finds its own request unchanged in the
        ledger and writes nothing."""
        writes = Target(self.source_system, write_back.sobject)
        run = self.follow_up_run("writeback", writes, source_system=self.writes.system)
        held = {self.key_of(r): r.get(write_back.field) for r in rows}
        run.load_ledger(self.links)
        pending = []
        for record_id, (value, correlation_id) in self.links.items():
            p = run.prepare(
                record_id,
                {f"{write_back.sobject}.Id": record_id, f"{self.writes.system}_id": value},
                lambda r=record_id, v=value: {"Id": r, write_back.field: v},
                correlation_id=correlation_id,
            )
            if p is None:
                continue
            p.target_id, p.before = record_id, {write_back.field: held.get(record_id)}
            equal = str(held.get(record_id) or "") == str(value)
            if is_planned(value) and held.get(record_id):
                # a dry run's upsert by external id lands on the record whose id this one holds
                equal = True
            if run.needs_write(p, target_equal=equal):
                pending.append(p)
        self.apply(
            run,
            pending,
            lambda ps: write_salesforce(
                run, write_back.sobject, ps, key_field="Id", operation="writeback"
            ),
        )


def _shows(row: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Whether the target's warehouse row holds these field values (NetSuite columns are the
    lowercase field ids)."""
    lowered = {k.lower(): k for k in row}
    present = {k: row[lowered[k.lower()]] for k in fields if k.lower() in lowered}
    return len(present) == len(fields) and same_where_known(fields, present)
