"""NetSuite sales order, fulfilment, invoice and payment state -> the won Salesforce Opportunity.

The Opportunity of a sales order is found by its external id (``SF_OPP_<Id>``), through the Order
it was made from, or by the id written back to the Opportunity. It shows the fulfilment status
(the settings' ``order_status`` table), tracking numbers, amounts invoiced and paid and the
payment status, once the order is shipped or billed (the Order has its own status flows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.deals import opportunity_status_fields
from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Flow, Target
from o2c_pipeline.sync.links import salesforce_opportunity_ids
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import write_salesforce


class DealStatus(Flow):
    name = "deal_status"
    writes = Target("salesforce", "Opportunity")
    feeds = (
        Feed("netsuite.sales_orders"),
        Feed("netsuite.fulfillments", "createdfrom"),
        Feed("netsuite.invoices", "createdfrom"),
    )
    lookups = ("salesforce.orders", "salesforce.opportunities")
    after = ("opportunities",)

    def plan(self, sales_orders: Sequence[dict[str, Any]]) -> None:
        ids = [self.key_of(so) for so in sales_orders]
        self.children: dict[str, dict[str, list[dict[str, Any]]]] = {"ship": {}, "bill": {}}
        for kind, table in (("ship", "netsuite.fulfillments"), ("bill", "netsuite.invoices")):
            for row in self.lookup(table, "createdfrom", ids):
                self.children[kind].setdefault(str(row["createdfrom"]), []).append(row)
        self.opportunity_of = salesforce_opportunity_ids(self, sales_orders)
        self.opportunities = self.index(
            "salesforce.opportunities", "Id", self.opportunity_of.values()
        )
        super().plan(sales_orders)

    def map(self, so: dict[str, Any]) -> Pending | None:
        so_id = self.key_of(so)
        opp_id = self.opportunity_of.get(so_id)
        if opp_id is None or opp_id not in self.opportunities:
            self.run.skip(so_id)  # not a deal from Salesforce
            return None
        p = self.prepare(
            so,
            {"salesOrder.id": so_id, "Opportunity.Id": opp_id},
            lambda: {
                "Id": opp_id,
                **opportunity_status_fields(
                    so,
                    self.children["ship"].get(so_id, []),
                    self.children["bill"].get(so_id, []),
                    self.settings,
                ),
            },
        )
        if p is not None and len(p.payload) == 1:  # shipped and billed nothing yet
            self.run.skip(so_id)
            return None
        return self.changed(p, opp_id, self.opportunities.get(opp_id))

    def write(self, pending: list[Pending]) -> None:
        write_salesforce(self.run, "Opportunity", pending, key_field="Id", operation="update")
