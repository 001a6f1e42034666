"""An administrator's schema change at run time (o2c_sandbox.customize) shows on every surface a
real client reads: describe, SOQL and DML in Salesforce; the metadata catalog, the record API and
SuiteQL in NetSuite; and leaving the block puts the schema back."""

from __future__ import annotations

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from o2c_sandbox.customize import netsuite_field, salesforce_field
from o2c_sandbox.schema import NsColumn, SfField
from o2c_sandbox_tests.netsuite_client import NetSuiteClient


def _salesforce(box) -> Salesforce:
    c = box.credentials_
    session = requests.Session()
    session.verify = str(box.ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
    token = session.post(
        f"{box.sf_url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(c.sf_client_id, c.sf_client_secret),
        timeout=10,
    ).json()["access_token"]
    return Salesforce(instance_url=box.sf_url, session_id=token, session=session, version="62.0")


def test_a_salesforce_field_added_and_removed(private_sandbox):
    sf = _salesforce(private_sandbox)
    account = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    field = SfField("Region__c", "picklist", 40, custom=True, picklist=("EMEA", "AMER"))
    with salesforce_field(private_sandbox, "Account", field):
        described = {f["name"]: f for f in sf.Account.describe()["fields"]}
        assert described["Region__c"]["custom"] and described["Region__c"]["type"] == "picklist"
        sf.Account.update(account, {"Region__c": "EMEA"})
        rows = sf.query(f"SELECT Region__c FROM Account WHERE Id = '{account}'")["records"]
        assert rows[0]["Region__c"] == "EMEA"
    assert "Region__c" not in {f["name"] for f in sf.Account.describe()["fields"]}
    try:
        sf.query("SELECT Region__c FROM Account LIMIT 1")
    except SalesforceMalformedRequest as err:
        assert err.content[0]["errorCode"] == "INVALID_FIELD"
    else:
        raise AssertionError("a removed field must not be queryable")


def test_a_netsuite_custom_field_added_and_removed(private_sandbox):
    ns = NetSuiteClient(private_sandbox)
    customer = ns.suiteql("SELECT id FROM customer", limit=1).json()["items"][0]["id"]
    column = NsColumn("custentity_o2c_tier", "VARCHAR", "custentity_o2c_tier")
    schema_path = "/services/rest/record/v1/metadata-catalog/customer"
    json_schema = {"Accept": "application/schema+json"}
    with netsuite_field(private_sandbox, "customer", column):
        prop = ns.request("GET", schema_path, headers=json_schema).json()["properties"][
            "custentity_o2c_tier"
        ]
        assert prop["x-ns-custom-field"] is True and prop["type"] == "string"
        patched = ns.request(
            "PATCH",
            f"/services/rest/record/v1/customer/{customer}",
            json={"custentity_o2c_tier": "Gold"},
        )
        assert patched.status_code == 204, patched.text
        q = f"SELECT custentity_o2c_tier FROM customer WHERE id = {customer}"
        assert ns.suiteql(q).json()["items"][0]["custentity_o2c_tier"] == "Gold"
    properties = ns.request("GET", schema_path, headers=json_schema).json()["properties"]
    assert "custentity_o2c_tier" not in properties
    refused = ns.suiteql("SELECT custentity_o2c_tier FROM customer")
    assert refused.status_code == 400 and "custentity_o2c_tier" in refused.text
