"""Side by side with the peers users would otherwise pick, on the same sandbox world, latency and
limits, in one run: dlt's verified Salesforce source on Account, Contact and Product2, and
Airbyte's NetSuite connector (``airbyte-source-netsuite``) on customers, sales orders and invoices.

For each side: API calls (the sandbox's counters, reset before each side), the wall time of the
whole process (interpreter start to exit: what a user waits for), rows, and the row-set
comparison (ids missing on either side). Each peer runs in a virtualenv of its own (``benchmarks/.peers/<peer>``,
created on first use from ``peers/<peer>.txt``: their pins cannot share one), pointed at the sandbox
by base URL / instance URL and CA bundle only.

dlt's Salesforce source is not on PyPI (``dlt init salesforce duckdb`` copies it into a project);
give its folder with ``--dlt-source`` or ``O2C_DLT_SALESFORCE_SOURCE``.

Targets: ours faster than dlt's source at every scale measured; against Airbyte's NetSuite
connector >= 100x fewer calls, >= 10x faster, no record missing.

    .venv/bin/python benchmarks/bench_peers.py --scale small [--only salesforce|netsuite]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from harness import (
    BENCH_DIR,
    PipelineRun,
    Report,
    SandboxUnderTest,
    benchmark_parser,
    measure,
    run_pipeline,
    timed_process,
)

from o2c_pipeline.partitions import open_partition_key

PEERS_DIR = BENCH_DIR / "peers"
PEERS_VENVS = BENCH_DIR / ".peers"
DEFAULT_DLT_SOURCE = BENCH_DIR.parent.parent / "shared" / "peers" / "dlt-salesforce"
FEWER_CALLS = 100
FASTER = 10


@dataclass(frozen=True)
class Side:
    """One system side by side with a peer: our warehouse tables against the peer's names."""

    system: str  # the sandbox counters' system, the figures' prefix and the work folder
    peer: str  # its virtualenv (from peers/<peer>.txt), work folder and details key
    script: str  # its runner in peers/, which prints its answer as JSON on its last line
    key: str  # the id column of our tables
    pairs: tuple[tuple[str, str], ...]  # (our warehouse table, the peer's resource / stream)


#: dlt resource names of the Salesforce objects Account, Contact and Product2
DLT = Side(
    "salesforce",
    "dlt",
    "dlt_salesforce.py",
    "Id",
    (
        ("salesforce.accounts", "account"),
        ("salesforce.contacts", "contact"),
        ("salesforce.products", "product_2"),
    ),
)
#: Airbyte streams are NetSuite record types
AIRBYTE = Side(
    "netsuite",
    "airbyte",
    "airbyte_netsuite.py",
    "id",
    (
        ("netsuite.customers", "customer"),
        ("netsuite.sales_orders", "salesorder"),
        ("netsuite.invoices", "invoice"),
    ),
)


