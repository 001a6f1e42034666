"""NetSuite governance: the account-wide concurrency limit and the frequency limit, both 429."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from netsuite.exceptions import NetsuiteAPIRequestError

from o2c_sandbox.core import Knobs
from o2c_sandbox_tests.clients.netsuite_pypi import netsuite_rest_api
from o2c_sandbox_tests.netsuite_client import NetSuiteClient, error_code


def admin(sandbox, path: str, method: str = "GET") -> dict:
    response = requests.request(
        method, f"{sandbox.ns_url}/__sandbox__/{path}", verify=str(sandbox.ca_path), timeout=30
    )
    response.raise_for_status()
    return response.json()


def test_concurrency_limit_refuses_at_once_without_queuing(sandbox):
    sandbox.knobs.update({"ns_concurrency_limit": 2, "latency_ms": 300.0, "ns_rate_limit": 100_000})
    admin(sandbox, "counters/reset", "POST")

    def call(_: int) -> tuple[int, str | None, float]:
        client = NetSuiteClient(sandbox)
        started = time.perf_counter()
        response = client.get("customer", params={"limit": 1})
        code = error_code(response) if response.status_code != 200 else None
        return response.status_code, code, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(call, range(6)))
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 429}
    assert 1 <= statuses.count(200) <= 2, results
    refused = [(code, elapsed) for status, code, elapsed in results if status == 429]
    assert refused and all(code == "CONCURRENCY_LIMIT_EXCEEDED" for code, _ in refused)
    assert all(elapsed < 0.25 for _, elapsed in refused), (
        refused
    )  # refused at once, not after latency
    assert admin(sandbox, "counters")["netsuite_peak_concurrency"] <= 2
    # refused requests held no slot: the next request is admitted
    assert NetSuiteClient(sandbox).get("customer", params={"limit": 1}).status_code == 200


def test_frequency_limit_answers_429_with_retry_after(sandbox):
    sandbox.knobs.update({"ns_rate_limit": 5, "ns_rate_window_s": 1.0})
    time.sleep(1.05)  # let earlier tests' requests leave the window
    client = NetSuiteClient(sandbox)
    responses = [client.get("customer", params={"limit": 1}) for _ in range(8)]
    statuses = [r.status_code for r in responses]
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:], statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert error_code(refused) == "REQUEST_LIMIT_EXCEEDED" and refused.json()["status"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 1
    time.sleep(1.05)
    assert client.get("customer", params={"limit": 1}).status_code == 200


def test_limits_follow_knob_changes_at_run_time(sandbox):
    sandbox.knobs.update({"ns_rate_limit": 100_000})
    client = NetSuiteClient(sandbox)
    assert client.get("customer", params={"limit": 1}).status_code == 200
    sandbox.knobs.update({"ns_concurrency_limit": 0})  # clamps to 1: a lone request still passes
    assert client.get("customer", params={"limit": 1}).status_code == 200


def test_default_model_lets_a_client_under_the_concurrency_limit_burst(
    private_sandbox, monkeypatch
):
    """Defaults: 5 concurrent, 10/s sustained over 60 s. The ``netsuite`` package with 5
    concurrent requests sends 150 requests in a few seconds (well above 10/s for that moment)
    and meets no 429: a 1-second window of 10 would refuse most of them."""
    box = private_sandbox
    assert (box.knobs.ns_concurrency_limit, box.knobs.ns_rate_limit) == (5, 10)
    assert box.knobs.ns_rate_window_s == Knobs().ns_rate_window_s == 60.0
    box.knobs.update({"latency_ms": 10.0})
    api = netsuite_rest_api(box, monkeypatch, concurrent_requests=5)
    admin(box, "counters/reset", "POST")

    async def burst() -> list[dict]:
        return await asyncio.gather(
            *(api.get("/record/v1/customer", params={"limit": 1}) for _ in range(150))
        )

    started = time.perf_counter()
    pages = asyncio.run(burst())
    elapsed = time.perf_counter() - started
    assert all(page["count"] == 1 for page in pages)
    counters = admin(box, "counters")
    assert counters["statuses"]["netsuite"] == {"200": 150}
    assert counters["netsuite_peak_concurrency"] <= 5
    assert 150 / elapsed > 10  # faster than the sustained rate: the window absorbed the burst


def test_sustained_rate_over_the_window_is_refused_with_retry_after(private_sandbox, monkeypatch):
    """1 request/s over 60 s: 60 requests pass at once, the 61st is refused with 429
    REQUEST_LIMIT_EXCEEDED (in NetSuite's error shape) and a Retry-After within the window."""
    box = private_sandbox
    box.knobs.update({"ns_rate_limit": 1})
    api = netsuite_rest_api(box, monkeypatch)

    async def sixty() -> list[dict]:
        return [await api.get("/record/v1/customer", params={"limit": 1}) for _ in range(60)]

    assert len(asyncio.run(sixty())) == 60
    refused = asyncio.run(api.request("GET", "/record/v1/customer"))
    assert refused.status_code == 429
    body = refused.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["o:errorDetails"][0]["o:errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    try:
        asyncio.run(api.get("/record/v1/customer"))
    except NetsuiteAPIRequestError as exc:  # what the package raises on a non-2xx answer
        assert exc.status_code == 429
    else:
        raise AssertionError("the 62nd request within the window was admitted")
