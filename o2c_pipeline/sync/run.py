"""The bookkeeping of one flow execution: planned writes (:class:`Pending`), "only if different",
and every outcome recorded in the sync store.

A flow maps each record to a request (:meth:`FlowRun.prepare`), asks :meth:`FlowRun.needs_write`,
and hands the rest to a writer (:mod:`o2c_pipeline.sync.writers`). Writers report every outcome
back: a success goes to the ledger (and clears any DLQ entry), a refusal or data error to the DLQ
at once, and both to the audit log under the record's correlation id.

A failure is held, not repeated: while a record's DLQ entry is not due, the same refused request
is not sent again and the same data error does not touch the entry (a re-read of an unchanged
record, such as a change feed's look-back, costs no call and no attempt). A changed record maps
to a different request and goes out at once; a due entry is tried again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from o2c_pipeline.resources.errors import ApiError
from o2c_pipeline.sync.context import FlowStats, SyncContext
from o2c_pipeline.sync.mapping import DataError
from o2c_pipeline.sync.store import AuditRecord, DeadLetter, DlqEntry, LedgerEntry, request_hash


def new_request_id() -> str:
    return uuid.uuid4().hex


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
    #: the part of ``payload`` the configuration's custom field mappings added
    custom: dict[str, Any] = field(default_factory=dict)
    #: the target's current row (the warehouse's), for a plan's old -> new values
    before: Mapping[str, Any] | None = None


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
        self._ledger: dict[str, LedgerEntry] = {}
        self._letters: dict[str, DlqEntry] = {}
        # bookkeeping of records that need no write, saved in one transaction by finish()
        self._seen_equal: list[tuple[str, str | None, str, str]] = []
        self._settled: list[str] = []

    # -- planning ----------------------------------------------------------------------------

    def load_ledger(self, source_ids: Iterable[str]) -> None:
        """The ledger entries and open dead letters of these records (before mapping them)."""
        ids = list(source_ids)
        self._ledger.update(self.ctx.store.ledger(self.flow, ids))
        self._letters.update(self.ctx.store.open_letters(self.flow, ids))

    def held(self, source_id: str, request_hash: str) -> bool:
        """The record's open DLQ entry holds this very failure back until its retry time."""
        letter = self._letters.get(source_id)
        if letter is None or not letter.holds(request_hash, self.ctx.clock()):
            return False
        self.stats.waiting += 1
        return True

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
            failure = request_hash({"error": err.code, "reason": err.reason})
            if self.held(source_id, failure):
                return None
            row = dict(source) if source is not None else None
            ids = dict(record_ids)
            letter = DeadLetter(source_id, ids, correlation_id, "data", err.code, err.reason, row)
            self.dead_letter(letter, request_hash=failure)
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
        return not self.held(pending.source_id, pending.hash)

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

    def failed(self, pending: Pending, *, request_id: str, operation: str, error: ApiError) -> None:
        """A write the target refused: audited, then dead-lettered (transient ones retry sooner)."""
        code, reason = error.error_code, error.reason
        self.ctx.store.audit(
            [
                self._audit(
                    pending, request_id, operation, pending.target_id, "failed", code, reason
                )
            ],
            run_id=self.ctx.run_id,
            now=self.ctx.clock(),
        )
        error_class = "transient" if error.transient else "data"
        ids = (pending.source_id, pending.record_ids, pending.correlation_id)
        letter = DeadLetter(*ids, error_class, code, reason, pending.payload)
        self.dead_letter(letter, request_hash=pending.hash)

    def dead_letter(self, letter: DeadLetter, *, request_hash: str | None = None) -> None:
        """Into the DLQ; a transient failure is retried sooner than a data error. A dry run
        notes it in the plan instead."""
        if self.ctx.plan is not None:
            self.ctx.plan.add_dead_letter(self, letter.source_id, letter.error_code, letter.reason)
            self.stats.failed += 1
            return
        settings = self.ctx.settings
        transient = letter.error_class == "transient"
        retry = settings.transient_retry_after_s if transient else settings.dlq_retry_after_s
        entry = self.ctx.store.dead_letter(
            flow=self.flow,
            now=self.ctx.clock(),
            retry_after_s=retry,
            request_hash=request_hash,
            **vars(letter),
        )
        self._letters[letter.source_id] = entry
        self.stats.failed += 1
        self.ctx.log.warning(
            f"{self.flow}: {letter.source_id} dead-lettered ({letter.error_code}): {letter.reason}"
        )

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
        """Save the deferred bookkeeping (none in a dry run); returns the run's stats."""
        if self.ctx.plan is not None:
            self._seen_equal, self._settled = [], []
        if self._seen_equal:
            self.ctx.store.record_written(self.flow, self._seen_equal, self.ctx.clock())
            self._seen_equal = []
        if self._settled:
            self.ctx.store.resolve(self.flow, self._settled)
            self._settled = []
        return self.stats
