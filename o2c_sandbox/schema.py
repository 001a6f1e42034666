"""The sandbox world's schema: every Salesforce object and NetSuite table, declared once.

Both sandbox servers, the world generator and the simulator read these declarations; the DuckDB
DDL, Salesforce ``describe`` answers and SuiteQL table names are all derived from them, so a new
field is one line here.

Storage: one DuckDB file, schema ``sf`` for Salesforce objects (table = object API name, columns
= field API names) and schema ``ns`` for NetSuite SuiteQL tables (lowercase names, as SuiteQL
exposes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from o2c_pipeline.netsuite.statuses import TRANSACTION_STATUSES

# ---------------------------------------------------------------------------------------------
# Salesforce
# ---------------------------------------------------------------------------------------------

#: Salesforce field type -> DuckDB column type.
SF_DUCKDB_TYPES = {
    "id": "VARCHAR",
    "reference": "VARCHAR",
    "string": "VARCHAR",
    "textarea": "VARCHAR",
    "picklist": "VARCHAR",
    "phone": "VARCHAR",
    "url": "VARCHAR",
    "email": "VARCHAR",
    "boolean": "BOOLEAN",
    "datetime": "TIMESTAMP",  # stored as naive UTC
    "date": "DATE",
    "double": "DOUBLE",
    "currency": "DOUBLE",
    "percent": "DOUBLE",
    "int": "INTEGER",
}
#: compound field types: read-only views over their component fields, no column of their own
SF_COMPOUND_TYPES = frozenset({"address"})

#: the org's integration user (the API user every session runs as); owner of records by default
SF_INTEGRATION_USER_ID = "005000000000001AAA"


@dataclass(frozen=True)
class SfField:
    name: str
    type: str
    length: int = 0
    reference_to: str | None = None
    relationship_name: str | None = None  # parent relationship, e.g. AccountId -> "Account"
    child_relationship: str | None = None  # the parent's name for them, e.g. "Contacts"
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    picklist: tuple[str, ...] = ()
    label: str = ""  # describe label; derived from the API name when empty
    default_value: str | bool | None = None  # given to new records that leave the field out
    calculated: bool = False  # formula field: read-only, computed by the org
    formula: str | None = None  # describe calculatedFormula
    compound_field_name: str | None = None  # a component's compound, e.g. "BillingAddress"
    name_field: bool = False  # the object's record name (describe nameField)
    precision: int = 0  # currency / double digits in total (0: the type's default)
    scale: int = 0  # ... of which after the decimal point

    @property
    def stored(self) -> bool:
        """Whether the field is a column of its own (compound fields are not)."""
        return self.type not in SF_COMPOUND_TYPES

    @property
    def duckdb_type(self) -> str:
        return SF_DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class SfChildRelationship:
    name: str  # e.g. "OrderItems"
    child_object: str  # e.g. "OrderItem"
    field: str  # the child's reference field, e.g. "OrderId"


@dataclass(frozen=True)
class SfObject:
    name: str
    key_prefix: str  # first three characters of every Id
    fields: tuple[SfField, ...]
    children: tuple[SfChildRelationship, ...] = ()
    custom: bool = False
    label: str = ""

    def field(self, name: str) -> SfField:
        for f in self.fields:
            if f.name.lower() == name.lower():
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def stored_fields(self) -> list[SfField]:
        return [f for f in self.fields if f.stored]


#: objects without an owner: detail sides of master-detail relationships and setup objects
_UNOWNED = frozenset(
    {"Product2", "Pricebook2", "PricebookEntry", "OrderItem", "User", "Organization"}
)


def _reference(
    name: str,
    to: str,
    relationship: str | None = None,
    children: str | None = None,
    **options: Any,
) -> SfField:
    """A lookup to ``to``, its relationship named after the object unless given (``…__r``);
    ``children`` names the child relationship the parent lists, as the lookup defines it."""
    return SfField(
        name,
        "reference",
        18,
        reference_to=to,
        relationship_name=relationship or to,
        child_relationship=children,
        **options,
    )


def _read_only(name: str, type: str, length: int = 0, **options: Any) -> SfField:
    """A field the org sets: neither createable nor updateable through the API."""
    return SfField(name, type, length, createable=False, updateable=False, **options)


def _calculated(name: str, type: str, length: int = 0, formula: str | None = None) -> SfField:
    """A custom formula (or roll-up summary, without ``formula``) field, computed by the org."""
    return _read_only(name, type, length, custom=True, calculated=True, formula=formula)


def _user_ref(name: str, relationship: str, **options: Any) -> SfField:
    return _reference(
        name, "User", relationship, nillable=False, default_value=SF_INTEGRATION_USER_ID, **options
    )


def _system_fields(owned: bool = True) -> tuple[SfField, ...]:
    read_only = {"createable": False, "updateable": False}
    return (
        _read_only("Id", "id", 18, nillable=False),
        *((_user_ref("OwnerId", "Owner"),) if owned else ()),
        _read_only("IsDeleted", "boolean", nillable=False),
        _read_only("CreatedDate", "datetime", nillable=False),
        _user_ref("CreatedById", "CreatedBy", **read_only),
        _read_only("LastModifiedDate", "datetime", nillable=False),
        _user_ref("LastModifiedById", "LastModifiedBy", **read_only),
        _read_only("SystemModstamp", "datetime", nillable=False),
    )


def _address(prefix: str) -> tuple[SfField, ...]:
    """A compound address and its components, as every standard address in a real org."""
    compound = f"{prefix}Address"
    return (
        SfField(f"{prefix}Street", "textarea", 255, compound_field_name=compound),
        SfField(f"{prefix}City", "string", 40, compound_field_name=compound),
        SfField(f"{prefix}State", "string", 80, compound_field_name=compound),
        SfField(f"{prefix}PostalCode", "string", 20, compound_field_name=compound),
        SfField(f"{prefix}Country", "string", 80, compound_field_name=compound),
        _read_only(compound, "address"),
    )


def _obj(name: str, prefix: str, fields: list[SfField], custom: bool = False) -> SfObject:
    system = _system_fields(owned=name not in _UNOWNED)
    return SfObject(name, prefix, system + tuple(fields), (), custom, name)


def _with_children(objects: tuple[SfObject, ...]) -> dict[str, SfObject]:
    """``objects`` by name, each with the child relationships its children's lookups name."""
    children: dict[str, list[SfChildRelationship]] = {}
    for child in objects:
        for f in child.fields:
            if f.child_relationship and f.reference_to:
                relationship = SfChildRelationship(f.child_relationship, child.name, f.name)
                children.setdefault(f.reference_to, []).append(relationship)
    return {o.name: replace(o, children=tuple(children.get(o.name, ()))) for o in objects}


