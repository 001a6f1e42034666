"""SuiteQL latency on the large world (>= 1M transaction lines): totalResults plus one 1000-row page
well under 50 ms. Slow: builds its own large world."""

from __future__ import annotations

import time

import pytest

from o2c_sandbox.core import Knobs
from o2c_sandbox.runner import Sandbox
from o2c_sandbox_tests.netsuite_client import NetSuiteClient

PAGE_BUDGET_MS = 50.0
QUERIES = [
    "SELECT tl.transaction, tl.id, tl.item, tl.quantity, tl.netamount, tl.linelastmodifieddate "
    "FROM transactionline tl ORDER BY tl.transaction, tl.id",
    "SELECT t.id, t.tranid, t.type, t.status, t.entity, t.foreigntotal, t.lastmodifieddate "
    "FROM transaction t WHERE t.lastmodifieddate > TO_DATE('2000-01-01', 'YYYY-MM-DD') ORDER BY t.id",
]


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    box = Sandbox(
        state_dir=tmp_path_factory.mktemp("large"),
        scale="large",
        seed=7,
        sf_port=0,
        ns_port=0,
        knobs=Knobs(ns_rate_limit=100_000),
    )
    box.start()
    yield box
    box.stop()


@pytest.mark.slow
@pytest.mark.parametrize("query", QUERIES, ids=["transactionline", "transaction"])
def test_page_with_total_results_is_served_under_budget(large, query):
    client = NetSuiteClient(large)
    total = client.suiteql("SELECT COUNT(*) AS n FROM transactionline").json()["items"][0]["n"]
    assert int(total) >= 1_000_000
    client.suiteql(query, limit=1000, offset=0)  # warm the connection and the translation cache
    # best of three per page: the budget is about the server's work, not a busy CI neighbour
    timings = {}
    for offset in (0, 1000, 50_000, 99_000):
        attempts = []
        for _ in range(3):
            started = time.perf_counter()
            response = client.suiteql(query, limit=1000, offset=offset)
            attempts.append((time.perf_counter() - started) * 1000)
            body = response.json()
            assert response.status_code == 200 and body["count"] == 1000
            assert body["totalResults"] > 100_000
        timings[offset] = min(attempts)
    assert max(timings.values()) < PAGE_BUDGET_MS, timings
