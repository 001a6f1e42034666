"""The benchmark scripts still run: each is executed as a user would run it, at small scale with
tiny settings (own sandbox on ephemeral ports, results to a temporary file), and its JSON figures
are checked for substance. Targets are not judged here: small-scale figures mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from o2c_pipeline.entities import ENTITIES

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(script: str, tmp_path: Path, *flags: str) -> tuple[dict[str, Any], str]:
    """Run ``script`` on a small world; returns the saved results and the printed output."""
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / script),
            "--scale",
            "small",
            "--state-dir",
            str(tmp_path / "state"),
            "--latency-ms",
            "0",
            "--results",
            str(results),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    # exit 1 means "a target was missed", which a small world may; anything else is a crash
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return json.loads(results.read_text()), proc.stdout


def figures(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in section["figures"]}


def test_sandbox_benchmark_times_build_and_pages(tmp_path):
    results, printed = run_benchmark(
        "run_all.py", tmp_path, "--only", "sandbox", "--samples", "3", "--page-latencies", "0,20"
    )
    section = results["sandbox"]
    found = figures(section)
    assert "== sandbox ==" in printed and "summary: sandbox" in printed
    assert (
        0 < found["small world build"]["value"] < 120
        and found["small world build"]["passed"] is True
    )
    assert (
        found["sf.OrderItem rows"]["value"] == section["context"]["world"]["sf"]["OrderItem"] > 2000
    )
    for latency in ("0", "20"):
        for query in ("offset", "keyset"):
            timings = section["details"][f"suiteql_{query}_page_ms_at_{latency}ms"]
            assert len(timings) == 3 and all(t > int(latency) for t in timings)
            assert found[f"SuiteQL {query} page, {latency} ms latency, p95"]["passed"] in (
                True,
                False,
            )


@pytest.mark.slow  # ~20-50 s: a Dagster run in a worker process
def test_load_benchmark_netsuite_only(tmp_path):
    results, _ = run_benchmark(
        "bench_load.py",
        tmp_path,
        "--systems",
        "netsuite",
        "--history-days",
        "1",
        "--skip-delta",
        "--rest-days",
        "-1",
    )
    found = figures(results["load"])
    assert found["NetSuite full load: run succeeded"]["value"] is True
    calls = found["NetSuite full load: sandbox API calls"]["value"]
    assert calls > 0 and found["NetSuite full load: API calls, all entities"]["value"] == calls
    assert 0 < found["NetSuite full load: pipeline peak RSS"]["value"] < 4096  # MiB
    assets = results["load"]["details"]["NetSuite full load"]["assets"]
    assert set(assets) == {e.table for e in ENTITIES if e.system == "netsuite"}
    assert sum(m["api_calls"] for m in assets.values()) <= calls


@pytest.mark.slow
def test_load_benchmark_every_section(tmp_path):
    results, printed = run_benchmark(
        "bench_load.py", tmp_path, "--history-days", "2", "--rest-days", "2"
    )
    found = figures(results["load"])
    assert found["Salesforce full load: run succeeded"]["value"] is True
    assert found["salesforce.order_items: rows"]["value"] > 0
    assert found["delta run: succeeded"]["value"] is True
    delta_calls = results["load"]["details"]["delta"]["calls"]
    assert set(delta_calls) == {e.table for e in ENTITIES}
    rest = found["order_items via REST (last 2 days): rows"]["value"]
    assert rest == found["order_items via Bulk 2.0 (last 2 days): rows"]["value"]
    assert "delta run: wall time, all entities" in printed


def test_warehouse_benchmark_commits_on_both_backends(tmp_path):
    results = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_warehouse.py"), "--rows", "3000"]
        + ["--results", str(results)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    found = figures(json.loads(results.read_text())["warehouse"])
    assert found["duckdb: commit, empty table"]["value"] > 0
    assert "3,000 rows" in found["duckdb: commit, empty table"]["note"]
    assert found["duckdb: commit, re-run (all held)"]["note"].startswith("0 new versions")
    if "postgres skipped" not in proc.stdout:
        assert found["postgres: commit, re-run (all held)"]["note"].startswith("0 new versions")


def test_writeback_benchmark_writes_exactly_once(tmp_path):
    results, _ = run_benchmark("bench_writeback.py", tmp_path, "--orders", "20")
    found = figures(results["writeback"])
    assert found["sales orders written"]["value"] == 20
    assert found["writes failed"]["value"] == 0
    assert found["exactly once: sales orders in NetSuite / ledger entries"]["passed"] is True
    assert found["second pass over the same requests: writes"]["value"] == 0
