"""Load benchmark (issue 3): full loads of every entity from both systems through the pipeline's
Dagster assets, then a delta run with nothing changed, and a Salesforce REST-vs-Bulk comparison.

Each load is one Dagster run over the sources' whole history (single-run backfill), executed by
:mod:`pipeline_worker` in its own process; API calls come from the sandbox's admin counters and the
materializations' metadata, peak memory is the worker's RSS high-water mark.

Targets (``large`` world, 100 ms latency, NetSuite limits 5 concurrent / 10 requests/s):
- NetSuite: API calls within 5% of ceil(rows/1000); wall time within 1.25x of the bound the limits
  set (pages / allowed requests per second).
- Salesforce: >= 1,000,000 OrderItem rows through Bulk API 2.0; a REST figure for comparison.
- Delta run with nothing changed: at most one API call per entity, under 10 s for all entities.
- Peak RSS under 1 GiB for each million-row load; DuckDB load rate in rows/s.

    .venv/bin/python benchmarks/bench_load.py [--scale large] [--rest-days 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import shutil
import sys
from typing import Any

from harness import PipelineRun, Report, SandboxUnderTest, benchmark_parser, measure, run_pipeline

from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.partitions import open_partition_key

SUITEQL_PAGE = 1000
CALLS_TOLERANCE = 0.05
#: wall time / rate bound, per scale (issue 12); small is informative
WALL_TOLERANCE = {"medium": 1.15, "large": 1.10}
DELTA_BUDGET_S = 10.0
RSS_BUDGET_BYTES = 1 << 30
MILLION = 1_000_000
NEVER_BULK = 10**12  # bulk_threshold_rows that keeps every Salesforce load on the REST path
MIB = 1 << 20


def tables(system: str) -> list[str]:
    return [e.table for e in ENTITIES if e.system == system]


def history_start(args: argparse.Namespace) -> str | None:
    """First partition of the full loads: the sources' earliest (None) unless ``--history-days``."""
    if args.history_days <= 0:
        return None
    return (
        dt.date.fromisoformat(open_partition_key()) - dt.timedelta(days=args.history_days)
    ).isoformat()


def figure(run: PipelineRun, table: str, name: str) -> Any:
    return run.assets.get(table, {}).get(name)


def load_rate(run: PipelineRun, system: str) -> float:
    """Rows committed to DuckDB per second of commit (the step's time after fetching)."""
    assets = run.of(system).values()
    rows = sum(m["rows"] for m in assets)
    commit_s = sum(m["seconds"] - m["fetch_seconds"] for m in assets)
    return rows / commit_s if commit_s else float("nan")


def add_run_basics(
    report: Report, run: PipelineRun, system: str, label: str, *, million: bool
) -> None:
    report.add(f"{label}: run succeeded", run.success, target="True", passed=run.success)
    report.add(f"{label}: rows", sum(m["rows"] for m in run.of(system).values()))
    report.add(f"{label}: wall time", run.seconds, "s")
    report.add(
        f"{label}: sandbox API calls",
        run.counters["totals"].get(system, 0),
        note=f"by family: {run.counters['calls'].get(system, {})}; statuses: "
        f"{run.counters['statuses'].get(system, {})}",
    )
    rss_mib = run.max_rss_bytes / MIB
    report.add(
        f"{label}: pipeline peak RSS",
        rss_mib,
        "MiB",
        target="< 1024 MiB" if million else "",
        passed=run.max_rss_bytes < RSS_BUDGET_BYTES if million else None,
    )
    report.add(f"{label}: DuckDB load rate", load_rate(run, system), "rows/s")
    report.details[label] = {
        "seconds": run.seconds,
        "start": run.start,
        "end": run.end,
        "host_load_average": run.load_average,
        "max_rss_bytes": run.max_rss_bytes,
        "counters": run.counters,
        "assets": run.assets,
        "log": run.log,
    }


def full_load(
    sut: SandboxUnderTest, args: argparse.Namespace, warehouse: Any, system: str
) -> PipelineRun:
    """One run over the whole history of ``system``'s entities."""
    return run_pipeline(
        sut,
        warehouse,
        label=f"{system}_full",
        entities=tables(system),
        start=history_start(args),
        extra_env=args.pipeline_env,
    )


