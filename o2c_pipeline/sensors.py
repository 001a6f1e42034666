"""Sensors: keep the warehouse current, re-drive the dead-letter queue, and record failures.

- ``salesforce_changes`` / ``netsuite_changes``: each tick asks its system one cheap question —
  how many records of each entity changed since that entity's watermark (NetSuite: one SuiteQL
  ``UNION ALL`` of counts, deletions included; Salesforce: one ``SELECT COUNT()`` per object) —
  and requests a run of the open (today's) partition for just the entities that changed.
- ``dlq_redrive``: re-drives dead-letter entries whose retry time has come.
- ``o2c_run_failures``: records every failed run in the checkpoint store (``o2c_run_failures``,
  read by ``o2c status``) and in the run's own event log, and POSTs to ``O2C_ALERT_WEBHOOK_URL``.

Sensors decide and record; they never extract. A tick that may launch runs first applies the declared
pool limits (:func:`o2c_pipeline.pools.ensure_pool_limits`), so the runs it launches are budgeted.
"""

# No `from __future__ import annotations`: Dagster reads context and resource annotations at definition time.
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import EngineEventData
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from o2c_pipeline import alerts, keys, settings
from o2c_pipeline.config import load as load_config
from o2c_pipeline.entities import ENTITIES
from o2c_pipeline.jobs import o2c_extract
from o2c_pipeline.partitions import open_partition_key
from o2c_pipeline.pools import ensure_pool_limits
from o2c_pipeline.resources.checkpoints import CheckpointStore, Watermark, checkpoint_table
from o2c_pipeline.resources.secrets import scrub
from o2c_pipeline.sync.assets import sync_dlq_replay
from o2c_pipeline.sync.store import SyncStore
from o2c_pipeline.systems import SYSTEMS, source_of

log = logging.getLogger(__name__)

#: Seconds between probes of one system (``triggers:`` of the configuration file; default: a
#: change lands within ~5 minutes, the seeds' "poll every 5 min", and each probe costs one to a
#: handful of API calls), and between looks at the dead-letter queue.
TRIGGERS = load_config().config.triggers
SOURCE_SENSOR_INTERVAL_S = TRIGGERS.change_sensor_interval_s
DLQ_SENSOR_INTERVAL_S = TRIGGERS.dlq_redrive_interval_s
FAILURE_SENSOR_INTERVAL_S = 30
TRIGGER_TAG = "o2c/trigger"

#: A probe's answer: entity table -> records changed since its watermark; ``None`` = never loaded.
Changes = dict[str, int | None]


# ---------------------------------------------------------------------------------------------
# Probes: one cheap question per system
# ---------------------------------------------------------------------------------------------


def probe_changes(system: str, resources: Any, watermarks: Mapping[str, Watermark]) -> Changes:
    """What changed in ``system`` since each entity's watermark (entities never loaded: ``None``)."""
    entities = [e for e in ENTITIES if e.system == system]
    marks = [
        (e, watermarks[e.watermark_key].modstamp) for e in entities if e.watermark_key in watermarks
    ]
    changes: Changes = {e.table: None for e in entities if e.watermark_key not in watermarks}
    changes.update(source_of(resources, system).changes_since(marks))
    return changes


def changes_run_key(
    system: str, partition: str, changes: Changes, watermarks: Mapping[str, Watermark]
) -> str:
    """The same changes seen against the same watermarks request the same run exactly once."""
    basis = sorted(
        (table, n, watermarks[table].modstamp.isoformat() if table in watermarks else None)
        for table, n in changes.items()
        if n != 0
    )
    digest = hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:16]
    return f"{system}:{partition}:{digest}"


def _sensor_runs_in_flight(instance: dg.DagsterInstance, sensor_name: str) -> list[dg.DagsterRun]:
    return list(
        instance.get_runs(
            filters=dg.RunsFilter(
                tags={keys.SENSOR_TAG: sensor_name}, statuses=list(IN_PROGRESS_RUN_STATUSES)
            ),
            limit=1,
        )
    )


