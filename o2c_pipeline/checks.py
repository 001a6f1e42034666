"""Asset checks: is each extracted table complete, fresh and well-keyed, and does the sync hold?

Per extracted entity (one op per system for all of its entities, ``<system>_checks``, generated
from :data:`~o2c_pipeline.entities.ENTITIES`; a run evaluates the selected ones):

- ``matches_source_count``: rows in ``<table>_current`` whose stamp falls in the checked window
  equal the source's own count for that window (SOQL ``COUNT()`` / SuiteQL ``COUNT(*)``);
- ``open_partition_fresh``: today's (open) partition was materialized within :data:`FRESHNESS_SLA`;
- ``unique_keys``: no key appears twice in ``<table>_current``.

On the sync: every won deal of the configured kinds (activated Orders, Closed-Won Opportunities)
has a NetSuite sales order or waits in the DLQ with a reason (only the unexplained fail); NetSuite invoice totals
match their sales orders' totals and the Salesforce invoice mirror; the dead-letter queue is
drained. The checked window is the run's partition (range); a run without one — the nightly
reconciliation — checks yesterday, the last closed day.
"""

# No `from __future__ import annotations`: Dagster reads context and resource annotations at definition time.
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dagster as dg

from o2c_pipeline import keys
from o2c_pipeline.assets.warehouse_io import WarehouseResource
from o2c_pipeline.config import load as load_config
from o2c_pipeline.entities import ENTITIES, Entity
from o2c_pipeline.extract.windows import Window, reads_from
from o2c_pipeline.partitions import DAILY, open_partition_key
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.sla import SLA_CHECKS
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.store import SyncStore
from o2c_pipeline.systems import SYSTEMS, source_of
from o2c_pipeline.warehouse import Warehouse

#: the configuration file's ``thresholds:`` (defaults: the change sensors poll every 5 min, so a
#: table an hour old means trouble; an order activated within the grace is allowed to be in flight)
THRESHOLDS = load_config().config.thresholds
FRESHNESS_SLA = dt.timedelta(minutes=THRESHOLDS.freshness_sla_minutes)
ORDER_SYNC_GRACE = dt.timedelta(minutes=THRESHOLDS.order_sync_grace_minutes)
AMOUNT_TOLERANCE = THRESHOLDS.amount_tolerance
DLQ_STALE_AFTER = dt.timedelta(hours=THRESHOLDS.dlq_stale_after_hours)
SAMPLE = 10

ROW_COUNT, FRESH, UNIQUE = "matches_source_count", "open_partition_fresh", "unique_keys"


