"""O2C stage SLAs: is the process itself moving, not only the runs? One asset check per stage,
on the table whose loads start the stage, so the change sensors' runs (which load the changed
tables) evaluate it, after the flows that move the stage when the run holds them (a sync cycle),
and the nightly reconciliation (every check):

- ``sla_won_deal_to_sales_order`` (on ``salesforce/sf_orders``): a won deal (activated Order,
  Closed-Won Opportunity, per ``sales_order_trigger``) has a NetSuite sales order within N hours;
- ``sla_sales_order_to_fulfillment`` (on ``netsuite/ns_sales_orders``): a sales order has an item
  fulfillment within N days of its date;
- ``sla_invoice_payment`` (on ``netsuite/ns_invoices``): an invoice is paid by its due date + N days.

Limits and severities come from the configuration file's ``slas:`` section. The overdue records
are the check's table metadata and the warehouse's ``sync.sla_<stage>`` table; records newly
overdue are sent through the alert webhook (:mod:`o2c_pipeline.alerts`), once per record.
Deals won (orders dated, invoices due) before the SLA's ``lookback_days`` are left to the
dead-letter queue and the reconciliation checks: the SLA watches the live process.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at definition time.
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import sqlalchemy as sa

from o2c_pipeline import alerts, keys
from o2c_pipeline.assets.warehouse_io import WarehouseResource
from o2c_pipeline.config import Sla
from o2c_pipeline.config import load as load_config
from o2c_pipeline.pools import DUCKDB_WAREHOUSE
from o2c_pipeline.resources.checkpoints import (
    CheckpointStore,
    UtcDateTime,
    checkpoint_metadata,
    checkpoint_table,
)
from o2c_pipeline.sync.config import SyncSettings
from o2c_pipeline.sync.store import SyncStore
from o2c_pipeline.warehouse import Warehouse

SAMPLE = 50
OVERDUE_COLUMNS = ("record", "label", "since", "due", "dlq_reason")

#: records already alerted, per SLA: a breach is sent once, not on every evaluation
sla_alerts_table = checkpoint_table(
    "o2c_sla_alerts",
    sa.Column("sla", sa.String(64), primary_key=True),
    sa.Column("record", sa.String(255), primary_key=True),
    sa.Column("alerted_at", UtcDateTime(), nullable=False),
)

overdue_table = sa.Table(
    "sla_overdue",
    sa.MetaData(),
    sa.Column("sla", sa.String(64)),
    *(sa.Column(c, sa.String(255)) for c in OVERDUE_COLUMNS),
    sa.Column("evaluated_at", sa.DateTime),
)


@dataclass(frozen=True)
class Overdue:
    record: str
    label: str
    since: str  # when the stage started (won at, order date, due date)
    due: str  # when the next stage was due
    dlq_reason: str = ""


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else str(value)
    return "" if value is None else str(value)


def won_deals_overdue(
    warehouse: Warehouse, store: SyncStore, sla: Sla, settings: SyncSettings, now: dt.datetime
) -> list[Overdue]:
    """Won deals without a sales order ``within`` hours after they were won."""
    limit = dt.timedelta(hours=sla.within)
    oldest = _naive(now - dt.timedelta(days=sla.lookback_days))
    prefixes = {
        "orders": settings.sales_order_external_id_prefix,
        "opportunities": settings.opportunity_external_id_prefix,
    }
    out = []
    for kind in ("orders", "opportunities"):
        if settings.sales_order_trigger not in (kind, "both"):
            continue
        rows = warehouse.won_deals_without_sales_order(
            kind,
            statuses=settings.eligible_order_statuses,
            prefixes=prefixes,
            before=now - limit,
        )
        rows = [r for r in rows if r[3] is not None and r[3] >= oldest]
        letters = {e.source_id: e for e in store.dlq(flow=kind, source_ids=[r[0] for r in rows])}
        for deal_id, label, _currency, won_at in rows:
            letter = letters.get(deal_id)
            out.append(
                Overdue(
                    deal_id,
                    f"{kind[:-1]} {label or deal_id}",
                    _text(won_at),
                    _text(won_at + limit),
                    letter.reason[:200] if letter else "",
                )
            )
    return out


def _query(warehouse: Warehouse, needed: Sequence[str], sql: str, params: list) -> list[tuple]:
    if not all(warehouse.table_exists(t) for t in needed):
        return []
    return warehouse.query(sql, params)


def sales_orders_unfulfilled(
    warehouse: Warehouse, sla: Sla, today: dt.date, lookback_from: dt.date
) -> list[Overdue]:
    """Sales orders pending fulfillment (status A/B) with no item fulfillment ``within`` days
    after their date."""
    rows = _query(
        warehouse,
        ["netsuite.sales_orders_current", "netsuite.fulfillments_current"],
        """SELECT CAST(s.id AS VARCHAR), s.tranid, s.trandate FROM netsuite.sales_orders_current s
        WHERE s.status IN ('A', 'B') AND s.trandate + CAST(? AS INTEGER) * INTERVAL '1 day' < ?
          AND s.trandate >= ?
          AND NOT EXISTS (SELECT 1 FROM netsuite.fulfillments_current f WHERE f.createdfrom = s.id)
        ORDER BY s.trandate, 1 LIMIT 5000""",
        [int(sla.within), today, lookback_from],
    )
    return [
        Overdue(so, f"sales order {tranid}", _text(day), _text(day + dt.timedelta(days=sla.within)))
        for so, tranid, day in rows
    ]


def invoices_unpaid(
    warehouse: Warehouse, sla: Sla, today: dt.date, lookback_from: dt.date
) -> list[Overdue]:
    """Open invoices unpaid ``within`` (grace) days after their due date."""
    rows = _query(
        warehouse,
        ["netsuite.invoices_current"],
        """SELECT CAST(i.id AS VARCHAR), i.tranid, i.duedate, i.foreignamountunpaid
        FROM netsuite.invoices_current i
        WHERE i.status = 'A' AND coalesce(i.foreignamountunpaid, i.foreigntotal) > 0
          AND i.duedate + CAST(? AS INTEGER) * INTERVAL '1 day' < ? AND i.duedate >= ?
        ORDER BY i.duedate, 1 LIMIT 5000""",
        [int(sla.within), today, lookback_from],
    )
    return [
        Overdue(
            inv,
            f"invoice {tranid} ({unpaid} unpaid)",
            _text(due),
            _text(due + dt.timedelta(days=sla.within)),
        )
        for inv, tranid, due, unpaid in rows
    ]


def _alert_new(
    checkpoints: CheckpointStore, name: str, overdue: Sequence[Overdue], now: dt.datetime
) -> int:
    """Send the records newly overdue through the alert webhook; how many were sent."""
    url = alerts.webhook_url()
    if not url or not overdue:
        return 0
    engine = checkpoints.engine()
    checkpoint_metadata.create_all(engine, tables=[sla_alerts_table])
    with engine.connect() as conn:
        done = {
            r[0]
            for r in conn.execute(
                sa.select(sla_alerts_table.c.record).where(sla_alerts_table.c.sla == name)
            )
        }
    new = [o for o in overdue if o.record not in done]
    if not new:
        return 0
    listed = ", ".join(o.label for o in new[:10]) + (" ..." if len(new) > 10 else "")
    text = f"o2c SLA breached: {name}: {len(new)} record(s) overdue: {listed}"
    fields = {"sla": name, "overdue": [vars(o) for o in new[:SAMPLE]], "evaluated_at": now}
    if not alerts.post_alert(url, text, fields):
        return 0
    with engine.begin() as conn:
        conn.execute(
            sla_alerts_table.insert(),
            [{"sla": name, "record": o.record, "alerted_at": now} for o in new],
        )
    return len(new)


def sla_result(
    name: str,
    sla: Sla,
    overdue: Sequence[Overdue],
    warehouse: Warehouse,
    checkpoints: CheckpointStore,
    now: dt.datetime,
) -> dg.AssetCheckResult:
    """The check's result; the overdue records go to the warehouse and, new ones, the webhook."""
    rows = [{"sla": name, **vars(o), "evaluated_at": _naive(now)} for o in overdue]
    warehouse.mirror({f"sla_{name}": overdue_table}, lambda _t, _after: rows, {})
    alerted = _alert_new(checkpoints, name, overdue, now)
    schema = dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in OVERDUE_COLUMNS])
    records = [dg.TableRecord({c: getattr(o, c) for c in OVERDUE_COLUMNS}) for o in overdue]
    return dg.AssetCheckResult(
        passed=not overdue,
        severity=dg.AssetCheckSeverity[sla.severity],
        metadata={
            "overdue": len(overdue),
            "within": sla.within,
            "lookback_days": sla.lookback_days,
            "alerted": alerted,
            "overdue_records": dg.MetadataValue.table(records[:SAMPLE], schema=schema),
            "warehouse_table": f"sync.sla_{name}",
        },
        description=f"{len(overdue)} overdue" if overdue else None,
    )


