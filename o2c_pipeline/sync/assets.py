"""Dagster definitions of the sync: one asset per flow (keys ``sync/<flow>``), the warehouse mirror
of the sync's tables, and the DLQ replay job. Everything is generated from :data:`FLOWS`."""

import datetime as dt
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field

from o2c_pipeline import settings as env_settings
from o2c_pipeline.jobs import O2C_SYNC_TAG
from o2c_pipeline.pools import DUCKDB_WAREHOUSE
from o2c_pipeline.resources import CheckpointStore, NetSuiteResource, SalesforceResource
from o2c_pipeline.resources.checkpoints import UtcDateTime
from o2c_pipeline.settings import (
    CHECKPOINTS_RESOURCE_KEY,
    NETSUITE_RESOURCE_KEY,
    SALESFORCE_RESOURCE_KEY,
)
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.engine import SyncContext
from o2c_pipeline.sync.flows import FLOWS, FlowSpec, replay
from o2c_pipeline.sync.store import audit_table, dlq_table, review_table
from o2c_pipeline.warehouse import Warehouse

RESOURCE_KEYS = {SALESFORCE_RESOURCE_KEY, NETSUITE_RESOURCE_KEY, CHECKPOINTS_RESOURCE_KEY}
GROUP = "sync"


def sync_context(
    salesforce: SalesforceResource,
    netsuite: NetSuiteResource,
    checkpoints: CheckpointStore,
    *,
    run_id: str | None = None,
    log: Any = None,
    settings: SyncSettings | None = None,
) -> SyncContext:
    """A :class:`SyncContext` from resources and the environment (warehouse path, sync config)."""
    ctx = SyncContext(
        settings=settings or SyncSettings.from_env(),
        salesforce=salesforce,
        netsuite=netsuite,
        checkpoints=checkpoints,
        warehouse=Warehouse(env_settings.warehouse_path()),
        run_id=run_id,
    )
    if log is not None:
        ctx.log = log
    return ctx


def _context(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> SyncContext:
    r = context.resources
    return sync_context(
        getattr(r, SALESFORCE_RESOURCE_KEY),
        getattr(r, NETSUITE_RESOURCE_KEY),
        getattr(r, CHECKPOINTS_RESOURCE_KEY),
        run_id=context.run.run_id,
        log=context.log,
    )


def _upstream(spec: FlowSpec) -> list[dg.AssetKey]:
    return [dg.AssetKey(t.split(".")) for t in spec.reads] + [
        dg.AssetKey([GROUP, f]) for f in spec.after
    ]


def build_flow_asset(spec: FlowSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey([GROUP, spec.name]),
        deps=_upstream(spec),
        description=spec.description,
        group_name=GROUP,
        kinds={"salesforce", "netsuite"},
        pool=spec.pool,
        required_resource_keys=RESOURCE_KEYS,
        tags=dict(O2C_SYNC_TAG),
    )
    def _flow(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        stats = spec.run(_context(context), None)
        context.log.info(f"sync/{spec.name}: {stats.metadata()}")
        return dg.MaterializeResult(metadata=stats.metadata())

    return _flow


FLOW_ASSETS = [build_flow_asset(spec) for spec in FLOWS]

#: Sync tables mirrored into the warehouse (schema ``sync``), so audit and DLQ are queryable there.
#: The audit log only grows and is appended to; the queues are small and replaced whole.
MIRRORED_TABLES = {
    "audit_log": audit_table,
    "dead_letter_queue": dlq_table,
    "review_queue": review_table,
}
APPEND_ONLY = {"audit_log": "id"}


def _duckdb_type(column: sa.Column) -> str:
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return "BOOLEAN"
    if isinstance(kind, sa.Integer):
        return "BIGINT"
    if isinstance(kind, sa.Float):
        return "DOUBLE"
    if isinstance(kind, sa.DateTime | UtcDateTime):
        return "TIMESTAMPTZ"
    return "VARCHAR"


def mirror_to_warehouse(ctx: SyncContext) -> dict[str, int]:
    """Bring ``sync.<name>`` in DuckDB up to date with the checkpoint store; returns row counts.

    Runs under the warehouse lock from first read to commit, so two mirrors cannot both append.
    """
    counts = {}
    with ctx.warehouse.connect() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS sync")
        con.execute("BEGIN TRANSACTION")
        for name, table in MIRRORED_TABLES.items():
            ddl = ", ".join(f'"{c.name}" {_duckdb_type(c)}' for c in table.columns)
            con.execute(f"CREATE TABLE IF NOT EXISTS sync.{name} ({ddl})")
            key = APPEND_ONLY.get(name)
            if key:
                (last,) = con.execute(
                    f"SELECT coalesce(max({key}), 0) FROM sync.{name}"
                ).fetchall()[0]
                rows = ctx.store.frame(table, after=(key, last))
            else:
                con.execute(f"DELETE FROM sync.{name}").fetchall()
                rows = ctx.store.frame(table)
            if rows:
                con.register("_frame", pd.DataFrame(rows, columns=[c.name for c in table.columns]))
                con.execute(f"INSERT INTO sync.{name} BY NAME SELECT * FROM _frame").fetchall()
                con.unregister("_frame")
            (counts[name],) = con.execute(f"SELECT count(*) FROM sync.{name}").fetchall()[0]
        con.execute("COMMIT")
    return counts


@dg.asset(
    key=dg.AssetKey([GROUP, "audit_log"]),
    deps=[dg.AssetKey([GROUP, spec.name]) for spec in FLOWS],
    description="Audit log, dead-letter queue and review queue of the sync, mirrored into DuckDB "
    "(sync.audit_log, sync.dead_letter_queue, sync.review_queue).",
    group_name=GROUP,
    kinds={"duckdb"},
    pool=DUCKDB_WAREHOUSE.name,
    required_resource_keys=RESOURCE_KEYS,
    tags=dict(O2C_SYNC_TAG),
)
def sync_audit_log(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    counts = mirror_to_warehouse(_context(context))
    return dg.MaterializeResult(metadata={f"{k}_rows": v for k, v in counts.items()})


ASSETS: list[dg.AssetsDefinition] = [*FLOW_ASSETS, sync_audit_log]


class ReplayConfig(dg.Config):
    flow: str | None = Field(default=None, description="Only this flow's entries (e.g. orders).")
    source_ids: list[str] = Field(default_factory=list, description="Only these source record ids.")


@dg.op(required_resource_keys=RESOURCE_KEYS, tags={"o2c/kind": "dlq_replay"})
def replay_dead_letters(context: dg.OpExecutionContext, config: ReplayConfig) -> dict[str, Any]:
    """Re-drive selected DLQ entries through their flows; fixed records leave the queue."""
    ctx = _context(context)
    results = replay(ctx, config.flow, config.source_ids or None)
    mirror_to_warehouse(ctx)
    summary = {flow: stats.metadata() for flow, stats in results.items()}
    context.add_output_metadata(
        {
            "replayed_at": dt.datetime.now(dt.UTC).isoformat(),
            **{f"{flow}_{k}": v for flow, m in summary.items() for k, v in m.items()},
        }
    )
    return summary


@dg.job(description="Re-drive dead-lettered sync records (all, one flow's, or selected ids).")
def sync_dlq_replay() -> None:
    replay_dead_letters()


JOBS = [sync_dlq_replay]
