"""The NetSuite record API over HTTPS with requests + OAuth1: create (204 + Location), get with and
without expanded sublists, PATCH, eid upsert, delete, list paging and q filters, validation errors."""

from __future__ import annotations

import re
import uuid

import pytest

from o2c_sandbox_tests.netsuite_client import NetSuiteClient, error_code


@pytest.fixture
def ns(sandbox) -> NetSuiteClient:
    sandbox.knobs.ns_rate_limit = 100_000  # restored by conftest's autouse fixture
    return NetSuiteClient(sandbox)


@pytest.fixture
def tag() -> str:
    return f"R{uuid.uuid4().hex[:10]}"


@pytest.fixture
def customer(ns, tag) -> str:
    return ns.create(
        "customer",
        {"companyName": f"{tag} Buyer", "subsidiary": {"id": "1"}, "externalId": f"{tag}-cust"},
    )


@pytest.fixture
def items(ns, tag) -> dict[str, str]:
    make = lambda sku, **extra: ns.create(  # noqa: E731
        "inventoryItem", {"itemId": f"{tag}-{sku}", "displayName": sku, "basePrice": 12.5, **extra}
    )
    return {
        "active": make("A"),
        "other": make("B", externalId=f"{tag}-B"),
        "inactive": make("OLD", isInactive=True),
    }


def order_body(customer: str, *lines: dict) -> dict:
    return {"entity": {"id": customer}, "item": {"items": list(lines)}}


def test_create_answers_204_with_location_then_get(ns, tag):
    response = ns.post(
        "customer",
        {
            "companyName": f'{tag} O\'Brien "Quotes" \\ Ünïcödé',
            "subsidiary": {"id": "1"},
            "externalId": f"{tag}-1",
            "email": "buyer@example.com",
            "addressbook": {
                "items": [
                    {
                        "defaultBilling": True,
                        "addressbookAddress": {
                            "addr1": "1 Main St",
                            "city": "Austin",
                            "state": "TX",
                            "zip": "78701",
                            "country": "US",
                        },
                    }
                ]
            },
        },
    )
    assert response.status_code == 204 and response.content == b""
    location = response.headers["Location"]
    assert location.startswith(f"{ns.sandbox.ns_url}/services/rest/record/v1/customer/")
    fetched = ns.request("GET", location)
    assert fetched.headers["Content-Type"] == "application/vnd.oracle.resource+json; type=singular"
    record = fetched.json()
    assert record["id"] == location.rsplit("/", 1)[1]
    assert record["companyName"] == f'{tag} O\'Brien "Quotes" \\ Ünïcödé'
    assert record["subsidiary"]["id"] == "1" and "refName" in record["subsidiary"]
    assert record["isInactive"] is False
    assert record["lastModifiedDate"].endswith("Z") and "T" in record["lastModifiedDate"]
    assert set(record["addressbook"]) == {"links"}  # a link until expandSubResources=true
    expanded = ns.request("GET", location, params={"expandSubResources": "true"}).json()
    address = expanded["addressbook"]["items"][0]["addressbookAddress"]
    assert address["city"] == "Austin" and address["zip"] == "78701"
    sublist = ns.request("GET", record["addressbook"]["links"][0]["href"]).json()
    assert sublist["items"][0]["addressbookAddress"]["addr1"] == "1 Main St"
    by_eid = ns.get(f"customer/eid:{tag}-1").json()
    assert by_eid["id"] == record["id"]