def custom_object(name: str, key_prefix: str, *fields: SfField) -> SfObject:
    """A custom object (``…__c``) with ``fields`` after the system fields every record has."""
    return SfObject(name, key_prefix, (*_system_fields(owned=True), *fields), custom=True)


ORDER_STATUSES = ("Draft", "Activated", "Shipped", "Partially Shipped", "Cancelled")
PAYMENT_STATUSES = ("Unpaid", "Partially Paid", "Paid")
FULFILLMENT_STATUSES = ("Unfulfilled", "Partially Fulfilled", "Fulfilled", "Closed", "Cancelled")

#: The org's currencies (multi-currency enabled, corporate currency USD). Inactive currencies
#: (CHF here) stay on old records but are no longer offered in the restricted picklist.
CURRENCY_CODES = ("USD", "EUR", "GBP", "CAD", "JPY", "AUD")
CORPORATE_CURRENCY = "USD"

#: Salesforce's default sales process: stage -> (IsClosed, IsWon, default Probability,
#: default ForecastCategoryName), as a new org ships it (OpportunityStage).
OPPORTUNITY_STAGES: dict[str, tuple[bool, bool, int, str]] = {
    "Prospecting": (False, False, 10, "Pipeline"),
    "Qualification": (False, False, 10, "Pipeline"),
    "Needs Analysis": (False, False, 20, "Pipeline"),
    "Value Proposition": (False, False, 50, "Pipeline"),
    "Id. Decision Makers": (False, False, 60, "Pipeline"),
    "Perception Analysis": (False, False, 70, "Pipeline"),
    "Proposal/Price Quote": (False, False, 75, "Pipeline"),
    "Negotiation/Review": (False, False, 90, "Pipeline"),
    "Closed Won": (True, True, 100, "Closed"),
    "Closed Lost": (True, False, 0, "Omitted"),
}
FORECAST_CATEGORIES = ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")


