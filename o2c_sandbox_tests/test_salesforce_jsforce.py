"""jsforce, unmodified (login host and CA bundle aside), against the Salesforce sandbox: the
refresh-token login and session renewal, identity, the version list, describe, collections
retrieve, explain, Bulk API 1.0 load and query, Bulk API 2.0 query."""

from __future__ import annotations

import uuid

import pytest

from o2c_sandbox_tests.js_clients import jsforce


def test_refresh_token_login_and_automatic_session_renewal(sandbox):
    result = jsforce(sandbox, "refresh")
    assert result["token"]["access_token"] and "refresh_token" not in result["token"]
    # the connection started with a dead session: jsforce renewed it with the refresh token
    assert result["renewed"] == 1 and result["totalSize"] > 0


def test_identity_follows_the_url_the_token_response_advertises(sandbox):
    result = jsforce(sandbox, "identity")
    assert result["identity"]["id"] == result["tokenId"]
    assert result["identity"]["username"] == sandbox.credentials_.sf_username


def test_versions_resources_and_limits(sandbox):
    result = jsforce(sandbox, "versions")
    assert result["versions"][-1]["label"] == "Winter '25"
    assert result["resources"]["sobjects"] == "/services/data/v62.0/sobjects"
    assert result["limits"]["DailyApiRequests"]["Max"] > 0


def test_describe_global_and_object(sandbox):
    result = jsforce(sandbox, "describe")
    assert "Account" in {o["name"] for o in result["global"]["sobjects"]}
    fields = {f["name"]: f for f in result["account"]["fields"]}
    assert fields["BillingCity"]["compoundFieldName"] == "BillingAddress"
    assert fields["OwnerId"]["relationshipName"] == "Owner"


def test_retrieve_many_uses_the_collections_resource(sandbox):
    result = jsforce(sandbox, "retrieve")
    # retrieve(ids) without fields asks for every describe field, compound ones included
    assert [r["Id"] for r in result["many"]] == result["ids"]
    assert "BillingAddress" in result["many"][0] and result["many"][0]["OwnerId"].startswith("005")
    assert [set(r) for r in result["some"]] == [{"attributes", "Name", "BillingCity"}] * 3


def test_explain(sandbox):
    plan = jsforce(sandbox, "explain", soql="SELECT Id FROM Account WHERE Name = 'x'")
    assert plan["plans"][0]["leadingOperationType"] == "TableScan"


def test_bulk_v1_load_update_and_query(sandbox):
    marker = f"JS{uuid.uuid4().hex[:8]}"
    records = [{"Name": f"{marker} {i}"} for i in range(3)] + [{"Name": None}]
    result = jsforce(sandbox, "bulkLoad", records=records)
    inserted = result["inserted"]
    assert [r["success"] for r in inserted] == [True, True, True, False]
    assert inserted[3]["errors"][0].startswith("REQUIRED_FIELD_MISSING")
    assert all(r["success"] and not r["created"] for r in result["updated"])
    assert result["jobInfo"]["state"] == "Open" and result["jobInfo"]["apiVersion"] == "62.0"
    queried = jsforce(
        sandbox,
        "bulkQuery",
        soql=f"SELECT Id, Name, Phone FROM Account WHERE Name LIKE '{marker}%'",
    )
    assert sorted(r["Name"] for r in queried["records"]) == [f"{marker} {i}" for i in range(3)]
    assert {r["Phone"] for r in queried["records"]} == {"+1 555 0100"}


@pytest.mark.parametrize(
    ("op", "soql", "message"),
    [
        ("bulkQueryError", "SELECT COUNT() FROM Account", "Aggregate functions"),
        (
            "bulk2QueryError",
            "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
            "Aggregate Relationships",
        ),
    ],
)
def test_bulk_queries_refuse_unsupported_soql(sandbox, op, soql, message):
    assert message in jsforce(sandbox, op, soql=soql)["error"]["message"]


def test_bulk_v2_query_pages_through_opaque_locators(sandbox):
    result = jsforce(sandbox, "bulk2Query", soql="SELECT Id FROM Account", maxRecords=100)
    ids = [r["Id"] for r in result["records"]]
    assert len(ids) > 200 and len(ids) == len(set(ids))
