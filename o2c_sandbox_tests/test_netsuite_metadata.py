"""The record API's metadata catalog: the list of record types, JSON Schema and OpenAPI 3 by
``Accept``, ``select``; read through the ``netsuite`` PyPI package and the ``netsuite-rest`` npm
package, checked with an OpenAPI validator, and the JSON Schema validated against the records the
record API serves."""

from __future__ import annotations

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from o2c_sandbox.netsuite import metadata
from o2c_sandbox.netsuite.records import RECORD_TYPES, RecordType
from o2c_sandbox.schema import NsColumn
from o2c_sandbox_tests.clients.netsuite_pypi import netsuite_rest_api, run
from o2c_sandbox_tests.clients.netsuite_rest import netsuite_rest
from o2c_sandbox_tests.netsuite_client import NetSuiteClient, error_code

CATALOG = "/services/rest/record/v1/metadata-catalog"


@pytest.fixture
def api(sandbox, monkeypatch):
    sandbox.knobs.ns_rate_limit = 100_000  # restored by conftest's autouse fixture
    return netsuite_rest_api(sandbox, monkeypatch)


def test_catalog_lists_every_record_type_with_its_three_representations(sandbox, api):
    body = run(api.get("/record/v1/metadata-catalog"))
    names = [item["name"] for item in body["items"]]
    assert names == [t.name.lower() for t in RECORD_TYPES.values()]
    assert {"customer", "salesorder", "invoice", "inventoryitem"} <= set(names)
    customer = body["items"][names.index("customer")]
    href = f"{sandbox.ns_url}{CATALOG}/customer"
    assert customer["links"] == [
        {"rel": "canonical", "href": href, "mediaType": "application/json"},
        {"rel": "alternate", "href": href, "mediaType": "application/swagger+json"},
        {"rel": "alternate", "href": href, "mediaType": "application/schema+json"},
    ]
    selected = run(api.get("/record/v1/metadata-catalog", params={"select": "Customer,salesOrder"}))
    assert [item["name"] for item in selected["items"]] == ["customer", "salesorder"]


def test_openapi_document_is_valid_and_restricted_by_select(sandbox, api):
    document = run(api.openapi(["customer", "salesorder"]))
    validate_openapi(document)  # raises on any schema error or unresolvable $ref
    assert document["openapi"].startswith("3.0")
    assert set(document["paths"]) == {
        "/customer",
        "/customer/{id}",
        "/salesorder",
        "/salesorder/{id}",
    }
    assert document["servers"] == [{"url": f"{sandbox.ns_url}/services/rest/record/v1"}]
    order = document["components"]["schemas"]["salesorder"]["properties"]
    assert order["entity"]["$ref"] == "#/components/schemas/customer"
    assert order["currency"]["$ref"] == "#/components/schemas/nsResource"  # type not selected
    one = run(api.request("GET", "/record/v1/metadata-catalog/invoice",
                          headers={"Accept": "application/swagger+json"}))  # fmt: skip
    assert one.status_code == 200
    assert one.headers["content-type"].startswith("application/swagger+json")
    validate_openapi(one.json())
    assert set(one.json()["paths"]) == {"/invoice", "/invoice/{id}"}


def test_json_schema_describes_fields_types_and_references(api):
    schema = run(api.jsonschema("salesOrder"))
    props = schema["properties"]
    assert schema["type"] == "object"
    assert props["tranDate"] == {
        "title": "Tran Date",
        "type": "string",
        "format": "date",
        "nullable": True,
    }
    assert props["lastModifiedDate"]["format"] == "date-time"
    assert props["lastModifiedDate"]["readOnly"] is True
    assert props["total"]["type"] == "number"
    assert props["entity"]["$ref"] == f"{CATALOG}/customer"
    assert props["createdFrom"]["$ref"] == f"{CATALOG}/transaction"  # several types: no entry
    assert props["links"]["items"] == {"$ref": f"{CATALOG}/nsLink"}
    assert props["status"]["properties"]["id"]["enum"] == ["A", "B", "C", "D", "E", "F", "G", "H"]
    assert "item" in props and "lastModifiedDate" in schema["x-ns-filterable"]
    assert not any("x-ns-custom-field" in p for p in props.values())  # the world declares none


def _remote_registry(sandbox) -> Registry:
    """$refs resolved over HTTPS against the sandbox, as Airbyte's connector resolves them (an
    absent entry, like ``transaction``, accepts anything)."""
    client = NetSuiteClient(sandbox)

    def retrieve(uri: str) -> Resource:
        response = client.request("GET", uri, headers={"Accept": "application/schema+json"})
        contents = response.json() if response.status_code == 200 else {}
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    return Registry(retrieve=retrieve)


