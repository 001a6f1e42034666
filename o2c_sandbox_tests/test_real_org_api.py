"""The real-org world through the real clients: simple-salesforce for opportunities, contacts,
currencies and formula/roll-up fields; requests-oauthlib (TBA) for NetSuite's item types,
OneWorld and currency rules, contacts and the new SuiteQL tables."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from o2c_sandbox.schema import CURRENCY_CODES
from o2c_sandbox.testing import start_sandbox
from o2c_sandbox_tests.netsuite_client import NetSuiteClient, error_code


def salesforce(box) -> Salesforce:
    session = requests.Session()
    session.verify = str(box.ca_path)
    session.trust_env = False
    c = box.credentials_
    token = session.post(
        box.sf_url + "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(c.sf_client_id, c.sf_client_secret),
        timeout=10,
    ).json()["access_token"]
    return Salesforce(instance_url=box.sf_url, session_id=token, session=session, version="62.0")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """A sandbox of this module's own: it writes records and spends NetSuite's request budget,
    neither of which other tests counting calls on the shared sandbox may see."""
    box = start_sandbox(tmp_path_factory.mktemp("real-org-api"))
    box.knobs.ns_rate_limit = 100_000
    yield box
    box.stop()


@pytest.fixture(scope="module")
def sf(box) -> Salesforce:
    return salesforce(box)


@pytest.fixture(scope="module")
def ns(box) -> NetSuiteClient:
    return NetSuiteClient(box)


@pytest.fixture
def tag() -> str:
    return f"W{uuid.uuid4().hex[:10]}"


def rows(ns: NetSuiteClient, q: str) -> list[dict]:
    response = ns.suiteql(q)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def detail(response: requests.Response) -> dict:
    assert response.status_code == 400, response.text
    return response.json()["o:errorDetails"][0]


# -- Salesforce --------------------------------------------------------------------------------


def test_describe_reports_calculated_fields_and_the_org_currencies(sf):
    account = {f["name"]: f for f in sf.Account.describe()["fields"]}
    rollup = account["Total_Order_Amount__c"]
    assert rollup["calculated"] is True and rollup["calculatedFormula"] is None
    assert (rollup["createable"], rollup["updateable"]) == (False, False)
    assert account["Name"]["calculated"] is False
    opportunity = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    formula = opportunity["Amount_Corporate__c"]
    assert formula["calculated"] is True and "CURRENCYRATE" in formula["calculatedFormula"]
    assert opportunity["IsWon"]["createable"] is False
    assert opportunity["Probability"]["type"] == "percent"
    assert [v["value"] for v in opportunity["CurrencyIsoCode"]["picklistValues"]] == list(
        CURRENCY_CODES
    )
    order = {f["name"]: f for f in sf.Order.describe()["fields"]}
    assert order["Days_Since_Activation__c"]["calculatedFormula"].startswith(
        "IF(ISBLANK(ActivatedDate)"
    )
    children = {c["relationshipName"] for c in sf.Opportunity.describe()["childRelationships"]}
    assert {"OpportunityLineItems", "Orders"} <= children


def test_won_deals_with_their_products_and_orders_through_soql(sf):
    won = sf.query(
        "SELECT Id, StageName, IsWon, IsClosed, Probability, CurrencyIsoCode, Amount, "
        "(SELECT ProductCode, Quantity, UnitPrice, TotalPrice, CurrencyIsoCode FROM OpportunityLineItems), "
        "(SELECT Id, Status FROM Orders) "
        "FROM Opportunity WHERE IsWon = true AND HasOpportunityLineItem = true ORDER BY Id LIMIT 200"
    )["records"]
    assert won and all(r["StageName"] == "Closed Won" and r["IsClosed"] for r in won)
    for deal in won:
        lines = deal["OpportunityLineItems"]["records"]
        assert {line["CurrencyIsoCode"] for line in lines} == {deal["CurrencyIsoCode"]}
        assert abs(sum(line["TotalPrice"] for line in lines) - deal["Amount"]) < 0.01
    with_orders = [d for d in won if d["Orders"]]
    assert 0 < len(with_orders) < len(won)
    rates = {r["IsoCode"]: r["ConversionRate"] for r in sf.query_all(
        "SELECT IsoCode, ConversionRate FROM CurrencyType WHERE IsActive = true")["records"]}  # fmt: skip
    assert rates["USD"] == 1.0 and set(rates) == set(CURRENCY_CODES)


def test_contacts_without_email_and_with_placeholder_last_names(sf):
    placeholders = sf.query_all(
        "SELECT Id, FirstName, LastName FROM Contact WHERE LastName IN ('[not provided]', '-', '.', 'Unknown', 'N/A')"
    )["records"]
    assert len({c["LastName"] for c in placeholders}) >= 3
    assert sf.query("SELECT count() FROM Contact WHERE Email = null")["totalSize"] > 0
    # Salesforce itself refuses a contact with no last name: that is why placeholders exist
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.create({"FirstName": "Nobody", "Email": "nobody@example.com"})
    assert refused.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_opportunity_automation_currency_and_formula_on_write(sf, tag):
    account = sf.Account.create({"Name": f"{tag} Deals GmbH", "CurrencyIsoCode": "EUR"})["id"]
    entry = sf.query(
        "SELECT Id, UnitPrice, Product2Id, Product2.ProductCode FROM PricebookEntry "
        "WHERE CurrencyIsoCode = 'USD' AND IsActive = true AND Pricebook2.IsStandard = true LIMIT 1"
    )["records"][0]
    euro_entry = sf.query(
        f"SELECT Id FROM PricebookEntry WHERE CurrencyIsoCode = 'EUR' AND Product2Id = '{entry['Product2Id']}'"
    )["records"][0]["Id"]
    opp = sf.Opportunity.create(
        {
            "AccountId": account,
            "Name": f"{tag} deal",
            "StageName": "Closed Won",
            "CloseDate": "2025-03-01",
        }
    )["id"]
    created = sf.Opportunity.get(opp)
    # the deal takes the user's currency, not the account's; the stage decides won/closed
    assert created["CurrencyIsoCode"] == "USD"
    assert (created["IsWon"], created["IsClosed"], created["Probability"]) == (True, True, 100)
    line = sf.OpportunityLineItem.create(
        {"OpportunityId": opp, "PricebookEntryId": entry["Id"], "Quantity": 3, "UnitPrice": 10}
    )["id"]
    stored = sf.OpportunityLineItem.get(line)
    assert stored["ProductCode"] == entry["Product2"]["ProductCode"]
    assert (stored["TotalPrice"], stored["ListPrice"], stored["CurrencyIsoCode"]) == (
        30,
        entry["UnitPrice"],
        "USD",
    )
    after = sf.Opportunity.get(opp)
    assert (after["Amount"], after["HasOpportunityLineItem"], after["Amount_Corporate__c"]) == (
        30,
        True,
        30,
    )
    with pytest.raises(SalesforceMalformedRequest) as mismatch:
        sf.OpportunityLineItem.create(
            {"OpportunityId": opp, "PricebookEntryId": euro_entry, "Quantity": 1, "UnitPrice": 5}
        )
    assert mismatch.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert (
        "currency code does not match opportunity currency code"
        in mismatch.value.content[0]["message"]
    )
    with pytest.raises(SalesforceMalformedRequest) as formula:
        sf.Opportunity.update(opp, {"Amount_Corporate__c": 1})
    assert formula.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    sf.Opportunity.update(opp, {"StageName": "Negotiation/Review"})
    reopened = sf.Opportunity.get(opp)
    assert (reopened["IsWon"], reopened["IsClosed"]) == (False, False)


def test_rollup_moves_with_orders_and_stamps_only_systemmodstamp(sf, tag):
    account = sf.Account.create({"Name": f"{tag} Rollup Ltd", "CurrencyIsoCode": "USD"})["id"]
    entry = sf.query(
        "SELECT Id FROM PricebookEntry WHERE CurrencyIsoCode = 'EUR' AND IsActive = true LIMIT 1"
    )["records"][0]["Id"]
    order = sf.Order.create(
        {
            "AccountId": account,
            "Status": "Draft",
            "EffectiveDate": "2025-03-01",
            "CurrencyIsoCode": "EUR",
        }
    )["id"]
    sf.OrderItem.create(
        {"OrderId": order, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": 50}
    )
    assert (
        sf.OrderItem.get(
            sf.query(f"SELECT Id FROM OrderItem WHERE OrderId = '{order}'")["records"][0]["Id"]
        )["CurrencyIsoCode"]
        == "EUR"
    )
    before = sf.Account.get(account)
    assert before["Total_Order_Amount__c"] == 0  # drafts do not count
    sf.Order.update(order, {"Status": "Activated"})
    after = sf.Account.get(account)
    eur = sf.query("SELECT ConversionRate FROM CurrencyType WHERE IsoCode = 'EUR'")["records"][0]
    assert abs(after["Total_Order_Amount__c"] - round(100 / eur["ConversionRate"], 2)) < 0.01
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] == before["LastModifiedDate"]
    # a cross-object formula follows the account at once, without touching the order's stamps
    stamps = sf.Order.get(order)
    sf.Account.update(account, {"Industry": "Energy"})
    moved = sf.Order.get(order)
    assert moved["Account_Industry__c"] == "Energy"
    assert (moved["SystemModstamp"], moved["LastModifiedDate"]) == (
        stamps["SystemModstamp"],
        stamps["LastModifiedDate"],
    )


def test_rate_changes_move_formulas_but_no_stamps(private_sandbox):
    sf = salesforce(private_sandbox)  # advancing time must not reach the other tests' world
    deals = sf.query_all(
        "SELECT Id, Amount, Amount_Corporate__c, SystemModstamp, LastModifiedDate FROM Opportunity "
        "WHERE CurrencyIsoCode = 'EUR' AND Amount > 0 AND IsDeleted = false ORDER BY Id LIMIT 50"
    )["records"]
    private_sandbox.ctx.advance(1)  # step 1 re-keys the EUR rate
    rate = sf.query("SELECT ConversionRate FROM CurrencyType WHERE IsoCode = 'EUR'")["records"][0]
    moved = 0
    for deal in deals:
        now = sf.Opportunity.get(deal["Id"])
        assert (
            abs(now["Amount_Corporate__c"] - round(now["Amount"] / rate["ConversionRate"], 2))
            < 0.01
        )
        if now["SystemModstamp"] == deal["SystemModstamp"]:
            assert now["LastModifiedDate"] == deal["LastModifiedDate"]
            moved += now["Amount_Corporate__c"] != deal["Amount_Corporate__c"]
    assert moved > 0
    dated = sf.query_all(
        "SELECT StartDate, NextStartDate, ConversionRate FROM DatedConversionRate "
        "WHERE IsoCode = 'EUR' ORDER BY StartDate"
    )["records"]
    assert (
        dated[-1]["NextStartDate"] is None and dated[-1]["ConversionRate"] == rate["ConversionRate"]
    )
    assert dated[-2]["NextStartDate"] == dated[-1]["StartDate"]


# -- NetSuite ----------------------------------------------------------------------------------


def test_items_are_served_under_their_record_types(ns):
    found = {
        r["itemtype"]: r["id"]
        for r in rows(
            ns, "SELECT itemtype, MIN(id) AS id FROM item WHERE isinactive = 'F' GROUP BY itemtype"
        )
    }
    for record_type, itemtype in [
        ("inventoryItem", "InvtPart"),
        ("nonInventorySaleItem", "NonInvtPart"),
        ("serviceSaleItem", "Service"),
        ("kitItem", "Kit"),
    ]:
        item = ns.get(f"{record_type}/{found[itemtype]}")
        assert item.status_code == 200, (record_type, item.text)
        assert item.json()["itemId"].startswith("SKU-")
        listed = ns.get(record_type, params={"limit": 1000}).json()
        assert found[itemtype] in {i["id"] for i in listed["items"]}
    assert ns.get(f"inventoryItem/{found['Service']}").status_code == 404
    without_eid = rows(ns, "SELECT COUNT(*) AS n FROM item WHERE externalid IS NULL")[0]["n"]
    assert int(without_eid) > int(rows(ns, "SELECT COUNT(*) AS n FROM item")[0]["n"]) // 2


def _customer(ns: NetSuiteClient, tag: str, **body) -> str:
    return ns.create("customer", {"companyName": f"{tag} {uuid.uuid4().hex[:4]}", **body})


def test_sales_order_references_items_by_internal_id_in_the_customer_currency(ns, tag):
    item = rows(
        ns,
        "SELECT i.id, p.unitprice FROM item i JOIN pricing p ON p.item = i.id "
        "WHERE i.externalid IS NULL AND i.isinactive = 'F' AND i.itemtype = 'NonInvtPart' "
        "AND p.currency = 2 AND p.pricelevel = 1 AND p.quantity = 0 ORDER BY i.id",
    )[0]
    customer = _customer(ns, tag, subsidiary={"id": "2"})  # Europe: EUR by default
    assert ns.get(f"customer/{customer}").json()["currency"]["id"] == "2"
    order_id = ns.create(
        "salesOrder",
        {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": item["id"]}, "quantity": 2}]},
        },
    )
    order = ns.get(f"salesOrder/{order_id}", params={"expandSubResources": "true"}).json()
    assert order["subsidiary"]["id"] == "2" and order["currency"]["id"] == "2"
    assert order["exchangeRate"] == 1.0
    line = order["item"]["items"][0]
    assert (
        line["item"]["id"] == item["id"]
        and "/nonInventorySaleItem/" in line["item"]["links"][0]["href"]
    )
    assert line["rate"] == float(item["unitprice"])  # the EUR base price, not the USD one
    stored = rows(
        ns,
        f"SELECT t.recordtype, t.currency, l.subsidiary, l.foreignamount, l.netamount FROM transaction t "
        f"JOIN transactionline l ON l.transaction = t.id WHERE t.id = {order_id} AND l.mainline = 'F'",
    )[0]
    assert stored["recordtype"] == "salesorder" and stored["subsidiary"] == "2"
    assert float(stored["foreignamount"]) == -2 * float(item["unitprice"])


def test_netsuite_refuses_lines_and_currencies_it_cannot_book(ns, tag):
    customer = _customer(ns, tag, subsidiary={"id": "1"})
    active, inactive = (
        rows(ns, f"SELECT MIN(id) AS id FROM item WHERE isinactive = '{flag}'")[0]["id"]
        for flag in "FT"
    )

    def order(*lines, **extra) -> requests.Response:
        return ns.post(
            "salesOrder", {"entity": {"id": customer}, "item": {"items": list(lines)}, **extra}
        )

    zero = detail(order({"item": {"id": active}, "quantity": 0}))
    assert (zero["o:errorCode"], zero["o:errorPath"]) == (
        "INVALID_FLD_VALUE",
        "item.items[0].quantity",
    )
    for item in (inactive, "99999999"):
        refused = detail(order({"item": {"id": item}, "quantity": 1}))
        assert refused["o:errorCode"] == "INVALID_KEY_OR_REF"
        assert refused["detail"] == f"Invalid item reference key {item} for subsidiary 1."
    # a subsidiary the customer is not shared with
    other = detail(order({"item": {"id": active}, "quantity": 1}, subsidiary={"id": "3"}))
    assert other["detail"] == f"Invalid entity reference key {customer} for subsidiary 3."
    # Australia has no rates for yen: neither a customer nor an order can use it there
    aussie = detail(
        ns.post(
            "customer",
            {"companyName": f"{tag} AU", "subsidiary": {"id": "6"}, "currency": {"id": "5"}},
        )
    )
    assert (aussie["o:errorCode"], aussie["detail"]) == (
        "INVALID_KEY_OR_REF",
        "Invalid currency reference key 5 for subsidiary 6.",
    )
    au = _customer(ns, tag, subsidiary={"id": "6"})
    yen = detail(
        ns.post(
            "salesOrder",
            {
                "entity": {"id": au},
                "currency": {"id": "5"},
                "item": {"items": [{"item": {"id": active}, "quantity": 1}]},
            },
        )
    )
    assert yen["detail"] == "Invalid currency reference key 5 for subsidiary 6."
    # the deactivated currency, the elimination subsidiary
    assert (
        error_code(
            ns.post(
                "customer",
                {"companyName": f"{tag} CHF", "subsidiary": {"id": "1"}, "currency": {"id": "7"}},
            )
        )
        == "INVALID_KEY_OR_REF"
    )
    assert (
        error_code(ns.post("customer", {"companyName": f"{tag} Elim", "subsidiary": {"id": "7"}}))
        == "INVALID_KEY_OR_REF"
    )


def test_orders_need_an_exchange_rate_on_their_date(ns, tag):
    active = rows(ns, "SELECT MIN(id) AS id FROM item WHERE isinactive = 'F'")[0]["id"]
    canadian = _customer(ns, tag, subsidiary={"id": "4"}, currency={"id": "1"})  # USD in Canada
    first = rows(
        ns,
        "SELECT TO_CHAR(MIN(effectivedate), 'YYYY-MM-DD') AS d FROM currencyrate WHERE basecurrency = 4 AND transactioncurrency = 1",
    )[0]["d"]
    before = (dt.date.fromisoformat(first) - dt.timedelta(days=5)).isoformat()
    body = {
        "entity": {"id": canadian},
        "item": {"items": [{"item": {"id": active}, "quantity": 1, "rate": 10}]},
    }
    missing = detail(ns.post("salesOrder", {**body, "tranDate": before}))
    assert missing["o:errorCode"] == "USER_ERROR" and "exchange rate" in missing["detail"]
    order_id = ns.create("salesOrder", body)
    order = ns.get(f"salesOrder/{order_id}").json()
    latest = rows(
        ns,
        "SELECT exchangerate FROM currencyrate WHERE basecurrency = 4 AND transactioncurrency = 1 "
        "ORDER BY effectivedate DESC",
    )[0]
    assert order["exchangeRate"] == float(latest["exchangerate"]) and order["currency"]["id"] == "1"
    line = rows(
        ns,
        f"SELECT foreignamount, netamount FROM transactionline WHERE transaction = {order_id} AND mainline = 'T'",
    )[0]
    assert float(line["netamount"]) == round(10 * float(latest["exchangerate"]), 2)


def test_contacts_upsert_by_external_id_under_their_company(ns, tag):
    customer = _customer(ns, tag, subsidiary={"id": "3"})
    eid = f"SF_CONTACT_{tag}"
    first = ns.put(
        f"contact/eid:{eid}",
        {
            "company": {"id": customer},
            "firstName": "Ada",
            "lastName": "-",
            "email": f"{tag}@example.com",
        },
    )
    assert first.status_code == 204, first.text
    contact = ns.get(f"contact/eid:{eid}").json()
    assert contact["company"]["id"] == customer and contact["subsidiary"]["id"] == "3"
    assert contact["entityId"] == "Ada -" and contact["externalId"] == eid
    assert ns.put(f"contact/eid:{eid}", {"phone": "+44 20 1234 5678"}).status_code == 204
    assert ns.get(f"contact/eid:{eid}").json()["phone"] == "+44 20 1234 5678"
    nameless = detail(ns.post("contact", {"company": {"id": customer}, "email": "x@example.com"}))
    assert nameless["detail"].endswith("Please enter value(s) for: Contact.")
    orphan = detail(ns.post("contact", {"lastName": "Alone"}))
    assert orphan["o:errorPath"] == "subsidiary"
    by_suiteql = rows(ns, f"SELECT id, company, externalid FROM contact WHERE externalid = '{eid}'")
    assert by_suiteql == [
        {"links": [], "id": contact["id"], "company": customer, "externalid": eid}
    ]
    # entities share one id sequence: a new customer never takes a contact's id
    newer = _customer(ns, tag, subsidiary={"id": "1"})
    assert int(newer) > int(contact["id"])


def test_setup_records_read_through_the_record_api(ns):
    europe = ns.get("subsidiary/2").json()
    assert europe["name"] == "O2C Europe GmbH" and europe["parent"]["refName"] == "Parent Company"
    assert europe["currency"]["refName"] == "Euro" and europe["isElimination"] is False
    yen = ns.get("currency/5").json()
    assert (yen["symbol"], yen["currencyPrecision"], yen["isBaseCurrency"]) == ("JPY", 0, False)
    assert ns.patch("currency/5", {"exchangeRate": 1}).status_code == 403
    level = ns.get("priceLevel/4").json()
    assert level["name"] == "Wholesale" and level["discountPct"] == -10
    shared = rows(
        ns, "SELECT entity FROM customersubsidiaryrelationship WHERE isprimarysub = 'F' ORDER BY id"
    )[0]
    listed = ns.get(
        "customerSubsidiaryRelationship", params={"q": f"entity EQUAL {shared['entity']}"}
    ).json()
    assert listed["totalResults"] == 2
    orders = ns.get("salesOrder", params={"q": "subsidiary EQUAL 3", "limit": 5}).json()
    assert orders["totalResults"] > 0
    first = ns.get(f"salesOrder/{orders['items'][0]['id']}").json()
    assert first["subsidiary"]["id"] == "3" and first["subsidiary"]["refName"].endswith(
        "O2C UK Ltd"
    )


def test_suiteql_serves_the_oneworld_and_currency_tables(ns):
    base = rows(ns, "SELECT symbol, exchangerate FROM currency WHERE isbasecurrency = 'T'")
    assert base == [{"links": [], "symbol": "USD", "exchangerate": "1"}]
    assert (
        rows(
            ns,
            "SELECT COUNT(*) AS n FROM currencyrate WHERE basecurrency = 6 AND transactioncurrency = 5",
        )[0]["n"]
        == "0"
    )
    subs = rows(ns, "SELECT id, parent, currency, iselimination FROM subsidiary ORDER BY id")
    assert subs[0] == {"links": [], "id": "1", "currency": "1", "iselimination": "F"}
    shared = rows(
        ns,
        "SELECT entity, COUNT(*) AS n FROM customersubsidiaryrelationship GROUP BY entity HAVING COUNT(*) > 1",
    )
    assert shared
    so = rows(
        ns,
        "SELECT t.id, t.recordtype, t.currency, t.exchangerate, TO_CHAR(t.shipdate, 'YYYY-MM-DD') AS ship, "
        "tl.subsidiary FROM transaction t JOIN transactionline tl ON tl.transaction = t.id AND tl.mainline = 'T' "
        "WHERE t.type = 'SalesOrd' AND t.currency <> 1 ORDER BY t.id",
    )[0]
    assert so["recordtype"] == "salesorder" and so["ship"] and so["subsidiary"]
    levels = rows(ns, "SELECT id, name, isinactive FROM pricelevel ORDER BY id")
    assert levels[0]["name"] == "Base Price" and any(level["isinactive"] == "T" for level in levels)
    kit = rows(
        ns, "SELECT parentitem, item, quantity FROM itemmember ORDER BY parentitem, linenumber"
    )[0]
    assert int(kit["quantity"]) >= 1
