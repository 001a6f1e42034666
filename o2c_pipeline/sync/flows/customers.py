"""Salesforce Accounts -> NetSuite customers (upsert by eid SF_ACCT_<Id>); customer id written back.

The customer's internal id goes back to ``Account.NetSuite_Customer_ID__c``; other flows (orders)
get the customer of an account through :meth:`~o2c_pipeline.sync.flow.Flow.require`. A new
customer gets its subsidiary from the settings' subsidiary rule and the account's currency,
checked to be one that subsidiary trades in; an existing one keeps both (NetSuite's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Flow, Target, WriteBack
from o2c_pipeline.sync.mapping import customer_body, same_customer, strip_prefix
from o2c_pipeline.sync.netsuite_setup import SETUP_TABLES, NetSuiteSetup
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import upsert_netsuite


class Customers(Flow):
    name = "customers"
    writes = Target("netsuite", "customer")
    feeds = (Feed("salesforce.accounts"),)
    lookups = ("netsuite.customers", *SETUP_TABLES)
    write_back = WriteBack("Account", "NetSuite_Customer_ID__c")
    create_only = frozenset({"subsidiary", "currency"})

    def external_id(self, account_id: str) -> str:
        return self.settings.customer_external_id_prefix + account_id

    def plan(self, accounts: Sequence[dict[str, Any]]) -> None:
        eids = [self.external_id(a["Id"]) for a in accounts]
        self.existing = self.index("netsuite.customers", "externalid", eids)
        super().plan(accounts)
        self.setup = NetSuiteSetup.load(self.lookup_all)

    def map(self, account: dict[str, Any]) -> Pending | None:
        account_id, eid = account["Id"], self.external_id(account["Id"])
        row = self.existing.get(eid)
        entry = self.run.ledger_entry(account_id)
        target = str(row["id"]) if row else (entry.target_id if entry else None)
        p = self.prepare(
            account,
            {"Account.Id": account_id, "customer.externalId": eid},
            lambda: customer_body(
                account, self.settings, None if target else self._new_customer(account)
            ),
        )
        equal = p is not None and row is not None and same_customer(p.payload, row)
        return self.changed(p, target, row, equal=equal)

    def _new_customer(self, account: dict[str, Any]) -> dict[str, str | None]:
        """Subsidiary and currency of a customer about to be created, as NetSuite accepts them."""
        label = f"Account {account['Id']} ({account.get('Name')})"
        subsidiary = self.setup.subsidiary_for(account, self.settings, label)
        currency = self.setup.currency_id(account.get("CurrencyIsoCode") or None, label)
        self.setup.check_trade(subsidiary, currency, None, label)
        return {"subsidiary": subsidiary, "currency": currency}

    def write(self, pending: list[Pending]) -> None:
        self.linked(upsert_netsuite(self.run, self.writes.object, pending))

    def existing_targets(self, account_ids: Sequence[str]) -> dict[str, str]:
        """Customers the warehouse holds under the accounts' external ids."""
        prefix = self.settings.customer_external_id_prefix
        rows = self.lookup("netsuite.customers", "externalid", [prefix + a for a in account_ids])
        return {strip_prefix(r["externalid"], prefix): str(r["id"]) for r in rows}  # type: ignore[misc]
