"""The seven O2C flows (and the review queue), each a function ``(ctx, only=None) -> FlowStats``.

``only=None`` runs the flow over what the delta loads changed since its checkpoint, plus DLQ
entries due for a retry, and then moves the checkpoint; ``only={ids}`` re-drives exactly those
source records (the DLQ replay) and leaves the checkpoint alone.

Exactly once: NetSuite records are written by external id (``PUT customer/eid:SF_ACCT_<Id>``,
``PUT salesOrder/eid:SF_ORDER_<Id>``), Salesforce records by id or external-id field, so a
repeat after a crash updates what the first attempt created instead of creating it again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from o2c_pipeline.resources.salesforce import SalesforceApiError
from o2c_pipeline.sync.config import status_text
from o2c_pipeline.sync.engine import (
    EPOCH,
    ChangeFeed,
    Feed,
    FlowRun,
    FlowStats,
    Pending,
    SyncContext,
    current_rows,
    index_by,
    new_request_id,
    write_netsuite,
    write_salesforce,
)
from o2c_pipeline.sync.mapping import (
    DataError,
    OrderLine,
    customer_body,
    customer_row_view,
    customer_view,
    invoice_fields,
    is_true,
    list_price,
    order_status_fields,
    payment_fields,
    product_fields,
    sales_order_body,
    same_where_known,
    strip_prefix,
)

WRITEBACK = ".writeback"


def _keys(
    ctx: SyncContext, flow: str, feed: ChangeFeed | None, only: Iterable[str] | None
) -> list[str]:
    """Changed records plus DLQ entries of the flow (and its write-back) due for a retry."""
    if only is not None:
        return list(dict.fromkeys(only))
    keys = feed.changed_keys() if feed else []
    now = ctx.clock()
    for name in (flow, flow + WRITEBACK):
        keys += [e.source_id for e in ctx.store.dlq(flow=name, due_before=now)]
    return list(dict.fromkeys(keys))


def _merge_writeback(stats: FlowStats, writeback: FlowStats) -> None:
    """Write-backs are part of the flow's cost: their writes, failures and calls count too."""
    stats.written += writeback.written
    stats.failed += writeback.failed
    stats.write_calls += writeback.write_calls


def _writeback(
    ctx: SyncContext,
    flow: str,
    sobject: str,
    field_name: str,
    targets: Mapping[str, str],
    current_values: Mapping[str, Any],
    correlations: Mapping[str, str],
) -> FlowStats:
    """Write NetSuite internal ids back to Salesforce records (``Id`` -> value), only where the
    record does not hold that value yet. Echo-safe: the flow that reads the record next finds
    its own request unchanged in the ledger and writes nothing."""
    run = FlowRun(
        ctx,
        flow + WRITEBACK,
        source_system="netsuite",
        target_system="salesforce",
        target_object=sobject,
    )
    run.load_ledger(targets)
    pending = []
    for record_id, value in targets.items():
        p = run.prepare(
            record_id,
            {f"{sobject}.Id": record_id, "netsuite_id": value},
            lambda r=record_id, v=value: {"Id": r, field_name: v},
            correlation_id=correlations.get(record_id),
        )
        if p is None:
            continue
        p.target_id = record_id
        if run.needs_write(p, target_equal=str(current_values.get(record_id) or "") == str(value)):
            pending.append(p)
    write_salesforce(run, sobject, pending, key_field="Id", operation="writeback")
    return run.finish()


# ---------------------------------------------------------------------------------------------
# 1. Salesforce Account -> NetSuite customer
# ---------------------------------------------------------------------------------------------

CUSTOMERS = "customers"