def _currency(*, derived: bool = False, updateable: bool = True) -> SfField:
    """``CurrencyIsoCode`` as every record of a multi-currency org has it. Line items take their
    parent's currency (``derived``: read-only); elsewhere it defaults to the user's currency."""
    return SfField(
        "CurrencyIsoCode",
        "picklist",
        3,
        picklist=CURRENCY_CODES,
        createable=not derived,
        updateable=updateable and not derived,
    )


SF_OBJECTS: dict[str, SfObject] = _with_children(
    (
        _obj(
            "Account",
            "001",
            [
                SfField("Name", "string", 255, nillable=False),
                SfField("AccountNumber", "string", 40),
                SfField("Type", "picklist", 40, picklist=("Prospect", "Customer", "Partner")),
                SfField("Industry", "picklist", 40),
                SfField("Phone", "phone", 40),
                SfField("Website", "url", 255),
                *_address("Billing"),
                _currency(),
                SfField("NetSuite_Customer_ID__c", "string", 40, custom=True, external_id=True),
                # roll-up summary: SUM(Order.TotalAmount) of live orders, converted at the
                # org's static rates (roll-ups never use dated rates); a roll-up is saved with
                # its parent, so a change bumps the Account's SystemModstamp
                _calculated("Total_Order_Amount__c", "currency"),
            ],
        ),
        _obj(
            "Contact",
            "003",
            [
                _reference("AccountId", "Account", children="Contacts"),
                SfField("FirstName", "string", 40),
                SfField("LastName", "string", 80, nillable=False),
                SfField("Email", "email", 80),
                SfField("Phone", "phone", 40),
                _currency(),
            ],
        ),
        _obj(
            "Product2",
            "01t",
            [
                SfField("Name", "string", 255, nillable=False),
                SfField("ProductCode", "string", 255),
                SfField("Description", "textarea", 4000),
                SfField("Family", "picklist", 40),
                SfField("IsActive", "boolean", nillable=False),
                SfField(
                    "NetSuite_Item_ID__c", "string", 40, custom=True, external_id=True, unique=True
                ),
                _currency(),
            ],
        ),
        _obj(
            "Pricebook2",
            "01s",
            [
                SfField("Name", "string", 255, nillable=False),
                SfField("IsActive", "boolean", nillable=False),
                _read_only("IsStandard", "boolean", nillable=False),
                _currency(),
            ],
        ),
        _obj(
            "PricebookEntry",
            "01u",
            [
                _reference("Pricebook2Id", "Pricebook2", nillable=False),
                _reference("Product2Id", "Product2", nillable=False),
                SfField("UnitPrice", "currency", nillable=False),
                SfField("IsActive", "boolean", nillable=False),
                SfField("UseStandardPrice", "boolean"),
                # one entry per product, price book and currency: fixed once created
                _currency(updateable=False),
            ],
        ),
        _obj(
            "Opportunity",
            "006",
            [
                _reference("AccountId", "Account", children="Opportunities"),
                SfField("Name", "string", 120, nillable=False),
                SfField(
                    "StageName", "picklist", 40, nillable=False, picklist=tuple(OPPORTUNITY_STAGES)
                ),
                SfField("CloseDate", "date", nillable=False),
                # with products, Amount is the sum of the lines and read-only in the UI
                SfField("Amount", "currency"),
                SfField("Probability", "percent"),
                SfField("ForecastCategoryName", "picklist", 40, picklist=FORECAST_CATEGORIES),
                _read_only("IsClosed", "boolean", nillable=False),
                _read_only("IsWon", "boolean", nillable=False),
                _read_only("HasOpportunityLineItem", "boolean", nillable=False),
                _reference("Pricebook2Id", "Pricebook2"),
                _currency(),
                SfField("NetSuite_Sales_Order_ID__c", "string", 40, custom=True, external_id=True),
                # what the ERP reports back on a won deal (the admin's fields for the integration,
                # as on Order and Invoice__c): fulfilment, tracking, billing and payment
                SfField(
                    "Fulfillment_Status__c",
                    "picklist",
                    40,
                    custom=True,
                    picklist=FULFILLMENT_STATUSES,
                ),
                SfField("Tracking_Number__c", "string", 255, custom=True),
                SfField("Amount_Invoiced__c", "currency", custom=True),
                SfField("Amount_Paid__c", "currency", custom=True),
                SfField(
                    "Payment_Status__c", "picklist", 40, custom=True, picklist=PAYMENT_STATUSES
                ),
                # CURRENCYRATE() reads the org's static rates at query time: a rate change moves
                # the value of every opportunity in that currency without touching a stamp
                _calculated(
                    "Amount_Corporate__c",
                    "currency",
                    formula="Amount / CURRENCYRATE(TEXT(CurrencyIsoCode))",
                ),
            ],
        ),
        _obj(
            "OpportunityLineItem",
            "00k",
            [
                _reference(
                    "OpportunityId", "Opportunity", nillable=False, children="OpportunityLineItems"
                ),
                _reference("PricebookEntryId", "PricebookEntry", nillable=False),
                _reference("Product2Id", "Product2"),
                _read_only("ProductCode", "string", 255),
                SfField("Quantity", "double", nillable=False),
                SfField("UnitPrice", "currency", nillable=False),
                _read_only("ListPrice", "currency"),
                _read_only("TotalPrice", "currency"),
                SfField("ServiceDate", "date"),
                SfField("Description", "string", 255),
                _currency(derived=True),
            ],
        ),
        _obj(
            "Order",
            "801",
            [
                _reference("AccountId", "Account", nillable=False, children="Orders"),
                _reference("OpportunityId", "Opportunity", children="Orders"),
                _reference("Pricebook2Id", "Pricebook2"),
                _read_only("OrderNumber", "string", 30, nillable=False),
                SfField("Status", "picklist", 40, nillable=False, picklist=ORDER_STATUSES),
                SfField("EffectiveDate", "date", nillable=False),
                SfField("ActivatedDate", "datetime"),
                _read_only("TotalAmount", "currency"),
                SfField("NetSuite_Sales_Order_ID__c", "string", 40, custom=True, external_id=True),
                SfField("Fulfillment_Status__c", "picklist", 40, custom=True),
                SfField("Tracking_Number__c", "string", 255, custom=True),
                _currency(),
                # cross-object formula: follows the Account, never the Order's stamps
                _calculated("Account_Industry__c", "string", 255, formula="TEXT(Account.Industry)"),
                # TODAY() formula: a new value every day, no stamp ever
                _calculated(
                    "Days_Since_Activation__c",
                    "double",
                    formula="IF(ISBLANK(ActivatedDate), NULL, TODAY() - DATEVALUE(ActivatedDate))",
                ),
            ],
        ),
        _obj(
            "OrderItem",
            "802",
            [
                _reference("OrderId", "Order", nillable=False, children="OrderItems"),
                _reference("Product2Id", "Product2"),
                _reference("PricebookEntryId", "PricebookEntry"),
                _read_only("OrderItemNumber", "string", 30),
                SfField("Quantity", "double", nillable=False),
                SfField("UnitPrice", "currency", nillable=False),
                _read_only("TotalPrice", "currency"),
                _currency(derived=True),
            ],
        ),
        _obj(
            "Invoice__c",
            "a01",
            [
                SfField("Name", "string", 80),
                _reference("Order__c", "Order", "Order__r", custom=True, children="Invoices__r"),
                _reference(
                    "Account__c", "Account", "Account__r", custom=True, children="Invoices__r"
                ),
                SfField(
                    "NetSuite_Invoice_ID__c",
                    "string",
                    40,
                    custom=True,
                    external_id=True,
                    unique=True,
                ),
                SfField("Invoice_Number__c", "string", 40, custom=True),
                SfField("Invoice_Date__c", "date", custom=True),
                SfField("Due_Date__c", "date", custom=True),
                SfField("Amount__c", "currency", custom=True),
                SfField("Amount_Paid__c", "currency", custom=True),
                SfField(
                    "Payment_Status__c", "picklist", 40, custom=True, picklist=PAYMENT_STATUSES
                ),
                SfField("Status__c", "picklist", 40, custom=True),
                _currency(),
            ],
            custom=True,
        ),
        # multi-currency setup objects: the org's currencies with their static rate against the
        # corporate currency (units per 1 USD), and the dated rates of advanced currency management
        _obj(
            "CurrencyType",
            "01L",
            [
                SfField("IsoCode", "picklist", 40, nillable=False, updateable=False),
                SfField("ConversionRate", "double", nillable=False),
                SfField("DecimalPlaces", "int", nillable=False),
                SfField("IsActive", "boolean", nillable=False),
                SfField("IsCorporate", "boolean", nillable=False),
            ],
        ),
        _obj(
            "DatedConversionRate",
            "04w",
            [
                SfField("IsoCode", "picklist", 40, nillable=False, updateable=False),
                SfField("ConversionRate", "double", nillable=False),
                SfField("StartDate", "date", nillable=False),
                _read_only("NextStartDate", "date"),
            ],
        ),
    )
)

