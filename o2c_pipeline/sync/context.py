"""What every flow runs with: the :class:`SyncContext` (resources, settings, warehouse, sync
store, clock) and the :class:`FlowStats` a flow asset reports."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from o2c_pipeline import settings as env
from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.salesforce.resource import SalesforceResource
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.plan import SyncPlan
from o2c_pipeline.sync.store import SyncStore
from o2c_pipeline.warehouse import Warehouse, open_warehouse

log = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    clock: Callable[[], dt.datetime] = field(
        default=lambda: utc_now()
    )  # late-bound: simulated time
    _store: SyncStore | None = field(default=None, repr=False)
    #: set: a dry run, which collects every write here and sends none (:mod:`~o2c_pipeline.sync.plan`)
    plan: SyncPlan | None = None

    @property
    def store(self) -> SyncStore:
        if self._store is None:
            self._store = SyncStore(self.checkpoints.engine())
        return self._store

    def api_calls(self) -> tuple[int, int]:
        """Calls sent so far to (Salesforce, NetSuite)."""
        return self.salesforce.api_calls, self.netsuite.api_calls


def sync_context(
    salesforce: SalesforceResource,
    netsuite: NetSuiteResource,
    checkpoints: CheckpointStore,
    *,
    run_id: str | None = None,
    log: Any = None,
    settings: SyncSettings | None = None,
    dry_run: bool = False,
) -> SyncContext:
    """A :class:`SyncContext` from resources and the environment (warehouse location, sync config)."""
    ctx = SyncContext(
        settings=settings or SyncSettings.from_env(),
        salesforce=salesforce,
        netsuite=netsuite,
        checkpoints=checkpoints,
        warehouse=open_warehouse(env.warehouse_location()),
        run_id=run_id,
    )
    if dry_run:
        ctx.plan = SyncPlan.of_run(ctx.warehouse, run_id)
    if log is not None:
        ctx.log = log
    return ctx


@dataclass
class FlowStats:
    """Per-run metadata of a flow, as the asset reports it."""

    considered: int = 0
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    #: records whose failure waits in the DLQ for its retry time (nothing sent, nothing changed)
    waiting: int = 0
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
            "waiting": self.waiting,
            "api_calls": self.api_calls,
            "salesforce_api_calls": self.salesforce_calls,
            "netsuite_api_calls": self.netsuite_calls,
            "write_calls": self.write_calls,
        }

    def add(self, other: FlowStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_follow_up(self) -> FlowStats:
        """What a follow-up (a write-back, the price book) adds to its flow: its writes, failures
        and write calls. Its records are the flow's own, counted once by the flow."""
        return FlowStats(
            written=self.written,
            failed=self.failed,
            waiting=self.waiting,
            write_calls=self.write_calls,
        )


def index_by(rows: Iterable[Mapping[str, Any]], column: str) -> dict[str, Mapping[str, Any]]:
    return {str(r[column]): r for r in rows if r.get(column) is not None}
