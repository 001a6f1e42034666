"""The Salesforce sandbox through the real clients only: OAuth via requests, then simple-salesforce
(REST, query paging, upsert, composite collections, Bulk API 2.0) over HTTPS."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
)

TOKEN_PATH = "/services/oauth2/token"


def _session(sandbox) -> requests.Session:
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
    return session


def _token(sandbox, **form) -> requests.Response:
    c = sandbox.credentials_
    auth = (
        (c.sf_client_id, c.sf_client_secret)
        if form.get("grant_type") == "client_credentials"
        else None
    )
    return _session(sandbox).post(sandbox.sf_url + TOKEN_PATH, data=form, auth=auth, timeout=10)


def _assertion(sandbox, **overrides) -> str:
    c = sandbox.credentials_
    claims = {
        "iss": c.sf_client_id,
        "sub": c.sf_username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
        **overrides,
    }
    return jwt.encode(claims, sandbox.jwt_key_path.read_bytes(), algorithm="RS256")


def _client(sandbox, token: str) -> Salesforce:
    return Salesforce(
        instance_url=sandbox.sf_url, session_id=token, session=_session(sandbox), version="62.0"
    )


@pytest.fixture(scope="module")
def sf(sandbox) -> Salesforce:
    response = _token(sandbox, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    return _client(sandbox, response.json()["access_token"])


@pytest.fixture(scope="module")
def marker() -> str:
    return f"T{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def bulk_accounts(sf, marker) -> int:
    """2,500 accounts inserted through Bulk API 2.0, all named after this module's marker."""
    rows = [{"Name": f"{marker} bulk {i:05d}", "BillingCountry": "Germany"} for i in range(2500)]
    result = sf.bulk2.Account.insert(records=rows, wait=0.2)
    assert result[0]["numberRecordsFailed"] == 0
    assert result[0]["numberRecordsProcessed"] == 2500
    return 2500


