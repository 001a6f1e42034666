"""Time windows over modification stamps: half-open ``[start, end)`` in UTC, always.

Half-open windows with ``>=`` / ``<`` bounds never drop or double-count a record at a boundary;
sub-windows split at whole seconds, because both sources filter at second precision.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

UTC = dt.UTC


def as_utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC datetime; naive values are taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, order=True)
class Window:
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end < self.start:
            raise ValueError(f"window ends before it starts: {self}")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def split(self, parts: int) -> list[Window]:
        """``parts`` contiguous sub-windows (fewer if the window is too short), cut at seconds."""
        parts = max(1, min(parts, int(self.seconds)))
        step = math.ceil(self.seconds / parts)
        edges = [self.start + dt.timedelta(seconds=step * i) for i in range(parts)] + [self.end]
        return [
            Window(a, min(b, self.end)) for a, b in zip(edges, edges[1:], strict=False) if a < b
        ]

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


#: before any source's first record: where a full-history entity's first partition reads from
BEGINNING = dt.datetime(1970, 1, 1, tzinfo=UTC)


def reads_from(full_history: bool, start: dt.datetime, first_partition: dt.datetime) -> dt.datetime:
    """Where a partition (range) beginning at ``start`` reads from.

    A start date later than the sources' first record bounds the history of transactions, not
    of what they need: the first partition of a ``full_history`` entity also holds every record
    stamped before it. Master data (accounts, contacts, products; customers, items,
    subsidiaries, currencies), so that a deal in the history finds its customer and items however
    long ago they last changed; and Salesforce's line items, since a deal opened before the start
    date and won after it carries a new stamp while its lines keep their old ones (NetSuite's
    lines carry their transaction's stamp).
    """
    if full_history and start <= first_partition:
        return BEGINNING
    return start


def parse_stamp(value: str) -> dt.datetime:
    """A stamp as either source writes it (``2024-01-01T00:00:00.000+0000``, ``...Z`` or SuiteQL's
    ``2024-01-01 00:00:00``), as aware UTC."""
    return as_utc(dt.datetime.fromisoformat(value))


def floor_second(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


def pages_to_windows(total_rows: int, rows_per_window: int, max_windows: int) -> int:
    """How many windows to fetch concurrently: enough that each holds ~``rows_per_window`` rows."""
    return max(1, min(max_windows, math.ceil(total_rows / max(1, rows_per_window))))
