"""How columns are found, without a network: describe() and metadata-catalog answers as real
orgs give them, merged with the declared core under the configuration's rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from o2c_pipeline.config import EntityConfig
from o2c_pipeline.entities import Column, entity
from o2c_pipeline.extract.columns import SourceField, SourceSchemaError, merge
from o2c_pipeline.extract.runner import extract
from o2c_pipeline.netsuite.fields import candidate_columns, catalog_fields
from o2c_pipeline.salesforce.source import SalesforceSource, describe_fields
from o2c_pipeline_tests.test_extract_planning import DAY, FakeSalesforce

DESCRIBE = {
    "fields": [
        {"name": "Id", "type": "id", "custom": False},
        {"name": "BillingStreet", "type": "textarea", "compoundFieldName": "BillingAddress"},
        {"name": "BillingAddress", "type": "address"},  # compound: its parts are the columns
        {"name": "ShippingLocation", "type": "location"},
        {"name": "Logo__c", "type": "base64", "custom": True},
        {"name": "AnnualRevenue", "type": "currency"},
        {"name": "NumberOfEmployees", "type": "int"},
        {"name": "Score__c", "type": "percent", "custom": True},
        {"name": "Big__c", "type": "long", "custom": True},
        {"name": "Renewal__c", "type": "date", "custom": True},
        {"name": "Old__c", "type": "string", "deprecatedAndHidden": True},
        {"name": "Colors__c", "type": "multipicklist", "custom": True},
    ]
}


def test_describe_keeps_queryable_non_compound_fields_with_their_types():
    assert describe_fields(DESCRIBE) == [
        SourceField("Id", "VARCHAR"),
        SourceField("BillingStreet", "VARCHAR"),
        SourceField("AnnualRevenue", "DOUBLE"),
        SourceField("NumberOfEmployees", "INTEGER"),
        SourceField("Score__c", "DOUBLE", True),
        SourceField("Big__c", "BIGINT", True),
        SourceField("Renewal__c", "DATE", True),
        SourceField("Colors__c", "VARCHAR", True),
    ]


CATALOG = {
    "type": "object",
    "properties": {
        "links": {"type": "array", "items": {"$ref": "/metadata-catalog/nsLink"}},
        "companyName": {"type": "string"},
        "dateCreated": {"type": "string", "format": "date-time"},
        "balance": {"type": "number", "format": "double"},
        "isInactive": {"type": "boolean"},
        "salesRep": {"type": "object", "$ref": "/services/rest/record/v1/metadata-catalog/employee"},
        "custentity_tier": {"type": "string", "x-ns-custom-field": True},
        "custentity_since": {"type": "string", "format": "date", "x-ns-custom-field": True},
        "custentity_seats": {"type": "integer", "format": "int64", "x-ns-custom-field": True},
        "addressBook": {"type": "object", "$ref": "/metadata-catalog/customer-addressBookCollection"},
        "contactRoles": {"type": "object", "properties": {"items": {"type": "array"}, "totalResults": {}}},
    },
}  # fmt: skip


def test_the_catalog_offers_scalar_fields_as_lowercase_columns():
    assert catalog_fields(CATALOG) == [
        SourceField("companyname", "VARCHAR"),
        SourceField("datecreated", "TIMESTAMP"),
        SourceField("balance", "DOUBLE"),
        SourceField("isinactive", "BOOLEAN"),
        SourceField("salesrep", "VARCHAR"),  # a reference: internal id(s), as text
        SourceField("custentity_tier", "VARCHAR", True),
        SourceField("custentity_since", "DATE", True),
        SourceField("custentity_seats", "BIGINT", True),
    ]


def test_netsuite_candidates_are_the_core_then_wanted_catalog_fields_then_named_ones():
    customers = entity("netsuite.customers")
    rules = EntityConfig(exclude=["balance"], include=["*", "defaultaddress"])
    names = [
        c.name
        for c in candidate_columns(customers, catalog_fields(CATALOG), rules.named(), rules.wants)
    ]
    assert names[: len(customers.columns)] == customers.column_names  # the core, typed as declared
    assert names[len(customers.columns) :] == [
        "salesrep", "custentity_tier", "custentity_since", "custentity_seats", "defaultaddress"
    ]  # fmt: skip


def test_merge_adds_wanted_fields_and_tells_a_missing_core_column():
    accounts = entity("salesforce.accounts")
    offered = [f for f in describe_fields(DESCRIBE)] + [
        SourceField(c.name, c.type) for c in accounts.columns if c.name != "CurrencyIsoCode"
    ]
    found = merge(accounts, offered, EntityConfig(exclude=["Score__c", "big__C"]))
    assert found.missing_core == ("CurrencyIsoCode",)  # a single-currency org has none
    assert "CurrencyIsoCode" not in found.entity.column_names
    assert found.extra == ("AnnualRevenue", "NumberOfEmployees", "Renewal__c", "Colors__c")
    assert all(not c.core for c in found.entity.columns if c.name in found.extra)
    only = merge(accounts, offered, EntityConfig(include=["Renewal__c", "Nope__c"]))
    assert only.extra == ("Renewal__c",) and only.unknown_named == ("Nope__c",)


def test_a_source_without_the_key_or_stamp_fails_naming_it():
    accounts = entity("salesforce.accounts")
    offered = [SourceField(c.name, c.type) for c in accounts.columns if c.name != "SystemModstamp"]
    with pytest.raises(SourceSchemaError, match="salesforce has no SystemModstamp on Account"):
        merge(accounts, offered, EntityConfig())


def test_a_select_too_long_for_a_rest_url_goes_through_bulk(tmp_path: Path):
    accounts = entity("salesforce.accounts")
    wide = dataclasses.replace(
        accounts,
        columns=(*accounts.columns, *(Column(f"Field_{n:04d}__c", core=False) for n in range(900))),
    )
    small = FakeSalesforce(total=5)  # far below the Bulk threshold
    assert extract(SalesforceSource(small), wide, DAY, tmp_path / "w").path == "bulk"
    assert (
        extract(SalesforceSource(FakeSalesforce(total=5)), accounts, DAY, tmp_path / "n").path
        == "rest"
    )