def checked_window(context: dg.AssetCheckExecutionContext, now: dt.datetime) -> tuple[str, Window]:
    """The run's partition or partition range as a window; yesterday when the run has none."""
    tags = context.run.tags
    if keys.RANGE_START_TAG in tags:
        first, last = tags[keys.RANGE_START_TAG], tags[keys.RANGE_END_TAG]
    elif context.has_partition_key:
        first = last = context.partition_key
    else:
        first = last = (now.astimezone(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    start = DAILY.time_window_for_partition_key(first).start
    end = DAILY.time_window_for_partition_key(last).end
    label = first if first == last else f"{first}...{last}"
    return label, Window(start, min(end, now))


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
            asset_key=keys.table_key(entity.table),
            passed=source == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description="not loaded yet",
            metadata=metadata,
        )
    return dg.AssetCheckResult(
        check_name=ROW_COUNT,
        asset_key=keys.table_key(entity.table),
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
        dg.AssetRecordsFilter(asset_key=keys.table_key(entity.table), asset_partitions=[today]),
        limit=1,
    ).records
    last = dt.datetime.fromtimestamp(records[0].timestamp, dt.UTC) if records else None
    age = (now - last) if last else None
    return dg.AssetCheckResult(
        check_name=FRESH,
        asset_key=keys.table_key(entity.table),
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
    duplicates = warehouse.duplicate_keys(entity, SAMPLE)
    return dg.AssetCheckResult(
        check_name=UNIQUE,
        asset_key=keys.table_key(entity.table),
        passed=not duplicates,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "key": entity.key,
            "duplicated_keys": len(duplicates),
            "sample": _sample(("key", "copies"), duplicates),
        },
    )


def _sample(
    header: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "none", limit: int = SAMPLE
) -> Any:
    return dg.MetadataValue.md(_md_table(header, rows[:limit])) if rows else empty


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def entity_check_specs(entity: Entity) -> list[dg.AssetCheckSpec]:
    """Row count, freshness and key uniqueness of one extracted entity."""
    key = keys.table_key(entity.table)
    return [
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


def build_system_checks(system_name: str, entities: Sequence[Entity]) -> dg.AssetChecksDefinition:
    """The entity checks of every one of a system's ``entities``, in one op (one step for a run,
    however many entities it selects: a step costs its launch and events whatever it checks).
    The system's resource varies with the system, hence ``required_resource_keys`` (see the
    extract assets). An entity whose checks raise does not keep the others' from being
    evaluated; the step then fails with its error (its checks show as failed to execute)."""
    system = SYSTEMS[system_name]
    by_key = {keys.table_key(e.table): e for e in entities}

    @dg.multi_asset_check(
        name=f"{system_name}_checks",
        specs=[spec for e in entities for spec in entity_check_specs(e)],
        can_subset=True,
        pool=system.pool.name,
        required_resource_keys={system.resource_key, keys.WAREHOUSE},
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        now = dt.datetime.now(dt.UTC)
        selected: dict[dg.AssetKey, set[str]] = {}
        for check_key in context.selected_asset_check_keys:
            selected.setdefault(check_key.asset_key, set()).add(check_key.name)
        warehouse = getattr(context.resources, keys.WAREHOUSE).warehouse()
        failures: list[tuple[Entity, Exception]] = []
        for asset_key, entity in by_key.items():
            names = selected.get(asset_key, set())
            try:
                if ROW_COUNT in names:
                    label, window = checked_window(context, now)
                    window = Window(
                        reads_from(entity.full_history, window.start, DAILY.start), window.end
                    )
                    source = source_of(context.resources, entity.system).count(entity, window)
                    loaded = warehouse.count_in_window(entity, window)
                    yield _count_result(entity, label, source, loaded)
                if FRESH in names:
                    yield _freshness_result(context.instance, entity, now)
                if UNIQUE in names:
                    yield _unique_result(warehouse, entity)
            except Exception as exc:  # noqa: BLE001 - raised below, after the other entities
                context.log.error(f"checks of {entity.table} failed: {exc!r}")
                failures.append((entity, exc))
        if failures:
            entity, exc = failures[0]
            tables = ", ".join(e.table for e, _ in failures)
            raise RuntimeError(f"checks could not be evaluated for {tables}") from exc

    return _checks


ENTITY_CHECKS = [
    build_system_checks(name, [e for e in ENTITIES if e.system == name])
    for name in sorted({e.system for e in ENTITIES})
]


# ---------------------------------------------------------------------------------------------
# The sync
# ---------------------------------------------------------------------------------------------


def written_since_extract(
    kind: str, warehouse: Warehouse, store: SyncStore, deal_ids: Sequence[str]
) -> set[str]:
    """The deals among ``deal_ids`` whose sales order the sync wrote after NetSuite's sales
    orders were extracted (the sync reads that extract, so within one run it is always older):
    NetSuite answered the write with the sales order's id, which the ledger keeps. An
    Opportunity counts through its own entry or one of its Orders'."""
    if not deal_ids:
        return set()
    found = {s for s, e in store.ledger(kind, deal_ids).items() if e.target_id}
    if kind == "opportunities" and warehouse.table_exists("salesforce.orders_current"):
        rest = [d for d in deal_ids if d not in found]
        marks = ", ".join("?" for _ in rest)
        orders = (
            warehouse.query(
                'SELECT "Id", "OpportunityId" FROM salesforce.orders_current '
                f'WHERE "OpportunityId" IN ({marks})',
                list(rest),
            )
            if rest
            else []
        )
        synced = {
            s for s, e in store.ledger("orders", [o for o, _ in orders]).items() if e.target_id
        }
        found |= {opportunity for order, opportunity in orders if order in synced}
    return found


def won_deals_result(
    kind: str, settings: SyncSettings, warehouse: Warehouse, store: SyncStore, now: dt.datetime
) -> dg.AssetCheckResult:
    """Won deals of ``kind`` without a sales order in the warehouse: written by the sync since
    NetSuite was extracted (fine, the next extract shows them), waiting in the DLQ with a reason
    (reported, fine) or missing for no known reason (fails); counted per currency."""
    if settings.sales_order_trigger not in (kind, "both"):
        return dg.AssetCheckResult(
            passed=True,
            metadata={"trigger": settings.sales_order_trigger},
            description=f"{kind} do not make sales orders under this trigger",
        )
    prefixes = {
        "orders": settings.sales_order_external_id_prefix,
        "opportunities": settings.opportunity_external_id_prefix,
    }
    without = warehouse.won_deals_without_sales_order(
        kind,
        statuses=settings.eligible_order_statuses,
        prefixes=prefixes,
        before=now - ORDER_SYNC_GRACE,
    )
    letters = {e.source_id: e for e in store.dlq(flow=kind, source_ids=[r[0] for r in without])}
    written = written_since_extract(
        kind, warehouse, store, [r[0] for r in without if r[0] not in letters]
    )
    missing = [r for r in without if r[0] not in letters and r[0] not in written]
    per_currency: dict[str, list[int]] = {}
    for currency, n in warehouse.won_deals_per_currency(
        kind, settings.eligible_order_statuses
    ).items():
        per_currency[currency] = [n, 0, 0]
    for row in without:
        if row[0] in written:
            continue
        counts = per_currency.setdefault(row[2] or "", [0, 0, 0])
        counts[1 if row[0] in letters else 2] += 1
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "trigger": settings.sales_order_trigger,
            "waiting_in_dlq": len(letters),
            "written_not_yet_extracted": len(written),
            "missing_without_reason": len(missing),
            "grace_minutes": ORDER_SYNC_GRACE.total_seconds() / 60,
            "per_currency": _sample(
                ("currency", "won deals", "waiting in DLQ", "missing"),
                [(c, *v) for c, v in sorted(per_currency.items())],
                limit=len(per_currency),
            ),
            "waiting_sample": _sample(
                ("id", "deal", "error", "reason"),
                [
                    (r[0], r[1], letters[r[0]].error_code, letters[r[0]].reason[:120])
                    for r in without
                    if r[0] in letters
                ],
            ),
            "missing_sample": _sample(("id", "deal", "currency", "won at"), missing),
        },
    )


def _won_deals_check(kind: str, description: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=keys.flow_key(kind),
        name=f"won_{kind}_have_sales_orders",
        description=description,
    )
    def _check(warehouse: WarehouseResource, checkpoints: CheckpointStore) -> dg.AssetCheckResult:
        return won_deals_result(
            kind,
            SyncSettings.from_env(),
            warehouse.warehouse(),
            SyncStore(checkpoints.engine()),
            dt.datetime.now(dt.UTC),
        )

    return _check


won_orders_have_sales_orders = _won_deals_check(
    "orders",
    "Every activated Salesforce Order (older than the grace period) has a NetSuite sales order "
    "or waits in the DLQ with a reason; counted per currency.",
)
won_opportunities_have_sales_orders = _won_deals_check(
    "opportunities",
    "Every Closed-Won Opportunity (older than the grace period) has a NetSuite sales order (its "
    "own or its Order's) or waits in the DLQ with a reason; counted per currency.",
)


@dg.asset_check(
    asset=keys.flow_key("invoices"),
    name="invoice_totals_match_sales_orders",
    description="NetSuite invoices never bill more than their sales order, fully billed orders match "
    "to the cent, and Salesforce invoice mirrors carry the NetSuite amount.",
)
def invoice_totals_match_sales_orders(
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    mismatches = warehouse.warehouse().invoice_total_mismatches(AMOUNT_TOLERANCE)
    return dg.AssetCheckResult(
        passed=not mismatches,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "mismatches": len(mismatches),
            "sample": _sample(("record", "expected", "found"), mismatches),
        },
    )


@dg.asset_check(
    asset=keys.flow_key("audit_log"),
    name="dead_letter_queue_drained",
    description="Warns while records wait in the dead-letter queue; fails when any has waited a day.",
)
def dead_letter_queue_drained(checkpoints: CheckpointStore) -> dg.AssetCheckResult:
    now = dt.datetime.now(dt.UTC)
    groups = SyncStore(checkpoints.engine()).overview(now, now - DLQ_STALE_AFTER)
    per_flow = [(g.flow, g.error_class, g.entries) for g in groups]
    total, stale = sum(g.entries for g in groups), sum(g.stale for g in groups)
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.ERROR if stale else dg.AssetCheckSeverity.WARN,
        metadata={
            "dlq_size": total,
            "older_than_a_day": stale,
            "by_flow": _sample(
                ("flow", "error class", "entries"), per_flow, "empty", limit=len(per_flow)
            ),
        },
    )


SYNC_CHECKS = [
    won_orders_have_sales_orders,
    won_opportunities_have_sales_orders,
    invoice_totals_match_sales_orders,
    dead_letter_queue_drained,
]
CHECKS: list[dg.AssetChecksDefinition] = [*ENTITY_CHECKS, *SYNC_CHECKS, *SLA_CHECKS]
