"""Where the partitions begin (configured, else the sources' earliest record found once and
recorded), and a range run's per-day figures: each daily partition carries its own day's."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import requests

from o2c_pipeline import history, settings
from o2c_pipeline.assets import EXTRACT_ASSETS
from o2c_pipeline.assets.partition_figures import merged_metadata
from o2c_pipeline.cli.run import PROGRESS_EVENTS, RunProgress, execute
from o2c_pipeline.definitions import build_resources
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]


def sandbox_calls(env: dict[str, str]) -> int:
    answer = requests.get(
        f"{env['SALESFORCE_LOGIN_URL']}/__sandbox__/counters",
        verify=env["O2C_CA_BUNDLE"],
        timeout=10,
    ).json()
    return sum(answer["totals"].values())


def test_a_configured_day_wins_and_a_bad_one_is_named(tmp_path):
    environ = {"O2C_START_DATE": "2026-03-01", "O2C_CHECKPOINT_URL": f"sqlite:///{tmp_path}/c.db"}
    assert history.history_start(environ) == dt.date(2026, 3, 1)
    config = tmp_path / "o2c.yaml"
    config.write_text("start_date: 2025-07-01\n")
    from_file = {"O2C_CONFIG": str(config), "O2C_CHECKPOINT_URL": environ["O2C_CHECKPOINT_URL"]}
    assert history.history_start(from_file) == dt.date(2025, 7, 1)
    assert history.history_start({**from_file, **environ}) == dt.date(2026, 3, 1)
    with pytest.raises(settings.SettingsError, match="O2C_START_DATE"):
        history.history_start({**environ, "O2C_START_DATE": "March"})


def test_unrecorded_loads_read_nothing_and_create_nothing(tmp_path):
    store = tmp_path / "checkpoints.sqlite"
    environ = {"O2C_CHECKPOINT_URL": f"sqlite:///{store}", "O2C_CONFIG": ""}
    today = dt.datetime.now(dt.UTC).date()
    assert history.history_start(environ) == today - dt.timedelta(days=history.UNRECORDED_DAYS)
    assert not store.exists()


def test_the_earliest_day_is_asked_once_and_recorded(pipeline_env):
    first = history.ensure_recorded()
    assert history.recorded_start() == first
    assert (dt.datetime.now(dt.UTC).date() - first).days >= 90  # the world spans four months
    before = sandbox_calls(pipeline_env)
    assert history.ensure_recorded() == first and history.history_start() == first
    assert sandbox_calls(pipeline_env) == before  # recorded: no call at all


def test_each_day_of_a_range_carries_its_own_figures(pipeline_env):
    today = open_partition_key()
    start = (dt.date.fromisoformat(today) - dt.timedelta(days=6)).isoformat()
    key = dg.AssetKey(["salesforce", "sf_order_items"])
    job = dg.Definitions(
        assets=EXTRACT_ASSETS,
        jobs=[dg.define_asset_job("one", selection=dg.AssetSelection.assets(key))],
        resources=build_resources(),
    ).resolve_job_def("one")
    instance = dg.DagsterInstance.ephemeral()
    result = execute(job, instance, start=start, end=today, progress=False)
    assert result.success
    events = result.get_asset_materialization_events()
    held = dict(
        Warehouse(pipeline_env["O2C_WAREHOUSE"]).query(
            "SELECT CAST(_partition AS VARCHAR), count(*) FROM salesforce.order_items GROUP BY 1"
        )
    )
    per_day = {e.partition: {k: getattr(v, "value", v) for k, v in e.materialization.metadata.items()} for e in events}  # fmt: skip
    assert len(per_day) == 7
    for day, meta in per_day.items():
        assert meta["rows"] == meta["versions"] == held.get(day, 0), day
        assert meta["dagster/row_count"] == held.get(day, 0)
        assert meta["window"].startswith(f"[{day}T00:00:00")
    assert len({m["rows"] for m in per_day.values()}) > 1, "every day the same figure"
    assert [d for d, m in per_day.items() if "api_calls" in m] == [today]  # the step's, once
    total = merged_metadata(events)["salesforce.order_items"]
    assert total["rows"] == sum(held.values()) == total["table_rows"]
    # the terminal's live table follows the same events: the range's rows, not the last day's
    tracker = RunProgress(job.name, f"{start}..{today}", len(job.nodes_in_topological_order))
    for record in instance.get_records_for_run(
        result.run_id, of_type=PROGRESS_EVENTS, limit=10_000
    ).records:
        tracker.add(record)
    assert tracker.assets["salesforce.order_items"]["rows"] == total["rows"]


def test_a_later_start_date_bounds_transactions_not_what_they_need(
    pipeline_env, tmp_path, monkeypatch
):
    """With a start date later than the sources' first record, the first partition of master data
    (accounts here) and of Salesforce's line items also holds everything stamped before it, so
    old customers, and the old lines of deals won since, are there; transactions (orders) keep
    to the days. The source-count check agrees on each."""
    start = dt.date.fromisoformat(open_partition_key()) - dt.timedelta(days=6)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, **pipeline_env, "O2C_START_DATE": start.isoformat(), "DAGSTER_HOME": str(home)}  # fmt: skip
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("o2c")), "run", "--history", "--extract-only", "--no-progress"],  # fmt: skip
        env=env, capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    warehouse = Warehouse(pipeline_env["O2C_WAREHOUSE"])
    ((before_start, accounts),) = warehouse.query(
        "SELECT count(*) FILTER (WHERE _partition < ?), count(*) FROM salesforce.accounts_current",
        [start],
    )
    assert before_start > 0 and accounts > before_start  # the backlog, and the days after it
    ((first_order_day,),) = warehouse.query("SELECT min(_partition) FROM salesforce.orders")
    assert first_order_day >= start
    ((old_lines,),) = warehouse.query(
        "SELECT count(*) FROM salesforce.opportunity_line_items_current WHERE _partition < ?",
        [start],
    )
    assert old_lines > 0

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        records = instance.get_records_for_run(run.run_id, limit=100_000).records
    by_kind: dict[str, list] = {"ASSET_MATERIALIZATION": [], "ASSET_CHECK_EVALUATION": []}
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.event_type_value in by_kind:
            by_kind[event.event_type_value].append(event.event_specific_data)
    first = next(
        m.materialization
        for m in by_kind["ASSET_MATERIALIZATION"]
        if m.materialization.asset_key == dg.AssetKey(["salesforce", "sf_accounts"])
        and m.materialization.partition == start.isoformat()
    )
    assert first.metadata["window"].value.startswith("[1970-01-01T00:00:00")
    ((held_first,),) = warehouse.query(
        "SELECT count(*) FROM salesforce.accounts WHERE _partition <= ?", [start]
    )
    assert first.metadata["rows"].value == held_first
    counts = {
        e.asset_key.to_user_string(): e
        for e in by_kind["ASSET_CHECK_EVALUATION"]
        if e.check_name == "matches_source_count"
    }
    for asset in ("salesforce/sf_accounts", "salesforce/sf_opp_lines", "salesforce/sf_orders"):
        assert counts[asset].passed, (asset, counts[asset].metadata)
    assert counts["salesforce/sf_accounts"].metadata["source_count"].value == accounts