def build_source_sensor(system: str) -> dg.SensorDefinition:
    """The change sensor for one system. Its resource varies with the system, hence
    ``required_resource_keys`` (Dagster allows them or typed parameters, not both)."""
    name = f"{system}_changes"

    @dg.sensor(
        name=name,
        job=o2c_extract,
        minimum_interval_seconds=SOURCE_SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={SYSTEMS[system].resource_key, keys.CHECKPOINTS},
        description=(
            f"Every {SOURCE_SENSOR_INTERVAL_S} s: count {system} records changed since each "
            "entity's watermark and load today's partition of the entities that changed."
        ),
    )
    def _changes(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        ensure_pool_limits(context.instance)
        if _sensor_runs_in_flight(context.instance, name):
            return dg.SkipReason(
                f"a run this sensor requested is still in progress; {system} not probed"
            )
        checkpoints: CheckpointStore = getattr(context.resources, keys.CHECKPOINTS)
        watermarks = checkpoints.watermarks(prefix=f"{system}.")
        changes = probe_changes(system, context.resources, watermarks)
        changed = {table: n for table, n in changes.items() if n != 0}
        cursor = json.dumps(
            {
                "probed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "changes": changes,
                "watermarks": {t: w.modstamp.isoformat() for t, w in sorted(watermarks.items())},
            },
            sort_keys=True,
        )
        if not changed:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"no {system} changes since the watermarks"),
                cursor=cursor,
            )
        partition = open_partition_key()
        request = dg.RunRequest(
            run_key=changes_run_key(system, partition, changes, watermarks),
            partition_key=partition,
            asset_selection=[keys.table_key(table) for table in sorted(changed)],
            tags={TRIGGER_TAG: name},
        )
        context.log.info(f"{system}: changes {changed}; loading partition {partition}")
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return _changes


SOURCE_SENSORS = [build_source_sensor(system) for system in SYSTEMS]


# ---------------------------------------------------------------------------------------------
# Dead letters whose retry time has come
# ---------------------------------------------------------------------------------------------

DLQ_REPLAY_BATCH = 500  # records per replay run; the rest are picked up by the next tick


