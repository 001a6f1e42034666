"""The Salesforce objects the pipeline extracts, declared once (their core columns: the fields the
sync relies on; every other field ``describe()`` reports is extracted too)."""

from __future__ import annotations

from o2c_pipeline.entity import SF_TYPES, Column, Entity


def sf_column(name: str, sf_type: str = "string", description: str = "") -> Column:
    return Column(name, SF_TYPES[sf_type], description=description)


SF_SYSTEM_COLUMNS = (
    sf_column("Id", "id", "18-character record id"),
    sf_column("IsDeleted", "boolean", "true for rows from the recycle bin (queryAll)"),
    sf_column("CreatedDate", "datetime"),
    sf_column("LastModifiedDate", "datetime"),
    sf_column("SystemModstamp", "datetime", "modification stamp (user and system changes), UTC"),
)


def _sf_entity(
    name: str, sobject: str, description: str, *fields: Column, full_history: bool = False
) -> Entity:
    """An sObject: the system fields, then ``fields``; deletions come through queryAll."""
    columns = SF_SYSTEM_COLUMNS + fields
    return Entity("salesforce", name, sobject, columns, "Id", "SystemModstamp", description,
                  deleted_flag="IsDeleted", full_history=full_history)  # fmt: skip


SALESFORCE_ENTITIES: tuple[Entity, ...] = (
    _sf_entity(
        "accounts",
        "Account",
        "Salesforce Accounts: the customers of the order-to-cash process.",
        sf_column("Name"),
        sf_column("AccountNumber"),
        sf_column("Type"),
        sf_column("Industry"),
        sf_column("Phone"),
        sf_column("Website"),
        sf_column("BillingStreet"),
        sf_column("BillingCity"),
        sf_column("BillingState"),
        sf_column("BillingPostalCode"),
        sf_column("BillingCountry"),
        sf_column("CurrencyIsoCode", description="the account's currency (multi-currency orgs)"),
        sf_column(
            "NetSuite_Customer_ID__c", description="NetSuite customer internal id (external id)"
        ),
        full_history=True,
    ),
    _sf_entity(
        "contacts",
        "Contact",
        "Salesforce Contacts of the accounts: they become NetSuite contacts of the customer.",
        sf_column("AccountId"),
        sf_column("FirstName"),
        sf_column("LastName"),
        sf_column("Email"),
        sf_column("Phone"),
        full_history=True,
    ),
    _sf_entity(
        "opportunities",
        "Opportunity",
        "Salesforce Opportunities: Closed-Won deals become NetSuite sales orders.",
        sf_column("AccountId"),
        sf_column("Name"),
        sf_column("StageName"),
        sf_column("IsClosed", "boolean"),
        sf_column("IsWon", "boolean"),
        sf_column("CloseDate", "date"),
        sf_column(
            "Amount", "double", "the deal's amount in its currency (sum of the lines, if any)"
        ),
        sf_column("HasOpportunityLineItem", "boolean"),
        sf_column("Pricebook2Id"),
        sf_column("CurrencyIsoCode", description="the deal's currency"),
        sf_column("NetSuite_Sales_Order_ID__c", description="NetSuite sales order internal id"),
        sf_column("Fulfillment_Status__c"),
        sf_column("Tracking_Number__c"),
        sf_column("Amount_Invoiced__c", "double"),
        sf_column("Amount_Paid__c", "double"),
        sf_column("Payment_Status__c"),
    ),
    _sf_entity(
        "opportunity_line_items",
        "OpportunityLineItem",
        "Salesforce Opportunity Products (OpportunityLineItem): the lines of the deals.",
        sf_column("OpportunityId"),
        sf_column("Product2Id"),
        sf_column("PricebookEntryId"),
        sf_column("ProductCode", description="the product's SKU, copied by Salesforce"),
        sf_column("Quantity", "double"),
        sf_column("UnitPrice", "double"),
        sf_column("TotalPrice", "double"),
        sf_column("ServiceDate", "date"),
        full_history=True,  # the deal's stamp moves, its lines' do not
    ),
    _sf_entity(
        "products",
        "Product2",
        "Salesforce Products (Product2), mastered as NetSuite items.",
        sf_column("Name"),
        sf_column("ProductCode"),
        sf_column("Description"),
        sf_column("Family"),
        sf_column("IsActive", "boolean"),
        sf_column("NetSuite_Item_ID__c", description="NetSuite item internal id (external id)"),
        full_history=True,
    ),
    _sf_entity(
        "orders",
        "Order",
        "Salesforce Orders: activated orders become NetSuite sales orders.",
        sf_column("AccountId"),
        sf_column("OpportunityId"),
        sf_column("Pricebook2Id"),
        sf_column("OrderNumber"),
        sf_column("Status"),
        sf_column("EffectiveDate", "date"),
        sf_column("ActivatedDate", "datetime"),
        sf_column("TotalAmount", "double"),
        sf_column("NetSuite_Sales_Order_ID__c", description="NetSuite sales order internal id"),
        sf_column("Fulfillment_Status__c"),
        sf_column("Tracking_Number__c"),
        sf_column("CurrencyIsoCode", description="the order's currency"),
    ),
    _sf_entity(
        "order_items",
        "OrderItem",
        "Salesforce Order Products (OrderItem): the lines of the orders.",
        sf_column("OrderId"),
        sf_column("Product2Id"),
        sf_column("PricebookEntryId"),
        sf_column("OrderItemNumber"),
        sf_column("Quantity", "double"),
        sf_column("UnitPrice", "double"),
        sf_column("TotalPrice", "double"),
        full_history=True,  # the deal's stamp moves, its lines' do not
    ),
    _sf_entity(
        "invoices",
        "Invoice__c",
        "Salesforce Invoice__c: NetSuite invoices mirrored into the CRM.",
        sf_column("Name"),
        sf_column("Order__c"),
        sf_column("Account__c"),
        sf_column("NetSuite_Invoice_ID__c"),
        sf_column("Invoice_Number__c"),
        sf_column("Invoice_Date__c", "date"),
        sf_column("Due_Date__c", "date"),
        sf_column("Amount__c", "double"),
        sf_column("Amount_Paid__c", "double"),
        sf_column("Payment_Status__c"),
        sf_column("Status__c"),
    ),
)
