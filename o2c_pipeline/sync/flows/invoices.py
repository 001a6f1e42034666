"""NetSuite invoices -> Salesforce Invoice__c (upsert by NetSuite_Invoice_ID__c) linked to Order and Account.

The Order is found through the sales order the invoice bills, the Account through the customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.invoice_mirror import MIRROR_TABLE, InvoiceMirror
from o2c_pipeline.sync.links import salesforce_order_ids
from o2c_pipeline.sync.mapping import invoice_fields, strip_prefix


class Invoices(InvoiceMirror):
    name = "invoices"
    feeds = (Feed("netsuite.invoices"),)
    lookups = (
        "netsuite.sales_orders",
        "netsuite.customers",
        "salesforce.orders",
        "salesforce.accounts",
        MIRROR_TABLE,
    )
    after = ("orders",)

    def plan(self, invoices: Sequence[dict[str, Any]]) -> None:
        """Each invoice's Salesforce Order and Account."""
        sales_orders = self.lookup(
            "netsuite.sales_orders", "id", [i.get("createdfrom") for i in invoices]
        )
        order_ids = salesforce_order_ids(self, sales_orders)
        entities = [i.get("entity") for i in invoices]
        customers = self.index("netsuite.customers", "id", entities)
        accounts = self.index("salesforce.accounts", "NetSuite_Customer_ID__c", entities)
        prefix = self.settings.customer_external_id_prefix
        self.order_of: dict[str, str | None] = {}
        self.account_of: dict[str, str | None] = {}
        for inv in invoices:
            invoice_id, entity = self.key_of(inv), str(inv.get("entity"))
            self.order_of[invoice_id] = order_ids.get(str(inv.get("createdfrom")))
            account_id = strip_prefix((customers.get(entity) or {}).get("externalid"), prefix)
            if account_id is None and (account := accounts.get(entity)):
                account_id = account["Id"]
            self.account_of[invoice_id] = account_id
        super().plan(invoices)

    def fields(self, invoice: dict[str, Any]) -> dict[str, Any]:
        invoice_id = self.key_of(invoice)
        return invoice_fields(
            invoice,
            order_id=self.order_of[invoice_id],
            account_id=self.account_of[invoice_id],
            settings=self.settings,
        )
