"""Run the pipeline's extraction assets for a partition range as one Dagster run, in this process,
and report what happened as JSON (used by the benchmarks, which launch it as a subprocess).

It goes through the same code a user's ``o2c run`` does: the definitions' resources built from the
environment (``resources.factory.build_resources``), the real extraction assets and warehouse IO manager, and
``o2c_pipeline.cli.run.execute`` (single run over the range). Input on stdin::

    {"entities": ["netsuite.customers", ...], "start": "2025-01-01" | null, "end": ... | null,
     "config": {ExtractConfig fields}, "reset_counters_url": "https://.../__sandbox__/counters/reset"}

``start: null`` is the sources' whole history (``earliest_partition``), ``end: null`` today.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import requests


def scalar_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The materialization's metadata values that are plain JSON (figures, not schemas)."""
    out: dict[str, Any] = {}
    for name, entry in metadata.items():
        value = getattr(entry, "value", entry)
        if isinstance(value, str | int | float | bool) or value is None:
            out[name] = value
    return out


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


def run(request: dict[str, Any]) -> dict[str, Any]:
    from o2c_pipeline.assets.extract import EXTRACT_ASSETS
    from o2c_pipeline.assets.partition_figures import merged_metadata
    from o2c_pipeline.cli.run import earliest_partition, execute, instance_for_run
    from o2c_pipeline.keys import name_of
    from o2c_pipeline.partitions import open_partition_key
    from o2c_pipeline.resources.factory import build_resources

    resources = dict(build_resources(check=False))
    wanted = set(request["entities"])
    keys = [k for a in EXTRACT_ASSETS for k in a.keys if name_of(k) in wanted]
    missing = wanted - {name_of(k) for k in keys}
    if missing:
        raise SystemExit(f"unknown entities: {', '.join(sorted(missing))}")
    selected = [a for a in EXTRACT_ASSETS if set(a.keys) & set(keys)]  # a step may hold several
    job = dg.define_asset_job("benchmark", selection=dg.AssetSelection.assets(*keys))
    job_def = dg.Definitions(
        assets=EXTRACT_ASSETS, jobs=[job], resources=resources
    ).resolve_job_def("benchmark")
    start = request.get("start") or earliest_partition(resources).isoformat()
    end = request.get("end") or open_partition_key()
    config = request.get("config") or {}
    run_config: dict[str, Any] = (
        {"ops": {a.op.name: {"config": config} for a in selected}} if config else {}
    )
    # as `o2c run` does by default: errors on the console (every event is still recorded)
    run_config["loggers"] = {"console": {"config": {"log_level": "ERROR"}}}
    if request.get("reset_counters_url"):  # planning above is not part of the measured run
        requests.post(
            request["reset_counters_url"], verify=os.environ.get("O2C_CA_BUNDLE"), timeout=60
        )
    started = time.perf_counter()
    with instance_for_run() as instance:  # as `o2c run` without DAGSTER_HOME
        result = execute(
            job_def, instance, start=start, end=end, run_config=run_config, progress=False
        )
        seconds = time.perf_counter() - started
        # one materialization per partition: the day's figures add up, the step's are once
        merged = merged_metadata(result.get_asset_materialization_events())
        assets: dict[str, dict[str, Any]] = {
            table: scalar_metadata(metadata) for table, metadata in merged.items()
        }
        success = result.success
    return {
        "success": success,
        "seconds": seconds,
        # Linux reports ru_maxrss in KiB: the high-water mark of this process's resident set
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "cpu_seconds": _cpu_seconds(),
        "start": start,
        "end": end,
        "assets": assets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, required=True, help="Where to write the JSON answer."
    )
    args = parser.parse_args()
    answer = run(json.load(sys.stdin))
    args.output.write_text(json.dumps(answer))


if __name__ == "__main__":
    main()
