"""``o2c run``: materialize ``o2c_sync`` for a partition, a range or the whole history, in process.

The run goes through a real ``DagsterInstance`` (``$DAGSTER_HOME`` if set, else an ephemeral one),
so it shows up in the UI like any other run and the single-run backfill policy applies: a range
is one run. On a terminal a live table follows the assets; a per-table summary closes the run.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

import click
import dagster as dg
from dagster import DagsterEventType

from o2c_pipeline import keys, settings
from o2c_pipeline.partitions import open_partition_key

SUMMARY_FIELDS = ("rows", "versions", "deletes", "written", "failed", "api_calls", "seconds")


def earliest_partition(resources: dict[str, Any]) -> dt.date:
    """The first day any entity has a record in (one cheap query per entity and delete source)."""
    from o2c_pipeline.history import discover

    return discover(resources)


def partition_tags(start: str, end: str) -> dict[str, str]:
    return {keys.RANGE_START_TAG: start, keys.RANGE_END_TAG: end}


PROGRESS_EVENTS = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
}


def _terminal() -> IO[str] | None:
    """The real terminal, duplicated before the run starts: Dagster captures the process's
    stdout/stderr into each step's compute log, so a bar written there would land in the logs."""
    for stream in (sys.stderr, sys.stdout):
        try:
            if stream.isatty():
                return os.fdopen(os.dup(stream.fileno()), "w", buffering=1)
        except (OSError, ValueError):
            continue
    return None


class RunProgress:
    """Follows a run's event log: per asset its step's state, rows, rows/s and the sync's
    writes, as soon as each step ends."""

    def __init__(self, job_name: str, span: str, total_steps: int) -> None:
        self.title = f"{job_name} {span}"
        self.total_steps = total_steps
        self.started = time.monotonic()
        self.step_start: dict[str, float] = {}
        self.step_state: dict[str, str] = {}
        self.assets: dict[str, dict[str, Any]] = {}

    def add(self, record: Any) -> None:
        entry = record.event_log_entry
        event, step = entry.dagster_event, entry.step_key or ""
        if event is None:
            return
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            self.step_start[step] = entry.timestamp
            self.step_state[step] = "running"
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            self.step_state[step] = "done" if kind == DagsterEventType.STEP_SUCCESS else "FAILED"
            for row in self.assets.values():
                if row["step"] == step:
                    row["wall_s"] = entry.timestamp - self.step_start.get(step, entry.timestamp)
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            from o2c_pipeline.assets.partition_figures import add_figures

            materialization = event.step_materialization_data.materialization
            name = keys.name_of(materialization.asset_key)
            row = self.assets.setdefault(name, {"step": step, "wall_s": None})
            add_figures(row, materialization)  # a range run: one materialization per day

    def renderable(self, height: int = 24) -> Any:
        """The assets materialized last (as many as fit ``height`` lines), under a title that
        counts the steps done and names those running."""
        from o2c_pipeline.cli import tables

        rows = []
        for name, row in list(self.assets.items())[-max(3, height - 8) :]:
            wall = row.get("wall_s")
            rate = (row.get("rows") or 0) / wall if wall else None
            shown_rate = f"{rate:,.0f}" if rate is not None else None
            state = self.step_state.get(row["step"], "")
            rows.append((name, state, row.get("rows"), shown_rate, row.get("written")))
        running = sorted(s for s, state in self.step_state.items() if state == "running")
        done = sum(state != "running" for state in self.step_state.values())
        elapsed = time.monotonic() - self.started
        title = f"{self.title}  {elapsed:.0f}s  {done}/{self.total_steps} steps done"
        if running:
            title += f"  running: {', '.join(running[:3])}" + (" ..." if len(running) > 3 else "")
        return tables.table(
            ("table", "step", "rows", "rows/s", "written"),
            rows,
            title=title,
            right={2, 3, 4},
            empty="(waiting for the first step to end)",
        )


