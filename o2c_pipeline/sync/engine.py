"""The generic machinery every flow shares: change feeds from the warehouse, "only if different",
batched writers for both systems, and the ledger / DLQ / audit bookkeeping.

A flow (see :mod:`o2c_pipeline.sync.flows`) reads the records the delta loads changed, maps
each to a request (:class:`Pending`), asks :meth:`FlowRun.needs_write`, and hands the rest to a
writer. Writers report every outcome back to the :class:`FlowRun`, which records it: a success
goes to the ledger (and clears any DLQ entry), a data error to the DLQ at once, and both to the
audit log under the record's correlation id. The flow's checkpoint moves only after all of that.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from o2c_pipeline.entities import Entity, entity
from o2c_pipeline.resources import CheckpointStore, NetSuiteResource, SalesforceResource
from o2c_pipeline.resources.netsuite import NetSuiteApiError
from o2c_pipeline.resources.salesforce import SalesforceApiError
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.mapping import DataError
from o2c_pipeline.sync.store import AuditRecord, LedgerEntry, SyncStore, request_hash
from o2c_pipeline.warehouse import Warehouse, q, table_ref

log = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------
# Context and per-run statistics
# ---------------------------------------------------------------------------------------------


@dataclass
class SyncContext:
    """Everything a flow needs; built once per asset execution (or CLI replay)."""

    settings: SyncSettings
    salesforce: SalesforceResource
    netsuite: NetSuiteResource
    checkpoints: CheckpointStore
    warehouse: Warehouse
    run_id: str | None = None
    log: logging.Logger | Any = log
    clock: Callable[[], dt.datetime] = utc_now
    _store: SyncStore | None = field(default=None, repr=False)

    @property
    def store(self) -> SyncStore:
        if self._store is None:
            self._store = SyncStore(self.checkpoints.engine())
        return self._store


@dataclass
class FlowStats:
    """Per-run metadata of a flow, as the asset reports it."""

    considered: int = 0
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    salesforce_calls: int = 0
    netsuite_calls: int = 0
    write_calls: int = 0

    @property
    def api_calls(self) -> int:
        return self.salesforce_calls + self.netsuite_calls

    def metadata(self) -> dict[str, int]:
        return {
            "considered": self.considered,
            "written": self.written,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "api_calls": self.api_calls,
            "salesforce_api_calls": self.salesforce_calls,
            "netsuite_api_calls": self.netsuite_calls,
            "write_calls": self.write_calls,
        }

    def add(self, other: FlowStats) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# ---------------------------------------------------------------------------------------------
# Change feed: which records did the delta loads land since this flow last looked?
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """A warehouse table whose new versions make records of the flow worth a look.

    ``link`` is the column of ``table`` holding the flow's record key (the table's own key for
    the flow's primary table; e.g. ``OrderId`` for order items feeding the orders flow).
    """

    table: str
    link: str | None = None

    @property
    def entity(self) -> Entity:
        return entity(self.table)

    @property
    def link_column(self) -> str:
        return self.link or self.entity.key


class ChangeFeed:
    """Keys of records changed since the flow's checkpoint, over one or more feeds.

    The checkpoint per (flow, feed) is the newest ``_loaded_at`` consumed; :meth:`commit` saves
    it, and only after the flow has recorded every outcome. Reads start ``change_lookback_s``
    before it: a load that stamped ``_loaded_at`` before waiting for the warehouse lock may
    commit behind a newer one, and re-considering a record costs nothing but a ledger lookup.
    """

    def __init__(self, ctx: SyncContext, flow: str, feeds: Sequence[Feed]):
        self.ctx, self.flow, self.feeds = ctx, flow, feeds
        self.lookback = dt.timedelta(seconds=ctx.settings.change_lookback_s)
        self._seen: dict[str, dt.datetime] = {}

    def watermark_key(self, feed: Feed) -> str:
        return f"sync/{self.flow}/{feed.table}"

    def changed_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        with self.ctx.warehouse.connect() as con:
            for feed in self.feeds:
                if not _table_exists(con, feed.table):
                    continue
                mark = self.ctx.checkpoints.get_watermark(self.watermark_key(feed))
                since = (mark.modstamp - self.lookback) if mark else EPOCH
                since = since.astimezone(dt.UTC).replace(tzinfo=None)
                rows = con.execute(
                    f"SELECT DISTINCT CAST({q(feed.link_column)} AS VARCHAR), max(_loaded_at) OVER () "
                    f"FROM {table_ref(feed.table)} WHERE _loaded_at > ? AND {q(feed.link_column)} IS NOT NULL",
                    [since],
                ).fetchall()
                for key, newest in rows:
                    keys[key] = None
                    self._seen[feed.table] = newest.replace(tzinfo=dt.UTC)
        return list(keys)

    def commit(self) -> None:
        for feed in self.feeds:
            if feed.table in self._seen:
                self.ctx.checkpoints.set_watermark(self.watermark_key(feed), self._seen[feed.table])


def _table_exists(con: Any, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    return bool(
        con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    )


def current_rows(
    ctx: SyncContext, table: str, column: str, values: Iterable[Any], *, where: str = ""
) -> list[dict[str, Any]]:
    """Current rows of ``table`` whose ``column`` is one of ``values`` (compared as text)."""
    wanted = [str(v) for v in dict.fromkeys(values) if v is not None]
    if not wanted:
        return []
    current = entity(table).current_table
    with ctx.warehouse.connect() as con:
        if not _table_exists(con, current):
            return []
        cursor = con.execute(
            f"SELECT * FROM {table_ref(current)} WHERE CAST({q(column)} AS VARCHAR) "
            f"IN (SELECT unnest(?::VARCHAR[])) {('AND ' + where) if where else ''}",
            [wanted],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def index_by(rows: Iterable[Mapping[str, Any]], column: str) -> dict[str, Mapping[str, Any]]:
    return {str(r[column]): r for r in rows if r.get(column) is not None}


# ---------------------------------------------------------------------------------------------
# One flow's run: planning, comparisons, bookkeeping
# ---------------------------------------------------------------------------------------------


@dataclass
class Pending:
    """One planned write: what to send for which source record, under which correlation id."""

    source_id: str
    record_ids: dict[str, str]
    payload: dict[str, Any]
    correlation_id: str
    hash: str
    target_id: str | None = None
    written: bool = False


class FlowRun:
    """Bookkeeping of one flow execution; writes to the sync store in short batches."""

    def __init__(
        self,
        ctx: SyncContext,
        flow: str,
        *,
        source_system: str,
        target_system: str,
        target_object: str,
    ):
        self.ctx, self.flow = ctx, flow
        self.source_system, self.target_system, self.target_object = (
            source_system,
            target_system,
            target_object,
        )
        self.stats = FlowStats()
        self._sf_calls0 = ctx.salesforce.api_calls
        self._ns_calls0 = ctx.netsuite.api_calls
        self._ledger: dict[str, LedgerEntry] = {}
        # bookkeeping of records that need no write, saved in one transaction by finish()
        self._seen_equal: list[tuple[str, str | None, str, str]] = []
        self._settled: list[str] = []

    # -- planning ----------------------------------------------------------------------------

    def load_ledger(self, source_ids: Iterable[str]) -> None:
        self._ledger.update(self.ctx.store.ledger(self.flow, source_ids))

    def ledger_entry(self, source_id: str) -> LedgerEntry | None:
        return self._ledger.get(source_id)

    def prepare(
        self,
        source_id: str,
        record_ids: Mapping[str, str],
        build: Callable[[], dict[str, Any]],
        *,
        source: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> Pending | None:
        """Map one record; a :class:`DataError` dead-letters it (with the ``source`` row as its
        payload, for whoever fixes it) and returns None. ``correlation_id`` continues the story
        of an earlier write (a write-back carries the id of the write it reports)."""
        correlation_id = correlation_id or uuid.uuid4().hex
        try:
            payload = build()
        except DataError as err:
            self.dead_letter(
                source_id,
                record_ids,
                correlation_id,
                "data",
                err.code,
                err.reason,
                dict(source) if source is not None else None,
            )
            return None
        return Pending(
            source_id,
            dict(record_ids),
            payload,
            correlation_id,
            request_hash(payload),
        )

    def needs_write(self, pending: Pending, *, target_equal: bool = False) -> bool:
        """False when the target already holds the payload (per the warehouse) or the ledger says
        this exact request was written before: an unchanged record costs no call. A record found
        equal in the target is recorded in the ledger, so later echoes are recognised too."""
        entry = self._ledger.get(pending.source_id)
        if target_equal or (entry is not None and entry.request_hash == pending.hash):
            self.stats.unchanged += 1
            if entry is None or entry.request_hash != pending.hash:
                self.already_present(
                    pending.source_id, pending.target_id, pending.hash, pending.correlation_id
                )
            else:
                self.settle(pending.source_id)
            return False
        return True

    def already_present(
        self,
        source_id: str,
        target_id: str | None,
        hash_: str = "present",
        correlation_id: str = "present",
    ) -> None:
        """The target already holds this record: remember it in the ledger, clear its DLQ entry."""
        self._seen_equal.append((source_id, target_id, hash_, correlation_id))
        self._ledger[source_id] = LedgerEntry(target_id, hash_, correlation_id)

    # -- outcomes ----------------------------------------------------------------------------

    def succeeded(self, done: Sequence[tuple[Pending, str | None, str]], *, operation: str) -> None:
        """Record successful writes: ``(pending, target_id, request_id)``."""
        if not done:
            return
        now = self.ctx.clock()
        self.ctx.store.record_written(
            self.flow,
            [(p.source_id, target, p.hash, p.correlation_id) for p, target, _ in done],
            now,
        )
        self.ctx.store.audit(
            [
                self._audit(p, request_id, operation, target, "written")
                for p, target, request_id in done
            ],
            run_id=self.ctx.run_id,
            now=now,
        )
        for p, target, _ in done:
            p.target_id, p.written = target, True
            self._ledger[p.source_id] = LedgerEntry(target, p.hash, p.correlation_id)
        self.stats.written += len(done)

    def failed(
        self,
        pending: Pending,
        *,
        request_id: str,
        operation: str,
        code: str,
        message: str,
        transient: bool,
    ) -> None:
        """A write the target refused: audited, then dead-lettered (transient ones retry sooner)."""
        self.ctx.store.audit(
            [
                self._audit(
                    pending, request_id, operation, pending.target_id, "failed", code, message
                )
            ],
            run_id=self.ctx.run_id,
            now=self.ctx.clock(),
        )
        self.dead_letter(
            pending.source_id,
            pending.record_ids,
            pending.correlation_id,
            "transient" if transient else "data",
            code,
            message,
            pending.payload,
        )

    def dead_letter(
        self,
        source_id: str,
        record_ids: Mapping[str, str],
        correlation_id: str,
        error_class: str,
        code: str,
        reason: str,
        payload: Any,
    ) -> None:
        settings = self.ctx.settings
        self.ctx.store.dead_letter(
            flow=self.flow,
            source_id=source_id,
            record_ids=record_ids,
            correlation_id=correlation_id,
            error_class=error_class,
            error_code=code,
            reason=reason,
            payload=payload,
            now=self.ctx.clock(),
            retry_after_s=settings.transient_retry_after_s
            if error_class == "transient"
            else settings.dlq_retry_after_s,
        )
        self.stats.failed += 1
        self.ctx.log.warning(f"{self.flow}: {source_id} dead-lettered ({code}): {reason}")

    def settle(self, source_id: str) -> None:
        """Nothing (more) to do for this record: any old DLQ entry of it goes."""
        self._settled.append(source_id)

    def skip(self, source_id: str) -> None:
        """A record this flow does not apply to (e.g. a Draft order)."""
        self.stats.skipped += 1
        self.settle(source_id)

    def _audit(
        self,
        p: Pending,
        request_id: str,
        operation: str,
        target: str | None,
        outcome: str,
        code: str | None = None,
        message: str | None = None,
    ) -> AuditRecord:
        return AuditRecord(
            flow=self.flow,
            correlation_id=p.correlation_id,
            request_id=request_id,
            operation=operation,
            source_system=self.source_system,
            source_id=p.source_id,
            target_system=self.target_system,
            target_object=self.target_object,
            target_id=target,
            outcome=outcome,
            error_code=code,
            message=message,
        )

    def finish(self) -> FlowStats:
        """Save the deferred bookkeeping and the API call counts; returns the run's stats."""
        if self._seen_equal:
            self.ctx.store.record_written(self.flow, self._seen_equal, self.ctx.clock())
            self._seen_equal = []
        if self._settled:
            self.ctx.store.resolve(self.flow, self._settled)
            self._settled = []
        self.stats.salesforce_calls = self.ctx.salesforce.api_calls - self._sf_calls0
        self.stats.netsuite_calls = self.ctx.netsuite.api_calls - self._ns_calls0
        return self.stats


