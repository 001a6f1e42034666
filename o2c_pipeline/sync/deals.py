"""Won deals (activated Orders, Closed-Won Opportunities) -> NetSuite sales orders, and what
NetSuite reports back on them: pure functions, tested without a network.

A sales order is validated the way NetSuite validates it before it is sent (quantity greater
than zero, an active item known by its SKU, a sane price), so a record NetSuite would refuse
waits in the DLQ with a reason instead of costing a call and a 400. Items are referenced by
internal id: most NetSuite items have no external id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from o2c_pipeline.netsuite.statuses import status_text
from o2c_pipeline.sync.config import SyncSettings, assert_owned
from o2c_pipeline.sync.mapping import DataError, _date_text, _number, _text, is_true


@dataclass(frozen=True)
class DealLine:
    """One line of a deal: an OrderItem or an OpportunityLineItem."""

    line_id: str
    sku: str | None
    quantity: float | None
    unit_price: float | None


def account_date(value: Any, timezone: str) -> str | None:
    """A calendar date in the NetSuite account's time zone.

    A Salesforce ``date`` is already a calendar date and passes through; an instant (datetime,
    naive = UTC) is converted to the account's zone first, so 23:30 UTC can be tomorrow in Tokyo.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and "T" not in value and len(value) <= 10:
        return value
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(ZoneInfo(timezone)).date().isoformat()
    return _date_text(value)


def item_for(sku: str, items: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The NetSuite item a SKU names: the active one when several carry it (a retired copy)."""
    active = [i for i in items if not is_true(i.get("isinactive"))]
    return (active or list(items) or [None])[0]


def sales_order_lines(
    label: str,
    lines: Sequence[DealLine],
    items: Mapping[str, Mapping[str, Any]],
    settings: SyncSettings,
) -> list[dict[str, Any]]:
    """The ``item`` sublist: each line checked as NetSuite checks it, the item by internal id."""
    if not lines:
        raise DataError("NO_LINES", f"{label} has no products; add them to create a sales order")
    out = []
    for line in lines:
        where = f"{label}: line {line.line_id}"
        if not line.sku:
            raise DataError("MISSING_SKU", f"{where} has a product without a ProductCode (SKU)")
        item = items.get(line.sku)
        if item is None:
            raise DataError(
                "UNKNOWN_SKU", f"{label}: SKU {line.sku!r} does not exist as a NetSuite item"
            )
        if is_true(item.get("isinactive")):
            raise DataError("INACTIVE_SKU", f"{label}: SKU {line.sku!r} is inactive in NetSuite")
        quantity = line.quantity
        if quantity is None or quantity < 0:
            raise DataError(
                "NEGATIVE_QUANTITY",
                f"{where} has quantity {quantity}; NetSuite needs a quantity greater than 0",
            )
        if quantity == 0:
            raise DataError(
                "ZERO_QUANTITY",
                f"{where} has quantity 0 (a legacy import?); NetSuite needs a quantity greater "
                "than 0: remove the line or set its quantity",
            )
        if quantity > settings.max_line_quantity:
            raise DataError(
                "QUANTITY_TOO_LARGE",
                f"{where} has quantity {quantity:g}, above the plausible maximum "
                f"{settings.max_line_quantity:g} (max_line_quantity); correct it",
            )
        if line.unit_price is not None and line.unit_price < 0:
            raise DataError(
                "NEGATIVE_PRICE",
                f"{where} has the negative price {line.unit_price}; discounts go on the price, "
                "not below zero",
            )
        entry: dict[str, Any] = {"item": {"id": str(item["id"])}, "quantity": quantity}
        if line.unit_price is not None:
            entry["rate"] = line.unit_price
        out.append(entry)
    return out


def sales_order_body(
    *,
    external_id: str,
    customer_internal_id: str,
    reference: str | None,
    tran_date: str | None,
    items: list[dict[str, Any]],
    currency_id: str | None,
) -> dict[str, Any]:
    """The sales order upsert body; totals are never sent (NetSuite computes them)."""
    body: dict[str, Any] = {
        "externalId": external_id,
        "entity": {"id": str(customer_internal_id)},
        "otherRefNum": reference,
        "tranDate": tran_date,
        "currency": {"id": currency_id} if currency_id else None,
        "item": {"items": items},
    }
    body = {k: v for k, v in body.items() if v is not None}
    assert_owned("netsuite.salesOrder", "salesforce", body)
    return body


# ---------------------------------------------------------------------------------------------
# NetSuite -> the won deal: fulfilment, billing and payment status on the Opportunity
# ---------------------------------------------------------------------------------------------

#: Sales order states that report nothing beyond the written-back id: the order is not shipped
#: or billed yet.
INITIAL_STATES = frozenset({"Pending Approval", "Pending Fulfillment"})


def opportunity_status_fields(
    sales_order: Mapping[str, Any],
    fulfillments: Sequence[Mapping[str, Any]],
    invoices: Sequence[Mapping[str, Any]],
    settings: SyncSettings,
) -> dict[str, Any]:
    """What the Opportunity shows of its sales order: fulfilment status (the settings'
    ``order_status`` table), tracking numbers, amounts invoiced and paid, payment status. Empty
    while the order is neither shipped nor billed."""
    state = status_text("SalesOrd", sales_order.get("status")) or ""
    if state in INITIAL_STATES and not fulfillments and not invoices:
        return {}
    fields: dict[str, Any] = {}
    rule = settings.order_rule(sales_order.get("status"))
    if rule is not None:
        fields["Fulfillment_Status__c"] = rule.fulfillment_status
    tracking = sorted(
        {
            n
            for f in fulfillments
            for n in (_text(f.get("trackingnumbers")) or "").replace("<BR>", " ").split()
        }
    )
    if tracking:
        fields["Tracking_Number__c"] = ", ".join(n.strip(",") for n in tracking)[:255]
    if invoices:
        invoiced = round(sum(_number(i.get("foreigntotal")) or 0.0 for i in invoices), 2)
        paid = round(sum(_number(i.get("foreignamountpaid")) or 0.0 for i in invoices), 2)
        fields["Amount_Invoiced__c"] = invoiced
        fields["Amount_Paid__c"] = paid
        fields["Payment_Status__c"] = (
            "Paid"
            if paid >= invoiced > 0
            else settings.partial_payment_status
            if paid > 0
            else "Unpaid"
        )
    assert_owned("salesforce.Opportunity", "netsuite", fields)
    return fields
