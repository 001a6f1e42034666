"""NetSuite payments -> Invoice__c Payment_Status__c and Amount_Paid__c.

The warehouse lands no payment-to-invoice link, so a changed payment re-considers every invoice
of its customer (the ledger keeps that cheap).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.invoice_mirror import MIRROR_TABLE, InvoiceMirror
from o2c_pipeline.sync.mapping import DataError, payment_fields


class Payments(InvoiceMirror):
    name = "payments"
    feeds = (Feed("netsuite.invoices"), Feed("netsuite.payments", "entity", match="entity"))
    lookups = (MIRROR_TABLE,)
    after = ("invoices",)

    def plan(self, invoices: Sequence[dict[str, Any]]) -> None:
        self.mirrored = set(self.synced("invoices", [self.key_of(i) for i in invoices]))
        super().plan(invoices)

    def fields(self, invoice: dict[str, Any]) -> dict[str, Any]:
        invoice_id = self.key_of(invoice)
        if invoice_id not in self.mirrors and invoice_id not in self.mirrored:
            raise DataError(
                "INVOICE_NOT_SYNCED",
                f"NetSuite invoice {invoice.get('tranid') or invoice_id} is not in Salesforce "
                "yet; see the invoices flow's DLQ entry",
            )
        return payment_fields(invoice, self.settings)
