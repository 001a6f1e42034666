"""NetSuiteResource against the sandbox over HTTPS with requests + OAuth1 (HMAC-SHA256)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from o2c_pipeline.netsuite.resource import NetSuiteApiError, NetSuiteResource
from o2c_pipeline.resources.errors import ApiError
from o2c_pipeline_tests.resources.conftest import netsuite_for, sandbox_admin


def _customer_count(netsuite: NetSuiteResource) -> int:
    return int(netsuite.suiteql_page("SELECT COUNT(*) AS n FROM customer")["items"][0]["n"])


def test_suiteql_pages_reach_the_last_row(netsuite):
    total = _customer_count(netsuite)
    assert total > 120, "the small world should have enough customers to page"
    before = netsuite.api_calls
    pages = list(
        netsuite.suiteql_pages("SELECT id, companyname FROM customer ORDER BY id", page_size=50)
    )
    rows = [row for page in pages for row in page]
    assert len(rows) == total
    assert len({row["id"] for row in rows}) == total
    assert all("links" not in row for row in rows)
    assert [len(p) for p in pages[:-1]] == [50] * (len(pages) - 1)
    assert netsuite.api_calls - before == len(pages)


def test_suiteql_page_is_the_raw_answer(netsuite):
    page = netsuite.suiteql_page("SELECT id FROM customer ORDER BY id", limit=5, offset=5)
    assert page["count"] == 5 and page["offset"] == 5 and page["hasMore"] is True
    assert page["totalResults"] == _customer_count(netsuite)


def test_create_upsert_get_update_delete(netsuite):
    some_id = netsuite.suiteql_page("SELECT id FROM customer", limit=1)["items"][0]["id"]
    subsidiary = netsuite.get_record("customer", some_id)["subsidiary"]["id"]
    name = f"Resource Test {uuid.uuid4().hex[:8]}"
    new_id = netsuite.create_record(
        "customer", {"companyName": name, "subsidiary": {"id": str(subsidiary)}}
    )
    assert new_id.isdigit()
    assert netsuite.get_record("customer", new_id)["companyName"] == name

    eid = f"SF_ACCT_TEST{uuid.uuid4().hex[:10]}"
    body = {"companyName": name + " U", "subsidiary": {"id": str(subsidiary)}}
    upserted = netsuite.upsert_record("customer", eid, body)
    assert netsuite.upsert_record("customer", eid, body) == upserted  # second time: same record
    record = netsuite.get_record("customer", f"eid:{eid}")
    assert record["id"] == upserted and record["externalId"] == eid

    netsuite.update_record("customer", upserted, {"companyName": name + " V"})
    assert netsuite.get_record("customer", upserted)["companyName"] == name + " V"
    netsuite.delete_record("customer", upserted)
    with pytest.raises(NetSuiteApiError) as err:
        netsuite.get_record("customer", upserted)
    assert err.value.status == 404 and err.value.error_code == "NONEXISTENT_ID"
    assert isinstance(err.value, ApiError) and not err.value.transient and err.value.reason
    assert err.value.request and err.value.request.startswith("GET record/v1/customer/")


def test_data_errors_raise_with_the_code_and_no_secrets(netsuite, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NetSuiteApiError) as err:
        netsuite.suiteql_page("SELECT nosuchcolumn FROM customer")
    assert err.value.status == 400 and not err.value.transient
    assert err.value.error_code and err.value.error_code != "HTTP_400"
    with pytest.raises(NetSuiteApiError) as missing:
        netsuite.create_record("customer", {"email": "nobody@example.com"})
    assert missing.value.error_code == "USER_ERROR"
    texts = [str(err.value), repr(err.value), str(missing.value), caplog.text, repr(netsuite)]
    for secret in (netsuite.consumer_secret, netsuite.token_secret):
        assert all(secret not in text for text in texts)
    assert "OAuth realm" not in caplog.text, "the Authorization header must not be logged"
    assert "Signature: ***" in caplog.text or "oauthlib" not in caplog.text


def test_bad_credentials_are_invalid_login_without_secrets(sandbox_env, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = netsuite_for(sandbox_env, token_secret="wrong-token-secret-value")
    with pytest.raises(NetSuiteApiError) as err:
        wrong.suiteql_page("SELECT id FROM customer")
    assert err.value.status == 401 and err.value.error_code == "INVALID_LOGIN"
    assert "wrong-token-secret-value" not in str(err.value) + caplog.text


def _faults(sandbox, kind: str) -> int:
    return sandbox.ctx.counters.snapshot()["calls"].get("netsuite", {}).get(f"fault_{kind}", 0)


@pytest.mark.parametrize("kind", ["429", "503", "reset"])
def test_transient_faults_are_retried(netsuite, sandbox, kind):
    total = _customer_count(netsuite)
    first_id = netsuite.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1)["items"][0][
        "id"
    ]
    before = _faults(sandbox, kind)
    sandbox.knobs.update({f"fault_{kind}_rate": 0.3})
    for _ in range(10):  # until the retry path has surely been taken
        pages = list(netsuite.suiteql_pages("SELECT id FROM customer ORDER BY id", page_size=100))
        assert sum(len(p) for p in pages) == total
        assert netsuite.get_record("customer", first_id)["id"] == first_id
        if _faults(sandbox, kind) - before >= 2:
            break
    sandbox.knobs.update({f"fault_{kind}_rate": 0.0})
    assert _faults(sandbox, kind) - before >= 2


def test_client_limits_keep_the_account_out_of_429s(sandbox_env, sandbox):
    sandbox.knobs.update({"latency_ms": 30, "ns_concurrency_limit": 5, "ns_rate_limit": 40})
    sandbox_admin(sandbox, "POST", "counters/reset")
    # the client is set a little under the account's 40/s (as in production, where other
    # integrations share the account); unthrottled, 20 threads would send ~150 requests/s
    limited = netsuite_for(sandbox_env, concurrency_limit=5, rate_limit_per_s=32.0, max_retries=0)
    ids = [row["id"] for row in limited.suiteql_page("SELECT id FROM customer", limit=60)["items"]]
    with ThreadPoolExecutor(max_workers=20) as pool:
        records = list(pool.map(lambda i: limited.get_record("customer", i), ids))
    counters = sandbox_admin(sandbox, "GET", "counters")
    assert [r["id"] for r in records] == ids
    assert counters["netsuite_peak_concurrency"] <= 5
    assert "429" not in counters["statuses"].get("netsuite", {})
    assert limited.governor.peak_in_flight == 5  # the gate was actually exercised


def test_a_hung_request_is_given_up_at_the_read_timeout_and_retried(sandbox_env, sandbox):
    """The sandbox holds the request well past the client's 1 s read timeout (the knob says the
    client waits 4 s); the client gives up at its own timeout and the retry is answered."""
    sandbox.knobs.update({"client_read_timeout_s": 4.0, "fault_timeout_rate": 1.0})
    netsuite = netsuite_for(sandbox_env, read_timeout_s=1.0)
    before = _faults(sandbox, "timeout")

    def end_the_fault_after_one() -> None:
        deadline = time.monotonic() + 10
        while _faults(sandbox, "timeout") == before and time.monotonic() < deadline:
            time.sleep(0.02)
        sandbox.knobs.update({"fault_timeout_rate": 0.0})

    watcher = threading.Thread(target=end_the_fault_after_one)
    watcher.start()
    started = time.perf_counter()
    page = netsuite.suiteql_page("SELECT id FROM customer ORDER BY id", limit=1)
    elapsed = time.perf_counter() - started
    watcher.join()
    assert page["count"] == 1
    assert _faults(sandbox, "timeout") - before == 1
    assert netsuite.api_calls == 2  # the hung attempt and its retry
    assert 1.0 <= elapsed < 3.0, elapsed  # gave up at 1 s, long before the sandbox's drop