def test_sales_order_lines_totals_and_sign_conventions(ns, tag, customer, items):
    order_id = ns.create(
        "salesOrder",
        {
            **order_body(
                customer,
                {"item": {"id": items["active"]}, "quantity": 3},  # rate defaults to the base price
                {"item": {"externalId": f"{tag}-B"}, "quantity": 2, "rate": 10},  # by external id
            ),
            "total": 1.0,
            "otherRefNum": "00000123",
        },
    )
    order = ns.get(f"salesOrder/{order_id}", params={"expandSubResources": "true"}).json()
    assert order["total"] == 57.5  # 3 x 12.5 + 2 x 10; the client's total is ignored
    assert order["status"]["id"] == "B" and order["status"]["refName"] == "Pending Fulfillment"
    assert order["tranId"].startswith("SO") and order["entity"]["id"] == customer
    lines = order["item"]["items"]
    assert [(line["item"]["id"], line["quantity"], line["amount"]) for line in lines] == [
        (items["active"], 3, 37.5),
        (items["other"], 2, 20),
    ]
    stored = ns.suiteql(f"""SELECT mainline, quantity, netamount, item FROM transactionline
                            WHERE transaction = {order_id} ORDER BY linesequencenumber""").json()[
        "items"
    ]
    assert [(r["mainline"], r.get("quantity"), r["netamount"]) for r in stored] == [
        ("T", None, "57.5"),
        ("F", "-3", "-37.5"),
        ("F", "-2", "-20"),
    ]
    header = ns.suiteql(
        f"SELECT type, status, foreigntotal FROM transaction WHERE id = {order_id}"
    ).json()
    assert header["items"][0] == {
        "links": [],
        "type": "SalesOrd",
        "status": "B",
        "foreigntotal": "57.5",
    }


def test_patch_updates_fields_and_last_modified(ns, customer):
    before = ns.get(f"customer/{customer}").json()
    response = ns.patch(f"customer/{customer}", {"email": "new@example.com", "phone": "555-0100"})
    assert response.status_code == 204
    after = ns.get(f"customer/{customer}").json()
    assert after["email"] == "new@example.com" and after["companyName"] == before["companyName"]
    assert after["lastModifiedDate"] >= before["lastModifiedDate"]


def test_eid_upsert_creates_then_updates_one_record(ns, tag):
    path = f"customer/eid:{tag}-up"
    first = ns.put(path, {"companyName": f"{tag} First", "subsidiary": {"id": "1"}})
    assert first.status_code == 204
    second = ns.put(path, {"companyName": f"{tag} Second", "subsidiary": {"id": "1"}})
    assert second.status_code == 204
    assert first.headers["Location"] == second.headers["Location"]
    matches = ns.suiteql(
        f"SELECT id, companyname FROM customer WHERE externalid = '{tag}-up'"
    ).json()
    assert matches["totalResults"] == 1
    assert matches["items"][0]["companyname"] == f"{tag} Second"


def test_sales_order_upsert_by_external_id(ns, tag, customer, items):
    body = order_body(customer, {"item": {"id": items["active"]}, "quantity": 1})
    assert ns.put(f"salesOrder/eid:{tag}-so", body).status_code == 204
    body["item"]["items"][0]["quantity"] = 4
    assert ns.put(f"salesOrder/eid:{tag}-so", body).status_code == 204
    order = ns.get(f"salesOrder/eid:{tag}-so", params={"expandSubResources": "true"}).json()
    assert order["total"] == 50 and [line["quantity"] for line in order["item"]["items"]] == [4]
    count = ns.suiteql(
        f"SELECT COUNT(*) AS n FROM transaction WHERE externalid = '{tag}-so'"
    ).json()
    assert count["items"][0]["n"] == "1"


def test_delete_leaves_a_deleted_record_row(ns, customer, items):
    order_id = ns.create(
        "salesOrder", order_body(customer, {"item": {"id": items["active"]}, "quantity": 1})
    )
    assert ns.delete(f"salesOrder/{order_id}").status_code == 204
    gone = ns.get(f"salesOrder/{order_id}")
    assert gone.status_code == 404 and error_code(gone) == "NONEXISTENT_ID"
    rows = ns.suiteql(
        f"SELECT recordtypeid, type, deleteddate FROM deletedrecord WHERE recordid = {order_id}"
        " AND recordtypeid = 'salesOrder'"
    ).json()["items"]
    assert len(rows) == 1 and rows[0]["type"] == "SalesOrd"
    lines = ns.suiteql(
        f"SELECT COUNT(*) AS n FROM transactionline WHERE transaction = {order_id}"
    ).json()
    assert lines["items"][0]["n"] == "0"
    new_id = ns.create(
        "salesOrder", order_body(customer, {"item": {"id": items["active"]}, "quantity": 1})
    )
    assert int(new_id) > int(order_id)  # ids are never reused