Evaluate = Callable[[Warehouse, SyncStore, Sla, SyncSettings, dt.datetime], list[Overdue]]


def _by_day(
    fn: Callable[[Warehouse, Sla, dt.date, dt.date], list[Overdue]],
) -> Evaluate:
    def evaluate(
        warehouse: Warehouse, store: SyncStore, sla: Sla, settings: SyncSettings, now: dt.datetime
    ) -> list[Overdue]:
        today = now.astimezone(dt.UTC).date()
        return fn(warehouse, sla, today, today - dt.timedelta(days=sla.lookback_days))

    return evaluate


@dataclass(frozen=True)
class Stage:
    #: the table whose loads start the stage: the check runs with them (the change sensors' runs)
    table: str
    #: what a run holding them does first (the other tables, the flows that move the stage)
    after: tuple[str, ...]
    config_key: str
    description: str
    evaluate: Evaluate


STAGES: dict[str, Stage] = {
    "won_deal_to_sales_order": Stage(
        "salesforce.orders",
        ("netsuite.sales_orders", "salesforce.opportunities", "sync/orders", "sync/opportunities"),
        "won_deal_to_sales_order_hours",
        "Every won deal has a NetSuite sales order within the configured hours.",
        won_deals_overdue,
    ),
    "sales_order_to_fulfillment": Stage(
        "netsuite.sales_orders",
        ("netsuite.fulfillments",),
        "sales_order_to_fulfillment_days",
        "Every sales order is fulfilled within the configured days of its date.",
        _by_day(sales_orders_unfulfilled),
    ),
    "invoice_payment": Stage(
        "netsuite.invoices",
        ("netsuite.payments",),
        "invoice_payment_grace_days",
        "Every invoice is paid by its due date plus the configured grace days.",
        _by_day(invoices_unpaid),
    ),
}


