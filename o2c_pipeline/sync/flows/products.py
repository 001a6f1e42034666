"""NetSuite items -> Salesforce Product2 (matched on SKU / NetSuite_Item_ID__c) and standard prices.

A product is matched on ``NetSuite_Item_ID__c``, else on the SKU in ``ProductCode``; its
standard-price-book entry in NetSuite's base currency (the currency the item's base price is in)
follows the item's base price and active flag. Entries in other currencies are Salesforce's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from o2c_pipeline.salesforce import queries
from o2c_pipeline.sync import mapping
from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Flow, Target
from o2c_pipeline.sync.plan import is_planned
from o2c_pipeline.sync.run import FlowRun, Pending
from o2c_pipeline.sync.writers import create_salesforce, write_salesforce


class Products(Flow):
    name = "products"
    writes = Target("salesforce", "Product2")
    feeds = (Feed("netsuite.items"),)
    lookups = ("salesforce.products", "netsuite.currencies")

    def plan(self, items: Sequence[dict[str, Any]]) -> None:
        ids, skus = [i["id"] for i in items], [i.get("itemid") for i in items]
        self.by_item = self.index("salesforce.products", "NetSuite_Item_ID__c", ids)
        self.by_sku = self.index("salesforce.products", "ProductCode", skus)
        super().plan(items)

    def map(self, item: dict[str, Any]) -> Pending | None:
        item_id = str(item["id"])
        p = self.prepare(
            item,
            {"item.id": item_id, "sku": str(item.get("itemid"))},
            lambda: mapping.product_fields(item),
        )
        if p is None:
            return None
        product = self.by_item.get(item_id) or self.by_sku.get(p.payload["ProductCode"])
        if product is not None:  # an update by Id
            p.payload = {"Id": product["Id"], **p.payload}
            return self.changed(p, product["Id"], product)
        entry = self.run.ledger_entry(item_id)
        return self.changed(p, entry.target_id if entry else None, equal=False)

    def write(self, pending: list[Pending]) -> None:
        updates = [p for p in pending if "Id" in p.payload]
        creates = [p for p in pending if "Id" not in p.payload]
        self.linked(
            write_salesforce(self.run, "Product2", updates, key_field="Id", operation="update")
        )
        self.linked(
            write_salesforce(
                self.run, "Product2", creates, key_field="NetSuite_Item_ID__c", operation="upsert"
            )
        )

    def follow_up(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Standard-price-book entries follow the item's base price and active flag.

        PricebookEntry has no external id, so the ledger decides what may have changed and one
        query per 200 products finds the entries to update or create.
        """
        writes = Target("salesforce", "PricebookEntry")
        run = self.follow_up_run("pricebook", writes, source_system=self.source_system)
        by_id = {str(i["id"]): i for i in items}
        product_of_item = {item_id: target for item_id, (target, _) in self.links.items()}
        run.load_ledger(product_of_item)
        wanted: dict[str, Pending] = {}
        for item_id, product_id in product_of_item.items():
            item = by_id.get(item_id)
            if item is None:
                continue
            p = run.prepare(
                item_id,
                {"item.id": item_id, "Product2.Id": product_id},
                lambda i=item, pid=product_id: mapping.standard_price_fields(i, pid),
            )
            if p is not None and run.needs_write(p):
                wanted[product_id] = p
        if wanted:
            self._write_prices(run, wanted)

    def _write_prices(self, run: FlowRun, wanted: dict[str, Pending]) -> None:
        standard = self._standard_pricebook_id()
        currency = self._base_currency()
        existing: dict[str, dict[str, Any]] = {}
        known = [product_id for product_id in wanted if not is_planned(product_id)]
        for soql in queries.pricebook_entries_queries(standard, known, currency):
            for page in self.ctx.salesforce.query_pages(soql):
                existing.update({r["Product2Id"]: r for r in page})
        updates, creates = [], []
        for product_id, p in wanted.items():
            entry = existing.get(product_id)
            if entry is None:
                p.payload = {**p.payload, "Pricebook2Id": standard}
                if currency:
                    p.payload["CurrencyIsoCode"] = currency
                creates.append(p)
                continue
            p.target_id, p.before = entry["Id"], entry
            if run.needs_write(p, target_equal=mapping.same_where_known(p.payload, entry)):
                p.payload = {
                    "Id": entry["Id"],
                    "UnitPrice": p.payload["UnitPrice"],
                    "IsActive": p.payload["IsActive"],
                }
                updates.append(p)
        self.apply(
            run,
            updates,
            lambda ps: write_salesforce(
                run, "PricebookEntry", ps, key_field="Id", operation="update"
            ),
        )
        if creates:
            self.apply(run, creates, lambda ps: create_salesforce(run, "PricebookEntry", ps))

    def _base_currency(self) -> str | None:
        """The ISO code of NetSuite's base currency (None: a single-currency account)."""
        if self.settings.base_price_currency:
            return self.settings.base_price_currency
        base = [
            c
            for c in self.lookup_all("netsuite.currencies")
            if mapping.is_true(c.get("isbasecurrency"))
        ]
        return str(base[0]["symbol"]) if len(base) == 1 else None

    def _standard_pricebook_id(self) -> str:
        for page in self.ctx.salesforce.query_pages(queries.STANDARD_PRICEBOOK):
            return page[0]["Id"]
        raise mapping.DataError("NO_STANDARD_PRICEBOOK", "Salesforce has no standard price book")
