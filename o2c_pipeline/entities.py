"""Every O2C entity the pipeline extracts, declared once.

Generic code reads these declarations to build the extraction queries, the DuckDB tables, the
Dagster assets and their column schemas, so adding a custom field is one ``Column`` here and adding
an object is one ``Entity``. Pipeline code never imports the sandbox: these are the source
systems' real names (Salesforce field API names; SuiteQL tables and lowercase columns).

Warehouse columns keep the source's names (quoted, so Salesforce's case survives), plus
bookkeeping columns added by :mod:`o2c_pipeline.warehouse` (``_deleted``, ``_partition``,
``_loaded_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

System = Literal["salesforce", "netsuite"]

#: Salesforce field types -> DuckDB types (what a describe() answer maps to).
SF_TYPES = {
    "id": "VARCHAR",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "date": "DATE",
    "double": "DOUBLE",
    "int": "INTEGER",
}


@dataclass(frozen=True)
class Column:
    """A warehouse column: its name (= the source field/column name), DuckDB type and, for
    SuiteQL, the expression that selects it (default ``<alias>.<name>``)."""

    name: str
    type: str = "VARCHAR"
    expr: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Entity:
    """One extracted object.

    ``key`` identifies a record; ``cursor`` is its modification stamp (what partitions and
    watermarks are over); ``group`` (default: the key) is the unit a deletion or a new snapshot
    replaces: NetSuite transaction lines are re-emitted with their transaction's stamp whenever it
    is saved, so their group is the transaction and lines missing from the newest snapshot are gone.
    """

    system: System
    name: str
    source: str  # Salesforce object API name, or SuiteQL FROM clause (with alias)
    columns: tuple[Column, ...]
    key: str
    cursor: str
    description: str
    group: str | None = None
    #: Salesforce: the boolean column flagging soft-deleted rows (queried through queryAll).
    deleted_flag: str | None = None
    #: SuiteQL: the table alias and fixed filters of the record query.
    alias: str = ""
    where: tuple[str, ...] = ()
    #: SuiteQL: the expression the cursor filters and orders on, and the key column's expression.
    cursor_expr: str | None = None
    key_expr: str | None = None
    #: NetSuite: ``deletedrecord.recordtypeid`` values whose rows delete this entity's groups.
    deleted_record_types: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return f"{self.system}.{self.name}"

    @property
    def current_table(self) -> str:
        return f"{self.system}.{self.name}_current"

    @property
    def group_column(self) -> str:
        return self.group or self.key

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.table} has no column {name!r}")

    @property
    def watermark_key(self) -> str:
        return self.table


# ---------------------------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------------------------


def _sf(name: str, sf_type: str = "string", description: str = "") -> Column:
    return Column(name, SF_TYPES[sf_type], description=description)


_SF_SYSTEM = (
    _sf("Id", "id", "18-character record id"),
    _sf("IsDeleted", "boolean", "true for rows from the recycle bin (queryAll)"),
    _sf("CreatedDate", "datetime"),
    _sf("LastModifiedDate", "datetime"),
    _sf("SystemModstamp", "datetime", "modification stamp (user and system changes), UTC"),
)


def _sf_entity(name: str, sobject: str, description: str, *fields: Column) -> Entity:
    """An sObject: the system fields, then ``fields``; deletions come through queryAll."""
    columns = _SF_SYSTEM + fields
    return Entity("salesforce", name, sobject, columns, "Id", "SystemModstamp", description,
                  deleted_flag="IsDeleted")  # fmt: skip


SALESFORCE_ENTITIES: tuple[Entity, ...] = (
    _sf_entity(
        "accounts",
        "Account",
        "Salesforce Accounts: the customers of the order-to-cash process.",
        _sf("Name"),
        _sf("AccountNumber"),
        _sf("Type"),
        _sf("Industry"),
        _sf("Phone"),
        _sf("Website"),
        _sf("BillingStreet"),
        _sf("BillingCity"),
        _sf("BillingState"),
        _sf("BillingPostalCode"),
        _sf("BillingCountry"),
        _sf("CurrencyIsoCode", description="the account's currency (multi-currency orgs)"),
        _sf("NetSuite_Customer_ID__c", description="NetSuite customer internal id (external id)"),
    ),
    _sf_entity(
        "contacts",
        "Contact",
        "Salesforce Contacts of the accounts: they become NetSuite contacts of the customer.",
        _sf("AccountId"),
        _sf("FirstName"),
        _sf("LastName"),
        _sf("Email"),
        _sf("Phone"),
    ),
    _sf_entity(
        "opportunities",
        "Opportunity",
        "Salesforce Opportunities: Closed-Won deals become NetSuite sales orders.",
        _sf("AccountId"),
        _sf("Name"),
        _sf("StageName"),
        _sf("IsClosed", "boolean"),
        _sf("IsWon", "boolean"),
        _sf("CloseDate", "date"),
        _sf("Amount", "double", "the deal's amount in its currency (sum of the lines, if any)"),
        _sf("HasOpportunityLineItem", "boolean"),
        _sf("Pricebook2Id"),
        _sf("CurrencyIsoCode", description="the deal's currency"),
        _sf("NetSuite_Sales_Order_ID__c", description="NetSuite sales order internal id"),
        _sf("Fulfillment_Status__c"),
        _sf("Tracking_Number__c"),
        _sf("Amount_Invoiced__c", "double"),
        _sf("Amount_Paid__c", "double"),
        _sf("Payment_Status__c"),
    ),
    _sf_entity(
        "opportunity_line_items",
        "OpportunityLineItem",
        "Salesforce Opportunity Products (OpportunityLineItem): the lines of the deals.",
        _sf("OpportunityId"),
        _sf("Product2Id"),
        _sf("PricebookEntryId"),
        _sf("ProductCode", description="the product's SKU, copied by Salesforce"),
        _sf("Quantity", "double"),
        _sf("UnitPrice", "double"),
        _sf("TotalPrice", "double"),
        _sf("ServiceDate", "date"),
    ),
    _sf_entity(
        "products",
        "Product2",
        "Salesforce Products (Product2), mastered as NetSuite items.",
        _sf("Name"),
        _sf("ProductCode"),
        _sf("Description"),
        _sf("Family"),
        _sf("IsActive", "boolean"),
        _sf("NetSuite_Item_ID__c", description="NetSuite item internal id (external id)"),
    ),
    _sf_entity(
        "orders",
        "Order",
        "Salesforce Orders: activated orders become NetSuite sales orders.",
        _sf("AccountId"),
        _sf("OpportunityId"),
        _sf("Pricebook2Id"),
        _sf("OrderNumber"),
        _sf("Status"),
        _sf("EffectiveDate", "date"),
        _sf("ActivatedDate", "datetime"),
        _sf("TotalAmount", "double"),
        _sf("NetSuite_Sales_Order_ID__c", description="NetSuite sales order internal id"),
        _sf("Fulfillment_Status__c"),
        _sf("Tracking_Number__c"),
        _sf("CurrencyIsoCode", description="the order's currency"),
    ),
    _sf_entity(
        "order_items",
        "OrderItem",
        "Salesforce Order Products (OrderItem): the lines of the orders.",
        _sf("OrderId"),
        _sf("Product2Id"),
        _sf("PricebookEntryId"),
        _sf("OrderItemNumber"),
        _sf("Quantity", "double"),
        _sf("UnitPrice", "double"),
        _sf("TotalPrice", "double"),
    ),
    _sf_entity(
        "invoices",
        "Invoice__c",
        "Salesforce Invoice__c: NetSuite invoices mirrored into the CRM.",
        _sf("Name"),
        _sf("Order__c"),
        _sf("Account__c"),
        _sf("NetSuite_Invoice_ID__c"),
        _sf("Invoice_Number__c"),
        _sf("Invoice_Date__c", "date"),
        _sf("Due_Date__c", "date"),
        _sf("Amount__c", "double"),
        _sf("Amount_Paid__c", "double"),
        _sf("Payment_Status__c"),
        _sf("Status__c"),
    ),
)

# ---------------------------------------------------------------------------------------------
# NetSuite (SuiteQL)
# ---------------------------------------------------------------------------------------------


def _ns(
    name: str, type_: str = "VARCHAR", expr: str | None = None, description: str = ""
) -> Column:
    return Column(name, type_, expr, description)


_TRANSACTION_COLUMNS = (
    _ns("id", "BIGINT", description="transaction internal id"),
    _ns("tranid", description="document number"),
    _ns("trandate", "DATE"),
    _ns("type", description="transaction type code"),
    _ns("status", description="status letter code"),
    _ns("entity", "BIGINT", description="customer internal id"),
    _ns("currency", "BIGINT"),
    _ns("foreigntotal", "DOUBLE"),
    _ns("externalid"),
    _ns("otherrefnum"),
    _ns("memo"),
    _ns("createdfrom", "BIGINT", description="the transaction this one was created from"),
    _ns("createddate", "TIMESTAMP"),
    _ns("lastmodifieddate", "TIMESTAMP", description="modification stamp, UTC"),
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
    return Entity("netsuite", name, source, columns, "id", "lastmodifieddate", description,
                  alias=alias, deleted_record_types=types, **extra)  # fmt: skip


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
    return _ns_record(name, "transaction t", record_type, description, *columns, where=where)


NETSUITE_ENTITIES: tuple[Entity, ...] = (
    _ns_record(
        "customers",
        "customer c",
        "customer",
        "NetSuite customers.",
        _ns("id", "BIGINT"),
        _ns("entityid"),
        _ns("companyname"),
        _ns("email"),
        _ns("phone"),
        _ns("externalid", description="the Salesforce Account Id"),
        _ns("isinactive"),
        _ns("subsidiary", "BIGINT"),
        _ns("currency", "BIGINT"),
        _ns("billaddr1"),
        _ns("billcity"),
        _ns("billstate"),
        _ns("billzip"),
        _ns("billcountry"),
        _ns("datecreated", "TIMESTAMP"),
        _ns("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "contacts",
        "contact ct",
        "contact",
        "NetSuite contacts (of customers: ``company``).",
        _ns("id", "BIGINT"),
        _ns("entityid", description="the contact's name (required)"),
        _ns("firstname"),
        _ns("lastname"),
        _ns("email"),
        _ns("phone"),
        _ns("company", "BIGINT", description="the customer the contact works for"),
        _ns("subsidiary", "BIGINT"),
        _ns("externalid", description="SF_CONTACT_<Contact Id> for contacts from Salesforce"),
        _ns("isinactive"),
        _ns("datecreated", "TIMESTAMP"),
        _ns("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "subsidiaries",
        "subsidiary s",
        "subsidiary",
        "NetSuite subsidiaries (OneWorld): where customers and transactions are booked.",
        _ns("id", "BIGINT"),
        _ns("name"),
        _ns("fullname"),
        _ns("country", description="ISO 3166 alpha-2"),
        _ns("currency", "BIGINT", description="the subsidiary's base currency"),
        _ns("parent", "BIGINT"),
        _ns("iselimination"),
        _ns("isinactive"),
        _ns("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "currencies",
        "currency cu",
        "currency",
        "NetSuite currencies (symbol = ISO 4217 code).",
        _ns("id", "BIGINT"),
        _ns("name"),
        _ns("symbol", description="ISO 4217 code, e.g. EUR"),
        _ns("currencyprecision", "INTEGER"),
        _ns("exchangerate", "DOUBLE", description="against the root subsidiary's currency"),
        _ns("isbasecurrency"),
        _ns("isinactive"),
        _ns("lastmodifieddate", "TIMESTAMP"),
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
        _ns("id", "BIGINT"),
        _ns("basecurrency", "BIGINT", description="a subsidiary's base currency"),
        _ns("transactioncurrency", "BIGINT"),
        _ns("exchangerate", "DOUBLE", description="base units per transaction-currency unit"),
        _ns("effectivedate", "DATE"),
        _ns("lastmodifieddate", "TIMESTAMP"),
    ),
    _ns_record(
        "items",
        "item i",
        ITEM_RECORD_TYPES,
        "NetSuite items (the product master) of every type a sales order can sell.",
        _ns("id", "BIGINT"),
        _ns("itemid", description="the SKU (item name/number)"),
        _ns("displayname"),
        _ns("description"),
        _ns("itemtype", description="InvtPart, NonInvtPart, Service, Kit, ..."),
        _ns("subtype", description="Sale, Resale, Purchase (or none)"),
        _ns("baseprice", "DOUBLE"),
        _ns("isinactive"),
        _ns("externalid", description="most items have none: reference them by internal id"),
        _ns("createddate", "TIMESTAMP"),
        _ns("lastmodifieddate", "TIMESTAMP"),
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
            _ns("uniquekey", "BIGINT", description="line key, unique across all lines"),
            _ns("transaction", "BIGINT", description="the sales order"),
            _ns("id", "BIGINT", description="line id within its transaction"),
            _ns("linesequencenumber", "INTEGER"),
            _ns("item", "BIGINT"),
            _ns("quantity", "DOUBLE", description="negative on sales lines, as NetSuite stores it"),
            _ns("rate", "DOUBLE"),
            _ns("netamount", "DOUBLE", description="negative on sales lines"),
            _ns("isclosed"),
            _ns("linelastmodifieddate", "TIMESTAMP"),
            _ns(
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
        _ns("trackingnumbers"),
    ),
    _ns_transactions(
        "invoices",
        "CustInvc",
        "invoice",
        "NetSuite invoices (CustInvc).",
        _ns("duedate", "DATE"),
        _ns("foreignamountpaid", "DOUBLE"),
        _ns("foreignamountunpaid", "DOUBLE"),
    ),
    _ns_transactions(
        "payments",
        "CustPymt",
        "customerPayment",
        "NetSuite customer payments (CustPymt).",
    ),
)

ENTITIES: tuple[Entity, ...] = SALESFORCE_ENTITIES + NETSUITE_ENTITIES


def entity(table: str) -> Entity:
    """Look an entity up by its warehouse table name, e.g. ``netsuite.sales_orders``."""
    for e in ENTITIES:
        if e.table == table:
            return e
    raise KeyError(table)