def netsuite_full_load(
    report: Report, sut: SandboxUnderTest, args: argparse.Namespace, warehouse: Any
) -> PipelineRun:
    run = full_load(sut, args, warehouse, "netsuite")
    label = "NetSuite full load"
    lines = figure(run, "netsuite.sales_order_lines", "rows") or 0
    add_run_basics(report, run, "netsuite", label, million=lines >= MILLION)
    ideal_total = 0
    for table, meta in sorted(run.of("netsuite").items()):
        ideal = math.ceil(meta["rows"] / SUITEQL_PAGE)
        ideal_total += ideal
        judged = table == "netsuite.sales_order_lines"
        limit = math.floor(ideal * (1 + CALLS_TOLERANCE))
        report.add(
            f"{table}: API calls ({meta['rows']:,} rows)",
            meta["api_calls"],
            target=f"<= {limit:,} (ceil(rows/1000) {ideal:,} +5%)"
            if judged
            else f"ideal {ideal:,}",
            passed=meta["api_calls"] <= limit if judged else None,
        )
    calls = run.counters["totals"].get("netsuite", 0)
    limit = math.floor(ideal_total * (1 + CALLS_TOLERANCE))
    report.add(
        f"{label}: API calls, all entities",
        calls,
        target=f"<= {limit:,} (sum of ceil(rows/1000) {ideal_total:,} +5%)",
        passed=calls <= limit,
    )
    bound = ideal_total / args.ns_rate
    tolerance = WALL_TOLERANCE.get(args.scale)
    report.add(
        f"{label}: wall time / rate bound",
        run.seconds / bound,
        "x",
        target=f"<= {tolerance} (bound {bound:.1f} s = {ideal_total:,} pages / {args.ns_rate}/s)"
        if tolerance
        else f"bound {bound:.1f} s = {ideal_total:,} pages / {args.ns_rate}/s",
        passed=run.seconds <= bound * tolerance if tolerance else None,
    )
    # where the time goes: the fetch (every entity at once in one step) against the bound of the
    # requests actually sent, then what the run spends after the last page
    fetch_span = max((m.get("fetch_seconds") or 0.0) for m in run.of("netsuite").values())
    report.add(
        f"{label}: fetch span / request bound",
        fetch_span / (calls / args.ns_rate),
        "x",
        note=f"last page at {fetch_span:.1f} s of the step; {calls:,} requests / {args.ns_rate}/s "
        f"= {calls / args.ns_rate:.1f} s ({calls - ideal_total:,} beyond the pages: catalog, "
        f"column probes, deletedrecord); after it: {run.seconds - fetch_span:.1f} s of commits, "
        f"per-partition events and run set-up; pipeline CPU {run.cpu_seconds:.1f} s",
    )
    report.add(
        f"{label}: achieved request rate",
        calls / run.seconds,
        "req/s",
        note=f"peak NetSuite concurrency seen by the sandbox: {run.counters['netsuite_peak_concurrency']}",
    )
    return run


def salesforce_full_load(
    report: Report, sut: SandboxUnderTest, args: argparse.Namespace, warehouse: Any
) -> PipelineRun:
    run = full_load(sut, args, warehouse, "salesforce")
    label = "Salesforce full load"
    items = run.assets.get("salesforce.order_items", {})
    rows = items.get("rows", 0)
    large = args.scale == "large"
    add_run_basics(report, run, "salesforce", label, million=rows >= MILLION)
    report.add(
        "salesforce.order_items: rows",
        rows,
        target=f">= {MILLION:,}" if large else "",
        passed=rows >= MILLION if large else None,
    )
    report.add(
        "salesforce.order_items: path",
        items.get("path"),
        target="bulk" if large else "",
        passed=items.get("path") == "bulk" if large else None,
    )
    report.add("salesforce.order_items: seconds", items.get("seconds"), "s")
    report.add(
        "salesforce.order_items: rows/s (fetch + commit)",
        rows / items["seconds"] if rows else 0.0,
        "rows/s",
    )
    report.add("salesforce.order_items: API calls", items.get("api_calls"))
    for table, meta in sorted(run.of("salesforce").items()):
        report.details.setdefault("salesforce_paths", {})[table] = meta.get("path")
    return run


