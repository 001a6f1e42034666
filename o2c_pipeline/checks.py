"""Asset checks: is each extracted table complete, fresh and well-keyed, and does the sync hold?

Per extracted entity (one op per entity, generated from :data:`~o2c_pipeline.entities.ENTITIES`):

- ``matches_source_count``: rows in ``<table>_current`` whose stamp falls in the checked window
  equal the source's own count for that window (SOQL ``COUNT()`` / SuiteQL ``COUNT(*)``);
- ``open_partition_fresh``: today's (open) partition was materialized within :data:`FRESHNESS_SLA`;
- ``unique_keys``: no key appears twice in ``<table>_current``.

On the sync: every activated Salesforce order has a NetSuite sales order; NetSuite invoice totals
match their sales orders' totals and the Salesforce invoice mirror; the dead-letter queue is
drained. The checked window is the run's partition (range); a run without one — the nightly
reconciliation — checks yesterday, the last closed day.
"""

# No `from __future__ import annotations`: Dagster reads context and resource annotations at definition time.
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dagster as dg
import sqlalchemy as sa

from o2c_pipeline.entities import ENTITIES, Entity
from o2c_pipeline.extract.sources import NetSuiteSource, soql_window_filter
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.partitions import DAILY, open_partition_key
from o2c_pipeline.pools import POOLS_BY_NAME
from o2c_pipeline.resources import CheckpointStore
from o2c_pipeline.settings import CHECKPOINTS_RESOURCE_KEY
from o2c_pipeline.warehouse import Warehouse, q, table_ref

WAREHOUSE_KEY = "warehouse_io_manager"
FRESHNESS_SLA = dt.timedelta(hours=1)  # the change sensors poll every 5 min; an hour means trouble
ORDER_SYNC_GRACE = dt.timedelta(
    hours=1
)  # an order activated within this is allowed to be in flight
AMOUNT_TOLERANCE = 0.01
DLQ_STALE_AFTER = dt.timedelta(hours=24)
SAMPLE = 10
SYSTEM_POOLS = {"salesforce": "salesforce_api", "netsuite": "netsuite_api"}

ROW_COUNT, FRESH, UNIQUE = "matches_source_count", "open_partition_fresh", "unique_keys"
SYNC_GROUP = "sync"


def entity_key(entity: Entity) -> dg.AssetKey:
    return dg.AssetKey([entity.system, entity.name])


def checked_window(context: dg.AssetCheckExecutionContext, now: dt.datetime) -> tuple[str, Window]:
    """The run's partition or partition range as a window; yesterday when the run has none."""
    tags = context.run.tags
    if "dagster/asset_partition_range_start" in tags:
        first, last = (
            tags["dagster/asset_partition_range_start"],
            tags["dagster/asset_partition_range_end"],
        )
    elif context.has_partition_key:
        first = last = context.partition_key
    else:
        first = last = (now.astimezone(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    start = DAILY.time_window_for_partition_key(first).start
    end = DAILY.time_window_for_partition_key(last).end
    label = first if first == last else f"{first}...{last}"
    return label, Window(start, min(end, now))


def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def source_count(system: str, resource: Any, entity: Entity, window: Window) -> int:
    """The source's own count of live records stamped in ``window``."""
    if system == "salesforce":
        return int(resource.count(entity.source, soql_window_filter(entity, window)))
    return NetSuiteSource(resource).count(entity, window)


def warehouse_count(warehouse: Warehouse, entity: Entity, window: Window) -> int | None:
    if not warehouse.table_exists(entity.current_table):
        return None
    cursor = q(entity.cursor)
    ((n,),) = warehouse.query(
        f"SELECT count(*) FROM {table_ref(entity.current_table)} WHERE {cursor} >= ? AND {cursor} < ?",
        [_naive_utc(window.start), _naive_utc(window.end)],
    )
    return int(n)


def duplicate_keys(warehouse: Warehouse, entity: Entity) -> list[tuple[Any, int]]:
    if not warehouse.table_exists(entity.current_table):
        return []
    key = q(entity.key)
    return warehouse.query(
        f"SELECT {key}, count(*) AS n FROM {table_ref(entity.current_table)} "
        f"GROUP BY {key} HAVING count(*) > 1 ORDER BY n DESC LIMIT {SAMPLE}"
    )


def _count_result(
    entity: Entity, label: str, source: int, loaded: int | None
) -> dg.AssetCheckResult:
    metadata = {
        "window": label,
        "source_count": source,
        "warehouse_count": loaded if loaded is not None else -1,
    }
    if loaded is None:
        return dg.AssetCheckResult(
            check_name=ROW_COUNT,
            asset_key=entity_key(entity),
            passed=source == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description="not loaded yet",
            metadata=metadata,
        )
    return dg.AssetCheckResult(
        check_name=ROW_COUNT,
        asset_key=entity_key(entity),
        passed=loaded == source,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**metadata, "difference": loaded - source},
        description=None
        if loaded == source
        else f"{entity.current_table} has {loaded} rows in {label}; the source has {source}",
    )


def _freshness_result(
    instance: dg.DagsterInstance, entity: Entity, now: dt.datetime
) -> dg.AssetCheckResult:
    today = open_partition_key(now)
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=entity_key(entity), asset_partitions=[today]), limit=1
    ).records
    last = dt.datetime.fromtimestamp(records[0].timestamp, dt.UTC) if records else None
    age = (now - last) if last else None
    return dg.AssetCheckResult(
        check_name=FRESH,
        asset_key=entity_key(entity),
        passed=age is not None and age <= FRESHNESS_SLA,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "open_partition": today,
            "last_loaded": last.isoformat(timespec="seconds") if last else "never",
            "age_minutes": round(age.total_seconds() / 60, 1) if age else -1.0,
            "sla_minutes": FRESHNESS_SLA.total_seconds() / 60,
        },
    )


