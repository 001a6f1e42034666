"""Field mapping and configuration: pure functions, no network."""

from __future__ import annotations

import datetime as dt

import pytest

from o2c_pipeline.sync.config import OwnershipError, SyncSettings, assert_owned
from o2c_pipeline.sync.countries import netsuite_country, netsuite_enums
from o2c_pipeline.sync.deals import (
    DealLine,
    account_date,
    opportunity_status_fields,
    sales_order_body,
    sales_order_lines,
)
from o2c_pipeline.sync.mapping import (
    DataError,
    contact_body,
    customer_body,
    customer_row_view,
    customer_view,
    invoice_fields,
    order_status_fields,
    payment_fields,
    product_fields,
    same_contact,
    same_where_known,
    split_street,
)
from o2c_pipeline.sync.netsuite_setup import NetSuiteSetup

SETTINGS = SyncSettings()


@pytest.mark.parametrize(
    ("typed", "enum"),
    [
        ("US", "_unitedStates"),
        ("usa", "_unitedStates"),
        ("U.S.A.", "_unitedStates"),
        ("United States of America", "_unitedStates"),
        ("DE", "_germany"),
        ("Deutschland", "_germany"),
        ("U.K.", "_unitedKingdom"),
        ("GB", "_unitedKingdom"),
        ("gbr", "_unitedKingdom"),
        ("Österreich", "_austria"),
        ("México", "_mexico"),
        ("_japan", "_japan"),
        (" Netherlands ", "_netherlands"),
        ("Côte d'Ivoire", "_coteDIvoire"),
        ("Cote dIvoire", "_coteDIvoire"),
        ("Ivory Coast", "_coteDIvoire"),
        ("Republic of Côte d'Ivoire", "_coteDIvoire"),
        ("Czechia", "_czechRepublic"),
        ("Korea, Republic of", "_koreaRepublicOf"),
        ("Türkiye", "_turkey"),
        ("Viet Nam", "_vietnam"),
        ("Bosnia and Herzegovina", "_bosniaAndHerzegovina"),
        ("Federal Republic of Germany", "_germany"),
        ("ZA", "_southAfrica"),
    ],
)
def test_countries_by_iso_code_name_or_alias(typed: str, enum: str) -> None:
    assert netsuite_country(typed) == enum


def test_unknown_country_is_none_and_every_iso_country_has_its_own_enum() -> None:
    assert netsuite_country("Atlantis") is None and netsuite_country("") is None
    enums = netsuite_enums()
    assert len(enums) >= 249 and len(set(enums.values())) == len(enums)
    assert all(e.startswith("_") and e[1:2].islower() for e in enums.values())


def test_street_splits_into_three_lines_folding_the_rest() -> None:
    assert split_street("1 Main St") == ["1 Main St", None, None]
    assert split_street("a\r\nb\n\nc\nd") == ["a", "b", "c, d"]
    assert split_street(None) == [None, None, None]
    assert split_street("x" * 200, max_len=150)[0] == "x" * 150


ACCOUNT = {
    "Id": "001000000000001AAA",
    "Name": "A" * 100,
    "BillingStreet": "1 Main St\nSuite 5",
    "BillingCity": "Austin",
    "BillingState": "TX",
    "BillingPostalCode": "78701",
    "BillingCountry": "USA",
    "NetSuite_Customer_ID__c": None,
}


def test_customer_body_cuts_the_name_and_maps_the_address() -> None:
    body = customer_body(ACCOUNT, SETTINGS)
    assert body["externalId"] == "SF_ACCT_001000000000001AAA"
    assert body["companyName"] == "A" * 83
    assert "subsidiary" not in body  # NetSuite's once the customer exists
    created = customer_body(ACCOUNT, SETTINGS, {"subsidiary": "2", "currency": "3"})
    assert (created["subsidiary"], created["currency"]) == ({"id": "2"}, {"id": "3"})
    (entry,) = body["addressbook"]["items"]
    assert entry["defaultBilling"] is True
    assert entry["addressbookAddress"] == {
        "addr1": "1 Main St",
        "addr2": "Suite 5",
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "_unitedStates",
    }
    assert "total" not in body and "phone" not in body


def test_customer_without_address_sends_none_and_unknown_country_is_a_data_error() -> None:
    bare = {"Id": "001x", "Name": "Bare"}
    assert "addressbook" not in customer_body(bare, SETTINGS)
    with pytest.raises(DataError) as err:
        customer_body({**ACCOUNT, "BillingCountry": "Atlantis"}, SETTINGS)
    assert err.value.code == "UNKNOWN_COUNTRY" and "'Atlantis'" in err.value.reason