def new_request_id() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


def write_salesforce(
    run: FlowRun,
    sobject: str,
    pendings: Sequence[Pending],
    *,
    key_field: str,
    operation: str,
) -> list[Pending]:
    """Write ``pendings`` to ``sobject``: upsert by ``key_field`` (``Id`` = update by id).

    Composite collections (200 per call) up to the settings' threshold, Bulk API 2.0 above it;
    records Salesforce refuses are dead-lettered one by one, the rest recorded. Returns the
    successes (``target_id`` set).
    """
    if not pendings:
        return []
    sf = run.ctx.salesforce
    records = [dict(p.payload) for p in pendings]
    request_id = new_request_id()
    done: list[tuple[Pending, str | None, str]] = []
    try:
        if len(records) > run.ctx.settings.salesforce_bulk_threshold:
            successes, failures = sf.bulk_upsert(sobject, key_field, records)
            run.stats.write_calls += 1
            by_key = {p.payload.get(key_field): p for p in pendings}
            for row in successes:
                p = by_key.get(row.get(key_field))
                if p is not None:
                    done.append((p, row.get("sf__Id") or p.payload.get("Id"), request_id))
            for row in failures:
                p = by_key.get(row.get(key_field))
                if p is not None:
                    code, _, message = (row.get("sf__Error") or "UNKNOWN:").partition(":")
                    run.failed(
                        p,
                        request_id=request_id,
                        operation=operation,
                        code=code.strip(),
                        message=message.strip(),
                        transient=code.strip() == "UNABLE_TO_LOCK_ROW",
                    )
        else:
            for start in range(0, len(records), 200):
                chunk_request = new_request_id()
                chunk = pendings[start : start + 200]
                body = records[start : start + 200]
                if key_field == "Id":
                    results = sf.composite_update(body, sobject=sobject)
                else:
                    results = sf.composite_upsert(sobject, key_field, body)
                run.stats.write_calls += 1
                chunk_done = []
                for p, result in zip(chunk, results, strict=True):
                    if result.get("success"):
                        chunk_done.append(
                            (p, result.get("id") or p.payload.get("Id"), chunk_request)
                        )
                    else:
                        error = (result.get("errors") or [{}])[0]
                        run.failed(
                            p,
                            request_id=chunk_request,
                            operation=operation,
                            code=str(error.get("statusCode", "UNKNOWN")),
                            message=_sf_error_text(error),
                            transient=error.get("statusCode") == "UNABLE_TO_LOCK_ROW",
                        )
                run.succeeded(chunk_done, operation=operation)
    except SalesforceApiError as exc:
        _fail_remaining(
            run,
            pendings,
            {id(p) for p, *_ in done},
            request_id,
            operation,
            exc.error_code,
            exc.message,
            exc.transient,
        )
    run.succeeded(done, operation=operation)
    return [p for p in pendings if p.written]


