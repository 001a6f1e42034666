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
import time
from pathlib import Path
from typing import Any

import duckdb
from harness import (
    BENCH_DIR,
    Report,
    SandboxUnderTest,
    add_common_args,
    finish,
    run_pipeline,
    sandbox_under_test,
)

from o2c_pipeline.partitions import open_partition_key

PEERS_DIR = BENCH_DIR / "peers"
PEERS_VENVS = BENCH_DIR / ".peers"
DEFAULT_DLT_SOURCE = BENCH_DIR.parent.parent / "shared" / "peers" / "dlt-salesforce"

#: (our warehouse table, dlt resource name, Salesforce object)
SALESFORCE_PAIRS = (
    ("salesforce.accounts", "account", "Account"),
    ("salesforce.contacts", "contact", "Contact"),
    ("salesforce.products", "product_2", "Product2"),
)
#: (our warehouse table, Airbyte stream = NetSuite record type)
NETSUITE_PAIRS = (
    ("netsuite.customers", "customer"),
    ("netsuite.sales_orders", "salesorder"),
    ("netsuite.invoices", "invoice"),
)
FEWER_CALLS = 100
FASTER = 10


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
    sut: SandboxUnderTest, peer: str, script: str, arguments: list[str], workdir: Path
) -> dict[str, Any]:
    """One peer process, timed whole; its answer plus the sandbox's counters over it."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "REQUESTS_CA_BUNDLE": sut.ca_bundle, "SSL_CERT_FILE": sut.ca_bundle}
    log = workdir / f"{Path(script).stem}.log"
    sut.reset_counters()
    started = time.perf_counter()
    with log.open("w") as stderr:
        done = subprocess.run(
            [str(peer_python(peer)), str(PEERS_DIR / script), *arguments],
            capture_output=False,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
            cwd=workdir,
        )
    seconds = time.perf_counter() - started
    counters = sut.counters()
    if done.returncode != 0:
        raise SystemExit(f"{script} failed ({done.returncode}); see {log}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return {**answer, "process_seconds": seconds, "counters": counters, "log": str(log)}


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


def compare(
    report: Report,
    system: str,
    pairs: list[tuple[str, str, list[str], list[str], set[str]]],
) -> bool:
    """Row-set figures per table: ``(table, peer name, ours, theirs, deleted at the source)``."""
    complete = True
    for table, peer, ours, theirs, deleted in pairs:
        mine, other = set(ours), set(theirs)
        missing_here = sorted(other - mine - deleted)
        missing_there = sorted(mine - other)
        report.add(f"{system} {table} rows (ours / peer)", f"{len(mine):,} / {len(other):,}")
        report.add(
            f"{system} {table} missing from ours",
            len(missing_here),
            target="0",
            passed=not missing_here,
            note=f"e.g. {missing_here[:3]}" if missing_here else "",
        )
        extra_deleted = len(other & deleted)
        report.add(
            f"{system} {table} missing from {peer}",
            len(missing_there),
            note=(f"{extra_deleted} deleted records the peer still holds" if extra_deleted else ""),
        )
        complete &= not missing_there
    return complete


def salesforce_side(args: argparse.Namespace, sut: SandboxUnderTest, report: Report) -> None:
    source = Path(
        args.dlt_source or os.environ.get("O2C_DLT_SALESFORCE_SOURCE") or DEFAULT_DLT_SOURCE
    )
    if not (source / "__init__.py").exists():
        report.add("salesforce vs dlt", "skipped", note=f"no dlt Salesforce source at {source}")
        return
    work = args.workdir / "salesforce"
    shutil.rmtree(work, ignore_errors=True)
    start, end = history_window(sut)
    ours = run_pipeline(
        sut,
        work / "ours",
        label="ours-salesforce",
        entities=[table for table, _, _ in SALESFORCE_PAIRS],
        start=start,
        end=end,
    )
    theirs = run_peer(
        sut,
        "dlt",
        "dlt_salesforce.py",
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
            ",".join(peer for _, peer, _ in SALESFORCE_PAIRS),
            "--workdir",
            str(work / "dlt"),
        ],
        work / "dlt",
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
    warehouse = work / "ours" / "warehouse.duckdb"
    compare(
        report,
        "salesforce",
        [
            (
                table,
                peer,
                live_ids(warehouse, table, "Id"),
                theirs["ids"].get(peer, []),
                deleted_ids(warehouse, table, "Id"),
            )
            for table, peer, _ in SALESFORCE_PAIRS
        ],
    )
    report.details["salesforce"] = {
        "ours": {
            "process_seconds": ours.process_seconds,
            "run_seconds": ours.seconds,
            "calls": ours.counters,
        },
        "dlt": {k: v for k, v in theirs.items() if k != "ids"},
    }


def netsuite_side(args: argparse.Namespace, sut: SandboxUnderTest, report: Report) -> None:
    work = args.workdir / "netsuite"
    shutil.rmtree(work, ignore_errors=True)
    start, end = history_window(sut)
    ours = run_pipeline(
        sut,
        work / "ours",
        label="ours-netsuite",
        entities=[table for table, _ in NETSUITE_PAIRS],
        start=start,
        end=end,
    )
    env = sut.env
    theirs = run_peer(
        sut,
        "airbyte",
        "airbyte_netsuite.py",
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
            ",".join(peer for _, peer in NETSUITE_PAIRS),
            "--start",
            f"{start}T00:00:00Z",
        ],
        work / "airbyte",
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
    warehouse = work / "ours" / "warehouse.duckdb"
    compare(
        report,
        "netsuite",
        [
            (
                table,
                peer,
                live_ids(warehouse, table, "id"),
                theirs["ids"].get(peer, []),
                deleted_ids(warehouse, table, "id"),
            )
            for table, peer in NETSUITE_PAIRS
        ],
    )
    report.details["netsuite"] = {
        "ours": {
            "process_seconds": ours.process_seconds,
            "run_seconds": ours.seconds,
            "calls": ours.counters,
        },
        "airbyte": {k: v for k, v in theirs.items() if k != "ids"},
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.set_defaults(scale="small")
    parser.add_argument(
        "--only", choices=["salesforce", "netsuite"], default=None, help="One side only."
    )
    parser.add_argument(
        "--dlt-source", default=None, help="dlt's sources/salesforce folder (see the module doc)."
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=BENCH_DIR / ".state" / "peers",
        help="Warehouses and logs of both sides.",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    report = Report(f"peers_{args.scale}")
    with sandbox_under_test(args) as sut:
        if args.only in (None, "salesforce"):
            salesforce_side(args, sut, report)
        if args.only in (None, "netsuite"):
            netsuite_side(args, sut, report)
        report.details["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return finish(report, args, sut)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
