"""How NetSuite records point back at Salesforce ones, shared by the flows that follow them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from o2c_pipeline.sync.flow import Flow
from o2c_pipeline.sync.mapping import strip_prefix


def salesforce_order_ids(flow: Flow, sales_orders: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Sales order id -> Salesforce Order Id: by its external id (``SF_ORDER_<Id>``), else by the
    id written back to ``Order.NetSuite_Sales_Order_ID__c``. Reads ``salesforce.orders``, which
    ``flow`` must declare."""
    prefix = flow.settings.sales_order_external_id_prefix
    out = {
        str(so["id"]): order_id
        for so in sales_orders
        if (order_id := strip_prefix(so.get("externalid"), prefix))
    }
    rest = [str(so["id"]) for so in sales_orders if str(so["id"]) not in out]
    for row in flow.lookup("salesforce.orders", "NetSuite_Sales_Order_ID__c", rest):
        out[str(row["NetSuite_Sales_Order_ID__c"])] = row["Id"]
    return out