def test_customer_compare_ignores_columns_the_warehouse_lacks() -> None:
    body = customer_body(ACCOUNT, SETTINGS)
    row = {
        "companyname": "A" * 83,
        "subsidiary": 1,
        "billaddr1": "1 Main St",
        "billcity": "Austin",
        "billstate": "TX",
        "billzip": "78701",
        "billcountry": "US",
    }
    assert same_where_known(customer_view(body), customer_row_view(row))
    assert not same_where_known(
        customer_view(body), customer_row_view({**row, "billcity": "Dallas"})
    )


ITEMS = {
    "SKU-1": {"id": 11, "itemid": "SKU-1", "isinactive": "F", "externalid": None},
    "SKU-2": {"id": 12, "itemid": "SKU-2", "isinactive": "F", "externalid": "SKU-2"},
    "SKU-OLD": {"id": 13, "itemid": "SKU-OLD", "isinactive": "T", "externalid": None},
}


def test_sales_order_lines_reference_items_by_internal_id_and_send_no_totals() -> None:
    lines = [DealLine("802A", "SKU-1", 2.0, 10.5), DealLine("802B", "SKU-2", 1.0, None)]
    items = sales_order_lines("Order 00000042", lines, ITEMS, SETTINGS)
    body = sales_order_body(
        external_id="SF_ORDER_801A",
        customer_internal_id="77",
        reference="00000042",
        tran_date="2026-03-01",
        items=items,
        currency_id="2",
    )
    assert body == {
        "externalId": "SF_ORDER_801A",
        "entity": {"id": "77"},
        "otherRefNum": "00000042",
        "tranDate": "2026-03-01",
        "currency": {"id": "2"},
        "item": {
            "items": [
                {"item": {"id": "11"}, "quantity": 2.0, "rate": 10.5},
                {"item": {"id": "12"}, "quantity": 1.0},
            ]
        },
    }


@pytest.mark.parametrize(
    ("line", "code", "says"),
    [
        (DealLine("802A", "SKU-404", 1.0, 1.0), "UNKNOWN_SKU", "'SKU-404'"),
        (DealLine("802A", "SKU-OLD", 1.0, 1.0), "INACTIVE_SKU", "inactive"),
        (DealLine("802A", "SKU-1", -3.0, 1.0), "NEGATIVE_QUANTITY", "quantity -3.0"),
        (DealLine("802A", "SKU-1", 0.0, 1.0), "ZERO_QUANTITY", "greater than 0"),
        (DealLine("802A", "SKU-1", 5e6, 1.0), "QUANTITY_TOO_LARGE", "5e+06"),
        (DealLine("802A", "SKU-1", 1.0, -2.0), "NEGATIVE_PRICE", "-2.0"),
        (DealLine("802A", None, 1.0, 1.0), "MISSING_SKU", "ProductCode"),
    ],
)
def test_sales_order_validation_gives_readable_reasons(
    line: DealLine, code: str, says: str
) -> None:
    with pytest.raises(DataError) as err:
        sales_order_lines("Order 00000042", [line], ITEMS, SETTINGS)
    assert err.value.code == code
    assert "Order 00000042" in err.value.reason and says in err.value.reason


def test_a_deal_without_products_is_a_data_error() -> None:
    with pytest.raises(DataError) as err:
        sales_order_lines("Opportunity Big Deal", [], ITEMS, SETTINGS)
    assert err.value.code == "NO_LINES" and "Big Deal" in err.value.reason


def test_tran_date_is_the_calendar_date_in_the_account_time_zone() -> None:
    late_utc = dt.datetime(2026, 3, 1, 23, 30)
    assert account_date(late_utc, "Asia/Tokyo") == "2026-03-02"
    assert account_date(late_utc, "America/Los_Angeles") == "2026-03-01"
    assert account_date("2026-03-01T02:00:00Z", "America/New_York") == "2026-02-28"
    assert account_date(dt.date(2026, 3, 1), "Asia/Tokyo") == "2026-03-01"  # a date is a date


