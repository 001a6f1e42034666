"""Every benchmark in turn (``make bench``): the sandbox's own figures, the pipeline's loads, then
the warehouse commit on DuckDB and PostgreSQL.

Any flag of ``bench_sandbox.py``, ``bench_load.py`` or ``bench_runs.py`` may be given (see their ``--help``); each
script takes the ones it knows. Results accumulate in ``benchmarks/results/latest.json``; the exit
status is 0 only if every target was met.

    .venv/bin/python benchmarks/run_all.py [--scale large] [--latency-ms 100] [--only sandbox,load,runs,warehouse]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from types import ModuleType

import bench_load
import bench_runs
import bench_sandbox
import bench_warehouse
import bench_writeback

BENCHMARKS: dict[str, ModuleType] = {
    "sandbox": bench_sandbox,
    "load": bench_load,
    "runs": bench_runs,
    "warehouse": bench_warehouse,
    "writeback": bench_writeback,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    selector = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    selector.add_argument(
        "--only", default=",".join(BENCHMARKS), help="Benchmarks to run, comma-separated."
    )
    chosen, rest = selector.parse_known_args(argv)
    names = [n.strip() for n in chosen.only.split(",") if n.strip()]
    parsed: dict[str, argparse.Namespace] = {}
    unknown_everywhere: set[str] | None = None
    for name in names:
        args, unknown = BENCHMARKS[name].build_parser().parse_known_args(rest)
        parsed[name] = args
        flags = {u for u in unknown if u.startswith("-")}
        unknown_everywhere = flags if unknown_everywhere is None else unknown_everywhere & flags
    if unknown_everywhere:
        selector.error(f"unrecognized arguments: {' '.join(sorted(unknown_everywhere))}")
    statuses: dict[str, int] = {}
    for name in names:
        started = time.perf_counter()
        print(f"\n### {name} benchmark", flush=True)
        statuses[name] = BENCHMARKS[name].run(parsed[name])
        print(f"### {name}: {time.perf_counter() - started:.0f} s", flush=True)
    results_path = next(iter(parsed.values())).results if parsed else None
    results = json.loads(results_path.read_text()) if results_path and results_path.exists() else {}
    print(
        "\nsummary: "
        + ", ".join(
            f"{name} {'PASS' if results.get(name, {}).get('passed') else 'FAIL'}"
            for name in statuses
        ),
        flush=True,
    )
    return 1 if any(statuses.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
