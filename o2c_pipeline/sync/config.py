"""Sync configuration: field ownership, status tables and tunables, declared once (countries:
:mod:`o2c_pipeline.sync.countries`).

Everything an administrator may want to change without touching flow code lives here, with
sensible defaults. ``SyncSettings.from_env()`` applies the ``sync:`` section of the configuration
file (:mod:`o2c_pipeline.config`), whose keys override the fields of ``SyncSettings`` (e.g. a
different ``order_status`` table or ``subsidiary_id``); every field is accepted there, so a new
one needs no further wiring. ``O2C_NETSUITE_TIMEZONE`` overrides ``netsuite_timezone``; the
deprecated ``O2C_SYNC_CONFIG`` (a file of these keys alone) is still read beneath the file's
section. The file's ``ownership:`` section adds masters of custom fields to
:data:`FIELD_OWNERSHIP`. The status letters themselves are NetSuite's:
:mod:`o2c_pipeline.netsuite.statuses`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import yaml
from pydantic import Field, ValidationError

from o2c_pipeline import config as config_file
from o2c_pipeline import settings as env
from o2c_pipeline.netsuite.statuses import status_text

System = Literal["salesforce", "netsuite"]
log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Field ownership: one master system per field. A flow may only write fields its source masters;
# ``assert_owned`` enforces that for every payload, so a mapping can never overwrite target data.
# ---------------------------------------------------------------------------------------------

FIELD_OWNERSHIP: dict[str, dict[str, System]] = {
    # NetSuite customer: company data comes from the CRM.
    "netsuite.customer": {
        f: "salesforce"
        for f in (
            "externalId",
            "companyName",
            "subsidiary",  # on creation only: NetSuite keeps it once the customer transacts
            "currency",  # likewise
            "addressbook",
            "addr1",
            "addr2",
            "addr3",
            "city",
            "state",
            "zip",
            "country",
        )
    },
    # NetSuite sales order: the CRM hands the order over once; NetSuite owns it from then on
    # (status, totals, fulfilment, billing), so the sync creates it and never rewrites it.
    "netsuite.salesOrder": {
        f: "salesforce"
        for f in ("externalId", "entity", "otherRefNum", "tranDate", "item", "memo", "currency")
    },
    # NetSuite contacts of customers: the CRM's people, attached to the account's customer.
    "netsuite.contact": {
        f: "salesforce"
        for f in ("externalId", "firstName", "lastName", "email", "phone", "company")
    },
    # What the ERP reports back on a won deal.
    "salesforce.Opportunity": {
        f: "netsuite"
        for f in (
            "NetSuite_Sales_Order_ID__c",
            "Fulfillment_Status__c",
            "Tracking_Number__c",
            "Amount_Invoiced__c",
            "Amount_Paid__c",
            "Payment_Status__c",
        )
    },
    "salesforce.Account": {"NetSuite_Customer_ID__c": "netsuite"},
    "salesforce.Product2": {
        f: "netsuite"
        for f in ("Name", "ProductCode", "Description", "IsActive", "NetSuite_Item_ID__c")
    },
    "salesforce.PricebookEntry": {
        f: "netsuite"
        for f in ("Pricebook2Id", "Product2Id", "UnitPrice", "IsActive", "CurrencyIsoCode")
    },
    # Order header fields that move after activation are ERP facts.
    "salesforce.Order": {
        f: "netsuite"
        for f in (
            "NetSuite_Sales_Order_ID__c",
            "Fulfillment_Status__c",
            "Status",
            "Tracking_Number__c",
        )
    },
    "salesforce.Invoice__c": {
        f: "netsuite"
        for f in (
            "Name",
            "NetSuite_Invoice_ID__c",
            "Invoice_Number__c",
            "Invoice_Date__c",
            "Due_Date__c",
            "Amount__c",
            "Status__c",
            "Order__c",
            "Account__c",
            "Amount_Paid__c",
            "Payment_Status__c",
        )
    },
}


class OwnershipError(ValueError):
    """A mapping tried to write a field its source system does not master (a programming error)."""


def owners(
    target: str, ownership: Mapping[str, Mapping[str, System]] | None = None
) -> dict[str, System]:
    """Who masters each field of ``target``: the built-in table, then the ``ownership:`` section
    of the configuration file (custom fields; default the file in effect)."""
    if ownership is None:
        ownership = config_file.load().config.ownership
    return {**ownership.get(target, {}), **FIELD_OWNERSHIP.get(target, {})}


def assert_owned(
    target: str, source: System, payload: dict, *, claim_unlisted: bool = False
) -> None:
    """Refuse a payload that would write a field the target (or nobody) masters;
    ``claim_unlisted``: fields nobody is listed for are the source's (custom field mappings)."""
    owners_ = owners(target)
    foreign = sorted(
        k
        for k in payload
        if k not in ("Id", "attributes")
        and owners_.get(k, source if claim_unlisted else None) != source
    )
    if foreign:
        raise OwnershipError(f"{source} does not master {target} field(s) {', '.join(foreign)}")


