"""NetSuite fulfillment state -> Salesforce Order Fulfillment_Status__c, Status, Tracking_Number__c.

The sales order's status letter maps to the Order's fulfillment status and status (the sync
settings' ``order_status`` table); its item fulfillments' tracking numbers are joined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Flow, Target
from o2c_pipeline.sync.links import salesforce_order_ids
from o2c_pipeline.sync.mapping import order_status_fields
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import write_salesforce


class Fulfillments(Flow):
    name = "fulfillments"
    writes = Target("salesforce", "Order")
    feeds = (Feed("netsuite.sales_orders"), Feed("netsuite.fulfillments", "createdfrom"))
    lookups = ("salesforce.orders",)
    after = ("orders",)

    def plan(self, sales_orders: Sequence[dict[str, Any]]) -> None:
        self.fulfillments: dict[str, list[dict[str, Any]]] = {}
        ids = [self.key_of(so) for so in sales_orders]
        for f in self.lookup("netsuite.fulfillments", "createdfrom", ids):
            self.fulfillments.setdefault(str(f["createdfrom"]), []).append(f)
        self.order_ids = salesforce_order_ids(self, sales_orders)
        self.orders = self.index("salesforce.orders", "Id", self.order_ids.values())
        super().plan(sales_orders)

    def map(self, so: dict[str, Any]) -> Pending | None:
        so_id = self.key_of(so)
        order_id = self.order_ids.get(so_id)
        if order_id is None:
            self.run.skip(so_id)  # not an order from Salesforce
            return None
        p = self.prepare(
            so,
            {"salesOrder.id": so_id, "Order.Id": order_id},
            lambda: {
                "Id": order_id,
                **order_status_fields(so, self.fulfillments.get(so_id, []), self.settings),
            },
        )
        if p is not None and len(p.payload) == 1:  # nothing but the Id: no status to report
            self.run.skip(so_id)
            return None
        return self.changed(p, order_id, self.orders.get(order_id))

    def write(self, pending: list[Pending]) -> None:
        write_salesforce(self.run, "Order", pending, key_field="Id", operation="update")