#: setup objects: the org's configuration rather than its business data. The Salesforce service
#: seeds their rows; the world generator neither builds nor clears them.
SF_SETUP_OBJECTS: dict[str, SfObject] = {
    o.name: o
    for o in (
        _obj(  # minimally: who owns, created and changed records
            "User",
            "005",
            [
                SfField("Username", "string", 80, nillable=False, unique=True),
                SfField("FirstName", "string", 40),
                SfField("LastName", "string", 80, nillable=False),
                _read_only("Name", "string", 121, nillable=False),
                SfField("Alias", "string", 8, nillable=False),
                SfField("Email", "email", 128, nillable=False),
                SfField("IsActive", "boolean", nillable=False, default_value=True),
                _read_only("UserType", "picklist", 40, picklist=("Standard", "AutomatedProcess")),
                SfField("TimeZoneSidKey", "picklist", 40, nillable=False),
                SfField("LocaleSidKey", "picklist", 40, nillable=False),
                SfField("LanguageLocaleKey", "picklist", 40, nillable=False),
            ],
        ),
        _obj(  # the org itself, one record (clients such as the Salesforce CLI read it)
            "Organization",
            "00D",
            [
                SfField("Name", "string", 80, nillable=False),
                _read_only("InstanceName", "string", 5),
                _read_only("IsSandbox", "boolean", nillable=False),
                _read_only("OrganizationType", "picklist", 40),
                _read_only("NamespacePrefix", "string", 15),
                _read_only("TrialExpirationDate", "datetime"),
                SfField("DefaultLocaleSidKey", "picklist", 40, nillable=False),
                SfField("LanguageLocaleKey", "picklist", 40, nillable=False),
                SfField("TimeZoneSidKey", "picklist", 40, nillable=False),
            ],
        ),
    )
}
#: every object the org's APIs serve
SF_API_OBJECTS: dict[str, SfObject] = {**SF_OBJECTS, **SF_SETUP_OBJECTS}

