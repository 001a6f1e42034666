"""Sandbox benchmark (issue 2): world build time and row counts, and how fast a 1000-row SuiteQL
page is served, measured client-side with the pipeline's own NetSuite client.

Targets: the ``large`` world builds in under 2 minutes on 2 cores and holds >= 1,000,000
OrderItem rows and NetSuite transaction lines; a 1000-row SuiteQL page is served in under 50 ms
plus the configured latency (median and p95, at each latency given).

    .venv/bin/python benchmarks/bench_sandbox.py [--scale large] [--page-latencies 0,100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable

from harness import Report, SandboxUnderTest, benchmark_parser, finish, sandbox_under_test

from o2c_pipeline.entities import entity
from o2c_pipeline.extract.windows import Window
from o2c_pipeline.netsuite import paging
from o2c_pipeline.netsuite.queries import records_query as suiteql_records_query
from o2c_pipeline.netsuite.resource import NetSuiteResource

BUILD_BUDGET_S = 120.0
PAGE_BUDGET_MS = 50.0
PAGE_ROWS = 1000
MIN_LARGE_ROWS = 1_000_000
#: a plain offset-paged query over every transaction line (the ceiling allows offsets < 100,000)
OFFSET_QUERY = (
    "SELECT tl.uniquekey, tl.transaction, tl.id, tl.item, tl.quantity, tl.netamount, "
    "tl.linelastmodifieddate FROM transactionline tl ORDER BY tl.uniquekey"
)
SUITEQL_CEILING = 100_000
UNTHROTTLED_RATE = 100_000  # while timing single pages, neither side's rate limiter may add waits


def netsuite_client(sut: SandboxUnderTest) -> NetSuiteResource:
    """The pipeline's NetSuite resource (requests + OAuth1 HMAC-SHA256), unthrottled client-side."""
    env = sut.env
    return NetSuiteResource(
        account_id=env["NETSUITE_ACCOUNT_ID"],
        base_url=env["NETSUITE_BASE_URL"],
        consumer_key=env["NETSUITE_CONSUMER_KEY"],
        consumer_secret=env["NETSUITE_CONSUMER_SECRET"],
        token_id=env["NETSUITE_TOKEN_ID"],
        token_secret=env["NETSUITE_TOKEN_SECRET"],
        ca_bundle=env["O2C_CA_BUNDLE"],
        rate_limit_per_s=UNTHROTTLED_RATE,
    )


def timed(fetch: Callable[[], int], samples: int) -> list[float]:
    """Milliseconds per call of ``fetch`` (which returns the rows it got; each must be a full page)."""
    fetch()  # warm the connection and the server's query translation
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        rows = fetch()
        timings.append((time.perf_counter() - started) * 1000)
        if rows != PAGE_ROWS:
            raise RuntimeError(f"expected a full page of {PAGE_ROWS} rows, got {rows}")
    return timings


def offset_pages(client: NetSuiteResource, samples: int) -> Callable[[], int]:
    """Full offset pages spread over the reachable rows (at most 100,000), in scattered order."""
    total = int(client.suiteql_page(OFFSET_QUERY, limit=1, offset=0)["totalResults"])
    full_pages = min(total, SUITEQL_CEILING) // PAGE_ROWS
    offsets = [(i * 7919 % full_pages) * PAGE_ROWS for i in range(samples + 1)]

    def fetch() -> int:
        return len(
            client.suiteql_page(OFFSET_QUERY, limit=PAGE_ROWS, offset=offsets.pop())["items"]
        )

    return fetch


def keyset_pages(client: NetSuiteResource) -> Callable[[], int]:
    """The pipeline's own full-history query for sales order lines, paged by key as it pages it
    (starting over from the first key when the lines run out, so every timed page is full)."""
    lines = entity("netsuite.sales_order_lines")
    history = Window(
        dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    )
    query = suiteql_records_query(lines, history)
    pages = iter(())

    def fetch() -> int:
        nonlocal pages
        page = next(pages, None)
        if page is None or len(page) < PAGE_ROWS:
            pages = paging.keyset_pages(
                client, query, "tl.uniquekey", lines.key, page_size=PAGE_ROWS
            )
            page = next(pages)
        return len(page)

    return fetch


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def build_parser() -> argparse.ArgumentParser:
    parser = benchmark_parser(__doc__)
    parser.add_argument(
        "--samples", type=int, default=40, help="Pages timed per query and latency."
    )
    parser.add_argument(
        "--page-latencies", default="0,100", help="Sandbox latencies (ms) to time pages at."
    )
    return parser


def run(args: argparse.Namespace) -> int:
    report = Report("sandbox")
    with sandbox_under_test(args) as sut:
        stats = sut.stats()
        report.details["world_rows"] = stats
        if sut.build_seconds is None:
            report.add(
                "world build (not timed: built elsewhere)",
                "n/a",
                note="rerun with --rebuild to time a fresh build",
            )
        else:
            timed_when = "now" if sut.build_measured_now else f"recorded in {sut.state_dir.name}"
            report.add(
                f"{args.scale} world build",
                sut.build_seconds,
                "s",
                target=f"< {BUILD_BUDGET_S:.0f} s",
                passed=sut.build_seconds < BUILD_BUDGET_S,
                note=f"timed {timed_when} (--rebuild re-times)",
            )
        large = args.scale == "large"
        for label, rows in (
            ("sf.OrderItem rows", stats["sf"]["OrderItem"]),
            ("ns.transactionline rows", stats["ns"]["transactionline"]),
        ):
            report.add(
                label,
                rows,
                target=f">= {MIN_LARGE_ROWS:,}" if large else "",
                passed=rows >= MIN_LARGE_ROWS if large else None,
            )
        for name in ("Account", "Order", "Invoice__c"):
            report.add(f"sf.{name} rows", stats["sf"][name])
        for name in ("customer", "item", "transaction", "deletedrecord"):
            report.add(f"ns.{name} rows", stats["ns"][name])

        client = netsuite_client(sut)
        sut.set_knobs(ns_rate_limit=UNTHROTTLED_RATE)
        try:
            for latency in (float(x) for x in args.page_latencies.split(",")):
                sut.set_knobs(latency_ms=latency)
                budget = PAGE_BUDGET_MS + latency
                for query, fetch in (
                    ("offset", offset_pages(client, args.samples)),
                    ("keyset", keyset_pages(client)),
                ):
                    timings = timed(fetch, args.samples)
                    report.details[f"suiteql_{query}_page_ms_at_{latency:g}ms"] = [
                        round(t, 2) for t in timings
                    ]
                    for stat, value in (
                        ("median", statistics.median(timings)),
                        ("p95", percentile(timings, 0.95)),
                    ):
                        report.add(
                            f"SuiteQL {query} page, {latency:g} ms latency, {stat}",
                            value,
                            "ms",
                            target=f"< {budget:g} ms",
                            passed=value < budget,
                        )
        finally:
            sut.set_knobs(latency_ms=args.latency_ms, ns_rate_limit=args.ns_rate)
        return finish(report, args, sut)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