def test_list_carries_only_ids_and_links_and_filters(ns, tag):
    ids = [
        ns.create(
            "customer",
            {"companyName": f"{tag} L{n}", "subsidiary": {"id": "1"}, "externalId": f"{tag}-L{n}"},
        )
        for n in range(3)
    ]
    page = ns.get("customer", params={"q": f'externalId IS "{tag}-L1"'}).json()
    assert page["totalResults"] == 1 and page["items"][0]["id"] == ids[1]
    assert set(page["items"][0]) == {"id", "links"}
    assert page["items"][0]["links"][0]["href"].endswith(f"/record/v1/customer/{ids[1]}")
    first = ns.get("customer", params={"limit": 2, "q": f'companyName START_WITH "{tag} L"'}).json()
    assert (first["count"], first["hasMore"], first["totalResults"]) == (2, True, 3)
    assert any(link["rel"] == "next" for link in first["links"])
    recent = ns.get(
        "customer", params={"q": 'lastModifiedDate ON_OR_AFTER "1/1/2000"', "limit": 1}
    ).json()
    assert recent["totalResults"] >= 3


@pytest.mark.parametrize(
    ("record_type", "body", "code", "path"),
    [
        ("customer", {"subsidiary": {"id": "1"}}, "USER_ERROR", "companyName"),
        ("customer", {"companyName": "No subsidiary"}, "USER_ERROR", "subsidiary"),
        (
            "customer",
            {"companyName": "x", "subsidiary": {"id": "1"}, "noSuchField": 1},
            "NONEXISTENT_FIELD",
            "noSuchField",
        ),
        ("salesOrder", {"item": {"items": []}}, "USER_ERROR", "entity"),
    ],
)
def test_missing_or_unknown_fields_are_refused(ns, record_type, body, code, path):
    response = ns.post(record_type, body)
    assert response.status_code == 400 and error_code(response) == code
    assert response.json()["o:errorDetails"][0]["o:errorPath"] == path


def test_sales_order_validation(ns, tag, customer, items):
    cases = [
        (order_body(customer), "USER_ERROR", "item"),  # no lines
        (
            order_body(customer, {"item": {"id": "999999999"}, "quantity": 1}),
            "INVALID_KEY_OR_REF",
            "item.items[0].item",
        ),
        (
            order_body(customer, {"item": {"externalId": f"{tag}-missing"}, "quantity": 1}),
            "INVALID_KEY_OR_REF",
            "item.items[0].item",
        ),
        (
            order_body(customer, {"item": {"id": items["inactive"]}, "quantity": 1}),
            "INVALID_KEY_OR_REF",
            "item.items[0].item",
        ),
        (
            order_body(
                customer,
                {"item": {"id": items["active"]}, "quantity": 1},
                {"item": {"id": items["active"]}, "quantity": -2},
            ),
            "INVALID_FLD_VALUE",
            "item.items[1].quantity",
        ),
        (
            {
                **order_body(customer, {"item": {"id": items["active"]}, "quantity": 1}),
                "entity": {"externalId": f"{tag}-nobody"},
            },
            "INVALID_KEY_OR_REF",
            "entity",
        ),
    ]
    for body, code, path in cases:
        response = ns.post("salesOrder", body)
        assert response.status_code == 400, (body, response.text)
        detail = response.json()["o:errorDetails"][0]
        assert (detail["o:errorCode"], detail["o:errorPath"]) == (code, path), body
        if code == "INVALID_KEY_OR_REF":  # SuiteTalk's wording: "Invalid item reference key 9."
            assert re.match(
                r"Invalid (item|entity) reference key \S+( for subsidiary \d+)?\.$",
                detail["detail"],
            ), detail
    none_created = ns.suiteql(
        f"SELECT COUNT(*) AS n FROM transaction WHERE entity = {customer}"
    ).json()
    assert none_created["items"][0]["n"] == "0"