def sync_customers(ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
    feed = ChangeFeed(ctx, CUSTOMERS, [Feed("salesforce.accounts")])
    keys = _keys(ctx, CUSTOMERS, feed, only)
    accounts = current_rows(ctx, "salesforce.accounts", "Id", keys)
    stats, _ = upsert_customers(ctx, accounts)
    _resolve_vanished(ctx, CUSTOMERS, keys, accounts, "Id")
    if only is None:
        feed.commit()
    return stats


def upsert_customers(
    ctx: SyncContext, accounts: Sequence[Mapping[str, Any]]
) -> tuple[FlowStats, dict[str, str]]:
    """Upsert customers for Account rows; returns the stats and Account Id -> customer id for
    every account that now has a customer (the orders flow's on-the-spot sync uses this too)."""
    settings = ctx.settings
    run = FlowRun(
        ctx,
        CUSTOMERS,
        source_system="salesforce",
        target_system="netsuite",
        target_object="customer",
    )
    run.stats.considered = len(accounts)
    eids = {a["Id"]: settings.customer_external_id_prefix + a["Id"] for a in accounts}
    existing = index_by(
        current_rows(ctx, "netsuite.customers", "externalid", eids.values()), "externalid"
    )
    run.load_ledger(eids)
    customer_ids: dict[str, str] = {}
    correlations: dict[str, str] = {}
    to_write: list[Pending] = []
    for account in accounts:
        account_id = account["Id"]
        p = run.prepare(
            account_id,
            {"Account.Id": account_id, "customer.externalId": eids[account_id]},
            lambda a=account: customer_body(a, settings),
            source=account,
        )
        if p is None:
            continue
        row = existing.get(eids[account_id])
        entry = run.ledger_entry(account_id)
        p.target_id = str(row["id"]) if row else (entry.target_id if entry else None)
        equal = row is not None and same_where_known(
            customer_view(p.payload), customer_row_view(row)
        )
        if run.needs_write(p, target_equal=equal):
            to_write.append(p)
        elif p.target_id:
            customer_ids[account_id] = p.target_id
            correlations[account_id] = entry.correlation_id if entry else p.correlation_id

    def send(p: Pending) -> str:
        body = {k: v for k, v in p.payload.items() if k != "externalId"}
        return ctx.netsuite.upsert_record("customer", p.payload["externalId"], body)

    for p in write_netsuite(run, to_write, send, operation="upsert"):
        customer_ids[p.source_id] = p.target_id  # type: ignore[assignment]
        correlations[p.source_id] = p.correlation_id
    stats = run.finish()
    current = {a["Id"]: a.get("NetSuite_Customer_ID__c") for a in accounts}
    wb = _writeback(
        ctx, CUSTOMERS, "Account", "NetSuite_Customer_ID__c", customer_ids, current, correlations
    )
    _merge_writeback(stats, wb)
    stats.salesforce_calls += wb.salesforce_calls
    return stats, customer_ids


def _resolve_vanished(
    ctx: SyncContext, flow: str, keys: Sequence[str], rows: Sequence[Mapping[str, Any]], key: str
) -> None:
    """Records deleted at the source leave the DLQ: there is nothing left to sync."""
    present = {str(r[key]) for r in rows}
    gone = [k for k in keys if k not in present]
    if gone:
        ctx.store.resolve(flow, gone)
        ctx.store.resolve(flow + WRITEBACK, gone)


# ---------------------------------------------------------------------------------------------
# 2. NetSuite item -> Salesforce Product2 and standard PricebookEntry
# ---------------------------------------------------------------------------------------------

PRODUCTS = "products"


def sync_products(ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
    feed = ChangeFeed(ctx, PRODUCTS, [Feed("netsuite.items")])
    keys = _keys(ctx, PRODUCTS, feed, only)
    items = current_rows(ctx, "netsuite.items", "id", keys)
    run = FlowRun(
        ctx,
        PRODUCTS,
        source_system="netsuite",
        target_system="salesforce",
        target_object="Product2",
    )
    run.stats.considered = len(items)
    skus = [i.get("itemid") for i in items]
    by_ns_id = index_by(
        current_rows(ctx, "salesforce.products", "NetSuite_Item_ID__c", [i["id"] for i in items]),
        "NetSuite_Item_ID__c",
    )
    by_sku = index_by(current_rows(ctx, "salesforce.products", "ProductCode", skus), "ProductCode")
    run.load_ledger(str(i["id"]) for i in items)
    updates: list[Pending] = []
    creates: list[Pending] = []
    product_of_item: dict[str, str] = {}
    for item in items:
        item_id = str(item["id"])
        p = run.prepare(
            item_id,
            {"item.id": item_id, "sku": str(item.get("itemid"))},
            lambda i=item: product_fields(i),
            source=item,
        )
        if p is None:
            continue
        product = by_ns_id.get(item_id) or by_sku.get(p.payload["ProductCode"])
        if product is not None:
            p.payload = {"Id": product["Id"], **p.payload}
            p.target_id = product["Id"]
        elif (entry := run.ledger_entry(item_id)) and entry.target_id:
            p.target_id = entry.target_id
        equal = product is not None and same_where_known(p.payload, product)
        if run.needs_write(p, target_equal=equal):
            (updates if product is not None else creates).append(p)
        elif p.target_id:
            product_of_item[item_id] = p.target_id
    for p in write_salesforce(run, "Product2", updates, key_field="Id", operation="update"):
        product_of_item[p.source_id] = p.target_id  # type: ignore[assignment]
    for p in write_salesforce(
        run, "Product2", creates, key_field="NetSuite_Item_ID__c", operation="upsert"
    ):
        product_of_item[p.source_id] = p.target_id  # type: ignore[assignment]
    stats = run.finish()
    prices = _sync_standard_prices(ctx, {str(i["id"]): i for i in items}, product_of_item)
    _merge_writeback(stats, prices)
    stats.salesforce_calls += prices.salesforce_calls
    _resolve_vanished(ctx, PRODUCTS, keys, items, "id")
    if only is None:
        feed.commit()
    return stats


def _sync_standard_prices(
    ctx: SyncContext, items: Mapping[str, Mapping[str, Any]], product_of_item: Mapping[str, str]
) -> FlowStats:
    """Standard-price-book entries follow the item's base price and active flag.

    PricebookEntry has no external id, so the ledger decides what may have changed and one
    query per 200 products finds the entries to update or create.
    """
    run = FlowRun(
        ctx,
        PRODUCTS + ".pricebook",
        source_system="netsuite",
        target_system="salesforce",
        target_object="PricebookEntry",
    )
    run.load_ledger(product_of_item)
    wanted: dict[str, Pending] = {}
    for item_id, product_id in product_of_item.items():
        item = items.get(item_id)
        if item is None:
            continue
        price = list_price(item)
        p = run.prepare(
            item_id,
            {"item.id": item_id, "Product2.Id": product_id},
            lambda pid=product_id, pr=price, i=item: {
                "Product2Id": pid,
                "UnitPrice": pr or 0.0,
                "IsActive": not is_true(i.get("isinactive")),
            },
        )
        if p is not None and run.needs_write(p):
            wanted[product_id] = p
    if not wanted:
        return run.finish()
    standard = _standard_pricebook_id(ctx)
    existing: dict[str, dict[str, Any]] = {}
    product_ids = list(wanted)
    for start in range(0, len(product_ids), 200):
        in_list = ", ".join(f"'{pid}'" for pid in product_ids[start : start + 200])
        for page in ctx.salesforce.query_pages(
            "SELECT Id, Product2Id, UnitPrice, IsActive FROM PricebookEntry "
            f"WHERE Pricebook2Id = '{standard}' AND Product2Id IN ({in_list})"
        ):
            existing.update({r["Product2Id"]: r for r in page})
    updates, creates = [], []
    for product_id, p in wanted.items():
        entry = existing.get(product_id)
        if entry is not None:
            p.target_id = entry["Id"]
            if not run.needs_write(p, target_equal=same_where_known(p.payload, entry)):
                continue
            p.payload = {
                "Id": entry["Id"],
                "UnitPrice": p.payload["UnitPrice"],
                "IsActive": p.payload["IsActive"],
            }
            updates.append(p)
        else:
            p.payload = {**p.payload, "Pricebook2Id": standard}
            creates.append(p)
    write_salesforce(run, "PricebookEntry", updates, key_field="Id", operation="update")
    if creates:
        _create_salesforce(run, "PricebookEntry", creates)
    return run.finish()


def _standard_pricebook_id(ctx: SyncContext) -> str:
    for page in ctx.salesforce.query_pages("SELECT Id FROM Pricebook2 WHERE IsStandard = true"):
        return page[0]["Id"]
    raise DataError("NO_STANDARD_PRICEBOOK", "Salesforce has no standard price book")


def _create_salesforce(run: FlowRun, sobject: str, pendings: Sequence[Pending]) -> None:
    """Inserts for objects without an external id (composite create, 200 per call)."""
    for start in range(0, len(pendings), 200):
        chunk = pendings[start : start + 200]
        request_id = new_request_id()
        try:
            results = run.ctx.salesforce.composite_create(
                [dict(p.payload) for p in chunk], sobject=sobject
            )
        except SalesforceApiError as exc:
            for p in chunk:
                run.failed(
                    p,
                    request_id=request_id,
                    operation="create",
                    code=exc.error_code,
                    message=exc.message,
                    transient=exc.transient,
                )
            continue
        run.stats.write_calls += 1
        done = []
        for p, result in zip(chunk, results, strict=True):
            if result.get("success"):
                done.append((p, result.get("id"), request_id))
            else:
                error = (result.get("errors") or [{}])[0]
                run.failed(
                    p,
                    request_id=request_id,
                    operation="create",
                    code=str(error.get("statusCode")),
                    message=str(error.get("message")),
                    transient=False,
                )
        run.succeeded(done, operation="create")


# ---------------------------------------------------------------------------------------------
# 3. Salesforce Order (activated) + OrderItems -> NetSuite sales order
# ---------------------------------------------------------------------------------------------

ORDERS = "orders"


def sync_orders(ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
    settings = ctx.settings
    feed = ChangeFeed(
        ctx, ORDERS, [Feed("salesforce.orders"), Feed("salesforce.order_items", "OrderId")]
    )
    keys = _keys(ctx, ORDERS, feed, only)
    orders = current_rows(ctx, "salesforce.orders", "Id", keys)
    run = FlowRun(
        ctx,
        ORDERS,
        source_system="salesforce",
        target_system="netsuite",
        target_object="salesOrder",
    )
    run.stats.considered = len(orders)
    eligible = []
    for order in orders:
        if order.get("Status") in settings.eligible_order_statuses:
            eligible.append(order)
        else:
            run.skip(order["Id"])
    eids = {o["Id"]: settings.sales_order_external_id_prefix + o["Id"] for o in eligible}
    existing = index_by(
        current_rows(ctx, "netsuite.sales_orders", "externalid", eids.values()), "externalid"
    )
    run.load_ledger(eids)

    # A sales order, once created, belongs to NetSuite: it is never rewritten, only linked back.
    sales_order_ids: dict[str, str] = {}
    correlations: dict[str, str] = {}
    to_create = []
    for order in eligible:
        row, entry = existing.get(eids[order["Id"]]), run.ledger_entry(order["Id"])
        known = str(row["id"]) if row else (entry.target_id if entry else None)
        if known:
            sales_order_ids[order["Id"]] = known
            correlations[order["Id"]] = entry.correlation_id if entry else uuid.uuid4().hex
            run.stats.unchanged += 1
            if entry is None:
                run.already_present(order["Id"], known)
            else:
                run.settle(order["Id"])
        else:
            to_create.append(order)

    pending = _plan_sales_orders(ctx, run, to_create)
    for p in write_netsuite(
        run,
        pending,
        lambda p: ctx.netsuite.upsert_record(
            "salesOrder",
            p.payload["externalId"],
            {k: v for k, v in p.payload.items() if k != "externalId"},
        ),
        operation="upsert",
    ):
        sales_order_ids[p.source_id] = p.target_id  # type: ignore[assignment]
        correlations[p.source_id] = p.correlation_id
    stats = run.finish()
    current = {o["Id"]: o.get("NetSuite_Sales_Order_ID__c") for o in eligible}
    wb = _writeback(
        ctx, ORDERS, "Order", "NetSuite_Sales_Order_ID__c", sales_order_ids, current, correlations
    )
    _merge_writeback(stats, wb)
    stats.salesforce_calls += wb.salesforce_calls
    _resolve_vanished(ctx, ORDERS, keys, orders, "Id")
    if only is None:
        feed.commit()
    return stats


def _plan_sales_orders(
    ctx: SyncContext, run: FlowRun, orders: Sequence[Mapping[str, Any]]
) -> list[Pending]:
    """Validate customers, items and lines of new orders; sync missing customers on the spot."""
    if not orders:
        return []
    settings = ctx.settings
    lines_by_order: dict[str, list[Mapping[str, Any]]] = {}
    for line in current_rows(ctx, "salesforce.order_items", "OrderId", [o["Id"] for o in orders]):
        lines_by_order.setdefault(line["OrderId"], []).append(line)
    products = index_by(
        current_rows(
            ctx,
            "salesforce.products",
            "Id",
            [li.get("Product2Id") for ls in lines_by_order.values() for li in ls],
        ),
        "Id",
    )
    skus = {p.get("ProductCode") for p in products.values() if p.get("ProductCode")}
    items = current_rows(ctx, "netsuite.items", "itemid", skus)
    known_skus = {i["itemid"] for i in items}
    active_skus = {i["itemid"] for i in items if not is_true(i.get("isinactive"))}
    customers = _customers_for(ctx, [o["AccountId"] for o in orders])

    pending = []
    for order in orders:
        order_id = order["Id"]
        lines = [
            OrderLine(
                li["Id"],
                (products.get(li.get("Product2Id")) or {}).get("ProductCode"),
                li.get("Quantity"),
                li.get("UnitPrice"),
            )
            for li in sorted(
                lines_by_order.get(order_id, []),
                key=lambda r: (r.get("OrderItemNumber") or "", r["Id"]),
            )
        ]
        customer = customers.get(order["AccountId"])

        def build(
            o: Mapping[str, Any] = order,
            ls: list[OrderLine] = lines,
            c: str | Exception | None = customer,
        ) -> dict:
            if isinstance(c, Exception) or c is None:
                reason = c.reason if isinstance(c, DataError) else "its account could not be synced"
                raise DataError(
                    "CUSTOMER_NOT_SYNCED",
                    f"Order {o.get('OrderNumber') or o['Id']}: customer for Account {o['AccountId']} is missing in NetSuite: {reason}",
                )
            return sales_order_body(
                o,
                ls,
                customer_internal_id=c,
                active_skus=active_skus,
                known_skus=known_skus,
                settings=settings,
            )

        p = run.prepare(
            order_id,
            {
                "Order.Id": order_id,
                "OrderNumber": str(order.get("OrderNumber")),
                "Account.Id": order["AccountId"],
                "salesOrder.externalId": settings.sales_order_external_id_prefix + order_id,
            },
            build,
            source={**order, "lines": [vars(li) for li in lines]},
        )
        if p is not None:
            pending.append(p)
    return pending


def _customers_for(ctx: SyncContext, account_ids: Iterable[str]) -> dict[str, str | Exception]:
    """Account Id -> NetSuite customer id; accounts without a customer are synced right now."""
    prefix = ctx.settings.customer_external_id_prefix
    wanted = list(dict.fromkeys(account_ids))
    found: dict[str, str | Exception] = {}
    for entry_id, entry in ctx.store.ledger(CUSTOMERS, wanted).items():
        if entry.target_id:
            found[entry_id] = entry.target_id
    missing = [a for a in wanted if a not in found]
    for row in current_rows(ctx, "netsuite.customers", "externalid", [prefix + a for a in missing]):
        found[strip_prefix(row["externalid"], prefix)] = str(row["id"])  # type: ignore[index]
    missing = [a for a in wanted if a not in found]
    if missing:
        accounts = current_rows(ctx, "salesforce.accounts", "Id", missing)
        _, synced = upsert_customers(ctx, accounts)
        found.update(synced)
        for entry in ctx.store.dlq(flow=CUSTOMERS, source_ids=missing):
            found.setdefault(entry.source_id, DataError(entry.error_code, entry.reason))
    return found


# ---------------------------------------------------------------------------------------------
# 4. NetSuite fulfillment -> Salesforce Order status and tracking number
# ---------------------------------------------------------------------------------------------

FULFILLMENTS = "fulfillments"


def _salesforce_order_ids(
    ctx: SyncContext, sales_orders: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """Sales order id -> Salesforce Order Id (by its external id, else by the written-back id)."""
    prefix = ctx.settings.sales_order_external_id_prefix
    out = {
        str(so["id"]): oid
        for so in sales_orders
        if (oid := strip_prefix(so.get("externalid"), prefix))
    }
    rest = [str(so["id"]) for so in sales_orders if str(so["id"]) not in out]
    for row in current_rows(ctx, "salesforce.orders", "NetSuite_Sales_Order_ID__c", rest):
        out[str(row["NetSuite_Sales_Order_ID__c"])] = row["Id"]
    return out


def sync_fulfillments(ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
    feed = ChangeFeed(
        ctx,
        FULFILLMENTS,
        [Feed("netsuite.sales_orders"), Feed("netsuite.fulfillments", "createdfrom")],
    )
    keys = _keys(ctx, FULFILLMENTS, feed, only)
    sales_orders = current_rows(ctx, "netsuite.sales_orders", "id", keys)
    run = FlowRun(
        ctx,
        FULFILLMENTS,
        source_system="netsuite",
        target_system="salesforce",
        target_object="Order",
    )
    run.stats.considered = len(sales_orders)
    fulfillments: dict[str, list[Mapping[str, Any]]] = {}
    for f in current_rows(ctx, "netsuite.fulfillments", "createdfrom", keys):
        fulfillments.setdefault(str(f["createdfrom"]), []).append(f)
    order_ids = _salesforce_order_ids(ctx, sales_orders)
    orders = index_by(current_rows(ctx, "salesforce.orders", "Id", order_ids.values()), "Id")
    run.load_ledger(str(so["id"]) for so in sales_orders)
    pending = []
    for so in sales_orders:
        so_id = str(so["id"])
        order_id = order_ids.get(so_id)
        if order_id is None:
            run.skip(so_id)  # not an order from Salesforce
            continue
        p = run.prepare(
            so_id,
            {"salesOrder.id": so_id, "Order.Id": order_id},
            lambda s=so, o=order_id: {
                "Id": o,
                **order_status_fields(s, fulfillments.get(str(s["id"]), []), ctx.settings),
            },
            source=so,
        )
        if p is None:
            continue
        p.target_id = order_id
        if len(p.payload) == 1:
            run.skip(so_id)
            continue
        current = orders.get(order_id)
        if run.needs_write(
            p, target_equal=current is not None and same_where_known(p.payload, current)
        ):
            pending.append(p)
    write_salesforce(run, "Order", pending, key_field="Id", operation="update")
    _resolve_vanished(ctx, FULFILLMENTS, keys, sales_orders, "id")
    if only is None:
        feed.commit()
    return run.finish()


# ---------------------------------------------------------------------------------------------
# 5. NetSuite invoice -> Salesforce Invoice__c; 6. payments -> payment status and amount paid
# ---------------------------------------------------------------------------------------------

INVOICES = "invoices"
PAYMENTS = "payments"


@dataclass
class _InvoiceLinks:
    order_of_invoice: dict[str, str | None] = field(default_factory=dict)
    account_of_invoice: dict[str, str | None] = field(default_factory=dict)


def _invoice_links(ctx: SyncContext, invoices: Sequence[Mapping[str, Any]]) -> _InvoiceLinks:
    links = _InvoiceLinks()
    sales_orders = current_rows(
        ctx, "netsuite.sales_orders", "id", [i.get("createdfrom") for i in invoices]
    )
    order_ids = _salesforce_order_ids(ctx, sales_orders)
    prefix = ctx.settings.customer_external_id_prefix
    customers = index_by(
        current_rows(ctx, "netsuite.customers", "id", [i.get("entity") for i in invoices]), "id"
    )
    accounts = index_by(
        current_rows(
            ctx,
            "salesforce.accounts",
            "NetSuite_Customer_ID__c",
            [i.get("entity") for i in invoices],
        ),
        "NetSuite_Customer_ID__c",
    )
    for inv in invoices:
        inv_id = str(inv["id"])
        links.order_of_invoice[inv_id] = order_ids.get(str(inv.get("createdfrom")))
        customer = customers.get(str(inv.get("entity")))
        account_id = strip_prefix((customer or {}).get("externalid"), prefix)
        if account_id is None and (acct := accounts.get(str(inv.get("entity")))):
            account_id = acct["Id"]
        links.account_of_invoice[inv_id] = account_id
    return links


def sync_invoices(ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
    feed = ChangeFeed(ctx, INVOICES, [Feed("netsuite.invoices")])
    keys = _keys(ctx, INVOICES, feed, only)
    invoices = current_rows(ctx, "netsuite.invoices", "id", keys)
    links = _invoice_links(ctx, invoices)
    existing = index_by(
        current_rows(ctx, "salesforce.invoices", "NetSuite_Invoice_ID__c", keys),
        "NetSuite_Invoice_ID__c",
    )
    stats = _upsert_invoices(
        ctx,
        INVOICES,
        invoices,
        existing,
        lambda inv: invoice_fields(
            inv,
            order_id=links.order_of_invoice[str(inv["id"])],
            account_id=links.account_of_invoice[str(inv["id"])],
            settings=ctx.settings,
        ),
    )
    _resolve_vanished(ctx, INVOICES, keys, invoices, "id")
    if only is None:
        feed.commit()
    return stats


def sync_payments(ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
    """Payments change what an invoice has been paid; the warehouse lands no payment-to-invoice
    link, so a changed payment re-considers its customer's invoices (the ledger keeps that cheap)."""
    feed = ChangeFeed(
        ctx, PAYMENTS, [Feed("netsuite.invoices"), Feed("netsuite.payments", "entity")]
    )
    if only is None:
        changed = feed.changed_keys()
        invoice_keys = set(changed)
        invoice_keys |= {
            str(r["id"]) for r in current_rows(ctx, "netsuite.invoices", "entity", changed)
        }
        keys = _keys(ctx, PAYMENTS, None, None) + sorted(invoice_keys)
    else:
        keys = list(only)
    invoices = current_rows(ctx, "netsuite.invoices", "id", keys)
    existing = index_by(
        current_rows(ctx, "salesforce.invoices", "NetSuite_Invoice_ID__c", keys),
        "NetSuite_Invoice_ID__c",
    )
    synced = {k for k, e in ctx.store.ledger(INVOICES, keys).items() if e.target_id}

    def build(inv: Mapping[str, Any]) -> dict[str, Any]:
        inv_id = str(inv["id"])
        if inv_id not in existing and inv_id not in synced:
            raise DataError(
                "INVOICE_NOT_SYNCED",
                f"NetSuite invoice {inv.get('tranid') or inv_id} is not in Salesforce yet; see the invoices flow's DLQ entry",
            )
        return payment_fields(inv, ctx.settings)

    stats = _upsert_invoices(ctx, PAYMENTS, invoices, existing, build)
    if only is None:
        feed.commit()
    return stats


def _upsert_invoices(
    ctx: SyncContext,
    flow: str,
    invoices: Sequence[Mapping[str, Any]],
    existing: Mapping[str, Mapping[str, Any]],
    build: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> FlowStats:
    run = FlowRun(
        ctx, flow, source_system="netsuite", target_system="salesforce", target_object="Invoice__c"
    )
    run.stats.considered = len(invoices)
    run.load_ledger(str(i["id"]) for i in invoices)
    pending = []
    for inv in invoices:
        inv_id = str(inv["id"])
        p = run.prepare(
            inv_id,
            {"invoice.id": inv_id, "tranid": str(inv.get("tranid"))},
            lambda i=inv: build(i),
            source=inv,
        )
        if p is None:
            continue
        current = existing.get(inv_id)
        p.target_id = current["Id"] if current else None
        if run.needs_write(
            p, target_equal=current is not None and same_where_known(p.payload, current)
        ):
            pending.append(p)
    write_salesforce(
        run, "Invoice__c", pending, key_field="NetSuite_Invoice_ID__c", operation="upsert"
    )
    return run.finish()


# ---------------------------------------------------------------------------------------------
# 7. Credit memos and refunds -> review queue (never applied automatically)
# ---------------------------------------------------------------------------------------------

REVIEW = "review_queue"
REVIEW_TYPES = {"CustCred": "creditMemo", "CustRfnd": "customerRefund"}


def sync_review_queue(ctx: SyncContext, only: Iterable[str] | None = None) -> FlowStats:
    """Queue NetSuite credit memos and refunds changed since the last look for a person to apply.

    They are not among the delta-loaded tables, so this flow reads them with one incremental
    SuiteQL query (``>=`` the last stamp seen: re-reading a boundary row is harmless, missing
    one is not).
    """
    key = f"sync/{REVIEW}/netsuite.transaction"
    mark = ctx.checkpoints.get_watermark(key)
    since = (mark.modstamp if mark else EPOCH).strftime("%Y-%m-%d %H:%M:%S")
    types = ", ".join(f"'{t}'" for t in REVIEW_TYPES)
    run = FlowRun(
        ctx,
        REVIEW,
        source_system="netsuite",
        target_system="warehouse",
        target_object="review_queue",
    )
    sql = (
        "SELECT t.id, t.tranid, t.type, t.status, t.entity, t.foreigntotal, "
        "TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, "
        "TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified, c.externalid AS customer_externalid "
        "FROM transaction t LEFT JOIN customer c ON c.id = t.entity "
        f"WHERE t.type IN ({types}) AND t.lastmodifieddate >= TO_TIMESTAMP('{since}', 'YYYY-MM-DD HH24:MI:SS') "
        "ORDER BY t.lastmodifieddate, t.id"
    )
    if only is not None:
        ids = ", ".join(str(int(i)) for i in only) or "NULL"
        sql = sql.replace("WHERE ", f"WHERE t.id IN ({ids}) AND ", 1)
    rows = [r for page in ctx.netsuite.suiteql_pages(sql) for r in page]
    newest = max((r["modified"] for r in rows), default=None)
    prefix = ctx.settings.customer_external_id_prefix
    queued = [
        {
            "netsuite_id": str(r["id"]),
            "record_type": REVIEW_TYPES.get(r.get("type", ""), r.get("type")),
            "tran_id": r.get("tranid"),
            "customer_id": r.get("entity"),
            "salesforce_account_id": strip_prefix(r.get("customer_externalid"), prefix),
            "amount": float(r["foreigntotal"]) if r.get("foreigntotal") not in (None, "") else None,
            "status": status_text(r.get("type", ""), r.get("status")),
            "tran_date": r.get("trandate"),
        }
        for r in rows
    ]
    ctx.store.queue_for_review(queued, ctx.clock())
    run.stats.considered = len(rows)
    run.stats.written = len(rows)
    if only is None and newest:
        ctx.checkpoints.set_watermark(key, dt.datetime.fromisoformat(newest).replace(tzinfo=dt.UTC))
    return run.finish()


# ---------------------------------------------------------------------------------------------
# The flows, declared once: assets, the replay job and the CLI read this table.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowSpec:
    name: str
    run: Callable[[SyncContext, Iterable[str] | None], FlowStats]
    reads: tuple[str, ...]  # warehouse tables (delta-load assets) the flow is driven by
    after: tuple[str, ...]  # flows that must run first in a cycle
    pool: str
    description: str


FLOWS: tuple[FlowSpec, ...] = (
    FlowSpec(
        CUSTOMERS,
        sync_customers,
        ("salesforce.accounts", "netsuite.customers"),
        (),
        "netsuite_api",
        "Salesforce Accounts -> NetSuite customers (upsert by eid SF_ACCT_<Id>); customer id written back.",
    ),
    FlowSpec(
        PRODUCTS,
        sync_products,
        ("netsuite.items", "salesforce.products"),
        (),
        "salesforce_api",
        "NetSuite items -> Salesforce Product2 (matched on SKU / NetSuite_Item_ID__c) and standard prices.",
    ),
    FlowSpec(
        ORDERS,
        sync_orders,
        (
            "salesforce.orders",
            "salesforce.order_items",
            "salesforce.products",
            "netsuite.items",
            "netsuite.customers",
            "netsuite.sales_orders",
        ),
        (CUSTOMERS, PRODUCTS),
        "netsuite_api",
        "Activated Salesforce Orders -> NetSuite sales orders (eid SF_ORDER_<Id>), created exactly once.",
    ),
    FlowSpec(
        FULFILLMENTS,
        sync_fulfillments,
        ("netsuite.sales_orders", "netsuite.fulfillments", "salesforce.orders"),
        (ORDERS,),
        "salesforce_api",
        "NetSuite fulfillment state -> Salesforce Order Fulfillment_Status__c, Status, Tracking_Number__c.",
    ),
    FlowSpec(
        INVOICES,
        sync_invoices,
        ("netsuite.invoices", "netsuite.sales_orders", "netsuite.customers", "salesforce.invoices"),
        (ORDERS,),
        "salesforce_api",
        "NetSuite invoices -> Salesforce Invoice__c (upsert by NetSuite_Invoice_ID__c) linked to Order and Account.",
    ),
    FlowSpec(
        PAYMENTS,
        sync_payments,
        ("netsuite.invoices", "netsuite.payments", "salesforce.invoices"),
        (INVOICES,),
        "salesforce_api",
        "NetSuite payments -> Invoice__c Payment_Status__c and Amount_Paid__c.",
    ),
    FlowSpec(
        REVIEW,
        sync_review_queue,
        (),
        (),
        "netsuite_api",
        "NetSuite credit memos and refunds -> the review queue (never applied automatically).",
    ),
)
FLOWS_BY_NAME: dict[str, FlowSpec] = {f.name: f for f in FLOWS}


def base_flow(name: str) -> FlowSpec:
    """The flow that re-drives a DLQ entry of ``name`` (write-backs belong to their flow)."""
    return FLOWS_BY_NAME[name.split(".", 1)[0]]


def replay(
    ctx: SyncContext, flow: str | None = None, source_ids: Sequence[str] | None = None
) -> dict[str, FlowStats]:
    """Re-drive DLQ entries now: all of them, one flow's, or selected records of one flow."""
    entries = ctx.store.dlq(flow=None, source_ids=source_ids)
    selected: dict[str, list[str]] = {}
    for e in entries:
        spec = base_flow(e.flow)
        if flow is None or spec.name == base_flow(flow).name:
            selected.setdefault(spec.name, []).append(e.source_id)
    results = {}
    for spec in FLOWS:  # in dependency order
        if spec.name in selected:
            results[spec.name] = spec.run(ctx, selected[spec.name])
    return results
