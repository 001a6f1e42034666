"""NetSuite's account budget shared by concurrent work, against the sandbox over real HTTPS: the
extraction step that reads several entities at once, and the sync's parallel writes. The
sandbox's own counters are the judge (peak concurrency it saw, the statuses it answered)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import dagster as dg
import requests

from o2c_pipeline.assets import EXTRACT_ASSETS
from o2c_pipeline.assets.partition_figures import merged_metadata
from o2c_pipeline.cli.run import execute
from o2c_pipeline.definitions import build_resources
from o2c_pipeline.keys import table_key
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.sync.context import sync_context
from o2c_pipeline.sync.deals import sales_order_body
from o2c_pipeline.sync.run import FlowRun
from o2c_pipeline.sync.writers import write_netsuite

ENTITIES = ("customers", "items", "sales_orders", "sales_order_lines", "invoices", "payments")
ACCOUNT_LIMIT = 3  # the sandbox account's concurrency; the client gets one less than 4 (pools)


def admin(sandbox: Any, method: str, path: str) -> dict[str, Any]:
    response = requests.request(
        method, f"{sandbox.sf_url}/__sandbox__/{path}", verify=str(sandbox.ca_path), timeout=30
    )
    response.raise_for_status()
    return response.json()


def test_netsuite_entities_are_read_together_within_the_account_limits(
    pipeline_env, sandbox, monkeypatch
) -> None:
    sandbox.knobs.update({"latency_ms": 40, "ns_concurrency_limit": ACCOUNT_LIMIT})
    monkeypatch.setenv("NETSUITE_CONCURRENCY_LIMIT", str(ACCOUNT_LIMIT + 1))  # one for sensors
    keys = [table_key(f"netsuite.{name}") for name in ENTITIES]
    job = dg.define_asset_job("netsuite_together", selection=dg.AssetSelection.assets(*keys))
    defs = dg.Definitions(assets=EXTRACT_ASSETS, jobs=[job], resources=build_resources())
    resolved = defs.resolve_job_def("netsuite_together")
    assert [n.name for n in resolved.nodes_in_topological_order] == ["netsuite_extract"]
    end = dt.date.fromisoformat(open_partition_key()) - dt.timedelta(days=1)
    admin(sandbox, "POST", "counters/reset")
    result = execute(
        resolved,
        dg.DagsterInstance.ephemeral(),
        start=(end - dt.timedelta(days=13)).isoformat(),
        end=end.isoformat(),
        progress=False,
    )
    counters = admin(sandbox, "GET", "counters")
    assert result.success
    # a range run carries the step's figures on its last day: summed over the run's days
    merged = merged_metadata(result.get_asset_materialization_events())
    calls = {table.split(".", 1)[1]: figures["api_calls"] for table, figures in merged.items()}
    assert set(calls) == set(ENTITIES)  # each entity its own asset and materialization
    # each entity counts its own calls only: together they are every call the sandbox saw
    assert sum(calls.values()) == counters["totals"]["netsuite"]
    assert 2 <= counters["netsuite_peak_concurrency"] <= ACCOUNT_LIMIT  # together, within
    assert "429" not in counters["statuses"].get("netsuite", {})


def test_parallel_netsuite_writes_meet_429s_and_stay_exactly_once(
    pipeline_env, sandbox, monkeypatch
) -> None:
    sandbox.knobs.update(
        {"latency_ms": 20, "ns_concurrency_limit": ACCOUNT_LIMIT, "fault_429_rate": 0.15}
    )
    monkeypatch.setenv("NETSUITE_CONCURRENCY_LIMIT", str(ACCOUNT_LIMIT + 1))
    flow, prefix, n = "concurrent_writes", f"T_SO_{uuid.uuid4().hex[:8]}_", 24
    with dg.build_resources(build_resources()) as live:
        ctx = sync_context(live.salesforce, live.netsuite, live.checkpoints)
        ns = ctx.netsuite
        customer = ns.suiteql_page("SELECT id FROM customer WHERE isinactive = 'F'", limit=1)
        item = ns.suiteql_page(
            "SELECT id FROM item WHERE isinactive = 'F' AND itemtype = 'Service'", limit=1
        )
        customer_id, item_id = customer["items"][0]["id"], item["items"][0]["id"]

        def planned() -> tuple[FlowRun, list[Any]]:
            run = FlowRun(
                ctx,
                flow,
                source_system="salesforce",
                target_system="netsuite",
                target_object="salesOrder",
            )
            eids = [f"{prefix}{i:02d}" for i in range(n)]
            run.load_ledger(eids)
            out = []
            for i, eid in enumerate(eids):
                body = sales_order_body(
                    external_id=eid,
                    customer_internal_id=customer_id,
                    reference=None,
                    tran_date=None,
                    items=[{"item": {"id": item_id}, "quantity": 1 + i}],
                    currency_id=None,
                )
                p = run.prepare(eid, {"salesOrder.externalId": eid}, lambda b=body: b)
                if p is not None and run.needs_write(p):
                    out.append(p)
            return run, out

        def send(p: Any) -> str:
            body = {k: v for k, v in p.payload.items() if k != "externalId"}
            return ns.upsert_record("salesOrder", p.payload["externalId"], body)

        admin(sandbox, "POST", "counters/reset")
        run, pending = planned()
        written = write_netsuite(run, pending, send, operation="upsert")
        run.finish()
        counters = admin(sandbox, "GET", "counters")
        sandbox.knobs.update({"fault_429_rate": 0.0})
        held = [
            r
            for page in ns.suiteql_pages(
                f"SELECT id, externalid FROM transaction WHERE externalid LIKE '{prefix}%'"
            )
            for r in page
        ]
        ledger = ctx.store.ledger(flow, [p.source_id for p in pending])
        again = planned()[1]
    assert len(written) == n and run.stats.failed == 0
    assert int(counters["statuses"]["netsuite"].get("429", 0)) > 0  # met, retried, not failed
    assert 2 <= counters["netsuite_peak_concurrency"] <= ACCOUNT_LIMIT
    # one sales order per external id, the one the ledger names
    assert sorted(r["externalid"] for r in held) == sorted(p.source_id for p in pending)
    assert {r["externalid"]: r["id"] for r in held} == {k: e.target_id for k, e in ledger.items()}
    assert again == []  # the ledger knows every request: a second pass sends nothing
