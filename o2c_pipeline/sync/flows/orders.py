"""Activated Salesforce Orders -> NetSuite sales orders (eid SF_ORDER_<Id>), created exactly once.

The sales order's id is written back to ``Order.NetSuite_Sales_Order_ID__c``. A sales order, once
created, belongs to NetSuite: it is never rewritten, only linked back. An Order made after its
Opportunity's sales order (``SF_OPP_<Id>``) links to that one instead of creating a second; under
``sales_order_trigger: opportunities`` Orders create none and are only linked. An order whose
account has no customer yet gets one on the spot, through the customers flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import WriteBack
from o2c_pipeline.sync.mapping import DataError
from o2c_pipeline.sync.sales_order_flow import SalesOrderFlow


class Orders(SalesOrderFlow):
    name = "orders"
    trigger = "orders"
    feeds = (Feed("salesforce.orders"), Feed("salesforce.order_items", "OrderId"))
    after = ("customers", "products")
    write_back = WriteBack("Order", "NetSuite_Sales_Order_ID__c")

    def prefix(self) -> str:
        return self.settings.sales_order_external_id_prefix

    def is_won(self, order: dict[str, Any]) -> bool:
        return order.get("Status") in self.settings.eligible_order_statuses

    def label(self, order: dict[str, Any]) -> str:
        return f"Order {order.get('OrderNumber') or order['Id']}"

    def header(self, order: dict[str, Any]) -> dict[str, Any]:
        return {
            "tran_date": order.get("EffectiveDate") or order.get("ActivatedDate"),
            "reference": order.get("OrderNumber"),
        }

    def record_ids(self, order: dict[str, Any]) -> dict[str, str]:
        return {
            "Order.Id": order["Id"],
            "OrderNumber": str(order.get("OrderNumber")),
            "Account.Id": str(order.get("AccountId")),
        }

    def paired(self, orders: Sequence[dict[str, Any]]) -> dict[str, str | DataError]:
        """Orders whose Opportunity has a sales order of its own (``SF_OPP_<Id>``) link to it:
        found in the warehouse or, before creating one, asked of NetSuite itself (a sales order
        written by a run that crashed before its bookkeeping is not landed yet)."""
        if self.settings.sales_order_trigger == "orders":
            return {}
        prefix = self.settings.opportunity_external_id_prefix
        eid_of = {o["Id"]: prefix + o["OpportunityId"] for o in orders if o.get("OpportunityId")}
        rows = self.lookup("netsuite.sales_orders", "externalid", eid_of.values())
        found = {str(r["externalid"]): str(r["id"]) for r in rows}
        if self.triggered and (ask := [e for e in set(eid_of.values()) if e not in found]):
            found.update(self.sales_orders_in_netsuite(ask))
        return {order: found[eid] for order, eid in eid_of.items() if eid in found}