# ---------------------------------------------------------------------------------------------
# NetSuite
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NsColumn:
    name: str  # SuiteQL column name (lowercase)
    type: str  # DuckDB type
    record_field: str | None = None  # camelCase field in the record API, when exposed there


@dataclass(frozen=True)
class NsTable:
    name: str
    columns: tuple[NsColumn, ...]
    primary_key: tuple[str, ...] = ("id",)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, typ: str = "VARCHAR", record_field: str | None = None) -> NsColumn:
    return NsColumn(name, typ, record_field)


def _field(record_field: str, typ: str = "VARCHAR") -> NsColumn:
    """A column the record API serves too, as a field of the same name in camelCase."""
    return NsColumn(record_field.lower(), typ, record_field)


def custom_column(name: str, type: str = "VARCHAR") -> NsColumn:
    """A NetSuite custom field (``custentity_…``, ``custrecord_…``): the record API names it by
    its id, as SuiteQL does."""
    return NsColumn(name, type, name)


def custom_record_table(record_type: str, *fields: NsColumn) -> NsTable:
    """The SuiteQL table of a custom record type: the standard fields every custom record has
    (``name``, stamped ``created`` and ``lastmodified``) around its custom ``fields``."""
    return NsTable(
        record_type,
        (
            _field("id", "BIGINT"),
            _field("name"),
            _field("externalId"),
            _field("isInactive"),
            *fields,
            _field("created", "TIMESTAMP"),
            _field("lastModified", "TIMESTAMP"),
        ),
    )


#: Transaction type codes as SuiteQL shows them in ``transaction.type``.
NS_TRANSACTION_TYPES = {
    "salesOrder": "SalesOrd",
    "itemFulfillment": "ItemShip",
    "invoice": "CustInvc",
    "customerPayment": "CustPymt",
    "creditMemo": "CustCred",
    "customerRefund": "CustRfnd",
}

#: NetSuite status letters per transaction type (``transaction.status``) and their display text:
#: the pipeline's table (pure data), so the sandbox answers with the letters the sync reads.
NS_STATUSES = TRANSACTION_STATUSES

