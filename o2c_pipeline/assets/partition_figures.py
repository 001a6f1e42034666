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
        add_figures(merged.setdefault(keys.name_of(event.asset_key), {}), event.materialization)
    return merged


def add_figures(row: dict[str, Any], materialization: Any) -> None:
    """One more materialization of an asset into ``row``: its per-day and step figures added,
    every other entry as this one has it (a range run's total, however many days it spans)."""
    for name, entry in materialization.metadata.items():
        value = getattr(entry, "value", entry)
        summed = name in DAY_FIELDS or name in STEP_SUMS
        if summed and isinstance(value, int | float) and not isinstance(value, bool):
            row[name] = row.get(name, 0) + value
        else:
            row[name] = value


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


def fold_before(first: dt.date | None, by_day: dict[dt.date, tuple]) -> dict[dt.date, tuple]:
    """``by_day`` with the days before ``first`` added into it: the first partition of a
    full-history entity holds the records stamped before the history start (summed; a stamp:
    the newest)."""
    if first is None or all(day >= first for day in by_day):
        return by_day
    folded: dict[dt.date, tuple] = {}
    for day, figures in sorted(by_day.items()):
        day = max(day, first)
        held = folded.get(day)
        folded[day] = figures if held is None else tuple(map(_combine, held, figures))
    return folded


def _combine(a: Any, b: Any) -> Any:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    return max((v for v in (a, b) if v is not None), default=None)


def _window(day: dt.date, start: dt.datetime | None = None) -> str:
    """The day's window, from ``start`` when it reaches back before the day (a backlog)."""
    day_begins = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = day_begins + dt.timedelta(days=1)
    return f"[{(start or day_begins).isoformat()}, {end.isoformat()})"


def per_day(
    partition_keys: Iterable[str],
    staged: dict[dt.date, tuple[int, int, dt.datetime | None]],
    before: dict[dt.date, tuple[int, int]],
    after: dict[dt.date, tuple[int, int]],
    first_reads_from: dt.datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """The metadata of each partition key's own day (the first key's window from
    ``first_reads_from`` when it holds a backlog: see :func:`fold_before`)."""
    figures: dict[dt.date, DayFigures] = defaultdict(DayFigures)
    for day, (rows, deletes, newest) in staged.items():
        figures[day].rows, figures[day].deletes, figures[day].newest = rows, deletes, newest
    for day, (held, _) in before.items():
        figures[day].held_before = held
    for day, (held, written) in after.items():
        figures[day].held_after, figures[day].written = held, written
    out: dict[str, dict[str, Any]] = {}
    for i, key in enumerate(partition_keys):
        day = dt.date.fromisoformat(key)
        f = figures.get(day, DayFigures())
        metadata: dict[str, Any] = {
            "rows": f.rows,
            "versions": max(f.held_after - f.held_before, 0),
            "written": f.written,
            "deletes": f.deletes,
            "window": _window(day, first_reads_from if i == 0 else None),
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