@dg.sensor(
    name="dlq_redrive",
    job=sync_dlq_replay,
    minimum_interval_seconds=DLQ_SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-drives dead-lettered sync records whose retry time has come (back-off doubles "
    "with each attempt); records that still fail return to the queue with a later retry time.",
)
def dlq_redrive(
    context: dg.SensorEvaluationContext, checkpoints: CheckpointStore
) -> dg.SensorResult | dg.SkipReason:
    if _sensor_runs_in_flight(context.instance, "dlq_redrive"):
        return dg.SkipReason("the previous re-drive is still running")
    now = dt.datetime.now(dt.UTC)
    due = SyncStore(checkpoints.engine()).due(now, DLQ_REPLAY_BATCH)
    per_flow: dict[str, int] = {}
    for flow, _, _ in due:
        per_flow[flow] = per_flow.get(flow, 0) + 1
    cursor = json.dumps(
        {"checked_at": now.isoformat(timespec="seconds"), "due": per_flow}, sort_keys=True
    )
    if not due:
        return dg.SensorResult(skip_reason=dg.SkipReason("no dead letters are due"), cursor=cursor)
    ensure_pool_limits(context.instance)
    digest = hashlib.sha256(json.dumps(sorted(due)).encode()).hexdigest()[:16]
    source_ids = sorted({source_id for _, source_id, _ in due})
    request = dg.RunRequest(
        run_key=f"dlq:{digest}",  # one re-drive per (records, attempts): a failed one waits its back-off
        run_config={"ops": {"replay_dead_letters": {"config": {"source_ids": source_ids}}}},
        tags={TRIGGER_TAG: "dlq_redrive", "o2c/dlq_due": str(len(due))},
    )
    return dg.SensorResult(run_requests=[request], cursor=cursor)


# ---------------------------------------------------------------------------------------------
# Run failures: a table where users look, the run's event log, and an optional webhook
# ---------------------------------------------------------------------------------------------

run_failures_table = checkpoint_table(
    "o2c_run_failures",
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("job_name", sa.String(255), nullable=False),
    sa.Column("partition", sa.String(64)),
    sa.Column("trigger", sa.String(255)),
    sa.Column("failed_steps", sa.Text),
    sa.Column("message", sa.Text),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("alerted", sa.Boolean, nullable=False, default=False),
)


def failure_record(
    run: dg.DagsterRun, message: str, failed_steps: Sequence[str], now: dt.datetime
) -> dict[str, Any]:
    tags = run.tags
    trigger = (
        tags.get(keys.SENSOR_TAG) or tags.get(keys.SCHEDULE_TAG) or tags.get(keys.BACKFILL_TAG)
    )
    return {
        "run_id": run.run_id,
        "job_name": run.job_name,
        "partition": tags.get(keys.PARTITION_TAG)
        or (
            f"{tags[keys.RANGE_START_TAG]}...{tags[keys.RANGE_END_TAG]}"
            if keys.RANGE_START_TAG in tags
            else None
        ),
        "trigger": trigger or "manual",
        "failed_steps": ", ".join(failed_steps),
        "message": scrub(message)[:4000],
        "failed_at": now,
        "alerted": False,
    }


def record_failure(checkpoints: CheckpointStore, record: Mapping[str, Any]) -> None:
    """Idempotent per run: a re-evaluated tick overwrites, never duplicates."""
    with checkpoints.engine().begin() as conn:
        conn.execute(
            run_failures_table.delete().where(run_failures_table.c.run_id == record["run_id"])
        )
        conn.execute(run_failures_table.insert().values(**record))


def post_alert(url: str, record: Mapping[str, Any], run_url: str | None) -> bool:
    """POST the failure through the alert webhook (:mod:`o2c_pipeline.alerts`); never raises."""
    text = (
        f"o2c run failed: {record['job_name']} {record.get('partition') or ''} "
        f"({record['trigger']}) — {record['message'][:300]}"
    )
    return alerts.post_alert(url, text, {**record, "run_url": run_url})


def _failed_steps(context: dg.RunFailureSensorContext) -> list[str]:
    try:
        return sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    except Exception:  # the run failed before any step (e.g. a launch error)
        return []


@dg.run_failure_sensor(
    name="o2c_run_failures",
    minimum_interval_seconds=FAILURE_SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Records every failed run in the checkpoint store (o2c status lists them) and the run's "
        "event log; POSTs to $O2C_ALERT_WEBHOOK_URL when it is set."
    ),
)
def o2c_run_failures(context: dg.RunFailureSensorContext, checkpoints: CheckpointStore) -> None:
    run = context.dagster_run
    message = context.failure_event.message or "run failed"
    record = failure_record(run, message, _failed_steps(context), dt.datetime.now(dt.UTC))
    webhook = settings.value("O2C_ALERT_WEBHOOK_URL")
    base_url = (settings.value("O2C_DAGSTER_URL") or "").rstrip("/")
    run_url = f"{base_url}/runs/{run.run_id}" if base_url else None
    if webhook:
        record["alerted"] = post_alert(webhook, record, run_url)
    record_failure(checkpoints, record)
    context.instance.report_engine_event(
        f"o2c: failure recorded in the checkpoint store"
        f"{' and sent to the alert webhook' if record['alerted'] else ''}",
        run,
        EngineEventData(
            metadata={
                "failed_steps": record["failed_steps"] or "-",
                "trigger": record["trigger"],
                "alerted": bool(record["alerted"]),
            }
        ),
    )


SENSORS: list[dg.SensorDefinition] = [*SOURCE_SENSORS, dlq_redrive, o2c_run_failures]
