"""Field mapping of every flow: pure functions from warehouse rows to request bodies.

Rows come from the warehouse's ``*_current`` tables: Salesforce columns carry field API names
(``BillingStreet``), NetSuite columns SuiteQL names (``companyname``). A record that cannot be
mapped raises :class:`DataError` with a reason a person can act on; the engine dead-letters it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from o2c_pipeline.netsuite.statuses import status_text
from o2c_pipeline.sync.config import SyncSettings, assert_owned
from o2c_pipeline.sync.countries import netsuite_country


class DataError(Exception):
    """A record that cannot flow until someone fixes it; never retried within the run."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _date_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def strip_prefix(value: str | None, prefix: str) -> str | None:
    """``SF_ACCT_001...`` -> ``001...``; None when the value does not carry the prefix."""
    if value and value.startswith(prefix):
        return value[len(prefix) :]
    return None


def is_true(value: Any) -> bool:
    """NetSuite booleans arrive as 'T'/'F' from SuiteQL, Salesforce ones as real booleans."""
    if isinstance(value, str):
        return value.strip().upper() in ("T", "TRUE", "Y", "YES", "1")
    return bool(value)


# ---------------------------------------------------------------------------------------------
# 1. Salesforce Account -> NetSuite customer
# ---------------------------------------------------------------------------------------------


def split_street(street: str | None, *, lines: int = 3, max_len: int = 150) -> list[str | None]:
    """Billing street (a textarea) -> addr1..addr3; surplus lines are folded into the last one."""
    parts = [p.strip() for p in (street or "").replace("\r", "").split("\n") if p.strip()]
    if len(parts) > lines:
        parts = parts[: lines - 1] + [", ".join(parts[lines - 1 :])]
    parts = [p[:max_len] for p in parts]
    return parts + [None] * (lines - len(parts))


ADDRESS_FIELDS = ("addr1", "addr2", "addr3", "city", "state", "zip", "country")


