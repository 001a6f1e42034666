"""The production instance (deploy/dagster.postgres.yaml): two concurrent runs and sensor ticks share
one PostgreSQL-backed Dagster instance and NetSuite's account-wide request budget.

The concurrent test (~25 s on two cores) runs separate ``dagster asset materialize`` processes
(each op in its own subprocess, as in production), so only the concurrency pool in PostgreSQL can keep
them within the budget. The sandbox's counters prove the account limit held; the runs' own event logs
prove the pool did it. The fast test shares the instance between two in-process runs and a tick.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from o2c_pipeline import history
from o2c_pipeline.definitions import build_definitions
from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.pools import NETSUITE_API

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
#: Each op still runs in its own process, forked from a server that imported the code once.
FORKSERVER = {
    "execution": {
        "config": {
            "multiprocess": {
                "start_method": {"forkserver": {"preload_modules": ["o2c_pipeline.definitions"]}}
            }
        }
    }
}
NETSUITE_ASSETS = [
    "netsuite/ns_customers",
    "netsuite/ns_invoices",
]  # with their checks: 4 NetSuite ops a run


def admin(sandbox, method: str, path: str, **kwargs) -> dict:
    response = requests.request(
        method,
        f"{sandbox.sf_url}/__sandbox__/{path}",
        verify=str(sandbox.ca_path),
        timeout=10,
        **kwargs,
    )
    response.raise_for_status()
    return response.json()


def materialize(partition: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "asset", "materialize", "-m", "o2c_pipeline.definitions"]
    command += ["--select", ",".join(NETSUITE_ASSETS), "--partition", partition]
    command += ["--config-json", json.dumps(FORKSERVER)]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def netsuite_step_intervals(
    instance: dg.DagsterInstance, run_ids: list[str]
) -> list[tuple[float, float]]:
    """(start, end) of every step that held a ``netsuite_api`` slot, across runs."""
    intervals = []
    for run_id in run_ids:
        starts: dict[str, float] = {}
        for event in instance.all_logs(run_id):
            step = event.step_key or ""
            # the O2C stage SLA checks on NetSuite tables read the warehouse, not NetSuite
            if not step.startswith("netsuite") or "_sla_" in step:
                continue
            if event.dagster_event_type == dg.DagsterEventType.STEP_START:
                starts[step] = event.timestamp
            elif event.dagster_event_type in (
                dg.DagsterEventType.STEP_SUCCESS,
                dg.DagsterEventType.STEP_FAILURE,
            ):
                intervals.append((starts.pop(step), event.timestamp))
    return intervals


def test_runs_and_a_sensor_tick_share_the_postgres_instance(postgres_dagster_home, pipeline_env):
    """Fast: two runs and a sensor tick on one Postgres-backed instance."""
    defs = build_definitions(pipeline_env)
    job = defs.resolve_job_def("o2c_sync")
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        context = dg.build_sensor_context(
            instance=instance,
            definitions=defs,
            sensor_name="netsuite_changes",
            resources=defs.resources,
        )
        (request,) = defs.resolve_sensor_def("netsuite_changes").evaluate_tick(context).run_requests

        def run(partition: str) -> bool:
            selection = [dg.AssetKey(["netsuite", "ns_customers"])]
            return job.execute_in_process(
                instance=instance, partition_key=partition, asset_selection=selection
            ).success

        assert run(request.partition_key) and run(yesterday)
        runs = instance.get_runs()
        assert {r.tags["dagster/partition"] for r in runs} == {request.partition_key, yesterday}
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        materialized = instance.fetch_materializations(
            dg.AssetKey(["netsuite", "ns_customers"]), limit=10
        ).records
        assert {m.partition_key for m in materialized} == {request.partition_key, yesterday}


def test_two_runs_and_sensor_ticks_share_postgres_and_the_netsuite_pool(
    postgres_dagster_home, postgres_database, pipeline_env, sandbox, tmp_path, monkeypatch
):
    env = {
        **os.environ,
        **pipeline_env,
        "O2C_CHECKPOINT_URL": postgres_database.sqlalchemy_url,  # the checkpoint store on Postgres too
        "DAGSTER_HOME": str(postgres_dagster_home),
    }
    monkeypatch.setenv("O2C_CHECKPOINT_URL", postgres_database.sqlalchemy_url)
    defs = build_definitions(env)
    sandbox.knobs.update({"latency_ms": 25, "ns_concurrency_limit": 5, "ns_rate_limit": 10})
    # an installed pipeline: the first run has found and recorded where history begins (two
    # first-ever runs at once would both ask, outside the pool)
    history.ensure_recorded(env)
    admin(sandbox, "POST", "counters/reset")

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"

        def sensor_tick() -> dg.SensorResult:
            context = dg.build_sensor_context(
                instance=instance,
                definitions=defs,
                sensor_name="netsuite_changes",
                resources=defs.resources,
            )
            return defs.resolve_sensor_def("netsuite_changes").evaluate_tick(context)

        first_tick = sensor_tick()  # sets the pool limits, and asks for the never-loaded entities
        (request,) = first_tick.run_requests
        assert request.partition_key == open_partition_key()
        assert (
            instance.event_log_storage.get_concurrency_info(NETSUITE_API.name).slot_count
            == NETSUITE_API.slots
        )

        yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
        runs = [
            materialize(request.partition_key, env, tmp_path / "today.log"),
            materialize(yesterday, env, tmp_path / "yesterday.log"),
        ]
        ticks = 0
        while any(run.poll() is None for run in runs):
            sensor_tick()  # the sensor probes NetSuite while both runs hold the pool
            ticks += 1
            time.sleep(2)
        for run, name in zip(runs, ("today", "yesterday"), strict=True):
            assert run.returncode == 0, (tmp_path / f"{name}.log").read_text()[-3000:]

        finished = instance.get_runs()
        assert len(finished) == 2
        assert {r.status for r in finished} == {dg.DagsterRunStatus.SUCCESS}
        assert {r.tags.get("dagster/partition") for r in finished} == {
            request.partition_key,
            yesterday,
        }

        overlap = max_overlap(netsuite_step_intervals(instance, [r.run_id for r in finished]))
        assert 1 <= overlap <= NETSUITE_API.slots, "the pool bounds NetSuite steps across both runs"
        assert ticks >= 1

    counters = admin(sandbox, "GET", "counters")
    # every NetSuite entity was read by both runs (a probe or a fetch each)
    netsuite_entities = [e for e in ENTITIES if e.system == "netsuite"]
    assert counters["totals"]["netsuite"] >= 2 * len(netsuite_entities), counters["calls"]
    assert 1 <= counters["netsuite_peak_concurrency"] <= 5
    refused = counters["statuses"].get("netsuite", {}).get("429", 0)
    assert refused <= 2, (
        f"no 429 storm: {refused} of {counters['totals']['netsuite']} NetSuite calls refused"
    )