#: NetSuite item types as SuiteQL shows them (``item.itemtype``, plus ``item.subtype`` for items
#: that can be sold, bought or both) and the record API type serving each.
NS_ITEM_TYPES = {
    "inventoryItem": {"itemtype": "InvtPart"},
    "nonInventorySaleItem": {"itemtype": "NonInvtPart", "subtype": "Sale"},
    "serviceSaleItem": {"itemtype": "Service", "subtype": "Sale"},
    "kitItem": {"itemtype": "Kit"},
}

NS_TABLES: dict[str, NsTable] = {
    t.name: t
    for t in (
        NsTable(
            "customer",
            (
                _field("id", "BIGINT"),
                _field("entityId"),
                _field("companyName"),
                _field("email"),
                _field("phone"),
                _field("externalId"),
                _field("isInactive"),  # 'T' / 'F'
                _field("subsidiary", "BIGINT"),  # the primary subsidiary
                _field("currency", "BIGINT"),  # the primary currency
                _field("priceLevel", "BIGINT"),
                _c("billaddr1", record_field="addr1"),
                _c("billaddr2", record_field="addr2"),
                _c("billaddr3", record_field="addr3"),
                _c("billcity", record_field="city"),
                _c("billstate", record_field="state"),
                _c("billzip", record_field="zip"),
                _c("billcountry", record_field="country"),  # NetSuite enum, e.g. _unitedStates
                _field("dateCreated", "TIMESTAMP"),
                _field("lastModifiedDate", "TIMESTAMP"),
            ),
        ),
        # OneWorld: which subsidiaries a customer may transact in (one row is the primary)
        NsTable(
            "customersubsidiaryrelationship",
            (
                _field("id", "BIGINT"),
                _field("entity", "BIGINT"),
                _field("subsidiary", "BIGINT"),
                _field("isPrimarySub"),
                _field("primaryCurrency", "BIGINT"),
                _field("externalId"),
                _field("lastModifiedDate", "TIMESTAMP"),
            ),
        ),
        NsTable(
            "contact",
            (
                _field("id", "BIGINT"),
                _field("entityId"),  # "Contact": the name, required
                _field("firstName"),
                _field("lastName"),
                _field("email"),
                _field("phone"),
                _field("company", "BIGINT"),  # the customer the contact works for
                _field("subsidiary", "BIGINT"),
                _field("externalId"),
                _field("isInactive"),
                _field("dateCreated", "TIMESTAMP"),
                _field("lastModifiedDate", "TIMESTAMP"),
            ),
        ),
        NsTable(
            "subsidiary",
            (
                _field("id", "BIGINT"),
                _field("name"),
                _c("fullname"),  # "Parent Company : O2C Europe GmbH"
                _field("country"),  # ISO 3166 alpha-2
                _field("currency", "BIGINT"),  # the base currency
                _field("parent", "BIGINT"),
                _field("isElimination"),
                _field("isInactive"),
                _field("externalId"),
                _field("lastModifiedDate", "TIMESTAMP"),
            ),
        ),
        NsTable(
            "currency",
            (
                _field("id", "BIGINT"),
                _field("name"),  # "Euro"
                _field("symbol"),  # the ISO code: "EUR"
                _field("displaySymbol"),  # "€"
                _field("symbolPlacement"),
                _field("currencyPrecision", "INTEGER"),  # 0 for JPY
                # base currency units per unit of this currency (to the root subsidiary's currency)
                _field("exchangeRate", "DOUBLE"),
                _field("isBaseCurrency"),
                _field("isInactive"),
                _field("externalId"),
                _field("lastModifiedDate", "TIMESTAMP"),
            ),
        ),
        # the Currency Exchange Rates table: one rate per subsidiary base currency, transaction
        # currency and effective date; a transaction takes the latest rate on or before its date
        NsTable(
            "currencyrate",
            (
                _c("id", "BIGINT"),
                _c("basecurrency", "BIGINT"),
                _c("transactioncurrency", "BIGINT"),
                _c("exchangerate", "DOUBLE"),  # base units per transaction-currency unit
                _c("effectivedate", "DATE"),
                _c("lastmodifieddate", "TIMESTAMP"),
            ),
        ),
        NsTable(
            "item",
            (
                _field("id", "BIGINT"),
                _field("itemId"),  # the SKU
                _field("displayName"),
                _c("description", record_field="salesDescription"),
                _c("itemtype"),  # InvtPart, NonInvtPart, Service, Kit
                _c("subtype"),  # Sale / Resale / Purchase, or NULL
                _field("basePrice", "DOUBLE"),  # in the base currency (USD)
                _field("isInactive"),
                _field("externalId"),  # most items have none
                _field("createdDate", "TIMESTAMP"),
                _field("lastModifiedDate", "TIMESTAMP"),
            ),
        ),
        # the members of kit items
        NsTable(
            "itemmember",
            (
                _c("parentitem", "BIGINT"),
                _c("linenumber", "INTEGER"),
                _c("item", "BIGINT"),
                _c("quantity", "DOUBLE"),
            ),
            primary_key=("parentitem", "linenumber"),
        ),
        NsTable(
            "pricelevel",
            (
                _field("id", "BIGINT"),
                _field("name"),
                _field("discountPct", "DOUBLE"),  # -10 = 10% off the base price
                _field("isInactive"),
                _field("externalId"),
            ),
        ),
        # an item's price per price level, currency and minimum quantity (the pricing matrix)
        NsTable(
            "pricing",
            (
                _c("item", "BIGINT"),
                _c("pricelevel", "BIGINT"),
                _c("currency", "BIGINT"),
                _c("quantity", "DOUBLE"),
                _c("unitprice", "DOUBLE"),
            ),
            primary_key=("item", "pricelevel", "currency", "quantity"),
        ),
        NsTable(
            "transaction",
            (
                _field("id", "BIGINT"),
                _field("tranId"),
                _field("tranDate", "DATE"),
                _c("type"),  # SalesOrd, ItemShip, CustInvc, CustPymt, CustCred, CustRfnd
                _c("recordtype"),  # the record type id, lowercase: salesorder, invoice, ...
                _field("status"),  # letter code, see NS_STATUSES
                _field("entity", "BIGINT"),
                _field("currency", "BIGINT"),
                # subsidiary base units per transaction-currency unit, fixed when the record is saved
                _field("exchangeRate", "DOUBLE"),
                _c("foreigntotal", "DOUBLE", "total"),
                _c("foreignamountpaid", "DOUBLE", "amountPaid"),
                _c("foreignamountunpaid", "DOUBLE", "amountRemaining"),
                _field("externalId"),
                _field("otherRefNum"),
                _field("memo"),
                _field("createdFrom", "BIGINT"),
                _field("dueDate", "DATE"),
                _field("shipDate", "DATE"),
                _c("trackingnumbers", record_field="linkedTrackingNumbers"),
                _field("createdDate", "TIMESTAMP"),
                _field("lastModifiedDate", "TIMESTAMP"),
            ),
        ),
        NsTable(
            "transactionline",
            (
                _c("id", "BIGINT", "line"),  # line id, unique within its transaction
                _c("transaction", "BIGINT"),
                _c("uniquekey", "BIGINT"),  # unique across all lines
                _c("linesequencenumber", "INTEGER"),
                _c("mainline", "VARCHAR"),  # 'T' for the header line, 'F' otherwise
                _c("taxline", "VARCHAR"),
                _field("item", "BIGINT"),
                _field("quantity", "DOUBLE"),  # negative on sales lines, as in NetSuite
                _field("rate", "DOUBLE"),  # in the transaction currency
                _c(
                    "foreignamount", "DOUBLE", "amount"
                ),  # transaction currency; negative on sales lines
                _c("netamount", "DOUBLE"),  # the same in the subsidiary's base currency
                # SuiteQL keeps the subsidiary on the lines (the mainline's is the transaction's)
                _c("subsidiary", "BIGINT"),
                _c("createdfrom", "BIGINT"),
                _field("isClosed"),
                _c("linelastmodifieddate", "TIMESTAMP"),
            ),
            primary_key=("transaction", "id"),
        ),
        NsTable(
            "previoustransactionlink",
            (
                _c("previousdoc", "BIGINT"),
                _c("nextdoc", "BIGINT"),
                _c("linktype"),  # OrdFul, OrdBill, Payment
                _c("foreignamount", "DOUBLE"),
                _c("lastmodifieddate", "TIMESTAMP"),
            ),
            primary_key=("previousdoc", "nextdoc"),
        ),
        NsTable(
            "deletedrecord",
            (
                _c("recordid", "BIGINT"),
                _c("recordtypeid"),  # record API type name: customer, salesOrder, invoice, ...
                _c("type"),  # transaction type code for transactions, else the record type
                _c("name"),
                _c("context"),
                _c("deleteddate", "TIMESTAMP"),
            ),
            primary_key=("recordtypeid", "recordid"),
        ),
    )
}