# -- OAuth -------------------------------------------------------------------------------------
def test_every_grant_issues_a_working_session(sandbox):
    c = sandbox.credentials_
    grants = [
        {"grant_type": "client_credentials"},
        {
            "grant_type": "password",
            "client_id": c.sf_client_id,
            "client_secret": c.sf_client_secret,
            "username": c.sf_username,
            "password": c.sf_password,
        },
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": _assertion(sandbox),
        },
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": _assertion(sandbox, aud=sandbox.sf_url),
        },
    ]
    for form in grants:
        response = _token(sandbox, **form)
        assert response.status_code == 200, (form["grant_type"], response.text)
        body = response.json()
        assert body["instance_url"] == sandbox.sf_url and body["token_type"] == "Bearer"
        assert _client(sandbox, body["access_token"]).query("SELECT COUNT() FROM Account")["done"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "https://evil.example.com"},
        {"exp": int(time.time()) - 60},
        {"sub": "nobody@example.com"},
    ],
)
def test_jwt_with_wrong_claims_is_refused(sandbox, overrides):
    response = _token(
        sandbox,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(sandbox, **overrides),
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_client_id")


def test_wrong_password_and_secret_are_refused(sandbox):
    c = sandbox.credentials_
    bad_password = _token(
        sandbox,
        grant_type="password",
        client_id=c.sf_client_id,
        client_secret=c.sf_client_secret,
        username=c.sf_username,
        password="nope",
    )
    assert bad_password.status_code == 400 and bad_password.json()["error"] == "invalid_grant"
    bad_secret = _session(sandbox).post(
        sandbox.sf_url + TOKEN_PATH,
        timeout=10,
        data={"grant_type": "client_credentials"},
        auth=(c.sf_client_id, "wrong"),
    )
    assert bad_secret.status_code == 400 and bad_secret.json()["error"] == "invalid_client"


def test_unknown_and_expired_sessions_get_invalid_session_id(sandbox):
    with pytest.raises(SalesforceExpiredSession) as unknown:
        _client(sandbox, "00D000000000001!not-a-token").query("SELECT Id FROM Account LIMIT 1")
    assert unknown.value.content[0]["errorCode"] == "INVALID_SESSION_ID"

    sandbox.knobs.update({"sf_session_ttl_s": 0.3})
    short = _token(sandbox, grant_type="client_credentials").json()["access_token"]
    client = _client(sandbox, short)
    client.query("SELECT COUNT() FROM Account")
    time.sleep(0.5)
    with pytest.raises(SalesforceExpiredSession):
        client.query("SELECT COUNT() FROM Account")


def test_session_expiry_fault_expires_the_presented_token(sandbox):
    token = _token(sandbox, grant_type="client_credentials").json()["access_token"]
    client = _client(sandbox, token)
    sandbox.knobs.update({"fault_session_expiry_rate": 1.0})
    with pytest.raises(SalesforceExpiredSession):
        client.query("SELECT COUNT() FROM Account")
    sandbox.knobs.update({"fault_session_expiry_rate": 0.0})
    with pytest.raises(SalesforceExpiredSession):  # the token stays dead once the fault is off
        client.query("SELECT COUNT() FROM Account")


# -- queries -----------------------------------------------------------------------------------
def test_query_all_iter_pages_to_exactly_total_size(sf, marker, bulk_accounts):
    soql = (
        f"SELECT Id, Name, CreatedDate FROM Account WHERE Name LIKE '{marker} bulk%' ORDER BY Name"
    )
    first = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=700"})
    assert first["totalSize"] == bulk_accounts
    assert len(first["records"]) == 700 and not first["done"]
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    records = list(sf.query_all_iter(soql, headers={"Sforce-Query-Options": "batchSize=700"}))
    assert len(records) == bulk_accounts
    assert len({r["Id"] for r in records}) == bulk_accounts
    assert [r["Name"] for r in records] == sorted(r["Name"] for r in records)
    assert records[0]["attributes"]["type"] == "Account"
    assert records[0]["CreatedDate"].endswith("+0000") and "T" in records[0]["CreatedDate"]
    counted = sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE '{marker} bulk%'")
    assert counted["totalSize"] == bulk_accounts and counted["records"] == []


def test_where_clauses_filter_like_soql(sf, marker, bulk_accounts):
    base = f"SELECT Id, Name FROM Account WHERE Name LIKE '{marker} bulk%'"
    assert (
        sf.query(f"{base} AND Name IN ('{marker} bulk 00001', '{marker} BULK 00002')")["totalSize"]
        == 2
    )
    assert (
        sf.query(f"{base} AND NOT Name = '{marker} bulk 00001'")["totalSize"] == bulk_accounts - 1
    )
    assert (
        sf.query(f"{base} AND CreatedDate > 2000-01-01T00:00:00Z AND Phone = null")["totalSize"]
        == bulk_accounts
    )
    assert sf.query(f"{base} AND CreatedDate < 2000-01-01T00:00:00+02:00")["totalSize"] == 0
    assert sf.query(f"{base} AND CreatedDate = LAST_N_DAYS:1")["totalSize"] == bulk_accounts
    page = sf.query(f"{base} ORDER BY Name DESC LIMIT 5 OFFSET 2")
    assert [r["Name"][-5:] for r in page["records"]] == [
        "02497",
        "02496",
        "02495",
        "02494",
        "02493",
    ]
    aggregate = sf.query(
        f"SELECT COUNT(Id) n, MAX(Name) FROM Account WHERE Name LIKE '{marker} bulk%'"
    )
    assert aggregate["records"][0]["n"] == bulk_accounts
    assert aggregate["records"][0]["expr0"] == f"{marker} bulk 02499"


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Id, NoSuchField__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id, Nope.Name FROM Order", "INVALID_FIELD"),
        ("SELECT Id FROM NoSuchObject__c", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'", "INVALID_FIELD"),
    ],
)
def test_bad_queries_get_salesforce_error_codes(sf, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query(soql)
    assert err.value.content[0]["errorCode"] == code


@pytest.fixture(scope="module")
def order(sf, marker) -> dict[str, str]:
    account = sf.Account.create({"Name": f"{marker} Order Co", "BillingCountry": "US"})["id"]
    product = sf.Product2.create(
        {"Name": f"{marker} widget", "ProductCode": f"{marker}-W", "IsActive": True}
    )["id"]
    book = sf.Pricebook2.create({"Name": f"{marker} book", "IsActive": True})["id"]
    entry = sf.PricebookEntry.create(
        {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 12.5, "IsActive": True}
    )["id"]
    order_id = sf.Order.create(
        {
            "AccountId": account,
            "Pricebook2Id": book,
            "Status": "Draft",
            "EffectiveDate": "2024-03-01",
        }
    )["id"]
    for quantity in (2, 3):
        sf.OrderItem.create(
            {
                "OrderId": order_id,
                "PricebookEntryId": entry,
                "Quantity": quantity,
                "UnitPrice": 12.5,
            }
        )
    return {"account": account, "product": product, "order": order_id}


def test_parent_fields_child_subqueries_and_derived_fields(sf, marker, order):
    result = sf.query(
        "SELECT Id, OrderNumber, TotalAmount, Account.Name, EffectiveDate, "
        "(SELECT Id, Quantity, TotalPrice, Product2.Name FROM OrderItems ORDER BY Quantity) "
        f"FROM Order WHERE Id = '{order['order']}'"
    )
    record = result["records"][0]
    assert record["Account"]["Name"] == f"{marker} Order Co"
    assert record["Account"]["attributes"]["type"] == "Account"
    assert record["EffectiveDate"] == "2024-03-01"
    assert record["TotalAmount"] == pytest.approx(62.5)
    assert record["OrderNumber"].isdigit()
    lines = record["OrderItems"]
    assert lines["totalSize"] == 2 and lines["done"] is True
    assert [r["Quantity"] for r in lines["records"]] == [2, 3]
    assert [r["TotalPrice"] for r in lines["records"]] == [25.0, 37.5]
    assert lines["records"][0]["Product2"]["Name"] == f"{marker} widget"  # filled from the entry
    grand = sf.query(
        "SELECT Quantity, Order.Account.Name FROM OrderItem "
        f"WHERE Order.Account.Name = '{marker} order co'"
    )  # = is case-insensitive
    assert grand["totalSize"] == 2
    assert grand["records"][0]["Order"]["Account"]["Name"] == f"{marker} Order Co"
    empty = sf.query(
        f"SELECT Id, (SELECT Id FROM Contacts) FROM Account WHERE Id = '{order['account']}'"
    )
    assert empty["records"][0]["Contacts"] is None


# -- sObjects ----------------------------------------------------------------------------------
def test_describe_and_limits(sf):
    describe = sf.Order.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert (
        fields["NetSuite_Sales_Order_ID__c"]["externalId"]
        and fields["NetSuite_Sales_Order_ID__c"]["custom"]
    )
    assert fields["TotalAmount"]["createable"] is False
    assert "Draft" in [p["value"] for p in fields["Status"]["picklistValues"]]
    assert {"OrderItems"} <= {c["relationshipName"] for c in describe["childRelationships"]}
    assert {"Invoice__c", "Account"} <= {o["name"] for o in sf.describe()["sobjects"]}
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert 0 < limits["DailyApiRequests"]["Remaining"] < 15000
    assert sf.api_usage["api-usage"].total == 15000


def test_create_get_update_upsert_delete(sf, marker):
    external = f"{marker}-NS-1"
    created = sf.Account.upsert(f"NetSuite_Customer_ID__c/{external}", {"Name": f"{marker} Upsert"})
    assert created == 201
    assert sf.Account.upsert(f"NetSuite_Customer_ID__c/{external}", {"Phone": "+49 30 1"}) == 200
    record = sf.Account.get_by_custom_id("NetSuite_Customer_ID__c", external)
    assert record["Name"] == f"{marker} Upsert" and record["Phone"] == "+49 30 1"
    first_modstamp = record["SystemModstamp"]

    time.sleep(0.01)
    assert sf.Account.update(record["Id"], {"BillingCity": "Berlin"}) == 204
    again = sf.Account.get(record["Id"][:15])  # 15-character ids are accepted
    assert again["BillingCity"] == "Berlin" and again["SystemModstamp"] > first_modstamp
    assert again["LastModifiedDate"] == again["SystemModstamp"]

    sf.Account.create({"Name": f"{marker} twin", "NetSuite_Customer_ID__c": external})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.upsert(f"NetSuite_Customer_ID__c/{external}", {"Phone": "1"})

    for bad, code in [
        ({"Name": "x" * 256}, "STRING_TOO_LONG"),
        ({"Nope__c": 1}, "INVALID_FIELD"),
        ({"Phone": "1"}, "REQUIRED_FIELD_MISSING"),
        ({"Name": "x", "CreatedDate": "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ]:
        with pytest.raises(SalesforceMalformedRequest) as err:
            sf.Account.create(bad)
        assert err.value.content[0]["errorCode"] == code
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Contact.create({"LastName": "x", "AccountId": "001999999999999AAA"})
    assert err.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"

    assert sf.Account.delete(record["Id"]) == 204
    soql = f"SELECT Id, IsDeleted FROM Account WHERE Id = '{record['Id']}'"
    assert sf.query(soql)["totalSize"] == 0
    deleted = sf.query_all(soql, include_deleted=True)["records"]
    assert [r["IsDeleted"] for r in deleted] == [True]


def test_composite_collections(sf, marker):
    def create(all_or_none: bool) -> list[dict]:
        return sf.restful(
            "composite/sobjects",
            method="POST",
            json={
                "allOrNone": all_or_none,
                "records": [
                    {"attributes": {"type": "Account"}, "Name": f"{marker} c1 {all_or_none}"},
                    {"attributes": {"type": "Account"}, "BillingCity": "no name"},
                    {"attributes": {"type": "Contact"}, "LastName": f"{marker} c3"},
                ],
            },
        )

    partial = create(False)
    assert [r["success"] for r in partial] == [True, False, True]
    assert partial[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert partial[1]["errors"][0]["fields"] == ["Name"]

    atomic = create(True)
    assert [r["success"] for r in atomic] == [False, False, False]
    assert atomic[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert (
        sf.query(f"SELECT COUNT() FROM Account WHERE Name = '{marker} c1 True'")["totalSize"] == 0
    )

    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [{"attributes": {"type": "Account"}, "Id": partial[0]["id"], "Phone": "42"}]
        },
    )
    assert updated[0]["success"]
    upserted = sf.restful(
        "composite/sobjects/Account/NetSuite_Customer_ID__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {
                    "attributes": {"type": "Account"},
                    "NetSuite_Customer_ID__c": f"{marker}-C1",
                    "Name": "n1",
                },
                {
                    "attributes": {"type": "Account"},
                    "NetSuite_Customer_ID__c": f"{marker}-C1",
                    "Name": "n2",
                },
            ],
        },
    )
    assert upserted[0]["success"] and upserted[0]["created"] is True
    assert upserted[1]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    removed = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{partial[0]['id']},{partial[2]['id']}", "allOrNone": "false"},
    )
    assert [r["success"] for r in removed] == [True, True]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={
                "records": [{"attributes": {"type": "Account"}, "Name": str(i)} for i in range(201)]
            },
        )


