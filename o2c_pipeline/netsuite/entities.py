"""The NetSuite records and SuiteQL tables the pipeline extracts, declared once (their core columns;
every other field the metadata catalog lists and SuiteQL serves is extracted too)."""

from __future__ import annotations

from typing import Any

from o2c_pipeline.entity import Column, Entity


def ns_column(
    name: str, type_: str = "VARCHAR", expr: str | None = None, description: str = ""
) -> Column:
    return Column(name, type_, expr, description)


_TRANSACTION_COLUMNS = (
    ns_column("id", "BIGINT", description="transaction internal id"),
    ns_column("tranid", description="document number"),
    ns_column("trandate", "DATE"),
    ns_column("type", description="transaction type code"),
    ns_column("status", description="status letter code"),
    ns_column("entity", "BIGINT", description="customer internal id"),
    ns_column("currency", "BIGINT"),
    ns_column("foreigntotal", "DOUBLE"),
    ns_column("externalid"),
    ns_column("otherrefnum"),
    ns_column("memo"),
    ns_column("createdfrom", "BIGINT", description="the transaction this one was created from"),
    ns_column("createddate", "TIMESTAMP"),
    ns_column("lastmodifieddate", "TIMESTAMP", description="modification stamp, UTC"),
)


def _ns_record(
    name: str,
    source: str,
    record_types: str | tuple[str, ...],
    description: str,
    *columns: Column,
    **extra: Any,
) -> Entity:
    """A NetSuite table keyed by ``id`` and stamped by ``lastmodifieddate`` (``source`` is the
    FROM clause with its alias); ``deletedrecord`` rows of ``record_types`` delete records (none:
    the table's rows are not deleted through ``deletedrecord``)."""
    alias = source.split()[-1]
    types = (record_types,) if isinstance(record_types, str) else record_types
    extra.setdefault("full_history", True)  # master data; transactions: see _ns_transactions
    return Entity("netsuite", name, source, columns, "id", "lastmodifieddate", description,
                  alias=alias, deleted_record_types=types, record_type=types[0] if types else None,
                  **extra)  # fmt: skip


#: Record types of the items a sales order can sell; each is deleted under its own type id.
ITEM_RECORD_TYPES = (
    "inventoryItem",
    "lotNumberedInventoryItem",
    "serializedInventoryItem",
    "assemblyItem",
    "kitItem",
    "nonInventorySaleItem",
    "nonInventoryResaleItem",
    "serviceSaleItem",
    "serviceResaleItem",
    "otherChargeSaleItem",
    "otherChargeResaleItem",
    "discountItem",
)


def _ns_transactions(
    name: str, type_code: str, record_type: str, description: str, *extra: Column
) -> Entity:
    """Transactions of one type (``transaction.type``), with the columns every type has."""
    where = (f"t.type = '{type_code}'",)
    columns = _TRANSACTION_COLUMNS + extra
    return _ns_record(
        name, "transaction t", record_type, description, *columns, where=where, full_history=False
    )


