"""Run benchmark (issue 12): what a user waits for, end to end, as a user runs it.

Every figure is a whole process (interpreter start to exit) on a real Dagster instance
(``DAGSTER_HOME`` with the project's ``dagster.yaml``: SQLite, batched asset events), against the
sandbox with the flags' latency and NetSuite limits, each from an empty warehouse:

- the start date found once (``python -m o2c_pipeline.history``); the runs below start there;
- ``o2c run --history --extract-only`` against an all-partitions backfill of the extract assets
  (``dagster asset materialize --partition-range <first>...<last>``: the UI's backfill, one run);
- ``o2c run --history`` (extract and sync) against the API floor its sandbox counters imply: the
  NetSuite account's limits are the binding ones (Salesforce overlaps), a 60-second sliding
  window of ``rate x 60`` requests and the concurrency limit, so N calls need at least
  ``max(N x latency / concurrency, floor((N - 1) / (rate x 60)) x 60 s + latency)``. Measure it
  on a world no run has synced yet (``--rebuild``, or a new ``--state-dir``), as a user's first
  run is: on a synced one the sync writes nothing and the floor is a few seconds;
- a delta run with nothing changed (``o2c run --extract-only``, every entity): calls and wall,
  after one delta has read back what the history run's sync wrote to both systems;
- where the seconds of the history run go (its event log): process start to run start (imports,
  pre-flight, definitions, planned events), fetching, committing and recording, checks, the rest.

Targets: backfill <= 2x history; history <= 1.3x floor; delta <= 1 call per entity, <= 5 s.

    .venv/bin/python benchmarks/bench_runs.py --scale small [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from pathlib import Path

from harness import (
    BENCH_DIR,
    Report,
    SandboxUnderTest,
    TimedProcess,
    benchmark_parser,
    measure,
    timed_process,
)

from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.partitions import open_partition_key

BACKFILL_FACTOR = 2.0
FLOOR_FACTOR = 1.3
DELTA_WALL_S = 5.0
DAGSTER_YAML = BENCH_DIR.parent / "dagster.yaml"
BIN = Path(sys.executable).parent


def workspace(root: Path, name: str, sut: SandboxUnderTest, start: str | None) -> dict[str, str]:
    """A fresh warehouse, checkpoint store and Dagster home; the process environment for it."""
    folder = root / name
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "dagster_home").mkdir(parents=True)
    shutil.copy(DAGSTER_YAML, folder / "dagster_home" / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("O2C_", "DAGSTER_"))}
    env |= sut.env | {
        "O2C_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "O2C_CHECKPOINT_URL": f"sqlite:///{folder / 'checkpoints.sqlite'}",
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "PYTHONWARNINGS": "ignore",
    }
    if start:
        env["O2C_START_DATE"] = start
    return env


def timed(sut: SandboxUnderTest, env: dict[str, str], *command: str) -> TimedProcess:
    """One process, run from the project's folder, timed whole with the sandbox's counters."""
    return timed_process(sut, list(command), env=env, cwd=BENCH_DIR.parent)


def add_ratio(report: Report, name: str, ratio: float, limit: float) -> None:
    """``ratio`` (to two places) judged against at most ``limit`` times."""
    report.add(name, round(ratio, 2), "x", target=f"<= {limit}x", passed=ratio <= limit)


def netsuite_floor(calls: int, rate: float, concurrency: int, latency_s: float) -> float:
    """The least time ``calls`` NetSuite requests take under the account's limits: never more
    than ``concurrency`` at once, never more than ``rate x 60`` in any 60 seconds."""
    if calls <= 0:
        return 0.0
    per_window = max(1, int(rate * 60))
    windows_waited = (calls - 1) // per_window
    return max(calls * latency_s / concurrency, windows_waited * 60.0 + latency_s)


def calls(result: TimedProcess, system: str | None = None) -> int:
    totals = result.counters["totals"]
    return int(totals.get(system, 0) if system else sum(totals.values()))


def breakdown(dagster_home: str, process_seconds: float) -> dict[str, float]:
    """Where a run's seconds went, from its event log (the newest run of ``dagster_home``)."""
    os.environ["DAGSTER_HOME"] = dagster_home
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.all_logs(run.run_id)
        created = records[0].timestamp
        starts: dict[str, float] = {}
        parts = {"fetch": 0.0, "commit_and_record": 0.0, "checks": 0.0}
        run_start = run_end = created
        for record in records:
            event = record.dagster_event
            if event is None:
                continue
            kind, step = event.event_type_value, event.step_key or ""
            if kind == "PIPELINE_START":
                run_start = record.timestamp
            elif kind in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE"):
                run_end = record.timestamp
            elif kind == "STEP_START":
                starts[step] = record.timestamp
            elif kind == "STEP_OUTPUT" and not step.endswith("_checks") and step in starts:
                parts["fetch"] += record.timestamp - starts.pop(step)
                starts[f"{step}/out"] = record.timestamp
            elif kind == "HANDLED_OUTPUT" and f"{step}/out" in starts:
                parts["commit_and_record"] += record.timestamp - starts.pop(f"{step}/out")
            elif kind == "STEP_SUCCESS" and step.endswith("_checks") and step in starts:
                parts["checks"] += record.timestamp - starts.pop(step)
    in_run = run_end - run_start
    return {
        "outside the run (start, imports, pre-flight; summary, exit)": round(
            process_seconds - (run_end - created), 2
        ),
        "planned_events_and_run_start": round(run_start - created, 2),
        "fetch (steps, serial sum)": round(parts["fetch"], 2),
        "commit + per-partition events": round(parts["commit_and_record"], 2),
        "checks": round(parts["checks"], 2),
        "step launch, sync and the rest": round(in_run - sum(parts.values()), 2),
        "run": round(in_run, 2),
    }