def customer_body(
    account: Mapping[str, Any],
    settings: SyncSettings,
    new: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """The customer upsert body (``PUT customer/eid:SF_ACCT_<Id>``) for an Account row.

    The billing address travels as the default billing entry of the ``addressbook`` sublist; an
    Account without any address sends none, so it never blanks an address kept in NetSuite.
    ``new`` (subsidiary and currency internal ids) is given only when the customer is created:
    NetSuite keeps both once a customer exists (and transacts).
    """
    name = _text(account.get("Name"))
    if not name:
        raise DataError(
            "MISSING_NAME", f"Account {account['Id']} has no Name; NetSuite needs a company name"
        )
    body: dict[str, Any] = {
        "externalId": settings.customer_external_id_prefix + account["Id"],
        "companyName": name[: settings.company_name_max],
    }
    for field_name, value in (new or {}).items():
        if value is not None:
            body[field_name] = {"id": str(value)}
    addr1, addr2, addr3 = split_street(
        account.get("BillingStreet"), max_len=settings.address_line_max
    )
    address = {
        "addr1": addr1,
        "addr2": addr2,
        "addr3": addr3,
        "city": _text(account.get("BillingCity")),
        "state": _text(account.get("BillingState")),
        "zip": _text(account.get("BillingPostalCode")),
    }
    country = _text(account.get("BillingCountry"))
    if country is not None:
        enum = netsuite_country(country)
        if enum is None:
            raise DataError(
                "UNKNOWN_COUNTRY",
                f"Account {account['Id']} ({name}): billing country {country!r} is not a known "
                "country name or ISO code; correct BillingCountry (or add an alias in "
                "o2c_pipeline/sync/countries.py)",
            )
        address["country"] = enum
    address = {k: v for k, v in address.items() if v is not None}
    if address:
        body["addressbook"] = {
            "items": [
                {"defaultBilling": True, "defaultShipping": True, "addressbookAddress": address}
            ]
        }
    assert_owned("netsuite.customer", "salesforce", {**body, **address})
    return body


def customer_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A customer body flattened to the warehouse's columns, for "only if different"."""
    items = (body.get("addressbook") or {}).get("items") or [{}]
    address = items[0].get("addressbookAddress", {})
    view = {"companyname": body.get("companyName")}
    for field_name in ("subsidiary", "currency"):
        if field_name in body:
            view[field_name] = str(body[field_name]["id"])
    if "addressbook" in body:
        view.update({f"bill{k}": address.get(k) for k in ADDRESS_FIELDS})
    return view


def customer_row_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The same projection of a ``netsuite.customers_current`` row (country as NetSuite enum)."""
    view = {
        "companyname": _text(row.get("companyname")),
        "subsidiary": _text(row.get("subsidiary")),
        "currency": _text(row.get("currency")),
    }
    for k in ADDRESS_FIELDS:
        if f"bill{k}" not in row:
            continue
        value = _text(row.get(f"bill{k}"))
        if k == "country" and value:
            value = netsuite_country(value) or value
        view[f"bill{k}"] = value
    return view


def same_customer(body: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Does the ``netsuite.customers_current`` row already hold the customer body?"""
    return same_where_known(customer_view(body), customer_row_view(row))


def same_where_known(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Equal on every field the target row carries; fields the warehouse does not land (e.g.
    ``billaddr2``) cannot be compared and do not force a write by themselves."""
    for key, value in wanted.items():
        if key not in current:
            continue
        have = current[key]
        if isinstance(value, float) or isinstance(have, float):
            try:
                if round(float(value or 0), 2) != round(float(have or 0), 2):
                    return False
            except (TypeError, ValueError):
                return False
            if (value is None) != (have is None):
                return False
            continue
        if isinstance(have, dt.date | dt.datetime):
            have = _date_text(have)
        if isinstance(value, bool) or isinstance(have, bool):
            if is_true(value) != is_true(have):
                return False
            continue
        if (_text(value) if value is not None else None) != (
            _text(have) if have is not None else None
        ):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# 1b. Salesforce Contact -> NetSuite contact of the account's customer
# ---------------------------------------------------------------------------------------------


def contact_names(contact: Mapping[str, Any], settings: SyncSettings) -> tuple[str | None, str]:
    """First and last name; a name-only import (whole name in LastName, no FirstName) is split
    at its first space. A missing or placeholder last name is a data error: NetSuite needs the
    person's name, and ``[not provided]`` would become a contact of that name."""
    first, last = _text(contact.get("FirstName")), _text(contact.get("LastName"))
    placeholders = {p.casefold() for p in settings.contact_last_name_placeholders}
    if last is None or last.casefold() in placeholders:
        raise DataError(
            "MISSING_LAST_NAME",
            f"Contact {contact['Id']} ({first or 'no first name'}, {contact.get('Email') or 'no email'}) "
            f"has no real last name ({last!r}); enter it in Salesforce",
        )
    if first is None and " " in last:
        first, last = last.split(" ", 1)
    return first, last


def contact_body(
    contact: Mapping[str, Any], customer_id: str, settings: SyncSettings
) -> dict[str, Any]:
    """The contact body (``PUT contact/eid:SF_CONTACT_<Id>``), attached to the customer."""
    first, last = contact_names(contact, settings)
    body = {
        "externalId": settings.contact_external_id_prefix + contact["Id"],
        "firstName": first,
        "lastName": last,
        "email": _text(contact.get("Email")),
        "phone": _text(contact.get("Phone")),
        "company": {"id": str(customer_id)},
    }
    body = {k: v for k, v in body.items() if v is not None}
    assert_owned("netsuite.contact", "salesforce", body)
    return body


def same_contact(body: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Does the ``netsuite.contacts_current`` row already hold the contact body?"""
    view = {
        "firstname": body.get("firstName"),
        "lastname": body.get("lastName"),
        "email": body.get("email"),
        "phone": body.get("phone"),
        "company": body["company"]["id"],
        "externalid": body["externalId"],
    }
    return same_where_known(view, row)


# ---------------------------------------------------------------------------------------------
# 2. NetSuite item -> Salesforce Product2 (+ standard PricebookEntry)
# ---------------------------------------------------------------------------------------------


def product_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """Product2 fields NetSuite masters, matched on SKU (item ``itemid``) and ``NetSuite_Item_ID__c``."""
    sku = _text(item.get("itemid"))
    if not sku:
        raise DataError("MISSING_SKU", f"NetSuite item {item['id']} has no item name/number (SKU)")
    fields = {
        "Name": _text(item.get("displayname")) or sku,
        "ProductCode": sku,
        "IsActive": not is_true(item.get("isinactive")),
        "NetSuite_Item_ID__c": str(item["id"]),
    }
    if description := _text(item.get("description")):
        fields["Description"] = description
    assert_owned("salesforce.Product2", "netsuite", fields)
    return fields


def list_price(item: Mapping[str, Any]) -> float | None:
    return _number(item.get("baseprice"))


def standard_price_fields(item: Mapping[str, Any], product_id: str) -> dict[str, Any]:
    """The product's standard-price-book entry: the item's base price and active flag."""
    fields = {
        "Product2Id": product_id,
        "UnitPrice": list_price(item) or 0.0,
        "IsActive": not is_true(item.get("isinactive")),
    }
    assert_owned("salesforce.PricebookEntry", "netsuite", fields)
    return fields


# 3. Won deals -> NetSuite sales orders: :mod:`o2c_pipeline.sync.deals`


# ---------------------------------------------------------------------------------------------
# 4. NetSuite fulfillment -> Salesforce Order status and tracking number
# ---------------------------------------------------------------------------------------------


def order_status_fields(
    sales_order: Mapping[str, Any],
    fulfillments: Sequence[Mapping[str, Any]],
    settings: SyncSettings,
) -> dict[str, Any]:
    """Order fields derived from the sales order's status and its fulfillments' tracking numbers."""
    fields: dict[str, Any] = {}
    rule = settings.order_rule(sales_order.get("status"))
    if rule is not None:
        fields["Fulfillment_Status__c"] = rule.fulfillment_status
        if rule.order_status:
            fields["Status"] = rule.order_status
    tracking: list[str] = []
    for f in sorted(fulfillments, key=lambda r: str(r.get("id"))):
        for number in (
            (_text(f.get("trackingnumbers")) or "").replace(",", " ").replace("<BR>", " ").split()
        ):
            if number not in tracking:
                tracking.append(number)
    if tracking:
        fields["Tracking_Number__c"] = ", ".join(tracking)[:255]
    assert_owned("salesforce.Order", "netsuite", fields)
    return fields


# ---------------------------------------------------------------------------------------------
# 5. NetSuite invoice -> Salesforce Invoice__c; 6. payment -> payment status / amount paid
# ---------------------------------------------------------------------------------------------


def invoice_fields(
    invoice: Mapping[str, Any],
    *,
    order_id: str | None,
    account_id: str | None,
    settings: SyncSettings,
) -> dict[str, Any]:
    """Invoice__c fields, upserted by ``NetSuite_Invoice_ID__c``; linked to Order and Account."""
    if not account_id:
        raise DataError(
            "UNLINKED_INVOICE",
            f"NetSuite invoice {invoice.get('tranid') or invoice['id']}: its customer is not a synced Salesforce Account",
        )
    status = status_text("CustInvc", invoice.get("status"))
    fields = {
        "NetSuite_Invoice_ID__c": str(invoice["id"]),
        "Name": _text(invoice.get("tranid")) or str(invoice["id"]),
        "Invoice_Number__c": _text(invoice.get("tranid")),
        "Invoice_Date__c": _date_text(invoice.get("trandate")),
        "Due_Date__c": _date_text(invoice.get("duedate")),
        "Amount__c": _number(invoice.get("foreigntotal")),
        "Status__c": settings.invoice_status.get(status or "", status),
        "Account__c": account_id,
        "Order__c": order_id,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    assert_owned("salesforce.Invoice__c", "netsuite", fields)
    return fields


def amount_paid(invoice: Mapping[str, Any]) -> float:
    paid = _number(invoice.get("foreignamountpaid"))
    if paid is None:
        total, unpaid = (
            _number(invoice.get("foreigntotal")),
            _number(invoice.get("foreignamountunpaid")),
        )
        paid = (total - unpaid) if total is not None and unpaid is not None else 0.0
    return round(paid, 2)


def payment_fields(invoice: Mapping[str, Any], settings: SyncSettings) -> dict[str, Any]:
    """Payment_Status__c and Amount_Paid__c of the invoice, from NetSuite's applied payments."""
    paid = amount_paid(invoice)
    status = status_text("CustInvc", invoice.get("status")) or ""
    payment_status = settings.payment_status.get(status, "Unpaid")
    if payment_status == settings.payment_status.get("Open", "Unpaid") and paid > 0:
        payment_status = settings.partial_payment_status
    fields = {
        "NetSuite_Invoice_ID__c": str(invoice["id"]),
        "Amount_Paid__c": paid,
        "Payment_Status__c": payment_status,
    }
    assert_owned("salesforce.Invoice__c", "netsuite", fields)
    return fields