@dataclass(frozen=True)
class OrderStatusRule:
    fulfillment_status: str
    order_status: str | None  # None: leave the Salesforce Order Status as it is


DEFAULT_ORDER_STATUS: dict[str, dict[str, str | None]] = {
    "Pending Approval": {"fulfillment_status": "Unfulfilled", "order_status": None},
    "Pending Fulfillment": {"fulfillment_status": "Unfulfilled", "order_status": None},
    "Partially Fulfilled": {
        "fulfillment_status": "Partially Fulfilled",
        "order_status": "Partially Shipped",
    },
    "Pending Billing/Partially Fulfilled": {
        "fulfillment_status": "Partially Fulfilled",
        "order_status": "Partially Shipped",
    },
    "Pending Billing": {"fulfillment_status": "Fulfilled", "order_status": "Shipped"},
    "Billed": {"fulfillment_status": "Fulfilled", "order_status": "Shipped"},
    "Closed": {"fulfillment_status": "Closed", "order_status": None},
    "Cancelled": {"fulfillment_status": "Cancelled", "order_status": "Cancelled"},
}

DEFAULT_PAYMENT_STATUS: dict[str, str] = {"Open": "Unpaid", "Paid In Full": "Paid"}
DEFAULT_INVOICE_STATUS: dict[str, str] = {"Open": "Open", "Paid In Full": "Closed"}