def measure_runs(args: argparse.Namespace, sut: SandboxUnderTest, report: Report) -> None:
    root = args.workdir
    o2c, dagster = str(BIN / "o2c"), str(BIN / "dagster")
    env = workspace(root, "discover", sut, None)
    found = timed(sut, env, sys.executable, "-m", "o2c_pipeline.history")
    start = found.stdout.strip().splitlines()[-1]
    today = open_partition_key()
    days = (dt.date.fromisoformat(today) - dt.date.fromisoformat(start)).days + 1
    report.add("start date found (once, recorded)", start, note=f"{days} daily partitions")
    report.add("  discovery calls / wall", f"{calls(found)} / {found.seconds:.1f} s")

    env = workspace(root, "import", sut, start)
    imported = timed(sut, env, sys.executable, "-c", "import o2c_pipeline.definitions")
    report.add("code location import (process)", imported.seconds, "s")

    env = workspace(root, "history_extract", sut, start)
    history_x = timed(sut, env, o2c, "run", "--history", "--extract-only", "--no-progress")
    report.add("o2c run --history --extract-only", history_x.seconds, "s")

    env = workspace(root, "backfill", sut, start)
    backfill = timed(
        sut, env, dagster, "asset", "materialize", "-m", "o2c_pipeline.definitions",
        "--select", "tag:o2c/layer=extract", "--partition-range", f"{start}...{today}",
    )  # fmt: skip
    ratio = backfill.seconds / history_x.seconds
    report.add(
        f"all-partitions backfill ({days} days, dagster asset materialize)",
        backfill.seconds,
        "s",
    )
    add_ratio(report, "  backfill / history", ratio, BACKFILL_FACTOR)

    env = workspace(root, "history", sut, start)
    history = timed(sut, env, o2c, "run", "--history", "--no-progress")
    ns_calls = calls(history, "netsuite")
    floor = netsuite_floor(ns_calls, args.ns_rate, args.ns_concurrency, args.latency_ms / 1000)
    ratio = history.seconds / floor if floor else float("inf")
    report.add("o2c run --history", history.seconds, "s")
    report.add(
        "  API floor (NetSuite's window and concurrency)",
        round(floor, 1),
        "s",
        note=f"{ns_calls} NetSuite, {calls(history, 'salesforce')} Salesforce calls",
    )
    add_ratio(report, "  history / floor", ratio, FLOOR_FACTOR)
    report.details["history_breakdown_s"] = parts = breakdown(env["DAGSTER_HOME"], history.seconds)
    for name, seconds in parts.items():
        report.add(f"  where: {name}", seconds, "s")

    # the first delta after a sync reads back what the sync itself wrote (new NetSuite records,
    # NetSuite ids on Salesforce records): changes, not "nothing changed"; the next one is quiet
    settle = timed(sut, env, o2c, "run", "--extract-only", "--no-progress")
    report.add(
        "delta after the sync (reads back its writes)",
        settle.seconds,
        "s",
        note=f"{calls(settle)} calls",
    )
    delta = timed(sut, env, o2c, "run", "--extract-only", "--no-progress")
    per_entity = calls(delta) / len(ENTITIES)
    report.add(
        "delta, nothing changed: calls per entity",
        round(per_entity, 2),
        target="<= 1",
        passed=per_entity <= 1,
        note=f"{calls(delta)} calls, {len(ENTITIES)} entities",
    )
    report.add(
        "delta, nothing changed: wall",
        delta.seconds,
        "s",
        target=f"<= {DELTA_WALL_S:.0f} s",
        passed=delta.seconds <= DELTA_WALL_S,
    )
    report.details["delta_breakdown_s"] = breakdown(env["DAGSTER_HOME"], delta.seconds)


def build_parser() -> argparse.ArgumentParser:
    return benchmark_parser(
        __doc__,
        scale="small",
        workdir=BENCH_DIR / ".work" / "runs",
        workdir_help="Where each measured run keeps its warehouse and Dagster home.",
    )


def run(args: argparse.Namespace) -> int:
    return measure(args, "runs", measure_runs)


if __name__ == "__main__":
    sys.exit(run(build_parser().parse_args()))
