"""``o2c run``: materialize ``o2c_sync`` for a partition, a range or the whole history, in process.

The run goes through a real ``DagsterInstance`` (``$DAGSTER_HOME`` if set, else an ephemeral one),
so it shows up in the UI like any other run and the single-run backfill policy applies: a range
is one run. A progress bar follows the steps; a per-table summary closes the run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click
import dagster as dg
from dagster import DagsterEventType
from tqdm import tqdm

from o2c_pipeline import keys, settings
from o2c_pipeline.cli.tables import text_table
from o2c_pipeline.partitions import open_partition_key

SUMMARY_FIELDS = ("rows", "versions", "deletes", "written", "failed", "api_calls", "seconds")


def earliest_partition(resources: dict[str, Any]) -> dt.date:
    """The first day any entity has a record in (one cheap query per entity and delete source)."""
    from o2c_pipeline.history import discover

    return discover(resources)


def partition_tags(start: str, end: str) -> dict[str, str]:
    return {keys.RANGE_START_TAG: start, keys.RANGE_END_TAG: end}


def execute(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    *,
    start: str,
    end: str,
    run_config: dict[str, Any] | None = None,
    progress: bool = True,
) -> dg.ExecuteInProcessResult:
    """Run ``job`` over ``[start, end]`` as one run, following its steps with a progress bar."""
    run_id = str(uuid.uuid4())
    kwargs: dict[str, Any] = (
        {"partition_key": start} if start == end else {"tags": partition_tags(start, end)}
    )

    def run_job() -> dg.ExecuteInProcessResult:
        return job.execute_in_process(
            run_config=run_config, instance=instance, run_id=run_id, raise_on_error=False, **kwargs
        )

    if not progress:
        return run_job()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = run_job()
        except BaseException as exc:  # surfaced in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="o2c-run", daemon=True)
    worker.start()
    finished = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    cursor: str | None = None
    with tqdm(
        total=len(job.nodes_in_topological_order), desc=f"{job.name} {start}..{end}", unit="step"
    ) as bar:
        while True:
            alive = worker.is_alive()
            # only step-end events, read from where the last poll stopped: cheap however long the run
            page = instance.get_records_for_run(run_id, cursor=cursor, of_type=finished)
            cursor = page.cursor
            bar.update(len(page.records))
            if not alive and not page.has_more:
                break
            time.sleep(0.5)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def summary_rows(result: dg.ExecuteInProcessResult) -> list[dict[str, Any]]:
    """One row per table. A range run records one materialization per partition, each with its
    day's figures and the step's own on the last one: each figure is their sum."""
    from o2c_pipeline.assets.partition_figures import merged_metadata

    merged = merged_metadata(result.get_asset_materialization_events())
    return [
        {"table": table, **{name: merged[table].get(name) for name in SUMMARY_FIELDS}}
        for table in sorted(merged)
    ]


def format_summary(rows: list[dict[str, Any]]) -> str:
    header = ("table", *SUMMARY_FIELDS)
    cells = [
        [str(r["table"])]
        + [
            f"{r[f]:.1f}" if isinstance(r[f], float) else str(r[f] if r[f] is not None else "")
            for f in SUMMARY_FIELDS
        ]
        for r in rows
    ]
    totals = ["total"] + [
        (
            f"{sum(r[f] or 0 for r in rows):.1f}"
            if f == "seconds"
            else str(sum(r[f] or 0 for r in rows))
        )
        for f in SUMMARY_FIELDS
    ]
    table = [list(header), *cells, totals]
    return "\n".join(
        text_table(table, right=range(1, len(header)), rules_before={1, len(table) - 1})
    )


def extract_run_config(job: dg.JobDefinition, **config: Any) -> dict[str, Any]:
    """The same ``ExtractConfig`` values for every extraction asset in ``job``."""
    from o2c_pipeline.assets.extract import EXTRACT_ASSETS

    in_job = {node.name for node in job.nodes_in_topological_order}
    ops = {a.op.name for a in EXTRACT_ASSETS} & in_job
    return {"ops": {name: {"config": dict(config)} for name in sorted(ops)}}


def without_open_day_counts(job: dg.JobDefinition) -> dg.JobDefinition:
    """``job`` without its source-count checks, for a run of the open partition alone.

    Today's records keep changing while the run goes, so a count taken after the extraction races
    with the source (a record written in between fails it) and costs one API call per entity on
    top of the probe that already found nothing new. The count is meaningful once the day is
    closed: ranges, history and closed days keep it, and the nightly reconciliation counts
    yesterday against the sources.
    """
    from o2c_pipeline.checks import ROW_COUNT

    graph = job.asset_layer.asset_graph
    kept = {k for k in graph.asset_check_keys if k.name != ROW_COUNT}
    if kept == set(graph.asset_check_keys):
        return job
    return job.get_subset(
        asset_selection=set(job.asset_layer.executable_asset_keys), asset_check_selection=kept
    )


def instance_for_run() -> dg.DagsterInstance:
    return (
        dg.DagsterInstance.get()
        if settings.value("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )


@click.command("run")
@click.option(
    "--partition", metavar="YYYY-MM-DD", help="One day (UTC); default today, the open partition."
)
@click.option("--start", metavar="YYYY-MM-DD", help="First day of a range (with --end).")
@click.option("--end", metavar="YYYY-MM-DD", help="Last day of a range, inclusive.")
@click.option(
    "--history", is_flag=True, help="Every day the sources have, through today, as one run."
)
@click.option(
    "--full-refresh", is_flag=True, help="Fetch the open partition whole, not from the watermark."
)
@click.option("--extract-only", is_flag=True, help="Run o2c_extract (no sync assets).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="error",
    show_default=True,
    help="Dagster's console log level (the UI keeps every event regardless).",
)
def run(
    partition: str | None,
    start: str | None,
    end: str | None,
    history: bool,
    full_refresh: bool,
    extract_only: bool,
    progress: bool,
    log_level: str,
) -> None:
    """Materialize every O2C table for a day, a range or the whole history, then summarize."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from o2c_pipeline import preflight

    chosen = sum(bool(x) for x in (partition, start or end, history))
    if chosen > 1 or bool(start) != bool(end):
        raise click.UsageError("use one of --partition, --start/--end (both) or --history")
    try:  # settings and configuration file first: a bad one fails before any call
        preflight.validate()
    except preflight.PreflightError as exc:
        raise click.ClickException(str(exc)) from None
    # one cheap call per system, answered while the definitions' modules import (both take
    # about a second; neither needs the other)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="o2c-preflight") as pool:
        answers = pool.submit(preflight.check_systems)
        from o2c_pipeline import history as history_start
        from o2c_pipeline.definitions import build_definitions

        problems = answers.result()
    if problems:
        raise click.ClickException(str(preflight.PreflightError(problems)))
    # before the definitions are built: their partitions begin at the recorded (or configured) day
    first_day = history_start.ensure_recorded()

    today = open_partition_key()
    if history:
        start, end = first_day.isoformat(), today
    elif partition:
        start = end = partition
    elif not start:
        start = end = today
    for day in (start, end):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(f"{day!r} is not a YYYY-MM-DD date") from None
    job = build_definitions().resolve_job_def("o2c_extract" if extract_only else "o2c_sync")
    if start == end == today:
        job = without_open_day_counts(job)
    run_config: dict[str, Any] = extract_run_config(job, full_refresh=True) if full_refresh else {}
    run_config["loggers"] = {"console": {"config": {"log_level": log_level.upper()}}}
    with instance_for_run() as instance:
        result = execute(
            job, instance, start=start, end=end, run_config=run_config, progress=progress
        )
    rows = summary_rows(result)
    click.echo(format_summary(rows))
    failed = sum(r["failed"] or 0 for r in rows)
    if failed:
        click.echo(
            f"{failed} record(s) could not flow and wait in the dead-letter queue, each with its "
            "reason: o2c dlq list"
        )
    if not result.success:
        raise click.ClickException(
            f"run {result.run_id} failed; see the Dagster UI or its event log"
        )
