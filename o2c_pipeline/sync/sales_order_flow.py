"""The base of the flows that turn won deals into NetSuite sales orders (``orders``: activated
Orders, ``opportunities``: Closed-Won Opportunities), upserted by external id and created once.

Exactly one sales order per deal (``sales_order_trigger``):

- a deal whose own sales order exists (its external id in NetSuite, or the ledger) is linked;
- an Order whose Opportunity already has a sales order of its own (``SF_OPP_<Id>``: the Order
  was made after the deal's sales order) links to it and creates none;
- an Opportunity whose Order has a sales order links to it; under ``both`` an Opportunity with a
  live Order that has none yet waits for it (a DLQ entry saying which Order and why), since
  the Order (the contracted lines) makes the sales order once activated;
- otherwise, when the deal's kind triggers sales orders, one is created, validated first the way
  NetSuite validates it (see :mod:`o2c_pipeline.sync.deals`).

Orders run before Opportunities in a cycle, so a deal whose Order was just synced is linked in the
same cycle. The sales order carries the deal's currency, checked against the customer's
subsidiary and the exchange rates (:mod:`o2c_pipeline.sync.netsuite_setup`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from o2c_pipeline.netsuite import queries
from o2c_pipeline.sync.deals import DealLine, account_date, item_for, sales_order_body
from o2c_pipeline.sync.deals import sales_order_lines as checked_lines
from o2c_pipeline.sync.flow import Flow, Target
from o2c_pipeline.sync.mapping import DataError, _number
from o2c_pipeline.sync.netsuite_setup import SETUP_TABLES, NetSuiteSetup
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import upsert_netsuite


class SalesOrderFlow(Flow):
    """A subclass's first feed is its deals' table, the second their lines' (linked by the deal's
    id); further feeds are its own."""

    writes = Target("netsuite", "salesOrder")
    lookups = (
        "netsuite.sales_orders",
        "salesforce.products",
        "salesforce.accounts",
        "netsuite.items",
        "netsuite.customers",
        *SETUP_TABLES,
    )
    #: the ``sales_order_trigger`` value that names this kind of deal
    trigger: ClassVar[str]

    # -- what differs per kind of deal ------------------------------------------------------------
    def prefix(self) -> str:
        raise NotImplementedError

    def is_won(self, deal: dict[str, Any]) -> bool:
        raise NotImplementedError

    def label(self, deal: dict[str, Any]) -> str:
        raise NotImplementedError

    def header(self, deal: dict[str, Any]) -> dict[str, Any]:
        """``tran_date`` (a date or instant) and ``reference`` of the sales order."""
        raise NotImplementedError

    def record_ids(self, deal: dict[str, Any]) -> dict[str, str]:
        raise NotImplementedError

    def paired(self, deals: Sequence[dict[str, Any]]) -> dict[str, str | DataError]:
        """The other half of each deal: the sales order it links to instead of creating one,
        or why it waits."""
        return {}

    # -- the template's hooks --------------------------------------------------------------------
    @property
    def triggered(self) -> bool:
        return self.settings.sales_order_trigger in (self.trigger, "both")

    def external_id(self, deal_id: str) -> str:
        return self.prefix() + deal_id

    def plan(self, deals: Sequence[dict[str, Any]]) -> None:
        self.won = {self.key_of(d): d for d in deals if self.is_won(d)}
        self.run.load_ledger(self.won)
        existing = self.index(
            "netsuite.sales_orders", "externalid", [self.external_id(k) for k in self.won]
        )
        self.known: dict[str, str] = {}
        for key in self.won:
            row = existing.get(self.external_id(key))
            entry = self.run.ledger_entry(key)
            if known := (str(row["id"]) if row else (entry.target_id if entry else None)):
                self.known[key] = known
        rest = [d for k, d in self.won.items() if k not in self.known]
        self.pairs = self.paired(rest) if rest else {}
        self.lines: dict[str, list[dict[str, Any]]] = {}
        self.sku_of: dict[str, str | None] = {}
        new = [d for d in rest if self.triggered and self.key_of(d) not in self.pairs]
        if new:
            self._plan_new(new)

    def _plan_new(self, deals: Sequence[dict[str, Any]]) -> None:
        """Lines, items, customers and NetSuite's setup for the deals to create."""
        lines_feed = self.feeds[1]
        link = lines_feed.link_column
        for line in self.lookup(lines_feed.table, link, [self.key_of(d) for d in deals]):
            self.lines.setdefault(str(line[link]), []).append(line)
        every_line = [li for lines in self.lines.values() for li in lines]
        products = self.index(
            "salesforce.products", "Id", [li.get("Product2Id") for li in every_line]
        )
        self.sku_of = {
            li["Id"]: (products.get(li.get("Product2Id")) or {}).get("ProductCode")
            or li.get("ProductCode")
            for li in every_line
        }
        by_sku: dict[str, list[dict[str, Any]]] = {}
        for item in self.lookup("netsuite.items", "itemid", set(self.sku_of.values())):
            by_sku.setdefault(str(item["itemid"]), []).append(item)
        self.items = {sku: item for sku, rows in by_sku.items() if (item := item_for(sku, rows))}
        account_ids = [d.get("AccountId") for d in deals if d.get("AccountId")]
        self.customers = self.require("customers", account_ids)
        self.accounts = self.index("salesforce.accounts", "Id", account_ids)
        ids = [c for c in self.customers.values() if isinstance(c, str)]
        self.customer_rows = self.index("netsuite.customers", "id", ids)
        self.setup = NetSuiteSetup.load(self.lookup_all)

    def map(self, deal: dict[str, Any]) -> Pending | None:
        key = self.key_of(deal)
        if key not in self.won:
            self.run.skip(key)
            return None
        pair = self.pairs.get(key)
        target = self.known.get(key) or (pair if isinstance(pair, str) else None)
        if target is not None:
            self._link_existing(key, target)
            return None
        if not self.triggered:
            self.run.skip(key)
            return None
        lines = sorted(
            self.lines.get(key, []), key=lambda r: (str(r.get("OrderItemNumber") or ""), r["Id"])
        )
        deal_lines = [
            DealLine(
                li["Id"],
                self.sku_of.get(li["Id"]),
                _number(li.get("Quantity")),
                _number(li.get("UnitPrice")),
            )
            for li in lines
        ]
        p = self.prepare(
            {**deal, "lines": [vars(li) for li in deal_lines]},
            {**self.record_ids(deal), "salesOrder.externalId": self.external_id(key)},
            lambda: self._body(deal, deal_lines, pair),
        )
        return self.changed(p, None, equal=False)

    def _link_existing(self, key: str, sales_order_id: str) -> None:
        """The deal's sales order exists (its own, or its pair's): link it, write nothing."""
        entry = self.run.ledger_entry(key)
        self.link(key, sales_order_id, entry.correlation_id if entry else None)
        self.run.stats.unchanged += 1
        if entry is None or entry.target_id != sales_order_id:
            self.run.already_present(key, sales_order_id)
        else:
            self.run.settle(key)

    def _body(
        self, deal: dict[str, Any], lines: list[DealLine], wait: str | DataError | None
    ) -> dict[str, Any]:
        if isinstance(wait, DataError):
            raise wait
        label = self.label(deal)
        customer = self.customers.get(deal.get("AccountId") or "")
        if not isinstance(customer, str):
            reason = customer.reason if isinstance(customer, DataError) else "it has no Account"
            raise DataError(
                "CUSTOMER_NOT_SYNCED",
                f"{label}: customer for Account {deal.get('AccountId')} is missing in NetSuite: {reason}",
            )
        items = checked_lines(label, lines, self.items, self.settings)
        header = self.header(deal)
        tran_date = account_date(header["tran_date"], self.settings.netsuite_timezone)
        currency_id = self.setup.currency_id(deal.get("CurrencyIsoCode"), label)
        row = self.customer_rows.get(customer)
        subsidiary = (row or {}).get("subsidiary") or self.setup.subsidiary_for(
            self.accounts.get(deal["AccountId"]) or {}, self.settings, label
        )
        self.setup.check_trade(subsidiary, currency_id, tran_date, label)
        return sales_order_body(
            external_id=self.external_id(self.key_of(deal)),
            customer_internal_id=customer,
            reference=header.get("reference"),
            tran_date=tran_date,
            items=items,
            currency_id=currency_id,
        )

    def write(self, pending: list[Pending]) -> None:
        self.linked(upsert_netsuite(self.run, self.writes.object, pending))

    def sales_orders_in_netsuite(self, external_ids: Sequence[str]) -> dict[str, str]:
        """external id -> sales order id, asked of NetSuite itself (one SuiteQL read): the
        warehouse may not hold a sales order written moments ago by a run that then crashed."""
        found: dict[str, str] = {}
        for query in queries.sales_orders_by_external_id_queries(external_ids):
            for page in self.ctx.netsuite.suiteql_pages(query):
                found.update({str(r["externalid"]): str(r["id"]) for r in page})
        return found
