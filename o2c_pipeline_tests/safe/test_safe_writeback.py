"""Safe write-back on one private small world, in order: a plan makes no write and lists
exactly what the following apply writes; a flow in ``plan`` mode never writes; the won-deal SLA
fails with the orders the simulator activated and passes once they are synced; a formula value
changed without a stamp reaches ``_current`` after the refresh and the sync sees the change.

The cycles cover the last few days of the world's history (not all of it), which keeps the
module to a couple of minutes while every flow still has creates, updates and dead letters."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import dagster as dg
import pytest
import requests
import yaml

from o2c_pipeline import keys
from o2c_pipeline.cli.run import execute
from o2c_pipeline.cli.sync import format_plan, plan_run_config, planned_rows
from o2c_pipeline.definitions import build_definitions
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.resources.factory import build_resources
from o2c_pipeline.sync.context import sync_context
from o2c_pipeline.sync.feed import ChangeFeed
from o2c_pipeline.sync.flows import FLOWS_BY_NAME
from o2c_pipeline.sync.store import SyncStore, audit_table, dlq_table
from o2c_pipeline.warehouse import Warehouse, open_warehouse
from o2c_pipeline_tests.sync.test_full_cycle import _private_world, _writes
from o2c_sandbox.core import Knobs
from o2c_sandbox.runner import Sandbox

DAYS = 10  # the partitions each cycle covers: the last days of the world's history


@dataclass
class World:
    box: Sandbox
    env: dict[str, str]
    tmp: Path

    @property
    def warehouse(self) -> Warehouse:
        return open_warehouse(self.env["O2C_WAREHOUSE"])

    @property
    def checkpoints(self) -> CheckpointStore:
        return CheckpointStore(url=self.env["O2C_CHECKPOINT_URL"])

    @property
    def store(self) -> SyncStore:
        return SyncStore(self.checkpoints.engine())

    def writes(self) -> int:
        counters = requests.get(
            f"{self.box.sf_url}/__sandbox__/counters", verify=str(self.box.ca_path), timeout=10
        ).json()
        return _writes(counters)

    def advance(self, steps: int = 1) -> dict[str, Any]:
        return requests.post(
            f"{self.box.sf_url}/__sandbox__/advance",
            json={"steps": steps},
            verify=str(self.box.ca_path),
            timeout=120,
        ).json()

    def configure(self, **sections: Any) -> None:
        path = self.tmp / f"o2c-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(sections))
        os.environ["O2C_CONFIG"] = str(path)

    def cycle(
        self, *, days: int = DAYS, dry_run: bool = False, job: str = "o2c_sync"
    ) -> dg.ExecuteInProcessResult:
        job_def = build_definitions(self.env).resolve_job_def(job)
        today = open_partition_key()
        start = (dt.date.fromisoformat(today) - dt.timedelta(days=days)).isoformat()
        result = execute(
            job_def,
            dg.DagsterInstance.ephemeral(),
            start=start,
            end=today,
            run_config=plan_run_config(job_def) if dry_run else None,
            progress=False,
        )
        assert result.success
        return result


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:  # noqa: ANN001
    tmp = tmp_path_factory.mktemp("safe-writeback")
    saved = os.environ.get("O2C_CONFIG")
    # a quicker NetSuite than the default governance: these tests are about what is written
    for private in _private_world(tmp, Knobs(ns_rate_limit=200, ns_concurrency_limit=10)):
        yield World(private.box, private.env, tmp)
    if saved is None:
        os.environ.pop("O2C_CONFIG", None)
    else:
        os.environ["O2C_CONFIG"] = saved


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch) -> Iterator[list[dict]]:  # noqa: ANN001
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("O2C_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    yield _Hook.received
    server.shutdown()


def test_plan_makes_no_write_and_apply_writes_exactly_the_plan(world: World) -> None:
    world.configure(flows={"default": "on"})
    before = world.writes()
    result = world.cycle(dry_run=True)
    assert world.writes() == before, "the plan made a write call"
    assert world.store.frame(audit_table) == [] and world.store.frame(dlq_table) == []

    rows = planned_rows(world.warehouse, result.run_id)
    writes = {(r[0], r[1]) for r in rows if r[2] != "dead_letter"}
    letters = {(r[0], r[1]) for r in rows if r[2] == "dead_letter"}
    actions = {r[2] for r in rows}
    assert {"create", "dead_letter"} <= actions, actions
    for flow, _, action, _, _, changes, _ in rows:
        if action in ("create", "update"):
            assert json.loads(changes), f"{flow}: a planned write that changes nothing"
    assert "->" in format_plan(rows)
    meta = {
        keys.name_of(m.materialization.asset_key).split(".", 1)[1]: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.materialization.asset_key.path[0] == "sync"
    }
    planned_orders = [r for r in rows if r[0] == "orders" and r[2] == "create"]
    assert meta["orders"]["planned_creates"].value == len(planned_orders)
    assert isinstance(meta["orders"]["plan_sample"], dg.TableMetadataValue)

    world.cycle()  # apply, the sources unchanged in between
    attempted = {(r["flow"], r["source_id"]) for r in world.store.frame(audit_table)}
    assert attempted == writes
    dead = {(r["flow"], r["source_id"]) for r in world.store.frame(dlq_table)}
    assert dead - attempted == letters


def test_flows_in_plan_mode_never_write(world: World) -> None:
    world.advance(2)
    world.configure(flows={"default": "plan"})
    audit_before = len(world.store.frame(audit_table))
    before = world.writes()
    result = world.cycle(days=1)
    assert world.writes() == before
    assert len(world.store.frame(audit_table)) == audit_before
    modes = {
        keys.name_of(m.materialization.asset_key).split(".", 1)[1]: m.materialization.metadata[
            "mode"
        ].value
        for m in result.get_asset_materialization_events()
        if m.materialization.asset_key.path[0] == "sync" and "mode" in m.materialization.metadata
    }
    assert set(modes.values()) == {"plan"}
    assert planned_rows(world.warehouse, result.run_id), "the changes were planned"

    world.configure(flows={"default": "on", "fulfillments": "off"})
    result = world.cycle(days=1)
    flows = {
        keys.name_of(m.materialization.asset_key).split(".", 1)[1]: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.materialization.asset_key.path[0] == "sync"
    }
    assert flows["fulfillments"]["mode"].value == "off"
    assert "written" not in flows["fulfillments"]
    assert world.writes() > before


def _waiting(world: World) -> set[str]:
    """Deals waiting in the DLQ (with their reason)."""
    return {e.source_id for e in world.store.dlq() if e.flow in ("orders", "opportunities")}


def test_won_deal_sla_fails_until_the_activated_orders_are_synced(world: World, webhook) -> None:  # noqa: ANN001
    # 1 s to make a sales order, counting deals won in the last few minutes: the simulator's
    world.configure(
        flows={"default": "on"},
        slas={
            "won_deal_to_sales_order_hours": {
                "within": 0.0003,
                "lookback_days": 0.004,
                "severity": "ERROR",
            }
        },
    )
    since = dt.datetime.now(dt.UTC)
    changes = world.advance(1)
    activated = changes.get("counts", {}).get("activated_orders", 0)
    assert activated, changes.get("counts")
    time.sleep(1.5)
    # the change sensor's run: the changed tables land (not synced), then their checks run
    landed = world.cycle(days=0, job="o2c_extract")
    failing = {e.check_name: e for e in landed.get_asset_check_evaluations()}[
        "sla_won_deal_to_sales_order"
    ]
    assert not failing.passed
    assert failing.severity == dg.AssetCheckSeverity.ERROR
    overdue = {r.data["record"] for r in failing.metadata["overdue_records"].value.records}
    just_activated = {
        r[0]
        for r in world.warehouse.query(
            'SELECT "Id" FROM salesforce.orders_current WHERE "ActivatedDate" >= ?',
            [since.replace(tzinfo=None)],
        )
    }
    assert len(just_activated) == activated and just_activated <= overdue
    # the rest: deals won in the same step (Closed-Won Opportunities, not synced either) and
    # orders activated minutes ago that wait in the DLQ
    waiting = _waiting(world)
    assert all(r.startswith("006") or r in waiting for r in overdue - just_activated)
    (alert,) = [w for w in webhook if w["sla"] == "won_deal_to_sales_order"]
    assert {o["record"] for o in alert["overdue"]} == overdue
    assert alert["text"].startswith("o2c SLA breached: won_deal_to_sales_order")
    in_warehouse = world.warehouse.query("SELECT record FROM sync.sla_won_deal_to_sales_order")
    assert {r[0] for r in in_warehouse} == overdue

    result = world.cycle(days=0)  # a sync cycle: the check runs after the flows
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    passing = checks["sla_won_deal_to_sales_order"]
    still = {r.data["record"] for r in passing.metadata["overdue_records"].value.records}
    assert still <= _waiting(world), "only deals waiting in the DLQ with a reason stay overdue"
    assert passing.passed == (not still)
    won_deal_alerts = [w for w in webhook if w["sla"] == "won_deal_to_sales_order"]
    assert len(won_deal_alerts) == 1, "a breach is sent once"


def test_formula_changed_without_a_stamp_reaches_current_after_the_refresh(world: World) -> None:
    world.configure(flows={"default": "on"})
    with dg.build_resources(build_resources(world.env)) as live:
        describe = live.salesforce.describe("Order")
        calculated = {f["name"] for f in describe["fields"] if f.get("calculated")}
        assert "Account_Industry__c" in calculated
        # an order stamped before today: today's delta load does not read it again
        today = dt.datetime.combine(dt.date.fromisoformat(open_partition_key()), dt.time())
        order_id, account_id, industry, stamp = world.warehouse.query(
            'SELECT "Id", "AccountId", "Account_Industry__c", "SystemModstamp" '
            'FROM salesforce.orders_current WHERE "SystemModstamp" BETWEEN ? AND ? '
            'AND "AccountId" IS NOT NULL ORDER BY "SystemModstamp" DESC LIMIT 1',
            [today - dt.timedelta(days=20), today],
        )[0]
        new = "Biotechnology" if industry != "Biotechnology" else "Energy"
        live.salesforce.client().Account.update(account_id, {"Industry": new})
        fresh = live.salesforce.client().query(
            f"SELECT Account_Industry__c, SystemModstamp FROM Order WHERE Id = '{order_id}'"
        )["records"][0]
    assert fresh["Account_Industry__c"] == new  # the org evaluated it ...
    world.cycle(days=0, job="o2c_extract")  # ... the delta load cannot see it: no new stamp
    (held,) = world.warehouse.query(
        'SELECT "Account_Industry__c" FROM salesforce.orders_current WHERE "Id" = ?', [order_id]
    )[0]
    assert held == industry

    build_definitions(world.env).resolve_job_def("formula_refresh").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    value, reason, stamp_now = world.warehouse.query(
        'SELECT "Account_Industry__c", _version_reason, "SystemModstamp" '
        'FROM salesforce.orders_current WHERE "Id" = ?',
        [order_id],
    )[0]
    assert (value, reason, stamp_now) == (new, "formula_refresh", stamp)
    versions = world.warehouse.query(
        'SELECT "Account_Industry__c", _version_reason FROM salesforce.orders WHERE "Id" = ? '
        'AND "SystemModstamp" = ? ORDER BY _loaded_at',
        [order_id, stamp],
    )
    assert versions == [(industry, None), (new, "formula_refresh")]
    # the sync sees the new version as a change of the order
    with dg.build_resources(build_resources(world.env)) as live:
        ctx = sync_context(live.salesforce, live.netsuite, live.checkpoints)
        orders = FLOWS_BY_NAME["orders"]
        assert order_id in ChangeFeed(ctx, "orders", orders.feeds).changed_keys()


def test_cli_plan_prints_the_plan_and_writes_nothing(world: World, monkeypatch) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from o2c_pipeline.cli import main

    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # an ephemeral instance, not `make`'s

    world.configure(flows={"default": "on"})
    world.advance(1)
    before = world.writes()
    answer = CliRunner().invoke(main, ["sync", "plan", "--no-progress"])
    assert answer.exit_code == 0, answer.output
    assert world.writes() == before
    assert "Nothing was written" in answer.output or "makes no write" in answer.output
    assert "flow" in answer.output.splitlines()[0] or "no write" in answer.output
