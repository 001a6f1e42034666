"""Activated Salesforce Orders -> NetSuite sales orders (eid SF_ORDER_<Id>), created exactly once.

The sales order's id is written back to ``Order.NetSuite_Sales_Order_ID__c``. A sales order, once
created, belongs to NetSuite: it is never rewritten, only linked back. An order whose account has
no customer yet gets one on the spot, through the customers flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Flow, Target, WriteBack
from o2c_pipeline.sync.mapping import DataError, OrderLine, is_true, sales_order_body
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import write_netsuite


class Orders(Flow):
    name = "orders"
    writes = Target("netsuite", "salesOrder")
    feeds = (Feed("salesforce.orders"), Feed("salesforce.order_items", "OrderId"))
    lookups = ("netsuite.sales_orders", "salesforce.products", "netsuite.items")
    after = ("customers", "products")
    write_back = WriteBack("Order", "NetSuite_Sales_Order_ID__c")

    def external_id(self, order_id: str) -> str:
        return self.settings.sales_order_external_id_prefix + order_id

    def plan(self, orders: Sequence[dict[str, Any]]) -> None:
        eligible = [o for o in orders if o.get("Status") in self.settings.eligible_order_statuses]
        self.eligible = {o["Id"] for o in eligible}
        existing = self.index(
            "netsuite.sales_orders", "externalid", [self.external_id(o["Id"]) for o in eligible]
        )
        self.run.load_ledger(self.eligible)
        self.known: dict[str, str] = {}
        for order in eligible:
            row = existing.get(self.external_id(order["Id"]))
            entry = self.run.ledger_entry(order["Id"])
            if known := (str(row["id"]) if row else (entry.target_id if entry else None)):
                self.known[order["Id"]] = known
        new = [o for o in eligible if o["Id"] not in self.known]
        if new:
            self._plan_new(new)

    def _plan_new(self, orders: Sequence[dict[str, Any]]) -> None:
        """Lines, products, items and customers of the orders to create."""
        self.lines: dict[str, list[dict[str, Any]]] = {}
        for line in self.lookup("salesforce.order_items", "OrderId", [o["Id"] for o in orders]):
            self.lines.setdefault(line["OrderId"], []).append(line)
        self.products = self.index(
            "salesforce.products",
            "Id",
            [li.get("Product2Id") for lines in self.lines.values() for li in lines],
        )
        skus = {p.get("ProductCode") for p in self.products.values() if p.get("ProductCode")}
        items = self.lookup("netsuite.items", "itemid", skus)
        self.known_skus = {i["itemid"] for i in items}
        self.active_skus = {i["itemid"] for i in items if not is_true(i.get("isinactive"))}
        self.customers = self.require("customers", [o["AccountId"] for o in orders])

    def map(self, order: dict[str, Any]) -> Pending | None:
        order_id = order["Id"]
        if order_id not in self.eligible:
            self.run.skip(order_id)
            return None
        if order_id in self.known:
            self._already_created(order_id, self.known[order_id])
            return None
        lines = [
            OrderLine(
                li["Id"],
                (self.products.get(li.get("Product2Id")) or {}).get("ProductCode"),
                li.get("Quantity"),
                li.get("UnitPrice"),
            )
            for li in sorted(
                self.lines.get(order_id, []),
                key=lambda r: (r.get("OrderItemNumber") or "", r["Id"]),
            )
        ]
        return self.prepare(
            {**order, "lines": [vars(li) for li in lines]},
            {
                "Order.Id": order_id,
                "OrderNumber": str(order.get("OrderNumber")),
                "Account.Id": order["AccountId"],
                "salesOrder.externalId": self.external_id(order_id),
            },
            lambda: self._body(order, lines),
        )

    def _already_created(self, order_id: str, sales_order_id: str) -> None:
        entry = self.run.ledger_entry(order_id)
        self.link(order_id, sales_order_id, entry.correlation_id if entry else None)
        self.run.stats.unchanged += 1
        if entry is None:
            self.run.already_present(order_id, sales_order_id)
        else:
            self.run.settle(order_id)

    def _body(self, order: dict[str, Any], lines: list[OrderLine]) -> dict[str, Any]:
        customer = self.customers.get(order["AccountId"])
        if not isinstance(customer, str):
            reason = (
                customer.reason
                if isinstance(customer, DataError)
                else "its account could not be synced"
            )
            raise DataError(
                "CUSTOMER_NOT_SYNCED",
                f"Order {order.get('OrderNumber') or order['Id']}: customer for Account "
                f"{order['AccountId']} is missing in NetSuite: {reason}",
            )
        return sales_order_body(
            order,
            lines,
            customer_internal_id=customer,
            active_skus=self.active_skus,
            known_skus=self.known_skus,
            settings=self.settings,
        )

    def write(self, pending: list[Pending]) -> None:
        self.linked(write_netsuite(self.run, pending, self._upsert, operation="upsert"))

    def _upsert(self, p: Pending) -> str:
        body = {k: v for k, v in p.payload.items() if k != "externalId"}
        return self.ctx.netsuite.upsert_record("salesOrder", p.payload["externalId"], body)
