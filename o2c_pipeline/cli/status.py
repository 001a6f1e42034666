"""``o2c status``: where every entity's watermark stands, the last runs, failures and the DLQ."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import click
import sqlalchemy as sa

from o2c_pipeline import keys, settings
from o2c_pipeline.cli import tables
from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.resources.checkpoints import CheckpointStore


def _age(when: dt.datetime | None, now: dt.datetime) -> str:
    if when is None:
        return "-"
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def watermark_rows(store: CheckpointStore, now: dt.datetime) -> list[dict[str, Any]]:
    marks = store.watermarks()
    rows = []
    for entity in ENTITIES:
        mark = marks.get(entity.watermark_key)
        rows.append(
            {
                "entity": entity.table,
                "watermark": mark.modstamp.isoformat(timespec="seconds") if mark else None,
                "advanced": _age(mark.updated_at, now) if mark else "never loaded",
            }
        )
    return rows


def dlq_rows(store: CheckpointStore, now: dt.datetime) -> list[dict[str, Any]]:
    from o2c_pipeline.sync.store import SyncStore

    return [
        {
            "flow": g.flow,
            "error_class": g.error_class,
            "entries": g.entries,
            "due_now": g.due_now,
            "oldest": _age(g.oldest, now),
        }
        for g in SyncStore(store.engine()).overview(now, now)
    ]


def failure_rows(store: CheckpointStore, limit: int) -> list[dict[str, Any]]:
    from o2c_pipeline.sensors import run_failures_table as t

    query = sa.select(
        t.c.failed_at, t.c.job_name, t.c.partition, t.c.trigger, t.c.run_id, t.c.message
    )
    with store.engine().connect() as conn:
        rows = conn.execute(query.order_by(t.c.failed_at.desc()).limit(limit)).all()
    return [
        {
            "failed_at": failed_at.isoformat(timespec="seconds") if failed_at else None,
            "job": job,
            "partition": partition,
            "trigger": trigger,
            "run_id": run_id[:8],
            "message": (message or "").splitlines()[0][:80] if message else "",
        }
        for failed_at, job, partition, trigger, run_id, message in rows
    ]


def _partitions_of(tags: dict[str, str]) -> str | None:
    """The run's partition, or its range as ``first..last`` (a history run or a backfill)."""
    if keys.PARTITION_TAG in tags:
        return tags[keys.PARTITION_TAG]
    first, last = tags.get(keys.RANGE_START_TAG), tags.get(keys.RANGE_END_TAG)
    if first and last and first != last:
        return f"{first}..{last}"
    return first


def run_rows(limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """Last runs and pool limits from the Dagster instance, or None without DAGSTER_HOME."""
    if not settings.value("DAGSTER_HOME"):
        return None
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(limit=limit)
        runs = [
            {
                "run_id": r.dagster_run.run_id[:8],
                "job": r.dagster_run.job_name,
                "status": r.dagster_run.status.value,
                "partition": _partitions_of(r.dagster_run.tags),
                "trigger": r.dagster_run.tags.get(keys.SENSOR_TAG)
                or r.dagster_run.tags.get(keys.SCHEDULE_TAG)
                or ("backfill" if keys.BACKFILL_TAG in r.dagster_run.tags else "manual"),
                "created": r.create_timestamp.isoformat(timespec="seconds"),
            }
            for r in records
        ]
        storage = instance.event_log_storage
        pools = (
            [
                {"pool": p.name, "limit": p.limit}
                for p in sorted(storage.get_pool_limits(), key=lambda p: p.name)
            ]
            if storage.supports_global_concurrency_limits
            else []
        )
    return runs, pools


@click.command()
@click.option(
    "--runs", "run_limit", default=10, show_default=True, help="How many recent runs to list."
)
@click.option("--as-json", is_flag=True, help="One JSON document instead of tables.")
def status(run_limit: int, as_json: bool) -> None:
    """Watermarks per entity, the last runs, recorded failures and the dead-letter queue."""
    now = dt.datetime.now(dt.UTC)
    store = CheckpointStore(url=settings.default_checkpoint_url())
    report: dict[str, Any] = {
        "checkpoint_store": store.resolved_url if "@" not in store.resolved_url else "(server)",
        "watermarks": watermark_rows(store, now),
        "dead_letter_queue": dlq_rows(store, now),
        "failures": failure_rows(store, limit=run_limit),
    }
    instance_rows = run_rows(run_limit)
    report["runs"], report["pools"] = instance_rows if instance_rows else (None, None)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return

    def section(title: str, rows: list[dict[str, Any]] | None, header: Sequence[str]) -> None:
        if rows is None:
            click.echo(f"{title}\n  (no Dagster instance at {settings.dagster_home()})\n")
            return
        tables.echo(tables.table(header, [[r[h] for h in header] for r in rows], title=title))

    section("Watermarks", report["watermarks"], ("entity", "watermark", "advanced"))
    section(
        "Last runs", report["runs"], ("run_id", "job", "status", "partition", "trigger", "created")
    )
    section(
        "Recorded failures",
        report["failures"],
        ("failed_at", "job", "partition", "trigger", "run_id", "message"),
    )
    section(
        "Dead-letter queue",
        report["dead_letter_queue"],
        ("flow", "error_class", "entries", "due_now", "oldest"),
    )
    section("Concurrency pools", report["pools"], ("pool", "limit"))