NETSUITE_ENTITIES: tuple[Entity, ...] = (
    _ns_record(
        "customers",
        "customer c",
        "customer",
        "NetSuite customers.",
        ns_column("id", "BIGINT"),
        ns_column("entityid"),
        ns_column("companyname"),
        ns_column("email"),
        ns_column("phone"),
        ns_column("externalid", description="the Salesforce Account Id"),
        ns_column("isinactive"),
        ns_column("subsidiary", "BIGINT"),
        ns_column("currency", "BIGINT"),
        ns_column("billaddr1"),
        ns_column("billcity"),
        ns_column("billstate"),
        ns_column("billzip"),
        ns_column("billcountry"),
        ns_column("datecreated", "TIMESTAMP"),
        ns_column("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "contacts",
        "contact ct",
        "contact",
        "NetSuite contacts (of customers: ``company``).",
        ns_column("id", "BIGINT"),
        ns_column("entityid", description="the contact's name (required)"),
        ns_column("firstname"),
        ns_column("lastname"),
        ns_column("email"),
        ns_column("phone"),
        ns_column("company", "BIGINT", description="the customer the contact works for"),
        ns_column("subsidiary", "BIGINT"),
        ns_column("externalid", description="SF_CONTACT_<Contact Id> for contacts from Salesforce"),
        ns_column("isinactive"),
        ns_column("datecreated", "TIMESTAMP"),
        ns_column("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "subsidiaries",
        "subsidiary s",
        "subsidiary",
        "NetSuite subsidiaries (OneWorld): where customers and transactions are booked.",
        ns_column("id", "BIGINT"),
        ns_column("name"),
        ns_column("fullname"),
        ns_column("country", description="ISO 3166 alpha-2"),
        ns_column("currency", "BIGINT", description="the subsidiary's base currency"),
        ns_column("parent", "BIGINT"),
        ns_column("iselimination"),
        ns_column("isinactive"),
        ns_column("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "currencies",
        "currency cu",
        "currency",
        "NetSuite currencies (symbol = ISO 4217 code).",
        ns_column("id", "BIGINT"),
        ns_column("name"),
        ns_column("symbol", description="ISO 4217 code, e.g. EUR"),
        ns_column("currencyprecision", "INTEGER"),
        ns_column("exchangerate", "DOUBLE", description="against the root subsidiary's currency"),
        ns_column("isbasecurrency"),
        ns_column("isinactive"),
        ns_column("lastmodifieddate", "TIMESTAMP"),
    ),
    # The Currency Exchange Rates table: a row per (subsidiary base currency, transaction
    # currency, effective date). NetSuite's daily rate update adds a row and a correction
    # re-stamps one, so ``lastmodifieddate`` is a sound cursor; rates are not deleted through
    # ``deletedrecord`` (a rate removed by hand lingers here until NetSuite refuses an order).
    _ns_record(
        "currency_rates",
        "currencyrate cr",
        (),
        "NetSuite exchange rates (currencyrate): which currencies a subsidiary can trade in.",
        ns_column("id", "BIGINT"),
        ns_column("basecurrency", "BIGINT", description="a subsidiary's base currency"),
        ns_column("transactioncurrency", "BIGINT"),
        ns_column("exchangerate", "DOUBLE", description="base units per transaction-currency unit"),
        ns_column("effectivedate", "DATE"),
        ns_column("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "items",
        "item i",
        ITEM_RECORD_TYPES,
        "NetSuite items (the product master) of every type a sales order can sell.",
        ns_column("id", "BIGINT"),
        ns_column("itemid", description="the SKU (item name/number)"),
        ns_column("displayname"),
        ns_column("description"),
        ns_column("itemtype", description="InvtPart, NonInvtPart, Service, Kit, ..."),
        ns_column("subtype", description="Sale, Resale, Purchase (or none)"),
        ns_column("baseprice", "DOUBLE"),
        ns_column("isinactive"),
        ns_column("externalid", description="most items have none: reference them by internal id"),
        ns_column("createddate", "TIMESTAMP"),
        ns_column("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_transactions(
        "sales_orders",
        "SalesOrd",
        "salesOrder",
        "NetSuite sales orders (transaction type SalesOrd).",
    ),
    Entity(
        system="netsuite",
        name="sales_order_lines",
        source="transactionline tl INNER JOIN transaction t ON t.id = tl.transaction",
        alias="tl",
        where=("t.type = 'SalesOrd'", "tl.mainline = 'F'", "tl.taxline = 'F'"),
        columns=(
            ns_column("uniquekey", "BIGINT", description="line key, unique across all lines"),
            ns_column("transaction", "BIGINT", description="the sales order"),
            ns_column("id", "BIGINT", description="line id within its transaction"),
            ns_column("linesequencenumber", "INTEGER"),
            ns_column("item", "BIGINT"),
            ns_column(
                "quantity", "DOUBLE", description="negative on sales lines, as NetSuite stores it"
            ),
            ns_column("rate", "DOUBLE"),
            ns_column("netamount", "DOUBLE", description="negative on sales lines"),
            ns_column("isclosed"),
            ns_column("linelastmodifieddate", "TIMESTAMP"),
            ns_column(
                "lastmodifieddate",
                "TIMESTAMP",
                "t.lastmodifieddate",
                "the sales order's stamp: every save re-emits all its lines",
            ),
        ),
        key="uniquekey",
        group="transaction",
        cursor="lastmodifieddate",
        cursor_expr="t.lastmodifieddate",
        deleted_record_types=("salesOrder",),
        description="NetSuite sales order lines (mainline and tax lines excluded).",
    ),
    _ns_transactions(
        "fulfillments",
        "ItemShip",
        "itemFulfillment",
        "NetSuite item fulfillments (ItemShip), created from sales orders.",
        ns_column("trackingnumbers"),
    ),
    _ns_transactions(
        "invoices",
        "CustInvc",
        "invoice",
        "NetSuite invoices (CustInvc).",
        ns_column("duedate", "DATE"),
        ns_column("foreignamountpaid", "DOUBLE"),
        ns_column("foreignamountunpaid", "DOUBLE"),
    ),
    _ns_transactions(
        "payments",
        "CustPymt",
        "customerPayment",
        "NetSuite customer payments (CustPymt).",
    ),
)
