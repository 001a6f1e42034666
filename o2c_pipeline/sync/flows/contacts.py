"""Salesforce Contacts -> NetSuite contacts of the account's customer (upsert by eid SF_CONTACT_<Id>).

Salesforce masters the person (names, email, phone); the contact is attached to the customer of
its Account (synced on the spot when missing). Real data, handled:

- a contact NetSuite already holds under ``SF_CONTACT_<Id>`` is updated only where it differs;
- a hand-typed NetSuite contact of the same customer with the same email (or, without email, the
  same name) and no external id is adopted: it gets the external id instead of a duplicate;
- the same person entered twice on one Account (same name and email) syncs once; the later
  Contact waits in the DLQ as a duplicate, to be merged in Salesforce;
- a contact without a real last name (empty or a placeholder such as ``[not provided]``) waits in
  the DLQ: NetSuite needs the person's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from o2c_pipeline.sync.feed import Feed
from o2c_pipeline.sync.flow import Flow, Target
from o2c_pipeline.sync.mapping import DataError, contact_body, same_contact
from o2c_pipeline.sync.run import Pending
from o2c_pipeline.sync.writers import upsert_by_external_id, write_netsuite


def _person(contact: Mapping[str, Any]) -> tuple[str, str]:
    """Who a contact is, for spotting the same person twice: name and email, case-folded."""
    name = " ".join(str(contact.get(f) or "").strip() for f in ("FirstName", "LastName"))
    return name.casefold().strip(), str(contact.get("Email") or "").casefold().strip()


class Contacts(Flow):
    name = "contacts"
    writes = Target("netsuite", "contact")
    feeds = (Feed("salesforce.contacts"),)
    lookups = ("netsuite.contacts",)
    after = ("customers",)

    def external_id(self, contact_id: str) -> str:
        return self.settings.contact_external_id_prefix + contact_id

    def plan(self, contacts: Sequence[dict[str, Any]]) -> None:
        self.by_eid = self.index(
            "netsuite.contacts", "externalid", [self.external_id(c["Id"]) for c in contacts]
        )
        super().plan(contacts)
        accounts = sorted({str(c["AccountId"]) for c in contacts if c.get("AccountId")})
        self.customers = self.require("customers", accounts)
        self.first_of: dict[tuple[str, tuple[str, str]], str] = {}
        for c in sorted(
            self.lookup("salesforce.contacts", "AccountId", accounts), key=lambda c: c["Id"]
        ):
            if _person(c)[1]:  # the same person: same name and the same (non-empty) email
                self.first_of.setdefault((str(c["AccountId"]), _person(c)), c["Id"])
        customer_ids = [c for c in self.customers.values() if isinstance(c, str)]
        self.hand_typed: dict[tuple[str, str], Mapping[str, Any]] = {}
        for row in self.lookup("netsuite.contacts", "company", customer_ids):
            if row.get("externalid"):
                continue
            company = str(row["company"])
            for key in (row.get("email"), row.get("entityid")):
                if key:
                    self.hand_typed.setdefault((company, str(key).casefold().strip()), row)
        self.adopted: dict[str, str] = {}  # contact id -> NetSuite contact it takes over

    def map(self, contact: dict[str, Any]) -> Pending | None:
        contact_id, account_id = contact["Id"], contact.get("AccountId")
        if not account_id:
            self.run.skip(contact_id)  # a private contact: no customer to attach it to
            return None
        eid = self.external_id(contact_id)
        p = self.prepare(
            contact,
            {"Contact.Id": contact_id, "Account.Id": account_id, "contact.externalId": eid},
            lambda: self._body(contact),
        )
        if p is None:
            return None
        row = self.by_eid.get(eid)
        if row is not None:
            return self.changed(p, str(row["id"]), equal=same_contact(p.payload, row))
        entry = self.run.ledger_entry(contact_id)
        if entry is None and (match := self._hand_typed(contact, p.payload)) is not None:
            self.adopted[contact_id] = str(match["id"])
            return self.changed(p, str(match["id"]), equal=False)
        return self.changed(p, entry.target_id if entry else None, equal=False)

    def _body(self, contact: dict[str, Any]) -> dict[str, Any]:
        account_id = str(contact["AccountId"])
        first = self.first_of.get((account_id, _person(contact)))
        if first is not None and first != contact["Id"]:
            raise DataError(
                "DUPLICATE_CONTACT",
                f"Contact {contact['Id']} is the same person as Contact {first} on Account "
                f"{account_id} (same name and email); merge them in Salesforce",
            )
        customer = self.customers.get(account_id)
        if not isinstance(customer, str):
            reason = customer.reason if isinstance(customer, DataError) else "not synced"
            raise DataError(
                "CUSTOMER_NOT_SYNCED",
                f"Contact {contact['Id']}: the customer of Account {account_id} is missing in "
                f"NetSuite: {reason}",
            )
        return contact_body(contact, customer, self.settings)

    def _hand_typed(
        self, contact: dict[str, Any], body: dict[str, Any]
    ) -> Mapping[str, Any] | None:
        """A hand-typed contact of the same customer: same email, else the same name."""
        company = body["company"]["id"]
        name = " ".join(filter(None, (body.get("firstName"), body.get("lastName"))))
        for key in (body.get("email"), None if body.get("email") else name):
            row = self.hand_typed.get((company, str(key or "").casefold().strip()))
            if key and row is not None and str(row["id"]) not in self.adopted.values():
                return row
        return None

    def write(self, pending: list[Pending]) -> None:
        self.linked(write_netsuite(self.run, pending, self._send, operation="upsert"))

    def _send(self, p: Pending) -> str:
        if (adopted := self.adopted.get(p.source_id)) is not None:
            self.ctx.netsuite.update_record("contact", adopted, p.payload)
            return adopted
        return upsert_by_external_id(self.ctx.netsuite, "contact", p.payload)
