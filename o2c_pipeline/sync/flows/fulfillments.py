"""NetSuite fulfillment state -> Salesforce Order Fulfillment_Status__c, Status, Tracking_Number__c.

The sales order's status letter maps to the Order's fulfillment status and status (the sync
settings' ``order_status`` table); its item fulfillments' tracking numbers are joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Target
from o2c_pipeline.sync.links import salesforce_order_ids
from o2c_pipeline.sync.mapping import order_status_fields
from o2c_pipeline.sync.status_flow import SalesOrderStatusFlow


class Fulfillments(SalesOrderStatusFlow):
    name = "fulfillments"
    writes = Target("salesforce", "Order")
    feeds = (Feed("netsuite.sales_orders"), Feed("netsuite.fulfillments", "createdfrom"))
    lookups = ("salesforce.orders",)
    after = ("orders",)
    target_table = "salesforce.orders"

    def target_ids(self, sales_orders: Sequence[dict[str, Any]]) -> dict[str, str]:
        return salesforce_order_ids(self, sales_orders)

    def status_fields(
        self, sales_order: dict[str, Any], children: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        return order_status_fields(sales_order, children["netsuite.fulfillments"], self.settings)