class SyncSettings(dg.ConfigurableResource):
    """Tunables and mapping tables of the O2C sync; defaults suit a standard NetSuite account."""

    netsuite_timezone: str = Field(
        default="America/Los_Angeles",
        description="IANA time zone of the NetSuite account (Setup > Company > Time Zone); tranDate is a date there.",
    )
    subsidiary_id: str = Field(
        default="1",
        description="NetSuite subsidiary for new customers when the subsidiary rule finds none "
        "(and for every new customer under subsidiary_rule 'default').",
    )
    subsidiary_rule: Literal["country", "field", "default"] = Field(
        default="country",
        description="How a new customer's subsidiary is chosen: 'country' (subsidiary_by_country "
        "for the billing country, else the one active operating subsidiary in that country), "
        "'field' (the subsidiary internal id or name in the Account field subsidiary_field), "
        "'default' (always subsidiary_id). A subsidiary never changes once the customer exists.",
    )
    subsidiary_by_country: dict[str, str] = Field(
        default_factory=dict,
        description="ISO 3166 alpha-2 billing country -> subsidiary internal id (rule 'country'), "
        "e.g. {'FR': '2', 'NL': '2'} to book France and the Netherlands in the European entity.",
    )
    subsidiary_field: str = Field(
        default="NetSuite_Subsidiary__c",
        description="Account field holding the subsidiary (rule 'field'); declare it on "
        "salesforce.accounts.",
    )
    customer_external_id_prefix: str = "SF_ACCT_"
    sales_order_external_id_prefix: str = "SF_ORDER_"
    opportunity_external_id_prefix: str = "SF_OPP_"
    contact_external_id_prefix: str = "SF_CONTACT_"
    sales_order_trigger: Literal["orders", "opportunities", "both"] = Field(
        default="both",
        description="Which won deals become NetSuite sales orders: activated Orders "
        "(SF_ORDER_<Id>), Closed-Won Opportunities (SF_OPP_<Id>), or both. Under 'both' a "
        "deal makes exactly one: an Opportunity with a live Order waits for its Order's sales "
        "order and links to it; an Order made after its Opportunity's sales order links to that.",
    )
    eligible_order_statuses: list[str] = Field(default_factory=lambda: ["Activated"])
    base_price_currency: str | None = Field(
        default=None,
        description="Currency of the standard-price-book entries that follow NetSuite's base "
        "prices (default: NetSuite's base currency, isbasecurrency).",
    )
    max_line_quantity: float = Field(
        default=100_000.0,
        description="Lines with a larger quantity are dead-lettered as implausible (a typo or a "
        "price typed into the quantity) rather than sent.",
    )
    contact_last_name_placeholders: list[str] = Field(
        default_factory=lambda: ["[not provided]", "-", ".", "?", "Unknown", "N/A", "NA", "None"],
        description="Contact last names that stand for none (Web-to-Lead, imports); such a "
        "contact is dead-lettered: NetSuite needs the person's name.",
    )
    order_status: dict[str, dict[str, str | None]] = Field(
        default_factory=lambda: dict(DEFAULT_ORDER_STATUS),
        description="NetSuite sales-order status text -> Salesforce Fulfillment_Status__c and Order Status.",
    )
    payment_status: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PAYMENT_STATUS),
        description="NetSuite invoice status text -> Salesforce Invoice__c.Payment_Status__c.",
    )
    partial_payment_status: str = Field(
        default="Partially Paid",
        description="Payment status of an open invoice with a payment applied.",
    )
    invoice_status: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_INVOICE_STATUS))
    company_name_max: int = Field(default=83, gt=0)
    address_line_max: int = Field(default=150, gt=0)
    salesforce_bulk_threshold: int = Field(
        default=2000,
        ge=0,
        description="Salesforce writes above this many records go through Bulk API 2.0.",
    )
    netsuite_write_threads: int = Field(
        default=5,
        gt=0,
        description="Parallel NetSuite writers; the resource's account-wide limiter still gates them.",
    )
    dlq_retry_after_s: float = Field(
        default=3600.0,
        gt=0,
        description="Data errors are re-tried automatically after this long (doubling per attempt).",
    )
    transient_retry_after_s: float = Field(default=300.0, gt=0)
    change_lookback_s: float = Field(
        default=600.0,
        ge=0,
        description="Change feeds re-read this far behind their checkpoint (late commits).",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SyncSettings:
        """Defaults, overridden by the configuration file's ``sync:`` section (beneath it, the
        deprecated ``O2C_SYNC_CONFIG``) and ``O2C_NETSUITE_TIMEZONE``; a bad key or value raises
        :class:`~o2c_pipeline.config.ConfigError` naming it."""
        loaded = config_file.load(environ)
        layers: list[tuple[str, str, dict[str, Any]]] = []
        if legacy := env.value("O2C_SYNC_CONFIG", environ):
            log.warning("O2C_SYNC_CONFIG is deprecated: move its keys under sync: in O2C_CONFIG")
            layers.append((legacy, "", _legacy_overrides(Path(legacy))))
        layers.append((loaded.source, "sync", dict(loaded.config.sync)))
        overrides: dict[str, Any] = {}
        origin: dict[str, tuple[str, str]] = {}
        for source, prefix, values in layers:
            for key, value in values.items():
                overrides[key], origin[key] = value, (source, prefix)
        known = list(cls.model_fields)
        unknown = [k for k in overrides if k not in cls.model_fields]
        if unknown:
            source, prefix = origin[unknown[0]]
            raise config_file.ConfigError(
                source,
                [_unknown(f"{prefix}.{k}" if prefix else k, k, known) for k in unknown],
            )
        if env.is_set("O2C_NETSUITE_TIMEZONE", environ):
            overrides["netsuite_timezone"] = env.value("O2C_NETSUITE_TIMEZONE", environ)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            first = str(exc.errors()[0]["loc"][0])
            source, prefix = origin.get(first, (loaded.source, "sync"))
            raise config_file.ConfigError.from_validation(source, exc, prefix, known) from None

    def order_rule(self, netsuite_status: str | None) -> OrderStatusRule | None:
        rule = self.order_status.get(status_text("SalesOrd", netsuite_status) or "")
        return OrderStatusRule(**rule) if rule else None


def _unknown(key: str, name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f"{key}: unknown key" + (f" (did you mean {close[0]}?)" if close else "")


def _legacy_overrides(path: Path) -> dict[str, Any]:
    """The deprecated ``O2C_SYNC_CONFIG`` file: a mapping of ``SyncSettings`` keys."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise config_file.ConfigError(str(path), [f"cannot be read as YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise config_file.ConfigError(str(path), ["must be a mapping of sync settings"])
    return data
