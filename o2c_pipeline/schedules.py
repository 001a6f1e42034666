"""Schedules: the batch flows of the O2C flow table, and a nightly reconciliation.

| Schedule | When (UTC) | Runs | Default |
|---|---|---|---|
| ``daily_invoice_payment_batch`` | 06:00 daily | extract invoices/payments for yesterday..today (one run), then sync them to Salesforce | stopped: writes to Salesforce |
| ``hourly_item_price_sync`` | :15 every hour | extract items/products for today, then sync Product2 and prices | stopped: writes to Salesforce |
| ``nightly_reconciliation`` | 02:30 daily | every asset check (row counts vs the sources for yesterday, freshness, keys, the sync, the O2C stage SLAs) | running: read-only |
| ``formula_field_refresh`` | :45 every hour | re-read Salesforce formula and roll-up fields of recently stamped records (:mod:`o2c_pipeline.formula_refresh`) | running: writes only the warehouse |

The times are the defaults; the configuration file's ``triggers:`` section sets them
(``invoice_payment_batch_cron``, ``item_price_sync_cron``, ``reconciliation_cron``).
Write-back schedules start stopped so that deploying the code never writes to a CRM by itself;
turn them on in the UI (Automation) once the credentials point where they should. Each schedule's
target is a job of the same name, so any of them can also be launched on demand from the UI
(Jobs → Launchpad, or the schedule's "Test schedule") or with ``dagster job launch``.
"""

# No `from __future__ import annotations`: Dagster reads context annotations at definition time.
import datetime as dt
from collections.abc import Callable
from typing import Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from o2c_pipeline import keys
from o2c_pipeline.config import load as load_config
from o2c_pipeline.formula_refresh import formula_refresh
from o2c_pipeline.partitions import partition_key
from o2c_pipeline.pools import ensure_pool_limits

TRIGGERS = load_config().config.triggers


def flow_job(name: str, flows: tuple[str, ...], description: str) -> UnresolvedAssetJobDefinition:
    """The flows plus the extraction assets they read (not other flows: those have their own cadence)."""
    selected = dg.AssetSelection.assets(*(keys.flow_key(flow) for flow in flows))
    upstream_extracts = selected.upstream(depth=1) - dg.AssetSelection.groups(keys.SYNC_GROUP)
    return dg.define_asset_job(
        name=name, selection=selected | upstream_extracts, description=description
    )


invoice_payment_batch = flow_job(
    "invoice_payment_batch",
    ("invoices", "payments"),
    "NetSuite invoices and payments -> Salesforce (flow steps 5 and 6: scheduled batch, daily).",
)
item_price_sync = flow_job(
    "item_price_sync",
    ("products",),
    "NetSuite items -> Salesforce Product2 and price book entries (flow step 2, scheduled).",
)
reconciliation = dg.define_asset_job(
    name="reconciliation",
    selection=dg.AssetSelection.all_asset_checks(),
    description="Every asset check, without materializing anything: yesterday's row counts against "
    "the sources, freshness, key uniqueness and the sync's reconciliation.",
)


def _day(context: dg.ScheduleEvaluationContext) -> dt.date:
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    return when.astimezone(dt.UTC).date()


def utc_schedule(job: Any, cron: str, *, writes: bool) -> Callable[[Callable], Any]:
    """A schedule in UTC, named and described by its function; one that writes to a system
    starts stopped."""

    def decorate(fn: Callable) -> Any:
        return dg.schedule(
            job=job,
            cron_schedule=cron,
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.STOPPED
            if writes
            else dg.DefaultScheduleStatus.RUNNING,
            description=" ".join((fn.__doc__ or "").split()),
        )(fn)

    return decorate


@utc_schedule(invoice_payment_batch, TRIGGERS.invoice_payment_batch_cron, writes=True)
def daily_invoice_payment_batch(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """06:00 UTC: close yesterday and catch up today (one run over both days), then sync
    invoices and payments to Salesforce."""
    ensure_pool_limits(context.instance)
    today = _day(context)
    first, last = partition_key(today - dt.timedelta(days=1)), partition_key(today)
    return dg.RunRequest(
        run_key=f"invoice_payment_batch:{last}",
        tags={keys.RANGE_START_TAG: first, keys.RANGE_END_TAG: last},
    )


@utc_schedule(item_price_sync, TRIGGERS.item_price_sync_cron, writes=True)
def hourly_item_price_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every hour at :15: today's item changes, then Product2 and prices in Salesforce."""
    ensure_pool_limits(context.instance)
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = partition_key(_day(context))
    return dg.RunRequest(
        run_key=f"item_price_sync:{when.astimezone(dt.UTC):%Y-%m-%dT%H}", partition_key=day
    )


@utc_schedule(reconciliation, TRIGGERS.reconciliation_cron, writes=False)
def nightly_reconciliation(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """02:30 UTC: run every asset check against yesterday and the current state."""
    return dg.RunRequest(run_key=f"reconciliation:{partition_key(_day(context))}")


@utc_schedule(formula_refresh, load_config().config.formula_refresh.cron, writes=False)
def formula_field_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Hourly at :45 (``formula_refresh.cron``): re-read Salesforce formula and roll-up fields
    of recently stamped records, which change without a new SystemModstamp."""
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    return dg.RunRequest(run_key=f"formula_refresh:{when.astimezone(dt.UTC):%Y-%m-%dT%H:%M}")


JOBS = [invoice_payment_batch, item_price_sync, reconciliation, formula_refresh]
SCHEDULES = [
    daily_invoice_payment_batch,
    hourly_item_price_sync,
    nightly_reconciliation,
    formula_field_refresh,
]
