"""The Salesforce sandbox answers as the documented API does, asserted on the wire: OAuth refresh
tokens, the version list, Resources by Version, identity and userinfo, sObject Collections
retrieve, ``columns=true`` and ``explain``, Bulk API 1.0 (XML and JSON), describe and the
Bulk API 2.0 details. The same operations through jsforce and the Salesforce CLI are in
``test_salesforce_jsforce.py`` and ``test_salesforce_cli.py``."""

from __future__ import annotations

import base64
import hashlib
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from simple_salesforce import Salesforce

V = "62.0"
NS = "{http://www.force.com/2009/06/asyncapi/dataload}"

#: every key of a field in a real org's describe (REST API DescribeFieldResult)
FIELD_KEYS = {
    "aggregatable", "aiPredictionField", "autoNumber", "byteLength", "calculated",
    "calculatedFormula", "cascadeDelete", "caseSensitive", "compoundFieldName", "controllerName",
    "createable", "custom", "defaultValue", "defaultValueFormula", "defaultedOnCreate",
    "dependentPicklist", "deprecatedAndHidden", "digits", "displayLocationInDecimal", "encrypted",
    "externalId", "extraTypeInfo", "filterable", "filteredLookupInfo",
    "formulaTreatNullNumberAsZero", "groupable", "highScaleNumber", "htmlFormatted", "idLookup",
    "inlineHelpText", "label", "length", "mask", "maskType", "name", "nameField", "namePointing",
    "nillable", "permissionable", "picklistValues", "polymorphicForeignKey", "precision",
    "queryByDistance", "referenceTargetField", "referenceTo", "relationshipName",
    "relationshipOrder", "restrictedDelete", "restrictedPicklist", "scale", "searchPrefilterable",
    "soapType", "sortable", "type", "unique", "updateable", "writeRequiresMasterRead",
}  # fmt: skip
GLOBAL_KEYS = {
    "activateable", "associateEntityType", "associateParentEntity", "createable", "custom",
    "customSetting", "deepCloneable", "deletable", "deprecatedAndHidden", "feedEnabled",
    "hasSubtypes", "isInterface", "isSubtype", "keyPrefix", "label", "labelPlural", "layoutable",
    "mergeable", "mruEnabled", "name", "queryable", "replicateable", "retrieveable", "searchable",
    "triggerable", "undeletable", "updateable", "urls",
}  # fmt: skip


@pytest.fixture(scope="module")
def http(sandbox) -> requests.Session:
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.trust_env = False
    return session


def _token(http, sandbox, **form) -> requests.Response:
    return http.post(f"{sandbox.sf_url}/services/oauth2/token", data=form, timeout=10)


