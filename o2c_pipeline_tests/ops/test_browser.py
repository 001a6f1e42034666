"""End to end in a real browser: ``dagster dev`` on the project, headless Chromium drives the UI.

Opens the asset graph, launches a materialization of today's partition of ``netsuite/customers``
from the asset page (as a user would), waits for the run to succeed and saves a screenshot of the
graph (to docs/asset-graph.png for the README when O2C_UPDATE_SCREENSHOT=1).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path

import pytest

from o2c_pipeline.partitions import open_partition_key

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
#: The README's picture; refreshed only on request (O2C_UPDATE_SCREENSHOT=1), so a test run leaves
#: the checkout clean.
README_SCREENSHOT = REPO / "docs" / "asset-graph.png"
ASSET_PATH = "netsuite/customers"

MANUAL_RUNS = """
query ($partition: String!) {
  runsOrError(filter: {tags: [{key: "dagster/partition", value: $partition}]}) {
    ... on Runs { results { runId status tags { key value } assetSelection { path } } }
  }
}
"""


def manual_runs_of(dev, partition: str) -> list[dict]:
    """Runs of the asset for the partition that a person launched (not the change sensors)."""
    runs = dev.graphql(MANUAL_RUNS, {"partition": partition})["runsOrError"]["results"]
    return [
        r
        for r in runs
        if ["netsuite", "customers"] in [a["path"] for a in r["assetSelection"] or []]
        and not any(t["key"] == "dagster/sensor_name" for t in r["tags"])
    ]


def dismiss_newsletter(page) -> None:
    """A fresh instance greets the first visit with a newsletter dialog; skip it if it is there."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: no dialog this time
        return
    skip.click()
    skip.wait_for(state="hidden")


def expand_all_groups(page, rounds: int = 3) -> None:
    """Open every collapsed group box; the graph fits itself to the view on the next load."""
    for _ in range(rounds):
        page.get_by_text("netsuite", exact=True).last.wait_for()
        page.wait_for_timeout(1500)
        unfold = page.get_by_role("img", name="unfold_more")
        if unfold.count() == 0:
            return
        while unfold.count():
            unfold.first.click()
            page.wait_for_timeout(500)
        page.reload()


def test_materialize_an_asset_from_the_ui(dagster_dev, chromium_path, tmp_path):
    from playwright.sync_api import sync_playwright

    from o2c_pipeline_tests.ops.conftest import CHROMIUM_ARGS

    partition = open_partition_key()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{dagster_dev.url}/asset-groups")
            dismiss_newsletter(page)
            for group in ("netsuite", "salesforce", "sync"):  # the O2C groups are on the graph
                page.get_by_text(group, exact=True).last.wait_for()

            page.goto(f"{dagster_dev.url}/assets/{ASSET_PATH}")
            dismiss_newsletter(page)
            page.get_by_role("button", name="Materialize…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="Latest").click()
            dialog.get_by_role("button", name=re.compile(r"^Launch")).click()
            page.get_by_text(re.compile(r"Launched run")).first.wait_for()

            deadline = time.monotonic() + 150
            runs: list[dict] = []
            while time.monotonic() < deadline:
                runs = manual_runs_of(dagster_dev, partition)
                if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                    break
                time.sleep(1)
            assert runs, f"no run was launched from the UI:\n{dagster_dev.log_tail()}"
            assert runs[0]["status"] == "SUCCESS", (
                f"run {runs[0]['runId']}:\n{dagster_dev.log_tail()}"
            )

            # the asset page now shows the materialization, with its metadata
            page.goto(f"{dagster_dev.url}/assets/{ASSET_PATH}")
            page.get_by_text("Latest materialization").first.wait_for()
            assert page.get_by_text("Never materialized").count() == 0

            page.set_viewport_size({"width": 2000, "height": 1300})
            page.goto(f"{dagster_dev.url}/asset-groups")
            expand_all_groups(page)
            page.reload()  # a fresh load fits the expanded graph to the view
            page.get_by_text("customers", exact=True).first.wait_for()
            zoom_out = page.get_by_role("img", name="zoom_out")
            for _ in range(4):  # the fit leaves the tall graph cropped: step back to show all of it
                zoom_out.click()
                page.wait_for_timeout(300)
            page.wait_for_timeout(1500)
            screenshot = (
                README_SCREENSHOT
                if os.environ.get("O2C_UPDATE_SCREENSHOT") == "1"
                else tmp_path / "asset-graph.png"
            )
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    assert screenshot.stat().st_size > 20_000

    # A three-month backfill as the UI's Materialize dialog launches it (a partition range of the
    # selected asset) is one run, thanks to the single-run backfill policy, and it succeeds.
    days = [
        (dt.date.fromisoformat(partition) - dt.timedelta(days=n)).isoformat() for n in range(91)
    ]
    launched = dagster_dev.graphql(
        LAUNCH_BACKFILL,
        {
            "params": {
                "assetSelection": [{"path": ["netsuite", "customers"]}],
                "partitionNames": sorted(days)[:-1],  # today ran above: the 90 days before it
                "fromFailure": False,
            }
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 240
    backfill: dict = {}
    while time.monotonic() < deadline:
        backfill = dagster_dev.graphql(BACKFILL_STATUS, {"id": launched["backfillId"]})[
            "partitionBackfillOrError"
        ]
        runs = backfill.get("runs") or []
        if (
            backfill.get("status") != "REQUESTED"
            and runs
            and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
        ):
            break
        time.sleep(2)
    else:
        pytest.fail(f"the backfill did not finish: {backfill}\n{dagster_dev.log_tail()}")
    assert [r["status"] for r in backfill["runs"]] == ["SUCCESS"], backfill
    assert backfill["numPartitions"] == 90


LAUNCH_BACKFILL = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""

BACKFILL_STATUS = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions runs(limit: 10) { runId status } }
  }
}
"""
