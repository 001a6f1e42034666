"""Each daily partition's own figures, for a load that covered one day or a whole range.

A range run (the single-run backfill policy, ``o2c run --history``) is one step and one commit,
but Dagster records one materialization per partition. Each carries the figures of its day
(:data:`DAY_FIELDS`): rows fetched, new versions, versions written, deletes, its window, the
newest stamp (``watermark``, a timestamp) and ``dagster/row_count`` (versions held for the day),
so the UI's plots show rows per day. The step's own figures (API calls, pages, seconds, mode,
table totals, schema changes) are not per day: they go on the range's last partition only, so
summing any figure over a run's materializations gives the run's figure.

Cost: three grouped queries per step (staged files before the commit, held versions before and
after), whatever the number of days, and a handful of scalar entries per partition.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

from o2c_pipeline import keys
from o2c_pipeline.entities import Entity
from o2c_pipeline.extract.runner import Extraction
from o2c_pipeline.warehouse import Warehouse, cast_expr, table_ref

#: additive per day: the sum over a run's partitions is the run's figure
DAY_FIELDS = ("rows", "versions", "written", "deletes")
#: the step's figures that add up across steps (recorded once per step, on its last day)
STEP_SUMS = ("api_calls", "pages", "seconds", "fetch_seconds", "failed")


def merged_metadata(events: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Per asset (``system.name``), the run's figures from its materialization events, in
    order: the per-day and step figures summed, every other entry as the last event has it."""
    merged: dict[str, dict[str, Any]] = {}
    for event in events:
        table = keys.name_of(event.asset_key)
        row = merged.setdefault(table, {})
        for name, entry in event.materialization.metadata.items():
            value = getattr(entry, "value", entry)
            summed = name in DAY_FIELDS or name in STEP_SUMS
            if summed and isinstance(value, int | float) and not isinstance(value, bool):
                row[name] = row.get(name, 0) + value
            else:
                row[name] = value
    return merged


@dataclass
class DayFigures:
    rows: int = 0
    deletes: int = 0
    newest: dt.datetime | None = None
    held_before: int = 0
    held_after: int = 0
    written: int = 0


def staged_per_day(extraction: Extraction) -> dict[dt.date, tuple[int, int, dt.datetime | None]]:
    """Rows, deletions and the newest stamp per UTC day of the staged files (read in place)."""
    entity = extraction.entity
    if not extraction.files:
        return {}
    cursor = cast_expr(entity.cursor, "TIMESTAMP")
    deleted = "_deleted"
    if entity.deleted_flag:
        deleted = f"(_deleted OR coalesce({cast_expr(entity.deleted_flag, 'BOOLEAN')}, false))"
    files = ", ".join(f"'{f}'" for f in extraction.files)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            f"SELECT CAST({cursor} AS DATE) AS day, count(*), count(*) FILTER ({deleted}), "
            f"max({cursor}) FROM read_parquet([{files}], union_by_name = true) GROUP BY day"
        ).fetchall()
    return {day: (int(n), int(d), newest) for day, n, d, newest in rows if day is not None}


def held_per_day(
    warehouse: Warehouse, entity: Entity, first: dt.date, last: dt.date, loaded_at: dt.datetime
) -> dict[dt.date, tuple[int, int]]:
    """Versions held per day of ``[first, last]``, and of those the ones ``loaded_at`` wrote."""
    if not warehouse.table_exists(entity.table):
        return {}
    rows = warehouse.query(
        f"SELECT _partition, count(*), count(*) FILTER (WHERE _loaded_at = ?) "
        f"FROM {table_ref(entity.table)} WHERE _partition BETWEEN ? AND ? GROUP BY _partition",
        [loaded_at, first, last],
    )
    return {day: (int(n), int(w)) for day, n, w in rows}


def _window(day: dt.date) -> str:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return f"[{start.isoformat()}, {(start + dt.timedelta(days=1)).isoformat()})"


def per_day(
    partition_keys: Iterable[str],
    staged: dict[dt.date, tuple[int, int, dt.datetime | None]],
    before: dict[dt.date, tuple[int, int]],
    after: dict[dt.date, tuple[int, int]],
) -> dict[str, dict[str, Any]]:
    """The metadata of each partition key's own day."""
    figures: dict[dt.date, DayFigures] = defaultdict(DayFigures)
    for day, (rows, deletes, newest) in staged.items():
        figures[day].rows, figures[day].deletes, figures[day].newest = rows, deletes, newest
    for day, (held, _) in before.items():
        figures[day].held_before = held
    for day, (held, written) in after.items():
        figures[day].held_after, figures[day].written = held, written
    out: dict[str, dict[str, Any]] = {}
    for key in partition_keys:
        day = dt.date.fromisoformat(key)
        f = figures.get(day, DayFigures())
        metadata: dict[str, Any] = {
            "rows": f.rows,
            "versions": max(f.held_after - f.held_before, 0),
            "written": f.written,
            "deletes": f.deletes,
            "window": _window(day),
            "dagster/row_count": f.held_after,
        }
        if f.newest is not None:
            newest = f.newest if f.newest.tzinfo else f.newest.replace(tzinfo=dt.UTC)
            metadata["watermark"] = dg.MetadataValue.timestamp(newest)
        out[key] = metadata
    return out


def as_timestamp(value: Any) -> Any:
    """An ISO stamp (as the watermark is kept) as timestamp metadata; anything else unchanged."""
    if isinstance(value, str) and value[:1].isdigit():
        stamp = dt.datetime.fromisoformat(value)
        return dg.MetadataValue.timestamp(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC))
    return value