def peer_python(peer: str) -> Path:
    """The interpreter of ``peer``'s virtualenv, installing it on first use (about a minute)."""
    venv = PEERS_VENVS / peer
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    requirements = PEERS_DIR / f"{peer}.txt"
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        print(f"installing {peer} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        with (venv / "pip.log").open("w") as log:
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        stamp.write_text(requirements.read_text())
    return python


def run_peer(
    sut: SandboxUnderTest, side: Side, arguments: list[str], workdir: Path
) -> dict[str, Any]:
    """The peer's process (its virtualenv installed first), timed whole; its answer plus the
    sandbox's counters over it."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "REQUESTS_CA_BUNDLE": sut.ca_bundle, "SSL_CERT_FILE": sut.ca_bundle}
    log = workdir / f"{Path(side.script).stem}.log"
    command = [str(peer_python(side.peer)), str(PEERS_DIR / side.script), *arguments]
    done = timed_process(sut, command, env=env, cwd=workdir, log=log)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return {**answer, "process_seconds": done.seconds, "counters": done.counters, "log": str(log)}


def live_ids(warehouse: Path, table: str, key: str) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema, name = table.split(".")
        rows = con.execute(f'SELECT CAST("{key}" AS VARCHAR) FROM {schema}."{name}_current"')
        return sorted(r[0] for r in rows.fetchall())


def deleted_ids(warehouse: Path, table: str, key: str) -> set[str]:
    """Records the source reports deleted (Salesforce's recycle bin, NetSuite's deletedrecord)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema, name = table.split(".")
        rows = con.execute(
            f'SELECT DISTINCT CAST("{key}" AS VARCHAR) FROM {schema}."{name}" WHERE _deleted'
        )
        return {r[0] for r in rows.fetchall()}


def history_window(sut: SandboxUnderTest) -> tuple[str, str]:
    """The world's whole history as partition keys, found without an API call."""
    start = sut.world_history_start()
    return start.date().isoformat(), open_partition_key()


def run_sides(
    sut: SandboxUnderTest, side: Side, work: Path, start: str, end: str, peer_arguments: list[str]
) -> tuple[PipelineRun, dict[str, Any]]:
    """Ours, then the peer, each from nothing in ``work``, over ``[start, end]``."""
    shutil.rmtree(work, ignore_errors=True)
    ours = run_pipeline(
        sut,
        work / "ours",
        label=f"ours-{side.system}",
        entities=[table for table, _ in side.pairs],
        start=start,
        end=end,
    )
    return ours, run_peer(sut, side, peer_arguments, work / side.peer)


def compare(
    report: Report, side: Side, work: Path, ours: PipelineRun, theirs: dict[str, Any]
) -> None:
    """Row-set figures per table (ids missing on either side; records deleted at the source
    need not be in ours), and both sides' details."""
    warehouse = work / "ours" / "warehouse.duckdb"
    for table, name in side.pairs:
        mine, other = set(live_ids(warehouse, table, side.key)), set(theirs["ids"].get(name, []))
        deleted = deleted_ids(warehouse, table, side.key)
        missing_here = sorted(other - mine - deleted)
        missing_there = sorted(mine - other)
        prefix = f"{side.system} {table}"
        report.add(f"{prefix} rows (ours / peer)", f"{len(mine):,} / {len(other):,}")
        report.add(
            f"{prefix} missing from ours",
            len(missing_here),
            target="0",
            passed=not missing_here,
            note=f"e.g. {missing_here[:3]}" if missing_here else "",
        )
        extra_deleted = len(other & deleted)
        report.add(
            f"{prefix} missing from {name}",
            len(missing_there),
            note=(f"{extra_deleted} deleted records the peer still holds" if extra_deleted else ""),
        )
    report.details[side.system] = {
        "ours": {
            "process_seconds": ours.process_seconds,
            "run_seconds": ours.seconds,
            "calls": ours.counters,
        },
        side.peer: {k: v for k, v in theirs.items() if k != "ids"},
    }


def salesforce_side(args: argparse.Namespace, sut: SandboxUnderTest, report: Report) -> None:
    source = Path(
        args.dlt_source or os.environ.get("O2C_DLT_SALESFORCE_SOURCE") or DEFAULT_DLT_SOURCE
    )
    if not (source / "__init__.py").exists():
        report.add("salesforce vs dlt", "skipped", note=f"no dlt Salesforce source at {source}")
        return
    work = args.workdir / DLT.system
    start, end = history_window(sut)
    ours, theirs = run_sides(
        sut,
        DLT,
        work,
        start,
        end,
        [
            "--source-dir",
            str(source),
            "--login-url",
            sut.sf_url,
            "--client-id",
            sut.env["SALESFORCE_CLIENT_ID"],
            "--client-secret",
            sut.env["SALESFORCE_CLIENT_SECRET"],
            "--objects",
            ",".join(name for _, name in DLT.pairs),
            "--workdir",
            str(work / DLT.peer),
        ],
    )
    our_calls = ours.counters["totals"].get("salesforce", 0)
    their_calls = theirs["counters"]["totals"].get("salesforce", 0)
    report.add("salesforce API calls (ours / dlt)", f"{our_calls} / {their_calls}")
    report.add(
        "salesforce process wall (ours / dlt)",
        f"{ours.process_seconds:.2f} / {theirs['process_seconds']:.2f}",
        "s",
        target="ours < dlt",
        passed=ours.process_seconds < theirs["process_seconds"],
        note=f"ours: run {ours.seconds:.2f} s inside the process",
    )
    compare(report, DLT, work, ours, theirs)


def netsuite_side(args: argparse.Namespace, sut: SandboxUnderTest, report: Report) -> None:
    env = sut.env
    start, end = history_window(sut)
    work = args.workdir / AIRBYTE.system
    ours, theirs = run_sides(
        sut,
        AIRBYTE,
        work,
        start,
        end,
        [
            "--base-url",
            env["NETSUITE_BASE_URL"],
            "--realm",
            env["NETSUITE_ACCOUNT_ID"],
            "--consumer-key",
            env["NETSUITE_CONSUMER_KEY"],
            "--consumer-secret",
            env["NETSUITE_CONSUMER_SECRET"],
            "--token-key",
            env["NETSUITE_TOKEN_ID"],
            "--token-secret",
            env["NETSUITE_TOKEN_SECRET"],
            "--objects",
            ",".join(name for _, name in AIRBYTE.pairs),
            "--start",
            f"{start}T00:00:00Z",
        ],
    )
    our_calls = ours.counters["totals"].get("netsuite", 0)
    their_calls = theirs["counters"]["totals"].get("netsuite", 0)
    ratio = their_calls / max(1, our_calls)
    report.add(
        "netsuite API calls (ours / airbyte)",
        f"{our_calls:,} / {their_calls:,}",
        target=f">= {FEWER_CALLS}x fewer",
        passed=ratio >= FEWER_CALLS,
        note=f"{ratio:,.0f}x fewer",
    )
    speedup = theirs["process_seconds"] / max(ours.process_seconds, 1e-9)
    report.add(
        "netsuite process wall (ours / airbyte)",
        f"{ours.process_seconds:.1f} / {theirs['process_seconds']:.1f}",
        "s",
        target=f">= {FASTER}x faster",
        passed=speedup >= FASTER,
        note=f"{speedup:,.1f}x faster",
    )
    compare(report, AIRBYTE, work, ours, theirs)


def build_parser() -> argparse.ArgumentParser:
    parser = benchmark_parser(
        __doc__,
        scale="small",
        workdir=BENCH_DIR / ".state" / "peers",
        workdir_help="Warehouses and logs of both sides.",
    )
    parser.add_argument(
        "--only", choices=["salesforce", "netsuite"], default=None, help="One side only."
    )
    parser.add_argument(
        "--dlt-source", default=None, help="dlt's sources/salesforce folder (see the module doc)."
    )
    return parser


def compare_peers(args: argparse.Namespace, sut: SandboxUnderTest, report: Report) -> None:
    if args.only in (None, "salesforce"):
        salesforce_side(args, sut, report)
    if args.only in (None, "netsuite"):
        netsuite_side(args, sut, report)
    report.details["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run(args: argparse.Namespace) -> int:
    return measure(args, f"peers_{args.scale}", compare_peers)


if __name__ == "__main__":
    sys.exit(run(build_parser().parse_args()))
