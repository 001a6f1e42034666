"""The change sensors and the failure sensor, evaluated through Dagster's own APIs against a real
instance and the sandbox over HTTPS."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
from dagster._core.test_utils import create_run_for_test

from o2c_pipeline import keys
from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.netsuite.queries import changes_query as netsuite_probe_query
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.pools import POOLS
from o2c_pipeline.sensors import run_failures_table

FUTURE = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
PAST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def entity_keys(system: str) -> set[dg.AssetKey]:
    return {keys.table_key(e.table) for e in ENTITIES if e.system == system}


def evaluate(
    defs: dg.Definitions, instance: dg.DagsterInstance, name: str, cursor: str | None = None
):
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        sensor_name=name,
        resources=defs.resources,
    )
    return sensor.evaluate_tick(context)


def counters(sandbox) -> dict:
    return requests.get(
        f"{sandbox.sf_url}/__sandbox__/counters", verify=str(sandbox.ca_path), timeout=10
    ).json()


def set_all_watermarks(checkpoints, system: str, stamp: dt.datetime) -> None:
    for entity in ENTITIES:
        if entity.system == system:
            checkpoints.set_watermark(entity.watermark_key, stamp, force=True)


@pytest.mark.parametrize("system", ["salesforce", "netsuite"])
def test_never_loaded_entities_request_the_open_partition(defs, instance, system):
    result = evaluate(defs, instance, f"{system}_changes")

    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key == open_partition_key()
    assert set(request.asset_selection) == entity_keys(system)
    assert request.run_key.startswith(f"{system}:{open_partition_key()}:")
    job = defs.resolve_job_def("o2c_extract")
    assert set(request.asset_selection) <= set(job.asset_layer.executable_asset_keys)
    assert job.partitions_def.has_partition_key(request.partition_key)
    cursor = json.loads(result.cursor)
    assert all(n is None for n in cursor["changes"].values())
    # the tick also gave the declared pools their limits
    limits = {p.name: p.limit for p in instance.event_log_storage.get_pool_limits()}
    assert limits == {pool.name: pool.slots for pool in POOLS}


def test_netsuite_probe_is_one_call_and_selects_only_changed_entities(defs, instance, sandbox):
    checkpoints = defs.resources["checkpoints"]
    set_all_watermarks(checkpoints, "netsuite", FUTURE)
    before = counters(sandbox)["calls"].get("netsuite", {}).get("suiteql", 0)

    quiet = evaluate(defs, instance, "netsuite_changes")
    assert quiet.run_requests == []
    assert "no netsuite changes" in quiet.skip_message
    assert counters(sandbox)["calls"]["netsuite"]["suiteql"] == before + 1

    checkpoints.set_watermark("netsuite.customers", PAST, force=True)
    changed = evaluate(defs, instance, "netsuite_changes", cursor=quiet.cursor)
    (request,) = changed.run_requests
    assert request.asset_selection == [dg.AssetKey(["netsuite", "ns_customers"])]
    changes = json.loads(changed.cursor)["changes"]
    assert changes["netsuite.customers"] > 0
    assert counters(sandbox)["calls"]["netsuite"]["suiteql"] == before + 2

    again = evaluate(defs, instance, "netsuite_changes", cursor=changed.cursor)
    assert again.run_requests[0].run_key == request.run_key  # same changes: Dagster dedups the run


def test_netsuite_probe_counts_deletions(defs):
    customers = next(e for e in ENTITIES if e.table == "netsuite.customers")
    query = netsuite_probe_query([(customers, PAST)])
    assert "FROM deletedrecord" in query and "'customer'" in query
    assert query.count("UNION ALL") == 1


def test_salesforce_probe_counts_since_each_watermark(defs, instance, sandbox):
    checkpoints = defs.resources["checkpoints"]
    set_all_watermarks(checkpoints, "salesforce", FUTURE)
    quiet = evaluate(defs, instance, "salesforce_changes")
    assert quiet.run_requests == []

    checkpoints.set_watermark("salesforce.accounts", PAST, force=True)
    (request,) = evaluate(defs, instance, "salesforce_changes").run_requests
    assert request.asset_selection == [dg.AssetKey(["salesforce", "sf_accounts"])]


def test_sensor_waits_while_its_previous_run_is_in_flight(defs, instance):
    create_run_for_test(
        instance,
        job_name="o2c_sync",
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/sensor_name": "netsuite_changes"},
    )
    result = evaluate(defs, instance, "netsuite_changes")
    assert result.run_requests == []
    assert "still in progress" in result.skip_message


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Webhook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("O2C_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    yield _Webhook.received
    server.shutdown()
    server.server_close()


def test_run_failure_is_recorded_logged_and_posted(defs, instance, webhook):
    @dg.asset(partitions_def=dg.DailyPartitionsDefinition("2026-01-01"))
    def always_fails() -> None:
        raise RuntimeError("NetSuite said no")

    result = dg.materialize(
        [always_fails], instance=instance, partition_key="2026-01-02", raise_on_error=False
    )
    assert not result.success
    failed_run = instance.get_run_by_id(result.run_id)
    failure_event = next(
        e
        for e in instance.all_logs(result.run_id)
        if e.dagster_event_type == dg.DagsterEventType.RUN_FAILURE
    )
    sensor = defs.resolve_sensor_def("o2c_run_failures")
    context = dg.build_run_status_sensor_context(
        sensor_name="o2c_run_failures",
        dagster_event=failure_event.dagster_event,
        dagster_instance=instance,
        dagster_run=failed_run,
        resources={"checkpoints": defs.resources["checkpoints"]},
    ).for_run_failure()
    sensor(context)

    with defs.resources["checkpoints"].engine().connect() as conn:
        row = conn.execute(sa.select(run_failures_table)).one()
    assert row.run_id == result.run_id
    assert row.partition == "2026-01-02"
    assert row.failed_steps == "always_fails"
    assert row.alerted is True
    assert webhook and webhook[0]["run_id"] == result.run_id and "text" in webhook[0]
    logged = [
        e.message
        for e in instance.all_logs(result.run_id)
        if e.message and "o2c: failure recorded" in e.message
    ]
    assert logged, "the failure is also visible in the run's event log"


def test_dlq_redrive_requests_a_replay_of_due_entries_only(defs, instance):
    from o2c_pipeline.sync.store import SyncStore

    store = SyncStore(defs.resources["checkpoints"].engine())
    now = dt.datetime.now(dt.UTC)
    common = dict(
        record_ids={},
        correlation_id="c",
        error_class="transient",
        error_code="HTTP_503",
        reason="x",
        payload={},
    )
    store.dead_letter(
        flow="orders",
        source_id="801DUE",
        now=now - dt.timedelta(hours=1),
        retry_after_s=60,
        **common,
    )
    store.dead_letter(
        flow="customers",
        source_id="001DUE",
        now=now - dt.timedelta(hours=1),
        retry_after_s=60,
        **common,
    )
    store.dead_letter(flow="orders", source_id="801LATER", now=now, retry_after_s=3600, **common)

    result = evaluate(defs, instance, "dlq_redrive")
    (request,) = result.run_requests
    config = request.run_config["ops"]["replay_dead_letters"]["config"]
    assert config["source_ids"] == ["001DUE", "801DUE"]
    job = defs.resolve_job_def("sync_dlq_replay")
    assert dg.validate_run_config(job, request.run_config)
    assert json.loads(result.cursor)["due"] == {"customers": 1, "orders": 1}
    assert evaluate(defs, instance, "dlq_redrive").run_requests[0].run_key == request.run_key

    store.resolve("orders", ["801DUE"])
    store.resolve("customers", ["001DUE"])
    assert evaluate(defs, instance, "dlq_redrive").run_requests == []