SUBSIDIARIES = [
    {
        "id": 1,
        "name": "Parent",
        "country": "US",
        "currency": 1,
        "iselimination": "F",
        "isinactive": "F",
    },
    {
        "id": 2,
        "name": "Europe",
        "country": "DE",
        "currency": 2,
        "iselimination": "F",
        "isinactive": "F",
    },
    {
        "id": 7,
        "name": "Elim",
        "country": "DE",
        "currency": 2,
        "iselimination": "T",
        "isinactive": "F",
    },
    {
        "id": 6,
        "name": "Australia",
        "country": "AU",
        "currency": 6,
        "iselimination": "F",
        "isinactive": "F",
    },
]
CURRENCIES = [
    {"id": 1, "symbol": "USD", "isinactive": "F"},
    {"id": 2, "symbol": "EUR", "isinactive": "F"},
    {"id": 5, "symbol": "JPY", "isinactive": "F"},
    {"id": 6, "symbol": "AUD", "isinactive": "F"},
    {"id": 7, "symbol": "CHF", "isinactive": "T"},
]
RATES = [
    {"basecurrency": 1, "transactioncurrency": 2, "effectivedate": dt.date(2026, 1, 1)},
    {"basecurrency": 6, "transactioncurrency": 1, "effectivedate": dt.date(2026, 2, 1)},
]
SETUP = NetSuiteSetup.of(CURRENCIES, SUBSIDIARIES, RATES)


def test_subsidiary_by_country_rule_field_or_default() -> None:
    de = {"Id": "001a", "BillingCountry": "Deutschland"}
    assert SETUP.subsidiary_for(de, SETTINGS, "A") == "2"  # the one operating entity in DE
    assert SETUP.subsidiary_for({"BillingCountry": "Japan"}, SETTINGS, "A") == "1"  # default
    mapped = SyncSettings(subsidiary_by_country={"JP": "6"})
    assert SETUP.subsidiary_for({"BillingCountry": "JP"}, mapped, "A") == "6"
    by_field = SyncSettings(subsidiary_rule="field")
    assert SETUP.subsidiary_for({"NetSuite_Subsidiary__c": "Europe"}, by_field, "A") == "2"
    with pytest.raises(DataError) as err:
        SETUP.subsidiary_for({}, by_field, "Account X")
    assert err.value.code == "MISSING_SUBSIDIARY" and "NetSuite_Subsidiary__c" in err.value.reason
    with pytest.raises(DataError) as err:
        SETUP.subsidiary_for(de, SyncSettings(subsidiary_by_country={"DE": "7"}), "Account X")
    assert err.value.code == "INVALID_SUBSIDIARY"


def test_currency_rules_are_netsuites() -> None:
    assert SETUP.currency_id("eur", "Deal") == "2" and SETUP.currency_id(None, "Deal") is None
    for code, error in (("CHF", "INACTIVE_CURRENCY"), ("XYZ", "UNKNOWN_CURRENCY")):
        with pytest.raises(DataError) as err:
            SETUP.currency_id(code, "Deal")
        assert err.value.code == error and code in err.value.reason
    SETUP.check_trade(1, "1", "2025-01-01", "Deal")  # the base currency: always
    SETUP.check_trade(1, "2", "2026-03-01", "Deal")  # EUR under USD: rates from January
    cases = [(6, "5", "2026-03-01", "CURRENCY_NOT_ALLOWED", "AUD<-JPY"),
             (6, "1", "2026-01-15", "MISSING_EXCHANGE_RATE", "2026-02-01")]  # fmt: skip
    for subsidiary, currency, day, error, says in cases:
        with pytest.raises(DataError) as err:
            SETUP.check_trade(subsidiary, currency, day, "Deal")
        assert err.value.code == error and says in err.value.reason


