"""End to end in a real browser: a new user's first hour in the Dagster UI, over ``dagster dev`` on
the project and a private sandbox, with headless Chromium.

The history is narrowed to a week (``O2C_START_DATE``) so the walk stays within a few minutes:

1. a backfill launched by clicks (asset page -> Materialize... -> a range of days -> Launch
   backfill) completes;
2. that extract asset's page shows each day's own figures: a ``rows`` plot, and a day's
   materialization with its own ``window`` and ``rows``, which differ from day to day (checked
   against GraphQL);
3. a sync run over the same days (launched through GraphQL) dead-letters the dirty orders, and
   ``sync/orders_to_ns`` shows the DLQ by error code and the replay command;
4. the asset graph, left to right, every group expanded and fit to the view (the canvas'
   double-click, then zoomed out until every node is drawn: the graph draws only the nodes in its
   viewport) in a page tall enough for Dagster's layout (the groups stack, each drawn left to
   right), with every node and every group's title inside the viewport; the picture of the graph
   alone, clipped to its groups, is the README's screenshot (docs/asset-graph.png, rewritten when
   O2C_UPDATE_SCREENSHOT=1);
5. zoomed in, the nodes show their kinds: the Salesforce logo and the NetSuite and DuckDB tags.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path

import pytest

from o2c_pipeline.partitions import open_partition_key

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
#: The README's picture; refreshed only on request (O2C_UPDATE_SCREENSHOT=1), so a test run leaves
#: the checkout clean.
README_SCREENSHOT = REPO / "docs" / "asset-graph.png"
LOCATION = {
    "repositoryLocationName": "o2c_pipeline.definitions",
    "repositoryName": "__repository__",
}
TODAY = dt.date.fromisoformat(open_partition_key())
HISTORY_START = TODAY - dt.timedelta(days=6)
#: the closed days the walk loads: a range of four
DAYS = [(TODAY - dt.timedelta(days=n)).isoformat() for n in range(4, 0, -1)]
EXTRACT = "salesforce/sf_order_items"
#: what the orders flow reads for these days, and the flow
SYNC_SELECTION = [
    "salesforce/sf_accounts",
    "salesforce/sf_products",
    "salesforce/sf_orders",
    "netsuite/ns_items",
    "netsuite/ns_customers",
    "sync/orders_to_ns",
]
VIEWPORT = {"width": 2400, "height": 1400}
#: the whole graph's page: Dagster stacks the three groups (each laid out left to right), so the
#: page is tall; the fit then draws every name large enough to read in the picture at this scale
GRAPH_VIEWPORT = {"width": 1600, "height": 5600}
GRAPH_SCALE = 0.75
#: the smallest a node's name may be drawn in the README's picture, in its pixels
READABLE_NAME_PX = 9
#: the UI's own setting (Lineage -> the graph's settings), stored per browser: left to right
GRAPH_DIRECTION = "localStorage.setItem('asset-graph-direction', JSON.stringify('horizontal'))"
#: the graph's viewport (what the user sees of the graph; the SVG inside it is panned and zoomed)
CANVAS = "[data-svg-viewport]"
NODE_BOXES = '[class*="_assetNodeBox__"], [class*="_minimalAssetNodeBox__"]'
GROUP_OUTLINES = '[class*="_groupOutlineBox_"]'
GROUPS = ("salesforce", "netsuite", "sync")


@pytest.fixture(autouse=True)
def _a_week_of_history(monkeypatch) -> None:
    """Seven daily partitions (before ``dagster_dev`` starts: autouse fixtures come first)."""
    monkeypatch.setenv("O2C_START_DATE", HISTORY_START.isoformat())


def dismiss_newsletter(page) -> None:
    """A fresh instance greets the first visit with a newsletter dialog; skip it if it is there."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=15_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: no dialog this time
        return
    skip.click()
    skip.wait_for(state="hidden")


