"""The one partitioning scheme: UTC days of the records' modification stamps.

``end_offset=1`` makes today (the open partition) materializable: it loads incrementally from a
watermark, while closed days are fetched whole. The first day is
:func:`o2c_pipeline.history.history_start` (configured, else the sources' earliest record as
recorded in the checkpoint store); ``DAILY`` is built on first use, so a process that records the
start first (``o2c run``) builds its definitions with it.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import dagster as dg


@functools.cache
def daily() -> dg.DailyPartitionsDefinition:
    """The partitions definition, read once per process (no network: see the history module)."""
    from o2c_pipeline.history import history_start

    return dg.DailyPartitionsDefinition(
        start_date=history_start().isoformat(), timezone="UTC", end_offset=1
    )


def __getattr__(name: str) -> Any:
    """``DAILY``, built on first access (module ``__getattr__``, PEP 562)."""
    if name == "DAILY":
        return daily()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