def _unique_result(warehouse: Warehouse, entity: Entity) -> dg.AssetCheckResult:
    duplicates = duplicate_keys(warehouse, entity)
    return dg.AssetCheckResult(
        check_name=UNIQUE,
        asset_key=entity_key(entity),
        passed=not duplicates,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "key": entity.key,
            "duplicated_keys": len(duplicates),
            "sample": dg.MetadataValue.md(_md_table(("key", "copies"), duplicates))
            if duplicates
            else "none",
        },
    )


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def build_entity_checks(entity: Entity) -> dg.AssetChecksDefinition:
    """Row count, freshness and key uniqueness of one extracted entity, in one op."""
    key = entity_key(entity)
    specs = [
        dg.AssetCheckSpec(
            ROW_COUNT,
            asset=key,
            description="Rows in the current table for the checked "
            "window equal the source's own count.",
        ),
        dg.AssetCheckSpec(
            FRESH, asset=key, description=f"Today's partition loaded within {FRESHNESS_SLA}."
        ),
        dg.AssetCheckSpec(
            UNIQUE, asset=key, description=f"{entity.key} is unique in {entity.current_table}."
        ),
    ]

    @dg.multi_asset_check(
        name=f"{entity.system}_{entity.name}_checks",
        specs=specs,
        can_subset=True,
        pool=POOLS_BY_NAME[SYSTEM_POOLS[entity.system]].name,
        required_resource_keys={entity.system, WAREHOUSE_KEY},
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        now = dt.datetime.now(dt.UTC)
        selected = {k.name for k in context.selected_asset_check_keys}
        warehouse = Warehouse(getattr(context.resources, WAREHOUSE_KEY).path)
        if ROW_COUNT in selected:
            label, window = checked_window(context, now)
            source = source_count(
                entity.system, getattr(context.resources, entity.system), entity, window
            )
            yield _count_result(entity, label, source, warehouse_count(warehouse, entity, window))
        if FRESH in selected:
            yield _freshness_result(context.instance, entity, now)
        if UNIQUE in selected:
            yield _unique_result(warehouse, entity)

    return _checks


ENTITY_CHECKS = [build_entity_checks(e) for e in ENTITIES]


# ---------------------------------------------------------------------------------------------
# The sync
# ---------------------------------------------------------------------------------------------


def orders_without_sales_order(
    warehouse: Warehouse, statuses: Sequence[str], prefix: str, now: dt.datetime
) -> list[tuple]:
    """Orders in an eligible status, activated before the grace period, with no NetSuite sales order."""
    if not (
        warehouse.table_exists("salesforce.orders_current")
        and warehouse.table_exists("netsuite.sales_orders_current")
    ):
        return []
    marks = ", ".join("?" for _ in statuses)
    return warehouse.query(
        f"""SELECT o."Id", o."OrderNumber", o."ActivatedDate"
        FROM salesforce.orders_current o
        WHERE o."Status" IN ({marks})
          AND coalesce(o."ActivatedDate", o."LastModifiedDate") < ?
          AND NOT EXISTS (
            SELECT 1 FROM netsuite.sales_orders_current s
            WHERE s.externalid = ? || o."Id" OR CAST(s.id AS VARCHAR) = o."NetSuite_Sales_Order_ID__c")
        ORDER BY o."ActivatedDate" LIMIT 1000""",
        [*statuses, _naive_utc(now - ORDER_SYNC_GRACE), prefix],
    )


def invoice_total_mismatches(warehouse: Warehouse) -> list[tuple]:
    """Sales orders billed for more than their total, or fully billed ('G') for a different total;
    and Salesforce invoice mirrors whose amount differs from the NetSuite invoice."""
    if not (
        warehouse.table_exists("netsuite.invoices_current")
        and warehouse.table_exists("netsuite.sales_orders_current")
    ):
        return []
    rows = warehouse.query(
        f"""WITH billed AS (
              SELECT createdfrom AS so_id, sum(foreigntotal) AS invoiced, count(*) AS invoices
              FROM netsuite.invoices_current WHERE createdfrom IS NOT NULL GROUP BY createdfrom)
            SELECT 'sales order ' || s.tranid, s.foreigntotal, b.invoiced
            FROM netsuite.sales_orders_current s JOIN billed b ON b.so_id = s.id
            WHERE b.invoiced > s.foreigntotal + {AMOUNT_TOLERANCE}
               OR (s.status = 'G' AND abs(b.invoiced - s.foreigntotal) > {AMOUNT_TOLERANCE})
            ORDER BY 1 LIMIT 1000"""
    )
    if warehouse.table_exists("salesforce.invoices_current"):
        rows += warehouse.query(
            f"""SELECT 'Salesforce invoice ' || f."Name", n.foreigntotal, f."Amount__c"
            FROM salesforce.invoices_current f
            JOIN netsuite.invoices_current n ON CAST(n.id AS VARCHAR) = f."NetSuite_Invoice_ID__c"
            WHERE abs(coalesce(f."Amount__c", 0) - n.foreigntotal) > {AMOUNT_TOLERANCE}
            ORDER BY 1 LIMIT 1000"""
        )
    return rows


def dlq_summary(checkpoints: CheckpointStore, now: dt.datetime) -> tuple[list[tuple], int]:
    """Open dead-letter entries per flow and error class, and how many are older than a day."""
    from o2c_pipeline.sync.store import dlq_table

    with checkpoints.engine().connect() as conn:
        per_flow = conn.execute(
            sa.select(dlq_table.c.flow, dlq_table.c.error_class, sa.func.count())
            .group_by(dlq_table.c.flow, dlq_table.c.error_class)
            .order_by(dlq_table.c.flow, dlq_table.c.error_class)
        ).all()
        stale = conn.execute(
            sa.select(sa.func.count()).where(dlq_table.c.first_seen < now - DLQ_STALE_AFTER)
        ).scalar_one()
    return [tuple(r) for r in per_flow], int(stale)


def build_sync_checks() -> list[dg.AssetChecksDefinition]:
    """Reconciliation between the systems, attached to the sync flow they verify."""
    from o2c_pipeline.sync.config import SyncSettings

    @dg.asset_check(
        asset=dg.AssetKey([SYNC_GROUP, "orders"]),
        name="activated_orders_have_sales_orders",
        description="Every activated Salesforce order (older than the grace period) has a NetSuite sales order.",
        required_resource_keys={WAREHOUSE_KEY},
    )
    def activated_orders_have_sales_orders(
        context: dg.AssetCheckExecutionContext,
    ) -> dg.AssetCheckResult:
        settings = SyncSettings.from_env()
        warehouse = Warehouse(getattr(context.resources, WAREHOUSE_KEY).path)
        missing = orders_without_sales_order(
            warehouse,
            settings.eligible_order_statuses,
            settings.sales_order_external_id_prefix,
            dt.datetime.now(dt.UTC),
        )
        return dg.AssetCheckResult(
            passed=not missing,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "orders_without_sales_order": len(missing),
                "grace_minutes": ORDER_SYNC_GRACE.total_seconds() / 60,
                "sample": dg.MetadataValue.md(
                    _md_table(("order id", "number", "activated"), missing[:SAMPLE])
                )
                if missing
                else "none",
            },
        )

    @dg.asset_check(
        asset=dg.AssetKey([SYNC_GROUP, "invoices"]),
        name="invoice_totals_match_sales_orders",
        description="NetSuite invoices never bill more than their sales order, fully billed orders match "
        "to the cent, and Salesforce invoice mirrors carry the NetSuite amount.",
        required_resource_keys={WAREHOUSE_KEY},
    )
    def invoice_totals_match_sales_orders(
        context: dg.AssetCheckExecutionContext,
    ) -> dg.AssetCheckResult:
        warehouse = Warehouse(getattr(context.resources, WAREHOUSE_KEY).path)
        mismatches = invoice_total_mismatches(warehouse)
        return dg.AssetCheckResult(
            passed=not mismatches,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "mismatches": len(mismatches),
                "sample": dg.MetadataValue.md(
                    _md_table(("record", "expected", "found"), mismatches[:SAMPLE])
                )
                if mismatches
                else "none",
            },
        )

    @dg.asset_check(
        asset=dg.AssetKey([SYNC_GROUP, "audit_log"]),
        name="dead_letter_queue_drained",
        description="Warns while records wait in the dead-letter queue; fails when any has waited a day.",
        required_resource_keys={CHECKPOINTS_RESOURCE_KEY},
    )
    def dead_letter_queue_drained(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        per_flow, stale = dlq_summary(
            getattr(context.resources, CHECKPOINTS_RESOURCE_KEY), dt.datetime.now(dt.UTC)
        )
        total = sum(n for *_, n in per_flow)
        return dg.AssetCheckResult(
            passed=total == 0,
            severity=dg.AssetCheckSeverity.ERROR if stale else dg.AssetCheckSeverity.WARN,
            metadata={
                "dlq_size": total,
                "older_than_a_day": stale,
                "by_flow": dg.MetadataValue.md(
                    _md_table(("flow", "error class", "entries"), per_flow)
                )
                if per_flow
                else "empty",
            },
        )

    return [
        activated_orders_have_sales_orders,
        invoice_totals_match_sales_orders,
        dead_letter_queue_drained,
    ]


SYNC_CHECKS = build_sync_checks()
CHECKS: list[dg.AssetChecksDefinition] = [*ENTITY_CHECKS, *SYNC_CHECKS]