def wait_for_backfill(dev, backfill_id: str, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    backfill: dict = {}
    while time.monotonic() < deadline:
        backfill = dev.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        runs = backfill.get("runs") or []
        if (
            backfill.get("status") not in ("REQUESTED", "CANCELING")
            and runs
            and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
        ):
            return backfill
        time.sleep(2)
    pytest.fail(f"backfill {backfill_id} did not finish: {backfill}\n{dev.log_tail()}")


def wait_for_run(dev, run_id: str, timeout_s: float = 240) -> str:
    deadline = time.monotonic() + timeout_s
    status = "?"
    while time.monotonic() < deadline:
        status = dev.graphql(RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(2)
    pytest.fail(f"run {run_id} did not finish ({status}):\n{dev.log_tail()}")


def materializations(dev, asset: str) -> list[dict]:
    """The asset's materializations, each with its partition and metadata as a dict."""
    node = dev.graphql(MATERIALIZATIONS, {"path": asset.split("/")})["assetNodeOrError"]
    out = []
    for event in node["assetMaterializations"]:
        metadata = {}
        for entry in event["metadataEntries"]:
            values = [v for k, v in entry.items() if k not in ("label", "__typename")]
            metadata[entry["label"]] = values[0] if values else entry["__typename"]
        out.append({"partition": event["partition"], "metadata": metadata})
    return out


def launch_backfill_by_clicks(page, url: str, asset: str, days: list[str]) -> None:
    """Asset page -> Materialize... -> the days in the partition selector -> Launch backfill."""
    page.goto(f"{url}/assets/{asset}")
    dismiss_newsletter(page)
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Custom").click()
    dialog.get_by_text(re.compile(r"Showing \d+ of \d+ partitions")).wait_for()
    range_input = dialog.locator("input[type=text], input:not([type])").first
    range_input.fill(f"[{days[0]}...{days[-1]}]")
    range_input.press("Enter")
    dialog.get_by_text(f"{len(days)} partitions", exact=True).wait_for()
    dialog.get_by_role("button", name="Launch backfill").click()
    page.get_by_text(
        re.compile(r"Created backfill|Launched backfill|backfill", re.I)
    ).first.wait_for()


def show_whole_graph(page, url: str, asset_count: int) -> None:
    """Lineage with every group open, fit to the view by the canvas' double-click (which toggles
    between the detail zoom and the fit), then zoomed out until every node is drawn (the graph
    draws only the nodes inside its viewport)."""
    page.goto(f"{url}/asset-groups")
    dismiss_newsletter(page)
    canvas = page.locator(CANVAS)
    canvas.get_by_text("sync", exact=True).first.wait_for()
    collapsed = canvas.get_by_role("img", name="unfold_more")
    for _ in range(2):  # the graph's shortcut for "Expand all groups" toggles
        if collapsed.count() == 0:
            break
        canvas.focus()
        page.keyboard.press("Alt+e")
        page.wait_for_timeout(1000)
    assert collapsed.count() == 0, "a group stayed collapsed"
    page.wait_for_timeout(1500)
    # an empty spot: the layout's margin at the viewport's top left corner (a double-click on a
    # group would fold it)
    view = canvas.bounding_box()
    page.mouse.dblclick(view["x"] + 8, view["y"] + 8)
    page.wait_for_timeout(2000)
    zoom_out = page.get_by_role("img", name="zoom_out").first
    for _ in range(20):  # then out, down to Dagster's minimum zoom if need be
        if page.locator(NODE_BOXES).count() == asset_count:
            break
        zoom_out.click()
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)


def group_titles(page) -> dict[str, dict | None]:
    """Each group's title on the canvas (not the side panel's list), by name: its box or None."""
    canvas = page.locator(CANVAS)
    return {g: canvas.get_by_text(g, exact=True).first.bounding_box() for g in GROUPS}


def drawn_outside(page) -> list[str]:
    """The nodes (their names) and group titles not wholly inside the graph's viewport."""
    view = page.locator(CANVAS).bounding_box()

    def inside(box: dict | None) -> bool:
        return box is not None and (
            box["x"] >= view["x"]
            and box["y"] >= view["y"]
            and box["x"] + box["width"] <= view["x"] + view["width"]
            and box["y"] + box["height"] <= view["y"] + view["height"]
        )

    outside = [
        node.inner_text().strip() or "?"
        for node in page.locator(NODE_BOXES).all()
        if not inside(node.bounding_box())
    ]
    return outside + [f"group {g}" for g, box in group_titles(page).items() if not inside(box)]


def graph_clip(page, margin: float = 24) -> dict[str, float]:
    """The region of the page the groups' outlines cover, with a margin: the graph alone."""
    boxes = [b for b in (o.bounding_box() for o in page.locator(GROUP_OUTLINES).all()) if b]
    boxes += [b for b in group_titles(page).values() if b]
    x0 = min(b["x"] for b in boxes) - margin
    y0 = min(b["y"] for b in boxes) - margin
    x1 = max(b["x"] + b["width"] for b in boxes) + margin
    y1 = max(b["y"] + b["height"] for b in boxes) + margin
    return {"x": max(x0, 0), "y": max(y0, 0), "width": x1 - max(x0, 0), "height": y1 - max(y0, 0)}


def test_first_hour_in_the_ui(dagster_dev, chromium_path, tmp_path):
    from playwright.sync_api import sync_playwright

    from o2c_pipeline_tests.ops.conftest import CHROMIUM_ARGS

    asset_count = len(dagster_dev.graphql(ASSET_KEYS)["assetNodes"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(60_000)
        try:
            # 1. a backfill launched by clicks, over four days, completes (one run: single-run
            # backfill policy)
            before = {
                b["id"]
                for b in dagster_dev.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
            }
            launch_backfill_by_clicks(page, dagster_dev.url, EXTRACT, DAYS)
            deadline = time.monotonic() + 30
            new: list[dict] = []
            while not new and time.monotonic() < deadline:
                results = dagster_dev.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
                new = [b for b in results if b["id"] not in before]
                time.sleep(1)
            assert new, "the dialog launched no backfill"
            backfill = wait_for_backfill(dagster_dev, new[0]["id"])
            assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
            assert [r["status"] for r in backfill["runs"]] == ["SUCCESS"], backfill
            assert backfill["numPartitions"] == len(DAYS)
            page.goto(f"{dagster_dev.url}/runs/b/{backfill['id']}")
            page.get_by_text("Succeeded", exact=True).first.wait_for()
            page.get_by_text(re.compile(rf"^{DAYS[0]}\W+{DAYS[-1]}$")).first.wait_for()

            # meanwhile a sync run over the same days, launched through GraphQL
            launched = dagster_dev.graphql(
                LAUNCH_RUN,
                {
                    "params": {
                        "selector": {
                            **LOCATION,
                            "jobName": "o2c_sync",
                            "assetSelection": [{"path": a.split("/")} for a in SYNC_SELECTION],
                        },
                        "executionMetadata": {
                            "tags": [
                                {"key": "dagster/asset_partition_range_start", "value": DAYS[0]},
                                {"key": "dagster/asset_partition_range_end", "value": DAYS[-1]},
                            ]
                        },
                    }
                },
            )["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched

            # 2. each day its own figures: GraphQL first, then what the asset page shows
            by_day = {
                m["partition"]: m["metadata"]
                for m in materializations(dagster_dev, EXTRACT)
                if m["partition"] in DAYS
            }
            assert sorted(by_day) == DAYS, by_day.keys()
            rows = {day: by_day[day]["rows"] for day in DAYS}
            assert len(set(rows.values())) > 1, f"the same rows every day: {rows}"
            for day in DAYS:
                assert by_day[day]["window"].startswith(f"[{day}T00:00:00"), by_day[day]
            day = DAYS[1]
            page.goto(f"{dagster_dev.url}/assets/{EXTRACT}?view=partitions&partition={day}")
            page.get_by_text(by_day[day]["window"], exact=True).first.wait_for()
            page.goto(f"{dagster_dev.url}/assets/{EXTRACT}")
            page.get_by_role("button", name="Plots").click()
            rows_plot = page.get_by_text("rows", exact=True).first
            rows_plot.wait_for()
            rows_plot.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "plots.png"))

            # 3. the sync run's dead letters on sync/orders_to_ns
            status = wait_for_run(dagster_dev, launched["run"]["runId"])
            assert status == "SUCCESS", dagster_dev.log_tail()
            latest = materializations(dagster_dev, "sync/orders_to_ns")[0]["metadata"]
            codes = re.findall(r"\b[A-Z][A-Z_]{3,}\b", str(latest.get("dlq_by_error_code")))
            assert latest["dlq_open"] > 0 and codes, latest
            page.goto(f"{dagster_dev.url}/assets/sync/orders_to_ns")
            page.get_by_text("dlq_by_error_code", exact=True).first.wait_for()
            page.get_by_text(codes[0], exact=True).first.wait_for()
            page.get_by_text("o2c dlq replay --flow orders").first.wait_for()
            page.screenshot(path=str(tmp_path / "sync-orders.png"))

            # 4. the whole graph, left to right, every node and group title drawn in the view
            page.screenshot(path=str(tmp_path / "last.png"))
            page.close()
            page = browser.new_page(viewport=GRAPH_VIEWPORT, device_scale_factor=GRAPH_SCALE)
            page.set_default_timeout(60_000)
            page.add_init_script(GRAPH_DIRECTION)
            show_whole_graph(page, dagster_dev.url, asset_count)
            assert page.locator(NODE_BOXES).count() == asset_count
            assert not drawn_outside(page), drawn_outside(page)
            titles = group_titles(page)
            sync_x = titles.pop("sync")["x"]
            assert all(sync_x > box["x"] for box in titles.values()), titles  # sources first
            name = page.locator(NODE_BOXES).get_by_text("sf_orders", exact=True).first
            name_px = name.bounding_box()["height"] * GRAPH_SCALE
            assert name_px >= READABLE_NAME_PX, f"names drawn {name_px:.1f} px high"
            screenshot = (
                README_SCREENSHOT
                if os.environ.get("O2C_UPDATE_SCREENSHOT") == "1"
                else tmp_path / "asset-graph.png"
            )
            page.screenshot(path=str(screenshot), clip=graph_clip(page))

            # 5. zoomed in, each node shows its kinds: the systems, with Dagster's logos
            zoom_in = page.get_by_role("img", name="zoom_in").first
            full_nodes = page.locator('[class*="_assetNodeBox__"]')
            for _ in range(10):
                if full_nodes.count():
                    break
                zoom_in.click()
                page.wait_for_timeout(500)
            assert full_nodes.count(), "no node drawn in detail"
            canvas = page.locator(CANVAS)
            canvas.get_by_role("img", name="salesforce").first.wait_for()
            for kind in ("netsuite", "duckdb"):
                canvas.get_by_text(re.compile(rf"^{kind}$", re.I)).first.wait_for()
        finally:
            page.screenshot(path=str(tmp_path / "last.png"))
            (tmp_path / "last.html").write_text(page.content())
            browser.close()
    assert screenshot.stat().st_size > 20_000


ASSET_KEYS = "{ assetNodes { assetKey { path } } }"

BACKFILLS = """
{ partitionBackfillsOrError(limit: 10) { ... on PartitionBackfills { results { id } } } }
"""

BACKFILL_STATUS = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions runs(limit: 10) { runId status } }
  }
}
"""

LAUNCH_RUN = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

RUN_STATUS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"

MATERIALIZATIONS = """
query ($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode {
      assetMaterializations(limit: 100) {
        partition
        metadataEntries {
          __typename label
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
          ... on MarkdownMetadataEntry { mdStr }
          ... on TableMetadataEntry { table { records } }
        }
      }
    }
  }
}
"""
