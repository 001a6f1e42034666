"""The sync's plan: every write a cycle would make, computed by the flows themselves with the
writes and the bookkeeping left out (a dry run), so what is shown is what applying would send.

A :class:`SyncPlan` on the :class:`~o2c_pipeline.sync.context.SyncContext` turns a flow run into
a dry run: the template (:mod:`o2c_pipeline.sync.flow`) hands its intended writes here instead of
to a writer, the :class:`~o2c_pipeline.sync.run.FlowRun` records the dead letters it would open
instead of opening them, and no checkpoint moves. Creates get a placeholder target id, so the
follow-ups (write-backs) and the flows that depend on the records plan on as applying would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import sqlalchemy as sa

from o2c_pipeline.resources.secrets import scrub
from o2c_pipeline.sync.mapping import same_where_known
from o2c_pipeline.sync.store import redact

#: the target id a record the plan would create stands under until it exists
PLANNED_PREFIX = "(new "
SHOWN_CHARS = 120  # a value longer than this is cut in the terminal and the metadata
SAMPLES_PER_FLOW = 20

#: the warehouse's ``sync.plan``: one row per planned write or dead letter, per planning run
plan_table = sa.Table(
    "plan",
    sa.MetaData(),
    sa.Column("seq", sa.Integer),
    sa.Column("planned_at", sa.DateTime),
    sa.Column("run_id", sa.String(64)),
    sa.Column("flow", sa.String(64)),
    sa.Column("source_id", sa.String(255)),
    sa.Column("action", sa.String(16)),  # create | update | dead_letter
    sa.Column("target_system", sa.String(16)),
    sa.Column("target_object", sa.String(64)),
    sa.Column("target_id", sa.String(255)),
    sa.Column("changes", sa.Text),  # JSON [[field, old, new], ...] or the dead letter's reason
    sa.Column("error_code", sa.String(128)),
)


def planned_id(flow: str, source_id: str) -> str:
    return f"{PLANNED_PREFIX}{flow} record for {source_id})"


def is_planned(target_id: str | None) -> bool:
    return bool(target_id) and str(target_id).startswith(PLANNED_PREFIX)


def _plain(value: Any) -> Any:
    """A payload value as the diff shows it: a NetSuite reference by its id, lists as JSON."""
    if isinstance(value, Mapping) and set(value) <= {"id", "refName", "externalId"}:
        return value.get("id", value.get("externalId"))
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def field_changes(
    payload: Mapping[str, Any], before: Mapping[str, Any] | None
) -> list[tuple[str, Any, Any]]:
    """``(field, old, new)`` for each payload field the target does not hold yet (all of them
    for a create). Target rows compare without case (NetSuite columns are lowercase ids)."""
    lowered = {str(k).lower(): v for k, v in (before or {}).items()}
    out = []
    for name, new in payload.items():
        if name == "Id":
            continue
        old = lowered.get(name.lower())
        if before is not None and name.lower() in lowered:
            plain_new = _plain(new)
            if same_where_known({name: plain_new}, {name: old}):
                continue
        out.append((name, _plain(old), _plain(new)))
    return out


@dataclass(frozen=True)
class PlannedWrite:
    flow: str
    source_id: str
    action: str  # create | update | dead_letter
    target_system: str
    target_object: str
    target_id: str | None
    changes: tuple[tuple[str, Any, Any], ...] = ()
    error_code: str | None = None
    reason: str | None = None

    def shown_changes(self) -> str:
        if self.action == "dead_letter":
            return f"{self.error_code}: {self.reason}"
        return "; ".join(f"{f}: {_cut(o)} -> {_cut(n)}" for f, o, n in self.changes)


def _cut(value: Any) -> str:
    text = "(none)" if value is None else str(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


@dataclass
class SyncPlan:
    """What a dry run would have written, per flow and record (the first entry of a record wins:
    a flow run again through another's ``require`` plans the same writes)."""

    entries: dict[tuple[str, str, str], PlannedWrite] = field(default_factory=dict)

    @classmethod
    def of_run(cls, warehouse: Any, run_id: str | None) -> SyncPlan:
        """A plan holding what the flows that ran before in this run (other steps) planned,
        so a flow that uses their records plans as applying would (they would exist by then)."""
        plan = cls()
        if run_id is None or not warehouse.table_exists("sync.plan"):
            return plan
        rows = warehouse.query(
            "SELECT flow, source_id, action, target_system, target_object, target_id, "
            "error_code, changes FROM sync.plan WHERE run_id = ? ORDER BY seq",
            [run_id],
        )
        for flow, source_id, action, system, obj, target_id, code, changes in rows:
            letter = action == "dead_letter"
            entry = PlannedWrite(
                flow,
                source_id,
                action,
                system,
                obj,
                target_id,
                (),
                code,
                changes if letter else None,
            )
            plan.entries.setdefault((flow, source_id, "dlq" if letter else "write"), entry)
        return plan

    def add_writes(self, run: Any, pendings: Iterable[Any]) -> None:
        """The writes ``run`` (a :class:`~o2c_pipeline.sync.run.FlowRun`) would send."""
        for p in pendings:
            action = "update" if p.target_id else "create"
            entry = PlannedWrite(
                run.flow,
                p.source_id,
                action,
                run.target_system,
                run.target_object,
                p.target_id,
                # masked like a DLQ payload: the plan is shown in the UI and the warehouse
                tuple(field_changes(redact(p.payload), redact(p.before) if p.target_id else None)),
            )
            self.entries.setdefault((run.flow, p.source_id, "write"), entry)

    def add_dead_letter(self, run: Any, source_id: str, error_code: str, reason: str) -> None:
        entry = PlannedWrite(
            run.flow,
            source_id,
            "dead_letter",
            run.target_system,
            run.target_object,
            None,
            error_code=error_code,
            reason=scrub(reason),
        )
        self.entries.setdefault((run.flow, source_id, "dlq"), entry)

    def targets(self, flow: str, source_ids: Iterable[str]) -> dict[str, str]:
        """Placeholder target ids of the records ``flow`` would create or update."""
        out = {}
        for source_id in source_ids:
            entry = self.entries.get((flow, source_id, "write"))
            if entry is not None:
                out[source_id] = entry.target_id or planned_id(flow, source_id)
        return out

    def of_flow(self, flow: str) -> list[PlannedWrite]:
        """The flow's entries and its follow-ups' (``<flow>.writeback``...)."""
        return [e for e in self.entries.values() if e.flow == flow or e.flow.startswith(f"{flow}.")]

    def summary(self, flow: str) -> dict[str, int]:
        entries = self.of_flow(flow)
        return {
            f"planned_{action}s": sum(e.action == action for e in entries)
            for action in ("create", "update", "dead_letter")
        }

    def metadata(self, flow: str) -> dict[str, Any]:
        """The asset's metadata: counts, and a table of the first planned entries."""
        entries = self.of_flow(flow)
        schema = dg.TableSchema(
            columns=[
                dg.TableColumn(name, "string")
                for name in ("flow", "record", "action", "target", "changes")
            ]
        )
        records = [
            dg.TableRecord(
                {
                    "flow": e.flow,
                    "record": e.source_id,
                    "action": e.action,
                    "target": f"{e.target_object} {e.target_id or ''}".strip(),
                    "changes": e.shown_changes()[:500],
                }
            )
            for e in entries[:SAMPLES_PER_FLOW]
        ]
        return {
            "dry_run": True,
            **self.summary(flow),
            "plan_sample": dg.MetadataValue.table(records, schema=schema),
        }

    def rows(
        self, flow: str, run_id: str | None, now: dt.datetime, first_seq: int
    ) -> list[dict[str, Any]]:
        """``sync.plan`` rows of ``flow``'s entries, numbered from ``first_seq``."""
        return [
            {
                "seq": first_seq + n,
                "planned_at": now.astimezone(dt.UTC),
                "run_id": run_id,
                "flow": e.flow,
                "source_id": e.source_id,
                "action": e.action,
                "target_system": e.target_system,
                "target_object": e.target_object,
                "target_id": e.target_id,
                "changes": e.reason
                if e.action == "dead_letter"
                else json.dumps([list(c) for c in e.changes], default=str),
                "error_code": e.error_code,
            }
            for n, e in enumerate(self.of_flow(flow))
        ]


def store_plan(
    warehouse: Any, plan: SyncPlan, flow: str, *, run_id: str | None, now: dt.datetime
) -> int:
    """Append ``flow``'s part of the plan to the warehouse's ``sync.plan`` (through its mirror,
    so a second backend needs nothing more); rows now held."""
    counts = warehouse.mirror(
        {"plan": plan_table},
        lambda _table, after: plan.rows(flow, run_id, now, int(after[1]) + 1 if after else 1),
        {"plan": "seq"},
    )
    return counts["plan"]


def format_plan(entries: Sequence[PlannedWrite]) -> list[list[str]]:
    """Rows for a terminal table: flow, record, action, target, changes."""
    return [
        [
            e.flow,
            e.source_id,
            e.action,
            f"{e.target_object} {e.target_id or ''}".strip(),
            e.shown_changes(),
        ]
        for e in entries
    ]