@pytest.fixture(scope="module")
def login(http, sandbox) -> dict:
    c = sandbox.credentials_
    response = _token(
        http, sandbox, grant_type="refresh_token", refresh_token=c.sf_refresh_token,
        client_id=c.sf_client_id, client_secret=c.sf_client_secret,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def api(http, sandbox, login):
    """GET/POST helpers on the data API with the session of ``login``."""
    headers = {"Authorization": f"Bearer {login['access_token']}"}

    def call(method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else f"{sandbox.sf_url}{path}"
        return http.request(method, url, headers={**headers, **kwargs.pop("headers", {})},
                            timeout=30, **kwargs)  # fmt: skip

    return call


def _rows(api, soql: str) -> list[dict]:
    response = api("GET", f"/services/data/v{V}/query", params={"q": soql})
    assert response.status_code == 200, response.text
    return response.json()["records"]


# -- OAuth -------------------------------------------------------------------------------------
def test_refresh_token_grant_renews_the_session_without_issuing_a_new_refresh_token(
    login, api, http, sandbox
):
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"} <= set(
        login
    )
    assert "refresh_token" not in login  # no rotation: the client keeps its refresh token
    assert api("GET", f"/services/data/v{V}/limits").status_code == 200
    c = sandbox.credentials_
    wrong = _token(http, sandbox, grant_type="refresh_token", refresh_token="5Aep861nope",
                   client_id=c.sf_client_id)  # fmt: skip
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    other_app = _token(http, sandbox, grant_type="refresh_token",
                       refresh_token=c.sf_refresh_token, client_id="someone-else")  # fmt: skip
    assert other_app.status_code == 400 and other_app.json()["error"] == "invalid_client_id"


def test_only_the_web_server_flow_issues_refresh_tokens(http, sandbox):
    c = sandbox.credentials_
    password = _token(http, sandbox, grant_type="password", client_id=c.sf_client_id,
                      client_secret=c.sf_client_secret, username=c.sf_username,
                      password=c.sf_password)  # fmt: skip
    credentials = http.post(f"{sandbox.sf_url}/services/oauth2/token",
                            data={"grant_type": "client_credentials"},
                            auth=(c.sf_client_id, c.sf_client_secret), timeout=10)  # fmt: skip
    for response in (password, credentials):
        assert response.status_code == 200 and "refresh_token" not in response.json()

    verifier = "o2c-sandbox-pkce-verifier-0123456789abcdefghijklmnop"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    redirect = "http://localhost:1717/OauthRedirect"
    approve = http.get(
        f"{sandbox.sf_url}/services/oauth2/authorize",
        params={"response_type": "code", "client_id": c.sf_client_id, "redirect_uri": redirect,
                "scope": "api refresh_token", "state": "xyz", "code_challenge": challenge},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert approve.status_code == 302
    location = urlparse(approve.headers["Location"])
    query = parse_qs(location.query)
    assert approve.headers["Location"].startswith(redirect) and query["state"] == ["xyz"]
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "client_id": c.sf_client_id,
        "redirect_uri": redirect,
        "code_verifier": verifier,
    }
    issued = _token(http, sandbox, **form)
    assert issued.status_code == 200, issued.text
    refresh = issued.json()["refresh_token"]
    assert set(issued.json()["scope"].split()) == {"api", "refresh_token"}
    assert _token(http, sandbox, **form).json()["error"] == "invalid_grant"  # codes are one-time
    renewed = _token(http, sandbox, grant_type="refresh_token", refresh_token=refresh,
                     client_id=c.sf_client_id)  # fmt: skip
    assert renewed.status_code == 200 and renewed.json()["access_token"]

    no_scope = http.get(
        f"{sandbox.sf_url}/services/oauth2/authorize",
        params={"response_type": "code", "client_id": c.sf_client_id, "redirect_uri": redirect,
                "scope": "api"},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    code = parse_qs(urlparse(no_scope.headers["Location"]).query)["code"][0]
    plain = _token(http, sandbox, grant_type="authorization_code", code=code, redirect_uri=redirect,
                   client_id=c.sf_client_id, client_secret=c.sf_client_secret)  # fmt: skip
    assert plain.status_code == 200 and "refresh_token" not in plain.json()


# -- the org: versions, resources, identity ----------------------------------------------------
def test_version_list_labels_every_served_version_by_release(http, sandbox):
    response = http.get(f"{sandbox.sf_url}/services/data/", timeout=10)  # no session needed
    assert response.status_code == 200
    versions = response.json()
    by_version = {v["version"]: v for v in versions}
    assert [v["version"] for v in versions] == sorted(by_version, key=float)
    assert versions[-1] == {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}
    assert by_version["61.0"]["label"] == "Summer '24"
    assert by_version["60.0"]["label"] == "Spring '24"
    assert by_version["31.0"]["label"] == "Summer '14"
    assert len(versions) > 30
    assert http.get(f"{sandbox.sf_url}/services/data", timeout=10).json() == versions


def test_resources_by_version_and_unserved_versions(api, login):
    resources = api("GET", f"/services/data/v{V}").json()
    for name in ("sobjects", "query", "queryAll", "limits", "composite", "search", "tooling"):
        assert resources[name] == f"/services/data/v{V}/{name}"
    assert resources["identity"] == login["id"]
    gone = api("GET", "/services/data/v63.0/limits")  # newer than this org's release
    assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "NOT_FOUND"


def test_identity_url_and_userinfo_describe_the_sessions_user(api, login, sandbox, http):
    assert urlparse(login["id"]).path == "/id/00D000000000001AAA/005000000000001AAA"
    identity = api("GET", login["id"]).json()
    assert identity["id"] == login["id"]
    assert identity["username"] == sandbox.credentials_.sf_username
    assert identity["user_id"] == "005000000000001AAA"
    assert identity["organization_id"] == "00D000000000001AAA"
    assert identity["urls"]["rest"].endswith("/services/data/v{version}/")
    versioned = api("GET", login["id"], params={"version": "latest"}).json()
    assert versioned["urls"]["sobjects"].endswith(f"/services/data/v{V}/sobjects/")
    by_param = http.get(login["id"], params={"oauth_token": login["access_token"]}, timeout=10)
    assert by_param.status_code == 200
    userinfo = api("GET", "/services/oauth2/userinfo").json()
    assert userinfo["sub"] == login["id"]
    assert userinfo["preferred_username"] == sandbox.credentials_.sf_username
    assert {"user_id", "organization_id", "name", "email", "zoneinfo", "urls"} <= set(userinfo)
    bad = http.get(f"{sandbox.sf_url}/services/oauth2/userinfo",
                   headers={"Authorization": "Bearer nope"}, timeout=10)  # fmt: skip
    assert bad.status_code == 403 and bad.text == "Bad_OAuth_Token"
    user = api("GET", f"/services/data/v{V}/sobjects/User/005000000000001AAA").json()
    assert user["Username"] == sandbox.credentials_.sf_username


# -- sObject Collections retrieve --------------------------------------------------------------
def test_collections_retrieve_answers_in_the_order_of_ids_with_nulls(api):
    ids = [r["Id"] for r in _rows(api, "SELECT Id FROM Account ORDER BY Id LIMIT 3")]
    missing = "001000999999999AAA"
    asked = [ids[2], missing, ids[0], ids[1][:15]]
    got = api("GET", f"/services/data/v{V}/composite/sobjects/Account",
              params={"ids": ",".join(asked), "fields": "Name,BillingCity"})  # fmt: skip
    assert got.status_code == 200, got.text
    records = got.json()
    assert records[1] is None
    assert [
        r["attributes"]["url"].rsplit("/", 1)[1] for r in (records[0], records[2], records[3])
    ] == [ids[2], ids[0], ids[1]]
    assert set(records[0]) == {"attributes", "Name", "BillingCity"}
    posted = api("POST", f"/services/data/v{V}/composite/sobjects/Account",
                 json={"ids": ids, "fields": ["Id", "Name", "OwnerId"]})  # fmt: skip
    assert [r["Id"] for r in posted.json()] == ids
    assert all(r["OwnerId"].startswith("005") for r in posted.json())
    no_fields = api(
        "GET", f"/services/data/v{V}/composite/sobjects/Account", params={"ids": ids[0]}
    )
    assert no_fields.status_code == 400 and no_fields.json()[0]["errorCode"] == "MISSING_ARGUMENT"


# -- query: columns and explain ----------------------------------------------------------------
def test_columns_true_describes_the_select_list_without_rows(api):
    soql = ("SELECT Id, OrderNumber, Account.Name, Account.Owner.Name, "
            "(SELECT Id, Quantity FROM OrderItems) FROM Order")  # fmt: skip
    body = api("GET", f"/services/data/v{V}/query", params={"q": soql, "columns": "true"}).json()
    assert "records" not in body
    assert (body["entityName"], body["keyPrefix"], body["idSelected"], body["groupBy"]) == (
        "Order",
        "801",
        True,
        False,
    )
    cols = body["columnMetadata"]
    assert [c["columnName"] for c in cols] == [
        "Id",
        "OrderNumber",
        "Account",
        "Account",
        "OrderItems",
    ]
    assert cols[0]["apexType"] == "Id" and not cols[0]["insertable"]
    assert cols[2]["joinColumns"][0]["columnName"] == "Name"
    assert cols[2]["joinColumns"][0]["displayName"] == "Account.Name"
    owner = cols[3]["joinColumns"][0]
    assert (
        owner["columnName"] == "Owner"
        and owner["joinColumns"][0]["displayName"] == "Account.Owner.Name"
    )
    assert cols[4]["aggregate"] is True
    assert [c["columnName"] for c in cols[4]["joinColumns"]] == ["Id", "Quantity"]
    assert cols[4]["joinColumns"][1]["numberType"] is True
    for c in cols:
        assert set(c) == {"aggregate", "apexType", "booleanType", "columnName", "custom",
                          "displayName", "foreignKeyName", "insertable", "joinColumns",
                          "numberType", "textType", "updatable"}  # fmt: skip
    agg = api("GET", f"/services/data/v{V}/query", params={
        "q": "SELECT Type, COUNT(Id), MAX(CreatedDate) latest FROM Account GROUP BY Type",
        "columns": "true"}).json()  # fmt: skip
    assert agg["groupBy"] is True
    assert [(c["columnName"], c["displayName"], c["aggregate"]) for c in agg["columnMetadata"]] == [
        ("Type", "Type", False),
        ("expr0", "COUNT(Id)", True),
        ("latest", "MAX(CreatedDate)", True),
    ]


def test_explain_reports_the_plan_and_cardinalities(api):
    total = api(
        "GET", f"/services/data/v{V}/query", params={"q": "SELECT COUNT() FROM Account"}
    ).json()
    scan = api("GET", f"/services/data/v{V}/query",
               params={"explain": "SELECT Id FROM Account WHERE Name LIKE 'A%'"}).json()  # fmt: skip
    plan = scan["plans"][0]
    assert plan["leadingOperationType"] == "TableScan" and plan["sobjectType"] == "Account"
    assert plan["sobjectCardinality"] == total["totalSize"]
    first = _rows(api, "SELECT Id FROM Account ORDER BY Id LIMIT 1")[0]["Id"]
    by_id = api("GET", f"/services/data/v{V}/query",
                params={"explain": f"SELECT Name FROM Account WHERE Id = '{first}'"}).json()  # fmt: skip
    assert by_id["plans"][0]["leadingOperationType"] == "Index"
    assert by_id["plans"][0]["cardinality"] == 1 and by_id["plans"][0]["fields"] == ["Id"]


# -- describe ----------------------------------------------------------------------------------
def test_describe_has_every_key_a_real_org_gives(api):
    global_ = api("GET", f"/services/data/v{V}/sobjects/").json()
    names = {o["name"] for o in global_["sobjects"]}
    assert {"Account", "Contact", "Order", "User", "Organization"} <= names
    for entry in global_["sobjects"]:
        assert set(entry) == GLOBAL_KEYS, entry["name"]
    for name in ("Account", "Order", "OrderItem", "Invoice__c", "User"):
        described = api("GET", f"/services/data/v{V}/sobjects/{name}/describe").json()
        assert {"childRelationships", "recordTypeInfos", "supportedScopes", "urls"} <= set(
            described
        )
        for fld in described["fields"]:
            assert set(fld) == FIELD_KEYS, (name, fld["name"], set(fld) ^ FIELD_KEYS)
        assert sum(f["nameField"] for f in described["fields"]) == 1, name


def test_describe_shows_compound_addresses_owners_and_type_rules(api):
    account = api("GET", f"/services/data/v{V}/sobjects/Account/describe").json()
    fields = {f["name"]: f for f in account["fields"]}
    address = fields["BillingAddress"]
    assert (address["type"], address["soapType"], address["createable"]) == (
        "address",
        "urn:address",
        False,
    )
    assert not address["filterable"] and not address["groupable"] and not address["sortable"]
    parts = {n for n, f in fields.items() if f["compoundFieldName"] == "BillingAddress"}
    assert parts == {
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
    }
    owner = fields["OwnerId"]
    assert (owner["referenceTo"], owner["relationshipName"], owner["defaultedOnCreate"]) == (
        ["User"],
        "Owner",
        True,
    )
    assert fields["Name"]["nameField"] and fields["Name"]["byteLength"] == 255 * 3
    assert fields["Id"]["soapType"] == "tns:ID" and fields["Id"]["idLookup"]
    assert fields["Type"]["picklistValues"][0] == {
        "active": True,
        "defaultValue": False,
        "label": "Prospect",
        "validFor": None,
        "value": "Prospect",
    }
    assert not fields["CreatedDate"]["groupable"] and fields["CreatedDate"]["sortable"]
    assert any(c["childSObject"] == "Contact" and c["relationshipName"] == "Contacts"
               for c in account["childRelationships"])  # fmt: skip
    order = {
        f["name"]: f
        for f in api("GET", f"/services/data/v{V}/sobjects/Order/describe").json()["fields"]
    }
    assert order["OrderNumber"]["autoNumber"] and order["OrderNumber"]["nameField"]
    amount = order["TotalAmount"]
    assert (amount["precision"], amount["scale"], amount["groupable"]) == (18, 2, False)
    # the way dlt's source reads describe: every field carries compoundFieldName
    compound = {f["compoundFieldName"] for f in account["fields"] if f["compoundFieldName"]} - {
        "Name"
    }
    assert compound == {"BillingAddress"}


def test_compound_address_is_selected_as_an_object_and_never_filtered(api):
    rows = _rows(api, "SELECT BillingAddress, BillingCity, Owner.Username FROM Account "
                      "WHERE BillingCity != null LIMIT 5")  # fmt: skip
    for row in rows:
        assert set(row["BillingAddress"]) == {"city", "country", "geocodeAccuracy", "latitude",
                                              "longitude", "postalCode", "state", "street"}  # fmt: skip
        assert row["BillingAddress"]["city"] == row["BillingCity"]
        assert row["Owner"]["Username"]
    empty = _rows(api, "SELECT BillingAddress FROM Account WHERE BillingCountry = null LIMIT 1")
    assert empty and empty[0]["BillingAddress"] is None
    refused = api("GET", f"/services/data/v{V}/query",
                  params={"q": "SELECT Id FROM Account WHERE BillingAddress != null"})  # fmt: skip
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "INVALID_FIELD"


# -- Bulk API 1.0 ------------------------------------------------------------------------------
def _xml_job(operation: str, obj: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/'
        f'asyncapi/dataload"><operation>{operation}</operation><object>{obj}</object>'
        "<contentType>CSV</contentType></jobInfo>"
    )


def _wait_batch(api, base: str, job: str, batch: str, json_: bool = False) -> dict:
    headers = {"Content-Type": "application/json"} if json_ else {}
    for _ in range(200):
        response = api("GET", f"{base}/job/{job}/batch/{batch}", headers=headers)
        info = response.json() if json_ else {
            e.tag.replace(NS, ""): e.text for e in ET.fromstring(response.content)
        }  # fmt: skip
        if info["state"] in ("Completed", "Failed", "NotProcessed"):
            return info
        time.sleep(0.05)
    raise AssertionError("batch never finished")


def test_bulk_v1_xml_query_job_batches_results(api, sandbox, login):
    base = f"{sandbox.sf_url}/services/async/{V}"
    session = {"X-SFDC-Session": login["access_token"], "Authorization": ""}
    xml = {**session, "Content-Type": "application/xml; charset=UTF-8"}
    created = api("POST", f"{base}/job", data=_xml_job("query", "Account"), headers=xml)
    assert created.status_code == 201 and created.headers["Content-Type"].startswith(
        "application/xml"
    )
    info = ET.fromstring(created.content)
    assert info.tag == f"{NS}jobInfo"
    keys = [e.tag.replace(NS, "") for e in info]
    assert keys[:7] == [
        "id",
        "operation",
        "object",
        "createdById",
        "createdDate",
        "systemModstamp",
        "state",
    ]
    assert info.findtext(f"{NS}state") == "Open" and info.findtext(f"{NS}apiVersion") == V
    job = info.findtext(f"{NS}id")
    batch = api("POST", f"{base}/job/{job}/batch", headers={**session, "Content-Type": "text/csv"},
                data="SELECT Id, Name, CreatedDate FROM Account ORDER BY Id LIMIT 5")  # fmt: skip
    assert batch.status_code == 201
    batch_id = ET.fromstring(batch.content).findtext(f"{NS}id")
    closed = api("POST", f"{base}/job/{job}", headers=xml,
                 data='<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com'
                      '/2009/06/asyncapi/dataload"><state>Closed</state></jobInfo>')  # fmt: skip
    assert ET.fromstring(closed.content).findtext(f"{NS}state") == "Closed"
    done = _wait_batch(api, base, job, batch_id)
    assert done["state"] == "Completed" and done["numberRecordsProcessed"] == "5"
    result_list = ET.fromstring(
        api("GET", f"{base}/job/{job}/batch/{batch_id}/result", headers=session).content
    )
    assert result_list.tag == f"{NS}result-list"
    result_id = result_list.findtext(f"{NS}result")
    data = api("GET", f"{base}/job/{job}/batch/{batch_id}/result/{result_id}", headers=session)
    lines = data.text.splitlines()
    assert lines[0] == '"Id","Name","CreatedDate"' and len(lines) == 6
    assert lines[1].split(",")[2].strip('"').endswith("Z")
    job_info = ET.fromstring(api("GET", f"{base}/job/{job}", headers=session).content)
    assert job_info.findtext(f"{NS}numberBatchesCompleted") == "1"
    assert job_info.findtext(f"{NS}numberRecordsProcessed") == "5"
    anonymous = requests.post(f"{base}/job", data=_xml_job("query", "Account"), verify=str(sandbox.ca_path),
                              headers={"Content-Type": "application/xml"}, timeout=10)  # fmt: skip
    assert anonymous.status_code == 400
    assert ET.fromstring(anonymous.content).findtext(f"{NS}exceptionCode") == "InvalidSessionId"


def test_bulk_v1_json_ingest_and_pk_chunked_query(api, sandbox, login):
    base = f"{sandbox.sf_url}/services/async/{V}"
    headers = {"X-SFDC-Session": login["access_token"], "Content-Type": "application/json"}
    job = api("POST", f"{base}/job", headers=headers,
              json={"operation": "insert", "object": "Contact", "contentType": "JSON"}).json()  # fmt: skip
    assert (
        job["state"] == "Open"
        and job["apiVersion"] == float(V)
        and job["createdDate"].endswith("+0000")
    )
    batch = api("POST", f"{base}/job/{job['id']}/batch", headers=headers,
                json=[{"LastName": "Bulk One"}, {"FirstName": "No last name"}]).json()  # fmt: skip
    assert batch["state"] == "Queued" and batch["jobId"] == job["id"]
    assert _wait_batch(api, base, job["id"], batch["id"], json_=True)["numberRecordsFailed"] == 1
    results = api(
        "GET", f"{base}/job/{job['id']}/batch/{batch['id']}/result", headers=headers
    ).json()
    assert results[0]["success"] and results[0]["created"] and results[0]["id"].startswith("003")
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"

    total = api(
        "GET", f"/services/data/v{V}/query", params={"q": "SELECT COUNT() FROM Account"}
    ).json()["totalSize"]
    chunked = api("POST", f"{base}/job", headers={**headers, "Sforce-Enable-PKChunking": "chunkSize=100"},
                  json={"operation": "query", "object": "Account", "contentType": "JSON"}).json()  # fmt: skip
    original = api("POST", f"{base}/job/{chunked['id']}/batch", headers={**headers, "Content-Type": "text/csv"},
                   data="SELECT Id, CreatedDate FROM Account").json()  # fmt: skip
    assert (
        _wait_batch(api, base, chunked["id"], original["id"], json_=True)["state"] == "NotProcessed"
    )
    listed = api("GET", f"{base}/job/{chunked['id']}/batch", headers=headers).json()["batchInfo"]
    chunks = [b for b in listed if b["id"] != original["id"]]
    assert len(chunks) == -(-total // 100)
    seen: list[str] = []
    for chunk in chunks:
        assert (
            _wait_batch(api, base, chunked["id"], chunk["id"], json_=True)["state"] == "Completed"
        )
        result_ids = api(
            "GET", f"{base}/job/{chunked['id']}/batch/{chunk['id']}/result", headers=headers
        ).json()
        for result_id in result_ids:
            records = api("GET", f"{base}/job/{chunked['id']}/batch/{chunk['id']}/result/{result_id}",
                          headers=headers).json()  # fmt: skip
            assert all(isinstance(r["CreatedDate"], int) for r in records)  # epoch milliseconds
            seen += [r["Id"] for r in records]
    assert len(seen) == len(set(seen)) == total


def test_bulk_v1_refuses_what_bulk_queries_do_not_support(sandbox, login):
    sf = Salesforce(instance_url=sandbox.sf_url, session_id=login["access_token"], version=V,
                    session=_session(sandbox))  # fmt: skip
    # dlt's Salesforce source reads every object this way (simple-salesforce's Bulk API 1.0)
    pages = list(
        sf.bulk.Account.query_all("SELECT Id, Name, CreatedDate FROM Account", lazy_operation=True)
    )
    records = [r for page in pages for r in page]
    assert records and isinstance(records[0]["CreatedDate"], int)
    assert records[0]["attributes"]["type"] == "Account"
    for soql, why in [
        ("SELECT COUNT() FROM Account", "Aggregate"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "Aggregate Relationships"),
        ("SELECT BillingAddress FROM Account", "compound data"),
        ("SELECT Type FROM Account GROUP BY Type", "GROUP BY"),
        ("SELECT Id FROM Account LIMIT 5 OFFSET 5", "OFFSET"),
    ]:
        with pytest.raises(Exception, match=why):
            list(sf.bulk.Account.query(soql))


def _session(sandbox) -> requests.Session:
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.trust_env = False
    return session


# -- Bulk API 2.0 ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "soql",
    [
        "SELECT COUNT() FROM Account",
        "SELECT Type, COUNT(Id) FROM Account GROUP BY Type",
        "SELECT Id FROM Account LIMIT 10 OFFSET 5",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT Id, BillingAddress FROM Account",
        "SELECT Id, TYPEOF Owner WHEN User THEN Name END FROM Account",
    ],
)
def test_bulk_v2_refuses_queries_it_does_not_support(api, soql):
    response = api(
        "POST", f"/services/data/v{V}/jobs/query", json={"operation": "query", "query": soql}
    )
    assert response.status_code == 400, response.text
    assert response.json()[0]["errorCode"] == "API_ERROR"


def test_bulk_v2_job_info_and_opaque_locators(api):
    created = api("POST", f"/services/data/v{V}/jobs/query",
                  json={"operation": "query", "query": "SELECT Id FROM Account"}).json()  # fmt: skip
    path = f"/services/data/v{V}/jobs/query/{created['id']}"
    for _ in range(200):
        info = api("GET", path).json()
        if info["state"] == "JobComplete":
            break
        time.sleep(0.05)
    for key in ("isPkChunkingSupported", "apiVersion", "concurrencyMode", "contentType", "jobType",
                "lineEnding", "columnDelimiter", "numberRecordsProcessed", "retries",
                "totalProcessingTime"):  # fmt: skip
        assert key in info, key
    assert info["isPkChunkingSupported"] is True and info["jobType"] == "V2Query"
    ids, locator = [], None
    while locator != "null":
        page = api(
            "GET",
            f"{path}/results",
            params={"maxRecords": 100, **({"locator": locator} if locator else {})},
        )
        locator = page.headers["Sforce-Locator"]
        assert not locator.isdigit()  # opaque, as Salesforce's (base64) locators
        ids += page.text.splitlines()[1:]
    assert len(ids) == info["numberRecordsProcessed"] == len(set(ids))
    bad = api("GET", f"{path}/results", params={"locator": "not-a-locator"})
    assert bad.status_code == 400
