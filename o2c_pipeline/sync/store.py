"""The sync's durable state in the checkpoint store: write ledger, dead-letter queue, audit log and
review queue (SQLAlchemy Core tables on the shared ``checkpoint_metadata``; SQLite or PostgreSQL).

- ``sync_ledger``: per (flow, source record) the hash of the request last written successfully and
  the target id it produced — "only if different" and echo suppression without reading the target.
- ``sync_dlq``: one open entry per (flow, source record) that could not flow, with a readable reason;
  a later success deletes it, so the queue is exactly the set of records still stuck.
- ``sync_audit``: every write attempt, append-only, joined across systems by ``correlation_id``.
- ``sync_review_queue``: NetSuite credit memos and refunds waiting for a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from o2c_pipeline.resources.checkpoints import UtcDateTime, checkpoint_metadata, checkpoint_table
from o2c_pipeline.resources.secrets import scrub

ledger_table = checkpoint_table(
    "sync_ledger",
    sa.Column("flow", sa.String(64), primary_key=True),
    sa.Column("source_id", sa.String(255), primary_key=True),
    sa.Column("target_id", sa.String(255)),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("written_at", UtcDateTime(), nullable=False),
)

dlq_table = checkpoint_table(
    "sync_dlq",
    sa.Column("flow", sa.String(64), primary_key=True),
    sa.Column("source_id", sa.String(255), primary_key=True),
    sa.Column("record_ids", sa.Text, nullable=False),  # JSON: every id that identifies the record
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("error_class", sa.String(64), nullable=False),  # data | transient | dependency
    sa.Column("error_code", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text),  # JSON, secrets removed
    # what failed: the refused request's hash, or the data error's; the same one is not retried
    # before next_retry_at (a re-read of an unchanged record costs no call)
    sa.Column("request_hash", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.Column("next_retry_at", UtcDateTime(), nullable=False),
)

audit_table = checkpoint_table(
    "sync_audit",
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("operation", sa.String(32), nullable=False),  # upsert | update | create | writeback
    sa.Column("source_system", sa.String(16), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=False),
    sa.Column("target_system", sa.String(16), nullable=False),
    sa.Column("target_object", sa.String(64), nullable=False),
    sa.Column("target_id", sa.String(255)),
    sa.Column("outcome", sa.String(32), nullable=False),  # written | failed
    sa.Column("error_code", sa.String(128)),
    sa.Column("message", sa.Text),
)

review_table = checkpoint_table(
    "sync_review_queue",
    sa.Column("netsuite_id", sa.String(32), primary_key=True),
    sa.Column("record_type", sa.String(32), nullable=False),  # creditMemo | customerRefund
    sa.Column("tran_id", sa.String(64)),
    sa.Column("customer_id", sa.String(32)),
    sa.Column("salesforce_account_id", sa.String(32)),
    sa.Column("amount", sa.Float),
    sa.Column("status", sa.String(64)),
    sa.Column("tran_date", sa.String(16)),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.Column("reviewed", sa.Boolean, nullable=False, default=False),
)

SYNC_TABLES = (ledger_table, dlq_table, audit_table, review_table)

_SECRET_KEY = re.compile(r"secret|token|password|authorization|signature|session", re.IGNORECASE)


def request_hash(payload: Any) -> str:
    """Stable hash of a request body (sorted keys, canonical JSON) for "only if different"."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def redact(payload: Any) -> Any:
    """The payload with credential-shaped keys masked and registered secret values scrubbed."""
    if isinstance(payload, Mapping):
        return {k: "***" if _SECRET_KEY.search(str(k)) else redact(v) for k, v in payload.items()}
    if isinstance(payload, list | tuple):
        return [redact(v) for v in payload]
    if isinstance(payload, str):
        return scrub(payload)
    return payload


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; everything here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class LedgerEntry:
    target_id: str | None
    request_hash: str
    correlation_id: str


@dataclass(frozen=True)
class DeadLetter:
    """A record that cannot flow: who it is, why, and what it would have sent (or its source row)."""

    source_id: str
    record_ids: dict[str, str]
    correlation_id: str
    error_class: str  # data | transient
    error_code: str
    reason: str
    payload: Any


