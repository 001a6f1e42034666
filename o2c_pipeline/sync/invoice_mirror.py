"""The base of the flows that mirror NetSuite invoices into Salesforce ``Invoice__c``, upserted
by ``NetSuite_Invoice_ID__c``: they differ only in which fields they write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.flow import Flow, Target
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import write_salesforce

MIRROR_TABLE = "salesforce.invoices"  # subclasses declare it among their lookups


class InvoiceMirror(Flow):
    writes = Target("salesforce", "Invoice__c")

    def fields(self, invoice: dict[str, Any]) -> dict[str, Any]:
        """The ``Invoice__c`` fields this flow masters (raise ``DataError`` to dead-letter)."""
        raise NotImplementedError

    def plan(self, invoices: Sequence[dict[str, Any]]) -> None:
        ids = [self.key_of(i) for i in invoices]
        self.mirrors = self.index(MIRROR_TABLE, "NetSuite_Invoice_ID__c", ids)
        super().plan(invoices)

    def map(self, invoice: dict[str, Any]) -> Pending | None:
        invoice_id = self.key_of(invoice)
        p = self.prepare(
            invoice,
            {"invoice.id": invoice_id, "tranid": str(invoice.get("tranid"))},
            lambda: self.fields(invoice),
        )
        current = self.mirrors.get(invoice_id)
        return self.changed(p, current["Id"] if current else None, current)

    def write(self, pending: list[Pending]) -> None:
        write_salesforce(
            self.run, "Invoice__c", pending, key_field="NetSuite_Invoice_ID__c", operation="upsert"
        )
