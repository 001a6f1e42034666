"""SalesforceResource against the sandbox over HTTPS with simple-salesforce 1.12."""

from __future__ import annotations

import logging
import time
import uuid

import pyarrow as pa
import pytest

from o2c_pipeline.resources.errors import ApiError
from o2c_pipeline.salesforce.errors import SalesforceApiError, SalesforceAuthError
from o2c_pipeline_tests.resources.conftest import salesforce_for


@pytest.mark.parametrize("flow", ["jwt", "client_credentials", "password"])
def test_each_auth_flow_logs_in_and_queries(sandbox_env, flow):
    sf = salesforce_for(sandbox_env, flow)
    assert sf.count("Account") > 0
    assert sf.client().base_url.endswith("/services/data/v62.0/")
    assert sf.api_calls == 1  # the COUNT() query; a login, if one was needed, is an auth call


def test_wrong_credentials_fail_without_secrets(sandbox_env, caplog):
    caplog.set_level(logging.DEBUG)
    sf = salesforce_for(
        sandbox_env, "password", password="not-the-password-123", client_secret="not-the-secret-456"
    )
    with pytest.raises(SalesforceAuthError) as err:
        sf.count("Account")
    assert err.value.status in (400, 401)
    assert err.value.error_code in ("invalid_grant", "invalid_client")
    for secret in ("not-the-password-123", "not-the-secret-456"):
        assert secret not in str(err.value) + repr(err.value) + caplog.text + repr(sf)


def test_query_pages_follow_next_records_url(salesforce):
    total = salesforce.count("Contact")
    pages = list(salesforce.query_pages("SELECT Id, Account.Name FROM Contact", batch_size=200))
    rows = [row for page in pages for row in page]
    assert len(rows) == total and len(pages) == -(-total // 200) and total > 200
    assert len({row["Id"] for row in rows}) == total
    assert "attributes" not in rows[0]
    assert rows[0]["Account"] is None or "attributes" not in rows[0]["Account"]


def test_bulk_query_frames_return_all_rows(salesforce):
    total = salesforce.count("Account", include_deleted=True)
    tables = list(
        salesforce.bulk_query_frames(
            "SELECT Id, Name, IsDeleted, SystemModstamp FROM Account",
            include_deleted=True,
            max_records=100,
        )
    )
    table = pa.concat_tables(tables)
    assert table.num_rows == total and len(tables) == -(-total // 100)
    assert table.column_names == ["Id", "Name", "IsDeleted", "SystemModstamp"]
    assert all(field.type == pa.string() for field in table.schema)
    assert len(set(table.column("Id").to_pylist())) == total


def test_composite_upsert_creates_then_updates(salesforce):
    skus = [f"TEST-{uuid.uuid4().hex[:10]}" for _ in range(205)]  # two chunks
    records = [{"NetSuite_Item_ID__c": sku, "Name": f"Widget {sku}"} for sku in skus]
    first = salesforce.composite_upsert("Product2", "NetSuite_Item_ID__c", records)
    assert len(first) == 205 and all(r["success"] and r["created"] for r in first)
    renamed = [{**r, "Name": r["Name"] + " v2"} for r in records]
    second = salesforce.composite_upsert("Product2", "NetSuite_Item_ID__c", renamed)
    assert [r["id"] for r in second] == [r["id"] for r in first]
    assert not any(r["created"] for r in second)
    names = {
        row["Name"]
        for page in salesforce.query_pages(
            f"SELECT Name FROM Product2 WHERE NetSuite_Item_ID__c = '{skus[0]}'"
        )
        for row in page
    }
    assert names == {f"Widget {skus[0]} v2"}


def test_composite_reports_record_errors_per_record(salesforce):
    results = salesforce.composite_update(
        [{"Id": "001000000000000AAA", "Name": "Nobody"}], sobject="Account"
    )
    assert len(results) == 1 and results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"]


def test_data_errors_raise_with_the_code_and_no_secrets(salesforce, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SalesforceApiError) as err:
        list(salesforce.query_pages("SELECT NoSuchField__c FROM Account"))
    assert err.value.status == 400 and err.value.error_code == "INVALID_FIELD"
    assert not err.value.transient
    assert isinstance(err.value, ApiError) and "NoSuchField__c" in err.value.reason  # one shape
    token = salesforce.client().session_id
    for text in (str(err.value), repr(err.value), caplog.text, repr(salesforce)):
        assert token not in text and sandbox_secret(salesforce) not in text


def sandbox_secret(sf) -> str:
    with open(sf.private_key_file, encoding="utf-8") as handle:
        return handle.read().splitlines()[1]  # a line of the private key


def test_expired_session_logs_in_again_transparently(sandbox_env, sandbox):
    sandbox.knobs.update({"sf_session_ttl_s": 1.0})
    with open(sandbox_env["SALESFORCE_PRIVATE_KEY_FILE"], encoding="utf-8") as handle:
        # the key as text rather than a file: a login of its own, so its token gets the short TTL
        sf = salesforce_for(sandbox_env, "jwt", private_key=handle.read(), private_key_file=None)
    assert sf.count("Account") > 0
    old_token = sf.client().session_id
    time.sleep(1.2)
    rows = [r for page in sf.query_pages("SELECT Id FROM Product2", batch_size=200) for r in page]
    assert rows
    assert sf.client().session_id != old_token


def _faults(sandbox, kind: str) -> int:
    return sandbox.ctx.counters.snapshot()["calls"].get("salesforce", {}).get(f"fault_{kind}", 0)


@pytest.mark.parametrize(
    "knob", ["fault_session_expiry_rate", "fault_429_rate", "fault_503_rate", "fault_reset_rate"]
)
def test_transient_faults_are_retried(salesforce, sandbox, knob):
    kind = {
        "fault_session_expiry_rate": "session",
        "fault_429_rate": "429",
        "fault_503_rate": "503",
        "fault_reset_rate": "reset",
    }[knob]
    total = salesforce.count("Contact")
    faults_before = _faults(sandbox, kind)
    sandbox.knobs.update({knob: 0.3})
    for _ in range(15):  # until the retry path has surely been taken
        rows = [
            r
            for page in salesforce.query_pages("SELECT Id FROM Contact", batch_size=200)
            for r in page
        ]
        assert len(rows) == total
        if _faults(sandbox, kind) - faults_before >= 2:
            break
    sandbox.knobs.update({knob: 0.0})
    assert _faults(sandbox, kind) - faults_before >= 2


def test_bulk_upsert_returns_successes_and_failures(salesforce):
    sku = f"TEST-{uuid.uuid4().hex[:10]}"
    records = [
        {"NetSuite_Item_ID__c": sku, "Name": "Bulk widget", "Description": None},
        {"NetSuite_Item_ID__c": sku + "-2", "Name": ""},  # Name is required: a row error
    ]
    ok, failed = salesforce.bulk_upsert("Product2", "NetSuite_Item_ID__c", records)
    assert [row["NetSuite_Item_ID__c"] for row in ok] == [sku]
    assert ok[0]["sf__Created"] == "true" and ok[0]["sf__Id"]
    assert [row["NetSuite_Item_ID__c"] for row in failed] == [sku + "-2"]
    assert failed[0]["sf__Error"]