#: Record API type -> (table, fixed filters). Transactions share one table, split by type code;
#: items share one, split by item type.
NS_RECORD_TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "customer": ("customer", {}),
    "contact": ("contact", {}),
    "customerSubsidiaryRelationship": ("customersubsidiaryrelationship", {}),
    "subsidiary": ("subsidiary", {}),
    "currency": ("currency", {}),
    "priceLevel": ("pricelevel", {}),
    **{rt: ("item", fixed) for rt, fixed in NS_ITEM_TYPES.items()},
    **{
        rt: ("transaction", {"type": code, "recordtype": rt.lower()})
        for rt, code in NS_TRANSACTION_TYPES.items()
    },
}


@dataclass
class Credentials:
    """Fixed sandbox credentials; ``o2c sandbox credentials`` prints them for the pipeline."""

    sf_client_id: str = "o2c-sandbox-consumer-key"
    sf_client_secret: str = "o2c-sandbox-consumer-secret"
    sf_username: str = "integration@o2c-sandbox.example"
    sf_password: str = "o2c-sandbox-password"
    # a refresh token the integration user granted the connected app (web-server flow, once)
    sf_refresh_token: str = "5Aep861o2cSandboxRefreshTokenForTheConnectedApp"
    ns_account_id: str = "1234567_SB1"
    ns_consumer_key: str = "o2c-ns-consumer-key"
    ns_consumer_secret: str = "o2c-ns-consumer-secret"
    ns_token_id: str = "o2c-ns-token-id"
    ns_token_secret: str = "o2c-ns-token-secret"
    # OAuth 2.0 client credentials (machine to machine): the integration record's client id and
    # the certificate mapped to it, whose id is the assertion's ``kid``. The key pair and the
    # self-signed certificate are files in the sandbox's state directory.
    ns_client_id: str = "o2c-ns-m2m-client-id"
    ns_certificate_id: str = "o2c-ns-m2m-certificate-id"
    ns_private_key_file: str = "netsuite_m2m_private_key.pem"
    ns_certificate_file: str = "netsuite_m2m_certificate.pem"
    extra: dict[str, str] = field(default_factory=dict)


