"""``o2c sync plan``: every write the next sync cycle would make, shown before any is made.

Runs today's ``o2c_sync`` cycle with every flow in a dry run: the delta loads land as usual (the
warehouse is the plan's input), the flows compute their writes and send none, and the plan is
printed here, kept in the run's asset metadata and appended to the warehouse's ``sync.plan``.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import click
import dagster as dg

from o2c_pipeline.cli.tables import text_table

PLAN_COLUMNS = ("flow", "record", "action", "target", "changes")


@click.group("sync")
def sync() -> None:
    """The sync's write-back, planned before it writes."""


def plan_run_config(job: dg.JobDefinition) -> dict[str, Any]:
    """``dry_run`` for every sync flow asset in ``job``."""
    from o2c_pipeline.sync.assets import FLOW_ASSETS

    in_job = {node.name for node in job.nodes_in_topological_order}
    ops = {a.op.name for a in FLOW_ASSETS} & in_job
    return {"ops": {name: {"config": {"dry_run": True}} for name in sorted(ops)}}


def shown_changes(action: str, changes: str | None, error_code: str | None) -> str:
    if action == "dead_letter":
        return f"{error_code}: {changes}"
    return "; ".join(f"{f}: {o} -> {n}" for f, o, n in json.loads(changes or "[]"))


@sync.command("plan")
@click.option("--width", default=160, show_default=True, help="Cut the changes column to fit.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
def plan(width: int, progress: bool) -> None:
    """Show every create, update (field: old -> new) and dead letter of the next cycle."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from o2c_pipeline import preflight, settings
    from o2c_pipeline.cli.run import execute, instance_for_run
    from o2c_pipeline.definitions import build_definitions
    from o2c_pipeline.partitions import open_partition_key
    from o2c_pipeline.warehouse import open_warehouse

    try:
        preflight.check()
    except preflight.PreflightError as exc:
        raise click.ClickException(str(exc)) from None
    job = build_definitions().resolve_job_def("o2c_sync")
    run_config = plan_run_config(job)
    run_config["loggers"] = {"console": {"config": {"log_level": "ERROR"}}}
    today = open_partition_key()
    with instance_for_run() as instance:
        result = execute(
            job, instance, start=today, end=today, run_config=run_config, progress=progress
        )
    if not result.success:
        raise click.ClickException(f"plan run {result.run_id} failed; see its event log")
    rows = planned_rows(open_warehouse(settings.warehouse_location()), result.run_id)
    click.echo(format_plan(rows, width))


def planned_rows(warehouse: Any, run_id: str) -> list[tuple]:
    """``(flow, source_id, action, target_object, target_id, changes, error_code)`` of a run."""
    if not warehouse.table_exists("sync.plan"):
        return []
    return warehouse.query(
        "SELECT flow, source_id, action, target_object, target_id, changes, error_code "
        "FROM sync.plan WHERE run_id = ? ORDER BY seq",
        [run_id],
    )


def format_plan(rows: list[tuple], width: int = 160) -> str:
    if not rows:
        return "Nothing to write: the next cycle makes no write."
    cells = [
        [
            flow,
            source_id,
            action,
            f"{target_object} {target_id or ''}".strip(),
            shown_changes(action, changes, error_code)[:width],
        ]
        for flow, source_id, action, target_object, target_id, changes, error_code in rows
    ]
    counts: dict[tuple[str, str], int] = {}
    for flow, _, action, *_ in rows:
        counts[(flow, action)] = counts.get((flow, action), 0) + 1
    summary = [
        f"{flow}: {n} {action.replace('_', ' ')}{'s' if n != 1 else ''}"
        for (flow, action), n in sorted(counts.items())
    ]
    table = text_table([list(PLAN_COLUMNS), *cells], rules_before={1})
    return "\n".join([*table, "", *summary, "Nothing was written. Apply: o2c run"])
