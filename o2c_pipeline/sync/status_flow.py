"""The base of the flows that show a NetSuite sales order's state on the Salesforce record it was
made from (``fulfillments``: the Order, ``deal_status``: the won Opportunity), updated by ``Id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from o2c_pipeline.sync.flow import Flow
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import write_salesforce


class SalesOrderStatusFlow(Flow):
    """A subclass's first feed is ``netsuite.sales_orders``; the others are the sales orders'
    children (fulfillments, invoices), linked by ``createdfrom``. A sales order with no Salesforce
    record, or with no status to show yet, is skipped."""

    #: the warehouse table of the Salesforce records written (their current rows, by ``Id``)
    target_table: ClassVar[str]
    #: skip a sales order whose Salesforce record that table does not hold
    known_targets_only: ClassVar[bool] = False

    # -- what differs per target ------------------------------------------------------------------
    def target_ids(self, sales_orders: Sequence[dict[str, Any]]) -> dict[str, str]:
        """Sales order id -> the Id of the Salesforce record it was made from."""
        raise NotImplementedError

    def status_fields(
        self, sales_order: dict[str, Any], children: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        """The fields the record shows of ``sales_order``; ``children`` are its rows of each
        child table (by table name)."""
        raise NotImplementedError

    # -- the template's hooks ---------------------------------------------------------------------
    def plan(self, sales_orders: Sequence[dict[str, Any]]) -> None:
        ids = [self.key_of(so) for so in sales_orders]
        self.children: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for feed in self.feeds[1:]:
            of_order = self.children.setdefault(feed.table, {})
            for row in self.lookup(feed.table, feed.link_column, ids):
                of_order.setdefault(str(row[feed.link_column]), []).append(row)
        self.target_of = self.target_ids(sales_orders)
        self.targets = self.index(self.target_table, "Id", self.target_of.values())
        super().plan(sales_orders)

    def map(self, so: dict[str, Any]) -> Pending | None:
        so_id = self.key_of(so)
        target_id = self.target_of.get(so_id)
        if target_id is None or (self.known_targets_only and target_id not in self.targets):
            self.run.skip(so_id)  # not made from a Salesforce record
            return None
        children = {table: rows.get(so_id, []) for table, rows in self.children.items()}
        p = self.prepare(
            so,
            {"salesOrder.id": so_id, f"{self.writes.object}.Id": target_id},
            lambda: {"Id": target_id, **self.status_fields(so, children)},
        )
        if p is not None and len(p.payload) == 1:  # nothing but the Id: no status to show yet
            self.run.skip(so_id)
            return None
        return self.changed(p, target_id, self.targets.get(target_id))

    def write(self, pending: list[Pending]) -> None:
        write_salesforce(self.run, self.writes.object, pending, key_field="Id", operation="update")