def _key(name: str) -> dg.AssetKey:
    return keys.flow_key(name[5:]) if name.startswith("sync/") else keys.table_key(name)


def evaluate(
    name: str, warehouse: Warehouse, checkpoints: CheckpointStore, now: dt.datetime
) -> dg.AssetCheckResult:
    """Evaluate one stage's SLA as configured (the file is read now: no reload needed)."""
    stage = STAGES[name]
    sla: Sla = getattr(load_config().config.slas, stage.config_key)
    if not sla.enabled:
        return dg.AssetCheckResult(passed=True, description="disabled in the configuration")
    store = SyncStore(checkpoints.engine())
    overdue = stage.evaluate(warehouse, store, sla, SyncSettings.from_env(), now)
    return sla_result(name, sla, overdue, warehouse, checkpoints, now)


def _sla_check(name: str) -> dg.AssetChecksDefinition:
    stage = STAGES[name]

    @dg.asset_check(
        asset=keys.table_key(stage.table),
        name=f"sla_{name}",
        description=stage.description,
        additional_deps=[_key(n) for n in stage.after],
        pool=DUCKDB_WAREHOUSE.name,  # it writes sync.sla_<stage>: DuckDB has one writer
    )
    def _check(warehouse: WarehouseResource, checkpoints: CheckpointStore) -> dg.AssetCheckResult:
        return evaluate(name, warehouse.warehouse(), checkpoints, dt.datetime.now(dt.UTC))

    return _check


SLA_CHECKS = [_sla_check(name) for name in STAGES]
