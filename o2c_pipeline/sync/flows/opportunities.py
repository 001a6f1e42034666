"""Closed-Won Salesforce Opportunities -> NetSuite sales orders (eid SF_OPP_<Id>), exactly one per deal.

The sales order's id is written back to ``Opportunity.NetSuite_Sales_Order_ID__c``. An
Opportunity whose Order has a sales order links to that one; under ``sales_order_trigger: both``
one with a live Order not synced yet waits for it (a DLQ entry naming the Order and why), so a
deal never gets two. The lines are the Opportunity Products; a deal without products (a
hand-typed Amount) waits in the DLQ until products are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import WriteBack
from o2c_pipeline.sync.mapping import DataError, is_true, strip_prefix
from o2c_pipeline.sync.sales_order_flow import SalesOrderFlow


class Opportunities(SalesOrderFlow):
    name = "opportunities"
    trigger = "opportunities"
    feeds = (
        Feed("salesforce.opportunities"),
        Feed("salesforce.opportunity_line_items", "OpportunityId"),
        Feed("salesforce.orders", "OpportunityId"),
    )
    after = ("customers", "products", "orders")
    write_back = WriteBack("Opportunity", "NetSuite_Sales_Order_ID__c")

    def prefix(self) -> str:
        return self.settings.opportunity_external_id_prefix

    def is_won(self, opportunity: dict[str, Any]) -> bool:
        return is_true(opportunity.get("IsWon"))

    def label(self, opportunity: dict[str, Any]) -> str:
        return f"Opportunity {opportunity.get('Name') or opportunity['Id']}"

    def header(self, opportunity: dict[str, Any]) -> dict[str, Any]:
        return {"tran_date": opportunity.get("CloseDate"), "reference": None}

    def record_ids(self, opportunity: dict[str, Any]) -> dict[str, str]:
        return {
            "Opportunity.Id": opportunity["Id"],
            "Account.Id": str(opportunity.get("AccountId")),
        }

    def paired(self, opportunities: Sequence[dict[str, Any]]) -> dict[str, str | DataError]:
        """Each deal's Orders: the sales order of one that has it, or (under ``both``) why the
        deal waits for a live Order that has none yet."""
        ids = [o["Id"] for o in opportunities]
        orders: dict[str, list[dict[str, Any]]] = {}
        for order in self.lookup("salesforce.orders", "OpportunityId", ids):
            orders.setdefault(str(order["OpportunityId"]), []).append(order)
        every = [o for group in orders.values() for o in group]
        synced = self.synced("orders", [o["Id"] for o in every])
        prefix = self.settings.sales_order_external_id_prefix
        eids = [prefix + o["Id"] for o in every]
        for row in self.lookup("netsuite.sales_orders", "externalid", eids):
            synced.setdefault(strip_prefix(row["externalid"], prefix) or "", str(row["id"]))
        for order in every:  # the id written back, when neither the ledger nor the warehouse has it
            if order["Id"] not in synced and order.get("NetSuite_Sales_Order_ID__c"):
                synced[order["Id"]] = str(order["NetSuite_Sales_Order_ID__c"])
        unsynced = [o["Id"] for o in every if o["Id"] not in synced]
        waits = self.ctx.store.open_letters("orders", unsynced)
        out: dict[str, str | DataError] = {}
        for opp in opportunities:
            group = sorted(orders.get(opp["Id"], []), key=lambda o: str(o.get("OrderNumber")))
            sales_order = next((synced[o["Id"]] for o in group if o["Id"] in synced), None)
            if sales_order:
                out[opp["Id"]] = str(sales_order)
                continue
            live = [o for o in group if o.get("Status") != "Cancelled"]
            if self.settings.sales_order_trigger == "both" and live:
                out[opp["Id"]] = self._waiting(opp, live[0], waits.get(live[0]["Id"]))
        return out

    def _waiting(self, opp: dict[str, Any], order: dict[str, Any], letter: Any) -> DataError:
        number = order.get("OrderNumber") or order["Id"]
        if letter is not None:
            why = f"it waits in the DLQ: {letter.reason}"
        elif order.get("Status") in self.settings.eligible_order_statuses:
            why = "its sales order is not created yet"
        else:
            why = f"it is {order.get('Status')}; it makes the sales order once activated"
        return DataError(
            "WAITING_FOR_ORDER",
            f"{self.label(opp)}: the deal's sales order comes from its Order {number}, and {why}",
        )
