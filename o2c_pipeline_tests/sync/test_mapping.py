"""Field mapping and configuration: pure functions, no network."""

from __future__ import annotations

import datetime as dt

import pytest

from o2c_pipeline.sync.config import OwnershipError, SyncSettings, assert_owned
from o2c_pipeline.sync.countries import netsuite_country, netsuite_enums
from o2c_pipeline.sync.mapping import (
    DataError,
    OrderLine,
    account_date,
    customer_body,
    customer_row_view,
    customer_view,
    invoice_fields,
    order_status_fields,
    payment_fields,
    product_fields,
    sales_order_body,
    same_where_known,
    split_street,
)

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
    assert body["subsidiary"] == {"id": "1"}
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


def _order(**extra: object) -> dict:
    return {"Id": "801A", "OrderNumber": "00000042", "EffectiveDate": dt.date(2026, 3, 1), **extra}


def test_sales_order_body_lines_by_item_external_id_and_no_totals() -> None:
    lines = [OrderLine("802A", "SKU-1", 2.0, 10.5), OrderLine("802B", "SKU-2", 1.0, None)]
    body = sales_order_body(
        _order(),
        lines,
        customer_internal_id="77",
        active_skus={"SKU-1", "SKU-2"},
        known_skus={"SKU-1", "SKU-2"},
        settings=SETTINGS,
    )
    assert body == {
        "externalId": "SF_ORDER_801A",
        "entity": {"id": "77"},
        "otherRefNum": "00000042",
        "tranDate": "2026-03-01",
        "item": {
            "items": [
                {"item": {"externalId": "SKU-1"}, "quantity": 2.0, "rate": 10.5},
                {"item": {"externalId": "SKU-2"}, "quantity": 1.0},
            ]
        },
    }


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (OrderLine("802A", "SKU-404", 1.0, 1.0), "UNKNOWN_SKU"),
        (OrderLine("802A", "SKU-OLD", 1.0, 1.0), "INACTIVE_SKU"),
        (OrderLine("802A", "SKU-1", -3.0, 1.0), "NEGATIVE_QUANTITY"),
        (OrderLine("802A", None, 1.0, 1.0), "MISSING_SKU"),
    ],
)
def test_sales_order_validation_gives_readable_reasons(line: OrderLine, code: str) -> None:
    with pytest.raises(DataError) as err:
        sales_order_body(
            _order(),
            [line],
            customer_internal_id="77",
            active_skus={"SKU-1"},
            known_skus={"SKU-1", "SKU-OLD"},
            settings=SETTINGS,
        )
    assert err.value.code == code
    assert "Order 00000042" in err.value.reason


def test_tran_date_is_the_calendar_date_in_the_account_time_zone() -> None:
    late_utc = dt.datetime(2026, 3, 1, 23, 30)
    assert account_date(late_utc, "Asia/Tokyo") == "2026-03-02"
    assert account_date(late_utc, "America/Los_Angeles") == "2026-03-01"
    assert account_date("2026-03-01T02:00:00Z", "America/New_York") == "2026-02-28"
    assert account_date(dt.date(2026, 3, 1), "Asia/Tokyo") == "2026-03-01"  # a date is a date
    body = sales_order_body(
        _order(EffectiveDate=None, ActivatedDate=late_utc),
        [OrderLine("802A", "SKU-1", 1.0, 1.0)],
        customer_internal_id="1",
        active_skus={"SKU-1"},
        known_skus={"SKU-1"},
        settings=SyncSettings(netsuite_timezone="Asia/Tokyo"),
    )
    assert body["tranDate"] == "2026-03-02"


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