def test_contacts_need_a_real_last_name_and_name_only_imports_are_split() -> None:
    contact = {"Id": "003a", "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@x.example"}
    body = contact_body(contact, "77", SETTINGS)
    assert body == {
        "externalId": "SF_CONTACT_003a",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@x.example",
        "company": {"id": "77"},
    }
    assert same_contact(body, {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@x.example", "company": 77, "externalid": "SF_CONTACT_003a"})  # fmt: skip
    assert not same_contact(body, {"firstname": "Ada", "lastname": "Byron", "company": 77})
    split = contact_body(
        {"Id": "003b", "FirstName": None, "LastName": "Grace Hopper"}, "7", SETTINGS
    )
    assert (split["firstName"], split["lastName"]) == ("Grace", "Hopper")
    for placeholder in ("[not provided]", "-", ".", "Unknown", "N/A", "  "):
        with pytest.raises(DataError) as err:
            contact_body({**contact, "LastName": placeholder}, "77", SETTINGS)
        assert err.value.code == "MISSING_LAST_NAME" and "003a" in err.value.reason


def test_opportunity_shows_fulfilment_billing_and_payment_once_there_is_any() -> None:
    pending = {"status": "B"}  # Pending Fulfillment
    assert opportunity_status_fields(pending, [], [], SETTINGS) == {}
    billed = opportunity_status_fields(
        {"status": "F"},
        [{"trackingnumbers": "1Z9 1Z8"}],
        [
            {"foreigntotal": 100.0, "foreignamountpaid": 40.0},
            {"foreigntotal": 50.0, "foreignamountpaid": 0},
        ],
        SETTINGS,
    )
    assert billed == {
        "Fulfillment_Status__c": "Fulfilled",
        "Tracking_Number__c": "1Z8, 1Z9",
        "Amount_Invoiced__c": 150.0,
        "Amount_Paid__c": 40.0,
        "Payment_Status__c": "Partially Paid",
    }


def test_fulfillment_status_comes_from_the_status_table_and_tracking_is_collected() -> None:
    fields = order_status_fields(
        {"status": "G"},
        [{"id": 2, "trackingnumbers": "1ZB"}, {"id": 1, "trackingnumbers": "1ZA 1ZB"}],
        SETTINGS,
    )
    assert fields == {
        "Fulfillment_Status__c": "Fulfilled",
        "Status": "Shipped",
        "Tracking_Number__c": "1ZA, 1ZB",
    }
    assert order_status_fields({"status": "B"}, [], SETTINGS) == {
        "Fulfillment_Status__c": "Unfulfilled"
    }
    custom = SyncSettings(
        order_status={"Billed": {"fulfillment_status": "Done", "order_status": None}}
    )
    assert order_status_fields({"status": "Billed"}, [], custom) == {
        "Fulfillment_Status__c": "Done"
    }


def test_payment_status_open_paid_and_partial() -> None:
    base = {"id": 9, "foreigntotal": 100.0}
    assert (
        payment_fields({**base, "status": "A", "foreignamountpaid": 0.0}, SETTINGS)[
            "Payment_Status__c"
        ]
        == "Unpaid"
    )
    partial = payment_fields({**base, "status": "A", "foreignamountpaid": 40.0}, SETTINGS)
    assert partial == {
        "NetSuite_Invoice_ID__c": "9",
        "Amount_Paid__c": 40.0,
        "Payment_Status__c": "Partially Paid",
    }
    assert (
        payment_fields({**base, "status": "B", "foreignamountpaid": 100.0}, SETTINGS)[
            "Payment_Status__c"
        ]
        == "Paid"
    )


def test_invoice_links_order_and_account_or_is_a_data_error() -> None:
    invoice = {
        "id": 5,
        "tranid": "INV1",
        "trandate": dt.date(2026, 1, 2),
        "status": "A",
        "foreigntotal": 9.5,
    }
    fields = invoice_fields(invoice, order_id="801A", account_id="001A", settings=SETTINGS)
    assert fields["Order__c"] == "801A" and fields["Account__c"] == "001A"
    assert fields["Invoice_Date__c"] == "2026-01-02" and fields["Status__c"] == "Open"
    with pytest.raises(DataError, match="UNLINKED_INVOICE"):
        invoice_fields(invoice, order_id=None, account_id=None, settings=SETTINGS)


def test_products_follow_items_and_inactive_items_deactivate() -> None:
    item = {
        "id": 201,
        "itemid": "SKU-1",
        "displayname": "Widget",
        "isinactive": "T",
        "description": None,
    }
    assert product_fields(item) == {
        "Name": "Widget",
        "ProductCode": "SKU-1",
        "IsActive": False,
        "NetSuite_Item_ID__c": "201",
    }


def test_field_ownership_refuses_target_owned_fields() -> None:
    assert_owned("salesforce.Order", "netsuite", {"Id": "801A", "Tracking_Number__c": "1Z"})
    with pytest.raises(OwnershipError, match="EffectiveDate"):
        assert_owned("salesforce.Order", "netsuite", {"Id": "801A", "EffectiveDate": "2026-01-01"})
    with pytest.raises(OwnershipError, match="NetSuite_Customer_ID__c"):
        assert_owned("salesforce.Account", "salesforce", {"NetSuite_Customer_ID__c": "1"})


def test_settings_from_environment_and_yaml(tmp_path, monkeypatch) -> None:
    config = tmp_path / "sync.yaml"
    config.write_text(
        "subsidiary_id: '3'\npayment_status:\n  Open: Outstanding\n  Paid In Full: Settled\n"
    )
    monkeypatch.setenv("O2C_SYNC_CONFIG", str(config))
    monkeypatch.setenv("O2C_NETSUITE_TIMEZONE", "Europe/Berlin")
    settings = SyncSettings.from_env()
    assert settings.subsidiary_id == "3" and settings.netsuite_timezone == "Europe/Berlin"
    assert (
        payment_fields({"id": 1, "status": "B", "foreignamountpaid": 5.0}, settings)[
            "Payment_Status__c"
        ]
        == "Settled"
    )