def sf_ddl() -> list[str]:
    stmts = ["CREATE SCHEMA IF NOT EXISTS sf"]
    for obj in SF_API_OBJECTS.values():
        cols = [f'"{f.name}" {f.duckdb_type}{_default_sql(f)}' for f in obj.stored_fields]
        stmts.append(
            f'CREATE TABLE IF NOT EXISTS sf."{obj.name}" ({", ".join(cols)}, PRIMARY KEY ("Id"))'
        )
        # a world stored before a field was declared gains its column
        stmts += [f'ALTER TABLE sf."{obj.name}" ADD COLUMN IF NOT EXISTS {c}' for c in cols]
    return stmts


def _default_sql(f: SfField) -> str:
    if f.default_value is None:
        return ""
    if isinstance(f.default_value, bool):
        return f" DEFAULT {str(f.default_value).lower()}"
    return " DEFAULT '" + str(f.default_value).replace("'", "''") + "'"


def ns_ddl() -> list[str]:
    stmts = ["CREATE SCHEMA IF NOT EXISTS ns"]
    for table in NS_TABLES.values():
        cols = ", ".join(f'"{c.name}" {c.type}' for c in table.columns)
        pk = ", ".join(f'"{k}"' for k in table.primary_key)
        stmts.append(f'CREATE TABLE IF NOT EXISTS ns."{table.name}" ({cols}, PRIMARY KEY ({pk}))')
    return stmts


def schema_fingerprint() -> str:
    """A digest of every declared table and column type: a world saved under another schema
    cannot be reused (its tables lack the new columns), so the runner rebuilds it."""
    import hashlib

    parts = [
        f"sf.{o.name}:" + ",".join(f"{f.name}/{f.duckdb_type}" for f in o.stored_fields)
        for o in SF_OBJECTS.values()
    ]
    parts += [
        f"ns.{t.name}:" + ",".join(f"{c.name}/{c.type}" for c in t.columns)
        for t in NS_TABLES.values()
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
