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


def salesforce_opportunity_ids(
    flow: Flow, sales_orders: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """Sales order id -> Salesforce Opportunity Id: by its external id (``SF_OPP_<Id>``), through
    the Order it was made from (``SF_ORDER_<Id>``, the Order's ``OpportunityId``), else by the id
    written back to ``Opportunity.NetSuite_Sales_Order_ID__c``. Reads ``salesforce.orders`` and
    ``salesforce.opportunities``, which ``flow`` must declare."""
    prefix = flow.settings.opportunity_external_id_prefix
    out = {
        str(so["id"]): opp
        for so in sales_orders
        if (opp := strip_prefix(so.get("externalid"), prefix))
    }
    rest = [so for so in sales_orders if str(so["id"]) not in out]
    order_of = salesforce_order_ids(flow, rest)
    orders = {r["Id"]: r for r in flow.lookup("salesforce.orders", "Id", order_of.values())}
    for so_id, order_id in order_of.items():
        if opp := (orders.get(order_id) or {}).get("OpportunityId"):
            out[so_id] = str(opp)
    rest_ids = [str(so["id"]) for so in rest if str(so["id"]) not in out]
    for row in flow.lookup("salesforce.opportunities", "NetSuite_Sales_Order_ID__c", rest_ids):
        out[str(row["NetSuite_Sales_Order_ID__c"])] = row["Id"]
    return out
