"""Dagster definitions of the sync: one asset per flow (keys ``sync/<source>_to_<target>``, :func:`~o2c_pipeline.keys.flow_key`), the warehouse mirror
of the sync's tables, and the DLQ replay job. Everything is generated from :data:`FLOWS`; a flow's
dependencies are the tables it declares it reads and the flows it runs after."""

# No `from __future__ import annotations`: Dagster reads resource annotations at definition time.
import datetime as dt
import inspect
from typing import Any

import dagster as dg
from pydantic import Field

from o2c_pipeline import keys
from o2c_pipeline.beta import accepted_beta_parameters
from o2c_pipeline.jobs import O2C_SYNC_TAG
from o2c_pipeline.netsuite.resource import NetSuiteResource
from o2c_pipeline.pools import DUCKDB_WAREHOUSE
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.salesforce.resource import SalesforceResource
from o2c_pipeline.sync.context import SyncContext, sync_context
from o2c_pipeline.sync.dlq_metadata import dlq_metadata
from o2c_pipeline.sync.flow import Flow
from o2c_pipeline.sync.flows import FLOWS, mode, replay
from o2c_pipeline.sync.plan import store_plan
from o2c_pipeline.sync.store import audit_table, dlq_table, review_table

#: Sync tables mirrored into the warehouse (schema ``sync``), so audit and DLQ are queryable there.
#: The audit log only grows and is appended to; the queues are small and replaced whole.
MIRRORED_TABLES = {
    "audit_log": audit_table,
    "dead_letter_queue": dlq_table,
    "review_queue": review_table,
}
APPEND_ONLY = {"audit_log": "id"}


def table_schema(table: Any) -> dg.TableSchema:
    """A checkpoint-store table's columns as Dagster shows them (the warehouse mirror's)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, str(c.type).lower(), description=c.comment or "")
            for c in table.columns
        ]
    )


def _context(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    salesforce: SalesforceResource,
    netsuite: NetSuiteResource,
    checkpoints: CheckpointStore,
    *,
    dry_run: bool = False,
) -> SyncContext:
    return sync_context(
        salesforce,
        netsuite,
        checkpoints,
        run_id=context.run.run_id,
        log=context.log,
        dry_run=dry_run,
    )


class SyncFlowConfig(dg.Config):
    dry_run: bool = Field(
        default=False,
        description="Plan only: compute every write this flow would make and report it (asset "
        "metadata, warehouse table sync.plan); write nothing. A flow in mode `plan` always is.",
    )


def flow_deps(flow: type[Flow]) -> list[dg.AssetKey]:
    """The tables the flow declares it reads, then the flows it runs after."""
    return [keys.table_key(t) for t in flow.reads()] + [keys.flow_key(f) for f in flow.after]


def build_flow_asset(flow: type[Flow]) -> dg.AssetsDefinition:
    with accepted_beta_parameters():
        return _flow_asset(flow)


def _flow_asset(flow: type[Flow]) -> dg.AssetsDefinition:
    @dg.asset(
        key=keys.flow_key(flow.name),
        owners=keys.OWNERS,
        code_version=keys.code_version(flow.name, inspect.getsource(flow)),
        deps=flow_deps(flow),
        description=flow.description,
        group_name=keys.SYNC_GROUP,
        kinds={"salesforce", "netsuite"},
        pool=flow.pool.name,
        tags=dict(O2C_SYNC_TAG),
    )
    def _flow(
        context: dg.AssetExecutionContext,
        config: SyncFlowConfig,
        salesforce: SalesforceResource,
        netsuite: NetSuiteResource,
        checkpoints: CheckpointStore,
    ) -> dg.MaterializeResult:
        label = keys.flow_key(flow.name).to_user_string()
        flow_mode = mode(flow.name)
        if flow_mode == "off":
            context.log.info(
                f"{label} (flow {flow.name}) is off in the configuration file (flows:)"
            )
            return dg.MaterializeResult(metadata={"mode": "off"})
        dry_run = config.dry_run or flow_mode == "plan"
        ctx = _context(context, salesforce, netsuite, checkpoints, dry_run=dry_run)
        stats = flow.sync(ctx)
        metadata: dict[str, Any] = {"mode": flow_mode, **stats.metadata()}
        if ctx.plan is not None:
            store_plan(ctx.warehouse, ctx.plan, flow.name, run_id=ctx.run_id, now=ctx.clock())
            metadata.update(ctx.plan.metadata(flow.name))
            context.log.info(f"{label} plan: {ctx.plan.summary(flow.name)}")
        context.log.info(f"{label}: {stats.metadata()}")
        return dg.MaterializeResult(metadata={**metadata, **dlq_metadata(ctx.store, flow.name)})

    return _flow


FLOW_ASSETS = [build_flow_asset(flow) for flow in FLOWS]


def mirror_to_warehouse(ctx: SyncContext) -> dict[str, int]:
    """Bring ``sync.<name>`` in the warehouse up to date with the checkpoint store; row counts."""
    return ctx.warehouse.mirror(
        MIRRORED_TABLES, lambda table, after: ctx.store.frame(table, after=after), APPEND_ONLY
    )


with accepted_beta_parameters():  # owners

    @dg.asset(
        key=keys.flow_key("audit_log"),
        owners=keys.OWNERS,
        deps=[keys.flow_key(flow.name) for flow in FLOWS],
        description="Audit log, dead-letter queue and review queue of the sync, mirrored into DuckDB "
        "(sync.audit_log, sync.dead_letter_queue, sync.review_queue).",
        metadata={
            "dagster/column_schema": table_schema(audit_table),
            "dagster/table_name": "sync.audit_log",
            **{f"sync.{name}": table_schema(t) for name, t in MIRRORED_TABLES.items()},
        },
        group_name=keys.SYNC_GROUP,
        kinds={"duckdb"},
        pool=DUCKDB_WAREHOUSE.name,
        tags=dict(O2C_SYNC_TAG),
    )
    def sync_audit_log(
        context: dg.AssetExecutionContext,
        salesforce: SalesforceResource,
        netsuite: NetSuiteResource,
        checkpoints: CheckpointStore,
    ) -> dg.MaterializeResult:
        counts = mirror_to_warehouse(_context(context, salesforce, netsuite, checkpoints))
        return dg.MaterializeResult(metadata={f"{k}_rows": v for k, v in counts.items()})


ASSETS: list[dg.AssetsDefinition] = [*FLOW_ASSETS, sync_audit_log]


class ReplayConfig(dg.Config):
    flow: str | None = Field(default=None, description="Only this flow's entries (e.g. orders).")
    source_ids: list[str] = Field(default_factory=list, description="Only these source record ids.")


@dg.op(tags={"o2c/kind": "dlq_replay"})
def replay_dead_letters(
    context: dg.OpExecutionContext,
    config: ReplayConfig,
    salesforce: SalesforceResource,
    netsuite: NetSuiteResource,
    checkpoints: CheckpointStore,
) -> dict[str, Any]:
    """Re-drive selected DLQ entries through their flows; fixed records leave the queue."""
    ctx = _context(context, salesforce, netsuite, checkpoints)
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