def test_composite_runs_query_subrequests_in_one_call(sandbox, sf, marker, bulk_accounts):
    """``POST composite``: queries and queryAll side by side, a reference to an earlier answer,
    one counted call; more than five query operations or 25 subrequests are refused."""
    base = f"/services/data/v{sf.sf_version}"
    soql = f"SELECT Id, Name FROM Account WHERE Name LIKE '{marker} %' ORDER BY Name LIMIT 2"
    before = sandbox.ctx.counters.snapshot()["calls"]["salesforce"].get("composite_read", 0)
    answer = sf.restful(
        "composite",
        method="POST",
        json={
            "compositeRequest": [
                {"method": "GET", "url": f"{base}/query/?q={soql}", "referenceId": "first"},
                {
                    "method": "GET",
                    "url": f"{base}/queryAll/?q=SELECT Id FROM Contact WHERE IsDeleted = true",
                    "referenceId": "gone",
                },
                {
                    "method": "GET",
                    "url": f"{base}/sobjects/Account/@{{first.records[0].Id}}?fields=Name",
                    "referenceId": "one",
                },
                {
                    "method": "GET",
                    "url": f"{base}/query/?q=SELECT Nope FROM Account",
                    "referenceId": "bad",
                },
            ]
        },
    )
    results = {r["referenceId"]: r for r in answer["compositeResponse"]}
    assert list(results) == ["first", "gone", "one", "bad"]
    first = results["first"]
    assert first["httpStatusCode"] == 200 and first["body"]["done"] is True
    assert [r["Name"] for r in first["body"]["records"]] == sorted(
        r["Name"] for r in first["body"]["records"]
    )
    assert len(first["body"]["records"]) == 2
    assert results["gone"]["httpStatusCode"] == 200
    assert results["one"]["body"]["Name"] == first["body"]["records"][0]["Name"]
    assert results["bad"]["httpStatusCode"] == 400
    assert results["bad"]["body"][0]["errorCode"] == "INVALID_FIELD"
    # one call, counted apart from the composite DML families since every subrequest is a GET
    assert sandbox.ctx.counters.snapshot()["calls"]["salesforce"]["composite_read"] == before + 1

    query = {"method": "GET", "url": f"{base}/query/?q=SELECT Id FROM Account LIMIT 1"}
    six = [{**query, "referenceId": f"q{i}"} for i in range(6)]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": six})
    many = [
        {"method": "GET", "url": f"{base}/sobjects/Account/", "referenceId": f"d{i}"}
        for i in range(26)
    ]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": many})
    halted = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "GET",
                    "url": f"{base}/query/?q=SELECT Nope FROM Account",
                    "referenceId": "bad",
                },
                {**query, "referenceId": "after"},
            ],
        },
    )["compositeResponse"]
    assert halted[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"


# -- Bulk API 2.0 ------------------------------------------------------------------------------
def test_bulk2_query_returns_every_row(sf, marker, bulk_accounts, tmp_path):
    soql = f"SELECT Id, Name, BillingCountry, CreatedDate FROM Account WHERE Name LIKE '{marker} bulk%'"
    pages = list(sf.bulk2.Account.query(soql, max_records=1000, wait=0.2))
    assert len(pages) == 3
    lines = [line for page in pages for line in page.splitlines()[1:]]
    assert len(lines) == bulk_accounts
    assert pages[0].splitlines()[0] == '"Id","Name","BillingCountry","CreatedDate"'
    assert lines[0].startswith('"001') and lines[0].endswith('Z"')
    files = sf.bulk2.Account.download(soql, path=str(tmp_path), max_records=2000, wait=0.2)
    assert sum(f["number_of_records"] for f in files) == bulk_accounts


def test_bulk2_upsert_reports_failed_rows(sf, marker):
    rows = [
        {"NetSuite_Customer_ID__c": f"{marker}-B{i}", "Name": f"{marker} upsert {i}"}
        for i in range(5)
    ]
    rows.append({"NetSuite_Customer_ID__c": f"{marker}-BAD", "Name": "y" * 300})
    result = sf.bulk2.Account.upsert(
        records=rows, external_id_field="NetSuite_Customer_ID__c", wait=0.2
    )
    assert result[0]["numberRecordsProcessed"] == 6 and result[0]["numberRecordsFailed"] == 1
    job = result[0]["job_id"]
    failed = sf.bulk2.Account.get_failed_records(job)
    assert failed.splitlines()[0].startswith('"sf__Id","sf__Error"')
    assert "STRING_TOO_LONG" in failed and f"{marker}-BAD" in failed
    successful = sf.bulk2.Account.get_successful_records(job)
    assert len(successful.splitlines()) == 6 and '"true"' in successful
    again = sf.bulk2.Account.upsert(
        records=rows[:2], external_id_field="NetSuite_Customer_ID__c", wait=0.2
    )
    assert '"false"' in sf.bulk2.Account.get_successful_records(again[0]["job_id"])
