"""NetSuite sales order, fulfilment, invoice and payment state -> the won Salesforce Opportunity.

The Opportunity of a sales order is found by its external id (``SF_OPP_<Id>``), through the Order
it was made from, or by the id written back to the Opportunity. It shows the fulfilment status
(the settings' ``order_status`` table), tracking numbers, amounts invoiced and paid and the
payment status, once the order is shipped or billed (the Order has its own status flows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from o2c_pipeline.sync.deals import opportunity_status_fields
from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Target
from o2c_pipeline.sync.links import salesforce_opportunity_ids
from o2c_pipeline.sync.status_flow import SalesOrderStatusFlow


class DealStatus(SalesOrderStatusFlow):
    name = "deal_status"
    writes = Target("salesforce", "Opportunity")
    feeds = (
        Feed("netsuite.sales_orders"),
        Feed("netsuite.fulfillments", "createdfrom"),
        Feed("netsuite.invoices", "createdfrom"),
    )
    lookups = ("salesforce.orders", "salesforce.opportunities")
    after = ("opportunities",)
    target_table = "salesforce.opportunities"
    known_targets_only = (
        True  # a sales order of an Opportunity not landed is no deal from Salesforce
    )

    def target_ids(self, sales_orders: Sequence[dict[str, Any]]) -> dict[str, str]:
        return salesforce_opportunity_ids(self, sales_orders)

    def status_fields(
        self, sales_order: dict[str, Any], children: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        return opportunity_status_fields(
            sales_order,
            children["netsuite.fulfillments"],
            children["netsuite.invoices"],
            self.settings,
        )