def execute(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    *,
    start: str,
    end: str,
    run_config: dict[str, Any] | None = None,
    progress: bool = True,
) -> dg.ExecuteInProcessResult:
    """Run ``job`` over ``[start, end]`` as one run; with ``progress`` and a terminal, a live
    table follows its assets (silent when not a TTY)."""
    run_id = str(uuid.uuid4())
    if "pandas" not in sys.modules:
        # pyarrow imports pandas at the first array it builds: on a thread, it loads while the
        # run is planned and its first calls are out instead of inside the first step
        threading.Thread(
            target=importlib.import_module, args=("pandas",), name="o2c-preload", daemon=True
        ).start()
    kwargs: dict[str, Any] = (
        {"partition_key": start} if start == end else {"tags": partition_tags(start, end)}
    )

    def run_job() -> dg.ExecuteInProcessResult:
        # one process runs every step: its DuckDB file stays open between back-to-back sessions
        from o2c_pipeline.warehouse.duckdb import lingering

        with lingering():
            return job.execute_in_process(
                run_config=run_config,
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                **kwargs,
            )

    terminal = _terminal() if progress else None
    if terminal is None:
        return run_job()
    from rich.console import Console
    from rich.live import Live

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = run_job()
        except BaseException as exc:  # surfaced in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="o2c-run", daemon=True)
    span = start if start == end else f"{start}..{end}"
    tracker = RunProgress(job.name, span, len(job.nodes_in_topological_order))
    cursor: str | None = None
    screen = Console(file=terminal, highlight=False)
    with (
        terminal,
        Live(
            tracker.renderable(screen.height),
            console=screen,
            refresh_per_second=2,
            transient=True,
        ) as live,
    ):
        worker.start()
        while True:
            alive = worker.is_alive()
            # only the events it shows, read from where the last poll stopped: cheap however long
            page = instance.get_records_for_run(run_id, cursor=cursor, of_type=PROGRESS_EVENTS)
            cursor = page.cursor
            for record in page.records:
                tracker.add(record)
            live.update(tracker.renderable(screen.height))
            if not alive and not page.has_more:
                break
            time.sleep(0.5)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def step_walls(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Wall seconds of each step of the run, from its event log (start to success or failure)."""
    started: dict[str, float] = {}
    walls: dict[str, float] = {}
    records = instance.get_records_for_run(
        run_id, of_type=PROGRESS_EVENTS - {DagsterEventType.ASSET_MATERIALIZATION}, limit=100_000
    ).records
    for record in records:
        entry = record.event_log_entry
        if entry.dagster_event_type == DagsterEventType.STEP_START:
            started[entry.step_key] = entry.timestamp
        elif entry.step_key in started:
            walls[entry.step_key] = entry.timestamp - started[entry.step_key]
    return walls


def summary_rows(
    result: dg.ExecuteInProcessResult, walls: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """One row per table. A range run records one materialization per partition, each with its
    day's figures and the step's own on the last one: each figure is their sum. ``wall_s`` is
    the wall time of the asset's step."""
    from o2c_pipeline.assets.partition_figures import merged_metadata

    events = result.get_asset_materialization_events()
    merged = merged_metadata(events)
    step_of = {keys.name_of(e.asset_key): e.step_key or "" for e in events}
    return [
        {
            "table": table,
            **{name: merged[table].get(name) for name in SUMMARY_FIELDS},
            "wall_s": (walls or {}).get(step_of[table]),
        }
        for table in sorted(merged)
    ]


#: summary column -> its label: ``seconds`` is the time spent fetching from the source API
SUMMARY_LABELS = {"api_calls": "api calls", "seconds": "fetch s", "wall_s": "wall s"}


def summary_table(rows: list[dict[str, Any]], run_wall_s: float | None = None) -> Any:
    """The summary as a rich table with a totals row (the run's wall time, not a sum of steps
    that ran side by side)."""
    from o2c_pipeline.cli import tables

    fields = (*SUMMARY_FIELDS, "wall_s")
    header = ("table", *(SUMMARY_LABELS.get(f, f) for f in fields))
    totals = ["total"] + [
        run_wall_s if f == "wall_s" else sum(r[f] or 0 for r in rows) for f in fields
    ]
    cells = [[r["table"], *(r.get(f) for f in fields)] for r in rows]
    return tables.table(header, cells, right=range(1, len(header)), footer=totals)


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
    """``$DAGSTER_HOME``'s instance, else an ephemeral one that stores event batches at once."""
    if settings.value("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    from o2c_pipeline.event_storage import ephemeral_instance

    return ephemeral_instance()


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
@click.option(
    "--progress/--no-progress",
    default=True,
    help="Follow the run in a live table (only on a terminal).",
)
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

        if not answers.done():
            # pyarrow imports pandas at the first array it builds (the probes' answers): while
            # the pre-flight's calls are out, its half second costs nothing
            import pandas  # noqa: F401
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
    began = time.monotonic()
    with instance_for_run() as instance:
        from o2c_pipeline.pools import ensure_pool_limits

        ensure_pool_limits(instance)  # the declared pools, as the UI's Concurrency page shows them
        result = execute(
            job, instance, start=start, end=end, run_config=run_config, progress=progress
        )
        run_wall = time.monotonic() - began
        rows = summary_rows(result, step_walls(instance, result.run_id))
    from o2c_pipeline.cli import tables

    tables.echo(summary_table(rows, run_wall))
    click.echo(
        f"{job.name} {start}..{end}: {run_wall:.1f}s wall. fetch s = time spent reading the "
        "source API; wall s = the step's wall time (steps run side by side)."
    )
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
