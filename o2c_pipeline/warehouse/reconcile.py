"""The checks' reconciliation reads across both systems' current tables, in the SQL every backend
shares (a mixin of :class:`o2c_pipeline.warehouse.base.Warehouse`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from o2c_pipeline.warehouse.tables import naive_utc, table_ref


class ReconciliationReads:
    """Won deals against sales orders, per currency, and billed totals."""

    def reading(self, *tables: str) -> AbstractContextManager[Any]:  # supplied by Warehouse
        raise NotImplementedError

    def won_deals_without_sales_order(
        self,
        kind: str,
        *,
        statuses: Sequence[str],
        prefixes: Mapping[str, str],
        before: dt.datetime,
    ) -> list[tuple]:
        """Won deals of ``kind`` (``orders``: Orders in ``statuses``; ``opportunities``: IsWon)
        won before ``before`` that no NetSuite sales order carries: by their external id
        (``prefixes[kind] + Id``), the id written back, or (an Opportunity) one of its Orders'.
        Rows ``(id, label, currency, won at)``."""
        needed = ["salesforce.orders_current", "netsuite.sales_orders_current"]
        if kind == "opportunities":
            needed.append("salesforce.opportunities_current")
        has_so = (
            'SELECT 1 FROM netsuite.sales_orders_current s WHERE s.externalid = ? || d."Id" '
            'OR CAST(s.id AS VARCHAR) = d."NetSuite_Sales_Order_ID__c"'
        )
        if kind == "orders":
            marks = ", ".join("?" for _ in statuses)
            sql = f"""SELECT d."Id", d."OrderNumber", d."CurrencyIsoCode", d."ActivatedDate"
                FROM salesforce.orders_current d
                WHERE d."Status" IN ({marks})
                  AND coalesce(d."ActivatedDate", d."LastModifiedDate") < ?
                  AND NOT EXISTS ({has_so})"""
            params = [*statuses, naive_utc(before), prefixes["orders"]]
        else:
            sql = f"""SELECT d."Id", d."Name", d."CurrencyIsoCode", d."LastModifiedDate"
                FROM salesforce.opportunities_current d
                WHERE d."IsWon" AND d."LastModifiedDate" < ?
                  AND NOT EXISTS ({has_so})
                  AND NOT EXISTS (
                    SELECT 1 FROM salesforce.orders_current o
                    JOIN netsuite.sales_orders_current s
                      ON s.externalid = ? || o."Id" OR CAST(s.id AS VARCHAR) = o."NetSuite_Sales_Order_ID__c"
                    WHERE o."OpportunityId" = d."Id")"""
            params = [naive_utc(before), prefixes["opportunities"], prefixes["orders"]]
        with self.reading(*needed) as s:
            return [] if s is None else s.run(f"{sql} ORDER BY 4, 1 LIMIT 5000", params)

    def won_deals_per_currency(self, kind: str, statuses: Sequence[str]) -> dict[str, int]:
        """How many won deals of ``kind`` there are, per currency (``CurrencyIsoCode``)."""
        table = f"salesforce.{kind}_current"
        if kind == "orders":
            where = f'"Status" IN ({", ".join("?" for _ in statuses)})'
            params: list[Any] = list(statuses)
        else:
            where, params = '"IsWon"', []
        with self.reading(table) as s:
            if s is None:
                return {}
            rows = s.run(
                f"SELECT coalesce(\"CurrencyIsoCode\", ''), count(*) FROM {table_ref(table)} "
                f"WHERE {where} GROUP BY 1 ORDER BY 1",
                params,
            )
        return {currency: int(n) for currency, n in rows}

    def invoice_total_mismatches(self, tolerance: float) -> list[tuple]:
        """Sales orders billed for more than their total, or fully billed ('G') for a different
        total; and Salesforce invoice mirrors whose amount differs from the NetSuite invoice:
        ``(record, expected, found)``."""
        tol = float(tolerance)
        with self.reading("netsuite.invoices_current", "netsuite.sales_orders_current") as s:
            if s is None:
                return []
            rows = s.run(
                f"""WITH billed AS (
                      SELECT createdfrom AS so_id, sum(foreigntotal) AS invoiced, count(*) AS invoices
                      FROM netsuite.invoices_current WHERE createdfrom IS NOT NULL GROUP BY createdfrom)
                    SELECT 'sales order ' || s.tranid, s.foreigntotal, b.invoiced
                    FROM netsuite.sales_orders_current s JOIN billed b ON b.so_id = s.id
                    WHERE b.invoiced > s.foreigntotal + {tol}
                       OR (s.status = 'G' AND abs(b.invoiced - s.foreigntotal) > {tol})
                    ORDER BY 1 LIMIT 1000"""
            )
        with self.reading("salesforce.invoices_current", "netsuite.invoices_current") as s:
            if s is not None:
                rows += s.run(
                    f"""SELECT 'Salesforce invoice ' || f."Name", n.foreigntotal, f."Amount__c"
                    FROM salesforce.invoices_current f
                    JOIN netsuite.invoices_current n ON CAST(n.id AS VARCHAR) = f."NetSuite_Invoice_ID__c"
                    WHERE abs(coalesce(f."Amount__c", 0) - n.foreigntotal) > {tol}
                    ORDER BY 1 LIMIT 1000"""
                )
        return [tuple(r) for r in rows]
