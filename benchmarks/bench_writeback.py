"""Write-back benchmark (issue 12): sales orders written to NetSuite through the sync's own writer.

``--orders`` sales orders (default 2,000) for the world's customers and items go through
:func:`o2c_pipeline.sync.writers.write_netsuite` (what every NetSuite flow writes with: parallel
senders under the account governor, retries of 429s, outcomes recorded in the sync store's
ledger and audit log) as upserts by external id. It runs in a worker process, as the pipeline
would; API calls and statuses come from the sandbox's counters.

Figures: the request rate achieved against the account's rate ceiling (target >= 90%), the 429s
the sandbox answered and the writes that failed (target 0 failures), the peak concurrency the
sandbox saw (<= the account limit), and exactly-once: NetSuite holds one sales order per external
id, the ledger one entry per write, and a second pass over the same requests sends nothing.

    .venv/bin/python benchmarks/bench_writeback.py [--scale small] [--orders 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from harness import Report, SandboxUnderTest, benchmark_parser, finish, sandbox_under_test

RATE_SHARE_TARGET = 0.90
FLOW = "bench_sales_orders"


# -- the worker: runs in its own process, against the sandbox's credentials ----------------------
def work(request: dict[str, Any]) -> dict[str, Any]:
    import dagster as dg

    from o2c_pipeline.resources.factory import build_resources
    from o2c_pipeline.sync.context import sync_context
    from o2c_pipeline.sync.deals import sales_order_body
    from o2c_pipeline.sync.run import FlowRun
    from o2c_pipeline.sync.writers import write_netsuite

    n, prefix = request["orders"], request["prefix"]
    with dg.build_resources(build_resources(dict(os.environ))) as live:
        ctx = sync_context(live.salesforce, live.netsuite, live.checkpoints)
        ns = ctx.netsuite
        customers = [
            r["id"]
            for page in ns.suiteql_pages(
                "SELECT id FROM customer WHERE isinactive = 'F' ORDER BY id"
            )
            for r in page
        ]
        items = [
            r["id"]
            for page in ns.suiteql_pages(
                "SELECT id FROM item WHERE isinactive = 'F' AND itemtype IN "
                "('InvtPart', 'NonInvtPart', 'Service') ORDER BY id"
            )
            for r in page
        ]

        def runner() -> FlowRun:
            return FlowRun(
                ctx,
                FLOW,
                source_system="salesforce",
                target_system="netsuite",
                target_object="salesOrder",
            )

        def pendings(run: FlowRun) -> list[Any]:
            out = []
            for i in range(n):
                eid = f"{prefix}{i:05d}"
                body = sales_order_body(
                    external_id=eid,
                    customer_internal_id=customers[i % len(customers)],
                    reference=f"bench {i}",
                    tran_date=None,
                    items=[{"item": {"id": items[i % len(items)]}, "quantity": 1 + i % 3}],
                    currency_id=None,
                )
                p = run.prepare(eid, {"salesOrder.externalId": eid}, lambda b=body: b)
                if p is not None and run.needs_write(p):
                    out.append(p)
            return out

        def send(p: Any) -> str:
            body = {k: v for k, v in p.payload.items() if k != "externalId"}
            return ns.upsert_record("salesOrder", p.payload["externalId"], body)

        first = runner()
        planned = pendings(first)
        first.load_ledger([p.source_id for p in planned])
        requests_before = ns.api_calls
        started = time.perf_counter()
        written = write_netsuite(first, planned, send, operation="upsert")
        seconds = time.perf_counter() - started
        stats = first.finish()
        calls = ns.api_calls - requests_before
        # the same requests again: the ledger knows every one, so nothing is sent
        second = runner()
        second.load_ledger([f"{prefix}{i:05d}" for i in range(n)])
        again = pendings(second)
        held = sum(
            int(r["n"])
            for page in ns.suiteql_pages(
                f"SELECT COUNT(*) AS n FROM transaction WHERE type = 'SalesOrd' "
                f"AND externalid LIKE '{prefix}%'"
            )
            for r in page
        )
        ledger = ctx.store.ledger(FLOW, [f"{prefix}{i:05d}" for i in range(n)])
        return {
            "planned": len(planned),
            "written": len(written),
            "failed": stats.failed,
            "seconds": seconds,
            "calls": calls,
            "held_in_netsuite": held,
            "ledger_entries": len(ledger),
            "distinct_targets": len({e.target_id for e in ledger.values()}),
            "second_pass_writes": len(again),
            "client_rate_limit": ns.rate_limit_per_s,
            "client_concurrency_limit": ns.concurrency_limit,
            "client_peak_in_flight": ns.governor.peak_in_flight,
        }


# -- the benchmark ---------------------------------------------------------------------------------
def run_worker(sut: SandboxUnderTest, scratch: Path, request: dict[str, Any], extra: list[str]):
    scratch.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env |= sut.env | {
        "O2C_WAREHOUSE": str(scratch / "warehouse.duckdb"),
        "O2C_CHECKPOINT_URL": f"sqlite:///{scratch / 'checkpoints.sqlite'}",
    }
    env |= dict(pair.split("=", 1) for pair in extra)
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        subprocess.run(
            [sys.executable, __file__, "--worker", out.name],
            input=json.dumps(request),
            text=True,
            env=env,
            check=True,
        )
        return json.loads(Path(out.name).read_text())


def build_parser() -> argparse.ArgumentParser:
    parser = benchmark_parser(__doc__, scale="small")
    parser.add_argument("--orders", type=int, default=2000, help="Sales orders to write.")
    return parser


def run(args: argparse.Namespace) -> int:
    report = Report("writeback")
    with sandbox_under_test(args) as sut:
        scratch = sut.state_dir / "bench_writeback"
        request = {"orders": args.orders, "prefix": f"BENCH_SO_{uuid.uuid4().hex[:8]}_"}
        sut.reset_counters()
        answer = run_worker(sut, scratch, request, args.pipeline_env)
        counters = sut.counters()
        statuses = counters["statuses"].get("netsuite", {})
        ceiling = answer["client_rate_limit"]
        rate = answer["calls"] / answer["seconds"]
        report.add(
            "sales orders written",
            answer["written"],
            target=f"{args.orders:,}",
            passed=answer["written"] == args.orders,
        )
        report.add("write phase wall time", answer["seconds"], "s")
        report.add(
            "NetSuite requests / s (write phase)",
            rate,
            "req/s",
            note=f"{answer['calls']:,} requests for {answer['planned']:,} upserts",
        )
        report.add(
            "share of the rate ceiling",
            rate / ceiling,
            "x",
            target=f">= {RATE_SHARE_TARGET} (ceiling {ceiling:g} req/s, the account's rate)",
            passed=rate / ceiling >= RATE_SHARE_TARGET,
        )
        report.add(
            "429 answers from the sandbox",
            int(statuses.get("429", 0)),
            note="each retried by the client",
        )
        report.add("writes failed", answer["failed"], target="0", passed=answer["failed"] == 0)
        limit = args.ns_concurrency
        report.add(
            "peak concurrency seen by the sandbox",
            counters["netsuite_peak_concurrency"],
            target=f"<= {limit} (client {answer['client_concurrency_limit']})",
            passed=counters["netsuite_peak_concurrency"] <= limit,
        )
        once = (
            answer["held_in_netsuite"] == args.orders
            and answer["ledger_entries"] == args.orders
            and answer["distinct_targets"] == args.orders
        )
        report.add(
            "exactly once: sales orders in NetSuite / ledger entries",
            f"{answer['held_in_netsuite']:,} / {answer['ledger_entries']:,}",
            target=f"{args.orders:,} / {args.orders:,}, distinct targets",
            passed=once,
        )
        report.add(
            "second pass over the same requests: writes",
            answer["second_pass_writes"],
            target="0",
            passed=answer["second_pass_writes"] == 0,
        )
        report.details["writeback"] = {"answer": answer, "counters": counters}
        return finish(report, args, sut)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        Path(argv[1]).write_text(json.dumps(work(json.load(sys.stdin))))
        return 0
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