@pytest.mark.parametrize("record_type", ["customer", "salesOrder", "invoice"])
def test_records_served_validate_against_their_json_schema(sandbox, api, record_type):
    schema = run(api.jsonschema(record_type))
    validator = jsonschema.Draft202012Validator(schema, registry=_remote_registry(sandbox))
    ids = [
        item["id"]
        for item in run(api.get(f"/record/v1/{record_type}", params={"limit": 5}))["items"]
    ]
    assert ids
    for record_id in ids:
        for expand in ("false", "true"):
            record = run(api.get(f"/record/v1/{record_type}/{record_id}",
                                 params={"expandSubResources": expand}))  # fmt: skip
            validator.validate(record)
            assert set(record) <= set(schema["properties"])
    # the schema can fail: a record with a wrongly typed field is refused
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**record, "lastModifiedDate": 20240101})


def test_custom_fields_are_described_when_declared():
    """A custom column on the customer table (as a world may declare ``custentity_*``) appears
    in the schema, flagged as custom, typed from its declaration, and filterable."""
    base = RECORD_TYPES["customer"]
    custom = {
        "custentity_segment": NsColumn("custentity_segment", "VARCHAR", "custentity_segment"),
        "custentity_credit_days": NsColumn(
            "custentity_credit_days", "INTEGER", "custentity_credit_days"
        ),
    }
    rtype = RecordType(base.name, base.table, base.fixed, {**base.fields, **custom}, base.sublist)
    schema = metadata.record_schema(rtype, lambda name: f"{CATALOG}/{name}")
    assert schema["properties"]["custentity_segment"] == {
        "title": "custentity_segment",
        "type": "string",
        "nullable": True,
        "x-ns-custom-field": True,
    }
    assert schema["properties"]["custentity_credit_days"]["format"] == "int64"
    assert "custentity_credit_days" in schema["x-ns-filterable"]
    assert "x-ns-custom-field" not in schema["properties"]["companyName"]


def test_refusals_in_netsuite_error_shape(sandbox, api):
    unknown = run(api.request("GET", "/record/v1/metadata-catalog/notarecord",
                              headers={"Accept": "application/schema+json"}))  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.json()["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_RECORD_TYPE"
    bad_select = run(
        api.request("GET", "/record/v1/metadata-catalog", params={"select": "customer,nope"})
    )
    assert bad_select.status_code == 400 and error_code(bad_select) == "INVALID_PARAMETER"
    assert "nope" in bad_select.json()["o:errorDetails"][0]["detail"]
    # unauthenticated, like every REST path
    anonymous = requests.get(f"{sandbox.ns_url}{CATALOG}", verify=str(sandbox.ca_path), timeout=10)
    assert anonymous.status_code == 401


def test_netsuite_rest_npm_client_discovers_and_queries(sandbox):
    """The ``netsuite-rest`` npm package: catalog, JSON Schema, OpenAPI, a record and SuiteQL
    ``SELECT *`` (no internal columns)."""
    sandbox.knobs.ns_rate_limit = 100_000
    catalog, schema, document, page = netsuite_rest(
        sandbox,
        {"path": "record/v1/metadata-catalog"},
        {"path": "record/v1/metadata-catalog/customer", "heads": {"Accept": "application/schema+json"}},
        {"path": "record/v1/metadata-catalog?select=customer", "heads": {"Accept": "application/swagger+json"}},
        {"path": "query/v1/suiteql?limit=3&offset=3", "method": "POST",
         "body": '{"q": "SELECT * FROM customer ORDER BY id"}'},
    )  # fmt: skip
    assert catalog["status"] == 200 and "customer" in [i["name"] for i in catalog["data"]["items"]]
    assert schema["status"] == 200 and schema["data"]["type"] == "object"
    assert "companyName" in schema["data"]["properties"]
    assert document["status"] == 200 and "/customer/{id}" in document["data"]["paths"]
    assert page["status"] == 200 and page["data"]["count"] == 3
    assert all(not key.startswith("suiteql_") for item in page["data"]["items"] for key in item)
    record_id = page["data"]["items"][0]["id"]
    (record,) = netsuite_rest(sandbox, {"path": f"record/v1/customer/{record_id}"})
    assert record["status"] == 200 and record["data"]["id"] == record_id
    assert set(record["data"]) <= set(schema["data"]["properties"])
