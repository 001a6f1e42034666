"""The one partitioning scheme: UTC days of the records' modification stamps.

``end_offset=1`` makes today (the open partition) materializable: it loads incrementally from a
watermark, while closed days are fetched whole.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

#: The first partition. Records stamped earlier are out of the pipeline's history.
HISTORY_START = dt.date(2015, 1, 1)

DAILY = dg.DailyPartitionsDefinition(
    start_date=HISTORY_START.isoformat(), timezone="UTC", end_offset=1
)


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def partition_key(day: dt.date) -> str:
    return day.isoformat()


def open_partition_key(now: dt.datetime | None = None) -> str:
    """Today's partition (UTC): the only one still receiving changes."""
    return partition_key((now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date())


def is_open(
    window_start: dt.datetime, window_end: dt.datetime, now: dt.datetime | None = None
) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    return window_start <= now < window_end