def _sf_error_text(error: Mapping[str, Any]) -> str:
    fields = error.get("fields") or []
    suffix = f" (fields: {', '.join(fields)})" if fields else ""
    return f"{error.get('message', 'refused by Salesforce')}{suffix}"


def _fail_remaining(
    run: FlowRun,
    pendings: Sequence[Pending],
    done_ids: set[int],
    request_id: str,
    operation: str,
    code: str,
    message: str,
    transient: bool,
) -> None:
    """A whole call failed after the resource's retries: every record it carried is dead-lettered."""
    for p in pendings:
        if id(p) not in done_ids and not p.written:
            run.failed(
                p,
                request_id=request_id,
                operation=operation,
                code=code,
                message=message,
                transient=transient,
            )


def write_netsuite(
    run: FlowRun,
    pendings: Sequence[Pending],
    send: Callable[[Pending], str],
    *,
    operation: str,
) -> list[Pending]:
    """Send each request in parallel threads (the resource's account-wide limiter gates them);
    outcomes are recorded from this thread only, in batches. Returns the successes."""
    if not pendings:
        return []
    ok: list[Pending] = []
    batch: list[tuple[Pending, str | None, str]] = []
    workers = max(
        1, min(run.ctx.settings.netsuite_write_threads, run.ctx.netsuite.concurrency_limit)
    )
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sync-{run.flow}") as pool:
        futures = {pool.submit(send, p): (p, new_request_id()) for p in pendings}
        for future in as_completed(futures):
            p, request_id = futures[future]
            run.stats.write_calls += 1
            try:
                target_id = future.result()
            except NetSuiteApiError as exc:
                run.failed(
                    p,
                    request_id=request_id,
                    operation=operation,
                    code=exc.error_code,
                    message=exc.detail + (f" (at {exc.error_path})" if exc.error_path else ""),
                    transient=exc.transient,
                )
                continue
            batch.append((p, str(target_id), request_id))
            ok.append(p)
            if len(batch) >= 50:
                run.succeeded(batch, operation=operation)
                batch = []
    run.succeeded(batch, operation=operation)
    return ok
