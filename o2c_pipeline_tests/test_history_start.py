"""Where the partitions begin (configured, else the sources' earliest record found once and
recorded), and a range run's per-day figures: each daily partition carries its own day's."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
import requests

from o2c_pipeline import history, settings
from o2c_pipeline.assets import EXTRACT_ASSETS
from o2c_pipeline.assets.partition_figures import merged_metadata
from o2c_pipeline.cli.run import execute
from o2c_pipeline.definitions import build_resources
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.warehouse import Warehouse


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
    result = execute(job, dg.DagsterInstance.ephemeral(), start=start, end=today, progress=False)
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