def delta_run(
    report: Report, sut: SandboxUnderTest, args: argparse.Namespace, warehouse: Any
) -> PipelineRun:
    """Every entity's open partition after full loads, with nothing changed at the source."""
    today = open_partition_key()
    run = run_pipeline(
        sut,
        warehouse,
        label="delta",
        entities=[e.table for e in ENTITIES],
        start=today,
        end=today,
        extra_env=args.pipeline_env,
    )
    report.add("delta run: succeeded", run.success, target="True", passed=run.success)
    report.add(
        "delta run: wall time, all entities",
        run.seconds,
        "s",
        target=f"< {DELTA_BUDGET_S:g} s",
        passed=run.seconds < DELTA_BUDGET_S,
    )
    calls = {table: meta["api_calls"] for table, meta in sorted(run.assets.items())}
    over = {t: c for t, c in calls.items() if c > 1}
    report.add(
        "delta run: most API calls for one entity",
        max(calls.values(), default=0),
        target="<= 1",
        passed=not over,
        note=f"over one call: {over}" if over else "",
    )
    report.add(
        "delta run: sandbox API calls",
        run.counters["totals"],
        note=f"modes: {sorted({m.get('mode') for m in run.assets.values()})}",
    )
    report.details["delta"] = {
        "seconds": run.seconds,
        "host_load_average": run.load_average,
        "calls": calls,
        "counters": run.counters,
        "assets": run.assets,
        "log": run.log,
    }
    return run


def salesforce_paths(
    report: Report, sut: SandboxUnderTest, args: argparse.Namespace, warehouse: Any
) -> None:
    """OrderItem over the last ``--rest-days`` days through REST and through Bulk 2.0."""
    today = dt.date.fromisoformat(open_partition_key())
    start = None if args.rest_days <= 0 else (today - dt.timedelta(days=args.rest_days)).isoformat()
    span = "whole history" if start is None else f"last {args.rest_days} days"
    for path, threshold in (("REST", NEVER_BULK), ("Bulk 2.0", 0)):
        scratch = warehouse / path.replace(" ", "_")
        shutil.rmtree(scratch, ignore_errors=True)
        run = run_pipeline(
            sut,
            scratch,
            label=f"order_items_{path}",
            entities=["salesforce.order_items"],
            start=start,
            end=today.isoformat(),
            config={"bulk_threshold_rows": threshold},
            extra_env=args.pipeline_env,
        )
        meta = run.assets["salesforce.order_items"]
        label = f"order_items via {path} ({span})"
        report.add(f"{label}: rows", meta["rows"])
        report.add(
            f"{label}: fetch rows/s",
            meta["rows"] / meta["fetch_seconds"],
            "rows/s",
            note=f"{meta['fetch_seconds']:.1f} s fetching, {meta['api_calls']} API calls, path {meta['path']}",
        )
        report.details[label] = {
            "run_seconds": run.seconds,
            "metadata": meta,
            "counters": run.counters,
        }


def build_parser() -> argparse.ArgumentParser:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--systems", default="netsuite,salesforce", help="Which full loads to run.")
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="Full loads cover only the last N days (default 0: the sources' whole history).",
    )
    parser.add_argument(
        "--skip-delta", action="store_true", help="No delta run after the full loads."
    )
    parser.add_argument(
        "--rest-days",
        type=int,
        default=7,
        help="Days of OrderItem history for the REST vs Bulk comparison (0: whole history; -1: skip).",
    )
    return parser


def measure_loads(args: argparse.Namespace, sut: SandboxUnderTest, report: Report) -> None:
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    warehouse = sut.state_dir / "bench_load"
    shutil.rmtree(warehouse, ignore_errors=True)  # every benchmark starts from an empty warehouse
    if "netsuite" in systems:
        netsuite_full_load(report, sut, args, warehouse)
    if "salesforce" in systems:
        salesforce_full_load(report, sut, args, warehouse)
    if not args.skip_delta and set(systems) == {"netsuite", "salesforce"}:
        delta_run(report, sut, args, warehouse)
    if args.rest_days >= 0:
        salesforce_paths(report, sut, args, warehouse / "paths")


def run(args: argparse.Namespace) -> int:
    return measure(args, "load", measure_loads)


if __name__ == "__main__":
    sys.exit(run(build_parser().parse_args()))