@dataclass(frozen=True)
class DlqEntry(DeadLetter):
    """An open DLQ entry: the dead letter of ``flow``, with its retry bookkeeping."""

    flow: str
    attempts: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    next_retry_at: dt.datetime
    request_hash: str | None = None

    def holds(self, request_hash: str, now: dt.datetime) -> bool:
        """Whether this entry keeps back ``request_hash``: the same failure, not due yet."""
        return self.request_hash == request_hash and self.next_retry_at > now


@dataclass(frozen=True)
class DlqGroup:
    flow: str
    error_class: str
    entries: int
    due_now: int
    oldest: dt.datetime
    stale: int


@dataclass(frozen=True)
class AuditRecord:
    flow: str
    correlation_id: str
    request_id: str
    operation: str
    source_system: str
    source_id: str
    target_system: str
    target_object: str
    target_id: str | None
    outcome: str
    error_code: str | None = None
    message: str | None = None


class SyncStore:
    """Reads and writes the sync tables; one short transaction per call, safe across threads."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        checkpoint_metadata.create_all(engine, tables=list(SYNC_TABLES))
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added to a sync table since a store was created (``create_all`` only creates
        tables): nullable, so ``ALTER TABLE ... ADD COLUMN`` works on SQLite and PostgreSQL."""
        inspector = sa.inspect(self.engine)
        for table in SYNC_TABLES:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for c in [c for c in table.columns if c.name not in have and c.nullable]:
                kind = c.type.compile(dialect=self.engine.dialect)
                with self.engine.begin() as conn:
                    conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {c.name} {kind}"))

    # -- upsert helper -------------------------------------------------------------------------

    def _upsert(
        self, conn: sa.Connection, table: sa.Table, rows: Sequence[dict], keys: Sequence[str]
    ) -> None:
        if not rows:
            return
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self.engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # portable fallback: delete then insert in the same transaction
            for row in rows:
                conn.execute(table.delete().where(*(table.c[k] == row[k] for k in keys)))
            conn.execute(table.insert(), list(rows))
            return
        stmt = insert(table)
        updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        conn.execute(
            stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows)
        )

    # -- ledger --------------------------------------------------------------------------------

    def _rows_of(self, table: sa.Table, flow: str, source_ids: Iterable[str]) -> list[Any]:
        """Rows of ``table`` for ``flow`` and these records (500 ids per statement)."""
        ids = list(dict.fromkeys(source_ids))
        with self.engine.connect() as conn:
            return [
                r
                for start in range(0, len(ids), 500)
                for r in conn.execute(
                    sa.select(table).where(
                        table.c.flow == flow, table.c.source_id.in_(ids[start : start + 500])
                    )
                )
            ]

    def ledger(self, flow: str, source_ids: Iterable[str]) -> dict[str, LedgerEntry]:
        return {
            r.source_id: LedgerEntry(r.target_id, r.request_hash, r.correlation_id)
            for r in self._rows_of(ledger_table, flow, source_ids)
        }

    def record_written(
        self, flow: str, entries: Sequence[tuple[str, str | None, str, str]], now: dt.datetime
    ) -> None:
        """Ledger rows for successful writes and removal of their DLQ entries, in one transaction.

        ``entries`` are ``(source_id, target_id, request_hash, correlation_id)``.
        """
        if not entries:
            return
        rows = [
            {
                "flow": flow,
                "source_id": s,
                "target_id": t,
                "request_hash": h,
                "correlation_id": c,
                "written_at": now,
            }
            for s, t, h, c in entries
        ]
        with self.engine.begin() as conn:
            self._upsert(conn, ledger_table, rows, ("flow", "source_id"))
            self._resolve(conn, flow, [s for s, *_ in entries])

    # -- DLQ -----------------------------------------------------------------------------------

    def _resolve(
        self,
        conn: sa.Connection,
        flow: str,
        source_ids: Sequence[str],
        with_follow_ups: bool = False,
    ) -> None:
        for start in range(0, len(source_ids), 500):
            conn.execute(
                dlq_table.delete().where(
                    _flow_is(flow, with_follow_ups),
                    dlq_table.c.source_id.in_(source_ids[start : start + 500]),
                )
            )

    def resolve(
        self, flow: str, source_ids: Sequence[str], *, with_follow_ups: bool = False
    ) -> None:
        """Drop DLQ entries of records that now flow (or no longer need to); with
        ``with_follow_ups`` also those of the flow's follow-ups (``<flow>.writeback``...)."""
        with self.engine.begin() as conn:
            self._resolve(conn, flow, list(source_ids), with_follow_ups)

    def dead_letter(
        self,
        *,
        flow: str,
        source_id: str,
        record_ids: Mapping[str, str],
        correlation_id: str,
        error_class: str,
        error_code: str,
        reason: str,
        payload: Any,
        now: dt.datetime,
        retry_after_s: float,
        request_hash: str | None = None,
    ) -> DlqEntry:
        """Add or refresh the DLQ entry; attempts count up and the retry back-off doubles."""
        with self.engine.begin() as conn:
            existing = conn.execute(
                sa.select(dlq_table.c.attempts, dlq_table.c.first_seen).where(
                    dlq_table.c.flow == flow, dlq_table.c.source_id == source_id
                )
            ).first()
            attempts = (existing.attempts if existing else 0) + 1
            first_seen = _utc(existing.first_seen) if existing else now
            next_retry = now + dt.timedelta(seconds=retry_after_s * 2 ** min(attempts - 1, 8))
            row = {
                "flow": flow,
                "source_id": source_id,
                "record_ids": json.dumps(dict(record_ids), sort_keys=True),
                "correlation_id": correlation_id,
                "error_class": error_class,
                "error_code": error_code,
                "reason": scrub(reason),
                "payload": json.dumps(redact(payload), sort_keys=True, default=str),
                "request_hash": request_hash,
                "attempts": attempts,
                "first_seen": first_seen,
                "last_seen": now,
                "next_retry_at": next_retry,
            }
            self._upsert(conn, dlq_table, [row], ("flow", "source_id"))
        return _dlq_entry(row)

    def dlq(
        self,
        *,
        flow: str | None = None,
        source_ids: Sequence[str] | None = None,
        due_before: dt.datetime | None = None,
        error_code: str | None = None,
        with_follow_ups: bool = False,
    ) -> list[DlqEntry]:
        """Open entries, oldest first per flow; ``with_follow_ups`` adds those of ``flow``'s
        follow-ups (``<flow>.writeback``, ...)."""
        query = sa.select(dlq_table).order_by(
            dlq_table.c.flow, dlq_table.c.first_seen, dlq_table.c.source_id
        )
        if flow:
            query = query.where(_flow_is(flow, with_follow_ups))
        if source_ids is not None:
            query = query.where(dlq_table.c.source_id.in_(list(source_ids)))
        if due_before is not None:
            query = query.where(dlq_table.c.next_retry_at <= due_before)
        if error_code:
            query = query.where(dlq_table.c.error_code == error_code)
        with self.engine.connect() as conn:
            return [_dlq_entry(r._asdict()) for r in conn.execute(query)]

    def open_letters(self, flow: str, source_ids: Iterable[str]) -> dict[str, DlqEntry]:
        """The open entries of ``flow`` for these records, by source id."""
        rows = self._rows_of(dlq_table, flow, source_ids)
        return {r.source_id: _dlq_entry(r._asdict()) for r in rows}

    def due(self, now: dt.datetime, limit: int) -> list[tuple[str, str, int]]:
        """(flow, source id, attempts) of entries whose retry time has come, oldest first."""
        query = (
            sa.select(dlq_table.c.flow, dlq_table.c.source_id, dlq_table.c.attempts)
            .where(dlq_table.c.next_retry_at <= now)
            .order_by(dlq_table.c.next_retry_at, dlq_table.c.flow, dlq_table.c.source_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(r.flow, r.source_id, int(r.attempts)) for r in conn.execute(query)]

    def overview(self, now: dt.datetime, stale_before: dt.datetime) -> list[DlqGroup]:
        """Open entries per flow and error class: how many, how many are due, the oldest, and
        how many were first seen before ``stale_before``."""
        c = dlq_table.c
        query = (
            sa.select(
                c.flow,
                c.error_class,
                sa.func.count(),
                sa.func.sum(sa.case((c.next_retry_at <= now, 1), else_=0)),
                sa.func.min(c.first_seen),
                sa.func.sum(sa.case((c.first_seen < stale_before, 1), else_=0)),
            )
            .group_by(c.flow, c.error_class)
            .order_by(c.flow, c.error_class)
        )
        with self.engine.connect() as conn:
            return [
                DlqGroup(flow, error_class, int(n), int(due or 0), _utc(oldest), int(stale or 0))
                for flow, error_class, n, due, oldest, stale in conn.execute(query)
            ]

    def make_due(
        self,
        flow: str,
        source_ids: Sequence[str],
        now: dt.datetime,
        *,
        with_follow_ups: bool = False,
    ) -> int:
        """Mark DLQ entries for re-drive on the flow's next run (a replay's first step)."""
        ids = list(source_ids)
        chunks = [ids[i : i + 500] for i in range(0, len(ids), 500)] if ids else [None]
        changed = 0
        with self.engine.begin() as conn:
            for chunk in chunks:
                query = dlq_table.update().where(_flow_is(flow, with_follow_ups))
                if chunk is not None:
                    query = query.where(dlq_table.c.source_id.in_(chunk))
                changed += conn.execute(query.values(next_retry_at=now)).rowcount
        return changed

    # -- audit ---------------------------------------------------------------------------------

    def audit(
        self, records: Sequence[AuditRecord], *, run_id: str | None, now: dt.datetime
    ) -> None:
        if not records:
            return
        rows = [{**vars(r), "run_id": run_id, "at": now} for r in records]
        for row in rows:
            row["message"] = scrub(row["message"]) if row["message"] else None
        with self.engine.begin() as conn:
            conn.execute(audit_table.insert(), rows)

    # -- review queue ----------------------------------------------------------------------------

    def queue_for_review(self, rows: Sequence[dict], now: dt.datetime) -> None:
        """Insert new credit memos/refunds; refresh known ones without resetting ``reviewed``."""
        if not rows:
            return
        with self.engine.begin() as conn:
            known = {
                r.netsuite_id: r
                for r in conn.execute(
                    sa.select(
                        review_table.c.netsuite_id,
                        review_table.c.first_seen,
                        review_table.c.reviewed,
                    ).where(review_table.c.netsuite_id.in_([r["netsuite_id"] for r in rows]))
                )
            }
            full = []
            for row in rows:
                prior = known.get(row["netsuite_id"])
                full.append(
                    {
                        **row,
                        "first_seen": _utc(prior.first_seen) if prior else now,
                        "last_seen": now,
                        "reviewed": bool(prior.reviewed) if prior else False,
                    }
                )
            self._upsert(conn, review_table, full, ("netsuite_id",))

    def frame(self, table: sa.Table, *, after: tuple[str, Any] | None = None) -> list[dict]:
        """Rows of a sync table (for mirroring into the warehouse); ``after=(column, value)``
        keeps only rows past that value, ordered by it."""
        query = sa.select(table)
        if after is not None:
            column, value = after
            query = query.where(table.c[column] > value).order_by(table.c[column])
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(query)]


def _flow_is(flow: str, with_follow_ups: bool) -> sa.ColumnElement[bool]:
    if not with_follow_ups:
        return dlq_table.c.flow == flow
    return sa.or_(
        dlq_table.c.flow == flow, dlq_table.c.flow.startswith(f"{flow}.", autoescape=True)
    )


def _dlq_entry(row: Mapping[str, Any]) -> DlqEntry:
    return DlqEntry(
        flow=row["flow"],
        source_id=row["source_id"],
        record_ids=json.loads(row["record_ids"]),
        correlation_id=row["correlation_id"],
        error_class=row["error_class"],
        error_code=row["error_code"],
        reason=row["reason"],
        payload=json.loads(row["payload"]) if row["payload"] else None,
        attempts=row["attempts"],
        first_seen=_utc(row["first_seen"]),
        last_seen=_utc(row["last_seen"]),
        next_retry_at=_utc(row["next_retry_at"]),
        request_hash=row.get("request_hash"),
    )