def test_duplicate_external_id_on_create_and_patch(ns, tag, customer):
    response = ns.post(
        "customer", {"companyName": "Dup", "subsidiary": {"id": "1"}, "externalId": f"{tag}-cust"}
    )
    assert response.status_code == 400 and error_code(response) == "DUP_RCRD"
    other = ns.create("customer", {"companyName": f"{tag} Other", "subsidiary": {"id": "1"}})
    clash = ns.patch(f"customer/{other}", {"externalId": f"{tag}-cust"})
    assert clash.status_code == 400 and error_code(clash) == "DUP_RCRD"
    assert ns.patch(f"customer/{customer}", {"externalId": f"{tag}-cust"}).status_code == 204


def test_unknown_record_and_type(ns):
    missing = ns.get("customer/999999999")
    assert missing.status_code == 404 and error_code(missing) == "NONEXISTENT_ID"
    assert missing.json()["title"] == "Not Found"
    unknown_type = ns.get("noSuchRecordType")
    assert unknown_type.status_code == 404
    assert ns.put("customer/123", {"companyName": "x"}).status_code == 400  # upsert needs eid:
    read_only = ns.post("creditMemo", {"entity": {"id": "1"}})
    assert read_only.status_code == 403 and error_code(read_only) == "INSUFFICIENT_PERMISSION"


def test_fulfillment_invoice_and_payment_link_to_their_order(ns, customer, items):
    line = {"item": {"id": items["active"]}, "quantity": 2}
    order = ns.create("salesOrder", order_body(customer, line))
    shipment = ns.create(
        "itemFulfillment",
        {
            **order_body(customer, line),
            "createdFrom": {"id": order},
            "linkedTrackingNumbers": "1Z999",
        },
    )
    invoice = ns.create("invoice", {**order_body(customer, line), "createdFrom": {"id": order}})
    payment = ns.create("customerPayment", {"entity": {"id": customer}, "payment": 25})
    rows = ns.suiteql(
        f"""SELECT t.id, t.type, t.status, t.createdfrom, t.foreigntotal, t.foreignamountunpaid,
                   t.duedate - t.trandate AS terms, t.trackingnumbers, p.linktype
            FROM transaction t LEFT JOIN previoustransactionlink p ON p.nextdoc = t.id
            WHERE t.id IN ({order}, {shipment}, {invoice}, {payment}) ORDER BY t.id"""
    ).json()["items"]
    by_type = {r["type"]: r for r in rows}
    assert (
        by_type["ItemShip"]["createdfrom"] == order and by_type["ItemShip"]["linktype"] == "OrdFul"
    )
    assert by_type["ItemShip"]["trackingnumbers"] == "1Z999"
    assert by_type["CustInvc"]["linktype"] == "OrdBill" and by_type["CustInvc"]["terms"] == "30"
    assert by_type["CustInvc"]["foreignamountunpaid"] == by_type["CustInvc"]["foreigntotal"] == "25"
    assert by_type["CustPymt"]["foreigntotal"] == "25" and by_type["CustPymt"]["status"] == "B"
    shipped = ns.suiteql(
        f"SELECT quantity, netamount FROM transactionline WHERE transaction = {shipment} AND mainline = 'F'"
    ).json()["items"]
    assert shipped == [{"links": [], "quantity": "-2"}]  # fulfillment lines carry no amount
    fetched = ns.get(f"invoice/{invoice}").json()
    assert fetched["createdFrom"]["id"] == order and fetched["createdFrom"]["refName"].startswith(
        "Sales Order #"
    )
