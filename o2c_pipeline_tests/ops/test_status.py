"""``o2c status`` reads the checkpoint store and the Dagster instance the pipeline writes."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
from click.testing import CliRunner
from dagster._core.test_utils import create_run_for_test

from o2c_pipeline.cli import main
from o2c_pipeline.resources.checkpoints import CheckpointStore
from o2c_pipeline.sensors import failure_record, record_failure
from o2c_pipeline.settings import default_checkpoint_url
from o2c_pipeline.sync.store import SyncStore


def test_status_shows_watermarks_runs_failures_and_dlq(pipeline_env, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    store = CheckpointStore(url=default_checkpoint_url())
    stamp = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    store.set_watermark("netsuite.invoices", stamp)
    now = dt.datetime.now(dt.UTC)
    SyncStore(store.engine()).dead_letter(
        flow="orders",
        source_id="801X",
        record_ids={},
        correlation_id="c",
        error_class="data",
        error_code="INVALID_FIELD",
        reason="bad",
        payload={},
        now=now - dt.timedelta(hours=2),
        retry_after_s=60,
    )
    with dg.DagsterInstance.get() as instance:
        run = create_run_for_test(
            instance,
            job_name="o2c_sync",
            status=dg.DagsterRunStatus.FAILURE,
            tags={"dagster/partition": "2026-03-01"},
        )
    record_failure(store, failure_record(run, "NetSuite said no", ["netsuite__invoices"], now))

    result = CliRunner().invoke(main, ["status", "--as-json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    marks = {row["entity"]: row for row in report["watermarks"]}
    assert marks["netsuite.invoices"]["watermark"] == "2026-03-01T12:00:00+00:00"
    assert marks["salesforce.accounts"]["advanced"] == "never loaded"
    assert report["dead_letter_queue"] == [
        {"flow": "orders", "error_class": "data", "entries": 1, "due_now": 1, "oldest": "2h ago"}
    ]
    assert (
        report["runs"][0]["status"] == "FAILURE" and report["runs"][0]["partition"] == "2026-03-01"
    )
    assert report["failures"][0]["message"] == "NetSuite said no"

    text = CliRunner().invoke(main, ["status"], catch_exceptions=False).output
    for heading in (
        "Watermarks",
        "Last runs",
        "Recorded failures",
        "Dead-letter queue",
        "Concurrency pools",
    ):
        assert heading in text
    assert "netsuite.invoices" in text and "INVALID_FIELD" not in text
